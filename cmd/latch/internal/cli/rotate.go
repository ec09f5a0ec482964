package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch"
)

func init() {
	register(command{name: "rotate", summary: "stage a new signing key in a keyring file, or revoke a key", run: runRotate})
}

// Rotation defaults.
const (
	// defaultActivateAfter is how long a staged key only verifies before it
	// signs. Every instance must have read it by then, or it refuses the
	// cookies of instances that already sign with it. A Manager polling its
	// file (latch.FileKeys) sees a change within seconds, but the file
	// itself reaches instances more slowly: a Kubernetes Secret volume
	// within the kubelet's sync period and cache TTL (a minute or two), a
	// Vault Agent template or the Secrets Store CSI driver within its
	// polling interval (minutes), a fleet that only reads keys at start
	// within its rolling restart. An hour covers all of these with room to
	// spare and still finishes a rotation within one sitting.
	defaultActivateAfter = time.Hour
	// defaultRetireAfter is how long the replaced key keeps verifying after
	// the new key starts signing: the longest session latch allows by
	// default (a remember-me session, 30 days) plus a day.
	defaultRetireAfter = latch.DefaultRememberAbsoluteTimeout + 24*time.Hour
)

const rotateUsage = `--file KEYRING [--id ID] [--activate-after DURATION | --now] [--retire-after DURATION]
       latch rotate --file KEYRING --revoke ID [--now [--id ID]]

Without --revoke, rotate adds a new key that verifies at once and signs after
--activate-after, and gives the key that signs now a retirement --retire-after
later than that. --revoke removes a key at once. Durations use Go's syntax
(90m, 1h, 744h).`

// rotation is one run of latch rotate.
type rotation struct {
	env  *Env
	file string    // as given
	path string    // the file itself: file with symbolic links followed
	now  time.Time // to the second, UTC
	keys []latch.Key
	text []byte      // the file as read, to notice a change by another program
	info os.FileInfo // the file as read: its mode and owner are kept
	out  []string    // what to tell the user
}

func runRotate(ctx context.Context, env *Env) int {
	fs := newFlags(env, "rotate", rotateUsage)
	file := fs.String("file", env.Getenv(latch.EnvKeysFile), "keyring file (default $"+latch.EnvKeysFile+"); created if missing")
	id := fs.String("id", "", "id of the new key (default today's date, YYYYMMDD, with -2, -3, ... if taken)")
	activateAfter := fs.Duration("activate-after", defaultActivateAfter, "how long the new key only verifies before it signs: longer than every instance takes to read the file")
	retireAfter := fs.Duration("retire-after", defaultRetireAfter, "how long the key that signs now keeps verifying after the new key signs: longer than your longest session")
	now := fs.Bool("now", false, "the new key signs at once (one instance, or an emergency)")
	revoke := fs.String("revoke", "", "remove the key with this id at once: cookies signed with it are refused from each instance's next reload")
	pos, code, ok := parseFlags(fs, env.Args)
	if !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case len(pos) > 0:
		fs.Usage()
		return 2
	case *file == "":
		return fail(env, "rotate", 2, errors.New("--file is required"))
	case *now && set["activate-after"]:
		return fail(env, "rotate", 2, errors.New("--now and --activate-after contradict each other"))
	case *revoke != "" && (set["activate-after"] || set["retire-after"]):
		return fail(env, "rotate", 2, errors.New("--revoke takes only --now (and --id): it stages nothing"))
	case *revoke != "" && set["id"] && !*now:
		return fail(env, "rotate", 2, errors.New("--id with --revoke names the replacement key, which needs --now"))
	case *activateAfter < 0 || *retireAfter <= 0:
		return fail(env, "rotate", 2, errors.New("--activate-after must not be negative, and --retire-after must be positive"))
	}
	if *revoke != "" && !validID(*revoke) {
		// Not quoted: it may be a secret pasted in the wrong place.
		return fail(env, "rotate", 2, errors.New("--revoke takes a key id (A-Z a-z 0-9 - _, as the part before the first colon of an entry)"))
	}
	if *now {
		*activateAfter = 0
	}
	r := &rotation{env: env, file: *file, now: env.Now().UTC().Truncate(time.Second)}
	unlock, err := r.lock()
	if err != nil {
		return fail(env, "rotate", 1, err)
	}
	defer unlock()
	exists, err := r.read(ctx)
	if err != nil {
		return fail(env, "rotate", 1, err)
	}
	switch {
	case *revoke != "":
		err = r.revoke(*revoke, *now, *id)
	case !exists:
		err = r.create(*id)
	default:
		err = r.stage(*id, *activateAfter, *retireAfter)
	}
	if err == nil {
		err = r.write()
	}
	if err != nil {
		var usage usageError
		if errors.As(err, &usage) {
			return fail(env, "rotate", 2, err)
		}
		return fail(env, "rotate", 1, err)
	}
	for _, line := range r.out {
		fmt.Fprintln(env.Stdout, line)
	}
	return 0
}

