package cookiestore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/cookiestore"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/memstore"
)

// newRevokingStore returns a store whose revocations are kept in a
// memstore, both on the clock now.
func newRevokingStore(t testing.TB, now func() time.Time) *cookiestore.Store {
	t.Helper()
	revs, err := memstore.New(memstore.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { revs.Close() })
	return newStore(t, testKeys(t, "k1"), cookiestore.Options{Revocations: cookiestore.StoreRevocations(revs), Now: now})
}

// newFrozenRevokingStore returns a store whose revocations are kept in a
// memstore, both with a clock that stands still at t0.
func newFrozenRevokingStore(t testing.TB) *cookiestore.Store {
	t.Helper()
	return newRevokingStore(t, func() time.Time { return t0 })
}

// wantRefused opens value at now and checks the refusal: "" for a live
// session.
func wantRefused(t *testing.T, s *cookiestore.Store, what, value string, now time.Time, want driver.Reason) {
	t.Helper()
	o, err := s.Open(context.Background(), cookieName, value, now)
	if o.Refused != want || err != nil {
		t.Errorf("%s: Open = refused %q, %v; want %q", what, o.Refused, err, want)
	}
}

// recordingRevocations is a FuncRevocations that records its calls.
type recordingRevocations struct {
	mu      sync.Mutex
	calls   []string
	reasons map[driver.Hash]driver.Reason // what Revoked answers
}

func (r *recordingRevocations) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recordingRevocations) funcs() cookiestore.FuncRevocations {
	return cookiestore.FuncRevocations{
		RevokeFunc: func(_ context.Context, id driver.Hash, until time.Time) error {
			r.add("Revoke %s until %s", id.Handle(), until.Format(time.RFC3339Nano))
			return nil
		},
		RenewedFunc: func(_ context.Context, from, to driver.Hash, until time.Time) error {
			r.add("Renewed %s to %s until %s", from.Handle(), to.Handle(), until.Format(time.RFC3339Nano))
			return nil
		},
		RevokedFunc: func(_ context.Context, id driver.Hash) (driver.Reason, error) {
			r.add("Revoked %s", id.Handle())
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.reasons[id], nil
		},
		RevokeUserFunc: func(_ context.Context, user string, at time.Time) error {
			r.add("RevokeUser %s at %s", user, at.Format(time.RFC3339Nano))
			return nil
		},
		NotBeforeFunc: func(_ context.Context, user string) (time.Time, error) {
			r.add("NotBefore %s", user)
			return time.Time{}, nil
		},
	}
}

