#!/usr/bin/env bats
# socksifyd in production: two instances behind HAProxy (send-proxy-v2, round robin)
# serving curl and UDP clients, each logging and applying its ACL to the real client
# address that the PROXY header carries; forged and malformed headers refused; PROXY v1;
# /metrics validated by promtool and matching a known load; systemd socket activation;
# --pidfile locking.

load '../lib/common'

setup_file() {
	require_file "$SOCKSIFYD"
	require_cmd haproxy
	if sfy_skipping; then return 0; fi
	netns_up
	if sfy_skipping; then return 0; fi
	A_LOG=$NETNS_DIR/socksifyd-a.log
	B_LOG=$NETNS_DIR/socksifyd-b.log
	# The balancer connects from the proxy host's own address: the only one trusted.
	# -a names the real client, never the balancer: it is the carried address that
	# must pass the allow-list.
	local common=(--proxy-protocol "$NS_PROXY_IP/32" --open -v -a "$NS_CLIENT_IP/32"
		--metrics 127.0.0.1:0)
	start_socksifyd "$NS_PROXY" "$A_LOG" --proxy-listen "$NS_PROXY_IP:0" "${common[@]}"
	A_PID=$SOCKSIFYD_PID
	A_PORT=$SOCKSIFYD_PORT
	start_socksifyd "$NS_PROXY" "$B_LOG" --proxy-listen "$NS_PROXY_IP:0" "${common[@]}"
	B_PID=$SOCKSIFYD_PID
	B_PORT=$SOCKSIFYD_PORT
	LB=$NS_PROXY_IP:1080
	netns_haproxy "$NS_PROXY" "$NETNS_DIR/haproxy.log" "$LB" send-proxy-v2 \
		"$NS_PROXY_IP:$A_PORT" "$NS_PROXY_IP:$B_PORT"
	# Per-test servers use SOCKSIFYD_PID, which teardown stops: not these two.
	SOCKSIFYD_PID=
	export A_LOG B_LOG A_PID B_PID A_PORT B_PORT LB SOCKSIFYD_PID
}

teardown_file() {
	[ -n "${A_PID:-}" ] && stop_socksifyd "$A_PID"
	[ -n "${B_PID:-}" ] && stop_socksifyd "$B_PID"
	assert_no_sanitizer "${A_LOG:-}" "${B_LOG:-}"
	netns_down
}

teardown() {
	[ -n "${SOCKSIFYD_PID:-}" ] && stop_socksifyd "$SOCKSIFYD_PID"
	[ -n "${LOG:-}" ] && assert_no_sanitizer "$LOG"
	SOCKSIFYD_PID=
	LOG=
}

ccurl() {
	in_client curl -sS --max-time 20 "$@"
}

# raw NS HOST PORT HEX: connects, sends the bytes (hex), prints what comes back in hex
# ("closed" when the server closed without a word) or "reset".
raw() {
	ip netns exec "$1" "$NETNS_PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(bytes.fromhex(sys.argv[3]))
out = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
        if len(out) >= 12:
            break
except ConnectionResetError:
    print("reset"); sys.exit(0)
except socket.timeout:
    print("timeout"); sys.exit(0)
print(out.hex() or "closed")' "$2" "$3" "$4"
}

hex() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}

# A SOCKS5 CONNECT to the target's echo port (7): greeting, request, then "ping".
socks_echo_hex() {
	printf '050100' # greeting: no auth
	printf '050100' # CONNECT, RSV
	printf '01%s0007' "$(printf '%02x' ${NS_TARGET_IP//./ })"
}

# metrics_port LOG: the port of the (last) "metrics on 127.0.0.1:PORT" line in LOG.
metrics_port() {
	sed -n 's/.*socksifyd\[[0-9]*\]: metrics on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" | tail -n 1
}

# scrape LOG: /metrics of the socksifyd that wrote LOG (its "metrics on" line).
scrape() {
	local port
	port=$(metrics_port "$1")
	[ -n "$port" ] || return 1
	in_proxy curl -sS --max-time 10 "http://127.0.0.1:$port/metrics"
}

# metric TEXT NAME{LABELS}: the value of one sample ("" when absent).
metric() {
	awk -v k="$2" '$1 == k { print $2 }' <<<"$1"
}

