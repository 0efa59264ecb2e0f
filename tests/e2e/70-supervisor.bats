#!/usr/bin/env bats
# Programs LD_PRELOAD cannot reach, through the launcher's seccomp supervisor: Go
# (static, and dynamically linked with Go's own resolver and with cgo's), busybox
# (static glibc), a static C program that connects with the raw system call, an
# io_uring connect. All in the namespace topology (the client reaches only the proxy;
# the DNS canary counts queries that escape), through socksifyd, by name where the
# program resolves: the canary stays at 0 and the target sees the proxy. Then the
# same under --jail, where whatever goes direct fails with ENETUNREACH.
# The programs are built here: Go with the standard library only (GO111MODULE=off,
# GOPROXY=off, no network), its cache in the build directory.

load '../lib/common'
load 'shim/shim'
bats_require_minimum_version 1.5.0

SV_SRC=$(cd "$(dirname "$BATS_TEST_FILENAME")/supervise" && pwd)

sv_build() {
	local out=$BUILD/supervise
	mkdir -p "$out" "$BUILD/go-cache" || return 1
	local -a goenv=(env GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$BUILD/go-cache"
		GOPATH="$BUILD/go-path")
	"${goenv[@]}" CGO_ENABLED=0 go build -o "$out/gohttp-static" "$SV_SRC/gohttp.go" &&
		"${goenv[@]}" CGO_ENABLED=1 go build -o "$out/gohttp-dyn" "$SV_SRC/gohttp.go" &&
		"${goenv[@]}" CGO_ENABLED=0 go build -o "$out/goudp" "$SV_SRC/goudp.go" &&
		cc -static -O1 -o "$out/raw_connect" "$SV_SRC/raw_connect.c" &&
		cc -static -O1 -o "$out/uring_connect" "$SV_SRC/uring_connect.c" -luring &&
		cc -O1 -o "$out/raw_connect-dyn" "$SV_SRC/raw_connect.c"
}

setup_file() {
	require_cmd go busybox cc
	require_pkg_file /usr/include/liburing.h liburing-dev
	require_file "$SOCKSIFY" || return 1
	if sfy_skipping; then return 0; fi
	sv_build || return 1
	shim_setup_file || return 1
	if sfy_skipping; then return 0; fi
	shim_socksifyd s5 || return 1
	SV=$BUILD/supervise
	export SV
}

teardown_file() {
	netns_down
}

# sv_run [--jail ...] CMD...: socksify in the client namespace, hermetic settings.
sv_run() {
	in_client env SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" -p "$SHIM_PROXY" "$@"
}

# The target's web server saw the request from the proxy's outer address only.
assert_target_saw_proxy() {
	local from
	from=$(tail -n 1 "$NETNS_DIR/httpd.log" | cut -d' ' -f1)
	case "$from" in
	"$NS_PROXY_OUT_IP" | "$NS_PROXY_OUT_IP6" | "::ffff:$NS_PROXY_OUT_IP") ;;
	*) fail "the target saw the request from '$from', not the proxy" ;;
	esac
}

assert_canary_zero() {
	assert_equal "$(canary_count)" 0
}

@test "negative twin: the static Go client cannot reach the target alone" {
	run in_client timeout 10 "$SV/gohttp-static" "http://$NS_TARGET_IP/"
	assert_failure
}

@test "--preload-only: the static Go client is warned about and still cannot get there" {
	run sv_run --preload-only timeout 10 "$SV/gohttp-static" "http://$NS_TARGET_IP/"
	assert_failure
}

@test "static Go HTTP client, by name: through the proxy, no DNS query escapes" {
	run sv_run "$SV/gohttp-static" http://target.test/
	assert_success
	assert_output "<html><body>$NETNS_MARKER</body></html>"
	assert_target_saw_proxy
	assert_canary_zero
}

@test "static Go HTTP client, by IPv4 and IPv6 address" {
	run sv_run "$SV/gohttp-static" "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run sv_run "$SV/gohttp-static" "http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_target_saw_proxy
}

@test "dynamically linked Go client, GODEBUG=netdns=go (Go's own resolver)" {
	run in_client env GODEBUG=netdns=go+1 SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" \
		-p "$SHIM_PROXY" "$SV/gohttp-dyn" http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_output --partial "forcing use of Go's resolver"
	assert_target_saw_proxy
	assert_canary_zero
}

@test "dynamically linked Go client, GODEBUG=netdns=cgo (getaddrinfo, under the library)" {
	run in_client env GODEBUG=netdns=cgo+1 SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" \
		-p "$SHIM_PROXY" "$SV/gohttp-dyn" http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_output --partial "using cgo DNS resolver"
	assert_target_saw_proxy
	assert_canary_zero
}

