/* sync/broadcast.c - the broadcast ring.
 *
 * One lock guards the ring, `tail` (position of the next value), the
 * counts and the waiter list. Slot p % cap holds the value of position p
 * for p in [tail - cap, tail). Receivers keep their own next position, so
 * a value is copied out under the lock by each receiver and never needs a
 * per-slot count: the sender simply overwrites the oldest. A send wakes
 * every waiting receiver once (weft__wake_all_unlock, outside the lock).
 * Lifetime: `refs` counts sender handles and receivers; last drop frees.
 *
 * Element destructor (release, optional), under the lock: the ring holds
 * the values of positions [max(tail - cap, held_from), tail). A send that
 * overwrites the slot of position tail - cap releases that value first
 * (unless it is below held_from); the last receiver's drop releases every
 * held value and moves held_from to tail (a later subscriber starts at
 * tail, so nobody could read them). The free follows the last receiver's
 * drop (receivers hold references), so it finds nothing left to release.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/broadcast.h"
#include "wait.h"

struct weft_broadcast {
	weft__lock lock;
	_Atomic uint32_t refs;  /* sender handles + receivers */
	uint32_t senders;       /* lock */
	uint32_t receivers;     /* lock */
	uint32_t elem_size;
	uint64_t cap;
	uint64_t tail;          /* lock */
	uint64_t held_from;     /* lock: positions below were released */
	void (*release)(void *elem);
	weft__wlink waiters;    /* lock */
	char ring[];            /* lock: cap * elem_size */
};