func (r *recordingRevocations) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func TestRevokeArguments(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	without := newStore(t, testKeys(t, "k1"), cookiestore.Options{})
	rec := &recordingRevocations{}
	with := newStore(t, testKeys(t, "k1"), cookiestore.Options{Now: func() time.Time { return t0 }, Revocations: rec.funcs()})
	id, to := hashOf("x"), hashOf("y")
	tests := []struct {
		name    string
		call    func() error
		wantErr error  // nil: no error
		errText string // for an error that matches no sentinel
	}{
		{"Revoke without revocations", func() error { return without.Revoke(ctx, id, t0) }, driver.ErrNotSupported, ""},
		{"RevokeUser without revocations", func() error { return without.RevokeUser(ctx, "alice") }, driver.ErrNotSupported, ""},
		{"Renewed without revocations", func() error { return without.Renewed(ctx, id, to, t0) }, driver.ErrNotSupported, ""},
		{"Renewed cancelled", func() error { return with.Renewed(cancelled, id, to, t0) }, context.Canceled, ""},
		{"Renewed from the zero hash", func() error { return with.Renewed(ctx, driver.Hash{}, to, t0) }, nil, "zero session hash"},
		{"Renewed to the zero hash", func() error { return with.Renewed(ctx, id, driver.Hash{}, t0) }, nil, "zero session hash"},
		{"Renewed into itself", func() error { return with.Renewed(ctx, id, id, t0) }, nil, "renewed into itself"},
		{"Renewed", func() error { return with.Renewed(ctx, id, to, t0.Add(time.Hour)) }, nil, ""},
		{"Revoke cancelled", func() error { return with.Revoke(cancelled, id, t0) }, context.Canceled, ""},
		{"RevokeUser cancelled", func() error { return with.RevokeUser(cancelled, "alice") }, context.Canceled, ""},
		{"Revoke of the zero hash", func() error { return with.Revoke(ctx, driver.Hash{}, t0) }, nil, "zero session hash"},
		{"RevokeUser of the empty user", func() error { return with.RevokeUser(ctx, "") }, nil, "empty user id"},
		{"Revoke", func() error { return with.Revoke(ctx, id, t0.Add(time.Hour)) }, nil, ""},
		{"Revoke of a session already expired", func() error { return with.Revoke(ctx, id, t0.Add(-time.Hour)) }, nil, ""},
		{"RevokeUser", func() error { return with.RevokeUser(ctx, "alice") }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			switch {
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("err = %v; want one about %q", err, tt.errText)
				}
			case !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil):
				t.Errorf("err = %v; want %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, context.Canceled) && !strings.HasPrefix(err.Error(), "cookiestore: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// A revocation or a renewal is kept until the time given, never less
	// than now, plus a minute for clocks that disagree and late seals.
	want := []string{
		"Renewed " + id.Handle() + " to " + to.Handle() + " until " + t0.Add(time.Hour+time.Minute).Format(time.RFC3339Nano),
		"Revoke " + id.Handle() + " until " + t0.Add(time.Hour+time.Minute).Format(time.RFC3339Nano),
		"Revoke " + id.Handle() + " until " + t0.Add(time.Minute).Format(time.RFC3339Nano),
		"RevokeUser alice at " + t0.Format(time.RFC3339Nano),
	}
	if got := rec.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("revocations\n got %q\nwant %q", got, want)
	}
}

// TestOpenLookups counts the revocation lookups of each kind of cookie:
// one for an anonymous session, two for an authenticated one (a
// Stateless.Revoke names no user, so a revoked session and the user's
// not-before time are two records), one for a session revoked or renewed
// (its record answers), none for a cookie refused before.
func TestOpenLookups(t *testing.T) {
	rec := &recordingRevocations{reasons: map[driver.Hash]driver.Reason{
		hashOf("revoked"): driver.ReasonNotFound,
		hashOf("renewed"): driver.ReasonRenewed,
	}}
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{Revocations: rec.funcs()})
	alice := sampleRecord()
	anon := sampleRecord()
	anon.UserID = ""
	aliceCookie := mustSeal(t, s, hashOf("a"), alice, t0)
	anonCookie := mustSeal(t, s, hashOf("b"), anon, t0)
	revokedCookie := mustSeal(t, s, hashOf("revoked"), alice, t0)
	renewedCookie := mustSeal(t, s, hashOf("renewed"), alice, t0)
	tests := []struct {
		name  string
		value string
		at    time.Time
		want  []string
	}{
		{"authenticated", aliceCookie, t0, []string{"Revoked " + hashOf("a").Handle(), "NotBefore alice"}},
		{"anonymous", anonCookie, t0, []string{"Revoked " + hashOf("b").Handle()}},
		{"revoked", revokedCookie, t0, []string{"Revoked " + hashOf("revoked").Handle()}},
		{"renewed", renewedCookie, t0, []string{"Revoked " + hashOf("renewed").Handle()}},
		{"expired", aliceCookie, t0.Add(48 * time.Hour), nil},
		{"forged", aliceCookie[:len(aliceCookie)-4] + "AAAA", t0, nil},
		{"malformed", "k1.AAAA", t0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Open(context.Background(), cookieName, tt.value, tt.at)
			if got := rec.take(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lookups %q; want %q", got, tt.want)
			}
		})
	}
}

