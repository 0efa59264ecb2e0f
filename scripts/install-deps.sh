#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need, and nothing
# when they are all there (one dpkg-query, well under a second). As root it runs
# apt-get; otherwise it prints the exact command and exits 1.

set -u

# Build: the compilers, libFuzzer (clang's runtime, libclang-rt-14-dev on Debian 12),
# and the libraries the SPEC names.
BUILD_PKGS=(gcc make libc6-dev clang libclang-rt-14-dev uthash-dev libbsd-dev libcrypt-dev
	pkg-config)
# Tests: bats, the real clients and servers the suites run against, the namespace
# topology's tools (iproute2, dnsmasq, python3 for the echo/HTTP/canary servers); for
# 24-server-prod: HAProxy (the balancer), prometheus (promtool), systemd
# (systemd-socket-activate).
TEST_PKGS=(bats bats-support bats-assert curl wget ncat dnsutils ldnsutils dnsmasq-base python3
	iproute2 iputils-ping procps proxychains4 dante-client dante-server microsocks
	openssh-server openssh-client torsocks socat git nodejs openssl
	haproxy prometheus systemd
	# 45-system (machine-wide): the 32-bit library and a 32-bit test program, sudo in
	# the battery, strace for the start-up syscall count and the atomic-write check.
	gcc-multilib sudo strace)
# 55-nametable: strace counts a first lookup's opens; unshare and setpriv (util-linux)
# give it a private /dev/shm and a second user.
TEST_PKGS+=(strace util-linux)
# The supervisor suite (70-supervisor): Go programs built by the suite, static busybox,
# an io_uring client.
SUPERVISOR_PKGS=(golang-go busybox-static liburing-dev)
# The asynchronous-connect suite (80-async): nginx proxy_pass to an upstream through the
# shim (edge-triggered epoll, registered before connect).
ASYNC_PKGS=(nginx-light)
# Browsers for the DNS-leak suite (50-dns-browsers, headless).
BROWSER_PKGS=(chromium firefox-esr)
# Benchmarks (scripts/bench).
BENCH_PKGS=(hyperfine time)
PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${SUPERVISOR_PKGS[@]}" "${ASYNC_PKGS[@]}"
	"${BROWSER_PKGS[@]}" "${BENCH_PKGS[@]}")

# missing_pkgs: every package in PKGS that dpkg does not list as installed ("ii").
missing_pkgs() {
	local -A have=()
	local name status p
	while read -r name status; do
		[ "$status" = ii ] && have[$name]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null)
	for p in "${PKGS[@]}"; do
		[ -n "${have[$p]:-}" ] || printf '%s\n' "$p"
	done
}

mapfile -t MISSING < <(missing_pkgs)
[ ${#MISSING[@]} -eq 0 ] && exit 0

CMD=(apt-get install -y --no-install-recommends "${MISSING[@]}")
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages: ${MISSING[*]}" >&2
	echo "install-deps: run as root:" >&2
	echo "  DEBIAN_FRONTEND=noninteractive ${CMD[*]}" >&2
	exit 1
fi

echo "install-deps: installing ${MISSING[*]}"
export DEBIAN_FRONTEND=noninteractive

# dante-server's and openssh-server's maintainer scripts start their daemons through
# invoke-rc.d; a policy-rc.d answering 101 ("action forbidden") keeps this machine free
# of a danted or sshd nobody asked for. Only ours is removed afterwards.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# temporary, from socksify scripts/install-deps.sh\nexit 101\n' >"$POLICY" &&
		chmod 755 "$POLICY" && OWN_POLICY=1
fi
cleanup() {
	[ "$OWN_POLICY" = 1 ] && rm -f "$POLICY"
}
trap cleanup EXIT

# Fresh machines may have no package lists at all; otherwise try the lists we have and
# update only when that fails (an update costs seconds to minutes).
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
	apt-get update -q || exit 1
fi
if ! "${CMD[@]}"; then
	echo "install-deps: install failed; updating package lists and retrying" >&2
	apt-get update -q && "${CMD[@]}" || exit 1
fi

# The packaged services must not be enabled at boot either (systemd machines only).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now danted >/dev/null 2>&1 || true
fi

mapfile -t MISSING < <(missing_pkgs)
if [ ${#MISSING[@]} -ne 0 ]; then
	echo "install-deps: still missing after install: ${MISSING[*]}" >&2
	exit 1
fi
echo "install-deps: done"
