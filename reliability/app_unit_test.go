package reliability

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
	}{
		{"zero", 0},
		{"1us", time.Microsecond},
		{"7us", 7 * time.Microsecond},
		{"100us", 100 * time.Microsecond},
		{"1ms", time.Millisecond},
		{"1.3ms", 1300 * time.Microsecond},
		{"250ms", 250 * time.Millisecond},
		{"3s", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := latencyBucket(tt.d)
			up := bucketUpper(i)
			if up < tt.d {
				t.Errorf("bucket %d upper bound %v below %v", i, up, tt.d)
			}
			if tt.d >= 8*time.Microsecond && up > tt.d+tt.d/8+time.Microsecond {
				t.Errorf("bucket %d upper bound %v more than 1/8 above %v", i, up, tt.d)
			}
		})
	}
	var l latencies
	for i := 1; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	if p50 := l.quantile(0.5); p50 < 50*time.Millisecond || p50 > 57*time.Millisecond {
		t.Errorf("p50 of 1..100 ms = %v", p50)
	}
	if p99 := l.quantile(0.99); p99 < 99*time.Millisecond || p99 > 112*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v", p99)
	}
}