static void bc_ref(weft_broadcast *b)
{
	/* relaxed: taken from a live handle */
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

static inline void *bc_slot(weft_broadcast *b, uint64_t pos)
{
	return b->ring + (pos % b->cap) * b->elem_size;
}

/* Lock held, the last receiver gone: releases every value still held
 * and marks them released. */
static void bc_release_held_locked(weft_broadcast *b)
{
	uint64_t p = b->tail > b->cap ? b->tail - b->cap : 0;

	if (p < b->held_from)
		p = b->held_from;
	for (; p < b->tail; p++)
		b->release(bc_slot(b, p));
	b->held_from = b->tail;
}

static void bc_unref(weft_broadcast *b)
{
	/* acq_rel: the freeing drop sees every other holder's accesses.
	 * Nothing left to release: the last receiver's drop did */
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

int weft_broadcast_create(weft_broadcast **tx, weft_broadcast_rx *rx,
			  size_t elem_size, size_t cap,
			  void (*release)(void *elem))
{
	weft_broadcast *b;

	if (!tx || !rx || !elem_size || !cap || cap > (1u << 24) ||
	    elem_size > (1u << 20))
		return -EINVAL;
	b = calloc(1, sizeof(*b) + cap * elem_size);
	if (!b)
		return -ENOMEM;
	weft__lock_init(&b->lock);
	/* relaxed: initialisation, published by returning the handles */
	atomic_store_explicit(&b->refs, 2, memory_order_relaxed);
	b->senders = 1;
	b->receivers = 1;
	b->elem_size = (uint32_t)elem_size;
	b->cap = cap;
	b->release = release;
	weft__list_init(&b->waiters);
	*tx = b;
	rx->b = b;
	rx->next = 0;
	return 0;
}

int weft_broadcast_send(weft_broadcast *b, const void *value)
{
	int n;

	if (!b || !value)
		return -EINVAL;
	weft__lock_acquire(&b->lock);
	n = (int)b->receivers;
	if (!n) {
		weft__lock_release(&b->lock);
		return -EPIPE;
	}
	/* the slot's old value (position tail - cap) leaves the ring */
	if (b->release && b->tail >= b->cap && b->tail - b->cap >= b->held_from)
		b->release(bc_slot(b, b->tail));
	memcpy(bc_slot(b, b->tail), value, b->elem_size);
	b->tail++;
	weft__wake_all_unlock(&b->lock, &b->waiters, WEFT__W_WOKEN_ALL);
	return n;
}

weft_broadcast *weft_broadcast_tx_clone(weft_broadcast *b)
{
	bc_ref(b);
	weft__lock_acquire(&b->lock);
	b->senders++;
	weft__lock_release(&b->lock);
	return b;
}

void weft_broadcast_tx_drop(weft_broadcast *b)
{
	if (!b)
		return;
	weft__lock_acquire(&b->lock);
	WEFT_DEBUG_CHECK(b->senders != 0, "weft_broadcast_tx_drop",
		"every sender handle was already dropped: drop each handle "
		"(the one from weft_broadcast_create and each clone) once");
	if (--b->senders) {
		weft__lock_release(&b->lock);
	} else {
		/* our reference keeps b alive across the wake batches */
		weft__wake_all_unlock(&b->lock, &b->waiters, WEFT__W_CLOSED);
	}
	bc_unref(b);
}

void weft_broadcast_subscribe(weft_broadcast *b, weft_broadcast_rx *rx)
{
	bc_ref(b);
	weft__lock_acquire(&b->lock);
	b->receivers++;
	rx->b = b;
	rx->next = b->tail;
	weft__lock_release(&b->lock);
}

void weft_broadcast_rx_drop(weft_broadcast_rx *rx)
{
	weft_broadcast *b = rx->b;

	if (!b)
		return;
	weft__lock_acquire(&b->lock);
	if (--b->receivers == 0 && b->release)
		bc_release_held_locked(b); /* nobody can read them any more */
	weft__lock_release(&b->lock);
	rx->b = NULL;
	bc_unref(b);
}

/* Lock held: 0, -EOVERFLOW, -EPIPE, or -EAGAIN (nothing new). */
static int bc_take_locked(weft_broadcast_rx *rx, void *out, uint64_t *missed)
{
	weft_broadcast *b = rx->b;
	uint64_t oldest = b->tail > b->cap ? b->tail - b->cap : 0;

	if (rx->next < oldest) {
		*missed = oldest - rx->next;
		rx->next = oldest;
		return -EOVERFLOW;
	}
	if (rx->next < b->tail) {
		memcpy(out, bc_slot(b, rx->next), b->elem_size);
		rx->next++;
		return 0;
	}
	return b->senders ? -EAGAIN : -EPIPE;
}

int weft_broadcast_try_recv(weft_broadcast_rx *rx, void *out,
			    uint64_t *missed)
{
	uint64_t dummy;
	int r;

	weft__lock_acquire(&rx->b->lock);
	r = bc_take_locked(rx, out, missed ? missed : &dummy);
	weft__lock_release(&rx->b->lock);
	return r;
}

void weft_broadcast_recv_init(weft_broadcast_recv *r, weft_broadcast_rx *rx,
			      void *out)
{
	WEFT__WAITER_CHECK_INIT(&r->w, "weft_broadcast_recv_init",
		"the receive is still queued: call weft_broadcast_recv_drop "
		"before initialising it again");
	weft__waiter_init(&r->w, 0);
	r->rx = rx;
	r->out = out;
	r->res = 0;
	r->missed = 0;
}

weft_poll weft_broadcast_recv_poll(weft_broadcast_recv *r, weft_cx *cx)
{
	weft_broadcast *b = r->rx->b;
	int e;

	switch (weft__waiter_state(&r->w)) {
	case WEFT__W_QUEUED:
		weft__lock_acquire(&b->lock);
		if (weft__waiter_state(&r->w) == WEFT__W_QUEUED) {
			weft_waker_register(&r->w.waker, cx);
			weft__lock_release(&b->lock);
			return WEFT_PENDING;
		}
		weft__lock_release(&b->lock);
		break;
	case WEFT__W_DONE:
		return WEFT_READY;
	default:
		break;
	}
	/* IDLE, or woken: try to take a value, else (re)queue */
	if (!weft_coop_proceed(cx))
		return WEFT_PENDING;
	weft__lock_acquire(&b->lock);
	e = bc_take_locked(r->rx, r->out, &r->missed);
	if (e == -EAGAIN)
		weft__waiter_enqueue_locked(&b->waiters, &r->w, cx);
	weft__lock_release(&b->lock);
	if (e == -EAGAIN)
		return WEFT_PENDING;
	r->res = e;
	weft__waiter_set_state(&r->w, WEFT__W_DONE);
	return WEFT_READY;
}

void weft_broadcast_recv_drop(weft_broadcast_recv *r)
{
	if (weft__waiter_state(&r->w) == WEFT__W_QUEUED) {
		weft_broadcast *b = r->rx->b;

		weft__lock_acquire(&b->lock);
		if (weft__waiter_state(&r->w) == WEFT__W_QUEUED) {
			weft__list_unlink(&r->w.link);
			weft__lock_release(&b->lock);
			weft_waker_drop(&r->w.waker);
		} else {
			weft__lock_release(&b->lock);
		}
	}
	weft__waiter_set_state(&r->w, WEFT__W_DONE);
}

WEFT_FUTURE_DEFINE(weft_broadcast_recv, weft_broadcast_recv_drop);
