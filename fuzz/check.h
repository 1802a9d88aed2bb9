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

/* For functions that only compare the code under test with a model (loops
 * over every timer, waiter or value after each step): no coverage
 * instrumentation. Their branches are the checks themselves, which give
 * the fuzzer nothing to steer by (a failing one aborts), and libFuzzer's
 * comparison tracing in those loops was most of an execution's cost
 * (issue 16's long run). ASan and UBSan still check them. noinline: the
 * coverage pass runs after inlining, in the caller's instrumentation. */
#if defined(__clang__)
#define FZ_MODEL __attribute__((no_sanitize("coverage"), noinline))
#else
#define FZ_MODEL
#endif

#endif /* WEFT_FUZZ_CHECK_H */
