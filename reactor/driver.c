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
	m->sqes = atomic_load_explicit(&st->sqes, memory_order_relaxed);
	for (unsigned k = 0; k < WEFT_CQE_KINDS; k++)
		m->cqes[k] = atomic_load_explicit(&st->cqes[k],
						  memory_order_relaxed);
	m->timers_fired = atomic_load_explicit(&st->timers_fired,
					       memory_order_relaxed);
	m->timers_live = atomic_load_explicit(&st->timers_live,
					      memory_order_relaxed);
	m->cancellations = atomic_load_explicit(&st->cancels,
						memory_order_relaxed);
	m->pool_fallbacks = atomic_load_explicit(&st->fallbacks,
						 memory_order_relaxed);
	m->pool_exhausted = atomic_load_explicit(&st->pool_exhausted,
						 memory_order_relaxed);
	m->pool_spilled = atomic_load_explicit(&st->pool_spilled,
					       memory_order_relaxed);
	m->pool_buffers = r->pool.br ? r->pool.count : 0;
	m->pool_in_use = weft__pool_in_use(&r->pool);
}

static const struct weft__driver_ops io_ops = {
	.start = io_start,
	.flush = io_flush,
	.stop = io_stop,
	.metrics = io_metrics,
};

const struct weft__driver_ops *weft__io_driver(void)
{
	return &io_ops;
}
