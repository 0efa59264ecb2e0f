#!/usr/bin/env bats
# The socksify launcher: every option, the exit statuses (125/126/127 and COMMAND's
# own), config and URL errors, what it hands the library (LD_PRELOAD, SOCKSIFY_*),
# --env, finding the library, the static/setuid warnings, and --check against a live
# socksifyd on loopback. Most tests need no network and preload a do-nothing library,
# so they test the launcher alone, whatever state the real library is in.

load '../lib/common'
bats_require_minimum_version 1.5.0

setup_file() {
	T=$BATS_FILE_TMPDIR
	export T
	# A valid shared object that does nothing: LD_PRELOAD loads it without a word.
	cc -shared -fPIC -o "$T/libsocksify.so" -x c /dev/null
	cc -shared -fPIC -o "$T/other.so" -x c /dev/null
	mkdir -p "$T/home" "$T/spy"
	# One that says when it is loaded, to see which processes get it.
	printf '#include <unistd.h>\n__attribute__((constructor)) static void spy(void)
{ write(2, "SPY-LOADED\\n", 11); }\n' >"$T/spy.c"
	cc -shared -fPIC -o "$T/spy/libsocksify.so" "$T/spy.c"
	# A statically linked program, if this machine has libc.a.
	printf 'int main(void) { return 3; }\n' >"$T/st.c"
	cc -static -o "$T/static" "$T/st.c" 2>/dev/null || rm -f "$T/static"
}

teardown_file() {
	stop_recorded
}

setup() {
	# Hermetic: our dummy library, no user or inherited socksify settings.
	unset SOCKSIFY_PROXY SOCKSIFY_CONF SOCKSIFY_DNS SOCKSIFY_UDP SOCKSIFY_DIRECT \
		SOCKSIFY_LOG SOCKSIFY_LOG_FILE LD_PRELOAD
	export SOCKSIFY_LIB=$T/libsocksify.so HOME=$T/home
	[ -x "$SOCKSIFY" ] || fail "$SOCKSIFY not built (make all builds it)"
}

# sfy_env VAR ARGS...: the value of VAR as COMMAND sees it under `socksify ARGS`.
sfy_env() {
	local var=$1
	shift
	"$SOCKSIFY" "$@" -- printenv "$var"
}

# ---- options, help, version ----

@test "-V and --version print 'socksify VERSION'" {
	run "$SOCKSIFY" -V
	assert_success
	assert_output --regexp '^socksify [0-9]+\.[0-9]+\.[0-9]+$'
	run "$SOCKSIFY" --version
	assert_success
	assert_output --regexp '^socksify [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "-h and --help list every option" {
	run "$SOCKSIFY" --help
	assert_success
	local o
	for o in -p --proxy -f --config -d --dns -u --udp -x --direct -q --quiet -v --verbose \
		-L --log-file --check --env --route -h --help -V --version; do
		assert_output --partial -- "$o"
	done
	run "$SOCKSIFY" -h
	assert_success
	assert_line --partial 'usage: socksify'
}

@test "no COMMAND is an error: 125" {
	run "$SOCKSIFY"
	assert_failure 125
	assert_output --partial 'socksify: no COMMAND'
}

@test "an unknown option is an error: 125 (short and long)" {
	run "$SOCKSIFY" -Z true
	assert_failure 125
	assert_output --partial 'unknown option -Z'
	run "$SOCKSIFY" --no-such-thing true
	assert_failure 125
	assert_output --partial 'unknown option --no-such-thing'
}

@test "an option without its value is an error: 125" {
	run "$SOCKSIFY" -p
	assert_failure 125
	assert_output --partial 'needs a value'
	run "$SOCKSIFY" --dns
	assert_failure 125
	assert_output --partial 'needs a value'
}

@test "options stop at COMMAND: its own -v and -p are its arguments" {
	run "$SOCKSIFY" sh -c 'echo "$@"' argv0 -v -p x --env
	assert_success
	assert_output '-v -p x --env'
	run "$SOCKSIFY" -- sh -c 'echo "$1"' argv0 --help
	assert_success
	assert_output '--help'
}

# ---- exit statuses ----

@test "COMMAND's own exit status is kept" {
	run "$SOCKSIFY" sh -c 'exit 42'
	assert_failure 42
	run "$SOCKSIFY" true
	assert_success
	assert_output ''
}

@test "COMMAND not found: 127" {
	run -127 "$SOCKSIFY" no-such-command-xyz
	assert_output --partial 'no-such-command-xyz: command not found'
	run -127 "$SOCKSIFY" "$T/no/such/file"
	assert_output --partial 'No such file' 
}

