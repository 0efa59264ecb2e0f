#!/usr/bin/env bash
# The seccomp supervisor (issue 13) against the library, side by side in one run, in a
# client -> proxy -> target namespace chain of our own (needs root):
#   - per connect: sxbench connloop built static (so socksify supervises it) against the
#     same source built dynamic under libsocksify.so; target at most 1.5x;
#   - bulk download: one stream through each; the data path is the kernel's in both;
#   - start-up: `socksify --supervise true` (filter, fork, hand-off) against
#     `socksify --preload-only true` and a bare `true` (hyperfine -N).
# Usage: scripts/bench/supervise.sh [BUILD_DIR]   (builds only its two sxbench copies).
#   SV_BENCH_N connects per loop (default 300), SV_BENCH_BULK (default 256M),
#   SV_BENCH_REPS loops per subject (default 5), SV_BENCH_HF_RUNS (default 100).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/scripts/bench
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 1
N=${SV_BENCH_N:-300}
BULK=${SV_BENCH_BULK:-256M}
REPS=${SV_BENCH_REPS:-5}
HF_RUNS=${SV_BENCH_HF_RUNS:-100}
for f in "$BUILD/socksify" "$BUILD/socksifyd" "$BUILD/libsocksify.so"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "supervise.sh: $f missing (make all)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "supervise.sh: skipped: needs root (network namespaces)"; exit 0; }

WORK=$(mktemp -d /tmp/sxsv.XXXXXX)
TAG=sxsv$$
NS_C=$TAG-c NS_P=$TAG-p NS_T=$TAG-t
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "$NS_C" "$NS_P" "$NS_T"; do ip netns del "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -std=c11 -D_GNU_SOURCE -pthread -o "$WORK/sxb-dyn" "$HERE/sxbench.c" &&
	cc -O2 -std=c11 -D_GNU_SOURCE -pthread -static -o "$WORK/sxb-static" "$HERE/sxbench.c" ||
	{ echo "supervise.sh: cannot build sxbench (static needs libc.a)"; exit 1; }

for ns in "$NS_C" "$NS_P" "$NS_T"; do ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1; done
ip link add ${TAG}a netns "$NS_C" type veth peer name ${TAG}b netns "$NS_P" &&
	ip link add ${TAG}x netns "$NS_P" type veth peer name ${TAG}y netns "$NS_T" &&
	ip -n "$NS_C" addr add 198.18.11.1/24 dev ${TAG}a && ip -n "$NS_C" link set ${TAG}a up &&
	ip -n "$NS_P" addr add 198.18.11.2/24 dev ${TAG}b && ip -n "$NS_P" link set ${TAG}b up &&
	ip -n "$NS_P" addr add 198.18.12.1/24 dev ${TAG}x && ip -n "$NS_P" link set ${TAG}x up &&
	ip -n "$NS_T" addr add 198.18.12.2/24 dev ${TAG}y && ip -n "$NS_T" link set ${TAG}y up || exit 1
for ns in "$NS_C" "$NS_P"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65000"
done

wait_line() { # FILE REGEX SECONDS
	local i
	for ((i = 0; i < $3 * 20; i++)); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
ip netns exec "$NS_T" "$WORK/sxb-dyn" target 198.18.12.2:0 >"$WORK/target.out" 2>&1 &
PIDS+=("$!")
ip netns exec "$NS_P" "$BUILD/socksifyd" -l 198.18.11.2:0 --open 2>"$WORK/sd.log" &
PIDS+=("$!")
wait_line "$WORK/target.out" '^port [0-9]+' 5 && wait_line "$WORK/sd.log" 'listening on' 5 ||
	{ echo "supervise.sh: target or socksifyd did not start"; exit 1; }
TARGET=198.18.12.2:$(awk '/^port/ {print $2}' "$WORK/target.out")
PROXY=socks5://$(grep -oE 'listening on [0-9.:]+' "$WORK/sd.log" | head -1 | sed 's/listening on //')
: >"$WORK/empty.conf"

field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
med() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "n/a") print "n/a"; else printf "%.2fx", a / b }'; }

# run SUBJECT SXBENCH-ARGS...: sxbench under the library or the supervisor
run() {
	local subj=$1
	shift
	case $subj in
	lib) ip netns exec "$NS_C" env LD_PRELOAD="$BUILD/libsocksify.so" SOCKSIFY_CONF="$WORK/empty.conf" \
		SOCKSIFY_PROXY="$PROXY" timeout 120 "$WORK/sxb-dyn" "$@" ;;
	sup) ip netns exec "$NS_C" env SOCKSIFY_CONF="$WORK/empty.conf" timeout 120 \
		"$BUILD/socksify" -p "$PROXY" "$WORK/sxb-static" "$@" ;;
	esac
}

