// Package review reviews a Flask or Django project's session security from
// its source, as `latch review PATH` does: where the production secret key
// comes from and whether it is weak, the session cookie's Secure, HttpOnly
// and SameSite attributes, the lifetime an authenticated session gets,
// whether login renews the session, and HTTPS redirection and HSTS.
//
// Python is parsed with tree-sitter's grammar, and a small evaluator
// follows what a reviewer follows: module and class assignments, string
// and bytes literals (concatenated, escaped; f-strings with fields are not
// literals), environment lookups and their fallbacks (os.environ.get,
// os.getenv, os.environ[...], python-decouple's config, django-environ's
// env), keys made at random at start-up, imports between the project's
// modules (from .base import *), class inheritance, and conditionals, whose
// branches are all kept and reported rather than guessed.
//
// SecretLiterals gives the secret-key literals of one source, for scanning
// a repository's history.
package review
