package latch

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// KeySource supplies a keyring's text, in the LATCH_KEYS format, as it is
// now: a file (FileKeys), the environment (KeysFromEnv), or anything else,
// such as a secrets manager's API (KeySourceFunc). Give it to a Manager as
// Config.KeySource: New reads it once and fails if the keyring is bad, and
// the Manager reads it again every Config.KeyReloadInterval and on
// Manager.ReloadKeys. Every text a source gives is parsed and checked as
// ParseKeys does (weak keys, malformed or duplicate entries, no key that
// can sign); a bad one is refused and the keyring in use stays.
//
// ReadKeys may be called from several goroutines, though a Manager calls it
// from one at a time. It returns an error when the keys cannot be read;
// the error must not contain a key.
type KeySource interface {
	ReadKeys(ctx context.Context) ([]byte, error)
}

// KeySourceFunc adapts a function to a KeySource, for an application that
// fetches its keyring from a secrets manager's API.
type KeySourceFunc func(ctx context.Context) ([]byte, error)

// ReadKeys calls f(ctx).
func (f KeySourceFunc) ReadKeys(ctx context.Context) ([]byte, error) { return f(ctx) }

// KeySetter is implemented by a Stateless that encrypts with the keyring
// (cookiestore.Store). A Manager with a KeySource gives it the keyring New
// reads and every keyring a reload takes, so that cookies are sealed and
// opened under the same keys as the Manager's.
type KeySetter interface {
	SetKeys(*Keyring) error
}

// StaticKeys returns a KeySource that always gives text: a keyring that
// never changes, such as the LATCH_KEYS variable. A Manager does not poll
// it.
func StaticKeys(text string) KeySource { return staticKeys(text) }

type staticKeys string

func (s staticKeys) ReadKeys(context.Context) ([]byte, error) { return []byte(s), nil }

// KeysFromEnv returns the KeySource the environment names: LATCH_KEYS,
// which is fixed for the life of the process, or else the file named by
// LATCH_KEYS_FILE, read again on every reload (FileKeys). It returns
// ErrNoKeys when neither is set. It is what a Manager uses when Config
// sets neither Keys nor KeySource.
func KeysFromEnv() (KeySource, error) { return KeysFromEnvFunc(os.Getenv) }

// KeysFromEnvFunc is KeysFromEnv with the environment read through getenv.
func KeysFromEnvFunc(getenv func(string) string) (KeySource, error) {
	if v := getenv(EnvKeys); strings.TrimSpace(v) != "" {
		return namedSource{StaticKeys(v), EnvKeys}, nil
	}
	if path := getenv(EnvKeysFile); path != "" {
		return FileKeys(path), nil
	}
	return nil, ErrNoKeys
}

// isStatic reports whether src never changes, so that polling it is
// pointless.
func isStatic(src KeySource) bool {
	if n, ok := src.(namedSource); ok {
		src = n.KeySource
	}
	_, ok := src.(staticKeys)
	return ok
}

// namedSource prefixes its source's errors with a name.
type namedSource struct {
	KeySource
	name string
}

// LoadKeysFrom reads src once and parses what it gives, as a Manager
// does: for the keyring a cookiestore.Store starts with, which the Manager
// then keeps up to date.
func LoadKeysFrom(ctx context.Context, src KeySource) (*Keyring, error) {
	r, _, err := startKeys(ctx, src, time.Now())
	return r, err
}

// sourceName names a source in errors and events.
func sourceName(src KeySource) string {
	switch s := src.(type) {
	case namedSource:
		return s.name
	case *fileKeys:
		return s.path
	}
	return "key source"
}

// FileKeys returns a KeySource that reads the keyring file at path, as
// LoadKeysFile does, with the same rules for its mode. Each read opens
// path anew, so an in-place rewrite, an atomic rename over path, and a
// swap of a symbolic link on the way to it (the "..data" link of a
// Kubernetes Secret volume) are all seen.
//
// A changed file is taken once two reads in a row find the same text, so
// that a reader never takes a file caught half-written by an editor or a
// shell redirect (which could drop a key that cookies still use). Until
// then it gives the text it gave last; the first read gives what it finds.
// With a Manager polling every second, a change is taken within two
// seconds; Manager.ReloadKeys reads a changed file twice at once.
func FileKeys(path string) KeySource { return &fileKeys{path: path} }

type fileKeys struct {
	path string

	mu      sync.Mutex
	given   []byte            // the text given last
	seen    bool              // whether given holds anything yet
	pending [sha256.Size]byte // hash of a changed text seen once
}

// ReadKeys reads the file, checks its mode on the file it opened, and
// gives its text once stable.
func (f *fileKeys) ReadKeys(ctx context.Context) ([]byte, error) {
	text, err := readKeyFile(f.path)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen || string(text) == string(f.given) {
		f.given, f.seen = text, true
		f.pending = [sha256.Size]byte{}
		return text, nil
	}
	if h := sha256.Sum256(text); h != f.pending {
		f.pending = h // changed: wait for a second read to agree
		return f.given, nil
	}
	f.given = text
	f.pending = [sha256.Size]byte{}
	return text, nil
}

// settling reports whether src is a FileKeys that found its file changed
// and waits for a second read to agree.
func settling(src KeySource) bool {
	f, ok := src.(*fileKeys)
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending != [sha256.Size]byte{}
}

// readKeyFile opens path, follows links to a regular file (anything else,
// a FIFO included, is refused, and opened without blocking), checks its mode
// on the open file (so that the mode and the text are the same file's
// even during a rename) and reads it.
func readKeyFile(path string) ([]byte, error) {
	fh, err := openKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("latch: key file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("latch: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("latch: key file %s is not a regular file", path)
	}
	if err := checkKeyFileMode(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("latch: key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("latch: key file %s is larger than %d bytes", path, maxKeyFile)
	}
	return b, nil
}

// checkKeyFileMode refuses a keyring file that others may read or that
// group may write. Group may read it only when root owns it, as
// PostgreSQL allows for its key files: that is how a Kubernetes Secret
// volume with an fsGroup (root:fsGroup, 0440) or a file that root keeps
// for a service's group gives the key to a program that is not root.
func checkKeyFileMode(path string, fi os.FileInfo) error {
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 || perm&0o037 == 0 && ownedByRoot(fi) {
		return nil
	}
	return fmt.Errorf("latch: key file %s has mode %v: it must not be accessible to group or others (chmod 600; group may read a file that root owns, mode 0640)", path, perm)
}

// maxKeyFile bounds a keyring file: thousands of entries.
const maxKeyFile = 1 << 20
