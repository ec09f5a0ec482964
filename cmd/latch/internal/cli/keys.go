package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchsec/latch"
)

func init() {
	register(command{name: "keygen", summary: "print a new secret key in the keyring format", run: runKeygen})
	register(command{name: "checkkey", summary: "check a key against latch's strength rules (never echoes it)", run: runCheckkey})
}

func runKeygen(ctx context.Context, env *Env) int {
	fs := newFlags(env, "keygen", "[--id ID] [--retire YYYY-MM-DD]")
	id := fs.String("id", keyIDForToday(), "key id (A-Z a-z 0-9 - _)")
	retire := fs.String("retire", "", "last day the key is accepted (YYYY-MM-DD, UTC); printed as retire= the next midnight UTC, when it is first refused")
	if _, code, ok := parseFlags(fs, env.Args); !ok {
		return code
	}
	k := latch.Key{ID: *id, Secret: latch.GenerateKey()}
	if *retire != "" {
		t, err := time.Parse(time.DateOnly, *retire)
		if err != nil {
			return fail(env, "keygen", 2, errors.New("--retire must be YYYY-MM-DD"))
		}
		k.Retire = t.AddDate(0, 0, 1) // the day named is the last one accepted
	}
	if _, err := latch.NewKeyring(k); err != nil {
		return fail(env, "keygen", 2, err)
	}
	// Printing the key is this command's job: it goes to stdout only.
	fmt.Fprintln(env.Stdout, k.SecretEntry())
	fmt.Fprintf(env.Stderr, "# set it as %s=<that line> or put it in a file (chmod 600) named by %s\n", latch.EnvKeys, latch.EnvKeysFile)
	return 0
}

func runCheckkey(ctx context.Context, env *Env) int {
	fs := newFlags(env, "checkkey", "[--env VAR | --file FILE | -]")
	envVar := fs.String("env", "", "read the key from this environment variable")
	file := fs.String("file", "", "read the key from this file")
	pos, code, ok := parseFlags(fs, env.Args)
	if !ok {
		return code
	}
	var input []byte
	var err error
	switch {
	case *envVar != "" && *file == "" && len(pos) == 0:
		input = []byte(env.Getenv(*envVar))
		if len(input) == 0 {
			return fail(env, "checkkey", 2, fmt.Errorf("$%s is empty or unset", *envVar))
		}
	case *file != "" && *envVar == "" && len(pos) == 0:
		input, err = readInputFile(*file)
	case *envVar == "" && *file == "" && (len(pos) == 0 || len(pos) == 1 && pos[0] == "-"):
		input, err = readInput(env.Stdin, "standard input")
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		return fail(env, "checkkey", 2, err)
	}
	return checkKeyInput(env, bytes.TrimRight(input, "\r\n"))
}

// checkKeyInput checks keyring entries (ID:KEY...) when the input is in
// that format, and otherwise the input itself as a raw secret (such as a
// Flask SECRET_KEY).
func checkKeyInput(env *Env, input []byte) int {
	text := string(input)
	keyring, idLike := looksLikeKeyring(text)
	if keyring {
		now := env.Now()
		r, err := latch.ParseKeysAt(now, text)
		if err != nil {
			fmt.Fprintf(env.Stdout, "refused: %v\n", err)
			return 1
		}
		signing, _ := r.SigningKey(now) // ParseKeysAt checked there is one
		for _, k := range r.Keys() {
			fmt.Fprintf(env.Stdout, "key %q: ok (%d bytes), %s\n", k.ID, len(k.Secret), keyState(k, signing.ID, now))
		}
		return 0
	}
	if idLike {
		fmt.Fprintln(env.Stdout, "not a keyring entry (the text after the colon is not base64url): judged as one raw secret")
	}
	if err := latch.CheckKey(input); err != nil {
		fmt.Fprintf(env.Stdout, "refused: %v\n", err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "ok: %d bytes pass latch's strength rules\n", len(input))
	return 0
}

// keyState says what k does at now: signs, verifies, or neither, and when
// that changes.
func keyState(k latch.Key, signing string, now time.Time) string {
	var s string
	switch {
	case k.Retired(now):
		return "retired at " + stamp(k.Retire) + ": verifies nothing"
	case k.ID == signing:
		s = "signs now"
	case !k.Activated(now):
		s = "verifies; staged to sign from " + stamp(k.Activate)
	default:
		s = "verifies"
	}
	if !k.Retire.IsZero() {
		s += "; retires at " + stamp(k.Retire)
	}
	return s
}

// stamp formats t as the keyring format writes it: RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// looksLikeKeyring reports whether every entry has the ID:KEY shape: an
// id, then KEY in base64url. A text whose part after a colon is not
// base64url is a secret with a colon in it (a password, a Flask
// SECRET_KEY), judged whole; idLike says the text had an id's shape
// before the colon, so that the user is told why it was not read as a
// keyring.
func looksLikeKeyring(s string) (keyring, idLike bool) {
	n := 0
	for _, line := range strings.Split(strings.TrimPrefix(s, "\ufeff"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, e := range strings.Split(line, ",") {
			fields := strings.Fields(e)
			if len(fields) == 0 {
				return false, idLike
			}
			parts := strings.Split(fields[0], ":")
			if len(parts) < 2 || !validID(parts[0]) {
				return false, idLike
			}
			idLike = true
			if _, err := base64.RawURLEncoding.Strict().DecodeString(parts[1]); err != nil || len(parts) > 3 {
				return false, idLike
			}
			n++
		}
	}
	return n > 0, idLike
}
