/* test/runtime/blocking.c - the blocking pool: weft_spawn_blocking's
 * result through a join; its argument's release function run exactly
 * once (after fn; instead of fn for a job aborted, or shut down, while
 * queued; never when spawn_blocking fails); abort while fn runs lets it
 * finish and discards the result, also when the task waiting for it is
 * aborted and freed meanwhile (ASan: nothing writes into freed memory);
 * errors, including the pool's own -ENOMEM (allocator hook), are
 * spawn_blocking's return value, never a task output.
 */
#include "test/runtime/harness.h"
#include "runtime/internal.h"

static intptr_t square_fn(void *arg)
{
	intptr_t x = (intptr_t)arg;

	return x * x;
}

/* An argument the pool owns: fn notes that it ran, release notes whether
 * fn had run before it, counts itself and frees the argument. */
struct owned {
	atomic_int *fn_runs;
	atomic_int *releases;
	atomic_int *released_before_fn;
	struct hold *hold;      /* fn waits on it when set */
	intptr_t v;
	bool fn_ran;
};

struct hold {
	atomic_int release;
	atomic_int inside;
};

static intptr_t owned_fn(void *arg)
{
	struct owned *o = arg;

	if (o->hold) {
		atomic_fetch_add(&o->hold->inside, 1);
		WAIT_UNTIL(atomic_load(&o->hold->release));
	}
	o->fn_ran = true;
	atomic_fetch_add(o->fn_runs, 1);
	return o->v;
}

static void owned_release(void *arg)
{
	struct owned *o = arg;

	if (!o->fn_ran)
		atomic_fetch_add(o->released_before_fn, 1);
	atomic_fetch_add(o->releases, 1);
	free(o);
}

struct counts {
	atomic_int fn_runs, releases, skipped;
};

static struct owned *owned_new(struct counts *c, intptr_t v, struct hold *h)
{
	struct owned *o = calloc(1, sizeof(*o));

	cr_assert_not_null(o);
	o->fn_runs = &c->fn_runs;
	o->releases = &c->releases;
	o->released_before_fn = &c->skipped;
	o->hold = h;
	o->v = v;
	return o;
}

static void result_case(weft_rt *rt)
{
	struct counts c = { 0 };
	weft_join *j[16];

	for (intptr_t i = 0; i < 16; i++)
		cr_assert_eq(weft_spawn_blocking(rt, square_fn, (void *)i, NULL,
						 &j[i]),
			     0);
	for (intptr_t i = 0; i < 16; i++) {
		cr_assert_eq(join_on(rt, j[i]), i * i);
		weft_join_drop(j[i]);
	}
	/* with a release function: it runs once, after fn */
	for (intptr_t i = 0; i < 16; i++)
		cr_assert_eq(weft_spawn_blocking(rt, owned_fn,
						 owned_new(&c, 3 * i, NULL),
						 owned_release, &j[i]),
			     0);
	for (intptr_t i = 0; i < 16; i++) {
		cr_assert_eq(join_on(rt, j[i]), 3 * i);
		weft_join_drop(j[i]);
	}
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&c.fn_runs), 16);
	cr_assert_eq(atomic_load(&c.releases), 16);
	cr_assert_eq(atomic_load(&c.skipped), 0, "release ran before fn");
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

Test(blocking, detached_job_still_runs_and_releases_once,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct counts c = { 0 };

	for (int i = 0; i < 8; i++)
		cr_assert_eq(weft_spawn_blocking(rt, owned_fn,
						 owned_new(&c, i, NULL),
						 owned_release, NULL),
			     0);
	cr_assert(WAIT_UNTIL(atomic_load(&c.releases) == 8));
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&c.fn_runs), 8);
	cr_assert_eq(atomic_load(&c.releases), 8);
	cr_assert_eq(atomic_load(&c.skipped), 0);
	rt_leak_check();
}

Test(blocking, errors_take_nothing)
{
	weft_rt *rt = rt_multi(1);
	struct counts c = { 0 };
	struct owned *o = owned_new(&c, 1, NULL);
	weft_join *j = (weft_join *)(uintptr_t)1;

	cr_assert_eq(weft_spawn_blocking(rt, NULL, o, owned_release, &j),
		     -EINVAL);
	cr_assert_null(j);
	cr_assert_eq(weft_spawn_blocking(NULL, owned_fn, o, owned_release, &j),
		     -EINVAL);
	weft_rt_shutdown(rt);
	j = (weft_join *)(uintptr_t)1;
	cr_assert_eq(weft_spawn_blocking(rt, owned_fn, o, owned_release, &j),
		     -ESHUTDOWN);
	cr_assert_null(j);
	weft_rt_destroy(rt);
	/* refused: the caller still owns the argument */
	cr_assert_eq(atomic_load(&c.releases), 0);
	cr_assert_eq(atomic_load(&c.fn_runs), 0);
	owned_release(o);
	rt_leak_check();
}