@test "curl through HAProxy reaches both socksifyd instances, each logging the real client" {
	local i
	for i in 1 2 3 4; do
		run ccurl --socks5 "$LB" "http://$NS_TARGET_IP/"
		assert_success
		assert_output --partial "$NETNS_MARKER"
	done
	wait_for_line "$A_LOG" "client=$NS_CLIENT_IP:[0-9]+ .*asked=$NS_TARGET_IP:80" 5
	wait_for_line "$B_LOG" "client=$NS_CLIENT_IP:[0-9]+ .*asked=$NS_TARGET_IP:80" 5
	# The balancer's own address never appears as a client.
	run grep -c "client=$NS_PROXY_IP:" "$A_LOG" "$B_LOG"
	refute_output --regexp ':[1-9]'
}

@test "without HAProxy's header the same instance refuses a direct client" {
	# The client is no trusted balancer: closed before any SOCKS byte is answered.
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$A_PORT" "$(socks_echo_hex)"
	assert_success
	assert_output --regexp '^(closed|reset)$'
	wait_for_line "$A_LOG" "$NS_CLIENT_IP:[0-9]+ is not a trusted balancer" 5
}

@test "UDP ASSOCIATE through HAProxy: datagrams from the real client are relayed" {
	local i
	# Pinned to the balancer's address, the client's datagrams would all be dropped.
	for i in 1 2; do
		run timeout 60 ip netns exec "$NS_CLIENT" "$NETNS_PY" "$BATS_TEST_DIRNAME/server/srvtool.py" probe \
			udp-basic --proxy "$LB" --udp-target "$NS_TARGET_IP:7"
		echo "$output"
		assert_success
		refute_output --partial FAIL
	done
	wait_for_line "$A_LOG" "client=$NS_CLIENT_IP:[0-9]+ .*cmd=udp .*up=[1-9]" 5
	wait_for_line "$B_LOG" "client=$NS_CLIENT_IP:[0-9]+ .*cmd=udp .*up=[1-9]" 5
}

@test "the allow-list applies to the carried address: a client not in it is refused" {
	LOG=$NETNS_DIR/socksifyd-deny.log
	start_socksifyd "$NS_PROXY" "$LOG" --proxy-listen "$NS_PROXY_IP:0" \
		--proxy-protocol "$NS_PROXY_IP/32" --open -v -a 198.18.9.9/32
	netns_haproxy "$NS_PROXY" "$NETNS_DIR/haproxy-deny.log" "$NS_PROXY_IP:1081" \
		send-proxy-v2 "$NS_PROXY_IP:$SOCKSIFYD_PORT"
	run ccurl --max-time 5 --socks5 "$NS_PROXY_IP:1081" "http://$NS_TARGET_IP/"
	assert_failure
	refute_output --partial "$NETNS_MARKER"
	wait_for_line "$LOG" "client $NS_CLIENT_IP:[0-9]+ not in the allow-list" 5
	kill -TERM "$NETNS_BG_PID"
}

@test "a forged PROXY header from an untrusted address is refused and counted" {
	local v1 v2
	v1=$(hex "PROXY TCP4 198.18.1.2 $NS_PROXY_IP 40000 $A_PORT"$'\r\n')
	v2=0d0a0d0a000d0a515549540a2111000cc6120102c61201020001$(printf '%04x' "$A_PORT")
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$A_PORT" "$v1$(socks_echo_hex)"
	assert_output --regexp '^(closed|reset)$'
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$B_PORT" "$v2$(socks_echo_hex)"
	assert_output --regexp '^(closed|reset)$'
	wait_for_line "$B_LOG" "$NS_CLIENT_IP:[0-9]+ is not a trusted balancer" 5
	run scrape "$B_LOG"
	assert_output --regexp 'socksifyd_refused_total\{reason="proxy_protocol"\} [1-9]'
}

@test "PROXY v1 from a trusted source: the session takes the carried client" {
	LOG=$NETNS_DIR/socksifyd-v1.log
	start_socksifyd "$NS_PROXY" "$LOG" --proxy-listen "$NS_PROXY_IP:0" \
		--proxy-protocol "$NS_CLIENT_IP" --open -v
	local port=$SOCKSIFYD_PORT v1
	v1=$(hex "PROXY TCP4 203.0.113.7 $NS_PROXY_IP 5555 $port"$'\r\n')
	# Header, greeting and request pipelined in one segment: the reply comes.
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$port" "$v1$(socks_echo_hex)"
	assert_output --regexp '^05000500'
	wait_for_line "$LOG" "client=203\.0\.113\.7:5555 " 5
	# v2 LOCAL (a health check): the connection's own address stands.
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$port" "0d0a0d0a000d0a515549540a20000000$(socks_echo_hex)"
	assert_output --regexp '^05000500'
	wait_for_line "$LOG" "client=$NS_CLIENT_IP:[0-9]+ " 5
}

