/* sync/mpsc.c - bounded and unbounded multi-producer single-consumer
 * channels.
 *
 * Design: one short lock (weft__lock) guards a ring buffer of values, the
 * FIFO of waiting senders, and the receiver's waker. Each critical section
 * is a few stores and one element copy; wakers run after the unlock. This
 * is Go's channel shape, and it keeps cancellation simple: a waiting
 * future is either still on the list (its owner unlinks it under the lock)
 * or was completed under the lock before its state said so.
 *
 * Bounded back-pressure, with handoff: when the receiver frees a slot and
 * senders wait, it pops the oldest waiter under the same lock and either
 * copies that sender's value (weft_mpsc_send) straight into the freed slot,
 * or counts the slot as reserved for it (weft_mpsc_reserve), then wakes it
 * once. So a woken sender never has to retry, a new sender cannot overtake
 * waiting ones (it queues when the list is not empty), and the number of
 * values plus reserved slots never exceeds cap.
 *
 * Receiver wakeups are batched by construction: the receiver registers its
 * waker only when it finds the ring empty, and the first sender to push
 * moves it out, so a burst of sends wakes the receiver once.
 *
 * Lifetime: tx_count counts sender handles (clone: relaxed increment, like
 * any reference count taken from a live handle; drop: acq_rel decrement).
 * The handle that takes it to zero sets tx_done under the lock; rx_drop
 * sets rx_gone under the lock; whoever sets the second flag frees.
 *
 * Atomic pairs: waiter state (see sync/wait.h): weft__waiter_wake_locked()'s
 * release store -> weft__waiter_state()'s acquire in the send/reserve
 * future. Everything else is ordered by the lock.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/mpsc.h"
#include "wait.h"

enum { MP_W_SEND = 1, MP_W_RESERVE = 2 };

typedef struct mp {
	weft__lock lock;
	uint32_t elem_size;
	_Atomic uint32_t tx_count; /* sender handles */
	bool bounded;
	bool closed;   /* lock: no more sends (close or rx_drop) */
	bool tx_done;  /* lock: the last sender handle is gone */
	bool rx_gone;  /* lock: the receiver handle is gone */
	size_t cap;        /* bounded: values + reserved <= cap */
	size_t ring_cap;   /* slots allocated, a power of two */
	size_t head;       /* lock: index of the oldest value */
	size_t len;        /* lock: values buffered */
	size_t reserved;   /* lock: slots promised to permits */
	char *buf;         /* lock: ring_cap * elem_size bytes */
	weft__wlink senders; /* lock: waiting send/reserve futures, FIFO */
	weft_waker rx_waker; /* lock: set while the receiver waits */
} mp;

static inline mp *mp_of_tx(weft_mpsc_tx *tx)
{
	return (mp *)tx;
}

