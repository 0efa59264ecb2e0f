#!/usr/bin/env bats
# socksify machine-wide: the library in /etc/ld.so.preload and /etc/socksify.conf, set up
# by `socksify --install-system` inside a private mount namespace (tests/e2e/system/
# inner.sh: overlays over /etc and /usr/local, a private /dev with /dev/log) of the
# namespace topology, with no SOCKSIFY_* and no LD_PRELOAD in any program's environment.
# The host's /etc, /usr/local, /dev and /dev/shm are never written.

load '../lib/common'
load 'shim/shim'
load 'system/system'

LINE='/usr/local/$LIB/socksify/libsocksify.so'

setup_file() {
	require_file "$SOCKSIFY_LIB" "$SOCKSIFY"
	require_cmd unshare setpriv
	[ -n "${SFY_SKIP:-}" ] && return 0
	shim_setup_file || return 1
	shim_socksifyd s5 || return 1
	# A git repository the battery clones over dumb HTTP.
	local src=$NETNS_DIR/src
	git init -q "$src" && echo hello >"$src/README" && git -C "$src" add README &&
		git -C "$src" -c user.name=t -c user.email=t@t commit -q -m first &&
		git clone -q --bare "$src" "$NETNS_DIR/www/repo.git" &&
		git -C "$NETNS_DIR/www/repo.git" update-server-info || return 1
	echo system-page >"$NETNS_DIR/www/sys.txt"
	# A static program (busybox is one), and a 32-bit one when gcc-multilib is there.
	SYS_STATIC=$(command -v busybox || true)
	export SYS_STATIC
	printf 'int main(void){return 0;}\n' >"$NETNS_DIR/h.c"
	gcc -m32 -o "$NETNS_DIR/h32" "$NETNS_DIR/h.c" 2>/dev/null || true
	sys_suid_python "$NETNS_DIR/suid"
	SYS_HOST_PRELOAD=$(sha256sum </etc/ld.so.preload 2>&1)
	export SYS_HOST_PRELOAD
}

teardown_file() {
	netns_down
	shim_sshd_cleanup
}

setup() {
	netns_require
	[ -z "${SFY_SKIP:-}" ] || skip "$SFY_SKIP"
	sys_reset
}

# sys_preload_lines: the private /etc/ld.so.preload, for comparisons.
sys_preload() {
	cat "$SYS_ROOT/etc/ld.so.preload"
}

# ---- issue 9 item 3: an untrusted config under AT_SECURE ----

@test "AT_SECURE: a world-writable /etc/socksify.conf fails closed, never the default proxy" {
	sys_listener 1080
	sys_etc ld.so.preload "$SOCKSIFY_LIB"$'\n'
	sys_etc socksify.conf "proxy = $SHIM_PROXY"$'\n'
	chmod 666 "$SYS_ROOT/etc/socksify.conf"
	local d=$NETNS_DIR/suid
	run sys_run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$d/python3-suid" "$d/connect_errno.py" "$NS_TARGET_IP" 80
	echo "$output"
	assert_success
	assert_output --partial "result=ECONNREFUSED"
	refute_output --partial "socksify"
	run cat "$NETNS_DIR/listener-1080.log"
	refute_output --partial "connection from"
	run grep -c 'socksify.*/etc/socksify.conf: not trusted' "$SYS_DIR/syslog.log"
	assert_output 1
}

@test "AT_SECURE: a config root does not own fails closed too; the trusted twin connects" {
	sys_etc ld.so.preload "$SOCKSIFY_LIB"$'\n'
	sys_etc socksify.conf "proxy = $SHIM_PROXY"$'\n'
	chown 65534 "$SYS_ROOT/etc/socksify.conf"
	local d=$NETNS_DIR/suid
	run sys_run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$d/python3-suid" "$d/connect_errno.py" "$NS_TARGET_IP" 80
	assert_output --partial "result=ECONNREFUSED"
	chown 0 "$SYS_ROOT/etc/socksify.conf"
	run sys_run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$d/python3-suid" "$d/connect_errno.py" "$NS_TARGET_IP" 80
	assert_output --partial "result=OK"
}

