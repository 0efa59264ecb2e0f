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
	wait_for_line "$NETNS_DIR/listener-$port.log" '^listener ready' 10
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
