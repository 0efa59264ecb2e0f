/* The shared name <-> fake address table (see nametable.h for the contract). One file,
 * mapped MAP_SHARED: a header, a pid registry used to decide when the file may go, an
 * open-addressing hash of 64-bit slots (hash tag << 32 | index + 1) and two arrays of
 * entries, each guarded by its own sequence counter so that readers need no lock. */
#include "nametable.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ntfault.h"
#include "util.h"

#define NT_MAGIC 0x31544e534b434f53ULL /* "SOCKSNT1" */
#define NT_VERSION 2u /* 2: params.first, the window */
#define NT_PAGE 4096u
#define NT_NPIDS 1024u
#define NT_SCAN_MAX 4096u /* entries the clock hand may inspect for one insertion */
#define NT_SMALL_ESIZE 64u
#define NT_LONG_ESIZE 272u

struct nt_class {
	uint64_t off;      /* file offset of entry 0 */
	uint32_t first;    /* index of entry 0 */
	uint32_t count;
	uint32_t esize;
	uint32_t name_max;
	uint32_t bump;     /* entries never used yet start here */
	uint32_t hand;     /* clock hand for eviction, once bump == count */
};

struct nt_header {
	uint64_t magic;
	uint32_t version;
	uint32_t uid;
	uint64_t size;
	uint64_t pid_off;
	uint64_t slot_off;
	uint32_t nslots; /* a power of two */
	uint32_t pid_overflow; /* a process could not register: never unlink at exit */
	struct nt_params params;
	struct nt_class cls[2];
	uint32_t live;
	uint32_t evictions;
	uint32_t wip; /* index + 1 of the entry a writer is changing, for crash repair */
	uint32_t repairs; /* writers that died holding the lock */
	uint32_t last_activity; /* nt_now() of the last insertion or attach */
	pthread_mutex_t lock; /* process-shared, robust */
};

/* name[] is read by other processes while we may rewrite it: every access is through
 * 64-bit relaxed atomics between two reads of seq (a seqlock). */
struct nt_entry {
	uint32_t seq;      /* odd while a writer changes the entry */
	uint32_t hash;     /* low 32 bits of the name's hash: its home slot */
	uint32_t last_use; /* seconds, nt_now() */
	uint16_t len;      /* 0: free */
	uint16_t pad;
	uint64_t name[];   /* NUL-padded */
};

_Static_assert(sizeof(struct nt_header) <= NT_PAGE, "header fits its page");
_Static_assert(sizeof(struct nt_entry) == 16, "entry header is 16 bytes");

static uint32_t nt_clock_default(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	/* +1 so that a real time is never 0, the "never used" mark. */
	return (uint32_t)ts.tv_sec + 1;
}
static uint32_t (*nt_now)(void) = nt_clock_default;

void nt_set_clock(uint32_t (*now)(void))
{
	nt_now = now ? now : nt_clock_default;
}

/* ---- parameters ---- */

void nt_params_default(struct nt_params *p)
{
	memset(p, 0, sizeof(*p));
	nt_params_set_net4(p, NT_DEFAULT_NET4);
	nt_params_set_net6(p, NT_DEFAULT_NET6);
	p->nsmall = NT_DEFAULT_NSMALL;
	p->nlong = NT_DEFAULT_NLONG;
	p->grace_s = NT_DEFAULT_GRACE_S;
}

static bool nt_split_cidr(const char *cidr, char *ip, size_t cap, unsigned long *prefix,
			  unsigned long maxp)
{
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (n == 0 || n >= cap)
		return false;
	memcpy(ip, cidr, n);
	ip[n] = '\0';
	*prefix = maxp;
	return !slash || parse_ulong(slash + 1, 1, maxp, prefix);
}

bool nt_params_set_net4(struct nt_params *p, const char *cidr)
{
	char ip[INET_ADDRSTRLEN];
	unsigned long prefix;
	struct in_addr a;
	if (!nt_split_cidr(cidr, ip, sizeof(ip), &prefix, 30) || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	uint32_t mask = (uint32_t)(0xffffffffu << (32 - prefix));
	p->net4 = ntohl(a.s_addr) & mask;
	p->prefix4 = (uint8_t)prefix;
	return true;
}

bool nt_params_set_net6(struct nt_params *p, const char *cidr)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned long prefix;
	struct in6_addr a;
	if (!nt_split_cidr(cidr, ip, sizeof(ip), &prefix, 96) || prefix != 96 ||
	    inet_pton(AF_INET6, ip, &a) != 1)
		return false;
	memset(p->net6, 0, sizeof(p->net6));
	memcpy(p->net6, &a, 12);
	return true;
}

static uint32_t nt_params_capacity(const struct nt_params *p)
{
	return p->nsmall + p->nlong;
}

static bool nt_params_valid(const struct nt_params *p)
{
	uint64_t cap = nt_params_capacity(p);
	if (p->nsmall == 0 || p->nlong == 0 || cap > (1u << 28) || p->prefix4 < 1 ||
	    p->prefix4 > 30 || p->grace_s == 0)
		return false;
	/* Every index needs a host address that is neither the network address nor the
	 * range's last address (in 240/4 that one is the limited broadcast). */
	return (uint64_t)p->first + cap + 2 <= (1ull << (32 - p->prefix4));
}

