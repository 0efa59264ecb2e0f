# Helpers for 45-system: socksify installed machine-wide (/etc/ld.so.preload) inside a
# private mount namespace, never touching the host's /etc, /usr/local, /dev or /dev/shm.
# Loaded after ../lib/common and ../shim/shim.bash.
#
#   sys_reset               empty upper layers ($SYS_DIR/root/etc, $SYS_DIR/root/usr/local):
#                           the private /etc and /usr/local start as the host's
#   sys_etc NAME CONTENT    a file in the private /etc (root-owned, 0644)
#   sys_run [--ro-etc] [--host | --ns NS] [--exec] CMD...   CMD in the private namespace
#                           (client netns by default), empty environment
#   sys_install [-p URL]... socksify --install-system --root $SYS_DIR/root

SYS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

sys_reset() {
	SYS_DIR=$NETNS_DIR/sys
	export SYS_DIR
	SYS_ROOT=$SYS_DIR/root
	export SYS_DIR SYS_ROOT
	rm -rf "$SYS_DIR"
	mkdir -p "$SYS_ROOT/etc" "$SYS_ROOT/usr/local"
	: >"$SYS_DIR/syslog.log"
}

sys_etc() {
	printf '%s' "$2" >"$SYS_ROOT/etc/$1"
	chown root:root "$SYS_ROOT/etc/$1"
	chmod 644 "$SYS_ROOT/etc/$1"
}

sys_install() {
	"$SOCKSIFY" --install-system --root "$SYS_ROOT" "$@"
}

sys_run() {
	unshare -m --propagation private "$SYS_LIB_DIR/inner.sh" "$@"
}

# sys_listener PORT: a fake proxy on 127.0.0.1:PORT in the client namespace (a port any
# local user could take) that records every connection it gets in listener-PORT.log.
# One per test: sys_listener_stop (the suite's teardown) ends it.
sys_listener() {
	local port=$1
	netns_bg "$NS_CLIENT" "$NETNS_DIR/listener-$port.log" "$NETNS_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
print("listener ready", flush=True)
while True:
    c, a = s.accept()
    print("connection from", a, repr(c.recv(64)), flush=True)
    c.close()
' "$port"
	SYS_LISTENER_PID=$NETNS_BG_PID
	wait_for_line "$NETNS_DIR/listener-$port.log" '^listener ready' 10
}

sys_listener_stop() {
	[ -n "${SYS_LISTENER_PID:-}" ] || return 0
	kill "$SYS_LISTENER_PID" 2>/dev/null
	wait "$SYS_LISTENER_PID" 2>/dev/null
	SYS_LISTENER_PID=
	return 0
}

# sys_suid_connect [VAR=VALUE...]: in the private namespace, as nobody, the
# set-user-ID python (AT_SECURE) connects once to the target's port 80 and prints
# connect_errno.py's "result=..." line; VAR=VALUE go into its environment.
sys_suid_connect() {
	local d=$NETNS_DIR/suid
	sys_run env "$@" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$d/python3-suid" "$d/connect_errno.py" "$NS_TARGET_IP" 80
}

# sys_suid_python DIR: a set-user-ID-root copy of python3 in DIR (world-readable), for
# programs run as nobody: AT_SECURE is set in them.
sys_suid_python() {
	local dir=$1
	mkdir -p "$dir"
	chmod 755 "$dir"
	cp "$(readlink -f /usr/bin/python3)" "$dir/python3-suid"
	chown root:root "$dir/python3-suid"
	chmod 4755 "$dir/python3-suid"
	cp "$SHIM_DIR/connect_errno.py" "$dir/"
	chmod 644 "$dir/connect_errno.py"
}

# ---- the battery: the same programs in each mode ----
# Each item is one shell command run in the client namespace; sys_battery runs them all
# (30 s each at most) and leaves ITEM.rc / ITEM.out / ITEM.err in a directory.
SYS_ITEMS=(bash coreutils curl wget python3 git ssh sudo su passwd ping getent dpkg static pid1
	pid1child suid)

