/* weft/broadcast.h - a bounded multi-producer, multi-consumer channel
 * where every receiver sees every value (tokio's broadcast).
 *
 * Values go into a ring of cap slots; a send never waits: when the ring is
 * full the oldest value is overwritten. A receiver that fell more than cap
 * values behind is told how many it missed (-EOVERFLOW with the count) and
 * continues from the oldest value still held.
 *
 * Cancellation: the recv future takes a value only when it returns READY;
 * dropping it while waiting unlinks its node and loses nothing.
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
 * handle (*tx) and one receiver (*rx). Returns 0, -EINVAL (NULLs, sizes 0,
 * cap > 2^24, elem_size > 2^20), -ENOMEM. */
int weft_broadcast_create(size_t elem_size, size_t cap, weft_broadcast **tx,
			  weft_broadcast_rx *rx);

/* Sends to every receiver. Returns the number of receivers (>= 1), or
 * -EPIPE when there is none (not stored), -EINVAL. */
int weft_broadcast_send(weft_broadcast *tx, const void *value);

/* Another sender handle; the channel closes when the last one drops. */
weft_broadcast *weft_broadcast_tx_clone(weft_broadcast *tx);
void weft_broadcast_tx_drop(weft_broadcast *tx);

/* A new receiver that sees values sent from now on. */
void weft_broadcast_subscribe(weft_broadcast *tx, weft_broadcast_rx *rx);
void weft_broadcast_rx_drop(weft_broadcast_rx *rx);

/* Returns 0 (value in out), -EAGAIN (nothing new), -EOVERFLOW (*missed set
 * to the number of values lost; the next call returns the oldest held),
 * -EPIPE (every sender gone and all received). */
int weft_broadcast_try_recv(weft_broadcast_rx *rx, void *out,
			    uint64_t *missed);

typedef struct weft_broadcast_recv {
	weft__waiter w;
	weft_broadcast_rx *rx;
	void *out;       /* elem_size bytes */
	int err;         /* at READY: 0, -EOVERFLOW, -EPIPE */
	uint64_t missed; /* with -EOVERFLOW: values lost */
} weft_broadcast_recv;

void weft_broadcast_recv_init(weft_broadcast_recv *r, weft_broadcast_rx *rx,
			      void *out);

/* READY with err as weft_broadcast_try_recv; PENDING while nothing new.
 * Completing without waiting spends one coop unit. */
weft_poll weft_broadcast_recv_poll(weft_broadcast_recv *r, weft_cx *cx);

void weft_broadcast_recv_drop(weft_broadcast_recv *r);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BROADCAST_H */
