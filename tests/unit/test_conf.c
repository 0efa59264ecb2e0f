/* Unit tests for common/conf.c: proxy URLs (good ones, every kind of bad one, and
 * that no error ever shows the password), config lines and files (comments, errors
 * naming FILE:LINE, size limits), the SOCKSIFY_* environment and the final checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

#define PW "S3cr3tPw" /* the password in every test URL: must never show in a message */

static void test_url_good(void)
{
	static const struct {
		const char *url;
		enum proxy_type type;
		const char *host;
		uint16_t port;
		const char *user, *pass;
		bool auth, h;
	} t[] = {
		{ "socks5://127.0.0.1", PROXY_SOCKS5, "127.0.0.1", 1080, "", "", false, false },
		{ "socks5h://proxy.corp:9050", PROXY_SOCKS5, "proxy.corp", 9050, "", "", false, true },
		{ "SOCKS5://Host:1", PROXY_SOCKS5, "Host", 1, "", "", false, false },
		{ "Socks4a://h:65535", PROXY_SOCKS4A, "h", 65535, "", "", false, false },
		{ "socks4://alice@10.0.0.1:1081", PROXY_SOCKS4, "10.0.0.1", 1081, "alice", "", true,
		  false },
		{ "http://u:" PW "@[fd00:1::2]:3128", PROXY_HTTP, "fd00:1::2", 3128, "u", PW, true,
		  false },
		{ "socks5://bob:" PW "@h:99", PROXY_SOCKS5, "h", 99, "bob", PW, true, false },
		{ "socks5://a%40b:p%3Aw%25@h", PROXY_SOCKS5, "h", 1080, "a@b", "p:w%", true, false },
		{ "socks5://bob:@h", PROXY_SOCKS5, "h", 1080, "bob", "", true, false },
		{ "socks5://bob@h", PROXY_SOCKS5, "h", 1080, "bob", "", true, false },
		{ "socks5://bob:p@ss@h", PROXY_SOCKS5, "h", 1080, "bob", "p@ss", true, false },
		{ "socks5://bob:a:b@h", PROXY_SOCKS5, "h", 1080, "bob", "a:b", true, false },
		{ "socks5://[::1]", PROXY_SOCKS5, "::1", 1080, "", "", false, false },
		{ "socks5://h:1080/", PROXY_SOCKS5, "h", 1080, "", "", false, false },
		{ "socks5://h:01080", PROXY_SOCKS5, "h", 1080, "", "", false, false },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct proxy p;
		bool r = proxy_url_parse(t[i].url, &p, err, sizeof(err));
		ok(r && p.type == t[i].type && strcmp(p.host, t[i].host) == 0 && p.port == t[i].port &&
		   strcmp(p.user, t[i].user) == 0 && strcmp(p.pass, t[i].pass) == 0 &&
		   p.has_auth == t[i].auth && p.socks5h == t[i].h,
		   "url %s", t[i].url);
		if (!r)
			printf("#   %s\n", err);
	}
}

