/* runtime/alloc.c - where task frames come from.
 *
 * jemalloc when built with allocator=jemalloc: malloc (its fast path is
 * shorter than mallocx's: callgrind, 31 against 93 instructions per call in
 * the spawn loop) and sized sdallocx (no size lookup on free), both served
 * from per-thread caches. The system allocator
 * otherwise, or the builder's allocator hook when one is set (tests use it
 * to inject allocation failures). Any thread may call these.
 */
#include <stdlib.h>

#include "runtime/internal.h"

#ifdef WEFT_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

void *weft__malloc(size_t size)
{
#ifdef WEFT_USE_JEMALLOC
	return malloc(size);
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
	return weft__malloc(size);
}

void weft__free(weft_rt *rt, void *p, size_t size)
{
	if (rt->has_alloc)
		rt->alloc.free(p, size, rt->alloc.ctx);
	else
		weft__mfree(p, size);
}
