#!/usr/bin/env bats
# The remote-DNS name table as a machine sees it (issues 9 and 10): one table per user,
# whatever runs; nothing another user plants in /dev/shm can hang, slow down or feed a
# lookup; an address from another user's table is refused. Every test runs in a private
# mount namespace whose /dev/shm is a fresh tmpfs: the host's /dev/shm is never touched.
# No network is needed: SOCKSIFY_PROXY names a closed port, so a connect that reaches
# the proxy step fails with ECONNREFUSED, one that is refused as an unknown fake
# address with EHOSTUNREACH.

load '../lib/common'

# An address of the fake range 240.0.0.0/4 (each user's table has its own window in it).
FAKE4='^ai inet 2(4[0-9]|5[0-5])\.'

setup() {
	require_file "$SOCKSIFY_LIB" "$SNIPPETS/dns_getaddrinfo"
	require_cmd unshare setpriv strace python3
	# Every test here is about the library's getaddrinfo: one that does not export it
	# is broken: the test fails.
	nm -D --defined-only "$SOCKSIFY_LIB" | grep -q ' getaddrinfo$' ||
		fail "$SOCKSIFY_LIB does not interpose getaddrinfo"
	# Readable by user 65534 too (bats' own temporary directories are not, nor need the
	# build tree be): the library and the snippet run from copies in it.
	NT_DIR=$(mktemp -d /tmp/sfy-nt.XXXXXX)
	copy_for_nobody "$NT_DIR" "$SOCKSIFY_LIB" "$SNIPPETS/dns_getaddrinfo"
	NT_LIB=$NT_DIR/$(basename "$SOCKSIFY_LIB")
	NT_CONF=$NT_DIR/empty.conf
	: >"$NT_CONF"
	chmod 644 "$NT_CONF"
	export NT_DIR NT_LIB NT_CONF
}

teardown() {
	rm -rf "${NT_DIR:-/nonexistent}"
}

# in_private_shm SCRIPT: bash -c SCRIPT in a private mount namespace with a fresh
# /dev/shm; SCRIPT sees $lib, $conf, $snip and the functions below.
in_private_shm() {
	unshare -m --propagation private bash -c '
		set -u
		mount -t tmpfs -o mode=1777,size=512m sfy-test-shm /dev/shm || exit 99
		lib=$1 conf=$2 snip=$3
		# pre CMD...: CMD under the library, remote DNS through a closed proxy port.
		pre() {
			env -u SOCKSIFY_NAMETABLE LD_PRELOAD="$lib" SOCKSIFY_CONF="$conf" \
				SOCKSIFY_PROXY=socks5://127.0.0.1:1 "$@"
		}
		# as_nobody CMD...: the same, as user 65534.
		as_nobody() {
			setpriv --reuid=65534 --regid=65534 --clear-groups env -u SOCKSIFY_NAMETABLE \
				LD_PRELOAD="$lib" SOCKSIFY_CONF="$conf" \
				SOCKSIFY_PROXY=socks5://127.0.0.1:1 "$@"
		}
		# first_addr NAME: the IPv4 address getaddrinfo gives NAME.
		first_addr() {
			"$snip/dns_getaddrinfo" -f inet -t stream "$1" | awk "/^ai /{print \$3; exit}"
		}
		eval "$4"' _ "$NT_LIB" "$NT_CONF" "$NT_DIR" "$1"
}

