# Network-namespace topology for end-to-end suites: a client that can reach only a proxy,
# and a target reachable only from the proxy, serving HTTP, TCP/UDP echo and DNS.
# netns_up in setup_file, netns_down in teardown_file; everything it starts is recorded.
#
#   client 198.18.1.1 fd00:1::1  <->  proxy 198.18.1.2 fd00:1::2
#   proxy  198.18.2.1 fd00:2::1  <->  target 198.18.2.2 fd00:2::2
#   client DNS: canary on 198.18.1.53 (counts queries); proxy DNS: dnsmasq on the target.

NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# pyenv shims add ~100 ms and may pick another interpreter: prefer Debian's python3.
if [ -x /usr/bin/python3 ]; then NETNS_PY=/usr/bin/python3; else NETNS_PY=python3; fi

NS_CLIENT_IP=198.18.1.1
NS_CLIENT_IP6=fd00:1::1
NS_PROXY_IP=198.18.1.2
NS_PROXY_IP6=fd00:1::2
NS_PROXY_OUT_IP=198.18.2.1
NS_PROXY_OUT_IP6=fd00:2::1
NS_TARGET_IP=198.18.2.2
NS_TARGET_IP6=fd00:2::2
NS_CANARY_IP=198.18.1.53
export NS_CLIENT_IP NS_CLIENT_IP6 NS_PROXY_IP NS_PROXY_IP6 NS_PROXY_OUT_IP NS_PROXY_OUT_IP6 \
	NS_TARGET_IP NS_TARGET_IP6 NS_CANARY_IP NETNS_LIB_DIR NETNS_PY

in_client() { ip netns exec "$NS_CLIENT" "$@"; }
in_proxy() { ip netns exec "$NS_PROXY" "$@"; }
in_target() { ip netns exec "$NS_TARGET" "$@"; }

# netns_now_ms: wall-clock milliseconds, for deadlines that hold however slow each
# poll is on a loaded machine.
netns_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# wait_for_line FILE REGEX SECONDS: bounded poll (0.05 s steps); on timeout print the
# file's tail so the failing test shows why.
wait_for_line() {
	local file=$1 re=$2 secs=${3:-10} end
	end=$(($(netns_now_ms) + secs * 1000))
	while :; do
		if [ -f "$file" ] && grep -Eq -- "$re" "$file"; then
			return 0
		fi
		[ "$(netns_now_ms)" -lt "$end" ] || break
		sleep 0.05
	done
	echo "wait_for_line: no line matching /$re/ in $file after ${secs}s; its tail:" >&2
	tail -n 20 "$file" >&2 2>/dev/null || true
	return 1
}

# wait_for_port NS ADDR PORT SECONDS: until a TCP connect to ADDR:PORT succeeds from NS
# ("-" = this namespace).
wait_for_port() {
	local ns=$1 addr=$2 port=$3 secs=${4:-10} end
	local -a pre=()
	[ "$ns" != "-" ] && pre=(ip netns exec "$ns")
	end=$(($(netns_now_ms) + secs * 1000))
	while [ "$(netns_now_ms)" -lt "$end" ]; do
		if "${pre[@]}" "$NETNS_PY" -c '
import socket, sys
a = sys.argv[1].strip("[]")
fam = socket.AF_INET6 if ":" in a else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(0.5)
sys.exit(s.connect_ex((a, int(sys.argv[2]))) != 0)' "$addr" "$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "wait_for_port: nothing listening on $addr:$port in ${ns} after ${secs}s" >&2
	return 1
}

# netns_bg NS LOGFILE CMD...: start CMD in namespace NS ("-" = here) in the background;
# its PID is recorded for netns_down and left in NETNS_BG_PID. ip netns exec execs the
# command, so $! is the command's own PID. fd 3 is closed so bats does not wait on it.
netns_bg() {
	local ns=$1 log=$2
	shift 2
	if [ "$ns" = "-" ]; then
		"$@" >"$log" 2>&1 </dev/null 3>&- &
	else
		ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null 3>&- &
	fi
	NETNS_BG_PID=$!
	echo "$NETNS_BG_PID" >>"$(netns_pidfile)"
}