@test "COMMAND exists but cannot be executed: 126" {
	printf 'echo hi\n' >"$T/noexec"
	chmod 644 "$T/noexec"
	run "$SOCKSIFY" "$T/noexec"
	assert_failure 126
	assert_output --partial 'Permission denied'
	run "$SOCKSIFY" "$T"
	assert_failure 126
}

@test "COMMAND from PATH is executed as execvp would: a script without #! runs under sh" {
	# The launcher execs the file it found on PATH directly (no walk of failing
	# execve()s); a script with no #! line must still run, as execvp runs it.
	mkdir -p "$T/pbin"
	printf 'echo "ran as $0 with $1"\n' >"$T/pbin/nobang"
	chmod 755 "$T/pbin/nobang"
	run env PATH="$T/pbin:$PATH" "$SOCKSIFY" nobang arg1
	assert_success
	assert_output "ran as $T/pbin/nobang with arg1"
	# A program found on PATH is exec'd by its path: strace shows no failed execve in
	# the directories before it (the script above goes through execvp's walk, as it must).
	require_cmd strace
	cp /bin/true "$T/pbin/mytrue"
	run env PATH="/nonexistent-a:/nonexistent-b:$T/pbin:$PATH" strace -f -e trace=execve \
		"$SOCKSIFY" mytrue
	assert_success
	assert_output --partial "execve(\"$T/pbin/mytrue\""
	refute_output --partial "/nonexistent-a/mytrue"
}

# ---- what the library gets ----

@test "-p sets SOCKSIFY_PROXY verbatim; repeated -p makes a comma-separated chain" {
	run sfy_env SOCKSIFY_PROXY -p socks5://alice:pw@127.0.0.1:1081
	assert_success
	assert_output 'socks5://alice:pw@127.0.0.1:1081'
	run sfy_env SOCKSIFY_PROXY -p socks5://h1:1 --proxy socks4a://h2:2 -p http://h3:3
	assert_success
	assert_output 'socks5://h1:1,socks4a://h2:2,http://h3:3'
}

@test "a ',' in a -p password is percent-encoded so the list still splits right" {
	run sfy_env SOCKSIFY_PROXY -p 'socks5://alice:a,b@h1:1' -p socks5://h2:2
	assert_success
	assert_output 'socks5://alice:a%2Cb@h1:1,socks5://h2:2'
	# The library's own parser (same conf.c) reads it back: the launcher accepts it.
	SOCKSIFY_PROXY=$output run "$SOCKSIFY" true
	assert_success
}

@test "-d, -u, -x, -q, -v, -L set their variables" {
	run sfy_env SOCKSIFY_DNS -d local
	assert_output 'local'
	run sfy_env SOCKSIFY_UDP --udp block
	assert_output 'block'
	run sfy_env SOCKSIFY_DIRECT -x 10.0.0.0/8 --direct '*.lan' -x :443
	assert_output '10.0.0.0/8,*.lan,:443'
	run sfy_env SOCKSIFY_LOG -q
	assert_output 'error'
	run sfy_env SOCKSIFY_LOG -v
	assert_output 'info'
	run sfy_env SOCKSIFY_LOG -vv
	assert_output 'debug'
	run sfy_env SOCKSIFY_LOG --verbose --verbose --quiet
	assert_output 'info'
	cd "$T"
	run sfy_env SOCKSIFY_LOG_FILE -L rel.log
	assert_output "$T/rel.log"
}

@test "-x adds to SOCKSIFY_DIRECT already in the environment" {
	SOCKSIFY_DIRECT=192.168.0.0/16 run sfy_env SOCKSIFY_DIRECT -x 10.0.0.0/8
	assert_success
	assert_output '192.168.0.0/16,10.0.0.0/8'
}

@test "without options only LD_PRELOAD is set (the name table is the user's, named by nobody)" {
	run env -u SOCKSIFY_NAMETABLE "$SOCKSIFY" sh -c 'env | grep -E "^(SOCKSIFY_|LD_PRELOAD)" | sort'
	assert_success
	assert_line --index 0 "LD_PRELOAD=$T/libsocksify.so"
	assert_line --index 1 "SOCKSIFY_LIB=$T/libsocksify.so"
	assert_equal "${#lines[@]}" 2
}

