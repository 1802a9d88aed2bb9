/* test/runtime/fairness.c - no task can starve another: a yield loop, a
 * local flood against the injector, two tasks waking each other through
 * the LIFO slot, an always-ready leaf (the cooperative budget), and a
 * block_on future that yields. Each starvation would hang, so the test
 * timeout is the failure; no test depends on how fast anything runs.
 */
#include "test/runtime/harness.h"

/* ------------------------------------------------------------ helpers */

struct yielder {
	WEFT_ASYNC;
	atomic_int *stop;
	atomic_long *polls;
};

static weft_poll yielder_poll(struct yielder *f, weft_cx *cx)
{
	atomic_fetch_add(f->polls, 1);
	WEFT_BEGIN(f, cx);
	while (!atomic_load(f->stop))
		WEFT_YIELD();
	WEFT_END();
}
WEFT_FUTURE(yielder, struct yielder, WEFT_NO_DROP);

struct setter {
	WEFT_ASYNC;
	atomic_int *flag;
	atomic_long *observe;   /* copied into *seen when we run */
	long *seen;
};

static weft_poll setter_poll(struct setter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (f->observe)
		*f->seen = atomic_load(f->observe);
	atomic_store(f->flag, 1);
	WEFT_RETURN(7);
	WEFT_END();
}
WEFT_FUTURE(setter, struct setter, WEFT_NO_DROP);

/* ------------------------------------------------------- yield loops */

static void yield_loop_case(weft_rt *rt, int nyielders)
{
	atomic_int stop = 0;
	atomic_long polls = 0;
	long seen = -1;
	weft_join *y[8], *o;
	intptr_t out = 0;

	for (int i = 0; i < nyielders; i++)
		cr_assert_eq(WEFT_SPAWN(rt, yielder, &y[i],
					{ .stop = &stop, .polls = &polls }),
			     0);
	cr_assert_eq(WEFT_SPAWN(rt, setter, &o,
				{ .flag = &stop, .observe = &polls,
				  .seen = &seen }),
		     0);
	out = join_on(rt, o);
	cr_assert_eq(out, 7);
	for (int i = 0; i < nyielders; i++) {
		cr_assert_eq(join_on(rt, y[i]), 0);
		weft_join_drop(y[i]);
	}
	weft_join_drop(o);
	weft_rt_destroy(rt);
}

Test(fairness, yield_loop_cannot_starve_another_task_current_thread,
     .timeout = RT_TIMEOUT)
{
	yield_loop_case(rt_current(), 1);
}

Test(fairness, yield_loops_cannot_starve_another_task_one_worker,
     .timeout = RT_TIMEOUT)
{
	yield_loop_case(rt_multi(1), 4);
}

/* Yielding puts the task behind the other runnable tasks: three tasks
 * that yield take turns in order. */
struct turn_taker {
	WEFT_ASYNC;
	char id;
	char *log;
	atomic_int *len;
	int i;
};

static weft_poll turn_taker_poll(struct turn_taker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < 4; f->i++) {
		f->log[atomic_fetch_add(f->len, 1)] = f->id;
		WEFT_YIELD();
	}
	WEFT_END();
}
WEFT_FUTURE(turn_taker, struct turn_taker, WEFT_NO_DROP);

Test(fairness, yield_goes_behind_the_other_runnable_tasks,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	char log[16] = { 0 };
	atomic_int len = 0;
	weft_join *j[3];

	for (int i = 0; i < 3; i++)
		cr_assert_eq(WEFT_SPAWN(rt, turn_taker, &j[i],
					{ .id = (char)('A' + i), .log = log,
					  .len = &len }),
			     0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(join_on(rt, j[i]), 0);
		weft_join_drop(j[i]);
	}
	cr_assert_str_eq(log, "ABCABCABCABC");
	weft_rt_destroy(rt);
}

/* ----------------------------------------- injector under local flood */

struct trivial {
	WEFT_ASYNC;
	atomic_long *count;
};

static weft_poll trivial_poll(struct trivial *f, weft_cx *cx)
{
	atomic_fetch_add(f->count, 1);
	return WEFT_READY;
}
WEFT_FUTURE(trivial, struct trivial, WEFT_NO_DROP);