# ---- the installer, on a scratch root (--root) ----

@test "install: no ld.so.preload yet: the file is our line alone, config and both libraries" {
	run sys_install -p "$SHIM_PROXY"
	assert_success
	run sys_preload
	assert_output "$LINE"
	[ ! -e "$SYS_ROOT/etc/ld.so.preload.socksify-bak" ]
	run stat -c '%U %a' "$SYS_ROOT/etc/socksify.conf" "$SYS_ROOT/etc/ld.so.preload"
	assert_output $'root 644\nroot 644'
	grep -qx "proxy = $SHIM_PROXY" "$SYS_ROOT/etc/socksify.conf"
	run file -L "$SYS_ROOT/usr/local/lib/x86_64-linux-gnu/socksify/libsocksify.so"
	assert_output --partial "ELF 64-bit"
	if [ -f "$BUILD/32/libsocksify.so" ]; then
		run file -L "$SYS_ROOT/usr/local/lib32/socksify/libsocksify.so"
		assert_output --partial "ELF 32-bit"
	fi
}

@test "install: an empty ld.so.preload gets our line" {
	sys_etc ld.so.preload ""
	run sys_install -p "$SHIM_PROXY"
	assert_success
	run sys_preload
	assert_output "$LINE"
}

@test "install: no trailing newline, comments and a foreign entry are kept; uninstall restores" {
	sys_etc ld.so.preload $'# admin\'s comment\n\n/usr/lib/foreign.so  # keep\n/usr/lib/other.so'
	cp "$SYS_ROOT/etc/ld.so.preload" "$BATS_TEST_TMPDIR/orig"
	run sys_install -p "$SHIM_PROXY"
	assert_success
	run sys_preload
	assert_output "# admin's comment

/usr/lib/foreign.so  # keep
/usr/lib/other.so
$LINE"
	cmp "$SYS_ROOT/etc/ld.so.preload.socksify-bak" "$BATS_TEST_TMPDIR/orig"
	run "$SOCKSIFY" --uninstall-system --root "$SYS_ROOT"
	assert_success
	run sys_preload
	assert_output "# admin's comment

/usr/lib/foreign.so  # keep
/usr/lib/other.so"
}

@test "install: our line already there: nothing rewritten (same inode), exit 0" {
	sys_etc ld.so.preload "/usr/lib/foreign.so"$'\n'"$LINE"$'\n'
	local before
	before=$(stat -c %i "$SYS_ROOT/etc/ld.so.preload")
	run sys_install -p "$SHIM_PROXY"
	assert_success
	assert_output --partial "already has the line"
	[ "$(stat -c %i "$SYS_ROOT/etc/ld.so.preload")" = "$before" ]
	run sys_install
	assert_success
	run sys_preload
	assert_output "/usr/lib/foreign.so
$LINE"
}

@test "install: duplicates of our line become one; uninstall removes every copy, nothing else" {
	sys_etc ld.so.preload "$LINE"$'\n'"/usr/lib/foreign.so"$'\n'"  $LINE  "$'\n'
	run sys_install -p "$SHIM_PROXY"
	assert_success
	run sys_preload
	assert_output "/usr/lib/foreign.so
$LINE"
	sys_etc ld.so.preload "$LINE"$'\n'"/usr/lib/foreign.so"$'\n'"$LINE"$'\n'
	run "$SOCKSIFY" --uninstall-system --root "$SYS_ROOT"
	assert_success
	run sys_preload
	assert_output "/usr/lib/foreign.so"
	run "$SOCKSIFY" --uninstall-system --root "$SYS_ROOT"
	assert_success
	assert_output --partial "nothing to do"
}

