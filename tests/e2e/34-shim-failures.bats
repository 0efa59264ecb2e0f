#!/usr/bin/env bats
# How the shim fails, and that it fails fast and precisely: proxy down, a proxy that
# never answers, unreachable hops and destinations, block and direct rules, a bad
# configuration (the program keeps running); and the bulk cases: 200 MB intact and
# 50 parallel transfers.

load '../lib/common'
load 'shim/shim'

setup_file() {
	shim_setup_file
	shim_socksifyd s5
	S5=$SHIM_S5_PORT
	shim_silent_server 1099
	export S5
}

teardown_file() {
	netns_down
}

# conf NAME LINES...: a config file; prints its path.
conf() {
	local f=$NETNS_DIR/$1.conf
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

elapsed() {
	sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p' <<<"$output" | head -n 1
}

@test "proxy down: ECONNREFUSED at once, one warn line naming the hop" {
	run shim_connect SOCKSIFY_PROXY="socks5://198.18.1.2:1" "$NS_TARGET_IP" 80
	assert_line --partial "result=ECONNREFUSED"
	[ "$(elapsed)" -lt 1000 ]
	assert_line --regexp '^socksify\[[0-9]+\]: warn: connect to 198\.18\.2\.2:80 failed: hop 1 \(socks5 198\.18\.1\.2:1\): connect: Connection refused$'
	[ "$(grep -c '^socksify\[' <<<"$output")" -eq 1 ]
}

@test "a proxy that accepts and never answers: ETIMEDOUT within connect_timeout" {
	local f
	f=$(conf silent "proxy = socks5://198.18.1.2:1099" "connect_timeout = 1000")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 80
	assert_line --partial "result=ETIMEDOUT"
	[ "$(elapsed)" -ge 900 ]
	[ "$(elapsed)" -lt 2500 ]
	assert_line --partial "timed out in S5_RECV_METHOD"
}

@test "a non-blocking connect to a silent proxy also ends within connect_timeout" {
	local f
	f=$(conf silent-nb "proxy = socks5://198.18.1.2:1099" "connect_timeout = 1000")
	run timeout 10 ip netns exec "$NS_CLIENT" env LD_PRELOAD="$SOCKSIFY_LIB" \
		SOCKSIFY_CONF="$f" "$SNIPPETS/nb_poll" "$NS_TARGET_IP" 80 ETIMEDOUT
	assert_snippet_pass
}

@test "a proxy that answers garbage: ECONNREFUSED at once, the message says why" {
	shim_faulty_server 1097 "474554202f20485454502f312e300d0a"
	run shim_connect SOCKSIFY_PROXY="socks5://198.18.1.2:1097" "$NS_TARGET_IP" 80
	assert_line --partial "result=ECONNREFUSED"
	[ "$(elapsed)" -lt 1000 ]
	assert_line --partial "bad method reply"
}

@test "a proxy that closes at once: ECONNREFUSED, says the proxy closed" {
	shim_faulty_server 1098 ""
	run shim_connect SOCKSIFY_PROXY="socks5://198.18.1.2:1098" "$NS_TARGET_IP" 80
	assert_line --partial "result=ECONNREFUSED"
	assert_line --regexp "closed by the proxy|Connection reset"
}

@test "a silent second hop: ETIMEDOUT within connect_timeout for the whole chain" {
	local f
	# socksifyd must be allowed to reach its own address for this chain.
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5local.log" --open -l 198.18.1.2:0 \
		--allow-local-dest
	f=$(conf silent2 "proxy = socks5://198.18.1.2:$SOCKSIFYD_PORT" \
		"proxy = socks5://198.18.1.2:1099" "connect_timeout = 1000")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 80
	assert_line --partial "result=ETIMEDOUT"
	[ "$(elapsed)" -lt 2500 ]
	assert_line --partial "hop 2"
}

@test "an IPv6 destination through a socks4a proxy: ENETUNREACH, says why" {
	run shim_connect SOCKSIFY_PROXY="socks4a://198.18.1.2:$S5" "$NS_TARGET_IP6" 80
	assert_line --partial "result=ENETUNREACH"
	assert_line --partial "SOCKS4 cannot carry IPv6"
}

@test "a first hop that never answers the SYN: ETIMEDOUT within connect_timeout" {
	local f
	# 198.18.1.77 is on the client's link but nobody has it: no ARP answer.
	f=$(conf nosyn "proxy = socks5://198.18.1.77:1080" "connect_timeout = 800")
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 80
	assert_line --partial "result=ETIMEDOUT"
	[ "$(elapsed)" -lt 2000 ]
}

@test "a first hop on no route: ENETUNREACH" {
	run shim_connect SOCKSIFY_PROXY="socks5://10.99.0.1:1080" "$NS_TARGET_IP" 80
	assert_line --partial "result=ENETUNREACH"
}

@test "the proxy cannot reach the destination's network: ENETUNREACH" {
	run shim_connect 10.77.0.1 80
	assert_line --partial "result=ENETUNREACH"
	assert_line --partial "network unreachable"
}

@test "the proxy cannot reach the destination host: EHOSTUNREACH" {
	# 198.18.2.99 is on the proxy's target link, but no one answers ARP (~3 s).
	run shim_connect 198.18.2.99 80
	assert_line --partial "result=EHOSTUNREACH"
}

@test "the destination refuses: ECONNREFUSED" {
	run shim_connect "$NS_TARGET_IP" 9
	assert_line --partial "result=ECONNREFUSED"
}

@test "block rule: EACCES, nothing sent; other destinations still work" {
	local f n0
	f=$(conf block "proxy = $SHIM_PROXY" "block = $NS_TARGET_IP:7")
	n0=$(grep -c 'asked=198.18.2.2:7 ' "$NETNS_DIR/s5.log" || true)
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 7
	assert_line --partial "result=EACCES"
	assert_line --partial "block rule"
	run shim_connect SOCKSIFY_CONF="$f" SOCKSIFY_PROXY= "$NS_TARGET_IP" 80
	assert_line --partial "result=OK"
	[ "$(grep -c 'asked=198.18.2.2:7 ' "$NETNS_DIR/s5.log" || true)" = "$n0" ]
}

@test "direct rule (SOCKSIFY_DIRECT): the connect goes direct, so the target is unreachable" {
	run shim_connect SOCKSIFY_DIRECT="198.18.2.0/24" "$NS_TARGET_IP" 80
	assert_line --partial "result=ENETUNREACH"
	refute_output --partial "socksify["
}

# direct_web: a web server on the client's own address (198.18.1.1:8282) and the name
# web.direct.test for it in the client's hosts file. The proxy reaches it too, so
# which way a fetch went is told by the library's debug log: a dial through the
# proxy logs its states, a direct connect nothing.
direct_web() {
	local www=$NETNS_DIR/direct-www
	[ -f "$www/index.html" ] && return 0
	mkdir -p "$www/http:/web.direct.test:8282"
	echo direct-page >"$www/index.html"
	# curl -x sends the absolute URL as the path: the same page there.
	echo direct-page >"$www/http:/web.direct.test:8282/index.html"
	netns_bg "$NS_CLIENT" "$NETNS_DIR/direct-httpd.log" "$NETNS_PY" "$NETNS_LIB_DIR/httpd.py" \
		8282 "$www"
	wait_for_line "$NETNS_DIR/direct-httpd.log" '^httpd ready' 10
	shim_hosts web.direct.test 198.18.1.1
}

# direct_fetch CONF [CURL ARGS...]: curl http://web.direct.test:8282/ under the shim
# with debug logging.
direct_fetch() {
	local f=$1
	shift
	shim_run SOCKSIFY_CONF="$f" SOCKSIFY_LOG=debug curl -sS --max-time 5 "$@" \
		http://web.direct.test:8282/
}

@test "direct *.suffix rule holds for a name the hosts file resolves (issue 8)" {
	direct_web
	local f
	f=$(conf direct-suffix "direct = *.direct.test")
	run direct_fetch "$f"
	assert_success
	assert_line "direct-page"
	refute_output --partial "dial_set_state"
	# The program's own proxy given by that name: direct too.
	run direct_fetch "$f" -x http://web.direct.test:8282
	assert_success
	assert_line "direct-page"
	refute_output --partial "dial_set_state"
	# A host rule, under dns=local as well.
	f=$(conf direct-host "direct = web.direct.test" "dns = local")
	run direct_fetch "$f"
	assert_success
	assert_line "direct-page"
	refute_output --partial "dial_set_state"
}

@test "... and its twins: without the rule through the proxy; a block rule by name refuses" {
	direct_web
	local f
	f=$(conf direct-none "direct = *.other.test")
	run direct_fetch "$f"
	assert_success
	assert_line "direct-page"
	assert_output --partial "DIAL_DONE"
	f=$(conf block-host "block = web.direct.test" "dns = local")
	run direct_fetch "$f"
	assert_failure
	assert_output --partial "198.18.1.1:8282 refused: a block rule matches"
}

@test "loopback is always direct, even with the proxy down" {
	run shim_run SOCKSIFY_PROXY="socks5://198.18.1.2:1" "$NETNS_PY" -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname(), timeout=3)
print("loopback-ok")'
	assert_success
	assert_output "loopback-ok"
}

