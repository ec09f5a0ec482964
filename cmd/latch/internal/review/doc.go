// Package review reviews a Flask or Django project's session security from
// its source, as `latch review PATH` does: where the production secret key
// comes from and whether it is weak, the session cookie's Secure, HttpOnly
// and SameSite attributes, the lifetime an authenticated session gets,
// whether login renews the session, and HTTPS redirection and HSTS. Run
// gives the verdicts as an audit.Report (so every report format of
// `latch audit` serves), with the file:line each verdict rests on, the
// configuration taken for production, and notes on what was skipped.
//
// Python is parsed with tree-sitter's grammar (parse.go), and a small
// evaluator (eval.go, value.go) follows what a reviewer follows: module
// and class assignments, string and bytes literals (concatenated,
// escaped; f-strings with fields are not literals), environment lookups
// and their fallbacks (os.environ.get, os.getenv, os.environ[...],
// python-decouple's config, django-environ's env, configparser's
// fallback, getattr defaults), keys made at random at start-up, imports
// between the project's modules (from .base import *), class inheritance,
// the project's own helper functions, and conditionals: one the code
// decides is followed, one it does not is kept as a choice whose branches
// are all reported, with development-only branches (if DEBUG:) left out
// of production (cond.go). The Flask rules are in flask.go, Django's in
// django.go, the checks shared by both in checks.go.
//
// SecretLiterals gives the secret-key literals of one source, for scanning
// a repository's history (history.go) and for `latch audit --source`
// (sourcekeys.go).
//
// What a review reads is bounded (Limits): virtual environments, installed
// packages, caches, version control and Django migrations are not entered,
// symbolic links are never followed out of the tree or into directories,
// and binary, oversized or syntactically broken files are skipped with a
// note. A value has at most 64 conditional alternatives and the evaluator
// follows at most 20,000 calls into the project's functions, so no input
// makes a review take exponential time.
package review
