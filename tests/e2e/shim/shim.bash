# Helpers for the shim suites (30-34): run a program in the client namespace with
# libsocksify.so preloaded, and start the proxies it goes through in the proxy
# namespace. Loaded after ../lib/common.
#
#   shim_run [VAR=VALUE...] CMD ARGS...   in the client namespace, under the shim, with
#                                         SOCKSIFY_PROXY=$SHIM_PROXY and an empty config
#                                         file (hermetic); VAR=VALUE override or add.

SHIM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What goes first in LD_PRELOAD: empty, or (tests/run.sh's sanitizer pass over an ASan
# build of the library) the ASan runtime, which must be loaded before anything else.
SHIM_PRELOAD_FIRST=${SHIM_PRELOAD_FIRST:-}

# shim_preload [LIB...]: the LD_PRELOAD value for the shim (and LIBs in that order
# around "$SOCKSIFY_LIB", which must be among them when given).
shim_preload() {
	local libs=${*:-$SOCKSIFY_LIB}
	echo "${SHIM_PRELOAD_FIRST:+$SHIM_PRELOAD_FIRST }$libs"
}

# Only the program gets LD_PRELOAD: `ip netns exec` itself runs unpreloaded in the
# root namespace, where a proxied connect would mean something else entirely.
shim_run() {
	in_client env LD_PRELOAD="$(shim_preload)" SOCKSIFY_CONF="$SHIM_CONF" \
		SOCKSIFY_PROXY="$SHIM_PROXY" "$@"
}

# shim_setup_file: the topology, an empty config, and nothing else.
shim_setup_file() {
	require_file "$SOCKSIFY_LIB"
	netns_up || return 1
	SHIM_CONF=$NETNS_DIR/empty.conf
	: >"$SHIM_CONF"
	export SHIM_CONF
}

# shim_socksifyd NAME ARGS...: socksifyd in the proxy namespace on 198.18.1.2 and
# fd00:1::2 (port 0); sets SHIM_PROXY to socks5://198.18.1.2:PORT and exports
# SHIM_S5_PORT / SHIM_S5_PORT6 / SHIM_S5_PID.
shim_socksifyd() {
	local name=$1
	shift
	require_file "$SOCKSIFYD"
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/$name.log" --open -l 198.18.1.2:0 \
		-l '[fd00:1::2]:0' "$@" || return 1
	SHIM_S5_PORT=$(socksifyd_port 198.18.1.2)
	SHIM_S5_PORT6=$(socksifyd_port '[fd00:1::2]')
	SHIM_S5_PID=$SOCKSIFYD_PID
	SHIM_PROXY=socks5://198.18.1.2:$SHIM_S5_PORT
	export SHIM_PROXY SHIM_S5_PORT SHIM_S5_PORT6 SHIM_S5_PID
}

# shim_microsocks PORT [ARGS...]: microsocks on 198.18.1.2:PORT in the proxy namespace.
shim_microsocks() {
	local port=$1
	shift
	require_cmd microsocks
	netns_bg "$NS_PROXY" "$NETNS_DIR/microsocks-$port.log" microsocks -i 198.18.1.2 \
		-p "$port" "$@"
	wait_for_port "$NS_PROXY" 198.18.1.2 "$port" 10
}

# shim_http_proxy PORT [USER:PASS]: the tiny HTTP CONNECT proxy of these suites.
shim_http_proxy() {
	local port=$1 auth=${2:-}
	netns_bg "$NS_PROXY" "$NETNS_DIR/httpproxy-$port.log" "$NETNS_PY" \
		"$SHIM_DIR/http_connect_proxy.py" 198.18.1.2 "$port" $auth
	wait_for_line "$NETNS_DIR/httpproxy-$port.log" '^http-connect ready' 10
}

# shim_silent_server PORT: accepts connections and never answers (for timeouts).
shim_silent_server() {
	local port=$1
	netns_bg "$NS_PROXY" "$NETNS_DIR/silent-$port.log" "$NETNS_PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.1.2", int(sys.argv[1]))); s.listen(64)
