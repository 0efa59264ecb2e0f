/* What every other file of the shim builds on, and so depends on nothing of it: the
 * re-entrancy guard, and the lock that one-time set-ups hold so fork waits for them.
 *
 * The shim's one-time set-ups (configuration, registry) run under pthread_once. A
 * fork while another thread is inside one would give the child a once-control stuck
 * "in progress" and a child that hangs on its first connect. So set-ups hold this
 * lock, fork takes it first (waiting for a set-up to finish), and the child, with one
 * thread, starts from a fresh lock. */
#include <pthread.h>
#include <string.h>

#include "shim.h"

__thread int shim_inside;

static pthread_mutex_t guard_setup_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP; /* set-ups nest */

void shim_setup_begin(void)
{
	pthread_mutex_lock(&guard_setup_mu);
}

void shim_setup_end(void)
{
	pthread_mutex_unlock(&guard_setup_mu);
}

void guard_atfork_prepare(void)
{
	pthread_mutex_lock(&guard_setup_mu);
}

void guard_atfork_parent(void)
{
	pthread_mutex_unlock(&guard_setup_mu);
}

void guard_atfork_child(void)
{
	static const pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	memcpy(&guard_setup_mu, &fresh, sizeof(fresh));
}
