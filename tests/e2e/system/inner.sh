#!/usr/bin/env bash
# Runs inside `unshare -m` (see sys_run in system.bash): gives this private mount
# namespace its own /etc and /usr/local (overlays whose upper layers are the test's
# directories, so the host's files are never written), its own /dev (device nodes bound
# from the real one, a private /dev/shm, and /dev/log served by a datagram listener
# that appends to $SYS_DIR/syslog.log), then runs the command in the client namespace
# with an empty environment: no SOCKSIFY_*, no LD_PRELOAD.
#   inner.sh [--ro-etc] [--host | --ns NAME] [--exec] CMD ARG...
# --exec: no syslog listener, and CMD replaces this script (for servers run in the
# background, so their recorded PID is the server's).
set -u
ro_etc=0 host=0 ns=$NS_CLIENT exec_cmd=0
while :; do
	case "${1:-}" in
	--ro-etc) ro_etc=1 ;;
	--host) host=1 ;;
	--exec) exec_cmd=1 ;;
	--ns) ns=$2; shift ;;
	*) break ;;
	esac
	shift
done
d=$SYS_DIR
mkdir -p "$d/root/etc" "$d/root/usr/local" "$d/work/etc" "$d/work/usr"
# /usr/local first: once /etc shows the new ld.so.preload, every program started (mount
# included) loads the library from there.
mount -t overlay overlay -o \
	"lowerdir=/usr/local,upperdir=$d/root/usr/local,workdir=$d/work/usr" /usr/local || exit 90
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/root/etc,workdir=$d/work/etc" /etc ||
	exit 90
[ "$ro_etc" = 1 ] && { mount -o remount,ro /etc || exit 90; }
mkdir -p "$d/realdev"
mount --bind /dev "$d/realdev" && mount -t tmpfs -o mode=755 tmpfs /dev || exit 90
for n in null zero full random urandom tty ptmx; do
	touch "/dev/$n" && mount --bind "$d/realdev/$n" "/dev/$n" || exit 90
done
mkdir /dev/shm /dev/pts && mount -t tmpfs -o mode=1777 tmpfs /dev/shm &&
	mount --bind "$d/realdev/pts" /dev/pts || exit 90
ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/0 /dev/stdin &&
	ln -s /proc/self/fd/1 /dev/stdout && ln -s /proc/self/fd/2 /dev/stderr
env_clean=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
	LANG=C.UTF-8 TERM=dumb)
if [ "$exec_cmd" = 1 ]; then
	exec ip netns exec "$ns" "${env_clean[@]}" "$@"
fi
# The syslog listener: what the library logs in system-wide mode lands here.
"$NETNS_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1], "a").close()
print("ready", flush=True)
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096) + b"\n")
' "$d/syslog.log" >"$d/syslog.ready" 2>&1 </dev/null &
log_pid=$!
for ((i = 0; i < 100; i++)); do
	grep -q ready "$d/syslog.ready" 2>/dev/null && break
	sleep 0.05
done
if [ "$host" = 1 ]; then
	"${env_clean[@]}" "$@"
else
	ip netns exec "$ns" "${env_clean[@]}" "$@"
fi
rc=$?
kill "$log_pid" 2>/dev/null
wait "$log_pid" 2>/dev/null
exit $rc
