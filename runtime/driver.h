/* runtime/driver.h - the boundary between the runtime and an I/O driver.
 *
 * runtime/ names no driver: it starts, ticks and stops one through the
 * operations it is handed at creation (weft__rt_create; wire/rt.c hands it
 * reactor/'s io_uring driver for weft_rt_create). A driver reaches the
 * runtime only through this header: the inline functions below, which
 * read the runtime's head (struct weft__rt_head, the first member of every
 * weft_rt) and call the host functions the runtime put there before
 * starting the driver. Nothing here is a link-time reference from a
 * driver into runtime/: the driver's view of weft_rt is the head, and
 * weft_rt itself stays opaque to it.
 *
 * Threads: start and stop run on the thread creating / shutting down the
 * runtime; flush runs on worker `worker` (or the block_on thread acting as
 * worker 0 in the current-thread flavour), between polls, never inside
 * one: when the worker's run queue runs dry (before it looks at the
 * injector or other workers), at every fair-interval maintenance (every
 * 61 ticks, so a worker that never runs dry flushes too), before it parks,
 * and before block_on returns; submissions staged by the polls in between
 * reach the kernel in one batch (test/runtime/driver.c checks these).
 *
 * Order (runtime.c, shutdown.c): start runs after the worker slots exist
 * and before any worker thread starts; it fails the creation when it
 * fails (stop is then not called). At shutdown the workers stop; every
 * task is cancelled (drop functions may still submit cancellations to the
 * driver, from the shutting-down thread); then stop() waits for the
 * driver's in-flight operations to end, drops every waker it holds, joins
 * its thread and frees its state. stop is called once.
 */
#ifndef WEFT_RUNTIME_DRIVER_H
#define WEFT_RUNTIME_DRIVER_H

#include <stdbool.h>

#include "weft/metrics.h"
#include "weft/rt.h"

/* Batched wakes from a thread that is not a worker (a driver's): wakers
 * added to a batch are woken by one flush, which takes the injector lock
 * once and unparks at most one sleeping worker. Wakers that are not task
 * wakers of rt are woken directly. Initialise with weft__wake_batch_init;
 * the fields are the runtime's. */
struct weft__wake_batch {
	weft_rt *rt;
	const struct weft__driver_host *host;
	void *head, *tail;   /* tasks made NOTIFIED, not yet queued */
	unsigned n;
};

/* What the runtime offers a driver (runtime.c fills one static table). */
struct weft__driver_host {
	/* index of the calling thread's worker in rt, or -1 when the
	 * calling thread is not one of rt's workers */
	int (*worker_index)(weft_rt *rt);
	void (*wake_batch_add)(struct weft__wake_batch *b, weft_waker *w);
	void (*wake_batch_add_ref)(struct weft__wake_batch *b,
				   const weft_waker *w);
	void (*wake_batch_flush)(struct weft__wake_batch *b);
	/* how many worker threads rt runs (0: the current-thread flavour,
	 * whose one worker slot is block_on's thread) */
	unsigned (*worker_threads)(weft_rt *rt);
	/* the reason a failing start gives (weft_rt_create_error) */
	void (*set_create_error)(weft_rt *rt, const char *msg);
	/* true when nothing of rt can make progress without a wake from the
	 * driver: every worker parked, the injector empty, no block_on
	 * caller running its future, no blocking-pool job queued or running
	 * (the paused clock's auto-advance, reactor/time.c). A snapshot: any
	 * thread, no lock held on return */
	bool (*is_idle)(weft_rt *rt);
};

/* The first member of every weft_rt: what a driver may read of it. */
struct weft__rt_head {
	void *driver;                         /* driver state, NULL = none */
	const struct weft__driver_host *host; /* set before start */
};

/* What the runtime asks of a driver. */
struct weft__driver_ops {
	/* Creates the driver for rt; nworkers is the number of worker slots
	 * (at least 1), io the builder's settings (io->enable is true).
	 * Returns 0 and the driver's state in *state, or -errno (and may
	 * give a reason with weft__rt_set_create_error). */
	int (*start)(weft_rt *rt, const weft_io_opts *io, unsigned nworkers,
		     void **state);
	void (*flush)(void *state, unsigned worker);
	void (*stop)(void *state);
	/* Worker-owned driver state (all optional: NULL = none). On a
	 * worker thread of the multi-thread flavour: worker_start before its
	 * loop, worker_stop after it (before the thread exits; tasks may
	 * still be alive). park: the worker has nothing to run and is
	 * counted parked (idle.c); wait in the driver until it has
	 * completions for the worker, or until unpark(worker) from any
	 * thread; return false if the driver has no wait for it (the worker
	 * then waits on its futex). Spurious returns are allowed: the
	 * worker re-checks its queues. unpark returns false when `worker`
	 * does not wait in the driver (the runtime uses the futex). */
	void (*worker_start)(void *state, unsigned worker);
	void (*worker_stop)(void *state, unsigned worker);
	bool (*park)(void *state, unsigned worker);
	bool (*unpark)(void *state, unsigned worker);
	/* Fills the reactor part of weft_rt_metrics (optional: NULL leaves
	 * it zero). Any thread, between start and stop; must not block the
	 * driver (relaxed loads of counters its thread keeps). */
	void (*metrics)(void *state, weft_reactor_metrics *out);
};

/* For the wiring (wire/): creates a runtime as weft_rt_create does, with
 * io (NULL = none) as its driver when b->io.enable is set; with io NULL
 * and io.enable set it fails with -ENOTSUP. */
int weft__rt_create(weft_rt **out, const weft_rt_builder *b,
		    const weft_obs_opts *obs,
		    const struct weft__driver_ops *io);

/* ------------------------------------------- a driver's view of rt */

static inline const struct weft__rt_head *weft__rt_head(const weft_rt *rt)
{
	return (const struct weft__rt_head *)(const void *)rt;
}

/* The driver state of rt (NULL when rt has no driver). */
static inline void *weft__rt_driver(const weft_rt *rt)
{
	return weft__rt_head(rt)->driver;
}

/* Index of the calling thread's worker in rt, or -1. */
static inline int weft__rt_worker_index(weft_rt *rt)
{
	return weft__rt_head(rt)->host->worker_index(rt);
}

/* Records the reason for a failing start (thread-local to the creating
 * thread, reported by weft_rt_create_error). */
static inline void weft__rt_set_create_error(weft_rt *rt, const char *msg)
{
	weft__rt_head(rt)->host->set_create_error(rt, msg);
}

/* See weft__driver_host.is_idle. */
static inline bool weft__rt_is_idle(weft_rt *rt)
{
	return weft__rt_head(rt)->host->is_idle(rt);
}

static inline void weft__wake_batch_init(struct weft__wake_batch *b,
					 weft_rt *rt)
{
	b->rt = rt;
	b->host = weft__rt_head(rt)->host;
	b->head = b->tail = NULL;
	b->n = 0;
}

/* Wakes *w (consumed; left empty) into the batch. */
static inline void weft__wake_batch_add(struct weft__wake_batch *b,
					weft_waker *w)
{
	b->host->wake_batch_add(b, w);
}

/* Wake by reference into the batch (*w stays owned by the caller). */
static inline void weft__wake_batch_add_ref(struct weft__wake_batch *b,
					    const weft_waker *w)
{
	b->host->wake_batch_add_ref(b, w);
}

/* Queues the batch's tasks and empties it (nothing to do when empty). */
static inline void weft__wake_batch_flush(struct weft__wake_batch *b)
{
	if (b->n)
		b->host->wake_batch_flush(b);
}

#endif /* WEFT_RUNTIME_DRIVER_H */
