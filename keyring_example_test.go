package latch_test

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/latchsec/latch"
)

// A staged key verifies at once and signs from its activation time; the
// key it replaces signs until then and verifies until its retirement.
func ExampleKeyring_SigningKey() {
	entry := func(id, attrs string) string {
		return id + ":" + base64.RawURLEncoding.EncodeToString(latch.GenerateKey()) + attrs
	}
	text := entry("new", " activate=2026-12-04T22:00:00Z") + "\n" +
		entry("old", " retire=2027-01-04T22:00:00Z")
	now := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	keys, err := latch.ParseKeysAt(now, text)
	if err != nil {
		panic(err)
	}
	for _, at := range []time.Time{now, now.Add(time.Hour), now.AddDate(0, 1, 0).Add(time.Hour)} {
		k, _ := keys.SigningKey(at)
		fmt.Println(at.Format(time.RFC3339), "signs:", k.ID)
	}
	fmt.Println(keys) // ids and times, never a secret
	// Output:
	// 2026-12-04T21:00:00Z signs: old
	// 2026-12-04T22:00:00Z signs: new
	// 2027-01-04T22:00:00Z signs: new
	// latch.Keyring[new activate=2026-12-04T22:00:00Z, old retire=2027-01-04T22:00:00Z]
}

// Printing a Key never shows its secret; SecretEntry is the keyring line,
// secret included, for a keyring file.
func ExampleKey_String() {
	k := latch.Key{ID: "k1", Secret: latch.GenerateKey(), Retire: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	fmt.Println(k)
	fmt.Printf("%+v\n", struct{ Key latch.Key }{k})
	fmt.Println(len(k.SecretEntry()) == len("k1:")+43+len(" retire=2027-01-01T00:00:00Z"))
	// Output:
	// latch.Key[k1 retire=2027-01-01T00:00:00Z]
	// {Key:latch.Key[k1 retire=2027-01-01T00:00:00Z]}
	// true
}
