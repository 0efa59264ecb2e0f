/* Unit tests for common/nametable.c: parameters, round trips name <-> index <-> fake
 * address, hash collisions in a tiny table, eviction only after the grace period, one
 * million names, writers racing from forked processes, file clean-up, the per-user
 * policy, and tables that another process corrupts or truncates under us. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nametable.h"
#include "tap.h"

static char test_path[NT_PATH_MAX];
static uint32_t fake_now = 1000;
static uint32_t fake_clock(void)
{
	return fake_now;
}

static const char *tpath(const char *tag)
{
	snprintf(test_path, sizeof(test_path), "/dev/shm/socksify-test-%d-%s", (int)getpid(), tag);
	unlink(test_path);
	return test_path;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_params(void)
{
	struct nt_params p;
	nt_params_default(&p);
	is_int(p.net4, 0xf0000000u, "default IPv4 range is 240.0.0.0");
	is_int(p.prefix4, 4, "default IPv4 prefix /4");
	ok(p.net6[0] == 0xfd && p.net6[1] == 0x73 && p.net6[5] == 0x73 && p.net6[6] == 0, "default IPv6 /96");
	ok(nt_params_set_net4(&p, "10.64.0.0/10") && p.net4 == 0x0a400000u && p.prefix4 == 10,
	   "net4 parses");
	ok(!nt_params_set_net4(&p, "10.0.0.0/33"), "net4 /33 refused");
	ok(!nt_params_set_net4(&p, "nonsense/8"), "net4 garbage refused");
	ok(!nt_params_set_net6(&p, "fd00::/64"), "net6 must be a /96");
	ok(nt_params_set_net6(&p, "fd00:aaaa::/96") && p.net6[2] == 0xaa, "net6 parses");

	char buf[300];
	is_int(nt_canon("WWW.Example.COM.", buf, sizeof(buf)), 15, "canon strips the dot");
	ok(strcmp(buf, "www.example.com") == 0, "canon lowers case");
	is_int(nt_canon("", buf, sizeof(buf)), -1, "empty name refused");
	is_int(nt_canon(".", buf, sizeof(buf)), -1, "root alone refused");
	is_int(nt_canon("a b", buf, sizeof(buf)), -1, "space refused");
	char longname[300];
	memset(longname, 'a', 256);
	longname[256] = '\0';
	is_int(nt_canon(longname, buf, sizeof(buf)), -1, "256 bytes refused");
	longname[255] = '\0';
	is_int(nt_canon(longname, buf, sizeof(buf)), 255, "255 bytes accepted");
}

static void test_roundtrip(void)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 1024;
	p.nlong = 64;
	struct nametable t, t2;
	const char *path = tpath("rt");
	is_int(nt_create(&t, path, &p), 0, "create");
	is_int(nt_create(&t2, path, &p), -EEXIST, "second create is EEXIST");
	is_int(nt_attach(&t2, path), 0, "attach a second mapping");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "file mode 0600");

	uint32_t a, b, c;
	is_int(nt_lookup(&t, "Target.Test", &a), 0, "lookup inserts");
	is_int(nt_lookup(&t2, "target.test.", &b), 0, "other mapping finds it");
	is_int(a, b, "same index through both mappings and spellings");
	is_int(nt_find(&t2, "other.test", &c), -ENOENT, "find does not insert");
	is_int(nt_lookup(&t2, "other.test", &c), 0, "insert second");
	ok(c != a, "different names, different indexes");
	char name[300];
	is_int(nt_name(&t, a, name, sizeof(name)), 11, "index -> name length");
	ok(strcmp(name, "target.test") == 0, "index -> name");
	is_int(nt_name(&t, a, name, 5), -ERANGE, "small buffer ERANGE");
	is_int(nt_name(&t, 1000, name, sizeof(name)), -ENOENT, "unused index ENOENT");
	is_int(nt_name(&t, 5000, name, sizeof(name)), -ENOENT, "index past capacity ENOENT");

	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	nt_addr4(&t, a, &s4.sin_addr);
	nt_addr6(&t, a, &s6.sin6_addr);
	char txt[64];
	inet_ntop(AF_INET, &s4.sin_addr, txt, sizeof(txt));
	ok(strncmp(txt, "240.0.0.", 8) == 0, "fake IPv4 %s in 240/4", txt);
	inet_ntop(AF_INET6, &s6.sin6_addr, txt, sizeof(txt));
	ok(strncmp(txt, "fd73:6f63:6b73::f000:", 21) == 0, "fake IPv6 %s", txt);
	uint32_t x = 99;
	ok(nt_params_is_fake(nt_get_params(&t), (struct sockaddr *)&s4, sizeof(s4), &x) && x == a,
	   "IPv4 fake -> index");
	x = 99;
	ok(nt_params_is_fake(nt_get_params(&t), (struct sockaddr *)&s6, sizeof(s6), &x) && x == a,
	   "IPv6 fake -> index");
	struct sockaddr_in6 m6 = { .sin6_family = AF_INET6 };
	m6.sin6_addr.s6_addr[10] = m6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m6.sin6_addr.s6_addr[12], &s4.sin_addr, 4);
	x = 99;
	ok(nt_params_is_fake(nt_get_params(&t), (struct sockaddr *)&m6, sizeof(m6), &x) && x == a,
	   "IPv4-mapped IPv6 fake -> index");
	struct sockaddr_in real = { .sin_family = AF_INET };
	inet_pton(AF_INET, "198.18.2.2", &real.sin_addr);
	ok(!nt_params_is_fake(nt_get_params(&t), (struct sockaddr *)&real, sizeof(real), NULL),
	   "real address is not fake");
	ok(!nt_params_is_fake(nt_get_params(&t), (struct sockaddr *)&s4, 4, NULL),
	   "short sockaddr is not fake");

	/* Long names live in the other class. */
	char longname[256];
	memset(longname, 'x', 250);
	memcpy(longname + 250, ".test", 6);
	is_int(nt_lookup(&t, longname, &c), 0, "255-byte name inserts");
	ok(c >= 1024, "long name in the long class (%u)", c);
	is_int(nt_name(&t2, c, name, sizeof(name)), 255, "long name round trip length");
	ok(strcmp(name, longname) == 0, "long name round trip");
	is_int(nt_lookup(&t, "bad name", &c), -EINVAL, "bad name EINVAL");
	nt_detach(&t2);
	nt_detach(&t);
	unlink(path);
}

