/* runtime/blocking.c - the blocking pool: plain functions that would
 * block a worker run on pool threads instead.
 *
 * weft_spawn_blocking allocates a job record (fn, arg, release; from the
 * runtime's allocator), spawns an ordinary task whose frame points at it,
 * and queues the job on the pool, all before it returns, so every failure
 * (-ENOMEM, -EAGAIN when no pool thread can start, -ESHUTDOWN) is its
 * return value with nothing taken, never a result that looks like fn's. A
 * pool thread runs fn(arg), then release(arg), stores the result in the
 * job and wakes the task's registered waker; the task's poll returns the
 * result as its output. The job is counted (task + pool: both references
 * exist before the task does, so the task can be cancelled, by an abort or
 * a shutdown, at any time after the spawn) and its waker and state sit
 * under the job's lock, so an aborted task drops its side at any time: a
 * queued job is skipped (release still runs, on the pool thread), a
 * running one finishes and its result is dropped with the job. fn never
 * sees the task's frame, so nothing can write into a freed frame.
 *
 * Threads are created on demand (at most BLOCKING_MAX) and exit after
 * BLOCKING_IDLE_S seconds without work. The queue is a mutex + condvar
 * FIFO; this path is for blocking work, not for speed. Shutdown
 * (weft__blocking_shutdown) lets the threads take the jobs still queued
 * (releasing them without running fn) and waits for them to exit; the
 * pool record itself stays until the runtime is freed, so a spawn racing
 * with shutdown from another thread finds it shut and gets -ESHUTDOWN.
 *
 * A bounded shutdown (weft_rt_shutdown_timeout) waits for the threads
 * until its deadline only. Then it takes the jobs still queued (and
 * releases them itself), counts the jobs still running, and marks the
 * pool `detached`: those threads run on, and from then on nothing they
 * touch belongs to the runtime. A job record is freed through the pool's
 * own copy of the allocator (never through rt), and the pool record is
 * handed to them when the runtime is freed (`orphaned`): the last thread
 * to exit frees it. So the runtime can be freed under a running job, and
 * nothing is freed under one: a job that never returns keeps its thread,
 * its record and the pool record, and nothing else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/internal.h"
#include "runtime/sigmask.h"

#define BLOCKING_MAX 64
#define BLOCKING_IDLE_S 10

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ABANDONED };

struct weft__blocking;

struct job {
	struct job *next;           /* pool queue, under pool lock */
	struct weft__blocking *pool; /* whose allocator frees the record */
	intptr_t (*fn)(void *);
	void *arg;
	void (*release)(void *);
	pthread_mutex_t lock;       /* state, result, waker */
	int state;
	intptr_t result;
	weft_waker waker;           /* the task's, registered by its poll */
	_Atomic int refs;
};

struct weft__blocking {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* work queued, or shutting down */
	pthread_cond_t gone;        /* a thread exited */
	struct job *head, *tail;
	unsigned threads, idle;
	unsigned running;           /* threads inside a job's fn */
	unsigned long queued;       /* jobs in the queue (metrics) */
	bool shutdown;
	bool detached;              /* a bounded shutdown gave up waiting */
	bool orphaned;              /* rt is gone: the last thread frees us */
	/* the runtime's allocator, copied: job records are freed through it
	 * even after the runtime is freed (a detached job) */
	weft_allocator alloc;
	bool has_alloc;
};

static void pool_free(struct weft__blocking *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_cond_destroy(&b->gone);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void job_release(struct job *j)
{
	/* acq_rel: the last holder frees, after the other's last use */
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
		struct weft__blocking *b = j->pool;

		weft_waker_drop(&j->waker);
		pthread_mutex_destroy(&j->lock);
		/* as weft__free, without rt */
		if (b->has_alloc)
			b->alloc.free(j, sizeof(*j), b->alloc.ctx);
		else
			weft__mfree(j, sizeof(*j));
	}
}

int weft__blocking_init(weft_rt *rt)
{
	struct weft__blocking *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;

	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	/* a bounded shutdown waits on it until a CLOCK_MONOTONIC deadline */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->gone, &ca);
	pthread_condattr_destroy(&ca);
	b->alloc = rt->alloc;
	b->has_alloc = rt->has_alloc;
	rt->blocking = b;
	return 0;
}

/* Runs (or, with skip, only releases) a job taken off the queue. */
static void run_job(struct job *j, bool skip)
{
	weft_waker w = WEFT_WAKER_NONE;
	bool run;

	pthread_mutex_lock(&j->lock);
	run = !skip && j->state == JOB_QUEUED;
	j->state = run ? JOB_RUNNING : JOB_ABANDONED;
	pthread_mutex_unlock(&j->lock);
	if (run)
		j->result = j->fn(j->arg);
	if (j->release)
		j->release(j->arg);
	if (run) {
		pthread_mutex_lock(&j->lock);
		if (j->state == JOB_RUNNING) {
			j->state = JOB_DONE;
			w = j->waker;
			j->waker = WEFT_WAKER_NONE;
		}
		pthread_mutex_unlock(&j->lock);
		weft_waker_wake(&w);
	}
	job_release(j);
}

