package review

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Limits bound what a review reads, so a hostile or huge tree cannot
// exhaust time or memory.
type Limits struct {
	MaxFileSize int64 // bytes; larger files are skipped with a note
	MaxFiles    int   // Python files indexed; the walk stops after this many
	MaxTotal    int64 // bytes of Python source parsed in all
}

// DefaultLimits are the limits of `latch review`.
var DefaultLimits = Limits{MaxFileSize: 2 << 20, MaxFiles: 50_000, MaxTotal: 256 << 20}

// skipDirs are directory names never entered: virtual environments,
// installed packages, caches, version control, front-end dependencies and
// Django migrations (which hold no settings or views).
var skipDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, "node_modules": true, "site-packages": true, "dist-packages": true,
	"venv": true, ".venv": true, "virtualenv": true, ".virtualenv": true, ".tox": true, ".nox": true,
	"__pycache__": true, ".mypy_cache": true, ".pytest_cache": true, ".ruff_cache": true, ".eggs": true,
	"migrations": true, "bower_components": true, ".idea": true, ".vscode": true,
}

// module is one Python module of the project, evaluated on first use.
type module struct {
	name  string // dotted, from the project root
	path  string // slash-separated, relative to the root
	file  *pyFile
	sc    *scope
	state int // 0 not loaded, 1 evaluating (an import cycle sees the partial scope), 2 done
}

// project is the tree under review.
type project struct {
	root        string              // absolute, symlinks resolved
	files       []string            // Python files, slash-separated relative paths, sorted
	byDotted    map[string][]string // dotted module name -> paths
	envFiles    []string            // .env.example-style files (hints only)
	deploys     []string            // Dockerfile, Procfile, compose files, .env: a deployment's environment
	dotenvs     []string            // .env, .flaskenv, .env.production: environment files shipped with the code
	others      []string            // .cfg files (Flask's from_pyfile reads them as Python)
	manifests   []string            // requirements*.txt, Pipfile, pyproject.toml: pinned versions
	mods        map[string]*module
	notes       []string // files skipped or unparsed, and why
	parsed      int64    // bytes parsed so far
	lim         Limits
	depth       int
	calls       int               // calls into project functions being evaluated
	envDefaults map[string]*Value // values os.environ.setdefault gives variables
	callsMade   int               // calls into project functions followed so far
	inis        []string          // .ini files the project ships (configparser defaults)
	srcs        map[string][]byte // files read, by path (nil: unreadable)
	errs        map[string]string // why a module could not be read, by path
}

// Note records something the review skipped or could not read.
func (p *project) note(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	for _, n := range p.notes {
		if n == msg {
			return
		}
	}
	if len(p.notes) < 200 {
		p.notes = append(p.notes, msg)
	}
}