@test "the name table: an inherited one is kept, dns=local names none" {
	run env SOCKSIFY_NAMETABLE=/dev/shm/socksify-0-00000000000000aa "$SOCKSIFY" sh -c 'echo "$SOCKSIFY_NAMETABLE"'
	assert_success
	assert_output /dev/shm/socksify-0-00000000000000aa
	run env -u SOCKSIFY_NAMETABLE "$SOCKSIFY" -d local sh -c 'echo "[${SOCKSIFY_NAMETABLE-}]"'
	assert_success
	assert_output "[]"
}

@test "bad values of -d, -u, -x are errors: 125" {
	run "$SOCKSIFY" -d sideways true
	assert_failure 125
	assert_output --partial 'sideways'
	run "$SOCKSIFY" -u maybe true
	assert_failure 125
	assert_output --partial 'maybe'
	run "$SOCKSIFY" -x '10.0.0.0/99' true
	assert_failure 125
	assert_output --partial 'direct'
}

@test "a bad proxy URL names the URL with the password masked: 125" {
	run "$SOCKSIFY" -p 'socks9://alice:hunter2secret@proxy.example:1080' true
	assert_failure 125
	assert_output --partial 'socks9://alice:***@proxy.example:1080'
	refute_output --partial 'hunter2secret'
	run "$SOCKSIFY" -p 'socks5://alice:hunter2secret@:1080' true
	assert_failure 125
	refute_output --partial 'hunter2secret'
	assert_output --partial '***'
	run "$SOCKSIFY" -p 'socks5://alice:hunter2secret@host:99999' true
	assert_failure 125
	refute_output --partial 'hunter2secret'
}

@test "a bad URL in SOCKSIFY_PROXY is caught before exec too: 125" {
	SOCKSIFY_PROXY='socks5://bob:topsecret7@' run "$SOCKSIFY" true
	assert_failure 125
	assert_output --partial 'SOCKSIFY_PROXY'
	refute_output --partial 'topsecret7'
}

@test "a socks4 last hop with dns=remote is refused, pointing at socks4a: 125" {
	run "$SOCKSIFY" -p socks4://127.0.0.1:1080 true
	assert_failure 125
	assert_output --partial 'socks4a'
	run "$SOCKSIFY" -d local -p socks4://127.0.0.1:1080 true
	assert_success
}

# ---- the config file ----

@test "a bad config file names file:line: 125" {
	printf '# comment\nproxy = socks5://127.0.0.1:1080\n\nbogus_key = 1\n' >"$T/bad.conf"
	run "$SOCKSIFY" -f "$T/bad.conf" true
	assert_failure 125
	assert_output --partial "$T/bad.conf:4"
	assert_output --partial 'bogus_key'
	printf 'dns = sometimes\n' >"$T/bad2.conf"
	run "$SOCKSIFY" --config "$T/bad2.conf" true
	assert_failure 125
	assert_output --partial "$T/bad2.conf:1"
}

@test "a bad URL in the config file names file:line and masks the password" {
	printf 'dns = remote\nproxy = socks5://carol:pa55word99@host:notaport\n' >"$T/badurl.conf"
	run "$SOCKSIFY" -f "$T/badurl.conf" true
	assert_failure 125
	assert_output --partial "$T/badurl.conf:2"
	refute_output --partial 'pa55word99'
}

@test "-f and SOCKSIFY_CONF naming a missing file: 125" {
	run "$SOCKSIFY" -f "$T/none.conf" true
	assert_failure 125
	assert_output --partial "$T/none.conf"
	SOCKSIFY_CONF=$T/none.conf run "$SOCKSIFY" true
	assert_failure 125
	assert_output --partial "$T/none.conf"
}

@test "SOCKSIFY_CONF passes the file used, as an absolute path" {
	printf 'dns = local\n' >"$T/good.conf"
	cd "$T"
	run sfy_env SOCKSIFY_CONF -f good.conf
	assert_success
	assert_output "$T/good.conf"
	SOCKSIFY_CONF=good.conf run sfy_env SOCKSIFY_CONF
	assert_output "$T/good.conf"
}

@test "~/.config/socksify/socksify.conf is read when nothing else is named" {
	mkdir -p "$HOME/.config/socksify"
	printf 'proxy = socks5://127.0.0.1:1090\n' >"$HOME/.config/socksify/socksify.conf"
	run sfy_env SOCKSIFY_CONF
	assert_success
	assert_output "$HOME/.config/socksify/socksify.conf"
	printf 'nonsense\n' >"$HOME/.config/socksify/socksify.conf"
	run "$SOCKSIFY" true
	assert_failure 125
	assert_output --partial "$HOME/.config/socksify/socksify.conf:1"
	rm -rf "$HOME/.config"
}

