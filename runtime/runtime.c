/* runtime/runtime.c - the runtime object: the builder, creation (worker
 * slots, threads, the blocking pool, the I/O driver it is handed), the
 * create-error text, the host table a driver reaches the runtime through
 * (runtime/driver.h), and destruction (weft_rt_destroy, and freeing the
 * object once the last task memory is gone). Shutdown is in shutdown.c;
 * weft_rt_create, which names the io_uring driver, is in wire/rt.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "runtime/sigmask.h"
#include "weft/signal.h"

static _Thread_local char create_error[256];

/* weft_obs_opts as 1.1 published it: up to control_path */
#define OBS_V1_1_SIZE offsetof(weft_obs_opts, control_path)

static bool bad_signal(int sig)
{
	return sig && (sig < 1 || sig >= NSIG || sig == SIGKILL ||
		       sig == SIGSTOP);
}

/* stack_signal is sent to worker threads, which block the streamed set */
static bool bad_stack_signal(int sig)
{
	sigset_t set;

	weft_signal_set_fill(&set);
	return bad_signal(sig) || (sig && sigismember(&set, sig) == 1);
}

static void set_create_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void set_create_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(create_error, sizeof(create_error), fmt, ap);
	va_end(ap);
}

void weft__rt_create_errorf(const char *fmt, ...)
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
	b->io.enable = true;
}

void weft_obs_opts_init(weft_obs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->long_poll_ns = 10 * 1000 * 1000;
}

/* ------------------------------------------------- the driver's host */

static int host_worker_index(weft_rt *rt)
{
	struct weft__worker *w = weft__worker_current();

	return w && w->rt == rt ? (int)w->index : -1;
}

static unsigned host_worker_threads(weft_rt *rt)
{
	return rt->nthreads;
}

static void host_set_create_error(weft_rt *rt, const char *msg)
{
	(void)rt;
	set_create_error("%s", msg);
}

/* Every worker parked, nothing queued, no block_on caller or blocking
 * job at work. seq_cst on the idle word: the same total order the
 * parkers' fences use (idle.c), so a worker a notifier has just counted
 * back in is seen unparked; the rest are hints a later pass re-reads. */
static bool host_is_idle(weft_rt *rt)
{
	uint64_t threads, idle, queued;

	if (atomic_load_explicit(&rt->idle.state, memory_order_seq_cst) &
	    0xffffu)
		return false;
	if (!weft__injector_is_empty(&rt->inj) ||
	    atomic_load_explicit(&rt->block_on_busy, memory_order_seq_cst))
		return false;
	weft__blocking_stats(rt, &threads, &idle, &queued);
	return threads == idle && queued == 0;
}

static const struct weft__driver_host host = {
	.worker_index = host_worker_index,
	.wake_batch_add = weft__rt_batch_add,
	.wake_batch_add_ref = weft__rt_batch_add_ref,
	.wake_batch_flush = weft__rt_batch_flush,
	.worker_threads = host_worker_threads,
	.set_create_error = host_set_create_error,
	.is_idle = host_is_idle,
};

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
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
		w->obs = (rt->track || rt->obs.on_poll_begin ||
			  rt->obs.on_poll_end ? WEFT__OBS_POLL : 0) |
			 (rt->obs.on_task_terminate ? WEFT__OBS_TERM : 0);
		w->rng = 0x9e3779b9u * (i + 1);
		weft__owner_init(&w->owner, rt, (int)i);
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
	sigset_t old;
	int ret = 0;

	pthread_attr_init(&attr);
	if (rt->cfg.stack_size &&
	    pthread_attr_setstacksize(&attr, rt->cfg.stack_size)) {
		pthread_attr_destroy(&attr);
		return -EINVAL;
	}
	/* workers never take a streamed signal (weft/signal.h) */
	weft__sigmask_enter(&old);
	for (unsigned i = 0; i < rt->nthreads; i++) {
		struct weft__worker *w = &rt->workers[i];

		if (pthread_create(&w->thread, &attr, weft__worker_main, w)) {
			ret = -EAGAIN;
			break;
		}
		w->started = true;
	}
	weft__sigmask_leave(&old);
	pthread_attr_destroy(&attr);
	return ret;
}

