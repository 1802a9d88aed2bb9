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

static const struct weft__driver_ops io_ops = {
	.start = io_start,
	.flush = io_flush,
	.stop = io_stop,
};

const struct weft__driver_ops *weft__io_driver(void)
{
	return &io_ops;
}
