/* Proxy URLs and the socksify configuration (file, environment, defaults).
 * Shared by the launcher (which reports errors and exits) and the shim (which must
 * never exit: it logs and makes connections fail). Nothing here allocates: the whole
 * configuration is one fixed-size struct, immutable once loaded. */
#ifndef SOCKSIFY_CONF_H
#define SOCKSIFY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum proxy_type {
	PROXY_SOCKS5,  /* socks5:// and socks5h:// (dns= decides where names resolve) */
	PROXY_SOCKS4,
	PROXY_SOCKS4A,
	PROXY_HTTP,    /* HTTP CONNECT */
};
const char *proxy_type_name(enum proxy_type t);

struct proxy {
	enum proxy_type type;
	bool socks5h;                  /* spelled socks5h:// (kept for display only) */
	char host[SOCKS_NAME_MAX + 1]; /* name or literal, brackets stripped */
	uint16_t port;
	char user[SOCKS_USER_MAX + 1]; /* percent-decoded; empty: no auth */
	char pass[SOCKS_USER_MAX + 1];
	bool has_auth;
};

#define URL_MAX 1024
/* Parses SCHEME://[USER[:PASSWORD]@]HOST[:PORT]. On error writes a message naming
 * the URL with the password masked and what is wrong, and returns false. */
bool proxy_url_parse(const char *url, struct proxy *out, char *err, size_t errlen);
/* Formats back to a URL with the password shown as "***". */
const char *proxy_url_str(const struct proxy *p, char *buf, size_t cap);

enum chain_type { CHAIN_STRICT, CHAIN_DYNAMIC, CHAIN_RANDOM, CHAIN_ROUND_ROBIN };
enum dns_mode { DNS_REMOTE, DNS_LOCAL };
enum udp_mode { UDP_PROXY, UDP_BLOCK, UDP_DIRECT };
/* What an AF_UNSPEC lookup gets with dns=remote: both fakes (as libc answers a
 * dual-stack name), or one family only. */
enum dns_unspec { DNS_UNSPEC_BOTH, DNS_UNSPEC_IPV4, DNS_UNSPEC_IPV6 };

/* SOCKS5 greeting, authentication and request in one write: auto (where the proxy
 * has not been seen to stall on it), always, never. */
enum pipeline_mode { PIPELINE_AUTO, PIPELINE_ON, PIPELINE_OFF };
enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* The limits, documented in socksify.conf.example; going past one is an error that
 * names FILE:LINE. */
#define CONF_MAX_PROXIES 16
#define CONF_MAX_RULES 64
#define CONF_MAX_EXCLUDES 16
#define CONF_FILE_MAX (1024 * 1024) /* bytes in a config file */
#define CONF_LINE_MAX 2048          /* bytes in one line */
#define CONF_PATH_MAX 512

/* The machine-wide file: the last place searched, and the only one under AT_SECURE. */
#define CONF_SYSTEM_PATH "/etc/socksify.conf"

struct socksify_conf {
	struct proxy proxies[CONF_MAX_PROXIES];
	size_t nproxies;
	enum chain_type chain;
	unsigned chain_len; /* random / round_robin; 0 = 1 */
	enum dns_mode dns;
	enum udp_mode udp;
	struct rule direct[CONF_MAX_RULES];
	size_t ndirect;
	struct rule block[CONF_MAX_RULES];
	size_t nblock;
	unsigned connect_timeout_ms;
	enum pipeline_mode pipeline;
	enum log_level log_level;
	char log_file[CONF_PATH_MAX];
	/* Remote DNS: the fake ranges and how long an unused fake stays reserved (a table
	 * created with them keeps them), what AF_UNSPEC gets, the hosts file ("": none). */
	char fake_net4[24];  /* an IPv4 CIDR, validated for the table's capacity */
	char fake_net6[56];  /* an IPv6 /96 */
	unsigned fake_grace_s;
	enum dns_unspec dns_unspec;
	char hosts_file[CONF_PATH_MAX];
	/* exclude_program: programs the library leaves alone (a glob over the executable's
	 * path when it holds a '/', else over its base name). */
	char exclude[CONF_MAX_EXCLUDES][CONF_PATH_MAX];
	size_t nexclude;
	char source[CONF_PATH_MAX]; /* file it came from, "" if none */
};

