/* reactor/fd.c - counted file descriptors (see fd.h).
 *
 * Pairs: weft__fd_put's acq_rel decrement -> the final put's fence: the
 * thread closing the fd sees every use other threads made of it before
 * their puts. weft__fd_get is relaxed: the caller already holds a
 * reference, so the object cannot go away under it.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft/core.h"
#include "reactor/fd.h"

struct weft__fd *weft__fd_wrap(int fd, int domain)
{
	struct weft__fd *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->fd = fd;
	f->domain = domain;
	return f;
}

struct weft__fd *weft__fd_new(int fd, int domain)
{
	struct weft__fd *f = weft__fd_wrap(fd, domain);

	if (!f)
		close(fd);
	return f;
}

struct weft__fd *weft__fd_get(struct weft__fd *f)
{
	/* relaxed: the caller owns a reference already (see file comment) */
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	return f;
}

void weft__fd_put(struct weft__fd *f)
{
	if (!f)
		return;
	/* acq_rel: releases our uses of the fd; the last put acquires all
	 * the others' before closing it (pairs with itself on other threads) */
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	close(f->fd);
	free(f);
}

void weft__fd_mark_dropped(struct weft__fd *f, const char *where)
{
#ifndef NDEBUG
	WEFT_DEBUG_CHECK(!f->dropped, where,
			 "the handle was already dropped (a second drop would "
			 "close a descriptor still in use); drop each handle "
			 "once");
	f->dropped = true;
#else
	(void)f;
	(void)where;
#endif
}
