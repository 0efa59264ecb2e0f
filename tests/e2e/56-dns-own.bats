#!/usr/bin/env bats
# Programs with their own resolver (issue 12): dig, host, node's c-ares, Chromium's
# built-in DNS client and raw python sockets send port-53 queries straight to the name
# servers of /etc/resolv.conf. With dns=remote the library answers them itself from
# the shared name table, on the program's own socket, over UDP and TCP, so nothing
# reaches any resolver. The client's resolv.conf names a loopback stub (127.0.0.53,
# as systemd-resolved's) with a canary listening there, and in the second half the
# namespace's non-loopback canary (198.18.1.53). Both canaries must count zero, except
# in the negative twins that say what they expect.

load '../lib/common'
load 'shim/shim'

setup_file() {
	shim_setup_file
	shim_socksifyd dnsown -v
	SOCKSIFY_NAMETABLE=/dev/shm/socksify-$(id -u)-bats-$$-$RANDOM
	export SOCKSIFY_NAMETABLE
	# The loopback stub: a second canary on 127.0.0.53 in the client namespace.
	STUB_LOG=$NETNS_DIR/stub.log
	: >"$STUB_LOG"
	netns_bg "$NS_CLIENT" "$NETNS_DIR/stub.out" "$NETNS_PY" "$NETNS_LIB_DIR/dns_canary.py" \
		127.0.0.53 53 "$STUB_LOG"
	wait_for_line "$NETNS_DIR/stub.out" '^canary ready' 10
	export STUB_LOG
	use_stub
	mkdir -p "$NETNS_DIR/home"
}

teardown_file() {
	netns_down
	rm -f "${SOCKSIFY_NAMETABLE:-/nonexistent}"
	return 0
}

setup() {
	: >"$NETNS_DIR/canary.log"
	: >"$STUB_LOG"
}

# Every test leaves both canaries at zero unless it emptied them itself.
teardown() {
	local n m
	n=$(canary_count)
	m=$(wc -l <"$STUB_LOG" | tr -d ' ')
	if [ "$n" != 0 ] || [ "$m" != 0 ]; then
		echo "DNS canaries saw queries: $n at $NS_CANARY_IP, $m at 127.0.0.53" >&2
		cat "$NETNS_DIR/canary.log" "$STUB_LOG" >&2
		return 1
	fi
}

# use_stub / use_lan [OPTIONS]: the client's resolv.conf names the loopback stub or the
# non-loopback canary.
use_stub() {
	printf 'nameserver 127.0.0.53\noptions timeout:1 attempts:1 %s\n' "${1:-}" \
		>"/etc/netns/$NS_CLIENT/resolv.conf"
}
use_lan() {
	printf 'nameserver %s\noptions timeout:1 attempts:1 %s\n' "$NS_CANARY_IP" "${1:-}" \
		>"/etc/netns/$NS_CLIENT/resolv.conf"
}

stub_count() {
	wc -l <"$STUB_LOG" | tr -d ' '
}

# dns_raw HEX [tcp]: send the query HEX to the resolv.conf server under the shim from
# python's own socket and print the answer as hex (nothing on a timeout).
dns_raw() {
	shim_run "$NETNS_PY" - "$@" <<-'PY'
		import socket, struct, sys
		server = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
		q = bytes.fromhex(sys.argv[1])
		fam = socket.AF_INET6 if ":" in server else socket.AF_INET
		if len(sys.argv) > 2 and sys.argv[2] == "tcp":
		    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(3)
		    s.connect((server, 53)); s.sendall(struct.pack("!H", len(q)) + q)
		    n = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
		    print(s.recv(n, socket.MSG_WAITALL).hex())
		else:
		    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(3)
		    s.sendto(q, (server, 53))
		    data, peer = s.recvfrom(65535)
		    print(data.hex(), peer[0], peer[1])
	PY
}

@test "dig with no server: A of a remote name is a fake address, answered locally" {
	require_cmd dig
	run shim_run dig +time=2 +tries=1 target.test A
	assert_success
	assert_output --partial 'status: NOERROR'
	assert_output --regexp 'target\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+24[0-9]\.'
	# dig reports the answer as coming from the server it asked.
	assert_output --partial 'SERVER: 127.0.0.53#53'
}

@test "dig AAAA gets a fake IPv6 address; the same name keeps its A" {
	require_cmd dig
	run shim_run dig +short +time=2 +tries=1 target.test AAAA
	assert_success
	assert_output --regexp '^fd73:6f63:6b73:'
}

@test "dig over TCP: length-prefixed queries answered on the program's own socket" {
	require_cmd dig
	run shim_run dig +tcp +time=2 +tries=1 tcp.target.test A
	assert_success
	assert_output --partial 'status: NOERROR'
	assert_output --regexp 'IN[[:space:]]+A[[:space:]]+24[0-9]\.'
}

