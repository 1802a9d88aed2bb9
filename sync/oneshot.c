/* sync/oneshot.c - the one-value channel, lock-free.
 *
 * State bits (o->state):
 *   SENT      the value is in the slot (set with TX_GONE, by send)
 *   TX_GONE   the sender is consumed: after the RMW that sets it, the sender
 *             never touches the object again
 *   RX_CLOSED the receiver refuses sends (close or rx_drop)
 *   RX_WAKER  the waker cell (rx_vt, rx_data) holds a waker
 *   RX_GONE   the receiver was dropped
 *
 * Waker cell ownership: the receiver writes the cell only while RX_WAKER is
 * clear, then sets RX_WAKER (release). The sender reads the cell after an
 * acquire load that saw RX_WAKER, and owns that copy only if its CAS from
 * that exact state succeeds (setting TX_GONE). So in a final state with
 * RX_WAKER and TX_GONE, the sender took the waker (and woke or dropped it);
 * the receiver never drops it. The sender takes it whenever RX_WAKER is set
 * and RX_GONE is not; rx_drop drops it when its own RMW finds RX_WAKER
 * without TX_GONE: exactly one of them does. If instead the receiver's own fetch_or of
 * RX_WAKER finds TX_GONE already set, the sender never saw the waker: the
 * receiver clears the bit and drops the waker itself.
 *
 * Pairs: send's release CAS (slot written before it) -> the receiver's
 * acquire load of SENT in recv/try_recv; the receiver's release fetch_or of
 * RX_WAKER (cell written before it) -> the sender's acquire load that reads
 * the cell. The frees: whoever's RMW sets the second of TX_GONE/RX_GONE
 * frees a heap channel (acq_rel, so the other end's accesses happen
 * before).
 *
 * Debug builds: a sender RMW that finds TX_GONE, or an rx_drop that finds
 * RX_GONE, is an end used after it was consumed (detectable only while
 * the channel is not yet freed, i.e. the other end is alive or the
 * channel is embedded).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/oneshot.h"

enum {
	OS_SENT = 1u,
	OS_TX_GONE = 2u,
	OS_RX_CLOSED = 4u,
	OS_RX_WAKER = 8u,
	OS_RX_GONE = 16u,
};

static void os_setup(weft_oneshot *o, size_t elem_size, void *buf, bool heap)
{
	/* relaxed: initialisation, published by handing o to both ends */
	atomic_store_explicit(&o->state, 0, memory_order_relaxed);
	atomic_store_explicit(&o->rx_vt, NULL, memory_order_relaxed);
	atomic_store_explicit(&o->rx_data, NULL, memory_order_relaxed);
	o->elem_size = (uint32_t)elem_size;
	o->heap = heap;
	o->rx_done = false;
	o->slot = buf ? buf : &o->inline_val;
	o->inline_val = 0;
}

int weft_oneshot_create(weft_oneshot **out, size_t elem_size)
{
	weft_oneshot *o;

	if (!out || elem_size == 0 || elem_size > UINT32_MAX)
		return -EINVAL;
	o = malloc(sizeof(*o) + (elem_size > 8 ? elem_size : 0));
	if (!o)
		return -ENOMEM;
	os_setup(o, elem_size, elem_size > 8 ? (void *)(o + 1) : NULL, true);
	*out = o;
	return 0;
}

int weft_oneshot_init(weft_oneshot *o, size_t elem_size, void *buf)
{
	if (!o || elem_size == 0 || elem_size > UINT32_MAX ||
	    (!buf && elem_size > 8))
		return -EINVAL;
	os_setup(o, elem_size, buf, false);
	return 0;
}

/* Reads the receiver's waker cell. relaxed: the acquire load (or CAS) of
 * state that saw RX_WAKER orders these reads after the cell's writes. */
static weft_waker os_cell_read(const weft_oneshot *o)
{
	weft_waker w;

	w.vt = atomic_load_explicit(&o->rx_vt, memory_order_relaxed);
	w.data = atomic_load_explicit(&o->rx_data, memory_order_relaxed);
	return w;
}

