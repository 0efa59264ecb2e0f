#!/usr/bin/env bats
# Chains of proxies through the shim: 2 and 3 hops of mixed types (socksifyd for
# socks5/socks4a, a tiny HTTP CONNECT proxy for http), dynamic chains skipping a dead
# hop (and strict ones failing on it), random and round_robin with chain_len. Every
# proxy sits in the proxy namespace; each hop reaches the next on 198.18.1.2.

load '../lib/common'
load 'shim/shim'

# sessions LOG: CONNECT sessions a socksifyd -v logged (one line each, at close).
sessions() {
	grep -c 'cmd=connect asked=' "$1" 2>/dev/null || true
}

setup_file() {
	shim_setup_file
	# Hops connect to each other on the proxy's own address: allowed explicitly.
	shim_socksifyd hopA -v --allow-local-dest
	PA=$SHIM_S5_PORT
	shim_socksifyd hopB -v --allow-local-dest
	PB=$SHIM_S5_PORT
	printf 'carol:c-pw\n' >"$NETNS_DIR/users"
	shim_socksifyd hopC -v --allow-local-dest -u "$NETNS_DIR/users"
	PC=$SHIM_S5_PORT
	shim_http_proxy 3128
	shim_http_proxy 3129 dave:d-pw
	# A port nothing listens on: a dead hop.
	PDEAD=9
	export PA PB PC PDEAD
}

teardown_file() {
	netns_down
}

fetch() {
	shim_run "$@" curl -sS --max-time 10 "http://$NS_TARGET_IP/"
}

