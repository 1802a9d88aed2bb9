/* sync/wait.h - private helpers shared by the sync primitives: the futex
 * lock, intrusive wait lists, and batched waking outside the lock.
 *
 * Locking protocol common to every primitive in sync/:
 *  - Each primitive has one weft__lock guarding its wait list, the `link`
 *    and `waker` fields of every queued waiter, and its own bookkeeping.
 *  - A waiter's `state` is only changed under that lock, by a release
 *    store; the waiting future reads it without the lock (acquire) to learn
 *    that it was woken. The waker who changes QUEUED to a WOKEN state first
 *    moves the waker out of the node, so a node whose state is not QUEUED is
 *    never touched again by anyone but its owner: the owner may free it.
 *  - Wakers are never called with a lock held. A notifier collects up to
 *    WEFT__BATCH wakers, unlocks, wakes them, and relocks to go on.
 *  - A future dropped while QUEUED takes the lock and unlinks itself; since
 *    unlinking needs only prev/next, it works whichever list holds the node
 *    (the primitive's, or a notifier's private list being drained).
 */
#ifndef WEFT_SYNC_WAIT_H
#define WEFT_SYNC_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "weft/waiter.h"

/* Waiter states shared by all primitives. */
enum {
	WEFT__W_IDLE = 0,     /* initialised, never queued */
	WEFT__W_QUEUED = 1,   /* on a wait list, waker set */
	WEFT__W_WOKEN = 2,    /* granted / notified: waker moved out */
	WEFT__W_WOKEN_ALL = 3,/* woken by a broadcast (notify_waiters, cancel) */
	WEFT__W_CLOSED = 4,   /* woken because the primitive closed */
	WEFT__W_DONE = 5,     /* the future returned READY or was dropped */
};

#define WEFT__BATCH 32

/* ----------------------------------------------------------------- lock */

void weft__lock_slow(weft__lock *l);
void weft__unlock_wake(weft__lock *l);

static inline void weft__lock_init(weft__lock *l)
{
	/* relaxed: initialisation, published by whatever shares the object */
	atomic_store_explicit(&l->word, 0, memory_order_relaxed);
}

static inline void weft__lock_acquire(weft__lock *l)
{
	uint32_t zero = 0;

	/* acquire: pairs with the release in weft__lock_release(); the
	 * previous holder's writes are visible to us */
	if (atomic_compare_exchange_strong_explicit(&l->word, &zero, 1,
						    memory_order_acquire,
						    memory_order_relaxed))
		return;
	weft__lock_slow(l);
}

static inline void weft__lock_release(weft__lock *l)
{
	/* release: publishes the critical section to the next
	 * weft__lock_acquire(); 2 means someone may sleep on the futex */
	if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
		weft__unlock_wake(l);
}

/* ----------------------------------------------------------------- list */

static inline void weft__list_init(weft__wlink *h)
{
	h->prev = h;
	h->next = h;
}

static inline bool weft__list_empty(const weft__wlink *h)
{
	return h->next == h;
}