bool nt_params_is_fake(const struct nt_params *p, const struct sockaddr *sa, socklen_t len,
		       uint32_t *idx)
{
	uint32_t v4;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		v4 = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(b, p->net6, 12) != 0 && memcmp(b, mapped, 12) != 0)
			return false;
		v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
	} else {
		return false;
	}
	uint32_t mask = (uint32_t)(0xffffffffu << (32 - p->prefix4));
	if ((v4 & mask) != p->net4)
		return false;
	if (idx) {
		uint32_t host = v4 & ~mask;
		*idx = host == 0 ? UINT32_MAX : host - 1;
	}
	return true;
}

/* ---- layout ---- */

static struct nt_header *nt_hdr(const struct nametable *t)
{
	return (struct nt_header *)t->base;
}

static uint64_t *nt_slots(const struct nametable *t)
{
	return (uint64_t *)((char *)t->base + t->g.slot_off);
}

static int32_t *nt_pids(const struct nametable *t)
{
	return (int32_t *)((char *)t->base + t->g.pid_off);
}

static uint32_t nt_cap(const struct nametable *t)
{
	return t->g.count[0] + t->g.count[1];
}

/* Every index read from the shared memory goes through this before it is used. */
static bool nt_idx_ok(const struct nametable *t, uint32_t idx)
{
	return idx - t->g.first[0] < nt_cap(t);
}

static int nt_class_of(const struct nametable *t, uint32_t idx)
{
	return idx < t->g.first[1] ? 0 : 1;
}

/* idx must be nt_idx_ok. */
static struct nt_entry *nt_entry(const struct nametable *t, uint32_t idx)
{
	int c = nt_class_of(t, idx);
	return (struct nt_entry *)((char *)t->base + t->g.off[c] +
				   (uint64_t)(idx - t->g.first[c]) * t->g.esize[c]);
}

static uint32_t nt_round_pow2(uint64_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static void nt_layout(struct nt_header *h, const struct nt_params *p)
{
	h->pid_off = NT_PAGE;
	h->slot_off = h->pid_off + NT_NPIDS * sizeof(int32_t);
	/* Load factor at most 2/3 keeps linear probes short. */
	h->nslots = nt_round_pow2((uint64_t)nt_params_capacity(p) * 3 / 2);
	uint64_t off = h->slot_off + (uint64_t)h->nslots * sizeof(uint64_t);
	h->cls[0] = (struct nt_class){ .off = off, .first = p->first, .count = p->nsmall,
				       .esize = NT_SMALL_ESIZE, .name_max = NT_SMALL_NAME_MAX };
	off += (uint64_t)p->nsmall * NT_SMALL_ESIZE;
	h->cls[1] = (struct nt_class){ .off = off, .first = p->first + p->nsmall,
				       .count = p->nlong, .esize = NT_LONG_ESIZE,
				       .name_max = NT_NAME_MAX };
	off += (uint64_t)p->nlong * NT_LONG_ESIZE;
	h->size = (off + NT_PAGE - 1) / NT_PAGE * NT_PAGE;
}

/* This process's copy of the geometry, from validated params (never from the file). */
static void nt_set_geom(struct nametable *t, const struct nt_params *p)
{
	struct nt_header h;
	memset(&h, 0, sizeof(h));
	nt_layout(&h, p);
	t->params = *p;
	t->g.pid_off = h.pid_off;
	t->g.slot_off = h.slot_off;
	t->g.nslots = h.nslots;
	for (int c = 0; c < 2; c++) {
		t->g.off[c] = h.cls[c].off;
		t->g.first[c] = h.cls[c].first;
		t->g.count[c] = h.cls[c].count;
		t->g.esize[c] = h.cls[c].esize;
		t->g.name_max[c] = h.cls[c].name_max;
	}
}

uint64_t nt_table_size(const struct nt_params *p)
{
	struct nt_header h;
	memset(&h, 0, sizeof(h));
	nt_layout(&h, p);
	return h.size;
}

/* ---- names and hashing ---- */

int nt_canon(const char *name, char *out, size_t cap)
{
	size_t n = strnlen(name, NT_NAME_MAX + 2);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > NT_NAME_MAX || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x21 || c == 0x7f)
			return -1;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = '\0';
	return (int)n;
}

static uint64_t nt_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final mix for the high bits */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Copies an entry's name out under its seqlock. Returns the length, 0 for a free
 * entry, -1 if a writer was (or may have been) busy with it (the caller then takes the
 * slow path), -2 if it does not fit cap or claims more than its class holds. */
