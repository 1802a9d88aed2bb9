/* runtime/blocking.c - the blocking pool: plain functions that would
 * block a worker run on pool threads instead.
 *
 * weft_spawn_blocking spawns an ordinary task whose frame points at a job
 * record. The task's first poll hands the job (with a clone of the task's
 * waker) to the pool and returns PENDING; a pool thread runs fn(arg),
 * stores the result in the job, and wakes the task, whose next poll
 * returns it as the task's output. The job is counted (task + pool), so
 * an aborted task can drop its side while the function still runs: the
 * pool then discards the result. A job still queued when the task is
 * dropped is marked abandoned and its function is skipped.
 *
 * Threads are created on demand (at most BLOCKING_MAX) and exit after
 * BLOCKING_IDLE_S seconds without work. The queue is a mutex + condvar
 * FIFO; this path is for blocking work, not for speed.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/internal.h"

#define BLOCKING_MAX 64
#define BLOCKING_IDLE_S 10

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ABANDONED };

struct job {
	struct job *next;           /* pool queue, under pool lock */
	intptr_t (*fn)(void *);
	void *arg;
	intptr_t result;            /* written by the pool before DONE */
	weft_waker waker;           /* the task's; set before queueing */
	_Atomic int state;
	_Atomic int refs;
};

struct weft__blocking {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* work queued, or shutting down */
	pthread_cond_t gone;        /* a thread exited */
	struct job *head, *tail;
	unsigned threads, idle;
	bool shutdown;
};

static void job_release(struct job *j)
{
	/* acq_rel: the last holder frees, after the other's last use */
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
		weft_waker_drop(&j->waker);
		free(j);
	}
}

int weft__blocking_init(weft_rt *rt)
{
	struct weft__blocking *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_cond_init(&b->gone, NULL);
	rt->blocking = b;
	return 0;
}

static void run_job(struct job *j)
{
	int expect = JOB_QUEUED;

	/* acq_rel: claims the job against the task abandoning it */
	if (atomic_compare_exchange_strong_explicit(
		    &j->state, &expect, JOB_RUNNING, memory_order_acq_rel,
		    memory_order_acquire)) {
		j->result = j->fn(j->arg);
		expect = JOB_RUNNING;
		/* release: result before DONE; pairs with blocking_poll */
		if (atomic_compare_exchange_strong_explicit(
			    &j->state, &expect, JOB_DONE,
			    memory_order_release, memory_order_relaxed))
			weft_waker_wake_by_ref(&j->waker);
	}
	job_release(j);
}

static void *pool_main(void *arg)
{
	weft_rt *rt = arg;
	struct weft__blocking *b = rt->blocking;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct job *j = b->head;

		if (j) {
			b->head = j->next;
			if (!b->head)
				b->tail = NULL;
			bool skip = b->shutdown;

			pthread_mutex_unlock(&b->lock);
			if (skip) {
				int expect = JOB_QUEUED;

				/* acq_rel: as run_job's claim */
				atomic_compare_exchange_strong_explicit(
					&j->state, &expect, JOB_ABANDONED,
					memory_order_acq_rel,
					memory_order_relaxed);
				job_release(j);
			} else {
				run_job(j);
			}
			pthread_mutex_lock(&b->lock);
			continue;
		}
		if (b->shutdown)
			break;
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += BLOCKING_IDLE_S;
		b->idle++;
		int r = pthread_cond_timedwait(&b->cond, &b->lock, &ts);
		b->idle--;
		if (r == ETIMEDOUT && !b->head)
			break;
	}
	b->threads--;
	pthread_cond_broadcast(&b->gone);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static int pool_submit(weft_rt *rt, struct job *j)
{
	struct weft__blocking *b = rt->blocking;
	pthread_attr_t attr;
	pthread_t th;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (b->shutdown) {
		pthread_mutex_unlock(&b->lock);
		return -ESHUTDOWN;
	}
	j->next = NULL;
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	if (b->idle) {
		pthread_cond_signal(&b->cond);
	} else if (b->threads < BLOCKING_MAX) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, pool_main, rt) == 0)
			b->threads++;
		else if (b->threads == 0)
			ret = -EAGAIN;
		pthread_attr_destroy(&attr);
	}
	if (ret < 0) {
		/* nobody will run it: take it back out */
		b->head = b->tail = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void weft__blocking_shutdown(weft_rt *rt)
{
	struct weft__blocking *b = rt->blocking;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->shutdown = true;
	pthread_cond_broadcast(&b->cond);
	while (b->threads)
		pthread_cond_wait(&b->gone, &b->lock);
	pthread_mutex_unlock(&b->lock);
	pthread_cond_destroy(&b->cond);
	pthread_cond_destroy(&b->gone);
	pthread_mutex_destroy(&b->lock);
	free(b);
	rt->blocking = NULL;
}

struct blocking_frame {
	WEFT_ASYNC;
	intptr_t (*fn)(void *);
	void *arg;
	struct job *job;
};

static weft_poll blocking_poll(struct blocking_frame *f, weft_cx *cx)
{
	struct job *j = f->job;
	int ret;

	if (!j) {
		j = calloc(1, sizeof(*j));
		if (!j) {
			WEFT_RETURN(f, cx, -ENOMEM);
		}
		j->fn = f->fn;
		j->arg = f->arg;
		j->waker = weft_waker_clone(&cx->waker);
		atomic_init(&j->state, JOB_QUEUED);
		atomic_init(&j->refs, 2);
		f->job = j;
		ret = pool_submit(cx->rt, j);
		if (ret < 0) {
			f->job = NULL;
			weft_waker_drop(&j->waker);
			free(j);
			WEFT_RETURN(f, cx, ret);
		}
		return WEFT_PENDING;
	}
	/* acquire: pairs with run_job's release of DONE (the result) */
	if (atomic_load_explicit(&j->state, memory_order_acquire) != JOB_DONE)
		return WEFT_PENDING;
	WEFT_RETURN(f, cx, j->result);
	WEFT_END(f);
}

static void blocking_drop(struct blocking_frame *f)
{
	struct job *j = f->job;
	int expect = JOB_QUEUED;

	if (!j)
		return;
	/* acq_rel: a queued job is skipped; a running one finishes and its
	 * result is dropped with the job */
	if (!atomic_compare_exchange_strong_explicit(
		    &j->state, &expect, JOB_ABANDONED, memory_order_acq_rel,
		    memory_order_acquire) && expect == JOB_RUNNING) {
		expect = JOB_RUNNING;
		atomic_compare_exchange_strong_explicit(
			&j->state, &expect, JOB_ABANDONED,
			memory_order_acq_rel, memory_order_acquire);
	}
	f->job = NULL;
	job_release(j);
}

int weft_spawn_blocking(weft_rt *rt, intptr_t (*fn)(void *arg), void *arg,
			weft_join **join)
{
	if (!fn) {
		if (join)
			*join = NULL;
		return -EINVAL;
	}
	return WEFT_SPAWN(rt, join, blocking_poll, blocking_drop,
			  struct blocking_frame, { .fn = fn, .arg = arg });
}
