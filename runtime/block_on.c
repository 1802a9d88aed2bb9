/* runtime/block_on.c - running a future to completion on the calling
 * thread.
 *
 * The future is polled on the caller's thread with a waker pointing at a
 * small counted "parker" (heap-allocated, so a waker clone that outlives
 * block_on stays valid). Waking sets `notified`; the caller consumes it
 * with an exchange before each poll.
 *
 * Multi-thread flavour: the caller only polls its future; between polls it
 * spins briefly, then sleeps on the futex `notified`. Pair: the waker's
 * exchange of notified then load of `waiting` (seq_cst) against the
 * caller's store of `waiting` then load of `notified` (seq_cst), so either
 * the caller sees the notification or the waker sees it waiting.
 *
 * Current-thread flavour: the caller becomes worker 0 for the duration and
 * runs the queued tasks between polls of its future; it parks through the
 * normal idle protocol with `notified` as an extra wake condition, and the
 * waker unparks worker 0 (weft__idle_unpark_index).
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime/internal.h"

struct parker {
	_Atomic uint32_t refs;
	_Atomic uint32_t notified;   /* futex word in the multi-thread case */
	_Atomic uint32_t waiting;
	_Atomic uint32_t out;        /* counted out of rt->block_on_busy */
	weft_rt *rt;
	bool current_thread;
};

static const weft_waker_vtable parker_vt;

static void block_on_busy_in(struct parker *p);

static void parker_notify(struct parker *p)
{
	/* counted back in by whoever wakes it, before the wake: the paused
	 * clock must not see the runtime idle between a wake and the poll */
	block_on_busy_in(p);
	/* seq_cst: the Dekker pair in the module comment; also releases what
	 * the waking thread wrote before the wake to the next poll */
	if (atomic_exchange_explicit(&p->notified, 1, memory_order_seq_cst))
		return;
	if (p->current_thread) {
		struct weft__worker *w0 = &p->rt->workers[0];

		/* seq_cst: against weft__worker_park's store of the park
		 * word followed by its seq_cst fence and flag check */
		if (atomic_load_explicit(&w0->park_word, memory_order_seq_cst))
			weft__idle_unpark_index(p->rt, 0);
		return;
	}
	if (atomic_load_explicit(&p->waiting, memory_order_seq_cst))
		weft__futex_wake(&p->notified, 1);
}

static void parker_release(struct parker *p)
{
	/* acq_rel: the last holder frees (as a task's ref_dec) */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free(p);
}

static weft_waker parker_clone(const void *data)
{
	struct parker *p = (struct parker *)(uintptr_t)data;

	/* relaxed: made from a live reference */
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return (weft_waker){ &parker_vt, p };
}

static void parker_wake(void *data)
{
	parker_notify(data);
	parker_release(data);
}

static void parker_wake_by_ref(const void *data)
{
	parker_notify((struct parker *)(uintptr_t)data);
}

static void parker_drop(void *data)
{
	parker_release(data);
}

static const weft_waker_vtable parker_vt = {
	.clone = parker_clone,
	.wake = parker_wake,
	.wake_by_ref = parker_wake_by_ref,
	.drop = parker_drop,
};

static void wait_notified(struct parker *p)
{
	for (int i = 0; i < 2000; i++) {
		/* acquire: what the waker wrote before waking */
		if (atomic_load_explicit(&p->notified, memory_order_acquire))
			return;
		weft__cpu_relax();
	}
	/* seq_cst: the caller half of the Dekker pair */
	atomic_store_explicit(&p->waiting, 1, memory_order_seq_cst);
	while (!atomic_load_explicit(&p->notified, memory_order_seq_cst))
		weft__futex_wait(&p->notified, 0);
	atomic_store_explicit(&p->waiting, 0, memory_order_relaxed);
}

/* rt->block_on_busy counts the multi-thread block_on callers that are
 * running their future or have been woken (the paused clock must not
 * advance under a future that is still running, runtime.c's
 * host_is_idle). A caller counts itself out before it waits (out = 1);
 * the first of its waker and itself to take `out` back counts it in, so
 * a wake counts it in before the wake is visible. seq_cst on each: the
 * reactor's reading of the count follows the wakes it issued. */
static void block_on_busy_in(struct parker *p)
{
	if (!p->current_thread &&
	    atomic_exchange_explicit(&p->out, 0, memory_order_seq_cst))
		atomic_fetch_add_explicit(&p->rt->block_on_busy, 1,
					  memory_order_seq_cst);
}

