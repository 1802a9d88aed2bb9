/* runtime/alloc.c - where task frames come from.
 *
 * jemalloc when built with allocator=jemalloc, through its sized calls:
 * frames are freed with sdallocx (no size lookup). They are allocated with
 * malloc when malloc is jemalloc's in this process (its fast path is
 * shorter: callgrind, 31 against 93 instructions per call in the spawn
 * loop), and with mallocx otherwise: when the program links glibc before
 * jemalloc (libweft.so pulls jemalloc in as a dependency), `malloc` is
 * glibc's and only the jemalloc-specific symbols reach jemalloc. Which one
 * applies is decided once per runtime (weft__alloc_probe). The system
 * allocator is used with allocator=system, and the builder's allocator
 * hook when one is set (tests use it to inject allocation failures). Any
 * thread may call these.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "runtime/internal.h"

#ifdef WEFT_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

bool weft__alloc_probe(void)
{
#ifdef WEFT_USE_JEMALLOC
	Dl_info a, b;

	if (!dladdr((void *)&malloc, &a) || !dladdr((void *)&mallocx, &b))
		return false;
	return a.dli_fbase == b.dli_fbase;
#else
	return false;
#endif
}

void *weft__malloc(size_t size)
{
#ifdef WEFT_USE_JEMALLOC
	return mallocx(size, 0);
#else
	return malloc(size);
#endif
}

void weft__mfree(void *p, size_t size)
{
#ifdef WEFT_USE_JEMALLOC
	sdallocx(p, size, 0);
#else
	(void)size;
	free(p);
#endif
}

void *weft__alloc(weft_rt *rt, size_t size)
{
	if (rt->has_alloc)
		return rt->alloc.alloc(size, rt->alloc.ctx);
#ifdef WEFT_USE_JEMALLOC
	if (rt->malloc_is_jemalloc)
		return malloc(size);
#endif
	return weft__malloc(size);
}

void weft__free(weft_rt *rt, void *p, size_t size)
{
	if (rt->has_alloc)
		rt->alloc.free(p, size, rt->alloc.ctx);
	else
		weft__mfree(p, size);
}
