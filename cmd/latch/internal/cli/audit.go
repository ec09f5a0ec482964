package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/latchsec/latch/cmd/latch/internal/audit"
	"github.com/latchsec/latch/internal/weakkeys"
)

func init() {
	register(command{name: "audit", summary: "review a live application's session security", run: runAudit})
}

// maxWordlist bounds a --wordlist file.
const maxWordlist = 64 << 20

// runAudit implements "latch audit URL": exit 0 when no check fails, 1
// when one does, 2 on a usage or network error, 3 when the audit was
// interrupted (SIGINT, SIGTERM) or reached --max-duration: the report of
// the checks that finished is written all the same, marked incomplete.
func runAudit(ctx context.Context, env *Env) int {
	fs := newFlags(env, "audit", "URL [options]")
	var (
		cfg                 audit.Config
		passEnv, format     string
		out, cacert, wlFile string
		source              string
		insecure            bool
		samples             int
	)
	fs.StringVar(&cfg.HTTPURL, "http-url", "", "plain-HTTP entry point for the redirect check (default: the target's host on port 80)")
	fs.StringVar(&cfg.LoginPath, "login-path", "", "login form path; enables the checks that need a session")
	fs.StringVar(&cfg.Username, "username", "", "user to log in as")
	fs.StringVar(&passEnv, "password-env", "", "environment variable holding the password")
	fs.StringVar(&cfg.UserField, "user-field", "username", "form field for the username")
	fs.StringVar(&cfg.PassField, "pass-field", "password", "form field for the password")
	fs.BoolVar(&cfg.LoginJSON, "login-json", false, "post the credentials as a JSON object ({user-field: username, pass-field: password}), as a single-page application's login API takes them")
	fs.StringVar(&cfg.MePath, "me-path", "", "page that answers 200 when logged in, and another status or page when not")
	fs.StringVar(&cfg.LogoutPath, "logout-path", "/logout", "logout endpoint (POST, or GET when POST is refused)")
	fs.StringVar(&cacert, "cacert", "", "PEM file of CA certificates to trust for HTTPS")
	fs.BoolVar(&insecure, "insecure", false, "do not verify the target's TLS certificate (self-signed test servers)")
	fs.DurationVar(&cfg.IdleWait, "idle-wait", 0, "wait this long without requests, then check the session ended")
	fs.DurationVar(&cfg.AbsoluteWait, "absolute-wait", 0, "keep a session busy this long, then check it ended")
	fs.IntVar(&samples, "samples", 200, "tokens to collect for the randomness check (each costs one login)")
	fs.StringVar(&wlFile, "wordlist", "", "file of candidate secret keys, one a line, tried after the shipped list")
	fs.StringVar(&source, "source", "", "the application's source (a Flask or Django project): try the keys written in it or committed to its git history against the live session cookie, and report where source and live application disagree")
	fs.StringVar(&out, "out", "", "write the report to this file instead of standard output")
	fs.StringVar(&format, "format", "text", "report format: "+strings.Join(audit.Formats, ", "))
	fs.DurationVar(&cfg.Timeout, "timeout", 15*time.Second, "timeout of each request")
	fs.DurationVar(&cfg.MaxDuration, "max-duration", 0, "stop the whole audit after this long, rate-limit waits included, and report what was checked (default 1h plus the longer of --idle-wait and --absolute-wait)")
	arg, code, ok := parseOneArg(fs, env.Args)
	if !ok {
		return code
	}
	cfg.Target = arg
	if !validFormat(format) {
		return auditFail(env, 2, fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(audit.Formats, ", ")))
	}
	if samples < 1 || samples > audit.MaxSamples {
		return auditFail(env, 2, fmt.Errorf("--samples must be between 1 and %d", audit.MaxSamples))
	}
	cfg.Samples = samples
	if cfg.LoginPath != "" {
		if passEnv == "" {
			return auditFail(env, 2, errors.New("--login-path needs --password-env VAR (the password is never taken on the command line)"))
		}
		cfg.Password = env.Getenv(passEnv)
		if cfg.Password == "" {
			return auditFail(env, 2, fmt.Errorf("environment variable %s is empty or unset", passEnv))
		}
	}
	tc, err := auditTLS(cacert, insecure)
	if err != nil {
		return auditFail(env, 2, err)
	}
	cfg.TLS = tc
	cfg.WeakKeys = weakkeys.List()
	if wlFile != "" {
		wl, err := readWordlist(wlFile)
		if err != nil {
			return auditFail(env, 2, err)
		}
		cfg.Wordlist = wl
	}
	var src *sourceReview
	if source != "" {
		if src, err = reviewSource(ctx, source); err != nil {
			return auditFail(env, 2, err)
		}
		cfg.Source, cfg.SourceKeys = true, src.keys
	}
	pr := newProgress(env.Stderr)
	cfg.Progress = pr
	rep, err := audit.Run(ctx, cfg)
	pr.done()
	incomplete := errors.Is(err, audit.ErrIncomplete) && rep != nil
	if err != nil && !incomplete {
		return auditFail(env, 2, err)
	}
	if src != nil {
		audit.CompareSource(rep, src.compare)
	}
	w, color := env.Stdout, isTerminal(env.Stdout) && env.Getenv("NO_COLOR") == ""
	var f *os.File
	if out != "" {
		f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return auditFail(env, 2, fmt.Errorf("--out: %w", err))
		}
		w, color = f, false
	}
	err = audit.Write(w, rep, format, color)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return auditFail(env, 2, err)
	}
	if out != "" {
		fmt.Fprintf(env.Stderr, "latch audit: grade %s, %d fail, %d warn; report written to %s\n", rep.Grade(), rep.Count(audit.Fail), rep.Count(audit.Warn), out)
	}
	if incomplete {
		fmt.Fprintf(env.Stderr, "latch audit: incomplete: the audit %s; the report covers the checks that finished before\n", audit.Plain(rep.Incomplete))
		return 3
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

// auditFail prints err as fail does, through audit.Plain: an audit's
// errors quote what the target sent (the names in its certificate, for
// one), which must not reach a terminal or a log as control characters.
func auditFail(env *Env, code int, err error) int {
	return fail(env, "audit", code, errors.New(audit.Plain(err.Error())))
}

func validFormat(f string) bool {
	for _, g := range audit.Formats {
		if f == g {
			return true
		}
	}
	return false
}

// auditTLS builds the client TLS configuration.
func auditTLS(cacert string, insecure bool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert: no PEM certificate in %s", cacert)
		}
		tc.RootCAs = pool
	}
	tc.InsecureSkipVerify = insecure
	return tc, nil
}

