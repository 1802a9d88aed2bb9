/* runtime/worker.c - the worker loop: where each task poll happens.
 *
 * One worker per thread (the block_on thread is worker 0 in the
 * current-thread flavour). A worker owns its deque, its LIFO slot and its
 * owned-task list; tls_worker names the worker of the calling thread.
 *
 * Picking the next task (next_local, search):
 *   1. every 61st tick: maintenance (free tasks other threads released,
 *      flush the I/O driver) and a batch (its fair share, at most 32) from
 *      the injector, run before the deque, so injected tasks (I/O and
 *      timer wakes) run even under a local flood (tokio and Go take one
 *      task every 61 polls);
 *   2. the LIFO slot, right after the poll that filled it, at most
 *      LIFO_MAX times in a row (message-passing locality without starving
 *      the queue);
 *   3. the local deque, oldest first;
 *   4. a batch from the injector;
 *   5. searching: steal half of another worker's deque, spinning for up to
 *      spin_ns before parking (a futex wake costs ~60 us here); after the
 *      first SPIN_PURE_NS it yields the CPU between looks and no longer
 *      counts as a searcher; a worker with its own ring shortens or skips
 *      the spin when its spins have not paid (spin credits, see
 *      search()).
 * After a yield, the injector is looked at before the deque (once), so a
 * yielding task goes behind the tasks woken from outside.
 * Scheduling (weft__worker_schedule): a task woken or spawned by the
 * running task on this worker goes to the LIFO slot (the previous occupant
 * to the deque); yielded tasks, and tasks woken during their own poll, go
 * to the back of the deque; anything scheduled from another thread goes to
 * the injector. Each push that other
 * workers could take calls weft__idle_notify_one (idle.c).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

#define LIFO_MAX 3
#define FAIR_INTERVAL 61
#define INJECT_BATCH 32
#define SPIN_PURE_NS 5000

/* initial-exec: one %fs-relative load even in the shared library (the
 * default model there calls __tls_get_addr on every spawn and wake) */
static _Thread_local struct weft__worker *tls_worker
	__attribute__((tls_model("initial-exec")));

struct weft__worker *weft__worker_current(void)
{
	return tls_worker;
}

static void busy_start(struct weft__worker *w);
static void busy_stop(struct weft__worker *w);

void weft__worker_enter(struct weft__worker *w)
{
	tls_worker = w;
	busy_start(w);
}

void weft__worker_leave(struct weft__worker *w)
{
	weft__poll_idle(&w->stats);
	busy_stop(w);
	tls_worker = NULL;
}

uint64_t weft__rt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t rng_next(struct weft__worker *w)
{
	uint32_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->rng = x;
	return x;
}

/* A deque push that cannot grow (fixed build: full; growable: out of
 * memory) sends the older half of the deque and t to the injector. */
static void overflow(struct weft__worker *w, struct weft__task *t)
{
	struct weft__task *half[128];
	size_t n = weft__deque_take_half(&w->dq, half, 128);
	struct weft__task *head = t;

	for (size_t i = n; i-- > 0;) {
		half[i]->next = head;
		head = half[i];
	}
	weft__injector_push(&w->rt->inj, head, t, n + 1);
}

static void push_local(struct weft__worker *w, struct weft__task *t)
{
	if (weft__deque_push(&w->dq, t) < 0)
		overflow(w, t);
}

void weft__worker_schedule(struct weft__task *t, bool yield)
{
	weft_rt *rt = weft__task_owner(t)->rt;
	struct weft__worker *w = tls_worker;

	if (w && w->rt == rt) {
		if (!yield && w->in_poll) {
			struct weft__task *prev = w->lifo;

			w->lifo = t;
			if (!prev)
				return;
			t = prev;
		}
		push_local(w, t);
		if (yield)
			w->yielded = true;
		weft__idle_notify_one(rt);
		return;
	}
	weft__injector_push(&rt->inj, t, t, 1);
	weft__idle_notify_one(rt);
}

void weft__worker_push_batch(struct weft__worker *w, struct weft__task *head,
			     size_t n)
{
	while (head) {
		struct weft__task *next = head->next;

		push_local(w, head);
		head = next;
	}
	/* this worker runs the first of them next: another is woken only
	 * when more than that one waits (tokio's rule after its driver
	 * poll). Waking one for a single completion cost a wake-up and a
	 * spin per message: at one connection the other worker was woken
	 * for every message (41 -> 27 us of server CPU per message without
	 * it, 2026-12-02) */
	if (n && weft__deque_len(&w->dq) > 1)
		weft__idle_notify_one(w->rt);
}