static int nt_entry_read(const struct nt_entry *e, char *buf, size_t cap, uint32_t name_max)
{
	uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_SEQ_CST);
	if (s1 & 1)
		return -1;
	uint16_t len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	if (len == 0 || len > name_max || (size_t)len >= cap) {
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
			return -1;
		return len == 0 ? 0 : -2;
	}
	uint64_t words[(NT_NAME_MAX + 1 + 7) / 8];
	size_t nw = (len + 8) / 8; /* including the NUL */
	for (size_t i = 0; i < nw; i++)
		words[i] = __atomic_load_n(&e->name[i], __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
		return -1;
	memcpy(buf, words, len);
	buf[len] = '\0';
	return len;
}

/* Marks the entry used now. Done BEFORE validating it, with a full barrier: an evicting
 * writer first makes seq odd and then reads last_use, so either it sees our fresh time
 * and spares the entry, or we see its seq change and retry (Dekker). */
static void nt_touch(struct nt_entry *e, uint32_t now)
{
	if (__atomic_load_n(&e->last_use, __ATOMIC_RELAXED) != now)
		__atomic_store_n(&e->last_use, now, __ATOMIC_SEQ_CST);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Probes for a canonical name. Returns 1 and *idx on a hit, 0 on a miss, -1 when a
 * concurrent writer got in the way or a slot holds no valid index (callers retry
 * under the lock). */
static int nt_probe(struct nametable *t, const char *name, size_t n, uint64_t h, uint32_t now,
		    uint32_t *idx)
{
	uint64_t *slots = nt_slots(t);
	uint32_t mask = t->g.nslots - 1, tag = (uint32_t)(h >> 32);
	char buf[NT_NAME_MAX + 1];
	for (uint32_t i = (uint32_t)h & mask, k = 0; k < t->g.nslots; i = (i + 1) & mask, k++) {
		uint64_t s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
		if (s == 0)
			return 0;
		if ((uint32_t)(s >> 32) != tag)
			continue;
		uint32_t x = (uint32_t)s - 1;
		if (!nt_idx_ok(t, x))
			return -1;
		struct nt_entry *e = nt_entry(t, x);
		nt_touch(e, now);
		int len = nt_entry_read(e, buf, sizeof(buf), t->g.name_max[nt_class_of(t, x)]);
		if (len == -1)
			return -1;
		if (len > 0 && (size_t)len == n && memcmp(buf, name, n) == 0) {
			*idx = x;
			return 1;
		}
	}
	return 0;
}

/* ---- writers (hold the lock) ---- */

static void nt_entry_write(struct nt_entry *e, const char *name, size_t n, uint32_t hash,
			   uint32_t now, size_t name_cap)
{
	uint64_t words[(NT_NAME_MAX + 1 + 7) / 8];
	memset(words, 0, sizeof(words));
	memcpy(words, name, n);
	/* seq is already odd here (the caller made it so before choosing this entry). */
	e->hash = hash;
	__atomic_store_n(&e->last_use, now, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, (uint16_t)n, __ATOMIC_RELAXED);
	for (size_t i = 0; i < name_cap / 8; i++)
		__atomic_store_n(&e->name[i], words[i], __ATOMIC_RELAXED);
}

/* Odd while we write. Forced odd rather than incremented: in a corrupted table seq
 * may already be odd, and the entry must still end even (readable). */
static void nt_seq_begin(struct nt_entry *e)
{
	__atomic_store_n(&e->seq, e->seq | 1, __ATOMIC_SEQ_CST);
}

static void nt_seq_end(struct nt_entry *e)
{
	__atomic_store_n(&e->seq, (e->seq | 1) + 1, __ATOMIC_RELEASE);
}

/* Removes slot i by shifting later members of its cluster back (no tombstones, so
 * probes stay short however long the table churns). A reader that races this may miss
 * a name that is present: it then retries under the lock. A slot holding no valid
 * index (a corrupted table) is left where it is. */
static void nt_slot_delete(struct nametable *t, uint32_t i)
{
	uint64_t *slots = nt_slots(t);
	uint32_t mask = t->g.nslots - 1;
	for (uint32_t j = (i + 1) & mask, n = 0; n < mask; j = (j + 1) & mask, n++) {
		uint64_t s = slots[j];
		if (s == 0)
			break;
		uint32_t x = (uint32_t)s - 1;
		if (!nt_idx_ok(t, x))
			continue;
		uint32_t k = nt_entry(t, x)->hash & mask;
		if (((j - k) & mask) >= ((j - i) & mask)) {
			__atomic_store_n(&slots[i], s, __ATOMIC_RELEASE);
			i = j;
		}
	}
	__atomic_store_n(&slots[i], 0, __ATOMIC_RELEASE);
}

/* false if no slot is free: only in a corrupted table (the load stays under 2/3). */
static bool nt_slot_insert(struct nametable *t, uint64_t h, uint32_t idx)
{
	uint64_t *slots = nt_slots(t);
	uint32_t mask = t->g.nslots - 1;
	uint32_t i = (uint32_t)h & mask, n = 0;
	while (slots[i] != 0) {
		if (++n == t->g.nslots)
			return false;
		i = (i + 1) & mask;
	}
	__atomic_store_n(&slots[i], (h & 0xffffffff00000000ULL) | (uint64_t)(idx + 1),
			 __ATOMIC_RELEASE);
	return true;
}

/* Finds the slot that points at idx (the entry's name is stable: we hold the lock). */
static bool nt_slot_find_idx(struct nametable *t, uint32_t idx, uint32_t *pos)
{
	uint64_t *slots = nt_slots(t);
	uint32_t mask = t->g.nslots - 1;
	for (uint32_t i = nt_entry(t, idx)->hash & mask, k = 0; k <= mask; i = (i + 1) & mask, k++) {
		if (slots[i] == 0)
			return false;
		if ((uint32_t)slots[i] == idx + 1) {
			*pos = i;
			return true;
		}
	}
	return false;
}

/* Picks an entry of class c for a new name and leaves it with seq odd, its old name
 * (if any) out of the hash. -ENOSPC if the clock hand finds only entries still within
 * their grace period. bump and hand live in the shared header: clamped before use. */
static int nt_alloc(struct nametable *t, int c, uint32_t now, uint32_t *out)
{
	struct nt_header *h = nt_hdr(t);
	struct nt_class *k = &h->cls[c];
	uint32_t count = t->g.count[c], first = t->g.first[c];
	if (k->bump < count) {
		*out = first + k->bump++;
		h->wip = *out + 1;
		nt_seq_begin(nt_entry(t, *out));
		return 0;
	}
	k->bump = count;
	for (uint32_t n = 0; n < NT_SCAN_MAX && n < count; n++) {
		uint32_t hand = k->hand < count ? k->hand : 0;
		uint32_t idx = first + hand;
		k->hand = hand + 1 == count ? 0 : hand + 1;
		struct nt_entry *e = nt_entry(t, idx);
		h->wip = idx + 1;
		nt_seq_begin(e);
		if (e->len == 0) {
			*out = idx;
			return 0;
		}
		uint32_t last = __atomic_load_n(&e->last_use, __ATOMIC_SEQ_CST);
		if (now - last < t->params.grace_s) {
			nt_seq_end(e); /* still in use: second chance */
			continue;
		}
		uint32_t pos;
		if (nt_slot_find_idx(t, idx, &pos))
			nt_slot_delete(t, pos);
		e->len = 0;
		h->live--;
		h->evictions++;
		*out = idx;
		return 0;
	}
	h->wip = 0;
	return -ENOSPC;
}

/* Rebuilds the hash from the entries: after a writer died holding the lock. */
static void nt_repair(struct nametable *t)
{
	struct nt_header *h = nt_hdr(t);
	uint32_t wip = h->wip;
	if (wip && nt_idx_ok(t, wip - 1)) {
		struct nt_entry *e = nt_entry(t, wip - 1);
		__atomic_store_n(&e->len, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->seq, (e->seq | 1) + 1, __ATOMIC_RELEASE);
	}
	h->wip = 0;
	uint64_t *slots = nt_slots(t);
	for (uint32_t i = 0; i < t->g.nslots; i++)
		__atomic_store_n(&slots[i], 0, __ATOMIC_RELAXED);
	uint32_t live = 0;
	/* Only entries below each class's bump were ever written: reading further would
	 * make tmpfs allocate pages for nothing. */
	for (int c = 0; c < 2; c++) {
		uint32_t bump = h->cls[c].bump;
		if (bump > t->g.count[c])
			bump = h->cls[c].bump = t->g.count[c];
		for (uint32_t idx = t->g.first[c]; idx < t->g.first[c] + bump; idx++) {
			struct nt_entry *e = nt_entry(t, idx);
			if (e->len > t->g.name_max[c])
				e->len = 0;
			if (e->seq & 1)
				e->seq++;
			if (e->len == 0)
				continue;
			if (nt_slot_insert(t, nt_hash((const char *)e->name, e->len), idx))
				live++;
		}
	}
	h->live = live;
}

static unsigned nt_lock_timeout_ms = 2000;

void nt_set_lock_timeout(unsigned ms)
{
	nt_lock_timeout_ms = ms ? ms : 2000;
}

/* The lock, bounded in time: a garbage owner in the lock word would otherwise be
 * waited for forever. The deadline is only computed when the lock is busy. */
static int nt_lock_wait(struct nt_header *h)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += nt_lock_timeout_ms / 1000;
	until.tv_nsec += (long)(nt_lock_timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	return pthread_mutex_timedlock(&h->lock, &until);
}

/* The lock word is shared memory too. glibc trusts a mutex's type field (a garbage
 * one can send it down the priority-inheritance path or into an assertion), so that is
 * compared with what pthread_mutex_init wrote; a garbage owner only makes us wait,
 * and the wait is bounded. -EIO for a lock that is not ours, -ETIMEDOUT. */
static int nt_lock(struct nametable *t)
{
	struct nt_header *h = nt_hdr(t);
#ifdef __GLIBC__
	static int kind = -1;
	if (__atomic_load_n(&kind, __ATOMIC_RELAXED) == -1) {
		pthread_mutex_t m;
		pthread_mutexattr_t ma;
		pthread_mutexattr_init(&ma);
		pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&m, &ma);
		pthread_mutexattr_destroy(&ma);
		__atomic_store_n(&kind, m.__data.__kind, __ATOMIC_RELAXED);
	}
	if (__atomic_load_n(&h->lock.__data.__kind, __ATOMIC_RELAXED) != kind)
		return -EIO;
#endif
	int rc = pthread_mutex_trylock(&h->lock);
	if (rc == EBUSY)
		rc = nt_lock_wait(h);
	if (rc == EOWNERDEAD) {
		h->repairs++;
		nt_repair(t);
		pthread_mutex_consistent(&h->lock);
		rc = 0;
	}
	return rc == 0 ? 0 : rc == ETIMEDOUT ? -ETIMEDOUT : -EIO;
}