// usageError is a mistake in the command line, as opposed to a keyring
// that cannot be changed as asked.
type usageError struct{ error }

// lock finds the file that holds the keyring (following symbolic links,
// so that a link stays a link and the file it names changes) and holds a
// lock on its directory until unlock, so that rotations of one file run
// one after another: each reads the file the one before it wrote, and
// none undoes another (a revocation least of all).
func (r *rotation) lock() (unlock func(), err error) {
	r.path, err = filepath.EvalSymlinks(r.file)
	if errors.Is(err, os.ErrNotExist) {
		if _, lerr := os.Lstat(r.file); lerr == nil {
			return nil, fmt.Errorf("%s is a link to a file that does not exist", r.file)
		}
		r.path, err = r.file, nil
	}
	if err != nil {
		return nil, err
	}
	return lockDir(filepath.Dir(r.path))
}

// read loads the keyring file, if there is one, as latch.FileKeys does
// (so the same modes are accepted: not accessible to others, nor to group
// unless root owns it).
func (r *rotation) read(ctx context.Context) (exists bool, err error) {
	fi, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b, err := latch.FileKeys(r.path).ReadKeys(ctx)
	if err != nil {
		return true, err
	}
	r.text, r.info = b, fi
	ring, err := latch.ParseKeysAt(r.now, string(b))
	if err != nil {
		if errors.Is(err, latch.ErrNoSigningKey) {
			err = fmt.Errorf("%w; a keyring whose every key is retired verifies nothing, so start a new one (latch keygen)", err)
		}
		return true, fmt.Errorf("%s: %w", r.file, err)
	}
	r.keys = ring.Keys()
	return true, nil
}

// validID reports whether s can be a key id.
func validID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newKey returns a new key with the given id, or a fresh id, that signs
// from activate.
func (r *rotation) newKey(id string, activate time.Time) (latch.Key, error) {
	if id == "" {
		id = r.freshID()
	}
	for _, k := range r.keys {
		if k.ID == id {
			return latch.Key{}, usageError{fmt.Errorf("key id %q is already in the keyring; choose another --id", id)}
		}
	}
	return latch.Key{ID: id, Secret: latch.GenerateKey(), Activate: activate}, nil
}

