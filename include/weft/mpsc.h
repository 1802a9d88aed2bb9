/* weft/mpsc.h - multi-producer single-consumer channels, bounded (with
 * back-pressure) and unbounded, for values of any size (elem_size bytes,
 * copied in and out).
 *
 * Handles: a channel has one receiver (weft_mpsc_rx) and counted senders
 * (weft_mpsc_tx; weft_mpsc_tx_clone adds one, weft_mpsc_tx_drop removes
 * one). When the last sender is dropped the channel closes: the receiver
 * still receives every buffered value, then gets -EPIPE. weft_mpsc_close
 * (the receiver's) closes it too: sends fail from then on, buffered values
 * can still be received. The channel is freed when the receiver and every
 * sender are dropped. Debug builds abort on a second weft_mpsc_rx_drop, or
 * on more weft_mpsc_tx_drop calls than handles, while the channel exists.
 *
 * Ownership of values. A value is the channel's from the moment a send
 * delivers it (a send or permit_send returned 0, a send future completed
 * with res 0 or was dropped with res left at 0) until the receiver takes
 * it (it is then the receiver's). The channel gives up the values it still
 * holds through the element destructor `release` given at create (when
 * not NULL), exactly once per value:
 *  - weft_mpsc_rx_drop releases every buffered value, oldest first, before
 *    it returns;
 *  - a value a sender was still writing while the receiver was dropped (a
 *    lock-free send that had claimed its slot) is released when the
 *    channel is freed.
 * release(elem) gets a pointer to the value's bytes inside the channel
 * (valid during the call only); it runs on the thread dropping the
 * receiver (or the last handle), with no lock held, so it may call any
 * weft function (weft_oneshot_tx_drop of a reply channel the value owns,
 * for instance: the requester then gets -EPIPE instead of waiting forever).
 * A value that was never delivered is not the channel's: a send that
 * failed (-EPIPE, -ENOMEM, -EAGAIN), a send future still waiting when the
 * channel closes (it completes with -EPIPE), or one dropped with res
 * -ECANCELED leave the value with the caller, and release never sees it.
 *
 * Futures and cancellation:
 *  - weft_mpsc_send: waits while a bounded channel is full (FIFO among
 *    waiting senders). Its value stays in the caller's memory, read only
 *    when it goes into the channel. weft_mpsc_send_drop cancels it and
 *    records in res whether the value was delivered: when the receiver
 *    frees a slot it copies the oldest waiting sender's value straight in
 *    and wakes it, so a send dropped after that wake was delivered (res
 *    0), one dropped before it was not (res -ECANCELED). Either way
 *    nothing is lost or sent twice.
 *  - weft_mpsc_reserve: waits for a slot and holds it (a permit); the value
 *    is given later with weft_mpsc_permit_send, which never waits, so a
 *    select can drop the reserve without ever having touched the value.
 *    A reserve dropped after its slot was granted gives the slot back.
 *  - weft_mpsc_recv / weft_mpsc_recv_many need no waiter node (one
 *    receiver): a receive returns READY only with a value taken, so
 *    abandoning it loses nothing.
 * Waiter nodes live in the futures (no allocation per wait). Debug builds
 * abort when a send or reserve future is re-initialised while it is still
 * registered (queued, or granted and not yet polled): drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
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

/* The cap of an unbounded channel (sends never wait; the buffer grows). */
#define WEFT_MPSC_UNBOUNDED 0

/* Creates a channel for values of elem_size bytes, holding at most cap
 * values (WEFT_MPSC_UNBOUNDED: no limit), with one sender handle (*tx) and
 * the receiver (*rx). release, when not NULL, is the element destructor
 * (see the top of this file).
 * Returns 0, -EINVAL (tx or rx NULL, elem_size 0 or > 2^20, cap > 2^31),
 * -ENOMEM; on failure nothing is created. */
int weft_mpsc_create(weft_mpsc_tx **tx, weft_mpsc_rx **rx, size_t elem_size,
		     size_t cap, void (*release)(void *elem));

/* ---------------------------------------------------------------- sender */

/* Another handle on the same channel (counted). Cannot fail. */
weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx);

/* Releases one sender handle; the last one closes the channel. */
void weft_mpsc_tx_drop(weft_mpsc_tx *tx);

/* Sends without waiting. Returns 0 (delivered), or, with the value left to
 * the caller: -EAGAIN (bounded and full, or senders already waiting),
 * -EPIPE (closed, or the receiver dropped), -ENOMEM (unbounded and the
 * buffer could not grow), -EINVAL (NULL). */
int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value);

/* True once the channel is closed to sends (weft_mpsc_close, or the
 * receiver dropped). */
bool weft_mpsc_is_closed(weft_mpsc_tx *tx);

/* A send that waits for room. 64 bytes. */
typedef struct weft_mpsc_send {
	weft__waiter w;    /* private */
	weft_mpsc_tx *tx;
	const void *value; /* caller's, unchanged until READY or drop */
	intptr_t res;      /* at READY: 0 (delivered), -EPIPE (closed: not
			    * taken), -ENOMEM (unbounded: not taken); after
			    * weft_mpsc_send_drop: 0 if delivered, else < 0
			    * (-ECANCELED when dropped unsent) */
} weft_mpsc_send;
WEFT_FUTURE_EXTERN(weft_mpsc_send);