@test "Go UDP: its own DNS lookup, then a datagram exchange through UDP ASSOCIATE" {
	run sv_run "$SV/goudp" target.test 7
	assert_success
	assert_output --regexp "lookup: (240\.|fd73:)"
	assert_output --partial "reply: ping-udp"
	assert_canary_zero
	# By address as well; without socksify it cannot get there (negative twin).
	run sv_run "$SV/goudp" "$NS_TARGET_IP" 7
	assert_success
	assert_output --partial "reply: ping-udp"
	run in_client timeout 10 "$SV/goudp" "$NS_TARGET_IP" 7
	assert_failure
}

@test "Go UDP with udp=block: EPERM, nothing sent" {
	run sv_run -u block "$SV/goudp" target.test 7
	assert_failure 3
	assert_output --partial "operation not permitted"
	assert_canary_zero
}

@test "busybox wget, by name and by address" {
	run sv_run busybox wget -q -O - http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_target_saw_proxy
	run sv_run busybox wget -q -O - "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_canary_zero
}

@test "busybox nslookup: A and AAAA fake, TXT empty, PTR of a fake address its name" {
	run sv_run busybox nslookup target.test
	assert_success
	assert_output --partial "Address: 240."
	assert_output --partial "Address: fd73:6f63:6b73::"
	run sv_run busybox nslookup -type=txt target.test
	assert_success
	refute_output --partial "text ="
	# One run, one table: the name it handed out comes back for its address.
	run sv_run busybox sh -c 'busybox nslookup target.test >/dev/null && busybox nslookup 240.0.0.1'
	assert_success
	assert_output --partial "name = target.test"
	assert_canary_zero
}

@test "busybox nc to the target's echo" {
	run bash -c 'echo supervised-nc | timeout 15 ip netns exec "$NS_CLIENT" env \
		SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" -p "$SHIM_PROXY" busybox nc -w 3 \
		"$NS_TARGET_IP" 7'
	assert_success
	assert_output supervised-nc
}

@test "static C program, connect by raw system call" {
	run sv_run "$SV/raw_connect" "$NS_TARGET_IP" 7
	assert_success
	assert_output "echo: ping"
	run sv_run "$SV/raw_connect" "$NS_TARGET_IP6" 7
	assert_success
	assert_output "echo: ping"
}

@test "a dynamically linked Go program is supervised too (--preload-only: it goes direct)" {
	run sv_run --preload-only timeout 10 "$SV/gohttp-dyn" "http://$NS_TARGET_IP/"
	assert_failure
	run sv_run "$SV/gohttp-dyn" "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "io_uring: setup fails with ENOSYS, the fallback connect goes through the proxy" {
	run sv_run "$SV/uring_connect" "$NS_TARGET_IP" 7
	assert_success
	assert_line "io_uring_setup: Function not implemented"
	assert_line "echo: ping"
}

@test "a refused destination: block rule gives EACCES, nothing sent" {
	printf 'block = %s\n' "$NS_TARGET_IP" >"$NETNS_DIR/block.conf"
	run in_client env SOCKSIFY_CONF="$NETNS_DIR/block.conf" "$SOCKSIFY" -p "$SHIM_PROXY" \
		"$SV/raw_connect" "$NS_TARGET_IP" 7
	assert_failure
	assert_output --partial "connect: Permission denied"
}

@test "one Go process, 50 connections at once on many threads" {
	run sv_run "$SV/gohttp-static" http://target.test/ 50
	assert_success
	assert_output "ok=50"
	assert_canary_zero
}

@test "one supervisor, many processes: 40 Go clients at once, then 10 in a row" {
	# A shell is not supervised by default (LD_PRELOAD reaches it), nor then are the
	# programs it starts: --supervise puts the whole tree under the filter.
	run in_client env SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" --supervise -p "$SHIM_PROXY" bash -c '
		for i in $(seq 40); do "$0" http://target.test/ >/dev/null & done; wait' \
		"$SV/gohttp-static"
	assert_success
	run sv_run --supervise bash -c 'ok=0; for i in $(seq 10); do "$0" http://target.test/ | grep -q . && ok=$((ok+1)); done; echo ok=$ok' "$SV/gohttp-static"
	assert_output "ok=10"
	assert_canary_zero
}

# ---- --jail ----

@test "--jail: static Go client by name" {
	run sv_run --jail "$SV/gohttp-static" http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
	assert_target_saw_proxy
	assert_canary_zero
}

