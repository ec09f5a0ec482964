package demo

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"unicode/utf8"
)

// pbkdf2Iterations follows OWASP's guidance for PBKDF2-HMAC-SHA256.
const pbkdf2Iterations = 600_000

// users is the demo's account table: in memory, passwords hashed with
// PBKDF2-HMAC-SHA256 and a per-user salt.
type users struct {
	mu    sync.RWMutex
	iter  int
	table map[string]account
	dummy account // compared against for unknown users, so timing does not reveal who exists
}

type account struct {
	salt []byte
	hash []byte
}

func newUsers(iter int, initial map[string]string) *users {
	u := &users{iter: iter, table: make(map[string]account)}
	for name, pw := range initial {
		u.table[name] = u.hash(pw)
	}
	u.dummy = u.hash("not a password of anyone")
	return u
}

func (u *users) hash(pw string) account {
	salt := make([]byte, 16)
	rand.Read(salt)
	h, err := pbkdf2.Key(sha256.New, pw, salt, u.iter, 32)
	if err != nil {
		panic(err) // only for invalid parameters, fixed here
	}
	return account{salt: salt, hash: h}
}

// check reports whether pw is the user's password, in time that does not
// depend on whether the user exists.
func (u *users) check(name, pw string) bool {
	u.mu.RLock()
	a, ok := u.table[name]
	u.mu.RUnlock()
	if !ok {
		a = u.dummy
	}
	h, err := pbkdf2.Key(sha256.New, pw, a.salt, u.iter, 32)
	return err == nil && subtle.ConstantTimeCompare(h, a.hash) == 1 && ok
}

var errWeakPassword = errors.New("the new password must have at least 8 characters")

func (u *users) setPassword(name, pw string) error {
	if utf8.RuneCountInString(pw) < 8 {
		return errWeakPassword
	}
	a := u.hash(pw)
	u.mu.Lock()
	u.table[name] = a
	u.mu.Unlock()
	return nil
}
