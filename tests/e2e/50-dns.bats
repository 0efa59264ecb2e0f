#!/usr/bin/env bats
# Remote DNS with no leak (dns=remote, the default): every resolver call and hints
# combination answered from the shared name table, the hosts file or libc as the
# rules say, names reaching the target only through socksifyd in the proxy namespace,
# one table for a whole process tree, and the client's DNS canary counting zero
# queries across the whole file (target.test is known only to the proxy's DNS).

load '../lib/common'
load 'shim/shim'

FAKE4='^240\.'
FAKE6='^fd73:6f63:6b73::'

setup_file() {
	shim_setup_file
	# -v: a line per session, with the destination as the client asked for it.
	shim_socksifyd dns -v
	# One table for every process this suite starts, removed at the end (a table is
	# otherwise left for the next run's clean-up; see common/nametable.h).
	SOCKSIFY_NAMETABLE=/dev/shm/socksify-$(id -u)-bats-$$-$RANDOM
	export SOCKSIFY_NAMETABLE
	printf 'block = *.blocked.test\nblock = port.blocked2.test:25\n' >"$NETNS_DIR/block.conf"
	printf '198.18.2.2 hostsfile.test hostsalias.test\n' >"$NETNS_DIR/hosts"
}

teardown_file() {
	netns_down
	rm -f "${SOCKSIFY_NAMETABLE:-/nonexistent}"
	shim_sshd_cleanup
}

# Every test ends with no query at the canary; a leak fails the test that made it.
teardown() {
	local n
	n=$(canary_count)
	if [ "$n" != 0 ]; then
		echo "DNS canary saw $n queries:" >&2
		cat "$NETNS_DIR/canary.log" >&2
		return 1
	fi
}

gai() { shim_run "$SNIPPETS/dns_getaddrinfo" "$@"; }

@test "getaddrinfo, NULL hints: IPv4 then IPv6 fakes, stream, datagram and raw each" {
	# NULL hints mean AI_ADDRCONFIG | AI_V4MAPPED; the client has an IPv6 address.
	run gai -N target.test
	assert_success
	assert_line --index 0 --regexp '^ai inet 240\.[0-9.]+ 0 1 6$'
	assert_line --index 1 --regexp '^ai inet 240\.[0-9.]+ 0 2 17$'
	assert_line --index 2 --regexp '^ai inet 240\.[0-9.]+ 0 3 0$'
	assert_line --index 3 --regexp '^ai inet6 fd73:6f63:6b73::[0-9a-f:]+ 0 1 6$'
	assert_line --index 5 --regexp '^ai inet6 fd73:6f63:6b73::[0-9a-f:]+ 0 3 0$'
	assert_equal "${#lines[@]}" 6
}

@test "getaddrinfo, AF_INET with a numeric service" {
	run gai -f inet -t stream -s 8080 target.test
	assert_success
	assert_output --regexp '^ai inet 240\.[0-9.]+ 8080 1 6$'
}

@test "getaddrinfo, AF_INET6: an IPv6 fake" {
	run gai -f inet6 -t stream -s 80 target.test
	assert_success
	assert_output --regexp '^ai inet6 fd73:6f63:6b73::[0-9a-f:]+ 80 1 6$'
}

@test "getaddrinfo, AF_UNSPEC: IPv4 first, then IPv6; SOCKSIFY_DNS_UNSPEC narrows it" {
	run gai -f unspec -t stream target.test
	assert_success
	assert_line --index 0 --regexp '^ai inet 240\.[0-9.]+ 0 1 6$'
	assert_line --index 1 --regexp '^ai inet6 fd73:6f63:6b73::[0-9a-f:]+ 0 1 6$'
	assert_equal "${#lines[@]}" 2
	run shim_run SOCKSIFY_DNS_UNSPEC=ipv4 "$SNIPPETS/dns_getaddrinfo" -t stream target.test
	assert_output --regexp '^ai inet 240\.[0-9.]+ 0 1 6$'
	run shim_run SOCKSIFY_DNS_UNSPEC=ipv6 "$SNIPPETS/dns_getaddrinfo" -t stream target.test
	assert_output --regexp '^ai inet6 fd73:6f63:6b73::[0-9a-f:]+ 0 1 6$'
}

