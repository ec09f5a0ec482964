// Command compare prints, in one table, what latch and scs do on the same
// machine in the same run: store writes and Set-Cookie headers caused by
// read-only requests, updates lost by overlapping requests, the memory of a
// million sessions in a memory store and the longest lookup while they
// expire, and the Redis commands of a read-only request.
//
// Usage:
//
//	go run ./cmd/compare [-sessions 1000000] [-trials 100] [-requests 1000] [-redis URL]
//
// The Redis row needs a redis-server (-redis, default $LATCH_TEST_REDIS_URL)
// that nothing else uses during the run, since it counts the commands the
// server reports in INFO commandstats. Without one the row is left out.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/latchsec/latch/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	sessions int
	trials   int
	requests int
	gap      time.Duration
	window   time.Duration
	redis    string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.IntVar(&c.sessions, "sessions", 1_000_000, "sessions in the memory store figures")
	fs.IntVar(&c.trials, "trials", 100, "trials of two overlapping requests")
	fs.IntVar(&c.requests, "requests", 1000, "read-only requests for the write and Redis figures")
	fs.DurationVar(&c.gap, "gap", time.Second, "simulated time between two read-only requests")
	fs.DurationVar(&c.window, "window", 2*time.Second, "how long the lookup probe runs with nothing to sweep")
	fs.StringVar(&c.redis, "redis", os.Getenv("LATCH_TEST_REDIS_URL"), "redis:// URL of a server used by nothing else (default $LATCH_TEST_REDIS_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || c.sessions < 1 || c.trials < 1 || c.requests < 1 || c.gap <= 0 || c.window <= 0 {
		fmt.Fprintln(stderr, "compare: -sessions, -trials, -requests, -gap and -window must be positive, and no arguments are taken")
		fs.Usage()
		return 2
	}
	rows, err := measure(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "Go %s, %s/%s, %d CPUs, GOMAXPROCS %d\n\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	printTable(stdout, rows)
	return 0
}

