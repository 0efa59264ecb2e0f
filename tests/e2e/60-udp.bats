#!/usr/bin/env bats
# UDP through the shim (issue 5): datagrams of unmodified programs go through a SOCKS5
# UDP ASSOCIATE at the proxy (socksifyd, Dante's sockd), are refused with udp=block,
# fail clearly on a proxy without UDP (microsocks), and TCP Fast Open goes through the
# connect path. The client namespace can reach only the proxy, so a datagram that
# arrives at the target went through it; the DNS canary must stay at zero throughout.

load '../lib/common'
load 'shim/shim'

BUILD=${BUILD:-$PWD/build}
SNIPPETS=${SNIPPETS:-$BUILD/snippets}

setup_file() {
	shim_setup_file
	if sfy_skipping; then return 0; fi
	shim_socksifyd s5 || return 1
	# A UDP counter in the target: every datagram that reaches port 5300 is one line.
	netns_bg "$NS_TARGET" "$NETNS_DIR/udpcount.out" "$NETNS_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.2.2", 5300))
print("counter ready", flush=True)
with open(sys.argv[1], "a") as f:
    while True:
        d, peer = s.recvfrom(65535)
        f.write("%s %d\n" % (peer[0], len(d))); f.flush()
        s.sendto(d, peer)
' "$NETNS_DIR/udpcount.log"
	wait_for_line "$NETNS_DIR/udpcount.out" '^counter ready' 10
	: >"$NETNS_DIR/udpcount.log"
}

teardown_file() {
	netns_down
}

udp_count() {
	wc -l <"$NETNS_DIR/udpcount.log" | tr -d ' '
}

# dante_up: Dante's sockd on 198.18.1.2:1093 with UDP allowed (once per file).
dante_up() {
	require_cmd danted
	[ -f "$NETNS_DIR/danted-udp.pid" ] && return 0
	local conf=$NETNS_DIR/danted-udp.conf
	cat >"$conf" <<-CONF
		logoutput: stderr
		internal: 198.18.1.2 port = 1093
		external: 198.18.2.1
		socksmethod: none
		clientmethod: none
		user.privileged: root
		user.unprivileged: nobody
		client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
		socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate udpreply }
	CONF
	netns_bg "$NS_PROXY" "$NETNS_DIR/danted-udp.log" danted -f "$conf" \
		-p "$NETNS_DIR/danted-udp.pid"
	wait_for_port "$NS_PROXY" 198.18.1.2 1093 10
}

@test "UDP echo through socksifyd: 1 and 1400 bytes, PEEK/TRUNC/DONTWAIT, mmsg batches, connected" {
	run shim_run "$SNIPPETS/udp_echo" "$NS_TARGET_IP" 7
	assert_snippet_pass
}

@test "a _FORTIFY_SOURCE build: __recvfrom_chk, __recv_chk, __read_chk; writev/readv" {
	run shim_run "$SNIPPETS/udp_fortify" "$NS_TARGET_IP" 7
	assert_snippet_pass
}

@test "UDP echo to the target's IPv6 address from an IPv6 socket" {
	run shim_run "$SNIPPETS/udp_echo" "$NS_TARGET_IP6" 7
	assert_snippet_pass
}

@test "a name as UDP destination: getaddrinfo's fake address, the name goes to the proxy" {
	run shim_run "$SNIPPETS/udp_echo" target.test 7
	assert_snippet_pass
	# The program saw a fake address (the real one would be 198.18.2.2), so only
	# the name can have told the proxy where to send.
	refute_line "destination: $NS_TARGET_IP"
	assert_line --regexp '^destination: [0-9.]+$'
}

@test "python3 UDP probe (1400 bytes) through socksifyd" {
	run shim_run "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 7 1400 5
	assert_success
	assert_output --partial "1400 bytes echoed"
}

@test "node dgram (libuv event loop, its raw sendmmsg/recvmmsg) through socksifyd" {
	require_cmd node
	cat >"$NETNS_DIR/udp.js" <<-'JS'
		const dgram = require('dgram');
		const s = dgram.createSocket('udp4');
		const msg = Buffer.alloc(1400, 7);
		const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, 5000);
		s.on('message', (m, r) => {
		  console.log('got', m.length, r.address, r.port, m.equals(msg) ? 'same' : 'differs');
		  clearTimeout(t); s.close();
		});
		s.send(msg, 7, process.argv[2]);
	JS
	run shim_run node "$NETNS_DIR/udp.js" "$NS_TARGET_IP"
	assert_success
	assert_output "got 1400 $NS_TARGET_IP 7 same"
}

