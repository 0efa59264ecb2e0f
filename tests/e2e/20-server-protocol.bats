#!/usr/bin/env bats
# socksifyd protocol behaviour on loopback, driven by a raw-socket client
# (tests/e2e/server/srvtool.py) doing what real clients never do: 1-byte segments,
# pipelining, malformed and truncated messages, BIND and UDP ASSOCIATE by hand.
# Runs the ASan+UBSan server; each test also checks its log for sanitizer reports.

load '../lib/common'

TOOL="$BATS_TEST_DIRNAME/server/srvtool.py"

# start_target NAME ARGS...: a srvtool server in the background; prints its port.
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
	UDP_PORT=$(start_target echo-udp echo-udp)
	SRV_LOG=$BATS_FILE_TMPDIR/socksifyd.log
	start_socksifyd - "$SRV_LOG" -l 127.0.0.1:0 --allow-local-dest -v \
		--handshake-timeout 2 --deny-dest 10.9.9.9 --deny-dest '*.denied.test' \
		--deny-dest ":9" || { cat "$SRV_LOG" >&2; return 1; }
	PROXY=127.0.0.1:$SOCKSIFYD_PORT
	export TCP_PORT UDP_PORT SRV_LOG PROXY
}

teardown_file() {
	stop_socksifyd
	stop_recorded
}

teardown() {
	assert_no_sanitizer "$SRV_LOG"
}

probe() {
	run timeout 60 "$NETNS_PY" "$TOOL" probe "$@" --proxy "$PROXY" \
		--target "127.0.0.1:$TCP_PORT" --udp-target "127.0.0.1:$UDP_PORT"
	echo "$output"
	assert_success
	refute_output --partial FAIL
}

@test "CONNECT relays and replies with the real bound address" {
	probe basic
}

@test "greeting and request split into 1-byte writes" {
	probe split
}

@test "pipelined greeting + request + data answered at once, early data kept" {
	probe pipelined
}

@test "malformed, truncated, random and oversize handshakes: right reply or a close" {
	probe malformed
	kill -0 "$SOCKSIFYD_PID"
}

@test "idle and half-open handshakes closed at the handshake deadline" {
	probe idle --deadline 2
	grep -q 'end="handshake timeout"' "$SRV_LOG"
}

@test "unknown command REP 7 and bad ATYP REP 8" {
	run timeout 30 "$NETNS_PY" "$TOOL" probe malformed --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT"
	assert_output --partial "ok unknown command: got (b'\\x05\\x00', 7)"
	assert_output --partial "ok bad ATYP: got (b'\\x05\\x00', 8)"
}

@test "refused port: REP 5 (SOCKS4: 91)" {
	local port
	port=$("$NETNS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	probe rep --dest "127.0.0.1:$port" --want 5
}

@test "NXDOMAIN (.invalid): REP 4" {
	probe rep --dest "no-such-host.invalid:80" --want 4
}

@test "denied destination: REP 2 by CIDR, by name suffix and by port" {
	probe rep --dest "10.9.9.9:80" --want 2
	probe rep --dest "www.denied.test:80" --want 2
	probe rep --dest "127.0.0.1:9" --want 2
	wait_for_line "$SRV_LOG" 'end="destination denied by rule"' 5
}

@test "half-close travels both ways" {
	probe halfclose
	wait_for_line "$BATS_FILE_TMPDIR/echo-tcp.log" '^halfclose received 12345$' 5
}

@test "BIND (SOCKS5 and SOCKS4): two replies, only the expected peer, relay" {
	probe bind
}

@test "UDP ASSOCIATE: 1 and 60000 bytes, names, strangers and FRAG dropped, ends with TCP" {
	probe udp
	wait_for_line "$SRV_LOG" 'cmd=udp.*end="control connection closed"' 5
}

@test "a session log line names client, command, destinations, bytes and result" {
	run grep -E 'session client=127\.0\.0\.1:[0-9]+ user=- ver=5 cmd=connect asked=127\.0\.0\.1:[0-9]+ dest=127\.0\.0\.1:[0-9]+ up=[0-9]+ down=[0-9]+ dur=[0-9.]+s rep=0 result="succeeded"' "$SRV_LOG"
	assert_success
}

@test "200 MB through socksifyd arrives intact (sha256, both directions)" {
	probe bulk --size 200
}

@test "the copying fallback (SOCKSIFYD_NO_SPLICE=1): half-close, slow reader, 100 MB intact" {
	local log=$BATS_TEST_TMPDIR/copy.log pid port
	SOCKSIFYD_NO_SPLICE=1 netns_bg - "$log" "$SOCKSIFYD" -l 127.0.0.1:0 --allow-local-dest -v
	pid=$NETNS_BG_PID
	wait_for_line "$log" 'listening on 127\.0\.0\.1:[0-9]+' 10
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
	local PROXY=127.0.0.1:$port
	probe halfclose
	probe pipelined
	probe bulk --size 100
	stop_socksifyd "$pid"
	assert_no_sanitizer "$log"
}

@test "SIGTERM: exit 0 and no sanitizer report (leaks included)" {
	kill -TERM "$SOCKSIFYD_PID"
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$SOCKSIFYD_PID" 2>/dev/null || break
		sleep 0.05
	done
	run kill -0 "$SOCKSIFYD_PID"
	assert_failure
	grep -q 'stopping' "$SRV_LOG"
	assert_no_sanitizer "$SRV_LOG"
}