static inline mp *mp_of_rx(weft_mpsc_rx *rx)
{
	return (mp *)rx;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int mp_create(size_t elem_size, size_t cap, bool bounded,
		     weft_mpsc_tx **tx, weft_mpsc_rx **rx)
{
	mp *m;

	if (!tx || !rx || elem_size == 0 || elem_size > (1u << 20))
		return -EINVAL;
	if (bounded && (cap == 0 || cap > (1u << 31)))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ring_cap = pow2_at_least(bounded ? cap : 16);
	m->buf = malloc(m->ring_cap * elem_size);
	if (!m->buf)
		goto out_free;
	weft__lock_init(&m->lock);
	m->elem_size = (uint32_t)elem_size;
	/* relaxed: initialisation, published by returning the handles */
	atomic_store_explicit(&m->tx_count, 1, memory_order_relaxed);
	m->bounded = bounded;
	m->cap = cap;
	weft__list_init(&m->senders);
	*tx = (weft_mpsc_tx *)m;
	*rx = (weft_mpsc_rx *)m;
	return 0;
out_free:
	free(m);
	return -ENOMEM;
}

int weft_mpsc_channel(size_t elem_size, size_t cap, weft_mpsc_tx **tx,
		      weft_mpsc_rx **rx)
{
	return mp_create(elem_size, cap, true, tx, rx);
}

int weft_mpsc_unbounded(size_t elem_size, weft_mpsc_tx **tx,
			weft_mpsc_rx **rx)
{
	return mp_create(elem_size, 0, false, tx, rx);
}

static void mp_free(mp *m)
{
	free(m->buf);
	free(m);
}

/* ------------------------------------------------------- ring, lock held */

static inline void mp_copy(void *dst, const void *src, uint32_t size)
{
	if (size == 8)
		memcpy(dst, src, 8); /* a single move */
	else
		memcpy(dst, src, size);
}

static inline bool mp_has_room(const mp *m)
{
	return !m->bounded || m->len + m->reserved < m->cap;
}

/* Doubles an unbounded ring. Returns 0 or -ENOMEM. */
static int mp_grow(mp *m)
{
	size_t es = m->elem_size, first = m->ring_cap - m->head;
	char *nb = malloc(2 * m->ring_cap * es);

	if (!nb)
		return -ENOMEM;
	if (first > m->len)
		first = m->len;
	memcpy(nb, m->buf + m->head * es, first * es);
	memcpy(nb + first * es, m->buf, (m->len - first) * es);
	free(m->buf);
	m->buf = nb;
	m->head = 0;
	m->ring_cap *= 2;
	return 0;
}

/* Appends a value; the caller checked the room (bounded). */
static inline int mp_push(mp *m, const void *value)
{
	if (m->len == m->ring_cap) {
		int err = mp_grow(m);

		if (err)
			return err;
	}
	size_t pos = (m->head + m->len) & (m->ring_cap - 1);

	mp_copy(m->buf + pos * m->elem_size, value, m->elem_size);
	m->len++;
	return 0;
}

static inline void mp_pop(mp *m, void *out)
{
	if (out)
		mp_copy(out, m->buf + m->head * m->elem_size, m->elem_size);
	m->head = (m->head + 1) & (m->ring_cap - 1);
	m->len--;
}

/* Takes the receiver's waker to wake after the unlock. */
static inline weft_waker mp_take_rx_waker(mp *m)
{
	weft_waker w = m->rx_waker;

	m->rx_waker = WEFT_WAKER_NONE;
	return w;
}

/* Hands free slots to waiting senders, oldest first, until the ring is
 * full, nobody waits, or the batch is full. */
static void mp_refill(mp *m, weft__wake_batch *b)
{
	while (mp_has_room(m) && !weft__batch_full(b)) {
		weft__waiter *w = weft__list_pop_front(&m->senders);

		if (!w)
			return;
		if (w->arg == MP_W_SEND) {
			weft_mpsc_send *s = (weft_mpsc_send *)w;

			/* bounded only (unbounded senders never wait), so the
			 * push cannot fail */
			mp_push(m, s->value);
		} else {
			m->reserved++;
		}
		weft__waiter_wake_locked(w, WEFT__W_WOKEN, b);
	}
}

/* Unlocks, then wakes what the batch holds. */
static void mp_unlock_wake(mp *m, weft__wake_batch *b)
{
	weft__lock_release(&m->lock);
	weft__batch_wake(b);
}

/* ---------------------------------------------------------------- sender */

weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx)
{
	/* relaxed: the caller's handle keeps the count above zero, as with
	 * any reference count; nothing is published */
	atomic_fetch_add_explicit(&mp_of_tx(tx)->tx_count, 1,
				  memory_order_relaxed);
	return tx;
}

void weft_mpsc_tx_drop(weft_mpsc_tx *tx)
{
	mp *m = mp_of_tx(tx);
	weft_waker w;
	bool free_it;

	if (!m)
		return;
	/* acq_rel: the last dropper must see every other handle's accesses
	 * (acquire) and others' must precede it (release) */
	if (atomic_fetch_sub_explicit(&m->tx_count, 1, memory_order_acq_rel) != 1)
		return;
	weft__lock_acquire(&m->lock);
	m->tx_done = true;
	w = mp_take_rx_waker(m);
	free_it = m->rx_gone;
	weft__lock_release(&m->lock);
	if (free_it)
		mp_free(m);
	else
		weft_waker_wake(&w);
}

bool weft_mpsc_is_closed(weft_mpsc_tx *tx)
{
	mp *m = mp_of_tx(tx);
	bool c;

	weft__lock_acquire(&m->lock);
	c = m->closed;
	weft__lock_release(&m->lock);
	return c;
}

/* Lock held, room checked: pushes and moves out the receiver's waker. */
static int mp_send_locked(mp *m, const void *value, weft_waker *rxw)
{
	int err = mp_push(m, value);

	if (!err)
		*rxw = mp_take_rx_waker(m);
	return err;
}

int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value)
{
	mp *m = mp_of_tx(tx);
	weft_waker rxw = WEFT_WAKER_NONE;
	int err;

	if (!m || !value)
		return -EINVAL;
	weft__lock_acquire(&m->lock);
	if (m->closed)
		err = -EPIPE;
	else if (!mp_has_room(m) || !weft__list_empty(&m->senders))
		err = -EAGAIN;
	else
		err = mp_send_locked(m, value, &rxw);
	weft__lock_release(&m->lock);
	weft_waker_wake(&rxw);
	return err;
}

void weft_mpsc_send_init(weft_mpsc_send *s, weft_mpsc_tx *tx,
			 const void *value)
{
	weft__waiter_init(&s->w, MP_W_SEND);
	s->tx = tx;
	s->value = value;
	s->err = 0;
}

