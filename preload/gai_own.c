/* Which addrinfo lists are ours: a registry of the lists getaddrinfo handed out, so
 * freeaddrinfo can tell ours from libc's without reading memory around a pointer it
 * does not own. An open-addressing set of pointers under one mutex. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resolver.h"

static pthread_mutex_t rs_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *rs_reg;
static size_t rs_reg_cap, rs_reg_n;

static size_t rs_reg_home(uintptr_t p, size_t cap)
{
	return (size_t)(((uint64_t)p * 0x9E3779B97F4A7C15ULL) >> 40) & (cap - 1);
}

static bool rs_reg_put_locked(uintptr_t p)
{
	if ((rs_reg_n + 1) * 2 > rs_reg_cap) {
		size_t ncap = rs_reg_cap ? rs_reg_cap * 2 : 64;
		uintptr_t *n = calloc(ncap, sizeof(*n));
		if (n == NULL)
			return false;
		for (size_t i = 0; i < rs_reg_cap; i++) {
			if (rs_reg[i] == 0)
				continue;
			size_t j = rs_reg_home(rs_reg[i], ncap);
			while (n[j] != 0)
				j = (j + 1) & (ncap - 1);
			n[j] = rs_reg[i];
		}
		free(rs_reg);
		rs_reg = n;
		rs_reg_cap = ncap;
	}
	size_t j = rs_reg_home(p, rs_reg_cap);
	while (rs_reg[j] != 0)
		j = (j + 1) & (rs_reg_cap - 1);
	rs_reg[j] = p;
	rs_reg_n++;
	return true;
}

/* Removes p if present (linear probing, backward-shift delete). */
static bool rs_reg_take_locked(uintptr_t p)
{
	if (rs_reg_cap == 0)
		return false;
	size_t mask = rs_reg_cap - 1, i = rs_reg_home(p, rs_reg_cap);
	while (rs_reg[i] != p) {
		if (rs_reg[i] == 0)
			return false;
		i = (i + 1) & mask;
	}
	for (size_t j = (i + 1) & mask; rs_reg[j] != 0; j = (j + 1) & mask) {
		size_t k = rs_reg_home(rs_reg[j], rs_reg_cap);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			rs_reg[i] = rs_reg[j];
			i = j;
		}
	}
	rs_reg[i] = 0;
	rs_reg_n--;
	return true;
}

bool rs_own_put(const void *p)
{
	pthread_mutex_lock(&rs_reg_mu);
	bool ok = rs_reg_put_locked((uintptr_t)p);
	pthread_mutex_unlock(&rs_reg_mu);
	return ok;
}

bool rs_own_take(const void *p)
{
	pthread_mutex_lock(&rs_reg_mu);
	bool ours = rs_reg_take_locked((uintptr_t)p);
	pthread_mutex_unlock(&rs_reg_mu);
	return ours;
}

void rs_own_fork(enum rs_fork phase)
{
	rs_mutex_fork(&rs_reg_mu, phase);
}
