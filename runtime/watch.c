/* runtime/watch.c - the long-poll detector (weft_obs_opts.long_poll_ns).
 *
 * A thread of its own rather than a reactor timer: it has to see a worker
 * stuck in a poll whatever else happens (a runtime may have no reactor,
 * and a timer's wake needs a free worker to run it), and runtime/ names
 * no driver.
 *
 * The workers read no clock for it. At the start of each poll a worker
 * bumps its poll number (the polls metric), stores the future's type
 * (with tracking, the spawn site before), then the task's address; after
 * the poll it stores 0 as the task (weft__poll_begin / _end, internal.h:
 * five stores, no RMW, no fence). Every period (half the threshold, at
 * least 1 ms, while some worker is in a poll; doubling up to 8 thresholds
 * while none is: each wake-up of the watcher costs ~30 us of CPU on a
 * small VM, 3.6 % of a 16-connection echo server's at a quarter-threshold
 * period) the watcher reads each worker's task, then
 * its number: a poll running (task non-zero) with the number it also saw
 * at an earlier look has run since then at least (the watcher keeps the
 * time of the first sighting itself; a new poll has a new number). At
 * threshold or more it reads the type and site, then the number and the
 * task again: unchanged, the fields are that poll's (the stores are
 * releases and the watcher's reads acquire: a field of a later poll would
 * come with that poll's number). It reports once per poll, and never
 * reads the task itself: the fields are copies, and the type and the file
 * name have static storage.
 *
 * The blocked worker's stack (weft_obs_opts.stack_signal): the watcher
 * marks the worker's stack slot REQUESTED and sends the signal to that
 * worker's thread; the handler (the worker's TLS names the worker, and
 * rt->watch the slots) stores backtrace(3) into the slot and marks it
 * DONE (release); the watcher waits up to STACK_WAIT_NS for that
 * (acquire), and uses the frames only if the same poll is still running
 * afterwards. A handler that comes too late finds the slot no longer
 * REQUESTED (the watcher's CAS to IDLE won) and does nothing. The handler
 * is installed at start and the previous one put back at stop.
 *
 * The watcher sleeps on a condition variable with a timeout, so
 * weft__watch_stop (shutdown, after the workers are joined: a poll still
 * running while they are joined is reported) wakes it at once.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

struct seen {
	uint64_t seq;         /* number of the poll seen running, 0 none */
	uint64_t since;       /* when it was first seen */
	bool reported;
};

#define STACK_MAX 48
#define STACK_WAIT_NS (100u * 1000 * 1000)

enum { STACK_IDLE, STACK_REQUESTED, STACK_TAKING, STACK_DONE };

struct stack_slot {
	_Atomic int state;
	int n;
	void *frames[STACK_MAX];
};

struct weft__watch {
	weft_rt *rt;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* CLOCK_MONOTONIC */
	bool stop;            /* under lock */
	uint64_t period_ns, threshold_ns;
	struct seen *seen;    /* nworkers entries, watcher thread only */
	/* the last reports, for the control socket (control.c): under lock */
	weft_long_poll recent[WEFT__LONG_POLL_RING];
	uint64_t recent_at[WEFT__LONG_POLL_RING];
	size_t nrecent;       /* reports so far (the ring holds the last) */
	/* stack_signal: a slot per worker, and the handler it replaced */
	struct stack_slot *stacks;
	struct sigaction old_action;
};

static void stack_handler(int sig)
{
	int saved = errno;
	struct weft__worker *w = weft__worker_current();
	struct weft__watch *wt;
	struct stack_slot *sl;
	int expect = STACK_REQUESTED;

	(void)sig;
	/* acquire: pairs with weft__watch_start's release */
	if (!w || !(wt = atomic_load_explicit(&w->rt->stack_watch,
					      memory_order_acquire)))
		goto out;
	sl = &wt->stacks[w->index];
	/* acquire: the watcher's request; only a requested slot is filled */
	if (!atomic_compare_exchange_strong_explicit(
		    &sl->state, &expect, STACK_TAKING, memory_order_acquire,
		    memory_order_relaxed))
		goto out;
	sl->n = backtrace(sl->frames, STACK_MAX);
	/* release: the frames before DONE */
	atomic_store_explicit(&sl->state, STACK_DONE, memory_order_release);
out:
	errno = saved;
}

