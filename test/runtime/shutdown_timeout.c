/* test/runtime/shutdown_timeout.c - bounded, background and awaited
 * shutdown: weft_rt_shutdown_timeout returns with a blocking job still
 * running (detached, counted, its release run after it returns, its
 * record freed through the allocator after the runtime was destroyed),
 * even one that never returns; a task shuts its own runtime down in the
 * background (and is cancelled by it); a task of another runtime awaits
 * weft_rt_shutdown_wait; a second shutdown waits for the first; the
 * long-poll detector and due timers firing while a shutdown waits for a
 * poll. Deadlines here are hang guards or a bound the test waits out,
 * never a speed asserted. */
#include <fcntl.h>
#include <unistd.h>

#include "test/runtime/harness.h"
#include "weft/time.h"

struct nop {
	WEFT_ASYNC;
};

static weft_poll nop_poll(struct nop *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_END();
}

WEFT_FUTURE(nop, struct nop, WEFT_NO_DROP);

/* --------------------------------------------------- blocking jobs */

struct held {
	atomic_int started;   /* fn has begun */
	atomic_int go;        /* fn may return */
	atomic_int released;  /* release ran */
};

static intptr_t held_fn(void *arg)
{
	struct held *h = arg;

	atomic_store(&h->started, 1);
	while (!atomic_load(&h->go))
		usleep(200);
	return 5;
}

static void held_release(void *arg)
{
	struct held *h = arg;

	atomic_store(&h->released, 1);
}

Test(shutdown_timeout, a_running_job_is_detached_and_freed_when_it_returns,
     .timeout = RT_TIMEOUT)
{
	calloc_hook hk = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &hk };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	struct held h = { 0 };
	weft_join *j;

	cr_assert_eq(weft_spawn_blocking(rt, held_fn, &h, held_release, &j), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.started)));
	/* the job cannot return before go: the bound must pass */
	cr_assert_eq(weft_rt_shutdown_timeout(rt, 20 * 1000 * 1000), 1);
	cr_assert(weft_rt_is_shut_down(rt));
	cr_assert_eq(join_now(j), -ECANCELED);
	weft_join_drop(j);
	cr_assert_eq(atomic_load(&h.released), 0, "released under its fn");
	weft_rt_destroy(rt);
	/* the runtime is gone; the job runs on and frees its record */
	cr_assert_eq(atomic_load(&hk.live), 1, "%ld records live",
		     atomic_load(&hk.live));
	atomic_store(&h.go, 1);
	cr_assert(WAIT_UNTIL(atomic_load(&h.released)));
	cr_assert(WAIT_UNTIL(atomic_load(&hk.live) == 0));
	/* the pool record: freed by its thread, or still reachable from it */
	rt_leak_check();
}

/* A job blocked for good (reading a pipe nobody writes): the shutdown
 * still returns, and so does destroy. What the job holds (its thread,
 * its record, the pool record) stays: the documented leak, reachable
 * from the blocked thread. */
static intptr_t stuck_fn(void *arg)
{
	int *fds = arg;
	char c;

	atomic_store((atomic_int *)&fds[2], 1);
	return read(fds[0], &c, 1);
}

Test(shutdown_timeout, a_job_that_never_returns_does_not_hold_shutdown,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(1);
	static int fds[3];
	weft_join *j;

	cr_assert_eq(pipe(fds), 0);
	fds[2] = 0;
	cr_assert_eq(weft_spawn_blocking(rt, stuck_fn, fds, NULL, &j), 0);
	cr_assert(WAIT_UNTIL(atomic_load((atomic_int *)&fds[2])));
	cr_assert_eq(weft_rt_shutdown_timeout(rt, 0), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

Test(shutdown_timeout, no_job_left_gives_zero_and_jobs_that_end_in_time)
{
	weft_rt *rt = rt_multi(2);
	struct held h = { .go = 1 };
	weft_join *j;

	cr_assert_eq(weft_spawn_blocking(rt, held_fn, &h, held_release, &j), 0);
	/* unbounded: waits for the job as weft_rt_shutdown does */
	cr_assert_eq(weft_rt_shutdown_timeout(rt, WEFT_RT_NO_TIMEOUT), 0);
	cr_assert_eq(atomic_load(&h.released), 1);
	weft_join_drop(j);
	/* again: the same result, at once */
	cr_assert_eq(weft_rt_shutdown_timeout(rt, 0), 0);
	weft_rt_destroy(rt);
	cr_assert_eq(weft_rt_shutdown_timeout(NULL, 0), -EINVAL);
	cr_assert_eq(weft_rt_shutdown_background(NULL, 0), -EINVAL);
	cr_assert(!weft_rt_is_shut_down(NULL));
	rt_leak_check();
}

/* ------------------------------------------------ from inside a task */

struct self_stop {
	WEFT_ASYNC;
	weft_rt *rt;
	int how;              /* 0: shutdown_timeout, 1: background, 2: wait */
	atomic_int *rc;
	atomic_int *dropped;
	weft_rt_shutdown_wait w;
};

static weft_poll self_stop_poll(struct self_stop *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (f->how == 0) {
		atomic_store(f->rc, weft_rt_shutdown_timeout(f->rt, 0));
		WEFT_RETURN(0);
	}
	if (f->how == 1) {
		atomic_store(f->rc, weft_rt_shutdown_background(
					    f->rt, WEFT_RT_NO_TIMEOUT));
		PARK();        /* cancelled by the shutdown it started */
	}
	WEFT_AWAIT_INIT(weft_rt_shutdown_wait, &f->w, f->rt,
			WEFT_RT_NO_TIMEOUT);
	atomic_store(f->rc, 99);  /* never: this task is cancelled first */
	WEFT_END();
}

static void self_stop_drop(struct self_stop *f)
{
	if (f->how == 2)
		weft_rt_shutdown_wait_drop(&f->w);
	atomic_fetch_add(f->dropped, 1);
}

WEFT_FUTURE(self_stop, struct self_stop, self_stop_drop);

Test(shutdown_timeout, from_a_task_of_the_runtime_is_refused)
{
	weft_rt *rt = rt_multi(1);
	atomic_int rc = 1, dropped = 0;
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, self_stop, &j, { .rt = rt, .how = 0,
					     .rc = &rc, .dropped = &dropped }), 0);
	cr_assert_eq(join_on(rt, j), 0);
	weft_join_drop(j);
	cr_assert_eq(atomic_load(&rc), -EDEADLK);
	cr_assert(!weft_rt_is_shut_down(rt));
	weft_rt_destroy(rt);
}

