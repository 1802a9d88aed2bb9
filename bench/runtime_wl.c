/* bench/runtime_wl.c - the workloads the runtime alone can run:
 * spawn_many (1), spawn_remote (2), yield_many (3) and chained_spawn (5) of
 * ../shared/peers/README.md, implemented from that text: same sizes, the
 * driver is a task on a worker, same timed region, count-and-signal, one
 * warm-up and 5 measured repetitions (1 with --quick), median.
 *
 * Shared state lives in one struct per workload, reached from every task
 * through a plain pointer in its frame (the peers use a leaked &'static or
 * package variables): no reference counting is added.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Sizes from the README; --n replaces the first of each. */
#define SPAWN_N 100000u
#define YIELD_TASKS 200u
#define YIELD_EACH 1000u
#define CHAIN_D 10000u

/* What a counted workload's driver and tasks share. */
struct counted {
	weft_rt *rt;
	uint64_t n;              /* tasks per repetition */
	uint64_t each;           /* yield_many: yields per task */
	struct bench_counter ctr;
	struct bench_samples samples;
};

static void counted_init(struct counted *st, const struct bench_opts *o,
			 uint64_t n)
{
	memset(st, 0, sizeof(*st));
	st->n = n;
	bench_samples_init(&st->samples, bench_reps(o, 5));
	bench_signal_init(&st->ctr.done);
	st->rt = bench_rt_create();
}

/* Checks that the last repetition's tasks each counted once, then frees
 * the runtime. After weft_rt_destroy every task has run or been dropped,
 * so a task that ran twice shows here. */
static void counted_finish(struct counted *st, uint64_t expect)
{
	uint64_t got;

	weft_rt_destroy(st->rt);
	got = atomic_load_explicit(&st->ctr.count, memory_order_relaxed);
	if (got != expect)
		bench_fail("%llu tasks counted, expected %llu",
			   (unsigned long long)got, (unsigned long long)expect);
	bench_signal_destroy(&st->ctr.done);
}

/* Called by the driver just after its wait completed. */
static void counted_check(struct counted *st, uint64_t expect)
{
	/* acquire: pairs with the last bump's acq_rel increment */
	uint64_t got = atomic_load_explicit(&st->ctr.count,
					    memory_order_acquire);

	if (got != expect)
		bench_fail("signalled at %llu of %llu tasks",
			   (unsigned long long)got, (unsigned long long)expect);
}

/* ----------------------------------------------------------- 1 spawn_many */

struct bump_task {
	WEFT_ASYNC;
	struct bench_counter *ctr;
};

static weft_poll bump_task_poll(struct bump_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	bench_counter_bump(f->ctr);
	WEFT_END();
}

WEFT_FUTURE(bump_task, struct bump_task, WEFT_NO_DROP);

struct spawn_many_driver {
	WEFT_ASYNC;
	struct counted *st;
	unsigned rep;
	uint64_t t0;
	struct bench_signal_wait wait;
};

static weft_poll spawn_many_driver_poll(struct spawn_many_driver *f,
					weft_cx *cx)
{
	struct counted *st = f->st;
	uint64_t i;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= st->samples.reps; f->rep++) {
		bench_counter_arm(&st->ctr, st->n);
		f->t0 = bench_now_ns();
		for (i = 0; i < st->n; i++)
			BENCH_SPAWN(st->rt, bump_task, { .ctr = &st->ctr });
		WEFT_AWAIT_INIT(bench_signal_wait, &f->wait, &st->ctr.done);
		bench_samples_add(&st->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / st->n);
		counted_check(st, st->n);
	}
	WEFT_END();
}

WEFT_FUTURE(spawn_many_driver, struct spawn_many_driver, WEFT_NO_DROP);

int bench_spawn_many(int argc, char **argv)
{
	struct bench_opts o;
	struct counted st;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	counted_init(&st, &o, bench_size(&o, SPAWN_N));
	BENCH_DRIVE(st.rt, spawn_many_driver, { .st = &st });
	counted_finish(&st, st.n);
	bench_emit("spawn_many", st.n, "", "ns_per_task",
		   bench_samples_median(&st.samples));
	return BENCH_EXIT_OK;
}

