package review

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (slash paths to contents) under a new temp dir.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// show renders a value for comparison in tests.
func show(v *Value) string {
	if v == nil {
		return "<unset>"
	}
	switch v.Kind {
	case vStr:
		if v.Bytes {
			return "b" + quote(v.Str)
		}
		return quote(v.Str)
	case vEnv:
		if v.Default == nil {
			return "env(" + v.Env + ")"
		}
		return "env(" + v.Env + ", " + show(v.Default) + ")"
	case vChoice:
		var parts []string
		for _, a := range v.Alts {
			parts = append(parts, a.Cond+" => "+show(a.V))
		}
		return "choice{" + strings.Join(parts, " | ") + "}"
	case vRandom:
		return "random(" + v.Via + ")"
	case vUnknown:
		return "?"
	}
	return v.describe()
}

func quote(s string) string { return "'" + s + "'" }

func TestEvalProject(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"proj/__init__.py":            "",
		"proj/settings/__init__.py":   "",
		"proj/settings/base.py":       "import os\nSESSION_COOKIE_AGE = 60 * 60 * 8\nDEBUG = os.environ.get('DEBUG', 'False') == 'True'\nSECRET_KEY = os.environ['SECRET_KEY']\nSECURE = False\n",
		"proj/settings/production.py": "from .base import *\nSECURE = True\nSECRET_KEY = os.environ.get('SECRET_KEY', 'dev')\n",
		"config.py": `import os
from datetime import timedelta
class Config:
    SECRET_KEY = os.getenv('SECRET_KEY') or 'hard'
    LIFETIME = timedelta(days=1, hours=2)
    SECURE = False
class ProductionConfig(Config):
    SECURE = True
class DevelopmentConfig(Config):
    pass
config = {'development': DevelopmentConfig, 'production': ProductionConfig, 'default': DevelopmentConfig}
chosen = config[os.getenv('FLASK_CONFIG') or 'default']
if os.environ.get('X'):
    FLAG = 1
else:
    FLAG = 2
try:
    from local_settings import *
except ImportError:
    LOCAL = False
TOKEN = secrets.token_urlsafe(32).encode()
CONF = {'A': 'x'}
HELD = CONF.setdefault('A', 'y')
ADDED = CONF.setdefault('K', 'dev')
NONE = CONF.setdefault('N')
if os.environ.get('X'):
    CONF.setdefault('Z', 1)
`,
		"app/__init__.py": "from config import Config, ProductionConfig\nimport proj.settings.production as prod\nfrom proj.settings import base\n",
	})
	p, err := openProject(dir, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, expr, want string
	}{
		{"proj/settings/production.py", "SESSION_COOKIE_AGE", "28800"},
		{"proj/settings/production.py", "DEBUG", "env(DEBUG, False)"},
		{"proj/settings/production.py", "SECURE", "True"},
		{"proj/settings/production.py", "SECRET_KEY", "env(SECRET_KEY, 'dev')"},
		{"proj/settings/base.py", "SECRET_KEY", "env(SECRET_KEY)"},
		{"config.py", "Config.SECRET_KEY", "env(SECRET_KEY, 'hard')"},
		{"config.py", "Config.LIFETIME", "26 hours"},
		{"config.py", "ProductionConfig.SECURE", "True"},
		{"config.py", "DevelopmentConfig.SECURE", "False"},
		{"config.py", "ProductionConfig.LIFETIME", "26 hours"},
		{"config.py", "chosen.SECURE", `choice{selected by os.getenv('FLASK_CONFIG') or 'default' = "development" => False | selected by os.getenv('FLASK_CONFIG') or 'default' = "production" => True | selected by os.getenv('FLASK_CONFIG') or 'default' = "default" (the fallback when FLASK_CONFIG is unset) => False}`},
		{"config.py", "chosen", `choice{selected by os.getenv('FLASK_CONFIG') or 'default' = "development" => class DevelopmentConfig | selected by os.getenv('FLASK_CONFIG') or 'default' = "production" => class ProductionConfig | selected by os.getenv('FLASK_CONFIG') or 'default' = "default" (the fallback when FLASK_CONFIG is unset) => class DevelopmentConfig}`},
		{"config.py", "FLAG", "choice{if os.environ.get('X') => 1 | else (not os.environ.get('X')) => 2}"},
		{"config.py", "LOCAL", "choice{try => <unset> | except ImportError => False}"},
		{"config.py", "TOKEN", "random(secrets.token_urlsafe())"},
		{"config.py", "HELD", "'x'"},
		{"config.py", "ADDED", "'dev'"},
		{"config.py", "NONE", "None"},
		{"config.py", "CONF['A']", "choice{if os.environ.get('X') => 'x' | when not os.environ.get('X') => 'x'}"},
		{"config.py", "CONF['K']", "choice{if os.environ.get('X') => 'dev' | when not os.environ.get('X') => 'dev'}"},
		{"config.py", "CONF['N']", "choice{if os.environ.get('X') => None | when not os.environ.get('X') => None}"},
		{"config.py", "CONF['Z']", "choice{if os.environ.get('X') => 1 | when not os.environ.get('X') => ?}"},
		{"app/__init__.py", "Config.SECURE", "False"},
		{"app/__init__.py", "ProductionConfig.SECURE", "True"},
		{"app/__init__.py", "prod.SECURE", "True"},
		{"app/__init__.py", "base.SECURE", "False"},
		{"config.py", "'a' 'b' + 'c'", "'abc'"},
		{"config.py", "int(os.environ.get('N', '30')) * 60", "env(N, 1800)"},
		{"config.py", "os.environ.get('S', 'false').lower() == 'true'", "env(S, False)"},
		{"config.py", "'x' if A else None", "choice{if A => 'x' | if not A => None}"},
		{"config.py", "timedelta(minutes=30)", "30 minutes"},
		{"config.py", "f'{A}'", "?"},
		{"config.py", "f'x-{\"y\"}-{3}'", "'x-y-3'"},
		{"config.py", "f'{{}}{CONF[\"A\"]}'", "?"},
		{"config.py", "f'{{}}{HELD}\\n'", "'{}x\n'"},
		{"config.py", "f'{HELD!r}'", "?"},
		{"config.py", "f'{HELD:>3}'", "?"},
		{"config.py", "f'{HELD=}'", "?"},
		{"config.py", "fb'{HELD}'", "?"},
		{"config.py", "hashlib.sha256(b'dev').hexdigest()", "'ef260e9aa3c673af240d17a2660480361a8e081d1ffeca2a5ed0e3219fc18567'"},
		{"config.py", "hashlib.sha256(b'dev').hexdigest().encode()", "b'ef260e9aa3c673af240d17a2660480361a8e081d1ffeca2a5ed0e3219fc18567'"},
		{"config.py", "hashlib.sha256('dev').hexdigest()", "?"},
		{"config.py", "hashlib.sha256(os.urandom(32)).hexdigest()", "random(os.urandom())"},
		{"config.py", "base64.b64decode('ZGV2')", "b'dev'"},
		{"config.py", "base64.b64decode('Z')", "?"},
		{"config.py", "base64.urlsafe_b64encode(b'dev')", "b'ZGV2'"},
		{"config.py", "bytes.fromhex('6465 76')", "b'dev'"},
		{"config.py", "getattr(configuration, 'SESSION_COOKIE_SECURE', False)", "env(configuration.SESSION_COOKIE_SECURE, False)"},
		{"config.py", "getattr(ProductionConfig, 'SECURE', None)", "True"},
		{"proj/settings/production.py", "'SECRET_KEY' in os.environ", "env(SECRET_KEY, False)"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.expr, func(t *testing.T) {
			m := p.module(tt.file)
			if m == nil {
				t.Fatalf("module %s not loaded: %v", tt.file, p.notes)
			}
			s := m.scope(p)
			ef, err := parsePython("expr.py", []byte(tt.expr+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			es := &scope{vars: s.vars, file: ef, mod: m}
			expr := ef.root.kids[0].kids[0]
			if got := show(p.eval(es, expr, 0)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