# conf NAME LINES...: a config file; prints its path.
conf() {
	local f=$NETNS_DIR/$1.conf
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

@test "2 hops: socks5 -> socks5, the last hop asks for the destination" {
	local b0
	b0=$(sessions "$NETNS_DIR/hopB.log")
	run fetch SOCKSIFY_PROXY="socks5://198.18.1.2:$PA,socks5://198.18.1.2:$PB"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	sleep 0.2
	run grep -c "asked=198.18.1.2:$PB" "$NETNS_DIR/hopA.log"
	assert_output --regexp '^[1-9]'
	[ "$(sessions "$NETNS_DIR/hopB.log")" -gt "$b0" ]
}

@test "2 hops: socks5 -> socks5 with username/password on hop 2" {
	run fetch SOCKSIFY_PROXY="socks5://198.18.1.2:$PA,socks5://carol:c-pw@198.18.1.2:$PC"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "2 hops: wrong password on hop 2 fails with EACCES naming hop 2" {
	run shim_connect SOCKSIFY_PROXY="socks5://198.18.1.2:$PA,socks5://carol:bad@198.18.1.2:$PC" \
		"$NS_TARGET_IP" 80
	assert_line --partial "result=EACCES"
	assert_line --regexp 'warn: .*hop 2 \(socks5 198\.18\.1\.2:[0-9]+\).*authentication failed'
}

@test "2 hops: http (Basic auth) -> socks4a" {
	run fetch SOCKSIFY_PROXY="http://dave:d-pw@198.18.1.2:3129,socks4a://198.18.1.2:$PB"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "http hop with a wrong password: EACCES (407)" {
	run shim_connect SOCKSIFY_PROXY="http://dave:wrong@198.18.1.2:3129" "$NS_TARGET_IP" 80
	assert_line --partial "result=EACCES"
	assert_line --partial "HTTP 407"
}

@test "3 hops: socks5 -> http -> socks4a" {
	run fetch SOCKSIFY_PROXY="socks5://198.18.1.2:$PA,http://198.18.1.2:3128,socks4a://198.18.1.2:$PB"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "3 hops: socks4a -> socks5 (auth) -> http, IPv6 destination" {
	run shim_run SOCKSIFY_PROXY="socks4a://198.18.1.2:$PA,socks5://carol:c-pw@198.18.1.2:$PC,http://198.18.1.2:3128" \
		curl -sS --max-time 10 "http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "3 hops: the echo of the data is intact end to end" {
	run shim_connect SOCKSIFY_PROXY="socks5://198.18.1.2:$PA,http://198.18.1.2:3128,socks5://198.18.1.2:$PB" \
		"$NS_TARGET_IP" 7 "chain-echo-123"
	assert_line --partial "result=OK"
	assert_line "reply=chain-echo-123"
}

@test "strict chain with a dead hop fails (negative twin of dynamic)" {
	local f
	f=$(conf strict "chain = strict" "proxy = socks5://198.18.1.2:$PA" \
		"proxy = socks5://198.18.1.2:$PDEAD" "proxy = socks5://198.18.1.2:$PB")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 80
	assert_line --partial "result=ECONNREFUSED"
	assert_line --regexp 'warn: .*hop 2 \(socks5 198\.18\.1\.2:9\)'
}

@test "dynamic chain skips a dead middle hop" {
	local f
	f=$(conf dyn "chain = dynamic" "proxy = socks5://198.18.1.2:$PA" \
		"proxy = socks5://198.18.1.2:$PDEAD" "proxy = socks5://198.18.1.2:$PB")
	run shim_run SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= curl -sS --max-time 10 "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "dynamic chain skips a dead first hop" {
	local f
	f=$(conf dyn1 "chain = dynamic" "proxy = socks5://198.18.1.2:$PDEAD" \
		"proxy = socks5://198.18.1.2:$PA")
	run shim_run SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= curl -sS --max-time 10 "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "dynamic chain skips a first hop that never answers the SYN, within connect_timeout" {
	local f
	# 198.18.1.77 is on the client's link but nobody has it: SYNs go nowhere.
	f=$(conf dynbh "chain = dynamic" "connect_timeout = 3000" \
		"proxy = socks5://198.18.1.77:1080" "proxy = socks5://198.18.1.2:$PA")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 7 "after-blackhole"
	assert_line --partial "result=OK"
	assert_line "reply=after-blackhole"
	local ms
	ms=$(sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p' <<<"$output")
	[ "$ms" -lt 3000 ]
}

@test "dynamic chain with every hop dead fails with ECONNREFUSED" {
	local f
	f=$(conf dyn0 "chain = dynamic" "proxy = socks5://198.18.1.2:$PDEAD" \
		"proxy = socks5://198.18.1.2:1")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 80
	assert_line --partial "result=ECONNREFUSED"
}

@test "dynamic chain: a refused destination is not a dead hop (no failover, ECONNREFUSED)" {
	local f
	f=$(conf dynd "chain = dynamic" "proxy = socks5://198.18.1.2:$PA" \
		"proxy = socks5://198.18.1.2:$PB")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 9
	assert_line --partial "result=ECONNREFUSED"
	refute_output --partial "skipping"
}

@test "round_robin, chain_len 1: connections alternate between the proxies" {
	local f a0 b0 a1 b1
	f=$(conf rr "chain = round_robin" "chain_len = 1" "proxy = socks5://198.18.1.2:$PA" \
		"proxy = socks5://198.18.1.2:$PB")
	a0=$(sessions "$NETNS_DIR/hopA.log")
	b0=$(sessions "$NETNS_DIR/hopB.log")
	# One process, 10 connects: the counter is per process and shared by its threads.
	run shim_run SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$SNIPPETS/threads" "$NS_TARGET_IP" 7 2 5
	assert_snippet_pass
	sleep 0.3
	a1=$(sessions "$NETNS_DIR/hopA.log")
	b1=$(sessions "$NETNS_DIR/hopB.log")
	[ $((a1 - a0)) -eq 5 ]
	[ $((b1 - b0)) -eq 5 ]
}

@test "random, chain_len 1: every connect works and both proxies get used" {
	local f a0 b0 a1 b1
	f=$(conf rnd "chain = random" "chain_len = 1" "proxy = socks5://198.18.1.2:$PA" \
		"proxy = socks5://198.18.1.2:$PB")
	a0=$(sessions "$NETNS_DIR/hopA.log")
	b0=$(sessions "$NETNS_DIR/hopB.log")
	run shim_run SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$SNIPPETS/threads" "$NS_TARGET_IP" 7 4 10
	assert_snippet_pass
	sleep 0.3
	a1=$(sessions "$NETNS_DIR/hopA.log")
	b1=$(sessions "$NETNS_DIR/hopB.log")
	[ $((a1 - a0 + b1 - b0)) -eq 40 ]
	[ $((a1 - a0)) -gt 0 ]
	[ $((b1 - b0)) -gt 0 ]
}

@test "random, chain_len 2 with a dead proxy among three: fails over, all connects work" {
	local f
	f=$(conf rnd2 "chain = random" "chain_len = 2" "proxy = socks5://198.18.1.2:$PA" \
		"proxy = socks5://198.18.1.2:$PDEAD" "proxy = socks5://198.18.1.2:$PB")
	run shim_run SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$SNIPPETS/threads" "$NS_TARGET_IP" 7 2 10
	assert_snippet_pass
}