static void block_on_busy_out(struct parker *p)
{
	atomic_store_explicit(&p->out, 1, memory_order_seq_cst);
	atomic_fetch_sub_explicit(&p->rt->block_on_busy, 1,
				  memory_order_seq_cst);
}

static int run_multi(struct parker *p, weft_rt *rt, weft_cx *cx,
		     const weft_future_type *type, void *frame)
{
	atomic_fetch_add_explicit(&rt->block_on_busy, 1, memory_order_seq_cst);
	for (;;) {
		/* acquire: see parker_notify */
		if (atomic_exchange_explicit(&p->notified, 0,
					     memory_order_acquire)) {
			cx->budget = WEFT_COOP_BUDGET;
			cx->flags = 0;
			if (type->poll(frame, cx) == WEFT_READY)
				break;
		}
		block_on_busy_out(p);
		wait_notified(p);
		block_on_busy_in(p);
	}
	/* out is 0 here: a late wake finds nothing to count in */
	atomic_fetch_sub_explicit(&rt->block_on_busy, 1, memory_order_seq_cst);
	return 0;
}

static int run_current(struct parker *p, weft_rt *rt, weft_cx *cx,
		       const weft_future_type *type, void *frame)
{
	struct weft__worker *w = &rt->workers[0];
	struct weft__worker *expect = NULL;

	/* acq_rel: one block_on at a time drives the current-thread worker */
	if (!atomic_compare_exchange_strong_explicit(
		    &rt->block_on_owner, &expect, w, memory_order_acq_rel,
		    memory_order_relaxed))
		return -EBUSY;
	weft__worker_enter(w);
	cx->worker = w;
	for (;;) {
		if (atomic_exchange_explicit(&p->notified, 0,
					     memory_order_acquire)) {
			weft_poll r;

			cx->budget = WEFT_COOP_BUDGET;
			cx->flags = 0;
			/* the long-poll detector sees the root future too (its
			 * address as the task, no spawn site) */
			if (rt->track)
				atomic_store_explicit(&w->stats.cur_file, NULL,
						      memory_order_release);
			weft__poll_begin(&w->stats, (uintptr_t)frame, type);
			r = type->poll(frame, cx);
			weft__poll_end(&w->stats);
			if (r == WEFT_READY)
				break;
			/* no `continue`: a future that woke itself (a yield)
			 * must still let one task run before its next poll,
			 * or it starves every spawned task */
		}
		if (weft__worker_run_once_ex(w, &p->notified))
			continue;
		if (atomic_load_explicit(&p->notified, memory_order_acquire))
			continue;
		weft__worker_park(w, &p->notified);
	}
	if (w->searching) {
		w->searching = false;
		weft__idle_end_searching(&rt->idle);
	}
	if (rt->head.driver)
		rt->driver_ops->flush(rt->head.driver, 0);
	weft__worker_leave(w);
	atomic_store_explicit(&rt->block_on_owner, NULL, memory_order_release);
	return 0;
}

/* The runtime a block_on on this thread is driving (multi-thread
 * flavour: the thread is no worker), for weft_rt_current. Saved and
 * restored, so a block_on inside a blocking-pool job of another runtime
 * reads right. */
static _Thread_local weft_rt *tls_block_on_rt;

weft_rt *weft__block_on_current(void)
{
	return tls_block_on_rt;
}

int weft_block_on(weft_rt *rt, const weft_future_type *type, void *frame)
{
	weft_rt *saved;
	struct weft__worker *cur = weft__worker_current();
	struct parker *p;
	weft_cx cx;
	int ret;

	if (!rt || !type || !type->poll || !frame)
		return -EINVAL;
	if (cur && cur->rt == rt)
		return -EDEADLK;
	/* relaxed: a best-effort early refusal */
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
		return -ESHUTDOWN;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	atomic_init(&p->refs, 1);
	atomic_init(&p->notified, 1);
	atomic_init(&p->waiting, 0);
	atomic_init(&p->out, 0);
	p->rt = rt;
	p->current_thread = rt->nthreads == 0;

	cx.waker = (weft_waker){ &parker_vt, p };
	cx.budget = WEFT_COOP_BUDGET;
	cx.flags = 0;
	cx.worker = NULL;
	cx.rt = rt;
	if (p->current_thread)
		ret = run_current(p, rt, &cx, type, frame);
	else {
		saved = tls_block_on_rt;
		tls_block_on_rt = rt;
		ret = run_multi(p, rt, &cx, type, frame);
		tls_block_on_rt = saved;
	}
	parker_release(p);
	return ret;
}
