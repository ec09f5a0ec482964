package audit

import (
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
)

// jar is one browser's cookie store, following the storage and retrieval
// rules of RFC 6265bis (draft 20) as browsers apply them:
//
//   - a Secure cookie is stored and sent only over HTTPS (or to a loopback
//     host, which browsers count as a secure context), and a plain-HTTP
//     response cannot overwrite or shadow a Secure cookie;
//   - a cookie is sent only to paths its Path matches, and only to its
//     host (host-only) or, with a Domain attribute, to that domain and its
//     subdomains; a Domain the request host does not domain-match, a
//     Domain on an IP address other than the host itself, and a Domain of
//     one label (com) other than the host are refused;
//   - Max-Age wins over Expires, both capped at 400 days, and an expired
//     cookie is deleted;
//   - the __Secure- prefix requires Secure, and __Host- requires Secure,
//     Path=/ and no Domain (both matched case-insensitively);
//   - at most maxCookies are kept: beyond that the least recently used are
//     evicted, those without Secure first, as browsers cap cookies per
//     domain.
//
// It has no public-suffix list, so it accepts a Domain such as co.uk that
// browsers refuse; the auditor only ever sends cookies to the target's own
// host, so that changes what is kept, never where a cookie goes. Unlike
// net/http/cookiejar it keeps every cookie's Set-Cookie header as the
// server sent it (the checks judge its attributes), lets the auditor list,
// plant and remove cookies by name, refuses Secure cookies from plain
// HTTP, checks the prefixes and bounds its size. Every operation is linear
// in the cookies held (a map keyed by name, domain and path), and the
// number held is bounded, so a response with tens of thousands of
// Set-Cookie headers costs time linear in the headers.
type jar struct {
	now     func() time.Time
	entries map[cookieKey]*jarCookie
	// tick orders creation and access: a counter rather than the clock,
	// so order is exact when the clock stands still (tests).
	tick uint64
}

// maxCookies bounds the cookies one jar keeps; evictTo is what an
// eviction leaves. Chrome keeps 180 cookies per domain and purges to 150.
const (
	maxCookies = 180
	evictTo    = 150
)

// maxCookieAge caps a cookie's lifetime, as RFC 6265bis does.
const maxCookieAge = 400 * 24 * time.Hour

type cookieKey struct {
	name, domain, path string
	hostOnly           bool
}

// jarCookie is one stored cookie.
type jarCookie struct {
	cookieKey
	value      string
	secure     bool
	persistent bool
	expires    time.Time
	created    uint64
	accessed   uint64
	// stored is when the cookie's value was last stored.
	stored uint64
	// set is the Set-Cookie header that stored the cookie, nil for a
	// cookie the auditor planted.
	set *Cookie
}

func newJar(now func() time.Time) *jar {
	return &jar{now: now, entries: map[cookieKey]*jarCookie{}}
}

func (j *jar) next() uint64 {
	j.tick++
	return j.tick
}

// secureOrigin reports whether u is a secure context for cookies: HTTPS,
// or a loopback host.
func secureOrigin(u *url.URL) bool {
	return u.Scheme == "https" || isLoopback(u.Hostname())
}

// canonicalHost is u's host as cookies compare it: lower case, without a
// trailing dot.
func canonicalHost(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// domainMatch reports whether host domain-matches domain (RFC 6265bis
// 5.1.3).
func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return !isIP(host) && strings.HasSuffix(host, "."+domain)
}

// pathMatch reports whether a request for reqPath carries a cookie with
// path cookiePath (RFC 6265bis 5.1.4).
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// defaultPath is the path a cookie without a usable Path attribute gets:
// the request path up to, not including, its last "/" (RFC 6265bis 5.1.4).
func defaultPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

