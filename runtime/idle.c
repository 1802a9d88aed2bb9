/* runtime/idle.c - which workers sleep, and waking exactly one of them.
 *
 * A futex wake costs ~60 us here, so the protocol wakes as few workers as
 * it can without ever losing a wake-up:
 *  - `state` packs two counts: workers not parked (low 16 bits) and workers
 *    searching for work (high 16 bits).
 *  - New work (spawn, wake, injector push) calls weft__idle_notify_one: it
 *    wakes one parked worker only if none is searching (a searcher will
 *    find the work) and some worker is parked. The woken worker is counted
 *    as searching at once, so a burst of spawns wakes one worker, not all.
 *  - At most half the workers search at a time (weft__idle_try_searching).
 *  - A searcher that finds work and was the last searcher notifies another
 *    worker (the work it found may be one of many).
 *  - A worker parks in two steps: weft__idle_park_begin (count itself out
 *    and push its index on `sleepers`, under `lock`), then re-check every
 *    queue, and only then futex-wait on its park word. If the re-check
 *    finds work it takes itself back (weft__idle_park_cancel), unless a
 *    notifier already did.
 *
 * The Dekker pair that keeps wake-ups from being lost:
 *   notify_one: [work published] ; seq_cst fence ; load state
 *   park:       RMW state (seq_cst, in park_begin) ; seq_cst fence ; check queues
 * Either the parker's queue check sees the work, or the notifier's load
 * sees the parker counted out and goes to wake it.
 *
 * Park words: a worker stores 1 before park_begin and waits while it is 1;
 * the notifier stores 0 (release) after popping it from sleepers, then
 * futex-wakes it.
 *
 * Model: test/model/idle.pml checks this protocol (with weft__worker_park
 * and the search loop of worker.c) with spin, the Dekker pair under C11
 * stale reads, beside variants without either fence (docs/reliability.md);
 * its header maps each step to the code here. Change both together.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

#define UNPARK_ONE 1u
#define SEARCH_ONE (1u << 16)

static inline unsigned n_unparked(uint32_t s) { return s & 0xffffu; }
static inline unsigned n_searching(uint32_t s) { return s >> 16; }

void weft__futex_wait(_Atomic uint32_t *word, uint32_t expect)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expect, NULL,
		NULL, 0);
}

void weft__futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL,
		0);
}

int weft__idle_init(struct weft__idle *idle, unsigned nworkers)
{
	idle->sleepers = calloc(nworkers, sizeof(*idle->sleepers));
	if (!idle->sleepers)
		return -ENOMEM;
	pthread_mutex_init(&idle->lock, NULL);
	idle->nsleepers = 0;
	idle->nworkers = nworkers;
	atomic_init(&idle->state, nworkers * UNPARK_ONE);
	return 0;
}

void weft__idle_destroy(struct weft__idle *idle)
{
	pthread_mutex_destroy(&idle->lock);
	free(idle->sleepers);
	idle->sleepers = NULL;
}

static bool should_wake(const struct weft__idle *idle, uint32_t s)
{
	return n_searching(s) == 0 && n_unparked(s) < idle->nworkers;
}

/* Under idle->lock: takes index off the sleepers; false if it was not
 * there (a notifier popped it first). */
static bool sleepers_remove(struct weft__idle *idle, unsigned index)
{
	for (unsigned i = 0; i < idle->nsleepers; i++) {
		if (idle->sleepers[i] == index) {
			idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
			return true;
		}
	}
	return false;
}

void weft__worker_unpark(struct weft__worker *w)
{
	/* release: our queue pushes before the worker's wake-up; pairs with
	 * the acquire load of park_word in weft__worker_park */
	atomic_store_explicit(&w->park_word, 0, memory_order_release);
	/* a worker that waits in its driver (a worker-owned ring) is woken
	 * there; the others on the futex */
	if (w->rt->head.driver && w->rt->driver_ops->unpark &&
	    w->rt->driver_ops->unpark(w->rt->head.driver, w->index))
		return;
	weft__futex_wake(&w->park_word, 1);
}

