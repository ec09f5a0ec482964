package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/latchsec/latch/redisstore"
	"github.com/redis/go-redis/v9"
)

// Open connects by URL; the store owns the client and Close releases it.
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	store, err := redisstore.Open(ctx, "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/sessions", redisstore.Options{})
	if err != nil {
		log.Fatal(err) // the error never contains the URL's password
	}
	defer store.Close()
	// Pass store to the latch Manager.
}

// New uses a client that the application configures and closes itself.
func ExampleNew() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
	})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Options{Prefix: "shop:"})
	if err != nil {
		log.Fatal(err)
	}
	_ = store // pass it to the latch Manager
}
