/* weft/notify.h - notify a task (tokio's Notify).
 *
 * A weft_notify holds at most one stored permit. weft_notify_one wakes the
 * oldest waiter, or stores the permit if nobody waits, so that the next wait
 * completes at once. weft_notify_waiters wakes every waiter whose future was
 * initialised before the call (polled or not) and stores no permit.
 *
 * The waiting future, weft_notified, is 40 bytes and does not hold the
 * notify's address (a parked task's frame stays within 64 bytes: the
 * idle_memory workload): pass the same notify to its init, poll and drop.
 * weft_notify_wait wraps it with the pointer for the combinators.
 *
 * Cancellation: a weft_notified dropped (weft_notified_drop) while it waits
 * leaves the list; one dropped after notify_one chose it but before it
 * returned READY passes that notification on (to the next waiter, or as the
 * stored permit), so no notify_one is ever lost.
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
	_Atomic uint64_t state; /* bits 0-1: empty/waiting/notified; above:
				   count of notify_waiters calls */
	weft__lock lock;        /* guards waiters */
	weft__wlink waiters;    /* FIFO of weft_notified */
} weft_notify;

/* Initialises an embedded notify (no allocation, cannot fail). */
void weft_notify_init(weft_notify *n);

/* Releases an embedded notify. No future may still wait on it. */
void weft_notify_destroy(weft_notify *n);

/* Wakes the oldest waiter, or stores one permit (permits do not add up). */
void weft_notify_one(weft_notify *n);

/* Wakes every waiter whose weft_notified was initialised before this call.
 * Stores no permit. */
void weft_notify_waiters(weft_notify *n);

/* A wait for a notification. 40 bytes; embed it in the frame. */
typedef struct weft_notified {
	weft__waiter w; /* w.arg: notify_waiters count at init */
} weft_notified;

/* Prepares a wait on n. Cannot fail. Records the notify_waiters count, so a
 * weft_notify_waiters() after this returns completes the wait even before
 * its first poll. */
void weft_notified_init(weft_notified *f, weft_notify *n);

/* READY once notified (by notify_one, a stored permit, or notify_waiters
 * since init); PENDING with the waker queued otherwise. n must be the
 * notify given to init. Never errs. */
weft_poll weft_notified_poll(weft_notified *f, weft_notify *n, weft_cx *cx);

/* Cancels the wait (call when dropping an unfinished frame; harmless after
 * READY or before the first poll). A notify_one already given to f is
 * passed on. */
void weft_notified_drop(weft_notified *f, weft_notify *n);

/* The same wait holding the notify pointer (48 bytes), with the generic
 * poll(frame, cx) / drop(frame) signatures for WEFT_BRANCH. */
typedef struct weft_notify_wait {
	weft_notified f;
	weft_notify *n;
} weft_notify_wait;

static inline void weft_notify_wait_init(weft_notify_wait *w, weft_notify *n)
{
	w->n = n;
	weft_notified_init(&w->f, n);
}

static inline weft_poll weft_notify_wait_poll(weft_notify_wait *w, weft_cx *cx)
{
	return weft_notified_poll(&w->f, w->n, cx);
}

static inline void weft_notify_wait_drop(weft_notify_wait *w)
{
	weft_notified_drop(&w->f, w->n);
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_NOTIFY_H */
