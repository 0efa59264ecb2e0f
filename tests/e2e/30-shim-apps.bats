#!/usr/bin/env bats
# Real applications under libsocksify.so, in the client namespace (which reaches only
# the proxy) through socksifyd in the proxy namespace, fetching from the target. Each
# app is also run once without the shim to show it cannot get there alone.

load '../lib/common'
load 'shim/shim'

setup_file() {
	shim_setup_file
	shim_socksifyd s5
}

teardown_file() {
	netns_down
	shim_sshd_cleanup
}

@test "curl without the shim cannot reach the target (negative twin)" {
	run in_client curl -sS --max-time 3 "http://$NS_TARGET_IP/"
	assert_failure
}

@test "curl, IPv4" {
	run shim_run curl -sS --max-time 10 "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "curl, IPv6" {
	run shim_run curl -sS --max-time 10 "http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "curl is quiet: nothing but the page on stdout and stderr" {
	run shim_run curl -sS --max-time 10 "http://$NS_TARGET_IP/"
	assert_success
	assert_output "<html><body>$NETNS_MARKER</body></html>"
}

@test "wget" {
	require_cmd wget
	run shim_run wget -q -T 10 -O - "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "python3 urllib" {
	run shim_run "$NETNS_PY" -c '
import sys, urllib.request
print(urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=10).read().decode())' \
		"$NS_TARGET_IP"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "python3 asyncio (non-blocking connect in an event loop)" {
	run shim_run "$NETNS_PY" -c '
import asyncio, sys
async def main():
    r, w = await asyncio.wait_for(asyncio.open_connection(sys.argv[1], 80), 10)
    w.write(b"GET / HTTP/1.0\r\nHost: t\r\n\r\n")
    await w.drain()
    body = await asyncio.wait_for(r.read(), 10)
    print(body.decode())
    w.close()
    # Several at once on the same loop.
    async def echo(i):
        r, w = await asyncio.open_connection(sys.argv[1], 7)
        w.write(b"x%d" % i); await w.drain()
        got = await r.readexactly(len(b"x%d" % i)); w.close()
        return got == b"x%d" % i
    res = await asyncio.wait_for(asyncio.gather(*[echo(i) for i in range(20)]), 20)
    print("echo-all-ok" if all(res) else "echo-failed")
asyncio.run(main())' "$NS_TARGET_IP"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_output --partial "echo-all-ok"
}

@test "node http.get (libuv non-blocking connect)" {
	require_cmd node
	run shim_run node -e '
const http = require("http");
http.get({host: process.argv[1], port: 80, path: "/", timeout: 10000}, (res) => {
  let b = ""; res.on("data", (d) => b += d); res.on("end", () => { console.log(b); });
}).on("error", (e) => { console.log("ERR " + e.message); process.exit(1); });' "$NS_TARGET_IP"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "ncat" {
	require_cmd ncat
	run shim_run sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | ncat -w 10 "$1" 80' sh "$NS_TARGET_IP"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "ssh to an sshd in the target namespace" {
	require_cmd ssh ssh-keygen
	local d=$NETNS_DIR/ssh
	shim_sshd "$d" "$NS_TARGET" "$NS_TARGET_IP" "KbdInteractiveAuthentication no"
	run shim_run ssh -F /dev/null -i "$d/client_key" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 \
		-o LogLevel=ERROR "root@$NS_TARGET_IP" echo hello-from-ssh
	assert_success
	assert_output --partial "hello-from-ssh"
}

@test "git clone over http (dumb protocol)" {
	require_cmd git
	local src=$NETNS_DIR/src
	git init -q "$src"
	echo "$NETNS_MARKER" >"$src/README"
	git -C "$src" add README
	git -C "$src" -c user.name=t -c user.email=t@t commit -q -m first
	git clone -q --bare "$src" "$NETNS_DIR/www/repo.git"
	git -C "$NETNS_DIR/www/repo.git" update-server-info
	run shim_run git clone -q "http://$NS_TARGET_IP/repo.git" "$NETNS_DIR/clone"
	assert_success
	run cat "$NETNS_DIR/clone/README"
	assert_output "$NETNS_MARKER"
}

@test "through the launcher: socksify -p URL curl" {
	require_file "$SOCKSIFY"
	run in_client env SOCKSIFY_LIB="$SOCKSIFY_LIB" SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" \
		-p "$SHIM_PROXY" curl -sS --max-time 10 "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "through the launcher: --check passes on the same proxy" {
	require_file "$SOCKSIFY"
	run in_client env SOCKSIFY_LIB="$SOCKSIFY_LIB" SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" \
		-p "$SHIM_PROXY" --check="$NS_TARGET_IP:80"
	assert_success
}