run lib connloop -t "$TARGET" -n 30 >/dev/null 2>&1 # warm caches
run sup connloop -t "$TARGET" -n 30 >/dev/null 2>&1
# Interleaved, the order turned each repetition: a shared machine drifts.
order() { if (($1 % 2)); then echo sup lib; else echo lib sup; fi; }
for ((r = 0; r < REPS; r++)); do
	for s in $(order $r); do
		out=$(run $s connloop -t "$TARGET" -n "$N" 2>>"$WORK/errors")
		[ "$(field fails <<<"$out")" = 0 ] && field us_per_conn <<<"$out" >>"$WORK/$s.loop"
	done
done
for ((r = 0; r < REPS; r++)); do
	for s in $(order $r); do
		out=$(run $s bulk -t "$TARGET" -n "$BULK" -d down 2>>"$WORK/errors")
		b=$(field bytes <<<"$out") t=$(field secs <<<"$out")
		[ -n "$b" ] && awk -v b="$b" -v t="$t" 'BEGIN { printf "%.0f\n", b / t / 1e6 }' >>"$WORK/$s.bulk"
	done
done

echo "== per connect and bulk: static sxbench under the supervisor vs dynamic under the library =="
echo "(connect: median of $REPS loops of $N sequential connect()+close(), us; bulk: one $BULK"
echo " stream down, MB/s, median of $REPS; both interleaved, order turned each time)"
printf '%-34s %12s %10s\n' "" "us/connect" "MB/s down"
L=$(med <"$WORK/lib.loop" 2>/dev/null) S=$(med <"$WORK/sup.loop" 2>/dev/null)
LB=$(med <"$WORK/lib.bulk" 2>/dev/null) SB=$(med <"$WORK/sup.bulk" 2>/dev/null)
printf '%-34s %12s %10s\n' "library (LD_PRELOAD, dynamic)" "$L" "$LB"
printf '%-34s %12s %10s\n' "supervisor (seccomp, static)" "$S" "$SB"
printf '%-34s %12s %10s\n' "supervisor / library" "$(ratio "$S" "$L")" "$(ratio "$SB" "$LB")"
V=$(awk -v s="$S" -v l="$L" 'BEGIN { if (l + 0 == 0) print "n/a"; else print (s / l <= 1.5) ? "yes" : "NO" }')
echo "target: per connect at most 1.5x the library: $V"

# startup_table TITLE UNIT MEASURE: true, --preload-only true, --supervise true
startup_table() {
	local m=$3 t0 t1 t2
	t0=$($m true) t1=$($m "$BUILD/socksify" --preload-only true)
	t2=$($m "$BUILD/socksify" --supervise true)
	echo
	echo "== $1 =="
	printf '%-34s %10s %10s\n' "" "$2" "vs true"
	printf '%-34s %10s %10s\n' "true" "$t0" "1.00x"
	printf '%-34s %10s %10s\n' "socksify --preload-only true" "$t1" "$(ratio "$t1" "$t0")"
	printf '%-34s %10s %10s\n' "socksify --supervise true" "$t2" "$(ratio "$t2" "$t0")"
	printf '%-34s %10s\n' "the supervisor's own (sup - pre)" \
		"$(awk -v a="$t2" -v b="$t1" 'BEGIN { printf "%.3f", a - b }')"
}
hf() { # hf COMMAND...: hyperfine -N median, ms
	local j=$WORK/hf.json
	hyperfine -N --warmup 10 --runs "$HF_RUNS" --export-json "$j" "$*" >/dev/null 2>>"$WORK/errors" &&
		python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$j"
}
# CPU time of the whole tree (perf stat task-clock, mean of 20): on a loaded machine
# the wall clock mostly measures waiting for a CPU.
cpu() { perf stat -x, -e task-clock -r 20 "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ { printf "%.3f", $1 }'; }
export SOCKSIFY_CONF=$WORK/empty.conf
command -v hyperfine >/dev/null &&
	startup_table "start-up: hyperfine -N median of $HF_RUNS, ms" ms hf
command -v perf >/dev/null && perf stat -x, -e task-clock true >/dev/null 2>&1 &&
	startup_table "start-up CPU: perf stat task-clock of the whole tree, mean of 20, ms" "CPU ms" cpu
[ -s "$WORK/errors" ] && { echo; echo "messages:"; sort "$WORK/errors" | uniq -c | head -5; }
exit 0