print("silent ready", flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$port"
	wait_for_line "$NETNS_DIR/silent-$port.log" '^silent ready' 10
}

# assert_snippet_pass: the snippet printed RESULT: PASS and exited 0.
assert_snippet_pass() {
	assert_success
	assert_output --partial "RESULT: PASS"
	refute_output --partial "FAIL:"
}

# shim_connect [VAR=VALUE...] HOST PORT [SEND]: one blocking connect under the shim;
# output "result=OK|ECONNREFUSED|... elapsed_ms=N" (and "reply=..." with SEND).
shim_connect() {
	local -a vars=()
	while [[ "${1:-}" == *=* ]]; do
		vars+=("$1")
		shift
	done
	shim_run "${vars[@]}" "$NETNS_PY" "$SHIM_DIR/connect_errno.py" "$@"
}

# shim_hosts NAME ADDR: a hosts entry in the client namespace, so proxies can be given
# by name without any DNS query (nsswitch reads files first).
shim_hosts() {
	printf '%s\t%s\n' "$2" "$1" >>"/etc/netns/$NS_CLIENT/hosts"
}

# shim_faulty_server PORT HEX: accepts, sends the bytes HEX (e.g. "0500" or "" for an
# immediate close) after reading whatever arrives first, then closes.
shim_faulty_server() {
	local port=$1 hex=$2
	netns_bg "$NS_PROXY" "$NETNS_DIR/faulty-$port.log" "$NETNS_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.1.2", int(sys.argv[1]))); s.listen(64)
reply = bytes.fromhex(sys.argv[2])
print("faulty ready", flush=True)
while True:
    c, _ = s.accept()
    try:
        if reply:
            c.recv(512); c.sendall(reply)
    finally:
        c.close()
' "$port" "$hex"
	wait_for_line "$NETNS_DIR/faulty-$port.log" '^faulty ready' 10
}

# shim_sshd DIR NS ADDR [CONFIG-LINE...]: host and client keys in DIR (root may log in
# with DIR/client_key, nothing else), and an sshd on ADDR:22 in namespace NS, waited
# for. Extra sshd_config lines follow the common ones. Pair with shim_sshd_cleanup in
# teardown_file (it removes /run/sshd if this made it).
shim_sshd() {
	local d=$1 ns=$2 addr=$3
	shift 3
	mkdir -p "$d"
	if [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && touch "$BATS_FILE_TMPDIR/made-run-sshd"
	fi
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$d/client_key"
	cp "$d/client_key.pub" "$d/authorized_keys"
	chmod 600 "$d/authorized_keys"
	printf '%s\n' "Port 22" "ListenAddress $addr" "HostKey $d/host_key" \
		"AuthorizedKeysFile $d/authorized_keys" "PidFile none" "UsePAM no" \
		"StrictModes no" "PermitRootLogin prohibit-password" \
		"PasswordAuthentication no" "$@" >"$d/sshd_config"
	netns_bg "$ns" "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	wait_for_port "$ns" "$addr" 22 10
}

shim_sshd_cleanup() {
	if [ -f "${BATS_FILE_TMPDIR:-/nonexistent}/made-run-sshd" ]; then
		rmdir /run/sshd 2>/dev/null
	fi
	return 0
}

# shim_firefox_profile DIR: a Firefox profile whose background services stay quiet, so
# a headless run is short (none of them may leak anyway).
shim_firefox_profile() {
	mkdir -p "$1"
	cat >"$1/user.js" <<-'JS'
		user_pref("browser.shell.checkDefaultBrowser", false);
		user_pref("datareporting.policy.dataSubmissionEnabled", false);
		user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
		user_pref("app.update.auto", false);
		user_pref("browser.startup.homepage_override.mstone", "ignore");
	JS
}