static void driver_flush(struct weft__worker *w)
{
	weft_rt *rt = w->rt;

	if (rt->head.driver)
		rt->driver_ops->flush(rt->head.driver, w->index);
}

static void maintenance(struct weft__worker *w)
{
	/* relaxed: a hint; the exchange in drain is what synchronises */
	if (atomic_load_explicit(&w->owner.remote_free, memory_order_relaxed))
		weft__owner_drain_remote(&w->owner);
	driver_flush(w);
}

/* Moves an injector batch into the deque; returns its first task. */
static struct weft__task *take_injected(struct weft__worker *w)
{
	weft_rt *rt = w->rt;
	struct weft__task *first, *t;
	size_t n;

	if (weft__injector_is_empty(&rt->inj))
		return NULL;
	n = weft__injector_pop_batch(&rt->inj, &first, INJECT_BATCH,
				     rt->nworkers);
	if (!n)
		return NULL;
	weft__stat_add(&w->stats.injector_pulls, 1);
	for (t = first->next; t;) {
		struct weft__task *next = t->next;

		push_local(w, t);
		t = next;
	}
	if (n > 1)
		weft__idle_notify_one(rt);
	return first;
}

static struct weft__task *next_local(struct weft__worker *w)
{
	struct weft__task *t;

	if (w->injected) {
		/* a batch taken at the fair interval runs ahead of the deque */
		t = w->injected;
		w->injected = t->next;
		return t;
	}
	if (w->yielded) {
		/* a yielded task goes behind the tasks woken from outside (I/O,
		 * timers, other threads): they wait in the injector, which the
		 * deque would otherwise keep waiting until the fair interval
		 * (tokio defers yielded tasks until after its driver poll) */
		w->yielded = false;
		if (!weft__injector_is_empty(&w->rt->inj) &&
		    weft__injector_pop_batch(&w->rt->inj, &t, INJECT_BATCH,
					     w->rt->nworkers)) {
			weft__stat_add(&w->stats.injector_pulls, 1);
			w->injected = t->next;
			return t;
		}
	}
	if (++w->tick % FAIR_INTERVAL == 0) {
		maintenance(w);
		/* a batch, not one task: tasks woken by I/O and timers come
		 * through the injector, and under a local flood one per 61
		 * polls made timer wakes tens of ms late (sleep_many) */
		if (!weft__injector_is_empty(&w->rt->inj) &&
		    weft__injector_pop_batch(&w->rt->inj, &t, INJECT_BATCH,
					     w->rt->nworkers)) {
			weft__stat_add(&w->stats.injector_pulls, 1);
			w->injected = t->next;
			return t;
		}
	}
	t = weft__deque_pop(&w->dq);
	if (t)
		return t;
	driver_flush(w);
	/* the flush may have reaped completions onto the deque */
	t = weft__deque_pop(&w->dq);
	if (t)
		return t;
	return take_injected(w);
}

static struct weft__task *steal_work(struct weft__worker *w)
{
	weft_rt *rt = w->rt;
	unsigned n = rt->nworkers;
	unsigned start = n > 1 ? rng_next(w) % n : 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned v = (start + i) % n;
		struct weft__task *t;

		if (v == w->index)
			continue;
		weft__stat_add(&w->stats.steal_attempts, 1);
		t = weft__deque_steal_into(&rt->workers[v].dq, &w->dq);
		if (t) {
			/* what it took beyond t is in our deque, which was
			 * empty (thieves may take some of it back meanwhile:
			 * a count, not an audit) */
			weft__stat_add(&w->stats.steals, 1);
			weft__stat_add(&w->stats.stolen,
				       1 + weft__deque_len(&w->dq));
			return t;
		}
	}
	return take_injected(w);
}

static bool stopping(const struct weft__worker *w)
{
	/* acquire: pairs with the release store in weft_rt_shutdown */
	return atomic_load_explicit(&w->rt->stop, memory_order_acquire);
}

static uint64_t spin_ns(void)
{
	static _Thread_local int64_t cached = -1;

	if (cached < 0) {
		const char *e = getenv("WEFT_SPIN_US");

		cached = e ? atoll(e) * 1000 : 50 * 1000;
	}
	return (uint64_t)cached;
}

static bool work_visible(struct weft__worker *w);

