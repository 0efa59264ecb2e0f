#!/usr/bin/env bats
# socksifyd operations: command line and its errors, the open-proxy refusal, users
# files (plain and crypt(3) hashes), SIGHUP reload without dropping sessions, SIGUSR1
# counters, SIGTERM exit 0, systemd readiness over NOTIFY_SOCKET, --pidfile, logging.

load '../lib/common'

TOOL="$BATS_TEST_DIRNAME/server/srvtool.py"

setup_file() {
	require_file "$SOCKSIFYD"
	netns_bg - "$BATS_FILE_TMPDIR/echo.log" "$NETNS_PY" -u "$TOOL" echo-tcp
	wait_for_line "$BATS_FILE_TMPDIR/echo.log" '^port [0-9]+' 10
	TCP_PORT=$(awk '/^port/ {print $2; exit}' "$BATS_FILE_TMPDIR/echo.log")
	export TCP_PORT
}

teardown_file() {
	stop_recorded
}

teardown() {
	[ -n "${SOCKSIFYD_PID:-}" ] && stop_socksifyd
	[ -n "${LOG:-}" ] && assert_no_sanitizer "$LOG"
	SOCKSIFYD_PID=
	LOG=
}

# A fresh log per start: start_socksifyd must not see the previous run's readiness line.
SRV_N=0
srv() {
	SRV_N=$((SRV_N + 1))
	LOG=$BATS_TEST_TMPDIR/srv.$SRV_N.log
	start_socksifyd - "$LOG" "$@" || return 1
	PROXY=127.0.0.1:$SOCKSIFYD_PORT
}

probe() {
	run timeout 60 "$NETNS_PY" "$TOOL" probe "$@"
	echo "$output"
	assert_success
	refute_output --partial FAIL
}

# auth_probe USER PASSWORD: 0 when a CONNECT with these credentials works.
auth_ok() {
	timeout 20 "$NETNS_PY" "$TOOL" probe echo --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" \
		--user "$1" --password "$2" >/dev/null 2>&1
}

@test "non-loopback listener without --users: refused with the reason, exit 1" {
	run "$SOCKSIFYD" -l 0.0.0.0:0
	assert_failure 1
	assert_output --partial "open proxy"
	assert_output --partial "--open"
	run "$SOCKSIFYD" -l '[::]:0'
	assert_failure 1
}

@test "non-loopback listener with --open, or with --users, starts" {
	srv -l 0.0.0.0:0 --open
	stop_socksifyd
	printf 'alice:pw\n' >"$BATS_TEST_TMPDIR/users"
	srv -l 0.0.0.0:0 -u "$BATS_TEST_TMPDIR/users"
	grep -q 'listening on 0\.0\.0\.0:[0-9]' "$LOG"
}

@test "bad options: a clear message and exit 2" {
	local bad
	for bad in "--max-sessions abc" "--max-sessions 0" "--idle-timeout -1" "--bogus" \
		"-l nonsense" "-l 127.0.0.1:99999" "-a 300.1.1.1/8" "--deny-dest ::bad::rule" \
		"--udp-advertise host.name" "extra-arg"; do
		# shellcheck disable=SC2086
		run "$SOCKSIFYD" $bad
		echo "$bad -> $status: $output"
		assert_failure 2
		assert_output --partial "socksifyd"
	done
}

@test "-h and -V" {
	run "$SOCKSIFYD" -h
	assert_success
	assert_output --partial "--max-per-client"
	run "$SOCKSIFYD" -V
	assert_success
	assert_output --regexp '^socksifyd [0-9]+\.[0-9]+'
}

@test "bad users file: missing or malformed, exit 1 naming the file and line" {
	run "$SOCKSIFYD" -u "$BATS_TEST_TMPDIR/nope"
	assert_failure 1
	assert_output --partial "nope"
	printf 'alice:pw\nno-colon-here\n' >"$BATS_TEST_TMPDIR/bad"
	run "$SOCKSIFYD" -u "$BATS_TEST_TMPDIR/bad"
	assert_failure 1
	assert_output --partial "bad:2"
}