@test "python3 asyncio datagram endpoint through socksifyd" {
	run shim_run "$NETNS_PY" -c '
import asyncio, sys
async def main():
    loop = asyncio.get_running_loop()
    got = loop.create_future()
    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr): got.set_result((data, addr))
    tr, _ = await loop.create_datagram_endpoint(P, remote_addr=(sys.argv[1], 7))
    tr.sendto(b"x" * 512)
    data, addr = await asyncio.wait_for(got, 5)
    print(len(data), addr[0], addr[1]); tr.close()
asyncio.run(main())
' "$NS_TARGET_IP"
	assert_success
	assert_output "512 $NS_TARGET_IP 7"
}

@test "fork: the child shares the socket's association, the parent keeps it after" {
	run shim_run "$NETNS_PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
dst = (sys.argv[1], 7)
s.sendto(b"parent-1", dst); print(s.recv(100).decode(), flush=True)
pid = os.fork()
if pid == 0:
    s.sendto(b"child", dst); print(s.recv(100).decode(), flush=True); os._exit(0)
os.waitpid(pid, 0)
s.sendto(b"parent-2", dst); print(s.recv(100).decode(), flush=True)
' "$NS_TARGET_IP"
	assert_success
	assert_output "$(printf 'parent-1\nchild\nparent-2')"
}

@test "a close_range sweep over every other fd leaves the association (its control fd) alone" {
	run shim_run "$NETNS_PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
dst = (sys.argv[1], 7)
s.sendto(b"before", dst); print(s.recv(100).decode(), flush=True)
os.closerange(s.fileno() + 1, 1 << 20)
s.sendto(b"after", dst); print(s.recv(100).decode(), flush=True)
' "$NS_TARGET_IP"
	assert_success
	assert_output "$(printf 'before\nafter')"
}

@test "syscall(SYS_sendto/SYS_recvfrom/SYS_connect) go through the proxy like the wrappers" {
	run shim_run "$SNIPPETS/udp_rawsys" "$NS_TARGET_IP" 7
	assert_snippet_pass
}

@test "dig @198.18.2.2 target.test through socksifyd" {
	require_cmd dig
	run shim_run dig +time=3 +tries=1 @"$NS_TARGET_IP" target.test A +short
	assert_success
	assert_output "$NS_TARGET_IP"
}

@test "dig @198.18.2.2 target.test through Dante's sockd" {
	require_cmd dig
	dante_up
	run shim_run SOCKSIFY_PROXY=socks5://198.18.1.2:1093 \
		dig +time=3 +tries=1 @"$NS_TARGET_IP" target.test A +short
	assert_success
	assert_output "$NS_TARGET_IP"
}

@test "UDP echo snippet through Dante's sockd" {
	dante_up
	run shim_run SOCKSIFY_PROXY=socks5://198.18.1.2:1093 "$SNIPPETS/udp_echo" "$NS_TARGET_IP" 7
	assert_snippet_pass
}

@test "UDP through socksifyd with username/password" {
	printf 'carol:udp-pw\n' >"$NETNS_DIR/users"
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5-auth.log" --open -l 198.18.1.2:0 \
		-u "$NETNS_DIR/users"
	local port
	port=$(socksifyd_port 198.18.1.2)
	run shim_run SOCKSIFY_PROXY="socks5://carol:udp-pw@198.18.1.2:$port" \
		"$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 7 1400 5
	assert_success
	assert_output --partial "1400 bytes echoed"
	# The twin: a wrong password fails the send, fast and clearly.
	run shim_run SOCKSIFY_PROXY="socks5://carol:wrong@198.18.1.2:$port" \
		"$SNIPPETS/udp_echo" "$NS_TARGET_IP" 7 refused
	assert_success
	assert_line "sendto=-1 errno=EACCES"
}

@test "UDP through a 2-hop chain (socksifyd -> socksifyd): an association per hop, nested headers" {
	# The first hop reaches the second on the proxy's own address: allowed explicitly.
	# Each hop has its own association; hop 1 relays the datagrams to hop 2s relay.
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5-hop1.log" --open -l 198.18.1.2:0 \
		--allow-local-dest
	local hop1 hop2
	hop1=$(socksifyd_port 198.18.1.2)
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5-hop2.log" --open -l 198.18.1.2:0 -v
	hop2=$(socksifyd_port 198.18.1.2)
	run shim_run SOCKSIFY_PROXY="socks5://198.18.1.2:$hop1,socks5://198.18.1.2:$hop2" \
		"$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 7 512 5
	assert_success
	assert_output --partial "512 bytes echoed"
	run grep -c 'cmd=udp' "$NETNS_DIR/s5-hop2.log"
	refute_output 0
}

