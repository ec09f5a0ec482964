package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchsec/latch/flask"
	"github.com/latchsec/latch/internal/weakkeys"
)

func init() {
	register(command{name: "flask", summary: "decode, sign and crack Flask session cookies", run: runFlask})
}

const flaskUsage = `usage: latch flask <decode|sign|crack> ...

  latch flask decode COOKIE [--key-env VAR | --key-file F] [--fallback-env VAR]... [--max-age D]
      print the session in the cookie as JSON; with a key, say whether the
      signature verifies (exit 1 when it does not); --fallback-env adds a
      key of SECRET_KEY_FALLBACKS (repeat it for several)
  latch flask sign (--key-env VAR | --key-file F) JSON
      print a cookie value that Flask accepts for the session JSON (Flask's
      tagged JSON: {" t": [...]} is a tuple, {" b": "..."} bytes, ...)
  latch flask crack COOKIE [--wordlist FILE] [--workers N]
      look for the secret key among the known weak keys and FILE (a line
      written as a Python literal, b'...' or '...', is also tried as the
      value it denotes); print "key: KEY" and exit 0 when found, 1 when not

COOKIE and JSON may be "-" to read them from standard input (a session
cookie is a credential: keep it out of shell history). A COOKIE given as
"session=VALUE" is accepted too.
`

func runFlask(ctx context.Context, env *Env) int {
	if len(env.Args) == 0 {
		fmt.Fprint(env.Stderr, flaskUsage)
		return 2
	}
	sub := *env
	sub.Args = env.Args[1:]
	switch env.Args[0] {
	case "decode":
		return runFlaskDecode(&sub)
	case "sign":
		return runFlaskSign(&sub)
	case "crack":
		return runFlaskCrack(ctx, &sub)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, flaskUsage)
		return 0
	default:
		fmt.Fprintf(env.Stderr, "latch flask: unknown subcommand %q\n", env.Args[0])
		fmt.Fprint(env.Stderr, flaskUsage)
		return 2
	}
}

// flaskKey reads the secret key from --key-env or --key-file. ok is false
// when neither was given.
func flaskKey(env *Env, keyEnv, keyFile string) (key []byte, ok bool, err error) {
	switch {
	case keyEnv != "" && keyFile != "":
		return nil, false, errors.New("give --key-env or --key-file, not both")
	case keyEnv != "":
		k := env.Getenv(keyEnv)
		if k == "" {
			return nil, false, fmt.Errorf("environment variable %s is empty or unset", keyEnv)
		}
		return []byte(k), true, nil
	case keyFile != "":
		b, err := readInputFile(keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("--key-file: %w", err)
		}
		// One trailing line end is not part of the key.
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return nil, false, fmt.Errorf("--key-file %s is empty", keyFile)
		}
		return b, true, nil
	}
	return nil, false, nil
}