/* Common first poll of send and reserve: completes at once (returns true,
 * *err set) or queues w. */
static bool mp_first_poll(mp *m, weft__waiter *w, const void *value,
			  const weft_cx *cx, int *err)
{
	weft_waker rxw = WEFT_WAKER_NONE;
	bool done = true;

	weft__lock_acquire(&m->lock);
	if (m->closed) {
		*err = -EPIPE;
	} else if (mp_has_room(m) && weft__list_empty(&m->senders)) {
		if (value) {
			*err = mp_send_locked(m, value, &rxw);
		} else {
			m->reserved++;
			*err = 0;
		}
	} else {
		weft__waiter_enqueue_locked(&m->senders, w, cx);
		done = false;
	}
	weft__lock_release(&m->lock);
	weft_waker_wake(&rxw);
	return done;
}

/* Re-polled while queued: refreshes the waker. Returns true if still
 * waiting. */
static bool mp_still_queued(mp *m, weft__waiter *w, const weft_cx *cx)
{
	bool queued;

	weft__lock_acquire(&m->lock);
	queued = weft__waiter_state(w) == WEFT__W_QUEUED;
	if (queued)
		weft_waker_register(&w->waker, cx);
	weft__lock_release(&m->lock);
	return queued;
}

/* The state machine shared by send and reserve. */
static weft_poll mp_wait_poll(mp *m, weft__waiter *w, const void *value,
			      weft_cx *cx, int *err)
{
	switch (weft__waiter_state(w)) {
	case WEFT__W_IDLE:
		if (!weft_coop_proceed(cx))
			return WEFT_PENDING;
		if (!mp_first_poll(m, w, value, cx, err))
			return WEFT_PENDING;
		break;
	case WEFT__W_QUEUED:
		if (mp_still_queued(m, w, cx))
			return WEFT_PENDING;
		return mp_wait_poll(m, w, value, cx, err);
	case WEFT__W_WOKEN:
		*err = 0;
		break;
	case WEFT__W_CLOSED:
		*err = -EPIPE;
		break;
	default: /* DONE: fused */
		return WEFT_READY;
	}
	weft__waiter_set_state(w, WEFT__W_DONE);
	return WEFT_READY;
}

weft_poll weft_mpsc_send_poll(weft_mpsc_send *s, weft_cx *cx)
{
	return mp_wait_poll(mp_of_tx(s->tx), &s->w, s->value, cx, &s->err);
}

/* Unlinks a queued waiter. Returns its state as of the lock: QUEUED if
 * we removed it, else the state the channel gave it. */
static uint32_t mp_cancel(mp *m, weft__waiter *w)
{
	uint32_t st = weft__waiter_state(w);

	if (st != WEFT__W_QUEUED)
		return st;
	weft__lock_acquire(&m->lock);
	st = weft__waiter_state(w);
	if (st == WEFT__W_QUEUED)
		weft__list_unlink(&w->link);
	weft__lock_release(&m->lock);
	if (st == WEFT__W_QUEUED)
		weft_waker_drop(&w->waker);
	return st;
}

bool weft_mpsc_send_drop(weft_mpsc_send *s)
{
	uint32_t st = mp_cancel(mp_of_tx(s->tx), &s->w);
	bool sent = st == WEFT__W_WOKEN || (st == WEFT__W_DONE && s->err == 0);

	weft__waiter_set_state(&s->w, WEFT__W_DONE);
	return sent;
}

void weft_mpsc_reserve_init(weft_mpsc_reserve *r, weft_mpsc_tx *tx)
{
	weft__waiter_init(&r->w, MP_W_RESERVE);
	r->tx = tx;
	r->err = 0;
}

weft_poll weft_mpsc_reserve_poll(weft_mpsc_reserve *r, weft_cx *cx)
{
	return mp_wait_poll(mp_of_tx(r->tx), &r->w, NULL, cx, &r->err);
}

void weft_mpsc_reserve_drop(weft_mpsc_reserve *r)
{
	uint32_t st = mp_cancel(mp_of_tx(r->tx), &r->w);

	weft__waiter_set_state(&r->w, WEFT__W_DONE);
	if (st == WEFT__W_WOKEN)
		weft_mpsc_permit_release(r->tx); /* granted, never taken */
}

int weft_mpsc_permit_send(weft_mpsc_tx *tx, const void *value)
{
	mp *m = mp_of_tx(tx);
	weft_waker rxw = WEFT_WAKER_NONE;
	weft__wake_batch b;
	int err;

	if (!m || !value)
		return -EINVAL;
	weft__batch_init(&b);
	weft__lock_acquire(&m->lock);
	m->reserved--;
	if (m->closed) {
		err = -EPIPE;
	} else {
		err = mp_send_locked(m, value, &rxw);
		if (err) /* unbounded out of memory: the slot is free again */
			mp_refill(m, &b);
	}
	mp_unlock_wake(m, &b);
	weft_waker_wake(&rxw);
	return err;
}

