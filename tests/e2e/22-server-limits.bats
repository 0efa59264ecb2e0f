#!/usr/bin/env bats
# socksifyd limits and policy: --max-sessions and --max-per-client answered with a
# reply, memory back to its baseline, idle timeout, fd exhaustion without a crash or a
# busy loop, the client allow-list, and (in the namespace topology, non-loopback
# listeners) the default deny of loopback/link-local/own destinations, IPv6 and UDP.

load '../lib/common'

TOOL="$BATS_TEST_DIRNAME/server/srvtool.py"

start_target() {
	local name=$1
	shift
	netns_bg - "$BATS_FILE_TMPDIR/$name.log" "$NETNS_PY" -u "$TOOL" "$@"
	wait_for_line "$BATS_FILE_TMPDIR/$name.log" '^port [0-9]+' 10 || return 1
	awk '/^port/ {print $2; exit}' "$BATS_FILE_TMPDIR/$name.log"
}

setup_file() {
	require_file "$SOCKSIFYD"
	TCP_PORT=$(start_target echo-tcp echo-tcp)
	export TCP_PORT
	netns_up
	printf 'alice:secret\n' >"$BATS_FILE_TMPDIR/users"
}

teardown_file() {
	netns_down
	stop_recorded
}

# srv LOGNAME ARGS...: start a server for one test (stopped in teardown).
srv() {
	local name=$1
	shift
	LOG=$BATS_TEST_TMPDIR/$name.log
	start_socksifyd - "$LOG" "$@" || return 1
	PROXY=127.0.0.1:$SOCKSIFYD_PORT
}

teardown() {
	[ -n "${SOCKSIFYD_PID:-}" ] && stop_socksifyd
	[ -n "${LOG:-}" ] && assert_no_sanitizer "$LOG"
	SOCKSIFYD_PID=
	LOG=
}

