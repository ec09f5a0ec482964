package latch_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/memstore"
)

// logRecord is one record a captureHandler received.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// captureHandler is a slog.Handler that keeps every record at or above
// its level.
type captureHandler struct {
	min  slog.Level
	mu   sync.Mutex
	recs []logRecord
}

func (h *captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *captureHandler) WithGroup(string) slog.Handler                { return h }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}

// events returns the records whose "event" attribute is name.
func (h *captureHandler) events(name string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.recs {
		if r.attrs["event"] == name {
			out = append(out, r)
		}
	}
	return out
}

// TestEventLevels pins the level each kind of creation is logged at: an
// anonymous session, made for any visitor whose request stores a value,
// is routine (Debug); a session created by a login is Info.
func TestEventLevels(t *testing.T) {
	tests := []struct {
		name string
		path string
		min  slog.Level
		want []slog.Level // levels of the "created" records
	}{
		{"anonymous at debug", "/set?k=a&v=1", slog.LevelDebug, []slog.Level{slog.LevelDebug}},
		{"anonymous not at info", "/set?k=a&v=1", slog.LevelInfo, nil},
		{"login at info", "/login?u=alice", slog.LevelInfo, []slog.Level{slog.LevelInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := memstore.New(memstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			h := &captureHandler{min: tt.min}
			m, err := latch.New(latch.Config{Store: st, Keys: testKeys(t), Logger: slog.New(h)})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			m.Handler(testApp(m)).ServeHTTP(rec, httptest.NewRequest("POST", tt.path, nil))
			var got []slog.Level
			for _, r := range h.events("created") {
				got = append(got, r.level)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
				t.Fatalf("created logged at %v; want %v", got, tt.want)
			}
		})
	}
}
