/* test/reactor/clock.c - the paused clock (weft_time_pause,
 * weft_time_advance) and timeout_at: a paused sleep fires only when the
 * clock is advanced to its deadline, auto-advance jumps idle runtimes to
 * the next timer in deadline order (sleep, interval, timeout), a running
 * blocking job holds auto-advance back, bad calls are refused, and
 * timeout_at with a passed or a future deadline. Nothing here depends on
 * how long anything takes: hour-long timers finish only because the
 * clock is told to move. */
#include <sched.h>
#include <stdatomic.h>

#include "helpers.h"

/* ------------------------------------------------------------- sleeper */

struct sleeper {
	WEFT_ASYNC;
	weft_sleep s;
	weft_duration d;
	int tag;
	atomic_int *order;     /* order[0]: next slot; then the tags */
	weft_instant woke;     /* weft_now() after the sleep */
	atomic_int *started;   /* set once the sleep's deadline is fixed */
};

static weft_poll sleeper_poll(struct sleeper *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_sleep_init(&f->s, f->d);
	if (f->started)
		atomic_store(f->started, 1);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	f->woke = weft_now();
	if (f->order)
		atomic_store(&f->order[1 + atomic_fetch_add(&f->order[0], 1)],
			     f->tag);
	WEFT_RETURN(f->s.res);
	WEFT_END();
}

