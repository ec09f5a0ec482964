package review

import (
	"bytes"
	"testing"
)

// FuzzSecretLiterals feeds arbitrary source to the parser and evaluator:
// they never panic, every literal found lies on a line of the source, and
// the answer is the same twice.
func FuzzSecretLiterals(f *testing.F) {
	for _, s := range []string{
		"SECRET_KEY = 'changeme'\n",
		"import os\nSECRET_KEY = os.environ.get('SECRET_KEY', 'dev')\n",
		"class Config:\n    SECRET_KEY = os.getenv('K') or 'x'\nclass Prod(Config):\n    pass\n",
		"app.config.update(SECRET_KEY=b'\\xec\\x00' 'ab')\n",
		"if DEBUG:\n    SECRET_KEY = 'a'\nelif X:\n    SECRET_KEY = f'{b}'\nelse:\n    SECRET_KEY = config('K', default='c')\n",
		"def f(n, d='z'):\n    return os.environ.get(n, d)\nSECRET_KEY = f('K')\n",
		"SECRET_KEY = getattr(configuration, 'SECRET_KEY', 'y') if A else env('K', default='w')\n",
		"try:\n    from .local import *\nexcept ImportError:\n    SECRET_KEY = '''t\n'''\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lits, err := SecretLiterals("x.py", src)
		if err != nil {
			return
		}
		// Lines as Python counts them: "\r\n", "\r" and "\n" each end one.
		lines := bytes.Count(src, []byte("\n")) + bytes.Count(src, []byte("\r")) - bytes.Count(src, []byte("\r\n")) + 1
		for _, l := range lits {
			if l.Line < 1 || l.Line > lines {
				t.Fatalf("literal on line %d of a %d-line source", l.Line, lines)
			}
			if l.Value == "" {
				t.Fatal("an empty literal was reported")
			}
		}
		again, err := SecretLiterals("x.py", src)
		if err != nil || len(again) != len(lits) {
			t.Fatalf("second run: %d literals, %v; first %d", len(again), err, len(lits))
		}
	})
}
