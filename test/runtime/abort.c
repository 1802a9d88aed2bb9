/* test/runtime/abort.c - weft_join_abort at every point of a task's life:
 * before its first poll, while queued, while running (itself or another
 * thread aborting), while parked, after completion. In every case the
 * frame's drop function runs exactly once and the join reports -ECANCELED
 * (or, after completion, the output, untouched).
 */
#include "test/runtime/harness.h"
#include "runtime/internal.h"

static bool task_is_running(weft_join *j)
{
	return atomic_load(&weft__join_task(j)->state) & WEFT__RUNNING;
}

enum mode {
	YIELD_FOREVER,  /* WEFT_YIELD in a loop */
	PARK_ONCE,      /* hands a waker clone to *slot, parks; READY after */
	SPIN_THEN_YIELD,/* sets *running, waits for *release, yields forever */
	RETURN_AT_ONCE, /* READY 1 on the first poll */
	SPIN_THEN_RETURN,/* sets *running, waits for *release, READY 1 */
};

struct victim {
	WEFT_ASYNC;
	probe *p;
	enum mode mode;
	weft_waker *slot;
	atomic_int *running;
	atomic_int *release;
};

static weft_poll victim_poll(struct victim *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	switch (f->mode) {
	case YIELD_FOREVER:
		break;
	case PARK_ONCE:
		*f->slot = weft_waker_clone(&cx->waker);
		PARK();
		WEFT_RETURN(1);
	case SPIN_THEN_YIELD:
		atomic_store(f->running, 1);
		WAIT_UNTIL(atomic_load(f->release));
		break;
	case RETURN_AT_ONCE:
		WEFT_RETURN(1);
	case SPIN_THEN_RETURN:
		atomic_store(f->running, 1);
		WAIT_UNTIL(atomic_load(f->release));
		WEFT_RETURN(1);
	}
	for (;;)
		WEFT_YIELD();
	WEFT_END();
}

static void victim_drop(struct victim *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}

WEFT_FUTURE(victim, struct victim, victim_drop);

static weft_join *spawn_victim(weft_rt *rt, struct victim v)
{
	weft_join *j = NULL;

	cr_assert_eq(WEFT_SPAWN_FRAME(rt, victim, &j, &v), 0);
	return j;
}

static void assert_cancelled(weft_rt *rt, weft_join *j, probe *p, int polls)
{
	cr_assert_eq(join_on(rt, j), -ECANCELED);
	cr_assert(weft_join_is_finished(j));
	cr_assert_eq(atomic_load(&p->drops), 1, "drop ran %d times",
		     atomic_load(&p->drops));
	if (polls >= 0)
		cr_assert_eq(atomic_load(&p->polls), polls, "polled %d times",
			     atomic_load(&p->polls));
}

/* --------------------------------------------------- before first poll */

Test(abort, before_first_poll_current_thread, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	probe p = { 0 };
	weft_join *j = spawn_victim(rt, (struct victim){ .p = &p,
							  .mode = RETURN_AT_ONCE });

	/* nothing runs before block_on in this flavour */
	weft_join_abort(j);
	weft_join_abort(j);  /* twice: no effect */
	assert_cancelled(rt, j, &p, 0);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.drops), 1);
}

