package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// TestRotationTwoDemos is issue 15's rotation across a fleet, with real
// processes: two demo instances on one Redis, each reading its own copy of
// the keyring file (LATCH_KEYS_FILE), as two machines with their own
// mounted secret do, and clients whose requests alternate between them.
// "latch rotate --activate-after 15s" stages a new key in the master file,
// which is copied to each instance at its own moment; later
// "latch rotate --revoke" removes the old key, copied alike. No request is
// answered as signed out and no token is refused until the revocation;
// once the new key signs, every session is re-issued under it; after the
// revocation a cookie still signed with the old key is refused by each
// instance within a few seconds of its copy changing, and the current
// cookies live on.
func TestRotationTwoDemos(t *testing.T) {
	t.Parallel()
	store := requireEnv(t, "LATCH_TEST_REDIS_URL")
	master := filepath.Join(t.TempDir(), "latch.keys")
	writeFile(t, master, latch.Key{ID: "old", Secret: latch.GenerateKey()}.SecretEntry())
	fileA := copyKeyring(t, master, t.TempDir())
	fileB := copyKeyring(t, master, t.TempDir())
	a := startDemo(t, demoOptions{KeysFile: fileA, Args: []string{"--store", store}})
	b := startDemo(t, demoOptions{KeysFile: fileB, Args: []string{"--store", store}})
	f := &demoFleet{t: t, demos: []*demoProc{a, b}}
	f.rememberKeys(master)
	for range 3 {
		f.login("alice", "wonderland")
		f.login("bob", "builder")
	}
	stale := f.cookies[0]

	// Stage: the new key verifies at once and signs in 15 seconds, longer
	// than both instances take to read their copies one after the other.
	activate := time.Now().Add(15 * time.Second)
	runLatch(t, "rotate", "--file", master, "--id", "new", "--activate-after", "15s")
	f.rememberKeys(master)
	for i, file := range []string{fileA, fileB} {
		copyKeyring(t, master, filepath.Dir(file))
		f.roundsUntil("stage: reload", func() bool { return f.reloads(f.demos[i]) == 1 })
		f.round()
	}
	if time.Now().After(activate) {
		t.Fatal("the instances took longer to read the staged key than its activation delay")
	}
	f.roundsUntil("the activation and every session re-issued under the new key", func() bool {
		for _, c := range f.cookies {
			if !strings.HasPrefix(c, "new.") {
				return false
			}
		}
		return true
	})
	for i, d := range f.demos {
		if n := strings.Count(d.Output(), "event=invalid-token"); n != 0 {
			t.Errorf("instance %d refused %d tokens during the rotation, want 0", i, n)
		}
	}

	// Revoke old: the stale cookie is refused by each instance once its
	// copy has changed.
	runLatch(t, "rotate", "--file", master, "--revoke", "old")
	for i, file := range []string{fileA, fileB} {
		copyKeyring(t, master, filepath.Dir(file))
		d := f.demos[i]
		deadline := time.Now().Add(10 * time.Second)
		for {
			if code, _ := d.me(t, stale); code == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d still accepts the revoked key's cookie 10 s after its file changed", i)
			}
			time.Sleep(100 * time.Millisecond)
		}
		f.round() // the current cookies live on
	}
}

// runLatch runs the latch command with the test's environment, without
// key settings, and fails the test if it fails.
func runLatch(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(latchBinary(t), args...)
	cmd.Env = demoEnv("")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("latch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// copyKeyring copies the keyring file src to dir/latch.keys as a secret
// manager delivers it: a temporary file with mode 0600, renamed over the
// old one.
func copyKeyring(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "latch.keys")
	tmp := filepath.Join(dir, ".latch.keys.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeFile writes a new keyring file with mode 0600.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rememberKeys notes the keys of a keyring file as secrets that no demo's
// output may hold.
func (f *demoFleet) rememberKeys(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, d := range f.demos {
		for _, k := range keySecrets(string(b)) {
			d.remember(k)
		}
	}
}

// demoFleet is clients spreading their requests over demo instances.
type demoFleet struct {
	t       *testing.T
	demos   []*demoProc
	users   []string
	cookies []string
	turn    int
}

func (f *demoFleet) login(user, password string) {
	d := f.demos[len(f.users)%len(f.demos)]
	c, _ := d.login(f.t, user, password, "")
	f.users = append(f.users, user)
	f.cookies = append(f.cookies, c)
}

// round sends GET /me for every client, each to the instance after the
// one it used last, and fails the test on any answer but the signed-in
// user.
func (f *demoFleet) round() {
	f.t.Helper()
	f.turn++
	for i, c := range f.cookies {
		d := f.demos[(i+f.turn)%len(f.demos)]
		res := d.do(f.t, "GET", "/me", c, nil, "Accept", "application/json")
		want := f.users[i]
		if res.Status != http.StatusOK || jsonField(f.t, res.Body, "user") != want {
			f.t.Fatalf("client %d on instance %d: GET /me = %d %.200s, want 200 as %s", i, (i+f.turn)%len(f.demos), res.Status, res.Body, want)
		}
		if nc := res.sessionCookie(); nc != nil && nc.Value != "" {
			f.cookies[i] = nc.Value
		}
	}
}

// roundsUntil sends rounds until done holds, for at most 15 seconds.
func (f *demoFleet) roundsUntil(what string, done func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not within 15 s", what)
		}
		f.round()
		time.Sleep(50 * time.Millisecond)
	}
}

// reloads counts the keyrings an instance took while running.
func (f *demoFleet) reloads(d *demoProc) int {
	return strings.Count(d.Output(), "event=keys-reloaded")
}
