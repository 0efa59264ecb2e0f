#!/usr/bin/env bash
# make bench: socksifyd beside microsocks, Dante's sockd and a direct connection on
# loopback, then libsocksify.so beside proxychains4, Dante's client library, torsocks and
# a client speaking SOCKS5 itself, in a client -> proxy -> target namespace chain of our
# own, then udp.sh (UDP, issue 5). One markdown report (medians of N runs, measured side
# by side in one run) on stdout and in $BUILD/bench/results.md. Progress goes to stderr.
#
#   BUILD=dir          build tree (default $PWD/build): socksifyd, libsocksify.so, socksify
#   BENCH_QUICK=1      a ~2-minute run (smaller sizes, fewer repetitions)
#   BENCH_REPS=N       repetitions per measurement (default 5, quick 3)
#   BENCH_PIN=0|1      pin the load generator to CPU 0 and the server to CPU 1 (default
#                      auto: only when the 1-minute load average is below 0.7)
#   BENCH_SHIM=0       skip the client (shim) part (it needs root for namespaces)
#   SHIM_SERVER=name   socksifyd | microsocks for the shim part (default: socksifyd if it runs)
#   BENCH_PARTS="servers shim udp workers supervise system async dns53"   which parts to run (all
#                      by default; udp = udp.sh; workers = socksifyd -w 1 vs -w 2 vs
#                      microsocks, issue 14; supervise = supervise.sh, issue 13;
#                      system = system.sh, start-up under /etc/ld.so.preload;
#                      async = async.sh: the asynchronous connect through a far proxy;
#                      dns53 = dns53.sh: port-53 queries answered in the library vs dnsmasq)
#   BENCH_SOCKSIFYD_BEFORE=path   a one-thread socksifyd (e.g. main's build before issue
#                      14) for the workers part's "bulk CPU unchanged" row
#   BENCH_MAX_SESSIONS=N   the session-limit test's ceiling (full 10000, quick 0 = skip)
#   BENCH_MICROSOCKS, BENCH_DANTED, BENCH_LIB_PROXYCHAINS, BENCH_LIB_DANTE,
#   BENCH_LIB_TORSOCKS   other builds of the peers (a missing one is skipped with a note)
set -u -o pipefail

BUILD=${BUILD:-${B:-$PWD/build}} # make passes its B= in the environment
BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$BUILD/bench
RESULTS=$OUT/results.md
QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
	REPS=${BENCH_REPS:-3} BULK=512M SEQ_N=500 CONC_N=1280 IDLE_N=1000 MAX_N=0
	HS_N=100 LOOP_N=300 SHIM_BULK=256M HF_RUNS=100
else
	REPS=${BENCH_REPS:-5} BULK=1G SEQ_N=2000 CONC_N=6400 IDLE_N=2000 MAX_N=10000
	HS_N=300 LOOP_N=1000 SHIM_BULK=1G HF_RUNS=300
fi
MAX_N=${BENCH_MAX_SESSIONS:-$MAX_N}
CONC=64
# the peers, overridable to compare another build (or to see a missing peer skipped)
MICROSOCKS=${BENCH_MICROSOCKS:-microsocks}
DANTED=${BENCH_DANTED:-danted}
BENCH_START=$SECONDS
# bounded wall time for the whole run: a hung peer must not hang `make bench`
DEADLINE=$((SECONDS + ${BENCH_MAX_SECONDS:-900}))

WORK=$(mktemp -d /tmp/sxbench.XXXXXX)
RAW=$WORK/raw
mkdir -p "$OUT" "$RAW"
PIDS=()
NETNS=()
TCK=$(getconf CLK_TCK)

log() { printf 'bench: %s\n' "$*" >&2; }

