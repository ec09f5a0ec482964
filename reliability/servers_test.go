package reliability

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback port in [lo, hi] that nothing listens on.
func freePort(t *testing.T, lo, hi int) int {
	t.Helper()
	for p := lo; p <= hi; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatalf("no free loopback port in %d-%d", lo, hi)
	return 0
}

// faultServer is a database server the test can stop and start again on
// the same address and data directory.
type faultServer interface {
	// URL is what the store opens.
	URL() string
	// Stop stops the server and returns once it no longer accepts
	// connections.
	Stop(t *testing.T)
	// Start starts it again on the same port and data, and returns once it
	// answers.
	Start(t *testing.T)
}

// redisServer is a redis-server of our own: loopback only, appendonly with
// an fsync on every write, no RDB snapshots, data in a temporary directory.
// Stop kills it with SIGKILL, so only what it had fsynced survives.
type redisServer struct {
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		ciRequired(t, "redis-server not found")
	}
	s := &redisServer{bin: bin, dir: t.TempDir(), port: freePort(t, 17840, 17869)}
	s.Start(t)
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

func (s *redisServer) URL() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0?dial_timeout=2s&read_timeout=2s&write_timeout=2s", s.port)
}

func (s *redisServer) Start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--dir", s.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !redisPing(s.port) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			t.Fatalf("redis-server on port %d does not answer PING after 15s; log:\n%s", s.port, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *redisServer) Stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill redis-server: %v", err)
	}
	s.cmd.Wait() // "signal: killed"
	s.cmd = nil
}

// redisPing reports whether a Redis server on the port answers PING with
// PONG (a server still loading its AOF answers -LOADING).
func redisPing(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// pgServer is a PostgreSQL of our own, run by ../pgstore/testserver.sh in a
// temporary directory on a fixed free port. Stop is pg_ctl stop -m fast:
// clients are disconnected at once, open transactions are rolled back and
// committed ones are flushed (the test server runs with
// synchronous_commit=off, which only a clean shutdown makes durable).
type pgServer struct {
	script string
	dir    string
	port   int
	url    string
}

func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "pgstore", "testserver.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("pgstore/testserver.sh: %v", err)
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		if _, err := exec.LookPath("initdb"); err != nil {
			ciRequired(t, "PostgreSQL server binaries (initdb, pg_ctl) not found")
		}
	}
	// The server runs as the postgres user, which must reach the
	// directory: t.TempDir's parent is private to root.
	dir, err := os.MkdirTemp("", "latch-reliability-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgServer{script: script, dir: dir, port: freePort(t, 17870, 17899)}
	t.Cleanup(func() {
		s.run("stop")
		os.RemoveAll(dir)
	})
	s.Start(t)
	return s
}

func (s *pgServer) run(op string) (string, error) {
	cmd := exec.Command("sh", s.script, op, s.dir)
	cmd.Env = append(os.Environ(), "PGSTORE_TEST_PORT="+strconv.Itoa(s.port))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testserver.sh %s: %w\n%s", op, err, errb.String())
	}
	return out.String(), nil
}

func (s *pgServer) URL() string { return s.url }

func (s *pgServer) Start(t *testing.T) {
	t.Helper()
	out, err := s.run("start")
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "no PostgreSQL") {
			ciRequired(t, "cannot run PostgreSQL: %v", err)
		}
		t.Fatal(err)
	}
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export LATCH_TEST_POSTGRES_URL="); ok {
			s.url = strings.Trim(v, "'")
		}
	}
	if s.url == "" {
		t.Fatalf("testserver.sh start printed no URL: %q", out)
	}
}

func (s *pgServer) Stop(t *testing.T) {
	t.Helper()
	if _, err := s.run("stop"); err != nil {
		t.Fatal(err)
	}
	// pg_ctl -w returns once the postmaster is gone.
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), time.Second); err == nil {
		c.Close()
		t.Fatalf("PostgreSQL still accepts connections on port %d after stop", s.port)
	}
}