// TestRevokeSession: Revoke refuses every cookie of the session, and
// nothing else, until the time it was given plus a minute. The Manager
// gives the latest that any copy sealed so far could be opened (now plus
// the idle timeout, within the absolute one, plus the grace), so every
// copy sealed before the revocation is refused until it expires, and so
// is a copy that a late request seals within the minute after it. A copy
// sealed later than that outlives the revocation by the difference
// (documented).
func TestRevokeSession(t *testing.T) {
	c := newClock()
	s := newRevokingStore(t, c.Now)
	ctx := context.Background()
	rec := sampleRecord() // ExpiresAt t0+35m
	sealAt := func(id string, d time.Duration) string {
		r := *rec
		r.LastSeen = t0.Add(d) // as every commit stamps it
		return mustSeal(t, s, hashOf(id), &r, t0.Add(d))
	}
	first := sealAt("a", 0)
	second := sealAt("a", 10*time.Minute) // ExpiresAt t0+45m
	other := sealAt("b", 0)
	anon := *rec
	anon.UserID = ""
	anonCookie := mustSeal(t, s, hashOf("c"), &anon, t0)

	c.Advance(11 * time.Minute)
	until := c.Now().Add(rec.IdleTimeout + rec.Grace) // t0+46m, as the Manager computes it
	if err := s.Revoke(ctx, hashOf("a"), until); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, hashOf("c"), until); err != nil {
		t.Fatal(err)
	}
	// Requests that opened the cookie before Revoke and commit after it.
	soon := sealAt("a", 11*time.Minute+30*time.Second) // ExpiresAt t0+46m30s
	later := sealAt("a", 13*time.Minute)               // ExpiresAt t0+48m
	now := c.Now()
	wantRefused(t, s, "the copy the revocation was about", first, now, driver.ReasonNotFound)
	wantRefused(t, s, "a later copy of the same session", second, now, driver.ReasonNotFound)
	wantRefused(t, s, "a copy sealed after the revocation", soon, now, driver.ReasonNotFound)
	wantRefused(t, s, "a copy sealed two minutes after the revocation", later, now, driver.ReasonNotFound)
	wantRefused(t, s, "an anonymous session", anonCookie, now, driver.ReasonNotFound)
	wantRefused(t, s, "another session of the user", other, now, "")
	if o, _ := s.Open(ctx, cookieName, first, now); o.ID != hashOf("a") || o.Record != nil {
		t.Errorf("refused cookie: %+v; want the session's ID and no record", o)
	}

	// Every copy sealed before the revocation, or within the minute
	// after it, is refused until its own end.
	at := func(d time.Duration) time.Time {
		c.Advance(t0.Add(d).Sub(c.Now()))
		return c.Now()
	}
	wantRefused(t, s, "the latest copy sealed before, just before it expires", second, at(45*time.Minute-time.Nanosecond), driver.ReasonNotFound)
	wantRefused(t, s, "the copy sealed 30s after, just before it expires", soon, at(46*time.Minute+30*time.Second-time.Nanosecond), driver.ReasonNotFound)
	// The revocation ends at until plus a minute: the copy sealed two
	// minutes after it is accepted for its last minute.
	wantRefused(t, s, "the copy sealed two minutes after, within the minute", later, at(47*time.Minute-time.Nanosecond), driver.ReasonNotFound)
	wantRefused(t, s, "the copy sealed two minutes after, after the minute", later, at(47*time.Minute), "")
	wantRefused(t, s, "the copy sealed two minutes after, expired", later, at(48*time.Minute), driver.ReasonNotFound)
}

func TestRevocationOrdersSeals(t *testing.T) {
	// With a clock that does not move, a seal before RevokeUser is refused
	// and a seal after it accepted.
	s := newFrozenRevokingStore(t)
	ctx := context.Background()
	before := mustSeal(t, s, hashOf("a"), sampleRecord(), t0)
	if err := s.RevokeUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	after := mustSeal(t, s, hashOf("b"), sampleRecord(), t0)
	anon := sampleRecord()
	anon.UserID = ""
	anonBefore := mustSeal(t, s, hashOf("c"), anon, t0.Add(-time.Second))
	tests := []struct {
		name, value string
		want        driver.Reason
	}{
		{"sealed before", before, driver.ReasonNotFound},
		{"sealed after, same instant", after, ""},
		{"anonymous: no user to revoke", anonBefore, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRefused(t, s, tt.name, tt.value, t0, tt.want) })
	}
}

// failingStore is a driver.Store whose every call fails.
type failingStore struct{ driver.Store }

var errStoreDown = errors.New("store down")

func (failingStore) Load(context.Context, driver.Hash) (*driver.Record, error) {
	return nil, errStoreDown
}
func (failingStore) Commit(context.Context, *driver.Commit) error { return errStoreDown }

