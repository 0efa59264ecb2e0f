#!/usr/bin/env bats
# Proves the namespace topology the other suites stand on: the client reaches only the
# proxy, the proxy reaches every target service, the client's DNS goes to the canary,
# and netns_down leaves nothing behind.

load '../lib/common'

setup_file() {
	netns_up
	if sfy_skipping; then return 0; fi
}

teardown_file() {
	netns_down
}

@test "client reaches the proxy over IPv4 and IPv6" {
	require_cmd ping
	run in_client ping -c 1 -W 1 "$NS_PROXY_IP"
	assert_success
	run in_client ping -6 -c 1 -W 1 "$NS_PROXY_IP6"
	assert_success
}

@test "client cannot ping the target (no route)" {
	require_cmd ping
	run in_client ping -c 1 -W 1 "$NS_TARGET_IP"
	assert_failure
	run in_client ping -6 -c 1 -W 1 "$NS_TARGET_IP6"
	assert_failure
}

@test "client cannot reach the target's HTTP over TCP, IPv4 or IPv6" {
	run in_client curl -sS --max-time 2 "http://$NS_TARGET_IP/"
	assert_failure
	refute_output --partial "$NETNS_MARKER"
	run in_client curl -sS --max-time 2 "http://[$NS_TARGET_IP6]/"
	assert_failure
}

@test "client cannot reach the target's UDP echo" {
	run in_client "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 7 64 1
	assert_failure
	run in_client "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP6" 7 64 1
	assert_failure
}

@test "client cannot reach the target even with a route via the proxy (no forwarding)" {
	run in_proxy sysctl -n net.ipv4.ip_forward
	assert_output 0
	run in_proxy sysctl -n net.ipv6.conf.all.forwarding
	assert_output 0
	run in_target ip route get "$NS_CLIENT_IP"
	assert_failure
	# Tests in a file run one at a time, so a route added here for a moment is seen
	# by nobody else; it goes away whatever the outcome.
	in_client ip route add 198.18.2.0/24 via "$NS_PROXY_IP"
	run in_client curl -sS --max-time 2 "http://$NS_TARGET_IP/"
	in_client ip route del 198.18.2.0/24 via "$NS_PROXY_IP"
	assert_failure
	refute_output --partial "$NETNS_MARKER"
}

@test "proxy fetches the target's page over IPv4 and IPv6" {
	run in_proxy curl -sS --max-time 5 "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run in_proxy curl -sS --max-time 5 "http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "make_file serves a generated file whose sha256 matches" {
	make_file t1.bin 1
	run bash -c "ip netns exec '$NS_PROXY' curl -sS --max-time 10 http://$NS_TARGET_IP/t1.bin | sha256sum"
	assert_success
	assert_output --partial "$(cat "$NETNS_DIR/www/t1.bin.sha256")"
}

@test "proxy reaches the TCP echo over IPv4 and IPv6" {
	# ncat half-closes on stdin EOF and the echo server closes after echoing.
	run bash -c "printf 'hello-echo\n' | timeout 5 ip netns exec '$NS_PROXY' ncat -w 2 $NS_TARGET_IP 7"
	assert_success
	assert_output --partial hello-echo
	run bash -c "printf 'hello6\n' | timeout 5 ip netns exec '$NS_PROXY' ncat -w 2 $NS_TARGET_IP6 7"
	assert_success
	assert_output --partial hello6
}

@test "proxy reaches the UDP echo with small and maximum-size datagrams" {
	run in_proxy "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 7 64
	assert_success
	run in_proxy "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 7 65507
	assert_success
	run in_proxy "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP6" 7 65000
	assert_success
}

@test "proxy resolves target.test A and AAAA at the target's dnsmasq" {
	run in_proxy dig +short +time=2 +tries=1 @"$NS_TARGET_IP" target.test A
	assert_success
	assert_output "$NS_TARGET_IP"
	run in_proxy dig +short +time=2 +tries=1 @"$NS_TARGET_IP" target.test AAAA
	assert_success
	assert_output "$NS_TARGET_IP6"
	run in_proxy dig +short +time=2 +tries=1 @"$NS_TARGET_IP6" target.test AAAA
	assert_output "$NS_TARGET_IP6"
}

@test "proxy's own resolver (resolv.conf) finds target.test" {
	run in_proxy getent ahostsv4 target.test
	assert_success
	assert_output --partial "$NS_TARGET_IP"
}

@test "a lookup in the client namespace is counted by the canary and fails" {
	local before after
	before=$(canary_count)
	run in_client getent hosts leak-check.test
	assert_failure
	after=$(canary_count)
	[ "$after" -gt "$before" ]
	grep -q 'leak-check.test' "$NETNS_DIR/canary.log"
}

@test "the canary also counts a TCP query" {
	local before
	before=$(canary_count)
	run in_client dig +tcp +time=2 +tries=1 @"$NS_CANARY_IP" tcp-leak.test A
	assert_output --partial REFUSED
	[ "$(canary_count)" -gt "$before" ]
}

@test "netns_down removes namespaces, /etc/netns dirs and processes; twice is fine" {
	local pids ns
	pids=$(cat "$NETNS_DIR/pids")
	local c=$NS_CLIENT p=$NS_PROXY t=$NS_TARGET dir=$NETNS_DIR
	netns_down
	for ns in "$c" "$p" "$t"; do
		run ip netns list
		refute_output --partial "$ns"
		[ ! -e "/etc/netns/$ns" ]
	done
	for pid in $pids; do
		! kill -0 "$pid" 2>/dev/null
	done
	[ ! -e "$dir" ]
	netns_down
}
