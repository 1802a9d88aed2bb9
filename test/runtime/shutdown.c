/* test/runtime/shutdown.c - shutdown with queued, running-forever and
 * parked tasks: every drop function runs exactly once, join handles held
 * across shutdown (and destroy) report -ECANCELED, drop functions that
 * wake or spawn during shutdown are safe, weft_rt_destroy frees
 * everything (allocator hook count and LeakSanitizer), and handles and
 * wakers dropped after destroy are fine.
 */
#include "test/runtime/harness.h"

enum kind { PARKER, YIELDER };

struct forever {
	WEFT_ASYNC;
	probe *p;
	enum kind kind;
	weft_waker *slot;      /* PARKER: where its waker goes */
	weft_waker wake_on_drop; /* woken (by value) by the drop function */
	weft_rt *rt;           /* spawn attempted by the drop function */
	atomic_int *drop_spawn_rc;
};

static weft_poll forever_poll(struct forever *f, weft_cx *cx)
{
	/* a parker counts its first poll only after its waker is in the
	 * slot: the test thread reads the slot once it sees the count */
	if (f->kind != PARKER || f->weft_resume_)
		atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f);
	if (f->kind == PARKER) {
		*f->slot = weft_waker_clone(&cx->waker);
		atomic_fetch_add(&f->p->polls, 1);
		PARK(f);
	}
	for (;;)
		WEFT_YIELD(f, cx);
	WEFT_END(f);
}

static weft_poll nop_poll(void *f, weft_cx *cx)
{
	return WEFT_READY;
}

static void forever_drop(struct forever *f)
{
	static const weft_task_type nop = { nop_poll, NULL, 8, 8 };

	atomic_fetch_add(&f->p->drops, 1);
	weft_waker_wake(&f->wake_on_drop);
	if (f->rt)
		atomic_store(f->drop_spawn_rc, weft_spawn(f->rt, &nop, NULL, NULL));
}

static const weft_task_type forever_type = {
	(weft_poll_fn)forever_poll, (weft_drop_fn)forever_drop,
	sizeof(struct forever), _Alignof(struct forever)
};

static int cancelled_err(weft_join *j)
{
	tcx k;
	int err = 1;
	intptr_t out = 0;

	cr_assert_eq(weft_join_poll(j, tcx_init(&k), &err, &out), WEFT_READY);
	cr_assert_eq(atomic_load(&k.t.live), 0);
	return err;
}

static void queued_and_parked_case(unsigned workers, bool current)
{
	enum { N = 200 };
	calloc_hook h = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(workers, current, &a);
	probe *p = calloc(N, sizeof(*p));
	weft_waker *slots = calloc(N, sizeof(*slots));
	weft_join **j = calloc(N, sizeof(*j));

	for (int i = 0; i < N; i++) {
		struct forever init = { .p = &p[i],
					.kind = i % 2 ? PARKER : YIELDER,
					.slot = &slots[i] };

		/* a quarter detached: their only references are the queue's
		 * and the parked wakers */
		cr_assert_eq(weft_spawn(rt, &forever_type, &init,
					i % 4 < 2 ? &j[i] : NULL),
			     0);
	}
	if (!current)
		for (int i = 1; i < N; i += 2)
			cr_assert(WAIT_UNTIL(atomic_load(&p[i].polls) == 1));
	weft_rt_shutdown(rt);
	for (int i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&p[i].drops), 1, "task %d dropped %d",
			     i, atomic_load(&p[i].drops));
	for (int i = 0; i < N; i++)
		if (j[i])
			cr_assert_eq(cancelled_err(j[i]), -ECANCELED);
	/* wakers held elsewhere: waking finished tasks does nothing */
	for (int i = 0; i < N; i += 4)
		weft_waker_wake_by_ref(&slots[i]);
	weft_rt_destroy(rt);
	/* handles and wakers outlive destroy */
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			weft_waker_wake(&slots[i]);
		else
			weft_waker_drop(&slots[i]);
		if (j[i]) {
			if (i % 8 == 0)
				cr_assert_eq(cancelled_err(j[i]), -EINVAL,
					     "output already taken");
			weft_join_drop(j[i]);
		}
	}
	/* current-thread: nothing ever ran a task. Several threads: each
	 * parker was polled exactly once (the poll that parked it): nothing
	 * woke it, and shutdown cancels a parked task without polling it
	 * again. A yielder's count depends on the schedule: not checked. */
	for (int i = 0; i < N; i++) {
		cr_assert_eq(atomic_load(&p[i].drops), 1);
		if (current)
			cr_assert_eq(atomic_load(&p[i].polls), 0,
				     "task %d polled %d times", i,
				     atomic_load(&p[i].polls));
		else if (i % 2)
			cr_assert_eq(atomic_load(&p[i].polls), 1,
				     "parker %d polled %d times", i,
				     atomic_load(&p[i].polls));
	}
	cr_assert_eq(atomic_load(&h.live), 0, "%ld task allocations leaked",
		     atomic_load(&h.live));
	free(j);
	free(slots);
	free(p);
	rt_leak_check();
}