func requestPath(u *url.URL) string {
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// store applies one Set-Cookie header received from u. It returns "" when
// the cookie was stored (or deleted, as an expired cookie is), and else
// the reason a browser would refuse it.
func (j *jar) store(u *url.URL, ck *Cookie) (refused string) {
	host := canonicalHost(u)
	secure := secureOrigin(u)
	key := cookieKey{name: ck.Name, domain: host, hostOnly: true}

	if ck.Domain != "" {
		d := strings.TrimSuffix(ck.Domain, ".")
		switch {
		case d == host:
			key.hostOnly = false
		case !strings.Contains(d, "."):
			return fmt.Sprintf("Domain=%s is a top-level domain", ck.Domain)
		case !domainMatch(host, d):
			return fmt.Sprintf("Domain=%s does not cover the host %s", ck.Domain, host)
		default:
			key.domain, key.hostOnly = d, false
		}
	}
	if ck.Path != "" && ck.Path[0] == '/' {
		key.path = ck.Path
	} else {
		key.path = defaultPath(u)
	}
	if ck.Secure && !secure {
		return "Secure cookie set over plain HTTP"
	}
	lower := strings.ToLower(ck.Name)
	if strings.HasPrefix(lower, "__secure-") && !ck.Secure {
		return "__Secure- prefix without Secure"
	}
	if strings.HasPrefix(lower, "__host-") && (!ck.Secure || ck.Domain != "" || ck.Path != "/") {
		return "__Host- prefix without Secure, Path=/ and no Domain"
	}
	if !ck.Secure && !secure && j.shadowsSecure(key) {
		return "plain-HTTP cookie would overwrite a Secure one"
	}

	now := j.now()
	e := &jarCookie{cookieKey: key, value: ck.Value, secure: ck.Secure, set: ck}
	if d, ok := ck.Lifetime(now); ok {
		e.persistent = true
		e.expires = now.Add(min(d, maxCookieAge))
		if d <= 0 {
			delete(j.entries, key)
			return ""
		}
	}
	if old, ok := j.entries[key]; ok {
		e.created = old.created
	} else {
		e.created = j.next()
	}
	e.accessed = j.next()
	e.stored = e.accessed
	j.entries[key] = e
	if len(j.entries) > maxCookies {
		j.evict()
	}
	return ""
}

// shadowsSecure reports whether a non-Secure cookie for key would
// overwrite or shadow a stored Secure cookie of the same name (RFC 6265bis
// 5.7 step 16).
func (j *jar) shadowsSecure(key cookieKey) bool {
	for _, e := range j.entries {
		if e.secure && e.name == key.name && (domainMatch(e.domain, key.domain) || domainMatch(key.domain, e.domain)) && pathMatch(key.path, e.path) {
			return true
		}
	}
	return false
}

// evict drops expired cookies, then the least recently used ones down to
// evictTo, cookies without Secure first (as Chrome does, so a flood of
// plain cookies cannot push out a Secure session cookie).
func (j *jar) evict() {
	now := j.now()
	live := make([]*jarCookie, 0, len(j.entries))
	for k, e := range j.entries {
		if e.persistent && !now.Before(e.expires) {
			delete(j.entries, k)
			continue
		}
		live = append(live, e)
	}
	if len(live) <= maxCookies {
		return
	}
	sort.Slice(live, func(a, b int) bool {
		if live[a].secure != live[b].secure {
			return !live[a].secure
		}
		return live[a].accessed < live[b].accessed
	})
	for _, e := range live[:len(live)-evictTo] {
		delete(j.entries, e.cookieKey)
	}
}

// forRequest returns the cookies a browser sends to u, in the order it
// sends them (longer paths first, then older first), and marks them used.
func (j *jar) forRequest(u *url.URL) []*jarCookie {
	host, path, secure, now := canonicalHost(u), requestPath(u), secureOrigin(u), j.now()
	var out []*jarCookie
	for k, e := range j.entries {
		if e.persistent && !now.Before(e.expires) {
			delete(j.entries, k)
			continue
		}
		if e.hostOnly && host != e.domain || !e.hostOnly && !domainMatch(host, e.domain) {
			continue
		}
		if !pathMatch(path, e.path) || e.secure && !secure {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool {
		if len(out[a].path) != len(out[b].path) {
			return len(out[a].path) > len(out[b].path)
		}
		return out[a].created < out[b].created
	})
	t := j.next()
	for _, e := range out {
		e.accessed = t
	}
	return out
}

// header renders the Cookie header for a request to u, "" when no cookie
// goes there.
func (j *jar) header(u *url.URL) string {
	cs := j.forRequest(u)
	parts := make([]string, len(cs))
	for i, e := range cs {
		parts[i] = e.name + "=" + e.value
	}
	return strings.Join(parts, "; ")
}

// held returns the live cookies for host (whatever their path or Secure
// flag: what a browser holds for the site), oldest first.
func (j *jar) held(host string) []*jarCookie {
	now := j.now()
	var out []*jarCookie
	for _, e := range j.entries {
		if e.persistent && !now.Before(e.expires) {
			continue
		}
		if e.hostOnly && host == e.domain || !e.hostOnly && domainMatch(host, e.domain) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].created < out[b].created })
	return out
}

// plant stores a cookie the auditor makes up or replays, as the target u
// would have set it: host-only, Path=/, and Secure when u is HTTPS, so a
// planted token never travels over plain HTTP either. It replaces every
// cookie of that name the jar holds.
func (j *jar) plant(u *url.URL, name, value string) {
	j.remove(name)
	key := cookieKey{name: name, domain: canonicalHost(u), path: "/", hostOnly: true}
	t := j.next()
	j.entries[key] = &jarCookie{cookieKey: key, value: value, secure: u.Scheme == "https", created: t, accessed: t, stored: t}
	if len(j.entries) > maxCookies {
		j.evict()
	}
}

// remove deletes every cookie called name.
func (j *jar) remove(name string) {
	for k := range j.entries {
		if k.name == name {
			delete(j.entries, k)
		}
	}
}

// put stores a cookie the auditor replays, with the scope p gives it, as
// the target u would have set it: host-only unless p names a Domain,
// Path=/ unless p names one, and Secure when p is or u is HTTPS. Unlike
// plant it keeps the other cookies of that name, as a browser holds one
// per path and domain.
func (j *jar) put(u *url.URL, p cookiePair) {
	key := cookieKey{name: p.Name, domain: canonicalHost(u), path: p.Path, hostOnly: true}
	if p.Domain != "" {
		key.domain, key.hostOnly = p.Domain, false
	}
	if key.path == "" {
		key.path = "/"
	}
	t := j.next()
	j.entries[key] = &jarCookie{cookieKey: key, value: p.Value, secure: p.Secure || u.Scheme == "https", created: t, accessed: t, stored: t}
	if len(j.entries) > maxCookies {
		j.evict()
	}
}