static void nt_unlock(struct nametable *t)
{
	pthread_mutex_unlock(&nt_hdr(t)->lock);
}

static int nt_insert_locked(struct nametable *t, const char *name, size_t n, uint64_t hv,
			    uint32_t now, uint32_t *idx)
{
	struct nt_header *h = nt_hdr(t);
	int c = n <= NT_SMALL_NAME_MAX ? 0 : 1;
	uint32_t x;
	int rc = nt_alloc(t, c, now, &x);
	if (rc < 0)
		return rc;
	struct nt_entry *e = nt_entry(t, x);
	nt_entry_write(e, name, n, (uint32_t)hv, now, t->g.esize[c] - sizeof(*e));
	if (!nt_slot_insert(t, hv, x)) {
		__atomic_store_n(&e->len, 0, __ATOMIC_RELAXED);
		nt_seq_end(e);
		h->wip = 0;
		return -EIO;
	}
	nt_seq_end(e);
	h->live++;
	h->wip = 0;
	__atomic_store_n(&h->last_activity, now, __ATOMIC_RELAXED);
	*idx = x;
	return 0;
}

/* ---- every access to the mapping goes through here ---- */

/* Runs fn over the mapping inside a SIGBUS scope (ntfault.h): if the file shrank
 * under us, the table is marked broken and every later call fails with -EIO. A lock
 * we held when it happened stays held (it is in the page that went away). */