@test "a malformed or truncated PROXY header from a trusted source closes the connection" {
	LOG=$NETNS_DIR/socksifyd-bad.log
	start_socksifyd "$NS_PROXY" "$LOG" --proxy-listen "$NS_PROXY_IP:0" \
		--proxy-protocol "$NS_CLIENT_IP" --open -v --handshake-timeout 2
	local port=$SOCKSIFYD_PORT
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$port" "$(hex "PROXY TCP4 1.2.3.4 x 1 2"$'\r\n')"
	assert_output --regexp '^(closed|reset)$'
	wait_for_line "$LOG" "PROXY header from $NS_CLIENT_IP:[0-9]+: oversize or malformed" 5
	# No header at all: a SOCKS greeting is not one.
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$port" "$(socks_echo_hex)"
	assert_output --regexp '^(closed|reset)$'
	wait_for_line "$LOG" "PROXY header from .*: wrong protocol version" 5
	# Half a header, then silence: closed at the handshake timeout.
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$port" "$(hex "PROXY TCP4 1.2")"
	assert_output --regexp '^(closed|reset)$'
	wait_for_line "$LOG" "no header in time" 5
}

@test "--proxy-listen without --proxy-protocol, and the reverse, are refused" {
	run "$SOCKSIFYD" --proxy-listen 127.0.0.1:0
	assert_failure 2
	assert_output --partial "needs --proxy-protocol"
	run "$SOCKSIFYD" -l 127.0.0.1:0 --proxy-protocol 10.0.0.0/8
	assert_failure 2
	run "$SOCKSIFYD" --proxy-listen 127.0.0.1:0 --proxy-protocol 10.0.0.0/33
	assert_failure 2
	assert_output --partial "not an address or CIDR"
}

@test "/metrics passes promtool and its counters match a known load" {
	require_cmd promtool
	LOG=$NETNS_DIR/socksifyd-metrics.log
	printf 'alice:s3cret\n' >"$NETNS_DIR/users"
	start_socksifyd "$NS_PROXY" "$LOG" -l "$NS_PROXY_IP:0" -u "$NETNS_DIR/users" -v \
		--deny-dest "$NS_TARGET_IP:9" --metrics 127.0.0.1:0
	local p=$NS_PROXY_IP:$SOCKSIFYD_PORT i m size
	size=$(stat -c %s "$NETNS_DIR/www/index.html")
	for i in 1 2 3 4 5; do
		ccurl -o /dev/null --proxy "socks5://alice:s3cret@$p" "http://$NS_TARGET_IP/"
	done
	for i in 1 2; do
		run ccurl --proxy "socks5://alice:s3cret@$p" "http://$NS_TARGET_IP:1/"
		assert_failure
	done
	run ccurl --proxy "socks5://alice:s3cret@$p" "http://$NS_TARGET_IP:9/"
	assert_failure
	run ccurl --proxy "socks5://alice:wrong@$p" "http://$NS_TARGET_IP/"
	assert_failure
	wait_for_line "$LOG" "end=\"authentication failed\"" 5
	m=$(scrape "$LOG")
	echo "$m" | grep -v '^#'
	run promtool check metrics <<<"$m"
	assert_success
	[ "$(metric "$m" 'socksifyd_sessions_total{command="connect",result="succeeded"}')" = 5 ]
	[ "$(metric "$m" 'socksifyd_sessions_total{command="connect",result="failed"}')" = 3 ]
	[ "$(metric "$m" 'socksifyd_replies_total{version="5",code="0"}')" = 5 ]
	[ "$(metric "$m" 'socksifyd_replies_total{version="5",code="5"}')" = 2 ]
	[ "$(metric "$m" 'socksifyd_replies_total{version="5",code="2"}')" = 1 ]
	[ "$(metric "$m" 'socksifyd_refused_total{reason="policy"}')" = 1 ]
	[ "$(metric "$m" 'socksifyd_auth_failures_total')" = 1 ]
	[ "$(metric "$m" 'socksifyd_handshake_seconds_count')" = 8 ]
	[ "$(metric "$m" 'socksifyd_connect_seconds_count')" = 5 ]
	[ "$(metric "$m" 'socksifyd_connect_seconds_bucket{le="+Inf"}')" = 5 ]
	[ "$(metric "$m" 'socksifyd_bytes_total{direction="down"}')" -ge $((5 * size)) ]
	[ "$(metric "$m" 'socksifyd_sessions_open{command="connect"}')" = 0 ]
	[ "$(metric "$m" 'socksifyd_workers')" -ge 1 ]
	[ "$(metric "$m" 'socksifyd_fds_open')" -gt 3 ]
	[ "$(metric "$m" 'socksifyd_fds_limit')" -gt 0 ]
	# Anything but GET /metrics: a clear no.
	run in_proxy curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(metrics_port "$LOG")/other"
	assert_output 404
}

