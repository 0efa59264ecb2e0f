/* Starting a supervised program: fork; the child (optionally entering a network
 * namespace of its own: --jail) installs the seccomp filter with a notification
 * listener, tells us the fd numbers of the listener and of the sockets it opened for
 * us in the jail, waits until we have taken copies (pidfd_getfd: the child's own
 * sendmsg would be a notification nobody answers yet), and execs. We serve the
 * notifications until every process that carries the filter is gone, forwarding
 * signals to the child, and exit with its status.
 *
 * The filter (x86_64 and aarch64): connect, sendmsg and sendmmsg always notify;
 * sendto only with a destination (its pointer is a register, so the filter can tell);
 * io_uring_setup fails with ENOSYS (a ring's connect would never be seen, and libuv,
 * tokio and Go fall back to epoll); 32-bit and x32 calls of those families fail with
 * EPERM (the numbers differ and we would not see them). Everything else runs
 * untouched. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "supervise.h"
#include "util.h"

#if defined(__x86_64__)
#define SV_ARCH AUDIT_ARCH_X86_64
#define SV_COMPAT_ARCH AUDIT_ARCH_I386
/* i386: socketcall, connect, sendto, sendmsg, sendmmsg, io_uring_setup */
#define SV_COMPAT_NRS 102, 362, 369, 370, 345, 425
#define SV_X32_BIT 0x40000000u
#elif defined(__aarch64__)
#define SV_ARCH AUDIT_ARCH_AARCH64
#define SV_COMPAT_ARCH AUDIT_ARCH_ARM
/* arm: connect, sendto, sendmsg, sendmmsg, io_uring_setup */
#define SV_COMPAT_NRS 283, 290, 296, 374, 425
#else
#error "the supervisor's filter knows x86_64 and aarch64"
#endif

#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define IF_NR(nr, action) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), RET(action)
#define NOTIFY SECCOMP_RET_USER_NOTIF
#define ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * 8)
#define ARG_HI(i) (ARG_LO(i) + 4)

static const unsigned compat_nrs[] = {SV_COMPAT_NRS};
#define N_COMPAT (sizeof(compat_nrs) / sizeof(compat_nrs[0]))

/* Builds the filter into f; returns its length. */
static size_t build_filter(struct sock_filter *f)
{
	size_t n = 0;

	f[n++] = (struct sock_filter)LD(offsetof(struct seccomp_data, arch));
	/* Native: skip the compat section (its length is known: 1 + 2 per nr + 2). */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SV_ARCH,
					      (uint8_t)(1 + 2 * N_COMPAT + 2), 0);
	f[n++] = (struct sock_filter)LD(offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < N_COMPAT; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, compat_nrs[i], 0, 1);
		f[n++] = (struct sock_filter)RET(ERRNO(EPERM));
	}
	f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW); /* another arch, other calls */
	f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW); /* (pads the jump above) */
	f[n++] = (struct sock_filter)LD(offsetof(struct seccomp_data, nr));
#ifdef SV_X32_BIT
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SV_X32_BIT, 0, 1);
	f[n++] = (struct sock_filter)RET(ERRNO(EPERM));
#endif
	struct sock_filter body[] = {
		IF_NR(SYS_connect, NOTIFY),
		IF_NR(SYS_sendmsg, NOTIFY),
		IF_NR(SYS_sendmmsg, NOTIFY),
		IF_NR(SYS_io_uring_setup, ERRNO(ENOSYS)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendto, 0, 6),
		LD(ARG_LO(4)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
		LD(ARG_HI(4)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		RET(SECCOMP_RET_ALLOW),
		RET(NOTIFY),
		RET(SECCOMP_RET_ALLOW),
	};
	memcpy(f + n, body, sizeof(body));
	return n + sizeof(body) / sizeof(body[0]);
}

/* Installs the filter; returns the listener fd or -1 with msg set. */
static int install_filter(char *msg, size_t cap)
{
	struct sock_filter f[64];
	struct sock_fprog prog = {.len = (unsigned short)build_filter(f), .filter = f};
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
	int fd;

#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	/* Once we hold a notification, only a fatal signal interrupts the wait: Go's
	 * preemption signal (SIGURG) would otherwise restart a connect we already made. */
	flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
#endif
	for (int attempt = 0; attempt < 3; attempt++) {
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
		if (fd >= 0)
			return fd;
		if (errno == EACCES) {
			/* Without CAP_SYS_ADMIN a filter needs no_new_privs (set-user-ID
			 * programs then run without their privileges). */
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		} else if (errno == EINVAL && (flags & ~SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
			flags = SECCOMP_FILTER_FLAG_NEW_LISTENER; /* a kernel before 5.19 */
		} else {
			break;
		}
	}
	snprintf(msg, cap, "cannot install the seccomp filter: %s%s", strerror(errno),
		 errno == EINVAL ? " (the supervisor needs Linux 5.6 or later)" : "");
	return -1;
}

/* ---- the jail ---- */

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text);
}

