/* test/runtime/driver.c - the runtime's side of the driver boundary
 * (runtime/driver.h), with a fake driver in place of the reactor:
 *   - start runs once, on the creating thread, before any worker thread,
 *     with the builder's io settings; a failing start fails the creation
 *     with its error and reason, and stop is not called; io disabled:
 *     no start; io enabled without a driver: -ENOTSUP;
 *   - stop runs once, at shutdown, after the worker threads are joined
 *     and every task was cancelled (its drop run), with spawn refused;
 *   - flush runs on the worker it names, between polls, never inside one:
 *     before a worker parks (what a task staged is flushed by the time
 *     its worker sleeps), at least every 61 ticks on a worker that never
 *     runs dry, and on the block_on thread before block_on returns
 *     (current-thread); nothing staged is lost;
 *   - the host functions a driver calls: worker index, driver state, and
 *     the wake batch waking tasks (and other wakers) from a driver thread.
 * Tasks "stage" work by counting it on their worker; the fake flush takes
 * the count, as the reactor hands a worker's staged submissions over.
 */
#include "test/runtime/harness.h"
#include "runtime/driver.h"
#include "runtime/internal.h"

enum { MAXW = 4 };

struct fake {
	weft_rt *rt;                 /* set by start */
	int start_ret;               /* what start returns */
	const char *start_msg;       /* and the reason it gives */
	atomic_int starts, stops, flushes;
	/* seen by start */
	unsigned nworkers;
	unsigned entries;
	bool normal_sched;
	bool start_on_creator;
	int threads_at_start;
	/* seen by stop */
	int threads_stopped_at_stop;
	int drops_at_stop;
	int spawn_at_stop;
	/* per worker */
	atomic_int staged[MAXW];
	atomic_int flushed[MAXW];
	atomic_int in_poll[MAXW];
	atomic_int flush_in_poll;    /* flushes that ran inside a poll */
	atomic_int flush_wrong_thread;
	atomic_int bad;              /* a callback or stage() got bad input */
	_Atomic(pthread_t) flush_thread; /* the latest flush's */
};

static struct fake F;
static pthread_t creator;
static atomic_int threads_started, threads_stopped;
static probe parked_probe;

static void on_start(void *arg)
{
	atomic_fetch_add(&threads_started, 1);
}

static void on_stop(void *arg)
{
	atomic_fetch_add(&threads_stopped, 1);
}

struct nop {
	WEFT_ASYNC_VOID;
};

static weft_poll nop_poll(struct nop *f, weft_cx *cx)
{
	return WEFT_READY;
}
WEFT_FUTURE(nop, struct nop, WEFT_NO_DROP);

static int fake_start(weft_rt *rt, const weft_io_opts *io, unsigned nworkers,
		      void **state)
{
	atomic_fetch_add(&F.starts, 1);
	F.rt = rt;  /* before any worker exists to call flush */
	F.nworkers = nworkers;
	F.entries = io->entries;
	F.normal_sched = io->normal_sched;
	F.start_on_creator = pthread_equal(pthread_self(), creator);
	F.threads_at_start = atomic_load(&threads_started);
	if (F.start_ret) {
		if (F.start_msg)
			weft__rt_set_create_error(rt, F.start_msg);
		return F.start_ret;
	}
	*state = &F;
	return 0;
}

static void fake_flush(void *state, unsigned worker)
{
	struct fake *f = state;

	/* on a worker thread: counted, asserted by the test */
	if (f != &F || worker >= MAXW) {
		atomic_fetch_add(&F.bad, 1);
		return;
	}
	atomic_fetch_add(&f->flushes, 1);
	if (weft__rt_worker_index(f->rt) != (int)worker)
		atomic_fetch_add(&f->flush_wrong_thread, 1);
	if (atomic_load(&f->in_poll[worker]))
		atomic_fetch_add(&f->flush_in_poll, 1);
	atomic_store(&f->flush_thread, pthread_self());
	atomic_fetch_add(&f->flushed[worker],
			 atomic_exchange(&f->staged[worker], 0));
}