Test(shutdown_timeout, a_task_shuts_its_runtime_down_in_the_background,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	atomic_int rc = 1, dropped = 0;

	cr_assert_eq(WEFT_SPAWN(rt, self_stop, NULL, { .rt = rt, .how = 1,
					     .rc = &rc, .dropped = &dropped }), 0);
	cr_assert(WAIT_UNTIL(weft_rt_is_shut_down(rt)));
	cr_assert_eq(atomic_load(&rc), 0);
	cr_assert_eq(atomic_load(&dropped), 1);
	cr_assert_eq(weft_rt_shutdown_background(rt, 0), -EALREADY);
	cr_assert_eq(weft_spawn(rt, &self_stop_future, NULL, NULL),
		     -ESHUTDOWN);
	weft_rt_destroy(rt);   /* joins the background thread */
	rt_leak_check();
}

Test(shutdown_timeout, a_task_awaiting_its_own_shutdown_is_cancelled,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	atomic_int rc = 1, dropped = 0;

	cr_assert_eq(WEFT_SPAWN(rt, self_stop, NULL, { .rt = rt, .how = 2,
					     .rc = &rc, .dropped = &dropped }), 0);
	cr_assert(WAIT_UNTIL(weft_rt_is_shut_down(rt)));
	cr_assert_eq(atomic_load(&dropped), 1);
	cr_assert_eq(atomic_load(&rc), 1, "the wait completed in its task");
	weft_rt_destroy(rt);
	rt_leak_check();
}

/* A task of runtime A awaits the shutdown of runtime B (its first poll
 * starts it, bounded by 10 ms), which has a parked task and a blocking
 * job that outlasts the bound: the wait reports the detached job. */
struct other_stop {
	WEFT_ASYNC;
	weft_rt *victim;
	weft_rt_shutdown_wait w;
};

static weft_poll other_stop_poll(struct other_stop *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_rt_shutdown_wait, &f->w, f->victim,
			10 * 1000 * 1000);
	WEFT_RETURN(f->w.res);
	WEFT_END();
}

static void other_stop_drop(struct other_stop *f)
{
	weft_rt_shutdown_wait_drop(&f->w);
}

WEFT_FUTURE(other_stop, struct other_stop, other_stop_drop);

struct parked {
	WEFT_ASYNC;
	atomic_int *dropped;
};

static weft_poll parked_poll(struct parked *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	PARK();
	WEFT_END();
}

static void parked_drop(struct parked *f)
{
	atomic_fetch_add(f->dropped, 1);
}

WEFT_FUTURE(parked, struct parked, parked_drop);