static void sleeper_drop(struct sleeper *f)
{
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(sleeper, struct sleeper, sleeper_drop);

/* Yields until the join reports the task finished: a poll loop for the
 * test thread that needs no clock. */
static void wait_finished(weft_join *j)
{
	while (!weft_join_is_finished(j))
		sched_yield();
}

Test(clock, paused_sleep_fires_only_when_advanced_to_its_deadline,
     .timeout = 60)
{
	weft_rt *rt = test_rt(1);
	atomic_int started = 0;
	weft_join *j;
	weft_instant t0;

	cr_assert_eq(weft_time_pause(rt, false), 0);
	cr_assert(weft_time_is_paused(rt));
	t0 = weft_time_now(rt);
	cr_assert_eq(WEFT_SPAWN(rt, sleeper, &j, { .d = 5 * WEFT_SEC,
						   .started = &started }), 0);
	/* advancing before the sleep took its start would move it */
	while (!atomic_load(&started))
		sched_yield();
	cr_assert_eq(weft_time_advance(rt, 4 * WEFT_SEC), 0);
	/* every timer due by now has fired: none was, so the task cannot
	 * have finished */
	cr_assert(!weft_join_is_finished(j), "fired before its deadline");
	cr_assert_eq(weft_time_now(rt), t0 + 4 * WEFT_SEC);
	cr_assert_eq(weft_time_advance(rt, 1 * WEFT_SEC), 0);
	cr_assert_eq(test_join(rt, j), 0);
	weft_rt_destroy(rt);
}

/* The spawned sleepers' order of waking, with the clock auto-advancing:
 * 30, 10, 20 s sleeps (and one of an hour) wake in deadline order, and
 * each sees the clock at its own deadline. */
Test(clock, auto_advance_fires_timers_in_deadline_order, .timeout = 60)
{
	static const int secs[] = { 30, 10, 3600, 20 };
	enum { N = 4 };
	weft_rt *rt = test_rt(2);
	atomic_int order[1 + N] = { 0 };
	weft_join *j[N];
	weft_instant t0;

	cr_assert_eq(weft_time_pause(rt, true), 0);
	t0 = weft_time_now(rt);
	for (int i = 0; i < N; i++)
		cr_assert_eq(WEFT_SPAWN(rt, sleeper, &j[i],
					{ .d = (weft_duration)secs[i] * WEFT_SEC,
					  .tag = secs[i], .order = order }), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(test_join(rt, j[i]), 0);
	cr_assert_eq(atomic_load(&order[0]), N);
	cr_assert_eq(order[1], 10);
	cr_assert_eq(order[2], 20);
	cr_assert_eq(order[3], 30);
	cr_assert_eq(order[4], 3600);
	cr_assert_geq(weft_time_now(rt), t0 + 3600 * WEFT_SEC);
	/* never early, on the task's own clock: an hour went by */
	cr_assert_lt(weft_time_now(rt), t0 + 3601 * WEFT_SEC,
		     "the clock ran past the last timer");
	weft_rt_destroy(rt);
}

/* A block_on future sleeping on the auto-advancing clock of the
 * current-thread flavour (the block_on thread is the worker). */
Test(clock, auto_advance_current_thread_block_on, .timeout = 60)
{
	weft_rt *rt = test_rt(0);
	struct sleeper f = { .d = 24 * 3600 * WEFT_SEC };
	weft_instant t0;

	cr_assert_eq(weft_time_pause(rt, true), 0);
	t0 = weft_time_now(rt);
	cr_assert_eq(WEFT_BLOCK_ON(rt, sleeper, &f), 0);
	cr_assert_eq(f.res, 0);
	cr_assert_geq(f.woke, t0 + 24 * 3600 * WEFT_SEC);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------------ interval */

struct ticks {
	WEFT_ASYNC;
	weft_interval iv;
	weft_interval_tick t;
	weft_instant start, at[4];
	int i;
};

static weft_poll ticks_poll(struct ticks *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->start = weft_now();
	weft_interval_init(&f->iv, f->start, 7 * WEFT_SEC, WEFT_MISSED_BURST);
	for (f->i = 0; f->i < 4; f->i++) {
		WEFT_AWAIT_INIT(weft_interval_tick, &f->t, &f->iv);
		cr_assert_eq(f->t.res, 0);
		f->at[f->i] = weft_now();
		cr_assert_eq(f->t.tick, f->start + (weft_instant)f->i * 7 *
						     WEFT_SEC);
	}
	weft_interval_destroy(&f->iv);
	WEFT_END();
}

static void ticks_drop(struct ticks *f)
{
	weft_interval_destroy(&f->iv);
}

WEFT_FUTURE(ticks, struct ticks, ticks_drop);

Test(clock, interval_ticks_on_the_paused_clock, .timeout = 60)
{
	weft_rt *rt = test_rt(1);
	struct ticks f = { 0 };

	cr_assert_eq(weft_time_pause(rt, true), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, ticks, &f), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(f.at[i], f.start + (weft_instant)i * 7 * WEFT_SEC,
			     "tick %d seen at +%llu ns", i,
			     (unsigned long long)(f.at[i] - f.start));
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------ bad calls */

Test(clock, advance_on_a_clock_that_is_not_paused_is_refused)
{
	weft_rt *rt = test_rt(1);
	weft_rt_builder b;
	weft_rt *noio;

	cr_assert_eq(weft_time_advance(rt, WEFT_SEC), -EINVAL);
	cr_assert(!weft_time_is_paused(rt));
	cr_assert_eq(weft_time_advance(NULL, WEFT_SEC), -EINVAL);
	cr_assert_eq(weft_time_pause(NULL, false), -EINVAL);
	weft_rt_builder_init(&b);
	b.workers = 1;
	b.io.enable = false;
	cr_assert_eq(weft_rt_create(&noio, &b), 0);
	cr_assert_eq(weft_time_pause(noio, true), -ENODEV);
	cr_assert_eq(weft_time_advance(noio, WEFT_SEC), -ENODEV);
	weft_rt_destroy(noio);
	weft_rt_destroy(rt);
}

/* A blocking-pool job at work keeps the runtime from being idle: the
 * auto-advancing clock does not jump under it, and does once it ends. */
static intptr_t hold_job(void *arg)
{
	atomic_int *go = arg;

	while (!atomic_load(go))
		sched_yield();
	return 7;
}

Test(clock, auto_advance_waits_for_a_running_blocking_job, .timeout = 60)
{
	weft_rt *rt = test_rt(1);
	atomic_int go = 0, started = 0;
	weft_join *job, *j;
	weft_instant t0;

	cr_assert_eq(weft_spawn_blocking(rt, hold_job, &go, NULL, &job), 0);
	cr_assert_eq(weft_time_pause(rt, true), 0);
	t0 = weft_time_now(rt);
	cr_assert_eq(WEFT_SPAWN(rt, sleeper, &j, { .d = 60 * WEFT_SEC,
						   .started = &started }), 0);
	while (!atomic_load(&started))
		sched_yield();
	/* many reactor passes (each re-checks idleness every ms) */
	usleep(50 * 1000);
	cr_assert(!weft_join_is_finished(j), "the clock jumped under a job");
	cr_assert_eq(weft_time_now(rt), t0);
	atomic_store(&go, 1);
	cr_assert_eq(test_join(rt, job), 7);
	wait_finished(j);
	cr_assert_eq(test_join(rt, j), 0);
	cr_assert_geq(weft_time_now(rt), t0 + 60 * WEFT_SEC);
	weft_rt_destroy(rt);
}

/* ----------------------------------------------------------- timeout_at */

struct slow {
	WEFT_ASYNC;
	weft_sleep s;
	weft_duration d;
	int *dropped;
};

static weft_poll slow_poll(struct slow *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (f->d)
		WEFT_AWAIT_INIT(weft_sleep, &f->s, f->d);
	WEFT_RETURN(42);
	WEFT_END();
}

static void slow_drop(struct slow *f)
{
	weft_sleep_drop(&f->s);
	(*f->dropped)++;
}

WEFT_FUTURE(slow, struct slow, slow_drop);

struct deadline {
	WEFT_ASYNC;
	struct slow child;
	weft_timeout t;
	weft_instant at;       /* 0: already passed (weft_now() - 1 s) */
	weft_instant seen;     /* weft_now() when it completed */
};

static weft_poll deadline_poll(struct deadline *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (!f->at)
		f->at = weft_now() - WEFT_SEC;
	weft_timeout_at_init(&f->t, WEFT_BRANCH(slow, &f->child), f->at);
	WEFT_AWAIT_ON(weft_timeout, &f->t);
	f->seen = weft_now();
	WEFT_RETURN(f->t.res);
	WEFT_END();
}

WEFT_FUTURE(deadline, struct deadline, WEFT_NO_DROP);

Test(clock, timeout_at_a_passed_deadline_still_lets_a_ready_child_win)
{
	weft_rt *rt = test_rt(1);
	int dropped = 0;
	struct deadline f = { .child = { .d = 0, .dropped = &dropped } };

	cr_assert_eq(WEFT_BLOCK_ON(rt, deadline, &f), 0);
	cr_assert(!f.t.timed_out);
	cr_assert_eq(f.res, 42);
	cr_assert_eq(dropped, 0);
	weft_rt_destroy(rt);
}

Test(clock, timeout_at_a_passed_deadline_cancels_a_pending_child)
{
	weft_rt *rt = test_rt(1);
	int dropped = 0;
	struct deadline f = { .child = { .d = 3600 * WEFT_SEC,
					 .dropped = &dropped } };

	cr_assert_eq(WEFT_BLOCK_ON(rt, deadline, &f), 0);
	cr_assert(f.t.timed_out);
	cr_assert_eq(f.res, -ETIMEDOUT);
	cr_assert_eq(dropped, 1);
	weft_rt_destroy(rt); /* LSan: the child's timer was freed */
}

/* On the paused clock: the deadline, not the start, decides; the
 * timeout completes with the clock exactly at its deadline. */
Test(clock, timeout_at_expires_at_its_deadline_on_the_paused_clock,
     .timeout = 60)
{
	weft_rt *rt = test_rt(1);
	int dropped = 0;
	struct deadline f = { .child = { .d = 3600 * WEFT_SEC,
					 .dropped = &dropped } };

	cr_assert_eq(weft_time_pause(rt, true), 0);
	f.at = weft_time_now(rt) + 90 * WEFT_SEC;
	cr_assert_eq(WEFT_BLOCK_ON(rt, deadline, &f), 0);
	cr_assert(f.t.timed_out);
	cr_assert_eq(f.res, -ETIMEDOUT);
	cr_assert_eq(f.seen, f.at);
	cr_assert_eq(dropped, 1);
	weft_rt_destroy(rt);
}
