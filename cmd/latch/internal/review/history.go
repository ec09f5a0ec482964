package review

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A key that was ever committed is compromised: whoever can read the
// repository, or any clone, fork or backup of it, holds it, and deleting
// it in a later commit changes none of that. ScanHistory finds such keys
// in every commit reachable from any ref of a git repository.

// HistoryLimits bounds a history scan.
type HistoryLimits struct {
	// MaxBlobs is how many distinct file versions are read at most.
	MaxBlobs int
	// MaxBytes is how many bytes of them are read at most.
	MaxBytes int64
	// MaxBlobSize is the size above which a file version is skipped.
	MaxBlobSize int64
	// MaxDuration is how long reading and parsing may take; the scan
	// then stops and says so.
	MaxDuration time.Duration
	// Now is the clock MaxDuration is measured on (time.Now when nil).
	Now func() time.Time
}

// DefaultHistoryLimits are the limits latch review uses.
var DefaultHistoryLimits = HistoryLimits{MaxBlobs: 50000, MaxBytes: 128 << 20, MaxBlobSize: 1 << 20, MaxDuration: 20 * time.Second}

// withDefaults fills in the limits left zero.
func (l HistoryLimits) withDefaults() HistoryLimits {
	d := DefaultHistoryLimits
	if l.MaxBlobs == 0 {
		l.MaxBlobs = d.MaxBlobs
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxBlobSize == 0 {
		l.MaxBlobSize = d.MaxBlobSize
	}
	if l.MaxDuration == 0 {
		l.MaxDuration = d.MaxDuration
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return l
}

// CommittedKey is one distinct secret-key literal found in the history.
// It never holds the key in a printable field: Fingerprint names it.
type CommittedKey struct {
	// Fingerprint is the first 8 hex digits of the key's SHA-256.
	Fingerprint string `json:"fingerprint"`
	// Length is the key's length in bytes.
	Length int `json:"length"`
	// Commit is the earliest commit found that adds a file version
	// holding the key; Path and Line locate the key in it (Path relative
	// to the scanned directory, slash-separated).
	Commit string `json:"commit"`
	Path   string `json:"path"`
	Line   int    `json:"line"`
	// Name is what the key is assigned to (SECRET_KEY, app.secret_key).
	Name string `json:"name"`
	// Kind is hard-coded, env-fallback, or env-file (a KEY=value line of
	// an environment file).
	Kind LiteralKind `json:"kind"`
	// Example is set when every file holding the key is an example
	// environment file (.env.example): a placeholder, most likely.
	Example bool `json:"example"`
	// Test is set when every file holding the key is under a test
	// directory or a test module.
	Test bool `json:"test"`
	// InHEAD says whether HEAD still holds the key; Removed, that it was
	// committed and HEAD no longer does. A removed key is compromised all
	// the same: it must be rotated.
	InHEAD  bool `json:"in_head"`
	Removed bool `json:"removed"`
	// Versions is how many distinct file versions hold the key.
	Versions int `json:"versions"`

	secret string
}

// Secret returns the key itself, for verifying it against a live cookie.
// Never print it.
func (k CommittedKey) Secret() string { return k.secret }

// EnvFile is the kind of a key found in an environment file.
const EnvFile LiteralKind = "env-file"

// History is the outcome of ScanHistory.
type History struct {
	// Keys are the distinct keys, earliest first.
	Keys []CommittedKey
	// Objects is how many objects the reachable history has; Candidates,
	// how many file versions were candidates (Python and environment
	// files); Read, how many of them were read, and Bytes their size;
	// Parsed, how many mentioned a secret-key name and were parsed.
	Objects, Candidates, Read, Parsed int
	Bytes                             int64
	// Skipped counts candidates left out: over MaxBlobSize, or past
	// MaxBlobs or MaxBytes.
	Skipped int
	// Truncated says why the scan stopped before reading every
	// candidate; "" when it read them all.
	Truncated string
	// Elapsed is how long the scan took.
	Elapsed time.Duration
}

// ErrNotRepository is returned by ScanHistory for a directory that is not
// in a git work tree.
var ErrNotRepository = errors.New("not in a git repository")

// ScanHistory finds every secret-key literal committed under dir, in any
// commit reachable from any ref: every version of every Python file and
// environment file (.env, .env.*, *.env, .flaskenv) that mentions a
// secret-key name, Python parsed as SecretLiterals does. Versions are read
// once each (by blob id), settings and configuration files first, within
// lim. It runs the git command, never a shell, with the repository's
// filesystem monitor and the system configuration turned off.
func ScanHistory(ctx context.Context, dir string, lim HistoryLimits) (*History, error) {
	lim = lim.withDefaults()
	start := lim.Now()
	g := gitRunner{dir: dir}
	top, err := g.output(ctx, "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(string(top)) != "true" {
		if err != nil && !errors.Is(err, errNotGit) {
			return nil, err
		}
		return nil, ErrNotRepository
	}
	prefixOut, err := g.output(ctx, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSpace(string(prefixOut))
	h := &History{}

	// 1. Every object of every reachable commit: candidates by path.
	cands, err := g.candidates(ctx, prefix, h)
	if err != nil {
		return nil, err
	}
	h.Candidates = len(cands)
	if len(cands) == 0 {
		h.Elapsed = lim.Now().Sub(start)
		return h, nil
	}

	// 2. Read them, settings and configuration first, within the limits.
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].tier < cands[j].tier })
	found := map[string][]Literal{} // blob id -> literals
	paths := map[string]string{}    // blob id -> path (relative to dir)
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		work   = make(chan blobData)
		parsed int
	)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				var lits []Literal
				if b.c.env {
					lits = envLiterals(b.data)
				} else if l, err := SecretLiterals(b.c.path, b.data); err == nil {
					lits = l
				}
				mu.Lock()
				parsed++
				if len(lits) > 0 {
					found[b.c.id] = lits
					paths[b.c.id] = b.c.path
				}
				mu.Unlock()
			}
		}()
	}
	err = g.readBlobs(ctx, cands, lim, start, h, func(c candidate, data []byte) {
		if (c.env && bytes.Contains(bytes.ToUpper(data), []byte("SECRET_KEY"))) || (!c.env && mentionsSecret(data)) {
			work <- blobData{c, data}
		}
	})
	close(work)
	wg.Wait()
	h.Parsed = parsed
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		h.Elapsed = lim.Now().Sub(start)
		return h, nil
	}

	// 3. Which commit added each version holding a key, and what HEAD has.
	added, err := g.firstCommits(ctx, prefix, found)
	if err != nil {
		return nil, err
	}
	inHead, err := g.headBlobs(ctx)
	if err != nil {
		return nil, err
	}

	// 4. One entry per distinct key, at its earliest commit.
	type occurrence struct {
		blob string
		lit  Literal
		when int // index of the commit in chronological order; -1 unknown
		sha  string
	}
	byKey := map[string][]occurrence{}
	for id, lits := range found {
		for _, l := range lits {
			a, ok := added[id]
			when, sha := -1, ""
			if ok {
				when, sha = a.order, a.commit
			}
			byKey[l.Value] = append(byKey[l.Value], occurrence{blob: id, lit: l, when: when, sha: sha})
		}
	}
	for secret, occ := range byKey {
		sort.Slice(occ, func(i, j int) bool {
			a, b := occ[i], occ[j]
			if (a.when < 0) != (b.when < 0) {
				return a.when >= 0
			}
			if a.when != b.when {
				return a.when < b.when
			}
			if paths[a.blob] != paths[b.blob] {
				return paths[a.blob] < paths[b.blob]
			}
			if a.lit.Line != b.lit.Line {
				return a.lit.Line < b.lit.Line
			}
			return a.lit.Name < b.lit.Name
		})
		first := occ[0]
		sum := sha256.Sum256([]byte(secret))
		k := CommittedKey{Fingerprint: hex.EncodeToString(sum[:4]), Length: len(secret), Commit: first.sha,
			Path: paths[first.blob], Line: first.lit.Line, Name: first.lit.Name, Kind: first.lit.Kind,
			Example: true, Test: true, secret: secret}
		if k.Commit == "" {
			k.Commit = first.blob // found by rev-list but not by the log walk: name the blob
		}
		blobs := map[string]bool{}
		for _, o := range occ {
			blobs[o.blob] = true
			p := paths[o.blob]
			k.Example = k.Example && isEnvExample(path.Base(p))
			k.Test = k.Test && isTestPath(p)
			if inHead[o.blob] {
				k.InHEAD = true
			}
		}
		k.Versions = len(blobs)
		k.Removed = !k.InHEAD
		h.Keys = append(h.Keys, k)
	}
	order := map[string]int{}
	for _, a := range added {
		order[a.commit] = a.order
	}
	sort.Slice(h.Keys, func(i, j int) bool {
		a, b := h.Keys[i], h.Keys[j]
		oa, okA := order[a.Commit]
		ob, okB := order[b.Commit]
		if okA != okB {
			return okA
		}
		if oa != ob {
			return oa < ob
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Fingerprint < b.Fingerprint
	})
	h.Elapsed = lim.Now().Sub(start)
	return h, nil
}

