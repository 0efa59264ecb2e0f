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
	# -v: one line per session, so the target's side of each connection can be counted.
	shim_socksifyd s5 -v || return 1
	# A git repository the battery clones over dumb HTTP.
	local src=$NETNS_DIR/src
	git init -q "$src" && echo hello >"$src/README" && git -C "$src" add README &&
		git -C "$src" -c user.name=t -c user.email=t@t commit -q -m first &&
		git clone -q --bare "$src" "$NETNS_DIR/www/repo.git" &&
		git -C "$NETNS_DIR/www/repo.git" update-server-info || return 1
	echo system-page >"$NETNS_DIR/www/sys.txt"
	# A static program that connects, and a 32-bit one when gcc-multilib is there.
	cat >"$NETNS_DIR/static_connect.c" <<'C'
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		printf("static: %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("static: connected\n");
	return 0;
}
C
	gcc -static -O1 -o "$NETNS_DIR/static_connect" "$NETNS_DIR/static_connect.c" || return 1
	printf 'int main(void){return 0;}\n' >"$NETNS_DIR/h.c"
	gcc -m32 -o "$NETNS_DIR/h32" "$NETNS_DIR/h.c" 2>/dev/null || true
	sys_suid_python "$NETNS_DIR/suid"
	SYS_HOST_PRELOAD=$(sha256sum </etc/ld.so.preload 2>&1 || true)
	export SYS_HOST_PRELOAD
}

teardown_file() {
	netns_down
	shim_sshd_cleanup
}

setup() {
	netns_require
	sys_reset
}