@test "-p replaces the config file's proxies" {
	# As a last hop with dns=remote, this socks4 proxy would be an error...
	printf 'proxy = socks4://127.0.0.1:1080\n' >"$T/s4.conf"
	run "$SOCKSIFY" -f "$T/s4.conf" true
	assert_failure 125
	# ...but -p replaces it.
	run "$SOCKSIFY" -f "$T/s4.conf" -p socks5://127.0.0.1:1080 true
	assert_success
}

@test "socksify.conf.example parses, as shipped and with every key uncommented" {
	run "$SOCKSIFY" -f "$SFY_TOP/socksify.conf.example" true
	assert_success
	sed -E 's/^#([a-z_]+ = )/\1/; s/^#   ([a-z_]+ = )/\1/' "$SFY_TOP/socksify.conf.example" \
		>"$T/all.conf"
	local k
	for k in proxy chain chain_len dns udp direct block connect_timeout log log_file; do
		grep -Eq "^$k = " "$T/all.conf" || fail "key $k not documented in the example"
	done
	run "$SOCKSIFY" -f "$T/all.conf" true
	assert_success
}

# ---- --env ----

@test "--env prints export lines that evaluate in bash to the right variables" {
	printf 'dns = remote\n' >"$T/env.conf"
	run "$SOCKSIFY" -f "$T/env.conf" -p "socks5://al ice:it's\$HOME\`x\`@127.0.0.1:1081" \
		-d local -u block -x 10.0.0.0/8 -v --env
	assert_success
	assert_line --regexp '^export LD_PRELOAD='
	local out=$output
	run bash -c 'eval "$1" && printf "%s\n" "$LD_PRELOAD" "$SOCKSIFY_PROXY" "$SOCKSIFY_DNS" \
		"$SOCKSIFY_UDP" "$SOCKSIFY_DIRECT" "$SOCKSIFY_LOG" "$SOCKSIFY_CONF"' _ "$out"
	assert_success
	assert_output "$T/libsocksify.so
socks5://al ice:it's\$HOME\`x\`@127.0.0.1:1081
local
block
10.0.0.0/8
info
$T/env.conf"
}

@test "--env twice in one shell does not load the library twice" {
	run bash -c 'eval "$("$1" --env)" && eval "$("$1" --env)" && echo "$LD_PRELOAD"' _ "$SOCKSIFY"
	assert_success
	assert_output "$T/libsocksify.so"
}

@test "--env and --check take no COMMAND; not both: 125" {
	run "$SOCKSIFY" --env true
	assert_failure 125
	run "$SOCKSIFY" --check true
	assert_failure 125
	run "$SOCKSIFY" --check --env
	assert_failure 125
}

# ---- LD_PRELOAD and the library ----

@test "the library is prepended to LD_PRELOAD, keeping what was there" {
	LD_PRELOAD=$T/other.so run sfy_env LD_PRELOAD
	assert_success
	assert_output "$T/libsocksify.so:$T/other.so"
	# ld.so also separates with spaces.
	LD_PRELOAD="$T/other.so $T/other.so" run sfy_env LD_PRELOAD
	assert_output "$T/libsocksify.so:$T/other.so:$T/other.so"
}

@test "the library is never in LD_PRELOAD twice (also under another name)" {
	LD_PRELOAD=$T/libsocksify.so run sfy_env LD_PRELOAD
	assert_output "$T/libsocksify.so"
	LD_PRELOAD="$T/other.so:$T/libsocksify.so" run sfy_env LD_PRELOAD
	assert_output "$T/libsocksify.so:$T/other.so"
	ln -sf "$T/libsocksify.so" "$T/alias.so"
	LD_PRELOAD="$T/alias.so:$T/other.so" run sfy_env LD_PRELOAD
	assert_output "$T/libsocksify.so:$T/other.so"
}

@test "SOCKSIFY_LIB naming a missing file: 125, and COMMAND is not run" {
	SOCKSIFY_LIB=$T/missing/libsocksify.so run "$SOCKSIFY" touch "$T/ran"
	assert_failure 125
	assert_output --partial "$T/missing/libsocksify.so"
	[ ! -e "$T/ran" ]
}

@test "SOCKSIFY_LIB relative is made absolute" {
	cd "$T"
	SOCKSIFY_LIB=./libsocksify.so run sfy_env LD_PRELOAD
	assert_success
	assert_output "$T/libsocksify.so"
}

