/* runtime/shutdown.c - weft_rt_shutdown: stopping the workers, cancelling
 * every task, stopping the blocking pool and the I/O driver.
 *
 * Shutdown protocol (weft_rt_shutdown), on the caller's thread:
 *   1. under rt->lock set `shutdown` (once): from now on weft_spawn fails
 *      with -ESHUTDOWN (a foreign spawn that passed its check first is
 *      waited for: the Dekker pair on foreign_inflight, spawn.c);
 *   2. set `stop`, unpark every worker, join the worker threads (a worker
 *      finishes the poll it is in; no task is polled after this);
 *   3. stop the blocking pool (waits for running functions to return; a
 *      bounded shutdown waits until its deadline only, then detaches the
 *      jobs still running: blocking.c);
 *   4. set `stopped`: every free from now on takes rt->lock;
 *   5. take every queued task out of the run queues (deques, LIFO slots,
 *      injector) with its queue reference; then, list by list and 256
 *      tasks at a time (cancel_owner), take a reference on every
 *      unfinished task, mark them all COMPLETE|CANCELLED, and only then
 *      run their drop functions: wakes issued by drop functions find
 *      COMPLETE tasks and queue nothing; join handles report -ECANCELED;
 *      no memory is allocated;
 *   6. release the references of step 5 (tasks no one else holds are
 *      freed), then stop the I/O driver, which drops the wakers it held.
 *   7. under shut_mu mark the shutdown DONE with its result, wake every
 *      weft_rt_shutdown_wait and every caller waiting for it.
 * Memory still referenced afterwards (join handles, stray wakers) is freed
 * when its last reference goes; the runtime object itself is freed by the
 * last of weft_rt_destroy and those frees (weft__rt_maybe_free, runtime.c).
 *
 * One shutdown runs the protocol; any other caller (weft_rt_shutdown,
 * _timeout, a second background) waits for it to be DONE, except the
 * shutting-down thread itself (a drop function calling shutdown: it
 * returns at once). A background shutdown is the same protocol on a
 * thread of its own (bg_thread), joined by weft_rt_destroy.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "runtime/sigmask.h"
#include "runtime/task.h"

enum { SHUT_NONE, SHUT_RUNNING, SHUT_DONE };

static void threads_stop(weft_rt *rt)
{
	/* release: pairs with the acquire in worker.c's stopping() */
	atomic_store_explicit(&rt->stop, 1, memory_order_release);
	weft__idle_unpark_all(rt);
	for (unsigned i = 0; i < rt->nthreads; i++) {
		struct weft__worker *w = &rt->workers[i];

		if (w->started) {
			pthread_join(w->thread, NULL);
			w->started = false;
		}
	}
}

/* Tasks handled per round of cancel_owner: the batch lives on the
 * shutting-down thread's stack, so cancelling needs no allocation (it used
 * to grow an array of every live task and abort() when that failed). */
#define CANCEL_CHUNK 256

/* Takes a reference on t unless it is finished or at 0 references (being
 * freed by another thread: it will unlink itself under rt->lock, or reach
 * a remote_free stack, drained before the walk); under rt->lock. */
static bool hold_unfinished(struct weft__task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);

	do {
		if ((s >> WEFT__REF_SHIFT) == 0 || (s & WEFT__COMPLETE))
			return false;
		/* relaxed: we own a reference from here on */
	} while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, s + WEFT__REF_ONE, memory_order_relaxed,
		memory_order_relaxed));
	return true;
}

static bool mark_cancelled(struct weft__task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);

	for (;;) {
		uint64_t n;

		if (s & WEFT__COMPLETE)
			return false;
		n = (s & ~(WEFT__RUNNING | WEFT__NOTIFIED)) | WEFT__COMPLETE |
		    WEFT__CANCELLED;
		/* acq_rel: as task_complete (join handles on other threads
		 * read the state) */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acq_rel,
			    memory_order_relaxed))
			return true;
	}
}

/* Takes every queued task out of the run queues, each with its queue
 * reference, as a chain through t->next: out of every queue a task's next
 * is its taker's, and a task that is NOTIFIED (or COMPLETE) is never
 * queued again by a wake. */
static struct weft__task *collect_queued(weft_rt *rt)
{
	struct weft__task *chain = NULL, *t;

	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct weft__worker *w = &rt->workers[i];

