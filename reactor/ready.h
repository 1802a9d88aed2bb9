/* reactor/ready.h - private: readiness waits on descriptors weft owns
 * (signal streams, child processes). See weft/fd.h. */
#ifndef WEFT_REACTOR_READY_H
#define WEFT_REACTOR_READY_H

#include "weft/fd.h"

struct weft__fd;

/* weft_fd_ready_init on a counted descriptor: the wait's record holds a
 * reference to obj, so the descriptor is not closed while the kernel
 * polls it, whoever drops obj's other references first. */
void weft__fd_ready_init_obj(weft_fd_ready *f, struct weft__fd *obj,
			     unsigned events);

/* Test hook (watch.c): how many POLL_ADDs w's record has armed (0 before
 * its first wait). One while a multishot lives; one per re-arm. */
unsigned weft__fd_watch_test_arms(weft_fd_watch *w);

#endif /* WEFT_REACTOR_READY_H */