/* Asks worker i for its stack; true with the frames in its slot. */
static bool take_stack(struct weft__watch *wt, unsigned i)
{
	struct weft__worker *w = &wt->rt->workers[i];
	struct stack_slot *sl = &wt->stacks[i];
	uint64_t until;
	int expect;

	if (!w->started)
		return false; /* the current-thread flavour's caller: not ours */
	atomic_store_explicit(&sl->state, STACK_REQUESTED,
			      memory_order_release);
	if (pthread_kill(w->thread, wt->rt->obs.stack_signal)) {
		atomic_store_explicit(&sl->state, STACK_IDLE,
				      memory_order_relaxed);
		return false;
	}
	until = weft__rt_now_ns() + STACK_WAIT_NS;
	for (;;) {
		/* acquire: pairs with the handler's release of DONE */
		if (atomic_load_explicit(&sl->state, memory_order_acquire) ==
		    STACK_DONE)
			return true;
		if (weft__rt_now_ns() >= until)
			break;
		usleep(500);
	}
	/* too late: withdraw the request, unless the handler is taking it
	 * now (then wait for it: it is a backtrace away) */
	expect = STACK_REQUESTED;
	if (atomic_compare_exchange_strong_explicit(&sl->state, &expect,
						    STACK_IDLE,
						    memory_order_relaxed,
						    memory_order_relaxed))
		return false;
	while (atomic_load_explicit(&sl->state, memory_order_acquire) !=
	       STACK_DONE)
		usleep(100);
	return true;
}

size_t weft__watch_recent(weft_rt *rt, weft_long_poll *out, uint64_t *at,
			  size_t max)
{
	struct weft__watch *wt = rt->watch;
	size_t n = 0;

	if (!wt)
		return 0;
	pthread_mutex_lock(&wt->lock);
	for (size_t k = wt->nrecent; k > 0 && n < max &&
				     n < WEFT__LONG_POLL_RING; k--, n++) {
		size_t i = (k - 1) % WEFT__LONG_POLL_RING;

		out[n] = wt->recent[i];
		at[n] = wt->recent_at[i];
	}
	pthread_mutex_unlock(&wt->lock);
	return n;
}

static const char *poll_symbol(const weft_future_type *type)
{
	Dl_info di;
	void *fn;

	/* a function pointer as data for dladdr: POSIX allows it */
	memcpy(&fn, &type->poll, sizeof(fn));
	if (dladdr(fn, &di) && di.dli_sname && di.dli_saddr == fn)
		return di.dli_sname;
	return NULL;
}

static void default_report(const weft_long_poll *r)
{
	char line[512];
	char site[256];
	int n;

	if (r->file)
		snprintf(site, sizeof(site), "%s:%u", r->file, r->line);
	else
		snprintf(site, sizeof(site), "?");
	n = snprintf(line, sizeof(line),
		     "weft: long poll: task %#lx%s%s%s (%s, %s) spawned at %s "
		     "has run %llu ms on worker %u\n",
		     (unsigned long)r->task, r->task_name ? " \"" : "",
		     r->task_name ? r->task_name : "",
		     r->task_name ? "\"" : "", r->name ? r->name : "?",
		     r->symbol ? r->symbol : "?", site,
		     (unsigned long long)(r->elapsed_ns / 1000000u), r->worker);
	if (n > 0) {
		/* one write: lines of several reports do not interleave */
		ssize_t ignored = write(2, line, (size_t)n < sizeof(line)
						      ? (size_t)n
						      : sizeof(line) - 1);
		(void)ignored;
	}
	if (r->nstack) {
		static const char head[] = "weft: the blocked worker's stack "
					   "(innermost first):\n";
		ssize_t ignored = write(2, head, sizeof(head) - 1);

		(void)ignored;
		backtrace_symbols_fd(r->stack, (int)r->nstack, 2);
	}
}

