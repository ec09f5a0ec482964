package review_test

import (
	"fmt"

	"github.com/latchsec/latch/cmd/latch/internal/review"
)

// SecretLiterals finds the keys a source writes down, hard-coded or as the
// fallback of an environment lookup, in every branch. A key made at random
// or read without a fallback is not a literal.
func ExampleSecretLiterals() {
	src := []byte(`import os, secrets

class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev")

class ProductionConfig(Config):
    SECRET_KEY = os.environ["SECRET_KEY"]

class TestingConfig(Config):
    SECRET_KEY = secrets.token_hex(32)

app.secret_key = b"_5#y2L" + b"F4Q8z"
`)
	lits, err := review.SecretLiterals("config.py", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range lits {
		// Never print the key itself.
		fmt.Printf("line %d: %s, %s, %d bytes\n", l.Line, l.Name, l.Kind, len(l.Value))
	}
	// Output:
	// line 4: SECRET_KEY, env-fallback, 3 bytes
	// line 12: app.secret_key, hard-coded, 11 bytes
}