Test(shutdown, queued_and_parked_tasks_multi_thread, .timeout = RT_TIMEOUT)
{
	queued_and_parked_case(2, false);
}

Test(shutdown, queued_and_parked_tasks_one_worker, .timeout = RT_TIMEOUT)
{
	queued_and_parked_case(1, false);
}

Test(shutdown, never_polled_tasks_current_thread, .timeout = RT_TIMEOUT)
{
	queued_and_parked_case(0, true);
}

Test(shutdown, destroy_without_shutdown_cancels_everything,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p[50] = { 0 };
	weft_waker slots[50] = { 0 };
	weft_join *j[50];

	for (int i = 0; i < 50; i++) {
		struct forever init = { .p = &p[i], .kind = i % 2 ? PARKER
								 : YIELDER,
					.slot = &slots[i] };

		cr_assert_eq(weft_spawn(rt, &forever_type, &init, &j[i]), 0);
	}
	weft_rt_destroy(rt);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(atomic_load(&p[i].drops), 1);
		cr_assert(weft_join_is_finished(j[i]));
		cr_assert_eq(cancelled_err(j[i]), -ECANCELED);
		weft_join_drop(j[i]);
		weft_waker_drop(&slots[i]);
	}
	rt_leak_check();
}

/* Drop functions wake other tasks (whose drop may already have run or
 * not) and try to spawn while the runtime is shutting down. */
Test(shutdown, drop_functions_that_wake_and_spawn_are_safe,
     .timeout = RT_TIMEOUT)
{
	enum { N = 64 };
	weft_rt *rt = rt_multi(2);
	probe p[N] = { 0 };
	weft_waker slots[N] = { 0 };
	atomic_int rc[N];

	/* even tasks park; odd task i carries a clone of task i-1's waker
	 * and wakes it from its drop function, and tries to spawn */
	for (int i = 0; i < N; i++) {
		struct forever init = { .p = &p[i], .slot = &slots[i],
					.kind = i % 2 ? YIELDER : PARKER };

		atomic_init(&rc[i], 1);
		if (i % 2) {
			cr_assert(WAIT_UNTIL(atomic_load(&p[i - 1].polls) == 1));
			init.wake_on_drop = weft_waker_clone(&slots[i - 1]);
			init.rt = rt;
			init.drop_spawn_rc = &rc[i];
		}
		cr_assert_eq(weft_spawn(rt, &forever_type, &init, NULL), 0);
	}
	weft_rt_destroy(rt);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(atomic_load(&p[i].drops), 1, "task %d", i);
		if (i % 2)
			cr_assert_eq(atomic_load(&rc[i]), -ESHUTDOWN);
		weft_waker_drop(&slots[i]);
	}
	rt_leak_check();
}

/* A task parked on another task's join, both alive at shutdown: the join
 * waker fires into a cancelled task and nothing is polled again. */
struct join_waiter {
	WEFT_ASYNC;
	probe *p;
	weft_join_fut jf;
};

static weft_poll join_waiter_poll(struct join_waiter *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f);
	WEFT_AWAIT(f, weft_join_fut_poll(&f->jf, cx));
	WEFT_END(f);
}

static void join_waiter_drop(struct join_waiter *f)
{
	atomic_fetch_add(&f->p->drops, 1);
	weft_join_drop(f->jf.j);
}

