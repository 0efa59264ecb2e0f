#!/usr/bin/env bash
# Start-up cost of socksify machine-wide (issue 10): `true`, `sh -c true` and
# `python3 -c pass` with the library in /etc/ld.so.preload, unconfigured and configured,
# beside no preload and an empty preload .so (the loader's floor). Each mode runs in a
# private mount namespace whose /etc and /usr/local are overlays (the host's files are
# never written); hyperfine -N medians, the modes interleaved, median of ROUNDS rounds.
# Prints a markdown table with ratios to "no preload".
#   system.sh BUILD_DIR      (BENCH_QUICK=1: fewer runs)
set -u -o pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd) || exit 1
RUNS=300 ROUNDS=5
[[ ${BENCH_QUICK:-0} == 1 ]] && RUNS=60 ROUNDS=3
command -v hyperfine >/dev/null || { echo "skipped: hyperfine not installed"; exit 0; }
[[ $(id -u) == 0 ]] || { echo "skipped: needs root (mount namespaces)"; exit 0; }
WORK=$(mktemp -d /tmp/sxbench-sys.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
MODES=(none empty inert configured)
CMDS=("true" "sh -c true" "python3 -c pass")

printf '' | cc -shared -fPIC -o "$WORK/empty.so" -x c - || exit 1
for m in "${MODES[@]}"; do
	r=$WORK/$m/root
	mkdir -p "$r/etc" "$r/usr/local" "$WORK/$m/w/etc" "$WORK/$m/w/usr"
	case $m in
	empty) echo "$WORK/empty.so" >"$r/etc/ld.so.preload" ;;
	inert | configured)
		"$BUILD/socksify" --install-system --root "$r" -p socks5h://192.0.2.1:1080 >/dev/null ||
			exit 1
		[[ $m == inert ]] && rm "$r/etc/socksify.conf" ;;
	esac
done

# run_mode MODE ROUND: hyperfine over the three commands inside MODE's namespace.
run_mode() {
	local m=$1 k=$2 d=$WORK/$1
	unshare -m --propagation private bash -c '
		d=$1; shift; k=$1; shift; runs=$1; shift
		mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$d/root/usr/local,workdir=$d/w/usr" /usr/local || exit 1
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/root/etc,workdir=$d/w/etc" /etc || exit 1
		i=0
		for c in "$@"; do
			# python3 costs ~20x true: a third of the runs keeps the rounds short.
			n=$runs; [ "$i" = 2 ] && n=$((runs / 3))
			env -i PATH=/usr/bin:/bin hyperfine -N --warmup 10 --runs "$n" \
				--export-json "$d/hf.$k.$i.json" "$c" >/dev/null 2>>"$d/hf.err" || exit 1
			i=$((i + 1))
		done' _ "$d" "$k" "$RUNS" "${CMDS[@]}"
}

# Instructions (callgrind), which a loaded machine does not blur: the loader's and the
# library's start-up work for one run of each command.
count_mode() {
	local d=$WORK/$1
	unshare -m --propagation private bash -c '
		d=$1; shift
		mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$d/root/usr/local,workdir=$d/w/usr" /usr/local || exit 1
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/root/etc,workdir=$d/w/etc" /etc || exit 1
		for c in "$@"; do
			env -i PATH=/usr/bin:/bin valgrind --tool=callgrind --callgrind-out-file=/dev/null \
				$c 2>&1 | sed -n "s/.*Collected : \([0-9]*\).*/\1/p"
		done' _ "$d" "/bin/true" "/bin/sh -c true" >"$d/instr"
}
if command -v valgrind >/dev/null; then
	for m in "${MODES[@]}"; do count_mode "$m"; done
fi

for ((k = 0; k < ROUNDS; k++)); do
	for m in "${MODES[@]}"; do
		run_mode "$m" "$k" || { echo "failed: mode $m: $(tail -n 3 "$WORK/$m/hf.err")"; exit 1; }
	done
done

# median_ms MODE CMD_INDEX: the median over rounds of hyperfine's medians, in ms.
median_ms() {
	python3 - "$WORK/$1" "$2" "$ROUNDS" <<'PY'
import json, statistics, sys
d, i, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
v = [json.load(open("%s/hf.%d.%s.json" % (d, k, i)))["results"][0]["median"] for k in range(n)]
print("%.3f" % (statistics.median(v) * 1000))
PY
}

echo "Start-up with the library in /etc/ld.so.preload (private mount namespace), hyperfine -N"
echo "median (ms), median of $ROUNDS interleaved rounds of $RUNS runs ($((RUNS / 3)) for python3);"
echo "ratio to no preload."
echo
echo "| command | no preload | empty .so | socksify unconfigured | socksify configured | empty/none | unconf/none | conf/none |"
echo "|---|---|---|---|---|---|---|---|"
for i in "${!CMDS[@]}"; do
	n=$(median_ms none "$i") e=$(median_ms empty "$i") u=$(median_ms inert "$i") c=$(median_ms configured "$i")
	printf '| `%s` | %s | %s | %s | %s | %s | %s | %s |\n' "${CMDS[$i]}" "$n" "$e" "$u" "$c" \
		"$(awk -v a="$e" -v b="$n" 'BEGIN { printf "%.3fx", a / b }')" \
		"$(awk -v a="$u" -v b="$n" 'BEGIN { printf "%.3fx", a / b }')" \
		"$(awk -v a="$c" -v b="$n" 'BEGIN { printf "%.3fx", a / b }')"
done

if command -v valgrind >/dev/null; then
	echo
	echo "Instructions executed (callgrind, one run; deterministic, unlike the times above):"
	echo
	echo "| command | no preload | empty .so | socksify unconfigured | socksify configured | empty/none | unconf/none | conf/none |"
	echo "|---|---|---|---|---|---|---|---|"
	for i in 0 1; do
		n=$(sed -n "$((i + 1))p" "$WORK/none/instr") e=$(sed -n "$((i + 1))p" "$WORK/empty/instr")
		u=$(sed -n "$((i + 1))p" "$WORK/inert/instr") c=$(sed -n "$((i + 1))p" "$WORK/configured/instr")
		printf '| `%s` | %s | %s | %s | %s | %s | %s | %s |\n' "${CMDS[$i]}" "$n" "$e" "$u" "$c" \
			"$(awk -v a="$e" -v b="$n" 'BEGIN { printf "%.3fx", a / b }')" \
			"$(awk -v a="$u" -v b="$n" 'BEGIN { printf "%.3fx", a / b }')" \
			"$(awk -v a="$c" -v b="$n" 'BEGIN { printf "%.3fx", a / b }')"
	done
fi