/* A table much smaller than its hash would normally be: every probe collides. */
static void test_collisions(void)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 500;
	p.nlong = 1;
	struct nametable t;
	const char *path = tpath("coll");
	is_int(nt_create(&t, path, &p), 0, "create small table");
	int bad = 0;
	uint32_t idx[500];
	char name[64], got[300];
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "n%d.coll", i);
		if (nt_lookup(&t, name, &idx[i]) != 0)
			bad++;
	}
	is_int(bad, 0, "500 names fill a 500-entry class");
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "n%d.coll", i);
		uint32_t again;
		if (nt_find(&t, name, &again) != 0 || again != idx[i] ||
		    nt_name(&t, idx[i], got, sizeof(got)) < 0 || strcmp(got, name) != 0)
			bad++;
	}
	is_int(bad, 0, "all 500 found again and round trip");
	uint32_t x;
	is_int(nt_lookup(&t, "one.more", &x), -ENOSPC, "full table of fresh names: ENOSPC");
	struct nt_stats st;
	nt_get_stats(&t, &st);
	is_int(st.live, 500, "live count");
	nt_detach(&t);
	unlink(path);
}

static void test_eviction(void)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 8;
	p.nlong = 1;
	p.grace_s = 10;
	nt_set_clock(fake_clock);
	fake_now = 1000;
	struct nametable t;
	const char *path = tpath("evict");
	is_int(nt_create(&t, path, &p), 0, "create 8-entry table");
	uint32_t idx[8], x;
	char name[32], got[300];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "e%d.test", i);
		nt_lookup(&t, name, &idx[i]);
	}
	fake_now = 1005;
	is_int(nt_lookup(&t, "new0.test", &x), -ENOSPC, "all within grace: nothing evicted");
	fake_now = 1009;
	nt_lookup(&t, "e0.test", &x); /* used again: e0 must survive */
	nt_name(&t, idx[1], got, sizeof(got)); /* a connect to e1's address: same */
	fake_now = 1011;
	is_int(nt_lookup(&t, "new1.test", &x), 0, "after grace: insert succeeds");
	ok(x != idx[0] && x != idx[1], "recently used entries were spared");
	is_int(nt_find(&t, "e2.test", &x), -ENOENT, "oldest idle name evicted first");
	is_int(nt_find(&t, "e0.test", &x), 0, "refreshed name still there");
	is_int(x, idx[0], "at its old address");
	int n = 0;
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "more%d.test", i);
		n += nt_lookup(&t, name, &x) == 0;
	}
	is_int(n, 5, "five more evict the remaining idle ones");
	is_int(nt_lookup(&t, "toomany.test", &x), -ENOSPC, "the used ones are never taken");
	struct nt_stats st;
	nt_get_stats(&t, &st);
	is_int(st.evictions, 6, "six evictions");
	nt_detach(&t);
	unlink(path);
	nt_set_clock(NULL);
}

