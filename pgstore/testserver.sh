#!/bin/sh
# testserver.sh starts or stops a throw-away PostgreSQL for the pgstore tests.
#
#   eval "$(pgstore/testserver.sh start DIR)"   # prints: export LATCH_TEST_POSTGRES_URL=...
#   pgstore/testserver.sh stop DIR
#
# The server runs as the unprivileged "postgres" user (PostgreSQL refuses to
# run as root), keeps its cluster in DIR/data, listens on 127.0.0.1 only (no
# Unix socket) on a free port, and trusts loopback connections.
# It is for tests only: never point it at a directory you care about.
#
# Environment:
#   PGSTORE_TEST_PORT   port to listen on (default: first free port from 17200)
#   PGSTORE_TEST_USER   system user that runs the server (default: postgres)
#   PGSTORE_TEST_DB     database to create (default: latch_test)
#
# Progress and errors go to stderr; only the export line goes to stdout.
set -eu

usage() {
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
}

die() {
	echo "testserver.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage

runuser_name=${PGSTORE_TEST_USER:-postgres}
dbname=${PGSTORE_TEST_DB:-latch_test}

# pgbin finds the newest installed PostgreSQL server binaries.
pgbin() {
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	# Fall back to PATH (non-Debian layouts).
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

# as_user runs a command as the server user (or directly when not root).
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u "$runuser_name" -- "$@"
		else
			su -s /bin/sh "$runuser_name" -c "$(printf '%s ' "$@")"
		fi
	else
		"$@"
	fi
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() {
	if command -v ss >/dev/null 2>&1; then
		! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
	else
		! bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
	fi
}

pick_port() {
	if [ -n "${PGSTORE_TEST_PORT:-}" ]; then
		echo "$PGSTORE_TEST_PORT"
		return 0
	fi
	p=17200
	while [ "$p" -le 17299 ]; do
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	return 1
}

start() {
	bin=$(pgbin) || die "no PostgreSQL server binaries found (apt-get install postgresql)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data="$dir/data"
	if [ -f "$data/postmaster.pid" ] && as_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		die "a server is already running in $data (run: $0 stop $dir)"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		id "$runuser_name" >/dev/null 2>&1 || die "user $runuser_name does not exist"
		chown "$runuser_name" "$dir"
		chmod 0700 "$dir"
		as_user test -w "$dir" ||
			die "$runuser_name cannot write $dir: choose a directory whose parents it can reach (e.g. under /tmp)"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as_user "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
			--no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
		# Loopback only, trust auth: replace the generated rules entirely.
		as_user sh -c "cat >'$data/pg_hba.conf'" <<-EOF
			# testserver.sh: loopback only, trust (test server, never production)
			local all all trust
			host  all all 127.0.0.1/32 trust
			host  all all ::1/128      trust
		EOF
	fi
	port=$(pick_port) || die "no free port in 17200-17299 (set PGSTORE_TEST_PORT)"
	echo "$port" >"$dir/port"
	as_user "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >&2 || { tail -n 30 "$dir/server.log" >&2; die "server did not start"; }
	i=0
	until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; do
		i=$((i + 1))
		[ "$i" -lt 60 ] || { tail -n 30 "$dir/server.log" >&2; die "server not ready after 30s"; }
		sleep 0.5
	done
	if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
		"$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname" >&2 || die "createdb failed"
	fi
	echo "export LATCH_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$port/$dbname?sslmode=disable'"
}

stop() {
	data="$dir/data"
	[ -d "$data" ] || { echo "testserver.sh: nothing to stop in $dir" >&2; return 0; }
	bin=$(pgbin) || die "no PostgreSQL server binaries found"
	if as_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_user "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2 || die "pg_ctl stop failed"
	else
		echo "testserver.sh: no server running in $data" >&2
	fi
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
