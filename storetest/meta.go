package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/driver"
)

// The metadata cases work field by field through reflection, so that a
// field added to driver.Meta is covered by every store's conformance run the
// day it is added: fullMeta sets it, metaDiff compares it, and a field of a
// kind the suite cannot fill fails the suite until it learns to.

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// fullMeta returns metadata of a live session with every field of
// driver.Meta set to a value of its own: no field is zero, and no two fields
// of one kind are equal, so a store that drops a field, or stores one in
// another's place, is caught. Times are recent whole milliseconds and
// timeouts whole milliseconds of several hours, so the session is live.
func fullMeta(t testing.TB, user string) driver.Meta {
	t.Helper()
	var m driver.Meta
	v := reflect.ValueOf(&m).Elem()
	n := now()
	for i := range v.NumField() {
		f, field := v.Field(i), v.Type().Field(i)
		switch {
		case field.Type == timeType:
			f.Set(reflect.ValueOf(n.Add(-time.Duration(i+1) * 13 * time.Minute)))
		case field.Type == durationType:
			f.SetInt(int64(time.Duration(i+7)*time.Hour + time.Duration(i)*time.Millisecond))
		case field.Type.Kind() == reflect.String:
			f.SetString(fmt.Sprintf("%s-%d-ü/%s", field.Name, i, globby))
		case field.Type.Kind() == reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("storetest: driver.Meta.%s is a %s, which the suite cannot fill yet: teach fullMeta and metaDiff", field.Name, field.Type)
		}
	}
	m.UserID = user
	return m
}

// metaDiff describes the fields in which got differs from want, or returns
// "". Times compare with time.Time.Equal.
func metaDiff(got, want driver.Meta) string {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	var d []string
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if gt, ok := gf.(time.Time); ok {
			if wt := wf.(time.Time); !gt.Equal(wt) {
				d = append(d, fmt.Sprintf("%s: got %s, want %s", name, gt.Format(time.RFC3339Nano), wt.Format(time.RFC3339Nano)))
			}
			continue
		}
		if gf != wf {
			d = append(d, fmt.Sprintf("%s: got %#v, want %#v", name, gf, wf))
		}
	}
	return strings.Join(d, "; ")
}

// testMetaRoundTrip: every field of driver.Meta reads back as it was
// written, from a creation, an update, a renewal and ListUser.
func testMetaRoundTrip(t *testing.T, s driver.Store) {
	user := newUser(t)
	m := fullMeta(t, user)
	id := newHash(t)
	create(t, s, id, m, map[string]any{"k": "v"})
	checkRecord(t, "after a creation", load(t, s, id), m, map[string]any{"k": "v"})

	// An update replaces every field with another value.
	m2 := fullMeta(t, user)
	v := reflect.ValueOf(&m2).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); {
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Minute + time.Millisecond)))
		case f.Type() == durationType:
			f.SetInt(f.Int() + int64(time.Second))
		case f.Kind() == reflect.String && v.Type().Field(i).Name != "UserID":
			f.SetString(f.String() + "+")
		case f.Kind() == reflect.Bool:
			f.SetBool(false)
		}
	}
	commit(t, s, &driver.Commit{ID: id, Meta: m2})
	checkRecord(t, "after an update", load(t, s, id), m2, map[string]any{"k": "v"})

	to := newHash(t)
	commit(t, s, &driver.Commit{ID: to, From: id, Create: true, Meta: m})
	checkRecord(t, "after a renewal", load(t, s, to), m, map[string]any{"k": "v"})

	infos := list(t, s, user)
	if len(infos) != 1 || infos[0].ID != to {
		t.Fatalf("ListUser(%q): got %s, want [%s]", user, infoHandles(infos), to.Handle())
	}
	if diff := metaDiff(infos[0].Meta, m); diff != "" {
		t.Errorf("ListUser: metadata differs: %s", diff)
	}
}

// testDeviceKey: the key of a device-bound session (Meta.DeviceKey, as
// latch writes it: base64url of a PKIX public key, here the length of a
// 4096-bit RSA key's) survives every operation latch uses on a bound
// session: the renewal that binds it, updates that carry it, a renewal
// that carries it (a refresh, Renew) and one that drops it (a new login),
// and ListUser; and a session without a key reads back without one.
func testDeviceKey(t *testing.T, s driver.Store) {
	user := newUser(t)
	key := strings.Repeat("MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA_-", 16)[:736]
	m := liveMeta(user, time.Minute)
	id := newHash(t)
	create(t, s, id, m, map[string]any{"k": "v"})
	checkRecord(t, "unbound session", load(t, s, id), m, map[string]any{"k": "v"})

	bound := m
	bound.DeviceKey = key
	bound.DeviceBoundAt = m.LastSeen.Add(-time.Second)
	to := newHash(t)
	commit(t, s, &driver.Commit{ID: to, From: id, Create: true, Meta: bound})
	checkRecord(t, "after the renewal that binds it", load(t, s, to), bound, map[string]any{"k": "v"})

	touched := bound
	touched.LastSeen = touched.LastSeen.Add(time.Second)
	commit(t, s, &driver.Commit{ID: to, Meta: touched, Set: map[string]any{"k2": "w"}})
	checkRecord(t, "after an update that carries it", load(t, s, to), touched, map[string]any{"k": "v", "k2": "w"})

	again := newHash(t)
	commit(t, s, &driver.Commit{ID: again, From: to, Create: true, Meta: touched})
	checkRecord(t, "after a renewal that carries it", load(t, s, again), touched, map[string]any{"k": "v", "k2": "w"})
	infos := list(t, s, user)
	if len(infos) != 1 || infos[0].ID != again || infos[0].DeviceKey != key {
		t.Fatalf("ListUser(%q): got %s, want [%s] with its device key", user, infoHandles(infos), again.Handle())
	}

	login := touched
	login.DeviceKey, login.DeviceBoundAt = "", time.Time{}
	last := newHash(t)
	commit(t, s, &driver.Commit{ID: last, From: again, Create: true, Meta: login})
	checkRecord(t, "after a renewal that drops it", load(t, s, last), login, map[string]any{"k": "v", "k2": "w"})
}