# Only a process that is still our own child is ever signalled: a PID that exited and
# was reaped may since belong to someone else.
our_child() { [[ $(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ') == "$$" ]]; }

stop_pid() { # stop_pid PID: TERM, a bounded wait, then KILL; only our own child
	local p=$1
	our_child "$p" || return 0
	kill "$p" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		our_child "$p" && [[ $(ps -o stat= -p "$p" 2>/dev/null) != Z* ]] || break
		sleep 0.1
	done
	our_child "$p" && [[ $(ps -o stat= -p "$p" 2>/dev/null) != Z* ]] && kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

cleanup() {
	local p ns
	trap '' PIPE # a closed stdout must not stop the cleanup half-way
	for p in "${PIDS[@]}"; do our_child "$p" && kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- building the load generator ----

SXB=$OUT/sxbench
if ! cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -pthread -o "$SXB" "$HERE/sxbench.c"; then
	log "cannot build sxbench"
	exit 1
fi

# An empty shared object: what any LD_PRELOAD costs (the loader's work alone), the floor
# under every library's start-up time and memory.
EMPTY_SO=$OUT/empty.so
echo 'int sxbench_empty_preload;' | cc -shared -fPIC -x c -o "$EMPTY_SO" - || EMPTY_SO=""

# Servers get the same (hard) fd limit: the idle-session test is about that limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null

NCPU=$(nproc)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# Pinning gives the server a core of its own, which is what the bulk target assumes. On
# a busy machine it backfires: a one-thread event loop pinned beside someone else's
# compiler gets one CFS share while a thread-per-client server gets one per thread
# (measured here: socksifyd p50 300 ms vs microsocks 10 ms, pinned, load 6.6). So by
# default pin only when the machine is quiet.
PIN=${BENCH_PIN:-auto}
if [[ $PIN == auto ]]; then
	PIN=$(awk -v l="${LOAD_START%% *}" 'BEGIN { print (l < 0.7) ? 1 : 0 }')
	PIN_WHY="(auto: 1-min load $LOAD_START)"
else
	PIN_WHY="(BENCH_PIN=$PIN)"
fi
if [[ $PIN == 1 && $NCPU -ge 2 ]]; then
	PIN_GEN="taskset -c 0" PIN_SRV="taskset -c 1"
	PINNED="load generator and target on CPU 0, server on CPU 1 $PIN_WHY"
else
	PIN_GEN="" PIN_SRV="" PINNED="not pinned $PIN_WHY"
fi

# ---- small helpers ----

# wait_line FILE REGEX SECONDS: bounded wait for a line in a log
wait_line() {
	local end=$((SECONDS + $3))
	while ((SECONDS < end)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# port_of NSPREFIX PID: the TCP port a process of ours listens on (bounded wait)
port_of() {
	local nsx=$1 pid=$2 p
	for _ in $(seq 100); do
		p=$($nsx ss -ltnpH 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | sed 's/.*://' | head -1)
		[[ -n $p ]] && { echo "$p"; return 0; }
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

free_port() { # free_port NSPREFIX ADDR
	$1 python3 -c 'import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));print(s.getsockname()[1])' "$2"
}

# tree PID: the PID and all its descendants (Dante is a tree of processes)
tree() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END { q[0] = root; n = 1
		      for (i = 0; i < n; i++) { print q[i]; m = split(kids[q[i]], k, " ")
		                                for (j = 1; j <= m; j++) q[n++] = k[j] } }'
}

# cpu_ticks PID: user+system ticks of the tree, reaped children included
cpu_ticks() {
	local t=0 p s
	for p in $(tree "$1"); do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		s=${s##*) }
		# shellcheck disable=SC2086
		set -- $s
		t=$((t + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$t"
}

# pss_kb PID: summed PSS of the tree, in kB
pss_kb() {
	local t=0 p v
	for p in $(tree "$1"); do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# threads PID: "threads/processes" of the tree
threads() {
	local t=0 n=0 p v
	for p in $(tree "$1"); do
		v=$(awk '/^Threads:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
		t=$((t + v)) n=$((n + 1))
	done
	echo "$t/$n"
}

record() { echo "$3" >>"$RAW/$1.$2"; } # record SUBJECT METRIC VALUE

# rotate K WORDS...: the words starting from the K-th (mod count), wrapping around
rotate() {
	local k=$1
	shift
	local n=$# i a=("$@")
	for ((i = 0; i < n; i++)); do echo "${a[(i + k) % n]}"; done
}

# median SUBJECT METRIC [FORMAT]: median of the recorded values, or "n/a"
median() {
	local f=$RAW/$1.$2
	[[ -s $f ]] || { echo "n/a"; return; }
	sort -g "$f" | awk -v fmt="${3:-%.0f}" '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf fmt, m }'
}

# spread SUBJECT METRIC: half the interquartile range relative to the median, "±N%"
spread() {
	local f=$RAW/$1.$2
	[[ -s $f ]] || { echo ""; return; }
	sort -g "$f" | awk '{ v[NR] = $1 } END {
		if (NR < 4) exit
		q1 = v[int((NR + 3) / 4)]; q3 = v[int((3 * NR + 3) / 4)]; m = v[int((NR + 1) / 2)]
		if (m > 0) printf " ±%.0f%%", (q3 - q1) / 2 / m * 100 }'
}

# ratio A B [FORMAT]: A/B, or n/a
ratio() {
	awk -v a="$1" -v b="$2" -v fmt="${3:-%.2fx}" 'BEGIN {
		num = "^[0-9.]+$"
		if (a !~ num || b !~ num || b + 0 == 0) print "n/a"; else printf fmt, a / b }'
}

field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; } # value after a key

BUDGET_HIT=0
over_time() { ((SECONDS > DEADLINE)) && { log "time budget exhausted, skipping the rest"; BUDGET_HIT=1; return 0; }; return 1; }

bytes_of() { # 1G -> bytes
	local n=${1%[kMG]}
	case $1 in *k) echo $((n << 10)) ;; *M) echo $((n << 20)) ;; *G) echo $((n << 30)) ;; *) echo "$n" ;; esac
}

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

# =====================================================================================
# Part 1: servers on loopback
# =====================================================================================

declare -A SPID SADDR SNOTE
SERVERS=(direct)
SADDR[direct]=-

start_socksifyd() { # NAME [ARGS...]
	local name=$1 bin=$BUILD/socksifyd
	shift
	if [[ ! -x $bin ]]; then SNOTE[$name]="skipped: $bin not built"; return 1; fi
	# shellcheck disable=SC2086 # SFYD_ENV is a list of VAR=value words
	$PIN_SRV env ${SFYD_ENV:-} "$bin" -l 127.0.0.1:0 "$@" 2>"$WORK/$name.log" &
	SPID[$name]=$!
	PIDS+=("$!")
	if ! wait_line "$WORK/$name.log" 'listening on 127\.0\.0\.1:[0-9]+' 10; then
		SNOTE[$name]="skipped: did not start ($(head -c 120 "$WORK/$name.log" | tr '\n' ' '))"
		return 1
	fi
	SADDR[$name]=127.0.0.1:$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$WORK/$name.log" | head -1 | sed 's/.*://')
}

start_microsocks() { # NAME [ARGS...]
	local name=$1 port
	shift
	if ! command -v "$MICROSOCKS" >/dev/null; then SNOTE[$name]="skipped: $MICROSOCKS not installed"; return 1; fi
	$PIN_SRV "$MICROSOCKS" -i 127.0.0.1 -p 0 "$@" >"$WORK/$name.log" 2>&1 &
	SPID[$name]=$!
	PIDS+=("$!")
	if ! port=$(port_of "" "${SPID[$name]}"); then SNOTE[$name]="skipped: did not start"; return 1; fi
	SADDR[$name]=127.0.0.1:$port
}

start_danted() { # NAME
	local name=$1 port
	if ! command -v "$DANTED" >/dev/null; then SNOTE[$name]="skipped: $DANTED (dante-server) not installed"; return 1; fi
	port=$(free_port "" 127.0.0.1)
	cat >"$WORK/$name.conf" <<-EOF
		logoutput: $WORK/$name.log
		internal: 127.0.0.1 port = $port
		external: 127.0.0.1
		clientmethod: none
		socksmethod: none
		user.privileged: root
		user.unprivileged: nobody
		client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
		socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
	EOF
	# foreground (no -D), never through systemd
	$PIN_SRV "$DANTED" -f "$WORK/$name.conf" -p "$WORK/$name.pid" >>"$WORK/$name.out" 2>&1 &
	SPID[$name]=$!
	PIDS+=("$!")
	for _ in $(seq 100); do
		ss -ltnH | grep -q "127.0.0.1:$port " && break
		sleep 0.05
	done
	if ! ss -ltnH | grep -q "127.0.0.1:$port "; then SNOTE[$name]="skipped: did not start"; return 1; fi
	SADDR[$name]=127.0.0.1:$port
}

server_part() {
	local t_port
	log "part 1: servers on loopback ($PINNED)"
	$PIN_GEN "$SXB" target 127.0.0.1:0 >"$WORK/target.out" 2>&1 &
	PIDS+=("$!")
	TARGET_PID=$!
	wait_line "$WORK/target.out" '^port [0-9]+' 5 || { log "target did not start"; return 1; }
	t_port=$(awk '/^port/ {print $2}' "$WORK/target.out")
	TARGET=127.0.0.1:$t_port

	start_socksifyd socksifyd && SERVERS+=(socksifyd)
	start_microsocks microsocks && SERVERS+=(microsocks)
	start_danted danted && SERVERS+=(danted)
	printf 'bench:bench\n' >"$WORK/users"
	start_socksifyd socksifyd-auth -u "$WORK/users" || true
	# the copying relay (its fallback when splice is unavailable), for the bulk table only
	SFYD_ENV=SOCKSIFYD_NO_SPLICE=1 start_socksifyd socksifyd-copy || true
	start_microsocks microsocks-auth -u bench -P bench || true

	local rep s
	# one discarded pass first: thread stacks, process pools and caches warm up
	for s in "${SERVERS[@]}"; do bench_conns "$s" warm 8 200; done
	for rep in $(seq "$REPS"); do
		over_time && break
		log "bulk + connections, repetition $rep/$REPS"
		# interleaved and rotated, so that the machine's noise and any after-effect of
		# the previous measurement spread over every server alike
		for s in $(rotate "$rep" "${SERVERS[@]}"); do bench_conns "$s" seq 1 "$SEQ_N"; done
		for s in $(rotate "$rep" "${SERVERS[@]}"); do bench_conns "$s" conc "$CONC" "$CONC_N"; done
		for s in $(rotate "$rep" "${SERVERS[@]}"); do
			bench_bulk "$s" up
			bench_bulk "$s" down
		done
		if [[ -n ${SADDR[socksifyd-copy]:-} ]]; then
			bench_bulk socksifyd-copy up
			bench_bulk socksifyd-copy down
		fi
	done
	log "handshakes"
	for s in socksifyd microsocks danted; do
		[[ -n ${SADDR[$s]:-} ]] && bench_handshake "$s" "$s" ""
	done
	[[ -n ${SADDR[socksifyd-auth]:-} ]] && bench_handshake socksifyd-auth socksifyd-auth bench:bench
	[[ -n ${SADDR[microsocks-auth]:-} ]] && bench_handshake microsocks-auth microsocks-auth bench:bench
	log "idle sessions"
	for s in "${SERVERS[@]}"; do
		[[ $s == direct ]] && continue
		over_time && break
		bench_idle "$s" "$IDLE_N" idle
	done
	if ((MAX_N > 0)); then
		for s in socksifyd microsocks; do
			[[ -n ${SADDR[$s]:-} ]] || continue
			over_time && break
			log "idle sessions up to $MAX_N ($s)"
			bench_idle "$s" "$MAX_N" max
		done
	fi
}

# bench_bulk SERVER up|down: one stream of $BULK bytes; MB/s and MB per server CPU-s
bench_bulk() {
	local s=$1 dir=$2 c0=0 c1=0 out secs bytes
	[[ $s != direct ]] && c0=$(cpu_ticks "${SPID[$s]}")
	if ! out=$(timeout 120 $PIN_GEN "$SXB" bulk -t "$TARGET" -s "${SADDR[$s]}" -n "$BULK" -d "$dir" 2>>"$WORK/errors"); then
		record "$s" "bulk_$dir.fail" 1
		return
	fi
	[[ $s != direct ]] && c1=$(cpu_ticks "${SPID[$s]}")
	secs=$(field secs <<<"$out")
	bytes=$(field bytes <<<"$out")
	record "$s" "bulk_$dir" "$(awk -v b="$bytes" -v t="$secs" 'BEGIN { printf "%.1f", b / t / 1e6 }')"
	if [[ $s != direct ]]; then
		# below one tick the CPU is unmeasurable: record it as one tick (a lower bound)
		record "$s" "bulkcpu_$dir" "$(awk -v b="$bytes" -v d=$((c1 - c0)) -v hz="$TCK" \
			'BEGIN { if (d < 1) d = 1; printf "%.0f", b / 1e6 / (d / hz) }')"
	fi
}

# bench_conns SERVER LABEL CONCURRENCY TOTAL: CONNECT + 64-byte echo + close
bench_conns() {
	local s=$1 label=$2 conc=$3 n=$4 c0=0 c1=0 out secs fails
	[[ $s != direct ]] && c0=$(cpu_ticks "${SPID[$s]}")
	if ! out=$(timeout 120 $PIN_GEN "$SXB" conns -t "$TARGET" -s "${SADDR[$s]}" -n "$n" -c "$conc" -q 64 2>>"$WORK/errors"); then
		record "$s" "conn_$label.fail" 1
		return
	fi
	[[ $s != direct ]] && c1=$(cpu_ticks "${SPID[$s]}")
	secs=$(field secs <<<"$out")
	fails=$(field fails <<<"$out")
	((fails > 0)) && record "$s" "conn_$label.fails" "$fails"
	record "$s" "conn_$label" "$(awk -v n="$n" -v t="$secs" 'BEGIN { printf "%.0f", n / t }')"
	record "$s" "connp99_$label" "$(field p99_ms <<<"$out")"
	[[ $s != direct ]] && record "$s" "conncpu_$label" \
		"$(awk -v n="$n" -v d=$((c1 - c0)) -v hz="$TCK" 'BEGIN { printf "%.1f", d / hz / n * 1e6 }')"
}

# bench_handshake SERVER SUBJECT AUTH: sequential vs pipelined handshake, median us
bench_handshake() {
	local s=$1 subj=$2 auth=$3 out a=()
	[[ -n $auth ]] && a=(-a "$auth")
	out=$(timeout 60 $PIN_GEN "$SXB" handshake -t "$TARGET" -s "${SADDR[$s]}" -n "$HS_N" "${a[@]}" 2>>"$WORK/errors")
	record "$subj" hs_seq "$(field median_us <<<"$out")"
	record "$subj" hs_seq_ok "$(field ok <<<"$out")"
	out=$(timeout 60 $PIN_GEN "$SXB" handshake -t "$TARGET" -s "${SADDR[$s]}" -n "$HS_N" -P "${a[@]}" 2>>"$WORK/errors")
	record "$subj" hs_pipe "$(field median_us <<<"$out")"
	record "$subj" hs_pipe_ok "$(field ok <<<"$out")"
}

# bench_idle SERVER N LABEL: hold up to N idle sessions; PSS per session over baseline
bench_idle() {
	local s=$1 n=$2 label=$3 base pss cpid opened failed thr
	base=$(pss_kb "${SPID[$s]}")
	$PIN_GEN "$SXB" idle -t "$TARGET" -s "${SADDR[$s]}" -n "$n" >"$WORK/idle.out" 2>>"$WORK/errors" &
	cpid=$!
	PIDS+=("$cpid")
	if ! wait_line "$WORK/idle.out" '^ready' 240; then
		stop_pid "$cpid"
		record "$s" "${label}_opened" 0
		return
	fi
	pss=$(pss_kb "${SPID[$s]}")
	thr=$(threads "${SPID[$s]}")
	opened=$(awk '/^ready/ {print $2}' "$WORK/idle.out")
	failed=$(awk '/^ready/ {print $3}' "$WORK/idle.out")
	record "$s" "${label}_how" "$(awk '/^ready/ { printf "%s with a reply, %s closed, %s timed out, %s not connected", $5, $7, $9, $11 }' "$WORK/idle.out")"
	stop_pid "$cpid"
	record "$s" "${label}_opened" "$opened"
	record "$s" "${label}_failed" "$failed"
	record "$s" "${label}_threads" "$thr"
	record "$s" "${label}_base" "$base"
	record "$s" "${label}_loaded" "$pss"
	((opened > 0)) && record "$s" "${label}_pss" \
		"$(awk -v a="$pss" -v b="$base" -v n="$opened" 'BEGIN { printf "%.1f", (a - b) / n }')"
	# let the server release the sessions before the next one is measured
	sleep 1
}

server_tables() {
	local s note up down upd downd
	echo "### Servers on loopback"
	echo
	if [[ $PARTS != *servers* ]]; then echo "skipped: not in BENCH_PARTS"; echo; return; fi
	echo "Bulk: one stream of $BULK each way through the server to a local sink/source."
	echo "MB = 10^6 bytes. Server CPU = utime+stime of the server's process tree (/proc/PID/stat)."
	echo "± = half the interquartile range of the repetitions. socksifyd-copy = socksifyd with"
	echo "SOCKSIFYD_NO_SPLICE=1 (its copying relay)."
	echo
	echo "| server | up MB/s | down MB/s | up vs direct | down vs direct | MB per server CPU-s (up / down) |"
	echo "|---|---|---|---|---|---|"
	upd=$(median direct bulk_up) downd=$(median direct bulk_down)
	for s in direct socksifyd socksifyd-copy microsocks danted; do
		note=${SNOTE[$s]:-}
		if [[ -n $note ]]; then echo "| $s | $note | | | | |"; continue; fi
		[[ $s == socksifyd-copy && ! -s $RAW/$s.bulk_up ]] && continue
		up=$(median "$s" bulk_up) down=$(median "$s" bulk_down)
		if [[ $s == direct ]]; then
			echo "| direct | $up$(spread direct bulk_up) | $down$(spread direct bulk_down) | 1.00x | 1.00x | — |"
		else
			echo "| $s | $up$(spread "$s" bulk_up) | $down$(spread "$s" bulk_down) | $(ratio "$up" "$upd") | $(ratio "$down" "$downd") |" \
				"$(median "$s" bulkcpu_up) / $(median "$s" bulkcpu_down) |"
		fi
	done
	echo
	echo "Connections: CONNECT + 64-byte request + 64-byte answer + close (the target closes"
	echo "first, so TIME_WAIT never eats the server's ephemeral ports); sequential ($SEQ_N) and"
	echo "$CONC threads ($CONC_N in all). Server CPU per connection in microseconds; p99 = the"
	echo "99th-percentile time of one whole connection in the concurrent run."
	echo
	echo "| server | seq conn/s | seq CPU us/conn | $CONC-conc conn/s | $CONC-conc CPU us/conn | $CONC-conc p99 ms | failures |"
	echo "|---|---|---|---|---|---|---|"
	for s in direct socksifyd microsocks danted; do
		note=${SNOTE[$s]:-}
		if [[ -n $note ]]; then echo "| $s | $note | | | | | |"; continue; fi
		local f=0
		[[ -s $RAW/$s.conn_seq.fails || -s $RAW/$s.conn_conc.fails || -s $RAW/$s.conn_seq.fail ||
			-s $RAW/$s.conn_conc.fail ]] && f=$(cat "$RAW/$s".conn_*fail* 2>/dev/null | awk '{t += $1} END {print t}')
		if [[ $s == direct ]]; then
			echo "| direct | $(median direct conn_seq)$(spread direct conn_seq) | — | $(median direct conn_conc)$(spread direct conn_conc) | — |" \
				"$(median direct connp99_conc %.1f) | $f |"
		else
			echo "| $s | $(median "$s" conn_seq)$(spread "$s" conn_seq) | $(median "$s" conncpu_seq %.1f) |" \
				"$(median "$s" conn_conc)$(spread "$s" conn_conc) | $(median "$s" conncpu_conc %.1f) | $(median "$s" connp99_conc %.1f) | $f |"
		fi
	done
	echo
	echo "Idle sessions: $IDLE_N established SOCKS5 sessions held open; server PSS"
	echo "(/proc/PID/smaps_rollup, whole process tree) over the baseline, per session."
	echo
	echo "| server | sessions open | PSS before (KiB) | PSS with sessions (KiB) | PSS per session (KiB) | threads/processes |"
	echo "|---|---|---|---|---|---|"
	for s in socksifyd microsocks danted; do
		note=${SNOTE[$s]:-}
		if [[ -n $note ]]; then echo "| $s | $note | | | | |"; continue; fi
		echo "| $s | $(median "$s" idle_opened) of $IDLE_N | $(median "$s" idle_base) | $(median "$s" idle_loaded) |" \
			"$(median "$s" idle_pss %.1f) | $(cat "$RAW/$s.idle_threads" 2>/dev/null || echo n/a) |"
	done
	if ((MAX_N > 0)); then
		echo
		echo "Session limit: up to $MAX_N idle sessions asked for (fd limit per process:"
		echo "$(ulimit -Hn)); the client stops after 20 refusals in a row."
		echo
		echo "| server | sessions open | refused | how refused | PSS per session (KiB) | threads/processes |"
		echo "|---|---|---|---|---|---|"
		for s in socksifyd microsocks; do
			note=${SNOTE[$s]:-}
			if [[ -n $note ]]; then echo "| $s | $note | | | | |"; continue; fi
			echo "| $s | $(median "$s" max_opened) | $(median "$s" max_failed) | $(head -1 "$RAW/$s.max_how" 2>/dev/null) |" \
				"$(median "$s" max_pss %.1f) | $(cat "$RAW/$s.max_threads" 2>/dev/null || echo n/a) |"
		done
	fi
	echo
	echo "Handshake: time from the first byte sent to the CONNECT reply (median of $HS_N)."
	echo "Sequential = one round trip per step; pipelined = greeting [+ auth] + request in one"
	echo "write, every reply read after it (one round trip). \"failed\" = the server did not"
	echo "answer a pipelined handshake within 1 s."
	echo
	echo "| server | auth | sequential us | pipelined us | pipelined / sequential |"
	echo "|---|---|---|---|---|"
	for s in socksifyd microsocks danted socksifyd-auth microsocks-auth; do
		local base=${s%-auth} auth=none seq pipe
		[[ $s == *-auth ]] && auth=user/pass
		note=${SNOTE[$s]:-}
		if [[ -n $note ]]; then echo "| $base | $auth | $note | | |"; continue; fi
		[[ -s $RAW/$s.hs_seq ]] || continue
		seq=$(median "$s" hs_seq %.1f)
		if [[ $(median "$s" hs_pipe_ok) == 0 ]]; then
			pipe=failed
		else
			pipe=$(median "$s" hs_pipe %.1f)
		fi
		[[ $(median "$s" hs_seq_ok) == 0 ]] && seq=failed
		echo "| $base | $auth | $seq | $pipe | $(ratio "$pipe" "$seq") |"
	done
	echo
}

# =====================================================================================
# Part 2: the client libraries, in namespaces client -> proxy -> target
# =====================================================================================

NS_C=sxb$$c NS_P=sxb$$p NS_T=sxb$$t
C_IP=198.18.201.1 P_IP=198.18.201.2 P2_IP=198.18.202.1 T_IP=198.18.202.2
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
LIB_PC=${BENCH_LIB_PROXYCHAINS:-$LIBDIR/libproxychains.so.4}
LIB_DANTE=${BENCH_LIB_DANTE:-$LIBDIR/libdsocksd.so.0}
LIB_TOR=${BENCH_LIB_TORSOCKS:-$LIBDIR/torsocks/libtorsocks.so}
declare -A LNOTE LENV

netns_make() {
	local ns
	for ns in "$NS_C" "$NS_P" "$NS_T"; do
		ip netns add "$ns" || return 1
		NETNS+=("$ns")
		ip -n "$ns" link set lo up
	done
	# two veth pairs, both ends inside our namespaces; nothing touches the root namespace
	ip link add sxb$$a netns "$NS_C" type veth peer name sxb$$b netns "$NS_P" || return 1
	ip link add sxb$$x netns "$NS_P" type veth peer name sxb$$y netns "$NS_T" || return 1
	# tens of thousands of connections a minute to one target: let our own namespaces
	# reuse TIME_WAIT ports (these sysctls are per namespace; the host's are untouched)
	for ns in "$NS_C" "$NS_P"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65000"
	done
	ip -n "$NS_C" addr add $C_IP/24 dev sxb$$a && ip -n "$NS_C" link set sxb$$a up &&
		ip -n "$NS_P" addr add $P_IP/24 dev sxb$$b && ip -n "$NS_P" link set sxb$$b up &&
		ip -n "$NS_P" addr add $P2_IP/24 dev sxb$$x && ip -n "$NS_P" link set sxb$$x up &&
		ip -n "$NS_T" addr add $T_IP/24 dev sxb$$y && ip -n "$NS_T" link set sxb$$y up
}

# foreground only: a function sent to the background would make $! a subshell's PID
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

shim_setup() {
	local want=${SHIM_SERVER:-auto} pid port
	netns_make || { SHIM_NOTE="skipped: cannot create network namespaces (needs root)"; return 1; }
	ip netns exec "$NS_T" $PIN_SRV "$SXB" target $T_IP:0 >"$WORK/shim-target.out" 2>&1 &
	PIDS+=("$!")
	wait_line "$WORK/shim-target.out" '^port [0-9]+' 5 || { SHIM_NOTE="skipped: target did not start"; return 1; }
	SHIM_TARGET=$T_IP:$(awk '/^port/ {print $2}' "$WORK/shim-target.out")
	SHIM_SRV=""
	if [[ $want != microsocks && -x $BUILD/socksifyd ]]; then
		ip netns exec "$NS_P" $PIN_SRV "$BUILD/socksifyd" -l $P_IP:0 --open 2>"$WORK/shim-socksifyd.log" &
		pid=$!
		PIDS+=("$pid")
		if wait_line "$WORK/shim-socksifyd.log" "listening on $P_IP:[0-9]+" 10; then
			port=$(grep -oE "listening on $P_IP:[0-9]+" "$WORK/shim-socksifyd.log" | head -1 | sed 's/.*://')
			# a server that listens but cannot relay is no server for this part
			if in_ns "$NS_C" timeout 20 "$SXB" connloop -t "$SHIM_TARGET" -s $P_IP:$port -n 3 >/dev/null 2>&1; then
				SHIM_SRV=socksifyd SHIM_PROXY=$P_IP:$port
			fi
		fi
	fi
	if [[ -z $SHIM_SRV ]] && command -v "$MICROSOCKS" >/dev/null; then
		ip netns exec "$NS_P" $PIN_SRV "$MICROSOCKS" -i $P_IP -p 0 >"$WORK/shim-microsocks.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		if port=$(port_of "ip netns exec $NS_P" "$pid"); then
			SHIM_SRV=microsocks SHIM_PROXY=$P_IP:$port
		fi
	fi
	[[ -n $SHIM_SRV ]] || { SHIM_NOTE="skipped: no working server"; return 1; }
	# microsocks 1.0.3 relays through a 1 KiB buffer: ~30 MB/s over veth, so keep it short
	[[ $SHIM_SRV == microsocks ]] && SHIM_BULK=64M
	port=${SHIM_PROXY##*:}

	# each library's configuration, pointing at the same server
	[[ -f $BUILD/libsocksify.so ]] || LNOTE[libsocksify]="skipped: $BUILD/libsocksify.so not built"
	LENV[libsocksify]="LD_PRELOAD=$BUILD/libsocksify.so SOCKSIFY_PROXY=socks5://$SHIM_PROXY"
	LENV[empty]="LD_PRELOAD=$EMPTY_SO"
	printf 'strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\nsocks5 %s %s\n' \
		$P_IP "$port" >"$WORK/proxychains.conf"
	[[ -f $LIB_PC ]] || LNOTE[proxychains4]="skipped: proxychains4 not installed"
	LENV[proxychains4]="LD_PRELOAD=$LIB_PC PROXYCHAINS_CONF_FILE=$WORK/proxychains.conf PROXYCHAINS_QUIET_MODE=1"
	printf 'route {\n\tfrom: 0.0.0.0/0 to: 0.0.0.0/0 via: %s port = %s\n\tproxyprotocol: socks_v5\n\tmethod: none\n}\n' \
		$P_IP "$port" >"$WORK/dante.conf"
	[[ -f $LIB_DANTE ]] || LNOTE[dante]="skipped: dante-client (libdsocksd) not installed"
	LENV[dante]="LD_PRELOAD=$LIB_DANTE SOCKS_CONF=$WORK/dante.conf"
	printf 'TorAddress %s\nTorPort %s\n' $P_IP "$port" >"$WORK/torsocks.conf"
	[[ -f $LIB_TOR ]] || LNOTE[torsocks]="skipped: torsocks not installed"
	LENV[torsocks]="LD_PRELOAD=$LIB_TOR TORSOCKS_CONF_FILE=$WORK/torsocks.conf"
	return 0
}

LIBS=(libsocksify proxychains4 dante torsocks)
SHIM_NOTE="skipped: not in BENCH_PARTS"

# shim_loop SUBJECT: N sequential connect+close through the proxy
shim_loop() {
	local l=$1 out
	if [[ $l == bare ]]; then
		out=$(in_ns "$NS_C" timeout 60 $PIN_GEN "$SXB" connloop -t "$SHIM_TARGET" -s "$SHIM_PROXY" -n "$LOOP_N" 2>>"$WORK/errors")
	else
		# shellcheck disable=SC2086
		out=$(in_ns "$NS_C" timeout 60 env ${LENV[$l]} $PIN_GEN "$SXB" connloop -t "$SHIM_TARGET" -n "$LOOP_N" 2>>"$WORK/errors")
	fi
	if [[ $(field fails <<<"$out") == 0 ]]; then
		record "shim-$l" loop_us "$(field us_per_conn <<<"$out")"
	else
		record "shim-$l" loop_fail 1
	fi
}

# shim_bulk SUBJECT DIR: one tunnelled stream; the client process's own CPU per GB
shim_bulk() {
	local l=$1 dir=$2 out bytes
	if [[ $l == bare ]]; then
		out=$(in_ns "$NS_C" timeout 120 $PIN_GEN "$SXB" bulk -t "$SHIM_TARGET" -s "$SHIM_PROXY" -n "$SHIM_BULK" -d "$dir" 2>>"$WORK/errors")
	else
		# shellcheck disable=SC2086
		out=$(in_ns "$NS_C" timeout 120 env ${LENV[$l]} $PIN_GEN "$SXB" bulk -t "$SHIM_TARGET" -n "$SHIM_BULK" -d "$dir" 2>>"$WORK/errors")
	fi
	bytes=$(field bytes <<<"$out")
	if [[ -z $bytes ]]; then record "shim-$l" "bulk_$dir.fail" 1; return; fi
	record "shim-$l" "bulk_$dir" "$(awk -v b="$bytes" -v t="$(field secs <<<"$out")" 'BEGIN { printf "%.0f", b / t / 1e6 }')"
	record "shim-$l" "bulkcpu_$dir" "$(awk -v b="$bytes" -v c="$(field cpu <<<"$out")" 'BEGIN { printf "%.3f", c / (b / 1e9) }')"
	record "shim-$l" "bulkucpu_$dir" "$(awk -v b="$bytes" -v c="$(field ucpu <<<"$out")" 'BEGIN { printf "%.1f", c * 1e3 / (b / 1e9) }')"
}

# shim_mem SUBJECT: RSS/PSS and threads of a process that never connects
shim_mem() {
	local l=$1 pid f=$WORK/hold.out
	if [[ $l == bare ]]; then
		"$SXB" hold >"$f" 2>/dev/null &
	else
		# shellcheck disable=SC2086
		env ${LENV[$l]} "$SXB" hold >"$f" 2>/dev/null &
	fi
	pid=$!
	PIDS+=("$pid")
	if wait_line "$f" '^ready' 5; then
		record "shim-$l" rss "$(awk '/^Rss:/ {print $2}' /proc/$pid/smaps_rollup)"
		record "shim-$l" pss "$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)"
		record "shim-$l" threads "$(awk '/^Threads:/ {print $2}' /proc/$pid/status)"
	fi
	stop_pid "$pid"
}

# start-up: hyperfine medians. Preloads are set in hyperfine's own environment, so the
# command line is the same bare `true` and no wrapper's exec is counted.
shim_startup() {
	local l json=$WORK/hf.json
	hf() { # hf SUBJECT ENV... -- COMMAND...
		local subj=$1 e=()
		shift
		while [[ $1 != -- ]]; do e+=("$1"); shift; done
		shift
		if env "${e[@]}" hyperfine -N --warmup 20 --runs "$HF_RUNS" --export-json "$json" "$*" >/dev/null 2>>"$WORK/hyperfine.err"; then
			record "$subj" start_ms "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"] * 1000)' "$json")"
		fi
	}
	for _ in 1 2 3; do
		hf start-bare -- true
		[[ -n $EMPTY_SO ]] && hf start-empty LD_PRELOAD="$EMPTY_SO" -- true
		for l in "${LIBS[@]}"; do
			[[ -z ${LNOTE[$l]:-} ]] || continue
			# shellcheck disable=SC2086
			hf "start-$l" ${LENV[$l]} -- true
		done
		[[ -x $BUILD/socksify ]] && hf start-socksify -- "$BUILD/socksify" -p "socks5://$SHIM_PROXY" true
		command -v proxychains4 >/dev/null && hf start-proxychains4-cmd -- proxychains4 -q -f "$WORK/proxychains.conf" true
		command -v torsocks >/dev/null && hf start-torsocks-cmd TORSOCKS_CONF_FILE="$WORK/torsocks.conf" -- torsocks true
		[[ -x /usr/bin/socksify && -f $LIB_DANTE ]] && hf start-dante-cmd SOCKS_CONF="$WORK/dante.conf" -- /usr/bin/socksify true
	done
}

shim_part() {
	SHIM_NOTE=""
	if [[ ${BENCH_SHIM:-1} != 1 ]]; then SHIM_NOTE="skipped: BENCH_SHIM=0"; return; fi
	if ((EUID != 0)); then SHIM_NOTE="skipped: needs root for network namespaces"; return; fi
	log "part 2: client libraries (namespaces $NS_C -> $NS_P -> $NS_T)"
	shim_setup || return
	log "shim server: $SHIM_SRV at $SHIM_PROXY, target $SHIM_TARGET"
	local rep l subjects=(bare)
	for l in "${LIBS[@]}"; do [[ -z ${LNOTE[$l]:-} ]] && subjects+=("$l"); done
	# one discarded pass first: the first connections of a run pay for cold caches
	local n=$LOOP_N
	LOOP_N=50
	for l in "${subjects[@]}"; do shim_loop "$l"; done
	rm -f "$RAW"/shim-*.loop_*
	LOOP_N=$n
	for rep in $(seq "$REPS"); do
		over_time && break
		log "shim connect loop + bulk, repetition $rep/$REPS"
		# three short loops per repetition: a median over more samples holds up better
		# on a shared machine than a few long loops
		for _ in 1 2 3; do
			for l in $(rotate "$rep" "${subjects[@]}"); do shim_loop "$l"; done
		done
		for l in $(rotate "$rep" "${subjects[@]}"); do
			shim_bulk "$l" down
			shim_bulk "$l" up
		done
	done
	log "shim memory and start-up"
	for _ in 1 2 3; do
		for l in "${subjects[@]}"; do shim_mem "$l"; done
		[[ -n $EMPTY_SO ]] && shim_mem empty
	done
	command -v hyperfine >/dev/null && shim_startup
}

shim_tables() {
	local l name bare note
	echo "### Client libraries (LD_PRELOAD shims)"
	echo
	if [[ -n $SHIM_NOTE ]]; then echo "$SHIM_NOTE"; echo; return; fi
	echo "All against one $SHIM_SRV at $SHIM_PROXY (proxy namespace), reaching a target in a"
	echo "third namespace that the client namespace has no route to, so only a tunnelled"
	echo "connection succeeds. \"bare\" = sxbench speaking SOCKS5 itself (sequential steps)."
	echo
	echo "Per connect: $LOOP_N sequential connect()+close() to the target, microseconds each"
	echo "(median of 3 x $REPS loops; ± = half the interquartile range of those loops)."
	echo "Bulk: one $SHIM_BULK stream each way; client CPU = the client process's own"
	echo "utime+stime (getrusage) per GB moved. Over veth the kernel charges part of the"
	echo "receiver's softirq work to the sender, so system time is noisy; user time is where a"
	echo "shim's own code in the data path would show."
	echo
	echo "| client | us per connect | vs bare | down MB/s | up MB/s | client CPU-s per GB (down / up) | CPU vs bare (down / up) | client user ms per GB (down / up) |"
	echo "|---|---|---|---|---|---|---|---|"
	bare=$(median shim-bare loop_us %.1f)
	for l in bare "${LIBS[@]}"; do
		name=$l
		[[ $l == bare ]] && name="bare SOCKS5 client"
		note=${LNOTE[$l]:-}
		if [[ -n $note ]]; then echo "| $name | $note | | | | | | |"; continue; fi
		local us cd cu
		us=$(median "shim-$l" loop_us %.1f)
		[[ -s $RAW/shim-$l.loop_fail && $us == n/a ]] && us=failed
		cd=$(median "shim-$l" bulkcpu_down %.3f) cu=$(median "shim-$l" bulkcpu_up %.3f)
		echo "| $name | $us$(spread "shim-$l" loop_us) | $(ratio "$us" "$bare") | $(median "shim-$l" bulk_down) | $(median "shim-$l" bulk_up) |" \
			"$cd / $cu | $(ratio "$cd" "$(median shim-bare bulkcpu_down %.3f)") / $(ratio "$cu" "$(median shim-bare bulkcpu_up %.3f)") |" \
			"$(median "shim-$l" bulkucpu_down %.1f) / $(median "shim-$l" bulkucpu_up %.1f) |"
	done
	echo
	echo "Memory: a process that never connects (sxbench hold), with the library preloaded;"
	echo "medians of 3; added = over the same program without a preload; \"empty\" = an empty"
	echo "shared object, what any preload costs."
	echo
	echo "| library | RSS KiB | PSS KiB | added RSS KiB | added PSS KiB | threads |"
	echo "|---|---|---|---|---|---|"
	local rb pb r p m
	rb=$(median shim-bare rss) pb=$(median shim-bare pss)
	for l in bare empty "${LIBS[@]}"; do
		note=${LNOTE[$l]:-}
		[[ $l == empty && ! -s $RAW/shim-empty.rss ]] && continue
		if [[ -n $note ]]; then echo "| $l | $note | | | | |"; continue; fi
		r=$(median "shim-$l" rss) p=$(median "shim-$l" pss)
		echo "| $l | $r | $p | $(awk -v a="$r" -v b="$rb" 'BEGIN { print (a == "n/a") ? "n/a" : a - b }') |" \
			"$(awk -v a="$p" -v b="$pb" 'BEGIN { print (a == "n/a") ? "n/a" : a - b }') | $(median "shim-$l" threads) |"
	done
	echo
	if ! command -v hyperfine >/dev/null; then echo "Start-up: skipped (hyperfine not installed)"; echo; return; fi
	echo "Start-up: \`true\` under each, hyperfine -N median (ms), median of 3 hyperfine runs"
	echo "of $HF_RUNS. Preloads are set in hyperfine's environment, so no wrapper is timed."
	echo
	echo "| command | median ms | vs bare true |"
	echo "|---|---|---|"
	bare=$(median start-bare start_ms %.3f)
	echo "| true | $bare | 1.00x |"
	if [[ -s $RAW/start-empty.start_ms ]]; then
		m=$(median start-empty start_ms %.3f)
		echo "| LD_PRELOAD=empty.so true (the loader's floor) | $m | $(ratio "$m" "$bare") |"
	fi
	for l in "${LIBS[@]}"; do
		[[ -n ${LNOTE[$l]:-} ]] && { echo "| LD_PRELOAD=$l true | ${LNOTE[$l]} | |"; continue; }
		m=$(median "start-$l" start_ms %.3f)
		echo "| LD_PRELOAD=$l true | $m | $(ratio "$m" "$bare") |"
	done
	for l in socksify:"socksify true (ours)" proxychains4-cmd:"proxychains4 -q true" \
		torsocks-cmd:"torsocks true" dante-cmd:"socksify true (Dante's script)"; do
		local subj=${l%%:*} label=${l#*:}
		m=$(median "start-$subj" start_ms %.3f)
		echo "| $label | $m | $(ratio "$m" "$bare") |"
	done
	echo
}

# =====================================================================================

# verdict VALUE OP LIMIT: "yes" / "NO" / "n/a" for a numeric comparison
verdict() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		num = "^[0-9.]+$"
		if (v !~ num || l !~ num) { print "n/a"; exit }
		ok = (op == ">=") ? v + 0 >= l + 0 : (op == "<=") ? v + 0 <= l + 0 : (op == ">") ? v + 0 > l + 0 : v + 0 < l + 0
		print ok ? "yes" : "NO" }'
}

min2() { awk -v a="$1" -v b="$2" 'BEGIN { num = "^[0-9.]+$"
	if (a !~ num || b !~ num) print "n/a"; else print (a + 0 < b + 0) ? a : b }'; }
max2() { awk -v a="$1" -v b="$2" 'BEGIN { num = "^[0-9.]+$"
	if (a !~ num || b !~ num) print "n/a"; else print (a + 0 > b + 0) ? a : b }'; }

# The targets of issues 2 and 3, each against what this run measured.
targets_table() {
	local v v2 l
	echo "### Targets (issues 2 and 3)"
	echo
	echo "| target | measured | met |"
	echo "|---|---|---|"
	if [[ -s $RAW/socksifyd.bulkcpu_up ]]; then
		v=$(min2 "$(median socksifyd bulkcpu_up)" "$(median socksifyd bulkcpu_down)")
		echo "| socksifyd bulk >= 6000 MB per server CPU-s (worse direction) | $v | $(verdict "$v" '>=' 6000) |"
		v=$(min2 "$(ratio "$(median socksifyd bulk_up)" "$(median direct bulk_up)" %.2f)" \
			"$(ratio "$(median socksifyd bulk_down)" "$(median direct bulk_down)" %.2f)")
		local fair="pinned"
		[[ -z $PIN_GEN ]] && fair="NOT pinned, so not a fair test"
		echo "| one stream >= 0.8x direct (server on a core of its own: $fair) | ${v}x | $(verdict "$v" '>=' 0.8) |"
		# What one stream could reach if the server had a core to itself: its bytes per
		# CPU-second is its ceiling; the direct stream is the load generator's.
		v=$(min2 "$(ratio "$(median socksifyd bulkcpu_up)" "$(median direct bulk_up)" %.2f)" \
			"$(ratio "$(median socksifyd bulkcpu_down)" "$(median direct bulk_down)" %.2f)")
		v=$(min2 "$v" 1.00)
		echo "| same, projected: min(1, MB per server CPU-s / direct MB/s), worse direction | ${v}x | $(verdict "$v" '>=' 0.8) |"
		for l in seq conc; do
			v=$(median socksifyd "conn_$l") v2=$(median microsocks "conn_$l")
			echo "| connections/s ($l) > microsocks | $v vs $v2 | $(verdict "$v" '>' "$v2") |"
			v=$(median socksifyd "conncpu_$l" %.1f) v2=$(median microsocks "conncpu_$l" %.1f)
			echo "| server CPU per connection ($l) < microsocks | $v vs $v2 us | $(verdict "$v" '<' "$v2") |"
		done
		v=$(median socksifyd idle_pss %.1f)
		echo "| idle session PSS <= 2 KiB | $v KiB | $(verdict "$v" '<=' 2) |"
		if [[ -s $RAW/socksifyd.max_opened ]]; then
			v=$(median socksifyd max_opened)
			echo "| idle sessions up to the fd limit (~9900 at 20000 fds), rest refused | $v open, $(median socksifyd max_failed) refused ($(head -1 "$RAW/socksifyd.max_how" 2>/dev/null)) | $(verdict "$v" '>=' 9800) |"
		fi
		v=$(median socksifyd hs_pipe_ok)
		echo "| pipelined greeting+request answered in one round trip | $v of $HS_N | $(verdict "$v" '>=' "$HS_N") |"
		v=$(median socksifyd-auth hs_pipe_ok)
		echo "| pipelined greeting+auth+request answered in one round trip | $v of $HS_N | $(verdict "$v" '>=' "$HS_N") |"
	else
		echo "| socksifyd targets | ${SNOTE[socksifyd]:-not measured} | n/a |"
	fi
	if [[ -s $RAW/shim-libsocksify.loop_us ]]; then
		v=$(ratio "$(median shim-libsocksify loop_us %.1f)" "$(median shim-bare loop_us %.1f)" %.2f)
		echo "| per proxied connect <= 1.0x the bare SOCKS5 client | ${v}x | $(verdict "$v" '<=' 1.0) |"
	fi
	if [[ -s $RAW/start-libsocksify.start_ms ]]; then
		v=$(ratio "$(median start-libsocksify start_ms %.3f)" "$(median start-bare start_ms %.3f)" %.2f)
		v2=$(ratio "$(median start-empty start_ms %.3f)" "$(median start-bare start_ms %.3f)" %.2f)
		echo "| LD_PRELOAD=libsocksify.so true within 10% of bare true | ${v}x (an empty .so: ${v2}x) | $(verdict "$v" '<=' 1.10) |"
		v=$(median start-socksify start_ms %.3f)
		v2=$(min2 "$(min2 "$(median start-proxychains4-cmd start_ms %.3f)" "$(median start-torsocks-cmd start_ms %.3f)")" \
			"$(median start-dante-cmd start_ms %.3f)")
		echo "| socksify true below every peer launcher | $v vs best peer $v2 ms | $(verdict "$v" '<' "$v2") |"
	fi
	if [[ -s $RAW/shim-libsocksify.rss ]]; then
		v=$(awk -v a="$(median shim-libsocksify rss)" -v b="$(median shim-bare rss)" 'BEGIN { print a - b }')
		v2=$(awk -v a="$(median shim-libsocksify pss)" -v b="$(median shim-bare pss)" 'BEGIN { print a - b }')
		echo "| at most 150 KB added memory (RSS / PSS) | $v / $v2 KiB (an empty .so: $(awk -v a="$(median shim-empty rss)" -v b="$(median shim-bare rss)" 'BEGIN { print a - b }') / $(awk -v a="$(median shim-empty pss)" -v b="$(median shim-bare pss)" 'BEGIN { print a - b }')) | RSS $(verdict "$v" '<=' 146), PSS $(verdict "$v2" '<=' 146) |"
		v=$(median shim-libsocksify threads)
		echo "| no thread in a process that never connects | $v thread(s) in all | $(verdict "$v" '<=' 1) |"
	fi
	if [[ -s $RAW/shim-libsocksify.bulkcpu_down ]]; then
		v=$(max2 "$(ratio "$(median shim-libsocksify bulkcpu_down %.3f)" "$(median shim-bare bulkcpu_down %.3f)" %.2f)" \
			"$(ratio "$(median shim-libsocksify bulkcpu_up %.3f)" "$(median shim-bare bulkcpu_up %.3f)" %.2f)")
		echo "| bulk through the shim: no added client CPU (within 10% noise, worse direction) | ${v}x | $(verdict "$v" '<=' 1.10) |"
		v=$(max2 "$(median shim-libsocksify bulkucpu_down %.1f)" "$(median shim-libsocksify bulkucpu_up %.1f)")
		v2=$(max2 "$(median shim-bare bulkucpu_down %.1f)" "$(median shim-bare bulkucpu_up %.1f)")
		echo "| same, user time only (library code in the data path), worse direction | $v vs bare $v2 ms per GB | $(verdict "$v" '<=' "$(awk -v b="$v2" 'BEGIN { print b + 20 }')") (+20 ms/GB: 2 clock ticks) |"
	fi
	echo
}

header() {
	local rev
	rev=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo "?")
	echo "## socksify benchmarks"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $NCPU CPU ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))"
	echo "- tree: $rev; build: $BUILD; mode: $([[ $QUICK == 1 ]] && echo quick || echo full), medians of $REPS repetitions"
	echo "- pinning: $PINNED; fd limit $(ulimit -Hn)"
	echo "- load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- peers: microsocks $(ver microsocks), dante-server $(ver dante-server), dante-client $(ver dante-client)," \
		"proxychains4 $(ver proxychains4), torsocks $(ver torsocks), hyperfine $(ver hyperfine)"
	echo "- the machine is shared: absolute numbers are noisy, the ratios measured side by side are the point"
	((BUDGET_HIT)) && echo "- **the time budget (BENCH_MAX_SECONDS) ran out: some repetitions or parts were skipped**"
	echo
}

# ---- part 4: workers (issue 14) ----
# Unpinned: the server may use both cores, the load generator too. For each run the
# generator's own CPU (GNU time) and the server's are recorded, to tell when the
# generator, not the server, is what limits the rate.

# wbench_conns SERVER LABEL CONCURRENCY TOTAL: as bench_conns, plus the CPU shares
wbench_conns() {
	local s=$1 label=$2 conc=$3 n=$4 c0 c1 t0 t1 out secs gen
	c0=$(cpu_ticks "${SPID[$s]}")
	t0=0 t1=0
	[[ -n ${TARGET_PID:-} ]] && t0=$(cpu_ticks "$TARGET_PID")
	if ! out=$(timeout 120 /usr/bin/time -o "$WORK/gen.time" -f "%U %S" "$SXB" conns -t "$TARGET" \
		-s "${SADDR[$s]}" -n "$n" -c "$conc" -q 64 2>>"$WORK/errors"); then
		record "$s" "conn_$label.fail" 1
		return
	fi
	c1=$(cpu_ticks "${SPID[$s]}")
	[[ -n ${TARGET_PID:-} ]] && t1=$(cpu_ticks "$TARGET_PID")
	secs=$(field secs <<<"$out")
	gen=$(awk '{ print $1 + $2 }' "$WORK/gen.time")
	record "$s" "conn_$label" "$(awk -v n="$n" -v t="$secs" 'BEGIN { printf "%.0f", n / t }')"
	record "$s" "srvcores_$label" "$(awk -v d=$((c1 - c0)) -v hz="$TCK" -v t="$secs" 'BEGIN { printf "%.2f", d / hz / t }')"
	record "$s" "gencores_$label" "$(awk -v g="$gen" -v t="$secs" 'BEGIN { printf "%.2f", g / t }')"
	record "$s" "tgtcores_$label" "$(awk -v d=$((t1 - t0)) -v hz="$TCK" -v t="$secs" 'BEGIN { printf "%.2f", d / hz / t }')"
}

workers_part() {
	local rep s before=${BENCH_SOCKSIFYD_BEFORE:-} PIN_GEN="" PIN_SRV=""
	log "part 4: workers (socksifyd -w 1 / -w 2 vs microsocks, not pinned)"
	if [[ ! -x /usr/bin/time ]]; then WORKERS_NOTE="skipped: /usr/bin/time (package time) not installed"; return; fi
	if [[ -z ${TARGET:-} ]]; then
		"$SXB" target 127.0.0.1:0 >"$WORK/wtarget.out" 2>&1 &
		PIDS+=("$!")
		TARGET_PID=$!
		wait_line "$WORK/wtarget.out" '^port [0-9]+' 5 || { WORKERS_NOTE="target did not start"; return; }
		TARGET=127.0.0.1:$(awk '/^port/ {print $2}' "$WORK/wtarget.out")
	fi
	WSERVERS=()
	start_socksifyd sfyd-w1 -w 1 && WSERVERS+=(sfyd-w1)
	start_socksifyd sfyd-w2 -w 2 && WSERVERS+=(sfyd-w2)
	start_microsocks msocks && WSERVERS+=(msocks)
	if [[ -n $before && -x $before ]]; then
		BUILD_SAVE=$BUILD
		mkdir -p "$WORK/before" && cp "$before" "$WORK/before/socksifyd"
		BUILD=$WORK/before start_socksifyd sfyd-before || true
		BUILD=$BUILD_SAVE
	fi
	for s in "${WSERVERS[@]}"; do wbench_conns "$s" warm 8 200; done
	for rep in $(seq "$REPS"); do
		over_time && break
		log "workers: repetition $rep/$REPS"
		for s in $(rotate "$rep" "${WSERVERS[@]}"); do wbench_conns "$s" seq 1 "$SEQ_N"; done
		for s in $(rotate "$rep" "${WSERVERS[@]}"); do wbench_conns "$s" conc "$CONC" "$CONC_N"; done
		for s in sfyd-w1 sfyd-before; do
			[[ -n ${SADDR[$s]:-} ]] || continue
			bench_bulk "$s" up
			bench_bulk "$s" down
		done
	done
	for s in sfyd-w1 sfyd-w2; do
		[[ -n ${SADDR[$s]:-} ]] || continue
		over_time && break
		bench_idle "$s" "$IDLE_N" idle
	done
}

workers_tables() {
	local s l v1 v2 g
	echo "### Workers (issue 14): socksifyd -w 1 vs -w 2 vs microsocks, not pinned"
	echo
	[[ -n ${WORKERS_NOTE:-} ]] && { echo "$WORKERS_NOTE"; echo; return; }
	echo "Connections as in part 1 (CONNECT + 64-byte echo + close), $NCPU CPUs, neither the"
	echo "server nor the load generator pinned. cores = CPU-seconds per wall second of the"
	echo "server, of the load generator (sxbench) and of the target (a thread per connection)"
	echo "during the run; when the three add up to about the machine's $NCPU CPUs, the machine,"
	echo "not the server, sets the rate."
	echo
	echo "| server | seq conn/s | seq server/gen/target cores | $CONC-conc conn/s | $CONC-conc server/gen/target cores |"
	echo "|---|---|---|---|---|"
	for s in sfyd-w1 sfyd-w2 msocks; do
		if [[ -n ${SNOTE[$s]:-} ]]; then echo "| $s | ${SNOTE[$s]} | | | |"; continue; fi
		echo "| $s | $(median "$s" conn_seq)$(spread "$s" conn_seq) | $(median "$s" srvcores_seq %.2f) / $(median "$s" gencores_seq %.2f) / $(median "$s" tgtcores_seq %.2f) |" \
			"$(median "$s" conn_conc)$(spread "$s" conn_conc) | $(median "$s" srvcores_conc %.2f) / $(median "$s" gencores_conc %.2f) / $(median "$s" tgtcores_conc %.2f) |"
	done
	echo
	echo "| ratio | seq | $CONC-conc |"
	echo "|---|---|---|"
	echo "| 2 workers / 1 worker (target >= 1.6x where the generator is not the bottleneck) |" \
		"$(ratio "$(median sfyd-w2 conn_seq)" "$(median sfyd-w1 conn_seq)") | $(ratio "$(median sfyd-w2 conn_conc)" "$(median sfyd-w1 conn_conc)") |"
	echo "| 1 worker / microsocks | $(ratio "$(median sfyd-w1 conn_seq)" "$(median msocks conn_seq)") |" \
		"$(ratio "$(median sfyd-w1 conn_conc)" "$(median msocks conn_conc)") |"
	echo "| 2 workers / microsocks | $(ratio "$(median sfyd-w2 conn_seq)" "$(median msocks conn_seq)") |" \
		"$(ratio "$(median sfyd-w2 conn_conc)" "$(median msocks conn_conc)") |"
	g=$(awk -v a="$(median sfyd-w2 srvcores_conc %.2f)" -v b="$(median sfyd-w2 gencores_conc %.2f)" \
		-v c="$(median sfyd-w2 tgtcores_conc %.2f)" \
		'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/) printf "%.2f", a + b + c; else print "n/a" }')
	echo
	echo "At 2 workers, $CONC-concurrent: server + generator + target = $g of $NCPU CPUs$(awk -v g="$g" -v n="$NCPU" \
		'BEGIN { if (g ~ /^[0-9.]+$/ && g >= 0.85 * n) print ": the machine is saturated, the generator and the target take their share of it, so 2w/1w cannot show the server'"'"'s scaling here"; else print "" }')."
	# Other work on the machine takes the cores the second worker would use.
	awk -v l="${LOAD_START%% *}" -v n="$NCPU" 'BEGIN { if (l + 0 >= n) printf "The 1-minute load average was %s at the start on %d CPUs: other processes held the cores, so these rates say nothing about scaling.\n", l, n }'

	echo
	echo "Bulk at one worker (one stream of $BULK each way), MB per server CPU-second; the"
	echo "baseline is BENCH_SOCKSIFYD_BEFORE (a one-thread socksifyd), when given."
	echo
	echo "| server | MB per server CPU-s up | down | CPU-s per GiB (worse direction) |"
	echo "|---|---|---|---|"
	for s in sfyd-w1 sfyd-before; do
		[[ -s $RAW/$s.bulkcpu_up ]] || continue
		v1=$(median "$s" bulkcpu_up) v2=$(median "$s" bulkcpu_down)
		echo "| $s | $v1 | $v2 | $(awk -v a="$v1" -v b="$v2" 'BEGIN { m = a < b ? a : b; if (m > 0) printf "%.3f", 1073.741824 / m; else print "n/a" }') |"
	done
	echo
	echo "Idle sessions: $IDLE_N held open, PSS per session over the baseline."
	echo
	echo "| server | sessions open | PSS per session (KiB) | threads/processes | <= 2 KiB |"
	echo "|---|---|---|---|---|"
	for s in sfyd-w1 sfyd-w2; do
		[[ -s $RAW/$s.idle_opened ]] || continue
		l=$(median "$s" idle_pss %.2f)
		echo "| $s | $(median "$s" idle_opened) | $l | $(cat "$RAW/$s.idle_threads" 2>/dev/null) | $(verdict "$l" '<=' 2) |"
	done
	echo
}