@test "a stalled /metrics client does not hold up the SOCKS service" {
	LOG=$NETNS_DIR/socksifyd-stall.log
	start_socksifyd "$NS_PROXY" "$LOG" -l "$NS_PROXY_IP:0" --open --metrics 127.0.0.1:0
	local mport
	mport=$(metrics_port "$LOG")
	# Half a request, never finished, held open while a client is served.
	in_proxy "$NETNS_PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metr")
time.sleep(8)' "$mport" &
	local stall=$!
	sleep 0.3
	run ccurl --max-time 5 --socks5 "$NS_PROXY_IP:$SOCKSIFYD_PORT" "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run scrape "$LOG"
	assert_output --partial socksifyd_sessions_total
	kill "$stall" 2>/dev/null || true
	wait "$stall" 2>/dev/null || true
}

@test "--metrics on a non-loopback address needs --open" {
	run "$SOCKSIFYD" -l 127.0.0.1:0 --metrics 0.0.0.0:0
	assert_failure 2
	assert_output --partial "needs --open"
}

# srvprobe NAME ARGS...: a srvtool probe from the proxy namespace (loopback listeners).
srvprobe() {
	run timeout 90 ip netns exec "$NS_PROXY" "$NETNS_PY" "$BATS_TEST_DIRNAME/server/srvtool.py" \
		probe "$@"
	echo "$output"
	assert_success
	refute_output --partial FAIL
}

@test "workers: new sessions spread over all of them, and /metrics says so" {
	LOG=$NETNS_DIR/socksifyd-w.log
	start_socksifyd "$NS_PROXY" "$LOG" -w 3 -l "$NS_PROXY_IP:0" --open -v --metrics 127.0.0.1:0
	local p=$NS_PROXY_IP:$SOCKSIFYD_PORT i m w n
	for i in $(seq 1 30); do
		ccurl -o /dev/null --socks5 "$p" "http://$NS_TARGET_IP/"
	done
	m=$(scrape "$LOG")
	echo "$m" | grep -E '^socksifyd_worker|^socksifyd_workers'
	[ "$(metric "$m" socksifyd_workers)" = 3 ]
	for w in 0 1 2; do
		n=$(metric "$m" "socksifyd_worker_sessions_total{worker=\"$w\"}")
		[ "${n:-0}" -ge 1 ]
	done
	[ "$(metric "$m" 'socksifyd_sessions_total{command="connect",result="succeeded"}')" = 30 ]
	grep -q "serving: 3 workers" "$LOG"
}

@test "workers: --max-sessions is exact across them (flood past it)" {
	LOG=$NETNS_DIR/socksifyd-wcap.log
	start_socksifyd "$NS_PROXY" "$LOG" -w 4 -l 127.0.0.1:0 -v --max-sessions 12
	srvprobe flood --proxy "127.0.0.1:$SOCKSIFYD_PORT" --target "$NS_TARGET_IP:7" --hold 12 \
		--extra 40
}

@test "workers: --max-per-client is exact across them" {
	LOG=$NETNS_DIR/socksifyd-wpc.log
	start_socksifyd "$NS_PROXY" "$LOG" -w 4 -l 127.0.0.1:0 -v --max-per-client 3
	local i
	# Each round lands its sessions on workers at random: a per-worker count would let
	# a 4th through sooner or later.
	for i in 1 2 3; do
		srvprobe perclient --proxy "127.0.0.1:$SOCKSIFYD_PORT" --target "$NS_TARGET_IP:7" \
			--hold 3 --other 127.0.0.2
	done
}