static void test_url_bad(void)
{
	static const struct {
		const char *url, *why;
	} t[] = {
		{ "", "empty URL" },
		{ "127.0.0.1:1080", "missing scheme" },
		{ "bob:" PW "@h:1080", "missing scheme" },
		{ "ftp://bob:" PW "@h", "unknown scheme 'ftp'" },
		{ "socks6://h", "unknown scheme" },
		{ "socks5h://bob:" PW "@h:99999", "port out of range" },
		{ "socks5://bob:" PW "@h:0", "port out of range" },
		{ "socks5://bob:" PW "@h:123456789012345678901234", "port out of range" },
		{ "socks5://bob:" PW "@h:12ab", "bad port" },
		{ "socks5://bob:" PW "@h:-1", "bad port" },
		{ "socks5://bob:" PW "@h:", "missing port" },
		{ "socks5://bob:" PW "@", "missing host" },
		{ "socks5://bob:" PW "@:1080", "missing host" },
		{ "socks5://", "missing host" },
		{ "socks5://:" PW "@h", "empty user" },
		{ "socks5://bob:" PW "%zz@h", "bad percent escape in password" },
		{ "socks5://bob:" PW "%4@h", "bad percent escape in password" },
		{ "socks5://bob:" PW "%00@h", "bad percent escape in password" },
		{ "socks5://b%g0b:" PW "@h", "bad percent escape in user" },
		{ "socks5://bob:" PW "@[::1", "bad IPv6 brackets" },
		{ "socks5://bob:" PW "@::1]:80", "bad IPv6 brackets" },
		{ "socks5://bob:" PW "@[::1]x", "bad IPv6 brackets" },
		{ "socks5://bob:" PW "@[]:80", "bad IPv6 brackets" },
		{ "socks5://bob:" PW "@[nothex]:80", "bad IPv6 address" },
		{ "socks5://bob:" PW "@::1:80", "needs brackets" },
		{ "socks5://bob:" PW "@h:1080/path", "unexpected path" },
		{ "socks5://bob:" PW "@h/", NULL }, /* a lone slash is fine */
		{ "socks5://bob:" PW "@h?x=1", "unexpected path" },
		{ "socks5://bob:" PW "@h#frag", "unexpected path" },
		{ "socks5://bob:" PW "@bad host", "bad host name" },
		{ "socks5://bob:" PW "@a..b", "bad host name" },
		{ "socks4://bob:" PW "@h", "no password" },
		{ "socks4a://bob:" PW "@h", "no password" },
		{ "socks5://bob:" PW, "bad port" }, /* '@host' forgotten */
		{ "socks5://bob:" PW "/", "bad port" },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct proxy p;
		bool r;

		memset(err, 0, sizeof(err));
		r = proxy_url_parse(t[i].url, &p, err, sizeof(err));
		if (t[i].why == NULL) {
			ok(r, "url %s accepted", t[i].url);
			continue;
		}
		ok(!r && strstr(err, t[i].why) != NULL && strncmp(err, "invalid proxy URL '", 19) == 0,
		   "url %s -> %s", t[i].url, err);
		ok(strstr(err, PW) == NULL, "no password in: %s", err);
		if (strstr(t[i].url, ":" PW) != NULL && t[i].url[0] != '\0')
			ok(strstr(err, ":***") != NULL, "password masked in: %s", err);
		ok(p.pass[0] == '\0' && p.user[0] == '\0', "nothing left in out after an error");
	}

	/* The exact form the brief and the SPEC give. */
	proxy_url_parse("socks5://bob:" PW "@h:99999", &(struct proxy){ 0 }, err, sizeof(err));
	ok(strcmp(err, "invalid proxy URL 'socks5://bob:***@h:99999': port out of range") == 0,
	   "exact message: %s", err);
	/* A raw '@' inside the password: still masked whole. */
	proxy_url_parse("socks5://bob:S3c@r3t@h:0", &(struct proxy){ 0 }, err, sizeof(err));
	ok(strstr(err, "S3c") == NULL && strstr(err, "r3t") == NULL, "raw @ in password masked: %s",
	   err);
	/* An empty password must not hang the masker. */
	proxy_url_parse("socks5://bob:@h:0", &(struct proxy){ 0 }, err, sizeof(err));
	ok(strstr(err, "'socks5://bob:***@h:0'") != NULL, "empty password masked: %s", err);

	{
		char url[URL_MAX + 64], user[400];
		size_t n;

		memset(user, 'u', 300);
		user[300] = '\0';
		snprintf(url, sizeof(url), "socks5://%s:" PW "@h", user);
		ok(!proxy_url_parse(url, &(struct proxy){ 0 }, err, sizeof(err)) &&
		   strstr(err, "user name too long") != NULL && strstr(err, PW) == NULL,
		   "user too long");
		snprintf(url, sizeof(url), "socks5://u:%s@h", user);
		ok(!proxy_url_parse(url, &(struct proxy){ 0 }, err, sizeof(err)) &&
		   strstr(err, "password too long") != NULL && strstr(err, user) == NULL,
		   "password too long, and not shown");
		/* 255 bytes after decoding, 765 before: exactly at the limit. */
		n = (size_t)snprintf(url, sizeof(url), "socks5://u:");
		for (size_t k = 0; k < 255; k++)
			n += (size_t)snprintf(url + n, sizeof(url) - n, "%%41");
		snprintf(url + n, sizeof(url) - n, "@h");
		ok(proxy_url_parse(url, &(struct proxy){ 0 }, err, sizeof(err)), "255-byte password");
		memset(url, 'a', sizeof(url) - 1);
		memcpy(url, "socks5://", 9);
		url[sizeof(url) - 1] = '\0';
		ok(!proxy_url_parse(url, &(struct proxy){ 0 }, err, sizeof(err)) &&
		   strstr(err, "too long") != NULL && strlen(err) < 300,
		   "overlong URL refused, message cut");
		memset(user, 'h', 260);
		user[260] = '\0';
		snprintf(url, sizeof(url), "socks5://%s", user);
		ok(!proxy_url_parse(url, &(struct proxy){ 0 }, err, sizeof(err)) &&
		   strstr(err, "too long") != NULL, "host too long");
	}
	ok(!proxy_url_parse("socks5://h\x01:1", &(struct proxy){ 0 }, err, sizeof(err)) &&
	   strchr(err, '\x01') == NULL, "control bytes not echoed");
	ok(!proxy_url_parse("socks5://bob:" PW "@h:0", &(struct proxy){ 0 }, err, 16) &&
	   strlen(err) == 15, "small err buffer truncates");
}

static void test_url_str(void)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "socks5://h", "socks5://h:1080" },
		{ "socks5h://bob:" PW "@h:9", "socks5h://bob:***@h:9" },
		{ "http://a%40b:x@[::1]:3128", "http://a%40b:***@[::1]:3128" },
		{ "socks4://alice@1.2.3.4", "socks4://alice@1.2.3.4:1080" },
		{ "SOCKS4A://H", "socks4a://H:1080" },
	};
	char buf[600], err[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct proxy p;
		ok(proxy_url_parse(t[i].in, &p, err, sizeof(err)) &&
		   strcmp(proxy_url_str(&p, buf, sizeof(buf)), t[i].out) == 0,
		   "url_str %s -> %s", t[i].in, buf);
	}
	ok(strcmp(proxy_type_name(PROXY_SOCKS4A), "socks4a") == 0 &&
	   strcmp(proxy_type_name(PROXY_HTTP), "http") == 0, "proxy_type_name");
}

