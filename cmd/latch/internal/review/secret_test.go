package review

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestSecretLiterals(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Literal
	}{
		{"module assignment", "SECRET_KEY = 'changeme'\n",
			[]Literal{{Value: "changeme", Line: 1, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"double quotes and concatenation", "x = 1\nSECRET_KEY = (\"ab\"\n  'cd' \"ef\")\n",
			[]Literal{{Value: "abcdef", Line: 2, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"plus concatenation", "PART = 'abc'\nSECRET_KEY = PART + 'def'\n",
			[]Literal{{Value: "abcdef", Line: 2, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"triple quotes", "SECRET_KEY = '''tri\nple'''\n",
			[]Literal{{Value: "tri\nple", Line: 1, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"bytes with escapes", `app.secret_key = b'_5#y2L"F4Q8z\n\xec]/'` + "\n",
			[]Literal{{Value: "_5#y2L\"F4Q8z\n\xec]/", Line: 1, Kind: HardCoded, Name: "app.secret_key"}}},
		{"str escape is a code point", `SECRET_KEY = '\xec'` + "\n",
			[]Literal{{Value: "\u00ec", Line: 1, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"raw string", `SECRET_KEY = r'a\nb'` + "\n",
			[]Literal{{Value: `a\nb`, Line: 1, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"f-string is not a literal", "SECRET_KEY = f'{PREFIX}-key'\n", nil},
		{"f-string without fields is", "SECRET_KEY = f'plain'\n",
			[]Literal{{Value: "plain", Line: 1, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"environ.get fallback", "import os\nSECRET_KEY = os.environ.get('SECRET_KEY', 'dev')\n",
			[]Literal{{Value: "dev", Line: 2, Kind: EnvFallback, Name: "SECRET_KEY", Env: "SECRET_KEY"}}},
		{"getenv fallback", "import os\nSECRET_KEY = os.getenv(\"KEY\", \"dev-key\")\n",
			[]Literal{{Value: "dev-key", Line: 2, Kind: EnvFallback, Name: "SECRET_KEY", Env: "KEY"}}},
		{"environ.get or fallback", "import os\nSECRET_KEY = os.environ.get('SECRET_KEY') or 'hard to guess string'\n",
			[]Literal{{Value: "hard to guess string", Line: 2, Kind: EnvFallback, Name: "SECRET_KEY", Env: "SECRET_KEY"}}},
		{"environ item has no fallback", "import os\nSECRET_KEY = os.environ['SECRET_KEY']\n", nil},
		{"environ.get without fallback", "import os\nSECRET_KEY = os.environ.get('SECRET_KEY')\n", nil},
		{"decouple config", "from decouple import config\nSECRET_KEY = config('SECRET_KEY', default='insecure')\n",
			[]Literal{{Value: "insecure", Line: 2, Kind: EnvFallback, Name: "SECRET_KEY", Env: "SECRET_KEY"}}},
		{"django-environ env", "import environ\nenv = environ.Env()\nSECRET_KEY = env('DJANGO_SECRET_KEY', default='django-insecure-x')\n",
			[]Literal{{Value: "django-insecure-x", Line: 3, Kind: EnvFallback, Name: "SECRET_KEY", Env: "DJANGO_SECRET_KEY"}}},
		{"env.str positional default", "SECRET_KEY = env.str('SECRET_KEY', 'fallback-key')\n",
			[]Literal{{Value: "fallback-key", Line: 1, Kind: EnvFallback, Name: "SECRET_KEY", Env: "SECRET_KEY"}}},
		{"random at start", "import secrets\nSECRET_KEY = secrets.token_hex(32)\nimport os\napp.secret_key = os.urandom(24)\n", nil},
		{"class attribute", "class Config:\n    SECRET_KEY = 'class-key'\nclass Prod(Config):\n    DEBUG = False\n",
			[]Literal{{Value: "class-key", Line: 2, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"config item", "app.config['SECRET_KEY'] = 'item-key'\n",
			[]Literal{{Value: "item-key", Line: 1, Kind: HardCoded, Name: "app.config.SECRET_KEY"}}},
		{"config.update keyword", "app.config.update(\n    DEBUG=True,\n    SECRET_KEY='kw-key',\n)\n",
			[]Literal{{Value: "kw-key", Line: 3, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"dict pair", "app.config.from_mapping({'SECRET_KEY': 'pair-key'})\n",
			[]Literal{{Value: "pair-key", Line: 1, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"inside an app factory", "def create_app():\n    key = 'local-key'\n    app.secret_key = key\n",
			[]Literal{{Value: "local-key", Line: 2, Kind: HardCoded, Name: "app.secret_key"}}},
		{"both branches", "if DEBUG:\n    SECRET_KEY = 'debug-key'\nelse:\n    SECRET_KEY = os.environ['SECRET_KEY']\n",
			[]Literal{{Value: "debug-key", Line: 2, Kind: HardCoded, Name: "SECRET_KEY"}}},
		{"conditional expression", "SECRET_KEY = 'a-key' if DEBUG else 'b-key'\n",
			[]Literal{{Value: "a-key", Line: 1, Kind: HardCoded, Name: "SECRET_KEY", Cond: "if DEBUG"},
				{Value: "b-key", Line: 1, Kind: HardCoded, Name: "SECRET_KEY", Cond: "if not DEBUG"}}},
		{"empty is left out", "SECRET_KEY = ''\n", nil},
		{"other names are not keys", "PASSWORD = 'x'\nAPI_KEY = 'y'\n", nil},
		{"syntax error elsewhere", "def broken(:\n    pass\nSECRET_KEY = 'still-found'\n",
			[]Literal{{Value: "still-found", Line: 3, Kind: HardCoded, Name: "SECRET_KEY"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SecretLiterals("x.py", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SecretLiterals:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSecretLiteralsRefusesBinary(t *testing.T) {
	for name, src := range map[string][]byte{
		"NUL bytes": []byte("SECRET_KEY = 'a'\x00\x01\x02"),
		"not UTF-8": []byte("SECRET_KEY = '\xff\xfe'"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := SecretLiterals("x.py", src); err == nil {
				t.Fatal("no error for binary input")
			}
		})
	}
}

// TestSecretLiteralsHostile feeds sources built to exhaust the parser or
// the evaluator: each must give an answer or an error, never a panic or a
// hang.
func TestSecretLiteralsHostile(t *testing.T) {
	deep := "SECRET_KEY = " + strings.Repeat("(", 50000) + "'k'" + strings.Repeat(")", 50000) + "\n"
	chain := "SECRET_KEY = 'a'" + strings.Repeat(" + 'a'", 20000) + "\n"
	names := "A0 = 'x'\n"
	for i := 1; i < 3000; i++ {
		names += fmt.Sprintf("A%d = A%d\n", i, i-1)
	}
	names += "SECRET_KEY = A2999\n"
	tests := []struct {
		name, src string
		want      int // literals found; -1: any number, as long as it ends
	}{
		// Nesting past the evaluator's depth bound is not followed.
		{"deep parentheses", deep, 0},
		{"long concatenation", chain, 0},
		{"long chain of names", names, 1},
		{"unclosed string", "SECRET_KEY = 'abc\n", 0},
		{"only garbage", strings.Repeat("@@ ][ ", 10000), 0},
		// Each line doubles the branches of X: bounded, not 2^40.
		{"choice bomb", "X = 'a-key'\n" + strings.Repeat("X = X if c else X\n", 40) + "SECRET_KEY = X\n", 0},
		{"if bomb", "X = 'a-key'\n" + strings.Repeat("if c:\n    X = X + ''\nelse:\n    X = X\n", 40) + "SECRET_KEY = X\n", -1},
		// Each function calls the next one ten times, eight deep.
		{"call bomb", callBomb(8, 10) + "SECRET_KEY = f0()\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SecretLiterals("x.py", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want >= 0 && len(got) != tt.want {
				t.Fatalf("%d literals, want %d", len(got), tt.want)
			}
		})
	}
}

// callBomb writes depth functions, each calling the next n times.
func callBomb(depth, n int) string {
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "def f%d():\n", i)
		for j := 0; j < n; j++ {
			fmt.Fprintf(&b, "    x%d = f%d()\n", j, i+1)
		}
		b.WriteString("    return 'k'\n")
	}
	fmt.Fprintf(&b, "def f%d():\n    return 'leaf'\n", depth)
	return b.String()
}
