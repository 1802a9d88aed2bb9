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
 *
 * Giving memory back (weft__alloc_tune, at each runtime's creation):
 * jemalloc purges unused dirty pages only as a side effect of allocating
 * unless its background thread runs, so an idle server kept the peak RSS
 * of a burst (issue 15: 123 MB for 25 s and more after 20 000
 * connections). weft turns jemalloc's background thread on and sets the
 * dirty decay to WEFT__DIRTY_DECAY_MS, for the arenas that exist and as the
 * default for new ones, each of them only while jemalloc still has its
 * default (so a second runtime changes nothing, and neither does one
 * created after the program set its own) and the user did not name it in
 * MALLOC_CONF or the program's malloc_conf: those win (e.g.
 * MALLOC_CONF=background_thread:false keeps the thread off). The state is
 * jemalloc's own; weft keeps none.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

#ifdef WEFT_USE_JEMALLOC
/* Whether the user's jemalloc configuration names opt. */
static bool conf_names(const char *opt)
{
	const char *env = getenv("MALLOC_CONF");
	const char **prog = dlsym(RTLD_DEFAULT, "malloc_conf");
	const char *built = NULL;
	size_t len = sizeof(built);

	if (env && strstr(env, opt))
		return true;
	if (prog && *prog && strstr(*prog, opt))
		return true;
	return mallctl("config.malloc_conf", &built, &len, NULL, 0) == 0 &&
	       built && strstr(built, opt);
}

/* jemalloc's dirty decay default (opt.dirty_decay_ms). */
#define JE_DIRTY_DEFAULT_MS 10000
#endif

void weft__alloc_tune(void)
{
#ifdef WEFT_USE_JEMALLOC
	bool on = true, cur = false;
	ssize_t ms = WEFT__DIRTY_DECAY_MS, now = 0;
	size_t blen = sizeof(cur), slen = sizeof(now), ulen = sizeof(unsigned);
	unsigned narenas = 0;
	char name[64];

	if (!conf_names("background_thread") &&
	    mallctl("background_thread", &cur, &blen, NULL, 0) == 0 && !cur)
		(void)mallctl("background_thread", NULL, NULL, &on, sizeof(on));
	if (conf_names("dirty_decay_ms") ||
	    mallctl("arenas.dirty_decay_ms", &now, &slen, NULL, 0) != 0 ||
	    now != JE_DIRTY_DEFAULT_MS)
		return;
	(void)mallctl("arenas.dirty_decay_ms", NULL, NULL, &ms, sizeof(ms));
	if (mallctl("arenas.narenas", &narenas, &ulen, NULL, 0) != 0)
		return;
	for (unsigned i = 0; i < narenas; i++) {
		/* EFAULT for an arena not initialized yet: it will take the
		 * new default */
		snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
		(void)mallctl(name, NULL, NULL, &ms, sizeof(ms));
	}
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
