/* sync/notify.c - weft_notify: one stored permit plus a FIFO of waiters.
 *
 * State word (n->state): bits 0-1 are EMPTY, WAITING (the list is not
 * empty) or NOTIFIED (one stored permit); the bits above count
 * notify_waiters calls (the "epoch").
 *  - While WAITING, the word changes only under n->lock.
 *  - While EMPTY or NOTIFIED, notify_one and a waiter's first poll change
 *    bits 0-1 by CAS without the lock (the fast paths); notify_waiters adds
 *    to the epoch under the lock by fetch_add, so those CASes retry.
 * A waiter (the node in a weft_notify_wait) moves IDLE -> QUEUED (under
 * the lock) -> WOKEN (notify_one) or WOKEN_ALL (notify_waiters) -> DONE;
 * see sync/wait.h for the waiter rules. At READY the wait's res overlays
 * the node's link (weft/notify.h), which only a queued node uses.
 *
 * Pairs: notify_one's release CAS to NOTIFIED -> the waiter's acquire CAS
 * NOTIFIED -> EMPTY (whatever the notifier wrote before is visible to the
 * woken task); the waker's release store of a waiter's state ->
 * weft__waiter_state()'s acquire. The epoch is read with acquire at init and
 * at the first poll, pairing with notify_waiters' release fetch_add.
 */
#include <stdatomic.h>

#include "weft/notify.h"
#include "wait.h"

enum { N_EMPTY = 0, N_WAITING = 1, N_NOTIFIED = 2, N_MASK = 3 };
#define N_EPOCH_ONE 4u

static inline uint32_t n_epoch(uint64_t s)
{
	return (uint32_t)(s >> 2);
}

void weft_notify_init(weft_notify *n)
{
	/* relaxed: initialisation, published by whoever shares n */
	atomic_store_explicit(&n->state, N_EMPTY, memory_order_relaxed);
	weft__lock_init(&n->lock);
	weft__list_init(&n->waiters);
}

void weft_notify_destroy(weft_notify *n)
{
	(void)n; /* nothing allocated */
}

/* Sets bits 0-1 to `to`, keeping the epoch; lock held or state not WAITING.
 * acq_rel: publishes the notifier's writes (release) and, taking a permit,
 * acquires the releasing notify_one's. */
static void n_set_bits(weft_notify *n, unsigned to)
{
	uint64_t s = atomic_load_explicit(&n->state, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
		&n->state, &s, (s & ~(uint64_t)N_MASK) | to,
		memory_order_acq_rel, memory_order_relaxed))
		;
}

/* Lock held: gives one notification to the oldest waiter, or stores the
 * permit. Returns with the lock released and the waiter woken. */
static void n_notify_one_unlock(weft_notify *n)
{
	weft__wake_batch b;
	weft__waiter *w = weft__list_pop_front(&n->waiters);

	weft__batch_init(&b);
	if (w) {
		weft__waiter_wake_locked(w, WEFT__W_WOKEN, &b);
		if (weft__list_empty(&n->waiters))
			n_set_bits(n, N_EMPTY);
	} else {
		n_set_bits(n, N_NOTIFIED);
	}
	weft__lock_release(&n->lock);
	weft__batch_wake(&b);
}

void weft_notify_one(weft_notify *n)
{
	/* relaxed: only a hint for the CAS below, which orders */
	uint64_t s = atomic_load_explicit(&n->state, memory_order_relaxed);

	while ((s & N_MASK) != N_WAITING) {
		if ((s & N_MASK) == N_NOTIFIED)
			return; /* permits do not accumulate */
		/* release: publishes our writes to the waiter whose acquire
		 * CAS takes this permit in n_take_permit() */
		if (atomic_compare_exchange_weak_explicit(
			    &n->state, &s, (s & ~(uint64_t)N_MASK) | N_NOTIFIED,
			    memory_order_release, memory_order_relaxed))
			return;
	}
	weft__lock_acquire(&n->lock);
	n_notify_one_unlock(n);
}

void weft_notify_waiters(weft_notify *n)
{
	weft__lock_acquire(&n->lock);
	/* release: publishes our writes to waiters that see the new epoch in
	 * n_epoch_moved() (acquire); under the lock, so no WAITING change
	 * races with it */
	uint64_t s = atomic_fetch_add_explicit(&n->state, N_EPOCH_ONE,
					       memory_order_release);
	if ((s & N_MASK) != N_WAITING) {
		weft__lock_release(&n->lock);
		return;
	}
	n_set_bits(n, N_EMPTY);
	weft__wake_all_unlock(&n->lock, &n->waiters, WEFT__W_WOKEN_ALL);
}

void weft_notify_wait_init(weft_notify_wait *w, weft_notify *n)
{
	/* acquire: pairs with notify_waiters' fetch_add, so a call that
	 * happened before this init is not mistaken for a later one */
	uint64_t s;

	WEFT__WAITER_CHECK_INIT(&w->w, "weft_notify_wait_init",
		"the wait is still registered (queued, or notified and not yet "
		"polled): call weft_notify_wait_drop before initialising it "
		"again");
	s = atomic_load_explicit(&n->state, memory_order_acquire);
	w->n = n;
	weft__waiter_init(&w->w, n_epoch(s));
}