/* relaxed: published by the release fetch_or of RX_WAKER that follows */
static void os_cell_write(weft_oneshot *o, weft_waker w)
{
	atomic_store_explicit(&o->rx_vt, w.vt, memory_order_relaxed);
	atomic_store_explicit(&o->rx_data, w.data, memory_order_relaxed);
}

/* Sender: moves from state s to s | add | TX_GONE, taking the receiver's
 * waker if one is published. Returns the state the CAS replaced. */
static uint32_t os_tx_finish(weft_oneshot *o, uint32_t add, weft_waker *taken,
			     const char *where)
{
	/* acquire: pairs with the receiver's release fetch_or of RX_WAKER so
	 * the cell read below sees the waker written before it */
	uint32_t s = atomic_load_explicit(&o->state, memory_order_acquire);

	(void)where;
	WEFT_DEBUG_CHECK(!(s & OS_TX_GONE), where,
		"the sender was already consumed (by weft_oneshot_send or "
		"weft_oneshot_tx_drop): send or drop it exactly once");
	for (;;) {
		weft_waker w = WEFT_WAKER_NONE;
		uint32_t to = s | OS_TX_GONE;

		if (!(s & OS_RX_CLOSED))
			to |= add;
		if ((s & OS_RX_WAKER) && !(s & OS_RX_GONE))
			w = os_cell_read(o);
		/* acq_rel: release publishes the slot (send) to the receiver's
		 * acquire load; acquire makes the cell read above valid and,
		 * when RX_GONE is set, orders the receiver's accesses before
		 * our free */
		if (atomic_compare_exchange_weak_explicit(
			    &o->state, &s, to, memory_order_acq_rel,
			    memory_order_acquire)) {
			*taken = w;
			return s;
		}
	}
}

int weft_oneshot_send(weft_oneshot *o, const void *value)
{
	weft_waker w;
	uint32_t s;

	if (!o || !value)
		return -EINVAL;
	/* the slot is ours until SENT is published */
	memcpy(o->slot, value, o->elem_size);
	s = os_tx_finish(o, OS_SENT, &w, "weft_oneshot_send");
	if (s & OS_RX_CLOSED) {
		weft_waker_drop(&w); /* a closed receiver is not waiting */
		if ((s & OS_RX_GONE) && o->heap)
			free(o);
		return -EPIPE;
	}
	weft_waker_wake(&w);
	return 0;
}

void weft_oneshot_tx_drop(weft_oneshot *o)
{
	weft_waker w;
	uint32_t s;

	if (!o)
		return;
	s = os_tx_finish(o, 0, &w, "weft_oneshot_tx_drop");
	if ((s & OS_RX_GONE) && o->heap)
		free(o);
	else
		weft_waker_wake(&w);
}

bool weft_oneshot_is_closed(const weft_oneshot *o)
{
	/* relaxed: a snapshot; a send re-checks with its CAS */
	return atomic_load_explicit(&((weft_oneshot *)o)->state,
				    memory_order_relaxed) & OS_RX_CLOSED;
}

/* Receiver, state s has SENT or TX_GONE: completes the receive. */
static int os_rx_complete(weft_oneshot *o, uint32_t s, void *out)
{
	if (o->rx_done)
		return -EPIPE;
	o->rx_done = true;
	if (!(s & OS_SENT))
		return -EPIPE;
	if (out)
		memcpy(out, o->slot, o->elem_size);
	return 0;
}

/* Registers cx's waker. Returns the state if the sender finished
 * meanwhile (the caller completes), or 0 when we are now waiting. */