@test "UDP ASSOCIATE names the program socket's own port (DST.PORT), binding it first" {
	# RFC 1928: DST.PORT is the port the client will send its datagrams from. The
	# library sends them from the program's socket, so it names that socket's port
	# (an unbound socket is bound first), never 0. Both a bound and an unbound one.
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5-port.log" --open -l 198.18.1.2:0 -v
	local port p
	port=$(socksifyd_port 198.18.1.2)
	run shim_run SOCKSIFY_PROXY="socks5://198.18.1.2:$port" "$NETNS_PY" -c '
import socket, sys
for bind in (False, True):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if bind:
        s.bind(("0.0.0.0", 0))
    s.settimeout(5)
    s.sendto(b"x" * 16, (sys.argv[1], 7))
    s.recv(100)
    print("port=%d" % s.getsockname()[1], flush=True)
    s.close()
' "$NS_TARGET_IP"
	assert_success
	[ "$(grep -c '^port=' <<<"$output")" -eq 2 ]
	for p in $(sed -n 's/^port=//p' <<<"$output"); do
		[ "$p" -gt 0 ]
		wait_for_line "$NETNS_DIR/s5-port.log" "cmd=udp asked=0\.0\.0\.0:$p " 10
	done
	run grep -c 'cmd=udp asked=0\.0\.0\.0:0 ' "$NETNS_DIR/s5-port.log"
	assert_output 0
}

@test "a 64 KiB thread stack is enough: getaddrinfo, a tunnelled connect, a proxied sendto" {
	# Each on a fresh painted stack: the snippet fails when one takes more than 16 KiB
	# beyond an empty thread (the library's hooks take a few KB).
	run shim_run "$SNIPPETS/small_stack" "$NS_TARGET_IP" 7 small-stack.test
	assert_snippet_pass
}

@test "a direct rule sends the datagram direct (here: unreachable), not through the proxy" {
	local before
	before=$(grep -c 'cmd=udp' "$NETNS_DIR/s5.log" || true)
	run shim_run SOCKSIFY_DIRECT=198.18.2.0/24 "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" \
		"$NS_TARGET_IP" 7 16 1
	assert_failure
	[ "$(grep -c 'cmd=udp' "$NETNS_DIR/s5.log" || true)" = "$before" ]
}

@test "udp=block: EPERM, one warn line, and nothing reaches the target" {
	local before
	before=$(udp_count)
	run shim_run SOCKSIFY_UDP=block "$SNIPPETS/udp_echo" "$NS_TARGET_IP" 5300 refused
	assert_success
	assert_line "sendto=-1 errno=EPERM"
	assert_line "connect=-1 errno=EPERM"
	assert_output --partial "udp = block"
	[ "$(udp_count)" = "$before" ]
	# The twin: with udp=proxy the same datagram does arrive (the counter works).
	run shim_run "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" "$NS_TARGET_IP" 5300 16 5
	assert_success
	[ "$(udp_count)" -gt "$before" ]
}

@test "udp=block: dig fails and its query never reaches the target's DNS" {
	require_cmd dig
	local before
	before=$(grep -c 'query\[A\] target.test' "$NETNS_DIR/dnsmasq.log" || true)
	run shim_run SOCKSIFY_UDP=block dig +time=2 +tries=1 @"$NS_TARGET_IP" target.test A +short
	refute_output "$NS_TARGET_IP"
	[ "$(grep -c 'query\[A\] target.test' "$NETNS_DIR/dnsmasq.log" || true)" = "$before" ]
}

@test "udp=direct: datagrams pass untouched (documented leak: here the target is unreachable)" {
	run shim_run SOCKSIFY_UDP=direct "$NETNS_PY" "$NETNS_LIB_DIR/udp_probe.py" \
		"$NS_TARGET_IP" 7 16 1
	assert_failure
	refute_output --partial "socksify"
}

@test "a proxy without UDP ASSOCIATE (microsocks): the send fails clearly, nothing sent direct" {
	require_cmd microsocks
	shim_microsocks 1094
	local before
	before=$(udp_count)
	run shim_run SOCKSIFY_PROXY=socks5://198.18.1.2:1094 "$SNIPPETS/udp_echo" \
		"$NS_TARGET_IP" 5300 refused
	assert_success
	assert_line "sendto=-1 errno=ENETUNREACH"
	assert_output --partial "UDP ASSOCIATE"
	[ "$(udp_count)" = "$before" ]
}

@test "loss of the control connection: later sends fail with ECONNRESET and a warn line" {
	# A socksifyd of its own, killed (by its PID) while the program holds an
	# association through it: the control connection ends under the program.
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5-lost.log" --open -l 198.18.1.2:0
	local port pid=$SOCKSIFYD_PID out=$NETNS_DIR/lost.out go=$NETNS_DIR/lost.go
	port=$(socksifyd_port 198.18.1.2)
	shim_run SOCKSIFY_PROXY="socks5://198.18.1.2:$port" "$NETNS_PY" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"one", ("198.18.2.2", 7)); print("echo", s.recv(100), flush=True)