/* True when notify_waiters ran since w's init. acquire: pairs with the
 * release fetch_add in weft_notify_waiters(). */
static bool n_epoch_moved(const weft_notify_wait *w, weft_notify *n)
{
	uint64_t s = atomic_load_explicit(&n->state, memory_order_acquire);

	return n_epoch(s) != w->w.arg;
}

/* Takes a stored permit if there is one. acquire: pairs with the release
 * CAS that stored it in weft_notify_one()/n_set_bits(). */
static bool n_take_permit(weft_notify *n)
{
	uint64_t s = atomic_load_explicit(&n->state, memory_order_relaxed);

	while ((s & N_MASK) == N_NOTIFIED) {
		if (atomic_compare_exchange_weak_explicit(
			    &n->state, &s, s & ~(uint64_t)N_MASK,
			    memory_order_acquire, memory_order_relaxed))
			return true;
	}
	return false;
}

/* Lock held: takes the stored permit (true), or marks the notify WAITING
 * (false). One CAS decides, because notify_one's fast path may store a
 * permit without the lock until the word says WAITING. acq_rel: acquire
 * pairs with the storing notify_one's release; release is harmless. */
static bool n_take_or_wait_locked(weft_notify *n)
{
	uint64_t s = atomic_load_explicit(&n->state, memory_order_relaxed);
	uint64_t to;

	do {
		if ((s & N_MASK) == N_NOTIFIED)
			to = s & ~(uint64_t)N_MASK;
		else
			to = (s & ~(uint64_t)N_MASK) | N_WAITING;
	} while (!atomic_compare_exchange_weak_explicit(
		&n->state, &s, to, memory_order_acq_rel, memory_order_relaxed));
	return (s & N_MASK) == N_NOTIFIED;
}

/* relaxed: a hint only; n_take_permit() orders */
static bool n_has_permit(weft_notify *n)
{
	return (atomic_load_explicit(&n->state, memory_order_relaxed) &
		N_MASK) == N_NOTIFIED;
}

/* Completes w: READY with res 0. res shares the node's link, which nobody
 * reads once the node is not queued (see weft/notify.h). */
static weft_poll n_ready(weft_notify_wait *w)
{
	weft__waiter_set_state(&w->w, WEFT__W_DONE);
	w->res = 0;
	return WEFT_READY;
}

static weft_poll n_first_poll(weft_notify_wait *w, weft_cx *cx)
{
	weft_notify *n = w->n;

	if (n_epoch_moved(w, n) || n_has_permit(n)) {
		/* completing without waiting: spend one unit of budget */
		if (!weft_coop_proceed(cx))
			return WEFT_PENDING;
		if (n_epoch_moved(w, n) || n_take_permit(n))
			return n_ready(w);
	}
	weft__lock_acquire(&n->lock);
	if (n_epoch_moved(w, n) || n_take_or_wait_locked(n)) {
		weft__lock_release(&n->lock);
		return n_ready(w);
	}
	weft__waiter_enqueue_locked(&n->waiters, &w->w, cx);
	weft__lock_release(&n->lock);
	return WEFT_PENDING;
}

weft_poll weft_notify_wait_poll(weft_notify_wait *w, weft_cx *cx)
{
	weft_notify *n = w->n;

	switch (weft__waiter_state(&w->w)) {
	case WEFT__W_IDLE:
		return n_first_poll(w, cx);
	case WEFT__W_QUEUED:
		weft__lock_acquire(&n->lock);
		if (weft__waiter_state(&w->w) == WEFT__W_QUEUED) {
			weft_waker_register(&w->w.waker, cx);
			weft__lock_release(&n->lock);
			return WEFT_PENDING;
		}
		weft__lock_release(&n->lock);
		break;
	case WEFT__W_DONE:
		return WEFT_READY; /* fused; res already 0 */
	default:
		break;
	}
	return n_ready(w);
}

void weft_notify_wait_drop(weft_notify_wait *w)
{
	uint32_t st = weft__waiter_state(&w->w);
	weft_notify *n = w->n;

	if (st == WEFT__W_QUEUED) {
		weft__lock_acquire(&n->lock);
		st = weft__waiter_state(&w->w);
		if (st == WEFT__W_QUEUED) {
			weft__list_unlink(&w->w.link);
			if (weft__list_empty(&n->waiters))
				n_set_bits(n, N_EMPTY);
			weft__lock_release(&n->lock);
			weft_waker_drop(&w->w.waker);
			weft__waiter_set_state(&w->w, WEFT__W_DONE);
			return;
		}
		weft__lock_release(&n->lock);
	}
	weft__waiter_set_state(&w->w, WEFT__W_DONE);
	if (st == WEFT__W_WOKEN) {
		/* notify_one chose us but we never returned READY: pass the
		 * notification on so it is not lost */
		weft__lock_acquire(&n->lock);
		n_notify_one_unlock(n);
	}
}

WEFT_FUTURE_DEFINE(weft_notify_wait, weft_notify_wait_drop);
