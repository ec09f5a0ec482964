package cookiestore_test

import (
	"context"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/memstore"
)

func BenchmarkSeal(b *testing.B) {
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "compress"
		}
		b.Run(name, func(b *testing.B) {
			s := newStore(b, testKeys(b, "k1"), cookiestore.Options{Compress: compress})
			rec, id, ctx := sampleRecord(), hashOf("x"), context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Seal(ctx, cookieName, id, rec, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	revs, err := memstore.New(memstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer revs.Close()
	keys := testKeys(b, "k1")
	cases := []struct {
		name string
		opts cookiestore.Options
		bad  bool
	}{
		{"no revocations", cookiestore.Options{}, false},
		{"memstore revocations", cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs)}, false},
		{"bad MAC", cookiestore.Options{}, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newStore(b, keys, c.opts)
			v := mustSeal(b, s, hashOf("x"), sampleRecord(), t0)
			var want latch.Reason
			if c.bad {
				c := "A"
				if v[10] == 'A' {
					c = "B"
				}
				v = v[:10] + c + v[11:]
				want = latch.ReasonBadMAC
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if o, err := s.Open(ctx, cookieName, v, t0); o.Refused != want || err != nil {
					b.Fatal(o.Refused, err)
				}
			}
		})
	}
}