/* Prepares a send of *value (elem_size bytes) on tx. Cannot fail. */
void weft_mpsc_send_init(weft_mpsc_send *s, weft_mpsc_tx *tx,
			 const void *value);

/* READY when the value is in the channel (res = 0) or cannot be sent (res
 * < 0, see above; the value was not taken). A send that completes without
 * waiting spends one unit of coop budget. */
weft_poll weft_mpsc_send_poll(weft_mpsc_send *s, weft_cx *cx);

/* Cancels a send (call when dropping an unfinished frame; harmless after
 * READY or before the first poll). Afterwards res says whether the value
 * was delivered: 0 yes (the channel owns it), < 0 no (the caller still
 * owns it; -ECANCELED when it was waiting or never polled). */
void weft_mpsc_send_drop(weft_mpsc_send *s);

/* A wait for one slot (a permit). 56 bytes. */
typedef struct weft_mpsc_reserve {
	weft__waiter w;    /* private */
	weft_mpsc_tx *tx;
	intptr_t res;      /* at READY: 0 (you hold a permit) or -EPIPE */
} weft_mpsc_reserve;
WEFT_FUTURE_EXTERN(weft_mpsc_reserve);

void weft_mpsc_reserve_init(weft_mpsc_reserve *r, weft_mpsc_tx *tx);

/* READY with res = 0 when a slot is reserved for this sender: use it with
 * weft_mpsc_permit_send or give it back with weft_mpsc_permit_release; or
 * res = -EPIPE (closed). Unbounded channels grant at once. */
weft_poll weft_mpsc_reserve_poll(weft_mpsc_reserve *r, weft_cx *cx);

/* Cancels a reserve; a slot granted but not yet returned by READY goes
 * back to the channel. Harmless after READY (the permit is then yours). */
void weft_mpsc_reserve_drop(weft_mpsc_reserve *r);

/* Sends into a reserved slot. Never waits. Returns 0 (delivered), or, with
 * the value left to the caller and the permit gone either way: -EPIPE (the
 * channel closed meanwhile), -ENOMEM (unbounded could not grow); -EINVAL
 * (NULL; the permit is kept). */
int weft_mpsc_permit_send(weft_mpsc_tx *tx, const void *value);

/* Gives a reserved slot back unused. */
void weft_mpsc_permit_release(weft_mpsc_tx *tx);

/* -------------------------------------------------------------- receiver */

/* Receives one value. */
typedef struct weft_mpsc_recv {
	weft_mpsc_rx *rx;
	void *out;    /* elem_size bytes; NULL discards the value (it is not
		       * released: a received value is the receiver's) */
	intptr_t res; /* at READY: 0 (value in out) or -EPIPE (closed and
		       * drained) */
} weft_mpsc_recv;
WEFT_FUTURE_EXTERN(weft_mpsc_recv);

void weft_mpsc_recv_init(weft_mpsc_recv *r, weft_mpsc_rx *rx, void *out);

/* READY with res = 0 and the value in out, or res = -EPIPE once the
 * channel is closed and drained. PENDING with the waker registered
 * otherwise. A value taken spends one unit of coop budget. */
weft_poll weft_mpsc_recv_poll(weft_mpsc_recv *r, weft_cx *cx);

/* Nothing to release (a receive takes a value only at READY). */
void weft_mpsc_recv_drop(weft_mpsc_recv *r);

/* Receives up to max values at once. */
typedef struct weft_mpsc_recv_many {
	weft_mpsc_rx *rx;
	void *buf;    /* max * elem_size bytes */
	size_t max;
	intptr_t res; /* at READY: n >= 1 values in buf, -EPIPE (closed and
		       * drained) or -EINVAL (max 0) */
} weft_mpsc_recv_many;
WEFT_FUTURE_EXTERN(weft_mpsc_recv_many);

void weft_mpsc_recv_many_init(weft_mpsc_recv_many *r, weft_mpsc_rx *rx,
			      void *buf, size_t max);

/* READY with res as above; PENDING when empty. One coop unit per READY
 * with values. */
weft_poll weft_mpsc_recv_many_poll(weft_mpsc_recv_many *r, weft_cx *cx);

/* Nothing to release. */
void weft_mpsc_recv_many_drop(weft_mpsc_recv_many *r);

/* Returns 0 (value in out), -EAGAIN (empty, senders alive), -EPIPE (closed
 * and drained), -EINVAL (rx NULL). */
int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *out);

/* Closes the channel (the receiver's side): sends fail with -EPIPE from
 * now on, waiting senders are woken with -EPIPE (their values stay
 * theirs), buffered values can still be received. Idempotent. */
void weft_mpsc_close(weft_mpsc_rx *rx);

/* Drops the receiver: closes, releases every buffered value (see the top),
 * frees the channel if no sender is left. */
void weft_mpsc_rx_drop(weft_mpsc_rx *rx);

/* Values buffered now (a snapshot). */
size_t weft_mpsc_len(weft_mpsc_rx *rx);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_MPSC_H */
