/* test/runtime/blocking.c - the blocking pool: weft_spawn_blocking's
 * result through a join, abort before the function starts skips it,
 * abort while it runs lets it finish and discards the result, errors.
 */
#include "test/runtime/harness.h"
#include "runtime/internal.h"

static intptr_t square_fn(void *arg)
{
	intptr_t x = (intptr_t)arg;

	return x * x;
}

static void result_case(weft_rt *rt)
{
	weft_join *j[16];

	for (intptr_t i = 0; i < 16; i++)
		cr_assert_eq(weft_spawn_blocking(rt, square_fn, (void *)i, &j[i]),
			     0);
	for (intptr_t i = 0; i < 16; i++) {
		intptr_t out = -1;

		cr_assert_eq(join_on(rt, j[i], &out), 0);
		cr_assert_eq(out, i * i);
		weft_join_drop(j[i]);
	}
	weft_rt_destroy(rt);
	rt_leak_check();
}

Test(blocking, result_arrives_through_join_multi_thread, .timeout = RT_TIMEOUT)
{
	result_case(rt_multi(2));
}

Test(blocking, result_arrives_through_join_current_thread,
     .timeout = RT_TIMEOUT)
{
	result_case(rt_current());
}

Test(blocking, errors)
{
	weft_rt *rt = rt_multi(1);
	weft_join *j = (weft_join *)(uintptr_t)1;

	cr_assert_eq(weft_spawn_blocking(rt, NULL, NULL, &j), -EINVAL);
	cr_assert_null(j);
	cr_assert_eq(weft_spawn_blocking(NULL, square_fn, NULL, &j), -EINVAL);
	weft_rt_shutdown(rt);
	cr_assert_eq(weft_spawn_blocking(rt, square_fn, NULL, &j), -ESHUTDOWN);
	weft_rt_destroy(rt);
}

static atomic_int ran;

static intptr_t count_fn(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return 1;
}

Test(blocking, abort_before_first_poll_skips_fn, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	weft_join *j;

	cr_assert_eq(weft_spawn_blocking(rt, count_fn, NULL, &j), 0);
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j, NULL), -ECANCELED);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&ran), 0);
	rt_leak_check();
}

/* Fills the pool (64 threads) with functions that wait on a flag, so the
 * next job stays queued; aborting its task then must skip it. */
struct hold {
	atomic_int release;
	atomic_int inside;
};

static intptr_t hold_fn(void *arg)
{
	struct hold *h = arg;

	atomic_fetch_add(&h->inside, 1);
	WAIT_UNTIL(atomic_load(&h->release));
	return 2;
}

static bool parked_after_first_poll(weft_join *j)
{
	uint64_t s = atomic_load(&weft__join_task(j)->state);

	return !(s & (WEFT__RUNNING | WEFT__NOTIFIED | WEFT__COMPLETE));
}

Test(blocking, abort_while_queued_in_the_pool_skips_fn, .timeout = RT_TIMEOUT)
{
	enum { POOL = 64 };
	weft_rt *rt = rt_multi(2);
	struct hold h = { 0 };
	weft_join *busy[POOL], *j;

	for (int i = 0; i < POOL; i++)
		cr_assert_eq(weft_spawn_blocking(rt, hold_fn, &h, &busy[i]), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == POOL));
	cr_assert_eq(weft_spawn_blocking(rt, count_fn, NULL, &j), 0);
	/* its first poll queued the job (no pool thread is free) */
	cr_assert(WAIT_UNTIL(parked_after_first_poll(j)));
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j, NULL), -ECANCELED);
	atomic_store(&h.release, 1);
	for (int i = 0; i < POOL; i++) {
		intptr_t out = 0;

		cr_assert_eq(join_on(rt, busy[i], &out), 0);
		cr_assert_eq(out, 2);
		weft_join_drop(busy[i]);
	}
	weft_join_drop(j);
	weft_rt_shutdown(rt);  /* waits for the pool: the job was handled */
	cr_assert_eq(atomic_load(&ran), 0, "aborted job ran");
	weft_rt_destroy(rt);
	rt_leak_check();
}

Test(blocking, abort_while_running_discards_result, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct hold h = { 0 };
	weft_join *j;

	cr_assert_eq(weft_spawn_blocking(rt, hold_fn, &h, &j), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == 1));
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j, NULL), -ECANCELED);
	atomic_store(&h.release, 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);  /* waits for the function to return */
	rt_leak_check();
}

Test(blocking, shutdown_with_running_and_queued_jobs, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct hold h = { 0 };
	weft_join *j[70];

	for (int i = 0; i < 70; i++)
		cr_assert_eq(weft_spawn_blocking(rt, hold_fn, &h, &j[i]), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == 64));
	atomic_store(&h.release, 1);
	weft_rt_shutdown(rt);
	cr_assert_leq(atomic_load(&h.inside), 70);
	for (int i = 0; i < 70; i++) {
		tcx k;
		int err = 1;

		cr_assert_eq(weft_join_poll(j[i], tcx_init(&k), &err, NULL),
			     WEFT_READY);
		cr_assert(err == 0 || err == -ECANCELED);
		weft_join_drop(j[i]);
	}
	weft_rt_destroy(rt);
	rt_leak_check();
}