teardown() {
	sys_listener_stop
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
	run sys_suid_connect
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
	run sys_suid_connect
	assert_output --partial "result=ECONNREFUSED"
	chown 0 "$SYS_ROOT/etc/socksify.conf"
	run sys_suid_connect
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
	[ "$(sha256sum </etc/ld.so.preload 2>&1 || true)" = "$SYS_HOST_PRELOAD" ]
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

# ---- the battery: configured, unconfigured (inert), broken ----

# assert_item DIR ITEM RC [OUTPUT]: ITEM exited RC and (when given) printed OUTPUT.
assert_item() {
	local dir=$1 item=$2 rc=$3
	if [ "$(cat "$dir/$item.rc")" != "$rc" ] ||
		{ [ $# -gt 3 ] && [ "$(cat "$dir/$item.out")" != "$4" ]; }; then
		echo "item $item: want rc=$rc${4:+ out=[$4]}" >&2
		sys_show "$dir" >&2
		return 1
	fi
}

@test "configured: every program of the battery goes through the proxy, no DNS leak" {
	sys_listener 1080
	sys_install -p "$SHIM_PROXY"
	: >"$NETNS_DIR/canary.log"
	local before d=$BATS_TEST_TMPDIR/on
	before=$(wc -l <"$NETNS_DIR/s5.log")
	sys_battery "$d"
	sys_show "$d"
	assert_item "$d" bash 0 system-page
	assert_item "$d" coreutils 0 coreutils-ok
	assert_item "$d" curl 0 system-page
	assert_item "$d" wget 0 system-page
	assert_item "$d" python3 0 system-page
	assert_item "$d" git 0 hello
	assert_item "$d" ssh 0 ssh-ok
	assert_item "$d" sudo 0 $'sudo-ok\nsystem-page'
	assert_item "$d" su 0 $'su-ok\nsystem-page'
	assert_item "$d" passwd 0 root
	assert_item "$d" ping 0 "1 received"
	assert_item "$d" getent 0
	assert_item "$d" dpkg 0 ii
	# A static program is out of reach (documented); it runs as without the library.
	assert_item "$d" static 1 "static: ENETUNREACH"
	# PID 1 is never touched: its connect goes straight to the kernel (no route here);
	# its child is proxied.
	assert_item "$d" pid1 0 result=ENETUNREACH
	assert_item "$d" pid1child 0 system-page
	# A set-user-ID program ignores SOCKSIFY_* naming another proxy: the root config.
	assert_item "$d" suid 0 result=OK
	run cat "$NETNS_DIR/listener-1080.log"
	refute_output --partial "connection from"
	# Nothing on any stderr.
	run sh -c "cat $d/*.err"
	assert_output ""
	[ "$(canary_count)" = 0 ]
	# The proxy made the connections (the client has no route to the target anyway):
	# by name for curl, wget, python3, git, sudo, su and PID 1's child.
	run sh -c "tail -n +$((before + 1)) '$NETNS_DIR/s5.log' | grep -c 'cmd=connect asked=target.test:80 .*rep=0'"
	[ "$output" -ge 7 ] || { tail -n 20 "$NETNS_DIR/s5.log"; false; }
}

@test "unconfigured (preload, no config): every program behaves exactly as without the library" {
	local base=$BATS_TEST_TMPDIR/base d=$BATS_TEST_TMPDIR/inert item
	sys_battery "$base"
	sys_install -p "$SHIM_PROXY"
	rm "$SYS_ROOT/etc/socksify.conf"
	run sys_preload
	assert_output "$LINE"
	sys_battery "$d"
	sys_show "$d"
	for item in "${SYS_ITEMS[@]}"; do
		[ "$item" = suid ] && continue # its python prints timings: compared below
		if [ "$(cat "$base/$item.rc")" != "$(cat "$d/$item.rc")" ] ||
			! cmp -s "$base/$item.err" "$d/$item.err" ||
			! cmp -s "$base/$item.out" "$d/$item.out"; then
			echo "item $item differs from the run without the library; without:" >&2
			sys_show "$base" >&2
			return 1
		fi
	done
	assert_item "$d" suid "$(cat "$base/suid.rc")" "$(cat "$base/suid.out")"
	# sudo and su log to syslog themselves; the library says nothing.
	run grep -c socksify "$SYS_DIR/syslog.log"
	assert_output 0
}

@test "broken config: every program still runs, proxied connects fail, one syslog line each" {
	sys_install -p "$SHIM_PROXY"
	printf 'proxy = %s\nchain = sideways\n' "$SHIM_PROXY" >"$SYS_ROOT/etc/socksify.conf"
	: >"$NETNS_DIR/canary.log"
	local d=$BATS_TEST_TMPDIR/broken item rc
	sys_battery "$d"
	sys_show "$d"
	for item in "${SYS_ITEMS[@]}"; do
		rc=$(cat "$d/$item.rc")
		if [ "$rc" = 124 ] || { [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; }; then
			echo "item $item: rc=$rc (killed or timed out)" >&2
			return 1
		fi
	done
	assert_item "$d" coreutils 0 coreutils-ok
	assert_item "$d" dpkg 0 ii
	assert_item "$d" passwd 0 root
	assert_item "$d" pid1 0 result=ENETUNREACH
	assert_item "$d" suid 0 result=ECONNREFUSED
	for item in bash curl wget python3 git ssh su; do
		[ "$(cat "$d/$item.rc")" != 0 ] || { sys_show "$d" >&2; return 1; }
	done
	run sh -c "cat $d/*.err | grep -i socksify"
	assert_output ""
	[ "$(canary_count)" = 0 ]
	# The reason, in syslog, with FILE:LINE, never twice from one process.
	run grep -c "socksify.conf:2: bad value 'sideways'" "$SYS_DIR/syslog.log"
	[ "$output" -ge 5 ]
	run sh -c "grep -o 'socksify\\[[0-9]*\\]' '$SYS_DIR/syslog.log' | sort | uniq -d"
	assert_output ""
}

# nm_names LIB [nm options]: the names (without versions) of LIB's dynamic symbols.
nm_names() {
	nm -D "${@:2}" "$1" | awk '{ print $NF }' | sed 's/@.*//' | sort -u
}

# loader PROGRAM: PROGRAM's dynamic loader (its interpreter, all links followed).
loader() {
	local ld
	ld=$(readelf -l "$1" | sed -n 's/.*interpreter: \(.*\)\]$/\1/p')
	ld=$(readlink -f "$ld")
	[ -f "$ld" ] || fail "$1's interpreter ($ld) is missing"
	echo "$ld"
}

# libtok LOADER: what LOADER expands $LIB to: its own directory under / or /usr (lib32
# for Debian's biarch libc6-i386, lib/i386-linux-gnu multiarch, lib/x86_64-linux-gnu),
# a string LOADER must hold.
libtok() {
	local tok=${1%/*}
	tok=${tok#/usr}
	tok=${tok#/}
	strings -a "$1" | grep -qx "$tok" || fail "$1 does not hold \$LIB's value $tok"
	echo "$tok"
}

@test "32-bit: an i386 library with the same hooks, installed where the 32-bit loader looks" {
	[ -x "$NETNS_DIR/h32" ] || skip "gcc -m32 cannot build a 32-bit program (gcc-multilib not installed)"
	local lib32=$BUILD/32/libsocksify.so ld32 ld64 tok tok64
	[ -f "$lib32" ] || fail "no $lib32 although gcc -m32 works (make builds it then)"
	# Most kernels here (CI's, this machine's) do not run 32-bit programs, so what a
	# 32-bit ld.so would do with the preload line is checked without running one.
	# The build: an i386 shared object exporting exactly the 64-bit library's hooks,
	# needing libc alone, each of its symbols there in the 32-bit libc.
	run readelf -h "$lib32"
	assert_line --regexp '^ *Class: +ELF32$'
	assert_line --regexp '^ *Machine: +Intel 80386$'
	assert_line --regexp '^ *Type: +DYN '
	run diff <(nm_names "$SOCKSIFY_LIB" --defined-only) <(nm_names "$lib32" --defined-only)
	assert_success
	[ "$(nm_names "$lib32" --defined-only | grep -c .)" -gt 20 ]
	run sh -c "readelf -d '$lib32' | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'"
	assert_output libc.so.6
	ld32=$(loader "$NETNS_DIR/h32")
	ld64=$(loader "$SOCKSIFY")
	tok=$(libtok "$ld32")
	tok64=$(libtok "$ld64")
	run comm -23 <(nm -D --undefined-only "$lib32" | awk '$1 == "U" { print $2 }' | sort -u) \
		<(nm -D --defined-only "${ld32%/*}/libc.so.6" | awk '{ print $3 }' | sed 's/@@/@/' | sort -u)
	assert_output ""
	# --install-system: the preload line names $LIB, and the 32-bit build is at that
	# loader's expansion of it, the 64-bit one at the 64-bit loader's.
	sys_install -p "$SHIM_PROXY"
	run sys_preload
	assert_output "$LINE"
	cmp "$lib32" "$SYS_ROOT/usr/local/$tok/socksify/libsocksify.so"
	cmp "$SOCKSIFY_LIB" "$SYS_ROOT/usr/local/$tok64/socksify/libsocksify.so"
	# Where the kernel runs 32-bit programs: the loader takes the preload silently.
	if "$NETNS_DIR/h32" 2>/dev/null; then
		run sys_run "$NETNS_DIR/h32"
		assert_success
		assert_output ""
	else
		echo "# this kernel does not run 32-bit programs: the loader's side was checked without one" >&3
	fi
}

# ---- start-up cost: what the library adds to a program that never touches the network ----

# sys_syscalls MODE: the system call names of /bin/true in the private namespace with
# MODE none | empty (an empty preload .so: the loader's floor) | inert | configured.
sys_syscalls() {
	sys_reset
	case "$1" in
	empty)
		printf '' | gcc -shared -fPIC -o "$NETNS_DIR/empty.so" -x c - &&
			sys_etc ld.so.preload "$NETNS_DIR/empty.so"$'\n' ;;
	inert) sys_install -p "$SHIM_PROXY" >/dev/null && rm "$SYS_ROOT/etc/socksify.conf" ;;
	configured) sys_install -p "$SHIM_PROXY" >/dev/null ;;
	esac
	sys_run --host strace -o "$NETNS_DIR/st.$1" /bin/true >/dev/null 2>&1 || return 1
	sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' "$NETNS_DIR/st.$1" | sort
}

@test "start-up: unconfigured and configured add no system call of their own to true, and open nothing" {
	require_cmd strace gcc
	local floor inert conf added
	floor=$(sys_syscalls empty)
	inert=$(sys_syscalls inert)
	conf=$(sys_syscalls configured)
	# Beyond an empty preload's loader work, only the loader's own: ld.so's $LIB
	# expansion reads /proc/self/exe once, and our image's zero-filled data takes one
	# more mmap. The library itself makes no call at all (no getpid, no futex): a
	# seccomp sandbox that starts programs under it must see what it would without.
	for got in "$inert" "$conf"; do
		added=$(comm -13 <(echo "$floor") <(echo "$got"))
		echo "added: $added"
		run grep -vx -e readlink -e mmap <<<"$added"
		echo "ours: $output"
		assert_output ''
		[ "$(grep -cx readlink <<<"$added")" -le 1 ]
		[ "$(grep -cx mmap <<<"$added")" -le 1 ]
	done
	# Lazy: the config file is not even looked at before the first network call.
	run grep -c socksify.conf "$NETNS_DIR/st.configured"
	assert_output 0
}

@test "start-up: a program that only reads, writes and closes never resolves the library's table" {
	# Most programs of the machine call read/write/close through our hooks and never
	# connect: each of those is looked up alone, not the table of sixty real symbols
	# (whose first lookup is connect's).
	sys_install -p "$SHIM_PROXY"
	run sys_run env LD_DEBUG=symbols python3 -c 'import os, sys
os.write(1, b"wrote\n"); os.close(os.open("/etc/hostname", os.O_RDONLY)); sys.stdin.read()' </dev/null
	assert_success
	assert_line "wrote"
	refute_output --partial "symbol=connect;"
	# The negative twin: the first connect resolves the table.
	run sys_run env LD_DEBUG=symbols python3 -c 'import socket
socket.socket().connect_ex(("127.0.0.1", 9))'
	assert_output --partial "symbol=connect;"
}

# ---- never harm the machine ----

@test "exclude_program: an excluded program goes straight to libc, the others still through the proxy" {
	sys_install -p "$SHIM_PROXY"
	printf 'exclude_program = curl\nexclude_program = /usr/bin/pyth*\n' >>"$SYS_ROOT/etc/socksify.conf"
	run sys_run sh -c "curl -s --max-time 5 http://$NS_TARGET_IP/sys.txt; echo rc=\$?"
	assert_output "rc=7"
	run sys_run python3 "$SHIM_DIR/connect_errno.py" "$NS_TARGET_IP" 80
	assert_output --partial "result=ENETUNREACH"
	run sys_run wget -q -O - -T 10 -t 1 "http://$NS_TARGET_IP/sys.txt"
	assert_success
	assert_output "system-page"
}

@test "socksifyd under the preload never proxies itself, even when the config names it" {
	require_file "$BUILD/socksifyd"
	local port=11080
	sys_install -p "socks5://$NS_PROXY_IP:$port"
	netns_bg - "$NETNS_DIR/selfd.log" unshare -m --propagation private "$SYS_LIB_DIR/inner.sh" \
		--exec --ns "$NS_PROXY" "$BUILD/socksifyd" --open -l "$NS_PROXY_IP:$port"
	local pid=$NETNS_BG_PID
	wait_for_port "$NS_PROXY" "$NS_PROXY_IP" "$port" 10
	run sys_run curl -s --max-time 10 http://target.test/sys.txt
	kill "$pid"
	assert_success
	assert_output "system-page"
}

@test "AT_SECURE: SOCKSIFY_LOG_FILE and SOCKSIFY_PROXY from the environment are ignored" {
	sys_install -p "$SHIM_PROXY"
	sys_listener 1080
	local log=$NETNS_DIR/suid-log-$$
	rm -f "$log"
	run sys_suid_connect SOCKSIFY_LOG_FILE="$log" SOCKSIFY_LOG=debug \
		SOCKSIFY_PROXY=socks5://127.0.0.1:1080
	assert_output --partial "result=OK"
	[ ! -e "$log" ]
	run cat "$NETNS_DIR/listener-1080.log"
	refute_output --partial "connection from"
}

@test "a FIFO as the config: an error saying so, proxied connects fail, nothing hangs" {
	mkfifo "$BATS_TEST_TMPDIR/fifo.conf"
	run timeout 10 ip netns exec "$NS_CLIENT" env LD_PRELOAD="$SOCKSIFY_LIB" \
		SOCKSIFY_CONF="$BATS_TEST_TMPDIR/fifo.conf" "$NETNS_PY" "$SHIM_DIR/connect_errno.py" \
		"$NS_TARGET_IP" 80
	assert_success
	assert_output --partial "fifo.conf: not a regular file (a FIFO)"
	assert_output --partial "result=ECONNREFUSED"
	run timeout 10 "$SOCKSIFY" -f "$BATS_TEST_TMPDIR/fifo.conf" true
	assert_failure 125
	assert_output --partial "not a regular file (a FIFO)"
}

@test "the launcher on a machine-wide install: its -p chain alone, the second copy of the library stays out" {
	sys_install -p "socks5://$NS_PROXY_IP:9"
	run sys_run "$SOCKSIFY" -p "$SHIM_PROXY" curl -sS --max-time 10 http://target.test/sys.txt
	assert_success
	assert_output "system-page"
	run grep -c socksify "$SYS_DIR/syslog.log"
	assert_output 0
}