		if (w->lifo) {
			w->lifo->next = chain;
			chain = w->lifo;
			w->lifo = NULL;
		}
		while (w->injected) {
			t = w->injected;
			w->injected = t->next;
			t->next = chain;
			chain = t;
		}
		while ((t = weft__deque_pop(&w->dq))) {
			t->next = chain;
			chain = t;
		}
	}
	while ((t = weft__injector_pop(&rt->inj))) {
		t->next = chain;
		chain = t;
	}
	return chain;
}

/* Drops the references a chain of collect_queued holds. */
static void drop_chain(struct weft__task *t)
{
	while (t) {
		struct weft__task *next = t->next;

		weft__task_ref_dec(t);
		t = next;
	}
}

/* Drops the queue reference of every queued task. */
static void drop_queue_refs(weft_rt *rt)
{
	drop_chain(collect_queued(rt));
}

/* Cancels every unfinished task of o's list, CANCEL_CHUNK at a time:
 * under rt->lock take a reference on each (the list cannot change under
 * the lock: no spawn, no adoption, and frees take the lock), then mark
 * the whole batch COMPLETE|CANCELLED, and only then run their drop
 * functions, so wakes issued by those drops find COMPLETE tasks and queue
 * nothing (a wake of a task of a later batch queues it, as any wake
 * would: drop_queue_refs takes it back out at the end); join handles
 * report -ECANCELED. The batch's last task stays held across the next
 * lock, so the walk resumes after it. */
static void cancel_owner(weft_rt *rt, struct weft__owner *o)
{
	struct weft__task *batch[CANCEL_CHUNK];
	bool was[CANCEL_CHUNK];
	struct weft__task *cursor = NULL;

	for (;;) {
		struct weft__task *t;
		size_t n = 0;

		pthread_mutex_lock(&rt->lock);
		for (t = cursor ? cursor->owned_next : o->head;
		     t && n < CANCEL_CHUNK; t = t->owned_next)
			if (hold_unfinished(t))
				batch[n++] = t;
		pthread_mutex_unlock(&rt->lock);
		if (cursor)
			weft__task_ref_dec(cursor);
		cursor = NULL;
		for (size_t i = 0; i < n; i++)
			was[i] = mark_cancelled(batch[i]);
		for (size_t i = 0; i < n; i++) {
			struct weft__task *c = batch[i];
			uint64_t s;

			if (!was[i])
				continue;
			if (rt->obs.on_task_terminate)
				rt->obs.on_task_terminate(
					rt->obs.arg, (uintptr_t)c, c->type);
			if (c->type->drop)
				c->type->drop(weft__task_frame(c));
			memset(weft__task_frame(c), 0, sizeof(intptr_t));
			s = atomic_load_explicit(&c->state,
						 memory_order_acquire);
			if ((s & (WEFT__JOIN_INTEREST | WEFT__JOIN_WAKER)) ==
			    (WEFT__JOIN_INTEREST | WEFT__JOIN_WAKER))
				weft__task_wake_joiner(c);
		}
		if (n == CANCEL_CHUNK && t)
			cursor = batch[--n];
		for (size_t i = 0; i < n; i++)
			weft__task_ref_dec(batch[i]);
		if (!cursor)
			return;
	}
}

static void cancel_all(weft_rt *rt)
{
	struct weft__task *queued = collect_queued(rt);

	/* foreign spawns never run are in no list yet: adopt them into the
	 * foreign list so the walk below finds them. The queue references
	 * stay held until every list is done. */
	pthread_mutex_lock(&rt->lock);
	for (struct weft__task *t = queued; t; t = t->next)
		if (weft__task_owner(t) == &rt->foreign && !t->owned_prev &&
		    rt->foreign.head != t)
			weft__task_adopt(&rt->foreign, t);
	for (unsigned i = 0; i < rt->nworkers; i++)
		weft__owner_drain_remote(&rt->workers[i].owner);
	weft__owner_drain_remote(&rt->foreign);
	pthread_mutex_unlock(&rt->lock);

	for (unsigned i = 0; i < rt->nworkers; i++)
		cancel_owner(rt, &rt->workers[i].owner);
	cancel_owner(rt, &rt->foreign);
	drop_chain(queued);
	/* drop functions may have queued wakes of non-task wakers' tasks */
	drop_queue_refs(rt);
}

/* Waits for the shutdown another thread runs; its result. */
static intptr_t shutdown_wait_done(weft_rt *rt)
{
	intptr_t res;

	pthread_mutex_lock(&rt->shut_mu);
	if (rt->shut_state == SHUT_RUNNING &&
	    pthread_equal(rt->shut_thread, pthread_self())) {
		/* a drop function of ours: the shutdown is this thread's */
		pthread_mutex_unlock(&rt->shut_mu);
		return 0;
	}
	while (rt->shut_state != SHUT_DONE)
		pthread_cond_wait(&rt->shut_cv, &rt->shut_mu);
	res = rt->shut_detached;
	pthread_mutex_unlock(&rt->shut_mu);
	return res;
}