// readWordlist reads candidate keys, one a line; blank lines are skipped
// and line ends (\n or \r\n) are not part of a key.
func readWordlist(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--wordlist: %w", err)
	}
	defer f.Close()
	return parseWordlist(io.LimitReader(f, maxWordlist+1))
}

func parseWordlist(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []string
	total := 0
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		total += len(sc.Bytes()) + 1
		if total > maxWordlist {
			return nil, fmt.Errorf("--wordlist: file larger than %d MiB", maxWordlist>>20)
		}
		if line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--wordlist: %w", err)
	}
	return out, nil
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress shows long phases on stderr: one redrawn line on a terminal,
// otherwise one short line when a phase starts and when it ends.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	tasks map[string][2]int
	order []string
	drawn bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), tasks: map[string][2]int{}}
}

// Update implements audit.Progress.
func (p *progress) Update(task string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, seen := p.tasks[task]
	if !seen {
		p.order = append(p.order, task)
	}
	p.tasks[task] = [2]int{done, total}
	if p.tty {
		var parts []string
		for _, t := range p.order {
			v := p.tasks[t]
			if v[0] < v[1] {
				parts = append(parts, fmt.Sprintf("%s %d/%d", t, v[0], v[1]))
			}
		}
		fmt.Fprintf(p.w, "\r\x1b[Klatch audit: %s", strings.Join(parts, " · "))
		p.drawn = true
		return
	}
	switch {
	case !seen || (prev[0] >= prev[1] && done < total):
		fmt.Fprintf(p.w, "latch audit: %s (%d)...\n", task, total)
	case done >= total && prev[0] < prev[1]:
		fmt.Fprintf(p.w, "latch audit: %s done\n", task)
	}
}

// done clears the terminal line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