/* The pool's allocations (its job record, then the task) failing: -ENOMEM
 * from spawn_blocking itself, nothing run, nothing released, nothing
 * left allocated. */
static void enomem_case(long fail_at)
{
	calloc_hook h = { .fail_at = fail_at };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	struct counts c = { 0 };
	struct owned *o = owned_new(&c, 5, NULL);
	weft_join *j = (weft_join *)(uintptr_t)1;

	cr_assert_eq(weft_spawn_blocking(rt, owned_fn, o, owned_release, &j),
		     -ENOMEM, "allocation %ld failing", fail_at);
	cr_assert_null(j, "no task exists whose output could be -ENOMEM");
	cr_assert_eq(atomic_load(&h.calls), fail_at);
	cr_assert_eq(atomic_load(&h.live), 0);
	/* the next one (no failure left) works */
	cr_assert_eq(weft_spawn_blocking(rt, owned_fn, o, owned_release, &j),
		     0);
	cr_assert_eq(join_on(rt, j), 5);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&c.fn_runs), 1);
	cr_assert_eq(atomic_load(&c.releases), 1);
	cr_assert_eq(atomic_load(&h.live), 0);
	cr_assert_eq(atomic_load(&h.live_bytes), 0);
	rt_leak_check();
}

Test(blocking, job_allocation_failure_is_enomem_from_spawn_blocking,
     .timeout = RT_TIMEOUT)
{
	enomem_case(1);
}

Test(blocking, task_allocation_failure_is_enomem_from_spawn_blocking,
     .timeout = RT_TIMEOUT)
{
	enomem_case(2);
}

/* Aborted before the task's first poll (current-thread: nothing polls it
 * before block_on): the join reports -ECANCELED whether or not a pool
 * thread already ran fn, and the argument is released exactly once. */
Test(blocking, abort_before_the_first_poll_cancels, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	struct counts c = { 0 };
	weft_join *j;

	cr_assert_eq(weft_spawn_blocking(rt, owned_fn, owned_new(&c, 1, NULL),
					 owned_release, &j),
		     0);
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j), -ECANCELED);
	weft_join_drop(j);
	weft_rt_destroy(rt);  /* waits for the pool */
	cr_assert_leq(atomic_load(&c.fn_runs), 1);
	cr_assert_eq(atomic_load(&c.releases), 1);
	rt_leak_check();
}

/* Fills the pool (64 threads) with functions that wait on a flag, so the
 * next job stays queued; aborting its task then must skip fn and release
 * the argument instead. */
Test(blocking, abort_while_queued_in_the_pool_releases_instead_of_fn,
     .timeout = RT_TIMEOUT)
{
	enum { POOL = 64 };
	weft_rt *rt = rt_multi(2);
	struct hold h = { 0 };
	struct counts busyc = { 0 }, c = { 0 };
	weft_join *busy[POOL], *j;

	for (int i = 0; i < POOL; i++)
		cr_assert_eq(weft_spawn_blocking(rt, owned_fn,
						 owned_new(&busyc, 2, &h),
						 owned_release, &busy[i]),
			     0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == POOL));
	/* no pool thread is free: this job waits in the queue */
	cr_assert_eq(weft_spawn_blocking(rt, owned_fn, owned_new(&c, 1, NULL),
					 owned_release, &j),
		     0);
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j), -ECANCELED);
	atomic_store(&h.release, 1);
	for (int i = 0; i < POOL; i++) {
		cr_assert_eq(join_on(rt, busy[i]), 2);
		weft_join_drop(busy[i]);
	}
	weft_join_drop(j);
	weft_rt_shutdown(rt);  /* waits for the pool: the job was handled */
	cr_assert_eq(atomic_load(&c.fn_runs), 0, "aborted job ran");
	cr_assert_eq(atomic_load(&c.releases), 1);
	cr_assert_eq(atomic_load(&c.skipped), 1, "released instead of fn");
	cr_assert_eq(atomic_load(&busyc.fn_runs), POOL);
	cr_assert_eq(atomic_load(&busyc.releases), POOL);
	weft_rt_destroy(rt);
	rt_leak_check();
}

