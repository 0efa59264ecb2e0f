/* libFuzzer target for proxy URLs: any bytes go to proxy_url_parse. A parsed URL
 * must print (proxy_url_str) as a URL that parses back to the same proxy, with the
 * password shown only as "***". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char url[URL_MAX + 64], err[512], shown[2048], err2[512];
	static struct proxy p, q;

	if (size >= sizeof(url))
		size = sizeof(url) - 1;
	memcpy(url, data, size);
	url[size] = '\0';
	err[0] = '\0';
	if (!proxy_url_parse(url, &p, err, sizeof(err))) {
		CHECK(err[0] != '\0');
		CHECK(strncmp(err, "invalid proxy URL '", 19) == 0);
		CHECK(p.pass[0] == '\0' && p.user[0] == '\0' && p.host[0] == '\0');
		return 0;
	}
	CHECK(p.host[0] != '\0' && p.port != 0);
	CHECK(p.type <= PROXY_HTTP);
	proxy_url_str(&p, shown, sizeof(shown));
	if (p.has_auth) {
		/* The user is percent-encoded, so the first ':' and '@' after the scheme
		 * bound the password: it must read "***" exactly (or be absent for socks4). */
		const char *auth = strstr(shown, "://") + 3;
		const char *at = strchr(auth, '@');
		const char *colon;

		CHECK(at != NULL);
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (p.type == PROXY_SOCKS4 || p.type == PROXY_SOCKS4A)
			CHECK(colon == NULL);
		else
			CHECK(colon != NULL && at - colon == 4 && memcmp(colon + 1, "***", 3) == 0);
	}
	CHECK(proxy_url_parse(shown, &q, err2, sizeof(err2)));
	CHECK(q.type == p.type && q.socks5h == p.socks5h && q.port == p.port &&
	      q.has_auth == p.has_auth);
	CHECK(strcmp(q.host, p.host) == 0 && strcmp(q.user, p.user) == 0);
	return 0;
}