# UDP (issue 5) has its own script by the datagram family's engineer; its output is
# carried into the report as it prints it.
udp_part() {
	UDP_NOTE=""
	if [[ ! -f $HERE/udp.sh ]]; then UDP_NOTE="skipped: scripts/bench/udp.sh not present"; return; fi
	if [[ ! -x $BUILD/snippets/udp_bench ]]; then UDP_NOTE="skipped: snippets not built (make snippets)"; return; fi
	if over_time; then UDP_NOTE="skipped: the run's time budget (BENCH_MAX_SECONDS) was spent"; return; fi
	log "part 3: UDP (scripts/bench/udp.sh)"
	timeout 300 bash "$HERE/udp.sh" "$BUILD" >"$WORK/udp.out" 2>>"$WORK/udp.err" ||
		UDP_NOTE="udp.sh ended with status $? (its stderr: $(head -c 200 "$WORK/udp.err" | tr '\n' ' '))"
}

udp_tables() {
	echo "### UDP (scripts/bench/udp.sh, issue 5)"
	echo
	[[ -n ${UDP_NOTE:-} ]] && { echo "$UDP_NOTE"; echo; }
	if [[ -s $WORK/udp.out ]]; then
		echo '```'
		cat "$WORK/udp.out"
		echo '```'
		echo
	fi
}

