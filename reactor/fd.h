/* reactor/fd.h - counted file descriptor objects.
 *
 * Every socket and file handed to users (weft_stream, weft_listener,
 * weft_udp, weft_file) is one struct weft__fd. The user's handle holds one
 * reference and every operation record on the fd holds one more, so the
 * descriptor is closed only when the user has closed it and no operation
 * that names it is still in the kernel ("no fd closed under an in-flight
 * op"). The last reference closes the fd, on whatever thread drops it.
 */
#ifndef WEFT_REACTOR_FD_H
#define WEFT_REACTOR_FD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft__op;

struct weft__fd {
	atomic_uint refs;
	int fd;
	int domain;                 /* AF_INET, AF_INET6, AF_UNIX, 0 (file) */
	/* listeners: the accept record, owned by the handle (NULL until the
	 * first accept). Touched only by the thread using the listener. */
	struct weft__op *acc;
	/* streams: the receive record (RECVQ), owned by the handle (NULL
	 * until the first multishot receive); installed by CAS */
	_Atomic(struct weft__op *) rx;
	uint64_t backoff_until;     /* listeners: no re-arm before (ns) */
	uint32_t backoff_ms;        /* listeners: next back-off step */
	bool dropped;               /* debug builds: the user's handle was
	                             * dropped (owner thread only) */
};

/* Wraps fd (taking ownership). NULL on ENOMEM, fd then closed. */
struct weft__fd *weft__fd_new(int fd, int domain);
/* The same, but on ENOMEM fd is left open (the caller's still: the
 * _from_fd functions). */
struct weft__fd *weft__fd_wrap(int fd, int domain);
struct weft__fd *weft__fd_get(struct weft__fd *f);
void weft__fd_put(struct weft__fd *f);
/* Debug builds: records that the user's handle is being released, and
 * aborts (naming `where`) if it already was while weft still holds the
 * object. The caller then releases the handle's reference. */
void weft__fd_mark_dropped(struct weft__fd *f, const char *where);

#endif /* WEFT_REACTOR_FD_H */
