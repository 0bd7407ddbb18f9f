#!/usr/bin/env bash
# netwarden demo: start the daemon, make real loopback TCP and UDP traffic,
# show what netwarden saw, stop cleanly. Builds nothing: `make demo` installs
# the Debian packages it needs, builds, then runs this script (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.output
NW=$OUT/netwarden
CTL=$OUT/netwardenctl
UDP=$OUT/tests/udp_echo
PY=/usr/bin/python3

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "netwarden loads BPF programs: run as root (sudo make demo)"
for b in "$NW" "$CTL" "$OUT/netwarden-worker" "$UDP"; do
	[ -x "$b" ] || die "$b is missing: run 'make demo' (it builds first)"
done
for p in curl "$PY"; do
	command -v "$p" >/dev/null || die "$p is missing: run 'make demo' (it installs it)"
done

tmp=$(mktemp -d /tmp/netwarden-demo.XXXXXX)
sock=$tmp/run/netwarden.sock
nw_pid=""
http_pid=""

cleanup() {
	local rc=$?
	[ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null && wait "$http_pid" 2>/dev/null
	if [ -n "$nw_pid" ] && kill -0 "$nw_pid" 2>/dev/null; then
		kill -TERM "$nw_pid"
		for _ in $(seq 50); do kill -0 "$nw_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$nw_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

say "starting netwarden (rpc socket $sock)"
"$NW" --rpc-socket="$sock" 2>"$tmp/netwarden.log" &
nw_pid=$!
if ! wait_for 30 grep -q 'netwarden: ready:' "$tmp/netwarden.log"; then
	cat "$tmp/netwarden.log" >&2
	die "netwarden did not become ready"
fi
grep -E 'netwarden: (attach|ready):' "$tmp/netwarden.log" | sed 's/^/    /'

# Register before the traffic so the closed connections are kept for us.
"$CTL" --socket="$sock" --client-id=demo conns >/dev/null

say "real traffic: python3 -m http.server + curl (TCP, IPv4 and IPv6)"
mkdir "$tmp/www"
head -c $((256 * 1024 + 5)) /dev/urandom >"$tmp/www/file.bin"
"$PY" -u -m http.server 0 --bind :: --directory "$tmp/www" >"$tmp/http.log" 2>&1 &
http_pid=$!
wait_for 10 grep -q 'Serving HTTP' "$tmp/http.log" || die "http.server did not start"
port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$tmp/http.log" | head -n 1)
for url in "http://127.0.0.1:$port/file.bin" "http://[::1]:$port/file.bin"; do
	curl -sS --noproxy '*' --max-time 10 -o /dev/null \
		-w "    curl  %{local_ip}:%{local_port} -> %{remote_ip}:%{remote_port}  sent %{size_request} B, received %{size_header}+%{size_download} B\n" \
		"$url"
done

say "real traffic: UDP echo (connected IPv4, unconnected IPv6)"
udp_pair() {
	local addr=$1 mode=$2 out
	"$UDP" server --bind "$addr" --count 4 --timeout 10 >"$tmp/udp.out" &
	local spid=$!
	wait_for 5 grep -q listening "$tmp/udp.out" || die "udp_echo server did not start"
	local uport
	uport=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/udp.out" | head -n 1)
	out=$("$UDP" client --connect "$addr" --port "$uport" --count 4 --size 600 $mode)
	wait "$spid"
	echo "$out" | sed -E 's/.*"mode":"([a-z]+)","laddr":"([^"]*)","lport":([0-9]+),"raddr":"([^"]*)","rport":([0-9]+).*"sent":([0-9]+),"recv":([0-9]+).*/    udp \1 client  port \3 -> \4:\5  sent \6 B, received \7 B/'
}
udp_pair 127.0.0.1 ""
udp_pair ::1 --unconnected

kill "$http_pid" 2>/dev/null && wait "$http_pid" 2>/dev/null || true
http_pid=""
sleep 0.3

say "netwardenctl conns  (what netwarden saw, both ends of every connection)"
"$CTL" --socket="$sock" --client-id=demo conns

say "netwardenctl http  (the same curl requests, seen as HTTP by the packet capture)"
"$CTL" --socket="$sock" --client-id=demo http

say "netwardenctl stats  (a few of its $("$CTL" --socket="$sock" stats | wc -l) counters)"
"$CTL" --socket="$sock" stats |
	grep -E '^(attach_set|event_mode|events_closed|events_lost|closed_dropped|tel_event_lost|seccomp_allowlist_syscalls|usm_samples|http_requests|dns_[a-z_]*captured)' | head -n 14

say "stopping netwarden"
kill -TERM "$nw_pid"
rc=0
wait "$nw_pid" || rc=$?
nw_pid=""
echo "    netwarden exited with status $rc"
[ "$rc" -eq 0 ]