# The seccomp supervisor (issue 13) against the library: its own script, carried in.
sv_part() {
	SV_NOTE=""
	if over_time; then SV_NOTE="skipped: the run's time budget (BENCH_MAX_SECONDS) was spent"; return; fi
	log "part 4: the supervisor (scripts/bench/supervise.sh)"
	local -a q=()
	[[ $QUICK == 1 ]] && q=(SV_BENCH_N=150 SV_BENCH_REPS=3 SV_BENCH_BULK=128M SV_BENCH_HF_RUNS=50)
	env "${q[@]}" timeout 300 bash "$HERE/supervise.sh" "$BUILD" >"$WORK/sv.out" 2>>"$WORK/sv.err" ||
		SV_NOTE="supervise.sh ended with status $? ($(head -c 200 "$WORK/sv.err" | tr '\n' ' '))"
}

sv_tables() {
	echo "### The seccomp supervisor (scripts/bench/supervise.sh, issue 13)"
	echo
	[[ -n ${SV_NOTE:-} ]] && { echo "$SV_NOTE"; echo; }
	if [[ -s $WORK/sv.out ]]; then
		echo '```'
		cat "$WORK/sv.out"
		echo '```'
		echo
	fi
}

# Port-53 queries answered inside the library (issue 12), scripts/bench/dns53.sh.
dns53_part() {
	DNS53_NOTE=""
	if [[ ! -x $BUILD/snippets/dns53_bench ]]; then DNS53_NOTE="skipped: snippets not built (make snippets)"; return; fi
	if over_time; then DNS53_NOTE="skipped: the run's time budget (BENCH_MAX_SECONDS) was spent"; return; fi
	log "part 4: port-53 queries (scripts/bench/dns53.sh)"
	DNS53_BENCH_N=$([[ $QUICK == 1 ]] && echo 5000 || echo 20000) \
		timeout 300 bash "$HERE/dns53.sh" "$BUILD" >"$WORK/dns53.out" 2>>"$WORK/dns53.err" ||
		DNS53_NOTE="dns53.sh ended with status $? (its stderr: $(head -c 200 "$WORK/dns53.err" | tr '\n' ' '))"
}