/* --------------------------------------------------------- 2 spawn_remote */

/* The spawner is a plain OS thread; the last task wakes it through a
 * mutex and condition variable. */
struct remote {
	weft_rt *rt;
	uint64_t n;
	_Atomic uint64_t count;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool flag;               /* under lock: the last task has run */
	struct bench_samples samples;
};

struct remote_task {
	WEFT_ASYNC;
	struct remote *st;
};

static weft_poll remote_task_poll(struct remote_task *f, weft_cx *cx)
{
	struct remote *st = f->st;

	WEFT_BEGIN(f, cx);
	/* acq_rel: count-and-signal, as bench_counter_bump */
	if (atomic_fetch_add_explicit(&st->count, 1, memory_order_acq_rel) + 1 ==
	    st->n) {
		pthread_mutex_lock(&st->lock);
		st->flag = true;
		pthread_cond_signal(&st->cv);
		pthread_mutex_unlock(&st->lock);
	}
	WEFT_END();
}

WEFT_FUTURE(remote_task, struct remote_task, WEFT_NO_DROP);

static double remote_rep(struct remote *st)
{
	uint64_t t0, i, got;

	/* relaxed: published to the tasks by weft_spawn's release */
	atomic_store_explicit(&st->count, 0, memory_order_relaxed);
	pthread_mutex_lock(&st->lock);
	st->flag = false;
	pthread_mutex_unlock(&st->lock);
	t0 = bench_now_ns();
	for (i = 0; i < st->n; i++)
		BENCH_SPAWN(st->rt, remote_task, { .st = st });
	pthread_mutex_lock(&st->lock);
	while (!st->flag)
		pthread_cond_wait(&st->cv, &st->lock);
	pthread_mutex_unlock(&st->lock);
	t0 = bench_now_ns() - t0;
	/* acquire: pairs with the last task's acq_rel increment */
	got = atomic_load_explicit(&st->count, memory_order_acquire);
	if (got != st->n)
		bench_fail("signalled at %llu of %llu tasks",
			   (unsigned long long)got, (unsigned long long)st->n);
	return (double)t0 / st->n;
}

static void *remote_spawner(void *arg)
{
	struct remote *st = arg;
	unsigned rep;

	for (rep = 0; rep <= st->samples.reps; rep++)
		bench_samples_add(&st->samples, rep, remote_rep(st));
	return NULL;
}

int bench_spawn_remote(int argc, char **argv)
{
	struct bench_opts o;
	struct remote st;
	pthread_t th;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	memset(&st, 0, sizeof(st));
	st.n = bench_size(&o, SPAWN_N);
	bench_samples_init(&st.samples, bench_reps(&o, 5));
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cv, NULL);
	st.rt = bench_rt_create();
	rc = pthread_create(&th, NULL, remote_spawner, &st);
	if (rc)
		bench_fail("pthread_create: %s", strerror(rc));
	pthread_join(th, NULL);
	weft_rt_destroy(st.rt);
	if (atomic_load_explicit(&st.count, memory_order_relaxed) != st.n)
		bench_fail("a task ran more than once");
	pthread_cond_destroy(&st.cv);
	pthread_mutex_destroy(&st.lock);
	bench_emit("spawn_remote", st.n, "", "ns_per_task",
		   bench_samples_median(&st.samples));
	return BENCH_EXIT_OK;
}

/* ----------------------------------------------------------- 3 yield_many */

struct yield_task {
	WEFT_ASYNC;
	struct counted *st;
	uint64_t i;
};

static weft_poll yield_task_poll(struct yield_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->st->each; f->i++)
		WEFT_YIELD();
	bench_counter_bump(&f->st->ctr);
	WEFT_END();
}

WEFT_FUTURE(yield_task, struct yield_task, WEFT_NO_DROP);