@test "workers: SIGHUP reaches every worker (new password everywhere, old nowhere)" {
	LOG=$NETNS_DIR/socksifyd-whup.log
	printf 'alice:old\n' >"$NETNS_DIR/users-w"
	start_socksifyd "$NS_PROXY" "$LOG" -w 3 -l "$NS_PROXY_IP:0" -u "$NETNS_DIR/users-w" -v \
		--metrics 127.0.0.1:0
	local p=$NS_PROXY_IP:$SOCKSIFYD_PORT i m w ok=0 bad=0
	printf 'alice:new\n' >"$NETNS_DIR/users-w"
	kill -HUP "$SOCKSIFYD_PID"
	for w in 0 1 2; do
		wait_for_line "$LOG" "worker $w: reloaded users and ACL in force" 5
	done
	for i in $(seq 1 15); do
		ccurl -o /dev/null --proxy "socks5://alice:new@$p" "http://$NS_TARGET_IP/" && ok=$((ok + 1))
		ccurl -o /dev/null --proxy "socks5://alice:old@$p" "http://$NS_TARGET_IP/" 2>/dev/null &&
			bad=$((bad + 1))
	done
	echo "new password: $ok of 15; old password: $bad of 15"
	[ "$ok" = 15 ] && [ "$bad" = 0 ]
	m=$(scrape "$LOG")
	for w in 0 1 2; do
		[ "$(metric "$m" "socksifyd_worker_reloads_total{worker=\"$w\"}")" = 1 ]
		[ "$(metric "$m" "socksifyd_worker_sessions_total{worker=\"$w\"}")" -ge 1 ]
	done
}

@test "workers: UDP ASSOCIATE and BIND work with several workers" {
	LOG=$NETNS_DIR/socksifyd-wudp.log
	start_socksifyd "$NS_PROXY" "$LOG" -w 4 -l 127.0.0.1:0 -v --allow-local-dest
	local i
	for i in 1 2 3 4; do
		srvprobe udp-basic --proxy "127.0.0.1:$SOCKSIFYD_PORT" --udp-target "$NS_TARGET_IP:7"
	done
	srvprobe bind --proxy "127.0.0.1:$SOCKSIFYD_PORT"
}

@test "workers: SIGUSR1 logs the counters of all of them, and SIGTERM ends every one" {
	LOG=$NETNS_DIR/socksifyd-wusr.log
	start_socksifyd "$NS_PROXY" "$LOG" -w 3 -l "$NS_PROXY_IP:0" --open
	local i
	for i in 1 2 3 4 5 6; do
		ccurl -o /dev/null --socks5 "$NS_PROXY_IP:$SOCKSIFYD_PORT" "http://$NS_TARGET_IP/"
	done
	kill -USR1 "$SOCKSIFYD_PID"
	wait_for_line "$LOG" 'counters: sessions active=0 total=6 .*; workers 3 of 3' 5
	run stop_socksifyd
	assert_success
	SOCKSIFYD_PID=
	grep -q "stopping" "$LOG"
}

@test "-w: a bad count is refused" {
	local bad
	for bad in 0 -1 x 100000; do
		run "$SOCKSIFYD" -w "$bad"
		assert_failure 2
		assert_output --partial "--workers"
	done
}

# free_port NS ADDR: a TCP port nothing listens on right now in NS.
free_port() {
	ip netns exec "$1" "$NETNS_PY" -c '
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "$2"
}

@test "socket activation: it listens on the sockets given, named, and nothing else" {
	require_cmd systemd-socket-activate
	LOG=$NETNS_DIR/socksifyd-sa.log
	local sp mp pp i
	sp=$(free_port "$NS_PROXY" "$NS_PROXY_IP")
	mp=$(free_port "$NS_PROXY" 127.0.0.1)
	pp=$(free_port "$NS_PROXY" "$NS_PROXY_IP")
	# -l here must be ignored: the handed sockets are the whole truth.
	netns_bg "$NS_PROXY" "$LOG" systemd-socket-activate -l "$NS_PROXY_IP:$sp" \
		-l "127.0.0.1:$mp" -l "$NS_PROXY_IP:$pp" --fdname=socks:metrics:proxy \
		"$SOCKSIFYD" -v --open -l 127.0.0.1:0 --proxy-protocol "$NS_PROXY_IP" -w 2
	SOCKSIFYD_PID=$NETNS_BG_PID
	wait_for_port "$NS_PROXY" "$NS_PROXY_IP" "$sp" 10
	# systemd-socket-activate execs socksifyd at the first connection.
	run ccurl --socks5 "$NS_PROXY_IP:$sp" "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	wait_for_line "$LOG" "listening on $NS_PROXY_IP:$sp" 5
	wait_for_line "$LOG" "metrics on 127\.0\.0\.1:$mp" 5
	wait_for_line "$LOG" "listening on $NS_PROXY_IP:$pp" 5
	# Nothing else: no 127.0.0.1 listener from -l, and the socket set is exactly ours.
	run grep -Ec "socksifyd\[[0-9]+\]: listening on" "$LOG"
	assert_output 2
	run ip netns exec "$NS_PROXY" ss -Htlnp
	echo "$output"
	[ "$(grep -c "pid=$SOCKSIFYD_PID," <<<"$output")" = 3 ]
	# The socket named proxy wants a PROXY header: a direct SOCKS client is refused.
	run raw "$NS_CLIENT" "$NS_PROXY_IP" "$pp" "$(socks_echo_hex)"
	assert_output --regexp '^(closed|reset)$'
	run in_proxy curl -sS --max-time 5 "http://127.0.0.1:$mp/metrics"
	assert_output --partial 'socksifyd_workers 2'
}

@test "socket activation: a socket that is not a listening TCP socket is refused" {
	run bash -c 'exec env LISTEN_FDS=1 LISTEN_PID=$$ "$0" 3</dev/null' "$SOCKSIFYD"
	assert_failure 2
	assert_output --partial "not a listening TCP socket"
}

@test "--pidfile is locked: a second instance on the same file refuses and names the holder" {
	LOG=$NETNS_DIR/socksifyd-pid.log
	start_socksifyd "$NS_PROXY" "$LOG" -l 127.0.0.1:0 --pidfile "$NETNS_DIR/sd.pid"
	run cat "$NETNS_DIR/sd.pid"
	assert_output "$SOCKSIFYD_PID"
	run timeout 10 ip netns exec "$NS_PROXY" "$SOCKSIFYD" -l 127.0.0.1:0 --pidfile "$NETNS_DIR/sd.pid"
	assert_failure 1
	assert_output --partial "held by process $SOCKSIFYD_PID"
	refute_output --partial "listening on"
	# The first one still owns it, and removes it at exit.
	run cat "$NETNS_DIR/sd.pid"
	assert_output "$SOCKSIFYD_PID"
	stop_socksifyd
	SOCKSIFYD_PID=
	[ ! -e "$NETNS_DIR/sd.pid" ]
}

@test "upgrade (SIGUSR2) in the middle of a 200 MB transfer: it arrives intact" {
	LOG=$NETNS_DIR/socksifyd-up.log
	make_file up.bin 200
	start_socksifyd "$NS_PROXY" "$LOG" -w 2 -l "$NS_PROXY_IP:0" --open -v \
		--metrics 127.0.0.1:0 --pidfile "$NETNS_DIR/up.pid"
	local old=$SOCKSIFYD_PID p=$NS_PROXY_IP:$SOCKSIFYD_PORT new cpid i
	# About 5 s at 40 MB/s: the upgrade lands in the middle.
	in_client curl -sS --max-time 120 --limit-rate 40M --socks5 "$p" \
		"http://$NS_TARGET_IP/up.bin" -o "$NETNS_DIR/up.out" 2>"$NETNS_DIR/up.err" &
	cpid=$!
	sleep 1.5
	kill -USR2 "$old"
	wait_for_line "$LOG" "upgrade: process [0-9]+ serves now" 10
	new=$(sed -n 's/.*upgrade: process \([0-9]*\) serves now.*/\1/p' "$LOG")
	echo "$new" >>"$(netns_pidfile)"
	SOCKSIFYD_PID=$new
	[ "$new" != "$old" ]
	kill -0 "$new"
	# The old one is still relaying the transfer; new connections go to the new one.
	kill -0 "$old"
	run ccurl --socks5 "$p" "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	wait_for_line "$LOG" "socksifyd\[$new\]: info: session client=" 5
	run cat "$NETNS_DIR/up.pid"
	assert_output "$new"
	run scrape "$LOG"
	assert_output --partial "socksifyd_workers 2"
	wait "$cpid"
	cat "$NETNS_DIR/up.err"
	[ "$(sha256sum <"$NETNS_DIR/up.out" | cut -d' ' -f1)" = "$(cat "$NETNS_DIR/www/up.bin.sha256")" ]
	# Its last session done, the old process exits by itself.
	for ((i = 0; i < 100; i++)); do
		kill -0 "$old" 2>/dev/null || break
		sleep 0.1
	done
	run kill -0 "$old"
	assert_failure
	grep -Eq "socksifyd\[$old\]: info: session client=.*asked=$NS_TARGET_IP:80 .*down=2097[0-9]{5} " "$LOG"
	rm -f "$NETNS_DIR/www/up.bin" "$NETNS_DIR/up.out"
}

@test "upgrade to a binary that fails: the old process serves on" {
	LOG=$NETNS_DIR/socksifyd-upfail.log
	# A users file that the new process cannot read makes it fail at start.
	printf 'alice:pw\n' >"$NETNS_DIR/users-up"
	start_socksifyd "$NS_PROXY" "$LOG" -l 127.0.0.1:0 -u "$NETNS_DIR/users-up" -v
	rm -f "$NETNS_DIR/users-up"
	kill -USR2 "$SOCKSIFYD_PID"
	wait_for_line "$LOG" "upgrade: the new process did not start serving; this one serves on" 10
	kill -0 "$SOCKSIFYD_PID"
	run timeout 20 ip netns exec "$NS_PROXY" curl -sS --max-time 10 \
		--proxy "socks5://alice:pw@127.0.0.1:$SOCKSIFYD_PORT" "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "/metrics: UDP datagrams relayed each way, counted exactly" {
	LOG=$NETNS_DIR/socksifyd-mudp.log
	start_socksifyd "$NS_PROXY" "$LOG" -l 127.0.0.1:0 -w 2 --metrics 127.0.0.1:0
	local m
	srvprobe udp-basic --proxy "127.0.0.1:$SOCKSIFYD_PORT" --udp-target "$NS_TARGET_IP:7"
	wait_for_line "$LOG" "metrics on" 1
	for _ in $(seq 50); do
		m=$(scrape "$LOG")
		[ "$(metric "$m" 'socksifyd_sessions_open{command="udp"}')" = 0 ] && break
		sleep 0.1
	done
	echo "$m" | grep -E '^socksifyd_(udp|sessions_total\{command="udp")'
	[ "$(metric "$m" 'socksifyd_udp_datagrams_total{direction="up"}')" = 2 ]
	[ "$(metric "$m" 'socksifyd_udp_datagrams_total{direction="down"}')" = 2 ]
	[ "$(metric "$m" 'socksifyd_sessions_total{command="udp",result="succeeded"}')" = 1 ]
	[ "$(metric "$m" 'socksifyd_bytes_total{direction="up"}')" = 60001 ]
	run grep -E '^socksifyd_udp_dropped_total\{reason="[a-z]+"\} [1-9]' <<<"$m"
	assert_failure
}

@test "workers: a failed worker is not silent, and the others take its clients" {
	LOG=$NETNS_DIR/socksifyd-wfail.log
	SOCKSIFYD_FAIL_WORKER=1 start_socksifyd "$NS_PROXY" "$LOG" -w 2 -l "$NS_PROXY_IP:0" --open \
		--metrics 127.0.0.1:0
	wait_for_line "$LOG" "error: worker 1 stopped: its loop ended; 1 of 2 workers left" 5
	local i ok=0 m
	for i in $(seq 1 12); do
		ccurl -o /dev/null --max-time 5 --socks5 "$NS_PROXY_IP:$SOCKSIFYD_PORT" \
			"http://$NS_TARGET_IP/" && ok=$((ok + 1))
	done
	echo "served: $ok of 12"
	[ "$ok" = 12 ]
	m=$(scrape "$LOG")
	[ "$(metric "$m" socksifyd_workers)" = 1 ]
	[ "$(metric "$m" socksifyd_workers_configured)" = 2 ]
	[ "$(metric "$m" 'socksifyd_worker_sessions_total{worker="0"}')" = 12 ]
}
