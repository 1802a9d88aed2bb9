/* test/reactor/interval.c - interval ticks and the missed-tick modes
 * (burst, delay, skip), a tick future dropped while waiting loses no
 * tick, and timeout: a child that finishes in time, one that does not
 * (cancelled: its drop runs, its timer is freed). Only "never early" and
 * schedule arithmetic are asserted, never durations. Debug checks:
 * re-initialising a pending interval or timeout aborts. */
#include "helpers.h"

#define P (20 * WEFT_MS)

struct ticker {
	WEFT_ASYNC;
	weft_interval iv;
	weft_interval_tick t;
	weft_missed_tick mode;
	weft_instant start, ticks[5], taken[5];
	int i;
};

static weft_poll ticker_poll(struct ticker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->start = weft_now();
	weft_interval_init(&f->iv, f->start, P, f->mode);
	for (f->i = 0; f->i < 5; f->i++) {
		WEFT_AWAIT_INIT(weft_interval_tick, &f->t, &f->iv);
		cr_assert_eq(f->t.res, 0);
		f->ticks[f->i] = f->t.tick;
		f->taken[f->i] = weft_now();
		cr_assert_geq(f->taken[f->i], f->t.tick, "tick early");
		if (f->i == 1)
			usleep((useconds_t)((3 * P + P / 2) / WEFT_US)); /* miss three */
	}
	weft_interval_destroy(&f->iv);
	WEFT_END();
}

WEFT_FUTURE(ticker, struct ticker, WEFT_NO_DROP);

static struct ticker run_ticker(weft_missed_tick mode)
{
	weft_rt *rt = test_rt(1);
	struct ticker f = { .mode = mode };

	cr_assert_eq(WEFT_BLOCK_ON(rt, ticker, &f), 0);
	weft_rt_destroy(rt);
	return f;
}

Test(interval, first_tick_at_start_then_every_period)
{
	struct ticker f = run_ticker(WEFT_MISSED_BURST);

	cr_assert_eq(f.ticks[0], f.start);
	cr_assert_eq(f.ticks[1], f.start + P);
}

Test(interval, burst_fires_missed_ticks_on_schedule)
{
	struct ticker f = run_ticker(WEFT_MISSED_BURST);

	for (int i = 0; i < 5; i++)
		cr_assert_eq(f.ticks[i], f.start + (weft_instant)i * P);
}

/* Tick 2 is due at most a period after tick 1 was taken, and awaited
 * 3.5 periods after that: it is taken at least 2.5 periods late, however
 * slow the machine is. What follows depends only on that. */
static void check_late_tick_2(const struct ticker *f)
{
	cr_assert_geq(f->taken[2], f->ticks[2] + 2 * P + P / 2);
	for (int i = 1; i < 5; i++)
		cr_assert_geq(f->ticks[i], f->ticks[i - 1] + P, "tick %d", i);
}

Test(interval, delay_restarts_a_period_after_the_late_tick)
{
	struct ticker f = run_ticker(WEFT_MISSED_DELAY);

	check_late_tick_2(&f);
	/* tick 3 is a period after tick 2 was taken, so more than three
	 * periods after tick 2's schedule, and never more than a period
	 * after we saw tick 2 */
	cr_assert_geq(f.ticks[3], f.ticks[2] + 3 * P);
	cr_assert_leq(f.ticks[3], f.taken[2] + P);
}

Test(interval, skip_keeps_the_grid_and_drops_missed_ticks)
{
	struct ticker f = run_ticker(WEFT_MISSED_SKIP);

	check_late_tick_2(&f);
	for (int i = 0; i < 5; i++)
		cr_assert_eq((f.ticks[i] - f.start) % P, 0, "tick %d off the grid",
			     i);
	/* the grid points missed during the late tick are dropped: tick 3
	 * is the first one after tick 2 was taken */
	cr_assert_geq(f.ticks[3], f.ticks[2] + 3 * P, "missed ticks not skipped");
	cr_assert_leq(f.ticks[3], f.taken[2] + P);
}

/* A tick future polled (pending) and dropped, then a new one: the tick it
 * waited for is still the next one (the interval kept it). */
struct dropped_tick {
	WEFT_ASYNC;
	weft_interval iv;
	weft_interval_tick t;
	weft_instant start;
};

static weft_poll dropped_tick_poll(struct dropped_tick *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->start = weft_now();
	weft_interval_init(&f->iv, f->start, P, WEFT_MISSED_BURST);
	WEFT_AWAIT_INIT(weft_interval_tick, &f->t, &f->iv);
	cr_assert_eq(f->t.tick, f->start);
	weft_interval_tick_init(&f->t, &f->iv);
	if (weft_interval_tick_poll(&f->t, cx) == WEFT_READY)
		cr_skip_test("the host took a whole period between two polls");
	weft_interval_tick_drop(&f->t);
	WEFT_AWAIT_INIT(weft_interval_tick, &f->t, &f->iv);
	cr_assert_eq(f->t.res, 0);
	cr_assert_eq(f->t.tick, f->start + P, "a dropped tick future lost a tick");
	weft_interval_destroy(&f->iv);
	WEFT_END();
}

WEFT_FUTURE(dropped_tick, struct dropped_tick, WEFT_NO_DROP);