static void test_million(void)
{
	struct nt_params p;
	nt_params_default(&p);
	struct nametable t;
	const char *path = tpath("1m");
	is_int(nt_create(&t, path, &p), 0, "create default-size table");
	enum { N = 1000000 };
	char name[64], got[300];
	int bad = 0;
	double t0 = now_s();
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "host%u.bench.example", i);
		uint32_t x;
		if (nt_lookup(&t, name, &x) != 0)
			bad++;
	}
	double t1 = now_s();
	is_int(bad, 0, "1,000,000 names inserted");
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "host%u.bench.example", i);
		uint32_t x;
		if (nt_lookup(&t, name, &x) != 0)
			bad++;
	}
	double t2 = now_s();
	is_int(bad, 0, "1,000,000 names found again");
	for (unsigned i = 0; i < N; i += 997) {
		snprintf(name, sizeof(name), "host%u.bench.example", i);
		uint32_t x;
		if (nt_find(&t, name, &x) != 0 || nt_name(&t, x, got, sizeof(got)) < 0 ||
		    strcmp(got, name) != 0)
			bad++;
	}
	is_int(bad, 0, "sampled round trips at 1M");
	struct nt_stats st;
	nt_get_stats(&t, &st);
	is_int(st.live, N, "live = 1,000,000");
	printf("# insert %.3f us/name, known lookup %.3f us/name, table %zu MiB virtual\n",
	       (t1 - t0) * 1e6 / N, (t2 - t1) * 1e6 / N, t.size >> 20);
	nt_detach(&t);
	unlink(path);
}

/* Four processes insert the same names in different orders plus their own: every
 * name must end up with one index, the same in every process. */
static void test_forked_writers(void)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 1 << 16;
	p.nlong = 16;
	struct nametable t;
	const char *path = tpath("fork");
	is_int(nt_create(&t, path, &p), 0, "create shared table");
	enum { NPROC = 4, NSHARED = 5000, NOWN = 2000 };
	int fds[NPROC][2];
	pid_t pids[NPROC];
	for (int k = 0; k < NPROC; k++) {
		if (pipe(fds[k]) < 0)
			return;
		pids[k] = fork();
		if (pids[k] == 0) {
			struct nametable c;
			if (nt_attach(&c, path) != 0)
				_exit(2);
			uint32_t got[NSHARED];
			char name[64];
			for (int j = 0; j < NSHARED; j++) {
				int i = (k & 1) ? NSHARED - 1 - j : (j * 7919 + k) % NSHARED;
				snprintf(name, sizeof(name), "shared%d.test", i);
				if (nt_lookup(&c, name, &got[i]) != 0)
					_exit(3);
				snprintf(name, sizeof(name), "own%d-%d.test", k, j % NOWN);
				uint32_t x;
				if (nt_lookup(&c, name, &x) != 0)
					_exit(4);
			}
			ssize_t w = write(fds[k][1], got, sizeof(got));
			_exit(w == (ssize_t)sizeof(got) ? 0 : 5);
		}
		close(fds[k][1]);
	}
	static uint32_t res[NPROC][NSHARED];
	int okays = 0;
	for (int k = 0; k < NPROC; k++) {
		size_t have = 0;
		while (have < sizeof(res[k])) {
			ssize_t r = read(fds[k][0], (char *)res[k] + have, sizeof(res[k]) - have);
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		close(fds[k][0]);
		int status;
		waitpid(pids[k], &status, 0);
		okays += WIFEXITED(status) && WEXITSTATUS(status) == 0 && have == sizeof(res[k]);
	}
	is_int(okays, NPROC, "every writer finished");
	int differ = 0, wrong = 0;
	char name[64], got[300];
	for (int i = 0; i < NSHARED; i++) {
		for (int k = 1; k < NPROC; k++)
			differ += res[k][i] != res[0][i];
		snprintf(name, sizeof(name), "shared%d.test", i);
		wrong += nt_name(&t, res[0][i], got, sizeof(got)) < 0 || strcmp(got, name) != 0;
	}
	is_int(differ, 0, "one index per name across processes");
	is_int(wrong, 0, "each index names its name");
	struct nt_stats st;
	nt_get_stats(&t, &st);
	is_int(st.live, NSHARED + NPROC * NOWN, "no duplicates: live = distinct names");
	nt_detach(&t);
	unlink(path);
}