static void test_set(void)
{
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
		{ "chain", "fast", "bad value 'fast' for chain" },
		{ "chain_len", "0", "for chain_len" },
		{ "chain_len", "17", "for chain_len" },
		{ "chain_len", "x", "for chain_len" },
		{ "dns", "remote ", "for dns" },
		{ "udp", "tunnel", "for udp" },
		{ "connect_timeout", "0", "for connect_timeout" },
		{ "connect_timeout", "5s", "for connect_timeout" },
		{ "connect_timeout", "-1", "for connect_timeout" },
		{ "log", "verbose", "for log" },
		{ "pipeline", "yes", "bad value 'yes' for pipeline (expected auto, on or off)" },
		{ "direct", "10.0.0.0/33", "bad direct rule" },
		{ "block", ":0", "bad block rule" },
		{ "proxy", "socks5://bob:" PW "@h:0", "invalid proxy URL" },
		{ "prox", "x", "unknown key 'prox'" },
		{ "Proxy", "socks5://h", "unknown key 'Proxy'" },
		{ "dns", "", "missing value" },
	};
	struct socksify_conf c;
	char err[512];
	size_t i;

	conf_defaults(&c);
	ok(c.chain == CHAIN_STRICT && c.dns == DNS_REMOTE && c.udp == UDP_PROXY &&
	   c.connect_timeout_ms == 5000 && c.log_level == LOG_WARN && c.nproxies == 0,
	   "defaults");
	ok(conf_set(&c, "chain", "round_robin", "f:1", err, sizeof(err)) &&
	   c.chain == CHAIN_ROUND_ROBIN, "chain round_robin");
	ok(conf_set(&c, "chain", "Dynamic", "f:1", err, sizeof(err)) && c.chain == CHAIN_DYNAMIC,
	   "chain case-insensitive");
	ok(conf_set(&c, "chain_len", "2", "f:1", err, sizeof(err)) && c.chain_len == 2,
	   "chain_len");
	ok(conf_set(&c, "dns", "local", "f:1", err, sizeof(err)) && c.dns == DNS_LOCAL, "dns");
	ok(conf_set(&c, "udp", "block", "f:1", err, sizeof(err)) && c.udp == UDP_BLOCK, "udp");
	ok(conf_set(&c, "connect_timeout", "250", "f:1", err, sizeof(err)) &&
	   c.connect_timeout_ms == 250, "connect_timeout");
	ok(c.pipeline == PIPELINE_AUTO, "pipeline defaults to auto");
	ok(conf_set(&c, "pipeline", "off", "f:1", err, sizeof(err)) && c.pipeline == PIPELINE_OFF,
	   "pipeline off");
	ok(conf_set(&c, "pipeline", "On", "f:1", err, sizeof(err)) && c.pipeline == PIPELINE_ON,
	   "pipeline on, case-insensitive");
	ok(conf_set(&c, "log", "debug", "f:1", err, sizeof(err)) && c.log_level == LOG_DEBUG, "log");
	ok(conf_set(&c, "log_file", "/tmp/x.log", "f:1", err, sizeof(err)) &&
	   strcmp(c.log_file, "/tmp/x.log") == 0, "log_file");
	ok(conf_set(&c, "direct", "*.corp", "f:1", err, sizeof(err)) && c.ndirect == 1 &&
	   c.direct[0].kind == RULE_SUFFIX, "direct appends");
	ok(conf_set(&c, "block", "10.0.0.0/8:25", "f:1", err, sizeof(err)) && c.nblock == 1 &&
	   c.block[0].port == 25, "block appends");
	ok(conf_set(&c, "proxy", "socks5://a:1", "f:1", err, sizeof(err)) &&
	   conf_set(&c, "proxy", "http://b:2", "f:1", err, sizeof(err)) && c.nproxies == 2 &&
	   c.proxies[1].type == PROXY_HTTP, "proxy repeats append");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(!conf_set(&c, bad[i].key, bad[i].value, "my.conf:7", err, sizeof(err)) &&
		   strncmp(err, "my.conf:7: ", 11) == 0 && strstr(err, bad[i].why) != NULL &&
		   strstr(err, PW) == NULL,
		   "conf_set %s=%s -> %s", bad[i].key, bad[i].value, err);
	}
	ok(!conf_set(&c, "dns", "x", NULL, err, sizeof(err)) && strncmp(err, "bad value", 9) == 0,
	   "no where: no prefix");

	conf_defaults(&c);
	for (i = 0; i < CONF_MAX_PROXIES; i++)
		conf_set(&c, "proxy", "socks5://h", "f:1", err, sizeof(err));
	ok(c.nproxies == CONF_MAX_PROXIES &&
	   !conf_set(&c, "proxy", "socks5://h", "f:9", err, sizeof(err)) &&
	   strstr(err, "too many proxies") != NULL, "proxy limit");
	for (i = 0; i < CONF_MAX_RULES; i++)
		conf_set(&c, "direct", ":1", "f:1", err, sizeof(err));
	ok(c.ndirect == CONF_MAX_RULES && !conf_set(&c, "direct", ":2", "f:9", err, sizeof(err)) &&
	   strstr(err, "too many direct rules") != NULL, "rule limit");

	{
		enum log_level l;
		ok(conf_parse_level("error", &l) && l == LOG_ERROR, "level error");
		ok(conf_parse_level("WARN", &l) && l == LOG_WARN, "level WARN");
		ok(conf_parse_level("warning", &l) && l == LOG_WARN, "level warning");
		ok(conf_parse_level("info", &l) && l == LOG_INFO, "level info");
		ok(conf_parse_level("3", &l) && l == LOG_DEBUG, "level 3");
		ok(!conf_parse_level("4", &l) && !conf_parse_level("", &l) &&
		   !conf_parse_level("debugx", &l), "bad levels");
	}
	ok(strcmp(conf_chain_name(CHAIN_ROUND_ROBIN), "round_robin") == 0 &&
	   strcmp(conf_dns_name(DNS_LOCAL), "local") == 0 &&
	   strcmp(conf_udp_name(UDP_DIRECT), "direct") == 0, "mode names");
}

static bool load(struct socksify_conf *c, const char *text, char *err, size_t errlen)
{
	conf_defaults(c);
	err[0] = '\0';
	return conf_load_buf(c, text, strlen(text), "t.conf", err, errlen);
}

