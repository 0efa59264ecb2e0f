#!/usr/bin/env bash
# The asynchronous connect and the one-round-trip handshake (issue 11), through a proxy
# 50 ms away (tests/lib/delay_relay.py in front of socksifyd, in the namespace topology
# of tests/lib/netns.bash). Prints markdown tables (medians of REPS runs) on stdout.
#   1. one connection's time to first byte (curl, HTTP GET): socksify pipelined, step by
#      step, the old blocking build if given, curl's own SOCKS5 client, proxychains4,
#      torsocks, and a direct connection to a server as far away as the proxy
#   2. 20 connections from one event loop (python asyncio, curl -Z) against one
#   3. a page of 30 resources on 6 origins (its own load-event time) in Firefox under
#      socksify, with its own SOCKS5 client (remote DNS) and under proxychains4; the
#      same in Chromium (its --proxy-server)
# Usage: async.sh BUILD   (BENCH_QUICK=1: fewer repetitions; BENCH_OLD_LIB=path: a
# libsocksify.so to compare, e.g. one built before this issue)
set -u -o pipefail

BUILD=${1:?usage: async.sh BUILD}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
LIB=$BUILD/libsocksify.so
OLD_LIB=${BENCH_OLD_LIB:-}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then REPS=${BENCH_REPS:-3} PAGE_REPS=1; else REPS=${BENCH_REPS:-7} PAGE_REPS=3; fi
ASYNC_DIR=$TOP/tests/e2e/async

# shellcheck source=tests/lib/netns.bash
source "$TOP/tests/lib/netns.bash"
trap 'netns_down' EXIT
trap 'exit 130' INT TERM
log() { printf 'bench async: %s\n' "$*" >&2; }

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

netns_up || exit 1
[[ -n ${SFY_SKIP:-} ]] && { echo "skipped: $SFY_SKIP"; exit 0; }
D=$NETNS_DIR
: >"$D/empty.conf"
netns_bg "$NS_PROXY" "$D/s5.log" "$BUILD/socksifyd" --open -l 198.18.1.2:0
wait_for_line "$D/s5.log" 'listening on ' 10 || exit 1
S5_PORT=$(sed -n 's/.*listening on 198\.18\.1\.2:\([0-9]*\).*/\1/p' "$D/s5.log" | head -n 1)
relay() { # relay TO_ADDR TO_PORT -> prints the relay's port
	local log=$D/relay-$1-$2.log
	netns_bg "$NS_PROXY" "$log" "$NETNS_PY" "$TOP/tests/lib/delay_relay.py" 198.18.1.2 0 "$1" "$2" 50 900
	wait_for_line "$log" '^delay-relay ready' 10 >/dev/null || return 1
	sed -n 's/^delay-relay ready \([0-9]*\).*/\1/p' "$log"
}
FAR=$(relay 198.18.1.2 "$S5_PORT") || exit 1
# "A direct connection to the proxy": the target's web server behind the same delay.
DIRECT=$(relay "$NS_TARGET_IP" 80) || exit 1
printf 'pipeline = off\n' >"$D/off.conf"
printf 'strict_chain\nquiet_mode\nproxy_dns\n[ProxyList]\nsocks5 198.18.1.2 %s\n' "$FAR" >"$D/pc.conf"
printf 'TorAddress 198.18.1.2\nTorPort %s\n' "$FAR" >"$D/torsocks.conf"
URL=http://$NS_TARGET_IP/

shim() { in_client env LD_PRELOAD="$LIB" SOCKSIFY_CONF="$D/empty.conf" SOCKSIFY_PROXY="socks5://198.18.1.2:$FAR" "$@"; }
ttfb() { # ttfb CMD...: curl's time to first byte, in ms
	"$@" curl -s -o /dev/null --max-time 20 -w '%{time_starttransfer}\n' "${CURL_URL:-$URL}" 2>/dev/null |
		awk '{ printf "%d\n", $1 * 1000 }'
}
measure() { # measure NAME CMD...: REPS runs, median in ms into $D/m.NAME
	local name=$1 i
	shift
	for ((i = 0; i < REPS; i++)); do "$@"; done | grep -E '^[0-9]+$' | median >"$D/m.$name"
}
val() { cat "$D/m.$1" 2>/dev/null || echo -; }

log "one connection's time to first byte"
measure pipelined ttfb shim
measure stepwise ttfb shim env SOCKSIFY_CONF="$D/off.conf"
if [[ -n $OLD_LIB && -f $OLD_LIB ]]; then
	measure old ttfb in_client env LD_PRELOAD="$OLD_LIB" SOCKSIFY_CONF="$D/empty.conf" \
		SOCKSIFY_PROXY="socks5://198.18.1.2:$FAR"
fi
measure curl_socks5 ttfb in_client env ALL_PROXY="socks5://198.18.1.2:$FAR"
command -v proxychains4 >/dev/null && measure proxychains4 ttfb in_client proxychains4 -q -f "$D/pc.conf"
command -v torsocks >/dev/null && measure torsocks ttfb in_client env TORSOCKS_CONF_FILE="$D/torsocks.conf" torsocks
CURL_URL=http://198.18.1.2:$DIRECT/ measure direct ttfb in_client