/* Names whose every byte depends on their number, so a reader that mixed two names
 * (a torn read) is caught. */
static void churn_name(char *buf, size_t cap, unsigned d)
{
	char pad[48];
	unsigned n = d % 40;
	memset(pad, 'a' + (int)(d % 26), n);
	pad[n] = '\0';
	snprintf(buf, cap, "w%u.%s.t", d, pad);
}

static bool churn_valid(const char *name)
{
	unsigned d;
	char want[96];
	if (sscanf(name, "w%u.", &d) != 1)
		return false;
	churn_name(want, sizeof(want), d);
	return strcmp(want, name) == 0;
}

static uint32_t churn_clock_now = 1;
static uint32_t churn_clock(void)
{
	return churn_clock_now += 2; /* every call is past the 1 s grace */
}

/* A writer process evicts and reuses entries as fast as it can while this process
 * reads them without locks: every name read must be whole, and a name found must be
 * that name's. */
static void test_readers_vs_evictions(void)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 64;
	p.nlong = 1;
	p.grace_s = 1;
	struct nametable t;
	const char *path = tpath("churn");
	is_int(nt_create(&t, path, &p), 0, "create a 64-entry table");
	pid_t pid = fork();
	if (pid == 0) {
		nt_set_clock(churn_clock);
		char name[96];
		for (unsigned d = 0;; d++) {
			uint32_t x;
			churn_name(name, sizeof(name), d % 100000);
			nt_lookup(&t, name, &x);
		}
	}
	char name[96], got[300];
	unsigned reads = 0, torn = 0, mismatched = 0, hits = 0;
	double until = now_s() + 1.0;
	while (now_s() < until) {
		for (uint32_t idx = 0; idx < 64; idx++, reads++) {
			if (nt_name(&t, idx, got, sizeof(got)) > 0 && !churn_valid(got))
				torn++;
		}
		for (unsigned d = reads % 1000; d < reads % 1000 + 64; d++) {
			uint32_t x;
			churn_name(name, sizeof(name), d);
			if (nt_find(&t, name, &x) == 0) {
				hits++;
				/* Found means it was there; if it is still there it must match. */
				if (nt_name(&t, x, got, sizeof(got)) > 0 && !churn_valid(got))
					mismatched++;
			}
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	struct nt_stats st;
	nt_get_stats(&t, &st);
	ok(st.evictions > 1000, "the writer churned (%u evictions)", st.evictions);
	is_int(torn, 0, "no torn name in %u lock-free reads", reads);
	is_int(mismatched, 0, "found names read back whole (%u hits)", hits);
	nt_detach(&t);
	unlink(path);
}

/* Writers SIGKILLed at random moments, some surely inside the lock: the next writer
 * gets EOWNERDEAD, repairs the table, and every name still round-trips. Each child
 * says when it has inserted its first names, so a slow (loaded, sanitized) machine
 * kills writers that are writing, not ones still starting; rounds go on, bounded in
 * count and time, until at least one died holding the lock. alarm() turns a deadlock
 * into a failure instead of a hang. */
static void test_killed_writers(void)
{
	struct nt_params p;
	nt_params_default(&p);
	struct nametable t;
	const char *path = tpath("kill");
	is_int(nt_create(&t, path, &p), 0, "create");
	alarm(120);
	struct nt_stats st;
	double until = now_s() + 40.0;
	int rounds = 0, started = 0;
	for (; rounds < 400; rounds++) {
		nt_get_stats(&t, &st);
		if (rounds >= 30 && (st.repairs > 0 || now_s() > until))
			break;
		int pfd[2];
		if (pipe(pfd) != 0)
			break;
		pid_t pid = fork();
		if (pid == 0) {
			struct nametable c;
			char name[64];
			close(pfd[0]);
			if (nt_attach(&c, path) != 0)
				_exit(1);
			for (unsigned i = 0;; i++) {
				uint32_t x;
				snprintf(name, sizeof(name), "k%u-%d.kill.test", i, rounds);
				nt_lookup(&c, name, &x);
				if (i == 20 && write(pfd[1], "r", 1) != 1)
					_exit(1);
			}
		}
		close(pfd[1]);
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		char b;
		if (poll(&pf, 1, 10000) == 1 && read(pfd[0], &b, 1) == 1)
			started++;
		close(pfd[0]);
		usleep(500 + (unsigned)(rounds * 997) % 5000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	is_int(started, rounds, "every writer started writing (%d rounds)", rounds);
	uint32_t x;
	is_int(nt_lookup(&t, "after.kill.test", &x), 0, "a writer after the killings gets the lock");
	char name[64], got[300];
	int bad = 0, found = 0;
	for (int round = 0; round < rounds; round++) {
		for (unsigned i = 0; i < 20000; i++) {
			snprintf(name, sizeof(name), "k%u-%d.kill.test", i, round);
			if (nt_find(&t, name, &x) != 0)
				continue;
			found++;
			if (nt_name(&t, x, got, sizeof(got)) < 0 || strcmp(got, name) != 0)
				bad++;
		}
	}
	nt_get_stats(&t, &st);
	ok(found > 0, "names survive (%d found, %u live)", found, st.live);
	ok(st.repairs > 0, "some writers died holding the lock (%u repairs)", st.repairs);
	is_int(bad, 0, "every surviving name round-trips");
	alarm(0);
	nt_detach(&t);
	unlink(path);
}

static void test_cleanup(void)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 64;
	p.nlong = 4;
	p.grace_s = 100;
	nt_set_clock(fake_clock);
	fake_now = 5000;
	struct nametable t;
	const char *path = tpath("clean");
	is_int(nt_create(&t, path, &p), 0, "create");
	pid_t child = fork();
	if (child == 0) {
		nt_register_pid(&t, getpid());
		pause();
		_exit(0);
	}
	/* Wait (bounded) until the child has registered. */
	struct nt_stats st;
	for (int i = 0; i < 2000; i++) {
		nt_get_stats(&t, &st);
		if (st.npids == 2)
			break;
		usleep(1000);
	}
	is_int(st.npids, 2, "child registered");
	fake_now = 6000;
	ok(!nt_release(&t, getpid()), "a live child keeps the file");
	ok(access(path, F_OK) == 0, "file still there");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	uint32_t x;
	is_int(nt_lookup(&t, "handed.out", &x), 0, "a name handed out just now");
	nt_register_pid(&t, getpid());
	ok(!nt_release(&t, getpid()), "recent activity keeps the file (getent; then curl)");
	fake_now = 6100;
	nt_register_pid(&t, getpid());
	ok(nt_release(&t, getpid()), "idle and nobody alive: unlinked");
	ok(access(path, F_OK) != 0, "file gone");
	is_int(nt_lookup(&t, "still.mapped", &x), 0, "the mapping outlives the name");
	nt_detach(&t);

	nt_set_clock(NULL);
}

/* Runs ops() in a forked child attached to path after corrupt(path) changed the file
 * under it; returns the child's wait status. The child exits 0 whatever the lookups
 * answer: only a signal (SIGBUS, SIGSEGV, the alarm of a hang) is a failure. */
static int run_corrupted(const char *path, void (*corrupt)(const char *))
{
	int go[2];
	if (pipe(go) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		struct nametable c;
		char name[64], got[300];
		uint32_t x;
		close(go[1]);
		alarm(20);
		if (nt_attach(&c, path) != 0)
			_exit(3);
		for (unsigned i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "before%u.hostile.test", i);
			if (nt_lookup(&c, name, &x) != 0)
				_exit(4);
		}
		char b;
		if (write(1, "", 0) < 0 || read(go[0], &b, 1) != 1)
			_exit(5);
		for (unsigned i = 0; i < 200; i++) {
			snprintf(name, sizeof(name), "before%u.hostile.test", i % 50);
			if (nt_find(&c, name, &x) == 0)
				nt_name(&c, x, got, sizeof(got));
			snprintf(name, sizeof(name), "after%u.hostile.test", i);
			nt_lookup(&c, name, &x);
			nt_name(&c, i * 7919u, got, sizeof(got));
		}
		struct nt_stats st;
		nt_get_stats(&c, &st);
		nt_register_pid(&c, getpid());
		nt_release(&c, getpid());
		_exit(0);
	}
	close(go[0]);
	/* Let the child attach and insert before the file changes under it. */
	usleep(200 * 1000);
	corrupt(path);
	if (write(go[1], "g", 1) != 1)
		return -1;
	close(go[1]);
	int status = -1;
	waitpid(pid, &status, 0);
	return status;
}

static void corrupt_truncate(const char *path)
{
	if (truncate(path, 4096) != 0)
		perror("truncate");
}

static void corrupt_truncate_zero(const char *path)
{
	if (truncate(path, 0) != 0)
		perror("truncate");
}

/* Random bytes from offset off for len bytes (a fixed seed: reproducible). */
static void corrupt_random_at(const char *path, off_t off, size_t len, unsigned seed)
{
	static unsigned char buf[1 << 16];
	int fd = open(path, O_WRONLY);
	srandom(seed);
	while (fd >= 0 && len > 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)random();
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			break;
		off += (off_t)n;
		len -= n;
	}
	if (fd >= 0)
		close(fd);
}