// blobData is one file version to parse.
type blobData struct {
	c    candidate
	data []byte
}

// Evidence describes k for a report, without the key: "committed in
// 1a2b3c4 app/config.py:12 (SECRET_KEY, sha256 5e8f0c1d, 24 bytes), still
// in HEAD".
func (k CommittedKey) Evidence() string {
	c := k.Commit
	if len(c) > 7 {
		c = c[:7]
	}
	s := fmt.Sprintf("committed in %s %s:%d (%s, %s, sha256 %s, %d bytes)", c, k.Path, k.Line, k.Name, k.Kind, k.Fingerprint, k.Length)
	switch {
	case k.InHEAD:
		s += ", still in HEAD"
	default:
		s += ", removed since, but still in the history"
	}
	if k.Example {
		s += "; only in example environment files"
	} else if k.Test {
		s += "; only in test files"
	}
	return s
}

// candidate is one file version to read.
type candidate struct {
	id, path string // path relative to the scanned directory
	env      bool   // an environment file, not Python
	tier     int    // 0: settings and configuration files, 1: other Python, 2: tests
}

// classify says whether the file at p (relative to the scanned directory)
// is a candidate, and how soon to read it.
func classify(p string) (ok, env bool, tier int) {
	for _, seg := range strings.Split(path.Dir(p), "/") {
		switch seg {
		case "site-packages", "dist-packages", "node_modules", ".git", ".tox", ".nox", "__pycache__", "venv", ".venv":
			return false, false, 0
		}
	}
	base := strings.ToLower(path.Base(p))
	if base == ".env" || base == ".flaskenv" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env") || isEnvExample(base) {
		return true, true, 0
	}
	if !strings.HasSuffix(base, ".py") {
		return false, false, 0
	}
	if isTestPath(p) {
		return true, false, 2
	}
	lp := strings.ToLower(p)
	for _, w := range []string{"settings", "config", "conf", "secret", "app.py", "__init__.py", "wsgi", "factory", "create_app", "local"} {
		if strings.Contains(lp, w) {
			return true, false, 0
		}
	}
	return true, false, 1
}

