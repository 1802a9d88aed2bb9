/* weft/oneshot.h - a channel for exactly one value (tokio's oneshot).
 *
 * One object is both ends: the sender calls weft_oneshot_send (or
 * weft_oneshot_tx_drop) exactly once; the receiver awaits the future
 * weft_oneshot_recv (or calls weft_oneshot_try_recv) and ends with
 * weft_oneshot_rx_drop. Values are elem_size bytes, copied in and out.
 *
 * Allocation: weft_oneshot_create makes one allocation (header and value
 * slot together), freed when both ends are gone. weft_oneshot_init embeds
 * the channel in caller memory (a frame) with no allocation at all; that
 * memory may be reused once the receiver has seen READY (or -EPIPE) and
 * called weft_oneshot_rx_drop: the sender's last access to the object is
 * the atomic step that makes the value visible.
 *
 * Ownership: a value whose send returned 0 belongs to the receiver (once
 * received) or is discarded, as bytes, by rx_drop: the channel runs no
 * destructor, so a value that owns something must be received. A send
 * that fails leaves the value with the caller.
 *
 * The sender is lock-free and never waits. The receiver's waker lives in
 * the channel, so the receive needs no waiter node; dropping a pending
 * receive loses nothing (the value stays until a later receive or
 * rx_drop), and rx_drop releases the registered waker.
 *
 * Debug builds abort when an end is used after it was consumed (a second
 * send or tx_drop, a second rx_drop) while the channel still exists.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_ONESHOT_H
#define WEFT_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_oneshot {
	WEFT__ATOMIC(uint32_t) state; /* WEFT__OS_* bits, see sync/oneshot.c */
	uint32_t elem_size;
	bool heap;                  /* freed by the last end */
	bool rx_done;               /* receiver-owned: value taken / -EPIPE seen */
	WEFT__ATOMIC(const weft_waker_vtable *) rx_vt; /* receiver's waker ... */
	WEFT__ATOMIC(void *) rx_data;                  /* ... published by state */
	void *slot;                 /* the value, elem_size bytes */
	uint64_t inline_val;        /* slot for elem_size <= 8 when embedded */
} weft_oneshot;

/* Allocates a channel for values of elem_size bytes (one allocation).
 * Returns 0, -EINVAL (out NULL, elem_size 0 or > UINT32_MAX), -ENOMEM. */
int weft_oneshot_create(weft_oneshot **out, size_t elem_size);

/* Initialises a channel in caller memory (no allocation). The value is
 * kept in buf (elem_size bytes, caller memory that outlives the channel),
 * or inside *o when buf is NULL and elem_size <= 8. The channel ends when
 * both ends are dropped (there is no _destroy).
 * Returns 0 or -EINVAL (o NULL, elem_size 0 or > UINT32_MAX, buf NULL with
 * elem_size > 8). */
int weft_oneshot_init(weft_oneshot *o, size_t elem_size, void *buf);

/* Sends *value and consumes the sender (no tx_drop after it, even when it
 * fails). Never waits. Returns 0, or -EPIPE when the receiver closed or
 * was dropped first: the value was not taken (the caller still owns
 * whatever it refers to), or -EINVAL (o or value NULL; the sender is then
 * not consumed). */
int weft_oneshot_send(weft_oneshot *o, const void *value);

/* Drops the sender without sending: the receiver gets -EPIPE. */
void weft_oneshot_tx_drop(weft_oneshot *o);

/* Sender side: true once the receiver closed or was dropped (a send would
 * fail). */
bool weft_oneshot_is_closed(const weft_oneshot *o);

/* Receives without waiting. Returns 0 (value in out; out may be NULL to
 * discard it), -EAGAIN (nothing sent yet), -EPIPE (sender dropped unsent,
 * closed, or already received), -EINVAL (o NULL). */
int weft_oneshot_try_recv(weft_oneshot *o, void *out);

/* Receiver: refuses any later send. A value sent before the close can
 * still be received. */
void weft_oneshot_close(weft_oneshot *o);

/* Drops the receiver: closes, releases the registered waker, discards an
 * unreceived value, and frees the channel if the sender is gone too. */
void weft_oneshot_rx_drop(weft_oneshot *o);

/* The receive. */
typedef struct weft_oneshot_recv {
	weft_oneshot *o;
	void *out;    /* where the value goes (elem_size bytes; may be NULL) */
	intptr_t res; /* at READY: 0 (value in out) or -EPIPE */
} weft_oneshot_recv;
WEFT_FUTURE_EXTERN(weft_oneshot_recv);

/* Prepares a receive from o into out. Cannot fail. */
void weft_oneshot_recv_init(weft_oneshot_recv *r, weft_oneshot *o,
			    void *out);

/* READY with res = 0 and the value copied to out; or res = -EPIPE when the
 * sender was dropped unsent, the receiver closed before a value came, or
 * the value was already received. PENDING with the task's waker
 * registered in the channel otherwise. A ready value spends one unit of
 * the coop budget. */
weft_poll weft_oneshot_recv_poll(weft_oneshot_recv *r, weft_cx *cx);

/* Nothing to release: a value not yet received stays in the channel, and
 * the waker left in it is released by rx_drop (or replaced by the next
 * receive). */
void weft_oneshot_recv_drop(weft_oneshot_recv *r);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_ONESHOT_H */
