package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchsec/latch"
)

func init() {
	register(command{name: "keygen", summary: "print a new secret key in the keyring format", run: runKeygen})
	register(command{name: "checkkey", summary: "check a key against latch's strength rules (never echoes it)", run: runCheckkey})
	register(command{name: "rotate", summary: "add a new primary key to a keyring file; retire the old one", run: runRotate})
}

func runKeygen(ctx context.Context, env *Env) int {
	fs := newFlags(env, "keygen", "[--id ID] [--retire YYYY-MM-DD]")
	id := fs.String("id", keyIDForToday(), "key id (A-Z a-z 0-9 - _)")
	retire := fs.String("retire", "", "last day the key is accepted (YYYY-MM-DD)")
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
		input, err = os.ReadFile(*file)
	case *envVar == "" && *file == "" && (len(pos) == 0 || len(pos) == 1 && pos[0] == "-"):
		input, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
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
	if looksLikeKeyring(text) {
		r, err := latch.ParseKeys(text)
		if err != nil {
			fmt.Fprintf(env.Stdout, "refused: %v\n", err)
			return 1
		}
		for _, k := range r.Keys() {
			state := "ok"
			if !k.Retire.IsZero() {
				state += ", retires after " + k.Retire.Format(time.DateOnly)
			}
			fmt.Fprintf(env.Stdout, "key %q: %s (%d bytes)\n", k.ID, state, len(k.Secret))
		}
		return 0
	}
	if err := latch.CheckKey(input); err != nil {
		fmt.Fprintf(env.Stdout, "refused: %v\n", err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "ok: %d bytes pass latch's strength rules\n", len(input))
	return 0
}

// looksLikeKeyring reports whether every entry has the ID:KEY shape.
func looksLikeKeyring(s string) bool {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, e := range strings.Split(line, ",") {
			id, rest, ok := strings.Cut(strings.TrimSpace(e), ":")
			if !ok || id == "" || rest == "" || strings.ContainsAny(id, " \t") {
				return false
			}
			n++
		}
	}
	return n > 0
}

func runRotate(ctx context.Context, env *Env) int {
	fs := newFlags(env, "rotate", "--file KEYRING [--id ID] [--retire-after DURATION]")
	file := fs.String("file", env.Getenv(latch.EnvKeysFile), "keyring file (default $"+latch.EnvKeysFile+")")
	id := fs.String("id", keyIDForToday(), "id of the new primary key")
	after := fs.Duration("retire-after", 31*24*time.Hour, "how long the old primary key keeps verifying; longer than your longest session (remember-me: 30 days)")
	if _, code, ok := parseFlags(fs, env.Args); !ok {
		return code
	}
	if *file == "" {
		return fail(env, "rotate", 2, errors.New("--file is required"))
	}
	now := time.Now().UTC()
	var old []latch.Key
	if _, err := os.Stat(*file); err == nil {
		r, err := latch.LoadKeysFile(*file)
		if err != nil {
			return fail(env, "rotate", 1, err)
		}
		old = r.Keys()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fail(env, "rotate", 1, err)
	}
	keys := []latch.Key{{ID: *id, Secret: latch.GenerateKey()}}
	retireOn := now.Add(*after).Truncate(24 * time.Hour)
	var dropped []string
	for i, k := range old {
		if k.ID == *id {
			return fail(env, "rotate", 2, fmt.Errorf("key id %q is already in the keyring; choose another --id", *id))
		}
		if k.Retired(now) {
			dropped = append(dropped, k.ID)
			continue
		}
		if i == 0 && (k.Retire.IsZero() || k.Retire.After(retireOn)) {
			k.Retire = retireOn
		}
		keys = append(keys, k)
	}
	if _, err := latch.NewKeyring(keys...); err != nil {
		return fail(env, "rotate", 1, err)
	}
	var b strings.Builder
	b.WriteString("# latch keyring: first entry signs, the others verify. Keep this file secret.\n")
	for _, k := range keys {
		b.WriteString(k.SecretEntry() + "\n")
	}
	if err := writeSecretFile(*file, []byte(b.String())); err != nil {
		return fail(env, "rotate", 1, err)
	}
	fmt.Fprintf(env.Stdout, "new primary key %q\n", *id)
	for _, k := range keys[1:] {
		fmt.Fprintf(env.Stdout, "fallback key %q, verifies through %s\n", k.ID, k.Retire.Format(time.DateOnly))
	}
	for _, d := range dropped {
		fmt.Fprintf(env.Stdout, "dropped retired key %q\n", d)
	}
	return 0
}

// writeSecretFile replaces path atomically with a file of mode 0600.
func writeSecretFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".latch-keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
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
	return os.Rename(tmp.Name(), path)
}