@test "the library is found next to the socksify binary" {
	mkdir -p "$T/inst"
	cp "$SOCKSIFY" "$T/inst/socksify"
	cp "$T/libsocksify.so" "$T/inst/libsocksify.so"
	unset SOCKSIFY_LIB
	run "$T/inst/socksify" printenv LD_PRELOAD
	assert_success
	assert_output "$T/inst/libsocksify.so"
}

@test "no library anywhere: 125 with a clear message" {
	[ -e /usr/local/lib/socksify/libsocksify.so ] && skip "an installed library exists"
	mkdir -p "$T/bare"
	cp "$SOCKSIFY" "$T/bare/socksify"
	unset SOCKSIFY_LIB
	run "$T/bare/socksify" true
	assert_failure 125
	assert_output --partial 'cannot find libsocksify.so'
	assert_output --partial 'SOCKSIFY_LIB'
}

# ---- warnings: programs LD_PRELOAD cannot reach ----

@test "a dynamically linked COMMAND runs without a warning" {
	run "$SOCKSIFY" true
	assert_success
	assert_output ''
}

@test "a statically linked COMMAND runs under the supervisor, without a warning" {
	[ -x "$T/static" ] || skip "cc -static does not work here (no libc.a: libc6-dev not installed)"
	run "$SOCKSIFY" "$T/static"
	assert_failure 3
	assert_output ''
	# Found through PATH as well.
	PATH=$T:$PATH run "$SOCKSIFY" static
	assert_failure 3
	assert_output ''
}

@test "--preload-only: a statically linked COMMAND gets one warning, then runs" {
	[ -x "$T/static" ] || skip "cc -static does not work here (no libc.a: libc6-dev not installed)"
	run "$SOCKSIFY" --preload-only "$T/static"
	assert_failure 3
	assert_output --partial 'statically linked'
	assert_equal "${#lines[@]}" 1
	PATH=$T:$PATH run "$SOCKSIFY" --preload-only static
	assert_failure 3
	assert_output --partial 'statically linked'
	# -q: errors only.
	run "$SOCKSIFY" -q --preload-only "$T/static"
	assert_failure 3
	assert_output ''
}

@test "a script run by a static interpreter: supervised, or warned with --preload-only" {
	[ -x "$T/static" ] || skip "cc -static does not work here (no libc.a: libc6-dev not installed)"
	printf '#!%s\n' "$T/static" >"$T/script"
	chmod 755 "$T/script"
	run "$SOCKSIFY" "$T/script"
	assert_failure 3
	assert_output ''
	run "$SOCKSIFY" --preload-only "$T/script"
	assert_failure 3
	assert_output --partial 'statically linked'
}

@test "--supervise / --preload-only / --jail: bad combinations are refused (125)" {
	run "$SOCKSIFY" --jail --preload-only true
	assert_failure 125
	assert_output --partial 'cannot be used with --preload-only'
	run "$SOCKSIFY" --supervise --env
	assert_failure 125
	assert_output --partial 'need a COMMAND'
}

@test "--supervise: exit status, not-found and not-executable as without it" {
	run "$SOCKSIFY" --supervise sh -c 'exit 7'
	assert_failure 7
	run -127 "$SOCKSIFY" --supervise no-such-command-here
	assert_failure 127
	assert_output --partial 'command not found'
	run "$SOCKSIFY" --supervise /etc/passwd
	assert_failure 126
	run "$SOCKSIFY" --supervise sh -c 'kill -TERM $$'
	assert_failure 143
}

@test "a set-user-ID COMMAND: one warning, then it runs" {
	mkdir -p "$T/suid"
	chmod 755 "$T/suid"
	cp "$(type -P true)" "$T/suid/true"
	# Owned by another user, so exec really changes the effective uid (AT_SECURE).
	chown nobody "$T/suid/true" 2>/dev/null || skip "cannot chown (not root)"
	chmod 4755 "$T/suid/true"
	run "$SOCKSIFY" "$T/suid/true"
	assert_success
	assert_output --partial 'set-user-ID'
	assert_equal "${#lines[@]}" 1
	chmod 0755 "$T/suid/true"
	run "$SOCKSIFY" "$T/suid/true"
	assert_success
	assert_output ''
}

@test "the real library: socksify true loads it and succeeds quietly" {
	local real=$BUILD/libsocksify.so
	[ -f "$real" ] || fail "$real not built (make all builds it)"
	SOCKSIFY_LIB=$real run "$SOCKSIFY" true
	assert_success
	assert_output ''
}

