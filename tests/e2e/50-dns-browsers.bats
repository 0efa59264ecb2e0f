#!/usr/bin/env bats
# Real browsers by name under the shim (issue 4's stretch): Firefox ESR headless takes
# a screenshot of a page on target.test, Chromium headless dumps its DOM, both through
# socksifyd in the proxy namespace; the target sees the request from the proxy, and
# the client's DNS canary counts zero queries. Skipped when a browser is missing.

load '../lib/common'
load 'shim/shim'

setup_file() {
	shim_setup_file
	shim_socksifyd browsers -v
	SOCKSIFY_NAMETABLE=/dev/shm/socksify-$(id -u)-bats-$$-$RANDOM
	export SOCKSIFY_NAMETABLE
	# A page the screenshot can be checked against: one big block of pure red.
	printf '<html><body style="margin:0;background:#ff0000"><p>%s</p></body></html>\n' \
		"$NETNS_MARKER" >"$NETNS_DIR/www/red.html"
	mkdir -p "$NETNS_DIR/home"
}

teardown_file() {
	netns_down
	rm -f "${SOCKSIFY_NAMETABLE:-/nonexistent}"
	return 0
}

teardown() {
	local n
	n=$(canary_count)
	if [ "$n" != 0 ]; then
		echo "DNS canary saw $n queries:" >&2
		cat "$NETNS_DIR/canary.log" >&2
		return 1
	fi
}

# red_share PNG: the percentage of pure red pixels in an 8-bit RGB(A) PNG.
red_share() {
	"$NETNS_PY" - "$1" <<-'PY'
		import struct, sys, zlib
		data = open(sys.argv[1], "rb").read()
		assert data[:8] == b"\x89PNG\r\n\x1a\n"
		pos, idat, w = 8, b"", 0
		while pos < len(data):
		    n, kind = struct.unpack("!I4s", data[pos:pos + 8])
		    body = data[pos + 8:pos + 8 + n]
		    if kind == b"IHDR":
		        w, h, depth, ctype = struct.unpack("!IIBB", body[:10])
		        assert depth == 8 and ctype in (2, 6)
		        bpp = 3 if ctype == 2 else 4
		    elif kind == b"IDAT":
		        idat += body
		    pos += 12 + n
		raw, stride = zlib.decompress(idat), w * bpp
		prev, red, total = bytearray(stride), 0, 0
		for y in range(h):
		    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
		    for i in range(stride):
		        a = line[i - bpp] if i >= bpp else 0
		        b = prev[i]
		        c = prev[i - bpp] if i >= bpp else 0
		        if f == 1: line[i] = (line[i] + a) & 255
		        elif f == 2: line[i] = (line[i] + b) & 255
		        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
		        elif f == 4:
		            p = a + b - c
		            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
		            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
		    for x in range(0, stride, bpp):
		        total += 1
		        red += line[x] == 255 and line[x + 1] == 0 and line[x + 2] == 0
		    prev = line
		print(red * 100 // total)
	PY
}

@test "Firefox ESR, headless: a screenshot of a page on target.test, by name" {
	require_cmd firefox-esr
	local png=$NETNS_DIR/firefox.png prof=$NETNS_DIR/ffprofile
	shim_firefox_profile "$prof"
	# debug: the resolver says which res_* queries it refused.
	run shim_run SOCKSIFY_LOG=debug HOME="$NETNS_DIR/home" MOZ_HEADLESS=1 timeout 120 \
		firefox-esr --headless --no-remote --profile "$prof" --window-size 800,600 \
		--screenshot "$png" http://target.test/red.html
	[ -s "$png" ] || { echo "$output" | tail -n 30; false; }
	# Firefox asks for the name's HTTPS record through res_nquery (what leaks under
	# proxychains4 and Dante): refused here, nothing sent.
	assert_output --partial "res query type 65 for target.test refused"
	run red_share "$png"
	assert_success
	[ "$output" -ge 50 ] || fail "only $output% of the screenshot is the page's red"
	# The target saw the page fetched from the proxy's address, by name through socksifyd.
	run grep 'GET /red.html' "$NETNS_DIR/httpd.log"
	assert_success
	assert_output --regexp '^(::ffff:)?198\.18\.2\.1 |^fd00:2::1 '
	run grep -c 'asked=target\.test:80' "$NETNS_DIR/browsers.log"
	refute_output 0
}

shim_run_udp_block() {
	SOCKSIFY_UDP_OVERRIDE=block chromium_run --dump-dom http://target.test/red.html
}

# chromium_run ARGS...: headless Chromium under the shim. --no-sandbox: we run as root;
# the rest stop background networking so the run only fetches the page.
chromium_run() {
	shim_run HOME="$NETNS_DIR/home" SOCKSIFY_UDP="${SOCKSIFY_UDP_OVERRIDE:-proxy}" \
		timeout 120 chromium --headless --no-sandbox \
		--disable-gpu --no-first-run --disable-background-networking --disable-sync \
		--disable-component-update --disable-default-apps --disable-breakpad \
		--user-data-dir="$NETNS_DIR/chromium" "$@"
}

@test "Chromium, headless, system resolver: the page's DOM by name" {
	require_cmd chromium
	# Chromium on Linux resolves names with its own DNS client over UDP (the canary
	# saw its A and HTTPS queries for target.test and Google hosts), which no
	# getaddrinfo hook can see; AsyncDns off makes it use getaddrinfo, i.e. us.
	run chromium_run --disable-features=AsyncDns --dump-dom http://target.test/red.html
	assert_success
	assert_output --partial "$NETNS_MARKER"
	run grep -c 'asked=target\.test:80' "$NETNS_DIR/browsers.log"
	refute_output 0
}

@test "Chromium, sandboxed as an ordinary user: zygote, GPU and renderers, by name" {
	require_cmd chromium setpriv
	# proxychains4 makes Chromium abort (GPU process) and Dante's client hangs its
	# zygote; here the whole sandboxed process tree must just work. The user cannot
	# open root's name table, so it gets its own (env -u: the user's table,
	# /dev/shm/socksify-u65534), removed afterwards. The library runs from a copy the
	# user can read, wherever the build tree is.
	local home=$NETNS_DIR/nobody lib
	mkdir -p "$home" && chmod 777 "$home" && chmod 755 "$NETNS_DIR" && chmod 644 "$SHIM_CONF"
	copy_for_nobody "$NETNS_DIR/nobody-lib" "$SOCKSIFY_LIB"
	lib=$NETNS_DIR/nobody-lib/$(basename "$SOCKSIFY_LIB")
	SOCKSIFY_LIB=$lib run shim_run env -u SOCKSIFY_NAMETABLE timeout 120 setpriv --reuid=65534 \
		--regid=65534 --clear-groups env HOME="$home" chromium --headless \
		--no-first-run --disable-background-networking --disable-sync \
		--disable-component-update --disable-default-apps --disable-breakpad \
		--user-data-dir="$home/profile" --disable-features=AsyncDns \
		--dump-dom http://target.test/red.html
	find /dev/shm -maxdepth 1 -user 65534 -name 'socksify-*' -delete
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "Chromium's own DNS client cannot leak with udp=block" {
	require_cmd chromium
	# Its own DNS client's datagrams are refused (EPERM), so it falls back to the
	# system resolver, i.e. us: the page loads by name through the proxy, and nothing
	# reached the canary (checked by teardown). A Chromium that crashes at start, or
	# never falls back, fails here.
	run shim_run_udp_block
	assert_success
	assert_output --partial "$NETNS_MARKER"
}

@test "no browser name reached the client's DNS" {
	run canary_count
	assert_output 0
}
