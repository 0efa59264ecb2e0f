/* async_loop built with _FORTIFY_SOURCE=2, as Debian builds its programs: poll and
 * ppoll on an array of known size become __poll_chk and __ppoll_chk, glibc functions
 * that call glibc's own poll, so the library must hook them too. Same usage. */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include "async_loop.c"