// isTestPath reports whether p is a test module or under a test directory.
func isTestPath(p string) bool {
	for _, seg := range strings.Split(strings.ToLower(p), "/") {
		if seg == "test" || seg == "tests" || seg == "testing" || seg == "testsuite" || strings.HasPrefix(seg, "test_") || strings.HasSuffix(seg, "_test.py") || seg == "conftest.py" {
			return true
		}
	}
	return false
}

// mentionsSecret reports whether Python source data may assign a secret
// key, the cheap test before a parse: a secret-key name (any case) followed, past spaces,
// a closing quote and a closing bracket, by "=" (not "==") or ":", as in
// SECRET_KEY = ..., app.secret_key = ..., config["SECRET_KEY"] = ...,
// SECRET_KEY=... (a keyword) and "SECRET_KEY": ...
// Every place SecretLiterals reports has this shape; the parse decides.
func mentionsSecret(data []byte) bool {
	const name = "secret_key"
	for i := 0; i+len(name) <= len(data); i++ {
		j := bytes.IndexByte(data[i:], 's')
		k := bytes.IndexByte(data[i:], 'S')
		switch {
		case j < 0 && k < 0:
			return false
		case j < 0 || (k >= 0 && k < j):
			j = k
		}
		i += j
		if i+len(name) > len(data) {
			return false
		}
		if !bytes.EqualFold(data[i:i+len(name)], []byte(name)) {
			continue
		}
		p := i + len(name)
		p = skipSpace(data, p)
		if p < len(data) && (data[p] == '\'' || data[p] == '"') {
			p = skipSpace(data, p+1)
		}
		if p < len(data) && data[p] == ']' {
			p = skipSpace(data, p+1)
		}
		if p < len(data) && (data[p] == ':' || (data[p] == '=' && (p+1 == len(data) || data[p+1] != '='))) {
			return true
		}
	}
	return false
}

