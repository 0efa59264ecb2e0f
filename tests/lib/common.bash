# Shared helpers for the bats end-to-end suites: the build paths from tests/run.sh (with
# defaults so a suite also runs alone), bats-support/assert, starting socksifyd and
# waiting for its readiness line, and failing on sanitizer reports in a server log.
# Load with: load '../lib/common'   (it also loads netns.bash)

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
COMMON_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/netns.bash
source "$COMMON_LIB_DIR/netns.bash"

SFY_TOP=$(cd "$COMMON_LIB_DIR/../.." && pwd)
BUILD=${BUILD:-$SFY_TOP/build}
SOCKSIFYD=${SOCKSIFYD:-$BUILD/asan/socksifyd}
# Without the sanitizer tree (plain `make`), fall back to the normal server.
[ -x "$SOCKSIFYD" ] || SOCKSIFYD=$BUILD/socksifyd
SOCKSIFY=${SOCKSIFY:-$BUILD/socksify}
SOCKSIFY_LIB=${SOCKSIFY_LIB:-$BUILD/libsocksify.so}
SNIPPETS=${SNIPPETS:-$BUILD/snippets}
export BUILD SOCKSIFYD SOCKSIFY SOCKSIFY_LIB SNIPPETS SFY_TOP
# Leaks are reported at exit, so servers must be stopped with stop_socksifyd (SIGTERM)
# before assert_no_sanitizer looks at their log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# sfy_skip_reason REASON: in a test, skip it; in setup_file (where bats 1.8 reports a
# skip as a failure) record REASON in SFY_SKIP for every test's setup() to skip with,
# and return 0 so setup_file can stop with `if sfy_skipping; then return 0; fi`.
sfy_skip_reason() {
	if [ -n "${BATS_TEST_NAME:-}" ]; then
		skip "$1"
	fi
	export SFY_SKIP=${SFY_SKIP:-$1}
}

# require_cmd CMD...: skip the test (or, from setup_file, the file) when a tool is missing.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || sfy_skip_reason "$c not installed"
	done
}

# require_file PATH...: fail when a build product is missing (`make test` builds every
# one of them first: a missing one is a broken build, not an absent tool).
require_file() {
	local f
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			echo "$f missing: the build did not make it" >&2
			return 1
		fi
	done
}

# require_pkg_file PATH PACKAGE: a file an external package installs; when it is absent
# the test is passed over, naming the package (as require_cmd does for a program).
require_pkg_file() {
	[ -e "$1" ] || sfy_skip_reason "$1 missing ($2 not installed)"
}

# start_socksifyd NS LOG ARGS...: run $SOCKSIFYD ARGS in namespace NS ("-" = here) and
# wait (10 s at most) for one readiness line per -l/--listen/--proxy-listen (one when none
# is given):
#   socksifyd[PID]: listening on ADDR:PORT
# Exports SOCKSIFYD_PID, SOCKSIFYD_PORT (the first listener's port) and
# SOCKSIFYD_LISTEN (every "ADDR:PORT", space separated); see socksifyd_port.
start_socksifyd() {
	local ns=$1 log=$2 want=0 a i n
	shift 2
	for a in "$@"; do
		case "$a" in -l | --listen | -l* | --listen=* | --proxy-listen) want=$((want + 1)) ;; esac
	done
	[ "$want" -eq 0 ] && want=1
	netns_bg "$ns" "$log" "$SOCKSIFYD" "$@"
	SOCKSIFYD_PID=$NETNS_BG_PID
	for ((i = 0; i < 200; i++)); do
		n=$(grep -Ec 'socksifyd\[[0-9]+\]: listening on ' "$log" 2>/dev/null || true)
		[ "${n:-0}" -ge "$want" ] && break
		if ! kill -0 "$SOCKSIFYD_PID" 2>/dev/null; then
			echo "start_socksifyd: socksifyd exited before listening; log:" >&2
			tail -n 30 "$log" >&2 || true
			return 1
		fi
		sleep 0.05
	done
	if [ "${n:-0}" -lt "$want" ]; then
		echo "start_socksifyd: $want listener(s) not ready in 10 s; log:" >&2
		tail -n 30 "$log" >&2 || true
		return 1
	fi
	SOCKSIFYD_LISTEN=$(sed -n 's/.*socksifyd\[[0-9]*\]: listening on \([^ ]*\).*/\1/p' "$log" |
		tr '\n' ' ')
	SOCKSIFYD_LISTEN=${SOCKSIFYD_LISTEN% }
	a=${SOCKSIFYD_LISTEN%% *}
	SOCKSIFYD_PORT=${a##*:}
	export SOCKSIFYD_PID SOCKSIFYD_PORT SOCKSIFYD_LISTEN
}

# socksifyd_port ADDR [LISTEN]: the port of the listener on ADDR (e.g. 198.18.1.2 or
# [fd00:1::2]) among LISTEN (default $SOCKSIFYD_LISTEN).
socksifyd_port() {
	local want=$1 l
	for l in ${2:-$SOCKSIFYD_LISTEN}; do
		if [ "${l%:*}" = "$want" ]; then
			echo "${l##*:}"
			return 0
		fi
	done
	return 1
}

# stop_socksifyd [PID]: SIGTERM and wait (10 s at most, sanitizer exit reports take a
# moment) for it to be gone; then SIGKILL. Returns 1 if it had to be killed.
stop_socksifyd() {
	local pid=${1:-$SOCKSIFYD_PID} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	echo "stop_socksifyd: $pid ignored SIGTERM for 10 s, killed" >&2
	return 1
}

# assert_no_sanitizer LOG...: fail with the report when ASan/UBSan/LSan wrote to a log.
assert_no_sanitizer() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -Eq 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: UndefinedBehaviorSanitizer' "$f"; then
			echo "sanitizer report in $f:" >&2
			grep -E -A 30 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|UndefinedBehaviorSanitizer' "$f" | head -n 60 >&2
			return 1
		fi
	done
	return 0
}

# copy_for_nobody DIR FILE...: copies of FILEs in DIR (made 0755 if new), each readable
# (and, if it was, executable) by everyone, for programs run as user 65534: the build
# tree may sit under a directory that user cannot enter. The copy of FILE is
# DIR/$(basename FILE). Fails the test when user 65534 still cannot read a copy (DIR
# itself under a closed directory): a test that needs them can then only fail.
copy_for_nobody() {
	local dir=$1 f c
	shift
	mkdir -p "$dir" && chmod 755 "$dir" || fail "copy_for_nobody: cannot make $dir"
	for f in "$@"; do
		c=$dir/$(basename "$f")
		cp "$f" "$c" && chmod a+rX "$c" || fail "copy_for_nobody: cannot copy $f to $dir"
		setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$c" ||
			fail "copy_for_nobody: user 65534 cannot read $c (is a parent of $dir closed?)"
	done
}

# The default per-test setup: skip when the topology needs root we do not have. A suite
# that defines its own setup() should call netns_require first.
setup() {
	netns_require
}

# stop_recorded: for suites that start host processes without netns_up (teardown_file).
stop_recorded() {
	netns_kill_pids "$(netns_pidfile)"
}