static void fake_stop(void *state)
{
	if (state != &F)
		atomic_fetch_add(&F.bad, 1);
	atomic_fetch_add(&F.stops, 1);
	F.threads_stopped_at_stop = atomic_load(&threads_stopped);
	F.drops_at_stop = atomic_load(&parked_probe.drops);
	F.spawn_at_stop = WEFT_SPAWN(F.rt, nop, NULL, { 0 });
}

static const struct weft__driver_ops fake_ops = {
	.start = fake_start,
	.flush = fake_flush,
	.stop = fake_stop,
};

static int fake_create(weft_rt **rt, unsigned workers, bool current,
		       bool io)
{
	weft_rt_builder b;
	int ret;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.current_thread = current;
	b.no_pin = true;
	b.io.enable = io;
	b.io.entries = 77;
	b.io.normal_sched = true;
	b.on_thread_start = on_start;
	b.on_thread_stop = on_stop;
	creator = pthread_self();
	ret = weft__rt_create(rt, &b, NULL, &fake_ops);
	if (ret == 0)
		cr_assert_eq(F.rt, io ? *rt : NULL);
	return ret;
}

/* Stages one item on the calling worker, as a task submitting I/O (runs
 * on workers: a bad index is counted for the test to assert). */
static int stage(void)
{
	int w = weft__rt_worker_index(F.rt);

	if (w < 0 || w >= MAXW) {
		atomic_fetch_add(&F.bad, 1);
		return 0;
	}
	atomic_fetch_add(&F.staged[w], 1);
	return w;
}

/* What every test checks at its end. */
static void fake_checks(void)
{
	cr_assert_eq(atomic_load(&F.bad), 0);
	cr_assert_eq(atomic_load(&F.flush_in_poll), 0, "flush inside a poll");
	cr_assert_eq(atomic_load(&F.flush_wrong_thread), 0,
		     "flush off the worker it names");
}

/* --------------------------------------------------- start and stop */

/* Stages once, then waits on a gate that only shutdown ends. */
struct stager {
	WEFT_ASYNC;
	gate *g;
	probe *p;
	int w;
};

static weft_poll stager_poll(struct stager *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	f->w = stage();
	atomic_store(&F.in_poll[f->w], 1);
	/* still inside the poll: no flush may run on this worker now */
	sched_yield();
	atomic_store(&F.in_poll[f->w], 0);
	WEFT_AWAIT(gate_poll(f->g, cx));
	WEFT_END();
}

static void stager_drop(struct stager *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(stager, struct stager, stager_drop);

Test(driver, start_before_the_workers_stop_after_them, .timeout = RT_TIMEOUT)
{
	weft_rt *rt;
	gate g;

	gate_init(&g);
	cr_assert_eq(fake_create(&rt, 2, false, true), 0);
	cr_assert_eq(atomic_load(&F.starts), 1);
	cr_assert(F.start_on_creator, "start runs on the creating thread");
	cr_assert_eq(F.threads_at_start, 0, "start before any worker thread");
	cr_assert_eq(F.nworkers, 2);
	cr_assert_eq(F.entries, 77);
	cr_assert(F.normal_sched);
	cr_assert_eq(weft__rt_driver(rt), &F);
	cr_assert_eq(WEFT_SPAWN(rt, stager, NULL,
				{ .g = &g, .p = &parked_probe }), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&parked_probe.polls) == 1));
	cr_assert(WAIT_UNTIL(atomic_load(&threads_started) == 2));
	cr_assert_eq(atomic_load(&F.stops), 0);
	weft_rt_shutdown(rt);
	cr_assert_eq(atomic_load(&F.stops), 1);
	cr_assert_eq(F.threads_stopped_at_stop, 2,
		     "stop after every worker thread is joined");
	cr_assert_eq(F.drops_at_stop, 1, "stop after the tasks are cancelled");
	cr_assert_eq(F.spawn_at_stop, -ESHUTDOWN);
	cr_assert_null(weft__rt_driver(rt), "no driver state after stop");
	weft_rt_shutdown(rt);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&F.stops), 1, "stop runs once");
	cr_assert_eq(atomic_load(&F.starts), 1);
	fake_checks();
	gate_destroy(&g);
	rt_leak_check();
}