Test(blocking, abort_while_running_discards_result, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct hold h = { 0 };
	struct counts c = { 0 };
	weft_join *j;

	cr_assert_eq(weft_spawn_blocking(rt, owned_fn, owned_new(&c, 7, &h),
					 owned_release, &j),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == 1));
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j), -ECANCELED, "the result is discarded");
	weft_join_drop(j);
	atomic_store(&h.release, 1);
	cr_assert(WAIT_UNTIL(atomic_load(&c.releases) == 1));
	weft_rt_destroy(rt);  /* waits for the function to return */
	cr_assert_eq(atomic_load(&c.fn_runs), 1);
	cr_assert_eq(atomic_load(&c.skipped), 0, "released after fn");
	rt_leak_check();
}

/* A task waiting for a blocking job is aborted while fn runs: its frame
 * (holding the job's handle and wait) is dropped and freed before fn
 * returns. fn's return then writes only the pool's own record; under ASan
 * a write into the freed frame would fail the test. */
struct waiter {
	WEFT_ASYNC;
	struct counts *c;
	struct hold *h;
	weft_join *job;
	weft_join_wait w;
	atomic_int *dropped;
};

static weft_poll waiter_poll(struct waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_spawn_blocking(weft_rt_current(), owned_fn,
				owned_new(f->c, 9, f->h), owned_release,
				&f->job))
		WEFT_RETURN(-1);
	WEFT_AWAIT_INIT(weft_join_wait, &f->w, f->job);
	WEFT_RETURN(f->w.res);
	WEFT_END();
}

static void waiter_drop(struct waiter *f)
{
	weft_join_wait_drop(&f->w);
	if (f->job) {
		weft_join_abort(f->job);
		weft_join_drop(f->job);
	}
	atomic_fetch_add(f->dropped, 1);
}
WEFT_FUTURE(waiter, struct waiter, waiter_drop);

Test(blocking, aborted_waiter_is_never_written_to, .timeout = RT_TIMEOUT)
{
	calloc_hook ah = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &ah };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	struct hold h = { 0 };
	struct counts c = { 0 };
	atomic_int dropped = 0;
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, waiter, &j,
				{ .c = &c, .h = &h, .dropped = &dropped }),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == 1));
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j), -ECANCELED);
	weft_join_drop(j);
	cr_assert_eq(atomic_load(&dropped), 1);
	/* the waiter and the blocking task are gone; their memory (from the
	 * hook) is freed while fn still runs: only the job record is left */
	cr_assert(WAIT_UNTIL(atomic_load(&ah.live) == 1),
		  "%ld allocations live", atomic_load(&ah.live));
	atomic_store(&h.release, 1);
	cr_assert(WAIT_UNTIL(atomic_load(&c.releases) == 1));
	cr_assert(WAIT_UNTIL(atomic_load(&ah.live) == 0));
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&c.fn_runs), 1);
	cr_assert_eq(atomic_load(&c.skipped), 0);
	rt_leak_check();
}

Test(blocking, shutdown_with_running_and_queued_jobs, .timeout = RT_TIMEOUT)
{
	enum { N = 70 };
	weft_rt *rt = rt_multi(2);
	struct hold h = { 0 };
	struct counts c = { 0 };
	weft_join *j[N];

	for (int i = 0; i < N; i++)
		cr_assert_eq(weft_spawn_blocking(rt, owned_fn,
						 owned_new(&c, 4, &h),
						 owned_release, &j[i]),
			     0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.inside) == 64));
	atomic_store(&h.release, 1);
	weft_rt_shutdown(rt);
	/* every argument released exactly once: after fn, or (queued when
	 * the pool shut down) instead of it */
	cr_assert_eq(atomic_load(&c.releases), N);
	cr_assert_eq(atomic_load(&c.fn_runs) + atomic_load(&c.skipped), N);
	cr_assert_geq(atomic_load(&c.fn_runs), 64);
	for (int i = 0; i < N; i++) {
		intptr_t res = join_now(j[i]);

		cr_assert(res == 4 || res == -ECANCELED, "res %ld", (long)res);
		weft_join_drop(j[i]);
	}
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&c.releases), N);
	rt_leak_check();
}
