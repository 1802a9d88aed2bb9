/* weft/mpsc.h - multi-producer single-consumer channels, bounded (with
 * back-pressure) and unbounded, for values of any size (elem_size bytes,
 * copied in and out).
 *
 * Handles: a channel has one receiver (weft_mpsc_rx) and counted senders
 * (weft_mpsc_tx; weft_mpsc_tx_clone adds one, weft_mpsc_tx_drop removes
 * one). When the last sender is dropped the channel closes: the receiver
 * still receives every buffered value, then gets -EPIPE. The channel is
 * freed when the receiver and every sender are dropped.
 *
 * Futures and cancellation:
 *  - weft_mpsc_send: waits while a bounded channel is full (FIFO among
 *    waiting senders). Its value stays in the caller's memory, read only
 *    when it goes into the channel. weft_mpsc_send_drop cancels it and says
 *    whether the value was delivered: when the receiver freed a slot it
 *    copies the oldest waiting sender's value straight in and wakes it, so
 *    a send dropped after that wake was delivered. Either way nothing is
 *    lost or sent twice.
 *  - weft_mpsc_reserve: waits for a slot and holds it (a permit); the value
 *    is given later with weft_mpsc_permit_send, which never waits, so a
 *    select can drop the reserve without ever having touched the value.
 *    A reserve dropped after its slot was granted gives the slot back.
 *  - receiving needs no waiter node (one receiver): a receive returns READY
 *    only with a value taken, so abandoning it loses nothing.
 * Waiter nodes live in the futures (no allocation per wait).
 */
#ifndef WEFT_MPSC_H
#define WEFT_MPSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_mpsc_tx weft_mpsc_tx; /* a sender handle (counted) */
typedef struct weft_mpsc_rx weft_mpsc_rx; /* the receiver handle */

/* Creates a bounded channel holding at most cap values of elem_size bytes.
 * Returns 0, -EINVAL (tx or rx NULL, elem_size or cap 0, cap > 2^31,
 * elem_size > 2^20), -ENOMEM. */
int weft_mpsc_channel(size_t elem_size, size_t cap, weft_mpsc_tx **tx,
		      weft_mpsc_rx **rx);

/* Creates an unbounded channel (sends never wait; the buffer grows).
 * Returns 0, -EINVAL (tx or rx NULL, elem_size 0 or > 2^20), -ENOMEM. */
int weft_mpsc_unbounded(size_t elem_size, weft_mpsc_tx **tx,
			weft_mpsc_rx **rx);

/* ---------------------------------------------------------------- sender */

/* Another handle on the same channel (counted). Cannot fail. */
weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx);

/* Releases one sender handle; the last one closes the channel. */
void weft_mpsc_tx_drop(weft_mpsc_tx *tx);

/* Sends without waiting. Returns 0, -EAGAIN (bounded and full, or senders
 * already waiting), -EPIPE (receiver closed or dropped: value not taken),
 * -ENOMEM (unbounded and the buffer could not grow), -EINVAL (NULL). */
int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value);

/* True once the receiver closed or was dropped. */
bool weft_mpsc_is_closed(weft_mpsc_tx *tx);

/* A send that waits for room. */
typedef struct weft_mpsc_send {
	weft__waiter w;
	weft_mpsc_tx *tx;
	const void *value; /* caller's, unchanged until READY or drop */
	int err;           /* at READY: 0, -EPIPE, -ENOMEM (unbounded) */
} weft_mpsc_send;

/* Prepares a send of *value (elem_size bytes) on tx. Cannot fail. */
void weft_mpsc_send_init(weft_mpsc_send *s, weft_mpsc_tx *tx,
			 const void *value);

/* READY when the value is in the channel (s->err = 0) or cannot be sent
 * (s->err = -EPIPE: receiver closed or dropped; the value was not taken).
 * A send that completes without waiting spends one unit of coop budget. */
