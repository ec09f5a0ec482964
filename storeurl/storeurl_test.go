package storeurl_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/pgstore"
	"github.com/latchsec/latch/storeurl"
)

// serverURL returns the store URL built from the environment variable that
// names a test server. Unset, the test fails under CI and is skipped
// otherwise.
func serverURL(t *testing.T, env string, build func(v string) string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not set: scripts/test must start the servers", env)
		}
		t.Skipf("%s not set; start servers with redisstore/testservers.sh and pgstore/testserver.sh", env)
	}
	return build(v)
}

func same(v string) string { return v }

// TestOpen opens every kind of store from its URL, against the real
// servers, signs a user in through a Manager on it, finds the session in
// the next request, and closes the store.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		url  func(t *testing.T) string
		kind string
		path string
	}{
		{"memory", func(*testing.T) string { return "memory" }, storeurl.Memory, ""},
		{"memory:", func(*testing.T) string { return "memory:" }, storeurl.Memory, ""},
		{"bolt:PATH", func(*testing.T) string { return "bolt:" + filepath.Join(dir, "a.db") }, storeurl.Bolt, filepath.Join(dir, "a.db")},
		{"bolt://PATH", func(*testing.T) string { return "bolt://" + filepath.Join(dir, "b.db") }, storeurl.Bolt, filepath.Join(dir, "b.db")},
		{"redis://", func(t *testing.T) string { return serverURL(t, "LATCH_TEST_REDIS_URL", same) }, storeurl.Redis, ""},
		{"REDIS:// in capitals", func(t *testing.T) string {
			return serverURL(t, "LATCH_TEST_REDIS_URL", func(v string) string { return "REDIS" + strings.TrimPrefix(v, "redis") })
		}, storeurl.Redis, ""},
		{"redis+cluster://", func(t *testing.T) string {
			return serverURL(t, "LATCH_TEST_REDIS_CLUSTER", func(v string) string { return "redis+cluster://" + v })
		}, storeurl.Redis, ""},
		{"redis+sentinel://", func(t *testing.T) string {
			return serverURL(t, "LATCH_TEST_REDIS_SENTINEL", func(v string) string {
				master, hosts, _ := strings.Cut(v, "@")
				return "redis+sentinel://" + hosts + "/" + master
			})
		}, storeurl.Redis, ""},
		{"postgres://", func(t *testing.T) string { return serverURL(t, "LATCH_TEST_POSTGRES_URL", same) }, storeurl.Postgres, ""},
		{"postgresql://", func(t *testing.T) string {
			return serverURL(t, "LATCH_TEST_POSTGRES_URL", func(v string) string { return "postgresql" + strings.TrimPrefix(v, "postgres") })
		}, storeurl.Postgres, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// A table of its own, so that pgstore's tests on the same
			// database never see this one's rows.
			st, err := storeurl.Open(ctx, tc.url(t), storeurl.Options{Postgres: pgstore.Options{Table: "storeurl_test"}})
			if err != nil {
				t.Fatal(err)
			}
			if st.Kind != tc.kind || st.Path != tc.path {
				t.Errorf("Kind, Path = %q, %q; want %q, %q", st.Kind, st.Path, tc.kind, tc.path)
			}
			signInAndBack(t, st)
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// signInAndBack logs a user in on a Manager over st, and checks that the
// next request finds the session.
func signInAndBack(t *testing.T, st *storeurl.Store) {
	t.Helper()
	m, err := latch.New(latch.Config{Store: st, Keys: latchtest.Keys(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	user := "storeurl-" + strings.ReplaceAll(t.Name(), "/", "-")
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if r.Method == "POST" {
			if err := s.Login(user); err != nil {
				t.Errorf("Login: %v", err)
			}
			return
		}
		w.Write([]byte(s.UserID()))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", strings.Split(rec.Header().Get("Set-Cookie"), ";")[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Body.String(); got != user {
		t.Errorf("next request: user %q; want %q", got, user)
	}
	if n, err := m.RevokeUser(context.Background(), user); err != nil || n != 1 {
		t.Errorf("RevokeUser = %d, %v; want 1 session", n, err)
	}
}

// secret stands for a password in every hostile URL below.
const secret = "s3cr3tpw"

// TestOpenNeverRepeatsTheURL gives Open URLs that fail in every way it can
// fail (no such kind, malformed, nothing listening, a server that refuses
// the password), each holding a password: no error repeats it, and an
// unknown kind is named only by a scheme written as scheme://.
func TestOpenNeverRepeatsTheURL(t *testing.T) {
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		unknown bool   // errors.Is(err, ErrUnknownKind)
		want    string // in the error
	}{
		{"the password alone", fixed(secret), true, "unknown store kind; use one of"},
		{"a password with a colon", fixed(secret + ":x"), true, "unknown store kind; use one of"},
		{"no scheme", fixed("alice:" + secret + "@db.example:5432/app"), true, "unknown store kind; use one of"},
		{"unknown scheme", fixed("mysql://alice:" + secret + "@db.example/app"), true, `unknown store kind "mysql"`},
		{"scheme too odd to repeat", fixed(secret + "_x://h"), true, "unknown store kind; use one of"},
		{"empty", fixed(""), true, "unknown store kind"},
		{"bolt without a path", fixed("bolt:"), false, "bolt:PATH needs a file path"},
		{"redis bad port", fixed("redis://:" + secret + "@h:port/0"), false, "redisstore: open"},
		{"redis bad escape", fixed("redis://:" + secret + "%zz@h:1/0"), false, "redisstore: open"},
		{"redis nothing listening", fixed("redis://:" + secret + "@127.0.0.1:1/0"), false, "redisstore: open: ping"},
		{"rediss+sentinel nothing listening", fixed("rediss+sentinel://:" + secret + "@127.0.0.1:1/master"), false, "redisstore: open: ping"},
		{"redis+cluster empty host", fixed("redis+cluster://u:" + secret + "@a:1,,"), false, "redisstore: open"},
		{"redis+sentinel bad option", fixed("redis+sentinel://:" + secret + "@a:1/m?x=" + secret), false, "unsupported option"},
		{"redis wrong password", func(t *testing.T) string {
			return serverURL(t, "LATCH_TEST_REDIS_URL", func(v string) string {
				return strings.Replace(v, "://", "://nobody:"+secret+"@", 1)
			})
		}, false, "redisstore: open: ping"},
		{"postgres malformed", fixed("postgres://u:" + secret + "@[::1/app"), false, "pgstore: invalid database URL"},
		{"postgres bad port", fixed("postgresql://u:" + secret + "@h:99999/app"), false, "pgstore: invalid database URL"},
		{"postgres nothing listening", fixed("postgres://u:" + secret + "@127.0.0.1:1/app?connect_timeout=2"), false, "pgstore: connect"},
		{"postgres no such user", func(t *testing.T) string {
			return serverURL(t, "LATCH_TEST_POSTGRES_URL", func(v string) string {
				return strings.Replace(v, "://postgres@", "://nobody_here:"+secret+"@", 1)
			})
		}, false, "pgstore: connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			st, err := storeurl.Open(ctx, tc.url(t), storeurl.Options{})
			if err == nil {
				st.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error repeats the password: %q", err)
			}
			if got := errors.Is(err, storeurl.ErrUnknownKind); got != tc.unknown {
				t.Errorf("errors.Is(err, ErrUnknownKind) = %v; want %v (%v)", got, tc.unknown, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to say %q", err, tc.want)
			}
		})
	}
}

func fixed(u string) func(*testing.T) string { return func(*testing.T) string { return u } }

// FuzzOpenUnknown checks that Open never panics on a URL it does not know,
// and that its error repeats nothing of the URL but a scheme written as
// scheme://. Forms that open a file or a connection are left out.
func FuzzOpenUnknown(f *testing.F) {
	for _, seed := range []string{secret, "mysql://u:" + secret + "@h", "a:" + secret, "://" + secret, "Memory", "bolt", "\x00://", "x+y.z-w://" + secret} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		scheme, _, _ := strings.Cut(strings.ToLower(raw), ":")
		if raw == "memory" || raw == "memory:" || scheme == "bolt" || strings.HasPrefix(scheme, "redis") || strings.HasPrefix(scheme, "postgres") {
			t.Skip("opens a store")
		}
		_, err := storeurl.Open(context.Background(), raw, storeurl.Options{})
		if !errors.Is(err, storeurl.ErrUnknownKind) {
			t.Fatalf("Open(%q) = %v; want ErrUnknownKind", raw, err)
		}
		msg := strings.Replace(err.Error(), storeurl.Forms, "", 1)
		if i := strings.Index(msg, `"`); i >= 0 {
			named := strings.Trim(msg[i:strings.LastIndex(msg, `"`)+1], `"`)
			if !strings.HasPrefix(strings.ToLower(raw), named+"://") {
				t.Fatalf("error names %q, which is not the scheme of %q", named, raw)
			}
		}
	})
}