/* Spawns a child onto its own worker and yields, until stop: the worker's
 * deque is never empty. */
struct flooder {
	WEFT_ASYNC;
	atomic_int *stop;
	atomic_long *children;
	atomic_int *started;
	atomic_int *spawn_err;
};

static weft_poll flooder_poll(struct flooder *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	atomic_store(f->started, 1);
	while (!atomic_load(f->stop)) {
		if (WEFT_SPAWN(weft_rt_current(), trivial, NULL,
			       { .count = f->children }))
			atomic_store(f->spawn_err, 1);
		WEFT_YIELD();
	}
	WEFT_END();
}
WEFT_FUTURE(flooder, struct flooder, WEFT_NO_DROP);

Test(fairness, injector_task_runs_under_a_local_flood, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(1);
	atomic_int stop = 0, started = 0, spawn_err = 0;
	atomic_long children = 0;
	weft_join *fl, *o;

	cr_assert_eq(WEFT_SPAWN(rt, flooder, &fl,
				{ .stop = &stop, .children = &children,
				  .started = &started,
				  .spawn_err = &spawn_err }),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&started) &&
			     atomic_load(&children) > 100));
	/* spawned from this (foreign) thread: it goes to the injector, which
	 * the lone worker must check although its deque is never empty */
	for (int round = 0; round < 10; round++) {
		atomic_int flag = 0;

		cr_assert_eq(WEFT_SPAWN(rt, setter, &o, { .flag = &flag }), 0);
		cr_assert_eq(join_on(rt, o), 7);
		cr_assert_eq(atomic_load(&flag), 1);
		weft_join_drop(o);
	}
	atomic_store(&stop, 1);
	cr_assert_eq(join_on(rt, fl), 0);
	cr_assert_eq(atomic_load(&spawn_err), 0);
	weft_join_drop(fl);
	weft_rt_destroy(rt);
}

/* --------------------------------------------------------- LIFO slot */

struct pingpong {
	pthread_mutex_t m;
	weft_waker w[2];
	atomic_int stop;
	atomic_long bounces;
};

struct ponger {
	WEFT_ASYNC;
	struct pingpong *pp;
	int k;
};

/* Parks after waking the other side: each poll wakes the partner from
 * inside a running task, which is what fills the LIFO slot. */
static weft_poll ponger_poll(struct ponger *f, weft_cx *cx)
{
	struct pingpong *pp = f->pp;
	weft_waker other;

	if (atomic_load(&pp->stop))
		return WEFT_READY;
	atomic_fetch_add(&pp->bounces, 1);
	pthread_mutex_lock(&pp->m);
	weft_waker_register(&pp->w[f->k], cx);
	other = weft_waker_clone(&pp->w[1 - f->k]);
	pthread_mutex_unlock(&pp->m);
	weft_waker_wake(&other);
	return WEFT_PENDING;
}
WEFT_FUTURE(ponger, struct ponger, WEFT_NO_DROP);

static void lifo_case(weft_rt *rt)
{
	struct pingpong pp = { .m = PTHREAD_MUTEX_INITIALIZER };
	atomic_int flag = 0;
	weft_join *p[2], *t;

	for (int k = 0; k < 2; k++)
		cr_assert_eq(WEFT_SPAWN(rt, ponger, &p[k],
					{ .pp = &pp, .k = k }),
			     0);
	cr_assert_eq(WEFT_SPAWN(rt, setter, &t, { .flag = &flag }), 0);
	cr_assert_eq(join_on(rt, t), 7);
	cr_assert_eq(atomic_load(&flag), 1);
	/* stop the pair and let them finish: one more bounce wakes both */
	atomic_store(&pp.stop, 1);
	pthread_mutex_lock(&pp.m);
	weft_waker_wake_by_ref(&pp.w[0]);
	weft_waker_wake_by_ref(&pp.w[1]);
	pthread_mutex_unlock(&pp.m);
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(join_on(rt, p[k]), 0);
		weft_join_drop(p[k]);
	}
	weft_join_drop(t);
	weft_rt_destroy(rt);
	weft_waker_drop(&pp.w[0]);
	weft_waker_drop(&pp.w[1]);
}