probe() {
	run timeout 60 "$NETNS_PY" "$TOOL" probe "$@"
	echo "$output"
	assert_success
	refute_output --partial FAIL
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

@test "flood past --max-sessions: the extra ones answered (REP 1 / 91), the server serves on" {
	srv flood -l 127.0.0.1:0 --allow-local-dest -v --max-sessions 20
	probe flood --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --hold 20 --extra 100
	wait_for_line "$LOG" 'end="over the session limit"' 5
}

@test "memory per idle session is small and returns to its baseline (plain build)" {
	require_file "$BUILD/socksifyd"
	LOG=$BATS_TEST_TMPDIR/mem.log
	local SOCKSIFYD=$BUILD/socksifyd
	# Two workers, each warmed up before the baseline: a worker's first sessions touch
	# its stack and create its heap arena, a fixed cost that is not a session's.
	start_socksifyd - "$LOG" -l 127.0.0.1:0 --allow-local-dest -w 2
	PROXY=127.0.0.1:$SOCKSIFYD_PORT
	local i
	for ((i = 0; i < 16; i++)); do
		probe basic --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT"
	done
	local base held after fifo=$BATS_TEST_TMPDIR/hold.in
	base=$(pss_kb "$SOCKSIFYD_PID")
	mkfifo "$fifo"
	"$NETNS_PY" -u "$TOOL" probe hold --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" \
		--hold 300 <"$fifo" >"$BATS_TEST_TMPDIR/hold.out" 2>&1 &
	local hp=$!
	exec 5>"$fifo"
	wait_for_line "$BATS_TEST_TMPDIR/hold.out" '^held 300' 30
	held=$(pss_kb "$SOCKSIFYD_PID")
	exec 5>&-
	wait "$hp"
	probe basic --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT"
	# The housekeeping timer (1 s) hands the freed heap back after a burst; give a
	# loaded machine up to 5 s.
	for ((i = 0; i < 50; i++)); do
		after=$(pss_kb "$SOCKSIFYD_PID")
		[ "$after" -le $((base + 64)) ] && break
		sleep 0.1
	done
	echo "# PSS base ${base} kB, 300 idle sessions ${held} kB ($(((held - base) * 1024 / 300)) B/session), after ${after} kB" >&3
	[ $(((held - base) * 1024 / 300)) -le 2048 ]
	[ "$after" -le $((base + 64)) ]
}

@test "--max-per-client: the next one from that IP gets REP 1, other IPs are served" {
	srv perclient -l 127.0.0.1:0 --allow-local-dest -v --max-per-client 3
	probe perclient --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --hold 3 --other 127.0.0.2
}

@test "--idle-timeout closes an idle relay" {
	srv idle -l 127.0.0.1:0 --allow-local-dest -v --idle-timeout 1
	probe relay-idle --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --deadline 1
	wait_for_line "$LOG" 'end="idle timeout"' 5
}

@test "--linger: once one direction ended, an idle session closes after the linger time" {
	srv linger -l 127.0.0.1:0 --allow-local-dest -v --linger 1 --idle-timeout 60
	run timeout 20 "$NETNS_PY" -c '
import sys, time; sys.path.insert(0, sys.argv[1]); import srvtool as t
s, (rep, _, _) = t.s5_connect(sys.argv[2], "127.0.0.1", int(sys.argv[3]))
s.sendall(b"HALFCLOSE\n")      # the target ends its direction, ours stays open
assert t.wait_eof(s, 3)
time.sleep(2.5)
print("slept")' "$BATS_TEST_DIRNAME/server" "$PROXY" "$TCP_PORT"
	assert_success
	wait_for_line "$LOG" 'end="linger timeout"' 3
}

@test "fd exhaustion: no crash, no busy loop, served again once fds are back" {
	LOG=$BATS_TEST_TMPDIR/fd.log
	netns_bg - "$LOG" prlimit --nofile=48:48 "$SOCKSIFYD" -l 127.0.0.1:0 --allow-local-dest -v
	SOCKSIFYD_PID=$NETNS_BG_PID
	wait_for_line "$LOG" 'listening on 127\.0\.0\.1:[0-9]+' 10
	PROXY=127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOG" | head -n1)
	local t0 t1
	t0=$(cpu_ticks "$SOCKSIFYD_PID")
	probe exhaust --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --extra 60 --deadline 3
	t1=$(cpu_ticks "$SOCKSIFYD_PID")
	echo "# server CPU during 3+ s of fd exhaustion: $((t1 - t0)) ticks" >&3
	kill -0 "$SOCKSIFYD_PID"
	# A busy loop would burn ~300 ticks in 3 s.
	[ $((t1 - t0)) -lt 150 ]
	grep -Eq 'Too many open files' "$LOG"
}

@test "chaos: 3 s of resets, half handshakes, vanishing resolves, BIND and UDP: no sanitizer report" {
	srv chaos -l 127.0.0.1:0 --allow-local-dest -v --handshake-timeout 2 --idle-timeout 5
	probe chaos --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --deadline 3
	kill -0 "$SOCKSIFYD_PID"
	assert_no_sanitizer "$LOG"
}

@test "-a allow-list: other clients closed without a reply, listed ones served" {
	srv allow -l 127.0.0.1:0 --allow-local-dest -v -a 127.0.0.2/32 -a 10.0.0.0/8
	probe refused --proxy "$PROXY"
	probe echo --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --source 127.0.0.2
	grep -q 'not in the allow-list' "$LOG"
}

# ---- non-loopback listeners in the namespace topology ----

nsrv() {
	LOG=$BATS_TEST_TMPDIR/ns.log
	start_socksifyd "$NS_PROXY" "$LOG" -l "$NS_PROXY_IP:0" -l "[$NS_PROXY_IP6]:0" \
		-u "$BATS_FILE_TMPDIR/users" -v "$@" || return 1
	P4=$NS_PROXY_IP:$(socksifyd_port "$NS_PROXY_IP")
	P6=[$NS_PROXY_IP6]:$(socksifyd_port "[$NS_PROXY_IP6]")
}

nprobe() {
	run timeout 60 ip netns exec "$NS_CLIENT" "$NETNS_PY" "$TOOL" probe "$@" \
		--user alice --password secret
	echo "$output"
	assert_success
	refute_output --partial FAIL
}

@test "netns: IPv4 and IPv6 listeners, IPv4/IPv6/name destinations, real BND" {
	nsrv
	nprobe echo --proxy "$P4" --target "$NS_TARGET_IP:7" --want-bnd "$NS_PROXY_OUT_IP"
	nprobe echo --proxy "$P6" --target "[$NS_TARGET_IP6]:7" --want-bnd "$NS_PROXY_OUT_IP6"
	nprobe rep --proxy "$P4" --dest target.test:7 --want 0
}

@test "netns: loopback, link-local, metadata and own addresses denied by default (REP 2)" {
	nsrv
	local d
	for d in 127.0.0.1:7 "[::1]:7" localhost:7 169.254.169.254:80 "$NS_PROXY_IP:7" \
		"$NS_PROXY_OUT_IP:7" "[$NS_PROXY_IP6]:7" "[fe80::1]:7" 0.0.0.0:7; do
		nprobe rep --proxy "$P4" --dest "$d" --want 2
	done
	wait_for_line "$LOG" 'end="destination denied by policy"' 5
}

@test "netns: reply codes from the real cause: no route 3, unknown name 4, refused 5" {
	nsrv
	nprobe rep --proxy "$P4" --dest 203.0.113.1:80 --want 3
	nprobe rep --proxy "$P4" --dest "[2001:db8::1]:80" --want 3
	nprobe rep --proxy "$P4" --dest no-such-name.test:80 --want 4
	nprobe rep --proxy "$P4" --dest "$NS_TARGET_IP:9" --want 5
}

@test "netns: a destination that never answers: REP 6 at --connect-timeout" {
	nsrv --connect-timeout 2
	# The target's answers to the proxy vanish, so the SYN is never acknowledged.
	ip -n "$NS_TARGET" route add blackhole "$NS_PROXY_OUT_IP/32"
	local t0 t1 rc=0
	t0=$(date +%s)
	timeout 20 ip netns exec "$NS_CLIENT" "$NETNS_PY" "$TOOL" probe rep --proxy "$P4" \
		--dest "$NS_TARGET_IP:7" --want 6 --user alice --password secret || rc=$?
	t1=$(date +%s)
	ip -n "$NS_TARGET" route del blackhole "$NS_PROXY_OUT_IP/32"
	[ "$rc" -eq 0 ]
	[ $((t1 - t0)) -ge 1 ] && [ $((t1 - t0)) -le 5 ]
	wait_for_line "$LOG" 'end="connect timeout"' 5
}

@test "netns: --allow-local-dest lifts the default deny (loopback gets REP 5, not 2)" {
	nsrv --allow-local-dest
	nprobe rep --proxy "$P4" --dest 127.0.0.1:7 --want 5
}

@test "netns: UDP ASSOCIATE on the reached address, policy per datagram" {
	nsrv
	nprobe udp-basic --proxy "$P4" --udp-target "$NS_TARGET_IP:7" --want-bnd "$NS_PROXY_IP" \
		--dest 127.0.0.1:7
	nprobe udp-basic --proxy "$P4" --udp-target "target.test:7" --want-bnd "$NS_PROXY_IP"
	nprobe udp-basic --proxy "$P6" --udp-target "[$NS_TARGET_IP6]:7" --want-bnd "$NS_PROXY_IP6"
}

@test "netns: --udp-advertise puts the given address in the UDP reply" {
	nsrv --udp-advertise 203.0.113.7
	run timeout 20 ip netns exec "$NS_CLIENT" "$NETNS_PY" -c '
import sys; sys.path.insert(0, sys.argv[1]); import srvtool as t
t.CREDS = ("alice", "secret")
s, (rep, h, p) = t.udp_assoc(sys.argv[2]); print(rep, h, p)' "$BATS_TEST_DIRNAME/server" "$P4"
	echo "$output"
	assert_success
	assert_output --regexp '^0 203\.0\.113\.7 [1-9][0-9]*$'
}

@test "netns: BIND listens on the outbound-facing address, the target connects back" {
	nsrv
	local out=$BATS_TEST_TMPDIR/bind.out h p
	ip netns exec "$NS_CLIENT" "$NETNS_PY" -u "$TOOL" probe bind-remote --proxy "$P4" \
		--dest "$NS_TARGET_IP:0" --want-bnd "$NS_PROXY_OUT_IP" --user alice --password secret \
		>"$out" 2>&1 &
	local pp=$!
	wait_for_line "$out" '^bound ' 10
	read -r _ h p < <(grep '^bound ' "$out")
	run timeout 10 ip netns exec "$NS_TARGET" "$NETNS_PY" -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
d = b""
while len(d) < 7:
    d += c.recv(7 - len(d))
assert d == b"to-peer", d
c.sendall(b"to-client")
c.close()' "$h" "$p"
	assert_success
	local rc=0
	wait "$pp" || rc=$?
	cat "$out"
	[ "$rc" -eq 0 ]
	run grep -c '^FAIL' "$out"
	assert_output 0
}

@test "netns: Happy Eyeballs: a dead IPv6 path costs 250 ms, not a failure (last: changes the target)" {
	nsrv -vv
	# The target drops its IPv6 address: the proxy's SYNs to fd00:2::2 go unanswered
	# (neighbour discovery fails after seconds), while IPv4 works.
	ip -n "$NS_TARGET" addr del "$NS_TARGET_IP6/64" dev veth0
	local t0 t1 ms
	t0=$(date +%s%N)
	nprobe rep --proxy "$P4" --dest target.test:7 --want 0
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "# CONNECT target.test with a dead IPv6 path: $ms ms" >&3
	[ "$ms" -lt 2000 ]
	stop_socksifyd
	grep -q "asked=target.test:7 dest=$NS_TARGET_IP:7" "$LOG"
	# It tried IPv6 first, then IPv4.
	grep -q "attempt 0: connecting to \[$NS_TARGET_IP6\]:7" "$LOG"
	grep -q "attempt 1: connecting to $NS_TARGET_IP:7" "$LOG"
	ip -n "$NS_TARGET" addr add "$NS_TARGET_IP6/64" dev veth0 nodad
}
