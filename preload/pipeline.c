/* Which dial flags a new chain gets: SOCKS5 pipelining (greeting, authentication
 * and request in one write) where the first hop takes it. */
#include "async.h"
#include "dial.h"
#include "shim.h"

unsigned shim_dial_flags(void)
{
	return 0;
}