/* Stops counting w as a searcher. The last searcher to stop wakes another
 * worker only if work is still queued: the task it found may be one of
 * many, but when it was the only one, a wake-up would cost a futex round
 * trip (~60 us) and a spinning worker for nothing, and the CPU the woken
 * worker takes delays the task just found (wake_latency's idle p50 and p99
 * halved without it). Work pushed later is not lost: its pusher sees no
 * searcher and wakes a worker itself (the Dekker pair of idle.c: our RMW
 * in end_searching, the fence, then the queue loads). */
static void end_search(struct weft__worker *w)
{
	if (!weft__idle_end_searching(&w->rt->idle))
		return;
	/* seq_cst: our count's decrement before the queue loads */
	atomic_thread_fence(memory_order_seq_cst);
	if (work_visible(w))
		weft__idle_notify_one(w->rt);
}

/* How long a search spins (search()). A spin pays when work comes while
 * it lasts: a park and its wake-up cost a futex or ring round trip
 * (~60 us of latency here, and CPU on both sides), a spin only its CPU.
 * Work that other workers or threads make (a steal, the injector) is what
 * the spin is for (the in-process rows: ping_pong, wake_latency); a
 * worker whose work comes from its own ring (a network server) pays for
 * every microsecond it spins while its next completion is tens of
 * microseconds away (one connection: a worker spinning and yielding for
 * the whole round trip, 2.3x tokio's CPU per message). So each worker
 * keeps two small credits, counted by what ended its searches:
 *   pure   the first SPIN_PURE_NS of pure spinning: up when work came in
 *          it, down when it passed without; at 0 the worker skips it
 *          (parks at once) except on every PROBE_EVERYth search;
 *   yield  the rest of spin_ns, yielding between looks: up (by
 *          CREDIT_GAIN) when a steal or the injector brought work, down
 *          when it ended with the worker's own completions or nothing;
 *          at 0 the worker parks after the pure spin.
 * A worker without its own ring (the reactor-ring driver, no driver)
 * always spins the whole of spin_ns: it cannot wait for its I/O in a
 * ring. */
#define CREDIT_MAX 16
#define CREDIT_GAIN 4
#define PURE_MAX 8
#define PROBE_EVERY 16

static void credit_up(uint8_t *c, unsigned by, unsigned max)
{
	*c = (uint8_t)(*c + by > max ? max : *c + by);
}

static void credit_down(uint8_t *c)
{
	if (*c)
		(*c)--;
}

enum found { FOUND_OWN, FOUND_OTHER, FOUND_NOTHING };

/* The search's outcome, for the credits; `spun`: the clock was read (the
 * first look found nothing), `yielding`: past the pure spin. Work made
 * elsewhere found at the first look (after an unpark: the work a spin
 * would have caught) counts as a paid spin: without it a worker woken
 * again and again to steal (64 connections of one redis-benchmark client:
 * 25-30 % fewer requests/s) parked at once each time. */
static void spin_account(struct weft__worker *w, enum found f, bool spun,
			 bool yielding)
{
	if (f == FOUND_OTHER) {
		/* a spin's work (or, at the first look, what one would have
		 * caught); past the pure spin it pays the yield part only */
		if (!yielding)
			credit_up(&w->pure_credit, 2, PURE_MAX);
		credit_up(&w->spin_credit, CREDIT_GAIN, CREDIT_MAX);
		return;
	}
	if (!spun)          /* own completions at the first look: no spin */
		return;
	if (yielding)
		credit_down(&w->spin_credit);
	else if (f == FOUND_OWN)
		credit_up(&w->pure_credit, 2, PURE_MAX);
	else
		credit_down(&w->pure_credit);
}

