package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkRead/bare-2          	  100	  1000 ns/op	  900 cpu-ns/op	  1336 B/op	  11 allocs/op
BenchmarkRead/bare-2          	  100	  3000 ns/op	  1100 cpu-ns/op	  1336 B/op	  11 allocs/op
BenchmarkRead/latch-mem-2     	  100	  2000 ns/op	  1500 cpu-ns/op	  1400 B/op	  12 allocs/op
BenchmarkRead/latch-mem-2     	  100	  2000 ns/op	  1500 cpu-ns/op	  1400 B/op	  12 allocs/op
BenchmarkRead/scs-mem-2       	  100	 40000 ns/op	 30000 cpu-ns/op	 12805 B/op	 250 allocs/op
BenchmarkRead/latch-cookie-2  	  100	  5000 ns/op	  4000 cpu-ns/op	  3280 B/op	  28 allocs/op
BenchmarkRead/gorilla-cookie-2	  100	 25000 ns/op	 20000 cpu-ns/op	 11744 B/op	 210 allocs/op
BenchmarkGin/bare-2           	  100	  2000 ns/op	  1000 cpu-ns/op	  1360 B/op	  10 allocs/op
BenchmarkGin/latch-read-2     	  100	  3000 ns/op	  1500 cpu-ns/op	  1700 B/op	  11 allocs/op
PASS
`

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		input string
		code  int
		want  []string
	}{
		{"medians and ratios", sample, 0, []string{
			"| bare | 11 | 1336 | 1.00 | 1.00 | 0.05 | 0.03 |", // medians 2000 ns, 1000 cpu
			"| latch-mem | 12 | 1400 | 1.00 | 1.50 | 0.05 | 0.05 |",
			"| read-only request, memstore: at most 0.15 of scs | 0.05 | 0.05 | yes |",
			"| cookie mode read: at most 0.25 of gorilla | 0.20 | 0.20 | yes |",
			"| write request, memstore: at most 0.25 of scs | – | – | not measured |",
			"| read-only request, memstore: at most 30 allocs | 12 allocs | | yes |",
			"### Gin\n\n| library | allocs/op | B/op | ns/op ÷ bare | cpu ÷ bare |\n|---|---:|---:|---:|---:|\n",
			"| latch-read | 11 | 1700 | 1.50 | 1.50 |\n",
		}},
		{"no results", "PASS\n", 1, nil},
		{"bad value", "BenchmarkRead/bare-2 100 x ns/op\n", 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(strings.NewReader(tc.input), &out, &errOut); code != tc.code {
				t.Fatalf("exit %d; want %d (stderr %q)", code, tc.code, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