Test(shutdown, task_parked_on_a_join_across_shutdown, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe pp = { 0 }, wp = { 0 };
	weft_waker slot = WEFT_WAKER_NONE;
	weft_join *target, *waiter;
	struct forever init = { .p = &pp, .kind = PARKER, .slot = &slot };

	cr_assert_eq(weft_spawn(rt, &forever_type, &init, &target), 0);
	cr_assert_eq(WEFT_SPAWN(rt, &waiter, join_waiter_poll, join_waiter_drop,
				struct join_waiter,
				{ .p = &wp, .jf = { .j = target } }),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&wp.polls) == 1 &&
			     atomic_load(&pp.polls) == 1));
	weft_rt_shutdown(rt);
	cr_assert_eq(atomic_load(&pp.drops), 1);
	cr_assert_eq(atomic_load(&wp.drops), 1);
	cr_assert_eq(atomic_load(&wp.polls), 1);
	cr_assert_eq(cancelled_err(waiter), -ECANCELED);
	weft_join_drop(waiter);
	weft_rt_destroy(rt);
	weft_waker_drop(&slot);
	rt_leak_check();
}

/* A thread blocked in block_on on a parked task's join returns with the
 * join cancelled when another thread shuts the runtime down. */
struct shut_arg {
	weft_rt *rt;
	probe *p;
};

static void *shutter(void *arg)
{
	struct shut_arg *s = arg;

	WAIT_UNTIL(atomic_load(&s->p->polls) == 1);
	usleep(10000);  /* let block_on park; passing does not depend on it */
	weft_rt_shutdown(s->rt);
	return NULL;
}

Test(shutdown, block_on_waiting_on_a_join_sees_ecanceled,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	weft_waker slot = WEFT_WAKER_NONE;
	struct forever init = { .p = &p, .kind = PARKER, .slot = &slot };
	struct shut_arg s = { rt, &p };
	weft_join *j;
	pthread_t th;

	cr_assert_eq(weft_spawn(rt, &forever_type, &init, &j), 0);
	cr_assert_eq(pthread_create(&th, NULL, shutter, &s), 0);
	cr_assert_eq(join_on(rt, j, NULL), -ECANCELED);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&p.drops), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	weft_waker_drop(&slot);
	rt_leak_check();
}

static atomic_int started, stopped;

static void on_start(void *arg)
{
	if (arg == (void *)&started)
		atomic_fetch_add(&started, 1);
}

static void on_stop(void *arg)
{
	atomic_fetch_add(&stopped, 1);
}

Test(shutdown, joins_every_worker_thread, .timeout = RT_TIMEOUT)
{
	weft_rt_builder b;
	weft_rt *rt;

	weft_rt_builder_init(&b);
	b.workers = 3;
	b.no_pin = true;
	b.enable_io = false;
	b.on_thread_start = on_start;
	b.on_thread_stop = on_stop;
	b.hook_arg = &started;
	b.thread_name = "rtest";
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	cr_assert_eq(weft_rt_workers(rt), 3);
	cr_assert(WAIT_UNTIL(atomic_load(&started) == 3));
	weft_rt_shutdown(rt);
	cr_assert_eq(atomic_load(&stopped), 3, "stop hooks ran before return");
	weft_rt_shutdown(rt);
	weft_rt_destroy(rt);
	weft_rt_destroy(NULL);
	weft_rt_shutdown(NULL);
	cr_assert_eq(atomic_load(&stopped), 3);
	rt_leak_check();
}

/* A task that calls weft_rt_shutdown on its own runtime would have to join
 * its own worker: the call does nothing and the runtime keeps working. */
struct self_shutdown {
	WEFT_ASYNC;
	weft_rt *rt;
};

static weft_poll self_shutdown_poll(struct self_shutdown *f, weft_cx *cx)
{
	static const weft_task_type nop_type = { nop_poll, NULL, 8, 8 };

	weft_join *j;
	int rc;

	WEFT_BEGIN(f);
	weft_rt_shutdown(f->rt);
	/* still running: spawning works */
	rc = weft_spawn(f->rt, &nop_type, NULL, &j);
	if (rc == 0)
		weft_join_drop(j);
	WEFT_RETURN(f, cx, rc);
	WEFT_END(f);
}

Test(shutdown, shutdown_from_a_task_is_refused, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	weft_join_fut jf = { 0 };

	cr_assert_eq(WEFT_SPAWN(rt, &jf.j, self_shutdown_poll, NULL,
				struct self_shutdown, { .rt = rt }), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, weft_join_fut_poll, &jf), 0);
	cr_assert_eq(jf.err, 0);
	cr_assert_eq(jf.out, 0, "spawn after a refused shutdown: %ld",
		     (long)jf.out);
	weft_join_drop(jf.j);
	weft_rt_destroy(rt);
	rt_leak_check();
}