static uint32_t os_rx_register(weft_oneshot *o, uint32_t s, const weft_cx *cx)
{
	if (s & OS_RX_WAKER) {
		weft_waker cur = os_cell_read(o);

		if (weft_waker_will_wake(&cur, &cx->waker))
			return 0;
		/* acq_rel: take the cell back; acquire pairs with the
		 * sender's CAS if it got there first (then it owns cur) */
		s = atomic_fetch_and_explicit(&o->state, ~OS_RX_WAKER,
					      memory_order_acq_rel);
		if (s & OS_TX_GONE)
			return s;
		weft_waker_drop(&cur);
	}
	os_cell_write(o, weft_waker_clone(&cx->waker));
	/* release: publishes the cell to os_tx_finish()'s acquire load */
	s = atomic_fetch_or_explicit(&o->state, OS_RX_WAKER,
				     memory_order_acq_rel);
	if (s & OS_TX_GONE) {
		/* the sender finished without seeing our waker: still ours */
		weft_waker w = os_cell_read(o);

		/* relaxed: the sender is gone, nobody else reads the bit */
		atomic_fetch_and_explicit(&o->state, ~OS_RX_WAKER,
					  memory_order_relaxed);
		weft_waker_drop(&w);
		return s;
	}
	return 0;
}

void weft_oneshot_recv_init(weft_oneshot_recv *r, weft_oneshot *o,
			    void *out)
{
	r->o = o;
	r->out = out;
	r->res = 0;
}

weft_poll weft_oneshot_recv_poll(weft_oneshot_recv *r, weft_cx *cx)
{
	weft_oneshot *o = r->o;
	/* acquire: pairs with send's release CAS; the slot is complete */
	uint32_t s = atomic_load_explicit(&o->state, memory_order_acquire);

	if (!(s & OS_TX_GONE) && !o->rx_done && !(s & OS_RX_CLOSED)) {
		s = os_rx_register(o, s, cx);
		if (!s)
			return WEFT_PENDING;
	}
	if ((s & OS_SENT) && !o->rx_done && !weft_coop_proceed(cx))
		return WEFT_PENDING;
	r->res = os_rx_complete(o, s, r->out);
	return WEFT_READY;
}

void weft_oneshot_recv_drop(weft_oneshot_recv *r)
{
	(void)r; /* the value and the waker stay in the channel */
}

int weft_oneshot_try_recv(weft_oneshot *o, void *out)
{
	uint32_t s;

	if (!o)
		return -EINVAL;
	/* acquire: pairs with send's release CAS */
	s = atomic_load_explicit(&o->state, memory_order_acquire);
	if (!(s & (OS_SENT | OS_TX_GONE | OS_RX_CLOSED)) && !o->rx_done)
		return -EAGAIN;
	return os_rx_complete(o, s, out);
}

void weft_oneshot_close(weft_oneshot *o)
{
	if (!o)
		return;
	/* release: orders nothing of ours; relaxed would do, but acq_rel
	 * keeps the RMW chain simple to reason about (sender CAS sees it) */
	atomic_fetch_or_explicit(&o->state, OS_RX_CLOSED, memory_order_acq_rel);
}

void weft_oneshot_rx_drop(weft_oneshot *o)
{
	weft_waker w;
	uint32_t s;

	if (!o)
		return;
	/* read our own cell first: once RX_GONE is published the sender may
	 * free the object */
	w = os_cell_read(o);
	/* acq_rel: acquire pairs with the sender's CAS (its accesses happen
	 * before our free); release orders our accesses before its free */
	s = atomic_fetch_or_explicit(&o->state, OS_RX_CLOSED | OS_RX_GONE,
				     memory_order_acq_rel);
	WEFT_DEBUG_CHECK(!(s & OS_RX_GONE), "weft_oneshot_rx_drop",
		"the receiver was already dropped: drop it exactly once");
	if ((s & OS_RX_WAKER) && !(s & OS_TX_GONE)) {
		/* the sender never took the waker; a sender mid-CAS may have
		 * read the cell, but its CAS now fails (RX_GONE) and it
		 * forgets the copy */
		weft_waker_drop(&w);
	}
	if ((s & OS_TX_GONE) && o->heap)
		free(o);
}

WEFT_FUTURE_DEFINE(weft_oneshot_recv, weft_oneshot_recv_drop);