Test(abort, before_first_poll_while_the_worker_is_busy, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(1);
	probe bp = { 0 }, p = { 0 };
	atomic_int running = 0, release = 0;
	weft_join *blocker, *j;

	blocker = spawn_victim(rt, (struct victim){ .p = &bp,
		.mode = SPIN_THEN_YIELD, .running = &running,
		.release = &release });
	cr_assert(WAIT_UNTIL(atomic_load(&running)));
	/* the only worker is inside the blocker's poll */
	j = spawn_victim(rt, (struct victim){ .p = &p, .mode = RETURN_AT_ONCE });
	weft_join_abort(j);
	atomic_store(&release, 1);
	assert_cancelled(rt, j, &p, 0);
	weft_join_abort(blocker);
	assert_cancelled(rt, blocker, &bp, -1);
	weft_join_drop(j);
	weft_join_drop(blocker);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------- while queued */

struct queued_orch {
	WEFT_ASYNC;
	weft_rt *rt;
	probe *p;
	weft_join *j;
	int *polls_at_abort;
	weft_join **jout;
};

/* Spawns a yield-forever task, lets it run once, and aborts it while it
 * sits in the run queue behind us. */
static weft_poll queued_orch_poll(struct queued_orch *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->j = spawn_victim(f->rt, (struct victim){ .p = f->p,
						     .mode = YIELD_FOREVER });
	while (atomic_load(&f->p->polls) < 3)
		WEFT_YIELD();
	/* current-thread: we are running, so the victim is queued */
	*f->polls_at_abort = atomic_load(&f->p->polls);
	*f->jout = f->j;
	weft_join_abort(f->j);
	WEFT_RETURN(0);
	WEFT_END();
}
WEFT_FUTURE(queued_orch, struct queued_orch, WEFT_NO_DROP);

Test(abort, while_queued, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	probe p = { 0 };
	int polls_at_abort = -1;
	weft_join *o, *j = NULL;

	/* the orchestrator is a task (not the block_on future) so that it
	 * and the victim share the run queue */
	cr_assert_eq(WEFT_SPAWN(rt, queued_orch, &o,
				{ .rt = rt, .p = &p, .jout = &j,
				  .polls_at_abort = &polls_at_abort }),
		     0);
	cr_assert_eq(join_on(rt, o), 0);
	weft_join_drop(o);
	cr_assert_not_null(j);
	cr_assert_neq(atomic_load(&weft__join_task(j)->state) &
			      WEFT__NOTIFIED, 0, "victim was queued");
	assert_cancelled(rt, j, &p, polls_at_abort);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------ while running */

/* Waits for its handle to be published, then aborts itself. */
struct self_aborter {
	WEFT_ASYNC;
	probe *p;
	_Atomic(weft_join *) *self;
	bool park;
};

static weft_poll self_aborter_poll(struct self_aborter *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	while (!atomic_load(f->self))
		WEFT_YIELD();
	weft_join_abort(atomic_load(f->self));
	if (f->park)
		PARK();        /* no waker kept anywhere: only the abort */
	else
		WEFT_YIELD();
	WEFT_RETURN(1);  /* never reached: cancelled at the return */
	WEFT_END();
}

static void self_aborter_drop(struct self_aborter *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(self_aborter, struct self_aborter, self_aborter_drop);

static void self_abort_rounds(weft_rt *rt, bool park)
{
	for (int round = 0; round < 50; round++) {
		probe p = { 0 };
		_Atomic(weft_join *) self = NULL;
		weft_join *j;
		int polls;

		cr_assert_eq(WEFT_SPAWN(rt, self_aborter, &j,
					{ .p = &p, .self = &self,
					  .park = park }),
			     0);
		atomic_store(&self, j);
		cr_assert_eq(join_on(rt, j), -ECANCELED);
		cr_assert_eq(atomic_load(&p.drops), 1);
		polls = atomic_load(&p.polls);
		/* the poll that aborted was the last one */
		cr_assert_geq(polls, 1);
		weft_join_drop(j);
		cr_assert_eq(atomic_load(&p.polls), polls);
	}
	weft_rt_destroy(rt);
}

Test(abort, task_aborting_itself_then_parking_is_cancelled_current_thread,
     .timeout = RT_TIMEOUT)
{
	self_abort_rounds(rt_current(), true);
}

Test(abort, task_aborting_itself_then_yielding_is_cancelled_current_thread,
     .timeout = RT_TIMEOUT)
{
	self_abort_rounds(rt_current(), false);
}

Test(abort, task_aborting_itself_then_parking_is_cancelled_multi_thread,
     .timeout = RT_TIMEOUT)
{
	self_abort_rounds(rt_multi(2), true);
}

Test(abort, task_aborting_itself_then_yielding_is_cancelled_multi_thread,
     .timeout = RT_TIMEOUT)
{
	self_abort_rounds(rt_multi(2), false);
}

Test(abort, another_thread_aborts_while_task_runs, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);

	for (int round = 0; round < 20; round++) {
		probe p = { 0 };
		atomic_int running = 0, release = 0;
		weft_join *j = spawn_victim(rt, (struct victim){ .p = &p,
			.mode = SPIN_THEN_YIELD, .running = &running,
			.release = &release });

		cr_assert(WAIT_UNTIL(atomic_load(&running)));
		cr_assert(task_is_running(j));
		weft_join_abort(j);
		cr_assert_not(weft_join_is_finished(j),
			      "cancelled at the next poll point, not now");
		atomic_store(&release, 1);
		/* the poll in progress was its last */
		assert_cancelled(rt, j, &p, 1);
		weft_join_drop(j);
	}
	weft_rt_destroy(rt);
}

/* An abort that arrives during the poll that completes the task has no
 * next poll point to act at: the task finished, its output stands. */
Test(abort, during_the_completing_poll_keeps_the_output, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);

	for (int round = 0; round < 10; round++) {
		probe p = { 0 };
		atomic_int running = 0, release = 0;
		weft_join *j = spawn_victim(rt, (struct victim){ .p = &p,
			.mode = SPIN_THEN_RETURN, .running = &running,
			.release = &release });

		cr_assert(WAIT_UNTIL(atomic_load(&running)));
		weft_join_abort(j);
		atomic_store(&release, 1);
		cr_assert_eq(join_on(rt, j), 1);
		cr_assert_eq(atomic_load(&p.drops), 1);
		cr_assert_eq(atomic_load(&p.polls), 1);
		weft_join_drop(j);
	}
	weft_rt_destroy(rt);
}

/* -------------------------------------------------------- while parked */

Test(abort, while_parked_with_waker_held_elsewhere, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);

	for (int round = 0; round < 20; round++) {
		probe p = { 0 };
		weft_waker slot = WEFT_WAKER_NONE;
		_Atomic(weft_waker *) slotp = &slot;
		weft_join *j = spawn_victim(rt, (struct victim){ .p = &p,
			.mode = PARK_ONCE, .slot = atomic_load(&slotp) });

		cr_assert(WAIT_UNTIL(atomic_load(&p.polls) == 1 &&
				     !task_is_running(j)));
		weft_join_abort(j);
		assert_cancelled(rt, j, &p, 1);
		/* the held waker outlives the task's end: waking it now does
		 * nothing, dropping it releases the task's last waker ref */
		weft_waker_wake_by_ref(&slot);
		weft_waker_wake(&slot);
		cr_assert_eq(atomic_load(&p.polls), 1);
		weft_join_drop(j);
	}
	weft_rt_destroy(rt);
}

