/* weft/broadcast.h - a bounded multi-producer, multi-consumer channel
 * where every receiver sees every value (tokio's broadcast).
 *
 * Values go into a ring of cap slots; a send never waits: when the ring is
 * full the oldest value is overwritten. A receiver that fell more than cap
 * values behind is told how many it missed (-EOVERFLOW with the count) and
 * continues from the oldest value still held.
 *
 * Handles: the sender handle is the channel pointer (counted:
 * weft_broadcast_tx_clone / weft_broadcast_tx_drop; when the last one is
 * dropped the channel closes and receivers get -EPIPE after the values
 * still held). Receivers are embedded structs (weft_broadcast_subscribe /
 * weft_broadcast_rx_drop; a second rx_drop of the same receiver does
 * nothing). The channel is freed with its last handle. Debug builds abort
 * on more tx_drop calls than sender handles while receivers keep the
 * channel alive.
 *
 * Ownership of values. A value is the channel's from the send that
 * returned >= 1 (a send that fails leaves it with the caller). A receive
 * copies its bytes: every receiver gets the same bytes, and the copy does
 * not own what they refer to, which stays valid until the channel lets
 * the value go. It does so through the element destructor `release`
 * given at create (when not NULL), exactly once per value, at the first
 * of:
 *  - the send that overwrites its slot (the ring was full; a receiver that
 *    had not read it gets -EOVERFLOW);
 *  - the drop of the last receiver (no receiver can read it any more: a
 *    later subscriber starts after it). The channel is freed only after
 *    that (receivers hold references), so every value has been released
 *    by the time the last handle goes.
 * release(elem) gets a pointer to the value's bytes in the ring (valid
 * during the call only). It runs with the channel's lock held: it must not
 * call this channel's functions (freeing memory, dropping a reference or
 * a oneshot end is fine). A received copy is a borrow: what it refers to
 * may be released as soon as cap more values have been sent. Receivers
 * that keep it must hold a reference of their own, taken by the sender
 * for them (a refcounted object: release drops the channel's reference).
 *
 * Cancellation: the recv future takes a value only when it returns READY;
 * dropping it while waiting unlinks its node and loses nothing. Debug
 * builds abort when a recv future is re-initialised while it is still
 * queued: drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_BROADCAST_H
#define WEFT_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_broadcast weft_broadcast; /* the sender handle */

typedef struct weft_broadcast_rx {
	weft_broadcast *b;
	uint64_t next; /* position of the next value to receive */
} weft_broadcast_rx;

/* Creates a channel of cap slots of elem_size bytes, with one sender
 * handle (*tx) and one receiver (*rx, embedded in caller memory). release,
 * when not NULL, is the element destructor (see above).
 * Returns 0, -EINVAL (NULLs, sizes 0, cap > 2^24, elem_size > 2^20),
 * -ENOMEM; on failure nothing is created. */
int weft_broadcast_create(weft_broadcast **tx, weft_broadcast_rx *rx,
			  size_t elem_size, size_t cap,
			  void (*release)(void *elem));

/* Sends to every receiver. Returns the number of receivers (>= 1): the
 * value is the channel's; or -EPIPE when there is none, -EINVAL: not
 * stored, the caller still owns it. */
int weft_broadcast_send(weft_broadcast *tx, const void *value);

/* Another sender handle; the channel closes when the last one drops. */
weft_broadcast *weft_broadcast_tx_clone(weft_broadcast *tx);
/* Releases a sender handle; the last one closes the channel (receivers
 * drain what is held, then get -EPIPE). Debug builds abort on a drop past
 * the number of handles. */
void weft_broadcast_tx_drop(weft_broadcast *tx);

/* A new receiver that sees values sent from now on. */
void weft_broadcast_subscribe(weft_broadcast *tx, weft_broadcast_rx *rx);

/* Drops a receiver (no waiting recv future may still use it). The last
 * receiver's drop releases the values still held. */
void weft_broadcast_rx_drop(weft_broadcast_rx *rx);

/* Returns 0 (value copied to out), -EAGAIN (nothing new), -EOVERFLOW
 * (*missed set to the number of values lost; the next call returns the
 * oldest held), -EPIPE (every sender gone and all received). missed may
 * be NULL. */
int weft_broadcast_try_recv(weft_broadcast_rx *rx, void *out,
			    uint64_t *missed);

typedef struct weft_broadcast_recv {
	weft__waiter w;  /* private */
	weft_broadcast_rx *rx;
	void *out;       /* elem_size bytes */
	uint64_t missed; /* with -EOVERFLOW: values lost */
	intptr_t res;    /* at READY: 0 (value in out), -EOVERFLOW, -EPIPE */
} weft_broadcast_recv;
WEFT_FUTURE_EXTERN(weft_broadcast_recv);

void weft_broadcast_recv_init(weft_broadcast_recv *r, weft_broadcast_rx *rx,
			      void *out);

/* READY with res as weft_broadcast_try_recv's return; PENDING while
 * nothing new. Completing without waiting spends one coop unit. */
weft_poll weft_broadcast_recv_poll(weft_broadcast_recv *r, weft_cx *cx);

/* Cancels the wait; harmless before the first poll and after READY. */
void weft_broadcast_recv_drop(weft_broadcast_recv *r);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BROADCAST_H */
