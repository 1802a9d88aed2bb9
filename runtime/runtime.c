/* runtime/runtime.c - the runtime object: creation, shutdown, destruction.
 *
 * Shutdown protocol (weft_rt_shutdown), on the caller's thread:
 *   1. under rt->lock set `shutdown`: from now on weft_spawn fails with
 *      -ESHUTDOWN (foreign spawns check it under the same lock);
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
 * last of weft_rt_destroy and those frees (weft__rt_maybe_free).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

static _Thread_local char create_error[256];

void weft__rt_set_create_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(create_error, sizeof(create_error), fmt, ap);
	va_end(ap);
}

const char *weft_rt_create_error(void)
{
	return create_error;
}

void weft_rt_builder_init(weft_rt_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->enable_io = true;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static void owner_init(struct weft__owner *o, weft_rt *rt, int index)
{
	o->head = NULL;
	o->live = 0;
	o->rt = rt;
	o->index = index;
	atomic_init(&o->remote_free, NULL);
}

static int workers_init(weft_rt *rt)
{
	int ret;

	rt->workers = aligned_alloc(WEFT__CACHELINE,
				    sizeof(*rt->workers) * rt->nworkers);
	if (!rt->workers)
		return -ENOMEM;
	memset(rt->workers, 0, sizeof(*rt->workers) * rt->nworkers);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct weft__worker *w = &rt->workers[i];

		ret = weft__deque_init(&w->dq, 256);
		if (ret < 0) {
			while (i--)
				weft__deque_destroy(&rt->workers[i].dq);
			free(rt->workers);
			rt->workers = NULL;
			return ret;
		}
		w->rt = rt;
		w->index = i;
		w->rng = 0x9e3779b9u * (i + 1);
		owner_init(&w->owner, rt, (int)i);
		atomic_init(&w->park_word, 0);
	}
	return 0;
}

static void workers_free(weft_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++)
		weft__deque_destroy(&rt->workers[i].dq);
	free(rt->workers);
	rt->workers = NULL;
}

static int threads_start(weft_rt *rt)
{
	pthread_attr_t attr;
	int ret = 0;

	pthread_attr_init(&attr);
	if (rt->cfg.stack_size &&
	    pthread_attr_setstacksize(&attr, rt->cfg.stack_size)) {
		pthread_attr_destroy(&attr);
		return -EINVAL;
	}
	for (unsigned i = 0; i < rt->nthreads; i++) {
		struct weft__worker *w = &rt->workers[i];

		if (pthread_create(&w->thread, &attr, weft__worker_main, w)) {
			ret = -EAGAIN;
			break;
		}
		w->started = true;
	}
	pthread_attr_destroy(&attr);
	return ret;
}

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

int weft_rt_create(weft_rt **out, const weft_rt_builder *b)
{
	weft_rt_builder defaults;
	weft_rt *rt;
	int ret;

	create_error[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!b) {
		weft_rt_builder_init(&defaults);
		b = &defaults;
	}
	if (b->workers > 0xfff || (b->allocator && (!b->allocator->alloc ||
						    !b->allocator->free))) {
		weft__rt_set_create_error("invalid builder field");
		return -EINVAL;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->cfg = *b;
	if (b->allocator) {
		rt->alloc = *b->allocator;
		rt->has_alloc = true;
	}
	rt->malloc_is_jemalloc = weft__alloc_probe();
	rt->nthreads = b->current_thread ? 0
			: (b->workers ? b->workers : online_cpus());
	rt->nworkers = rt->nthreads ? rt->nthreads : 1;
	pthread_mutex_init(&rt->lock, NULL);
	weft__injector_init(&rt->inj);
	owner_init(&rt->foreign, rt, -1);
	ret = weft__idle_init(&rt->idle, rt->nworkers);
	if (ret < 0)
		goto out_free;
	ret = workers_init(rt);
	if (ret < 0)
		goto out_idle;
	ret = weft__blocking_init(rt);
	if (ret < 0)
		goto out_workers;
	if (b->enable_io) {
		rt->driver_ops = weft__io_driver();
		ret = rt->driver_ops->start(rt, b->io_entries ? b->io_entries
							      : 4096,
					    rt->nworkers,
					    b->io_normal_sched
						    ? WEFT__DRIVER_NORMAL_SCHED
						    : 0,
					    &rt->driver);
		if (ret < 0)
			goto out_blocking;
	}
	ret = threads_start(rt);
	if (ret < 0) {
		weft__rt_set_create_error("cannot start worker threads");
		weft_rt_destroy(rt);
		return ret;
	}
	*out = rt;
	return 0;

out_blocking:
	weft__blocking_shutdown(rt);
out_workers:
	workers_free(rt);
out_idle:
	weft__idle_destroy(&rt->idle);
out_free:
	weft__injector_destroy(&rt->inj);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
	return ret;
}

unsigned weft_rt_workers(const weft_rt *rt)
{
	return rt ? rt->nthreads : 0;
}

weft_rt *weft_rt_current(void)
{
	struct weft__worker *w = weft__worker_current();

	return w ? w->rt : NULL;
}

void *weft__rt_driver(weft_rt *rt)
{
	return rt->driver;
}

int weft__rt_worker_index(weft_rt *rt)
{
	struct weft__worker *w = weft__worker_current();

	return w && w->rt == rt ? (int)w->index : -1;
}

/* ------------------------------------------------------------- shutdown */

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
	/* a worker cannot join itself: refuse instead of deadlocking */
	if (!rt || weft__rt_worker_index(rt) >= 0)
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
	if (rt->driver) {
		rt->driver_ops->stop(rt->driver);
		rt->driver = NULL;
	}
	drop_queue_refs(rt);
}

static bool rt_has_live_tasks(weft_rt *rt)
{
	if (rt->foreign.live)
		return true;
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (rt->workers[i].owner.live)
			return true;
	return false;
}

static void rt_free(weft_rt *rt)
{
	workers_free(rt);
	weft__idle_destroy(&rt->idle);
	weft__injector_destroy(&rt->inj);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

/* Called after a post-shutdown free: frees rt once destroyed and empty. */
void weft__rt_maybe_free(weft_rt *rt)
{
	bool last;

	pthread_mutex_lock(&rt->lock);
	for (unsigned i = 0; i < rt->nworkers; i++)
		weft__owner_drain_remote(&rt->workers[i].owner);
	weft__owner_drain_remote(&rt->foreign);
	last = rt->destroyed && !rt->freeing && !rt_has_live_tasks(rt);
	if (last)
		rt->freeing = true;
	pthread_mutex_unlock(&rt->lock);
	if (last)
		rt_free(rt);
}

void weft_rt_destroy(weft_rt *rt)
{
	if (!rt)
		return;
	weft_rt_shutdown(rt);
	pthread_mutex_lock(&rt->lock);
	rt->destroyed = true;
	pthread_mutex_unlock(&rt->lock);
	weft__rt_maybe_free(rt);
}