static int nt_guarded(struct nametable *t, int (*fn)(struct nametable *, void *), void *arg)
{
	struct nt_fault f;
	if (t->base == NULL)
		return -ENOENT;
	if (__atomic_load_n(&t->broken, __ATOMIC_RELAXED))
		return -EIO;
	nt_fault_push(&f, t->base, t->size);
	if (sigsetjmp(f.jb, 0) != 0) {
		nt_fault_pop(&f);
		__atomic_store_n(&t->broken, 1, __ATOMIC_RELAXED);
		return -EIO;
	}
	int rc = fn(t, arg);
	nt_fault_pop(&f);
	return rc;
}

struct nt_get_args {
	const char *canon;
	size_t n;
	uint32_t *idx;
	bool insert;
};

static int nt_get_mapped(struct nametable *t, void *arg)
{
	struct nt_get_args *a = arg;
	uint64_t hv = nt_hash(a->canon, a->n);
	uint32_t now = nt_now();
	int hit = nt_probe(t, a->canon, a->n, hv, now, a->idx);
	if (hit == 1)
		return 0;
	if (hit == 0 && !a->insert)
		return -ENOENT;
	int rc = nt_lock(t);
	if (rc < 0)
		return rc;
	/* Entries cannot change under the lock, so this probe is exact (or the table is
	 * corrupt: -1 again, and then we insert anew or fail). */
	hit = nt_probe(t, a->canon, a->n, hv, now, a->idx);
	if (hit == 1)
		rc = 0;
	else if (!a->insert)
		rc = -ENOENT;
	else
		rc = nt_insert_locked(t, a->canon, a->n, hv, now, a->idx);
	nt_unlock(t);
	return rc;
}

static int nt_get(struct nametable *t, const char *name, uint32_t *idx, bool insert)
{
	char canon[NT_NAME_MAX + 1];
	int n = nt_canon(name, canon, sizeof(canon));
	if (n < 0)
		return -EINVAL;
	struct nt_get_args a = { canon, (size_t)n, idx, insert };
	return nt_guarded(t, nt_get_mapped, &a);
}

int nt_lookup(struct nametable *t, const char *name, uint32_t *idx)
{
	return nt_get(t, name, idx, true);
}

int nt_find(struct nametable *t, const char *name, uint32_t *idx)
{
	return nt_get(t, name, idx, false);
}

struct nt_name_args {
	uint32_t idx;
	char *buf;
};

/* buf holds NT_NAME_MAX + 1. */
static int nt_name_mapped(struct nametable *t, void *arg)
{
	struct nt_name_args *a = arg;
	struct nt_entry *e = nt_entry(t, a->idx);
	uint32_t name_max = t->g.name_max[nt_class_of(t, a->idx)];
	nt_touch(e, nt_now());
	int len;
	for (int tries = 0; (len = nt_entry_read(e, a->buf, NT_NAME_MAX + 1, name_max)) == -1;
	     tries++) {
		if (tries < 100)
			continue;
		/* A writer keeps getting in the way (or died): ask under the lock. */
		if (nt_lock(t) < 0)
			return -ENOENT;
		len = nt_entry_read(e, a->buf, NT_NAME_MAX + 1, name_max);
		nt_unlock(t);
		break;
	}
	return len <= 0 ? -ENOENT : len;
}