@test "users file with crypt(3) hashes (\$1\$ \$5\$ \$6\$ \$y\$) and plain passwords" {
	require_cmd openssl
	{
		echo "# comment"
		echo "md5:$(openssl passwd -1 pw1)"
		echo "sha256:$(openssl passwd -5 pw5)"
		echo "sha512:$(openssl passwd -6 pw6)"
		echo "yes:$(/usr/bin/python3 -W ignore -c "import crypt; print(crypt.crypt('pwy', '\$y\$j9T\$F5Jx5fExrKuPp53xLKQ..1\$'))")"
		echo "plain:pwp"
	} >"$BATS_TEST_TMPDIR/users"
	srv -l 127.0.0.1:0 --allow-local-dest -u "$BATS_TEST_TMPDIR/users"
	auth_ok md5 pw1
	auth_ok sha256 pw5
	auth_ok sha512 pw6
	auth_ok yes pwy
	auth_ok plain pwp
	! auth_ok sha512 pw5
	! auth_ok yes wrong
	! auth_ok plain pwpx
	! auth_ok nobody pwp
	probe auth --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --user sha512 --password pw6
	probe pipelined --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --user plain --password pwp
	# The hash is checked on a worker; the request queued behind it must still be served.
	probe pipelined --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --user yes --password pwy
}

@test "SIGHUP reloads users and ACLs without dropping sessions; a bad file keeps the old" {
	printf 'alice:a1\n' >"$BATS_TEST_TMPDIR/users"
	: >"$BATS_TEST_TMPDIR/acl"
	srv -l 127.0.0.1:0 --allow-local-dest -u "$BATS_TEST_TMPDIR/users" --acl "$BATS_TEST_TMPDIR/acl"
	local fifo=$BATS_TEST_TMPDIR/hold.in
	mkfifo "$fifo"
	"$NETNS_PY" -u "$TOOL" probe hold --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT" --hold 1 \
		--user alice --password a1 <"$fifo" >"$BATS_TEST_TMPDIR/hold.out" 2>&1 &
	local hp=$!
	exec 5>"$fifo"
	wait_for_line "$BATS_TEST_TMPDIR/hold.out" '^held 1' 10
	auth_ok alice a1
	! auth_ok bob b1

	printf 'bob:b1\n' >"$BATS_TEST_TMPDIR/users"
	printf 'deny-dest 10.0.0.0/8\n' >"$BATS_TEST_TMPDIR/acl"
	kill -HUP "$SOCKSIFYD_PID"
	wait_for_line "$LOG" 'reloaded: 1 users, 0 allow rules, 1 deny rules' 5
	auth_ok bob b1
	! auth_ok alice a1

	printf 'broken line\n' >"$BATS_TEST_TMPDIR/users"
	kill -HUP "$SOCKSIFYD_PID"
	wait_for_line "$LOG" 'keeping the 1 users loaded before' 5
	auth_ok bob b1

	# The session opened before both reloads still relays.
	exec 5>&-
	wait "$hp"
	run cat "$BATS_TEST_TMPDIR/hold.out"
	assert_output --partial "ok held session alive"
	refute_output --partial FAIL
}

@test "SIGHUP reloads the --acl file: a new deny-dest rule applies (REP 2)" {
	: >"$BATS_TEST_TMPDIR/acl"
	srv -l 127.0.0.1:0 --allow-local-dest --acl "$BATS_TEST_TMPDIR/acl"
	probe rep --proxy "$PROXY" --dest "127.0.0.1:$TCP_PORT" --want 0
	printf '# no more echo\ndeny-dest 127.0.0.1:%s\n' "$TCP_PORT" >"$BATS_TEST_TMPDIR/acl"
	kill -HUP "$SOCKSIFYD_PID"
	wait_for_line "$LOG" 'reloaded:' 5
	probe rep --proxy "$PROXY" --dest "127.0.0.1:$TCP_PORT" --want 2
}

