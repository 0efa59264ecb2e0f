/* libFuzzer target for the configuration: any bytes go to conf_load_buf as a file,
 * then conf_finish; the same bytes, cut at newlines, are also served as SOCKSIFY_*
 * variables to conf_apply_env. Errors must always come with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

static const char *const env_names[] = { "SOCKSIFY_PROXY", "SOCKSIFY_DIRECT", "SOCKSIFY_DNS",
					 "SOCKSIFY_UDP", "SOCKSIFY_LOG", "SOCKSIFY_LOG_FILE" };
static char env_buf[4096];
static const char *env_vals[6];

static const char *fuzz_get(const char *name)
{
	size_t i;

	for (i = 0; i < 6; i++)
		if (strcmp(name, env_names[i]) == 0)
			return env_vals[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct socksify_conf c;
	static char err[1024];
	size_t i, n;
	char *p;

	conf_defaults(&c);
	err[0] = '\0';
	if (conf_load_buf(&c, (const char *)data, size, "fuzz.conf", err, sizeof(err))) {
		CHECK(c.nproxies <= CONF_MAX_PROXIES && c.ndirect <= CONF_MAX_RULES &&
		      c.nblock <= CONF_MAX_RULES);
		err[0] = '\0';
		if (conf_finish(&c, err, sizeof(err)))
			CHECK(c.nproxies >= 1 && c.chain_len <= c.nproxies);
		else
			CHECK(err[0] != '\0');
	} else {
		CHECK(strncmp(err, "fuzz.conf", 9) == 0);
	}

	n = size < sizeof(env_buf) - 1 ? size : sizeof(env_buf) - 1;
	memcpy(env_buf, data, n);
	env_buf[n] = '\0';
	memset(env_vals, 0, sizeof(env_vals));
	for (i = 0, p = env_buf; i < 6 && p != NULL; i++) {
		char *nl = strchr(p, '\n');
		env_vals[i] = p;
		if (nl != NULL)
			*nl = '\0';
		p = nl != NULL ? nl + 1 : NULL;
	}
	conf_defaults(&c);
	err[0] = '\0';
	if (!conf_apply_env(&c, fuzz_get, err, sizeof(err)))
		CHECK(strncmp(err, "SOCKSIFY_", 9) == 0);
	else
		CHECK(c.nproxies <= CONF_MAX_PROXIES && c.ndirect <= CONF_MAX_RULES);
	return 0;
}
