/* Unit tests for the errno <-> reply-code table: every documented mapping, that the
 * errno values handed to programs are ones connect(2) may return, and the readable
 * strings. */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "errmap.h"
#include "socks.h"
#include "tap.h"

/* The errno values connect(2) documents (the shim must not invent others), plus
 * EHOSTUNREACH: not in the man page's list, but Linux returns it for an ICMP host
 * unreachable and issue 3 asks for it. */
static int connect_errno_ok(int e)
{
	static const int allowed[] = { 0, EACCES, EPERM, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT,
				       EAGAIN, EALREADY, EBADF, ECONNREFUSED, EFAULT, EINPROGRESS,
				       EINTR, EISCONN, ENETUNREACH, ENOTSOCK, EPROTOTYPE,
				       ETIMEDOUT, EHOSTUNREACH };
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (allowed[i] == e)
			return 1;
	return 0;
}

static void test_errno_to_s5(void)
{
	static const struct {
		int err;
		uint8_t rep;
	} t[] = {
		{ 0, 0 },
		{ ENETUNREACH, 3 },
		{ ENETDOWN, 3 },
		{ EHOSTUNREACH, 4 },
		{ EHOSTDOWN, 4 },
		{ ECONNREFUSED, 5 },
		{ ETIMEDOUT, 6 },
		{ EACCES, 2 },
		{ EPERM, 2 },
		{ EAFNOSUPPORT, 8 },
		{ EIO, 1 },
		{ ENOMEM, 1 },
		{ EMFILE, 1 },
		{ 99999, 1 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(errno_to_s5_rep(t[i].err), t[i].rep, "errno_to_s5_rep(%s) = %u",
		       t[i].err ? strerror(t[i].err) : "0", t[i].rep);
}

static void test_s5_to_errno(void)
{
	static const int want[9] = { 0,		  ECONNREFUSED, EACCES,	   ENETUNREACH, EHOSTUNREACH,
				     ECONNREFUSED, ETIMEDOUT,	 ENETUNREACH, EAFNOSUPPORT };
	int all_ok = 1;

	for (unsigned r = 0; r < 9; r++)
		is_int(s5_rep_to_errno((uint8_t)r), want[r], "s5_rep_to_errno(%u)", r);
	is_int(s5_rep_to_errno(9), ECONNREFUSED, "s5_rep_to_errno(9): past the RFC");
	is_int(s5_rep_to_errno(255), ECONNREFUSED, "s5_rep_to_errno(255)");
	for (unsigned r = 0; r < 256; r++)
		all_ok &= connect_errno_ok(s5_rep_to_errno((uint8_t)r));
	ok(all_ok, "every REP maps to an errno connect(2) documents");
	/* The codes that name one cause survive a round trip through errno. */
	for (unsigned r = 2; r <= 6; r++)
		is_int(errno_to_s5_rep(s5_rep_to_errno((uint8_t)r)), r, "REP %u round trip", r);
	is_int(errno_to_s5_rep(s5_rep_to_errno(8)), 8, "REP 8 round trip");
}

static void test_s4(void)
{
	int all_ok = 1;

	is_int(s4_rep_to_errno(90), 0, "s4 90 granted");
	is_int(s4_rep_to_errno(91), ECONNREFUSED, "s4 91 ECONNREFUSED");
	is_int(s4_rep_to_errno(92), EACCES, "s4 92 EACCES");
	is_int(s4_rep_to_errno(93), EACCES, "s4 93 EACCES");
	is_int(s4_rep_to_errno(0), ECONNREFUSED, "s4 0 (garbage) ECONNREFUSED");
	for (unsigned c = 0; c < 256; c++)
		all_ok &= connect_errno_ok(s4_rep_to_errno((uint8_t)c));
	ok(all_ok, "every CD maps to an errno connect(2) documents");
	is_int(errno_to_s4_rep(0), 90, "errno_to_s4_rep(0) = 90");
	is_int(errno_to_s4_rep(ECONNREFUSED), 91, "errno_to_s4_rep(ECONNREFUSED) = 91");
	is_int(errno_to_s4_rep(EACCES), 91, "errno_to_s4_rep(EACCES) = 91");
}

static void test_http(void)
{
	static const struct {
		int status, err;
	} t[] = {
		{ 200, 0 },	       { 204, 0 },	    { 403, EACCES },	   { 407, EACCES },
		{ 404, EHOSTUNREACH }, { 502, EHOSTUNREACH }, { 503, ECONNREFUSED }, { 504, ETIMEDOUT },
		{ 400, ECONNREFUSED }, { 500, ECONNREFUSED }, { 301, ECONNREFUSED }, { 100, ECONNREFUSED },
	};
	int all_ok = 1;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(http_status_to_errno(t[i].status), t[i].err, "http_status_to_errno(%d)",
		       t[i].status);
	for (int s = 100; s < 600; s++)
		all_ok &= connect_errno_ok(http_status_to_errno(s));
	ok(all_ok, "every HTTP status maps to an errno connect(2) documents");
	is_int(errno_to_http_status(0), 200, "errno_to_http_status(0)");
	is_int(errno_to_http_status(EACCES), 403, "errno_to_http_status(EACCES)");
	is_int(errno_to_http_status(ECONNREFUSED), 503, "errno_to_http_status(ECONNREFUSED)");
	is_int(errno_to_http_status(ETIMEDOUT), 504, "errno_to_http_status(ETIMEDOUT)");
	is_int(errno_to_http_status(EHOSTUNREACH), 502, "errno_to_http_status(EHOSTUNREACH)");
	is_int(errno_to_http_status(EIO), 502, "errno_to_http_status(EIO)");
	/* The server's status, read back by the shim, gives the errno it started from. */
	{
		static const int errs[] = { EACCES, ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH };
		for (size_t i = 0; i < 4; i++)
			is_int(http_status_to_errno(errno_to_http_status(errs[i])), errs[i],
			       "errno %s survives HTTP round trip", strerror(errs[i]));
	}
}

static void test_eai(void)
{
	is_int(eai_to_s5_rep(0), 0, "EAI 0 -> 0");
	is_int(eai_to_s5_rep(EAI_NONAME), 4, "EAI_NONAME -> 4");
	is_int(eai_to_s5_rep(EAI_NODATA), 4, "EAI_NODATA -> 4");
	is_int(eai_to_s5_rep(EAI_AGAIN), 4, "EAI_AGAIN -> 4");
	is_int(eai_to_s5_rep(EAI_FAMILY), 8, "EAI_FAMILY -> 8");
	is_int(eai_to_s5_rep(EAI_FAIL), 1, "EAI_FAIL -> 1");
	is_int(eai_to_s5_rep(EAI_MEMORY), 1, "EAI_MEMORY -> 1");
	is_int(eai_to_s5_rep(EAI_SYSTEM), 1, "EAI_SYSTEM -> 1");
}

static void test_strings(void)
{
	int distinct = 1, nonempty = 1;

	for (unsigned r = 0; r < 9; r++) {
		nonempty &= s5_rep_str((uint8_t)r) && *s5_rep_str((uint8_t)r);
		for (unsigned q = 0; q < r; q++)
			distinct &= strcmp(s5_rep_str((uint8_t)r), s5_rep_str((uint8_t)q)) != 0;
		distinct &= strcmp(s5_rep_str((uint8_t)r), s5_rep_str(200)) != 0;
	}
	ok(nonempty && distinct, "s5_rep_str: one distinct string per REP and for unknown");
	ok(strstr(s5_rep_str(5), "refused") != NULL, "s5_rep_str(5) says refused");
	ok(strstr(s5_rep_str(4), "host unreachable") != NULL, "s5_rep_str(4) says host unreachable");
	nonempty = distinct = 1;
	for (unsigned c = 90; c <= 93; c++) {
		nonempty &= s4_rep_str((uint8_t)c) && *s4_rep_str((uint8_t)c);
		for (unsigned q = 90; q < c; q++)
			distinct &= strcmp(s4_rep_str((uint8_t)c), s4_rep_str((uint8_t)q)) != 0;
		distinct &= strcmp(s4_rep_str((uint8_t)c), s4_rep_str(0)) != 0;
	}
	ok(nonempty && distinct, "s4_rep_str: one distinct string per CD and for unknown");
	for (int rc = CODEC_ECMD; rc <= CODEC_NEED_MORE; rc++)
		ok(strcmp(codec_strerror(rc), codec_strerror(-100)) != 0, "codec_strerror(%d): %s",
		   rc, codec_strerror(rc));
}

int main(void)
{
	test_errno_to_s5();
	test_s5_to_errno();
	test_s4();
	test_http();
	test_eai();
	test_strings();
	return tap_done();
}
