/* runtime/task.c - the task's state word: its transitions, reference
 * counting, running one poll of a task and completing it.
 *
 * The other task files (runtime/task.h lists them) hold the waker
 * (waker.c), join handles (join.c), spawn (spawn.c) and the owner lists
 * and freeing (owner.c); the transitions and memory-order pairs below are
 * the ones they all follow, and their comments refer to the pairs by
 * number.
 *
 * The state word (internal.h) changes only by CAS loops or single
 * fetch-ops, so every transition is one atomic step. Transitions:
 *
 *   spawn            -> NOTIFIED | refs(queue [+ join]) [| JOIN_INTEREST]
 *   run:  to_running   NOTIFIED -> RUNNING          (queue ref = run ref)
 *         to_idle      RUNNING -> idle, run ref dropped
 *                      RUNNING|NOTIFIED -> NOTIFIED, run ref = queue ref
 *                      CANCELLED seen -> cancel path
 *         complete     RUNNING -> COMPLETE [| CANCELLED], run ref dropped
 *   wake_by_ref      idle -> NOTIFIED, +1 ref, queued
 *                    RUNNING -> RUNNING|NOTIFIED (re-queued after poll)
 *                    NOTIFIED or COMPLETE -> unchanged
 *   wake (by value)  as wake_by_ref, consuming the waker's ref
 *   abort            idle -> NOTIFIED|CANCELLED (+1 ref, queued)
 *                    RUNNING or NOTIFIED -> |CANCELLED (|NOTIFIED)
 *   join waker       handle sets JOIN_WAKER after writing join_waker;
 *                    clears it (CAS, fails once COMPLETE) to replace it.
 *
 * Memory-order pairs:
 *  1. complete's RMW (acq_rel, release half) publishes the output ->
 *     join_wait_poll's acquire load of the state reads it.
 *  2. the handle's CAS setting JOIN_WAKER (release) publishes join_waker
 *     (and the box it may point to) -> complete's RMW (acquire half)
 *     reads it before waking.
 *  3. ref_dec's fetch_sub (acq_rel): every use of the task by a reference
 *     holder happens before the free by the last one.
 *  4. wake's CAS (acq_rel) orders what the waker wrote before the wake
 *     (a sent message) before the task's next poll, through the queue.
 */
#include <string.h>

#include "runtime/task.h"

void weft__task_ref_dec(struct weft__task *t)
{
	/* acq_rel: pair 3 */
	uint64_t prev = atomic_fetch_sub_explicit(&t->state, WEFT__REF_ONE,
						  memory_order_acq_rel);

	if (weft__refs(prev) == 1)
		weft__task_dealloc(t);
}

/* ------------------------------------------------------------- running */

/* Writes the task's end: output into the frame area, COMPLETE (and
 * CANCELLED), wakes the joiner, drops the run reference. */
