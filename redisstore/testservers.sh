#!/usr/bin/env bash
# testservers.sh starts (or stops) the throw-away Redis servers that the
# redisstore tests run against, all on 127.0.0.1 and all inside DIR:
#
#   a standalone server         LATCH_TEST_REDIS_URL
#   a 3-master cluster          LATCH_TEST_REDIS_CLUSTER
#   a master and its replica,   LATCH_TEST_REDIS_SENTINEL
#   watched by one sentinel
#
# Usage:
#   eval "$(redisstore/testservers.sh start DIR)"   # prints export lines
#   redisstore/testservers.sh stop DIR
#
# Ports are a base plus 0 (standalone), 10-12 (cluster, and their cluster
# bus ports 10010-10012 above), 20 (sentinel's master), 21 (sentinel) and 22
# (the replica, which a test promotes with SENTINEL FAILOVER). The base is
# LATCH_REDIS_PORT_BASE when set, otherwise the first of 17100, 17130, ...
# whose ports are all free. Every message other than the export lines goes
# to stderr; on any failure the script stops what it started, prints the
# reason and the server log, and exits non-zero.
set -euo pipefail

die() {
	echo "testservers.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

master_name=latchmaster
timeout_s=${LATCH_REDIS_TIMEOUT:-30}

# set_ports BASE chooses the ports of every server from BASE.
set_ports() {
	base=$1
	standalone_port=$((base))
	cluster_ports=($((base + 10)) $((base + 11)) $((base + 12)))
	master_port=$((base + 20))
	sentinel_port=$((base + 21))
	replica_port=$((base + 22))
	# A cluster node also listens on its port + 10000 (the cluster bus).
	all_ports=("$standalone_port" "${cluster_ports[@]}" $((base + 10010)) $((base + 10011))
		$((base + 10012)) "$master_port" "$sentinel_port" "$replica_port")
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found (apt-get install redis-server)"
}

cli() {
	local port=$1
	shift
	redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

# wait_for DESCRIPTION COMMAND...: retry COMMAND until it succeeds or the
# timeout passes.
wait_for() {
	local what=$1
	shift
	local deadline=$((SECONDS + timeout_s))
	until "$@"; do
		if ((SECONDS >= deadline)); then
			echo "testservers.sh: timed out after ${timeout_s}s waiting for $what" >&2
			return 1
		fi
		sleep 0.2
	done
}

pong() { [[ $(cli "$1" ping) == PONG ]]; }

cluster_ok() {
	local p
	for p in "${cluster_ports[@]}"; do
		cli "$p" cluster info | tr -d '\r' | grep -qx 'cluster_state:ok' || return 1
		# Every node must also know all three masters with their slots.
		[[ $(cli "$p" cluster info | tr -d '\r' | sed -n 's/^cluster_slots_ok://p') == 16384 ]] || return 1
	done
}

replica_ok() {
	cli "$replica_port" info replication | tr -d '\r' | grep -qx 'master_link_status:up'
}

sentinel_knows_replica() {
	cli "$sentinel_port" sentinel replicas "$master_name" | tr -d '\r' | grep -qx "$replica_port"
}

sentinel_ok() {
	local addr
	addr=$(cli "$sentinel_port" sentinel get-master-addr-by-name "$master_name" | tr -d '\r' | paste -sd: -)
	[[ $addr == "127.0.0.1:$master_port" ]]
}

# port_free reports whether nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_server NAME PORT [extra config lines...]
start_server() {
	local name=$1 port=$2
	shift 2
	local d=$dir/$name
	mkdir -p "$d"
	{
		echo "bind 127.0.0.1"
		echo "port $port"
		echo "dir $d"
		echo "daemonize yes"
		echo "pidfile $d/redis.pid"
		echo "logfile $d/redis.log"
		echo "save \"\""
		echo "appendonly no"
		local line
		for line in "$@"; do
			echo "$line"
		done
	} >"$d/redis.conf"
	redis-server "$d/redis.conf" >/dev/null || {
		show_log "$d"
		return 1
	}
	wait_for "redis $name on port $port" pong "$port" || {
		show_log "$d"
		return 1
	}
}

start_sentinel() {
	local d=$dir/sentinel
	mkdir -p "$d"
	cat >"$d/sentinel.conf" <<EOF
bind 127.0.0.1
port $sentinel_port
dir $d
daemonize yes
pidfile $d/redis.pid
logfile $d/redis.log
sentinel monitor $master_name 127.0.0.1 $master_port 1
sentinel down-after-milliseconds $master_name 5000
sentinel failover-timeout $master_name 10000
EOF
	redis-sentinel "$d/sentinel.conf" >/dev/null || {
		show_log "$d"
		return 1
	}
	wait_for "sentinel on port $sentinel_port" pong "$sentinel_port" || {
		show_log "$d"
		return 1
	}
	wait_for "sentinel to watch $master_name" sentinel_ok || {
		show_log "$d"
		return 1
	}
	wait_for "sentinel to discover the replica" sentinel_knows_replica || {
		show_log "$d"
		return 1
	}
}

show_log() {
	if [[ -f $1/redis.log ]]; then
		echo "--- $1/redis.log (last 20 lines) ---" >&2
		tail -n 20 "$1/redis.log" >&2
	fi
}

stop_all() {
	local pidfile pid i
	for pidfile in "$dir"/*/redis.pid; do
		[[ -f $pidfile ]] || continue
		pid=$(<"$pidfile")
		if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				echo "testservers.sh: pid $pid did not stop, sending SIGKILL" >&2
				kill -9 "$pid" 2>/dev/null || true
			fi
		fi
		rm -f "$pidfile"
	done
}

case $cmd in
start)
	need redis-server
	need redis-cli
	need redis-sentinel
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	for pidfile in "$dir"/*/redis.pid; do
		[[ -f $pidfile ]] || continue
		pid=$(<"$pidfile")
		if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
			die "servers from an earlier start still run in $dir (pid $pid); run '$0 stop $dir' first"
		fi
	done
	# LATCH_REDIS_PORT_BASE pins the ports; otherwise the first base from
	# 17100 up whose ports are all free is used, so that two runs side by
	# side do not collide.
	if [[ -n ${LATCH_REDIS_PORT_BASE:-} ]]; then
		[[ $LATCH_REDIS_PORT_BASE =~ ^[0-9]+$ ]] &&
			((LATCH_REDIS_PORT_BASE >= 1024 && LATCH_REDIS_PORT_BASE <= 55000)) ||
			die "LATCH_REDIS_PORT_BASE must be a port number between 1024 and 55000"
		set_ports "$LATCH_REDIS_PORT_BASE"
		for p in "${all_ports[@]}"; do
			port_free "$p" || die "port $p is in use; run '$0 stop DIR' or choose another LATCH_REDIS_PORT_BASE"
		done
	else
		found=
		for b in 17100 17130 17160 17190 17220 17250 17280 17310; do
			set_ports "$b"
			found=$b
			for p in "${all_ports[@]}"; do
				if ! port_free "$p"; then
					found=
					break
				fi
			done
			[[ -n $found ]] && break
		done
		[[ -n $found ]] || die "no free block of ports between 17100 and 17340; set LATCH_REDIS_PORT_BASE"
	fi
	echo "testservers.sh: using ports from $base in $dir" >&2
	trap 'echo "testservers.sh: start failed; stopping what was started" >&2; stop_all' ERR

	start_server standalone "$standalone_port"

	seeds=()
	for p in "${cluster_ports[@]}"; do
		rm -f "$dir/cluster-$p/nodes.conf"
		start_server "cluster-$p" "$p" "cluster-enabled yes" "cluster-config-file nodes.conf" \
			"cluster-node-timeout 5000"
		seeds+=("127.0.0.1:$p")
	done
	redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes \
		>"$dir/cluster-create.log" 2>&1 || {
		cat "$dir/cluster-create.log" >&2
		false
	}
	wait_for "cluster_state:ok on all three masters" cluster_ok

	start_server sentinel-master "$master_port"
	start_server sentinel-replica "$replica_port" "replicaof 127.0.0.1 $master_port"
	wait_for "the replica to sync with the sentinel's master" replica_ok
	start_sentinel

	trap - ERR
	echo "export LATCH_TEST_REDIS_URL=redis://127.0.0.1:$standalone_port/0"
	echo "export LATCH_TEST_REDIS_CLUSTER=$(
		IFS=,
		echo "${seeds[*]}"
	)"
	echo "export LATCH_TEST_REDIS_SENTINEL=$master_name@127.0.0.1:$sentinel_port"
	;;
stop)
	[[ -d $dir ]] || exit 0
	stop_all
	;;
*)
	usage
	;;
esac
