/* weft/cancel.h - cancellation tokens (tokio-util's CancellationToken).
 *
 * A token is a counted handle on a node of a tree. weft_cancel_child makes
 * a new node under a token: cancelling a node cancels its whole subtree,
 * never its parent. Cancellation is permanent. weft_cancel_clone makes
 * another handle on the same node. When a node loses its last handle its
 * children are re-attached to its parent, so they are still cancelled with
 * the parent.
 *
 * weft_cancel_wait is the future that completes once the token is
 * cancelled. Cancelling wakes each waiting future exactly once. Dropping a
 * waiting future (weft_cancel_wait_drop) unlinks it; nothing else to give
 * back. A waiting future must be dropped (or READY) before the handle it
 * waits on is dropped. Debug builds abort when a wait is re-initialised
 * while it is still queued (drop it first), and, as far as the freed
 * memory still tells, on more drops of a token than it has handles.
 *
 * A drop guard (weft_cancel_guard) owns a handle and cancels the token
 * when dropped, unless disarmed first.
 *
 * Threads: a token may be cloned, cancelled, queried and dropped from any
 * thread, in a task or not; the wait future is polled by the task that
 * holds it.
 *
 * Cancellation: a weft_cancel_wait dropped while waiting leaves the
 * token's list; cancelling later wakes nothing of it.
 */
#ifndef WEFT_CANCEL_H
#define WEFT_CANCEL_H

#include <stdbool.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_cancel_token weft_cancel_token;

/* Creates a root token (one handle). Returns 0, -EINVAL (out NULL),
 * -ENOMEM. */
int weft_cancel_create(weft_cancel_token **out);

/* Creates a child of parent (one handle on a new node). The child is
 * already cancelled if parent is. Returns 0, -EINVAL, -ENOMEM. */
int weft_cancel_child(weft_cancel_token *parent, weft_cancel_token **out);

/* Another handle on the same node. Cannot fail. */
weft_cancel_token *weft_cancel_clone(weft_cancel_token *t);

/* Releases a handle (does not cancel). */
void weft_cancel_drop(weft_cancel_token *t);

/* Cancels t's node and every node below it, waking every waiting future
 * once. Idempotent. */
void weft_cancel(weft_cancel_token *t);

/* True once the token (or an ancestor) was cancelled. Reads with acquire
 * order: what the canceller wrote before weft_cancel is visible. */
bool weft_cancel_is_cancelled(const weft_cancel_token *t);

/* A wait for cancellation. 56 bytes. */
typedef struct weft_cancel_wait {
	weft__waiter w;       /* private */
	weft_cancel_token *t;
	intptr_t res;         /* at READY: 0 (never fails) */
} weft_cancel_wait;
WEFT_FUTURE_EXTERN(weft_cancel_wait);

/* Prepares a wait on t (borrowed: t must outlive the wait). */
void weft_cancel_wait_init(weft_cancel_wait *f, weft_cancel_token *t);

/* READY (res = 0) once the token is cancelled. Completing without waiting
 * spends one coop unit. */
weft_poll weft_cancel_wait_poll(weft_cancel_wait *f, weft_cx *cx);

/* Cancels the wait (harmless before the first poll and after READY). */
void weft_cancel_wait_drop(weft_cancel_wait *f);

/* Drop guard: owns one handle (not a future). */
typedef struct weft_cancel_guard {
	weft_cancel_token *t;
} weft_cancel_guard;

/* Takes ownership of the handle t. */
static inline void weft_cancel_guard_init(weft_cancel_guard *g,
					  weft_cancel_token *t)
{
	g->t = t;
}

/* Gives the handle back without cancelling; the guard becomes empty. */
static inline weft_cancel_token *weft_cancel_guard_disarm(weft_cancel_guard *g)
{
	weft_cancel_token *t = g->t;

	g->t = NULL;
	return t;
}

/* Cancels (unless disarmed) and releases the handle. */
static inline void weft_cancel_guard_drop(weft_cancel_guard *g)
{
	if (g->t) {
		weft_cancel(g->t);
		weft_cancel_drop(g->t);
		g->t = NULL;
	}
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_CANCEL_H */
