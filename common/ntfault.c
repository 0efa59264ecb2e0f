/* The SIGBUS scope of ntfault.h. Linux-specific (si_addr of a SIGBUS from a mapping
 * past the end of its file), so kept out of nametable.c. */
#include "ntfault.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

/* initial-exec: reading it inside the handler must not allocate (a dynamic TLS block
 * would be set up lazily by __tls_get_addr). */
static __thread struct nt_fault *nt_fault_top __attribute__((tls_model("initial-exec")));
static struct sigaction nt_fault_prev_action;
static pthread_once_t nt_fault_once = PTHREAD_ONCE_INIT;

/* What would have happened without us. A fault re-executes the faulting instruction
 * once the handler returns, so resetting to the default action is enough for it; a
 * SIGBUS sent by kill() or raise() (si_code <= 0) is raised again. */
static void nt_fault_forward(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *p = &nt_fault_prev_action;
	if ((p->sa_flags & SA_SIGINFO) && p->sa_sigaction != NULL) {
		p->sa_sigaction(sig, si, uc);
		return;
	}
	if (!(p->sa_flags & SA_SIGINFO) && p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
		p->sa_handler(sig);
		return;
	}
	if (p->sa_handler == SIG_IGN && si->si_code <= 0)
		return;
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGBUS, &dfl, NULL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void nt_fault_handler(int sig, siginfo_t *si, void *uc)
{
	struct nt_fault *f = nt_fault_top;
	const char *a = si->si_addr;
	if (f != NULL && si->si_code > 0 && a >= f->lo && a < f->hi) {
		/* Leaving the scope here: nt_fault_pop is the jump target's to call. */
		siglongjmp(f->jb, 1);
	}
	nt_fault_forward(sig, si, uc);
}

static void nt_fault_do_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = nt_fault_handler;
	/* SA_NODEFER: siglongjmp(jb, 0-mask) leaves the handler without restoring the
	 * signal mask, so SIGBUS must not be blocked while it runs. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &nt_fault_prev_action);
}

void nt_fault_install(void)
{
	pthread_once(&nt_fault_once, nt_fault_do_install);
}

void nt_fault_push(struct nt_fault *f, const void *base, size_t size)
{
	f->lo = base;
	f->hi = (const char *)base + size;
	f->prev = nt_fault_top;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	nt_fault_top = f;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void nt_fault_pop(struct nt_fault *f)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	nt_fault_top = f->prev;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}
