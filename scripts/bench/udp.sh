#!/usr/bin/env bash
# UDP benchmarks for issue 5, in the namespace test topology (needs root): UDP echo
# round trips per second through socksifyd with libsocksify.so against Dante's client
# library (libdsocksd via LD_PRELOAD + SOCKS_CONF) on the same server, plus the bare
# round trip from the proxy namespace for scale; and the fast path's price: write() to
# a pipe and read() from a file with the library preloaded against without.
#
# Usage: scripts/bench/udp.sh [BUILD_DIR]   (default build/; builds nothing itself:
#        run `make B=BUILD_DIR all snippets` first). UDP_BENCH_N round trips per round
#        (default 2000), UDP_IO_REPS calls per round (default 200000).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 1
export SOCKSIFY_LIB=$BUILD/libsocksify.so SOCKSIFYD=$BUILD/socksifyd
SNIP=$BUILD/snippets
N=${UDP_BENCH_N:-2000}
REPS=${UDP_IO_REPS:-200000}
LIB_DANTE=${BENCH_LIB_DANTE:-/usr/lib/x86_64-linux-gnu/libdsocksd.so.0}

for f in "$SOCKSIFY_LIB" "$SOCKSIFYD" "$SNIP/udp_bench" "$SNIP/udp_iobench"; do
	[ -e "$f" ] || { echo "udp.sh: $f missing (make B=$BUILD all snippets)" >&2; exit 1; }
done

# The fast path needs no namespace: the same binary with and without the library,
# 5 runs each, interleaved (a shared machine drifts), the median of each kept.
io_runs() {
	local i
	for ((i = 0; i < 5; i++)); do
		"$SNIP/udp_iobench" "$REPS" | sed 's/^/bare /'
		LD_PRELOAD="$SOCKSIFY_LIB" "$SNIP/udp_iobench" "$REPS" | sed 's/^/lib /'
	done
}
echo "== fast path: ns per call (median of 5 interleaved runs, each a median of 11 rounds of $REPS) =="
io_runs | sed 's/[a-z_]*=//g' | awk '
	{ w[$1] = w[$1] " " $2; r[$1] = r[$1] " " $3 }
	function med(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((n + 1) / 2)]
	}
	END {
		bw = med(w["bare"]); lw = med(w["lib"]); br = med(r["bare"]); lr = med(r["lib"])
		printf "%-28s %10s %10s\n", "", "write/pipe", "read/file"
		printf "%-28s %10d %10d\n", "no library", bw, br
		printf "%-28s %10d %10d\n", "libsocksify.so", lw, lr
		printf "%-28s %9.1f%% %9.1f%%\n", "overhead", (lw - bw) * 100 / bw, (lr - br) * 100 / br
	}'

if [ "$(id -u)" != 0 ]; then
	echo "udp.sh: UDP round trips need root (network namespaces); skipped" >&2
	exit 0
fi
# shellcheck source=/dev/null
load() { :; } # common.bash loads bats helpers that a plain script does not need
source "$ROOT/tests/lib/netns.bash"
source "$ROOT/tests/lib/common.bash" 2>/dev/null
trap 'netns_down' EXIT
netns_up >/dev/null || exit 1
start_socksifyd "$NS_PROXY" "$NETNS_DIR/s5.log" --open -l 198.18.1.2:0 || exit 1
PORT=$(socksifyd_port 198.18.1.2)
printf 'route {\n\tfrom: 0.0.0.0/0 to: 0.0.0.0/0 via: 198.18.1.2 port = %s\n\tproxyprotocol: socks_v5\n\tmethod: none\n\tcommand: connect udpassociate\n}\n' \
	"$PORT" >"$NETNS_DIR/dante.conf"
: >"$NETNS_DIR/empty.conf"

# Each client three times, interleaved (a shared machine drifts); the median kept.
rtt_run() {
	"$@" "$SNIP/udp_bench" "$NS_TARGET_IP" 7 "$N" 2>&1 | tail -1 |
		sed -n 's/^udp_rtt_per_s=\([0-9]*\).*/\1/p'
}
med3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
declare -a BARE SHIM DANTE
for i in 1 2 3; do
	BARE+=("$(rtt_run in_proxy env)")
	SHIM+=("$(rtt_run in_client env LD_PRELOAD="$SOCKSIFY_LIB" \
		SOCKSIFY_CONF="$NETNS_DIR/empty.conf" SOCKSIFY_PROXY="socks5://198.18.1.2:$PORT")")
	[ -f "$LIB_DANTE" ] && DANTE+=("$(rtt_run in_client env LD_PRELOAD="$LIB_DANTE" \
		SOCKS_CONF="$NETNS_DIR/dante.conf")")
done
echo
echo "== UDP echo round trips per second (64 bytes; median of 3 interleaved runs, each the median of 5 rounds of $N) =="
printf '%-40s %10s %10s\n' "client" "rtt/s" "us/rtt"
row() { printf '%-40s %10s %10s\n' "$1" "$2" "$(awk -v r="$2" 'BEGIN { if (r > 0) printf "%.1f", 1e6 / r; else print "-" }')"; }
row "bare, from the proxy namespace" "$(med3 "${BARE[@]}")"
row "libsocksify.so via socksifyd" "$(med3 "${SHIM[@]}")"
if [ -f "$LIB_DANTE" ]; then
	row "Dante libdsocksd via socksifyd" "$(med3 "${DANTE[@]}")"
else
	echo "Dante libdsocksd: skipped (dante-client not installed)"
fi