void weft_mpsc_permit_release(weft_mpsc_tx *tx)
{
	mp *m = mp_of_tx(tx);
	weft__wake_batch b;

	weft__batch_init(&b);
	weft__lock_acquire(&m->lock);
	m->reserved--;
	mp_refill(m, &b);
	mp_unlock_wake(m, &b);
}

/* -------------------------------------------------------------- receiver */

/* Lock held, ring empty: is the channel over? */
static inline bool mp_finished(const mp *m)
{
	return m->closed || m->tx_done;
}

weft_poll weft_mpsc_recv_poll(weft_mpsc_rx *rx, weft_cx *cx, void *out,
			      int *err)
{
	mp *m = mp_of_rx(rx);
	weft__wake_batch b;
	int dummy;

	if (!err)
		err = &dummy;
	weft__lock_acquire(&m->lock);
	if (m->len) {
		if (!weft_coop_proceed(cx)) {
			weft__lock_release(&m->lock);
			return WEFT_PENDING;
		}
		mp_pop(m, out);
		weft__batch_init(&b);
		if (!weft__list_empty(&m->senders))
			mp_refill(m, &b);
		mp_unlock_wake(m, &b);
		*err = 0;
		return WEFT_READY;
	}
	if (mp_finished(m)) {
		weft__lock_release(&m->lock);
		*err = -EPIPE;
		return WEFT_READY;
	}
	weft_waker_register(&m->rx_waker, cx);
	weft__lock_release(&m->lock);
	return WEFT_PENDING;
}

weft_poll weft_mpsc_recv_many_poll(weft_mpsc_rx *rx, weft_cx *cx, void *buf,
				   size_t max, size_t *n, int *err)
{
	mp *m = mp_of_rx(rx);
	weft__wake_batch b;
	size_t k = 0;

	*n = 0;
	weft__lock_acquire(&m->lock);
	if (m->len && max) {
		if (!weft_coop_proceed(cx)) {
			weft__lock_release(&m->lock);
			return WEFT_PENDING;
		}
		while (k < max && m->len) {
			mp_pop(m, (char *)buf + k * m->elem_size);
			k++;
		}
		weft__batch_init(&b);
		for (;;) {
			mp_refill(m, &b);
			bool more = weft__batch_full(&b);

			mp_unlock_wake(m, &b);
			if (!more)
				break;
			weft__lock_acquire(&m->lock);
		}
		*n = k;
		*err = 0;
		return WEFT_READY;
	}
	if (mp_finished(m) || !max) {
		weft__lock_release(&m->lock);
		*err = max ? -EPIPE : -EINVAL;
		return WEFT_READY;
	}
	weft_waker_register(&m->rx_waker, cx);
	weft__lock_release(&m->lock);
	return WEFT_PENDING;
}

int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *out)
{
	mp *m = mp_of_rx(rx);
	weft__wake_batch b;

	if (!m)
		return -EINVAL;
	weft__lock_acquire(&m->lock);
	if (!m->len) {
		int err = mp_finished(m) ? -EPIPE : -EAGAIN;

		weft__lock_release(&m->lock);
		return err;
	}
	mp_pop(m, out);
	weft__batch_init(&b);
	mp_refill(m, &b);
	mp_unlock_wake(m, &b);
	return 0;
}

void weft_mpsc_close(weft_mpsc_rx *rx)
{
	mp *m = mp_of_rx(rx);

	weft__lock_acquire(&m->lock);
	m->closed = true;
	weft__wake_all_unlock(&m->lock, &m->senders, WEFT__W_CLOSED);
}

void weft_mpsc_rx_drop(weft_mpsc_rx *rx)
{
	mp *m = mp_of_rx(rx);
	weft_waker w;
	bool free_it;

	if (!m)
		return;
	weft__lock_acquire(&m->lock);
	m->closed = true;
	m->rx_gone = true;
	m->len = 0; /* discard what nobody will receive */
	w = mp_take_rx_waker(m);
	free_it = m->tx_done;
	if (free_it) {
		/* no sender handle, so no waiting sender either */
		weft__lock_release(&m->lock);
		mp_free(m);
	} else {
		/* senders still hold handles, so m outlives this call */
		weft__wake_all_unlock(&m->lock, &m->senders, WEFT__W_CLOSED);
	}
	weft_waker_drop(&w);
}

size_t weft_mpsc_len(weft_mpsc_rx *rx)
{
	mp *m = mp_of_rx(rx);
	size_t n;

	weft__lock_acquire(&m->lock);
	n = m->len;
	weft__lock_release(&m->lock);
	return n;
}