void weft__idle_notify_one(weft_rt *rt)
{
	struct weft__idle *idle = &rt->idle;
	unsigned index;
	uint32_t s;

	/* seq_cst: the work just published before the idle state we read
	 * (the notifier half of the Dekker pair in the module comment) */
	atomic_thread_fence(memory_order_seq_cst);
	/* relaxed: ordered by the fence above */
	s = atomic_load_explicit(&idle->state, memory_order_relaxed);
	if (!should_wake(idle, s))
		return;
	pthread_mutex_lock(&idle->lock);
	/* relaxed: the counts change under the lock except the searching
	 * count, and a stale searcher count only makes us wake one more */
	s = atomic_load_explicit(&idle->state, memory_order_relaxed);
	if (!should_wake(idle, s) || idle->nsleepers == 0) {
		pthread_mutex_unlock(&idle->lock);
		return;
	}
	index = idle->sleepers[--idle->nsleepers];
	/* seq_cst: part of the total order the parkers' fences rely on */
	atomic_fetch_add_explicit(&idle->state, UNPARK_ONE + SEARCH_ONE,
				  memory_order_seq_cst);
	pthread_mutex_unlock(&idle->lock);
	weft__worker_unpark(&rt->workers[index]);
}

/* Wakes worker `index` if it is parked (the current-thread flavour's
 * block_on waker uses this). */
void weft__idle_unpark_index(weft_rt *rt, unsigned index)
{
	struct weft__idle *idle = &rt->idle;
	bool found;

	pthread_mutex_lock(&idle->lock);
	found = sleepers_remove(idle, index);
	if (found)
		/* seq_cst: as in notify_one */
		atomic_fetch_add_explicit(&idle->state,
					  UNPARK_ONE + SEARCH_ONE,
					  memory_order_seq_cst);
	pthread_mutex_unlock(&idle->lock);
	if (found)
		weft__worker_unpark(&rt->workers[index]);
}

bool weft__idle_try_searching(struct weft__idle *idle)
{
	/* relaxed: the limit is a heuristic; the fetch_add below is what
	 * notifiers see */
	uint32_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);

	if (2 * n_searching(s) >= idle->nworkers)
		return false;
	/* seq_cst: notifiers that read this skip their wake; the searcher's
	 * later queue reads must not be ordered before it */
	atomic_fetch_add_explicit(&idle->state, SEARCH_ONE,
				  memory_order_seq_cst);
	return true;
}

/* Returns true when the caller was the last searcher. */
bool weft__idle_end_searching(struct weft__idle *idle)
{
	/* seq_cst: notifiers reading 0 searchers must then wake someone */
	uint32_t prev = atomic_fetch_sub_explicit(&idle->state, SEARCH_ONE,
						  memory_order_seq_cst);

	return n_searching(prev) == 1;
}

void weft__idle_park_begin(struct weft__idle *idle, unsigned index,
			   bool searching)
{
	pthread_mutex_lock(&idle->lock);
	/* seq_cst: the parker half of the Dekker pair (module comment) */
	atomic_fetch_sub_explicit(&idle->state,
				  UNPARK_ONE + (searching ? SEARCH_ONE : 0),
				  memory_order_seq_cst);
	idle->sleepers[idle->nsleepers++] = index;
	pthread_mutex_unlock(&idle->lock);
}

/* Takes a parking worker back. Returns true if it was still in sleepers
 * (it is now counted unparked, not searching); false if a notifier popped
 * it first (it is counted unparked and searching, and its park word is
 * being cleared). */
bool weft__idle_park_cancel(struct weft__idle *idle, unsigned index)
{
	bool found;

	pthread_mutex_lock(&idle->lock);
	found = sleepers_remove(idle, index);
	if (found)
		/* seq_cst: as in park_begin */
		atomic_fetch_add_explicit(&idle->state, UNPARK_ONE,
					  memory_order_seq_cst);
	pthread_mutex_unlock(&idle->lock);
	return found;
}

/* Shutdown: every worker leaves its park (they check rt->stop). */
void weft__idle_unpark_all(weft_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++)
		weft__worker_unpark(&rt->workers[i]);
}
