/* Server-wide settings and state shared by the socksifyd modules: the options, the
 * current users table and ACLs (swapped whole on SIGHUP), counters, and the loop. */
#ifndef SOCKSIFYD_SERVER_H
#define SOCKSIFYD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "ev.h"
#include "socks.h"

struct srv_opts {
	const char *users_path;
	const char *acl_path;
	const char *pidfile;
	const char *log_file;
	unsigned long max_sessions;   /* 0: from the fd limit */
	unsigned long max_per_client; /* 0: no per-client limit */
	unsigned long idle_ms, handshake_ms, connect_ms, linger_ms;
	bool open;
	bool allow_local_dest;
	bool has_udp_advertise;
	struct socks_addr udp_advertise; /* IPV4 or IPV6 */
	struct acl cmdline_acl;           /* -a / --deny-dest, re-applied on reload */
	struct cidr *pp_trusted;          /* --proxy-protocol: the balancers that may */
	size_t pp_ntrusted;               /* send a PROXY header */
};

struct srv_stats {
	uint64_t active, total, failed, rejected, denied;
	uint64_t closed; /* sessions ended, rejections included */
	uint64_t bytes_up, bytes_down;
	uint64_t udp_up, udp_down;
	unsigned rejecting; /* sessions answering "over the limit" right now */
	/* Refusals by reason: limits are `rejected`, the client allow-list
	 * refused_acl (also counted in `denied`, with destination policy). */
	uint64_t refused_acl;
	uint64_t refused_proxy; /* PROXY header: untrusted source, malformed, late */
	uint64_t auth_failed;
};

struct server {
	struct ev_loop *loop;
	struct srv_opts o;
	struct users *users; /* NULL: no authentication */
	struct acl acl;      /* cmdline_acl + --acl file + own addresses */
	struct srv_stats st;
	bool stopping;
};

extern struct server srv;

#endif