@test "install: a config that does not parse is refused and nothing is enabled" {
	run sys_install -p "socks9://nowhere"
	assert_failure 1
	assert_output --partial "not enabled"
	assert_output --partial "unknown scheme"
	[ ! -e "$SYS_ROOT/etc/ld.so.preload" ]
	[ ! -e "$SYS_ROOT/etc/socksify.conf" ]
	sys_etc socksify.conf $'proxy = socks5://h:1\nudp = sideways\n'
	run sys_install
	assert_failure 1
	assert_output --partial "socksify.conf:2: bad value 'sideways'"
	[ ! -e "$SYS_ROOT/etc/ld.so.preload" ]
	chmod 666 "$SYS_ROOT/etc/socksify.conf"
	sys_etc socksify.conf $'proxy = socks5://h:1\n'
	chmod 664 "$SYS_ROOT/etc/socksify.conf"
	run sys_install
	assert_failure 1
	assert_output --partial "not trusted"
}

@test "install: without -p and without a config, the example is installed and parses" {
	run sys_install
	assert_success
	cmp "$SYS_ROOT/etc/socksify.conf" "$SFY_TOP/socksify.conf.example"
	run sys_preload
	assert_output "$LINE"
}

@test "install: every file is replaced by rename after fsync, never rewritten in place" {
	require_cmd strace
	sys_etc ld.so.preload "/usr/lib/foreign.so"$'\n'
	run strace -f -e trace=openat,fsync,rename,write -o "$BATS_TEST_TMPDIR/st" \
		"$SOCKSIFY" --install-system --root "$SYS_ROOT" -p "$SHIM_PROXY"
	assert_success
	# The real file is never opened for writing; a temp file is fsynced and renamed.
	run grep -E "openat\\(.*/etc/ld\\.so\\.preload\", O_(WR|RDWR)" "$BATS_TEST_TMPDIR/st"
	assert_failure
	run grep -E "rename\\(\".*/etc/\\.ld\\.so\\.preload\\.[A-Za-z0-9]{6}\", \".*/etc/ld\\.so\\.preload\"\\) = 0" \
		"$BATS_TEST_TMPDIR/st"
	assert_success
	grep -q 'fsync(' "$BATS_TEST_TMPDIR/st"
}

@test "install on the real paths in a private mount namespace; a read-only /etc fails cleanly" {
	run sys_run --host --ro-etc "$SOCKSIFY" --install-system -p "$SHIM_PROXY"
	assert_failure 1
	assert_output --partial "Read-only file system"
	[ ! -e "$SYS_ROOT/etc/ld.so.preload" ]
	run sys_run --host "$SOCKSIFY" --install-system -p "$SHIM_PROXY"
	assert_success
	run sys_preload
	assert_output "$LINE"
	[ -f "$SYS_ROOT/usr/local/lib/x86_64-linux-gnu/socksify/libsocksify.so" ]
	run sys_run --host cat /etc/ld.so.preload
	assert_output "$LINE"
	# The host's own /etc saw nothing of it.
	[ "$(sha256sum </etc/ld.so.preload 2>&1)" = "$SYS_HOST_PRELOAD" ]
	run sys_run --host "$SOCKSIFY" --system-status
	assert_output --partial "preload: enabled"
	assert_output --partial "parses (1 proxy)"
	run sys_run --host "$SOCKSIFY" --uninstall-system
	assert_success
	run sys_run --host "$SOCKSIFY" --system-status
	assert_failure 1
	assert_output --partial "preload: disabled"
}

@test "--system-status: a broken config is named with FILE:LINE, exit 1" {
	sys_install -p "$SHIM_PROXY"
	printf 'proxy = socks5://h:1\nchain = sideways\n' >"$SYS_ROOT/etc/socksify.conf"
	run "$SOCKSIFY" --system-status --root "$SYS_ROOT"
	assert_failure 1
	assert_output --partial "preload: enabled"
	assert_output --partial "socksify.conf:2: bad value 'sideways'"
}

@test "the option checks: one action, -p with install only, --root only with them" {
	run "$SOCKSIFY" --install-system --uninstall-system
	assert_failure 125
	run "$SOCKSIFY" --system-status -p "$SHIM_PROXY"
	assert_failure 125
	run "$SOCKSIFY" --root /tmp true
	assert_failure 125
	run "$SOCKSIFY" --install-system true
	assert_failure 125
}
