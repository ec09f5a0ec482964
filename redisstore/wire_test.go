package redisstore

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

// TestWireFormat checks that the hand-written codec changed nothing on the
// wire: a record that encoding/json wrote (as every earlier version did)
// loads as encoding/json reads it, and a commit writes the bytes
// encoding/json writes.
func TestWireFormat(t *testing.T) {
	forEachDeployment(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		now := time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)
		s := newTestStore(t, client, Options{Now: func() time.Time { return now }})

		t.Run("records written by encoding/json load", func(t *testing.T) {
			m := fullMeta()
			m.LastSeen = now.In(time.FixedZone("", 5*3600+30*60))
			m.UserAgent = `Mozilla/5.0 "quoted" <b>&amp;</b> zoë` + "\t"
			canonical, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			values := map[string]string{
				"v:theme":  `"dark"`,
				"v:n":      `12345678901234567890`,
				"v:f":      `-1.5e3`,
				"v:ok":     `true`,
				"v:none":   `null`,
				"v:esc":    `"line\nbreak \u00e9"`,
				"v:obj":    `{"a":[1,"x",{"b":null}]}`,
				"v:spaced": ` "x" `,
			}
			tests := []struct {
				name string
				meta string
			}{
				{"canonical", string(canonical)},
				{"white space and an unknown field", ` { "user" : "bob", "created":"2026-11-29T22:00:00Z", "future": {"x": 1}, "last_seen":"2026-11-29T22:59:00+01:00", "idle_timeout": 1800000000000, "absolute_timeout":43200000000000 } `},
			}
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					var want driver.Meta
					if err := json.Unmarshal([]byte(tc.meta), &want); err != nil {
						t.Fatal(err)
					}
					id := driver.Hash{0xee, byte(i)}
					key := s.sessionKey(id)
					exp := strconv.FormatInt(ms(now.Add(time.Hour)), 10)
					fields := []any{fieldMeta, tc.meta, fieldUser, want.UserID, fieldExpiry, exp, "abs", exp}
					for f, v := range values {
						fields = append(fields, f, v)
					}
					if err := client.HSet(ctx, key, fields...).Err(); err != nil {
						t.Fatalf("HSET: %v", err)
					}
					rec, err := s.Load(ctx, id)
					if err != nil {
						t.Fatalf("Load: %v", err)
					}
					if !sameMeta(rec.Meta, want) {
						t.Errorf("Load: meta %+v, want %+v", rec.Meta, want)
					}
					for f, raw := range values {
						want, err := driver.DecodeValue([]byte(raw))
						if err != nil {
							t.Fatal(err)
						}
						if got := rec.Values[f[len(valuePrefix):]]; !reflect.DeepEqual(got, want) {
							t.Errorf("Load: value %s = %#v, want %#v", f, got, want)
						}
					}
					if len(rec.Values) != len(values) {
						t.Errorf("Load: %d values, want %d", len(rec.Values), len(values))
					}
				})
			}
		})

		t.Run("commits write what encoding/json writes", func(t *testing.T) {
			id := driver.Hash{0xef}
			m := fullMeta()
			m.LastSeen, m.UserAgent, m.IP = now, `<script>&"\`, "zoë\u2028"
			set := map[string]any{
				"s": "a & <b>", "s2": "zoë\u2028", "i": 42, "i64": int64(-7), "b": false, "nil": nil,
				"f": 0.25, "list": []string{"a"}, "obj": map[string]any{"k": 1},
			}
			if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: m, Set: set}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			stored, err := client.HGetAll(ctx, s.sessionKey(id)).Result()
			if err != nil {
				t.Fatalf("HGETALL: %v", err)
			}
			want, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if stored[fieldMeta] != string(want) {
				t.Errorf("stored meta %s, want %s", stored[fieldMeta], want)
			}
			for k, v := range set {
				want, err := driver.EncodeValue(v)
				if err != nil {
					t.Fatal(err)
				}
				if got := stored[valuePrefix+k]; got != string(want) {
					t.Errorf("stored value %s = %s, want %s", k, got, want)
				}
			}
		})
	})
}