/* Looks at worker i; returns when its running poll, if one has been seen
 * and not reported, becomes due (UINT64_MAX when none), and sets *busy
 * when the worker is in a poll. */
static uint64_t look(struct weft__watch *wt, unsigned i, uint64_t now,
		     bool *busy)
{
	weft_rt *rt = wt->rt;
	struct weft__wstats *st = &rt->workers[i].stats;
	struct seen *s = &wt->seen[i];
	/* acquire: the poll's number and type, stored before the task
	 * (weft__poll_begin) */
	uintptr_t task = atomic_load_explicit(&st->cur_task,
					      memory_order_acquire);
	uint64_t seq = atomic_load_explicit(&st->poll_seq,
					    memory_order_relaxed);
	weft_long_poll r;

	if (!task) {
		s->seq = 0;
		return UINT64_MAX;
	}
	*busy = true;
	if (seq != s->seq) {
		s->seq = seq;
		s->since = now;
		s->reported = false;
		return now + wt->threshold_ns;
	}
	if (s->reported)
		return UINT64_MAX;
	if (now - s->since < wt->threshold_ns)
		return s->since + wt->threshold_ns;
	memset(&r, 0, sizeof(r));
	r.task = task;
	const weft_future_type *type =
		atomic_load_explicit(&st->cur_type, memory_order_relaxed);
	r.file = atomic_load_explicit(&st->cur_file, memory_order_relaxed);
	r.line = atomic_load_explicit(&st->cur_line, memory_order_relaxed);
	/* acquire fence: the fields' loads before the second loads (a field
	 * of a later poll, stored after that poll's number, makes them see
	 * that number) */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&st->poll_seq, memory_order_relaxed) != seq ||
	    atomic_load_explicit(&st->cur_task, memory_order_relaxed) != task)
		return UINT64_MAX; /* the poll ended meanwhile */
	r.name = type ? type->name : NULL;
	r.symbol = type ? poll_symbol(type) : NULL;
	r.worker = i;
	r.elapsed_ns = now - s->since;
	r.task_name = weft__task_name_at(rt, task);
	s->reported = true;
	if (wt->stacks && take_stack(wt, i)) {
		struct stack_slot *sl = &wt->stacks[i];

		/* the same poll still running: the stack is that poll's */
		if (atomic_load_explicit(&st->poll_seq,
					 memory_order_relaxed) == seq &&
		    atomic_load_explicit(&st->cur_task,
					 memory_order_relaxed) == task &&
		    sl->n > 0) {
			r.nstack = (unsigned)sl->n;
			r.stack = sl->frames;
		}
	}
	weft__stat_add(&st->long_polls, 1);
	pthread_mutex_lock(&wt->lock);
	wt->recent[wt->nrecent % WEFT__LONG_POLL_RING] = r;
	/* the ring outlives the slot's frames */
	wt->recent[wt->nrecent % WEFT__LONG_POLL_RING].nstack = 0;
	wt->recent[wt->nrecent % WEFT__LONG_POLL_RING].stack = NULL;
	wt->recent_at[wt->nrecent % WEFT__LONG_POLL_RING] = now;
	wt->nrecent++;
	pthread_mutex_unlock(&wt->lock);
	if (rt->obs.on_long_poll)
		rt->obs.on_long_poll(rt->obs.arg, &r);
	else
		default_report(&r);
	if (r.nstack)
		atomic_store_explicit(&wt->stacks[i].state, STACK_IDLE,
				      memory_order_relaxed);
	return UINT64_MAX;
}