@test "two queries on one TCP connection both get answers" {
	# id 0x1111 A one.test, id 0x2222 A two.test, written back to back.
	run shim_run "$NETNS_PY" - <<-'PY'
		import socket, struct
		def q(i, name):
		    m = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0)
		    for l in name.split("."):
		        m += bytes([len(l)]) + l.encode()
		    m += b"\0" + struct.pack("!HH", 1, 1)
		    return struct.pack("!H", len(m)) + m
		s = socket.socket(); s.settimeout(3); s.connect(("127.0.0.53", 53))
		s.sendall(q(0x1111, "one.test") + q(0x2222, "two.test"))
		for _ in range(2):
		    n = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
		    a = s.recv(n, socket.MSG_WAITALL)
		    print("id=%04x rcode=%d an=%d" % (struct.unpack("!H", a[:2])[0], a[3] & 15,
		                                      struct.unpack("!H", a[6:8])[0]))
		print("peer", s.getpeername()[0], s.getpeername()[1])
	PY
	assert_success
	assert_line 'id=1111 rcode=0 an=1'
	assert_line 'id=2222 rcode=0 an=1'
	assert_line 'peer 127.0.0.53 53'
}

@test "host with no server finds the fake address" {
	require_cmd host
	run shim_run host -W 2 target.test
	assert_success
	assert_output --regexp 'target\.test has address 24[0-9]\.'
}

@test "the fake address carries the name to the proxy (curl to dig's answer)" {
	require_cmd dig curl
	local a
	a=$(shim_run dig +short +time=2 +tries=1 target.test A)
	[[ "$a" == 24* ]]
	run shim_run curl -sS --max-time 10 "http://$a/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run grep -c 'asked=target\.test:80' "$NETNS_DIR/dnsown.log"
	refute_output 0
}

@test "PTR of a fake address gives its name" {
	require_cmd dig
	local a
	a=$(shim_run dig +short +time=2 +tries=1 ptr.target.test A)
	[[ "$a" == 24* ]]
	run shim_run dig +short +time=2 +tries=1 -x "$a"
	assert_success
	assert_output 'ptr.target.test.'
}

@test "HTTPS and other types get an empty NOERROR answer (no hints leak)" {
	require_cmd dig
	run shim_run dig +time=2 +tries=1 target.test TYPE65
	assert_success
	assert_output --partial 'status: NOERROR'
	assert_output --partial 'ANSWER: 0'
	run shim_run dig +time=2 +tries=1 target.test MX
	assert_success
	assert_output --partial 'status: NOERROR'
	assert_output --partial 'ANSWER: 0'
}

@test "EDNS0: a query with a 1232-byte payload gets an OPT record back" {
	require_cmd dig
	run shim_run dig +bufsize=1232 +time=2 +tries=1 edns.target.test A
	assert_success
	assert_output --partial 'status: NOERROR'
	assert_output --regexp 'EDNS: version: 0, flags:.*; udp: [0-9]+'
}

@test "a malformed query gets FORMERR with its ID, over UDP and TCP, and nothing crashes" {
	# header says one question, the question is cut short; the answer: the ID, QR set,
	# rcode 1 (FORMERR), a whole header
	run dns_raw 4242010000010000000000000374657374
	assert_success
	assert_output --regexp '^4242[89a-f][0-9a-f][0-9a-f]1[0-9a-f]{16}'
	# ... and it came from the name server the program asked
	assert_output --regexp ' 127\.0\.0\.53 53$'
	run dns_raw 4343010000010000000000000374657374 tcp
	assert_success
	assert_output --regexp '^4343[89a-f][0-9a-f][0-9a-f]1[0-9a-f]{16}'
}

@test "a block rule answers NXDOMAIN" {
	require_cmd dig
	# block rules come from the config file (there is no environment variable for them)
	printf 'block = *.blocked.test\n' >"$NETNS_DIR/block.conf"
	run shim_run SOCKSIFY_CONF="$NETNS_DIR/block.conf" dig +time=2 +tries=1 www.blocked.test A
	assert_success
	assert_output --partial 'status: NXDOMAIN'
}

@test "negative twin: a direct name is forwarded to the real server (the stub sees it)" {
	require_cmd dig
	run shim_run SOCKSIFY_DIRECT='*.direct.test' dig +time=2 +tries=1 www.direct.test A
	# the stub canary refuses it
	assert_output --partial 'status: REFUSED'
	grep -q ' www.direct.test type=1' "$STUB_LOG"
	: >"$STUB_LOG"
}

@test "negative twin: without the shim dig asks the stub" {
	require_cmd dig
	run in_client dig +time=2 +tries=1 plain.test A
	assert_output --partial 'status: REFUSED'
	grep -q ' plain.test type=1' "$STUB_LOG"
	: >"$STUB_LOG"
}

@test "a query to another server still goes through UDP ASSOCIATE (dig @target)" {
	require_cmd dig
	run shim_run dig +short +time=3 +tries=1 "@$NS_TARGET_IP" target.test A
	assert_success
	assert_output "$NS_TARGET_IP"
}

