package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/latchsec/latch"
)

// Rotations of one file at the same time each see the others' changes:
// none is lost, although each reported success (a revocation undone by a
// rotation that read the file before it would leave a leaked key in
// force).
func TestRotateConcurrent(t *testing.T) {
	keys := []latch.Key{{ID: "cur"}}
	for i := range 16 {
		keys = append(keys, latch.Key{ID: fmt.Sprintf("k%02d", i)})
	}
	file := keyFile(t, keys...)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if code, _, errOut := runAt(t, now, "rotate", "--file", file, "--revoke", fmt.Sprintf("k%02d", i)); code != 0 {
				t.Errorf("rotate --revoke k%02d: exit %d: %s", i, code, errOut)
			}
		})
	}
	wg.Wait()
	var left []string
	for _, k := range readRing(t, file, now).Keys() {
		left = append(left, k.ID)
	}
	if strings.Join(left, ",") != "cur" {
		t.Fatalf("keys left after 16 concurrent revocations: %v; want only cur", left)
	}
}

// A keyring file reached through a symbolic link (a file kept elsewhere,
// linked into place) is changed where it lives: the link stays a link, and
// every program reading the file sees the new keyring.
func TestRotateFollowsSymlink(t *testing.T) {
	real := keyFile(t, latch.Key{ID: "one"})
	link := filepath.Join(t.TempDir(), "latch.keys")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runAt(t, now, "rotate", "--file", link, "--id", "two"); code != 0 {
		t.Fatalf("rotate: %s", errOut)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if _, ok := readRing(t, real, now).Lookup("two"); !ok {
		t.Fatal("the linked file lacks the new key")
	}
	if entries, _ := os.ReadDir(filepath.Dir(real)); len(entries) != 1 {
		t.Fatalf("the file's directory holds %d files; want only the keyring", len(entries))
	}
}

// A keyring file that root keeps for a service's group (root:group, 0640),
// which latch.LoadKeysFile and FileKeys accept, is rotated in place of
// being refused, and keeps its group and mode: a file rewritten as
// root:root 0600 would lock the service out of its keys.
func TestRotateKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give the file to root and another group")
	}
	const gid = 4242
	for _, mode := range []os.FileMode{0o640, 0o440, 0o600} {
		t.Run(mode.String(), func(t *testing.T) {
			file := keyFile(t, latch.Key{ID: "one"})
			if err := os.Chown(file, 0, gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, mode); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := runAt(t, now, "rotate", "--file", file, "--id", "two"); code != 0 {
				t.Fatalf("rotate: %s", errOut)
			}
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Gid != gid || st.Uid != 0 || fi.Mode().Perm() != mode {
				t.Fatalf("after rotate: uid %d gid %d mode %v; want 0, %d, %v", st.Uid, st.Gid, fi.Mode().Perm(), gid, mode)
			}
			if _, err := latch.LoadKeysFile(file); err != nil {
				t.Fatalf("the library refuses the rotated file: %v", err)
			}
		})
	}
	t.Run("group-readable file of another owner", func(t *testing.T) {
		file := keyFile(t, latch.Key{ID: "one"})
		if err := os.Chown(file, 4243, gid); err != nil {
			t.Fatal(err)
		}
		os.Chmod(file, 0o640)
		if code, _, errOut := runAt(t, now, "rotate", "--file", file, "--id", "two"); code != 1 || !strings.Contains(errOut, "chmod 600") {
			t.Fatalf("exit %d, %q; want the library's refusal", code, errOut)
		}
	})
}

// --revoke names a key id; a text that is not one (a secret pasted there
// by mistake) is refused without being echoed.
func TestRotateRevokeQuotesNoSecret(t *testing.T) {
	file := keyFile(t, latch.Key{ID: "cur"})
	secret := latch.Key{ID: "cur", Secret: latch.GenerateKey()}.SecretEntry()
	code, out, errOut := runAt(t, now, "rotate", "--file", file, "--revoke", secret)
	if code != 2 || !strings.Contains(errOut, "--revoke takes a key id") {
		t.Fatalf("exit %d, %q; want a usage error", code, errOut)
	}
	if strings.Contains(out+errOut, secret[4:]) {
		t.Fatalf("output echoes the text given: %q", out+errOut)
	}
}

// Revoking the signing key when the key left to sign retires within the
// longest default session (the emergency after a staged rotation) is done,
// since the leaked key must go, and says what follows: running instances
// take the file and log an error, a restart refuses it, and a new key
// should be staged.
func TestRotateRevokeWarnsOfShortSigner(t *testing.T) {
	file := keyFile(t, latch.Key{ID: "new", Activate: now.Add(-day)}, latch.Key{ID: "old", Retire: now.Add(10 * day)})
	code, out, errOut := runAt(t, now, "rotate", "--file", file, "--revoke", "new")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`key "old" signs from now on.`, `warning: key "old" retires at 2026-12-14T21:00:00Z`, "latch rotate --file " + file + " --now"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}
