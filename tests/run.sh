#!/usr/bin/env bash
# The one test runner (`make test` calls it after building): C unit tests (normal and
# ASan+UBSan), a short bounded libFuzzer run per target, and every bats suite, all
# counted as TAP. The last line is always "N passed, N failed, N skipped".
#
#   tests/run.sh [PATTERN]    only the suites whose name contains PATTERN (a grep -E
#                             regex over names like unit/test_socks, asan/unit/test_socks,
#                             fuzz/fuzz_s4, e2e/21-server-clients)
# Environment: B or BUILD (build dir), FUZZ_TIME (seconds per fuzz target, default 10),
# SUITE_TIMEOUT (seconds per bats file, default 900), UNIT_TIMEOUT (default 120).

set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
PATTERN=${1:-}

BUILD=${BUILD:-${B:-build}}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
SOCKSIFYD=${SOCKSIFYD:-$BUILD/asan/socksifyd}
SOCKSIFY=${SOCKSIFY:-$BUILD/socksify}
SOCKSIFY_LIB=${SOCKSIFY_LIB:-$BUILD/libsocksify.so}
SNIPPETS=${SNIPPETS:-$BUILD/snippets}
export BUILD SOCKSIFYD SOCKSIFY SOCKSIFY_LIB SNIPPETS
FUZZ_TIME=${FUZZ_TIME:-10}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}
# Sanitizer builds: report everything, keep going after UBSan so one run shows all.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

TMP=$(mktemp -d /tmp/sfy-run.XXXXXX) || exit 1
SFY_NETNS_REGISTRY=$TMP/topologies
: >"$SFY_NETNS_REGISTRY"
export SFY_NETNS_REGISTRY
trap 'rm -rf "$TMP"' EXIT

TOTAL_PASS=0 TOTAL_FAIL=0 TOTAL_SKIP=0
SUMMARY=()   # one line per suite
FAILED=()    # "suite: test name" per failure

selected() {
	[ -z "$PATTERN" ] || grep -Eq -- "$PATTERN" <<<"$1"
}

header() {
	printf '\n==== %s ====\n' "$1"
}