static struct weft__task *search(struct weft__worker *w,
				 const _Atomic uint32_t *extra)
{
	uint64_t deadline = 0, yield_after = 0, pure = SPIN_PURE_NS;
	bool yielding = false, spun = false;
	bool own_ring = w->rt->head.driver && w->rt->driver_ops->park;

	/* no task runs while it searches (the detector's view: internal.h) */
	weft__poll_idle(&w->stats);
	for (;;) {
		struct weft__task *t;
		uint64_t now;

		if (!w->searching && !yielding &&
		    weft__idle_try_searching(&w->rt->idle))
			w->searching = true;
		/* completions the driver holds for this worker (its own ring)
		 * are reaped only by it: look at them between steals, or they
		 * would wait for the end of the spin */
		if (own_ring) {
			driver_flush(w);
			t = weft__deque_pop(&w->dq);
			if (t) {
				spin_account(w, FOUND_OWN, spun, yielding);
				return t;
			}
		}
		/* past the pure spin a worker still steals, uncounted */
		t = w->searching || yielding ? steal_work(w) : take_injected(w);
		if (t) {
			spin_account(w, FOUND_OTHER, spun, yielding);
			return t;
		}
		if (stopping(w) ||
		    (extra && atomic_load_explicit(extra,
						   memory_order_acquire)))
			return NULL;
		/* every look (a clock read costs about what one of the 32
		 * pauses below does here: ~30 ns each) */
		now = weft__rt_now_ns();
		if (!spun) {
			uint64_t all = spin_ns();

			spun = true;
			if (own_ring) {
				if (!w->pure_credit &&
				    ++w->probe % PROBE_EVERY != 0)
					pure = 0;
				if (!w->spin_credit)
					all = pure;
			}
			deadline = now + all;
			yield_after = now + pure;
		}
		if (now >= deadline) {
			spin_account(w, FOUND_NOTHING, spun, yielding);
			return NULL;
		}
		/* past the first few microseconds, let other threads on this
		 * CPU (the reactor, a client) run between looks: on a machine
		 * with fewer cores than threads pure spinning would delay the
		 * very work we wait for */
		if (!yielding && now >= yield_after) {
			if (pure)  /* a pure spin passed without work */
				credit_down(&w->pure_credit);
			yielding = true;
			/* ... and stop counting as a searcher: a worker in
			 * sched_yield may not run again for a whole time slice,
			 * and notifiers that see a searcher wake no one (it made
			 * the idle p99.9 of wake_latency milliseconds on a busy
			 * host) */
			if (w->searching) {
				w->searching = false;
				end_search(w);
			}
		}
		if (yielding)
			sched_yield();
		else
			for (int k = 0; k < 32; k++)
				weft__cpu_relax();
	}
}

static void run_task(struct weft__worker *w, struct weft__task *t)
{
	unsigned lifo_runs = 0;

	for (;;) {
		w->in_poll = true;
		weft__task_run(t, w);
		w->in_poll = false;
		t = w->lifo;
		if (!t) {
			if (lifo_runs)
				weft__stat_add(&w->stats.lifo_runs, lifo_runs);
			return;
		}
		w->lifo = NULL;
		if (++lifo_runs > LIFO_MAX) {
			push_local(w, t);
			weft__idle_notify_one(w->rt);
			weft__stat_add(&w->stats.lifo_runs, lifo_runs - 1);
			return;
		}
	}
}

/* One scheduling step: finds a task (spinning for a while if need be) and
 * runs it. Returns false when there was nothing to run (the caller parks),
 * or when *extra became non-zero. */
bool weft__worker_run_once_ex(struct weft__worker *w,
			      const _Atomic uint32_t *extra)
{
	struct weft__task *t = next_local(w);

	if (!t)
		t = search(w, extra);
	if (!t)
		return false;
	if (w->searching) {
		w->searching = false;
		end_search(w);
	}
	run_task(w, t);
	return true;
}

bool weft__worker_run_once(struct weft__worker *w)
{
	return weft__worker_run_once_ex(w, NULL);
}

static bool work_visible(struct weft__worker *w)
{
	weft_rt *rt = w->rt;

	if (!weft__injector_is_empty(&rt->inj))
		return true;
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (weft__deque_len(&rt->workers[i].dq))
			return true;
	return false;
}

/* Busy time: a clock read when the worker goes to sleep and one when it
 * wakes, none per poll (metrics.c adds the running stretch). */
static void busy_stop(struct weft__worker *w)
{
	uint64_t since = weft__stat_get(&w->stats.active_since);

	if (since) {
		atomic_store_explicit(&w->stats.busy_ns,
				      weft__stat_get(&w->stats.busy_ns) +
					      (weft__rt_now_ns() - since),
				      memory_order_relaxed);
		atomic_store_explicit(&w->stats.active_since, 0,
				      memory_order_relaxed);
	}
}

static void busy_start(struct weft__worker *w)
{
	atomic_store_explicit(&w->stats.active_since, weft__rt_now_ns(),
			      memory_order_relaxed);
}

