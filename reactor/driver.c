/* reactor/driver.c - the io_uring reactor as the runtime's I/O driver
 * (runtime/driver.h): start creates the reactor thread and its ring from
 * the builder's io settings, flush hands a worker's staged submissions to
 * it, stop drains and joins it. */
#include "reactor/driver.h"
#include "reactor/reactor.h"

static int io_start(weft_rt *rt, const weft_io_opts *io, unsigned nworkers,
		    void **state)
{
	struct weft__reactor *r = NULL;
	int ret = weft__reactor_start(rt, io->entries, nworkers,
				      !io->normal_sched, &r);

	*state = r;
	return ret;
}

static void io_flush(void *state, unsigned worker)
{
	weft__reactor_flush(state, worker);
	weft__wring_flush(state, worker);
}

static void io_worker_start(void *state, unsigned worker)
{
	weft__wring_start(state, worker);
}

static void io_worker_stop(void *state, unsigned worker)
{
	weft__wring_stop(state, worker);
}

static bool io_park(void *state, unsigned worker)
{
	return weft__wring_park(state, worker);
}

static bool io_unpark(void *state, unsigned worker)
{
	return weft__wring_unpark(state, worker);
}

static void io_stop(void *state)
{
	weft__reactor_stop(state);
}

/* Any thread, while the reactor runs: relaxed loads of its counters. */
static void io_metrics(void *state, weft_reactor_metrics *m)
{
	struct weft__reactor *r = state;
	struct weft__rstats *st = &r->stats;

	m->passes = atomic_load_explicit(&st->passes, memory_order_relaxed);
	/* SQEs, CQEs and cancels of every ring: the reactor's and the
	 * workers' (passes are the reactor thread's own) */
	m->sqes = 0;
	for (unsigned k = 0; k < WEFT_CQE_KINDS; k++)
		m->cqes[k] = 0;
	m->cancellations = 0;
	for (unsigned w = 0; w <= r->nworkers; w++) {
		struct weft__rstats *s = w ? &r->wr[w - 1].stats : st;

		m->sqes += atomic_load_explicit(&s->sqes, memory_order_relaxed);
		for (unsigned k = 0; k < WEFT_CQE_KINDS; k++)
			m->cqes[k] += atomic_load_explicit(
				&s->cqes[k], memory_order_relaxed);
		m->cancellations += atomic_load_explicit(
			&s->cancels, memory_order_relaxed);
	}
	m->timers_fired = atomic_load_explicit(&st->timers_fired,
					       memory_order_relaxed);
	m->timers_live = atomic_load_explicit(&st->timers_live,
					      memory_order_relaxed);
	m->pool_fallbacks = atomic_load_explicit(&st->fallbacks,
						 memory_order_relaxed);
	m->pool_exhausted = 0;
	m->pool_spilled = 0;
	m->pool_buffers = r->pool.br ? r->pool.count : 0;
	m->pool_in_use = weft__pool_in_use(&r->pool);
	/* the pool counters of every ring (a stream's chunks come from the
	 * pool of the ring its receive is armed on) */
	for (unsigned w = 0; w <= r->nworkers; w++) {
		struct weft__rstats *s = w ? &r->wr[w - 1].stats : st;

		m->pool_exhausted += atomic_load_explicit(
			&s->pool_exhausted, memory_order_relaxed);
		m->pool_spilled += atomic_load_explicit(&s->pool_spilled,
							memory_order_relaxed);
	}
	/* acquire: a worker ring's pool is set up before its live store */
	for (unsigned w = 0; w < r->nworkers; w++)
		if (atomic_load_explicit(&r->wr[w].live, memory_order_acquire) &&
		    r->wr[w].q.pool) {
			m->pool_buffers += r->wr[w].pool.count;
			m->pool_in_use += weft__pool_in_use(&r->wr[w].pool);
		}
}

static const struct weft__driver_ops io_ops = {
	.start = io_start,
	.flush = io_flush,
	.stop = io_stop,
	.worker_start = io_worker_start,
	.worker_stop = io_worker_stop,
	.park = io_park,
	.unpark = io_unpark,
	.metrics = io_metrics,
};

const struct weft__driver_ops *weft__io_driver(void)
{
	return &io_ops;
}