# tally NAME OUTFILE RC SECONDS: count the TAP lines of one suite's output. A suite that
# exits non-zero without any "not ok" (a crash, a timeout, a missing plan's tail) counts
# one failure, so a dying binary can never look green.
tally() {
	local name=$1 out=$2 rc=$3 secs=$4 pass fail skip plan ran line
	pass=$(grep -Ec '^ok ' "$out")
	skip=$(grep -Eic '^ok .*# skip' "$out")
	fail=$(grep -Ec '^not ok ' "$out")
	pass=$((pass - skip))
	while IFS= read -r line; do
		FAILED+=("$name: ${line#not ok }")
	done < <(grep -E '^not ok ' "$out")
	plan=$(grep -Eo '^1\.\.[0-9]+' "$out" | head -n 1)
	plan=${plan#1..}
	ran=$((pass + fail + skip))
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
		if [ "$rc" -eq 124 ]; then
			FAILED+=("$name: timed out (killed after its time limit)")
		else
			FAILED+=("$name: exited with status $rc without a failing test")
		fi
	elif [ -n "$plan" ] && [ "$ran" -lt "$plan" ]; then
		fail=$((fail + 1))
		FAILED+=("$name: ran $ran of the $plan planned tests")
	fi
	TOTAL_PASS=$((TOTAL_PASS + pass))
	TOTAL_FAIL=$((TOTAL_FAIL + fail))
	TOTAL_SKIP=$((TOTAL_SKIP + skip))
	SUMMARY+=("$(printf '%-34s %4d passed %3d failed %3d skipped %5ss' "$name" "$pass" "$fail" "$skip" "$secs")")
}

# run_tap NAME TIMEOUT CMD...: run one TAP producer, show its output, count it.
run_tap() {
	local name=$1 limit=$2 rc start
	shift 2
	header "$name"
	start=$SECONDS
	timeout -k 10 "$limit" "$@" </dev/null 2>&1 | tee "$TMP/out"
	rc=${PIPESTATUS[0]}
	tally "$name" "$TMP/out" "$rc" $((SECONDS - start))
}

run_units() {
	local dir=$1 prefix=$2 t
	[ -d "$dir" ] || return 0
	for t in "$dir"/test_*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		selected "$prefix/${t##*/}" || continue
		run_tap "$prefix/${t##*/}" "$UNIT_TIMEOUT" "$t"
	done
}

# One bounded libFuzzer run per target on a scratch copy of its seeds (libFuzzer adds
# to the corpus it is given; the checked-in seeds stay as they are). One TAP line each.
run_fuzz() {
	local f name corpus rc start c
	[ -d "$BUILD/fuzz" ] || return 0
	for f in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$f" ] && [ -f "$f" ] || continue
		name=${f##*/}
		selected "fuzz/$name" || continue
		header "fuzz/$name (${FUZZ_TIME}s)"
		corpus=$TMP/corpus-$name
		mkdir -p "$corpus"
		[ -d "tests/fuzz/seeds/$name" ] && cp -r "tests/fuzz/seeds/$name/." "$corpus/"
		start=$SECONDS
		(cd "$TMP" && timeout -k 10 $((FUZZ_TIME + 60)) "$f" -max_total_time="$FUZZ_TIME" \
			-print_final_stats=1 "$corpus") >"$TMP/fuzz.log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			grep -E '^(stat::number_of_executed_units|Done )' "$TMP/fuzz.log" | sed 's/^/# /'
			echo "ok 1 - $name: no crash in ${FUZZ_TIME}s" >"$TMP/out"
		else
			# The crash report is what a CI log needs; the reproducer stays in $TMP only
			# for this run, so print its bytes too.
			tail -n 40 "$TMP/fuzz.log"
			for c in "$TMP"/crash-* "$TMP"/leak-* "$TMP"/timeout-*; do
				[ -f "$c" ] && { echo "# reproducer ${c##*/}:"; od -An -tx1 "$c" | head -n 8; }
			done
			echo "not ok 1 - $name: libFuzzer exited $rc" >"$TMP/out"
			rm -f "$TMP"/crash-* "$TMP"/leak-* "$TMP"/timeout-*
		fi
		echo "1..1" >>"$TMP/out"
		cat "$TMP/out"
		tally "fuzz/$name" "$TMP/out" 0 $((SECONDS - start))
		rm -rf "$corpus"
	done
}

# A suite killed by its timeout never runs teardown_file: tear down every topology it
# registered (netns_up appends its state dir to SFY_NETNS_REGISTRY) and still exists.
reap_topologies() {
	local dir
	[ -s "$SFY_NETNS_REGISTRY" ] || return 0
	while read -r dir; do
		[ -d "$dir" ] || continue
		echo "# tearing down the topology left in $dir"
		(NETNS_DIR=$dir && source tests/lib/netns.bash && netns_down)
	done <"$SFY_NETNS_REGISTRY"
	: >"$SFY_NETNS_REGISTRY"
}

run_e2e() {
	local f name
	if ! command -v bats >/dev/null 2>&1; then
		header "e2e"
		echo "not ok 1 - bats not installed (scripts/install-deps.sh)" | tee "$TMP/out"
		tally "e2e" "$TMP/out" 1 0
		return
	fi
	for f in tests/e2e/*.bats; do
		[ -f "$f" ] || continue
		name=e2e/$(basename "$f" .bats)
		selected "$name" || continue
		run_tap "$name" "$SUITE_TIMEOUT" bats --tap "$f"
		reap_topologies
	done
}

# The snippet suite once more against the ASan+UBSan build of the library (make asan
# builds it). Programs that are not ASan-built need the ASan runtime first in
# LD_PRELOAD (shim.bash puts SHIM_PRELOAD_FIRST there); leaks are the programs' (bash,
# curl), not checked. Every sanitizer report goes to a file: one, from any process of
# the suite, is a failure even if that test passed.
run_asan_shim() {
	local lib=$BUILD/asan/libsocksify.so name=asan/e2e/33-shim-snippets rt start f
	[ -f "$lib" ] && selected "$name" || return 0
	command -v bats >/dev/null 2>&1 || return 0
	rt=$(ldd "$lib" | awk '/libasan\.so/ { print $3; exit }')
	mkdir -p "$TMP/san"
	run_tap "$name" "$SUITE_TIMEOUT" env SOCKSIFY_LIB="$lib" SHIM_PRELOAD_FIRST="$rt" \
		ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$TMP/san/asan" \
		UBSAN_OPTIONS="print_stacktrace=1:log_path=$TMP/san/ubsan" \
		bats --tap tests/e2e/33-shim-snippets.bats
	reap_topologies
	start=$SECONDS
	{
		if [ -z "$rt" ]; then
			echo "not ok 1 - $lib does not link the ASan runtime"
		elif ls "$TMP"/san/* >/dev/null 2>&1; then
			for f in "$TMP"/san/*; do
				echo "# $f:"
				sed 's/^/#   /' "$f" | head -n 40
			done
			echo "not ok 1 - sanitizer reports from the shim under the snippet suite"
		else
			echo "ok 1 - no sanitizer report from any process of the suite"
		fi
		echo "1..1"
	} | tee "$TMP/out"
	tally "$name (reports)" "$TMP/out" 0 $((SECONDS - start))
}

echo "socksify tests: BUILD=$BUILD SOCKSIFYD=$SOCKSIFYD${PATTERN:+ PATTERN=$PATTERN}"
echo "# $(uname -sr), $(bats --version 2>/dev/null || echo 'no bats'), uid $(id -u), $(nproc) cpus"
START=$SECONDS
run_units "$BUILD/unit" unit
run_units "$BUILD/asan/unit" asan/unit
run_fuzz
run_e2e
run_asan_shim

header "summary ($((SECONDS - START))s)"
for line in "${SUMMARY[@]}"; do
	echo "$line"
done
if [ ${#FAILED[@]} -gt 0 ]; then
	echo
	echo "failed:"
	for line in "${FAILED[@]}"; do
		echo "  $line"
	done
fi
[ ${#SUMMARY[@]} -eq 0 ] && echo "no suite matched${PATTERN:+ '$PATTERN'} (nothing built?)"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
[ "$TOTAL_FAIL" -eq 0 ]