/* A network namespace with only loopback (up), plus a user namespace mapping our own
 * ids when we are not root. */
static bool jail_enter(char *msg, size_t cap)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (uid != 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
			snprintf(msg, cap,
				 "--jail: cannot create a user namespace (%s): unprivileged user "
				 "namespaces are disabled on this system. Enable them "
				 "(sysctl kernel.unprivileged_userns_clone=1 on Debian, "
				 "user.max_user_namespaces > 0, or on Ubuntu 24.04 "
				 "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor "
				 "profile allowing userns for socksify), or run as root",
				 strerror(errno));
			return false;
		}
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		if (!write_file("/proc/self/setgroups", "deny") ||
		    !write_file("/proc/self/uid_map", map)) {
			snprintf(msg, cap, "--jail: cannot map our user id: %s", strerror(errno));
			return false;
		}
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		if (!write_file("/proc/self/gid_map", map)) {
			snprintf(msg, cap, "--jail: cannot map our group id: %s", strerror(errno));
			return false;
		}
	} else if (unshare(CLONE_NEWNET) != 0) {
		snprintf(msg, cap, "--jail: cannot create a network namespace: %s", strerror(errno));
		return false;
	}
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	str_copy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	bool ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		snprintf(msg, cap, "--jail: cannot bring up loopback: %s", strerror(errno));
	return ok;
}

/* ---- the hand-off between child and supervisor ---- */

#define SV_NDNS 4
struct handoff {
	int err;
	char msg[512];
	int listener;
	int dns[SV_NDNS];
	uint16_t dns_port[SV_NDNS];
	int relay[CONF_MAX_PROXIES];
	uint16_t relay_port[CONF_MAX_PROXIES];
	int factory;
};

static int *dns_fd(struct sv *s, int i)
{
	int *f[SV_NDNS] = {&s->dns_udp4, &s->dns_udp6, &s->dns_tcp4, &s->dns_tcp6};
	return f[i];
}

static uint16_t *dns_port(struct sv *s, int i)
{
	uint16_t *p[SV_NDNS] = {&s->dns_udp4_port, &s->dns_udp6_port, &s->dns_tcp4_port,
				&s->dns_tcp6_port};
	return p[i];
}

static bool full_io(int fd, void *buf, size_t len, bool wr)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = wr ? write(fd, (char *)buf + off, len - off)
			       : read(fd, (char *)buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* --jail's socket factory: a process left in the jail (forked before the filter, so
 * it carries none) that answers each family number read from fd with a datagram
 * socket bound to the jail's loopback, passed back with SCM_RIGHTS (or none). It
 * holds no other fd (the program's stdout among them) and ends with our side. */
static _Noreturn void factory(int fd)
{
	int family;

	if (fd != 3 && dup2(fd, 3) != 3)
		_exit(1);
	syscall(SYS_close_range, 0, 2, 0);
	syscall(SYS_close_range, 4, ~0U, 0);
	while (read(3, &family, sizeof(family)) == (ssize_t)sizeof(family)) {
		struct sockaddr_storage ss;
		socklen_t len;
		int s = family == AF_INET || family == AF_INET6 ? sv_loopback_dgram(family, &ss, &len) : -1;
		char ok = s >= 0;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm = {0};
		struct iovec iov = {.iov_base = &ok, .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		if (s >= 0) {
			m.msg_control = cm.buf;
			m.msg_controllen = sizeof(cm.buf);
			cm.h.cmsg_level = SOL_SOCKET;
			cm.h.cmsg_type = SCM_RIGHTS;
			cm.h.cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(&cm.h), &s, sizeof(int));
		}
		if (sendmsg(3, &m, MSG_NOSIGNAL) != 1)
			_exit(0);
		if (s >= 0)
			close(s);
	}
	_exit(0);
}

int sv_jail_dgram(struct sv *s, int family)
{
	char ok = 0;
	int fd = -1;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = &ok, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			   .msg_controllen = sizeof(cm.buf)};

	if (s->factory < 0)
		return -1;
	pthread_mutex_lock(&s->factory_lock);
	if (write(s->factory, &family, sizeof(family)) == (ssize_t)sizeof(family) &&
	    recvmsg(s->factory, &m, MSG_CMSG_CLOEXEC) == 1 && ok) {
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(h), sizeof(int));
	}
	pthread_mutex_unlock(&s->factory_lock);
	return fd;
}

