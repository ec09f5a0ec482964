package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis deployment that rawURL names, checks that it
// answers (PING, bounded by ctx), and returns a store that owns the client:
// Close closes it. The forms are
//
//	redis://[user:password@]host:port[/db][?option=value...]
//	rediss://...                         the same over TLS
//	redis+sentinel://[user:password@]host:port[,host:port...]/master[/db][?sentinel_username=U&sentinel_password=P]
//	rediss+sentinel://...                the same over TLS
//	redis+cluster://[user:password@]host:port[,host:port...]
//	rediss+cluster://...                 the same over TLS
//
// redis:// and rediss:// accept the options of redis.ParseURL. For Sentinel
// the hosts are sentinels, master is the name they know the master by, and
// user and password authenticate to the master (sentinel_username and
// sentinel_password, if given, to the sentinels). For Cluster the hosts are
// seeds; the client discovers the other nodes. Errors never repeat the URL,
// which may hold a password.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	client, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := New(client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstore: open: ping: %w", err)
	}
	s.owned = true
	return s, nil
}

// quoted matches a quoted string in an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'`)

// validScheme reports whether s has the syntax of a URL scheme (RFC 3986:
// a letter, then letters, digits, "+", "-" and ".").
func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// newClient builds the client for rawURL without connecting.
func newClient(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("redisstore: open: malformed URL: no scheme")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss":
		if _, err := url.Parse(rawURL); err != nil {
			return nil, errors.New("redisstore: open: malformed URL")
		}
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			// go-redis quotes parts of the URL in its errors, and any part
			// may hold a secret: keep the message, drop what it quotes.
			return nil, fmt.Errorf("redisstore: open: %s", quoted.ReplaceAllString(err.Error(), `"…"`))
		}
		return redis.NewClient(o), nil
	case "redis+sentinel", "rediss+sentinel":
		u, err := parseMultiHost(scheme, rest)
		if err != nil {
			return nil, err
		}
		return newSentinelClient(u)
	case "redis+cluster", "rediss+cluster":
		u, err := parseMultiHost(scheme, rest)
		if err != nil {
			return nil, err
		}
		return newClusterClient(u)
	}
	if !validScheme(scheme) {
		// Not a scheme: the text before "://" may be a password that
		// lost its place (":pw@://host"), so it is not quoted.
		return nil, errors.New("redisstore: open: malformed URL: the text before :// is not a URL scheme (want redis://, rediss://, redis+sentinel:// or redis+cluster://)")
	}
	return nil, fmt.Errorf("redisstore: open: unsupported URL scheme %q", scheme)
}

// multiHost is a parsed URL with several hosts.
type multiHost struct {
	tls            bool
	user, password string
	hosts          []string
	path           []string // path segments
	query          url.Values
}

// parseMultiHost parses the part of a URL after "scheme://" when its
// authority holds a comma-separated list of hosts, which net/url does not
// accept.
func parseMultiHost(scheme, rest string) (*multiHost, error) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hostlist := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostlist = authority[:i+1], authority[i+1:]
	}
	// Let net/url decode the user information, path and query, with a
	// placeholder for the hosts.
	u, err := url.Parse("x://" + userinfo + "placeholder" + tail)
	if err != nil {
		return nil, errors.New("redisstore: open: malformed URL")
	}
	if u.Fragment != "" {
		return nil, errors.New("redisstore: open: malformed URL: unexpected fragment")
	}
	m := &multiHost{
		tls:   strings.HasPrefix(strings.ToLower(scheme), "rediss"),
		query: u.Query(),
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.password, _ = u.User.Password()
	}
	for _, h := range strings.Split(hostlist, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return nil, fmt.Errorf("redisstore: open: malformed URL: host %q is not host:port", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("redisstore: open: malformed URL: bad port in %q", h)
		}
		m.hosts = append(m.hosts, h)
	}
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if seg != "" {
			m.path = append(m.path, seg)
		}
	}
	return m, nil
}

func (m *multiHost) tlsConfig() *tls.Config {
	if !m.tls {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// checkQuery refuses query options other than allowed.
func (m *multiHost) checkQuery(allowed ...string) error {
	for k := range m.query {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return fmt.Errorf("redisstore: open: unsupported option %q", k)
		}
	}
	return nil
}

func newSentinelClient(m *multiHost) (redis.UniversalClient, error) {
	if err := m.checkQuery("sentinel_username", "sentinel_password"); err != nil {
		return nil, err
	}
	if len(m.path) == 0 || len(m.path) > 2 {
		return nil, errors.New("redisstore: open: sentinel URL needs /mastername or /mastername/db")
	}
	db := 0
	if len(m.path) == 2 {
		n, err := strconv.Atoi(m.path[1])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("redisstore: open: bad database number %q", m.path[1])
		}
		db = n
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       m.path[0],
		SentinelAddrs:    m.hosts,
		SentinelUsername: m.query.Get("sentinel_username"),
		SentinelPassword: m.query.Get("sentinel_password"),
		Username:         m.user,
		Password:         m.password,
		DB:               db,
		TLSConfig:        m.tlsConfig(),
	}), nil
}

func newClusterClient(m *multiHost) (redis.UniversalClient, error) {
	if err := m.checkQuery(); err != nil {
		return nil, err
	}
	if len(m.path) != 0 {
		return nil, errors.New("redisstore: open: a cluster URL has no path (Cluster has only database 0)")
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:     m.hosts,
		Username:  m.user,
		Password:  m.password,
		TLSConfig: m.tlsConfig(),
	}), nil
}