func TestStoreRevocationsUser(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	ms, err := memstore.New(memstore.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	r := cookiestore.StoreRevocations(ms)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	want := func(what, user string, w time.Time) {
		t.Helper()
		got, err := r.NotBefore(ctx, user)
		if err != nil || !got.Equal(w) {
			t.Errorf("%s: NotBefore(%q) = %v, %v; want %v", what, user, got, err, w)
		}
	}
	want("nothing recorded", "alice", time.Time{})
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first revocation", at(time.Second), at(time.Second)},
		{"a later one moves it forward", at(time.Minute + 1), at(time.Minute + 1)},
		{"an earlier one never moves it back", at(time.Second), at(time.Minute + 1)},
	}
	for _, st := range steps {
		if err := r.RevokeUser(ctx, "alice", st.at); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want(st.name, "alice", st.want)
	}
	want("another user", "bob", time.Time{})
	if err := r.RevokeUser(ctx, "", t0); err == nil {
		t.Error("RevokeUser of the empty user id succeeded")
	}
	// The record is in no user's index, so the store's DeleteUser leaves it.
	if infos, err := ms.ListUser(ctx, "alice"); err != nil || len(infos) != 0 {
		t.Errorf("ListUser = %v, %v; want nothing", infos, err)
	}
	if _, err := ms.DeleteUser(ctx, "alice", driver.Hash{}); err != nil {
		t.Fatal(err)
	}
	want("after the store's DeleteUser", "alice", at(time.Minute+1))
	// It lives as long as any session sealed before it could.
	c.Advance(cookiestore.RevocationLifetime)
	want("just before it expires", "alice", at(time.Minute+1))
	c.Advance(time.Minute + 1)
	want("after it expired", "alice", time.Time{})

	broken := cookiestore.StoreRevocations(failingStore{})
	if _, err := broken.NotBefore(ctx, "alice"); !errors.Is(err, errStoreDown) || !strings.HasPrefix(err.Error(), "cookiestore: ") {
		t.Errorf("NotBefore on a failing store: %v", err)
	}
	if err := broken.RevokeUser(ctx, "alice", t0); !errors.Is(err, errStoreDown) {
		t.Errorf("RevokeUser on a failing store: %v", err)
	}
}

