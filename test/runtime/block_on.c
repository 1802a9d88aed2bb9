/* test/runtime/block_on.c - weft_block_on in both flavours: its output,
 * its errors (-EINVAL, -EDEADLK from a worker, -ESHUTDOWN), the
 * current-thread flavour running tasks only inside block_on, and a spawn
 * from a foreign thread waking a parked current-thread block_on.
 */
#include "test/runtime/harness.h"

struct value_fut {
	WEFT_ASYNC;
	intptr_t v;
	int yields;
	int i;
};

static weft_poll value_fut_poll(struct value_fut *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->yields; f->i++)
		WEFT_YIELD();
	WEFT_RETURN(f->v);
	WEFT_END();
}
WEFT_FUTURE(value_fut, struct value_fut, WEFT_NO_DROP);

Test(block_on, multi_thread_returns_the_output, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);

	for (int y = 0; y < 5; y++) {
		struct value_fut f = { .v = 100 + y, .yields = y };

		cr_assert_eq(WEFT_BLOCK_ON(rt, value_fut, &f), 0);
		cr_assert_eq(f.res, 100 + y);
	}
	weft_rt_destroy(rt);
}

Test(block_on, current_thread_returns_the_output, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	struct value_fut f = { .v = -5, .yields = 3 };

	cr_assert_eq(weft_rt_workers(rt), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, value_fut, &f), 0);
	cr_assert_eq(f.res, -5);
	weft_rt_destroy(rt);
}

Test(block_on, null_arguments_return_einval)
{
	weft_rt *rt = rt_current();
	struct value_fut f = { .res = 3 };
	weft_future_type no_poll = { 0 };

	cr_assert_eq(weft_block_on(NULL, &value_fut_future, &f), -EINVAL);
	cr_assert_eq(weft_block_on(rt, NULL, &f), -EINVAL);
	cr_assert_eq(weft_block_on(rt, &no_poll, &f), -EINVAL);
	cr_assert_eq(weft_block_on(rt, &value_fut_future, NULL), -EINVAL);
	cr_assert_eq(f.res, 3, "not polled");
	weft_rt_destroy(rt);
}

Test(block_on, after_shutdown_returns_eshutdown)
{
	weft_rt *rt = rt_multi(1);
	struct value_fut f = { .v = 1, .res = 99 };

	weft_rt_shutdown(rt);
	cr_assert_eq(WEFT_BLOCK_ON(rt, value_fut, &f), -ESHUTDOWN);
	cr_assert_eq(f.res, 99, "not polled");
	weft_rt_destroy(rt);
}

/* A task that calls block_on on its own runtime. */
struct nested {
	WEFT_ASYNC;
	weft_rt *rt;
};

static weft_poll nested_poll(struct nested *f, weft_cx *cx)
{
	struct value_fut inner = { .v = 1 };
	int rc;

	WEFT_BEGIN(f, cx);
	rc = WEFT_BLOCK_ON(f->rt, value_fut, &inner);
	WEFT_RETURN(rc);
	WEFT_END();
}
WEFT_FUTURE(nested, struct nested, WEFT_NO_DROP);

static void deadlock_case(weft_rt *rt)
{
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, nested, &j, { .rt = rt }), 0);
	cr_assert_eq(join_on(rt, j), -EDEADLK);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

Test(block_on, from_a_worker_returns_edeadlk, .timeout = RT_TIMEOUT)
{
	deadlock_case(rt_multi(2));
}

Test(block_on, from_a_task_inside_current_thread_block_on_returns_edeadlk,
     .timeout = RT_TIMEOUT)
{
	deadlock_case(rt_current());
}

/* ------------------------------------------------ current-thread flavour */

struct where {
	WEFT_ASYNC;
	atomic_int *ran;
	pthread_t *thread;
};

static weft_poll where_poll(struct where *f, weft_cx *cx)
{
	*f->thread = pthread_self();
	atomic_fetch_add(f->ran, 1);
	return WEFT_READY;
}
WEFT_FUTURE(where, struct where, WEFT_NO_DROP);

Test(block_on, current_thread_runs_tasks_only_inside_block_on,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	atomic_int ran = 0;
	pthread_t th[8];
	weft_join *j[8];

	for (int i = 0; i < 8; i++)
		cr_assert_eq(WEFT_SPAWN(rt, where, &j[i],
					{ .ran = &ran, .thread = &th[i] }),
			     0);
	/* no thread exists that could run them (a wrong runtime would get a
	 * chance to during this nap; passing never depends on it) */
	usleep(20000);
	cr_assert_eq(atomic_load(&ran), 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(join_on(rt, j[i]), 0);
		cr_assert(pthread_equal(th[i], pthread_self()),
			  "task ran on the block_on thread");
		weft_join_drop(j[i]);
	}
	cr_assert_eq(atomic_load(&ran), 8);
	weft_rt_destroy(rt);
}

/* The block_on future starts a foreign thread that spawns a task; the
 * future waits on a gate only that task opens. If the spawn did not wake
 * the parked block_on thread, nothing would ever open the gate. */
struct foreign_spawn_ctx {
	weft_rt *rt;
	gate g;
	int delay_us;
	atomic_int spawn_rc;
};

struct opener {
	WEFT_ASYNC;
	gate *g;
};