#define CONF_DEFAULT_PROXY "socks5h://127.0.0.1:1080"
#define CONF_DEFAULT_TIMEOUT_MS 5000
#define CONF_DEFAULT_HOSTS "/etc/hosts"

void conf_defaults(struct socksify_conf *c);
/* Applies one `key = value`. where = "FILE:LINE" for messages. A repeated `proxy`
 * appends. */
bool conf_set(struct socksify_conf *c, const char *key, const char *value, const char *where,
	      char *err, size_t errlen);
/* The one config file search, for the launcher and the library alike: named (-f),
 * else $SOCKSIFY_CONF (each must exist), else ~/.config/socksify/socksify.conf, else
 * CONF_SYSTEM_PATH, the first that exists. secure (AT_SECURE): the environment names
 * nothing, only CONF_SYSTEM_PATH counts. get is getenv-like (NULL: getenv). Writes
 * the path to out ("" when there is none, which is fine) and returns true; false with
 * err set when a named file is missing or a path does not fit. */
bool conf_find(const char *named, bool secure, const char *(*get)(const char *), char *out,
	       size_t cap, char *err, size_t errlen);
/* Reads a file of `key = value` lines. Uses only open/read/close (safe in the shim).
 * The path is opened non-blocking and must be a regular file (checked on the fd): a
 * FIFO, device or directory is an error. Missing file: returns false with errno
 * ENOENT and err set. */
bool conf_load_file(struct socksify_conf *c, const char *path, char *err, size_t errlen);
/* conf_load_file for AT_SECURE: also refuses (errno EPERM) a file that root does not
 * own or that its group or others can write, and a symbolic link. */
bool conf_load_trusted(struct socksify_conf *c, const char *path, char *err, size_t errlen);
/* Parses a buffer holding a whole file (what conf_load_file does after reading). */
bool conf_load_buf(struct socksify_conf *c, const char *buf, size_t len, const char *path,
		   char *err, size_t errlen);
/* Applies SOCKSIFY_PROXY/DNS/UDP/DIRECT/LOG/LOG_FILE and the remote-DNS twins
 * SOCKSIFY_FAKE_NET4/FAKE_NET6/FAKE_GRACE/DNS_UNSPEC/HOSTS_FILE from getenv-like
 * lookup. A set SOCKSIFY_PROXY replaces the file's proxies; SOCKSIFY_HOSTS_FILE set
 * but empty means no hosts file. */
bool conf_apply_env(struct socksify_conf *c, const char *(*get)(const char *), char *err,
		    size_t errlen);
/* Final checks that need the whole config: socks4 last hop with dns=remote, no
 * proxy -> the default one. */
bool conf_finish(struct socksify_conf *c, char *err, size_t errlen);

/* Accepts remote|local, case-insensitive: the one parser of dns= and SOCKSIFY_DNS. */
bool conf_parse_dns(const char *s, enum dns_mode *out);

/* True when exe (the program's absolute path) matches an exclude_program pattern. */
bool conf_excludes(const struct socksify_conf *c, const char *exe);
/* Accepts error|warn|info|debug (also "warning" and 0..3), case-insensitive. */
bool conf_parse_level(const char *s, enum log_level *out);
/* Names as the config file spells them, for --env, --check and messages. */
const char *conf_chain_name(enum chain_type t);
const char *conf_dns_name(enum dns_mode m);
const char *conf_udp_name(enum udp_mode m);
const char *conf_unspec_name(enum dns_unspec u);
/* One line on the remote-DNS settings, for --check. */
const char *conf_dns_summary(const struct socksify_conf *c, char *buf, size_t cap);

#endif
