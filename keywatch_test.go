package latch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/latchtest"
	"github.com/latchsec/latch/memstore"
)

// keyEntry returns a keyring entry for a fresh key with the given id.
func keyEntry(id string) string {
	return latch.Key{ID: id, Secret: latch.GenerateKey()}.SecretEntry()
}

// keyFiles are the ways a keyring file changes under a running program.
// Each lays the file out in dir and returns the path the program reads
// and a function that replaces the file's text.
var keyFiles = []struct {
	name   string
	layout layout
}{
	{"in-place rewrite (Vault Agent, an editor, a shell redirect)", inPlaceFile},
	{"atomic rename (latch rotate, consul-template)", renamedFile},
	{"symlink swap of a ..data directory (Kubernetes Secret volume, Secrets Store CSI driver)", kubernetesVolume},
}

// layout lays out a keyring file in dir with text and mode, and returns
// the path a program reads and a function that replaces the text.
type layout func(t *testing.T, dir, text string, mode ...os.FileMode) (path string, update func(text string))

// fileMode is the mode given, else def.
func fileMode(mode []os.FileMode, def os.FileMode) os.FileMode {
	if len(mode) > 0 {
		return mode[0]
	}
	return def
}

// inPlaceFile rewrites the file's contents, keeping its inode and mode.
func inPlaceFile(t *testing.T, dir, text string, mode ...os.FileMode) (string, func(string)) {
	path := filepath.Join(dir, "latch.keys")
	if err := os.WriteFile(path, []byte(text), fileMode(mode, 0o600)); err != nil {
		t.Fatal(err)
	}
	return path, func(text string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString(text)
		if err := errors.Join(err, f.Close()); err != nil {
			t.Fatal(err)
		}
	}
}

// renamedFile writes a new file beside the old one, sets its mode and
// renames it over the old one, as consul-template (Vault Agent's
// templates) and latch rotate do.
func renamedFile(t *testing.T, dir, text string, mode ...os.FileMode) (string, func(string)) {
	path := filepath.Join(dir, "latch.keys")
	write := func(text string) {
		t.Helper()
		f, err := os.CreateTemp(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		tmp := f.Name()
		_, err = f.WriteString(text)
		if err := errors.Join(err, f.Sync(), f.Close(), os.Chmod(tmp, fileMode(mode, 0o600))); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(text)
	return path, write
}

// kubernetesVolume lays out a volume as the kubelet's atomic writer does:
// the file is a link through "..data", a link to a directory named by
// time, and an update makes a new directory and renames a new "..data"
// link over the old one.
func kubernetesVolume(t *testing.T, dir, text string, mode ...os.FileMode) (string, func(string)) {
	n := 0
	write := func(text string) {
		t.Helper()
		n++
		ts := fmt.Sprintf("..2026_12_04_21_00_%02d.%d", n, n)
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, ts, "latch-keys")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, fileMode(mode, 0o400)); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(ts, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			old := filepath.Join(dir, fmt.Sprintf("..2026_12_04_21_00_%02d.%d", n-1, n-1))
			if err := os.RemoveAll(old); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(text)
	path := filepath.Join(dir, "latch-keys")
	if err := os.Symlink(filepath.Join("..data", "latch-keys"), path); err != nil {
		t.Fatal(err)
	}
	return path, write
}

// reloader is a Manager on a KeySource whose reloads the test triggers,
// with an application that answers the signed-in user's id.
type reloader struct {
	m      *latch.Manager
	h      http.Handler
	events *latchtest.Events
	logs   *bytes.Buffer
}

func newReloader(t *testing.T, st *memstore.Store, src latch.KeySource, now func() time.Time) *reloader {
	t.Helper()
	return startReloader(t, latch.Config{Store: st, KeySource: src, Now: now})
}

// newCookieReloader is newReloader with the sessions in cookies
// (cookiestore), st keeping the revocations.
func newCookieReloader(t *testing.T, st *memstore.Store, src latch.KeySource, now func() time.Time) *reloader {
	t.Helper()
	keys, err := latch.LoadKeysFrom(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cookiestore.New(keys, cookiestore.Options{Revocations: cookiestore.StoreRevocations(st), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return startReloader(t, latch.Config{Stateless: cs, KeySource: src, Now: now})
}

// startReloader builds the Manager of cfg, whose reloads the test
// triggers.
func startReloader(t *testing.T, cfg latch.Config) *reloader {
	t.Helper()
	rl := &reloader{events: &latchtest.Events{}, logs: &bytes.Buffer{}}
	cfg.KeyReloadInterval = -1 // the test calls ReloadKeys
	cfg.OnEvent = rl.events.Add
	cfg.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: rl.logs}, nil))
	m, err := latch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	rl.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if err := s.Login(r.FormValue("u")); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := latch.FromContext(r.Context())
		if !s.IsAuthenticated() {
			http.Error(w, "signed out: "+string(s.Ended()), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, s.UserID())
	})
	rl.h = m.Handler(mux)
	return rl
}

// syncWriter lets a log buffer be written from the reload goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// do sends one request with the cookie and returns the response.
func (rl *reloader) do(method, path, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", latch.DefaultCookieName+"="+cookie)
	}
	w := httptest.NewRecorder()
	rl.h.ServeHTTP(w, r)
	return w
}