static void corrupt_header(const char *path)
{
	corrupt_random_at(path, 0, 4096, 1);
}

static void corrupt_everything(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		corrupt_random_at(path, 0, (size_t)st.st_size, 2);
}

static void corrupt_after_header(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		corrupt_random_at(path, 4096, (size_t)st.st_size - 4096, 3);
}

static void check_survives(const char *what, void (*corrupt)(const char *))
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 4096;
	p.nlong = 256;
	struct nametable t;
	const char *path = tpath("hostile");
	if (nt_create(&t, path, &p) != 0) {
		ok(0, "create for %s", what);
		return;
	}
	nt_detach(&t);
	int status = run_corrupted(path, corrupt);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "%s: the process using the table lives on (status %#x%s%s)", what, status,
	   WIFSIGNALED(status) ? ", signal " : "",
	   WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
	unlink(path);
}

/* The table is hostile input: another process of the same user can truncate it or
 * write anything into it while we have it mapped. Lookups may fail then, but the
 * process must not die (issue 9, item 6). */
static void test_hostile_table(void)
{
	check_survives("truncated to one page", corrupt_truncate);
	check_survives("truncated to nothing", corrupt_truncate_zero);
	check_survives("random bytes over the header", corrupt_header);
	check_survives("random bytes after the header", corrupt_after_header);
	check_survives("random bytes over the whole file", corrupt_everything);

	/* A fresh attach refuses what is no longer a table. */
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 64;
	p.nlong = 4;
	struct nametable t;
	const char *path = tpath("hostile2");
	is_int(nt_create(&t, path, &p), 0, "create");
	nt_detach(&t);
	corrupt_header(path);
	is_int(nt_attach(&t, path), -EPROTO, "random header: attach refuses it");
	unlink(path);
	is_int(nt_create(&t, path, &p), 0, "create again");
	nt_detach(&t);
	corrupt_truncate(path);
	is_int(nt_attach(&t, path), -EPROTO, "truncated table: attach refuses it");
	unlink(path);
}

