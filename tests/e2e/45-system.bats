#!/usr/bin/env bats
# socksify machine-wide: the library in /etc/ld.so.preload and /etc/socksify.conf, set up
# inside a private mount namespace (tests/e2e/system/inner.sh) of the namespace
# topology, with no SOCKSIFY_* and no LD_PRELOAD in any program's environment.

load '../lib/common'
load 'shim/shim'
load 'system/system'

setup_file() {
	require_file "$SOCKSIFY_LIB" "$SOCKSIFY"
	require_cmd unshare setpriv
	if sfy_skipping; then return 0; fi
	shim_setup_file || return 1
	shim_socksifyd s5 || return 1
}

teardown_file() {
	netns_down
}

setup() {
	netns_require
	[ -z "${SFY_SKIP:-}" ] || skip "$SFY_SKIP"
	sys_reset
}

sfy_skipping() {
	[ -n "${SFY_SKIP:-}" ]
}

# ---- issue 9 item 3: an untrusted config under AT_SECURE ----

@test "AT_SECURE: a world-writable /etc/socksify.conf fails closed, never the default proxy" {
	sys_listener 1080
	sys_etc ld.so.preload "$SOCKSIFY_LIB"$'\n'
	sys_etc socksify.conf "proxy = $SHIM_PROXY"$'\n'
	chmod 666 "$SYS_DIR/etc/socksify.conf"
	local d=$NETNS_DIR/suid
	sys_suid_python "$d"
	run sys_run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$d/python3-suid" "$d/connect_errno.py" "$NS_TARGET_IP" 80
	echo "$output"
	assert_success
	assert_output --partial "result=ECONNREFUSED"
	refute_output --partial "socksify"
	run cat "$NETNS_DIR/listener-1080.log"
	refute_output --partial "connection from"
	run grep -c 'socksify.*/etc/socksify.conf' "$SYS_DIR/syslog.log"
	assert_output 1
}
