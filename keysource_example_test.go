package latch_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
)

// A keyring file that changes while the program runs: the Manager reads
// it again every second (here the program asks at once, with ReloadKeys)
// and signs with the new key once it has taken the file.
func ExampleFileKeys() {
	dir, err := os.MkdirTemp("", "keys")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "latch.keys")
	old := latch.Key{ID: "2026-11", Secret: latch.GenerateKey()}
	write := func(keys ...latch.Key) {
		text := ""
		for _, k := range keys {
			text += k.SecretEntry() + "\n"
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			log.Fatal(err)
		}
	}
	write(old)

	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := latch.New(latch.Config{
		Store:     store,
		KeySource: latch.FileKeys(path),
		Logger:    slog.New(slog.DiscardHandler),
		OnEvent: func(e latch.Event) {
			if e.Kind == latch.EventKeysReloaded {
				fmt.Println(e.Kind, e.Reason)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println("signing with", m.Keyring().Primary().ID)

	write(latch.Key{ID: "2026-12", Secret: latch.GenerateKey()}, old)
	m.ReloadKeys(context.Background()) // as on SIGHUP; else within two seconds
	// Output:
	// signing with 2026-11
	// keys-reloaded keys 2026-12, 2026-11; signing with 2026-12
}

// A keyring kept in a secrets manager: the KeySourceFunc calls its client.
// A text that fails a check is refused, and the keyring in use stays.
func ExampleKeySourceFunc() {
	secret := latch.Key{ID: "v1", Secret: latch.GenerateKey()}.SecretEntry()
	fetch := func(ctx context.Context, name string) ([]byte, error) {
		return []byte(secret), nil // stands for a secrets manager's client
	}
	store, _ := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := latch.New(latch.Config{
		Store: store,
		KeySource: latch.KeySourceFunc(func(ctx context.Context) ([]byte, error) {
			return fetch(ctx, "prod/latch-keys")
		}),
		KeyReloadInterval: -1, // only on ReloadKeys here; say 5 * time.Minute for an API
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	secret = "v2:changeme," + secret // someone pushes a weak key
	err = m.ReloadKeys(context.Background())
	fmt.Println(err != nil, m.Keyring().Primary().ID)
	// Output:
	// true v1
}