int nt_name(struct nametable *t, uint32_t idx, char *buf, size_t cap)
{
	char tmp[NT_NAME_MAX + 1];
	if (!t->base || !nt_idx_ok(t, idx))
		return -ENOENT;
	struct nt_name_args a = { idx, tmp };
	int len = nt_guarded(t, nt_name_mapped, &a);
	if (len < 0)
		return len == -EIO ? -ENOENT : len;
	if ((size_t)len >= cap)
		return -ERANGE;
	memcpy(buf, tmp, (size_t)len + 1);
	return len;
}

/* ---- addresses (from this process's copy: no access to the mapping) ---- */

uint32_t nt_capacity(const struct nametable *t)
{
	return t->base ? nt_cap(t) : 0;
}

const struct nt_params *nt_get_params(const struct nametable *t)
{
	return t->base ? &t->params : NULL;
}

void nt_addr4(const struct nametable *t, uint32_t idx, struct in_addr *out)
{
	out->s_addr = htonl(t->params.net4 + idx + 1);
}

void nt_addr6(const struct nametable *t, uint32_t idx, struct in6_addr *out)
{
	const struct nt_params *p = &t->params;
	uint32_t v4 = p->net4 + idx + 1;
	memcpy(out->s6_addr, p->net6, 12);
	out->s6_addr[12] = (uint8_t)(v4 >> 24);
	out->s6_addr[13] = (uint8_t)(v4 >> 16);
	out->s6_addr[14] = (uint8_t)(v4 >> 8);
	out->s6_addr[15] = (uint8_t)v4;
}

static int nt_stats_mapped(struct nametable *t, void *arg)
{
	struct nt_stats *st = arg;
	struct nt_header *h = nt_hdr(t);
	st->live = __atomic_load_n(&h->live, __ATOMIC_RELAXED);
	st->evictions = __atomic_load_n(&h->evictions, __ATOMIC_RELAXED);
	st->repairs = __atomic_load_n(&h->repairs, __ATOMIC_RELAXED);
	int32_t *pids = nt_pids(t);
	for (uint32_t i = 0; i < NT_NPIDS; i++)
		st->npids += __atomic_load_n(&pids[i], __ATOMIC_RELAXED) != 0;
	return 0;
}

void nt_get_stats(const struct nametable *t, struct nt_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!t->base)
		return;
	st->capacity = nt_cap(t);
	nt_guarded((struct nametable *)t, nt_stats_mapped, st);
}

/* ---- the file ---- */

/* Opens a path anyone may have created (every table path is in /dev/shm): never
 * blocks (a FIFO), never follows a link, and keeps the fd only if it is a regular file
 * owned by us that nobody else may read or write. -ENOENT, -EPROTO for anything else
 * at the path, other -errno. */
static int nt_open_checked(const char *path, struct stat *st)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == ENXIO || errno == EACCES || errno == EPERM
			       ? -EPROTO
			       : -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_uid != geteuid() ||
	    (st->st_mode & 077) != 0) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

static int nt_map(struct nametable *t, int fd, size_t size, const char *path)
{
	void *p = fd >= 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
			  : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	nt_fault_install();
	t->base = p;
	t->size = size;
	str_copy(t->path, path, sizeof(t->path));
	return 0;
}

static int nt_init_mapped(struct nametable *t, void *arg)
{
	const struct nt_header *tmp = arg;
	struct nt_header *h = nt_hdr(t);
	memcpy(h, tmp, sizeof(*tmp));
	h->uid = (uint32_t)geteuid();
	h->version = NT_VERSION;
	h->last_activity = nt_now();
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&h->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	/* Registered before it becomes visible, so that an exiting attacher never takes
	 * it for unused. */
	nt_pids(t)[0] = (int32_t)getpid();
	/* The magic goes last: an attacher that sees it sees a finished header. */
	__atomic_store_n(&h->magic, NT_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Maps a new table (in fd, or anonymous shared memory when fd < 0) and writes its
 * header. */
static int nt_create_mapped(struct nametable *t, int fd, const char *path,
			    const struct nt_params *p)
{
	struct nt_header tmp;
	memset(&tmp, 0, sizeof(tmp));
	nt_layout(&tmp, p);
	tmp.params = *p;
	int rc = 0;
	struct statvfs vfs;
	/* tmpfs pages are allocated on first touch; a full /dev/shm would turn a later
	 * write into SIGBUS inside the program, so refuse now while we can say why. */
	if (fd >= 0 && fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < tmp.size)
		return -ENOSPC;
	if (fd >= 0 && (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)tmp.size) < 0))
		return -errno;
	rc = nt_map(t, fd, tmp.size, path);
	if (rc < 0)
		return rc;
	nt_set_geom(t, p);
	rc = nt_guarded(t, nt_init_mapped, &tmp);
	if (rc < 0) {
		munmap(t->base, t->size);
		t->base = NULL;
	}
	return rc;
}

