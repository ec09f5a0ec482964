package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/latchsec/latch/cmd/latch/internal/audit"
	"github.com/latchsec/latch/cmd/latch/internal/review"
)

func init() {
	register(command{name: "review", summary: "review a Flask or Django project's session security from its source", run: runReview})
}

const reviewHelp = `usage: latch review [options] PATH

Reads the Python source of a Flask or Django project at PATH (a directory,
or one file) without running it, works out the configuration production
gets, and reports on nine session-security checks, each with the file:line
it rests on and what to do about it:

  secret-key-source     the production SECRET_KEY is not written in the code
                        (no literal, no os.environ.get("SECRET_KEY", "dev")
                        fallback) and was never committed (git history)
  secret-key-weak       a literal key or fallback, judged as "latch checkkey"
                        does (skipped when there is none)
  cookie-secure         the session cookie is Secure in production
  cookie-httponly       ... HttpOnly
  cookie-samesite       ... SameSite=Lax or Strict
  session-lifetime      how long a login lasts on the server, framework
                        defaults included (Flask 31 days, Django 2 weeks)
  session-regeneration  login renews the session (Django's login(); in
                        Flask session.clear() before storing the user)
  https-redirect        plain HTTP is redirected to HTTPS
  hsts                  Strict-Transport-Security of a year or more

Production: Flask configs named Production*/Prod* (or the "production"
entry of a config dict) are taken for production, and settings under
"if app.debug" are not; for Django, the module DJANGO_SETTINGS_MODULE names
in wsgi.py, asgi.py or manage.py, or production.py beside it. The report
says which configuration was assumed. Test modules (tests/, test_*.py,
conftest.py) are not production either. Example environment files
(.env.example) are hints only, never production values. What is decided
outside the code (an environment variable without a fallback, a proxy that
redirects to HTTPS) is reported as such, not guessed.

Not read: virtual environments (any directory with pyvenv.cfg, venv, .venv),
node_modules, site-packages, .git, caches and Django migrations; symbolic
links out of PATH or to directories; files over --max-file-size; Python
files past --max-files. Files that are not Python (binary) or have syntax
errors are skipped with a note on standard error.

Examples:
  latch review .                                  text report of this project
  latch review --format sarif -o review.sarif .   for code-scanning upload
  latch review --no-history --format json src/    skip the git history scan

Exit status: 0 when no check fails, 1 when one does, 2 on a usage error, an
unreadable PATH, or when PATH holds no Flask or Django project, 3 when
interrupted.

Options:
`

// runReview implements "latch review PATH", with the formats and exit
// codes of "latch audit".
func runReview(ctx context.Context, env *Env) int {
	fs := newFlags(env, "review", "[options] PATH")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, reviewHelp)
		fs.PrintDefaults()
	}
	var (
		format, out string
		noHistory   bool
		lim         = review.DefaultLimits
	)
	fs.StringVar(&format, "format", "text", "report format: "+strings.Join(audit.Formats, ", "))
	fs.StringVar(&out, "out", "", "write the report to this file instead of standard output")
	fs.StringVar(&out, "o", "", "short for --out")
	fs.BoolVar(&noHistory, "no-history", false, "do not scan the git history for committed keys (it is scanned when PATH is in a git work tree)")
	fs.IntVar(&lim.MaxFiles, "max-files", lim.MaxFiles, "read at most this many Python files")
	fs.Int64Var(&lim.MaxFileSize, "max-file-size", lim.MaxFileSize, "skip files larger than this many bytes")
	path, code, ok := parseOneArg(fs, env.Args)
	if !ok {
		return code
	}
	if !validFormat(format) {
		return fail(env, "review", 2, fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(audit.Formats, ", ")))
	}
	if lim.MaxFiles < 1 || lim.MaxFileSize < 1 {
		return fail(env, "review", 2, errors.New("--max-files and --max-file-size must be positive"))
	}
	opts := review.Options{Limits: lim}
	if !noHistory {
		h, err := review.HistoryOf(ctx, path)
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(env.Stderr, "latch review: note: git history not scanned: %v\n", audit.Plain(err.Error()))
		}
		opts.History = h
	}
	res, err := review.Run(ctx, path, opts)
	if ctx.Err() != nil {
		fmt.Fprintln(env.Stderr, "latch review: interrupted")
		return 3
	}
	if err != nil {
		return fail(env, "review", 2, errors.New(audit.Plain(err.Error())))
	}
	for i, n := range res.Notes {
		if i == 20 {
			fmt.Fprintf(env.Stderr, "latch review: note: %d more notes\n", len(res.Notes)-20)
			break
		}
		fmt.Fprintf(env.Stderr, "latch review: note: %s\n", audit.Plain(n))
	}
	w, color := env.Stdout, isTerminal(env.Stdout) && env.Getenv("NO_COLOR") == ""
	var f *os.File
	if out != "" {
		f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fail(env, "review", 2, fmt.Errorf("--out: %w", err))
		}
		w, color = f, false
	}
	err = audit.Write(w, res.Report, format, color)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fail(env, "review", 2, err)
	}
	rep := res.Report
	if out != "" {
		fmt.Fprintf(env.Stderr, "latch review: grade %s, %d fail, %d warn; report written to %s\n", rep.Grade(), rep.Count(audit.Fail), rep.Count(audit.Warn), out)
	}
	if res.Framework == "none" {
		fmt.Fprintf(env.Stderr, "latch review: no Flask or Django project found under %s\n", audit.Plain(path))
		return 2
	}
	if rep.Failed() {
		return 1
	}
	return 0
}
