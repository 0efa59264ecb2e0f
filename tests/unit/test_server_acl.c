/* Unit tests for socksifyd's access control (server/acl.c, compiled in): the client
 * allow-list, --deny-dest name/CIDR/port rules, the default deny of local
 * destinations only in strict mode, and the ACL file format. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "tap.h"

static struct socks_addr ip(const char *s, uint16_t port)
{
	struct socks_addr a;

	memset(&a, 0, sizeof(a));
	if (!addr_parse_ip(s, &a)) {
		a.atyp = SOCKS5_ATYP_DOMAINNAME;
		snprintf(a.u.name, sizeof(a.u.name), "%s", s);
	}
	a.port = port;
	return a;
}

int main(void)
{
	struct acl a;
	char err[256];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct socks_addr d;
	char path[] = "/tmp/test_server_acl.XXXXXX";
	int fd;

	memset(&a, 0, sizeof(a));
	ok(acl_client_allowed(&a, (struct sockaddr *)&sin), "empty allow-list: anyone");
	ok(acl_add_allow(&a, "10.0.0.0/8", err, sizeof(err)), "allow 10/8");
	ok(!acl_add_allow(&a, "10.0.0.0/33", err, sizeof(err)), "bad CIDR refused: %s", err);
	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	ok(acl_client_allowed(&a, (struct sockaddr *)&sin), "10.1.2.3 allowed");
	inet_pton(AF_INET, "11.1.2.3", &sin.sin_addr);
	ok(!acl_client_allowed(&a, (struct sockaddr *)&sin), "11.1.2.3 not allowed");

	ok(acl_add_deny(&a, "*.corp.example", err, sizeof(err)), "deny *.corp.example");
	ok(acl_add_deny(&a, "192.0.2.0/24", err, sizeof(err)), "deny 192.0.2.0/24");
	ok(acl_add_deny(&a, ":25", err, sizeof(err)), "deny :25");
	d = ip("db.corp.example", 443);
	ok(acl_dest_asked_denied(&a, &d), "name rule matches the asked name");
	d = ip("corp.example.org", 443);
	ok(!acl_dest_asked_denied(&a, &d), "a different name passes");
	d = ip("192.0.2.9", 80);
	ok(acl_dest_addr_denied(&a, &d, false), "CIDR rule matches a resolved address");
	d = ip("198.51.100.1", 25);
	ok(acl_dest_addr_denied(&a, &d, false), "port rule");
	d = ip("198.51.100.1", 80);
	ok(!acl_dest_addr_denied(&a, &d, false), "other address passes");

	/* Default deny: only in strict mode (non-loopback listener). */
	const char *local[] = { "127.0.0.1", "127.9.9.9", "::1", "169.254.169.254", "fe80::1",
				"0.0.0.0", "::" };
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		d = ip(local[i], 80);
		ok(acl_dest_addr_denied(&a, &d, true), "strict: %s denied", local[i]);
		ok(!acl_dest_addr_denied(&a, &d, false), "not strict: %s allowed", local[i]);
	}
	a.own = calloc(1, sizeof(*a.own));
	a.own[0] = ip("203.0.113.5", 0);
	a.nown = 1;
	d = ip("203.0.113.5", 8080);
	ok(acl_dest_addr_denied(&a, &d, true), "strict: own address denied");
	d = ip("203.0.113.6", 8080);
	ok(!acl_dest_addr_denied(&a, &d, true), "strict: a neighbour is fine");
	ok(acl_load_own(&a) && a.nown >= 1, "getifaddrs lists at least loopback (%zu)", a.nown);
	acl_free(&a);

	fd = mkstemp(path);
	ok(fd >= 0, "temp file");
	dprintf(fd, "# comment\n\nallow 10.0.0.0/8\n  deny-dest   *.internal  \n");
	close(fd);
	ok(acl_load_file(&a, path, err, sizeof(err)), "ACL file loads");
	is_int(a.nallow, 1, "one allow rule");
	is_int(a.ndeny, 1, "one deny rule");
	acl_free(&a);
	fd = open(path, O_WRONLY | O_TRUNC);
	dprintf(fd, "allow 10.0.0.0/8\npermit everything\n");
	close(fd);
	ok(!acl_load_file(&a, path, err, sizeof(err)) && strstr(err, ":2:"),
	   "a bad line is refused with its line number: %s", err);
	acl_free(&a);
	unlink(path);

	/* Command-line rules copied into a reloaded ACL, then more appended. */
	{
		struct acl cmd, built;
		char rule[32];

		memset(&cmd, 0, sizeof(cmd));
		memset(&built, 0, sizeof(built));
		for (int i = 0; i < 5; i++) {
			snprintf(rule, sizeof(rule), "10.%d.0.0/16", i);
			acl_add_deny(&cmd, rule, err, sizeof(err));
			acl_add_allow(&cmd, rule, err, sizeof(err));
		}
		ok(acl_add_rules_of(&built, &cmd), "rules copied");
		for (int i = 0; i < 20; i++) {
			snprintf(rule, sizeof(rule), "192.168.%d.0/24", i);
			acl_add_deny(&built, rule, err, sizeof(err));
		}
		is_int(built.ndeny, 25, "and more appended after them");
		d = ip("10.4.1.1", 80);
		ok(acl_dest_addr_denied(&built, &d, false), "a copied rule applies");
		d = ip("192.168.19.1", 80);
		ok(acl_dest_addr_denied(&built, &d, false), "an appended rule applies");
		acl_free(&cmd);
		acl_free(&built);
	}
	return tap_done();
}
