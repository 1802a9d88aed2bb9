/* wire/rt.c - weft_rt_create: the runtime with the io_uring reactor as its
 * I/O driver.
 *
 * The one place that names both runtime/ and reactor/. runtime/ knows
 * drivers only as the operations it is handed (runtime/driver.h), and the
 * reactor knows the runtime only through that header's host functions;
 * neither directory refers to the other, so the link order between them
 * has no cycle and a runtime can be built with another driver (the tests'
 * fake one, test/runtime/driver.c) or none.
 */
#include "reactor/driver.h"
#include "runtime/driver.h"

int weft_rt_create(weft_rt **out, const weft_rt_builder *b)
{
	return weft__rt_create(out, b, NULL, weft__io_driver());
}

int weft_rt_create_with(weft_rt **out, const weft_rt_builder *b,
			const weft_obs_opts *obs)
{
	return weft__rt_create(out, b, obs, weft__io_driver());
}
