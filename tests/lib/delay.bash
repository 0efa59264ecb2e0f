# A proxy "far away": tests/lib/delay_relay.py in front of a server, holding every chunk
# DELAY ms in each direction (the kernel here has no netem). Loaded after common.bash.
#
#   delay_relay NS LISTEN_ADDR TO_ADDR TO_PORT [DELAY_MS] [LIFETIME_S]
#       starts the relay in namespace NS on LISTEN_ADDR (a free port), exports
#       DELAY_RELAY_PORT; it exits by itself after LIFETIME_S (default 900) seconds.
delay_relay() {
	local ns=$1 laddr=$2 taddr=$3 tport=$4 delay=${5:-50} life=${6:-900} log
	log=$NETNS_DIR/delay-$taddr-$tport.log
	netns_bg "$ns" "$log" "$NETNS_PY" "$NETNS_LIB_DIR/delay_relay.py" "$laddr" 0 "$taddr" \
		"$tport" "$delay" "$life"
	wait_for_line "$log" '^delay-relay ready [0-9]+' 10 || return 1
	DELAY_RELAY_PORT=$(sed -n 's/^delay-relay ready \([0-9]*\).*/\1/p' "$log" | head -n 1)
	export DELAY_RELAY_PORT
}