static void task_complete(struct weft__task *t, intptr_t out, bool cancelled)
{
	uint64_t prev, n;
	bool detached;

	if (t->type->drop)
		t->type->drop(weft__task_frame(t));
	memcpy(weft__task_frame(t), &out, sizeof(out));
	prev = atomic_load_explicit(&t->state, memory_order_relaxed);
	for (;;) {
		/* an abort that came during the poll that returned READY
		 * found no later poll point: the output stands, so its
		 * CANCELLED bit is cleared */
		n = (prev & ~(WEFT__RUNNING | WEFT__NOTIFIED |
			      WEFT__CANCELLED)) |
		    WEFT__COMPLETE | (cancelled ? WEFT__CANCELLED : 0);
		/* with no join handle nobody reads the output or needs a
		 * wake: the run reference goes in the same step (one atomic
		 * instead of two on the common detached path) */
		detached = !(prev & WEFT__JOIN_INTEREST);
		if (detached)
			n -= WEFT__REF_ONE;
		/* acq_rel: pair 1 (release: output), pair 2 (acquire: the
		 * join waker written before JOIN_WAKER was set), and pair 3
		 * when the reference goes too */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &prev, n, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (detached) {
		if (weft__refs(n) == 0)
			weft__task_dealloc(t);
		return;
	}
	/* the handle's reference keeps the task (and join_waker) alive until
	 * our own reference goes, after the wake */
	if ((prev & WEFT__JOIN_WAKER))
		weft__join_waker_wake_by_ref(t, t->join_waker);
	weft__task_ref_dec(t);
}

/* The observability slow paths of a poll (weft__worker.obs). */
/* A poll with tracking or hooks (weft__worker.obs set): the common path
 * in weft__task_run tests the byte once. */
static __attribute__((noinline)) weft_poll poll_observed(struct weft__worker *w,
							 struct weft__task *t,
							 weft_cx *cx)
{
	weft_rt *rt = w->rt;
	struct weft__track *k = NULL;
	uint64_t t0 = 0;
	weft_poll p;

	if (rt->track) {
		k = weft__task_track(t);
		weft__stat_add(&k->polls, 1);
		/* copies: the watcher must not read the task itself, which
		 * may be freed as soon as the poll ends */
		atomic_store_explicit(&w->stats.cur_file, k->file,
				      memory_order_release);
		atomic_store_explicit(&w->stats.cur_line, k->line,
				      memory_order_release);
		/* the leaf that returns PENDING says what it waits on */
		w->note.word = 0;
		t0 = weft__rt_now_ns();
	}
	if (rt->obs.on_poll_begin)
		rt->obs.on_poll_begin(rt->obs.arg, (uintptr_t)t,
					  t->type);
	weft__poll_begin(&w->stats, (uintptr_t)t, t->type);
	p = t->type->poll(weft__task_frame(t), cx);
	weft__poll_end(&w->stats);
	if (k) {
		/* the run reference keeps the task alive until to_idle */
		weft__stat_add(&k->poll_ns, weft__rt_now_ns() - t0);
		if (p == WEFT_PENDING)
			atomic_store_explicit(&k->note, w->note.word,
					      memory_order_relaxed);
	}
	if (rt->obs.on_poll_end)
		rt->obs.on_poll_end(rt->obs.arg, (uintptr_t)t, t->type);
	/* relaxed: our own view of the task we run */
	if ((w->obs & WEFT__OBS_TERM) &&
	    (p == WEFT_READY ||
	     (atomic_load_explicit(&t->state, memory_order_relaxed) &
	      WEFT__CANCELLED)))
		rt->obs.on_task_terminate(rt->obs.arg, (uintptr_t)t,
					      t->type);
	return p;
}

static __attribute__((noinline)) void term_hook(struct weft__task *t)
{
	weft_rt *rt = weft__task_rt(t);

	rt->obs.on_task_terminate(rt->obs.arg, (uintptr_t)t, t->type);
}

enum to_idle { IDLE, IDLE_RESCHEDULE, IDLE_CANCEL, IDLE_DEALLOC };

static enum to_idle transition_to_idle(struct weft__task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint64_t n;
	enum to_idle r;

	for (;;) {
		if (s & WEFT__CANCELLED)
			return IDLE_CANCEL;
		if (s & WEFT__NOTIFIED) {
			n = s & ~WEFT__RUNNING;
			r = IDLE_RESCHEDULE;
		} else {
			n = (s & ~WEFT__RUNNING) - WEFT__REF_ONE;
			r = weft__refs(n) == 0 ? IDLE_DEALLOC : IDLE;
		}
		/* acq_rel: release publishes the frame's writes of this poll
		 * to the next poller (maybe another worker); acquire pairs
		 * with wakers' CAS (pair 4) */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acq_rel,
			    memory_order_relaxed))
			return r;
	}
}

/* Runs one poll of a task taken from a run queue (the caller's queue
 * reference becomes the run reference) on worker `worker` (never NULL:
 * run_task in worker.c is the one caller). */
void weft__task_run(struct weft__task *t, void *worker)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	struct weft__worker *w = worker;
	weft_cx cx;
	weft_poll p;

	/* to_running: NOTIFIED -> RUNNING. acquire: the previous poll's
	 * writes (released by its to_idle) and the wakers' (pair 4) */
	for (;;) {
		uint64_t n = (s | WEFT__RUNNING) & ~WEFT__NOTIFIED;

		if (s & WEFT__COMPLETE) {
			/* cannot be queued once complete; be safe */
			weft__task_ref_dec(t);
			return;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acquire,
			    memory_order_relaxed))
			break;
	}
	if (weft__task_owner(t) == &w->rt->foreign)
		weft__task_adopt(&w->owner, t);
	if (s & WEFT__CANCELLED) {
		if (__builtin_expect(w->obs & WEFT__OBS_TERM, 0))
			term_hook(t);
		task_complete(t, 0, true);
		return;
	}

	cx.waker = (weft_waker){ &weft__task_waker_vt, t };
	cx.budget = WEFT_COOP_BUDGET;
	cx.flags = 0;
	cx.worker = w;
	cx.rt = weft__task_rt(t);
	if (__builtin_expect(w->obs != 0, 0)) {
		p = poll_observed(w, t, &cx);
	} else {
		/* one load of the type: the release stores below would make
		 * the compiler load it again for the call */
		const weft_future_type *type = t->type;

		/* the long-poll detector's view and the poll count (the
		 * worker clears it when it stops running tasks: internal.h) */
		weft__poll_begin(&w->stats, (uintptr_t)t, type);
		p = type->poll(weft__task_frame(t), &cx);
	}
	if (p == WEFT_READY) {
		task_complete(t, weft_future_res(t->type, weft__task_frame(t)),
			      false);
		return;
	}
	switch (transition_to_idle(t)) {
	case IDLE:
		break;
	case IDLE_RESCHEDULE:
		/* woken during its own poll: a yield, or a wake from another
		 * thread; either way it goes behind the queued tasks */
		if (cx.budget == 0)
			weft__stat_add(&w->stats.budget_yields, 1);
		weft__worker_schedule(t, true);
		break;
	case IDLE_CANCEL:
		task_complete(t, 0, true);
		break;
	case IDLE_DEALLOC:
		/* nobody can wake it again: it is dropped unfinished */
		weft__task_dealloc(t);
		break;
	}
}