Test(driver, failing_start_fails_the_creation, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = (weft_rt *)(uintptr_t)1;

	F.start_ret = -EIO;
	F.start_msg = "fake: no device";
	cr_assert_eq(fake_create(&rt, 2, false, true), -EIO);
	cr_assert_null(rt);
	cr_assert_str_eq(weft_rt_create_error(), "fake: no device");
	cr_assert_eq(atomic_load(&F.starts), 1);
	cr_assert_eq(atomic_load(&F.stops), 0, "no stop after a failed start");
	cr_assert_eq(atomic_load(&threads_started), 0);
	/* without a reason of its own: the error's text */
	F.start_msg = NULL;
	cr_assert_eq(fake_create(&rt, 0, true, true), -EIO);
	cr_assert_neq(strstr(weft_rt_create_error(), strerror(EIO)), NULL,
		      "%s", weft_rt_create_error());
	cr_assert_eq(atomic_load(&F.stops), 0);
	rt_leak_check();
}

Test(driver, io_disabled_starts_no_driver, .timeout = RT_TIMEOUT)
{
	weft_rt_builder b;
	weft_rt *rt;

	cr_assert_eq(fake_create(&rt, 1, false, false), 0);
	cr_assert_null(weft__rt_driver(rt));
	cr_assert_eq(WEFT_SPAWN(rt, nop, NULL, { 0 }), 0);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&F.starts), 0);
	cr_assert_eq(atomic_load(&F.flushes), 0);
	cr_assert_eq(atomic_load(&F.stops), 0);
	/* enabled, but no driver to start */
	weft_rt_builder_init(&b);
	b.current_thread = true;
	rt = (weft_rt *)(uintptr_t)1;
	cr_assert_eq(weft__rt_create(&rt, &b, NULL, NULL), -ENOTSUP);
	cr_assert_null(rt);
	cr_assert_neq(weft_rt_create_error()[0], '\0');
	rt_leak_check();
}

/* ------------------------------------------------------ flush points */

/* True while rt's only worker is in the idle set's sleepers (idle.c): it
 * entered them in weft__worker_park, after the park's maintenance flush,
 * and leaves them before it polls anything again. */
static bool worker_parked(weft_rt *rt)
{
	bool parked;

	pthread_mutex_lock(&rt->idle.lock);
	parked = rt->idle.nsleepers == 1;
	pthread_mutex_unlock(&rt->idle.lock);
	return parked;
}

Test(driver, staged_work_is_flushed_before_the_worker_parks,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt;
	probe p = { 0 };
	gate g;

	gate_init(&g);
	cr_assert_eq(fake_create(&rt, 1, false, true), 0);
	for (int round = 1; round <= 20; round++) {
		/* the worker goes idle: once it is parked, what the task
		 * staged in its poll must have been handed over (nothing
		 * else would flush a sleeping worker's staging) */
		cr_assert_eq(WEFT_SPAWN(rt, stager, NULL, { .g = &g, .p = &p }),
			     0);
		cr_assert(WAIT_UNTIL(atomic_load(&p.polls) == round &&
				     worker_parked(rt)));
		cr_assert_eq(atomic_load(&F.staged[0]), 0,
			     "round %d: parked with work staged", round);
		cr_assert_eq(atomic_load(&F.flushed[0]), round);
	}
	fake_checks();
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.drops), 20);
	gate_destroy(&g);
	rt_leak_check();
}

/* Stages on every poll and yields, for `n` polls: its worker never runs
 * out of work, so only the fair-interval maintenance flushes it. Notes
 * the longest run of polls that found earlier work still staged. */
struct busy_stager {
	WEFT_ASYNC;
	int n, i;
	int unflushed_run, longest_run;
	int flushed_while_running;
};