struct parked_orch {
	WEFT_ASYNC;
	weft_rt *rt;
	probe *p;
	weft_waker *slot;
	weft_join **jout;
	weft_join *j;
};

static weft_poll parked_orch_poll(struct parked_orch *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->j = spawn_victim(f->rt, (struct victim){ .p = f->p,
						     .mode = PARK_ONCE,
						     .slot = f->slot });
	while (!weft_waker_is_set(f->slot))
		WEFT_YIELD();
	*f->jout = f->j;
	weft_join_abort(f->j);
	WEFT_RETURN(0);
	WEFT_END();
}
WEFT_FUTURE(parked_orch, struct parked_orch, WEFT_NO_DROP);

Test(abort, while_parked_current_thread, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	probe p = { 0 };
	weft_waker slot = WEFT_WAKER_NONE;
	weft_join *o, *j = NULL;

	cr_assert_eq(WEFT_SPAWN(rt, parked_orch, &o,
				{ .rt = rt, .p = &p, .slot = &slot,
				  .jout = &j }),
		     0);
	cr_assert_eq(join_on(rt, o), 0);
	weft_join_drop(o);
	assert_cancelled(rt, j, &p, 1);
	weft_waker_drop(&slot);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

/* ----------------------------------------------------- after completion */

Test(abort, after_completion_has_no_effect, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	weft_join *j = spawn_victim(rt, (struct victim){ .p = &p,
							  .mode = RETURN_AT_ONCE });

	cr_assert(WAIT_UNTIL(weft_join_is_finished(j)));
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j), 1);
	cr_assert_eq(atomic_load(&p.drops), 1);
	cr_assert_eq(atomic_load(&p.polls), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------- abort, then detach */

Test(abort, abort_then_drop_handle_still_cancels, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p[100] = { 0 };

	for (int i = 0; i < 100; i++) {
		weft_join *j = spawn_victim(rt, (struct victim){ .p = &p[i],
			.mode = YIELD_FOREVER });

		weft_join_abort(j);
		weft_join_drop(j);
	}
	for (int i = 0; i < 100; i++)
		cr_assert(WAIT_UNTIL(atomic_load(&p[i].drops) == 1));
	weft_rt_destroy(rt);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(atomic_load(&p[i].drops), 1);
}

/* ------------------------------------ aborts racing with everything */

struct storm {
	weft_join **j;
	int n;
};

static void *abort_all_thread(void *arg)
{
	struct storm *s = arg;

	for (int i = s->n - 1; i >= 0; i--) {
		weft_join_abort(s->j[i]);
		if (i % 8 == 0)
			sched_yield();
	}
	return NULL;
}

Test(abort, foreign_aborts_racing_polls_and_completion, .timeout = RT_TIMEOUT)
{
	enum { N = 2000 };
	weft_rt *rt = rt_multi(2);
	probe *p = calloc(N, sizeof(*p));
	weft_join **j = calloc(N, sizeof(*j));
	struct storm s = { j, N };
	pthread_t th;
	int cancelled = 0;

	for (int i = 0; i < N; i++)
		j[i] = spawn_victim(rt, (struct victim){ .p = &p[i],
			.mode = i % 2 ? RETURN_AT_ONCE : YIELD_FOREVER });
	cr_assert_eq(pthread_create(&th, NULL, abort_all_thread, &s), 0);
	pthread_join(th, NULL);
	for (int i = 0; i < N; i++) {
		intptr_t res = join_on(rt, j[i]);

		/* a finished task's output is 1 */
		cr_assert(res == 1 || res == -ECANCELED, "res %ld", (long)res);
		if (i % 2 == 0)
			cr_assert_eq(res, -ECANCELED, "yield-forever task %d",
				     i);
		if (res == -ECANCELED)
			cancelled++;
		cr_assert_eq(atomic_load(&p[i].drops), 1, "task %d dropped %d",
			     i, atomic_load(&p[i].drops));
		weft_join_drop(j[i]);
	}
	cr_assert_geq(cancelled, N / 2);
	weft_rt_destroy(rt);
	free(j);
	free(p);
}
