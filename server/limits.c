/* Process-wide session caps (see limits.h). The total is reserved with one atomic
 * add and given back when over, so two workers racing for the last slot cannot both
 * get it; the per-client check and increment happen under one lock for the same
 * reason. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "limits.h"
#include "server.h"

struct client_slot {
	UT_hash_handle hh;
	uint8_t key[16]; /* IPv6, or IPv4-mapped */
	unsigned n;
};

static atomic_ulong active_total;
static struct client_slot *client_slots;
static pthread_mutex_t client_mu = PTHREAD_MUTEX_INITIALIZER;

void client_key(const union sa46 *a, uint8_t key[16])
{
	if (a->sa.sa_family == AF_INET6) {
		memcpy(key, &a->in6.sin6_addr, 16);
		return;
	}
	memset(key, 0, 10);
	key[10] = key[11] = 0xff;
	memcpy(key + 12, &a->in.sin_addr, 4);
}

/* Under client_mu: one more session for the client, unless it is at the cap. */
static bool client_acquire(const uint8_t key[16])
{
	struct client_slot *c;

	HASH_FIND(hh, client_slots, key, 16, c);
	if (c && c->n >= srv.o.max_per_client)
		return false;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return false;
		memcpy(c->key, key, 16);
		HASH_ADD(hh, client_slots, key, sizeof(c->key), c);
	}
	c->n++;
	return true;
}

bool limits_admit(const union sa46 *client, bool *per_client)
{
	uint8_t key[16];
	bool ok;

	*per_client = false;
	if (atomic_fetch_add_explicit(&active_total, 1, memory_order_relaxed) >=
	    srv.o.max_sessions) {
		atomic_fetch_sub_explicit(&active_total, 1, memory_order_relaxed);
		return false;
	}
	if (!srv.o.max_per_client)
		return true;
	client_key(client, key);
	pthread_mutex_lock(&client_mu);
	ok = client_acquire(key);
	pthread_mutex_unlock(&client_mu);
	if (!ok) {
		atomic_fetch_sub_explicit(&active_total, 1, memory_order_relaxed);
		return false;
	}
	*per_client = true;
	return true;
}

void limits_release(const union sa46 *client, bool per_client)
{
	uint8_t key[16];
	struct client_slot *c;

	atomic_fetch_sub_explicit(&active_total, 1, memory_order_relaxed);
	if (!per_client)
		return;
	client_key(client, key);
	pthread_mutex_lock(&client_mu);
	HASH_FIND(hh, client_slots, key, 16, c);
	if (c && --c->n == 0) {
		HASH_DEL(client_slots, c);
		free(c);
	}
	pthread_mutex_unlock(&client_mu);
}

unsigned long limits_active(void)
{
	return atomic_load_explicit(&active_total, memory_order_relaxed);
}
