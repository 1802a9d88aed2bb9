/* test/reactor/sleep.c - sleep and sleep_until: never early, in order,
 * dropped sleeps cancelled (each drop counted), many timers from several
 * workers, reset, and the debug check on re-initialising a pending
 * sleep. */
#include <fcntl.h>
#include <stdatomic.h>

#include "helpers.h"

struct sleeper {
	WEFT_ASYNC;
	weft_sleep s;
	weft_duration d;
	weft_instant at;       /* absolute deadline, or 0: now + d */
	weft_instant deadline;
	atomic_int *order;
	int *slot;
	long *late;
	weft_instant *reg;     /* when the sleep was registered */
	atomic_int *dropped;   /* counts runs of the drop function */
};

static weft_poll sleeper_poll(struct sleeper *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->deadline = f->at ? f->at : weft_now() + f->d;
	if (f->reg)
		*f->reg = weft_now();
	weft_sleep_until_init(&f->s, f->deadline);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	cr_assert_eq(f->s.res, 0);
	if (f->late)
		*f->late = (long)(weft_now() - f->deadline);
	cr_assert_geq(weft_now(), f->deadline, "woke early");
	if (f->order)
		*f->slot = atomic_fetch_add(f->order, 1);
	WEFT_END();
}

static void sleeper_drop(struct sleeper *f)
{
	weft_sleep_drop(&f->s);
	if (f->dropped)
		atomic_fetch_add(f->dropped, 1);
}

WEFT_FUTURE(sleeper, struct sleeper, sleeper_drop);

Test(sleep, never_early_block_on)
{
	weft_rt *rt = test_rt(2);

	for (int i = 0; i < 20; i++) {
		struct sleeper f = { .d = (weft_duration)(i % 5) * WEFT_MS +
					  300 * WEFT_US };
		long late = 0;

		f.late = &late;
		cr_assert_eq(WEFT_BLOCK_ON(rt, sleeper, &f), 0);
		cr_assert_geq(late, 0);
	}
	weft_rt_destroy(rt);
}

Test(sleep, zero_and_past_deadlines_complete)
{
	weft_rt *rt = test_rt(1);
	struct sleeper f = { .d = 0 };
	weft_sleep past = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, sleeper, &f), 0);
	weft_sleep_until_init(&past, 1);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_sleep, &past), 0);
	cr_assert_eq(past.res, 0);
	cr_assert_null(past.op, "a past deadline registers no timer");
	weft_rt_destroy(rt);
}

#define N_ORDER 50
/* pairs compared: timers GAP apart in the spawn order (3 ms each) */
#define GAP 20
/* fewer comparable pairs than this (of N_ORDER - GAP): skipped, not passed */
#define MIN_COMPARED 10

Test(sleep, timers_fire_in_deadline_order)
{
	/* one worker: tasks run in the order the reactor woke them */
	weft_rt *rt = test_rt(1);
	weft_join *j[N_ORDER];
	int slot[N_ORDER];
	weft_instant at[N_ORDER], reg[N_ORDER];
	atomic_int order = 0;
	weft_instant t0 = weft_now() + 20 * WEFT_MS;
	int compared = 0;

	for (int i = 0; i < N_ORDER; i++) {
		/* distinct deadlines 3 ms apart, spawned in reverse order */
		at[i] = t0 + (weft_duration)(N_ORDER - i) * 3 * WEFT_MS;
		cr_assert_eq(WEFT_SPAWN(rt, sleeper, &j[i],
					{ .at = at[i], .order = &order,
					  .slot = &slot[i], .reg = &reg[i] }), 0);
	}
	for (int i = 0; i < N_ORDER; i++)
		cr_assert_eq(test_join(rt, j[i]), 0);
	/* larger index = shorter sleep = earlier. Timers that fall due in
	 * the same reactor pass are woken in one batch, and the scheduler may
	 * run a batch in any order; the wheel's own order is exact
	 * (test/reactor/wheel.c). So compare timers 60 ms apart (a reactor
	 * pass delayed that long on a loaded host is what it takes to put
	 * both in one batch; 30 ms was seen once with seven builds running on
	 * two cores), and only
	 * when the earlier one was registered well before the later one's
	 * deadline (on a loaded machine a task may first run, and register,
	 * after deadlines passed: then no order is promised). */
	for (int i = GAP; i < N_ORDER; i++) {
		if (reg[i] + 5 * WEFT_MS >= at[i - GAP])
			continue;
		compared++;
		cr_assert_lt(slot[i], slot[i - GAP], "timer %d fired before %d",
			     i - GAP, i);
	}
	cr_log_info("compared %d pairs", compared);
	weft_rt_destroy(rt);
	if (compared < MIN_COMPARED)
		cr_skip_test("only %d of %d timer pairs could be compared "
			     "(tasks registered late: loaded host), need %d",
			     compared, N_ORDER - GAP, MIN_COMPARED);
}

/* Each sleeper's drop function ran exactly once, by the time its join
 * reported -ECANCELED, and not again at destroy. */