@test "node dns.resolve4 / resolve6 (c-ares), then an HTTP GET to the answer" {
	require_cmd node
	run shim_run node -e '
		const dns = require("dns"), http = require("http");
		dns.resolve6("target.test", (e6, a6) => {
		  if (e6) { console.log("resolve6 error " + e6.code); process.exit(1); }
		  console.log("v6 " + a6[0]);
		  dns.resolve4("target.test", (e, a) => {
		    if (e) { console.log("resolve4 error " + e.code); process.exit(1); }
		    console.log("v4 " + a[0]);
		    http.get({host: a[0], port: 80, path: "/", timeout: 10000}, (r) => {
		      let b = ""; r.on("data", (c) => b += c); r.on("end", () => console.log(b));
		    }).on("error", (err) => { console.log("get error " + err.message); process.exit(1); });
		  });
		});'
	assert_success
	assert_line --regexp '^v4 24[0-9]\.'
	assert_line --regexp '^v6 fd73:6f63:6b73:'
	assert_output --partial "$NETNS_MARKER"
}

@test "res_send over TCP (options use-vc) stays inside the library" {
	use_stub use-vc
	run shim_run "$SNIPPETS/dns_res" query vc.target.test a
	use_stub
	assert_success
	assert_output --regexp '24[0-9]\.'
}

@test "Chromium headless with default features loads a page by name" {
	require_cmd chromium
	run shim_run HOME="$NETNS_DIR/home" timeout 120 chromium --headless --no-sandbox \
		--disable-gpu --no-first-run --disable-background-networking --disable-sync \
		--disable-component-update --disable-default-apps --disable-breakpad \
		--user-data-dir="$NETNS_DIR/chromium" --dump-dom http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "held answers (no system call) behave as queued datagrams: poll, epoll, select, peek, fork, dup" {
	# A single-threaded program's answer is kept in memory, not sent to its socket;
	# every way of waiting or reading must still see exactly one datagram.
	run shim_run "$SNIPPETS/dns53_held" held.target.test
	assert_success
	refute_output --partial FAIL
	for c in poll-then-recv recv-at-once msg-peek short-buffer epoll select raw-syscall \
		poll-with-a-pipe fork-child-reads dup-reads close-forgets sendto-recvfrom \
		two-sockets control-messages thread-blocked-before-send; do
		assert_line "ok $c"
	done
}

@test "a single-threaded client's queries are answered without a system call" {
	require_cmd strace
	local log=$BATS_TEST_TMPDIR/st.log
	run shim_run strace -f -o "$log" -e trace=sendto,sendmsg,recvfrom,recvmsg,poll,newfstatat,fstat \
		"$SNIPPETS/dns53_bench" 500 quiet.target.test
	assert_success
	assert_output --partial "queries 500 ok 500"
	# The first query sets the socket up (binds, checks it); the 500 timed ones
	# reach the kernel only for the fstat a socket gets every DG_RECHECK_MS.
	local n
	n=$(grep -cE '^[0-9]+ +((sendto|sendmsg|recvfrom|recvmsg)\(3,|poll\(\[\{fd=3,)' "$log" || true)
	echo "datagram and poll calls on the socket: $n"
	[ "$n" -le 5 ]
}

@test "LAN name server: dig, host and node are answered locally too" {
	require_cmd dig host node
	use_lan
	run shim_run dig +time=2 +tries=1 lan.target.test A
	local rc=$status out=$output
	run shim_run host -W 2 lan2.target.test
	local hrc=$status hout=$output
	run shim_run node -e 'require("dns").resolve4("target.test", (e, a) =>
		{ console.log(e ? "error " + e.code : "v4 " + a[0]); process.exit(e ? 1 : 0); })'
	use_stub
	[ "$rc" = 0 ] && [[ "$out" == *"status: NOERROR"* ]] && [[ "$out" == *"SERVER: $NS_CANARY_IP#53"* ]]
	[ "$hrc" = 0 ] && [[ "$hout" == *"has address 24"* ]]
	assert_success
	assert_output --regexp '^v4 24[0-9]\.'
}

@test "LAN name server: Chromium with default features" {
	require_cmd chromium
	use_lan
	run shim_run HOME="$NETNS_DIR/home" timeout 120 chromium --headless --no-sandbox \
		--disable-gpu --no-first-run --disable-background-networking --disable-sync \
		--disable-component-update --disable-default-apps --disable-breakpad \
		--user-data-dir="$NETNS_DIR/chromium2" --dump-dom http://target.test/
	use_stub
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "dns=local: port-53 queries go to the real server (the documented leak)" {
	require_cmd dig
	run shim_run SOCKSIFY_DNS=local dig +time=2 +tries=1 local.leak.test A
	assert_output --partial 'status: REFUSED'
	grep -q ' local.leak.test type=1' "$STUB_LOG"
	: >"$STUB_LOG"
}
