package redisstore

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

// BenchmarkStore measures the request path on each deployment: a Load and
// a Commit that touches the session and sets one value.
func BenchmarkStore(b *testing.B) {
	for _, d := range deployments {
		b.Run(d.name, func(b *testing.B) {
			v := benchEnv(b, d.env)
			client := d.client(b, v)
			b.Cleanup(func() { _ = client.Close() })
			benchStore(b, client)
		})
	}
}

func benchEnv(b *testing.B, name string) string {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		b.Skipf("%s not set", name)
	}
	return v
}

func benchStore(b *testing.B, client redis.UniversalClient) {
	ctx := context.Background()
	// A fresh prefix per run: renewals leave forwards that outlive the
	// run's DeleteUser, and every key under it is removed at the end.
	prefix := "latchbench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	s, err := New(client, Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeKeys(b, client, prefix) })
	var id driver.Hash
	id[0] = 1
	m := meta("bench-user", time.Now())
	if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: m}); err != nil {
		b.Fatal(err)
	}
	b.Run("Load", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Load(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Commit", func(b *testing.B) {
		c := &driver.Commit{ID: id, Meta: m, Set: map[string]any{"n": 1}}
		for b.Loop() {
			if err := s.Commit(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Renew moves the session of a signed-in user to a new hash on every
	// iteration, as Renew, Reauthenticate or a login does.
	// It runs last: it moves the session away from id. The testing
	// package calls it more than once, so its state lives outside.
	from, n := id, uint64(0)
	b.Run("Renew", func(b *testing.B) {
		var to driver.Hash
		to[0] = 2
		c := &driver.Commit{Create: true, Meta: m, Set: map[string]any{"n": 2}}
		for b.Loop() {
			n++
			for i := range 8 {
				to[24+i] = byte(n >> (8 * i))
			}
			c.ID, c.From = to, from
			if err := s.Commit(ctx, c); err != nil {
				b.Fatal(err)
			}
			from = to
		}
	})
}

// BenchmarkDecodeRecord measures the decoding half of Load, without a
// server: a typical record in the form latch writes, and the same record
// in a form only encoding/json reads (white space in the metadata, an
// escape in a value), which is what every record cost before the
// hand-written codec.
func BenchmarkDecodeRecord(b *testing.B) {
	meta, err := json.Marshal(fullMeta())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, meta, theme string
	}{
		{"latch", string(meta), `"dark"`},
		{"encoding-json", " " + string(meta), `"d\u0061rk"`},
	} {
		fields := map[string]string{
			fieldMeta: bc.meta, fieldUser: "alice@example.com", fieldExpiry: "1764457513123",
			"abs": "1764500000000", fieldIndex: "latch:u:{alice@example.com}", "v:theme": bc.theme, "v:n": "7",
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := decodeRecord(fields); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