@test "a FIFO and 100,000 files planted in /dev/shm by another user: the first lookup neither hangs nor opens them" {
	run timeout 120 bash -c "$(declare -f in_private_shm); in_private_shm '
		cd /dev/shm
		mkfifo socksify-fifo socksify-0-0000000000000001 socksify-u0
		seq 1 100000 | sed s/^/socksify-p/ | xargs touch
		find . -name \"socksify-*\" -print0 | xargs -0 chown 65534
		cd /
		timeout 20 strace -f -qq -e trace=open,openat -o /tmp/sfy-nt-strace.\$\$ \
			env LD_PRELOAD=\$lib SOCKSIFY_CONF=\$conf SOCKSIFY_PROXY=socks5://127.0.0.1:1 \
			\$snip/dns_getaddrinfo -f inet -t stream first.test
		echo \"rc=\$?\"
		echo \"opened=\$(grep -c /dev/shm/ /tmp/sfy-nt-strace.\$\$)\"
		grep /dev/shm/ /tmp/sfy-nt-strace.\$\$ | head -n 5
		rm -f /tmp/sfy-nt-strace.\$\$'"
	echo "$output"
	assert_line --regexp "$FAKE4"
	assert_line 'rc=0'
	assert_output --partial 'use a private one'
	# At most: the user's table path (found taken, so refused) and nothing else.
	local n
	n=$(sed -n 's/^opened=//p' <<<"$output")
	[ "$n" -le 2 ]
}

@test "a symlink planted at the user's table path is never followed" {
	run in_private_shm '
		echo original >/tmp/sfy-nt-target.$$
		ln -s /tmp/sfy-nt-target.$$ /dev/shm/socksify-u0
		pre "$snip/dns_getaddrinfo" -f inet -t stream link.test
		echo "rc=$?"
		echo "target=$(cat /tmp/sfy-nt-target.$$)"
		rm -f /tmp/sfy-nt-target.$$'
	assert_line --regexp "$FAKE4"
	assert_line 'rc=0'
	assert_line 'target=original'
	assert_output --partial 'use a private one'
}

@test "1,000 short-lived processes of two users leave exactly one table per user, 0600 and its own" {
	run timeout 600 bash -c "$(declare -f in_private_shm); in_private_shm '
		for i in \$(seq 1 500); do
			pre \$snip/dns_getaddrinfo -f inet -t stream r\$i.many.test >/dev/null || { echo fail root \$i; exit 1; }
		done
		for i in \$(seq 1 500); do
			as_nobody \$snip/dns_getaddrinfo -f inet -t stream n\$i.many.test >/dev/null || { echo fail nobody \$i; exit 1; }
		done
		cd /dev/shm && stat -c \"%n %u %a %F\" * | sort'"
	echo "$output"
	assert_success
	assert_equal "${#lines[@]}" 2
	assert_line --index 0 'socksify-u0 0 600 regular file'
	assert_line --index 1 'socksify-u65534 65534 600 regular file'
}

@test "unrelated processes of one user share the table: a second process connects by the first one's name" {
	run in_private_shm '
		a=$(pre "$snip/dns_getaddrinfo" -f inet -t stream shared.test | awk "/^ai /{print \$3; exit}")
		echo "resolved $a"
		pre python3 "$SFY_TOP/tests/e2e/shim/connect_errno.py" "$a" 80'
	assert_line --regexp '^resolved 2(4[0-9]|5[0-5])\.'
	# Reached the proxy step (the name was found): the closed proxy port refuses.
	assert_line --regexp '^result=ECONNREFUSED'
}

@test "a fake address from another user's table is refused, never sent as one of ours" {
	# The negative twin: root's process has names of its own at the lowest indexes
	# of its table (all 20 resolved first, in the same process); nobody's first name
	# must not be mistaken for one of them.
	run in_private_shm '
		a=$(as_nobody "$snip/dns_getaddrinfo" -f inet -t stream theirs.test | awk "/^ai /{print \$3; exit}")
		echo "theirs $a"
		pre python3 -c "
import socket, sys, errno
for i in range(20):
    socket.getaddrinfo(\"ours%d.test\" % i, 80, socket.AF_INET, socket.SOCK_STREAM)
s = socket.socket()
rc = s.connect_ex((sys.argv[1], 80))
print(\"result=%s\" % errno.errorcode.get(rc, rc))" "$a"'
	assert_line --regexp '^theirs 2(4[0-9]|5[0-5])\.'
	assert_line 'result=EHOSTUNREACH'
}
