#!/usr/bin/env bats
# The negative twins of 50-dns.bats: the DNS canary does see the queries that are
# meant to leave (dns=local, `direct` names, no shim at all), so its zero there means
# something. Its own topology, so the counts here never touch the zero-leak suite's.

load '../lib/common'
load 'shim/shim'

setup_file() {
	shim_setup_file
	shim_socksifyd dnslocal
	SOCKSIFY_NAMETABLE=/dev/shm/socksify-$(id -u)-bats-$$-$RANDOM
	export SOCKSIFY_NAMETABLE
}

teardown_file() {
	netns_down
	rm -f "${SOCKSIFY_NAMETABLE:-/nonexistent}"
	return 0
}

setup() {
	: >"$NETNS_DIR/canary.log"
}

# canary_saw NAME: the canary logged at least one query for NAME.
canary_saw() {
	grep -q " $1 type=" "$NETNS_DIR/canary.log"
}

@test "without the shim, getent hosts asks the client's DNS (the canary works)" {
	run in_client getent hosts plain.leak.test
	assert_failure
	canary_saw plain.leak.test
}

@test "dns=local: getaddrinfo is libc's and asks the client's DNS (documented leak)" {
	run shim_run SOCKSIFY_DNS=local "$SNIPPETS/dns_getaddrinfo" -f inet local.leak.test
	assert_failure 2
	canary_saw local.leak.test
}

@test "dns=local: res_query is libc's too" {
	run shim_run SOCKSIFY_DNS=local "$SNIPPETS/dns_res" query reslocal.leak.test a
	assert_failure 2
	canary_saw reslocal.leak.test
}

@test "a direct name is resolved by libc (and so asks the client's DNS)" {
	run shim_run SOCKSIFY_DIRECT='*.direct.test' "$SNIPPETS/dns_getaddrinfo" -f inet \
		www.direct.test
	assert_failure 2
	canary_saw www.direct.test
	# ... while its neighbours stay remote.
	: >"$NETNS_DIR/canary.log"
	run shim_run SOCKSIFY_DIRECT='*.direct.test' "$SNIPPETS/dns_getaddrinfo" -f inet \
		www.remote.test
	assert_success
	assert_output --regexp '^ai inet 240\.'
	run canary_count
	assert_output 0
}
