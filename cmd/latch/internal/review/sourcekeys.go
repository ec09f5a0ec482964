package review

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// SourceKey is a secret key found in a project, to try against the live
// application's session cookie (latch audit --source). Secret is never
// printed: Where names the key.
type SourceKey struct {
	Secret string
	// Where is "at app/config.py:12 (SECRET_KEY, hard-coded)" for a key
	// in the tree, or "in its git history: " and CommittedKey.Evidence for
	// one found only in the history.
	Where string
}

// SourceKeys returns every secret-key literal of the project at path:
// those of its Python files (hard-coded, or the fallback of an
// environment lookup, in any branch), of its environment files (examples
// and shipped ones such as .env),
// and, when path is in a git work tree, those ever committed (hist, from
// ScanHistory; nil to leave the history out). Each key comes once, at its
// first place in the tree, else in the history.
func SourceKeys(ctx context.Context, path string, hist *History) ([]SourceKey, error) {
	p, err := openProject(path, DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	var out []SourceKey
	seen := map[string]bool{}
	add := func(secret, where string) {
		if secret != "" && !seen[secret] {
			seen[secret] = true
			out = append(out, SourceKey{Secret: secret, Where: where})
		}
	}
	for _, rel := range p.files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src, err := p.read(rel)
		if err != nil || !mentionsSecret(src) {
			continue
		}
		lits, err := SecretLiterals(rel, src)
		if err != nil {
			continue
		}
		for _, l := range lits {
			add(l.Value, fmt.Sprintf("at %s:%d (%s, %s)", rel, l.Line, l.Name, l.Kind))
		}
	}
	for _, rel := range p.envFiles {
		src, err := p.read(rel)
		if err != nil {
			continue
		}
		for _, l := range envLiterals(src) {
			add(l.Value, fmt.Sprintf("at %s:%d (%s, example environment file)", rel, l.Line, l.Name))
		}
	}
	// .env and the like: loaded by python-dotenv, Flask's CLI and compose,
	// so the likeliest place for the key production really runs with.
	for _, rel := range p.dotenvs {
		src, err := p.read(rel)
		if err != nil {
			continue
		}
		for _, l := range envLiterals(src) {
			add(l.Value, fmt.Sprintf("at %s:%d (%s, environment file shipped with the code)", rel, l.Line, l.Name))
		}
	}
	if hist != nil {
		for _, k := range hist.Keys {
			add(k.secret, "in its git history: "+k.Evidence())
		}
	}
	return out, nil
}

// HistoryOf scans the history of path when it is in a git work tree: nil
// and no error when it is not, or when git is not installed.
func HistoryOf(ctx context.Context, path string) (*History, error) {
	h, err := ScanHistory(ctx, path, DefaultHistoryLimits)
	if errors.Is(err, ErrNotRepository) || errors.Is(err, exec.ErrNotFound) {
		return nil, nil
	}
	return h, err
}