for _ in range(100):
    if os.path.exists(sys.argv[1]): break
    time.sleep(0.05)
time.sleep(0.2)
try:
    s.sendto(b"two", ("198.18.2.2", 7)); print("sent", flush=True)
except OSError as e:
    print("errno", "ECONNRESET" if e.errno == 104 else e.errno, flush=True)
' "$go" >"$out" 2>&1 &
	local bg=$!
	wait_for_line "$out" "^echo" 10
	kill -KILL "$pid"
	touch "$go"
	wait "$bg" || true
	run cat "$out"
	assert_line "echo b'one'"
	assert_line "errno ECONNRESET"
	assert_output --partial "closed the UDP association"
}

@test "proxy down at the first datagram: ECONNREFUSED, and the same socket works once it is up" {
	local out=$NETNS_DIR/retry.out go=$NETNS_DIR/retry.go
	shim_run SOCKSIFY_PROXY=socks5://198.18.1.2:1095 "$NETNS_PY" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
try:
    s.sendto(b"one", ("198.18.2.2", 7)); print("sent")
except OSError as e:
    print("first", "ECONNREFUSED" if e.errno == 111 else e.errno, flush=True)
for _ in range(200):
    if os.path.exists(sys.argv[1]): break
    time.sleep(0.05)
time.sleep(1.1)
s.sendto(b"two", ("198.18.2.2", 7)); print("echo", s.recv(100), flush=True)
' "$go" >"$out" 2>&1 &
	local bg=$!
	wait_for_line "$out" "^first" 10
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5-late.log" --open -l 198.18.1.2:1095
	touch "$go"
	wait "$bg" || true
	run cat "$out"
	assert_line "first ECONNREFUSED"
	assert_line "echo b'two'"
}

@test "a connected UDP socket on fd 2 (stderr closed): the warn line cannot deadlock the failing connect" {
	# The shim logs to fd 2; here that is the program's own proxied UDP socket, so
	# the warn about the refused proxy goes through the write() hook while the
	# socket's lock is held. It must fail the connect, not hang.
	run timeout 20 ip netns exec "$NS_CLIENT" env LD_PRELOAD="$SOCKSIFY_LIB" \
		SOCKSIFY_CONF="$SHIM_CONF" SOCKSIFY_PROXY=socks5://198.18.1.2:1 "$NETNS_PY" -c '
import os, socket
os.close(2)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("fd", s.fileno(), flush=True)
try:
    s.connect(("198.18.2.2", 7)); print("connected")
except OSError as e:
    print("connect", "ECONNREFUSED" if e.errno == 111 else e.errno, flush=True)
'
	assert_success
	assert_line "fd 2"
	assert_line "connect ECONNREFUSED"
}

@test "a proxied UDP socket closed behind the shim (raw syscall): a pipe, then a new UDP socket on its number work" {
	# fclose() of an fdopen'd socket, or syscall(SYS_close), closes past the close()
	# hook: the number's stale record must not turn the pipe's write/read into
	# datagram calls (ENOTSOCK) nor hand the next UDP socket the old association.
	run shim_run "$NETNS_PY" -c '
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"one", ("198.18.2.2", 7)); print("echo", s.recv(100), flush=True)
fd = s.detach()
print("raw close", libc.syscall(3, fd), flush=True)
r, w = os.pipe()
n = w if w == fd else r if r == fd else -1
print("reused", n == fd, flush=True)
os.write(w, b"pipe"); print("pipe", os.read(r, 10), flush=True)
os.close(r); os.close(w)
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t.settimeout(5)
print("same number", t.fileno() == fd, flush=True)
t.sendto(b"two", ("198.18.2.2", 7)); print("echo", t.recv(100), flush=True)
'
	assert_success
	assert_line "echo b'one'"
	assert_line "raw close 0"
	assert_line "reused True"
	assert_line "pipe b'pipe'"
	assert_line "same number True"
	assert_line "echo b'two'"
}

@test "sendmsg(MSG_FASTOPEN) on a TCP socket goes through the tunnel, data once" {
	run shim_run "$SNIPPETS/udp_fastopen" "$NS_TARGET_IP" 7
	assert_snippet_pass
}

@test "curl --tcp-fastopen through the shim" {
	run shim_run curl -sS --max-time 10 --tcp-fastopen "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "the DNS canary saw nothing" {
	run canary_count
	assert_output 0
}