struct yield_driver {
	WEFT_ASYNC;
	struct counted *st;
	unsigned rep;
	uint64_t t0;
	struct bench_signal_wait wait;
};

static weft_poll yield_driver_poll(struct yield_driver *f, weft_cx *cx)
{
	struct counted *st = f->st;
	uint64_t i;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= st->samples.reps; f->rep++) {
		bench_counter_arm(&st->ctr, st->n);
		f->t0 = bench_now_ns();
		for (i = 0; i < st->n; i++)
			BENCH_SPAWN(st->rt, yield_task, { .st = st });
		WEFT_AWAIT_INIT(bench_signal_wait, &f->wait, &st->ctr.done);
		bench_samples_add(&st->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) /
					  (double)(st->n * st->each));
		counted_check(st, st->n);
	}
	WEFT_END();
}

WEFT_FUTURE(yield_driver, struct yield_driver, WEFT_NO_DROP);

int bench_yield_many(int argc, char **argv)
{
	struct bench_opts o;
	struct counted st;
	char extra[48];
	uint64_t total;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	/* --n gives the total yields; the task count stays 200 */
	total = bench_size(&o, (uint64_t)YIELD_TASKS * YIELD_EACH);
	counted_init(&st, &o, YIELD_TASKS);
	st.each = total / YIELD_TASKS ? total / YIELD_TASKS : 1;
	BENCH_DRIVE(st.rt, yield_driver, { .st = &st });
	counted_finish(&st, st.n);
	snprintf(extra, sizeof(extra), ",\"tasks\":%llu",
		 (unsigned long long)st.n);
	bench_emit("yield_many", st.n * st.each, extra, "ns_per_yield",
		   bench_samples_median(&st.samples));
	return BENCH_EXIT_OK;
}

/* -------------------------------------------------------- 5 chained_spawn */

/* Task k (k < D) spawns task k+1, handing the completion signal on, and
 * ends; task D raises it. The signal is the one-permit signal of
 * count-and-signal (Go's peer uses its capacity-1 channel the same way;
 * tokio a oneshot::Sender<()>). The signal can only come from the task
 * whose `left` is 1, so it proves the whole chain of D spawns ran. */
struct chain_task {
	WEFT_ASYNC;
	struct counted *st;
	uint64_t left;
};

/* declared first: the task spawns its own kind */
static weft_poll chain_task_poll(struct chain_task *f, weft_cx *cx);
WEFT_FUTURE(chain_task, struct chain_task, WEFT_NO_DROP);

static weft_poll chain_task_poll(struct chain_task *f, weft_cx *cx)
{
	struct counted *st = f->st;

	WEFT_BEGIN(f, cx);
	if (f->left == 1)
		bench_signal_raise(&st->ctr.done);
	else
		BENCH_SPAWN(st->rt, chain_task,
			    { .st = st, .left = f->left - 1 });
	WEFT_END();
}

struct chain_driver {
	WEFT_ASYNC;
	struct counted *st;
	unsigned rep;
	uint64_t t0;
	struct bench_signal_wait wait;
};

static weft_poll chain_driver_poll(struct chain_driver *f, weft_cx *cx)
{
	struct counted *st = f->st;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= st->samples.reps; f->rep++) {
		f->t0 = bench_now_ns();
		BENCH_SPAWN(st->rt, chain_task, { .st = st, .left = st->n });
		WEFT_AWAIT_INIT(bench_signal_wait, &f->wait, &st->ctr.done);
		bench_samples_add(&st->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / st->n);
	}
	WEFT_END();
}

WEFT_FUTURE(chain_driver, struct chain_driver, WEFT_NO_DROP);

int bench_chained_spawn(int argc, char **argv)
{
	struct bench_opts o;
	struct counted st;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	counted_init(&st, &o, bench_size(&o, CHAIN_D));
	BENCH_DRIVE(st.rt, chain_driver, { .st = &st });
	counted_finish(&st, 0);
	bench_emit("chained_spawn", st.n, "", "ns_per_spawn",
		   bench_samples_median(&st.samples));
	return BENCH_EXIT_OK;
}

