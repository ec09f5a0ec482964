package flask

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"
)

// wrap is the number of seconds whose nanoseconds come back near zero in
// int64 arithmetic (2^64 ns is 18446744073.7 s): the old age check,
// time.Duration(now-ts)*time.Second, saw a cookie stamped wrap seconds
// ahead of the clock as 0.29 s in the future, and one stamped wrap-1
// seconds ahead as 0.71 s old, and accepted both. Seen from 2026, wrap
// seconds ahead is in the year 2611.
const wrap = 18446744074

// now2026 is the clock of the report that found the overflow.
var now2026 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).Unix()

// TestDecodeAgeMatchesFlask signs cookies stamped from 1970 to beyond any
// real clock, has real Flask open each one (flask/testdata/open_session.py:
// SecureCookieSessionInterface.open_session with a 31-day
// PERMANENT_SESSION_LIFETIME), and checks that Decode with the same maximum
// age and no skew accepts exactly the cookies Flask accepts. With the
// default skew Decode also accepts a cookie up to DefaultSkew ahead of its
// clock, and only those. It needs Debian's python3-flask.
func TestDecodeAgeMatchesFlask(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import flask").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-flask not installed: scripts/test must install it")
		}
		t.Skip("python3-flask not installed")
	}
	const (
		key    = "k3y-for-the-age-test"
		now    = 1700000000
		maxAge = 31 * 24 * time.Hour
	)
	lifetime := int64(maxAge / time.Second)
	cases := []struct {
		name string
		ts   int64
		now  int64
	}{
		{"signed in 1970", 1, now},
		{"one second past the limit", now - lifetime - 1, now},
		{"exactly the limit", now - lifetime, now},
		{"one second old", now - 1, now},
		{"signed now", now, now},
		{"one second ahead", now + 1, now},
		{"a minute ahead", now + 60, now},
		{"a minute and a second ahead", now + 61, now},
		{"a day ahead", now + 86400, now},
		{"year 2262, where a Duration ends", (1<<63-1)/int64(time.Second) + 1, now},
		{"wrap seconds ahead (year 2611 from 2026)", now2026 + wrap, now2026},
		{"wrap-1 seconds ahead", now2026 + wrap - 1, now2026},
		{"wrap seconds less 10 days ahead", now2026 + wrap - 10*86400, now2026},
		{"year 2611 seen from 2611", now2026 + wrap, now2026 + wrap},
		{"signed in 1970 seen from 2611", 1, now2026 + wrap},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix(), now},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), now},
		{"2^40 seconds", 1 << 40, now},
		{"2^40+1 seconds", 1<<40 + 1, now},
		{"2^63 seconds", -1 << 63, now}, // encodeTimestamp writes it as unsigned
		{"2^64-1 seconds", -1, now},
	}
	type input struct {
		Cookie string `json:"cookie"`
		Now    int64  `json:"now"`
	}
	spec := struct {
		SecretKey string  `json:"secret_key"`
		Lifetime  int64   `json:"lifetime_seconds"`
		Cases     []input `json:"cases"`
	}{SecretKey: key, Lifetime: lifetime}
	for _, c := range cases {
		spec.Cases = append(spec.Cases, input{signed(key, b64(`{"user":"alice"}`), c.ts), c.now})
	}
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/open_session.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("open_session.py: %v\n%s", err, stderr.Bytes())
	}
	var flask []string
	if err := json.Unmarshal(out, &flask); err != nil || len(flask) != len(cases) {
		t.Fatalf("open_session.py printed %q (%v); want %d results", out, err, len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			flaskAccepts := flask[i] == "accepted"
			exact := New(key)
			exact.Now, exact.Skew = fixedClock(c.now), -1
			_, err := exact.Decode(spec.Cases[i].Cookie, maxAge)
			if (err == nil) != flaskAccepts {
				t.Errorf("Flask: %s; Decode with no skew: %v", flask[i], err)
			}
			lenient := New(key)
			lenient.Now = fixedClock(c.now)
			_, err = lenient.Decode(spec.Cases[i].Cookie, maxAge)
			withinSkew := c.ts > c.now && c.ts-c.now <= int64(DefaultSkew/time.Second)
			if (err == nil) != (flaskAccepts || withinSkew) {
				t.Errorf("Flask: %s; Decode with the default skew: %v", flask[i], err)
			}
		})
	}
}