static weft_poll busy_stager_poll(struct busy_stager *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->n; f->i++) {
		if (atomic_load(&F.staged[0])) {
			f->unflushed_run++;
			if (f->unflushed_run > f->longest_run)
				f->longest_run = f->unflushed_run;
		} else {
			if (f->i)
				f->flushed_while_running++;
			f->unflushed_run = 0;
		}
		atomic_store(&F.in_poll[0], 1);
		stage();
		atomic_store(&F.in_poll[0], 0);
		WEFT_YIELD();
	}
	WEFT_END();
}
WEFT_FUTURE(busy_stager, struct busy_stager, WEFT_NO_DROP);

Test(driver, a_busy_worker_hands_over_all_it_staged, .timeout = RT_TIMEOUT)
{
	weft_rt *rt;
	struct busy_stager f = { .n = 1000 };
	weft_join *j;

	cr_assert_eq(fake_create(&rt, 1, false, true), 0);
	cr_assert_eq(weft_spawn(rt, &busy_stager_future, &f, &j), 0);
	cr_assert_eq(join_on(rt, j), 0);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	fake_checks();
	cr_assert_eq(atomic_load(&F.flushed[0]) + atomic_load(&F.staged[0]),
		     1000);
	rt_leak_check();
}

/* The same with the result read back: the task publishes its counts. */
struct busy_report {
	WEFT_ASYNC;
	struct busy_stager s;
	struct busy_stager *out;
};

static weft_poll busy_report_poll(struct busy_report *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT(busy_stager_poll(&f->s, cx));
	*f->out = f->s;
	WEFT_END();
}
WEFT_FUTURE(busy_report, struct busy_report, WEFT_NO_DROP);

Test(driver, staged_work_waits_at_most_one_fair_interval,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt;
	struct busy_stager seen = { 0 };
	weft_join *j;

	cr_assert_eq(fake_create(&rt, 1, false, true), 0);
	cr_assert_eq(WEFT_SPAWN(rt, busy_report, &j,
				{ .s = { .n = 1000 }, .out = &seen }), 0);
	cr_assert_eq(join_on(rt, j), 0);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	/* one flush per 61 ticks (runtime/worker.c, FAIR_INTERVAL): work
	 * staged in a poll waits at most that many polls */
	cr_assert_leq(seen.longest_run, 61, "longest wait %d polls",
		      seen.longest_run);
	cr_assert_geq(seen.flushed_while_running, 1000 / 61 - 1,
		      "%d flushes while the task ran",
		      seen.flushed_while_running);
	fake_checks();
	rt_leak_check();
}

/* Current-thread: the block_on thread is worker 0; what its future and
 * its tasks stage is flushed, on that thread, before block_on returns. */
struct bo_stager {
	WEFT_ASYNC;
	int w;
	weft_join *j;
	weft_join_wait wait;
	gate *g;
	probe *p;
};

static weft_poll bo_stager_poll(struct bo_stager *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->w = stage();
	if (WEFT_SPAWN(weft_rt_current(), stager, &f->j,
		       { .g = f->g, .p = f->p }))
		WEFT_RETURN(-1);
	/* let the task run (and stage) once, then finish, staging once more
	 * in the poll that completes block_on */
	while (atomic_load(&f->p->polls) == 0)
		WEFT_YIELD();
	weft_join_drop(f->j);
	if (stage() != f->w)
		WEFT_RETURN(-2);
	WEFT_RETURN(f->w);
	WEFT_END();
}
WEFT_FUTURE(bo_stager, struct bo_stager, WEFT_NO_DROP);

