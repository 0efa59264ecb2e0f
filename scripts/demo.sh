#!/usr/bin/env bash
# `make demo`: the main job end to end. Starts socksifyd, serves a page where the shim
# does tunnel (loopback is always direct), fetches it with `socksify curl`, and shows
# socksifyd's log line proving the request went through it. Cleans up all it started.
#
# As root it uses the namespace test topology (a client that can reach only the proxy);
# otherwise the page is served on this machine's own non-loopback address.

set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BUILD=${BUILD:-${B:-build}}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
SOCKSIFYD_BIN=$BUILD/socksifyd
SOCKSIFY_BIN=$BUILD/socksify
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# Bold headings on a terminal only, so CI logs stay plain text.
if [ -t 1 ]; then
	heading() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	heading() { printf '\n== %s\n' "$*"; }
fi
say() { printf '   %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

for f in "$SOCKSIFYD_BIN" "$SOCKSIFY_BIN" "$BUILD/libsocksify.so"; do
	[ -x "$f" ] || [ -f "$f" ] || die "$f is missing: run 'make' first"
done
command -v curl >/dev/null || die "curl is missing: run scripts/install-deps.sh"

WORK=$(mktemp -d /tmp/sfy-demo.XXXXXX) || exit 1
HOST_PIDS=()
cleanup() {
	local p
	for p in "${HOST_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	if [ -n "${NETNS_DIR:-}" ]; then
		netns_down
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_listen LOG: the port from socksifyd's readiness line (10 s at most).
wait_listen() {
	local log=$1 i line
	for ((i = 0; i < 200; i++)); do
		line=$(grep -Em1 'socksifyd\[[0-9]+\]: listening on ' "$log" 2>/dev/null)
		if [ -n "$line" ]; then
			echo "${line##*:}"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

show_log() {
	heading "socksifyd's log: the sessions it relayed"
	sed 's/^/   /' "$1"
}

# The topology and its helpers (wait_for_line, netns_bg, ...), as the suites use them.
# shellcheck source=tests/lib/netns.bash
source "$TOP/tests/lib/netns.bash"

demo_netns() {
	# netns_up calls bats' skip only when not root; we are root here.
	heading "Namespace topology"
	netns_up || die "could not build the namespace topology"
	say "client $NS_CLIENT_IP  ->  proxy $NS_PROXY_IP | $NS_PROXY_OUT_IP  ->  target $NS_TARGET_IP"
	say "the target serves http://$NS_TARGET_IP/ (a page containing '$NETNS_MARKER')"

	heading "Without socksify the client cannot reach the target"
	say "\$ curl --max-time 2 http://$NS_TARGET_IP/     (in the client namespace)"
	in_client curl -sS --max-time 2 "http://$NS_TARGET_IP/" 2>&1 | sed 's/^/   /'

	heading "Starting socksifyd in the proxy namespace"
	local log=$NETNS_DIR/socksifyd.log port
	netns_bg "$NS_PROXY" "$log" "$SOCKSIFYD_BIN" -l "$NS_PROXY_IP:0" --open -v
	port=$(wait_listen "$log") || { cat "$log"; die "socksifyd did not start"; }
	say "\$ socksifyd -l $NS_PROXY_IP:0 --open -v"
	say "listening on $NS_PROXY_IP:$port"

	heading "socksify curl, in the client namespace"
	say "\$ socksify -p socks5h://$NS_PROXY_IP:$port curl -sS http://$NS_TARGET_IP/"
	local out
	out=$(in_client "$SOCKSIFY_BIN" -p "socks5h://$NS_PROXY_IP:$port" \
		curl -sS --max-time 10 "http://$NS_TARGET_IP/" 2>&1)
	printf '%s\n' "$out" | sed 's/^/   /'
	local by_ip=0 by_name=0 before after
	grep -q "$NETNS_MARKER" <<<"$out" && by_ip=1

	heading "By name: target.test is resolved by the proxy, not the client"
	before=$(canary_count)
	say "\$ socksify -p socks5h://$NS_PROXY_IP:$port curl -sS http://target.test/"
	out=$(in_client "$SOCKSIFY_BIN" -p "socks5h://$NS_PROXY_IP:$port" \
		curl -sS --max-time 10 "http://target.test/" 2>&1)
	printf '%s\n' "$out" | sed 's/^/   /'
	after=$(canary_count)
	say "DNS queries that left the client namespace (the canary's count): $((after - before))"
	grep -q "$NETNS_MARKER" <<<"$out" && [ "$after" -eq "$before" ] && by_name=1

	# Let socksifyd write its end-of-session lines before we show the log.
	wait_for_line "$log" 'asked=target\.test' 2 2>/dev/null
	show_log "$log"
	heading "Result"
	if [ $by_ip = 1 ]; then
		say "OK: the page arrived by address, and only through socksifyd."
	else
		say "FAILED: the page did not arrive through socksifyd."
	fi
	if [ $by_name = 1 ]; then
		say "OK: the page arrived by name, resolved by the proxy, with no DNS leak."
	else
		say "FAILED: fetching by name did not work without a leak."
	fi
	[ $by_ip = 1 ] && [ $by_name = 1 ]
}

demo_host() {
	local addr
	addr=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -Ev '^(127\.|::1$|$)' | head -n 1)
	if [ -z "$addr" ]; then
		heading "No demo possible"
		say "Loopback is always direct for socksify, so the page must sit on a non-loopback"
		say "address, and this machine has none (hostname -I is empty). Run 'make demo' as"
		say "root to use the network-namespace topology instead."
		return 1
	fi
	local www=$WORK/www log=$WORK/socksifyd.log hport port
	mkdir -p "$www"
	echo "<html><body>hello through socksify, from $addr</body></html>" >"$www/index.html"

	heading "Serving a page on this machine's address $addr"
	$PY -m http.server --bind "$addr" --directory "$www" 0 >"$WORK/http.log" 2>&1 </dev/null &
	HOST_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		hport=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/http.log" 2>/dev/null | head -n 1)
		[ -n "$hport" ] && break
		sleep 0.05
	done
	[ -n "$hport" ] || die "the page server did not start"
	say "http://$addr:$hport/"

	heading "Starting socksifyd on 127.0.0.1"
	"$SOCKSIFYD_BIN" -l 127.0.0.1:0 -v >"$log" 2>&1 </dev/null &
	HOST_PIDS+=($!)
	port=$(wait_listen "$log") || { cat "$log"; die "socksifyd did not start"; }
	say "\$ socksifyd -l 127.0.0.1:0 -v      -> listening on 127.0.0.1:$port"

	heading "socksify curl"
	say "\$ socksify -p socks5h://127.0.0.1:$port curl -sS http://$addr:$hport/"
	local out
	out=$("$SOCKSIFY_BIN" -p "socks5h://127.0.0.1:$port" curl -sS --max-time 10 \
		"http://$addr:$hport/" 2>&1)
	printf '%s\n' "$out" | sed 's/^/   /'
	wait_for_line "$log" "asked=$addr" 2 2>/dev/null
	show_log "$log"
	heading "Result"
	if grep -q 'hello through socksify' <<<"$out" && grep -q "$addr" "$log"; then
		say "OK: the page arrived, and socksifyd's log shows the connection to $addr."
		return 0
	fi
	say "FAILED: the page did not arrive through socksifyd."
	return 1
}

if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
	demo_netns
else
	demo_host
fi