// skipSpace skips Python's blanks between tokens, line continuations
// included.
func skipSpace(data []byte, p int) int {
	for p < len(data) {
		switch {
		case data[p] == ' ' || data[p] == '\t' || data[p] == '\f':
			p++
		case data[p] == '\\' && bytes.HasPrefix(data[p+1:], []byte("\n")):
			p += 2
		case data[p] == '\\' && bytes.HasPrefix(data[p+1:], []byte("\r\n")):
			p += 3
		default:
			return p
		}
	}
	return p
}

// envLiterals reads an environment file (KEY=value lines, optionally
// "export KEY=value", values bare or in single or double quotes, "#"
// comments) and returns the secret-key assignments with a value.
func envLiterals(data []byte) []Literal {
	var out []Literal
	for i, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if s == "" || s[0] == '#' {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "export "); ok {
			s = strings.TrimSpace(rest)
		}
		name, val, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		name = strings.Trim(name, " \t")
		if !isSecretName(name) {
			continue
		}
		val = strings.TrimSpace(val)
		if val != "" && (val[0] == '"' || val[0] == '\'') {
			q := val[0]
			end := strings.IndexByte(val[1:], q)
			if end < 0 {
				continue // an unterminated quote: not a value
			}
			val = val[1 : 1+end]
		} else if j := strings.Index(val, " #"); j >= 0 {
			val = strings.TrimSpace(val[:j])
		}
		if val == "" {
			continue
		}
		out = append(out, Literal{Value: val, Line: i + 1, Kind: EnvFile, Name: name})
	}
	return out
}

// gitRunner runs git in one directory.
type gitRunner struct{ dir string }

// errNotGit marks git's refusal of a directory outside any repository.
var errNotGit = errors.New("not a git repository")

// command returns a git command for args with what the repository's own
// configuration could make git run turned off: no filesystem monitor, no
// signature check (log.showSignature runs gpg.program), no transport (a
// partial clone would fetch a missing object, through core.sshCommand
// for one), no pager, no prompt, no system configuration, no replacement
// objects.
func (g gitRunner) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"-C", g.dir, "--no-pager", "--no-replace-objects",
		"-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false", "-c", "log.showSignature=false",
		"-c", "protocol.allow=never", "-c", "core.sshCommand=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
			"GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "LC_ALL":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "GIT_NO_LAZY_FETCH=1", "GIT_PROTOCOL_FROM_USER=0", "LC_ALL=C")
	return cmd
}

// output runs git and returns its standard output.
func (g gitRunner) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := g.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 4096}
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "not a git repository") {
			return nil, errNotGit
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("review: git %s: %w: %s", args[0], err, firstLine(msg))
	}
	return out, nil
}

// stream runs git and hands its standard output to read.
func (g gitRunner) stream(ctx context.Context, stdin io.Reader, read func(io.Reader) error, args ...string) error {
	cmd := g.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 4096}
	cmd.Stdin = stdin
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("review: git %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("review: git %s: %w", args[0], err)
	}
	rerr := read(out)
	if rerr != nil {
		_ = cmd.Process.Kill()
	}
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if rerr != nil {
		return rerr
	}
	if werr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("review: git %s: %v: %s", args[0], werr, firstLine(strings.TrimSpace(stderr.String())))
	}
	return nil
}

// candidates lists the Python and environment files among the objects of
// every reachable commit, under prefix (the scanned directory's path in
// the repository), by blob id: git names each blob once, at the first
// path it meets it under.
func (g gitRunner) candidates(ctx context.Context, prefix string, h *History) ([]candidate, error) {
	var out []candidate
	err := g.stream(ctx, nil, func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			h.Objects++
			id, p, ok := strings.Cut(sc.Text(), " ")
			if !ok || p == "" || !strings.HasPrefix(p, prefix) {
				continue // a commit, a root tree, or outside the directory
			}
			rel := strings.TrimPrefix(p, prefix)
			if okc, env, tier := classify(rel); okc {
				out = append(out, candidate{id: id, path: rel, env: env, tier: tier})
			}
		}
		return sc.Err()
	}, "rev-list", "--all", "--objects", "--missing=allow-any")
	return out, err
}

