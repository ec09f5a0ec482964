#!/usr/bin/env bash
# e2e.sh loads the benchmark server (bench/cmd/server) with wrk on loopback,
# once per session library and round, and prints the median requests per
# second of each library and its ratio to the bare handler (no session at
# all). Each run gets a fresh server, one logged-in session (from POST
# /login) and DURATION of GET /read with that session's cookie. The rounds
# take the libraries in turn, so that a change in the machine's load
# during the script falls on every library alike.
#
#   bash bench/e2e.sh                       # every library that needs no server
#   LIBS="bare latch-mem scs-mem" DURATION=5s bash bench/e2e.sh
#
# Environment: LIBS (default: bare latch-mem latch-bolt latch-cookie scs-mem
# gorilla-cookie; latch-redis and scs-redis take LATCH_TEST_REDIS_URL),
# ROUNDS (default 3), DURATION (wrk -d, default 5s), THREADS (wrk -t, default 1, leaving the
# other core to the server on a 2-core machine), CONNS (wrk -c, default 32),
# PORT (default 17910).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIBS=${LIBS:-bare latch-mem latch-bolt latch-cookie scs-mem gorilla-cookie}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
THREADS=${THREADS:-1}
CONNS=${CONNS:-32}
PORT=${PORT:-17910}
addr=127.0.0.1:$PORT

for tool in wrk curl go; do
	command -v "$tool" >/dev/null || { echo "e2e.sh: $tool not found (apt-get install wrk curl)" >&2; exit 2; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$here" && go build -o "$work/server" ./cmd/server)

# start_server LIB: start the server and wait until it listens.
start_server() {
	"$work/server" -lib "$1" -addr "$addr" -dir "$work" >"$work/server.out" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		if grep -q '^listening on' "$work/server.out"; then
			return 0
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "e2e.sh: server for $1 did not start:" >&2
	cat "$work/server.out" >&2
	exit 1
}

stop_server() {
	kill "$server_pid"
	wait "$server_pid" || true
	server_pid=
	rm -f "$work"/*.db
}

UA='Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0'
declare -A rps # lib -> requests/s of each round, space-separated
echo "wrk -t$THREADS -c$CONNS -d$DURATION GET /read on $addr, $ROUNDS rounds; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
for lib in $LIBS; do
	start_server "$lib"
	# Log in once; the session cookie (never printed) goes with every
	# request, and every request carries the same browser's User-Agent, as
	# a browser's do.
	cookie=$(curl -sS -A "$UA" -o /dev/null -D - -X POST "http://$addr/login" |
		sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1 | tr -d '\r')
	if [[ $lib != bare && -z $cookie ]]; then
		echo "e2e.sh: $lib: login sent no cookie" >&2
		exit 1
	fi
	header="Cookie: ${cookie:-none=1}"
	body=$(curl -sS -A "$UA" -H "$header" "http://$addr/read")
	if [[ $body != dark ]]; then
		echo "e2e.sh: $lib: GET /read answered \"$body\", not the session's value" >&2
		exit 1
	fi
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -H "$header" -H "User-Agent: $UA" "http://$addr/read" >"$work/wrk.out"
	if grep -q 'Non-2xx' "$work/wrk.out"; then
		echo "e2e.sh: $lib: some responses failed:" >&2
		cat "$work/wrk.out" >&2
		exit 1
	fi
	r=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
	if [[ -z $r ]]; then
		echo "e2e.sh: $lib: no Requests/sec in wrk's output:" >&2
		cat "$work/wrk.out" >&2
		exit 1
	fi
	rps[$lib]="${rps[$lib]:-} $r"
	stop_server
done
echo "round $round done; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A med
for lib in $LIBS; do
	med[$lib]=$(median <<<"${rps[$lib]}")
done
bare_rps=${med[bare]:-}

echo
echo "| library | requests/s (median) | ratio to bare | each round |"
echo "|---|---:|---:|---|"
for lib in $LIBS; do
	ratio="-"
	if [[ -n $bare_rps ]]; then
		ratio=$(awk -v a="${med[$lib]}" -v b="$bare_rps" 'BEGIN { printf "%.2f", a / b }')
	fi
	printf '| %s | %.0f | %s | %s |\n' "$lib" "${med[$lib]}" "$ratio" "$(printf '%.0f ' ${rps[$lib]} | sed 's/ $//')"
done