@test "getaddrinfo, AF_INET and AF_INET6 fakes are the same entry" {
	run gai -f inet -t stream same-entry.test
	local v4=${output#ai inet }
	v4=${v4%% *}
	run gai -f inet6 -t stream same-entry.test
	local v6=${output#ai inet6 }
	v6=${v6%% *}
	run shim_run "$SNIPPETS/dns_getnameinfo" "$v4" 80 namereqd
	assert_output "host same-entry.test serv http"
	run shim_run "$SNIPPETS/dns_getnameinfo" "$v6" 80 namereqd
	assert_output "host same-entry.test serv http"
}

@test "getaddrinfo, AI_NUMERICHOST: a name fails, a literal passes" {
	run gai -F numerichost target.test
	assert_failure 2
	assert_output "error EAI_NONAME"
	run gai -F numerichost -t stream 198.18.2.2
	assert_success
	assert_output "ai inet 198.18.2.2 0 1 6"
}

@test "getaddrinfo, AI_CANONNAME: the name, on the first entry only" {
	run gai -F canonname Target.Test.
	assert_success
	assert_line --index 1 "canon Target.Test"
	assert_equal "$(printf '%s\n' "${lines[@]}" | grep -c canon)" 1
}

@test "getaddrinfo, bad hints fail as libc does" {
	run gai -F bogus target.test
	assert_output "error EAI_BADFLAGS"
	run gai -f bogus target.test
	assert_output "error EAI_FAMILY"
	run gai -t raw -s http target.test
	assert_output "error EAI_SERVICE"
	run gai -s no-such-service target.test
	assert_output "error EAI_SERVICE"
	run gai -F numericserv -s http target.test
	assert_output "error EAI_NONAME"
	run gai -t stream -p 17 target.test
	assert_output "error EAI_SOCKTYPE"
	run gai -
	assert_output "error EAI_NONAME"
}

@test "getaddrinfo, named service and AI_PASSIVE with no node" {
	run gai -s http target.test
	assert_success
	assert_line --index 0 --regexp '^ai inet 240\.[0-9.]+ 80 1 6$'
	assert_line --index 1 --regexp '^ai inet6 fd73:6f63:6b73::[0-9a-f:]+ 80 1 6$'
	run gai -F passive -f inet -t stream -s 80 -
	assert_success
	assert_output "ai inet 0.0.0.0 80 1 6"
}

@test "localhost and hosts-file names resolve locally, never to fakes" {
	run gai -f inet -t stream localhost
	assert_output "ai inet 127.0.0.1 0 1 6"
	run gai -f inet6 -t stream localhost
	assert_output "ai inet6 ::1 0 1 6"
	run gai -f inet -t stream foo.localhost
	assert_output "ai inet 127.0.0.1 0 1 6"
	run shim_run SOCKSIFY_HOSTS_FILE="$NETNS_DIR/hosts" "$SNIPPETS/dns_getaddrinfo" \
		-f inet -t stream -F canonname hostsalias.test
	assert_output --partial "ai inet 198.18.2.2 0 1 6"
	assert_output --partial "canon hostsfile.test"
	# Known to the hosts file in IPv4 only: AF_INET6 fails here instead of asking DNS.
	run shim_run SOCKSIFY_HOSTS_FILE="$NETNS_DIR/hosts" "$SNIPPETS/dns_getaddrinfo" \
		-f inet6 hostsfile.test
	assert_output "error EAI_NONAME"
	# ... unless IPv4-mapped answers are acceptable.
	run shim_run SOCKSIFY_HOSTS_FILE="$NETNS_DIR/hosts" "$SNIPPETS/dns_getaddrinfo" \
		-f inet6 -F v4mapped -t stream hostsfile.test
	assert_output "ai inet6 ::ffff:198.18.2.2 0 1 6"
}

@test "one name, one address: across processes; two names, two addresses" {
	run shim_run "$SNIPPETS/dns_tree" resolve shared.test
	local a=$output
	assert_output --regexp "$FAKE4"
	run shim_run "$SNIPPETS/dns_tree" resolve SHARED.test.
	assert_output "$a"
	run shim_run "$SNIPPETS/dns_tree" resolve other.test
	assert_output --regexp "$FAKE4"
	refute_output "$a"
}

@test "getaddrinfo_a: GAI_WAIT, GAI_NOWAIT + gai_suspend, SIGEV_THREAD" {
	local m
	for m in wait nowait thread; do
		run shim_run "$SNIPPETS/dns_getaddrinfo_a" "$m" async1.test async2.test localhost
		assert_success
		assert_line --index 0 --regexp '^async1\.test 240\.'
		assert_line --index 1 --regexp '^async2\.test 240\.'
		assert_line --index 2 'localhost 127.0.0.1'
	done
}

@test "a small /dev/shm (a container's 64 MiB) gets a smaller table, not a failure" {
	# A private mount namespace: its own small /dev/shm, gone with it.
	run in_client unshare -m sh -c 'mount -t tmpfs -o size=64m tmpfs /dev/shm &&
		env LD_PRELOAD="$1" SOCKSIFY_CONF="$2" SOCKSIFY_LOG=info "$3" -f inet -t stream \
			small.test && ls -l /dev/shm' sh "$SOCKSIFY_LIB" "$SHIM_CONF" \
		"$SNIPPETS/dns_getaddrinfo"
	assert_success
	assert_output --partial "the name table is smaller"
	assert_output --regexp 'ai inet 240\.[0-9.]+ 0 1 6'
}

@test "gethostbyname and gethostbyname2(AF_INET6)" {
	run shim_run "$SNIPPETS/dns_gethostbyname" plain target.test
	assert_success
	assert_line --index 0 "name target.test"
	assert_line --index 1 --regexp '^addr 240\.'
	run shim_run "$SNIPPETS/dns_gethostbyname" 2 target.test inet6
	assert_success
	assert_line --index 1 --regexp '^addr fd73:6f63:6b73::'
}

@test "gethostbyname_r and gethostbyname2_r, and ERANGE on a small buffer" {
	run shim_run "$SNIPPETS/dns_gethostbyname" r target.test
	assert_success
	assert_line --index 1 --regexp '^addr 240\.'
	run shim_run "$SNIPPETS/dns_gethostbyname" 2r target.test inet6
	assert_success
	assert_line --index 1 --regexp '^addr fd73:6f63:6b73::'
	run shim_run "$SNIPPETS/dns_gethostbyname" r target.test inet 16
	assert_failure 2
	assert_line --index 0 "rc ERANGE"
	run shim_run "$SNIPPETS/dns_gethostbyname" 2r target.test inet6 16
	assert_line --index 0 "rc ERANGE"
}

@test "gethostbyname of a blocked name fails (HOST_NOT_FOUND)" {
	run shim_run SOCKSIFY_CONF="$NETNS_DIR/block.conf" "$SNIPPETS/dns_gethostbyname" r \
		ads.blocked.test
	assert_failure 2
	assert_output "herr 1"
	run shim_run SOCKSIFY_CONF="$NETNS_DIR/block.conf" "$SNIPPETS/dns_getaddrinfo" \
		blocked.test
	assert_output "error EAI_NONAME"
	# A rule with a port blocks the lookup only for that service; without one,
	# connect() judges the port later.
	run shim_run SOCKSIFY_CONF="$NETNS_DIR/block.conf" "$SNIPPETS/dns_getaddrinfo" \
		-t stream -s 25 port.blocked2.test
	assert_output "error EAI_NONAME"
	run shim_run SOCKSIFY_CONF="$NETNS_DIR/block.conf" "$SNIPPETS/dns_getaddrinfo" \
		-f inet -t stream -s 80 port.blocked2.test
	assert_output --regexp '^ai inet 240\.'
}

@test "gethostbyaddr(_r) names a fake address; a real one fails without a query" {
	run shim_run "$SNIPPETS/dns_tree" resolve byaddr.test
	local a=$output
	run shim_run "$SNIPPETS/dns_gethostbyaddr" plain "$a"
	assert_success
	assert_output "name byaddr.test"
	run shim_run "$SNIPPETS/dns_gethostbyaddr" r "$a"
	assert_output "name byaddr.test"
	run shim_run "$SNIPPETS/dns_gethostbyaddr" r 198.18.2.2
	assert_failure 2
	assert_output "herr 1"
	run shim_run "$SNIPPETS/dns_gethostbyaddr" r 127.0.0.1
	assert_output "name localhost"
}

@test "getnameinfo NI_NAMEREQD: a fake address gives its name" {
	run shim_run "$SNIPPETS/dns_tree" resolve nameinfo.test
	local a=$output
	run shim_run "$SNIPPETS/dns_getnameinfo" "$a" 443 namereqd
	assert_success
	assert_output "host nameinfo.test serv https"
	run shim_run "$SNIPPETS/dns_getnameinfo" "$a" 443 nofqdn,numericserv
	assert_output "host nameinfo serv 443"
	run shim_run "$SNIPPETS/dns_getnameinfo" "$a" 443 numerichost
	assert_output "host $a serv https"
}

@test "getnameinfo on an unknown address: numeric, or EAI_NONAME with NI_NAMEREQD" {
	run shim_run "$SNIPPETS/dns_getnameinfo" 198.18.2.2 80
	assert_success
	assert_output "host 198.18.2.2 serv http"
	run shim_run "$SNIPPETS/dns_getnameinfo" 198.18.2.2 80 namereqd
	assert_failure 2
	assert_output --partial "error -2"
	# A fake address nobody was given has no name either.
	run shim_run "$SNIPPETS/dns_getnameinfo" 240.200.0.1 80 namereqd
	assert_output --partial "error -2"
}

@test "res_query, res_search, res_querydomain, res_send and res_n* answer A and AAAA" {
	local f
	for f in query search querydomain send nquery nsearch nquerydomain nsend; do
		run shim_run "$SNIPPETS/dns_res" "$f" target.test a
		assert_success
		assert_line --index 1 --regexp '^answer 240\.'
		run shim_run "$SNIPPETS/dns_res" "$f" target.test aaaa
		assert_success
		assert_line --index 1 --regexp '^answer fd73:6f63:6b73::'
	done
}

@test "res_query PTR: a fake address's name, a real one fails without a query" {
	run shim_run "$SNIPPETS/dns_tree" resolve ptr.test
	local a=$output o1 o2 o3 o4
	IFS=. read -r o1 o2 o3 o4 <<<"$a"
	run shim_run "$SNIPPETS/dns_res" query "$o4.$o3.$o2.$o1.in-addr.arpa" ptr
	assert_success
	assert_line --index 1 "answer ptr.test"
	run shim_run "$SNIPPETS/dns_res" nsend "$o4.$o3.$o2.$o1.in-addr.arpa" ptr
	assert_line --index 1 "answer ptr.test"
	# The IPv6 fake of the same entry, nibble by nibble.
	local v6 nib
	v6=$(printf 'fd736f636b73000000000000%02x%02x%02x%02x' "$o1" "$o2" "$o3" "$o4")
	nib=$(echo "$v6" | rev | sed 's/./&./g')ip6.arpa
	run shim_run "$SNIPPETS/dns_res" nquery "$nib" ptr
	assert_success
	assert_line --index 1 "answer ptr.test"
	run shim_run "$SNIPPETS/dns_res" query 2.2.18.198.in-addr.arpa ptr
	assert_failure 2
	assert_output "failed h_errno 1"
	run shim_run "$SNIPPETS/dns_res" query 1.0.0.127.in-addr.arpa ptr
	assert_line --index 1 "answer localhost"
}

@test "res_nquery HTTPS (type 65, what Firefox asks) and MX fail closed" {
	run shim_run "$SNIPPETS/dns_res" nquery target.test https
	assert_failure 2
	assert_output "failed h_errno 4"
	run shim_run "$SNIPPETS/dns_res" query target.test mx
	assert_output "failed h_errno 4"
	run shim_run "$SNIPPETS/dns_res" nsend target.test https
	assert_failure 2
}

@test "getent hosts / ahosts / ahostsv6 target.test" {
	# getent hosts asks AF_INET6 first, as it does without the shim.
	run shim_run getent hosts target.test
	assert_success
	assert_output --regexp '^fd73:6f63:6b73::[0-9a-f:]+ +target\.test$'
	run shim_run getent ahostsv4 target.test
	assert_success
	assert_line --index 0 --regexp '^240\.[0-9.]+ +STREAM target\.test$'
	run shim_run getent ahostsv6 target.test
	assert_success
	assert_line --index 0 --regexp '^fd73:6f63:6b73::[0-9a-f:]+ +STREAM target\.test$'
}

@test "fork while threads resolve: no child hangs on a resolver lock" {
	run shim_run timeout 60 "$SNIPPETS/dns_fork"
	assert_snippet_pass
}

@test "process tree: a forked child connects to the parent's fake address" {
	run shim_run "$SNIPPETS/dns_tree" fork target.test 80
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "process tree: an exec'd child connects to the parent's fake address" {
	run shim_run "$SNIPPETS/dns_tree" exec target.test 80
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "process tree: a daemonised child connects after its parent exited" {
	local out=$NETNS_DIR/daemon.out
	run shim_run "$SNIPPETS/dns_tree" daemon target.test 80 "$out"
	assert_success
	wait_for_line "$out" '^done rc=' 10
	run cat "$out"
	assert_output --partial "parent gone: yes"
	assert_output --partial "$NETNS_MARKER"
	assert_output --partial "done rc=0"
}

@test "process tree: a daemonised child execs and connects after its parent exited" {
	local out=$NETNS_DIR/daemon-exec.out
	run shim_run "$SNIPPETS/dns_tree" daemon-exec target.test 80 "$out"
	assert_success
	# The exec'd program prints the page and exits; no "done" line after an exec.
	wait_for_line "$out" "$NETNS_MARKER" 10
	run cat "$out"
	assert_output --partial "parent gone: yes"
}

@test "an address resolved by an exited process connects from a later one" {
	local a
	a=$(shim_run "$SNIPPETS/dns_tree" resolve target.test)
	run shim_run "$SNIPPETS/dns_tree" get "$a" 80 target.test
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "an IPv4-mapped fake on an IPv6 socket (Java style) connects by name" {
	run shim_run "$NETNS_PY" -c '
import socket
a = socket.getaddrinfo("target.test", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
s = socket.socket(socket.AF_INET6)
s.settimeout(10)
s.connect(("::ffff:" + a, 80))
s.sendall(b"GET / HTTP/1.0\r\nHost: target.test\r\n\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.decode())'
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "a fake address with no name fails with EHOSTUNREACH and never reaches the proxy" {
	run shim_run "$NETNS_PY" -c '
import errno, socket
for fam, addr in ((socket.AF_INET, "240.200.0.1"), (socket.AF_INET6, "fd73:6f63:6b73::f0c8:1")):
    s = socket.socket(fam)
    try:
        s.connect((addr, 80))
        print("connected?!")
    except OSError as e:
        print(errno.errorcode.get(e.errno, e.errno))'
	assert_success
	assert_line --index 0 --partial "refused: a fake DNS address with no name"
	assert_line --index 1 "EHOSTUNREACH"
	assert_line --index 3 "EHOSTUNREACH"
	run grep -E 'asked=(240\.200\.|\[fd73:6f63:6b73::f0c8)' "$NETNS_DIR/dns.log"
	assert_failure
}

@test "curl by name" {
	run shim_run curl -sS --max-time 10 http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

# in_client_own_shm CMD...: in_client inside a private mount namespace with a fresh
# /dev/shm, so the user's own name table (/dev/shm/socksify-u<UID>) is this test's.
in_client_own_shm() {
	unshare -m --propagation private bash -c \
		'mount -t tmpfs sfy-test-shm /dev/shm && exec ip netns exec "$0" "$@"' "$NS_CLIENT" "$@"
}

@test "through the launcher: socksify -p URL sh -c 'getent, then curl the address'" {
	require_file "$SOCKSIFY"
	require_cmd unshare
	# Two programs of one run: the second connects to what the first resolved,
	# through the user's table (the launcher names none).
	run in_client_own_shm env -u SOCKSIFY_NAMETABLE SOCKSIFY_LIB="$SOCKSIFY_LIB" \
		SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" -p "$SHIM_PROXY" sh -c '
		echo "table [${SOCKSIFY_NAMETABLE-}]"
		a=$(getent ahostsv4 target.test | head -n 1 | cut -d" " -f1)
		echo "resolved $a"
		curl -sS --max-time 10 "http://$a/"
		echo
		ls /dev/shm'
	assert_success
	assert_line --index 0 'table []'
	assert_line --index 1 --regexp '^resolved 240\.'
	assert_output --partial "$NETNS_MARKER"
	assert_line "socksify-u$(id -u)"
}

@test "eval \"\$(socksify --env)\": separate commands of one shell share the name table" {
	require_file "$SOCKSIFY"
	require_cmd unshare
	# Each command below is its own process tree (no common socksified parent): the
	# user's table is what lets the second use the first's answer.
	run in_client_own_shm env -u SOCKSIFY_NAMETABLE -u LD_PRELOAD SOCKSIFY_LIB="$SOCKSIFY_LIB" \
		SOCKSIFY_CONF="$SHIM_CONF" SFY="$SOCKSIFY" PROXY="$SHIM_PROXY" bash -c '
		eval "$("$SFY" -p "$PROXY" --env)" || exit 9
		a=$(getent ahostsv4 target.test | head -n 1 | cut -d" " -f1)
		echo "resolved $a"
		curl -sS --max-time 10 "http://$a/"'
	assert_success
	assert_line --index 0 --regexp '^resolved 240\.'
	assert_output --partial "$NETNS_MARKER"
}

@test "a fake address from another user's table is refused, never sent as one of ours" {
	require_cmd unshare setpriv
	# The negative twin: user 65534 resolves target.test first in its own table; then
	# root's table gets target.test too (its first name: the index 65534's address
	# would have without per-user windows). Root connecting to 65534's address must
	# fail (EHOSTUNREACH), not reach target.test.
	# The library from a copy user 65534 can read, wherever the build tree is.
	chmod 755 "$NETNS_DIR" && chmod 644 "$SHIM_CONF"
	copy_for_nobody "$NETNS_DIR/nobody-lib" "$SOCKSIFY_LIB"
	run in_client_own_shm env -u SOCKSIFY_NAMETABLE \
		LD_PRELOAD="$NETNS_DIR/nobody-lib/$(basename "$SOCKSIFY_LIB")" \
		SOCKSIFY_CONF="$SHIM_CONF" SOCKSIFY_PROXY="$SHIM_PROXY" bash -c '
		a=$(setpriv --reuid=65534 --regid=65534 --clear-groups getent ahostsv4 target.test |
			head -n 1 | cut -d" " -f1)
		echo "theirs $a"
		echo "ours $(getent ahostsv4 target.test | head -n 1 | cut -d" " -f1)"
		curl -sS --max-time 10 "http://$a/"'
	assert_failure
	assert_line --index 0 --regexp '^theirs 2(4[0-9]|5[0-5])\.'
	assert_line --index 1 --regexp '^ours 240\.0\.0\.1$'
	refute_output --partial "$NETNS_MARKER"
}

@test "curl by name, IPv6 (-6)" {
	run shim_run curl -6 -sS --max-time 10 http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "wget by name" {
	require_cmd wget
	run shim_run wget -q -T 10 -O - http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "python3: socket.getaddrinfo, urllib and asyncio by name" {
	run shim_run "$NETNS_PY" -c '
import asyncio, socket, urllib.request
print(socket.getaddrinfo("target.test", 80, type=socket.SOCK_STREAM)[0][4][0])
print(urllib.request.urlopen("http://target.test/", timeout=10).read().decode())
async def main():
    r, w = await asyncio.wait_for(asyncio.open_connection("target.test", 80), 10)
    w.write(b"GET / HTTP/1.0\r\nHost: target.test\r\n\r\n")
    await w.drain()
    print((await asyncio.wait_for(r.read(), 10)).decode())
    w.close()
asyncio.run(main())'
	assert_success
	assert_line --index 0 --regexp "$FAKE4"
	assert_equal "$(grep -c "$NETNS_MARKER" <<<"$output")" 2
}

@test "node http.get by name" {
	require_cmd node
	run shim_run node -e '
const http = require("http");
http.get({host: "target.test", port: 80, path: "/", timeout: 10000}, (res) => {
  let b = ""; res.on("data", (d) => b += d); res.on("end", () => { console.log(b); });
}).on("error", (e) => { console.log("ERR " + e.message); process.exit(1); });'
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "git clone by name over http" {
	require_cmd git
	local src=$NETNS_DIR/dnssrc
	git init -q "$src"
	echo "$NETNS_MARKER" >"$src/README"
	git -C "$src" add README
	git -C "$src" -c user.name=t -c user.email=t@t commit -q -m first
	git clone -q --bare "$src" "$NETNS_DIR/www/dnsrepo.git"
	git -C "$NETNS_DIR/www/dnsrepo.git" update-server-info
	run shim_run git clone -q http://target.test/dnsrepo.git "$NETNS_DIR/dnsclone"
	assert_success
	run cat "$NETNS_DIR/dnsclone/README"
	assert_output "$NETNS_MARKER"
}

@test "ssh by name to an sshd in the target namespace" {
	require_cmd ssh ssh-keygen
	local d=$NETNS_DIR/dnsssh
	shim_sshd "$d" "$NS_TARGET" "$NS_TARGET_IP" "UseDNS no" "KbdInteractiveAuthentication no"
	run shim_run ssh -F /dev/null -i "$d/client_key" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 \
		-o LogLevel=ERROR root@target.test echo hello-by-name
	assert_success
	assert_output --partial "hello-by-name"
}

@test "socksifyd received names, never a fake address" {
	run grep -c 'asked=target\.test:' "$NETNS_DIR/dns.log"
	assert_success
	refute_output 0
	run grep -E 'asked=(240\.|\[fd73:)' "$NETNS_DIR/dns.log"
	assert_failure
}

@test "the DNS canary counted zero queries over the whole suite" {
	run canary_count
	assert_output 0
}

# ---- the remote-DNS settings as configuration keys ----

@test "config keys fake_net4, fake_net6, dns_unspec, hosts_file: the library follows them" {
	local conf=$NETNS_DIR/keys.conf t=/dev/shm/socksify-$(id -u)-bats-keys-$$-$RANDOM
	printf 'fake_net4 = 100.64.0.0/10\nfake_net6 = fd00:77::/96\ndns_unspec = ipv6\nhosts_file = %s\n' \
		"$NETNS_DIR/hosts" >"$conf"
	# A table of its own: the suite's was created with the default ranges.
	run in_client env LD_PRELOAD="$SOCKSIFY_LIB" SOCKSIFY_CONF="$conf" SOCKSIFY_NAMETABLE="$t" \
		SOCKSIFY_PROXY="$SHIM_PROXY" sh -c '
		"$1/dns_getaddrinfo" -f inet -t stream keys.test
		"$1/dns_getaddrinfo" -t stream keys.test
		"$1/dns_getaddrinfo" -f inet -t stream hostsalias.test
		a=$(getent ahostsv4 target.test | head -n 1 | cut -d" " -f1)
		echo "resolved $a"
		curl -sS --max-time 10 "http://$a/"' _ "$SNIPPETS"
	rm -f "$t"
	assert_success
	assert_line --index 0 --regexp '^ai inet 100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.[0-9.]+ 0 1 6$'
	assert_line --index 1 --regexp '^ai inet6 fd00:77::[0-9a-f:]+ 0 1 6$'
	assert_line --index 2 "ai inet 198.18.2.2 0 1 6"
	assert_line --index 3 --regexp '^resolved 100\.'
	# connect() knows the configured range: the name reached the proxy.
	assert_output --partial "$NETNS_MARKER"
}

@test "config keys: a bad remote-DNS value is an error naming FILE:LINE; --env and --check show them" {
	require_file "$SOCKSIFY"
	local conf=$NETNS_DIR/badkey.conf
	printf '# remote DNS\nfake_net4 = 10.0.0.0/24\n' >"$conf"
	run in_client "$SOCKSIFY" -f "$conf" true
	assert_failure 125
	assert_output --partial "$conf:2: bad value '10.0.0.0/24' for fake_net4 (expected an IPv4 CIDR of /11 or wider"
	run in_client env SOCKSIFY_DNS_UNSPEC=all "$SOCKSIFY" -f "$SHIM_CONF" true
	assert_failure 125
	assert_output --partial "SOCKSIFY_DNS_UNSPEC: bad value 'all' for dns_unspec"
	# The library, which never exits a program, says the same and fails connections.
	run shim_run SOCKSIFY_CONF="$conf" "$SNIPPETS/dns_tree" fork badkey.test 80
	assert_failure
	assert_output --partial "$conf:2: bad value '10.0.0.0/24' for fake_net4"

	printf 'fake_net4 = 100.64.0.0/10\nfake_grace = 60\nhosts_file = none\n' >"$conf"
	run in_client env -u SOCKSIFY_NAMETABLE "$SOCKSIFY" -f "$conf" -p "$SHIM_PROXY" --env
	assert_success
	assert_line "export SOCKSIFY_FAKE_NET4='100.64.0.0/10'"
	assert_line "export SOCKSIFY_FAKE_GRACE='60'"
	assert_line "export SOCKSIFY_HOSTS_FILE=''"
	refute_output --partial SOCKSIFY_FAKE_NET6
	refute_output --partial SOCKSIFY_DNS_UNSPEC
	run in_client "$SOCKSIFY" -f "$conf" -p "$SHIM_PROXY" --check=198.18.2.2:80
	assert_line "remote DNS: fake_net4=100.64.0.0/10, fake_net6=fd73:6f63:6b73::/96, fake_grace=60 s, dns_unspec=both, hosts_file=none"
	# dns=local: nothing of it is exported.
	run in_client env -u SOCKSIFY_NAMETABLE "$SOCKSIFY" -f "$conf" -d local -p "$SHIM_PROXY" --env
	refute_output --partial SOCKSIFY_FAKE
}