sys_item_cmd() {
	local t=$NS_TARGET_IP
	case "$1" in
	bash) echo "bash -c 'exec 3<>/dev/tcp/$t/80 && printf \"GET /sys.txt HTTP/1.0\\r\\n\\r\\n\" >&3 && tail -n 1 <&3'" ;;
	coreutils) echo "ls / >/dev/null && cat /etc/hostname >/dev/null && sort </etc/passwd | wc -l >/dev/null && echo coreutils-ok" ;;
	curl) echo "curl -s --max-time 10 http://target.test/sys.txt" ;;
	wget) echo "wget -q -O - -T 10 -t 1 http://target.test/sys.txt" ;;
	python3) echo "python3 -c 'import urllib.request as u; print(u.urlopen(\"http://target.test/sys.txt\", timeout=10).read().decode().strip())'" ;;
	git) echo "rm -rf /tmp/sfy-sys-clone.\$\$ && git clone -q http://target.test/repo.git /tmp/sfy-sys-clone.\$\$ 2>/dev/null && cat /tmp/sfy-sys-clone.\$\$/README; rc=\$?; rm -rf /tmp/sfy-sys-clone.\$\$; exit \$rc" ;;
	ssh) echo "ssh -F /dev/null -i $SYS_SSH/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR root@$t 'echo ssh-ok'" ;;
	sudo) echo "command -v sudo >/dev/null || { echo sudo-absent; exit 0; }; sudo -u nobody sh -c 'echo sudo-ok' && sudo -u nobody curl -s --max-time 10 http://target.test/sys.txt" ;;
	su) echo "su -s /bin/sh nobody -c 'echo su-ok; curl -s --max-time 10 http://target.test/sys.txt'" ;;
	passwd) echo "passwd -S root | cut -d' ' -f1" ;;
	ping) echo "ping -c 1 -W 5 $NS_PROXY_IP | grep -o '1 received'" ;;
	getent) echo "getent hosts target.test >/dev/null" ;;
	dpkg) echo "dpkg -l coreutils | tail -n 1 | cut -c1-2" ;;
	static) echo "$NETNS_DIR/static_connect $t 80" ;;
	pid1) echo "unshare -p -f --kill-child python3 $SHIM_DIR/connect_errno.py $t 80 | cut -d' ' -f1" ;;
	pid1child) echo "unshare -p -f --kill-child sh -c 'curl -s --max-time 10 http://target.test/sys.txt; :'" ;;
	suid) echo "SOCKSIFY_PROXY=socks5://127.0.0.1:1080 SOCKSIFY_CONF=/nonexistent setpriv --reuid=65534 --regid=65534 --clear-groups $NETNS_DIR/suid/python3-suid $NETNS_DIR/suid/connect_errno.py $t 80 | cut -d' ' -f1" ;;
	esac
}

# sys_battery DIR: every item; sshd (under the same preload, in the target namespace)
# runs for the duration.
sys_battery() {
	local dir=$1 item rc
	mkdir -p "$dir"
	sys_sshd_start || return 1
	for item in "${SYS_ITEMS[@]}"; do
		rc=0
		timeout 30 unshare -m --propagation private "$SYS_LIB_DIR/inner.sh" \
			sh -c "$(sys_item_cmd "$item")" >"$dir/$item.out" 2>"$dir/$item.err" || rc=$?
		echo "$rc" >"$dir/$item.rc"
	done
	sys_sshd_stop
}

# sshd in the target namespace, itself under the private /etc/ld.so.preload.
sys_sshd_start() {
	SYS_SSH=$NETNS_DIR/sysssh
	if [ ! -f "$SYS_SSH/host_key" ]; then
		mkdir -p "$SYS_SSH"
		ssh-keygen -q -t ed25519 -N '' -f "$SYS_SSH/host_key"
		ssh-keygen -q -t ed25519 -N '' -f "$SYS_SSH/client_key"
		cp "$SYS_SSH/client_key.pub" "$SYS_SSH/authorized_keys"
		chmod 600 "$SYS_SSH/authorized_keys"
		printf '%s\n' "Port 22" "ListenAddress $NS_TARGET_IP" "HostKey $SYS_SSH/host_key" \
			"AuthorizedKeysFile $SYS_SSH/authorized_keys" "PidFile none" "UsePAM no" \
			"StrictModes no" "PermitRootLogin prohibit-password" \
			"PasswordAuthentication no" >"$SYS_SSH/sshd_config"
	fi
	export SYS_SSH
	if [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && touch "$BATS_FILE_TMPDIR/made-run-sshd"
	fi
	netns_bg - "$SYS_SSH/sshd.log" unshare -m --propagation private "$SYS_LIB_DIR/inner.sh" \
		--exec --ns "$NS_TARGET" /usr/sbin/sshd -D -e -f "$SYS_SSH/sshd_config"
	SYS_SSHD_PID=$NETNS_BG_PID
	wait_for_port "$NS_TARGET" "$NS_TARGET_IP" 22 10
}

sys_sshd_stop() {
	kill "$SYS_SSHD_PID" 2>/dev/null
	wait "$SYS_SSHD_PID" 2>/dev/null
	return 0
}

# sys_show DIR: every item's status and output, for a failing test's log.
sys_show() {
	local item
	for item in "${SYS_ITEMS[@]}"; do
		printf '%-10s rc=%s out=[%s] err=[%s]\n' "$item" "$(cat "$1/$item.rc")" \
			"$(head -c 300 "$1/$item.out" | tr '\n' '|')" "$(head -c 300 "$1/$item.err" | tr '\n' '|')"
	done
}