log "20 connections from one event loop"
loop_ms() { # loop_ms N: python asyncio, N parallel echo connections
	shim "$NETNS_PY" "$ASYNC_DIR/asyncio_conns.py" "$NS_TARGET_IP" 7 "$1" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p'
}
curlz_ms() { # curlz_ms N [MODE]: curl -Z fetching N URLs at once, wall ms. MODE: shim
	# (default), imm (shim, --parallel-immediate), own (curl's own SOCKS5), direct (no
	# proxy, a server as far away), old (BENCH_OLD_LIB)
	local n=$1 mode=${2:-shim} base=$URL i t0 t1
	local -a urls=() pre=(env LD_PRELOAD="$LIB" SOCKSIFY_CONF="$D/empty.conf"
		SOCKSIFY_PROXY="socks5://198.18.1.2:$FAR") extra=()
	case $mode in
	imm) extra=(--parallel-immediate) ;;
	own) pre=(env ALL_PROXY="socks5h://198.18.1.2:$FAR") ;;
	direct) pre=(env) base=http://198.18.1.2:$DIRECT/ ;;
	old) pre[1]=LD_PRELOAD=$OLD_LIB ;;
	esac
	for ((i = 0; i < n; i++)); do urls+=("$base?$i" -o /dev/null); done
	t0=$(netns_now_ms)
	in_client "${pre[@]}" curl -s --no-progress-meter -Z --parallel-max 50 "${extra[@]}" \
		--max-time 30 "${urls[@]}" || return
	t1=$(netns_now_ms)
	echo $((t1 - t0))
}
measure loop1 loop_ms 1
measure loop20 loop_ms 20
measure curlz1 curlz_ms 1
measure curlz20 curlz_ms 20
# curl -Z by default waits for its first connection to a host before opening the
# others (it may multiplex over it): the same run direct, with curl's own SOCKS5 and
# with --parallel-immediate says what is curl's and what is ours.
measure curlz_imm1 curlz_ms 1 imm
measure curlz_imm20 curlz_ms 20 imm
measure curlz_own1 curlz_ms 1 own
measure curlz_own20 curlz_ms 20 own
measure curlz_dir1 curlz_ms 1 direct
measure curlz_dir20 curlz_ms 20 direct
if [[ -n $OLD_LIB && -f $OLD_LIB ]]; then
	measure old_curlz1 curlz_ms 1 old
	measure old_curlz20 curlz_ms 20 old
fi

log "a page of 30 resources on 6 origins"
for p in 8001 8002 8003 8004 8005; do
	netns_bg "$NS_TARGET" "$D/httpd-$p.log" "$NETNS_PY" "$NETNS_LIB_DIR/httpd.py" "$p" "$D/www"
	wait_for_line "$D/httpd-$p.log" '^httpd ready' 10 >/dev/null
done
"$NETNS_PY" "$ASYNC_DIR/page.py" "$D/www" target.test 8001 8002 8003 8004 8005
# page_mark, then page_ms: the load time reported since the mark (nothing if none).
page_mark() { PAGE_MARK=$(wc -l <"$D/httpd.log"); }
page_ms() { tail -n +$((PAGE_MARK + 1)) "$D/httpd.log" | grep -o 'GET /report?ms=[0-9]*' | tail -n 1 | sed 's/.*ms=//'; }
ff_prof() { # ff_prof DIR [socks]: a quiet profile, with Firefox's own SOCKS5 if asked
	rm -rf "$1" && mkdir -p "$1"
	{
		echo 'user_pref("browser.shell.checkDefaultBrowser", false);'
		echo 'user_pref("datareporting.policy.dataSubmissionEnabled", false);'
		echo 'user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);'
		echo 'user_pref("app.update.auto", false);'
		echo 'user_pref("browser.startup.homepage_override.mstone", "ignore");'
		if [[ ${2:-} == socks ]]; then
			echo 'user_pref("network.proxy.type", 1);'
			echo 'user_pref("network.proxy.socks", "198.18.1.2");'
			echo "user_pref(\"network.proxy.socks_port\", $FAR);"
			echo 'user_pref("network.proxy.socks_version", 5);'
			echo 'user_pref("network.proxy.socks_remote_dns", true);'
		fi
	} >"$1/user.js"
}
firefox_ms() { # firefox_ms MODE: shim | own | proxychains4
	local prof=$D/ff-$1 pre=()
	ff_prof "$prof" "$([[ $1 == own ]] && echo socks)"
	case $1 in
	shim) pre=(env LD_PRELOAD="$LIB" SOCKSIFY_CONF="$D/empty.conf" SOCKSIFY_PROXY="socks5://198.18.1.2:$FAR") ;;
	own) pre=(env) ;;
	proxychains4) pre=(proxychains4 -q -f "$D/pc.conf") ;;
	esac
	page_mark
	in_client "${pre[@]}" HOME="$D" MOZ_HEADLESS=1 timeout 120 firefox-esr --headless --no-remote \
		--profile "$prof" --window-size 800,600 --screenshot "$D/ff.png" \
		http://target.test/page30.html >/dev/null 2>&1
	page_ms
}
chromium_ms() { # chromium_ms MODE: shim | own
	local pre=(env) args=()
	[[ $1 == shim ]] && pre=(env LD_PRELOAD="$LIB" SOCKSIFY_CONF="$D/empty.conf" SOCKSIFY_PROXY="socks5://198.18.1.2:$FAR")
	[[ $1 == own ]] && args=(--proxy-server="socks5://198.18.1.2:$FAR")
	rm -rf "$D/chromium"
	page_mark
	in_client "${pre[@]}" HOME="$D" timeout 120 chromium --headless --no-sandbox --disable-gpu \
		--no-first-run --disable-background-networking --disable-sync --disable-component-update \
		--disable-default-apps --disable-breakpad --disable-features=AsyncDns \
		--user-data-dir="$D/chromium" "${args[@]}" --dump-dom http://target.test/page30.html \
		>/dev/null 2>&1
	page_ms
}
page_measure() { # page_measure NAME CMD...
	local name=$1 i
	shift
	for ((i = 0; i < PAGE_REPS; i++)); do "$@"; done | grep -E '^[0-9]+$' | median >"$D/m.$name"
}
if command -v firefox-esr >/dev/null; then
	page_measure ff_shim firefox_ms shim
	page_measure ff_own firefox_ms own
	command -v proxychains4 >/dev/null && page_measure ff_pc firefox_ms proxychains4