// login signs user in and returns the cookie value.
func (rl *reloader) login(t *testing.T, user string) string {
	t.Helper()
	w := rl.do("POST", "/login?u="+user, "")
	c := setCookie(w)
	if w.Code != http.StatusOK || c == "" {
		t.Fatalf("login %s = %d, cookie %q", user, w.Code, c)
	}
	return c
}

// setCookie returns the session cookie's new value in a response, or "".
func setCookie(w *httptest.ResponseRecorder) string {
	for _, c := range w.Result().Cookies() {
		if c.Name == latch.DefaultCookieName && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// keyID is the id of the key that signed a cookie value.
func keyID(cookie string) string { id, _, _ := strings.Cut(cookie, "."); return id }

func newMemstore(t *testing.T, now func() time.Time) *memstore.Store {
	t.Helper()
	st, err := memstore.New(memstore.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// reload triggers a reload, as a SIGHUP handler would.
func (rl *reloader) reload(t *testing.T) {
	t.Helper()
	if err := rl.m.ReloadKeys(context.Background()); err != nil {
		t.Fatalf("ReloadKeys: %v", err)
	}
}

// TestReloadFileMechanics: a running Manager takes a changed keyring file
// however the file is changed, and signs with the new primary key at once
// while cookies under the old one still open (and are re-issued).
func TestReloadFileMechanics(t *testing.T) {
	for _, kf := range keyFiles {
		t.Run(kf.name, func(t *testing.T) {
			clock := newClock()
			old := keyEntry("old")
			path, update := kf.layout(t, t.TempDir(), old+"\n")
			rl := newReloader(t, newMemstore(t, clock.Now), latch.FileKeys(path), clock.Now)
			cookie := rl.login(t, "alice")
			if keyID(cookie) != "old" {
				t.Fatalf("cookie signed by %q, want old", keyID(cookie))
			}

			update(keyEntry("new") + "\n" + old + "\n")
			rl.reload(t)
			if got := rl.m.Keyring().Primary().ID; got != "new" {
				t.Fatalf("primary after reload = %q, want new", got)
			}
			if n := rl.events.Count(latch.EventKeysReloaded, ""); n != 1 {
				t.Errorf("%d keys-reloaded events, want 1", n)
			}
			w := rl.do("GET", "/me", cookie)
			if w.Code != http.StatusOK || w.Body.String() != "alice" {
				t.Fatalf("old cookie after reload: %d %q, want 200 alice", w.Code, w.Body)
			}
			if re := setCookie(w); keyID(re) != "new" {
				t.Errorf("old cookie re-issued as %q, want a cookie signed by new", re)
			}
			if got := keyID(rl.login(t, "bob")); got != "new" {
				t.Errorf("new login signed by %q, want new", got)
			}
		})
	}
}

// TestFileKeysWaitsForStableText: FileKeys gives a changed file's text
// only once a second read finds the same text, so that a poll that
// catches a file half-written never takes it: the first read after a
// change gives the text given last; so does a read that finds the file
// changed again; the read after that, finding it unchanged, gives it.
// Manager.ReloadKeys reads twice at once; the background reload, at its
// next poll.
func TestFileKeysWaitsForStableText(t *testing.T) {
	for _, kf := range keyFiles {
		t.Run(kf.name, func(t *testing.T) {
			ctx := context.Background()
			path, update := kf.layout(t, t.TempDir(), "a\n")
			src := latch.FileKeys(path)
			steps := []struct {
				write string // "" for no change
				want  string
			}{
				{"", "a\n"},
				{"a\nb", "a\n"},      // half-written: not given
				{"a\nb\nc\n", "a\n"}, // changed again: still not
				{"", "a\nb\nc\n"},    // unchanged since: given
				{"", "a\nb\nc\n"},
			}
			for i, st := range steps {
				if st.write != "" {
					update(st.write)
				}
				got, err := src.ReadKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != st.want {
					t.Fatalf("read %d: got %q, want %q", i+1, got, st.want)
				}
			}
		})
	}
}

// TestReloadRefused: a keyring that fails a check is refused, the keyring
// in use keeps serving, one event and one error log say why, by entry
// position or key id and never by the key, and a fixed file is then taken.
func TestReloadRefused(t *testing.T) {
	good := keyEntry("k1")
	weak := latch.Key{ID: "k2", Secret: bytes.Repeat([]byte("ab"), 16)}.SecretEntry()
	short := "k2:" + strings.Repeat("A", 22)
	retired := latch.Key{ID: "k2", Secret: latch.GenerateKey(), Retire: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}.SecretEntry()
	day := newClock().Now().Add(24 * time.Hour) // the test clock's start, plus a day
	staged := latch.Key{ID: "k2", Secret: latch.GenerateKey(), Activate: day}.SecretEntry()
	tests := []struct {
		name   string
		text   string
		mode   os.FileMode
		want   string // in the error
		secret string // must not be in the error or the log
	}{
		{"does not parse", good + "\nk2:not base64!\n", 0o600, `key entry 2: KEY, after the first colon, must be base64url`, "not base64!"},
		{"entry without a key", good + "\njust-an-id\n", 0o600, "key entry 2: want ID:KEY", "just-an-id"},
		{"weak key", good + "\n" + weak + "\n", 0o600, `key entry 2: secret key "k2" refused (few-distinct-bytes)`, weak[3:]},
		{"short key", good + "\n" + short + "\n", 0o600, `key entry 2: secret key "k2" refused (too-short)`, short[3:]},
		{"loose mode", good + "\n" + keyEntry("k2") + "\n", 0o644, "mode -rw-r--r--", ""},
		{"no key that can sign", retired + "\n", 0o600, "every key is retired", retired[3:40]},
		{"only a staged key", staged + "\n", 0o600, `key "k2" activates only at 2026-11-30T09:00:00Z`, staged[3:40]},
		{"no keys at all", "# emptied\n", 0o600, "no keys", ""},
		{"duplicate id", good + "\n" + good + "\n", 0o600, `key entry 2: key id "k1" appears twice`, good[3:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			path := filepath.Join(t.TempDir(), "latch.keys")
			if err := os.WriteFile(path, []byte(good+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			rl := newReloader(t, newMemstore(t, clock.Now), latch.FileKeys(path), clock.Now)
			cookie := rl.login(t, "alice")
			before := rl.m.Keyring()

			if err := os.WriteFile(path, []byte(tt.text), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			var err error
			for range 3 {
				err = rl.m.ReloadKeys(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReloadKeys = %v; want a refusal naming %q", err, tt.want)
			}
			if rl.m.Keyring() != before {
				t.Fatal("the keyring in use changed after a refused reload")
			}
			if w := rl.do("GET", "/me", cookie); w.Code != http.StatusOK {
				t.Fatalf("cookie after a refused reload: %d, want 200", w.Code)
			}
			if n := rl.events.Count(latch.EventKeysRefused, ""); n != 1 {
				t.Errorf("%d keys-refused events for three reads of one bad file, want 1", n)
			}
			ev, _ := rl.events.Find(latch.EventKeysRefused)
			if ev.Err == nil || !strings.Contains(ev.Err.Error(), tt.want) {
				t.Errorf("event error %v, want it to name %q", ev.Err, tt.want)
			}
			logs := rl.logs.String()
			if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "keys-refused") {
				t.Errorf("no error log of the refusal:\n%s", logs)
			}
			if tt.secret != "" && (strings.Contains(err.Error(), tt.secret) || strings.Contains(logs, tt.secret)) {
				t.Errorf("the refusal shows the key text:\n%v\n%s", err, logs)
			}

			// Fixed: taken.
			next := keyEntry("k3") + "\n" + good + "\n"
			if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := rl.m.ReloadKeys(context.Background()); err != nil {
				t.Fatalf("ReloadKeys of the fixed file: %v", err)
			}
			if got := rl.m.Keyring().Primary().ID; got != "k3" {
				t.Errorf("primary after the fix = %q, want k3", got)
			}
		})
	}
}

// TestReloadFromSecretsManager: a KeySourceFunc stands for a secrets
// manager's client. Its keyring is taken at once,
// its errors are refused like a bad file, and its text is checked alike.
func TestReloadFromSecretsManager(t *testing.T) {
	clock := newClock()
	secret := keyEntry("v1")
	var fetchErr error
	src := latch.KeySourceFunc(func(ctx context.Context) ([]byte, error) {
		return []byte(secret), fetchErr
	})
	rl := newReloader(t, newMemstore(t, clock.Now), src, clock.Now)
	cookie := rl.login(t, "alice")

	fetchErr = errors.New("secretsmanager: GetSecretValue: AccessDeniedException")
	if err := rl.m.ReloadKeys(context.Background()); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("ReloadKeys = %v, want the fetch error", err)
	}
	fetchErr = nil
	secret = keyEntry("v2") + "," + secret
	if err := rl.m.ReloadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rl.m.Keyring().Primary().ID; got != "v2" {
		t.Fatalf("primary = %q, want v2", got)
	}
	secret = "v3:changeme," + secret
	if err := rl.m.ReloadKeys(context.Background()); !errors.Is(err, latch.ErrWeakKey) {
		t.Fatalf("ReloadKeys of a weak key = %v, want ErrWeakKey", err)
	}
	if w := rl.do("GET", "/me", cookie); w.Code != http.StatusOK || keyID(setCookie(w)) != "v2" {
		t.Errorf("v1 cookie after the refused reload: %d, re-issued under %q; want 200 and v2", w.Code, keyID(setCookie(w)))
	}
	if n := rl.events.Count(latch.EventKeysRefused, ""); n != 2 {
		t.Errorf("%d keys-refused events, want 2 (the fetch error, the weak key)", n)
	}
}

// TestReloadInBackground: without a trigger, the Manager polls its file
// and takes a change; Close stops the polling.
func TestReloadInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.keys")
	if err := os.WriteFile(path, []byte(keyEntry("a")), 0o600); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan latch.Event, 10)
	m, err := latch.New(latch.Config{
		Store:             newMemstore(t, time.Now),
		KeySource:         latch.FileKeys(path),
		KeyReloadInterval: time.Millisecond,
		OnEvent: func(e latch.Event) {
			if e.Kind == latch.EventKeysReloaded {
				reloaded <- e
			}
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(keyEntry("b")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-reloaded:
		if !strings.Contains(e.Reason, "signing with b") {
			t.Errorf("reload event reason %q, want it to name the signing key b", e.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s of polling every millisecond")
	}
	if got := m.Keyring().Primary().ID; got != "b" {
		t.Errorf("primary = %q, want b", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestKeysConfig: how Config's key fields combine.
func TestKeysConfig(t *testing.T) {
	st := newMemstore(t, time.Now)
	keys := latchtest.Keys(t, "k")
	tests := []struct {
		name    string
		cfg     latch.Config
		env     map[string]string
		wantErr string
	}{
		{"Keys and KeySource", latch.Config{Keys: keys, KeySource: latch.StaticKeys(keyEntry("k"))}, nil, "not both"},
		{"a bad source", latch.Config{KeySource: latch.StaticKeys("k:changeme")}, nil, "known-key"},
		{"nothing in the environment", latch.Config{}, map[string]string{latch.EnvKeys: "", latch.EnvKeysFile: ""}, "no secret keys"},
		{"LATCH_KEYS", latch.Config{}, map[string]string{latch.EnvKeys: keyEntry("env"), latch.EnvKeysFile: ""}, ""},
		{"ReloadKeys without a source", latch.Config{Keys: keys}, nil, "no Config.KeySource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.cfg.Store = st
			tt.cfg.Logger = slog.New(slog.DiscardHandler)
			m, err := latch.New(tt.cfg)
			if err == nil {
				defer m.Close()
				err = m.ReloadKeys(context.Background())
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}