int weft__rt_create(weft_rt **out, const weft_rt_builder *b,
		    const weft_obs_opts *obs, const struct weft__driver_ops *io)
{
	weft_rt_builder defaults;
	weft_obs_opts obs_defaults;
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
	if (!obs) {
		weft_obs_opts_init(&obs_defaults);
		obs = &obs_defaults;
	} else if (obs->size < OBS_V1_1_SIZE) {
		/* 1.1 is the first version of the struct: a later one may
		 * be larger (read its first sizeof bytes), never smaller; a
		 * 1.1 one ends before control_path (the rest stays 0) */
		set_create_error("weft_obs_opts.size not set "
				 "(weft_obs_opts_init)");
		return -EINVAL;
	}
	if (obs->size >= sizeof(*obs) &&
	    (bad_signal(obs->dump_signal) || bad_stack_signal(obs->stack_signal) ||
	     (obs->dump_signal && obs->dump_signal == obs->stack_signal))) {
		set_create_error("weft_obs_opts: dump_signal or stack_signal "
				 "is not a usable signal");
		return -EINVAL;
	}
	if (b->workers > 0xfff || (b->allocator && (!b->allocator->alloc ||
						    !b->allocator->free))) {
		set_create_error("invalid builder field");
		return -EINVAL;
	}
	if (b->io.enable && !io) {
		set_create_error("io.enable is set and no I/O driver is built in");
		return -ENOTSUP;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->head.host = &host;
	rt->cfg = *b;
	memcpy(&rt->obs, obs,
	       obs->size < sizeof(rt->obs) ? obs->size : sizeof(rt->obs));
	rt->obs.size = sizeof(rt->obs);
	rt->track = rt->obs.track_tasks;
	rt->track_bytes = rt->track ? sizeof(struct weft__track) : 0;
	rt->obs_spawn = rt->track || rt->obs.on_task_spawn;
	if (b->allocator) {
		rt->alloc = *b->allocator;
		rt->has_alloc = true;
	}
	rt->malloc_is_jemalloc = weft__alloc_probe();
	weft__alloc_tune();
	rt->nthreads = b->current_thread ? 0
			: (b->workers ? b->workers : online_cpus());
	rt->nworkers = rt->nthreads ? rt->nthreads : 1;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->id_lock, NULL);
	pthread_mutex_init(&rt->shut_mu, NULL);
	pthread_cond_init(&rt->shut_cv, NULL);
	rt->shut_waiters.next = rt->shut_waiters.prev = &rt->shut_waiters;
	atomic_init(&rt->next_id, 1);
	weft__injector_init(&rt->inj);
	weft__owner_init(&rt->foreign, rt, -1);
	ret = weft__idle_init(&rt->idle, rt->nworkers);
	if (ret < 0)
		goto out_free;
	ret = workers_init(rt);
	if (ret < 0)
		goto out_idle;
	ret = weft__blocking_init(rt);
	if (ret < 0)
		goto out_workers;
	if (b->io.enable) {
		void *state = NULL;

		/* before any worker thread: the driver's state is in place
		 * when the first task runs */
		ret = io->start(rt, &b->io, rt->nworkers, &state);
		if (ret < 0) {
			if (!create_error[0])
				set_create_error("the I/O driver did not start: "
						 "%s", strerror(-ret));
			goto out_blocking;
		}
		rt->driver_ops = io;
		rt->head.driver = state;
	}
	/* before the workers: it blocks dump_signal in this thread, whose
	 * mask they inherit, and a bad control path fails the creation
	 * before any worker ran */
	ret = weft__control_start(rt);
	if (ret < 0) {
		if (!create_error[0])
			set_create_error("cannot start the control thread: %s",
					 strerror(-ret));
		weft_rt_destroy(rt);
		return ret;
	}
	ret = threads_start(rt);
	if (ret == 0 && rt->obs.long_poll_ns)
		ret = weft__watch_start(rt);
	if (ret < 0) {
		set_create_error("cannot start worker threads");
		weft_rt_destroy(rt);
		return ret;
	}
	*out = rt;
	return 0;

out_blocking:
	weft__blocking_destroy(rt);
out_workers:
	workers_free(rt);
out_idle:
	weft__idle_destroy(&rt->idle);
out_free:
	weft__injector_destroy(&rt->inj);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->shut_mu);
	pthread_cond_destroy(&rt->shut_cv);
	weft__ids_destroy(rt);
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

	return w ? w->rt : weft__block_on_current();
}

static bool rt_has_live_tasks(weft_rt *rt)
{
	if (weft__owner_live(&rt->foreign))
		return true;
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (weft__owner_live(&rt->workers[i].owner))
			return true;
	return false;
}

static void rt_free(weft_rt *rt)
{
	weft__blocking_destroy(rt);
	workers_free(rt);
	weft__idle_destroy(&rt->idle);
	weft__injector_destroy(&rt->inj);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->shut_mu);
	pthread_cond_destroy(&rt->shut_cv);
	weft__ids_destroy(rt);
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
	weft__shutdown_join_background(rt);
	pthread_mutex_lock(&rt->lock);
	rt->destroyed = true;
	pthread_mutex_unlock(&rt->lock);
	weft__rt_maybe_free(rt);
}