static weft_poll opener_poll(struct opener *f, weft_cx *cx)
{
	gate_open(f->g);
	return WEFT_READY;
}
WEFT_FUTURE(opener, struct opener, WEFT_NO_DROP);

static void *foreign_spawner(void *arg)
{
	struct foreign_spawn_ctx *c = arg;

	if (c->delay_us)
		usleep((useconds_t)c->delay_us);
	atomic_store(&c->spawn_rc,
		     WEFT_SPAWN(c->rt, opener, NULL, { .g = &c->g }));
	return NULL;
}

struct spawn_waiter {
	WEFT_ASYNC;
	struct foreign_spawn_ctx *c;
	pthread_t th;
};

static weft_poll spawn_waiter_poll(struct spawn_waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (pthread_create(&f->th, NULL, foreign_spawner, f->c))
		WEFT_RETURN(-1);
	WEFT_AWAIT(gate_poll(&f->c->g, cx));
	WEFT_RETURN(1);
	WEFT_END();
}
WEFT_FUTURE(spawn_waiter, struct spawn_waiter, WEFT_NO_DROP);

Test(block_on, current_thread_woken_by_spawn_from_foreign_thread,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();

	for (int round = 0; round < 20; round++) {
		struct foreign_spawn_ctx c = { .rt = rt,
					       .delay_us = (round % 5) * 2000 };
		struct spawn_waiter f = { .c = &c };

		gate_init(&c.g);
		atomic_init(&c.spawn_rc, 1);
		cr_assert_eq(WEFT_BLOCK_ON(rt, spawn_waiter, &f), 0);
		cr_assert_eq(f.res, 1);
		pthread_join(f.th, NULL);
		cr_assert_eq(atomic_load(&c.spawn_rc), 0);
		gate_destroy(&c.g);
	}
	weft_rt_destroy(rt);
}

/* A waker clone kept past block_on's return stays valid. */
struct waker_keeper {
	WEFT_ASYNC;
	weft_waker *keep;
};

static weft_poll waker_keeper_poll(struct waker_keeper *f, weft_cx *cx)
{
	*f->keep = weft_waker_clone(&cx->waker);
	return WEFT_READY;
}
WEFT_FUTURE(waker_keeper, struct waker_keeper, WEFT_NO_DROP);

static void keeper_case(weft_rt *rt)
{
	weft_waker keep = WEFT_WAKER_NONE;
	struct waker_keeper f = { .keep = &keep };

	cr_assert_eq(WEFT_BLOCK_ON(rt, waker_keeper, &f), 0);
	cr_assert(weft_waker_is_set(&keep));
	weft_waker_wake_by_ref(&keep);
	weft_waker_wake(&keep);  /* consumes the last reference */
	weft_rt_destroy(rt);
	rt_leak_check();
}

Test(block_on, waker_outliving_block_on_multi_thread, .timeout = RT_TIMEOUT)
{
	keeper_case(rt_multi(1));
}

Test(block_on, waker_outliving_block_on_current_thread, .timeout = RT_TIMEOUT)
{
	keeper_case(rt_current());
}

/* Two threads block_on the same multi-thread runtime at once. */
struct bo_thread {
	weft_rt *rt;
	int id;
	intptr_t out;
	int rc;
};

static void *bo_thread_main(void *arg)
{
	struct bo_thread *b = arg;
	struct value_fut f = { .v = b->id * 1000, .yields = 50 };

	b->rc = WEFT_BLOCK_ON(b->rt, value_fut, &f);
	b->out = f.res;
	return NULL;
}

Test(block_on, concurrent_callers_each_get_their_output, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct bo_thread b[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		b[i] = (struct bo_thread){ .rt = rt, .id = i + 1, .rc = 1 };
		cr_assert_eq(pthread_create(&th[i], NULL, bo_thread_main, &b[i]),
			     0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(b[i].rc, 0);
		cr_assert_eq(b[i].out, (i + 1) * 1000);
	}
	weft_rt_destroy(rt);
}

/* Reads weft_rt_current() inside its poll. */
struct whose_rt {
	WEFT_ASYNC;
	weft_rt *seen;
};

static weft_poll whose_rt_poll(struct whose_rt *f, weft_cx *cx)
{
	(void)cx;
	f->seen = weft_rt_current();
	return WEFT_READY;
}
WEFT_FUTURE(whose_rt, struct whose_rt, WEFT_NO_DROP);

Test(block_on, rt_current_names_the_runtime_on_block_on_threads,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt[2] = { rt_multi(2), rt_current() };

	for (int i = 0; i < 2; i++) {
		struct whose_rt f = { 0 };

		cr_assert_null(weft_rt_current());
		cr_assert_eq(WEFT_BLOCK_ON(rt[i], whose_rt, &f), 0);
		cr_assert_eq(f.seen, rt[i], "flavour %d", i);
		cr_assert_null(weft_rt_current(), "cleared after block_on");
		weft_rt_destroy(rt[i]);
	}
}

/* WEFT_BLOCK_ON_INIT: init and block_on in one expression. */
Test(block_on, block_on_init_initialises_then_runs, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(1);
	weft_join *j;
	weft_join_wait w;

	cr_assert_eq(WEFT_SPAWN(rt, value_fut, &j, { .v = 77, .yields = 2 }),
		     0);
	cr_assert_eq(WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j), 0);
	cr_assert_eq(w.res, 77);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}