@test "--jail: dynamically linked Go client, netdns=go and netdns=cgo" {
	local d
	for d in go cgo; do
		run in_client env GODEBUG=netdns=$d SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" \
			--jail -p "$SHIM_PROXY" "$SV/gohttp-dyn" http://target.test/
		assert_success
		assert_output --partial "$NETNS_MARKER"
	done
	assert_canary_zero
}

@test "--jail: busybox wget by name and nc" {
	run sv_run --jail busybox wget -q -O - http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run bash -c 'echo jailed-nc | timeout 15 ip netns exec "$NS_CLIENT" env \
		SOCKSIFY_CONF="$SHIM_CONF" "$SOCKSIFY" --jail -p "$SHIM_PROXY" busybox nc -w 3 \
		"$NS_TARGET_IP" 7'
	assert_success
	assert_output jailed-nc
	assert_canary_zero
}

@test "--supervise and --jail with a dynamically linked program: library and supervisor together" {
	# The library tunnels curl's connect; its own connect to the proxy passes the
	# supervisor (outside the jail as asked, inside it to the relay).
	run sv_run --supervise curl -sS --max-time 15 http://target.test/
	assert_success
	assert_output "<html><body>$NETNS_MARKER</body></html>"
	run sv_run --jail curl -sS --max-time 15 http://target.test/
	assert_success
	assert_output "<html><body>$NETNS_MARKER</body></html>"
	assert_target_saw_proxy
	assert_canary_zero
}

@test "--jail: raw-syscall and io_uring clients through the proxy" {
	run sv_run --jail "$SV/raw_connect" "$NS_TARGET_IP" 7
	assert_success
	assert_output "echo: ping"
	run sv_run --jail "$SV/uring_connect" "$NS_TARGET_IP" 7
	assert_success
	assert_line "echo: ping"
}

@test "--jail: Go UDP through UDP ASSOCIATE; with udp=direct it cannot get out" {
	run sv_run --jail "$SV/goudp" target.test 7
	assert_success
	assert_output --regexp "lookup: (240\.|fd73:)"
	assert_output --partial "reply: ping-udp"
	run sv_run --jail -u direct "$SV/goudp" "$NS_TARGET_IP" 7
	assert_failure
	assert_output --partial "network is unreachable"
	assert_canary_zero
}

@test "--jail as an unprivileged user (a user namespace too)" {
	# An empty config that user can read (the suite's directory is root's alone; a
	# config must be a regular file, so not /dev/null).
	local empty
	empty=$(mktemp /tmp/sfy-empty-conf.XXXXXX) && chmod 644 "$empty"
	run in_client setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
		SOCKSIFY_CONF="$empty" "$SOCKSIFY" --jail -p "$SHIM_PROXY" "$SV/gohttp-static" \
		http://target.test/
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run in_client setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
		SOCKSIFY_CONF="$empty" "$SOCKSIFY" --jail -x "$NS_TARGET_IP" -p "$SHIM_PROXY" \
		"$SV/raw_connect" "$NS_TARGET_IP" 7
	assert_failure
	assert_output "connect: Network is unreachable"
	# UDP: the flow's local end made by the helper inside that user's jail.
	run in_client setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
		SOCKSIFY_CONF="$empty" "$SOCKSIFY" --jail -p "$SHIM_PROXY" "$SV/goudp" target.test 7
	assert_success
	assert_output --partial "reply: ping-udp"
	# Outside the jail, as that user: the filter needs no_new_privs, and works.
	run in_client setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
		SOCKSIFY_CONF="$empty" "$SOCKSIFY" -p "$SHIM_PROXY" "$SV/raw_connect" \
		"$NS_TARGET_IP" 7
	rm -f "$empty"
	assert_success
	assert_output "echo: ping"
	assert_canary_zero
}

@test "--jail: a raw-syscall connect that goes direct fails with ENETUNREACH" {
	# A direct rule: outside the jail the supervisor connects as asked.
	run sv_run --jail -x "$NS_TARGET_IP" "$SV/raw_connect" "$NS_TARGET_IP" 7
	assert_failure
	assert_output "connect: Network is unreachable"
	# The jail's only interface is loopback.
	run sv_run --jail busybox ip -o link
	assert_success
	refute_output --partial veth
	# The proxy's host on another port than the proxy's: direct, so unreachable (the
	# proxy's own port is relayed, see the curl test above).
	run sv_run --jail --supervise -x "$NS_PROXY_IP" "$SV/raw_connect-dyn" "$NS_PROXY_IP" 22
	assert_failure
	assert_output "connect: Network is unreachable"
}