static void *watch_main(void *arg)
{
	struct weft__watch *wt = arg;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "weft-watch");
	uint64_t wait = wt->period_ns;

	pthread_mutex_lock(&wt->lock);
	while (!wt->stop) {
		uint64_t now = weft__rt_now_ns(), at;
		bool busy = false;

		pthread_mutex_unlock(&wt->lock);
		at = UINT64_MAX;
		for (unsigned i = 0; i < wt->rt->nworkers; i++) {
			uint64_t due = look(wt, i, now, &busy);

			if (due < at)
				at = due;
		}
		/* every period while polls run, backing off to 8 thresholds
		 * while no worker is in one (an idle runtime wakes its watcher
		 * ~12 times a second at the default threshold, not 200); a
		 * poll seen running is looked at again when it becomes due */
		wait = busy ? wt->period_ns
			    : (wait * 2 < 8 * wt->threshold_ns
				       ? wait * 2
				       : 8 * wt->threshold_ns);
		if (now + wait < at)
			at = now + wait;
		pthread_mutex_lock(&wt->lock);
		ts.tv_sec = (time_t)(at / 1000000000u);
		ts.tv_nsec = (long)(at % 1000000000u);
		while (!wt->stop &&
		       pthread_cond_timedwait(&wt->cond, &wt->lock, &ts) !=
			       ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&wt->lock);
	return NULL;
}

/* Puts the previous handler back (no signal is sent after: the watcher
 * is stopped or never ran; one sent earlier was waited for). */
static void stack_off(weft_rt *rt, struct weft__watch *wt)
{
	if (!wt->stacks)
		return;
	sigaction(rt->obs.stack_signal, &wt->old_action, NULL);
	atomic_store_explicit(&rt->stack_watch, NULL, memory_order_relaxed);
	free(wt->stacks);
	wt->stacks = NULL;
}

int weft__watch_start(weft_rt *rt)
{
	struct weft__watch *wt = calloc(1, sizeof(*wt));
	pthread_condattr_t ca;

	if (!wt)
		return -ENOMEM;
	wt->seen = calloc(rt->nworkers, sizeof(*wt->seen));
	if (!wt->seen) {
		free(wt);
		return -ENOMEM;
	}
	wt->rt = rt;
	wt->threshold_ns = rt->obs.long_poll_ns;
	wt->period_ns = wt->threshold_ns / 2;
	if (wt->period_ns < 1000000u)
		wt->period_ns = 1000000u;
	if (rt->obs.stack_signal) {
		struct sigaction sa;
		void *warm[4];

		wt->stacks = calloc(rt->nworkers, sizeof(*wt->stacks));
		if (!wt->stacks) {
			free(wt->seen);
			free(wt);
			return -ENOMEM;
		}
		/* backtrace's first call loads libgcc (malloc, locks): here,
		 * not in the handler */
		(void)backtrace(warm, 4);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = stack_handler;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		/* release: the slots before a handler can find them */
		atomic_store_explicit(&rt->stack_watch, wt,
				      memory_order_release);
		sigaction(rt->obs.stack_signal, &sa, &wt->old_action);
	}
	pthread_mutex_init(&wt->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wt->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&wt->thread, NULL, watch_main, wt)) {
		pthread_cond_destroy(&wt->cond);
		pthread_mutex_destroy(&wt->lock);
		stack_off(rt, wt);
		free(wt->seen);
		free(wt);
		return -EAGAIN;
	}
	rt->watch = wt;
	return 0;
}

void weft__watch_stop(weft_rt *rt)
{
	struct weft__watch *wt = rt->watch;

	if (!wt)
		return;
	pthread_mutex_lock(&wt->lock);
	wt->stop = true;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
	pthread_join(wt->thread, NULL);
	pthread_cond_destroy(&wt->cond);
	pthread_mutex_destroy(&wt->lock);
	stack_off(rt, wt);
	free(wt->seen);
	free(wt);
	rt->watch = NULL;
}
