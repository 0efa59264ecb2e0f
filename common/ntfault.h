/* Surviving a shared mapping whose file shrinks under us (issue 9, item 6).
 *
 * The name table is a file in /dev/shm mapped MAP_SHARED; any process of the same user
 * can truncate it, and touching a page past the new end raises SIGBUS. Checking the
 * size first cannot work: the file may shrink between the check and the access, and
 * checking needs an fd the library would have to keep open in the program. So the one
 * place that may fault catches it: every access to the mapping runs inside a scope
 * (nt_fault_push/pop, one per thread, nestable), and a SIGBUS handler, installed the
 * first time this process maps a table (never at start-up, never in a program that
 * does not resolve a name remotely), jumps back out of the scope when the faulting
 * address is inside it. Any other SIGBUS goes where it would have gone without us:
 * to the handler installed before ours, or to the default action. A program that
 * installs its own SIGBUS handler after our first lookup replaces ours, and is then as
 * exposed to a truncated table as it was before this existed. */
#ifndef SOCKSIFY_NTFAULT_H
#define SOCKSIFY_NTFAULT_H

#include <setjmp.h>
#include <stddef.h>

struct nt_fault {
	sigjmp_buf jb;
	const char *lo, *hi; /* the mapping this scope may touch */
	struct nt_fault *prev;
};

/* Installs the handler (once per process). */
void nt_fault_install(void);
/* Opens a scope over [base, base + size); the caller then calls sigsetjmp(f->jb, 0)
 * itself (it must be the function that stays on the stack) and nt_fault_pop on both
 * paths. */
void nt_fault_push(struct nt_fault *f, const void *base, size_t size);
void nt_fault_pop(struct nt_fault *f);

#endif
