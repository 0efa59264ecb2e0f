/* What every libFuzzer target here shares: the entry point's prototype, CHECK (abort,
 * so libFuzzer keeps the input as a crash), and the codecs' result contract. */
#ifndef SOCKSIFY_FUZZ_H
#define SOCKSIFY_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c))                                                                 \
			abort();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef SOCKSIFY_SOCKS_H
/* A parser's result is one of the codec's codes; DONE consumed something, within len. */
static inline void fuzz_check_rc(int rc, size_t used, size_t len)
{
	CHECK(rc >= CODEC_ECMD && rc <= CODEC_NEED_MORE);
	if (rc == CODEC_DONE)
		CHECK(used > 0 && used <= len);
}
#endif

#endif