/* Whatever another user (or a mistake) put at the path, attaching neither blocks nor
 * follows it: a FIFO, a symlink, a file of another owner, a group-readable file. */
static void test_planted_files(void)
{
	struct nametable t;
	const char *path = tpath("planted");
	alarm(20);
	ok(mkfifo(path, 0600) == 0, "a FIFO at the path");
	is_int(nt_attach(&t, path), -EPROTO, "FIFO refused, without blocking");
	unlink(path);
	ok(symlink("/etc/passwd", path) == 0, "a symlink at the path");
	is_int(nt_attach(&t, path), -EPROTO, "symlink refused");
	unlink(path);
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 64;
	p.nlong = 4;
	is_int(nt_create(&t, path, &p), 0, "a valid table");
	nt_detach(&t);
	ok(chmod(path, 0640) == 0, "made group-readable");
	is_int(nt_attach(&t, path), -EPROTO, "group-readable table refused");
	ok(chmod(path, 0600) == 0 && chown(path, 65534, 65534) == 0, "given to another user");
	is_int(nt_attach(&t, path), -EPROTO, "another user's table refused");
	unlink(path);
	alarm(0);
}

/* nt_attach_user, in a private directory (the host's /dev/shm/socksify-u* is never
 * touched): one table per user, its window, and a private fallback when the path is
 * not ours. */