// row is one line of the table.
type row struct {
	figure     string
	latch, scs string
	target     string
	met        string // "yes", "no" or "" when the figure has no target
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | latch | scs | latch target | met |")
	fmt.Fprintln(w, "|---|---:|---:|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.figure, r.latch, r.scs, r.target, r.met)
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// slowRate gives the slow lookups per second of the sweep and of the
// baseline, and how long each phase ran.
func slowRate(m bench.Memory) string {
	rate := func(n int, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	return fmt.Sprintf("%.0f / %.0f (%.1f s / %.1f s)", rate(m.Slow, m.Phase), rate(m.SlowBaseline, m.BaselinePhase), m.Phase.Seconds(), m.BaselinePhase.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// measure takes every figure, latch and scs side by side, and reports
// progress on progress.
func measure(ctx context.Context, c config, progress io.Writer) ([]row, error) {
	var rows []row
	step := func(what string) { fmt.Fprintf(progress, "compare: %s\n", what) }

	step(fmt.Sprintf("%d read-only requests, %v apart", c.requests, c.gap))
	lt, err := bench.ReadOnlyTouches(ctx, bench.LatchMem, bench.Options{}, c.requests, c.gap)
	if err != nil {
		return nil, err
	}
	st, err := bench.ReadOnlyTouches(ctx, bench.SCSMem, bench.Options{}, c.requests, c.gap)
	if err != nil {
		return nil, err
	}
	per := func(n int) string { return fmt.Sprintf("%.1f", float64(n)*1000/float64(c.requests)) }
	perMille := func(n int) float64 { return float64(n) * 1000 / float64(c.requests) }
	rows = append(rows,
		row{fmt.Sprintf("store writes per 1,000 read-only requests (memstore, idle timeout 30 min, one request every %v)", c.gap),
			per(lt.Writes), per(st.Writes), "≤ 10", yes(perMille(lt.Writes) <= 10)},
		row{"Set-Cookie headers per 1,000 read-only requests (same run)",
			per(lt.SetCookies), per(st.SetCookies), "≤ 10", yes(perMille(lt.SetCookies) <= 10)},
	)

	for _, readOnly := range []bool{false, true} {
		what := fmt.Sprintf("lost updates in %d trials: two overlapping requests set different keys", c.trials)
		if readOnly {
			what = fmt.Sprintf("lost updates in %d trials: a read-only request overlaps one that sets a key", c.trials)
		}
		step(what)
		ll, err := bench.LostUpdates(ctx, bench.LatchMem, bench.Options{}, c.trials, readOnly)
		if err != nil {
			return nil, err
		}
		sl, err := bench.LostUpdates(ctx, bench.SCSMem, bench.Options{}, c.trials, readOnly)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{what + " (memstore)", fmt.Sprint(ll), fmt.Sprint(sl), "0", yes(ll == 0)})
	}

	step(fmt.Sprintf("%d sessions in latch's memstore", c.sessions))
	lm, err := bench.LatchMemory(ctx, c.sessions, c.window)
	if err != nil {
		return nil, err
	}
	step(fmt.Sprintf("%d sessions in scs's memstore", c.sessions))
	sm, err := bench.SCSMemory(ctx, c.sessions, c.window)
	if err != nil {
		return nil, err
	}
	rows = append(rows,
		row{fmt.Sprintf("heap bytes per session, %d logged-in sessions in memstore", c.sessions),
			fmt.Sprintf("%.0f", lm.BytesPerSession), fmt.Sprintf("%.0f", sm.BytesPerSession), "≤ 250", yes(lm.BytesPerSession <= 250)},
		row{"worst lookup stall while they all expire and the store's sweeper removes them",
			ms(lm.Stall), ms(sm.Stall), "< 2 ms", yes(lm.Stall < 2*time.Millisecond)},
		row{"longest hold of a shard lock by latch's sweeper (memstore.Stats; scs holds its one lock for the whole pass)",
			ms(lm.LongestHold), "", "", ""},
		row{fmt.Sprintf("worst lookup stall of the same probe, nothing to sweep (%v of machine noise: scheduler, GC)", c.window),
			ms(lm.Baseline), ms(sm.Baseline), "", ""},
		row{fmt.Sprintf("lookups slower than %v per second: while the sweeper runs / with nothing to sweep", bench.SlowLookup),
			slowRate(lm), slowRate(sm), "", ""},
		row{"heap bytes per swept session left after the sweep",
			fmt.Sprintf("%.0f", lm.After), fmt.Sprintf("%.0f", sm.After), "", ""},
	)

	if c.redis == "" {
		step("no Redis URL: Redis figures left out")
		return rows, nil
	}
	step(fmt.Sprintf("%d read-only requests on Redis", c.requests))
	lr, err := bench.RedisCommands(ctx, bench.LatchRedis, bench.Options{RedisURL: c.redis}, c.requests)
	if err != nil {
		return nil, err
	}
	sr, err := bench.RedisCommands(ctx, bench.SCSRedis, bench.Options{RedisURL: c.redis}, c.requests)
	if err != nil {
		return nil, err
	}
	perReq := func(n, of int) string { return fmt.Sprintf("%.2f", float64(n)/float64(of)) }
	rows = append(rows,
		row{"Redis commands per read-only request (INFO commandstats)",
			perReq(lr.Commands, lr.Requests), perReq(sr.Commands, sr.Requests), "", ""},
		row{"Redis round trips per read-only request (counted in the client)",
			perReq(lr.RoundTrips, lr.Requests), perReq(sr.RoundTrips, sr.Requests), "1", yes(lr.RoundTrips == lr.Requests)},
	)
	if lr.Commands != lr.ClientCommands || sr.Commands != sr.ClientCommands {
		fmt.Fprintf(progress, "compare: warning: the server counted other clients' commands too (latch %d vs %d, scs %d vs %d): use a Redis server of its own\n",
			lr.Commands, lr.ClientCommands, sr.Commands, sr.ClientCommands)
	}
	return rows, nil
}
