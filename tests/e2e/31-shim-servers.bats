#!/usr/bin/env bats
# The shim against every SOCKS server we know, not only ours: socksifyd (socks5, socks4,
# socks4a, username/password), microsocks (with and without auth), Dante's sockd and
# OpenSSH's `ssh -D`, each in the proxy namespace, the program in the client namespace.

load '../lib/common'
load 'shim/shim'

setup_file() {
	shim_setup_file
	printf 'alice:right-pw\n' >"$NETNS_DIR/users"
	shim_socksifyd s5
	S5_OPEN=$SHIM_S5_PORT
	shim_socksifyd s5auth -u "$NETNS_DIR/users"
	S5_AUTH=$SHIM_S5_PORT
	export S5_OPEN S5_AUTH
	shim_hosts proxy.test 198.18.1.2
}

teardown_file() {
	netns_down
	shim_sshd_cleanup
}

# fetch PROXY_URL [VAR=VALUE...]: the target's page through that proxy.
fetch() {
	local url=$1
	shift
	shim_run SOCKSIFY_PROXY="$url" "$@" curl -sS --max-time 10 "http://$NS_TARGET_IP/"
}

@test "socksifyd: socks5" {
	run fetch "socks5://198.18.1.2:$S5_OPEN"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "socksifyd: socks5h scheme, proxy given by name" {
	local before
	before=$(canary_count)
	run fetch "socks5h://proxy.test:$S5_OPEN"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	[ "$(canary_count)" = "$before" ]
}

@test "socksifyd: proxy given by a name with IPv4 and IPv6 addresses, from IPv4 and IPv6 sockets" {
	# One port on both addresses, so either address of the name is the same proxy.
	start_socksifyd "$NS_PROXY" "$NETNS_DIR/dual.log" --open -l 198.18.1.2:1180 \
		-l '[fd00:1::2]:1180'
	shim_hosts proxy46.test 198.18.1.2
	shim_hosts proxy46.test fd00:1::2
	shim_hosts proxy6.test fd00:1::2
	run fetch "socks5://proxy46.test:1180"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run shim_run SOCKSIFY_PROXY="socks5://proxy46.test:1180" curl -sS --max-time 10 \
		"http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run shim_run SOCKSIFY_PROXY="socks5://proxy6.test:1180" curl -sS --max-time 10 \
		"http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "socksifyd: socks4 (with dns=local: socks4 cannot carry names)" {
	run fetch "socks4://198.18.1.2:$S5_OPEN" SOCKSIFY_DNS=local
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "socksifyd: socks4a" {
	run fetch "socks4a://198.18.1.2:$S5_OPEN"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "socksifyd: IPv6 proxy, IPv6 destination" {
	run shim_run SOCKSIFY_PROXY="socks5://[fd00:1::2]:$(socksifyd_port '[fd00:1::2]' \
		"$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$NETNS_DIR/s5.log" | tr '\n' ' ')")" \
		curl -sS --max-time 10 "http://[$NS_TARGET_IP6]/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "socksifyd: username/password right works" {
	run fetch "socks5://alice:right-pw@198.18.1.2:$S5_AUTH"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "socksifyd: username/password wrong fails fast with EACCES and one warn line" {
	run shim_connect SOCKSIFY_PROXY="socks5://alice:wrong@198.18.1.2:$S5_AUTH" "$NS_TARGET_IP" 80
	assert_success
	assert_line --partial "result=EACCES"
	local ms
	ms=$(sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p' <<<"$output")
	[ "$ms" -lt 2000 ]
	assert_line --regexp '^socksify\[[0-9]+\]: warn: .*hop 1 \(socks5 198\.18\.1\.2:[0-9]+\).*authentication failed'
	[ "$(grep -c '^socksify\[' <<<"$output")" -eq 1 ]
}

@test "socksifyd: no credentials where they are required fails with EACCES" {
	run shim_connect SOCKSIFY_PROXY="socks5://198.18.1.2:$S5_AUTH" "$NS_TARGET_IP" 80
	assert_line --partial "result=EACCES"
}

@test "microsocks: socks5" {
	shim_microsocks 1090
	run fetch "socks5://198.18.1.2:1090"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "microsocks: username/password right works, wrong fails with EACCES" {
	shim_microsocks 1091 -u bob -P bobs-pw
	run fetch "socks5://bob:bobs-pw@198.18.1.2:1091"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run shim_connect SOCKSIFY_PROXY="socks5://bob:nope@198.18.1.2:1091" "$NS_TARGET_IP" 80
	assert_line --partial "result=EACCES"
}

@test "Dante sockd" {
	require_cmd danted
	local conf=$NETNS_DIR/danted.conf
	cat >"$conf" <<-CONF
		logoutput: stderr
		internal: 198.18.1.2 port = 1092
		external: 198.18.2.1
		socksmethod: none
		clientmethod: none
		user.privileged: root
		user.unprivileged: nobody
		client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
		socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
	CONF
	netns_bg "$NS_PROXY" "$NETNS_DIR/danted.log" danted -f "$conf" -p "$NETNS_DIR/danted.pid"
	wait_for_port "$NS_PROXY" 198.18.1.2 1092 10
	run fetch "socks5://198.18.1.2:1092"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run fetch "socks4://198.18.1.2:1092" SOCKSIFY_DNS=local
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "OpenSSH ssh -D (listening on the proxy's client-side address)" {
	require_cmd ssh sshd ssh-keygen
	local d=$NETNS_DIR/sshd
	shim_sshd "$d" "$NS_PROXY" 127.0.0.1 "AllowTcpForwarding yes"
	# sshd and the ssh client both run in the proxy namespace; the dynamic forward
	# must listen on 198.18.1.2 (GatewayPorts) since the client namespace reaches only it.
	netns_bg "$NS_PROXY" "$d/ssh-D.log" ssh -F /dev/null -N -i "$d/client_key" \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
		-o GatewayPorts=yes -o ExitOnForwardFailure=yes -D 198.18.1.2:1093 root@127.0.0.1
	wait_for_port "$NS_PROXY" 198.18.1.2 1093 10
	run fetch "socks5://198.18.1.2:1093"
	assert_success
	assert_output --partial "$NETNS_MARKER"
}