dns53_tables() {
	echo "### Port-53 queries answered in the library (scripts/bench/dns53.sh, issue 12)"
	echo
	[[ -n ${DNS53_NOTE:-} ]] && { echo "$DNS53_NOTE"; echo; }
	if [[ -s $WORK/dns53.out ]]; then
		echo '```'
		cat "$WORK/dns53.out"
		echo '```'
		echo
	fi
}

# Machine-wide start-up (issue 10): its own script, its table carried over as printed.
system_part() {
	log "part 4: start-up under /etc/ld.so.preload (scripts/bench/system.sh)"
	timeout 600 bash "$HERE/system.sh" "$BUILD" >"$WORK/system.out" 2>>"$WORK/system.err" ||
		echo "system.sh ended with status $? ($(head -c 200 "$WORK/system.err" | tr '\n' ' '))" \
			>>"$WORK/system.out"
}

system_tables() {
	echo "### Machine-wide start-up (scripts/bench/system.sh, issue 10)"
	echo
	if [[ -s $WORK/system.out ]]; then cat "$WORK/system.out"; else echo "skipped: not in BENCH_PARTS"; fi
	echo
}

# The asynchronous connect (issue 11) has its own script too, carried in the same way.
async_part() {
	ASYNC_NOTE=""
	if over_time; then ASYNC_NOTE="skipped: the run's time budget (BENCH_MAX_SECONDS) was spent"; return; fi
	log "part 4: asynchronous connect (scripts/bench/async.sh)"
	timeout 600 bash "$HERE/async.sh" "$BUILD" >"$WORK/async.out" 2>>"$WORK/async.err" ||
		ASYNC_NOTE="async.sh ended with status $? (its stderr: $(tail -c 300 "$WORK/async.err" | tr '\n' ' '))"
}

