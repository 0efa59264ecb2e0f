/* The name <-> fake address table that makes dns=remote work across a whole process
 * tree: one file in /dev/shm, mapped MAP_SHARED by every process of a socksify run, so
 * a name resolved in a parent connects from any child, forked or exec'd, even after the
 * parent has exited, and two processes never see different names for one address.
 *
 * Layout and rules (nametable.c has the details):
 * - Entries live in two fixed-size classes (short names <= 47 bytes, long names <= 255),
 *   numbered by one index; the index IS the fake address: IPv4 base + idx + 1, and the
 *   IPv6 /96 prefix followed by that same IPv4 value. addr -> name is O(1).
 * - name -> index is an open-addressing hash (linear probing, backward-shift deletion)
 *   read without locks; a reader that races a writer simply retries under the lock.
 * - Writers hold one process-shared robust mutex; a writer that dies mid-update is
 *   repaired by the next one (the index is rebuilt from the entries).
 * - Every hit refreshes the entry's last-use time; an entry is only evicted (its address
 *   reused) when it has not been used for `grace_s` seconds. When nothing can be
 *   evicted the lookup fails (-ENOSPC): an address still in use is never handed out.
 *
 * Which table (nt_attach_user, the one policy; the shim calls it on its first remote
 * lookup): the user's own /dev/shm/socksify-u<UID>, shared by every process of that
 * user however it was started (launcher, ld.so.preload, a daemon), created on the
 * first name lookup; SOCKSIFY_NAMETABLE may name another (a test's private table).
 * A process that never resolves a name remotely creates nothing.
 *
 * The table is hostile input. /dev/shm is writable by everyone: every open() of a
 * path there is O_NONBLOCK|O_NOFOLLOW, and only a regular file owned by us with mode
 * 0600 is read, so a FIFO, a link or another user's file at our path is refused at
 * once (the process then falls back to a table private to it and its forked
 * children, with no file at all). Any process of the same user can still write
 * anything into the mapping or truncate it: the geometry is validated once on attach
 * and kept in this process (struct nametable), every index and counter read from the
 * shared memory is bounds-checked, every loop over it is bounded, the lock is taken
 * with a timeout, and a SIGBUS from a shrunk file is caught where we touch the
 * mapping (ntfault.h): a corrupted table makes lookups fail, never the process die.
 *
 * Addresses: each user's table hands out addresses from its own window of the fake
 * range (uid modulo the number of windows: 240 with the defaults), so an address
 * from another user's table is not a valid index of ours and connect() refuses it
 * instead of sending it as one of our names. Two users whose uids are equal modulo
 * that number share a window: then such an address is refused only if our table has
 * no name at that index.
 *
 * Lifetime: a user's table stays (a few touched pages of tmpfs; the 97 MiB size is
 * sparse) until its last registered process exits after it was idle for grace_s, or
 * the next reboot. With one table per user there is nothing to sweep. A tree that
 * had more than 1024 processes attached at once overflows the pid registry: we can
 * no longer prove nobody maps the table, so it stays until reboot (removing it could
 * let a new table hand out an address that an old mapping still means differently). */
#ifndef SOCKSIFY_NAMETABLE_H
#define SOCKSIFY_NAMETABLE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Defaults. 240.0.0.0/4 is "reserved for future use" (RFC 1112, RFC 6890): no real
 * host has such an address, and unlike 100.64.0.0/10 (carrier NAT, Tailscale) or
 * 224.0.0.0/4 (multicast, which proxychains uses and some programs refuse) programs
 * treat it as an ordinary unicast address. The IPv6 default is a fixed ULA /96
 * (fd73:6f63:6b73::/96, "socks" in hex) so that tests and logs are reproducible; it
 * does not collide with anything we route (the test topology uses fd00:1::/64 and
 * fd00:2::/64). */
#define NT_DEFAULT_NET4 "240.0.0.0/4"
#define NT_DEFAULT_NET6 "fd73:6f63:6b73::/96"
#define NT_DEFAULT_NSMALL (1u << 20)  /* names of at most 47 bytes */
#define NT_DEFAULT_NLONG (1u << 16)   /* names of 48..255 bytes */
#define NT_DEFAULT_GRACE_S 3600u      /* an address unused this long may be reused */
#define NT_NAME_MAX 255
#define NT_SMALL_NAME_MAX 47

#define NT_PATH_PREFIX "/dev/shm/socksify-"
#define NT_PATH_MAX 96

struct nt_params {
	uint32_t net4;      /* host byte order, network address */
	uint32_t first;     /* index of entry 0 (the table's window in the range); 0 default */
	uint8_t prefix4;    /* at most 32 - log2(capacity + 2) */
	uint8_t net6[16];   /* only the first 12 bytes are used (a /96) */
	uint32_t nsmall;    /* entries for short names */
	uint32_t nlong;     /* entries for long names */
	uint32_t grace_s;   /* minimum idle time before an address may be reused */
};

/* The table's geometry as this process validated it on attach. Every offset and
 * count the library uses comes from here, never again from the shared header. */
struct nt_geom {
	uint64_t pid_off, slot_off;
	uint64_t off[2];      /* file offset of each class's entry 0 */
	uint32_t first[2];    /* index of each class's entry 0 */
	uint32_t count[2];
	uint32_t esize[2];
	uint32_t name_max[2];
	uint32_t nslots;      /* a power of two */
};