// flaskInput returns arg, or standard input when arg is "-".
func flaskInput(env *Env, arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	if env.Stdin == nil {
		return "", errors.New("no standard input")
	}
	b, err := readInput(env.Stdin, "standard input")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// flaskCookie reads a cookie argument, accepting "NAME=VALUE" as copied
// from a browser or a Cookie header.
func flaskCookie(env *Env, arg string) (string, error) {
	c, err := flaskInput(env, arg)
	if err != nil {
		return "", err
	}
	c = strings.TrimSpace(c)
	c = strings.TrimSuffix(c, ";")
	if i := strings.IndexByte(c, '='); i >= 0 && !strings.Contains(c[:i], ".") {
		c = c[i+1:]
	}
	c = strings.Trim(c, `"`)
	if c == "" {
		return "", errors.New("empty cookie")
	}
	return c, nil
}

func runFlaskDecode(env *Env) int {
	fs := newFlags(env, "flask decode", "COOKIE [--key-env VAR | --key-file F] [--fallback-env VAR]... [--max-age D]")
	keyEnv := fs.String("key-env", "", "environment variable holding the SECRET_KEY")
	keyFile := fs.String("key-file", "", "file holding the SECRET_KEY (one trailing newline is ignored)")
	var fallbacks [][]byte
	fs.Func("fallback-env", "environment variable holding a key of SECRET_KEY_FALLBACKS (repeatable)", func(name string) error {
		k := env.Getenv(name)
		if k == "" {
			return fmt.Errorf("environment variable %s is empty or unset", name)
		}
		fallbacks = append(fallbacks, []byte(k))
		return nil
	})
	maxAge := fs.Duration("max-age", 0, "refuse cookies signed longer ago than this (Flask's default is 744h); 0 means no limit")
	arg, code, ok := parseOneArg(fs, env.Args)
	if !ok {
		return code
	}
	if *maxAge < 0 {
		return fail(env, "flask decode", 2, errors.New("--max-age must not be negative"))
	}
	cookie, err := flaskCookie(env, arg)
	if err != nil {
		return fail(env, "flask decode", 2, err)
	}
	key, haveKey, err := flaskKey(env, *keyEnv, *keyFile)
	if err != nil {
		return fail(env, "flask decode", 2, err)
	}
	p, err := flask.Unverified(cookie)
	if err != nil {
		return fail(env, "flask decode", 1, err)
	}
	if err := printJSON(env.Stdout, p.Raw); err != nil {
		return fail(env, "flask decode", 1, err)
	}
	info := fmt.Sprintf("signed at %s", p.Timestamp.Format(time.RFC3339))
	if p.Compressed {
		info += ", zlib-compressed"
	}
	fmt.Fprintf(env.Stderr, "%s\n", info)
	if !haveKey && len(fallbacks) > 0 {
		return fail(env, "flask decode", 2, errors.New("--fallback-env needs --key-env or --key-file"))
	}
	if !haveKey {
		fmt.Fprintln(env.Stderr, "signature: not checked (give --key-env or --key-file); anyone who sees this cookie can read it")
		return 0
	}
	verified, err := flask.NewBytes(key, fallbacks...).Decode(cookie, *maxAge)
	switch {
	case err == nil && verified.KeyIndex == 0:
		fmt.Fprintln(env.Stderr, "signature: valid")
		return 0
	case err == nil:
		fmt.Fprintf(env.Stderr, "signature: valid (fallback key %d; Flask re-signs with SECRET_KEY when it saves the session)\n", verified.KeyIndex)
		return 0
	case errors.Is(err, flask.ErrBadSignature):
		fmt.Fprintln(env.Stderr, "signature: INVALID for this key")
		return 1
	case errors.Is(err, flask.ErrExpired), errors.Is(err, flask.ErrFuture):
		fmt.Fprintf(env.Stderr, "signature: valid, but %v\n", err)
		return 1
	default:
		return fail(env, "flask decode", 1, err)
	}
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("formatting payload: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func runFlaskSign(env *Env) int {
	fs := newFlags(env, "flask sign", "(--key-env VAR | --key-file F) JSON")
	keyEnv := fs.String("key-env", "", "environment variable holding the SECRET_KEY")
	keyFile := fs.String("key-file", "", "file holding the SECRET_KEY (one trailing newline is ignored)")
	arg, code, ok := parseOneArg(fs, env.Args)
	if !ok {
		return code
	}
	key, haveKey, err := flaskKey(env, *keyEnv, *keyFile)
	if err != nil {
		return fail(env, "flask sign", 2, err)
	}
	if !haveKey {
		return fail(env, "flask sign", 2, errors.New("a key is required: --key-env VAR or --key-file F (never on the command line)"))
	}
	doc, err := flaskInput(env, arg)
	if err != nil {
		return fail(env, "flask sign", 2, err)
	}
	data, err := flask.ParseTagged([]byte(doc))
	if err != nil {
		return fail(env, "flask sign", 2, fmt.Errorf("JSON: %w", err))
	}
	cookie, err := flask.NewBytes(key).Encode(data)
	if err != nil {
		return fail(env, "flask sign", 1, err)
	}
	fmt.Fprintln(env.Stdout, cookie)
	return 0
}

func runFlaskCrack(ctx context.Context, env *Env) int {
	fs := newFlags(env, "flask crack", "COOKIE [--wordlist FILE] [--workers N]")
	wlFile := fs.String("wordlist", "", "file of candidate keys, one a line, tried after latch's list of known weak keys")
	workers := fs.Int("workers", 0, "goroutines to use (default: one per CPU)")
	arg, code, ok := parseOneArg(fs, env.Args)
	if !ok {
		return code
	}
	if *workers < 0 {
		return fail(env, "flask crack", 2, errors.New("--workers must not be negative"))
	}
	cookie, err := flaskCookie(env, arg)
	if err != nil {
		return fail(env, "flask crack", 2, err)
	}
	candidates := weakkeys.List()
	if *wlFile != "" {
		wl, err := readWordlist(*wlFile)
		if err != nil {
			return fail(env, "flask crack", 2, err)
		}
		candidates = append(candidates, wl...)
	}
	// Wordlists mined from code hold keys as Python literals (b'\x..');
	// try the value each one denotes too, as flask-unsign does.
	candidates = flask.ExpandCandidates(candidates)
	start := time.Now()
	key, found, tried, err := flask.Crack(ctx, cookie, candidates, *workers)
	elapsed := time.Since(start)
	rate := float64(tried) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(env.Stderr, "tried %d of %d candidates in %v (%.0f candidates/s)\n", tried, len(candidates), elapsed.Round(time.Millisecond), rate)
	if err != nil {
		if errors.Is(err, flask.ErrMalformed) || errors.Is(err, flask.ErrTooLarge) {
			return fail(env, "flask crack", 2, err)
		}
		return fail(env, "flask crack", 1, err)
	}
	if !found {
		fmt.Fprintln(env.Stderr, "key not found")
		return 1
	}
	fmt.Fprintf(env.Stdout, "key: %s\n", displayKey(key))
	fmt.Fprintln(env.Stderr, "anyone with this key can forge sessions for this application: replace it with a random key of at least 32 bytes")
	return 0
}

// displayKey prints a key as it is when it is printable text, and as a
// Python bytes literal (the form a Flask developer would paste) otherwise.
func displayKey(k string) string {
	printable := utf8.ValidString(k)
	for _, r := range k {
		if !unicode.IsPrint(r) {
			printable = false
			break
		}
	}
	if printable {
		return k
	}
	var b strings.Builder
	b.WriteString("b'")
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