fi
if command -v chromium >/dev/null; then
	page_measure cr_shim chromium_ms shim
	page_measure cr_own chromium_ms own
fi

echo "### Asynchronous connect and one-round-trip handshake (issue 11)"
echo
echo "Through a proxy 50 ms away (a delaying relay: 100 ms round trip; the TCP connect to"
echo "the relay itself is not delayed). Medians of $REPS runs (pages: $PAGE_REPS)."
echo
echo "| one connection, time to first byte (curl GET) | ms | vs direct |"
echo "|---|---:|---:|"
d=$(val direct)
for n in "direct:a direct connection to a server as far away as the proxy" \
	"pipelined:socksify (pipelined, default)" "stepwise:socksify, pipeline = off" \
	"old:socksify before issue 11 (BENCH_OLD_LIB)" "curl_socks5:curl's own SOCKS5 client" \
	"proxychains4:proxychains4" "torsocks:torsocks"; do
	k=${n%%:*}
	[[ -f $D/m.$k ]] || continue
	echo "| ${n#*:} | $(val "$k") | $(ratio "$(val "$k")" "$d")x |"
done
echo
echo "| one event loop (socksify unless said) | 1 connection ms | 20 in parallel ms | ratio (target <= 1.5) |"
echo "|---|---:|---:|---:|"
echo "| python asyncio open_connection + echo | $(val loop1) | $(val loop20) | $(ratio "$(val loop20)" "$(val loop1)") |"
echo "| curl -Z (HTTP GET) | $(val curlz1) | $(val curlz20) | $(ratio "$(val curlz20)" "$(val curlz1)") |"
echo "| curl -Z --parallel-immediate | $(val curlz_imm1) | $(val curlz_imm20) | $(ratio "$(val curlz_imm20)" "$(val curlz_imm1)") |"
echo "| curl -Z, curl's own SOCKS5 (no library) | $(val curlz_own1) | $(val curlz_own20) | $(ratio "$(val curlz_own20)" "$(val curlz_own1)") |"
echo "| curl -Z, direct to a server as far away (no proxy) | $(val curlz_dir1) | $(val curlz_dir20) | $(ratio "$(val curlz_dir20)" "$(val curlz_dir1)") |"
[[ -f $D/m.old_curlz20 ]] &&
	echo "| curl -Z, socksify before issue 11 | $(val old_curlz1) | $(val old_curlz20) | $(ratio "$(val old_curlz20)" "$(val old_curlz1)") |"
echo
echo "| page of 30 resources on 6 origins, load event | ms | vs the browser's own SOCKS5 |"
echo "|---|---:|---:|"
[[ -f $D/m.ff_own ]] && {
	echo "| Firefox, own SOCKS5 (network.proxy.socks, remote DNS) | $(val ff_own) | 1.00x |"
	echo "| Firefox under socksify | $(val ff_shim) | $(ratio "$(val ff_shim)" "$(val ff_own)")x |"
	[[ -f $D/m.ff_pc ]] && echo "| Firefox under proxychains4 | $(val ff_pc) | $(ratio "$(val ff_pc)" "$(val ff_own)")x |"
}
[[ -f $D/m.cr_own ]] && {
	echo "| Chromium, own SOCKS5 (--proxy-server) | $(val cr_own) | 1.00x |"
	echo "| Chromium under socksify | $(val cr_shim) | $(ratio "$(val cr_shim)" "$(val cr_own)")x |"
}
echo
