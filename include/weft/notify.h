/* weft/notify.h - notify a task (tokio's Notify).
 *
 * A weft_notify holds at most one stored permit. weft_notify_one wakes the
 * oldest waiter, or stores the permit if nobody waits, so that the next wait
 * completes at once. weft_notify_waiters wakes every waiter whose future was
 * initialised before the call (polled or not) and stores no permit.
 *
 * The waiting future, weft_notify_wait, is 48 bytes: a 40-byte waiter node
 * and the notify's address (a parked task's frame, WEFT_ASYNC_VOID plus
 * one wait, stays at 56 bytes: the idle_memory workload). The notify
 * pointer `n` stays valid after READY, so a frame can reach the struct
 * that embeds its notify from it (container_of) instead of keeping a
 * pointer of its own. To fit, `res` shares its 8 bytes with the node's
 * list link, which is dead once the wait is no longer queued.
 *
 * Cancellation: a wait dropped (weft_notify_wait_drop) while it is queued
 * leaves the list; one dropped after notify_one chose it but before it
 * returned READY passes that notification on (to the next waiter, or as
 * the stored permit), so no notify_one is ever lost.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_NOTIFY_H
#define WEFT_NOTIFY_H

#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_notify {
	WEFT__ATOMIC(uint64_t) state; /* bits 0-1: empty/waiting/notified;
				         above: count of notify_waiters calls */
	weft__lock lock;        /* guards waiters */
	weft__wlink waiters;    /* FIFO of weft_notify_wait */
} weft_notify;

/* Initialises an embedded notify (no allocation, cannot fail). */
void weft_notify_init(weft_notify *n);

/* Releases an embedded notify. No future may still wait on it. */
void weft_notify_destroy(weft_notify *n);

/* Wakes the oldest waiter, or stores one permit (permits do not add up). */
void weft_notify_one(weft_notify *n);

/* Wakes every waiter whose weft_notify_wait was initialised before this
 * call. Stores no permit. */
void weft_notify_waiters(weft_notify *n);

/* A wait for a notification. 48 bytes; embed it in the frame. */
typedef struct weft_notify_wait {
	union {
		weft__waiter w; /* private; w.arg: notify_waiters count at init */
		intptr_t res;   /* at READY: 0 (a wait never fails); shares the
				 * node's link, unused once not queued */
	};
	weft_notify *n;         /* the notify given to init; valid after READY */
} weft_notify_wait;
WEFT_FUTURE_EXTERN(weft_notify_wait);

/* Prepares a wait on n. Cannot fail. Records the notify_waiters count, so a
 * weft_notify_waiters() after this returns completes the wait even before
 * its first poll. Debug builds abort when w is still registered (queued,
 * or chosen by notify_one and not yet polled): drop it first. */
void weft_notify_wait_init(weft_notify_wait *w, weft_notify *n);

/* READY (res = 0) once notified: by notify_one, a stored permit, or
 * notify_waiters since init. PENDING with the waker queued otherwise.
 * Completing without waiting spends one unit of coop budget. */
weft_poll weft_notify_wait_poll(weft_notify_wait *w, weft_cx *cx);

/* Cancels the wait (call when dropping an unfinished frame; harmless after
 * READY or before the first poll). A notify_one already given to w is
 * passed on. */
void weft_notify_wait_drop(weft_notify_wait *w);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_NOTIFY_H */
