/* runtime/driver.h - what the runtime asks of an I/O driver.
 *
 * runtime/ knows nothing of io_uring: it starts, ticks and stops a driver
 * through these operations. reactor/ provides them (weft__io_driver).
 *
 * Threads: start and stop run on the thread creating / shutting down the
 * runtime; flush runs on worker `worker` (or the block_on thread acting as
 * worker 0 in the current-thread flavour) at the end of every scheduler
 * tick and before the worker parks, so submissions staged during the tick
 * reach the kernel in one batch.
 *
 * Shutdown order (runtime.c): workers stop; every task is cancelled (drop
 * functions may still submit cancellations to the driver, from the
 * shutting-down thread); then stop() waits for the driver's in-flight
 * operations to end, drops every waker it holds, joins its thread and frees
 * its state.
 */
#ifndef WEFT_RUNTIME_DRIVER_H
#define WEFT_RUNTIME_DRIVER_H

#include "weft/rt.h"

/* start() flags */
#define WEFT__DRIVER_NORMAL_SCHED 0x1u /* builder io_normal_sched */

struct weft__driver_ops {
	/* Creates the driver for rt; nworkers is the number of worker slots
	 * (at least 1), flags WEFT__DRIVER_*. Returns 0 or -errno, and may
	 * set a reason with weft__rt_set_create_error(). */
	int (*start)(weft_rt *rt, unsigned entries, unsigned nworkers,
		     unsigned flags, void **state);
	void (*flush)(void *state, unsigned worker);
	void (*stop)(void *state);
};

/* Defined in reactor/. */
const struct weft__driver_ops *weft__io_driver(void);

/* The driver state of rt (NULL when io is disabled). */
void *weft__rt_driver(weft_rt *rt);

/* Index of the calling thread's worker in rt, or -1 when the calling
 * thread is not one of rt's workers. */
int weft__rt_worker_index(weft_rt *rt);

/* Batched wakes from a thread that is not a worker (the reactor): wakers
 * added to a batch are woken by one flush, which takes the injector lock
 * once and unparks at most one sleeping worker. Wakers that are not task
 * wakers of rt are woken directly. A zeroed batch is empty. */
struct weft__wake_batch {
	weft_rt *rt;
	void *head, *tail;   /* tasks made NOTIFIED, not yet queued */
	unsigned n;
};

void weft__wake_batch_init(struct weft__wake_batch *b, weft_rt *rt);
/* Wakes *w (consumed; left empty) into the batch. */
void weft__wake_batch_add(struct weft__wake_batch *b, weft_waker *w);
/* Wake by reference into the batch (*w stays owned by the caller). */
void weft__wake_batch_add_ref(struct weft__wake_batch *b, const weft_waker *w);
void weft__wake_batch_flush(struct weft__wake_batch *b);

/* Records the reason for a failing weft_rt_create (thread-local). */
void weft__rt_set_create_error(const char *fmt, ...);

#endif /* WEFT_RUNTIME_DRIVER_H */
