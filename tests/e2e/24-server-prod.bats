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

# metrics_port LOG: the port of the "metrics on 127.0.0.1:PORT" line in LOG.
metrics_port() {
	sed -n 's/.*socksifyd\[[0-9]*\]: metrics on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1"
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