/* Step 7: DONE, the result, every waiter woken. */
static void shutdown_done(weft_rt *rt, intptr_t detached)
{
	weft__wlink *l;

	pthread_mutex_lock(&rt->shut_mu);
	rt->shut_state = SHUT_DONE;
	rt->shut_detached = detached;
	for (l = rt->shut_waiters.next; l != &rt->shut_waiters;) {
		weft_rt_shutdown_wait *sw = (weft_rt_shutdown_wait *)(void *)(
			(char *)l - offsetof(weft_rt_shutdown_wait, link));

		l = l->next;
		sw->queued = false;
		/* by value: the waiter's clone goes with the wake */
		weft_waker_wake(&sw->waker);
	}
	rt->shut_waiters.next = rt->shut_waiters.prev = &rt->shut_waiters;
	pthread_cond_broadcast(&rt->shut_cv);
	pthread_mutex_unlock(&rt->shut_mu);
}

/* The protocol of the file comment, bounded by deadline (NULL: none) for
 * the blocking pool. Returns the number of jobs left running. */
static intptr_t shutdown_run(weft_rt *rt, const struct timespec *deadline)
{
	unsigned detached;

	pthread_mutex_lock(&rt->lock);
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed)) {
		pthread_mutex_unlock(&rt->lock);
		return shutdown_wait_done(rt);
	}
	/* seq_cst: read by foreign spawns after their inflight increment */
	atomic_store_explicit(&rt->shutdown, 1, memory_order_seq_cst);
	pthread_mutex_lock(&rt->shut_mu);
	rt->shut_state = SHUT_RUNNING;
	rt->shut_thread = pthread_self();
	pthread_mutex_unlock(&rt->shut_mu);
	pthread_mutex_unlock(&rt->lock);
	/* first: its clients see the program go (EOF), and no dump of its
	 * runs while the lists below are taken apart */
	weft__control_stop(rt);

	/* seq_cst: the Dekker pair with weft_spawn's foreign path; then wait
	 * for the spawns that passed their check to finish their push
	 * (acquire: pairs with their release decrement) */
	atomic_thread_fence(memory_order_seq_cst);
	while (atomic_load_explicit(&rt->foreign_inflight, memory_order_acquire))
		weft__cpu_relax();
	threads_stop(rt);
	/* after the workers: a poll still running during threads_stop is
	 * still reported */
	weft__watch_stop(rt);
	detached = weft__blocking_shutdown_until(rt, deadline);
	pthread_mutex_lock(&rt->lock);
	/* release: frees on other threads that see it take rt->lock */
	atomic_store_explicit(&rt->stopped, true, memory_order_release);
	pthread_mutex_unlock(&rt->lock);
	cancel_all(rt);
	if (rt->head.driver) {
		/* weft_rt_metrics reads the driver under rt->lock */
		pthread_mutex_lock(&rt->lock);
		rt->driver_gone = true;
		pthread_mutex_unlock(&rt->lock);
		rt->driver_ops->stop(rt->head.driver);
		rt->head.driver = NULL;
	}
	drop_queue_refs(rt);
	shutdown_done(rt, detached);
	return detached;
}

/* timeout_ns from now on CLOCK_MONOTONIC in *ts; NULL for no limit. */
static const struct timespec *deadline_in(uint64_t timeout_ns,
					  struct timespec *ts)
{
	uint64_t ns;

