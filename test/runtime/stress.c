/* test/runtime/stress.c - many tasks: a spawn tree from workers (1M tasks
 * under -Dstress=true, 100k by default), spawn storms from 4 foreign
 * threads into both flavours, and storms mixing join, detach and abort.
 * Every task's completion is counted; the final check is exact.
 */
#include "test/runtime/harness.h"

struct leaf {
	WEFT_ASYNC;
	atomic_long *done;
	intptr_t v;
	int yields;
	int i;
};

static weft_poll leaf_poll(struct leaf *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->yields; f->i++)
		WEFT_YIELD();
	atomic_fetch_add(f->done, 1);
	WEFT_RETURN(f->v);
	WEFT_END();
}
WEFT_FUTURE(leaf, struct leaf, WEFT_NO_DROP);

/* Spawns `fan` leaves with handles, awaits them all, sums the outputs. */
struct mid {
	WEFT_ASYNC;
	atomic_long *done;
	atomic_long *sum;
	atomic_long *mids_left;
	gate *all_done;
	int fan;
	int i;
	long acc;
	weft_join_wait w;
	weft_join **kids;
};

static weft_poll mid_poll(struct mid *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->kids = malloc(sizeof(*f->kids) * (size_t)f->fan);
	for (f->i = 0; f->i < f->fan; f->i++)
		if (WEFT_SPAWN(weft_rt_current(), leaf, &f->kids[f->i],
			       { .done = f->done, .v = f->i,
				 .yields = f->i % 3 }))
			abort();
	for (f->i = 0; f->i < f->fan; f->i++) {
		WEFT_AWAIT_INIT(weft_join_wait, &f->w, f->kids[f->i]);
		if (f->w.res >= 0)
			f->acc += f->w.res;
		weft_join_drop(f->kids[f->i]);
	}
	free(f->kids);
	f->kids = NULL;
	atomic_fetch_add(f->sum, f->acc);
	if (atomic_fetch_sub(f->mids_left, 1) == 1)
		gate_open(f->all_done);
	WEFT_END();
}
WEFT_FUTURE(mid, struct mid, WEFT_NO_DROP);

Test(stress, spawn_tree_from_workers, .timeout = 600)
{
	const int mids = STRESS(100, 1000), fan = 1000;
	weft_rt *rt = rt_multi(2);
	atomic_long done = 0, sum = 0, left = mids;
	gate g;

	gate_init(&g);
	for (int m = 0; m < mids; m++)
		cr_assert_eq(WEFT_SPAWN(rt, mid, NULL,
					{ .done = &done, .sum = &sum,
					  .mids_left = &left, .all_done = &g,
					  .fan = fan }),
			     0);
	gate_block_on(rt, &g);
	cr_assert_eq(atomic_load(&done), (long)mids * fan);
	cr_assert_eq(atomic_load(&sum), (long)mids * fan * (fan - 1) / 2);
	weft_rt_destroy(rt);
	gate_destroy(&g);
}

/* ------------------------------------------- storms from foreign threads */

struct storm {
	weft_rt *rt;
	int n;
	int seed;
	atomic_long *done;
	atomic_long *failed;
	atomic_long *joined_ok;
	atomic_long *cancelled;
	bool mixed;      /* keep some handles: join, abort or drop them */
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;
	weft_join *held[64];
	int nheld = 0;

	for (int i = 0; i < s->n; i++) {
		bool keep = s->mixed && i % 4 == 0;
		weft_join *j = NULL;

		if (WEFT_SPAWN(s->rt, leaf, keep ? &j : NULL,
			       { .done = s->done, .v = i,
				 .yields = (i + s->seed) % 2 }))
			atomic_fetch_add(s->failed, 1);
		if (j)
			held[nheld++] = j;
		if (nheld == 64 || (i == s->n - 1 && nheld)) {
			for (int k = 0; k < nheld; k++) {
				if (k % 3 == 1)
					weft_join_abort(held[k]);
				if (k % 3 == 2) {
					weft_join_drop(held[k]);
					held[k] = NULL;
				}
			}
			for (int k = 0; k < nheld; k++) {
				intptr_t res;

				if (!held[k])
					continue;
				res = join_on(s->rt, held[k]);
				if (res >= 0)
					atomic_fetch_add(s->joined_ok, 1);
				else if (res == -ECANCELED)
					atomic_fetch_add(s->cancelled, 1);
				else
					atomic_fetch_add(s->failed, 1);
				weft_join_drop(held[k]);
			}
			nheld = 0;
		}
	}
	return NULL;
}