Test(fairness, lifo_ping_pong_cannot_starve_the_queue_current_thread,
     .timeout = RT_TIMEOUT)
{
	lifo_case(rt_current());
}

Test(fairness, lifo_ping_pong_cannot_starve_the_queue_one_worker,
     .timeout = RT_TIMEOUT)
{
	lifo_case(rt_multi(1));
}

/* -------------------------------------------------- cooperative budget */

/* A leaf that is always ready but respects the budget. */
static weft_poll ready_leaf(atomic_long *count, weft_cx *cx)
{
	if (!weft_coop_proceed(cx))
		return WEFT_PENDING;
	atomic_fetch_add(count, 1);
	return WEFT_READY;
}

struct greedy {
	WEFT_ASYNC;
	atomic_int *stop;
	atomic_long *leaves;
};

/* Never yields by itself: only the budget sends it behind the others. */
static weft_poll greedy_poll(struct greedy *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	while (!atomic_load(f->stop))
		WEFT_AWAIT(ready_leaf(f->leaves, cx));
	WEFT_END();
}
WEFT_FUTURE(greedy, struct greedy, WEFT_NO_DROP);

static void budget_case(weft_rt *rt)
{
	atomic_int stop = 0;
	atomic_long leaves = 0;
	long seen = -1;
	weft_join *g, *o;

	cr_assert_eq(WEFT_SPAWN(rt, greedy, &g,
				{ .stop = &stop, .leaves = &leaves }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, setter, &o,
				{ .flag = &stop, .observe = &leaves,
				  .seen = &seen }),
		     0);
	cr_assert_eq(join_on(rt, o), 7);
	cr_assert_eq(join_on(rt, g), 0);
	weft_join_drop(g);
	weft_join_drop(o);
	weft_rt_destroy(rt);
	/* the greedy task ran first and used its whole budget */
	cr_assert_geq(seen, (long)WEFT_COOP_BUDGET);
}

Test(fairness, budget_forces_an_always_ready_task_to_yield_current_thread,
     .timeout = RT_TIMEOUT)
{
	budget_case(rt_current());
}

Test(fairness, budget_forces_an_always_ready_task_to_yield_one_worker,
     .timeout = RT_TIMEOUT)
{
	budget_case(rt_multi(1));
}

Test(fairness, coop_proceed_grants_the_budget_then_yields)
{
	tcx k;
	weft_cx *cx = tcx_init(&k);

	for (unsigned i = 0; i < WEFT_COOP_BUDGET; i++)
		cr_assert(weft_coop_proceed(cx));
	cr_assert_eq(atomic_load(&k.t.wakes), 0);
	cr_assert_not(weft_coop_proceed(cx));
	cr_assert_eq(atomic_load(&k.t.wakes), 1, "a yield wakes the task");
	cr_assert_neq(cx->flags & WEFT__CX_YIELD, 0);
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

/* ----------------------------------------- block_on future that yields */

struct bo_yielder {
	WEFT_ASYNC;
	weft_rt *rt;
	atomic_int flag;
	weft_join *j;
};

/* The block_on future itself spawns a task and yields until it ran. */
static weft_poll bo_yielder_poll(struct bo_yielder *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_SPAWN(f->rt, setter, &f->j, { .flag = &f->flag }))
		WEFT_RETURN(-1);
	while (!atomic_load(&f->flag))
		WEFT_YIELD();
	weft_join_drop(f->j);
	WEFT_RETURN(1);
	WEFT_END();
}
WEFT_FUTURE(bo_yielder, struct bo_yielder, WEFT_NO_DROP);

static void bo_yield_case(weft_rt *rt)
{
	struct bo_yielder f = { .rt = rt };

	cr_assert_eq(WEFT_BLOCK_ON(rt, bo_yielder, &f), 0);
	cr_assert_eq(f.res, 1);
	weft_rt_destroy(rt);
}

Test(fairness, block_on_future_yield_loop_lets_tasks_run_current_thread,
     .timeout = 30)
{
	bo_yield_case(rt_current());
}

Test(fairness, block_on_future_yield_loop_lets_tasks_run_multi_thread,
     .timeout = RT_TIMEOUT)
{
	bo_yield_case(rt_multi(1));
}