// TestStoreRevocationsSession: a session's record in StoreRevocations is
// revoked or renewed, is created only if absent, never changes kind, and
// ends at its time.
func TestStoreRevocationsSession(t *testing.T) {
	ctx := context.Background()
	c := newClock() // t0
	ms, err := memstore.New(memstore.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	r := cookiestore.StoreRevocations(ms)
	a, b, x, y := hashOf("a"), hashOf("b"), hashOf("x"), hashOf("y")
	want := func(what string, id driver.Hash, w driver.Reason) {
		t.Helper()
		got, err := r.Revoked(ctx, id)
		if err != nil || got != w {
			t.Errorf("%s: Revoked(%s) = %q, %v; want %q", what, id.Handle(), got, err, w)
		}
	}
	wantRenewedTo := func(what string, err error, to driver.Hash) {
		t.Helper()
		var moved *driver.RenewedError
		if !errors.As(err, &moved) || moved.To != to {
			t.Errorf("%s: %v; want a *driver.RenewedError to %s", what, err, to.Handle())
		}
	}
	want("nothing recorded", a, "")
	steps := []struct {
		name  string
		until time.Time
	}{
		{"first revocation", t0.Add(time.Hour)},
		{"a later end extends it", t0.Add(2 * time.Hour)},
		{"an earlier end never shortens it", t0.Add(time.Minute)},
	}
	for _, st := range steps {
		if err := r.Revoke(ctx, a, st.until); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want(st.name, a, driver.ReasonNotFound)
	}
	want("another session", b, "")

	// A renewal of a revoked session fails and records nothing.
	err = r.Renewed(ctx, a, x, t0.Add(3*time.Hour))
	var moved *driver.RenewedError
	if !errors.Is(err, driver.ErrNotFound) || errors.As(err, &moved) {
		t.Errorf("Renewed of a revoked session: %v; want driver.ErrNotFound", err)
	}
	want("a revoked session after a renewal tried", a, driver.ReasonNotFound)
	want("the session a failed renewal named", x, "")

	// A renewal is recorded once: a retry of it succeeds, another renewal
	// of the same session fails, and so does a revocation, naming the
	// session it became; none changes the record.
	if err := r.Renewed(ctx, b, x, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want("renewed", b, driver.ReasonRenewed)
	want("the session it became", x, "")
	if err := r.Renewed(ctx, b, x, t0.Add(time.Hour)); err != nil {
		t.Errorf("the same renewal again: %v", err)
	}
	err = r.Renewed(ctx, b, y, t0.Add(5*time.Hour))
	wantRenewedTo("a second renewal", err, x)
	if !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("a second renewal: %v does not match driver.ErrNotFound", err)
	}
	wantRenewedTo("a revocation of a renewed session", r.Revoke(ctx, b, t0.Add(5*time.Hour)), x)
	want("renewed, after the second renewal and the revocation", b, driver.ReasonRenewed)
	want("the session the second renewal named", y, "")

	for _, call := range []struct {
		name string
		err  error
	}{
		{"Revoke of the zero hash", r.Revoke(ctx, driver.Hash{}, t0)},
		{"Renewed from the zero hash", r.Renewed(ctx, driver.Hash{}, x, t0)},
		{"Renewed to the zero hash", r.Renewed(ctx, a, driver.Hash{}, t0)},
	} {
		if call.err == nil {
			t.Errorf("%s succeeded", call.name)
		}
	}
	// The record is kept under a hash derived from the session's, never
	// under the session's own: a revocation store shared with server-side
	// sessions cannot be confused with one.
	for _, id := range []driver.Hash{a, b} {
		if _, err := ms.Load(ctx, id); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("the session hash itself is a key of the store: %v", err)
		}
	}
	// The renewal's record ends at its time (the later ends that the
	// second renewal and the revocation gave changed nothing).
	c.Advance(time.Hour - time.Nanosecond)
	want("the renewal, just before it ends", b, driver.ReasonRenewed)
	c.Advance(time.Nanosecond)
	want("the renewal, when it ends", b, "")
	c.Advance(time.Hour - time.Nanosecond)
	want("the revocation, just before it ends", a, driver.ReasonNotFound)
	c.Advance(time.Nanosecond)
	want("the revocation, when it ends", a, "")
	// Either kind is recorded afresh after the record was forgotten.
	if err := r.Revoke(ctx, a, c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want("revoked again", a, driver.ReasonNotFound)
	if err := r.Renewed(ctx, b, y, c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want("renewed again", b, driver.ReasonRenewed)

	broken := cookiestore.StoreRevocations(failingStore{})
	if _, err := broken.Revoked(ctx, a); !errors.Is(err, errStoreDown) || !strings.HasPrefix(err.Error(), "cookiestore: ") {
		t.Errorf("Revoked on a failing store: %v", err)
	}
	if err := broken.Revoke(ctx, a, t0); !errors.Is(err, errStoreDown) {
		t.Errorf("Revoke on a failing store: %v", err)
	}
	if err := broken.Renewed(ctx, a, x, t0); !errors.Is(err, errStoreDown) {
		t.Errorf("Renewed on a failing store: %v", err)
	}
}

func TestFuncRevocationsZeroValue(t *testing.T) {
	var f cookiestore.FuncRevocations
	ctx := context.Background()
	if err := f.Revoke(ctx, hashOf("a"), t0); err == nil {
		t.Error("Revoke without RevokeFunc succeeded")
	}
	if err := f.Renewed(ctx, hashOf("a"), hashOf("b"), t0); err == nil {
		t.Error("Renewed without RenewedFunc succeeded")
	}
	if _, err := f.Revoked(ctx, hashOf("a")); err == nil {
		t.Error("Revoked without RevokedFunc succeeded")
	}
	if err := f.RevokeUser(ctx, "alice", t0); err == nil {
		t.Error("RevokeUser without RevokeUserFunc succeeded")
	}
	if _, err := f.NotBefore(ctx, "alice"); err == nil {
		t.Error("NotBefore without NotBeforeFunc succeeded")
	}
}

// TestConcurrentRevocation seals and revokes from many goroutines with a
// clock that stands still: seals finished before RevokeUser are refused,
// seals begun after it are accepted, whatever ran in between.
func TestConcurrentRevocation(t *testing.T) {
	s := newFrozenRevokingStore(t)
	ctx := context.Background()
	sealMany := func(n int) []string {
		out := make([]string, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				v, err := s.Seal(ctx, cookieName, hashOf(fmt.Sprint(i)), sampleRecord(), t0)
				if err != nil {
					t.Error(err)
				}
				out[i] = v
			})
		}
		wg.Wait()
		return out
	}
	before := sealMany(20)
	var wg sync.WaitGroup
	wg.Go(func() { sealMany(20) }) // races with the revocation: either outcome is right
	wg.Go(func() {
		if err := s.RevokeUser(ctx, "alice"); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		for _, v := range before {
			s.Open(ctx, cookieName, v, t0)
		}
	})
	wg.Wait()
	after := sealMany(20)
	for i, v := range before {
		wantRefused(t, s, fmt.Sprintf("cookie %d sealed before the revocation", i), v, t0, driver.ReasonNotFound)
	}
	for i, v := range after {
		wantRefused(t, s, fmt.Sprintf("cookie %d sealed after the revocation", i), v, t0, "")
	}
}