int nt_create(struct nametable *t, const char *path, const struct nt_params *p)
{
	memset(t, 0, sizeof(*t));
	if (!nt_params_valid(p) || strlen(path) >= NT_PATH_MAX)
		return -EINVAL;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = nt_create_mapped(t, fd, path, p);
	if (rc < 0)
		unlink(path);
	close(fd);
	return rc;
}

/* Checks a header read from a file of st_size bytes: everything the geometry is
 * computed from, and that the stored geometry is what those params give. */
static bool nt_header_ok(const struct nt_header *h, uint64_t st_size)
{
	if (h->magic != NT_MAGIC || h->version != NT_VERSION || h->size != st_size ||
	    h->uid != (uint32_t)geteuid() || !nt_params_valid(&h->params))
		return false;
	struct nt_header chk;
	memset(&chk, 0, sizeof(chk));
	nt_layout(&chk, &h->params);
	return chk.size == h->size && chk.pid_off == h->pid_off && chk.slot_off == h->slot_off &&
	       chk.nslots == h->nslots &&
	       memcmp(&chk.cls[0], &h->cls[0], offsetof(struct nt_class, bump)) == 0 &&
	       memcmp(&chk.cls[1], &h->cls[1], offsetof(struct nt_class, bump)) == 0;
}

static int nt_attach_checked(struct nametable *t, int fd, const struct stat *st,
			     const char *path)
{
	struct nt_header h;
	if ((uint64_t)st->st_size < NT_PAGE)
		return -EPROTO;
	/* A creator that is between ftruncate and writing the magic: wait a little. */
	for (int tries = 0; tries < 200; tries++) {
		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			return -EPROTO;
		if (h.magic == NT_MAGIC)
			break;
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (!nt_header_ok(&h, (uint64_t)st->st_size))
		return -EPROTO;
	int rc = nt_map(t, fd, h.size, path);
	if (rc < 0)
		return rc;
	nt_set_geom(t, &h.params);
	return 0;
}

static int nt_touch_activity(struct nametable *t, void *arg)
{
	__atomic_store_n(&nt_hdr(t)->last_activity, nt_now(), __ATOMIC_RELAXED);
	return 0;
}

int nt_attach(struct nametable *t, const char *path)
{
	struct stat st;
	memset(t, 0, sizeof(*t));
	if (strlen(path) >= NT_PATH_MAX)
		return -EINVAL;
	int fd = nt_open_checked(path, &st);
	if (fd < 0)
		return fd;
	int rc = nt_attach_checked(t, fd, &st, path);
	close(fd);
	if (rc == 0)
		nt_guarded(t, nt_touch_activity, NULL);
	return rc;
}

int nt_attach_fd(struct nametable *t, int fd, const char *label)
{
	struct stat st;
	memset(t, 0, sizeof(*t));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return -EPROTO;
	return nt_attach_checked(t, fd, &st, label);
}

int nt_open(struct nametable *t, const char *path, const struct nt_params *p)
{
	for (int tries = 0; tries < 3; tries++) {
		int rc = nt_attach(t, path);
		if (rc != -ENOENT)
			return rc;
		rc = nt_create(t, path, p);
		if (rc != -EEXIST)
			return rc;
	}
	return -EAGAIN;
}

void nt_detach(struct nametable *t)
{
	if (t->base)
		munmap(t->base, t->size);
	t->base = NULL;
}

/* ---- which table: one per user ---- */

/* How many tables of p's capacity fit side by side in p's IPv4 range. */
static uint32_t nt_windows(const struct nt_params *p)
{
	uint64_t range = (1ull << (32 - p->prefix4)) - 2;
	uint64_t w = range / nt_params_capacity(p);
	return w > 0xffffffffu ? 0xffffffffu : (uint32_t)w;
}

static bool nt_ranges_default(const struct nt_params *p)
{
	struct nt_params d;
	nt_params_default(&d);
	return p->net4 == d.net4 && p->prefix4 == d.prefix4 && memcmp(p->net6, d.net6, 12) == 0;
}

static void nt_user_path(char *buf, size_t cap, const char *dir, const struct nt_params *p)
{
	unsigned uid = (unsigned)geteuid();
	if (nt_ranges_default(p)) {
		snprintf(buf, cap, "%s/socksify-u%u", dir, uid);
		return;
	}
	uint8_t key[17];
	memcpy(key, &p->net4, 4);
	key[4] = p->prefix4;
	memcpy(key + 5, p->net6, 12);
	snprintf(buf, cap, "%s/socksify-u%u-%08x", dir, uid,
		 (unsigned)nt_hash((const char *)key, sizeof(key)));
}

static bool nt_env_path_ok(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && strncmp(path + n, "/socksify-", 10) == 0 &&
	       strchr(path + n + 1, '/') == NULL && strlen(path) < NT_PATH_MAX;
}

/* A table for this process and its forked children only: anonymous shared memory, no
 * file, in a window other than the user's (an address from it means nothing in the
 * user's table, and the other way round). */
static int nt_create_private(struct nametable *t, const struct nt_params *p, uint32_t user_w)
{
	struct nt_params q = *p;
	uint32_t w = nt_windows(&q), r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)getpid() * 2654435761u;
	r = w > 1 ? r % w : 0;
	if (r == user_w && w > 1)
		r = (r + 1) % w;
	q.first = r * nt_params_capacity(&q);
	memset(t, 0, sizeof(*t));
	if (!nt_params_valid(&q))
		return -EINVAL;
	return nt_create_mapped(t, -1, "", &q);
}

