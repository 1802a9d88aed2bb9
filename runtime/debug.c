/* runtime/debug.c - what debug builds call on a misuse (core.h): a
 * future polled after READY, and the WEFT_DEBUG_CHECK failures. Both print
 * what went wrong and its fix, then abort. Compiled in every build: code
 * built without NDEBUG may link against a release libweft.
 */
#include <stdio.h>
#include <stdlib.h>

#include "weft/core.h"

void weft_debug_poll_after_ready(const char *file, int line)
{
	fprintf(stderr, "weft: %s:%d: future polled after it returned READY "
		"(a finished future must not be polled again: keep a done "
		"flag, or re-initialise it first)\n", file, line);
	abort();
}

void weft_debug_misuse(const char *where, const char *what)
{
	fprintf(stderr, "weft: %s: %s\n", where, what);
	abort();
}
