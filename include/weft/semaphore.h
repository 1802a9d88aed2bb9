/* weft/semaphore.h - a fair (FIFO) counting semaphore (tokio's batch
 * semaphore), the base of weft_mutex and weft_rwlock.
 *
 * Fairness: once a future waits, later acquires queue behind it (no
 * barging), and permits are granted to the oldest waiter first, in part if
 * it needs more than are free, so a large acquire is not starved by small
 * ones.
 *
 * Cancellation: weft_semaphore_acquire_drop on a waiting future unlinks it
 * and gives back the permits it had already been granted; on one that was
 * granted everything but has not returned READY it gives back all n.
 * After READY the caller owns the n permits and returns them with
 * weft_semaphore_release. Nothing leaks either way. Debug builds abort
 * when an acquire is re-initialised while it is still registered (queued,
 * or granted and not yet polled): drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_SEMAPHORE_H
#define WEFT_SEMAPHORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Most permits a semaphore can hold. */
#define WEFT_SEMAPHORE_MAX ((uint64_t)1 << 60)

typedef struct weft_semaphore {
	WEFT__ATOMIC(uint64_t) state; /* permits << 2 | WAITERS | CLOSED */
	weft__lock lock;        /* guards waiters and grants */
	weft__wlink waiters;    /* FIFO of weft_semaphore_acquire */
} weft_semaphore;

/* Initialises with `permits` free permits. Returns 0 or -EINVAL (s NULL,
 * permits > WEFT_SEMAPHORE_MAX). */
int weft_semaphore_init(weft_semaphore *s, uint64_t permits);

/* Releases an embedded semaphore; nothing may wait on it. */
void weft_semaphore_destroy(weft_semaphore *s);

/* Takes n permits without waiting. Returns 0, -EAGAIN (too few free, or
 * others already waiting), -EPIPE (closed), -EINVAL (n == 0 or too big). */
int weft_semaphore_try_acquire(weft_semaphore *s, uint64_t n);

/* Returns n permits (or adds new ones: add_permits), waking waiters in
 * order. Returns 0 or -EOVERFLOW (would exceed WEFT_SEMAPHORE_MAX; nothing
 * added). */
int weft_semaphore_release(weft_semaphore *s, uint64_t n);

static inline int weft_semaphore_add_permits(weft_semaphore *s, uint64_t n)
{
	return weft_semaphore_release(s, n);
}

/* Closes (no more acquires): waiting and later acquires complete with
 * -EPIPE; permits held stay valid and may still be released. */
void weft_semaphore_close(weft_semaphore *s);

/* True once weft_semaphore_close was called. */
bool weft_semaphore_is_closed(const weft_semaphore *s);

/* Free permits now (a snapshot). */
uint64_t weft_semaphore_available(const weft_semaphore *s);

/* A wait for n permits. 64 bytes. */
typedef struct weft_semaphore_acquire {
	weft__waiter w;       /* private; w.arg: permits still owed while queued */
	weft_semaphore *s;
	uint32_t n;
	intptr_t res;         /* at READY: 0 (you hold n permits), -EPIPE
			       * (closed) or -EINVAL (n == 0) */
} weft_semaphore_acquire;
WEFT_FUTURE_EXTERN(weft_semaphore_acquire);

/* Prepares an acquire of n permits (1 <= n < 2^32). Cannot fail (n == 0
 * completes with -EINVAL). */
void weft_semaphore_acquire_init(weft_semaphore_acquire *a, weft_semaphore *s,
				 uint32_t n);

/* READY with res = 0 holding n permits, or res = -EPIPE (closed) or
 * -EINVAL (n == 0). Completing without waiting spends one coop unit. */
weft_poll weft_semaphore_acquire_poll(weft_semaphore_acquire *a, weft_cx *cx);

/* Cancels the acquire, giving back whatever was granted to it (see top).
 * Harmless before the first poll and after READY. */
void weft_semaphore_acquire_drop(weft_semaphore_acquire *a);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_SEMAPHORE_H */