Test(shutdown_timeout, a_task_of_another_runtime_awaits_the_shutdown,
     .timeout = RT_TIMEOUT)
{
	weft_rt *a = rt_multi(1), *b = rt_multi(2);
	atomic_int dropped = 0;
	struct held h = { 0 };
	weft_join *j, *job;

	cr_assert_eq(weft_spawn_blocking(b, held_fn, &h, held_release, &job),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.started)));
	cr_assert_eq(WEFT_SPAWN(b, parked, NULL, { .dropped = &dropped }), 0);
	cr_assert_eq(WEFT_SPAWN(a, other_stop, &j, { .victim = b }), 0);
	cr_assert_eq(join_on(a, j), 1);
	weft_join_drop(j);
	cr_assert(weft_rt_is_shut_down(b));
	cr_assert_eq(atomic_load(&dropped), 1);
	/* a later wait completes at once with the same result */
	cr_assert_eq(WEFT_SPAWN(a, other_stop, &j, { .victim = b }), 0);
	cr_assert_eq(join_on(a, j), 1);
	weft_join_drop(j);
	weft_join_drop(job);
	weft_rt_destroy(b);
	atomic_store(&h.go, 1);
	cr_assert(WAIT_UNTIL(atomic_load(&h.released)));
	weft_rt_destroy(a);
	rt_leak_check();
}

/* A shutdown called while a background one runs waits for it: when it
 * returns, the runtime is shut down, and it gives the same result. */
Test(shutdown_timeout, a_second_shutdown_waits_for_the_first,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct held h = { 0 };
	weft_join *job;

	cr_assert_eq(weft_spawn_blocking(rt, held_fn, &h, held_release, &job),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&h.started)));
	cr_assert_eq(weft_rt_shutdown_background(rt, 30 * 1000 * 1000), 0);
	/* once the background one has begun (spawns are refused), an
	 * unbounded call returns with the bounded one's result */
	cr_assert(WAIT_UNTIL(weft_spawn(rt, &nop_future, NULL, NULL) ==
			     -ESHUTDOWN));
	cr_assert_eq(weft_rt_shutdown_timeout(rt, WEFT_RT_NO_TIMEOUT), 1);
	cr_assert(weft_rt_is_shut_down(rt));
	weft_join_drop(job);
	weft_rt_destroy(rt);
	atomic_store(&h.go, 1);
	cr_assert(WAIT_UNTIL(atomic_load(&h.released)));
	rt_leak_check();
}

/* The long-poll detector reports, and timers fall due, while a shutdown
 * waits for a worker to finish a long poll: the report arrives during
 * the shutdown, the timers' tasks are cancelled, nothing is lost. */
static atomic_int reports;

static void on_long(void *arg, const weft_long_poll *r)
{
	(void)arg;
	(void)r;
	atomic_fetch_add(&reports, 1);
}

struct long_poll {
	WEFT_ASYNC;
	weft_rt *rt;
	atomic_int *in_poll;
};

static weft_poll long_poll_poll(struct long_poll *f, weft_cx *cx)
{
	weft_join *j;

	WEFT_BEGIN(f, cx);
	atomic_store(f->in_poll, 1);
	/* until the shutdown has begun (spawn refused) and the detector has
	 * seen this poll: both happen while this worker cannot be joined */
	while (weft_spawn(f->rt, &nop_future, NULL, &j) == 0) {
		weft_join_abort(j);
		weft_join_drop(j);
		usleep(100);
	}
	WAIT_UNTIL(atomic_load(&reports) > 0);
	WEFT_RETURN(0);
	WEFT_END();
}

WEFT_FUTURE(long_poll, struct long_poll, WEFT_NO_DROP);

struct sleepy {
	WEFT_ASYNC;
	weft_sleep s;
	atomic_int *dropped;
};

static weft_poll sleepy_poll(struct sleepy *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;)
		WEFT_AWAIT_INIT(weft_sleep, &f->s, WEFT_MS);
	WEFT_END();
}

static void sleepy_drop(struct sleepy *f)
{
	weft_sleep_drop(&f->s);
	atomic_fetch_add(f->dropped, 1);
}

WEFT_FUTURE(sleepy, struct sleepy, sleepy_drop);

Test(shutdown_timeout, detector_and_timers_firing_during_shutdown,
     .timeout = RT_TIMEOUT)
{
	enum { N = 8 };
	weft_rt_builder b;
	weft_obs_opts o;
	weft_rt *rt;
	atomic_int in_poll = 0, dropped = 0;
	weft_join *j;

	weft_rt_builder_init(&b);
	b.workers = 2;
	b.no_pin = true;
	b.io.entries = 256;
	weft_obs_opts_init(&o);
	o.long_poll_ns = 2 * 1000 * 1000;
	o.on_long_poll = on_long;
	cr_assert_eq(weft_rt_create_with(&rt, &b, &o), 0, "%s",
		     weft_rt_create_error());
	for (int i = 0; i < N; i++)
		cr_assert_eq(WEFT_SPAWN(rt, sleepy, NULL,
					{ .dropped = &dropped }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, long_poll, &j, { .rt = rt,
					     .in_poll = &in_poll }), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&in_poll)));
	cr_assert_eq(weft_rt_shutdown_timeout(rt, 5 * 1000 * 1000), 0);
	cr_assert_geq(atomic_load(&reports), 1);
	cr_assert_eq(atomic_load(&dropped), N);
	/* it finished its poll: the output is there */
	cr_assert_eq(join_now(j), 0);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	rt_leak_check();
}