weft_poll weft_mpsc_send_poll(weft_mpsc_send *s, weft_cx *cx);

/* Cancels a send (call when dropping an unfinished frame; harmless after
 * READY or before the first poll). Returns true when the value had already
 * been delivered, false when it was not sent. */
bool weft_mpsc_send_drop(weft_mpsc_send *s);

/* A wait for one slot (a permit). */
typedef struct weft_mpsc_reserve {
	weft__waiter w;
	weft_mpsc_tx *tx;
	int err;           /* at READY: 0 (you hold a permit) or -EPIPE */
} weft_mpsc_reserve;

void weft_mpsc_reserve_init(weft_mpsc_reserve *r, weft_mpsc_tx *tx);

/* READY with r->err = 0 when a slot is reserved for this sender: use it
 * with weft_mpsc_permit_send or give it back with weft_mpsc_permit_release;
 * or r->err = -EPIPE (closed). Unbounded channels grant at once. */
weft_poll weft_mpsc_reserve_poll(weft_mpsc_reserve *r, weft_cx *cx);

/* Cancels a reserve; a slot granted but not yet returned by READY goes
 * back to the channel. Harmless after READY (the permit is then yours). */
void weft_mpsc_reserve_drop(weft_mpsc_reserve *r);

/* Sends into a reserved slot. Never waits. Returns 0, or -EPIPE when the
 * receiver closed meanwhile (the value was not taken; the permit is gone
 * either way), -ENOMEM (unbounded could not grow; permit gone), -EINVAL. */
int weft_mpsc_permit_send(weft_mpsc_tx *tx, const void *value);

/* Gives a reserved slot back unused. */
void weft_mpsc_permit_release(weft_mpsc_tx *tx);

/* -------------------------------------------------------------- receiver */

/* Receives one value into out (elem_size bytes; out may be NULL to
 * discard). READY with *err = 0, or *err = -EPIPE once the channel is
 * closed and drained. PENDING with the waker registered otherwise. A value
 * taken spends one unit of coop budget. err may be NULL. */
weft_poll weft_mpsc_recv_poll(weft_mpsc_rx *rx, weft_cx *cx, void *out,
			      int *err);

/* Receives up to max values into buf (max * elem_size bytes). READY with
 * *n >= 1 and *err = 0, or *n = 0 and *err = -EPIPE (closed and drained);
 * PENDING when empty. One coop unit per call. */
weft_poll weft_mpsc_recv_many_poll(weft_mpsc_rx *rx, weft_cx *cx, void *buf,
				   size_t max, size_t *n, int *err);

/* Returns 0 (value in out), -EAGAIN (empty, senders alive), -EPIPE (closed
 * and drained), -EINVAL (rx NULL). */
int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *out);

/* Closes the channel from the receiving side: sends fail with -EPIPE from
 * now on, waiting senders are woken with -EPIPE, buffered values can still
 * be received. */
void weft_mpsc_close(weft_mpsc_rx *rx);

/* Drops the receiver: closes, discards buffered values, frees the channel
 * if no sender is left. */
void weft_mpsc_rx_drop(weft_mpsc_rx *rx);

/* Values buffered now (a snapshot). */
size_t weft_mpsc_len(weft_mpsc_rx *rx);

/* The receive as a future with the generic poll(frame, cx) signature. */
typedef struct weft_mpsc_recv {
	weft_mpsc_rx *rx;
	void *out;
	int err; /* at READY: 0 or -EPIPE */
} weft_mpsc_recv;

static inline void weft_mpsc_recv_init(weft_mpsc_recv *r, weft_mpsc_rx *rx,
				       void *out)
{
	r->rx = rx;
	r->out = out;
	r->err = 0;
}

static inline weft_poll weft_mpsc_recv_fut_poll(weft_mpsc_recv *r,
						weft_cx *cx)
{
	return weft_mpsc_recv_poll(r->rx, cx, r->out, &r->err);
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_MPSC_H */