	if (timeout_ns == WEFT_RT_NO_TIMEOUT)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns = (uint64_t)ts->tv_nsec + timeout_ns % 1000000000u;
	ts->tv_sec += (time_t)(timeout_ns / 1000000000u + ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

static bool on_own_worker(weft_rt *rt)
{
	struct weft__worker *w = weft__worker_current();

	return w && w->rt == rt;
}

void weft_rt_shutdown(weft_rt *rt)
{
	/* a worker cannot join itself: refuse instead of deadlocking */
	if (!rt || on_own_worker(rt))
		return;
	shutdown_run(rt, NULL);
}

int weft_rt_shutdown_timeout(weft_rt *rt, uint64_t timeout_ns)
{
	struct timespec ts;

	if (!rt)
		return -EINVAL;
	if (on_own_worker(rt))
		return -EDEADLK;
	return (int)shutdown_run(rt, deadline_in(timeout_ns, &ts));
}

static void *bg_main(void *arg)
{
	weft_rt *rt = arg;
	struct timespec ts;

	shutdown_run(rt, deadline_in(rt->bg_timeout_ns, &ts));
	return NULL;
}

/* Starts the background shutdown thread; shut_mu held. */
static int bg_start_locked(weft_rt *rt, uint64_t timeout_ns)
{
	sigset_t old;
	int rc;

	if (rt->bg_started || rt->shut_state != SHUT_NONE)
		return -EALREADY;
	rt->bg_timeout_ns = timeout_ns;
	weft__sigmask_enter(&old);
	rc = pthread_create(&rt->bg_thread, NULL, bg_main, rt);
	weft__sigmask_leave(&old);
	if (rc)
		return -EAGAIN;
	rt->bg_started = true;
	return 0;
}

int weft_rt_shutdown_background(weft_rt *rt, uint64_t timeout_ns)
{
	int rc;

	if (!rt)
		return -EINVAL;
	pthread_mutex_lock(&rt->shut_mu);
	rc = bg_start_locked(rt, timeout_ns);
	pthread_mutex_unlock(&rt->shut_mu);
	return rc;
}

bool weft_rt_is_shut_down(weft_rt *rt)
{
	bool done;

	if (!rt)
		return false;
	pthread_mutex_lock(&rt->shut_mu);
	done = rt->shut_state == SHUT_DONE;
	pthread_mutex_unlock(&rt->shut_mu);
	return done;
}

void weft__shutdown_join_background(weft_rt *rt)
{
	bool join;

	pthread_mutex_lock(&rt->shut_mu);
	join = rt->bg_started;
	rt->bg_started = false;
	pthread_mutex_unlock(&rt->shut_mu);
	if (join)
		pthread_join(rt->bg_thread, NULL);
}

/* ------------------------------------------------- the shutdown future */

static void wait_unlink(weft_rt_shutdown_wait *w)
{
	if (w->queued) {
		w->link.prev->next = w->link.next;
		w->link.next->prev = w->link.prev;
		w->queued = false;
	}
}

void weft_rt_shutdown_wait_init(weft_rt_shutdown_wait *w, weft_rt *rt,
				uint64_t timeout_ns)
{
	WEFT_DEBUG_CHECK(!w->queued, "weft_rt_shutdown_wait_init",
			 "the wait is still queued: drop it before "
			 "initialising it again");
	w->rt = rt;
	w->timeout_ns = timeout_ns;
	w->link.prev = w->link.next = NULL;
	w->waker = WEFT_WAKER_NONE;
	w->queued = false;
	w->res = 0;
}

weft_poll weft_rt_shutdown_wait_poll(weft_rt_shutdown_wait *w, weft_cx *cx)
{
	weft_rt *rt = w->rt;
	int rc;

	if (!rt) {
		w->res = -EINVAL;
		return WEFT_READY;
	}
	pthread_mutex_lock(&rt->shut_mu);
	if (rt->shut_state == SHUT_DONE) {
		wait_unlink(w);
		weft_waker_drop(&w->waker);
		w->res = rt->shut_detached;
		pthread_mutex_unlock(&rt->shut_mu);
		return WEFT_READY;
	}
	/* the first wait starts it (unless a shutdown is under way) */
	rc = bg_start_locked(rt, w->timeout_ns);
	if (rc < 0 && rc != -EALREADY) {
		pthread_mutex_unlock(&rt->shut_mu);
		w->res = rc;
		return WEFT_READY;
	}
	weft_waker_register(&w->waker, cx);
	if (!w->queued) {
		w->link.prev = rt->shut_waiters.prev;
		w->link.next = &rt->shut_waiters;
		rt->shut_waiters.prev->next = &w->link;
		rt->shut_waiters.prev = &w->link;
		w->queued = true;
	}
	pthread_mutex_unlock(&rt->shut_mu);
	return WEFT_PENDING;
}

void weft_rt_shutdown_wait_drop(weft_rt_shutdown_wait *w)
{
	weft_rt *rt = w->rt;

	if (!rt)
		return;
	pthread_mutex_lock(&rt->shut_mu);
	wait_unlink(w);
	weft_waker_drop(&w->waker);
	pthread_mutex_unlock(&rt->shut_mu);
}

WEFT_FUTURE_DEFINE(weft_rt_shutdown_wait, weft_rt_shutdown_wait_drop);
