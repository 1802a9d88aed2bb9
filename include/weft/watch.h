/* weft/watch.h - a single-value channel that keeps only the latest value
 * (tokio's watch). One sender, any number of receivers.
 *
 * Each receiver remembers the version it has seen. The future
 * weft_watch_changed completes when a newer value exists (several sends in
 * between coalesce into one change) and marks it seen; weft_watch_borrow
 * copies the current value and marks it seen too.
 *
 * Handles: the sender is the channel pointer (weft_watch_tx_drop: waiting
 * and later changed futures then report -EPIPE once they have seen the
 * last value); receivers are embedded structs, each a counted reference
 * (subscribe / rx_clone / rx_drop; a second rx_drop of the same receiver
 * does nothing). The channel is freed with its last handle. Debug builds
 * abort on a second tx_drop while receivers keep the channel alive.
 *
 * Ownership of values. The channel owns the value it holds: the initial
 * one from a successful create, each sent one from a send that returned 0
 * (a failed create or send leaves the value with the caller). It lets go
 * of each exactly once through the element destructor `release` given at
 * create (when not NULL): the value a send replaces, during that send,
 * and the last value when the channel is freed. release(elem) gets a
 * pointer to the value's bytes in the channel (valid during the call
 * only); it runs with the channel's lock held, so it must not call this
 * channel's functions (freeing memory, dropping a reference or a oneshot
 * end is fine). weft_watch_borrow copies the bytes: the copy is a borrow,
 * valid for what it refers to until the next send replaces the value.
 *
 * Cancellation: the changed future waits on an intrusive list; dropping it
 * while waiting unlinks it, and nothing is consumed until it returns READY
 * (the version is marked seen only then), so a dropped wait loses no
 * change. Debug builds abort when it is re-initialised while still
 * registered (queued, or woken and not yet polled): drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_WATCH_H
#define WEFT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_watch weft_watch;

/* A receiver: embed it; it is a counted handle on the channel. */
typedef struct weft_watch_rx {
	weft_watch *w;
	uint64_t seen; /* version last seen */
} weft_watch_rx;

/* Creates a channel holding *init (elem_size bytes); *tx is the sender,
 * *rx the first receiver. release, when not NULL, is the element
 * destructor (see above). Returns 0, -EINVAL (NULLs, elem_size 0 or
 * > 2^20), -ENOMEM; on failure nothing is created and init stays the
 * caller's. */
int weft_watch_create(weft_watch **tx, weft_watch_rx *rx, size_t elem_size,
		      const void *init, void (*release)(void *elem));

/* Stores a new value (releasing the one it replaces) and wakes every
 * waiting receiver. Returns 0, or -EPIPE when no receiver is left, -EINVAL:
 * the value is then not stored and stays the caller's. */
int weft_watch_send(weft_watch *tx, const void *value);

/* Drops the sender: waiting and later changed futures report -EPIPE once
 * they have seen the last value. */
void weft_watch_tx_drop(weft_watch *tx);

/* A new receiver that has seen the current value. */
void weft_watch_subscribe(weft_watch *tx, weft_watch_rx *rx);

/* Another receiver with the same seen version as rx. */
void weft_watch_rx_clone(const weft_watch_rx *rx, weft_watch_rx *out);

/* Drops a receiver (no waiting changed future may still use it). */
void weft_watch_rx_drop(weft_watch_rx *rx);

/* Copies the current value into out and marks it seen. */
void weft_watch_borrow(weft_watch_rx *rx, void *out);

/* 1 if a value newer than the seen one exists, 0 if not, -EPIPE if not and
 * the sender is gone. */
int weft_watch_has_changed(const weft_watch_rx *rx);

/* A wait for a newer value. */
typedef struct weft_watch_changed {
	weft__waiter w; /* private */
	weft_watch_rx *rx;
	intptr_t res;   /* at READY: 0 (a newer value, now seen) or -EPIPE */
} weft_watch_changed;
WEFT_FUTURE_EXTERN(weft_watch_changed);

void weft_watch_changed_init(weft_watch_changed *c, weft_watch_rx *rx);

/* READY with res = 0 when a value newer than rx's seen one exists (marked
 * seen), or -EPIPE when the sender is gone and nothing newer is there.
 * Completing without waiting spends one coop unit. */
weft_poll weft_watch_changed_poll(weft_watch_changed *c, weft_cx *cx);

/* Cancels the wait; harmless before the first poll and after READY. */
void weft_watch_changed_drop(weft_watch_changed *c);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_WATCH_H */
