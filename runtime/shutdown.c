/* runtime/shutdown.c - weft_rt_shutdown: stopping the workers, cancelling
 * every task, stopping the blocking pool and the I/O driver.
 *
 * Shutdown protocol (weft_rt_shutdown), on the caller's thread:
 *   1. under rt->lock set `shutdown` (once): from now on weft_spawn fails
 *      with -ESHUTDOWN (a foreign spawn that passed its check first is
 *      waited for: the Dekker pair on foreign_inflight, spawn.c);
 *   2. set `stop`, unpark every worker, join the worker threads (a worker
 *      finishes the poll it is in; no task is polled after this);
 *   3. stop the blocking pool (waits for running functions to return);
 *   4. set `stopped`: every free from now on takes rt->lock;
 *   5. take a reference on every live task (all owned lists), drop the
 *      queue references of every queued task (deques, LIFO slots,
 *      injector), mark every unfinished task COMPLETE|CANCELLED, and only
 *      then run their drop functions: wakes issued by drop functions find
 *      COMPLETE tasks and queue nothing; join handles report -ECANCELED;
 *   6. release the references of step 5 (tasks no one else holds are
 *      freed), then stop the I/O driver, which drops the wakers it held.
 * Memory still referenced afterwards (join handles, stray wakers) is freed
 * when its last reference goes; the runtime object itself is freed by the
 * last of weft_rt_destroy and those frees (weft__rt_maybe_free, runtime.c).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/task.h"

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

struct task_vec {
	struct weft__task **v;
	size_t n, cap;
};

static void vec_push(struct task_vec *tv, struct weft__task *t)
{
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 64;
		struct weft__task **v = realloc(tv->v, cap * sizeof(*v));

		if (!v)
			abort(); /* out of memory while tearing down */
		tv->v = v;
		tv->cap = cap;
	}
	tv->v[tv->n++] = t;
}

static void collect_owner(struct weft__owner *o, struct task_vec *tv)
{
	weft__owner_drain_remote(o);
	for (struct weft__task *t = o->head; t; t = t->owned_next) {
		uint64_t s = atomic_load_explicit(&t->state,
						  memory_order_relaxed);

		/* a task at 0 references is being freed by another thread
		 * (it will unlink itself under rt->lock, or reach a
		 * remote_free stack drained below); leave it alone */
		do {
			if ((s >> WEFT__REF_SHIFT) == 0)
				goto next;
			/* relaxed: we own a reference from here on */
		} while (!atomic_compare_exchange_weak_explicit(
			&t->state, &s, s + WEFT__REF_ONE,
			memory_order_relaxed, memory_order_relaxed));
		vec_push(tv, t);
	next:;
	}
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
 * reference. */
static void collect_queued(weft_rt *rt, struct task_vec *qv)
{
	struct weft__task *t;

	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct weft__worker *w = &rt->workers[i];

		if (w->lifo) {
			vec_push(qv, w->lifo);
			w->lifo = NULL;
		}
		while (w->injected) {
			t = w->injected;
			w->injected = t->next;
			vec_push(qv, t);
		}
		while ((t = weft__deque_pop(&w->dq)))
			vec_push(qv, t);
	}
	while ((t = weft__injector_pop(&rt->inj)))
		vec_push(qv, t);
}

/* Drops the queue reference of every queued task. */
static void drop_queue_refs(weft_rt *rt)
{
	struct task_vec qv = { 0 };

	collect_queued(rt, &qv);
	for (size_t i = 0; i < qv.n; i++)
		weft__task_ref_dec(qv.v[i]);
	free(qv.v);
}

static void cancel_all(weft_rt *rt)
{
	struct task_vec tv = { 0 }, qv = { 0 };
	bool *was;

	/* foreign spawns never run are in no list yet: adopt them into the
	 * foreign list so the walk below finds them */
	collect_queued(rt, &qv);
	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < qv.n; i++)
		if (weft__task_owner(qv.v[i]) == &rt->foreign &&
		    !qv.v[i]->owned_prev && rt->foreign.head != qv.v[i])
			weft__task_adopt(&rt->foreign, qv.v[i]);
	for (unsigned i = 0; i < rt->nworkers; i++)
		collect_owner(&rt->workers[i].owner, &tv);
	collect_owner(&rt->foreign, &tv);
	pthread_mutex_unlock(&rt->lock);

	for (size_t i = 0; i < qv.n; i++)
		weft__task_ref_dec(qv.v[i]);
	free(qv.v);
	was = calloc(tv.n ? tv.n : 1, sizeof(*was));
	if (!was)
		abort();
	for (size_t i = 0; i < tv.n; i++)
		was[i] = mark_cancelled(tv.v[i]);
	for (size_t i = 0; i < tv.n; i++) {
		struct weft__task *t = tv.v[i];
		uint64_t s;

		if (!was[i])
			continue;
		if (t->type->drop)
			t->type->drop(weft__task_frame(t));
		memset(weft__task_frame(t), 0, sizeof(intptr_t));
		s = atomic_load_explicit(&t->state, memory_order_acquire);
		if ((s & (WEFT__JOIN_INTEREST | WEFT__JOIN_WAKER)) ==
		    (WEFT__JOIN_INTEREST | WEFT__JOIN_WAKER))
			weft__task_wake_joiner(t);
	}
	for (size_t i = 0; i < tv.n; i++)
		weft__task_ref_dec(tv.v[i]);
	/* drop functions may have queued wakes of non-task wakers' tasks */
	drop_queue_refs(rt);
	free(was);
	free(tv.v);
}

void weft_rt_shutdown(weft_rt *rt)
{
	struct weft__worker *w = weft__worker_current();

	/* a worker cannot join itself: refuse instead of deadlocking */
	if (!rt || (w && w->rt == rt))
		return;
	pthread_mutex_lock(&rt->lock);
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed)) {
		pthread_mutex_unlock(&rt->lock);
		return;
	}
	/* seq_cst: read by foreign spawns after their inflight increment */
	atomic_store_explicit(&rt->shutdown, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&rt->lock);

	/* seq_cst: the Dekker pair with weft_spawn's foreign path; then wait
	 * for the spawns that passed their check to finish their push
	 * (acquire: pairs with their release decrement) */
	atomic_thread_fence(memory_order_seq_cst);
	while (atomic_load_explicit(&rt->foreign_inflight, memory_order_acquire))
		weft__cpu_relax();
	threads_stop(rt);
	weft__blocking_shutdown(rt);
	pthread_mutex_lock(&rt->lock);
	/* release: frees on other threads that see it take rt->lock */
	atomic_store_explicit(&rt->stopped, true, memory_order_release);
	pthread_mutex_unlock(&rt->lock);
	cancel_all(rt);
	if (rt->head.driver) {
		rt->driver_ops->stop(rt->head.driver);
		rt->head.driver = NULL;
	}
	drop_queue_refs(rt);
}