async_tables() {
	[[ -n ${ASYNC_NOTE:-} ]] && { echo "### Asynchronous connect (issue 11)"; echo; echo "$ASYNC_NOTE"; echo; }
	[[ -s $WORK/async.out ]] && cat "$WORK/async.out"
}

PARTS=${BENCH_PARTS:-servers shim udp workers supervise system async dns53}
WORKERS_NOTE="skipped: not in BENCH_PARTS"
SV_NOTE="skipped: not in BENCH_PARTS"
UDP_NOTE="skipped: not in BENCH_PARTS"
ASYNC_NOTE="skipped: not in BENCH_PARTS"
DNS53_NOTE="skipped: not in BENCH_PARTS"
[[ $PARTS == *servers* ]] && server_part
[[ $PARTS == *shim* ]] && shim_part
[[ $PARTS == *udp* ]] && udp_part
[[ $PARTS == *workers* ]] && { WORKERS_NOTE=""; workers_part; }
[[ $PARTS == *supervise* ]] && sv_part
[[ $PARTS == *system* ]] && system_part
[[ $PARTS == *async* ]] && async_part
[[ $PARTS == *dns53* ]] && dns53_part
{
	header
	targets_table
	server_tables
	shim_tables
	udp_tables
	workers_tables
	sv_tables
	system_tables
	async_tables
	dns53_tables
	echo "_total run time: $((SECONDS - BENCH_START)) s_"
	if [[ -s $WORK/errors ]]; then
		echo
		echo "<details><summary>load generator messages (first 20)</summary>"
		echo
		echo '```'
		sort "$WORK/errors" | uniq -c | sort -rn | head -20
		echo '```'
		echo "</details>"
	fi
} >"$RESULTS"
rm -rf "$OUT/raw.last" && cp -r "$RAW" "$OUT/raw.last"
cat "$RESULTS"
