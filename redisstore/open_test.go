package redisstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
	"github.com/redis/go-redis/v9"
)

func TestParseMultiHost(t *testing.T) {
	tests := []struct {
		name                string
		scheme, rest        string
		wantHosts, wantPath []string
		wantUser, wantPass  string
		wantTLS             bool
		wantQuery           string
		wantErr             string
	}{
		{name: "OneHost", scheme: "redis+cluster", rest: "127.0.0.1:7000",
			wantHosts: []string{"127.0.0.1:7000"}},
		{name: "Hosts", scheme: "redis+sentinel", rest: "a:1,b:2,[::1]:3/mymaster/2",
			wantHosts: []string{"a:1", "b:2", "[::1]:3"}, wantPath: []string{"mymaster", "2"}},
		{name: "UserInfo", scheme: "rediss+sentinel", rest: "bob:p%40ss:w@a:1/m?sentinel_password=x",
			wantHosts: []string{"a:1"}, wantPath: []string{"m"}, wantUser: "bob", wantPass: "p@ss:w",
			wantTLS: true, wantQuery: "sentinel_password=x"},
		{name: "PasswordOnly", scheme: "redis+cluster", rest: ":secret@a:1",
			wantHosts: []string{"a:1"}, wantPass: "secret"},
		{name: "EmptyHost", scheme: "redis+cluster", rest: "a:1,,b:2", wantErr: "not host:port"},
		{name: "NoPort", scheme: "redis+cluster", rest: "a", wantErr: "not host:port"},
		{name: "BadPort", scheme: "redis+cluster", rest: "a:99999", wantErr: "bad port"},
		{name: "NoHostName", scheme: "redis+cluster", rest: ":1", wantErr: "not host:port"},
		{name: "Fragment", scheme: "redis+cluster", rest: "a:1#x", wantErr: "fragment"},
		{name: "BadEscape", scheme: "redis+cluster", rest: "u:%zz@a:1", wantErr: "malformed URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseMultiHost(tc.scheme, tc.rest)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMultiHost: %v", err)
			}
			if !reflect.DeepEqual(m.hosts, tc.wantHosts) {
				t.Errorf("hosts = %q, want %q", m.hosts, tc.wantHosts)
			}
			if !reflect.DeepEqual(m.path, tc.wantPath) {
				t.Errorf("path = %q, want %q", m.path, tc.wantPath)
			}
			if m.user != tc.wantUser || m.password != tc.wantPass {
				t.Errorf("user, password = %q, %q; want %q, %q", m.user, m.password, tc.wantUser, tc.wantPass)
			}
			if m.tls != tc.wantTLS {
				t.Errorf("tls = %v, want %v", m.tls, tc.wantTLS)
			}
			if got := m.query.Encode(); got != tc.wantQuery {
				t.Errorf("query = %q, want %q", got, tc.wantQuery)
			}
		})
	}
}

func TestNewClient(t *testing.T) {
	const secret = "hunter2-very-secret"
	tests := []struct {
		name    string
		url     string
		check   func(t *testing.T, c redis.UniversalClient)
		wantErr string
	}{
		{name: "Standalone", url: "redis://:" + secret + "@127.0.0.1:6379/3", check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Addr != "127.0.0.1:6379" || o.DB != 3 || o.Password != secret || o.TLSConfig != nil {
				t.Errorf("options: addr %q db %d tls %v", o.Addr, o.DB, o.TLSConfig != nil)
			}
		}},
		{name: "TLS", url: "rediss://127.0.0.1:6380", check: func(t *testing.T, c redis.UniversalClient) {
			if c.(*redis.Client).Options().TLSConfig == nil {
				t.Error("rediss:// without TLS")
			}
		}},
		{name: "Sentinel", url: "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster/1", check: func(t *testing.T, c redis.UniversalClient) {
			if _, ok := c.(*redis.Client); !ok {
				t.Errorf("got %T, want a failover *redis.Client", c)
			}
		}},
		{name: "Cluster", url: "rediss+cluster://u:" + secret + "@127.0.0.1:7000,127.0.0.1:7001", check: func(t *testing.T, c redis.UniversalClient) {
			cc, ok := c.(*redis.ClusterClient)
			if !ok {
				t.Fatalf("got %T, want *redis.ClusterClient", c)
			}
			o := cc.Options()
			if !reflect.DeepEqual(o.Addrs, []string{"127.0.0.1:7000", "127.0.0.1:7001"}) || o.Username != "u" ||
				o.Password != secret || o.TLSConfig == nil {
				t.Errorf("options: addrs %q user %q tls %v", o.Addrs, o.Username, o.TLSConfig != nil)
			}
		}},
		{name: "NoScheme", url: "127.0.0.1:6379", wantErr: "no scheme"},
		{name: "UnknownScheme", url: "memcache://:" + secret + "@h:1", wantErr: "unsupported URL scheme"},
		{name: "PasswordBeforeScheme", url: "redis:" + secret + "@://h:1", wantErr: "not a URL scheme"},
		{name: "BadStandaloneURL", url: "redis://:" + secret + "@h:port", wantErr: "malformed URL"},
		{name: "BadDB", url: "redis://h:1/x", wantErr: "redisstore: open:"},
		{name: "SentinelNoMaster", url: "redis+sentinel://:" + secret + "@h:1", wantErr: "mastername"},
		{name: "SentinelBadDB", url: "redis+sentinel://h:1/m/-1", wantErr: "database number"},
		{name: "SentinelUnknownOption", url: "redis+sentinel://h:1/m?db=2", wantErr: "unsupported option"},
		{name: "ClusterPath", url: "redis+cluster://h:1/0", wantErr: "no path"},
		{name: "ClusterOption", url: "redis+cluster://:" + secret + "@h:1?password=x", wantErr: "unsupported option"},
		{name: "ClusterBadHost", url: "redis+cluster://:" + secret + "@h:1,h2", wantErr: "host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newClient(tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) || !strings.HasPrefix(err.Error(), "redisstore: ") {
					t.Fatalf("error %q leaks the password or lacks the package prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("newClient: %v", err)
			}
			defer c.Close()
			tc.check(t, c)
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := Open(ctx, "redis://:pw-secret@127.0.0.1:1/0", Options{})
	if err == nil || !strings.Contains(err.Error(), "redisstore: open: ping") || strings.Contains(err.Error(), "pw-secret") {
		t.Fatalf("Open of a closed port: got %v, want a ping error without the password", err)
	}
}

// TestOpen opens each test deployment by URL and uses it.
func TestOpen(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			v := serverEnv(t, d.env)
			var u string
			switch d.name {
			case "Standalone":
				u = v
			case "Cluster":
				u = "redis+cluster://" + v
			case "Sentinel":
				master, addrs, _ := strings.Cut(v, "@")
				u = "redis+sentinel://" + addrs + "/" + master
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			prefix := randomPrefix(t)
			s, err := Open(ctx, u, Options{Prefix: prefix})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			client := s.Client()
			if _, ok := client.(*redis.ClusterClient); ok != (d.name == "Cluster") {
				t.Errorf("Open gave a %T", client)
			}
			id := hash(t)
			if err := s.Commit(ctx, &driver.Commit{ID: id, Create: true, Meta: meta("open-user", time.Now())}); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if _, err := s.Load(ctx, id); err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := s.Delete(ctx, id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Load after Delete: got %v, want ErrNotFound", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := client.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
				t.Errorf("Ping after Close: got %v, want redis.ErrClosed", err)
			}
		})
	}
}