// readBlobs reads cands through one git cat-file --batch, within lim, and
// calls use with each blob read.
func (g gitRunner) readBlobs(ctx context.Context, cands []candidate, lim HistoryLimits, start time.Time, h *History, use func(candidate, []byte)) error {
	n := len(cands)
	if n > lim.MaxBlobs {
		n = lim.MaxBlobs
		h.Truncated = fmt.Sprintf("read the first %d of %d file versions (the limit)", n, len(cands))
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriter(pw)
		for _, c := range cands[:n] {
			if _, err := bw.WriteString(c.id + "\n"); err != nil {
				return
			}
		}
		_ = pw.CloseWithError(bw.Flush())
	}()
	i, stop := 0, ""
	err := g.stream(ctx, pr, func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 256<<10)
		for ; i < n; i++ {
			head, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("review: git cat-file: %w", err)
			}
			f := strings.Fields(head)
			if len(f) == 2 && f[1] == "missing" {
				h.Skipped++
				continue
			}
			if len(f) != 3 {
				return fmt.Errorf("review: git cat-file: unexpected header %q", firstLine(head))
			}
			size, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || size < 0 {
				return fmt.Errorf("review: git cat-file: bad size in %q", firstLine(head))
			}
			over := size > lim.MaxBlobSize
			if !over && h.Bytes+size > lim.MaxBytes {
				stop = fmt.Sprintf("stopped after %d bytes of file versions (the limit), %d of %d read", h.Bytes, h.Read, len(cands))
			} else if !over && lim.Now().Sub(start) > lim.MaxDuration {
				stop = fmt.Sprintf("stopped after %v (the limit), %d of %d file versions read", lim.MaxDuration, h.Read, len(cands))
			}
			if stop != "" {
				return errStopped
			}
			if over {
				h.Skipped++
				if _, err := br.Discard(int(size) + 1); err != nil {
					return fmt.Errorf("review: git cat-file: %w", err)
				}
				continue
			}
			data := make([]byte, size+1)
			if _, err := io.ReadFull(br, data); err != nil {
				return fmt.Errorf("review: git cat-file: %w", err)
			}
			h.Read++
			h.Bytes += size
			if f[1] == "blob" {
				use(cands[i], data[:size])
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	}, "cat-file", "--batch")
	_ = pr.Close()
	h.Skipped += len(cands) - i
	if errors.Is(err, errStopped) {
		h.Truncated, err = stop, nil
	}
	return err
}

// errStopped ends reading at a limit.
var errStopped = errors.New("stopped at a limit")

// added is the commit that first added a blob, with its place in
// chronological order.
type added struct {
	commit string
	order  int
}

// firstCommits walks the history oldest first and returns, for each blob
// of found, the first commit whose diff adds it, from the raw diffs of the
// commits touching the paths the blobs were found at. Merge commits are
// walked too (--diff-merges=first-parent), so a key that a merge brought
// in is attributed to it.
func (g gitRunner) firstCommits(ctx context.Context, prefix string, found map[string][]Literal) (map[string]added, error) {
	out := map[string]added{}
	args := []string{"log", "--all", "--reverse", "--date-order", "--raw", "--no-abbrev", "--no-renames", "--diff-merges=first-parent", "--format=commit %H"}
	if prefix != "" {
		args = append(args, "--", ".") // git runs in the scanned directory
	}
	err := g.stream(ctx, nil, func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		commit, order := "", -1
		for sc.Scan() {
			line := sc.Text()
			if c, ok := strings.CutPrefix(line, "commit "); ok {
				commit, order = c, order+1
				continue
			}
			if !strings.HasPrefix(line, ":") {
				continue
			}
			// :100644 100644 <old> <new> M\tpath
			meta, _, _ := strings.Cut(line, "\t")
			f := strings.Fields(meta)
			if len(f) < 5 {
				continue
			}
			if _, want := found[f[3]]; want {
				if _, seen := out[f[3]]; !seen {
					out[f[3]] = added{commit: commit, order: order}
				}
			}
		}
		return sc.Err()
	}, args...)
	return out, err
}

// headBlobs returns the blob ids of HEAD's tree; none for a repository
// without commits or a HEAD.
func (g gitRunner) headBlobs(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	if _, err := g.output(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{tree}"); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return out, nil
	}
	err := g.stream(ctx, nil, func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			// <mode> blob <id>\t<path>
			meta, _, _ := strings.Cut(sc.Text(), "\t")
			if f := strings.Fields(meta); len(f) == 3 && f[1] == "blob" {
				out[f[2]] = true
			}
		}
		return sc.Err()
	}, "ls-tree", "-r", "--full-tree", "HEAD")
	return out, err
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
