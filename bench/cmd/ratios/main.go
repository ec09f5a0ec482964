// Command ratios reads the output of the bench benchmarks (go test -bench
// -benchmem, any -count) and prints, as Markdown, the median of each
// figure per library, its ratio to the bare handler and to the library it
// is compared with, and the targets.
//
// Usage:
//
//	go test -run '^$' -bench . -benchmem -count 6 . | tee bench.txt
//	go run ./cmd/ratios < bench.txt
//
// Ratios are taken from medians of the same run. Two are given: of wall
// time (ns/op) and of CPU time (cpu-ns/op, which counts only this
// process's work and so varies less on a shared machine).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() { os.Exit(run(os.Stdin, os.Stdout, os.Stderr)) }

// figures holds every sample of one benchmark, by unit.
type figures map[string][]float64

func (f figures) median(unit string) (float64, bool) {
	v := slices.Clone(f[unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// procSuffix is the -GOMAXPROCS suffix go test adds to benchmark names.
var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines into group -> library -> figures, and the
// order in which groups and libraries first appear.
func parse(r io.Reader) (map[string]map[string]figures, []string, map[string][]string, error) {
	all := map[string]map[string]figures{}
	var groups []string
	libs := map[string][]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(fields[0], "Benchmark"), "")
		group, lib, ok := strings.Cut(name, "/")
		if !ok {
			continue
		}
		if all[group] == nil {
			all[group] = map[string]figures{}
			groups = append(groups, group)
		}
		if all[group][lib] == nil {
			all[group][lib] = figures{}
			libs[group] = append(libs[group], lib)
		}
		// fields[1] is the iteration count; then value-unit pairs.
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("ratios: bad value %q in %q", fields[i], sc.Text())
			}
			all[group][lib][fields[i+1]] = append(all[group][lib][fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("ratios: read: %w", err)
	}
	return all, groups, libs, nil
}

// reference is the library each group's ratios are taken against, besides
// bare. The framework groups (Gin, Echo, ...) have none: each compares
// latch in a framework with the same framework alone.
var reference = map[string]string{
	"Read":      "scs-mem",
	"Write":     "scs-mem",
	"Login":     "scs-mem",
	"ReadRedis": "scs-redis",
}

// target is one of the targets.
type target struct {
	group, lib, ref string
	max             float64
	what            string
}

var targets = []target{
	{"Read", "latch-mem", "scs-mem", 0.15, "read-only request, memstore: at most 0.15 of scs"},
	{"Write", "latch-mem", "scs-mem", 0.25, "write request, memstore: at most 0.25 of scs"},
	{"Read", "latch-cookie", "gorilla-cookie", 0.25, "cookie mode read: at most 0.25 of gorilla"},
	{"ReadRedis", "latch-redis", "scs-redis", 0.5, "Redis read-only: at most 0.5 of scs"},
}

func ratio(a, b float64, okA, okB bool) string {
	if !okA || !okB || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func num(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func run(stdin io.Reader, stdout, stderr io.Writer) int {
	all, groups, libs, err := parse(stdin)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(groups) == 0 {
		fmt.Fprintln(stderr, "ratios: no benchmark results in the input")
		return 1
	}
	for _, g := range groups {
		ref := reference[g]
		fmt.Fprintf(stdout, "### %s\n\n", g)
		if ref == "" { // a framework group: only its bare to compare with
			fmt.Fprintln(stdout, "| library | allocs/op | B/op | ns/op ÷ bare | cpu ÷ bare |")
			fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|")
		} else {
			fmt.Fprintf(stdout, "| library | allocs/op | B/op | ns/op ÷ bare | cpu ÷ bare | ns/op ÷ %s | cpu ÷ %s |\n", ref, ref)
			fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|")
		}
		bare, hasBare := all[g]["bare"]
		refFig, hasRef := all[g][ref]
		for _, lib := range libs[g] {
			f := all[g][lib]
			ns, okNS := f.median("ns/op")
			cpu, okCPU := f.median("cpu-ns/op")
			allocs, okA := f.median("allocs/op")
			bytes, okB := f.median("B/op")
			var bNS, bCPU, rNS, rCPU float64
			var okBNS, okBCPU, okRNS, okRCPU bool
			if hasBare {
				bNS, okBNS = bare.median("ns/op")
				bCPU, okBCPU = bare.median("cpu-ns/op")
			}
			if hasRef {
				rNS, okRNS = refFig.median("ns/op")
				rCPU, okRCPU = refFig.median("cpu-ns/op")
			}
			fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s |", lib, num(allocs, okA), num(bytes, okB),
				ratio(ns, bNS, okNS, okBNS), ratio(cpu, bCPU, okCPU, okBCPU))
			if ref != "" {
				fmt.Fprintf(stdout, " %s | %s |", ratio(ns, rNS, okNS, okRNS), ratio(cpu, rCPU, okCPU, okRCPU))
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintln(stdout, "### Targets")
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "| target | ratio of ns/op | ratio of cpu-ns/op | met |")
	fmt.Fprintln(stdout, "|---|---:|---:|---|")
	for _, t := range targets {
		a, b := all[t.group][t.lib], all[t.group][t.ref]
		if a == nil || b == nil {
			fmt.Fprintf(stdout, "| %s | – | – | not measured |\n", t.what)
			continue
		}
		ns, okNS := a.median("ns/op")
		rns, okRNS := b.median("ns/op")
		cpu, okCPU := a.median("cpu-ns/op")
		rcpu, okRCPU := b.median("cpu-ns/op")
		met := "no"
		if okNS && okRNS && ns/rns <= t.max {
			met = "yes"
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s |\n", t.what, ratio(ns, rns, okNS, okRNS), ratio(cpu, rcpu, okCPU, okRCPU), met)
	}
	if a := all["Read"]["latch-mem"]; a != nil {
		allocs, ok := a.median("allocs/op")
		met := "no"
		if ok && allocs <= 30 {
			met = "yes"
		}
		fmt.Fprintf(stdout, "| read-only request, memstore: at most 30 allocs | %s allocs | | %s |\n", num(allocs, ok), met)
	}
	return 0
}