static void test_buf(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "proxy = socks5://h\nbogus = 1\n", "t.conf:2: unknown key 'bogus'" },
		{ "\n\n# c\nchain = maybe\n", "t.conf:4: bad value 'maybe' for chain" },
		{ "dns remote\n", "t.conf:1: expected 'key = value'" },
		{ " = remote\n", "t.conf:1: missing key" },
		{ "dns =\n", "t.conf:1: missing value for 'dns'" },
		{ "proxy socks5://bob:" PW "@h\n", "t.conf:1: expected 'key = value' after 'proxy'" },
		{ "socks5://bob:" PW "@h\n", "t.conf:1: expected 'key = value'" },
		{ "socks5://bob:" PW "@h = 1\n", "t.conf:1: unknown key (not a name)" },
		{ "dns = # nothing\n", "t.conf:1: missing value" },
		{ "proxy = socks5://bob:" PW "@h:0\n", "t.conf:1: invalid proxy URL 'socks5://bob:***@h:0'" },
		{ "direct = nope!\n", "t.conf:1: bad direct rule 'nope!'" },
		{ "udp = proxy\r\nlog = loud\r\n", "t.conf:2: bad value 'loud' for log" },
		{ "dns = remote\nlog = x", "t.conf:2:" },
	};
	struct socksify_conf c;
	char err[512], where[16];
	size_t i;

	ok(load(&c,
		"# whole-line comment\n"
		"   # indented comment\n"
		"\n"
		"proxy=socks5://a:1\n"
		"proxy   =   socks4a://b:2   # trailing comment\n"
		"\tproxy\t=\thttp://u:p#w@c:3\n"
		"chain = dynamic\r\n"
		"chain_len = 2\n"
		"dns = local\n"
		"udp = direct\n"
		"direct = 10.0.0.0/8\n"
		"direct = *.corp # inner\n"
		"block = :25\n"
		"connect_timeout = 1500\n"
		"log = info\n"
		"log_file = /var/log/socksify#1.log\n"
		"   ",
		err, sizeof(err)),
	   "full config parses: %s", err);
	ok(c.nproxies == 3 && strcmp(c.proxies[1].host, "b") == 0 &&
	   c.proxies[1].type == PROXY_SOCKS4A && strcmp(c.proxies[2].pass, "p#w") == 0,
	   "proxies in order, '#' inside a value kept");
	ok(c.chain == CHAIN_DYNAMIC && c.chain_len == 2 && c.dns == DNS_LOCAL &&
	   c.udp == UDP_DIRECT && c.ndirect == 2 && c.nblock == 1 &&
	   c.connect_timeout_ms == 1500 && c.log_level == LOG_INFO,
	   "every key applied");
	ok(strcmp(c.log_file, "/var/log/socksify#1.log") == 0, "log_file with '#'");
	ok(strcmp(c.source, "t.conf") == 0, "source recorded");
	ok(load(&c, "", err, sizeof(err)) && c.nproxies == 0, "empty file");
	ok(load(&c, "dns = local", err, sizeof(err)) && c.dns == DNS_LOCAL, "no final newline");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(!load(&c, bad[i].text, err, sizeof(err)) && strstr(err, bad[i].why) == err &&
		   strstr(err, PW) == NULL,
		   "bad config %zu -> %s", i, err);
	}

	{
		static const char nul[] = "dns = local\nlog = in\0fo\n";
		conf_defaults(&c);
		ok(!conf_load_buf(&c, nul, sizeof(nul) - 1, "t.conf", err, sizeof(err)) &&
		   strstr(err, "t.conf:2: NUL byte") != NULL, "NUL byte: %s", err);
	}
	{
		static char big[5000];
		memset(big, 'x', sizeof(big) - 1);
		memcpy(big, "dns = remote\nlog_file = ", 24);
		ok(!load(&c, big, err, sizeof(err)) && strstr(err, "t.conf:2: line too long") != NULL,
		   "line too long: %s", err);
	}
	for (i = 1; i <= 3; i++) {
		char text[64] = "";
		size_t k;
		for (k = 1; k < i; k++)
			strcat(text, "# c\n");
		strcat(text, "x = 1\n");
		snprintf(where, sizeof(where), "t.conf:%zu:", i);
		ok(!load(&c, text, err, sizeof(err)) && strncmp(err, where, strlen(where)) == 0,
		   "line number %zu counted", i);
	}
	conf_defaults(&c);
	size_t bigsz = (size_t)2 * 1024 * 1024;
	char *big = malloc(bigsz);
	if (big != NULL) /* comment lines up to 2 MiB: the reader sees the first 1 MiB */
		for (size_t j = 0; j < bigsz; j++)
			big[j] = j % 64 == 63 ? '\n' : '#';
	ok(big != NULL && !conf_load_buf(&c, big, bigsz, "big.conf", err, sizeof(err)) &&
	   strstr(err, "too large") != NULL, "buffer over 1 MiB refused");
	free(big);
}

static bool write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool r;

	if (fd < 0)
		return false;
	r = write(fd, text, len) == (ssize_t)len;
	close(fd);
	return r;
}

static void test_file(void)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[128], err[512];
	struct socksify_conf c;
	static char big[1024 * 1024 + 2];

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/s.conf", dir);
	ok(write_file(path, "proxy = socks5://x:7\ndns = local\n", 33), "write config");
	conf_defaults(&c);
	ok(conf_load_file(&c, path, err, sizeof(err)) && c.nproxies == 1 && c.proxies[0].port == 7 &&
	   c.dns == DNS_LOCAL && strcmp(c.source, path) == 0, "load file: %s", err);

	ok(write_file(path, "dns = local\n\nudp = sideways\n", 28), "write bad config");
	conf_defaults(&c);
	ok(!conf_load_file(&c, path, err, sizeof(err)) && strstr(err, ":3: bad value 'sideways'") &&
	   strncmp(err, path, strlen(path)) == 0 && errno != ENOENT, "file error names FILE:LINE: %s",
	   err);

	/* Lines that straddle the 4 KiB read chunks still parse whole. */
	{
		size_t n = 0;
		while (n < 3 * 4096) {
			memcpy(big + n, "log = info # padding\n", 21);
			n += 21;
		}
		memcpy(big + n, "chain = random\n", 15);
		n += 15;
		ok(write_file(path, big, n), "write long config");
		conf_defaults(&c);
		ok(conf_load_file(&c, path, err, sizeof(err)) && c.chain == CHAIN_RANDOM,
		   "lines across read chunks: %s", err);
	}

	memset(big, '#', sizeof(big));
	ok(write_file(path, big, sizeof(big)), "write 1 MiB + 2 file");
	conf_defaults(&c);
	ok(!conf_load_file(&c, path, err, sizeof(err)) && strstr(err, "too large") != NULL,
	   "file over 1 MiB refused: %s", err);
	ok(write_file(path, big, 1024 * 1024), "write exactly 1 MiB of comment");
	ok(conf_load_file(&c, path, err, sizeof(err)) || strstr(err, "line too long") != NULL,
	   "exactly 1 MiB is not 'too large'");

	unlink(path);
	errno = 0;
	conf_defaults(&c);
	ok(!conf_load_file(&c, path, err, sizeof(err)) && errno == ENOENT &&
	   strstr(err, "No such file") != NULL && strstr(err, path) != NULL,
	   "missing file: ENOENT and %s", err);
	errno = 0;
	ok(!conf_load_file(&c, dir, err, sizeof(err)) && errno == EISDIR, "directory: %s", err);
	/* Only a regular file is a config: a FIFO would read as an empty file (no
	 * proxy: the default one) and a device as whatever it yields. */
	conf_defaults(&c);
	errno = 0;
	ok(!conf_load_file(&c, "/dev/null", err, sizeof(err)) && errno != ENOENT &&
	   strstr(err, "/dev/null: not a regular file") != NULL, "/dev/null refused: %s", err);
	ok(!conf_load_file(&c, "/dev/zero", err, sizeof(err)) &&
	   strstr(err, "not a regular file") != NULL, "/dev/zero refused: %s", err);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) == 0) {
		conf_defaults(&c);
		err[0] = '\0';
		errno = 0;
		ok(!conf_load_file(&c, path, err, sizeof(err)) && errno != ENOENT &&
		   strstr(err, "not a regular file (a FIFO)") != NULL,
		   "FIFO without writer: an error, no hang: %s", err);
		unlink(path);
	} else {
		ok(0, "mkfifo");
	}
	{
		int p[2];
		if (pipe(p) == 0) {
			ok(write(p[1], "dns = local\n", 12) == 12, "fill pipe");
			close(p[1]);
			snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
			conf_defaults(&c);
			err[0] = '\0';
			ok(!conf_load_file(&c, path, err, sizeof(err)) &&
			   strstr(err, "not a regular file") != NULL,
			   "a pipe is refused (the library would re-read it empty): %s", err);
			close(p[0]);
		}
	}
	rmdir(dir);
}

