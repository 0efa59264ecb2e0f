#!/usr/bin/env bash
# Port-53 queries answered inside libsocksify.so (issue 12) against a real local
# resolver: round trips per second of a small UDP DNS client (snippets/dns53_bench: a
# connected UDP socket to the first resolv.conf name server, one A query, its answer,
# the next), in the namespace test topology (needs root). The client namespace's
# resolv.conf names 127.0.0.53, where dnsmasq answers the name from its own records
# (no upstream); the same client under the library with dns=remote gets its answer
# from inside the process, on its own socket. Side by side, interleaved.
#
# Usage: scripts/bench/dns53.sh [BUILD_DIR]   (builds nothing: `make all snippets`).
#        DNS53_BENCH_N queries per run (default 20000).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 1
export SOCKSIFY_LIB=$BUILD/libsocksify.so SOCKSIFYD=$BUILD/socksifyd
SNIP=$BUILD/snippets
N=${DNS53_BENCH_N:-20000}

for f in "$SOCKSIFY_LIB" "$SNIP/dns53_bench"; do
	[ -e "$f" ] || { echo "dns53.sh: $f missing (make B=$BUILD all snippets)" >&2; exit 1; }
done
command -v dnsmasq >/dev/null || { echo "dns53.sh: dnsmasq not installed; skipped" >&2; exit 0; }
if [ "$(id -u)" != 0 ]; then
	echo "dns53.sh: needs root (network namespaces); skipped" >&2
	exit 0
fi
# shellcheck source=/dev/null
load() { :; } # common.bash loads bats helpers that a plain script does not need
source "$ROOT/tests/lib/netns.bash"
source "$ROOT/tests/lib/common.bash" 2>/dev/null
NT=/dev/shm/socksify-$(id -u)-bench53-$$
trap 'netns_down; rm -f "$NT"' EXIT
netns_up >/dev/null || exit 1
# The local resolver: dnsmasq on the client namespace's 127.0.0.53, as a desktop's stub.
netns_bg "$NS_CLIENT" "$NETNS_DIR/stub53.out" dnsmasq --no-daemon --no-resolv --no-hosts \
	--conf-file=/dev/null --user=root --group=root --bind-interfaces \
	--listen-address=127.0.0.53 --host-record=bench.target.test,198.18.2.2 --pid-file=
wait_for_port "$NS_CLIENT" 127.0.0.53 53 10 || { echo "dns53.sh: dnsmasq did not start" >&2; exit 1; }
printf 'nameserver 127.0.0.53\n' >"/etc/netns/$NS_CLIENT/resolv.conf"
: >"$NETNS_DIR/empty.conf"

STUB_PID=$NETNS_BG_PID
TCK=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run [ENV...]: one run of the client; prints "QPS CPU_US", CPU_US being the CPU time
# per query of everything that answered it: the client's own, plus dnsmasq's when it
# is the one answering (a shared, loaded machine stretches wall time, not CPU time).
run() {
	local t0 t1 out
	t0=$(ticks "$STUB_PID")
	out=$(in_client env "$@" "$SNIP/dns53_bench" "$N" bench.target.test 2>&1 | tail -1)
	t1=$(ticks "$STUB_PID")
	awk -v o="$out" -v d=$((t1 - t0)) -v tck="$TCK" -v n="$N" -v lib=$# 'BEGIN {
		k = split(o, f, " "); q = 0; c = 0
		for (i = 1; i < k; i++) { if (f[i] == "qps") q = f[i + 1]; if (f[i] == "cpu_us") c = f[i + 1] }
		if (!lib) c += d * 1e6 / tck / n
		printf "%d %.2f\n", q, c }'
}
med3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
declare -a RQ RC LQ LC
for i in 1 2 3; do
	read -r q c < <(run)
	RQ+=("$q") RC+=("$c")
	read -r q c < <(run LD_PRELOAD="$SOCKSIFY_LIB" SOCKSIFY_CONF="$NETNS_DIR/empty.conf" \
		SOCKSIFY_PROXY="socks5://198.18.1.2:1080" SOCKSIFY_NAMETABLE="$NT")
	LQ+=("$q") LC+=("$c")
done
rq=$(med3 "${RQ[@]}") rc=$(med3 "${RC[@]}") lq=$(med3 "${LQ[@]}") lc=$(med3 "${LC[@]}")
echo "== port-53 queries over UDP, a connected client ($N queries; median of 3 interleaved runs) =="
printf '%-46s %10s %10s %14s\n' "answered by" "queries/s" "us/query" "CPU us/query"
row() { printf '%-46s %10s %10s %14s\n' "$1" "$2" "$(awk -v r="$2" 'BEGIN { if (r > 0) printf "%.1f", 1e6 / r; else print "-" }')" "$3"; }
row "dnsmasq on 127.0.0.53 (no library)" "$rq" "$rc"
row "libsocksify.so, dns=remote (in the library)" "$lq" "$lc"
awk -v rq="$rq" -v lq="$lq" -v rc="$rc" -v lc="$lc" 'BEGIN {
	if (rq > 0 && lc > 0) printf "%-46s %9.1fx %10s %13.1fx\n", "in-library vs dnsmasq", lq / rq, "", rc / lc }'
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); wall-clock rates on a loaded machine favour the process that sleeps)"