/* One process's view of a table. Plain data: copying it after fork is fine. */
struct nametable {
	void *base; /* the mapping, NULL when not attached */
	size_t size;
	int broken; /* the mapping faulted (its file shrank): every call fails */
	struct nt_params params;
	struct nt_geom g;
	char path[NT_PATH_MAX]; /* "" for a private table */
};

void nt_params_default(struct nt_params *p);
/* Parses "A.B.C.D/N" and "X::/N" (prefix exactly 96 for IPv6, or /96 implied) into p. */
bool nt_params_set_net4(struct nt_params *p, const char *cidr);
bool nt_params_set_net6(struct nt_params *p, const char *cidr);

/* Bytes of /dev/shm a table with these parameters may come to use (all of it only
 * when full: tmpfs allocates pages as they are first touched). */
uint64_t nt_table_size(const struct nt_params *p);

/* The one policy for which table a process uses, attaching it (see above): env_path
 * (SOCKSIFY_NAMETABLE, NULL when unset or under AT_SECURE) if it names a file
 * dir/socksify-*, else dir/socksify-u<EUID> (with a suffix when p's ranges are not the
 * defaults: a table's addresses only mean something with its own ranges). A table it
 * creates gets the user's window (p->first is ignored). With create false (connect's
 * reverse lookup) a missing table is -ENOENT. When the path holds something that is
 * not our table, it maps a table private to this process and its forked children
 * (create only), sets *private_table and returns 0. t->path is the path it tried. */
int nt_attach_user(struct nametable *t, const char *dir, const char *env_path,
		   const struct nt_params *p, bool create, bool *private_table);

/* Creates the file at path (O_EXCL, mode 0600) and maps it. -EEXIST if it exists,
 * -EINVAL for bad params, -ENOSPC if /dev/shm lacks room, other -errno from the
 * system. */
int nt_create(struct nametable *t, const char *path, const struct nt_params *p);
/* Maps an existing table after checking it: opened without blocking or following a
 * link, a regular file owned by us, mode 0600, right magic, version, size and
 * geometry. -ENOENT if it does not exist, -EPROTO if it is not a valid table. */
int nt_attach(struct nametable *t, const char *path);
/* Attaches, creating it first if it does not exist (two racing creators converge). */
int nt_open(struct nametable *t, const char *path, const struct nt_params *p);
void nt_detach(struct nametable *t);
/* Records pid as a user of the table (call in every process that maps it, including a
 * forked child). Used by nt_release to decide when the file can go. */
void nt_register_pid(struct nametable *t, int pid);
/* Called at exit: forgets pid and unlinks the file if no registered process is still
 * alive and the table saw no insertion or attach for its grace period (an exited
 * process may have passed an address to one that has not attached yet). Returns true
 * if it unlinked. */
bool nt_release(struct nametable *t, int pid);

/* Canonical form of a name: lower case, no trailing dot. Returns its length, or -1 if
 * it is empty, too long or holds a NUL or a byte < 0x21 (space, control). */
int nt_canon(const char *name, char *out, size_t cap);

/* name (canonical or not) -> index, inserting it if needed. 0 on success; -EINVAL bad
 * name; -ENOSPC every entry is still within its grace period; -EIO the table is
 * corrupt or shrank under us; -ETIMEDOUT its lock stayed held (or garbage) for 2 s. */
int nt_lookup(struct nametable *t, const char *name, uint32_t *idx);
/* Like nt_lookup but never inserts: -ENOENT if the name is unknown. */
int nt_find(struct nametable *t, const char *name, uint32_t *idx);
/* index -> name (NUL-terminated, canonical). Returns the length, -ENOENT if the index
 * holds no name, -ERANGE if cap is too small. Refreshes the entry's last use. */
int nt_name(struct nametable *t, uint32_t idx, char *buf, size_t cap);

/* Index <-> fake addresses, with the ranges the table was created with. */
uint32_t nt_capacity(const struct nametable *t);
void nt_addr4(const struct nametable *t, uint32_t idx, struct in_addr *out);
void nt_addr6(const struct nametable *t, uint32_t idx, struct in6_addr *out);
/* Is sa (AF_INET, AF_INET6 or IPv4-mapped IPv6) inside a fake range? If so and idx is
 * not NULL, *idx is its index (which may be past the capacity, or hold no name). */
bool nt_params_is_fake(const struct nt_params *p, const struct sockaddr *sa, socklen_t len,
		       uint32_t *idx);
const struct nt_params *nt_get_params(const struct nametable *t);

struct nt_stats {
	uint32_t live;      /* names in the table */
	uint32_t capacity;
	uint32_t evictions;
	uint32_t npids;     /* registered process slots in use */
	uint32_t repairs;   /* writers that died holding the lock, repaired after */
};
void nt_get_stats(const struct nametable *t, struct nt_stats *st);

/* Tests only: replaces the seconds clock (CLOCK_MONOTONIC_COARSE) in this process. */
void nt_set_clock(uint32_t (*now)(void));
/* Tests and the fuzzer only: how long a writer waits for the table's lock (ms). */
void nt_set_lock_timeout(unsigned ms);
/* Fuzzer only: attaches the table in fd (checked as nt_attach checks a file). */
int nt_attach_fd(struct nametable *t, int fd, const char *label);

#endif