Test(sleep, aborted_sleepers_are_freed)
{
	weft_rt *rt = test_rt(2);
	weft_join *j[100];
	atomic_int dropped[100];

	for (int i = 0; i < 100; i++) {
		atomic_init(&dropped[i], 0);
		cr_assert_eq(WEFT_SPAWN(rt, sleeper, &j[i],
					{ .d = 3600 * WEFT_SEC,
					  .dropped = &dropped[i] }), 0);
	}
	for (int i = 0; i < 100; i++) {
		weft_join_abort(j[i]);
		cr_assert_eq(test_join(rt, j[i]), -ECANCELED);
		cr_assert_eq(atomic_load(&dropped[i]), 1,
			     "sleeper %d dropped %d times", i,
			     atomic_load(&dropped[i]));
	}
	weft_rt_destroy(rt); /* LSan: every record freed */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(atomic_load(&dropped[i]), 1,
			     "sleeper %d dropped %d times", i,
			     atomic_load(&dropped[i]));
}

/* Destroy with 100 detached sleepers pending: each drop function ran
 * exactly once. */
Test(sleep, shutdown_with_pending_sleepers)
{
	weft_rt *rt = test_rt(2);
	atomic_int dropped[100];

	for (int i = 0; i < 100; i++) {
		atomic_init(&dropped[i], 0);
		cr_assert_eq(WEFT_SPAWN(rt, sleeper, NULL,
					{ .d = 3600 * WEFT_SEC,
					  .dropped = &dropped[i] }), 0);
	}
	weft_rt_destroy(rt);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(atomic_load(&dropped[i]), 1,
			     "sleeper %d dropped %d times", i,
			     atomic_load(&dropped[i]));
}

#ifdef WEFT_STRESS
#define N_MANY 100000
#else
#define N_MANY 10000
#endif

struct many {
	WEFT_ASYNC_VOID;
	weft_sleep s;
	weft_instant deadline;
	unsigned d;
	atomic_long *late;
	atomic_int *left;
};

static weft_poll many_poll(struct many *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->deadline = weft_now() + f->d * WEFT_MS;
	weft_sleep_until_init(&f->s, f->deadline);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	cr_assert_geq(weft_now(), f->deadline);
	atomic_fetch_add(f->late, (long)(weft_now() - f->deadline));
	atomic_fetch_sub(f->left, 1);
	WEFT_END();
}

WEFT_FUTURE(many, struct many, WEFT_NO_DROP);

Test(sleep, many_timers_from_two_workers)
{
	weft_rt *rt = test_rt(2);
	atomic_long late = 0;
	atomic_int left = N_MANY;

	for (int i = 0; i < N_MANY; i++)
		cr_assert_eq(WEFT_SPAWN(rt, many, NULL,
					{ .d = 1 + (unsigned)i % 50,
					  .late = &late, .left = &left }), 0);
	while (atomic_load(&left) > 0) {
		struct sleeper f = { .d = 5 * WEFT_MS };

		WEFT_BLOCK_ON(rt, sleeper, &f);
	}
	weft_rt_destroy(rt);
}

/* A sleep reset while pending waits for the new deadline (its old timer
 * is released: LSan), and one reset after READY runs again. */
struct resetter {
	WEFT_ASYNC;
	weft_sleep s;
	weft_instant moved_to;
	int polls;
};

static weft_poll resetter_poll(struct resetter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_sleep_init(&f->s, 3600 * WEFT_SEC);
	cr_assert_eq(weft_sleep_poll(&f->s, cx), WEFT_PENDING);
	cr_assert_not_null(f->s.op, "a pending sleep holds its timer");
	f->moved_to = weft_now() + 2 * WEFT_MS;
	weft_sleep_reset(&f->s, f->moved_to);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	cr_assert_eq(f->s.res, 0);
	cr_assert_geq(weft_now(), f->moved_to, "woke early after reset");
	f->moved_to = weft_now() + 2 * WEFT_MS;
	weft_sleep_reset(&f->s, f->moved_to);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	cr_assert_geq(weft_now(), f->moved_to);
	WEFT_RETURN(1);
	WEFT_END();
}

WEFT_FUTURE(resetter, struct resetter, WEFT_NO_DROP);

Test(sleep, reset_moves_a_pending_or_finished_sleep)
{
	weft_rt *rt = test_rt(1);
	struct resetter f = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, resetter, &f), 0);
	cr_assert_eq(f.res, 1);
	weft_rt_destroy(rt);
}

/* weft_sleep_init on a pending sleep would leak its timer (and with it
 * the reactor): debug builds abort, naming the fix. */
struct reinit {
	WEFT_ASYNC;
	weft_sleep s;
};

static weft_poll reinit_poll(struct reinit *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_sleep_init(&f->s, 3600 * WEFT_SEC);
	cr_assert_eq(weft_sleep_poll(&f->s, cx), WEFT_PENDING);
	weft_sleep_init(&f->s, WEFT_MS); /* aborts */
	WEFT_RETURN(-1);
	WEFT_END();
}

WEFT_FUTURE(reinit, struct reinit, WEFT_NO_DROP);

TEST_MISUSE(sleep, init_of_a_pending_sleep_aborts)
{
	weft_rt *rt = test_rt(1);
	struct reinit f = { 0 };

	WEFT_BLOCK_ON(rt, reinit, &f);
	cr_assert_fail("weft_sleep_init on a pending sleep did not abort");
}
