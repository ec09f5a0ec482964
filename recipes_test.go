package latch_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchsec/latch"
)

// systemdCredential lays the file out as systemd's LoadCredential= does:
// a copy in the service's credentials directory ($CREDENTIALS_DIRECTORY,
// mode 0500), the file 0400, made when the service starts. An update is
// what the next start copies.
func systemdCredential(t *testing.T, dir, text string, mode ...os.FileMode) (string, func(string)) {
	creds := filepath.Join(dir, "credentials")
	path := filepath.Join(creds, "latch-keys")
	write := func(text string) {
		t.Helper()
		if err := os.MkdirAll(creds, 0o700); err != nil {
			t.Fatal(err)
		}
		err := errors.Join(os.Chmod(creds, 0o700), os.WriteFile(path, []byte(text), 0o600),
			os.Chmod(path, fileMode(mode, 0o400)), os.Chmod(creds, 0o500))
		if err != nil {
			t.Fatal(err)
		}
	}
	write(text)
	t.Cleanup(func() { os.Chmod(creds, 0o700) })
	return path, write
}

// TestSecretManagerRecipes backs the README's recipes: each lays the
// keyring file out as its tool does, with the mode the recipe says to set
// and with the tool's default mode. With the recipe's mode the keyring is
// read at start and a change is taken (by a running Manager, or by the
// next start for systemd); with a mode that lets group or others read the
// file, New refuses it.
func TestSecretManagerRecipes(t *testing.T) {
	const (
		asMade = -1    // the file is owned by whoever runs the test
		root   = 0     // the kubelet or the CSI driver made it as root
		nobody = 65534 // another user made it
	)
	tests := []struct {
		recipe string
		layout layout
		mode   os.FileMode
		owner  int
		live   bool // the file changes under the running program
		ok     bool
	}{
		{"Kubernetes Secret volume, defaultMode 0400, run as root", kubernetesVolume, 0o400, root, true, true},
		{"Kubernetes Secret volume, defaultMode 0440 and an fsGroup", kubernetesVolume, 0o440, root, true, true},
		{"Kubernetes Secret volume, default mode 0644", kubernetesVolume, 0o644, root, true, false},
		{"group-readable file that root does not own", kubernetesVolume, 0o440, nobody, true, false},
		{"Vault Agent template, perms 0600", renamedFile, 0o600, asMade, true, true},
		{"Vault Agent template, default perms 0644", renamedFile, 0o644, asMade, true, false},
		{"Secrets Store CSI driver (AWS, Azure), file permission 0440 and an fsGroup", kubernetesVolume, 0o440, root, true, true},
		{"Secrets Store CSI driver, default permission 0644", kubernetesVolume, 0o644, root, true, false},
		{"systemd LoadCredential", systemdCredential, 0o400, asMade, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.recipe, func(t *testing.T) {
			if tt.owner >= 0 && os.Geteuid() != 0 && tt.owner != os.Geteuid() {
				t.Skipf("needs root to make a file owned by uid %d (CI runs as root)", tt.owner)
			}
			old := keyEntry("old")
			path, update := tt.layout(t, t.TempDir(), old+"\n", tt.mode)
			if tt.owner >= 0 {
				if err := os.Chown(path, tt.owner, -1); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{latch.EnvKeysFile: path}
			src, err := latch.KeysFromEnvFunc(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			cfg := latch.Config{Store: newMemstore(t, newClock().Now), KeySource: src, KeyReloadInterval: -1, Logger: slog.New(slog.DiscardHandler)}
			if _, err := latch.LoadKeysFile(path); (err == nil) != tt.ok {
				t.Errorf("LoadKeysFile = %v; want it to agree with New (ok: %v)", err, tt.ok)
			}
			m, err := latch.New(cfg)
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), "must not be accessible to group or others") {
					t.Fatalf("New with a mode-%v key file = %v; want it refused for its mode", tt.mode, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			update(keyEntry("new") + "\n" + old + "\n")
			if tt.live {
				for range 2 {
					if err := m.ReloadKeys(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
			} else { // a restart
				src, _ = latch.KeysFromEnvFunc(func(k string) string { return env[k] })
				cfg.KeySource = src
				if m, err = latch.New(cfg); err != nil {
					t.Fatal(err)
				}
			}
			if got := m.Keyring().Primary().ID; got != "new" {
				t.Errorf("primary after the update = %q, want new", got)
			}
		})
	}
}
