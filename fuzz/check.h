/* fuzz/check.h - what every fuzz harness shares: libFuzzer's entry point
 * and FUZZ_CHECK, which aborts on a false property (the fuzzer keeps the
 * input; the replay test fails). */
#ifndef WEFT_FUZZ_CHECK_H
#define WEFT_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,  \
				#cond);                                     \
			abort();                                            \
		}                                                           \
	} while (0)

#endif /* WEFT_FUZZ_CHECK_H */