// freshID is today's date, with a suffix when the keyring has it already.
func (r *rotation) freshID() string {
	base := r.now.Format("20060102")
	taken := map[string]bool{}
	for _, k := range r.keys {
		taken[k.ID] = true
	}
	id := base
	for n := 2; taken[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	return id
}

// create starts a keyring with one key that signs at once: no instance
// reads the file yet, so there is nothing to stage for.
func (r *rotation) create(id string) error {
	k, err := r.newKey(id, time.Time{})
	if err != nil {
		return err
	}
	r.keys = []latch.Key{k}
	r.say("created %s with key %q, which signs at once", r.file, k.ID)
	return nil
}

// stage adds a key that signs after activateAfter and retires the key that
// signs now retireAfter after that. Keys already retired are dropped.
func (r *rotation) stage(id string, activateAfter, retireAfter time.Duration) error {
	ring, err := latch.NewKeyringAt(r.now, r.keys...)
	if err != nil {
		return err
	}
	old, err := ring.SigningKey(r.now)
	if err != nil {
		return err
	}
	for _, k := range r.keys {
		if k.Activate.After(r.now) {
			return fmt.Errorf("key %q is already staged to sign from %s: let it activate first, or revoke it (latch rotate --revoke %s)", k.ID, stamp(k.Activate), k.ID)
		}
	}
	activate := r.now.Add(activateAfter)
	if !old.Retire.IsZero() && !old.Retire.After(activate) {
		return fmt.Errorf("key %q, which signs now, retires at %s, before a key staged now would sign at %s: no key could sign in between; use --now, or a shorter --activate-after", old.ID, stamp(old.Retire), stamp(activate))
	}
	k, err := r.newKey(id, activate)
	if err != nil {
		return err
	}
	retire := activate.Add(retireAfter)
	keys := []latch.Key{k}
	var notes []string
	for _, o := range r.keys {
		switch {
		case o.Retired(r.now):
			notes = append(notes, fmt.Sprintf("dropped key %q, retired at %s", o.ID, stamp(o.Retire)))
			continue
		case o.ID != old.ID:
		case o.Retire.IsZero() || o.Retire.After(retire):
			o.Retire = retire
		case o.Retire.Before(retire):
			notes = append(notes, fmt.Sprintf("warning: key %q already retires at %s, sooner than --retire-after asks; left as it is, so sessions it signs may end early", o.ID, stamp(o.Retire)))
		}
		keys = append(keys, o)
	}
	r.keys = keys
	if activateAfter == 0 {
		r.say("new key %q signs from now (%s). An instance that has not read %s yet refuses its cookies until it does: --now is for one instance, or an emergency.", k.ID, stamp(activate), r.file)
	} else {
		r.say("new key %q verifies as soon as an instance reads %s, and signs from %s (in %v).", k.ID, r.file, stamp(activate), activateAfter)
	}
	for _, o := range keys {
		if o.ID == old.ID {
			r.say("key %q signs until then, and verifies until %s (%v later).", o.ID, stamp(o.Retire), o.Retire.Sub(activate))
		}
	}
	r.out = append(r.out, notes...)
	return nil
}

// revoke removes the key id at once. The key that signs now may go only if
// another key can sign at once: one already in the keyring, or, with
// replace, a new key that signs from now.
func (r *rotation) revoke(id string, replace bool, newID string) error {
	before, err := latch.NewKeyringAt(r.now, r.keys...)
	if err != nil {
		return err
	}
	if _, ok := before.Lookup(id); !ok {
		return fmt.Errorf("no key %q in %s", id, r.file)
	}
	var keys []latch.Key
	if replace {
		k, err := r.newKey(newID, r.now)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	for _, k := range r.keys {
		if k.ID != id {
			keys = append(keys, k)
		}
	}
	after, err := latch.NewKeyringAt(r.now, keys...)
	if err != nil {
		if len(keys) == 0 || errors.Is(err, latch.ErrNoSigningKey) {
			return fmt.Errorf("refusing to revoke %q: no other key could sign now, so every login would fail; revoke it and add a key that signs at once in one step: latch rotate --file %s --revoke %s --now", id, r.file, id)
		}
		return err
	}
	oldSigner, _ := before.SigningKey(r.now)
	newSigner, _ := after.SigningKey(r.now)
	r.keys = keys
	r.say("revoked key %q: removed from %s. Each instance refuses cookies signed with it (unknown-key) from its next read of the file, so those sessions end at their next request and their users sign in again; an instance that does not reload the file accepts the key until it restarts.", id, r.file)
	if replace {
		r.say("new key %q signs from now (%s).", newSigner.ID, stamp(r.now))
	} else if oldSigner.ID != newSigner.ID {
		r.say("key %q signs from now on.", newSigner.ID)
	}
	if longest := max(latch.DefaultAbsoluteTimeout, latch.DefaultRememberAbsoluteTimeout); after.CheckSigning(r.now, longest) != nil {
		// Done all the same: the revoked key must go. Running instances
		// take the file and log an error; latch.New refuses it at start.
		r.say("warning: key %q retires at %s, before a session it signs now could end (up to %v with latch's defaults): running instances take this file and log an error, and a restart refuses it; stage a key that signs at once: latch rotate --file %s --now", newSigner.ID, stamp(newSigner.Retire), longest, r.file)
	}
	return nil
}

func (r *rotation) say(format string, args ...any) {
	r.out = append(r.out, fmt.Sprintf(format, args...))
}

// write checks the new keyring and replaces the file with it.
func (r *rotation) write() error {
	if _, err := latch.NewKeyringAt(r.now, r.keys...); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# latch keyring: the newest key that is activated and not retired signs, the others verify.\n")
	b.WriteString("# Keep this file secret (mode 0600). Change it with latch rotate.\n")
	for _, k := range r.keys {
		b.WriteString(k.SecretEntry() + "\n")
	}
	return writeSecretFile(r.path, []byte(b.String()), r.info, r.text)
}

// writeSecretFile replaces path atomically: a temporary file in the same
// directory, written and synced, renamed over path, and the directory
// synced, so that a crash leaves either the old file or the new one, and a
// reader never sees half of one. A new file has mode 0600; a file that
// was there (old, read as oldText) keeps its mode, owner and group. If
// another program changed the file since it was read, nothing is written.
func writeSecretFile(path string, data []byte, old os.FileInfo, oldText []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".latch-keys-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	mode := os.FileMode(0o600)
	if old != nil {
		mode = old.Mode().Perm()
		if err := keepOwner(tmp, old); err != nil {
			tmp.Close()
			return fmt.Errorf("%s: cannot give the new file the owner and group of the old one: %w", path, err)
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	if old != nil {
		now, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(now, oldText) {
			return fmt.Errorf("%s changed while latch rotate ran (another program wrote it); nothing was written: run it again", path)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