/* The sleep of a park past its checks; false when the runtime stops. */
static bool park_sleep(struct weft__worker *w)
{
	weft_rt *rt = w->rt;
	bool woken = true;

	weft__stat_add(&w->stats.parks, 1);
	if (rt->obs.on_park)
		rt->obs.on_park(rt->obs.arg, w->index);
	busy_stop(w);
	/* acquire: pairs with weft__worker_unpark's release store */
	while (atomic_load_explicit(&w->park_word, memory_order_acquire) == 1) {
		if (stopping(w)) {
			woken = false;
			break;
		}
		if (rt->head.driver && rt->driver_ops->park &&
		    rt->driver_ops->park(rt->head.driver, w->index)) {
			/* the driver's wait ended: an unpark (park_word 0), or
			 * completions for this worker, which it reaps at its
			 * next flush: leave the park ourselves */
			if (atomic_load_explicit(&w->park_word,
						 memory_order_acquire) == 0)
				break;
			if (weft__idle_park_cancel(&rt->idle, w->index)) {
				woken = false; /* unparked, not searching */
				break;
			}
			/* a notifier popped us meanwhile: wait for its store */
			while (atomic_load_explicit(&w->park_word,
						    memory_order_acquire) != 0)
				weft__cpu_relax();
			break;
		}
		weft__futex_wait(&w->park_word, 1);
	}
	busy_start(w);
	weft__stat_add(&w->stats.unparks, 1);
	if (rt->obs.on_unpark)
		rt->obs.on_unpark(rt->obs.arg, w->index);
	return woken;
}

/* Parks until notified (see idle.c for the protocol). `extra`, when not
 * NULL, is one more condition that cancels the park (block_on's flag). */
void weft__worker_park(struct weft__worker *w, const _Atomic uint32_t *extra)
{
	struct weft__idle *idle = &w->rt->idle;

	weft__poll_idle(&w->stats);
	maintenance(w);
	/* relaxed: our own word; the notifier's store of 0 comes later in
	 * the lock order of idle->lock */
	atomic_store_explicit(&w->park_word, 1, memory_order_relaxed);
	weft__idle_park_begin(idle, w->index, w->searching);
	w->searching = false;
	/* seq_cst: the parker half of the Dekker pair in idle.c */
	atomic_thread_fence(memory_order_seq_cst);
	if (work_visible(w) || stopping(w) ||
	    /* relaxed: after the fence; a remote free pushed meanwhile
	     * (weft__owner_free's side of this pair) */
	    atomic_load_explicit(&w->owner.remote_free,
				 memory_order_relaxed) ||
	    (extra && atomic_load_explicit(extra, memory_order_relaxed))) {
		if (weft__idle_park_cancel(idle, w->index))
			return;
		/* a notifier popped us and counted us searching; wait for its
		 * store so the word is clean for the next park */
		while (atomic_load_explicit(&w->park_word,
					    memory_order_acquire) != 0)
			weft__cpu_relax();
		w->searching = true;
		return;
	}
	if (park_sleep(w))
		w->searching = true;
}

static void pin_self(struct weft__worker *w)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (ncpu < 1)
		return;
	CPU_ZERO(&set);
	CPU_SET(w->index % (unsigned)ncpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void *weft__worker_main(void *arg)
{
	struct weft__worker *w = arg;
	weft_rt *rt = w->rt;
	char name[16];

	tls_worker = w;
	w->pure_credit = PURE_MAX;
	w->spin_credit = CREDIT_MAX;
	busy_start(w);
	snprintf(name, sizeof(name), "%.10s-%u",
		 rt->cfg.thread_name ? rt->cfg.thread_name : "weft-w",
		 w->index);
	pthread_setname_np(pthread_self(), name);
	if (!rt->cfg.no_pin)
		pin_self(w);
	if (rt->head.driver && rt->driver_ops->worker_start)
		rt->driver_ops->worker_start(rt->head.driver, w->index);
	if (rt->cfg.on_thread_start)
		rt->cfg.on_thread_start(rt->cfg.hook_arg);
	while (!stopping(w)) {
		if (!weft__worker_run_once(w))
			weft__worker_park(w, NULL);
	}
	weft__poll_idle(&w->stats);
	if (rt->head.driver && rt->driver_ops->worker_stop) {
		driver_flush(w);
		rt->driver_ops->worker_stop(rt->head.driver, w->index);
	}
	busy_stop(w);
	if (rt->cfg.on_thread_stop)
		rt->cfg.on_thread_stop(rt->cfg.hook_arg);
	tls_worker = NULL;
	return NULL;
}
