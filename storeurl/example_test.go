package storeurl_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/storeurl"
)

// An application takes its store from one setting: SESSION_STORE holds
// "memory", "bolt:/var/lib/app/sessions.db", "redis://..." or
// "postgres://...". The error never repeats the setting, which may hold a
// password.
func Example() {
	url := os.Getenv("SESSION_STORE")
	if url == "" {
		url = "memory"
	}
	st, err := storeurl.Open(context.Background(), url, storeurl.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close() // stops the sweeper, closes the file, client or pool

	keys, _ := latch.NewKeyring(latch.Key{ID: "k1", Secret: latch.GenerateKey()}) // latch.LoadKeys() in a real program
	m, err := latch.New(latch.Config{Store: st, Keys: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println("sessions in", st.Kind)

	_, err = storeurl.Open(context.Background(), "mysql://app:hunter2@db/app", storeurl.Options{})
	fmt.Println(err)
	// Output:
	// sessions in memory
	// storeurl: unknown store kind "mysql"; use one of memory, bolt:PATH, redis://HOST:PORT/DB, rediss://..., redis+sentinel://HOST:PORT,HOST:PORT/MASTER, redis+cluster://HOST:PORT,HOST:PORT, postgres://USER@HOST:PORT/DB
}
