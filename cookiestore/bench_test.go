package cookiestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
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
			var v string
			for b.Loop() {
				var err error
				if v, err = s.Seal(ctx, cookieName, id, rec, t0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(cookieName)+1+len(v)), "B/cookie")
		})
	}
}

// BenchmarkOpen opens one cookie over and over: without revocations, and
// with StoreRevocations over a memstore, where an anonymous session costs
// one lookup (Revoked) and an authenticated one two (Revoked, NotBefore).
// "user revoked before" is a user with a not-before record in force (the
// cookie sealed after it), so that NotBefore finds and reads a record;
// "session revoked" and "session renewed" are cookies refused by their
// session's record (one lookup).
func BenchmarkOpen(b *testing.B) {
	revs, err := memstore.New(memstore.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer revs.Close()
	keys := testKeys(b, "k1")
	withRevs := cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: func() time.Time { return t0.Add(-time.Hour) }}
	anon := sampleRecord()
	anon.UserID = ""
	cases := []struct {
		name       string
		opts       cookiestore.Options
		rec        *driver.Record
		revokeUser bool
		bad        bool
		ended      string // "revoke" or "renew" the session
	}{
		{"no revocations", cookiestore.Options{}, sampleRecord(), false, false, ""},
		{"memstore revocations/anonymous", withRevs, anon, false, false, ""},
		{"memstore revocations/user", withRevs, sampleRecord(), false, false, ""},
		{"memstore revocations/user revoked before", withRevs, sampleRecord(), true, false, ""},
		{"memstore revocations/session revoked", withRevs, sampleRecord(), false, false, "revoke"},
		{"memstore revocations/session renewed", withRevs, sampleRecord(), false, false, "renew"},
		{"bad MAC", cookiestore.Options{}, sampleRecord(), false, true, ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newStore(b, keys, c.opts)
			ctx := context.Background()
			if c.revokeUser {
				if err := s.RevokeUser(ctx, c.rec.UserID); err != nil {
					b.Fatal(err)
				}
			}
			id := hashOf(c.name) // the revocations are shared between cases
			v := mustSeal(b, s, id, c.rec, t0)
			var want driver.Reason
			switch c.ended {
			case "revoke":
				if err := s.Revoke(ctx, id, t0.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				want = driver.ReasonNotFound
			case "renew":
				if err := s.Renewed(ctx, id, hashOf("y"), t0.Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				want = driver.ReasonRenewed
			}
			if c.bad {
				c := "A"
				if v[10] == 'A' {
					c = "B"
				}
				v = v[:10] + c + v[11:]
				want = driver.ReasonBadMAC
			}
			b.ReportAllocs()
			for b.Loop() {
				if o, err := s.Open(ctx, cookieName, v, t0); o.Refused != want || err != nil {
					b.Fatal(o.Refused, err)
				}
			}
		})
	}
}

// BenchmarkLookup is the revocation lookups of one request alone, with
// StoreRevocations over a memstore that holds nothing for the session or
// the user (the common case).
func BenchmarkLookup(b *testing.B) {
	revs, err := memstore.New(memstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer revs.Close()
	r := cookiestore.StoreRevocations(revs)
	ctx, id := context.Background(), hashOf("x")
	b.Run("Revoked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if reason, err := r.Revoked(ctx, id); reason != "" || err != nil {
				b.Fatal(reason, err)
			}
		}
	})
	b.Run("NotBefore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.NotBefore(ctx, "alice"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRevoke is what a logout adds: recording the revoked session,
// with StoreRevocations over a memstore.
func BenchmarkRevoke(b *testing.B) {
	revs, err := memstore.New(memstore.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer revs.Close()
	s := newStore(b, testKeys(b, "k1"), cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: func() time.Time { return t0 }})
	ctx := context.Background()
	var id driver.Hash
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		id[0], id[1], id[2], id[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		if err := s.Revoke(ctx, id, t0.Add(35*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenewed is what a renewal adds: recording where the replaced
// session went, with StoreRevocations over a memstore. "first" is the
// common case (one Commit); "lost" a renewal of a session renewed
// already, which a concurrent renewal or a replayed cookie meets (the
// Commit fails, and a Load says where the session went).
func BenchmarkRenewed(b *testing.B) {
	for _, lost := range []bool{false, true} {
		name := "first"
		if lost {
			name = "lost"
		}
		b.Run(name, func(b *testing.B) {
			revs, err := memstore.New(memstore.Options{Now: func() time.Time { return t0 }})
			if err != nil {
				b.Fatal(err)
			}
			defer revs.Close()
			s := newStore(b, testKeys(b, "k1"), cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: func() time.Time { return t0 }})
			ctx := context.Background()
			from, to := hashOf("from"), hashOf("to")
			if lost {
				if err := s.Renewed(ctx, from, hashOf("first"), t0.Add(35*time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n++
				if !lost {
					from[28], from[29], from[30], from[31] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
				}
				err := s.Renewed(ctx, from, to, t0.Add(35*time.Minute))
				if (err != nil) != lost {
					b.Fatal(err)
				}
			}
		})
	}
}
