/* reactor/driver.c - placeholder I/O driver: does nothing. Replaced by the
 * io_uring reactor. */
#include <errno.h>
#include <stddef.h>

#include "runtime/driver.h"

static int noop_start(weft_rt *rt, unsigned entries, unsigned nworkers,
		      void **state)
{
	(void)rt; (void)entries; (void)nworkers;
	*state = NULL;
	return 0;
}

static void noop_flush(void *state, unsigned worker)
{
	(void)state; (void)worker;
}

static void noop_stop(void *state)
{
	(void)state;
}

static const struct weft__driver_ops noop_ops = {
	.start = noop_start,
	.flush = noop_flush,
	.stop = noop_stop,
};

const struct weft__driver_ops *weft__io_driver(void)
{
	return &noop_ops;
}
