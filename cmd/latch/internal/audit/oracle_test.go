package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBaselineClassify(t *testing.T) {
	me, _ := url.Parse("https://app.example/me")
	ex := func(status int, loc, body string) *exchange {
		return &exchange{URL: me, Status: status, Location: loc, Body: []byte(body)}
	}
	tests := []struct {
		name    string
		yes     *exchange
		no      []*exchange
		ask     *exchange
		want    authState
		wantErr bool
	}{
		{"status tells: 200 is the session", ex(200, "", `{"user":"alice","at":"2026-03-01T12:00:00Z"}`), []*exchange{ex(401, "", "no")},
			ex(200, "", "anything"), authYes, false},
		{"status tells: the unauthenticated status", ex(200, "", "alice"), []*exchange{ex(401, "", "no"), ex(302, "/login?next=/me", "")},
			ex(302, "/login?next=%2Fme&expired=1", ""), authNo, false},
		{"status tells: a redirect elsewhere is neither", ex(200, "", "alice"), []*exchange{ex(302, "/login", "")},
			ex(302, "/maintenance", ""), authUnknown, false},
		{"status tells: 403 is neither", ex(200, "", "alice"), []*exchange{ex(401, "", "no")},
			ex(403, "", "no"), authUnknown, false},
		{"429 is inconclusive", ex(200, "", "alice"), []*exchange{ex(401, "", "no")},
			ex(429, "", ""), authUnknown, false},
		{"503 is inconclusive even when it is the baseline's", ex(200, "", "alice"), []*exchange{ex(401, "", "no")},
			ex(503, "", ""), authUnknown, false},
		{"same status: the page tells, volatile parts aside", ex(200, "", `{"user":"alice","seen":"2026-03-01T12:00:00Z","csrf":"Zx81kQ0aLmP3vB7tYw2s"}`),
			[]*exchange{ex(200, "", `{"user":null}`)},
			ex(200, "", `{"user":"alice","seen":"2026-03-01T12:04:59Z","csrf":"Aa00bcDEfgH1iJkLmN2o"}`), authYes, false},
		{"same status: the unauthenticated page", ex(200, "", `{"user":"alice"}`), []*exchange{ex(200, "", `{"user":null}`)},
			ex(200, "", `{"user":null}`), authNo, false},
		{"same status: another page is neither", ex(200, "", `{"user":"alice"}`), []*exchange{ex(200, "", `{"user":null}`)},
			ex(200, "", `{"user":"bob"}`), authUnknown, false},
		{"same answer with and without a session", ex(200, "", `<div id="app"></div>`), []*exchange{ex(401, "", "no"), ex(200, "", `<div id="app"></div>`)},
			nil, authUnknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var no []unauthenticated
			for _, n := range tt.no {
				no = append(no, unauthenticated{answerOf(n), "without a cookie"})
			}
			b, err := newBaseline(answerOf(tt.yes), no)
			if tt.wantErr {
				if err == nil {
					t.Fatal("newBaseline succeeded; want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.classify(tt.ask); got != tt.want {
				t.Errorf("classify = %d; want %d", got, tt.want)
			}
		})
	}
}

// TestAskRetries checks that inconclusive answers are asked again a
// bounded number of times, waiting what Retry-After asks only while it
// fits the deadline, and are never taken for an answer.
func TestAskRetries(t *testing.T) {
	tests := []struct {
		name     string
		answers  []int // status per request; the last repeats
		retry    string
		deadline time.Duration // 0: none
		spent    time.Duration // already waited in the run
		want     authState
		asked    int
		waited   time.Duration
	}{
		{"429 then the session", []int{429, 200}, "2", 0, 0, authYes, 2, 2 * time.Second},
		{"500 then no session", []int{500, 401}, "", 0, 0, authNo, 2, time.Second},
		{"always 429", []int{429}, "2", 0, 0, authUnknown, maxAskTries, 2 * (2 * time.Second)},
		{"Retry-After longer than a minute", []int{503}, "120", 0, 0, authUnknown, 1, 0},
		{"Retry-After past the deadline", []int{429}, "30", 5 * time.Second, 0, authUnknown, 1, 0},
		{"the run's budget of waits spent", []int{429}, "30", 0, maxRetryWaits - 10*time.Second, authUnknown, 1, 0},
		{"an answer matching neither baseline is not retried", []int{403}, "", 0, 0, authUnknown, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				st := tt.answers[min(i, len(tt.answers)-1)]
				if tt.retry != "" {
					w.Header().Set("Retry-After", tt.retry)
				}
				w.WriteHeader(st)
			}))
			t.Cleanup(srv.Close)
			clock := newFakeClock()
			u, _ := url.Parse(srv.URL + "/")
			a := &auditor{cfg: Config{MePath: "/me", Now: clock.Now, Sleep: clock.Sleep}, target: u, hc: newHTTPClient(nil, 5*time.Second, nil)}
			me, _ := url.Parse(srv.URL + "/me")
			a.retryWaited.Store(int64(tt.spent))
			a.base, _ = newBaseline(answerOf(&exchange{URL: me, Status: 200}), []unauthenticated{{answerOf(&exchange{URL: me, Status: 401}), "without a cookie"}})
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			start := clock.Now()
			v, err := a.ask(ctx, a.newClient())
			if err != nil {
				t.Fatal(err)
			}
			if v.state != tt.want {
				t.Errorf("state %d; want %d (%s)", v.state, tt.want, v.why)
			}
			if got := int(n.Load()); got != tt.asked {
				t.Errorf("asked %d times; want %d", got, tt.asked)
			}
			if got := clock.Now().Sub(start); got != tt.waited {
				t.Errorf("waited %v; want %v", got, tt.waited)
			}
			if tt.want == authUnknown && v.why == "" {
				t.Error("an inconclusive verdict without a reason")
			}
			if tt.want == authUnknown && tt.asked > 1 && !strings.Contains(v.why, "asked") {
				t.Errorf("why %q does not say how often it asked", v.why)
			}
		})
	}
}
