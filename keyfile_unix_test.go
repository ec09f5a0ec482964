//go:build unix

package latch_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchsec/latch"
)

// A keyring path that names a FIFO (a named pipe no one writes to) is
// refused as not a regular file; opening it must not block, which would
// hang New, and a reload while holding the lock that ReloadKeys (a SIGHUP)
// and Close wait for.
func TestKeyFileFIFODoesNotBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.keys")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	readers := []struct {
		name string
		read func() error
	}{
		{"LoadKeysFile", func() error { _, err := latch.LoadKeysFile(path); return err }},
		{"FileKeys", func() error { _, err := latch.FileKeys(path).ReadKeys(context.Background()); return err }},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- r.read() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Fatalf("error %v; want not a regular file", err)
				}
			case <-time.After(10 * time.Second): // a guard against a hang, not a timing
				t.Fatal("reading a FIFO blocked")
			}
		})
	}
}
