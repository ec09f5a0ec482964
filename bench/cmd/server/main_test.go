package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// lineWriter hands each line that run prints to the test.
type lineWriter struct{ lines chan string }

func (w lineWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		w.lines <- sc.Text()
	}
	return len(p), nil
}

func TestServe(t *testing.T) {
	for _, lib := range []string{"bare", "latch-mem", "latch-bolt", "scs-mem", "gorilla-cookie", "latch-cookie"} {
		t.Run(lib, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			out := lineWriter{make(chan string, 4)}
			var errOut bytes.Buffer
			done := make(chan int)
			dir := t.TempDir()
			go func() {
				done <- run(ctx, []string{"-lib", lib, "-addr", "127.0.0.1:0", "-dir", dir}, out, &errOut)
			}()
			var base string
			select {
			case line := <-out.lines:
				var ok bool
				if base, ok = strings.CutPrefix(line, "listening on "); !ok {
					t.Fatalf("first line %q", line)
				}
			case code := <-done:
				t.Fatalf("exit %d before listening: %s", code, errOut.String())
			case <-time.After(10 * time.Second):
				t.Fatal("server did not start")
			}

			resp, err := http.Post(base+"/login", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			req, _ := http.NewRequest(http.MethodGet, base+"/read", nil)
			for _, c := range resp.Cookies() {
				req.AddCookie(c)
			}
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "dark" {
				t.Errorf("GET /read after login: %d %q; want 200 \"dark\"", resp.StatusCode, body)
			}

			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d after shutdown: %s", code, errOut.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("server did not stop")
			}
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no lib", nil},
		{"unknown lib", []string{"-lib", "nosuch", "-addr", "127.0.0.1:0"}},
		{"stray argument", []string{"-lib", "bare", "extra"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errOut); code != 2 {
				t.Errorf("exit %d; want 2 (stderr %q)", code, errOut.String())
			}
		})
	}
}