static void test_per_user(void)
{
	char dir[] = "/dev/shm/sfy-unit-XXXXXX";
	ok(mkdtemp(dir) != NULL, "private directory");
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 4096;
	p.nlong = 256;
	struct nametable t, t2;
	bool priv = true;
	char want[NT_PATH_MAX];
	snprintf(want, sizeof(want), "%s/socksify-u%u", dir, (unsigned)geteuid());
	is_int(nt_attach_user(&t, dir, NULL, &p, false, &priv), -ENOENT,
	       "without create, no table is made");
	ok(access(want, F_OK) != 0, "and no file");
	is_int(nt_attach_user(&t, dir, NULL, &p, true, &priv), 0, "first lookup creates it");
	ok(!priv && strcmp(t.path, want) == 0, "at %s", t.path);
	struct stat st;
	ok(stat(want, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == geteuid(),
	   "0600, ours");
	is_int(nt_attach_user(&t2, dir, "", &p, true, &priv), 0, "a second process attaches");
	ok(!priv && strcmp(t2.path, want) == 0, "the same file");
	uint32_t a, b;
	is_int(nt_lookup(&t, "one.user.test", &a), 0, "insert through one");
	is_int(nt_find(&t2, "one.user.test", &b), 0, "found through the other");
	is_int(a, b, "same index");
	uint32_t w = (uint32_t)((1ull << 28) - 2) / (p.nsmall + p.nlong);
	is_int(a, (geteuid() % w) * (p.nsmall + p.nlong), "the first index is the user's window");
	nt_detach(&t2);

	/* Another user's index (the window of uid + 1): not a name of ours. */
	char got[300];
	is_int(nt_name(&t, a + p.nsmall + p.nlong, got, sizeof(got)), -ENOENT,
	       "an index of another window has no name here");
	is_int(nt_name(&t, a, got, sizeof(got)), 13, "ours has");

	/* Other ranges, other table. */
	struct nt_params q = p;
	ok(nt_params_set_net4(&q, "10.64.0.0/10"), "other range");
	is_int(nt_attach_user(&t2, dir, NULL, &q, true, &priv), 0, "attach with other ranges");
	ok(!priv && strncmp(t2.path, want, strlen(want)) == 0 && t2.path[strlen(want)] == '-',
	   "its own file %s", t2.path);
	unlink(t2.path);
	nt_detach(&t2);

	/* SOCKSIFY_NAMETABLE: honoured inside dir, ignored elsewhere. */
	char env[NT_PATH_MAX];
	snprintf(env, sizeof(env), "%s/socksify-mine", dir);
	is_int(nt_attach_user(&t2, dir, env, &p, true, &priv), 0, "an explicit table");
	ok(strcmp(t2.path, env) == 0, "at the path it names");
	unlink(env);
	nt_detach(&t2);
	is_int(nt_attach_user(&t2, dir, "/tmp/socksify-x", &p, true, &priv), 0,
	       "a path outside the directory");
	ok(strcmp(t2.path, want) == 0, "is ignored: the user's table");
	nt_detach(&t2);
	nt_detach(&t);
	unlink(want);

	/* Something else at the user's path: a private table, no file, another window. */
	ok(mkfifo(want, 0600) == 0 && chown(want, 65534, 65534) == 0, "another user's FIFO there");
	alarm(20);
	is_int(nt_attach_user(&t, dir, NULL, &p, false, &priv), -EPROTO,
	       "without create: refused, not blocked");
	is_int(nt_attach_user(&t, dir, NULL, &p, true, &priv), 0, "with create: a table anyway");
	alarm(0);
	ok(priv && t.path[0] == '\0', "a private one");
	is_int(nt_lookup(&t, "private.user.test", &a), 0, "which works");
	ok(a / (p.nsmall + p.nlong) != geteuid() % w, "in a window other than the user's");
	pid_t child = fork();
	if (child == 0) {
		uint32_t x;
		_exit(nt_find(&t, "private.user.test", &x) == 0 && x == a ? 0 : 1);
	}
	int status;
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked child shares it");
	ok(!nt_release(&t, getpid()), "release never unlinks anything for it");
	nt_detach(&t);
	struct stat fifo;
	ok(lstat(want, &fifo) == 0 && S_ISFIFO(fifo.st_mode), "the FIFO is left alone");
	unlink(want);
	rmdir(dir);
}

/* Touches a page of a file that was truncated under its mapping: a SIGBUS that is not
 * the table's. */
static void fault_elsewhere(void)
{
	char path[NT_PATH_MAX];
	snprintf(path, sizeof(path), "/dev/shm/socksify-test-%d-other", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 8192) != 0)
		_exit(3);
	volatile char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED || ftruncate(fd, 0) != 0)
		_exit(3);
	unlink(path);
	m[4096] = 1;
	_exit(4); /* not reached */
}