// TestRenewedSession: after Renewed, the replaced session's cookies are
// refused as renewed (copies sealed before, and one a late request seals
// after), the renewed session's are accepted, a second renewal of the
// replaced session fails naming the first, a renewal of a revoked
// session fails as not found, and a Revoke of the replaced session ends
// the session at the end of the chain of renewals, for as long as any
// session can live.
func TestRenewedSession(t *testing.T) {
	c := newClock()
	s := newRevokingStore(t, c.Now)
	ctx := context.Background()
	anon := sampleRecord()
	anon.UserID = "" // ExpiresAt t0+35m
	remembered := sampleRecord()
	remembered.Remember = true
	remembered.IdleTimeout, remembered.AbsoluteTimeout = 30*24*time.Hour, 30*24*time.Hour
	a, x, y := hashOf("a"), hashOf("x"), hashOf("y")
	aCookie := mustSeal(t, s, a, anon, t0)
	xCookie := mustSeal(t, s, x, remembered, t0) // a login with remember-me
	yCookie := mustSeal(t, s, y, remembered, t0) // a renewal of that

	if err := s.Renewed(ctx, a, x, anon.ExpiresAt()); err != nil {
		t.Fatal(err)
	}
	late := mustSeal(t, s, a, anon, t0) // a request that opened a before the renewal
	wantRefused(t, s, "the replaced cookie", aCookie, t0, driver.ReasonRenewed)
	wantRefused(t, s, "a copy sealed after the renewal", late, t0, driver.ReasonRenewed)
	wantRefused(t, s, "the renewed cookie", xCookie, t0, "")
	if o, _ := s.Open(ctx, cookieName, aCookie, t0); o.ID != a || o.Record != nil {
		t.Errorf("replaced cookie: %+v; want the session's ID and no record", o)
	}

	// A second renewal of a fails, naming x; y's cookie stays unknown to
	// the revocations (the caller must not hand it out).
	err := s.Renewed(ctx, a, y, anon.ExpiresAt())
	var moved *driver.RenewedError
	if !errors.As(err, &moved) || moved.To != x || !errors.Is(err, driver.ErrNotFound) || !strings.HasPrefix(err.Error(), "cookiestore: ") {
		t.Errorf("second renewal: %v; want a *driver.RenewedError to %s", err, x.Handle())
	}
	wantRefused(t, s, "the replaced cookie after a second renewal", aCookie, t0, driver.ReasonRenewed)

	// A renewal of a revoked session fails as not found, and the session
	// stays revoked.
	b, z := hashOf("b"), hashOf("z")
	bCookie := mustSeal(t, s, b, anon, t0)
	if err := s.Revoke(ctx, b, anon.ExpiresAt()); err != nil {
		t.Fatal(err)
	}
	err = s.Renewed(ctx, b, z, anon.ExpiresAt())
	if !errors.Is(err, driver.ErrNotFound) || errors.As(err, &moved) || !strings.HasPrefix(err.Error(), "cookiestore: ") {
		t.Errorf("renewal of a revoked session: %v; want driver.ErrNotFound", err)
	}
	wantRefused(t, s, "the revoked cookie", bCookie, t0, driver.ReasonNotFound)

	// x is renewed into y; a logout with a's cookie ends y.
	if err := s.Renewed(ctx, x, y, remembered.ExpiresAt()); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s, "the end of the chain, before the logout", yCookie, t0, "")
	if err := s.Revoke(ctx, a, anon.ExpiresAt()); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, s, "the end of the chain", yCookie, t0, driver.ReasonNotFound)
	wantRefused(t, s, "the replaced cookie after the logout", aCookie, t0, driver.ReasonRenewed)
	wantRefused(t, s, "the middle of the chain", xCookie, t0, driver.ReasonRenewed)
	// y outlives a (a remember-me session made from an anonymous one):
	// its revocation is kept past a's end.
	c.Advance(29 * 24 * time.Hour)
	wantRefused(t, s, "the end of the chain, 29 days later", yCookie, c.Now(), driver.ReasonNotFound)
}

