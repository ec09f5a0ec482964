package boltstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// These tests re-execute the test binary as a second process. The child's
// role is chosen by an environment variable naming the database file.
const (
	envLockChild  = "BOLTSTORE_TEST_LOCK_CHILD"
	envCrashChild = "BOLTSTORE_TEST_CRASH_CHILD"

	crashWriters = 4 // committing goroutines in the crash child
)

// child runs the test binary again, running only the named test, with env
// added to its environment.
func child(t *testing.T, test string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// TestOpenInUseOtherProcess opens a database, then has a second process
// open the same file: it must fail with ErrInUse in about a second.
func TestOpenInUseOtherProcess(t *testing.T) {
	if path := os.Getenv(envLockChild); path != "" {
		start := time.Now()
		s, err := Open(path, Options{}) // default OpenTimeout
		if err == nil {
			s.Close()
			fmt.Println("RESULT opened")
			return
		}
		fmt.Printf("RESULT inuse=%v elapsed=%d err=%s\n", errors.Is(err, ErrInUse), time.Since(start).Milliseconds(), err)
		return
	}

	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := child(t, "TestOpenInUseOtherProcess", envLockChild+"="+path).CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var inUse bool
	var ms int64
	var msg string
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			if _, err := fmt.Sscanf(rest, "inuse=%t elapsed=%d", &inUse, &ms); err != nil {
				t.Fatalf("child said %q", rest)
			}
			_, msg, _ = strings.Cut(strings.TrimSpace(rest), "err=")
		}
	}
	if !inUse {
		t.Fatalf("child open did not fail with ErrInUse:\n%s", out)
	}
	if want := "boltstore: " + path + " is in use by another process"; msg != want {
		t.Errorf("child error %q; want %q", msg, want)
	}
	if ms < 900 || ms > 3000 {
		t.Errorf("child gave up after %dms; want about %v", ms, DefaultOpenTimeout)
	}

	// Once the first store is closed, the file can be opened again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = child(t, "TestOpenInUseOtherProcess", envLockChild+"="+path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RESULT opened") {
		t.Fatalf("child after Close: %v\n%s", err, out)
	}
}

// TestCrashDurability kills a process that commits in a loop with SIGKILL,
// then checks that every commit it acknowledged is in the file. It catches
// a Commit that returns before its transaction is written (buffering,
// asynchronous or deferred writes) and a file left unreadable by a killed
// writer. The fsync itself only matters on power loss, which a test cannot
// stage; NoSync is kept off in Open for that.
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(envCrashChild); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary; skipped in -short mode")
	}

	const killAfter = 60 // acknowledged commits before the kill
	path := filepath.Join(t.TempDir(), "s.db")
	cmd := child(t, "TestCrashDurability", envCrashChild+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		id driver.Hash
		i  int
	}
	var acked []ack
	killed := false
	sc := bufio.NewScanner(stdout)
	timeout := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer timeout.Stop()
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "ACK ")
		if !ok {
			continue
		}
		hexID, num, _ := strings.Cut(rest, " ")
		h, err := driver.ParseHash(hexID)
		var i int
		if _, serr := fmt.Sscan(num, &i); err != nil || serr != nil || h != hashOf(fmt.Sprintf("crash-%d", i)) {
			t.Fatalf("child printed %q", sc.Text())
		}
		acked = append(acked, ack{h, i})
		if len(acked) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before the kill after %d commits: %v", len(acked), err)
	}

	s, err := Open(path, Options{OpenTimeout: 5 * time.Second, SweepInterval: -1})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for n, a := range acked {
		r, err := s.Load(ctx, a.id)
		if err != nil {
			t.Fatalf("acknowledged commit %d of %d (session %d, %s) lost: %v", n+1, len(acked), a.i, a.id.Handle(), err)
		}
		if got, ok := r.Values["i"]; !ok || fmt.Sprint(got) != fmt.Sprint(a.i) {
			t.Errorf("session %d: value i = %v", a.i, got)
		}
	}
	infos, err := s.ListUser(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) < len(acked) {
		t.Errorf("user index lists %d sessions; %d were acknowledged", len(infos), len(acked))
	}
	t.Logf("%d acknowledged commits survived kill -9", len(acked))
}

// crashChild commits new sessions from several goroutines, so that group
// commit is exercised, until it is killed. Each goroutine prints the hash
// and sequence number of a session after its Commit returns.
func crashChild(path string) {
	s, err := Open(path, Options{SweepInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	now := time.Now()
	for g := range crashWriters {
		go func() {
			for i := g; ; i += crashWriters {
				id := hashOf(fmt.Sprintf("crash-%d", i))
				err := s.Commit(ctx, &driver.Commit{
					ID: id, Create: true, Meta: meta("crash", now),
					Set: map[string]any{"i": i, "pad": strings.Repeat("x", 200)},
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				// One unbuffered write per line, so lines never mix.
				fmt.Printf("ACK %s %d\n", id, i)
			}
		}()
	}
	select {}
}
