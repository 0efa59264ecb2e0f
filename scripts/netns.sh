#!/usr/bin/env bash
# The e2e namespace topology by hand, for debugging a suite or trying things out:
#   scripts/netns.sh up              build it; prints the variables to eval
#   scripts/netns.sh down NETNS_DIR  tear down the one whose state dir is given
# Same code as the suites use (tests/lib/netns.bash). Needs root.

set -u
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/lib/netns.bash
source tests/lib/netns.bash
skip() {
	echo "netns.sh: $*" >&2
	exit 1
}

case "${1:-}" in
up)
	netns_up || exit 1
	for v in NETNS_DIR NS_CLIENT NS_PROXY NS_TARGET NETNS_MARKER; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	echo "# e.g.: ip netns exec \$NS_CLIENT curl http://$NS_TARGET_IP/   (fails: no route)" >&2
	echo "# when done: scripts/netns.sh down $NETNS_DIR" >&2
	;;
down)
	[ -n "${2:-}" ] || { echo "usage: $0 down NETNS_DIR" >&2; exit 2; }
	case "$2" in /tmp/sfy-netns.*) ;; *) echo "netns.sh: not a topology dir: $2" >&2; exit 2 ;; esac
	NETNS_DIR=$2
	netns_down
	;;
*)
	echo "usage: $0 up | down NETNS_DIR" >&2
	exit 2
	;;
esac