/* The completion count reaches total minus the cancelled ones; counts
 * may only settle after the storm threads return (detached tasks). */
static void storm_case(weft_rt *rt, int total, bool mixed)
{
	enum { T = 4 };
	struct storm s[T];
	pthread_t th[T];
	atomic_long done = 0, failed = 0, ok = 0, cancelled = 0;

	for (int t = 0; t < T; t++) {
		s[t] = (struct storm){ rt, total / T, t, &done, &failed, &ok,
				       &cancelled, mixed };
		cr_assert_eq(pthread_create(&th[t], NULL, storm_main, &s[t]), 0);
	}
	for (int t = 0; t < T; t++)
		pthread_join(th[t], NULL);
	cr_assert_eq(atomic_load(&failed), 0);
	if (!mixed) {
		cr_assert(WAIT_UNTIL(atomic_load(&done) == total),
			  "%ld of %d ran", atomic_load(&done), total);
	} else {
		/* every task either ran to the end or was cancelled before
		 * its last poll (an abort cannot split a poll) */
		cr_assert(WAIT_UNTIL(atomic_load(&done) + atomic_load(&cancelled)
				     == total),
			  "done %ld cancelled %ld of %d", atomic_load(&done),
			  atomic_load(&cancelled), total);
	}
	weft_rt_destroy(rt);
	rt_leak_check();
}

Test(stress, spawn_storm_from_four_foreign_threads, .timeout = 600)
{
	storm_case(rt_multi(2), STRESS(100000, 1000000), false);
}

Test(stress, spawn_storm_with_join_abort_and_detach, .timeout = 600)
{
	storm_case(rt_multi(2), STRESS(40000, 400000), true);
}

/* Current-thread: foreign threads spawn while the only runner is the
 * block_on thread, parked or not. */
struct ct_waiter {
	WEFT_ASYNC;
	atomic_long *done;
	long target;
	struct storm *s;
	pthread_t th[4];
	int i;
};

static weft_poll ct_waiter_poll(struct ct_waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < 4; f->i++)
		if (pthread_create(&f->th[f->i], NULL, storm_main, &f->s[f->i]))
			WEFT_RETURN(-1);
	while (atomic_load(f->done) < f->target)
		WEFT_YIELD();
	for (f->i = 0; f->i < 4; f->i++)
		pthread_join(f->th[f->i], NULL);
	WEFT_RETURN(0);
	WEFT_END();
}
WEFT_FUTURE(ct_waiter, struct ct_waiter, WEFT_NO_DROP);

Test(stress, spawn_storm_into_current_thread_block_on, .timeout = 600)
{
	const int total = STRESS(40000, 400000);
	weft_rt *rt = rt_current();
	atomic_long done = 0, failed = 0, ok = 0, cancelled = 0;
	struct storm s[4];
	struct ct_waiter w = { .done = &done, .target = total, .s = s };
	for (int t = 0; t < 4; t++)
		s[t] = (struct storm){ rt, total / 4, t, &done, &failed, &ok,
				       &cancelled, false };
	w.res = -1;
	cr_assert_eq(WEFT_BLOCK_ON(rt, ct_waiter, &w), 0);
	cr_assert_eq(w.res, 0);
	cr_assert_eq(atomic_load(&failed), 0);
	cr_assert_eq(atomic_load(&done), total);
	weft_rt_destroy(rt);
	rt_leak_check();
}