@test "bad config: the program runs on, its proxied connects fail with a clear message" {
	run shim_run SOCKSIFY_PROXY="bogus://nowhere" "$NETNS_PY" -c '
import errno, socket
s = socket.socket()
rc = s.connect_ex(("198.18.2.2", 80))
print("connect:", errno.errorcode.get(rc, rc))
u = socket.socket(socket.AF_UNIX); u2 = socket.socketpair()
print("still-running")'
	assert_success
	assert_line "connect: ECONNREFUSED"
	assert_line "still-running"
	assert_line --regexp '^socksify\[[0-9]+\]: error: bad configuration.*bogus'
}

@test "an AF_INET socket cannot reach an IPv6-only first hop: ENETUNREACH, says why" {
	run shim_connect SOCKSIFY_PROXY="socks5://[fd00:1::2]:$SHIM_S5_PORT6" "$NS_TARGET_IP" 80
	assert_line --partial "result=ENETUNREACH"
	assert_line --partial "no address in the socket's family"
}

@test "quiet and cheap when never connecting: no output, one thread" {
	run shim_run "$NETNS_PY" -c '
for l in open("/proc/self/status"):
    if l.startswith("Threads:"): print(l.split()[1])'
	assert_success
	assert_output "1"
}

@test "the library exports only the interposed calls (those in libsocksify.map)" {
	local want got
	want=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z_0-9]*\);$/\1/p' "$SFY_TOP/preload/libsocksify.map" |
		sort | tr '\n' ' ')
	got=$(nm -D --defined-only "$SOCKSIFY_LIB" | awk '{print $3}' | sort | tr '\n' ' ')
	[ "$got" = "$want" ]
	[[ " $got " == *" connect "* ]]
	# Nothing of common/ or the shim's internals leaks out.
	[[ " $got " != *" dial_"* ]]
	[[ " $got " != *" conf_"* ]]
	[[ " $got " != *" fdreg_"* ]]
}

@test "200 MB through the shim arrives intact" {
	make_file big.bin 200
	run shim_run sh -c 'curl -sS --max-time 120 "http://$1/big.bin" | sha256sum' sh "$NS_TARGET_IP"
	assert_success
	assert_output "$(cat "$NETNS_DIR/www/big.bin.sha256")  -"
}

@test "50 parallel transfers all succeed, bytes intact" {
	make_file par.bin 1
	local out=$NETNS_DIR/par
	mkdir -p "$out"
	run shim_run sh -c '
		for i in $(seq 1 50); do
			curl -sS --max-time 60 -o "$2/$i" "http://$1/par.bin" &
		done
		wait' sh "$NS_TARGET_IP" "$out"
	assert_success
	local want n
	want=$(cat "$NETNS_DIR/www/par.bin.sha256")
	n=$(sha256sum "$out"/* | awk -v w="$want" '$1 == w' | wc -l)
	[ "$n" -eq 50 ]
}