# Where netns_bg records PIDs: the topology's state dir, or (for host-only suites that
# never call netns_up) a per-file temp list that common.bash's stop_recorded kills.
netns_pidfile() {
	if [ -n "${NETNS_DIR:-}" ] && [ -d "$NETNS_DIR" ]; then
		echo "$NETNS_DIR/pids"
	else
		echo "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/sfy-host-pids"
	fi
}

# netns_kill_pids FILE: TERM every PID listed, give them a second, then KILL survivors.
netns_kill_pids() {
	local file=$1 pid i alive
	[ -f "$file" ] || return 0
	local -a pids=()
	while read -r pid; do
		[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
	done <"$file"
	[ ${#pids[@]} -eq 0 ] && { : >"$file"; return 0; }
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.05
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	: >"$file"
	return 0
}

# netns_haproxy NS LOG FRONT SERVER_OPTS BACKEND...: HAProxy in NS, TCP mode, listening on
# FRONT (ADDR:PORT) and spreading connections round robin over the BACKENDs (ADDR:PORT),
# each `server` line given SERVER_OPTS (e.g. send-proxy-v2). Waits until FRONT accepts.
# Leaves the PID in NETNS_BG_PID (recorded for netns_down).
netns_haproxy() {
	local ns=$1 log=$2 front=$3 opts=$4 cfg i=0 b
	shift 4
	cfg=${log%.log}.cfg
	{
		printf 'global\n\tmaxconn 4096\n'
		printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 120s\n'
		printf '\ttimeout server 120s\n'
		printf 'frontend socks\n\tbind %s\n\tdefault_backend pool\n' "$front"
		printf 'backend pool\n\tbalance roundrobin\n'
		for b in "$@"; do
			i=$((i + 1))
			printf '\tserver s%d %s %s\n' "$i" "$b" "$opts"
		done
	} >"$cfg"
	netns_bg "$ns" "$log" haproxy -db -f "$cfg"
	wait_for_port "$ns" "${front%:*}" "${front##*:}" 10
}

canary_count() {
	if [ -f "$NETNS_DIR/canary.log" ]; then
		wc -l <"$NETNS_DIR/canary.log" | tr -d ' '
	else
		echo 0
	fi
}

# make_file NAME SIZE_MB: a random file in the target's docroot, and NAME.sha256 holding
# its hash alone (one line), so a test compares `sha256sum` of what arrived.
make_file() {
	local name=$1 mb=$2
	head -c $((mb * 1048576)) /dev/urandom >"$NETNS_DIR/www/$name" || return 1
	sha256sum "$NETNS_DIR/www/$name" | cut -d' ' -f1 >"$NETNS_DIR/www/$name.sha256"
}

netns_resolv() {
	local ns=$1 server=$2
	# Retried once: a parallel suite's netns_down may rmdir an empty /etc/netns between
	# the two steps of mkdir -p.
	mkdir -p "/etc/netns/$ns" 2>/dev/null || mkdir -p "/etc/netns/$ns" || return 1
	printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$server" >"/etc/netns/$ns/resolv.conf"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"/etc/netns/$ns/hosts"
}

netns_link() {
	# netns_link NS_A IF_A NS_B IF_B: a veth pair created directly inside the two
	# namespaces, so no end ever exists in the root namespace.
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
}

netns_addr() {
	local ns=$1 ifc=$2 a4=$3 a6=$4
	ip -n "$ns" addr add "$a4" dev "$ifc" &&
		ip -n "$ns" addr add "$a6" dev "$ifc" nodad &&
		ip -n "$ns" link set "$ifc" up
}

netns_setup_links() {
	local ns
	for ns in "$NS_CLIENT" "$NS_PROXY" "$NS_TARGET"; do
		ip netns add "$ns" || return 1
		echo "$ns" >>"$NETNS_DIR/namespaces"
		ip -n "$ns" link set lo up || return 1
		# No duplicate address detection at all: nodad covers our addresses, this also
		# the link-local ones neighbour discovery uses, which stay "tentative" for a
		# second otherwise and make the first IPv6 packets vanish.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 >/dev/null || return 1
	done
	netns_link "$NS_CLIENT" veth0 "$NS_PROXY" vethc || return 1
	netns_link "$NS_PROXY" vetht "$NS_TARGET" veth0 || return 1
	netns_addr "$NS_CLIENT" veth0 "$NS_CLIENT_IP/24" "$NS_CLIENT_IP6/64" || return 1
	ip -n "$NS_CLIENT" addr add "$NS_CANARY_IP/32" dev veth0 || return 1
	netns_addr "$NS_PROXY" vethc "$NS_PROXY_IP/24" "$NS_PROXY_IP6/64" || return 1
	netns_addr "$NS_PROXY" vetht "$NS_PROXY_OUT_IP/24" "$NS_PROXY_OUT_IP6/64" || return 1
	netns_addr "$NS_TARGET" veth0 "$NS_TARGET_IP/24" "$NS_TARGET_IP6/64" || return 1
	# The proxy must not route between its links, or the client could reach the target
	# by adding a route; new namespaces default to 0, we say it anyway.
	ip netns exec "$NS_PROXY" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 \
		>/dev/null || return 1
	netns_resolv "$NS_CLIENT" "$NS_CANARY_IP" || return 1
	echo "$NS_CLIENT" >>"$NETNS_DIR/etcdirs"
	netns_resolv "$NS_PROXY" "$NS_TARGET_IP" || return 1
	echo "$NS_PROXY" >>"$NETNS_DIR/etcdirs"
}

# netns_wait_ipv6: until every veth has its link-local address (added only once the
# kernel sees the link up; before that, neighbour discovery cannot run and the first
# IPv6 packets vanish) and no IPv6 address is tentative. 5 s at most.
netns_wait_ipv6() {
	local i busy ns ifc l
	local -a links=("$NS_CLIENT veth0" "$NS_PROXY vethc" "$NS_PROXY vetht" "$NS_TARGET veth0")
	for ((i = 0; i < 100; i++)); do
		busy=0
		for l in "${links[@]}"; do
			read -r ns ifc <<<"$l"
			if [ -z "$(ip -n "$ns" -6 addr show dev "$ifc" scope link 2>/dev/null)" ] ||
				[ -n "$(ip -n "$ns" -6 addr show dev "$ifc" tentative 2>/dev/null)" ]; then
				busy=1
			fi
		done
		[ $busy = 0 ] && return 0
		sleep 0.05
	done
	echo "netns_up: IPv6 link-local addresses not ready after 5 s" >&2
	return 1
}

netns_start_services() {
	local d=$NETNS_DIR
	mkdir -p "$d/www" || return 1
	printf '<html><body>%s</body></html>\n' "$NETNS_MARKER" >"$d/www/index.html"
	netns_bg "$NS_TARGET" "$d/httpd.log" "$NETNS_PY" "$NETNS_LIB_DIR/httpd.py" 80 "$d/www"
	netns_bg "$NS_TARGET" "$d/echo.log" "$NETNS_PY" "$NETNS_LIB_DIR/echo.py" 7
	# --host-record answers both A and AAAA (and PTR) for the name; --address would too,
	# but also every subdomain. Bound to the target's addresses only.
	netns_bg "$NS_TARGET" "$d/dnsmasq.out" dnsmasq --no-daemon --no-resolv --no-hosts \
		--conf-file=/dev/null --user=root --group=root --bind-interfaces \
		--listen-address="$NS_TARGET_IP" --listen-address="$NS_TARGET_IP6" \
		--host-record=target.test,"$NS_TARGET_IP","$NS_TARGET_IP6" \
		--log-queries --log-facility="$d/dnsmasq.log" --pid-file=
	netns_bg "$NS_CLIENT" "$d/canary.out" "$NETNS_PY" "$NETNS_LIB_DIR/dns_canary.py" \
		"$NS_CANARY_IP" 53 "$d/canary.log"
	netns_wait_ipv6 &&
		wait_for_line "$d/httpd.log" '^httpd ready' 10 &&
		wait_for_line "$d/echo.log" '^echo ready' 10 &&
		wait_for_line "$d/canary.out" '^canary ready' 10 &&
		wait_for_port "$NS_TARGET" "$NS_TARGET_IP" 53 10
}

# netns_up: build the topology and start the target's services. Exports NS_CLIENT,
# NS_PROXY, NS_TARGET, NETNS_DIR and NETNS_MARKER (a string in index.html).
# Not root: bats 1.8 cannot skip from setup_file (it reports a failure), so netns_up
# only records why in SFY_SKIP and returns 0; setup_file then stops with
# `if sfy_skipping; then return 0; fi`, and each test skips in setup() (netns_require).
netns_up() {
	if [ "$(id -u)" != 0 ]; then
		export SFY_SKIP=${SFY_SKIP:-"needs root (network namespaces)"}
		return 0
	fi
	local tag="$$-$RANDOM"
	NETNS_DIR=$(mktemp -d /tmp/sfy-netns.XXXXXX) || return 1
	NS_CLIENT=sfy-c-$tag
	NS_PROXY=sfy-p-$tag
	NS_TARGET=sfy-t-$tag
	NETNS_MARKER="socksify-target-$tag"
	export NETNS_DIR NS_CLIENT NS_PROXY NS_TARGET NETNS_MARKER
	# tests/run.sh passes a registry so it can tear down what a killed suite left.
	[ -n "${SFY_NETNS_REGISTRY:-}" ] && echo "$NETNS_DIR" >>"$SFY_NETNS_REGISTRY"
	: >"$NETNS_DIR/pids"
	: >"$NETNS_DIR/canary.log"
	if ! netns_setup_links || ! netns_start_services; then
		echo "netns_up failed; state in $NETNS_DIR" >&2
		netns_down
		return 1
	fi
}

# sfy_skipping: true when setup_file found a reason to skip the whole file (SFY_SKIP).
sfy_skipping() {
	[ -n "${SFY_SKIP:-}" ]
}

# netns_require: skip the current test when setup_file recorded a reason (no root, a
# missing tool). common.bash's default setup() calls it; a suite with its own setup()
# calls it first.
netns_require() {
	if [ -n "${SFY_SKIP:-}" ]; then
		skip "$SFY_SKIP"
	fi
}

# netns_down: kill what was recorded (by PID), delete namespaces and /etc/netns dirs.
# Idempotent and safe after a partial netns_up; written for bats' errexit (every
# command that may fail says `|| true`). Removes NETNS_DIR (logs, docroot)
# unless NETNS_KEEP=1, for looking at the logs after a failing run.
netns_down() {
	[ -n "${NETNS_DIR:-}" ] && [ -d "$NETNS_DIR" ] || return 0
	local ns
	netns_kill_pids "$NETNS_DIR/pids"
	if [ -f "$NETNS_DIR/namespaces" ]; then
		while read -r ns; do
			[ -n "$ns" ] || continue
			# Whatever still runs inside (a daemon that forked away from its recorded
			# PID) would outlive the namespace's name: every process in our own,
			# uniquely named namespace is ours, so end them too, by PID.
			ip netns pids "$ns" >"$NETNS_DIR/ns-pids" 2>/dev/null || true
			netns_kill_pids "$NETNS_DIR/ns-pids"
			ip netns del "$ns" 2>/dev/null || true
		done <"$NETNS_DIR/namespaces"
		: >"$NETNS_DIR/namespaces"
	fi
	if [ -f "$NETNS_DIR/etcdirs" ]; then
		while read -r ns; do
			case "$ns" in sfy-?-*) rm -rf "/etc/netns/$ns" ;; esac
		done <"$NETNS_DIR/etcdirs"
		: >"$NETNS_DIR/etcdirs"
	fi
	# /etc/netns itself did not exist on a clean machine: remove it only when empty.
	rmdir /etc/netns 2>/dev/null || true
	if [ "${NETNS_KEEP:-0}" != 1 ]; then
		rm -rf "$NETNS_DIR"
	fi
	return 0
}