@test "SIGUSR1 logs live counters" {
	srv -l 127.0.0.1:0 --allow-local-dest
	probe basic --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT"
	kill -USR1 "$SOCKSIFYD_PID"
	wait_for_line "$LOG" 'counters: sessions active=[0-9]+ total=1 .*bytes up=[1-9][0-9]* down=[1-9].*; now handshaking=0 connecting=0 relaying=[01] udp=0 bind=0' 5
}

@test "SIGTERM with open sessions: stops accepting, closes them, exits 0" {
	LOG=$BATS_TEST_TMPDIR/term.log
	"$SOCKSIFYD" -l 127.0.0.1:0 --allow-local-dest -v >"$LOG" 2>&1 &
	local pid=$! fifo=$BATS_TEST_TMPDIR/hold.in port
	wait_for_line "$LOG" 'listening on' 10
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOG")
	mkfifo "$fifo"
	"$NETNS_PY" -u "$TOOL" probe hold --proxy "127.0.0.1:$port" --target "127.0.0.1:$TCP_PORT" \
		--hold 3 <"$fifo" >"$BATS_TEST_TMPDIR/hold.out" 2>&1 &
	local hp=$!
	exec 5>"$fifo"
	wait_for_line "$BATS_TEST_TMPDIR/hold.out" '^held 3' 10
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	grep -q 'end="server shutdown"' "$LOG"
	exec 5>&-
	wait "$hp" || true
	assert_no_sanitizer "$LOG"
}

@test "NOTIFY_SOCKET: READY=1 with MAINPID once listening, STOPPING=1 at exit" {
	local sock=$BATS_TEST_TMPDIR/notify.sock
	netns_bg - "$BATS_TEST_TMPDIR/notify.out" "$NETNS_PY" -u "$BATS_TEST_DIRNAME/server/notify.py" \
		"$sock" 20
	wait_for_line "$BATS_TEST_TMPDIR/notify.out" '^ready' 5
	NOTIFY_SOCKET=$sock srv -l 127.0.0.1:0
	wait_for_line "$BATS_TEST_TMPDIR/notify.out" "^msg READY=1 MAINPID=$SOCKSIFYD_PID\$" 5
	stop_socksifyd
	wait_for_line "$BATS_TEST_TMPDIR/notify.out" '^msg STOPPING=1' 5
}

@test "--pidfile written at start, removed at exit" {
	srv -l 127.0.0.1:0 --pidfile "$BATS_TEST_TMPDIR/sd.pid"
	run cat "$BATS_TEST_TMPDIR/sd.pid"
	assert_output "$SOCKSIFYD_PID"
	stop_socksifyd
	[ ! -e "$BATS_TEST_TMPDIR/sd.pid" ]
}

@test "logging: quiet by default, one line per session with -v, -L FILE" {
	srv -l 127.0.0.1:0 --allow-local-dest
	probe basic --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT"
	stop_socksifyd
	run grep -c 'session client=' "$LOG"
	assert_output 0
	srv -l 127.0.0.1:0 --allow-local-dest -v -L "$BATS_TEST_TMPDIR/file.log"
	probe basic --proxy "$PROXY" --target "127.0.0.1:$TCP_PORT"
	stop_socksifyd
	run grep -c 'session client=127.0.0.1' "$BATS_TEST_TMPDIR/file.log"
	assert_output 1
	grep -q 'listening on' "$LOG"
	run grep -c 'session client=' "$LOG"
	assert_output 0
}

@test "Happy Eyeballs: a name whose IPv6 address refuses falls back to IPv4 at once" {
	srv -l 127.0.0.1:0 --allow-local-dest -v
	# localhost is ::1 then 127.0.0.1; the echo target listens on 127.0.0.1 only.
	local t0 t1
	t0=$(date +%s%N)
	probe rep --proxy "$PROXY" --dest "localhost:$TCP_PORT" --want 0
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 2000 ]
	wait_for_line "$LOG" "asked=localhost:$TCP_PORT dest=127\.0\.0\.1:$TCP_PORT" 5
}
