// Command server serves the benchmark handlers of one session library over
// HTTP, for load generators such as wrk (see bench/e2e.sh).
//
// Usage:
//
//	go run ./cmd/server -lib latch-mem [-addr 127.0.0.1:17910] [-dir DIR] [-redis URL]
//
// Routes: GET /read (a page view reading one session value), POST /write
// (sets one value), POST /login (logs a user in on a new session and sends
// its cookie: a load generator logs in once and sends that cookie with
// every request). Once it listens it prints "listening on http://ADDR".
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latchsec/latch/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lib := fs.String("lib", "", "library: bare, latch-mem, latch-bolt, latch-cookie, latch-redis, scs-mem, scs-redis, gorilla-cookie")
	addr := fs.String("addr", "127.0.0.1:17910", "address to listen on (loopback)")
	dir := fs.String("dir", "", "directory for latch-bolt's database (default: a new temporary directory)")
	redisURL := fs.String("redis", os.Getenv("LATCH_TEST_REDIS_URL"), "redis:// URL for latch-redis and scs-redis")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *lib == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "server: -lib is required, and no arguments are taken")
		fs.Usage()
		return 2
	}
	if *dir == "" && *lib == bench.LatchBolt {
		d, err := os.MkdirTemp("", "latch-bench-")
		if err != nil {
			fmt.Fprintf(stderr, "server: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := serve(ctx, *lib, *addr, bench.Options{Dir: *dir, RedisURL: *redisURL}, stdout); err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		if errors.Is(err, bench.ErrUnknownLib) {
			return 2
		}
		return 1
	}
	return 0
}

func serve(ctx context.Context, lib, addr string, opts bench.Options, stdout io.Writer) error {
	l, err := bench.New(ctx, lib, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /read", l.Read)
	mux.Handle("POST /write", l.Write)
	mux.Handle("POST /login", l.Login)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