Test(interval, dropped_tick_future_loses_no_tick)
{
	weft_rt *rt = test_rt(1);
	struct dropped_tick f = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, dropped_tick, &f), 0);
	weft_rt_destroy(rt); /* LSan: the interval's timer was freed */
}

/* Re-initialising an interval whose next tick is pending would leak its
 * timer: debug builds abort. */
struct reinit_iv {
	WEFT_ASYNC;
	weft_interval iv;
	weft_interval_tick t;
};

static weft_poll reinit_iv_poll(struct reinit_iv *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_interval_init(&f->iv, weft_now() + 3600 * WEFT_SEC, P,
			   WEFT_MISSED_BURST);
	weft_interval_tick_init(&f->t, &f->iv);
	cr_assert_eq(weft_interval_tick_poll(&f->t, cx), WEFT_PENDING);
	weft_interval_init(&f->iv, weft_now(), P, WEFT_MISSED_BURST);
	WEFT_RETURN(-1);
	WEFT_END();
}

WEFT_FUTURE(reinit_iv, struct reinit_iv, WEFT_NO_DROP);

TEST_MISUSE(interval, init_of_a_pending_interval_aborts)
{
	weft_rt *rt = test_rt(1);
	struct reinit_iv f = { 0 };

	WEFT_BLOCK_ON(rt, reinit_iv, &f);
	cr_assert_fail("weft_interval_init on a pending interval did not abort");
}

/* ---------------------------------------------------------- timeout */

struct slow_child {
	WEFT_ASYNC;
	weft_sleep s;
	weft_duration d;
	int *dropped;
};

static weft_poll slow_child_poll(struct slow_child *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->s, f->d);
	WEFT_RETURN(42);
	WEFT_END();
}

static void slow_child_drop(struct slow_child *f)
{
	weft_sleep_drop(&f->s);
	(*f->dropped)++;
}

WEFT_FUTURE(slow_child, struct slow_child, slow_child_drop);

struct limited {
	WEFT_ASYNC;
	struct slow_child child;
	weft_timeout t;
	weft_duration limit;
	weft_instant t0;
};

static weft_poll limited_poll(struct limited *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->t0 = weft_now();
	WEFT_AWAIT_INIT(weft_timeout, &f->t,
			WEFT_BRANCH(slow_child, &f->child), f->limit);
	if (f->t.timed_out)
		cr_assert_geq(weft_now(), f->t0 + f->limit, "timed out early");
	WEFT_RETURN(f->t.res);
	WEFT_END();
}

WEFT_FUTURE(limited, struct limited, WEFT_NO_DROP);

Test(timeout, child_finishing_first_returns_its_value)
{
	weft_rt *rt = test_rt(1);
	int dropped = 0;
	struct limited f = { .child = { .d = 1 * WEFT_MS, .dropped = &dropped },
			     .limit = 10 * WEFT_SEC };

	cr_assert_eq(WEFT_BLOCK_ON(rt, limited, &f), 0);
	cr_assert(!f.t.timed_out);
	cr_assert_eq(f.t.res, 42);
	cr_assert_eq(f.child.res, 42);
	cr_assert_eq(dropped, 0);
	weft_rt_destroy(rt); /* LSan: the timeout's timer was freed */
}

Test(timeout, expiry_cancels_the_child)
{
	weft_rt *rt = test_rt(1);
	int dropped = 0;
	struct limited f = { .child = { .d = 3600 * WEFT_SEC, .dropped = &dropped },
			     .limit = 15 * WEFT_MS };

	cr_assert_eq(WEFT_BLOCK_ON(rt, limited, &f), 0);
	cr_assert(f.t.timed_out);
	cr_assert_eq(f.t.res, -ETIMEDOUT);
	cr_assert_eq(f.res, -ETIMEDOUT);
	cr_assert_eq(dropped, 1, "child dropped %d times", dropped);
	weft_timeout_drop(&f.t); /* no second drop */
	cr_assert_eq(dropped, 1);
	weft_rt_destroy(rt); /* LSan: the child's hour-long timer was freed */
}

/* Re-initialising a pending timeout would leak its timer: debug builds
 * abort. */
struct reinit_to {
	WEFT_ASYNC;
	struct slow_child child;
	weft_timeout t;
	int dropped;
};

static weft_poll reinit_to_poll(struct reinit_to *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->child.d = 3600 * WEFT_SEC;
	f->child.dropped = &f->dropped;
	weft_timeout_init(&f->t, WEFT_BRANCH(slow_child, &f->child),
			  3600 * WEFT_SEC);
	cr_assert_eq(weft_timeout_poll(&f->t, cx), WEFT_PENDING);
	weft_timeout_init(&f->t, WEFT_BRANCH(slow_child, &f->child), WEFT_MS);
	WEFT_RETURN(-1);
	WEFT_END();
}

WEFT_FUTURE(reinit_to, struct reinit_to, WEFT_NO_DROP);

TEST_MISUSE(timeout, init_of_a_pending_timeout_aborts)
{
	weft_rt *rt = test_rt(1);
	struct reinit_to f = { 0 };

	WEFT_BLOCK_ON(rt, reinit_to, &f);
	cr_assert_fail("weft_timeout_init on a pending timeout did not abort");
}