static void on_bus_exit42(int sig)
{
	_exit(42);
}

/* Runs in a child: with attach, a table (which installs our SIGBUS scope) after
 * the program's own handler if it has one, then a SIGBUS outside the table. */
static int child_status(bool program_handler, bool raised, bool attach)
{
	struct nt_params p;
	nt_params_default(&p);
	p.nsmall = 64;
	p.nlong = 4;
	const char *path = tpath("sigbus");
	pid_t pid = fork();
	if (pid == 0) {
		struct nametable t;
		uint32_t x;
		if (program_handler)
			signal(SIGBUS, on_bus_exit42);
		if (attach && (nt_create(&t, path, &p) != 0 || nt_lookup(&t, "bus.test", &x) != 0))
			_exit(2);
		if (raised)
			raise(SIGBUS);
		fault_elsewhere();
		_exit(5);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	unlink(path);
	return status;
}

/* Our SIGBUS handler acts only on faults inside a table's mapping during our own
 * access; every other SIGBUS goes where it went without us (the default action, the
 * program's handler, or the sanitizer's in the ASan build). */
static void test_sigbus_passes_on(void)
{
	static const char *what[] = { "another mapping's fault", "a raised SIGBUS" };
	for (int handler = 0; handler < 2; handler++) {
		for (int raised = 0; raised < 2; raised++) {
			int without = child_status(handler, raised, false);
			int with = child_status(handler, raised, true);
			ok(with == without && !(WIFEXITED(with) && WEXITSTATUS(with) == 5),
			   "%s%s: as without a table (%#x, %#x)", what[raised],
			   handler ? ", program's own handler" : "", with, without);
		}
	}
	int st = child_status(false, false, true);
	ok(!WIFEXITED(st) || WEXITSTATUS(st) != 5, "the fault did stop the program (%#x)", st);
}

int main(void)
{
	test_params();
	test_roundtrip();
	test_collisions();
	test_eviction();
	test_forked_writers();
	test_killed_writers();
	test_readers_vs_evictions();
	test_cleanup();
	test_planted_files();
	test_per_user();
	test_hostile_table();
	test_sigbus_passes_on();
	test_million();
	return tap_done();
}