// TestRevokeFollowsBoundedHops: Revoke follows what Revocations.Revoke
// says a session was renewed into, at most 1,024 times, and refuses an
// answer that names no session or the same one.
func TestRevokeFollowsBoundedHops(t *testing.T) {
	ctx := context.Background()
	var calls int
	var answer func(id driver.Hash) error
	funcs := (&recordingRevocations{}).funcs()
	funcs.RevokeFunc = func(_ context.Context, id driver.Hash, _ time.Time) error {
		calls++
		return answer(id)
	}
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{Now: func() time.Time { return t0 }, Revocations: funcs})
	tests := []struct {
		name      string
		answer    func(id driver.Hash) error
		wantCalls int
		errText   string // "" for success
	}{
		{"a chain of 1,024 renewals", func(id driver.Hash) error {
			if calls <= 1024 {
				return &driver.RenewedError{To: hashOf(fmt.Sprint(calls))}
			}
			return nil
		}, 1025, ""},
		{"a chain that never ends", func(id driver.Hash) error { return &driver.RenewedError{To: hashOf(fmt.Sprint(calls))} }, 1025, "renewed more than 1024 times"},
		{"renewed into itself", func(id driver.Hash) error { return &driver.RenewedError{To: id} }, 1, "was renewed into"},
		{"renewed into nothing", func(id driver.Hash) error { return &driver.RenewedError{} }, 1, "was renewed into"},
		{"a failure", func(id driver.Hash) error { return errStoreDown }, 1, "store down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, answer = 0, tt.answer
			err := s.Revoke(ctx, hashOf("a"), t0)
			if calls != tt.wantCalls {
				t.Errorf("%d calls of RevokeFunc; want %d", calls, tt.wantCalls)
			}
			switch {
			case tt.errText == "" && err != nil:
				t.Errorf("Revoke: %v", err)
			case tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText) || !strings.HasPrefix(err.Error(), "cookiestore: ")):
				t.Errorf("Revoke: %v; want an error about %q", err, tt.errText)
			}
		})
	}
}

// TestRevokedReasons: Open refuses with the reason Revocations.Revoked
// gives, and fails (503 from the Manager) on a reason Revoked must not
// give.
func TestRevokedReasons(t *testing.T) {
	rec := &recordingRevocations{reasons: map[driver.Hash]driver.Reason{
		hashOf("revoked"): driver.ReasonNotFound,
		hashOf("renewed"): driver.ReasonRenewed,
		hashOf("odd"):     driver.ReasonBadMAC,
	}}
	s := newStore(t, testKeys(t, "k1"), cookiestore.Options{Revocations: rec.funcs()})
	for id, want := range map[string]driver.Reason{"revoked": driver.ReasonNotFound, "renewed": driver.ReasonRenewed, "live": ""} {
		wantRefused(t, s, id, mustSeal(t, s, hashOf(id), sampleRecord(), t0), t0, want)
	}
	o, err := s.Open(context.Background(), cookieName, mustSeal(t, s, hashOf("odd"), sampleRecord(), t0), t0)
	if err == nil || o.Record != nil || !strings.Contains(err.Error(), "Revocations.Revoked gave") {
		t.Errorf("Open with an odd reason: %+v, %v; want an error", o, err)
	}
}