/* ------------------------------------------- joinset and spawn_join */

/* Not in the peers README (issue 13): N tasks that each return their
 * index, spawned by the driver task and all collected, per repetition.
 * joinset: spawned into a weft_joinset, collected with weft_joinset_next
 * in completion order; spawn_join, the baseline: spawned with join
 * handles, each awaited with weft_join_wait in spawn order and dropped.
 * Both check the sum of the outputs. ns_per_task = the repetition's time
 * over N. */
#define GROUP_N 100000u

struct ret_task {
	WEFT_ASYNC;
	intptr_t v;
};

static weft_poll ret_task_poll(struct ret_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(f->v);
	WEFT_END();
}

WEFT_FUTURE(ret_task, struct ret_task, WEFT_NO_DROP);

struct group_st {
	uint64_t n;
	bool joinset;
	weft_rt *rt;
	struct bench_samples samples;
};

struct group_driver {
	WEFT_ASYNC;
	struct group_st *st;
	unsigned rep;
	uint64_t t0, i;
	intptr_t sum;
	weft_joinset *set;
	weft_join **j;
	weft_joinset_next next;
	weft_join_wait wait;
};

static weft_poll group_driver_poll(struct group_driver *f, weft_cx *cx)
{
	struct group_st *st = f->st;
	int rc;

	WEFT_BEGIN(f, cx);
	if (!st->joinset) {
		f->j = malloc(sizeof(*f->j) * st->n);
		if (!f->j)
			bench_fail("out of memory");
	}
	for (f->rep = 0; f->rep <= st->samples.reps; f->rep++) {
		f->sum = 0;
		f->t0 = bench_now_ns();
		if (st->joinset) {
			if (weft_joinset_create(&f->set, st->rt) < 0)
				bench_fail("weft_joinset_create");
			for (f->i = 0; f->i < st->n; f->i++) {
				rc = WEFT_JOINSET_SPAWN(f->set, ret_task,
							{ .v = (intptr_t)f->i });
				if (rc)
					bench_spawn_failed(rc);
			}
			for (;;) {
				WEFT_AWAIT_INIT(weft_joinset_next, &f->next,
						f->set);
				if (f->next.id == 0)
					break;
				f->sum += f->next.res;
			}
			weft_joinset_destroy(f->set);
		} else {
			for (f->i = 0; f->i < st->n; f->i++) {
				rc = WEFT_SPAWN(st->rt, ret_task, &f->j[f->i],
						{ .v = (intptr_t)f->i });
				if (rc)
					bench_spawn_failed(rc);
			}
			for (f->i = 0; f->i < st->n; f->i++) {
				WEFT_AWAIT_INIT(weft_join_wait, &f->wait,
						f->j[f->i]);
				weft_join_drop(f->j[f->i]);
				f->sum += f->wait.res;
			}
		}
		bench_samples_add(&st->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / st->n);
		if ((uint64_t)f->sum != st->n * (st->n - 1) / 2)
			bench_fail("outputs sum to %lld", (long long)f->sum);
	}
	free(f->j);
	WEFT_END();
}

WEFT_FUTURE(group_driver, struct group_driver, WEFT_NO_DROP);

static int group_bench(int argc, char **argv, bool joinset)
{
	struct bench_opts o;
	struct group_st st;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	memset(&st, 0, sizeof(st));
	st.n = bench_size(&o, GROUP_N);
	st.joinset = joinset;
	bench_samples_init(&st.samples, bench_reps(&o, 5));
	st.rt = bench_rt_create();
	BENCH_DRIVE(st.rt, group_driver, { .st = &st });
	weft_rt_destroy(st.rt);
	bench_emit(joinset ? "joinset" : "spawn_join", st.n, "",
		   "ns_per_task", bench_samples_median(&st.samples));
	return BENCH_EXIT_OK;
}

int bench_joinset(int argc, char **argv)
{
	return group_bench(argc, argv, true);
}

int bench_spawn_join(int argc, char **argv)
{
	return group_bench(argc, argv, false);
}