int nt_attach_user(struct nametable *t, const char *dir, const char *env_path,
		   const struct nt_params *p, bool create, bool *private_table)
{
	char path[NT_PATH_MAX];
	*private_table = false;
	if (env_path != NULL && *env_path != '\0' && nt_env_path_ok(dir, env_path))
		str_copy(path, env_path, sizeof(path));
	else
		nt_user_path(path, sizeof(path), dir, p);
	struct nt_params q = *p;
	uint32_t w = nt_windows(&q);
	uint32_t user_w = w ? (uint32_t)geteuid() % w : 0;
	q.first = user_w * nt_params_capacity(&q);
	int rc = nt_attach(t, path);
	if (rc == -ENOENT && create)
		rc = nt_open(t, path, &q);
	if (rc == -EPROTO && create) {
		rc = nt_create_private(t, &q, user_w);
		*private_table = rc == 0;
	}
	str_copy(t->path, *private_table ? "" : path, sizeof(t->path));
	return rc;
}

/* ---- who uses it ---- */

static bool nt_pid_alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int nt_register_mapped(struct nametable *t, void *arg)
{
	int32_t pid = *(const int32_t *)arg;
	/* Once the registry overflowed the file is never unlinked at exit anyway; do not
	 * pay a kill(2) per slot on every fork of a big tree. */
	if (__atomic_load_n(&nt_hdr(t)->pid_overflow, __ATOMIC_RELAXED))
		return 0;
	int32_t *pids = nt_pids(t);
	int32_t free_at = -1;
	for (uint32_t i = 0; i < NT_NPIDS; i++) {
		int32_t v = __atomic_load_n(&pids[i], __ATOMIC_RELAXED);
		if (v == pid)
			return 0;
		if (v == 0 && free_at < 0)
			free_at = (int32_t)i;
	}
	for (uint32_t i = free_at < 0 ? 0 : (uint32_t)free_at; i < NT_NPIDS; i++) {
		int32_t v = __atomic_load_n(&pids[i], __ATOMIC_RELAXED);
		/* A dead process's slot is as good as a free one. */
		if ((v == 0 || (free_at < 0 && !nt_pid_alive(v))) &&
		    __atomic_compare_exchange_n(&pids[i], &v, pid, false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED))
			return 0;
	}
	__atomic_store_n(&nt_hdr(t)->pid_overflow, 1, __ATOMIC_RELAXED);
	return 0;
}

void nt_register_pid(struct nametable *t, int pid)
{
	int32_t p = (int32_t)pid;
	nt_guarded(t, nt_register_mapped, &p);
}

/* The table may go when no registered process is alive AND nothing happened for a
 * grace period: a process that resolved a name and exited may have handed the address
 * to one that has not attached yet (`ip=$(getent hosts x); curl $ip`), and after the
 * grace period every address could have been reused anyway. */
static bool nt_idle(const struct nametable *t)
{
	uint32_t last = __atomic_load_n(&nt_hdr(t)->last_activity, __ATOMIC_RELAXED);
	return nt_now() - last >= t->params.grace_s;
}

static bool nt_anyone_alive(const int32_t *pids, int self)
{
	for (uint32_t i = 0; i < NT_NPIDS; i++) {
		int32_t v = __atomic_load_n(&pids[i], __ATOMIC_RELAXED);
		if (v != 0 && v != self && nt_pid_alive(v))
			return true;
	}
	return false;
}

static int nt_release_mapped(struct nametable *t, void *arg)
{
	int32_t pid = *(const int32_t *)arg;
	int32_t *pids = nt_pids(t);
	for (uint32_t i = 0; i < NT_NPIDS; i++) {
		int32_t v = pid;
		__atomic_compare_exchange_n(&pids[i], &v, 0, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED);
	}
	return !__atomic_load_n(&nt_hdr(t)->pid_overflow, __ATOMIC_RELAXED) && nt_idle(t) &&
	       !nt_anyone_alive(pids, pid);
}

bool nt_release(struct nametable *t, int pid)
{
	int32_t p = (int32_t)pid;
	if (nt_guarded(t, nt_release_mapped, &p) != 1 || t->path[0] == '\0')
		return false;
	/* Nobody left who could hold one of our addresses: remove the name; mappings that
	 * still exist stay valid until unmapped. */
	return unlink(t->path) == 0;
}