static _Noreturn void child(struct sv *s, int sock, char **command)
{
	static struct handoff h;
	char ack;

	memset(&h, 0, sizeof(h));
	h.listener = -1;
	if (s->jail) {
		if (!jail_enter(h.msg, sizeof(h.msg)))
			goto fail;
		sv_dns_open(s);
		if (!sv_relay_open(s)) {
			snprintf(h.msg, sizeof(h.msg), "--jail: cannot open the relay listener: %s",
				 strerror(errno));
			goto fail;
		}
		int fp[2];
		pid_t fpid;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fp) != 0 ||
		    (fpid = fork()) < 0) {
			snprintf(h.msg, sizeof(h.msg), "--jail: cannot start the socket helper: %s",
				 strerror(errno));
			goto fail;
		}
		/* Twice, so that it is not the program's child (a program waiting for
		 * every child of its own would wait for it). */
		if (fpid == 0) {
			if (fork() == 0)
				factory(fp[1]);
			_exit(0);
		}
		waitpid(fpid, NULL, 0);
		close(fp[1]);
		s->factory = fp[0];
	}
	h.factory = s->factory;
	for (int i = 0; i < SV_NDNS; i++) {
		h.dns[i] = *dns_fd(s, i);
		h.dns_port[i] = *dns_port(s, i);
	}
	for (size_t i = 0; i < CONF_MAX_PROXIES; i++) {
		h.relay[i] = s->relay_fd[i];
		h.relay_port[i] = s->px[i].relay_port;
	}
	h.listener = install_filter(h.msg, sizeof(h.msg));
	if (h.listener < 0)
		goto fail;
	/* write/read are not filtered: our own hand-off never waits on ourselves. */
	if (!full_io(sock, &h, sizeof(h), true) || !full_io(sock, &ack, 1, false))
		_exit(CLI_EXIT_FAIL);
	close(sock);
	close(h.listener);
	for (int i = 0; i < SV_NDNS; i++)
		close_fd(dns_fd(s, i));
	for (size_t i = 0; i < CONF_MAX_PROXIES; i++)
		close_fd(&s->relay_fd[i]);
	close_fd(&s->factory);
	_exit(cli_exec(command));
fail:
	h.err = 1;
	full_io(sock, &h, sizeof(h), true);
	_exit(CLI_EXIT_FAIL);
}

bool sv_spawn(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_t t;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (stack)
		pthread_attr_setstacksize(&attr, stack);
	bool ok = pthread_create(&t, &attr, fn, arg) == 0;
	pthread_attr_destroy(&attr);
	return ok;
}

void *sv_accept_loop(void *arg)
{
	struct sv_acceptor *a = arg;
	struct pollfd p[SV_ACCEPT_MAX];

	for (size_t i = 0; i < a->n; i++)
		p[i] = (struct pollfd){.fd = a->fd[i], .events = POLLIN};
	for (;;) {
		if (poll(p, a->n, -1) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < a->n; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			int fd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				a->on_conn(a->s, i, fd);
		}
	}
	return NULL;
}

/* Copies the child's fd into ours (-1 stays -1). */
static int take(int pidfd, int fd)
{
	return fd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static bool receive(struct sv *s, int sock, pid_t pid, int *pidfd)
{
	static struct handoff h;

	if (!full_io(sock, &h, sizeof(h), false))
		return false; /* the child said why, or died */
	if (h.err) {
		cli_err("%s", h.msg);
		return false;
	}
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	s->listener = take(*pidfd, h.listener);
	if (s->listener < 0) {
		cli_err("cannot take the seccomp listener from the child: %s", strerror(errno));
		return false;
	}
	if (s->jail) {
		for (int i = 0; i < SV_NDNS; i++) {
			*dns_fd(s, i) = take(*pidfd, h.dns[i]);
			*dns_port(s, i) = h.dns_port[i];
		}
		for (size_t i = 0; i < CONF_MAX_PROXIES; i++) {
			s->relay_fd[i] = take(*pidfd, h.relay[i]);
			s->px[i].relay_port = h.relay_port[i];
		}
		s->factory = take(*pidfd, h.factory);
	}
	return true;
}

/* ---- waiting ---- */

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		/* Die the same way, so a shell sees what the program did. */
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		if (sig != SIGKILL && sig != SIGSTOP)
			raise(sig);
		return 128 + sig;
	}
	return CLI_EXIT_FAIL;
}

static int wait_all(struct sv *s, pid_t pid, int pidfd, const sigset_t *sigs)
{
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
	int status = 0;
	bool reaped = false, hup = false;

	/* Done when our child is reaped and every process that carries the filter is
	 * gone (its children may outlive it: they are served until then). The two come
	 * in either order: the filter's last user goes at exit, before the parent can
	 * reap it. */
	while (!reaped || !hup) {
		struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
				      {.fd = reaped ? -1 : pidfd, .events = POLLIN},
				      {.fd = hup ? -1 : s->listener, .events = 0}};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			/* A terminal's signals (SI_KERNEL) reach the child by themselves. */
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && !reaped &&
			    si.ssi_code != SI_KERNEL)
				kill(pid, (int)si.ssi_signo);
		}
		if (!reaped && (p[1].revents & POLLIN) && waitpid(pid, &status, WNOHANG) == pid)
			reaped = true;
		if (p[2].revents & (POLLHUP | POLLERR))
			hup = true;
	}
	return exit_status(status);
}