# ---- --check against a live socksifyd on loopback ----

# A TCP listener on 127.0.0.1:0 for CONNECT tests; sets LISTEN_PORT.
start_listener() {
	local log=$T/listener.log
	netns_bg - "$log" "$NETNS_PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("ready", s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.close()'
	wait_for_line "$log" '^ready [0-9]+' 10
	LISTEN_PORT=$(awk '/^ready/ {print $2; exit}' "$log")
}

# run_server NS ADDR ARGS...: socksifyd on ADDR:0 in namespace NS ("-" = here); sets
# SOCKSIFYD_PID, SOCKSIFYD_PORT and SERVER_LOG. (Its own wait rather than
# start_socksifyd's: there `n=$(grep -c ...)` fails the test under errexit when the
# first look comes before the readiness line.)
run_server() {
	local ns=$1 addr=$2
	shift 2
	[ -x "$SOCKSIFYD" ] || fail "$SOCKSIFYD not built (make all builds it)"
	SERVER_LOG=$T/socksifyd-$BATS_TEST_NUMBER-$RANDOM.log
	netns_bg "$ns" "$SERVER_LOG" "$SOCKSIFYD" -l "$addr:0" "$@"
	SOCKSIFYD_PID=$NETNS_BG_PID
	local re=${addr//./\\.}
	wait_for_line "$SERVER_LOG" "socksifyd\\[[0-9]+\\]: listening on $re:[0-9]+" 10
	SOCKSIFYD_PORT=$(sed -n "s/.*listening on $re:\\([0-9]*\\).*/\\1/p" "$SERVER_LOG" | head -n 1)
	[ -n "$SOCKSIFYD_PORT" ]
}

check_server() {
	run_server - 127.0.0.1 --allow-local-dest "$@"
}

@test "--check against a live socksifyd: every step ok, exit 0" {
	check_server
	start_listener
	run "$SOCKSIFY" -p "socks5://127.0.0.1:$SOCKSIFYD_PORT" --check="127.0.0.1:$LISTEN_PORT"
	stop_socksifyd
	assert_success
	assert_line --regexp '^  reachable +ok'
	assert_line --regexp '^  methods +ok .*no-auth'
	assert_line --regexp "^  CONNECT +ok +to 127.0.0.1:$LISTEN_PORT"
	assert_line --regexp '^  UDP ASSOCIATE +ok'
	assert_line --partial 'result: OK'
	assert_no_sanitizer "$SERVER_LOG"
}

@test "--check with username/password: right accepted (0), wrong refused (1)" {
	printf 'alice:rightpw\n' >"$T/users"
	check_server -u "$T/users"
	start_listener
	run "$SOCKSIFY" -p "socks5://alice:rightpw@127.0.0.1:$SOCKSIFYD_PORT" \
		--check="127.0.0.1:$LISTEN_PORT"
	assert_success
	assert_line --regexp '^  methods +ok .*username/password'
	assert_line --regexp '^  auth +ok'
	run "$SOCKSIFY" -p "socks5://alice:wrongpw@127.0.0.1:$SOCKSIFYD_PORT" \
		--check="127.0.0.1:$LISTEN_PORT"
	assert_failure 1
	assert_line --regexp '^  auth +FAIL'
	assert_line --partial 'result: FAILED'
	refute_output --partial 'wrongpw'
	# No credentials at all: the method probe says what is missing.
	run "$SOCKSIFY" -p "socks5://127.0.0.1:$SOCKSIFYD_PORT" --check="127.0.0.1:$LISTEN_PORT"
	stop_socksifyd
	assert_failure 1
	assert_line --regexp '^  methods +FAIL .*username/password'
	assert_no_sanitizer "$SERVER_LOG"
}

@test "--check against a dead port: unreachable, exit 1, within the timeout" {
	# A port that was just free: bind, note, close.
	local port
	port=$("$NETNS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run timeout 20 "$SOCKSIFY" -p "socks5://127.0.0.1:$port" --check=127.0.0.1:9
	assert_failure 1
	assert_line --regexp '^  reachable +FAIL .*refused'
	assert_line --partial 'result: FAILED'
}

@test "--check against a proxy that accepts and never answers: timed out, exit 1, bounded" {
	local log=$T/silent.log
	netns_bg - "$log" "$NETNS_PY" -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("ready", s.getsockname()[1], flush=True)
held = []
end = time.time() + 30
while time.time() < end:
    s.settimeout(1)
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass'
	wait_for_line "$log" '^ready [0-9]+' 10
	local port
	port=$(awk '/^ready/ {print $2; exit}' "$log")
	printf 'connect_timeout = 500\nudp = block\n' >"$T/fast.conf"
	SECONDS=0
	run timeout 20 "$SOCKSIFY" -f "$T/fast.conf" -p "socks5://127.0.0.1:$port" --check=127.0.0.1:9
	assert_failure 1
	assert_line --regexp '^  methods +FAIL .*timed out'
	assert_line --regexp '^  CONNECT +FAIL .*timed out'
	[ "$SECONDS" -le 5 ] || fail "took ${SECONDS}s with connect_timeout 500 ms"
}

@test "--check: a destination the chain cannot reach: the chain works (exit 2), UDP still tested" {
	check_server
	local port
	port=$("$NETNS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run "$SOCKSIFY" -p "socks5://127.0.0.1:$SOCKSIFYD_PORT" --check="127.0.0.1:$port"
	stop_socksifyd
	# The proxy's reply proves the chain: told apart from a broken one (exit 1).
	assert_failure 2
	assert_line --regexp '^  reachable +ok'
	assert_line --regexp '^  CONNECT +FAIL'
	assert_line --regexp "^  chain +ok +the last hop answered, so the chain works; 127\.0\.0\.1:$port cannot be reached from it \(try --check=HOST:PORT"
	assert_line --regexp '^  UDP ASSOCIATE +ok'
	assert_line "result: the chain works, but 127.0.0.1:$port cannot be reached through it"
}

@test "--check: a broken chain is not a destination problem (exit 1, no chain ok line)" {
	local port
	port=$("$NETNS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run timeout 20 "$SOCKSIFY" -p "socks5://127.0.0.1:$port" --check=127.0.0.1:9
	assert_failure 1
	refute_line --regexp '^  chain +ok'
	assert_line "result: FAILED"
}

# ---- --route: the library's routing decision ----

@test "--route: direct by which rule, blocked by which rule, this host" {
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 -x '*.direct.test' -x 10.0.0.0/8 \
		--route web.direct.test:8282
	assert_success
	assert_output "web.direct.test:8282: direct: rule *.direct.test"
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 -x 10.0.0.0/8 --route 10.1.2.3:22
	assert_output "10.1.2.3:22: direct: rule 10.0.0.0/8"
	printf 'proxy = socks5://198.18.1.2:1080\nblock = *.bad.test:443\n' >"$T/route.conf"
	run "$SOCKSIFY" -f "$T/route.conf" --route www.bad.test:443
	assert_success
	assert_output "www.bad.test:443: blocked: rule *.bad.test:443 (EACCES)"
	run "$SOCKSIFY" -f "$T/route.conf" --route 127.0.0.1:80
	assert_output "127.0.0.1:80: direct: this host (loopback or unspecified)"
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 --route 198.18.1.2:1080
	assert_output "198.18.1.2:1080: direct: one of the proxies itself"
}

@test "--route: through which hops, with remote DNS or not" {
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 -p http://198.18.3.3:3128 \
		--route www.example.test:443
	assert_success
	assert_line "www.example.test:443: proxy: strict chain, the last hop asked for www.example.test:443, the name resolved by the last hop (remote DNS)"
	assert_line "  hop 1: socks5://198.18.1.2:1080"
	assert_line "  hop 2: http://198.18.3.3:3128"
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 --route 203.0.113.7:80
	assert_line "203.0.113.7:80: proxy: strict chain, the last hop asked for 203.0.113.7:80, no name sent (resolved on this host)"
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 -d local --route localhost:80
	assert_output "localhost:80: direct: this host (loopback or unspecified)"
}

@test "--route: a bad destination, or with a COMMAND or --check: 125" {
	run "$SOCKSIFY" -p socks5://198.18.1.2:1080 --route nocolon
	assert_failure 125
	assert_output --partial "--route=nocolon"
	run "$SOCKSIFY" --route a.test:1 true
	assert_failure 125
	run "$SOCKSIFY" --route a.test:1 --check
	assert_failure 125
}

@test "--check through a 2-hop chain reports each hop" {
	check_server
	local first=$SOCKSIFYD_PORT first_pid=$SOCKSIFYD_PID
	check_server
	start_listener
	run "$SOCKSIFY" -p "socks5://127.0.0.1:$first" -p "socks5h://127.0.0.1:$SOCKSIFYD_PORT" \
		--check="127.0.0.1:$LISTEN_PORT"
	stop_socksifyd
	stop_socksifyd "$first_pid"
	assert_success
	assert_line 'hop 1: socks5://127.0.0.1:'"$first"
	assert_line --regexp "^  CONNECT +ok +to the next hop 127.0.0.1:$SOCKSIFYD_PORT"
	assert_line --regexp '^hop 2: socks5h?://127.0.0.1:'
	assert_line --regexp '^  reachable +ok +through hop 1'
}

@test "--check with a dynamic chain skips a dead hop and passes" {
	check_server
	start_listener
	local dead
	dead=$("$NETNS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf 'chain = dynamic\nproxy = socks5://127.0.0.1:%s\nproxy = socks5://127.0.0.1:%s\nproxy = socks5://127.0.0.1:%s\n' \
		"$dead" "$SOCKSIFYD_PORT" "$dead" >"$T/dyn.conf"
	run "$SOCKSIFY" -f "$T/dyn.conf" --check="127.0.0.1:$LISTEN_PORT"
	assert_success
	assert_equal "$(grep -c 'dynamic chain: .* is skipped' <<<"$output")" 2
	assert_line --regexp "^  CONNECT +ok +to 127.0.0.1:$LISTEN_PORT"
	# The same chain, strict: the first dead hop fails it.
	run "$SOCKSIFY" -u block -p "socks5://127.0.0.1:$dead" \
		-p "socks5://127.0.0.1:$SOCKSIFYD_PORT" --check="127.0.0.1:$LISTEN_PORT"
	stop_socksifyd
	assert_failure 1
	assert_line --regexp '^  reachable +FAIL'
}

@test "--check does not probe with the library loaded into itself" {
	# After eval "$(socksify --env)" LD_PRELOAD holds the library: --check runs
	# again without it, so it is loaded once (the first process) and not twice.
	local port
	port=$("$NETNS_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	LD_PRELOAD="$T/spy/libsocksify.so:$T/other.so" run "$SOCKSIFY" \
		-p "socks5://127.0.0.1:$port" --check=127.0.0.1:9
	assert_failure 1
	assert_equal "$(grep -c SPY-LOADED <<<"$output")" 1
	assert_line --regexp '^  reachable +FAIL'
}

@test "--check with a bad destination argument: 125" {
	run "$SOCKSIFY" -p socks5://127.0.0.1:1 --check=nocolon
	assert_failure 125
	assert_output --partial 'HOST:PORT'
}

# ---- in the namespace topology: the launcher and the real library together ----

@test "topology: socksify curl, eval --env, and --check reach the target only through the proxy" {
	require_cmd curl
	[ -f "$BUILD/libsocksify.so" ] || fail "$BUILD/libsocksify.so not built (make all builds it)"
	[ -x "$SOCKSIFYD" ] || fail "$SOCKSIFYD not built (make all builds it)"
	netns_up
	export SOCKSIFY_LIB=$BUILD/libsocksify.so
	run_server "$NS_PROXY" "$NS_PROXY_IP" --open
	local proxy=socks5h://$NS_PROXY_IP:$SOCKSIFYD_PORT

	# The client cannot reach the target by itself...
	run in_client curl -s -m 3 "http://$NS_TARGET_IP/"
	assert_failure
	# ...but through socksify it can. (By address: names are the resolver suites' job.)
	run in_client "$SOCKSIFY" -p "$proxy" curl -s -m 10 "http://$NS_TARGET_IP/"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	# The same through eval "$(socksify --env)" in a shell.
	run in_client bash -c 'eval "$("$1" -p "$2" --env)" && curl -s -m 10 "http://$3/"' \
		_ "$SOCKSIFY" "$proxy" "$NS_TARGET_IP"
	assert_success
	assert_output --partial "$NETNS_MARKER"
	# --check from the client: CONNECT to the target (unreachable from here) works.
	run in_client "$SOCKSIFY" -p "$proxy" --check=target.test:80
	assert_success
	assert_line --regexp '^  CONNECT +ok +to target.test:80'
	assert_line --regexp '^  UDP ASSOCIATE +ok'
	run in_client "$SOCKSIFY" -p "$proxy" --check=target.test:81
	assert_failure 2
	assert_line --regexp '^  CONNECT +FAIL'
	assert_line --regexp '^  chain +ok'
	stop_socksifyd
	assert_no_sanitizer "$SERVER_LOG"
}

teardown() {
	if [ -n "${NETNS_DIR:-}" ] && [ -d "$NETNS_DIR" ]; then
		netns_down
	fi
}
