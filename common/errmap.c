/* The two-way table between errno values and SOCKS4/SOCKS5/HTTP reply codes. The
 * server turns the real cause of a failed connect or lookup into a reply; the shim
 * turns a proxy's reply back into an errno that connect(2) is documented to return. */
#include "errmap.h"

#include <errno.h>
#include <netdb.h>

#include "socks.h"

uint8_t errno_to_s5_rep(int err)
{
	switch (err) {
	case 0: return S5_REP_SUCCEEDED;
	case EACCES:
	case EPERM: return S5_REP_NOT_ALLOWED;
	case ENETUNREACH:
	case ENETDOWN: return S5_REP_NET_UNREACHABLE;
	case EHOSTUNREACH:
	case EHOSTDOWN: return S5_REP_HOST_UNREACHABLE;
	case ECONNREFUSED: return S5_REP_CONN_REFUSED;
	case ETIMEDOUT: return S5_REP_TTL_EXPIRED;
	case EAFNOSUPPORT: return S5_REP_ATYP_NOT_SUPPORTED;
	}
	return S5_REP_GENERAL_FAILURE;
}

int s5_rep_to_errno(uint8_t rep)
{
	switch (rep) {
	case S5_REP_SUCCEEDED: return 0;
	case S5_REP_NOT_ALLOWED: return EACCES;
	case S5_REP_NET_UNREACHABLE: return ENETUNREACH;
	case S5_REP_HOST_UNREACHABLE: return EHOSTUNREACH;
	case S5_REP_TTL_EXPIRED: return ETIMEDOUT;
	/* connect(2) has no "operation not supported": a proxy that cannot carry this
	 * command is a path that cannot reach the destination, and ENETUNREACH also
	 * tells a dynamic chain to try another hop. */
	case S5_REP_CMD_NOT_SUPPORTED: return ENETUNREACH;
	case S5_REP_ATYP_NOT_SUPPORTED: return EAFNOSUPPORT;
	/* A general failure (and any REP past the RFC) is what a program sees when the
	 * far end would not take the connection: ECONNREFUSED, as for REP 5. */
	default: return ECONNREFUSED;
	}
}

int s4_rep_to_errno(uint8_t cd)
{
	switch (cd) {
	case S4_REP_GRANTED: return 0;
	/* 92/93 are identd failures: the proxy refused who we are, not the target. */
	case S4_REP_NO_IDENTD:
	case S4_REP_IDENT_MISMATCH: return EACCES;
	default: return ECONNREFUSED; /* 91: SOCKS4 has one code for every failure */
	}
}

int http_status_to_errno(int status)
{
	if (status >= 200 && status <= 299)
		return 0;
	switch (status) {
	case 403: /* forbidden by policy */
	case 407: return EACCES; /* credentials refused or missing */
	/* Proxies answer 502 (and some 404) when they cannot resolve or reach the
	 * destination; 503 is what Squid and our server say for a refused connect. */
	case 404:
	case 502: return EHOSTUNREACH;
	case 504: return ETIMEDOUT;
	}
	return ECONNREFUSED;
}

uint8_t eai_to_s5_rep(int eai)
{
	switch (eai) {
	case 0: return S5_REP_SUCCEEDED;
	/* NXDOMAIN, no data and a temporary DNS failure all mean the host cannot be
	 * reached by that name right now. */
	case EAI_NONAME:
	case EAI_NODATA:
	case EAI_ADDRFAMILY:
	case EAI_AGAIN: return S5_REP_HOST_UNREACHABLE;
	case EAI_FAMILY: return S5_REP_ATYP_NOT_SUPPORTED;
	}
	return S5_REP_GENERAL_FAILURE;
}

uint8_t errno_to_s4_rep(int err)
{
	return err == 0 ? S4_REP_GRANTED : S4_REP_REJECTED;
}

int errno_to_http_status(int err)
{
	switch (err) {
	case 0: return 200;
	case EACCES:
	case EPERM: return 403;
	case ECONNREFUSED: return 503;
	case ETIMEDOUT: return 504;
	}
	return 502; /* unreachable network or host, and anything else upstream */
}

const char *s5_rep_str(uint8_t rep)
{
	switch (rep) {
	case S5_REP_SUCCEEDED: return "succeeded";
	case S5_REP_GENERAL_FAILURE: return "general SOCKS server failure";
	case S5_REP_NOT_ALLOWED: return "connection not allowed by ruleset";
	case S5_REP_NET_UNREACHABLE: return "network unreachable";
	case S5_REP_HOST_UNREACHABLE: return "host unreachable";
	case S5_REP_CONN_REFUSED: return "connection refused";
	case S5_REP_TTL_EXPIRED: return "TTL expired";
	case S5_REP_CMD_NOT_SUPPORTED: return "command not supported";
	case S5_REP_ATYP_NOT_SUPPORTED: return "address type not supported";
	}
	return "unknown reply code";
}

const char *s4_rep_str(uint8_t cd)
{
	switch (cd) {
	case S4_REP_GRANTED: return "request granted";
	case S4_REP_REJECTED: return "request rejected or failed";
	case S4_REP_NO_IDENTD: return "rejected: cannot reach identd on the client";
	case S4_REP_IDENT_MISMATCH: return "rejected: identd reports a different user-id";
	}
	return "unknown reply code";
}