/* A fake environment for conf_apply_env. */
static const char *env_vals[16][2];

static const char *fake_get(const char *name)
{
	size_t i;

	for (i = 0; i < 16 && env_vals[i][0] != NULL; i++)
		if (strcmp(env_vals[i][0], name) == 0)
			return env_vals[i][1];
	return NULL;
}

static void set_env(const char *const *pairs)
{
	size_t i;

	memset(env_vals, 0, sizeof(env_vals));
	for (i = 0; pairs[2 * i] != NULL; i++) {
		env_vals[i][0] = pairs[2 * i];
		env_vals[i][1] = pairs[2 * i + 1];
	}
}

static void test_env(void)
{
	struct socksify_conf c;
	char err[512];

	ok(load(&c, "proxy = socks5://file:1\ndirect = 10.0.0.0/8\nlog = error\n", err, sizeof(err)),
	   "file before env");
	set_env((const char *[]){ "SOCKSIFY_PROXY", "socks5://e1:1, socks4a://e2:2",
				  "SOCKSIFY_DIRECT", "*.corp,:22", "SOCKSIFY_DNS", "local",
				  "SOCKSIFY_UDP", "block", "SOCKSIFY_LOG", "debug",
				  "SOCKSIFY_LOG_FILE", "/tmp/l", NULL });
	ok(conf_apply_env(&c, fake_get, err, sizeof(err)), "env applies: %s", err);
	ok(c.nproxies == 2 && strcmp(c.proxies[0].host, "e1") == 0 &&
	   strcmp(c.proxies[1].host, "e2") == 0, "SOCKSIFY_PROXY replaces the file's proxies");
	ok(c.ndirect == 3 && c.direct[1].kind == RULE_SUFFIX && c.direct[2].kind == RULE_PORT,
	   "SOCKSIFY_DIRECT appends");
	ok(c.dns == DNS_LOCAL && c.udp == UDP_BLOCK && c.log_level == LOG_DEBUG &&
	   strcmp(c.log_file, "/tmp/l") == 0, "DNS/UDP/LOG/LOG_FILE override");

	ok(load(&c, "proxy = socks5://file:1\n", err, sizeof(err)), "file again");
	set_env((const char *[]){ "SOCKSIFY_PROXY", "", NULL });
	ok(conf_apply_env(&c, fake_get, err, sizeof(err)) && c.nproxies == 1,
	   "empty SOCKSIFY_PROXY keeps the file's proxies");

	set_env((const char *[]){ "SOCKSIFY_PROXY", "socks5://ok:1,socks5://bob:" PW "@h:0", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strncmp(err, "SOCKSIFY_PROXY: invalid proxy URL 'socks5://bob:***@h:0'", 56) == 0 &&
	   strstr(err, PW) == NULL, "bad SOCKSIFY_PROXY named, password masked: %s", err);
	set_env((const char *[]){ "SOCKSIFY_PROXY", "socks5://a:1,,socks5://b:2", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strstr(err, "SOCKSIFY_PROXY: empty element") == err, "empty chain element: %s", err);
	set_env((const char *[]){ "SOCKSIFY_DNS", "sometimes", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strstr(err, "SOCKSIFY_DNS: bad value 'sometimes' for dns") == err, "%s", err);
	set_env((const char *[]){ "SOCKSIFY_UDP", "x", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) && strstr(err, "SOCKSIFY_UDP: ") == err,
	   "%s", err);
	set_env((const char *[]){ "SOCKSIFY_LOG", "x", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) && strstr(err, "SOCKSIFY_LOG: ") == err,
	   "%s", err);
	set_env((const char *[]){ "SOCKSIFY_DIRECT", "10.0.0.0/8,bad rule", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strstr(err, "SOCKSIFY_DIRECT: bad direct rule 'bad rule'") == err, "%s", err);

	/* A NULL getter means the process environment. */
	setenv("SOCKSIFY_UDP", "direct", 1);
	conf_defaults(&c);
	ok(conf_apply_env(&c, NULL, err, sizeof(err)) && c.udp == UDP_DIRECT, "getenv by default");
	unsetenv("SOCKSIFY_UDP");
}

/* The remote-DNS keys: defaults, good values, each bad value with FILE:LINE, their
 * SOCKSIFY_* twins, and the --check summary. */
static void test_remote_dns(void)
{
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
		{ "fake_net4", "10.0.0.0/24", "/11 or wider" },
		{ "fake_net4", "10.0.0.0/33", "an IPv4 CIDR" },
		{ "fake_net4", "fd00::/96", "an IPv4 CIDR" },
		{ "fake_net4", "10.0.0.0", "an IPv4 CIDR" },
		{ "fake_net6", "fd00::/64", "an IPv6 /96" },
		{ "fake_net6", "10.0.0.0/8", "an IPv6 /96" },
		{ "fake_grace", "0", "seconds, 1 to 31536000" },
		{ "fake_grace", "1h", "seconds" },
		{ "fake_grace", "31536001", "seconds" },
		{ "dns_unspec", "v4", "both, ipv4 or ipv6" },
		{ "hosts_file", "hosts", "an absolute path or none" },
	};
	struct socksify_conf c;
	char err[512], sum[512];
	size_t i;

	conf_defaults(&c);
	ok(strcmp(c.fake_net4, "240.0.0.0/4") == 0 && strcmp(c.fake_net6, "fd73:6f63:6b73::/96") == 0 &&
	   c.fake_grace_s == 3600 && c.dns_unspec == DNS_UNSPEC_BOTH &&
	   strcmp(c.hosts_file, "/etc/hosts") == 0, "remote-DNS defaults");
	ok(load(&c, "fake_net4 = 10.0.0.0/8\nfake_net6 = fd00:1:2::/96\nfake_grace = 60\n"
		    "dns_unspec = IPv6\nhosts_file = /tmp/h\n", err, sizeof(err)) &&
	   strcmp(c.fake_net4, "10.0.0.0/8") == 0 && strcmp(c.fake_net6, "fd00:1:2::/96") == 0 &&
	   c.fake_grace_s == 60 && c.dns_unspec == DNS_UNSPEC_IPV6 &&
	   strcmp(c.hosts_file, "/tmp/h") == 0, "every key from a file: %s", err);
	ok(load(&c, "fake_net4 = 100.64.0.0/11\n", err, sizeof(err)), "/11 is wide enough");
	ok(load(&c, "hosts_file = none\n", err, sizeof(err)) && c.hosts_file[0] == '\0',
	   "hosts_file = none");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "# remote DNS\n%s = %s\n", bad[i].key, bad[i].value);
		ok(!load(&c, text, err, sizeof(err)) && strncmp(err, "t.conf:2: ", 10) == 0 &&
		   strstr(err, bad[i].why) != NULL, "%s = %s -> %s", bad[i].key, bad[i].value, err);
	}
	ok(!load(&c, "fake_net4 = 10.0.0.0/24\n", err, sizeof(err)) &&
	   strcmp(c.fake_net4, "240.0.0.0/4") == 0, "a refused range leaves the default");

	ok(load(&c, "fake_grace = 60\n", err, sizeof(err)), "file");
	set_env((const char *[]){ "SOCKSIFY_FAKE_NET4", "198.18.0.0/11", "SOCKSIFY_FAKE_NET6",
				  "fd00:9::/96", "SOCKSIFY_FAKE_GRACE", "7",
				  "SOCKSIFY_DNS_UNSPEC", "ipv4", "SOCKSIFY_HOSTS_FILE", "/tmp/h2",
				  NULL });
	ok(conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strcmp(c.fake_net4, "198.18.0.0/11") == 0 && strcmp(c.fake_net6, "fd00:9::/96") == 0 &&
	   c.fake_grace_s == 7 && c.dns_unspec == DNS_UNSPEC_IPV4 &&
	   strcmp(c.hosts_file, "/tmp/h2") == 0, "the SOCKSIFY_* twins override the file: %s", err);
	set_env((const char *[]){ "SOCKSIFY_HOSTS_FILE", "", NULL });
	ok(conf_apply_env(&c, fake_get, err, sizeof(err)) && c.hosts_file[0] == '\0',
	   "SOCKSIFY_HOSTS_FILE= (empty): no hosts file");
	set_env((const char *[]){ "SOCKSIFY_FAKE_NET4", "1.2.3.4/30", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strstr(err, "SOCKSIFY_FAKE_NET4: bad value '1.2.3.4/30' for fake_net4") == err, "%s", err);
	set_env((const char *[]){ "SOCKSIFY_DNS_UNSPEC", "all", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strstr(err, "SOCKSIFY_DNS_UNSPEC: ") == err, "%s", err);
	set_env((const char *[]){ "SOCKSIFY_FAKE_GRACE", "-5", NULL });
	ok(!conf_apply_env(&c, fake_get, err, sizeof(err)) &&
	   strstr(err, "SOCKSIFY_FAKE_GRACE: ") == err, "%s", err);

	enum dns_mode m = DNS_REMOTE;
	ok(conf_parse_dns("LOCAL", &m) && m == DNS_LOCAL && conf_parse_dns("remote", &m) &&
	   m == DNS_REMOTE && !conf_parse_dns("local ", &m) && !conf_parse_dns("", &m),
	   "conf_parse_dns: the one parser of dns= and SOCKSIFY_DNS");

	conf_defaults(&c);
	c.hosts_file[0] = '\0';
	conf_dns_summary(&c, sum, sizeof(sum));
	ok(strcmp(sum, "remote DNS: fake_net4=240.0.0.0/4, fake_net6=fd73:6f63:6b73::/96, "
		       "fake_grace=3600 s, dns_unspec=both, hosts_file=none") == 0, "summary: %s", sum);
}

static void test_finish(void)
{
	struct socksify_conf c;
	char err[512];

	conf_defaults(&c);
	ok(conf_finish(&c, err, sizeof(err)) && c.nproxies == 1 && c.proxies[0].socks5h &&
	   strcmp(c.proxies[0].host, "127.0.0.1") == 0 && c.proxies[0].port == 1080,
	   "no proxy -> " CONF_DEFAULT_PROXY);

	ok(load(&c, "proxy = socks4://h:1\n", err, sizeof(err)), "socks4 config");
	ok(!conf_finish(&c, err, sizeof(err)) && strstr(err, "socks4a") != NULL &&
	   strstr(err, "dns") != NULL, "socks4 last hop with dns=remote: %s", err);
	ok(load(&c, "proxy = socks4://h:1\ndns = local\n", err, sizeof(err)) &&
	   conf_finish(&c, err, sizeof(err)), "socks4 with dns=local is fine");
	ok(load(&c, "proxy = socks4a://h:1\n", err, sizeof(err)) && conf_finish(&c, err, sizeof(err)),
	   "socks4a with dns=remote is fine");
	ok(load(&c, "proxy = socks4://h:1\nproxy = socks5://g:2\n", err, sizeof(err)) &&
	   conf_finish(&c, err, sizeof(err)), "socks4 first hop, socks5 last: fine");
	ok(load(&c, "proxy = socks5://h:1\nchain = random\nchain_len = 2\n", err, sizeof(err)) &&
	   !conf_finish(&c, err, sizeof(err)) && strstr(err, "chain_len 2") != NULL,
	   "chain_len > proxies: %s", err);
	ok(load(&c, "proxy = socks5://h:1\nproxy = socks5://i:1\nchain = random\nchain_len = 2\n",
		err, sizeof(err)) && conf_finish(&c, err, sizeof(err)), "chain_len == proxies");
}

/* Every truncation and every single-bit flip of a few good URLs and a config: no
 * crash (ASan watches), an error always explains itself, and the password of the
 * original never shows in a message unless the flip moved it out of the userinfo. */
static void test_sweep(void)
{
	static const char *const urls[] = {
		"socks5h://bob:" PW "@[fd00:1::2]:9050",
		"http://a%40b:" PW "@proxy.corp:3128/",
		"socks4a://alice@10.0.0.1:1",
	};
	static const char conf_text[] = "proxy = socks5://u:" PW "@h:1 # c\n"
					"chain = dynamic\ndirect = [fd00::/8]:443\nlog = info\n";
	char buf[256], err[512];
	struct socksify_conf c;
	size_t i, k, bit, bad_msgs = 0, leaks = 0, runs = 0;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		size_t len = strlen(urls[i]);
		for (k = 0; k <= len; k++) {
			struct proxy p;
			memcpy(buf, urls[i], k);
			buf[k] = '\0';
			err[0] = '\0';
			runs++;
			if (!proxy_url_parse(buf, &p, err, sizeof(err)) && err[0] == '\0')
				bad_msgs++;
			if (strstr(err, PW) != NULL)
				leaks++;
		}
		for (k = 0; k < len; k++)
			for (bit = 0; bit < 8; bit++) {
				struct proxy p;
				memcpy(buf, urls[i], len + 1);
				buf[k] ^= (char)(1u << bit);
				err[0] = '\0';
				runs++;
				if (!proxy_url_parse(buf, &p, err, sizeof(err)) && err[0] == '\0')
					bad_msgs++;
				/* A flipped ':' or '@' can turn the password into a host name,
				 * which is then not a password any more: only count leaks when
				 * both delimiters survived. */
				if (strstr(err, PW) != NULL && strstr(buf, ":" PW "@") != NULL)
					leaks++;
			}
	}
	ok(bad_msgs == 0, "URL sweep (%zu runs): every error has a message", runs);
	ok(leaks == 0, "URL sweep: no message shows the password (%zu leaks)", leaks);

	bad_msgs = 0;
	runs = 0;
	for (k = 0; k <= sizeof(conf_text) - 1; k++) {
		conf_defaults(&c);
		err[0] = '\0';
		runs++;
		if (!conf_load_buf(&c, conf_text, k, "s.conf", err, sizeof(err)) &&
		    strncmp(err, "s.conf:", 7) != 0)
			bad_msgs++;
	}
	for (k = 0; k < sizeof(conf_text) - 1; k++)
		for (bit = 0; bit < 8; bit++) {
			char text[sizeof(conf_text)];
			memcpy(text, conf_text, sizeof(text));
			text[k] ^= (char)(1u << bit);
			conf_defaults(&c);
			err[0] = '\0';
			runs++;
			if (!conf_load_buf(&c, text, sizeof(text) - 1, "s.conf", err, sizeof(err)) &&
			    strncmp(err, "s.conf:", 7) != 0)
				bad_msgs++;
		}
	ok(bad_msgs == 0, "config sweep (%zu runs): every error names s.conf:LINE", runs);
}

/* AT_SECURE's loader: root-owned, not group/other-writable, no symbolic link. */
static void test_trusted(void)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[128], link[128], err[512];
	struct socksify_conf c;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/s.conf", dir);
	ok(write_file(path, "proxy = socks5://x:7\n", 21), "write config");
	chmod(path, 0644);
	conf_defaults(&c);
	ok(geteuid() != 0 || conf_load_trusted(&c, path, err, sizeof(err)), "root 0644 trusted: %s",
	   err);
	chmod(path, 0664);
	errno = 0;
	ok(!conf_load_trusted(&c, path, err, sizeof(err)) && errno == EPERM &&
	   strstr(err, "not trusted") && strstr(err, "0664"), "group-writable refused: %s", err);
	chmod(path, 0646);
	ok(!conf_load_trusted(&c, path, err, sizeof(err)) && errno == EPERM,
	   "world-writable refused: %s", err);
	chmod(path, 0644);
	if (geteuid() == 0 && chown(path, 65534, 65534) == 0)
		ok(!conf_load_trusted(&c, path, err, sizeof(err)) && strstr(err, "uid 65534"),
		   "not owned by root refused: %s", err);
	ok(chown(path, 0, 0) == 0 || geteuid() != 0, "chown back");
	snprintf(link, sizeof(link), "%s/l.conf", dir);
	ok(symlink(path, link) == 0, "symlink");
	ok(!conf_load_trusted(&c, link, err, sizeof(err)) && strstr(err, "symbolic link"),
	   "a symbolic link refused: %s", err);
	ok(conf_load_file(&c, link, err, sizeof(err)), "but fine when not AT_SECURE: %s", err);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static const char *find_env[4][2];
static const char *find_get(const char *name)
{
	for (size_t i = 0; i < 4 && find_env[i][0] != NULL; i++)
		if (strcmp(find_env[i][0], name) == 0)
			return find_env[i][1];
	return NULL;
}

/* The one search: -f, $SOCKSIFY_CONF, ~/.config, /etc; AT_SECURE only /etc. */
static void test_find(void)
{
	char dir[] = "/tmp/test_conf.XXXXXX", home_conf[160], path[128], out[512], err[512];
	bool sys = access(CONF_SYSTEM_PATH, F_OK) == 0;
	const char *want_sys = sys ? CONF_SYSTEM_PATH : "";

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/named.conf", dir);
	ok(write_file(path, "", 0), "write named");
	memset(find_env, 0, sizeof(find_env));
	find_env[0][0] = "HOME";
	find_env[0][1] = dir;
	ok(conf_find(NULL, false, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strcmp(out, want_sys) == 0, "nothing in HOME: '%s'", out);
	snprintf(home_conf, sizeof(home_conf), "%s/.config", dir);
	mkdir(home_conf, 0755);
	snprintf(home_conf, sizeof(home_conf), "%s/.config/socksify", dir);
	mkdir(home_conf, 0755);
	snprintf(home_conf, sizeof(home_conf), "%s/.config/socksify/socksify.conf", dir);
	ok(write_file(home_conf, "", 0), "write home conf");
	ok(conf_find(NULL, false, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strcmp(out, home_conf) == 0, "~/.config/socksify/socksify.conf: '%s'", out);
	find_env[1][0] = "SOCKSIFY_CONF";
	find_env[1][1] = path;
	ok(conf_find(NULL, false, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strcmp(out, path) == 0, "$SOCKSIFY_CONF before HOME: '%s'", out);
	ok(conf_find(home_conf, false, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strcmp(out, home_conf) == 0, "-f before $SOCKSIFY_CONF: '%s'", out);
	ok(conf_find(NULL, true, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strcmp(out, want_sys) == 0, "AT_SECURE: the environment names nothing: '%s'", out);
	find_env[1][1] = "/nonexistent/x.conf";
	ok(!conf_find(NULL, false, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strstr(err, "/nonexistent/x.conf: No such file") != NULL,
	   "a named file must exist: %s", err);
	find_env[1][1] = "";
	ok(conf_find(NULL, false, find_get, out, sizeof(out), err, sizeof(err)) &&
	   strcmp(out, home_conf) == 0, "an empty $SOCKSIFY_CONF is unset: '%s'", out);
	unlink(home_conf);
	snprintf(home_conf, sizeof(home_conf), "%s/.config/socksify", dir);
	rmdir(home_conf);
	snprintf(home_conf, sizeof(home_conf), "%s/.config", dir);
	rmdir(home_conf);
	unlink(path);
	rmdir(dir);
}

/* exclude_program: by base name, or by path when the pattern has a '/'; and the
 * documented limits, each an error naming FILE:LINE. */
static void test_exclude_limits(void)
{
	static char text[70 * 40];
	struct socksify_conf c;
	char err[512];
	size_t n = 0;

	conf_defaults(&c);
	ok(conf_load_buf(&c, "exclude_program = sshd\nexclude_program = /opt/*/bin/*\n", 53,
			 "s.conf", err, sizeof(err)) && c.nexclude == 2, "exclude_program: %s", err);
	ok(conf_excludes(&c, "/usr/sbin/sshd"), "sshd by base name");
	ok(!conf_excludes(&c, "/usr/sbin/sshd-session2"), "not a prefix match");
	ok(conf_excludes(&c, "/opt/x/bin/tool"), "by path glob");
	ok(!conf_excludes(&c, "/usr/bin/curl"), "curl not excluded");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "exclude_program = p%d\n", i);
	conf_defaults(&c);
	ok(!conf_load_buf(&c, text, n, "s.conf", err, sizeof(err)) &&
	   strstr(err, "s.conf:17: too many exclude_program patterns (at most 16)"),
	   "17 exclude_program: %s", err);
	n = 0;
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "proxy = socks5://h%d\n", i);
	conf_defaults(&c);
	ok(!conf_load_buf(&c, text, n, "s.conf", err, sizeof(err)) &&
	   strstr(err, "s.conf:17: too many proxies (at most 16)"), "17 proxies: %s", err);
	n = 0;
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "direct = 10.0.0.%d\n", i);
	conf_defaults(&c);
	ok(!conf_load_buf(&c, text, n, "s.conf", err, sizeof(err)) &&
	   strstr(err, "s.conf:65: too many direct rules (at most 64)"), "65 direct rules: %s",
	   err);
	{
		static char big[CONF_FILE_MAX + 10];
		memset(big, '\n', sizeof(big));
		conf_defaults(&c);
		ok(!conf_load_buf(&c, big, sizeof(big), "s.conf", err, sizeof(err)) &&
		   strstr(err, "s.conf:1048577: file too large (max 1048576 bytes)"),
		   "1 MiB + 10: %s", err);
		memset(big, 'x', CONF_LINE_MAX + 1);
		conf_defaults(&c);
		ok(!conf_load_buf(&c, big, CONF_LINE_MAX + 2, "s.conf", err, sizeof(err)) &&
		   strstr(err, "s.conf:1: line too long (max 2048 bytes)"), "2049-byte line: %s",
		   err);
	}
}

int main(void)
{
	test_url_good();
	test_url_bad();
	test_url_str();
	test_set();
	test_buf();
	test_file();
	test_env();
	test_remote_dns();
	test_finish();
	test_sweep();
	test_trusted();
	test_find();
	test_exclude_limits();
	return tap_done();
}