// openProject indexes the Python files under root without reading them.
func openProject(root string, lim Limits) (*project, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	p := &project{root: real, byDotted: map[string][]string{}, mods: map[string]*module{}, lim: lim, srcs: map[string][]byte{}}
	if !st.IsDir() {
		if !strings.HasSuffix(real, ".py") {
			return nil, fmt.Errorf("%s is neither a directory nor a Python file", root)
		}
		p.root = filepath.Dir(real)
		p.addFile(filepath.Base(real))
		return p, nil
	}
	stop := errors.New("stop")
	err = filepath.WalkDir(real, func(full string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(real, full)
		rel = filepath.ToSlash(rel)
		if err != nil {
			p.note("%s: %v", rel, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if full != real && (skipDirs[name] || isVirtualenv(full)) {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Never followed out of the tree, and never into a directory
			// (a loop); a link to a file inside the tree is read as that
			// file.
			target, err := filepath.EvalSymlinks(full)
			if err != nil {
				p.note("%s: broken or looping symbolic link, skipped", rel)
				return nil
			}
			if !within(real, target) {
				p.note("%s: symbolic link out of the project, not followed", rel)
				return nil
			}
			if ts, err := os.Stat(target); err != nil || !ts.Mode().IsRegular() {
				p.note("%s: symbolic link to a directory or special file, not followed", rel)
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		switch {
		case strings.HasSuffix(name, ".py"):
			if len(p.files) >= lim.MaxFiles {
				p.note("more than %d Python files: the rest were not read", lim.MaxFiles)
				return stop
			}
			p.addFile(rel)
		case isManifest(name) || strings.Contains(rel, "requirements/") && strings.HasSuffix(name, ".txt"):
			p.manifests = append(p.manifests, rel)
		case strings.HasSuffix(name, ".ini"):
			p.inis = append(p.inis, rel)
		case strings.HasSuffix(name, ".cfg"):
			p.others = append(p.others, rel)
		case isEnvExample(name):
			p.envFiles = append(p.envFiles, rel)
		case isDotenv(name):
			p.dotenvs = append(p.dotenvs, rel)
			if isDeployFile(name) {
				p.deploys = append(p.deploys, rel)
			}
		case isDeployFile(name):
			p.deploys = append(p.deploys, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, err
	}
	sort.Strings(p.files)
	return p, nil
}

func (p *project) addFile(rel string) {
	p.files = append(p.files, rel)
	d := dottedPath(rel)
	p.byDotted[d] = append(p.byDotted[d], rel)
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	r, err := filepath.Rel(root, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

// isVirtualenv reports whether dir is a virtual environment (it has
// pyvenv.cfg), whatever its name.
func isVirtualenv(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "pyvenv.cfg"))
	return err == nil
}

// isDotenv reports whether name is an environment file that is not an
// example: .env, .flaskenv, .env.production, prod.env.
func isDotenv(name string) bool {
	n := strings.ToLower(name)
	return n == ".env" || n == ".flaskenv" || strings.HasPrefix(n, ".env.") || strings.HasSuffix(n, ".env") && n != "venv"
}

// isDeployFile reports whether name may set a deployment's environment:
// a Dockerfile, a Procfile, a compose file, a platform manifest or a .env,
// unless its name says development or tests (docker-compose.local.yml,
// Dockerfile.dev).
func isDeployFile(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"local", "dev", "test", "example", "sample", "template"} {
		if strings.Contains(n, w) {
			return false
		}
	}
	switch n {
	case "procfile", ".env", "app.yaml", "app.yml", "app.json", "fly.toml", "render.yaml", "heroku.yml":
		return true
	}
	return strings.HasPrefix(n, "dockerfile") || strings.HasSuffix(n, ".dockerfile") || strings.HasPrefix(n, "procfile") ||
		(strings.HasPrefix(n, "docker-compose") || strings.HasPrefix(n, "compose")) && (strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml"))
}

// isManifest reports whether name lists a project's dependencies.
func isManifest(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "requirements") && (strings.HasSuffix(n, ".txt") || strings.HasSuffix(n, ".in")) ||
		n == "pipfile" || n == "pipfile.lock" || n == "pyproject.toml" || n == "setup.cfg" || n == "poetry.lock"
}

// isEnvExample reports whether name is an example environment file:
// .env.example, .env.sample, .env.template, env.example, example.env, ...
func isEnvExample(name string) bool {
	n := strings.ToLower(name)
	if !strings.Contains(n, "env") {
		return false
	}
	for _, w := range []string{"example", "sample", "template", "dist", "default"} {
		if strings.Contains(n, w) && (strings.HasPrefix(n, ".env") || strings.HasPrefix(n, "env") || strings.HasSuffix(n, ".env")) {
			return true
		}
	}
	return false
}

// dottedPath turns "pkg/sub/mod.py" into "pkg.sub.mod" and
// "pkg/__init__.py" into "pkg".
func dottedPath(rel string) string {
	rel = strings.TrimSuffix(rel, ".py")
	rel = strings.TrimSuffix(rel, "/__init__")
	if rel == "__init__" {
		return ""
	}
	return strings.ReplaceAll(rel, "/", ".")
}

// source returns a file's bytes, read once; nil (with a note) when it
// cannot be read.
func (p *project) source(rel string) []byte {
	if b, ok := p.srcs[rel]; ok {
		return b
	}
	b, err := p.readFile(rel)
	if err != nil {
		p.note("%s: skipped: %v", rel, err)
		b = nil
	}
	if p.srcs != nil {
		p.srcs[rel] = b
	}
	return b
}

// read returns a file's bytes, or why it cannot be read.
func (p *project) read(rel string) ([]byte, error) {
	if b, ok := p.srcs[rel]; ok {
		if b == nil {
			return nil, errors.New("unreadable")
		}
		return b, nil
	}
	b, err := p.readFile(rel)
	if p.srcs != nil {
		p.srcs[rel] = b
	}
	return b, err
}

// firstError is the line of the first syntax error in a tree.
func firstError(n *node) int {
	line := 0
	n.walk(func(k *node) bool {
		if line != 0 {
			return false
		}
		if k.kind == "ERROR" || k.kind == "MISSING" {
			line = k.line
			return false
		}
		return true
	})
	if line == 0 {
		line = 1
	}
	return line
}

// readFile reads one file of the project within the limits.
func (p *project) readFile(rel string) ([]byte, error) {
	full := filepath.Join(p.root, filepath.FromSlash(rel))
	target, err := filepath.EvalSymlinks(full)
	if err != nil {
		return nil, err
	}
	if !within(p.root, target) {
		return nil, errors.New("symbolic link out of the project")
	}
	// Opening a FIFO blocks: refuse anything but a regular file first.
	if st, err := os.Stat(target); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(target)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > p.lim.MaxFileSize {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", st.Size(), p.lim.MaxFileSize)
	}
	if p.parsed+st.Size() > p.lim.MaxTotal {
		return nil, fmt.Errorf("over the %d-byte limit of source read in all", p.lim.MaxTotal)
	}
	b, err := io.ReadAll(io.LimitReader(f, p.lim.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > p.lim.MaxFileSize {
		return nil, fmt.Errorf("over the %d-byte limit", p.lim.MaxFileSize)
	}
	p.parsed += int64(len(b))
	return b, nil
}

// module returns the module at rel, parsed and evaluated on first use, or
// nil when it cannot be read (with a note).
func (p *project) module(rel string) *module {
	if m, ok := p.mods[rel]; ok {
		if m.file == nil {
			return nil
		}
		return m
	}
	m := &module{name: dottedPath(rel), path: rel}
	p.mods[rel] = m
	src, err := p.read(rel)
	if err == nil {
		m.file, err = parsePython(rel, src)
	}
	if err == nil && m.file.broken {
		// Python refuses to import a file with a syntax error, so its
		// settings never apply.
		err = fmt.Errorf("syntax error at line %d", firstError(m.file.root))
		m.file = nil
	}
	if err != nil {
		p.note("%s: skipped: %v", rel, err)
		if p.errs == nil {
			p.errs = map[string]string{}
		}
		p.errs[rel] = err.Error()
		return nil
	}
	return m
}

// preparse parses the files not parsed yet, on every core: parsing is
// most of a review's time, and files parse independently. The modules are
// then stored as module would store them.
func (p *project) preparse(rels []string) {
	type job struct {
		rel string
		src []byte
		f   *pyFile
		err error
	}
	var jobs []*job
	for _, rel := range rels {
		if _, done := p.mods[rel]; done {
			continue
		}
		src, err := p.read(rel)
		jobs = append(jobs, &job{rel: rel, src: src, err: err})
	}
	if len(jobs) == 0 {
		return
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	next := make(chan *job)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				j.f, j.err = parsePython(j.rel, j.src)
			}
		}()
	}
	for _, j := range jobs {
		if j.err == nil {
			next <- j
		}
	}
	close(next)
	wg.Wait()
	for _, j := range jobs {
		m := &module{name: dottedPath(j.rel), path: j.rel, file: j.f}
		err := j.err
		if err == nil && m.file.broken {
			err = fmt.Errorf("syntax error at line %d", firstError(m.file.root))
			m.file = nil
		}
		if err != nil {
			m.file = nil
			p.note("%s: skipped: %v", j.rel, err)
			if p.errs == nil {
				p.errs = map[string]string{}
			}
			p.errs[j.rel] = err.Error()
		}
		p.mods[j.rel] = m
	}
}

// scope evaluates the module's top level once and returns its globals.
func (m *module) scope(p *project) *scope {
	if m.sc != nil {
		return m.sc
	}
	m.sc = newScope(m.file, m, nil)
	if p.depth > 64 {
		p.note("%s: imports nested too deep, not evaluated", m.path)
		return m.sc
	}
	p.depth++
	m.state = 1
	p.execBlock(m.sc, m.file.root)
	m.state = 2
	p.depth--
	return m.sc
}

// resolve finds the module an import names, from the importing file:
// dots (relative imports) count from the importer's package; an absolute
// name is matched against every module whose dotted path ends with it,
// preferring the one nearest the importer.
func (p *project) resolve(from string, dots int, name string) string {
	if dots > 0 {
		dir := path.Dir(from)
		for i := 1; i < dots; i++ {
			dir = path.Dir(dir)
		}
		rel := strings.ReplaceAll(name, ".", "/")
		base := path.Join(dir, rel)
		if dir == "." {
			base = rel
		}
		for _, c := range []string{base + ".py", base + "/__init__.py"} {
			if _, ok := p.mods[c]; ok || p.has(c) {
				return c
			}
		}
		return ""
	}
	var best string
	bestScore := -1
	cands := p.byDotted[name]
	for d, paths := range p.byDotted {
		if strings.HasSuffix(d, "."+name) {
			cands = append(cands, paths...)
		}
	}
	for _, c := range cands {
		prefix := strings.TrimSuffix(strings.TrimSuffix(c, ".py"), "/__init__")
		prefix = strings.TrimSuffix(prefix, strings.ReplaceAll(name, ".", "/"))
		score := 0
		if strings.HasPrefix(from, prefix) {
			score = 1000 + len(prefix)
		} else {
			score = 1000 - len(prefix)
		}
		if score > bestScore || score == bestScore && c < best {
			best, bestScore = c, score
		}
	}
	return best
}

func (p *project) has(rel string) bool {
	i := sort.SearchStrings(p.files, rel)
	if i < len(p.files) && p.files[i] == rel {
		return true
	}
	for _, f := range p.files { // files are sorted only after the walk
		if f == rel {
			return true
		}
	}
	return false
}

// moduleValue returns the module at rel as a value, or nil.
func (p *project) moduleValue(rel string) *Value {
	if rel == "" {
		return nil
	}
	m := p.module(rel)
	if m == nil {
		return nil
	}
	return &Value{Kind: vModule, Mod: m, File: rel, Line: 1}
}

// importStmt binds the names an import statement brings into s.
func (p *project) importStmt(s *scope, st *node) {
	f := s.file
	if st.kind == "import_statement" {
		for _, n := range st.named() {
			name, alias := n, ""
			if n.kind == "aliased_import" {
				name, alias = n.child("name"), f.text(n.child("alias"))
			}
			dn := f.text(name)
			if alias != "" {
				if v := p.moduleValue(p.resolve(f.path, 0, dn)); v != nil {
					s.vars[alias] = v
				}
				continue
			}
			top := strings.Split(dn, ".")[0]
			if v := p.moduleValue(p.resolve(f.path, 0, top)); v != nil {
				s.vars[top] = v
			}
		}
		return
	}
	modNode := st.child("module_name")
	dots, name := 0, f.text(modNode)
	if modNode != nil && modNode.kind == "relative_import" {
		name = strings.TrimLeft(name, ".")
		dots = len(f.text(modNode)) - len(name)
	}
	target := p.resolve(f.path, dots, name)
	var tm *module
	if target != "" && target != f.path {
		tm = p.module(target)
	}
	for _, k := range st.kids {
		if k.kind == "wildcard_import" {
			if tm == nil {
				continue
			}
			ms := tm.scope(p)
			for n, v := range ms.vars {
				if !strings.HasPrefix(n, "_") {
					s.vars[n] = v
					if d, ok := ms.defs[n]; ok {
						if s.defs == nil {
							s.defs = map[string]Location{}
						}
						s.defs[n] = d
					}
				}
			}
		}
		if k.field != "name" {
			continue
		}
		imported, alias := k, ""
		if k.kind == "aliased_import" {
			imported, alias = k.child("name"), f.text(k.child("alias"))
		}
		in := f.text(imported)
		if alias == "" {
			alias = in
		}
		// A submodule first (from . import settings), then a name of the
		// module.
		sub := name
		if sub != "" {
			sub += "."
		}
		if v := p.moduleValue(p.resolve(f.path, dots, sub+in)); v != nil {
			s.vars[alias] = v
			continue
		}
		if tm != nil {
			if v, ok := tm.scope(p).vars[in]; ok {
				s.vars[alias] = v
			}
		}
	}
}

// sortByLine sorts names by the line of their values.
func sortByLine(names []string, vars map[string]*Value) {
	sort.Slice(names, func(i, j int) bool {
		a, b := vars[names[i]], vars[names[j]]
		la, lb := 0, 0
		if a != nil {
			la = a.Line
		}
		if b != nil {
			lb = b.Line
		}
		if la != lb {
			return la < lb
		}
		return names[i] < names[j]
	})
}

// iniValue looks up [section] key in the .ini files the project ships, as
// configparser reads them: the value a deployment gets unless it edits
// the file. It returns nil when no file has it.
func (p *project) iniValue(section, key string) *Value {
	for _, rel := range p.inis {
		src := p.source(rel)
		cur := ""
		for i, line := range strings.Split(string(src), "\n") {
			t := strings.TrimSpace(line)
			switch {
			case t == "" || t[0] == '#' || t[0] == ';':
			case t[0] == '[' && strings.HasSuffix(t, "]"):
				cur = strings.TrimSpace(t[1 : len(t)-1])
			case cur == section:
				k, v, ok := strings.Cut(t, "=")
				if !ok {
					k, v, ok = strings.Cut(t, ":")
				}
				if ok && strings.EqualFold(strings.TrimSpace(k), key) {
					return &Value{Kind: vStr, Str: strings.TrimSpace(v), File: rel, Line: i + 1}
				}
			}
		}
	}
	return nil
}