Test(driver, block_on_flushes_before_it_returns_current_thread,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt;
	probe p = { 0 };
	gate g;

	gate_init(&g);
	cr_assert_eq(fake_create(&rt, 0, true, true), 0);
	cr_assert_eq(F.nworkers, 1);
	for (int round = 1; round <= 5; round++) {
		struct bo_stager f = { .g = &g, .p = &p, .res = 99 };

		atomic_store(&p.polls, 0);
		cr_assert_eq(WEFT_BLOCK_ON(rt, bo_stager, &f), 0);
		cr_assert_eq(f.res, 0, "the block_on thread is worker 0");
		cr_assert_eq(atomic_load(&F.staged[0]), 0,
			     "round %d: returned with work staged", round);
		cr_assert_eq(atomic_load(&F.flushed[0]), 3 * round);
		cr_assert(pthread_equal(atomic_load(&F.flush_thread),
					pthread_self()));
	}
	/* outside block_on this thread is no worker */
	cr_assert_eq(weft__rt_worker_index(rt), -1);
	fake_checks();
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.drops), 5);
	gate_destroy(&g);
	rt_leak_check();
}

/* ------------------------------------------------------- wake batch */

/* Hands a clone of its waker to *slot and waits for one wake. */
struct batch_waiter {
	WEFT_ASYNC;
	weft_waker *slot;
	atomic_int *ready;
};

static weft_poll batch_waiter_poll(struct batch_waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	*f->slot = weft_waker_clone(&cx->waker);
	atomic_fetch_add(f->ready, 1);
	PARK();
	WEFT_RETURN(7);
	WEFT_END();
}
WEFT_FUTURE(batch_waiter, struct batch_waiter, WEFT_NO_DROP);

struct batch_thread {
	weft_rt *rt;
	weft_waker *slots;
	int n;
	atomic_int *ready;
	tw *other;              /* a waker that is not a task's */
};

/* A driver's thread: once every waiter has handed over its waker, wakes
 * them all in one batch, half by value and half by reference, plus a
 * foreign waker, which the batch wakes directly. */
static void *batch_thread_main(void *arg)
{
	struct batch_thread *t = arg;
	struct weft__wake_batch b;
	weft_waker o = { &tw_vt, t->other };

	if (!WAIT_UNTIL(atomic_load(t->ready) == t->n))
		return NULL;            /* the joins then time out the test */
	weft__wake_batch_init(&b, t->rt);
	for (int i = 0; i < t->n; i++) {
		if (i % 2)
			weft__wake_batch_add(&b, &t->slots[i]);
		else
			weft__wake_batch_add_ref(&b, &t->slots[i]);
	}
	atomic_fetch_add(&t->other->live, 1);
	weft__wake_batch_add(&b, &o);
	weft__wake_batch_flush(&b);
	weft__wake_batch_flush(&b);     /* empty: nothing */
	return NULL;
}

static void batch_case(weft_rt *rt)
{
	enum { N = 16 };
	weft_waker slots[N] = { 0 };
	weft_join *j[N];
	atomic_int ready = 0;
	tw other = { 0 };
	struct batch_thread t = { rt, slots, N, &ready, &other };
	pthread_t th;

	for (int i = 0; i < N; i++)
		cr_assert_eq(WEFT_SPAWN(rt, batch_waiter, &j[i],
					{ .slot = &slots[i], .ready = &ready }),
			     0);
	cr_assert_eq(pthread_create(&th, NULL, batch_thread_main, &t), 0);
	/* current-thread: the joins run the waiters, then park until the
	 * batch's flush wakes the block_on thread */
	for (int i = 0; i < N; i++) {
		cr_assert_eq(join_on(rt, j[i]), 7);
		weft_join_drop(j[i]);
	}
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&other.wakes), 1);
	cr_assert_eq(atomic_load(&other.live), 0);
	weft_rt_destroy(rt);
	for (int i = 0; i < N; i++) {
		if (i % 2)
			cr_assert(!weft_waker_is_set(&slots[i]),
				  "a wake by value consumes the waker");
		weft_waker_drop(&slots[i]);
	}
	fake_checks();
	rt_leak_check();
}

Test(driver, wake_batch_from_a_driver_thread_multi_thread,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt;

	cr_assert_eq(fake_create(&rt, 2, false, true), 0);
	batch_case(rt);
}

Test(driver, wake_batch_from_a_driver_thread_current_thread,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt;

	cr_assert_eq(fake_create(&rt, 0, true, true), 0);
	batch_case(rt);
}