/* The same settings the library uses (preload/resolver.c: the configuration's
 * fake_net4, fake_net6 and fake_grace), so that whoever creates the user's table
 * first creates the same one. */
static void nametable_settings(struct sv *s)
{
	const struct socksify_conf *c = s->conf;

	pthread_mutex_init(&s->nt_lock, NULL);
	s->nt_on = c->dns == DNS_REMOTE;
	nt_params_default(&s->ntp);
	if (!nt_params_set_net4(&s->ntp, c->fake_net4) || !nt_params_set_net6(&s->ntp, c->fake_net6))
		nt_params_default(&s->ntp); /* cannot happen: conf.c checked them */
	s->ntp.grace_s = c->fake_grace_s;
}

/* The table the library of this user would use: nt_attach_user's one policy (the
 * user's own, or SOCKSIFY_NAMETABLE's). */
struct nametable *sv_nt(const struct sv *cs, bool create)
{
	struct sv *s = (struct sv *)cs; /* the one mutable part, under its lock */
	bool private_table = false;

	if (!s->nt_on)
		return NULL;
	pthread_mutex_lock(&s->nt_lock);
	if (s->nt_state == 0) {
		int rc = nt_attach_user(&s->nt_, "/dev/shm", getenv("SOCKSIFY_NAMETABLE"), &s->ntp,
					create, &private_table);
		if (rc == 0) {
			s->nt_state = 1;
			nt_register_pid(&s->nt_, getpid());
			if (private_table)
				cli_warn("warning: the user's name table in /dev/shm is not a file of "
					 "ours: the supervisor uses a private one");
		} else if (create) {
			s->nt_state = -1;
			cli_warn("warning: cannot open the name table %s (%s): names will not "
				 "resolve", s->nt_.path, strerror(-rc));
		}
	}
	pthread_mutex_unlock(&s->nt_lock);
	return s->nt_state == 1 ? &s->nt_ : NULL;
}

/* glibc's resolver (in static programs) checks that an answer over UDP comes from
 * the server it asked, which our responder's loopback port is not; over TCP there is
 * no such check, so we steer it there. */
static void steer_resolver(void)
{
	const char *old = getenv("RES_OPTIONS");
	char buf[512];

	if (old && strstr(old, "use-vc"))
		return;
	snprintf(buf, sizeof(buf), "%s%suse-vc", old ? old : "", old && *old ? " " : "");
	setenv("RES_OPTIONS", buf, 1);
}

int sv_run(char **command, const struct socksify_conf *c, bool jail)
{
	static struct sv s;
	int sv[2], pidfd = -1;
	sigset_t sigs, old;

	s.conf = c;
	s.jail = jail;
	s.listener = -1;
	for (size_t i = 0; i < CONF_MAX_PROXIES; i++)
		s.relay_fd[i] = -1;
	s.dns_udp4 = s.dns_udp6 = s.dns_tcp4 = s.dns_tcp6 = -1;
	s.factory = -1;
	pthread_mutex_init(&s.factory_lock, NULL);
	sv_read_resolv(&s);
	sv_resolve_proxies(&s);
	nametable_settings(&s);
	if (c->dns == DNS_REMOTE)
		steer_resolver();
	if (!jail)
		sv_dns_open(&s);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		cli_err("socketpair: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_err("fork: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (pid == 0) {
		close(sv[0]);
		child(&s, sv[1], command);
	}
	close(sv[1]);
	/* Our own signals come through a signalfd; the workers inherit the mask. */
	sigemptyset(&sigs);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGSEGV &&
		    sig != SIGBUS && sig != SIGFPE && sig != SIGILL && sig != SIGTRAP &&
		    sig != SIGABRT && sig != SIGPIPE && sig != SIGTSTP && sig != SIGTTIN &&
		    sig != SIGTTOU && sig != SIGCONT && sig != SIGPROF && sig != SIGSYS)
			sigaddset(&sigs, sig);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	signal(SIGPIPE, SIG_IGN);
	if (!receive(&s, sv[0], pid, &pidfd)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return CLI_EXIT_FAIL;
	}
	bool ok = sv_notif_start(&s) && (!jail || sv_relay_start(&s));
	char go = 1;
	if (!ok || !full_io(sv[0], &go, 1, true)) {
		cli_err("cannot start the supervisor: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return CLI_EXIT_FAIL;
	}
	close(sv[0]);
	int rc = wait_all(&s, pid, pidfd, &sigs);
	if (s.nt_state == 1)
		nt_release(&s.nt_, getpid());
	return rc;
}
