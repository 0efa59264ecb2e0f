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

/* Why a UDP datagram was dropped, for the metrics. */
enum udp_drop {
	UDP_DROP_POLICY,    /* destination denied */
	UDP_DROP_STRANGER,  /* from an address other than the client's */
	UDP_DROP_PORT,      /* from another port of the client */
	UDP_DROP_MALFORMED, /* bad RFC 1928 UDP header */
	UDP_DROP_FRAGMENT,  /* FRAG != 0 (no reassembly) */
	UDP_DROP_RESOLVE,   /* the destination name did not resolve */
	UDP_DROP_BUSY,      /* too many lookups in flight, or out of memory */
	UDP_DROP_SEND,      /* sendto failed */
	UDP_DROP_UNPINNED,  /* a reply before the client's port is known */
	UDP_DROP_N,
};

/* Latency histograms: upper bounds in ms, the last bucket is +Inf. */
#define SRV_HIST_BUCKETS 14
struct srv_hist {
	uint64_t bucket[SRV_HIST_BUCKETS + 1];
	uint64_t sum_ms, count;
};

/* Sessions ended, by command (0: none reached, 1-3 as SOCKS) and result. */
enum sess_result { RESULT_SUCCEEDED, RESULT_FAILED, RESULT_NO_REPLY, RESULT_N };

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
	uint64_t udp_dropped[UDP_DROP_N];
	uint64_t ended[4][RESULT_N];
	uint64_t rep5[10];   /* SOCKS5 REP 0..8, and 9 for any other */
	uint64_t rep4[2];    /* SOCKS4 granted, rejected */
	struct srv_hist handshake, connect;
};

struct server {
	struct ev_loop *loop;
	struct srv_opts o;
	struct users *users; /* NULL: no authentication */
	struct acl acl;      /* cmdline_acl + --acl file + own addresses */
	struct srv_stats st;
	unsigned workers;    /* event loops serving clients */
	bool stopping;
};

extern struct server srv;

#endif