static void *pool_main(void *arg)
{
	struct weft__blocking *b = arg;
	bool last;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct job *j = b->head;

		if (j) {
			b->head = j->next;
			b->queued--;
			if (!b->head)
				b->tail = NULL;
			bool skip = b->shutdown;

			b->running += !skip;
			pthread_mutex_unlock(&b->lock);
			run_job(j, skip);
			pthread_mutex_lock(&b->lock);
			b->running -= !skip;
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
	last = b->orphaned && b->threads == 0;
	pthread_mutex_unlock(&b->lock);
	if (last)
		pool_free(b);
	return NULL;
}

static int pool_submit(weft_rt *rt, struct job *j)
{
	struct weft__blocking *b = rt->blocking;
	pthread_attr_t attr;
	sigset_t old;
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
	b->queued++;
	if (b->idle) {
		pthread_cond_signal(&b->cond);
	} else if (b->threads < BLOCKING_MAX) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* pool threads never take a streamed signal (weft/signal.h) */
		weft__sigmask_enter(&old);
		if (pthread_create(&th, &attr, pool_main, b) == 0)
			b->threads++;
		else if (b->threads == 0)
			ret = -EAGAIN;
		weft__sigmask_leave(&old);
		pthread_attr_destroy(&attr);
	}
	if (ret < 0) {
		/* nobody will run it: take it back out */
		b->head = b->tail = NULL;
		b->queued = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void weft__blocking_stats(weft_rt *rt, uint64_t *threads, uint64_t *idle,
			  uint64_t *queued)
{
	struct weft__blocking *b = rt->blocking;

	*threads = *idle = *queued = 0;
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	*threads = b->threads;
	*idle = b->idle;
	*queued = b->queued;
	pthread_mutex_unlock(&b->lock);
}

unsigned weft__blocking_shutdown_until(weft_rt *rt,
				       const struct timespec *deadline)
{
	struct weft__blocking *b = rt->blocking;
	struct job *left;
	unsigned running;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	b->shutdown = true;
	pthread_cond_broadcast(&b->cond);
	while (b->threads && !b->detached) {
		if (!deadline)
			pthread_cond_wait(&b->gone, &b->lock);
		else if (pthread_cond_timedwait(&b->gone, &b->lock,
						deadline) == ETIMEDOUT)
			break;
	}
	if (!b->threads || b->detached) {
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	/* out of time: the jobs not started are ours to release, the
	 * running ones are left to their threads */
	b->detached = true;
	left = b->head;
	b->head = b->tail = NULL;
	b->queued = 0;
	running = b->running;
	pthread_mutex_unlock(&b->lock);
	while (left) {
		struct job *n = left->next;

		run_job(left, true);
		left = n;
	}
	return running;
}

void weft__blocking_shutdown(weft_rt *rt)
{
	weft__blocking_shutdown_until(rt, NULL);
}

void weft__blocking_destroy(weft_rt *rt)
{
	struct weft__blocking *b = rt->blocking;
	bool busy;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	busy = b->detached && b->threads;
	pthread_mutex_unlock(&b->lock);
	if (!busy)
		weft__blocking_shutdown(rt);
	rt->blocking = NULL;
	pthread_mutex_lock(&b->lock);
	/* a detached thread still runs: it frees the pool when it exits */
	busy = b->threads != 0;
	b->orphaned = busy;
	pthread_mutex_unlock(&b->lock);
	if (!busy)
		pool_free(b);
}

struct blocking_frame {
	WEFT_ASYNC;
	struct job *job;
};

static weft_poll blocking_frame_poll(struct blocking_frame *f, weft_cx *cx)
{
	struct job *j = f->job;
	bool done;

	pthread_mutex_lock(&j->lock);
	done = j->state == JOB_DONE;
	if (done)
		f->res = j->result;
	else
		weft_waker_register(&j->waker, cx);
	pthread_mutex_unlock(&j->lock);
	return done ? WEFT_READY : WEFT_PENDING;
}

static void blocking_frame_drop(struct blocking_frame *f)
{
	struct job *j = f->job;

	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	if (j->state == JOB_QUEUED || j->state == JOB_RUNNING)
		j->state = JOB_ABANDONED;   /* skipped, or its result dropped */
	weft_waker_drop(&j->waker);
	pthread_mutex_unlock(&j->lock);
	f->job = NULL;
	job_release(j);
}

WEFT_FUTURE(blocking_frame, struct blocking_frame, blocking_frame_drop);

int weft_spawn_blocking(weft_rt *rt, intptr_t (*fn)(void *arg), void *arg,
			void (*release)(void *arg), weft_join **join)
{
	weft_join *handle;
	struct job *j;
	int ret;

	if (join)
		*join = NULL;
	if (!rt || !fn)
		return -EINVAL;
	j = weft__alloc(rt, sizeof(*j));
	if (!j)
		return -ENOMEM;
	memset(j, 0, sizeof(*j));
	j->pool = rt->blocking;
	j->fn = fn;
	j->arg = arg;
	j->release = release;
	pthread_mutex_init(&j->lock, NULL);
	j->state = JOB_QUEUED;
	/* the task's and the pool's, both before the task exists: once
	 * spawned, the task may be cancelled (a shutdown from another
	 * thread) and drop its reference before we go on */
	atomic_init(&j->refs, 2);
	/* a handle of our own: on a failed submit the task is aborted */
	ret = WEFT_SPAWN(rt, blocking_frame, &handle, { .job = j });
	if (ret < 0) {
		pthread_mutex_destroy(&j->lock);
		weft__free(rt, j, sizeof(*j));
		return ret;
	}
	ret = pool_submit(rt, j);
	if (ret < 0) {
		/* never queued: the pool's reference goes here, release is
		 * not run (the caller keeps arg), and the task, aborted,
		 * drops the last one without running anything */
		pthread_mutex_lock(&j->lock);
		j->release = NULL;
		j->state = JOB_ABANDONED;
		pthread_mutex_unlock(&j->lock);
		job_release(j);
		weft_join_abort(handle);
		weft_join_drop(handle);
		return ret;
	}
	if (join)
		*join = handle;
	else
		weft_join_drop(handle);
	return 0;
}