static inline void weft__list_push_back(weft__wlink *h, weft__wlink *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void weft__list_unlink(weft__wlink *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n;
	n->next = n;
}

static inline weft__waiter *weft__list_pop_front(weft__wlink *h)
{
	weft__wlink *n = h->next;

	if (n == h)
		return NULL;
	weft__list_unlink(n);
	return (weft__waiter *)n;
}

/* Moves every node of src to dst (an initialised empty head). */
static inline void weft__list_move_all(weft__wlink *dst, weft__wlink *src)
{
	if (weft__list_empty(src))
		return;
	dst->next = src->next;
	dst->prev = src->prev;
	dst->next->prev = dst;
	dst->prev->next = dst;
	weft__list_init(src);
}

/* --------------------------------------------------------------- waiter */

static inline void weft__waiter_init(weft__waiter *w, uint32_t arg)
{
	w->link.prev = &w->link;
	w->link.next = &w->link;
	w->waker = WEFT_WAKER_NONE;
	/* relaxed: the node is private to its owner until queued under a lock */
	atomic_store_explicit(&w->state, WEFT__W_IDLE, memory_order_relaxed);
	w->arg = arg;
}

/* Debug builds: may this node be initialised again? A waiting future is
 * initialised on zeroed memory (IDLE) or after its _drop or READY (DONE);
 * any other state means it is still registered with its primitive (on a
 * wait list, or woken with something granted to it that only its poll or
 * drop hands over), and re-initialising it would corrupt the list (a
 * cancel or notify_waiters that loops forever) or lose the grant.
 * relaxed: the owner reads its own node; a misuse check, not a sync. */
static inline bool weft__waiter_reusable(weft__waiter *w)
{
	uint32_t s = atomic_load_explicit(&w->state, memory_order_relaxed);

	return s == WEFT__W_IDLE || s == WEFT__W_DONE;
}

/* In a waiting future's _init: aborts (debug builds) with where and what
 * (the message names the fix) when the node is still registered. */
#define WEFT__WAITER_CHECK_INIT(w, where, what)                             \
	WEFT_DEBUG_CHECK(weft__waiter_reusable(w), where, what)

/* The owner reads its own state. acquire: pairs with the release store in
 * weft__waiter_wake_locked(), so what the waker published before waking
 * (a granted permit, a copied message) is visible. */
static inline uint32_t weft__waiter_state(const weft__waiter *w)
{
	return atomic_load_explicit(&w->state, memory_order_acquire);
}

/* Owner-only state change (the node is not queued). relaxed: nobody else
 * reads the node once it is not queued. */
static inline void weft__waiter_set_state(weft__waiter *w, uint32_t s)
{
	atomic_store_explicit(&w->state, s, memory_order_relaxed);
}

/* Queues w at the back of h and stores the task's waker; lock held. */
static inline void weft__waiter_enqueue_locked(weft__wlink *h, weft__waiter *w,
					       const weft_cx *cx)
{
	weft_waker_register(&w->waker, cx);
	/* relaxed: we hold the lock; others read it under the lock or
	 * through the acquire in weft__waiter_state() after a release */
	atomic_store_explicit(&w->state, WEFT__W_QUEUED, memory_order_relaxed);
	weft__list_push_back(h, &w->link);
}

/* ----------------------------------------------------------- wake batch */

typedef struct weft__wake_batch {
	unsigned n;
	weft_waker w[WEFT__BATCH];
} weft__wake_batch;

static inline void weft__batch_init(weft__wake_batch *b)
{
	b->n = 0;
}

static inline bool weft__batch_full(const weft__wake_batch *b)
{
	return b->n == WEFT__BATCH;
}

/* Wakes (consumes) every collected waker. Call without any lock held. */
static inline void weft__batch_wake(weft__wake_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		weft_waker_wake(&b->w[i]);
	b->n = 0;
}

/* Lock held, w queued (already unlinked by the caller): moves its waker
 * into b and marks it woken with `state`. After this the node belongs to
 * its owner alone. b must not be full. */
static inline void weft__waiter_wake_locked(weft__waiter *w, uint32_t state,
					    weft__wake_batch *b)
{
	b->w[b->n++] = w->waker;
	w->waker = WEFT_WAKER_NONE;
	/* release: publishes the waker move and whatever the caller granted
	 * (permits, a value) to weft__waiter_state() in the owner */
	atomic_store_explicit(&w->state, state, memory_order_release);
}

/* Lock held on entry, released on return. Wakes every waiter of h with
 * `state`, WEFT__BATCH at a time, waking outside the lock. Waiters that
 * join h meanwhile are not woken (they came after this call). */
void weft__wake_all_unlock(weft__lock *l, weft__wlink *h, uint32_t state);

#endif /* WEFT_SYNC_WAIT_H */
