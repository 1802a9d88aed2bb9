/* weft/barrier.h - a reusable barrier for n tasks (tokio's Barrier).
 *
 * The n-th arrival releases the n-1 waiting ones; exactly one of the n (the
 * last to arrive) is told it is the leader. Then the barrier is ready for
 * the next generation.
 *
 * Cancellation: a wait dropped while waiting un-arrives (the count goes
 * back down), so the barrier still needs n live arrivals; a wait dropped
 * after its generation was released changes nothing. Debug builds abort
 * when a wait is re-initialised while it is still registered: drop it
 * first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_BARRIER_H
#define WEFT_BARRIER_H

#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_barrier {
	weft__lock lock;
	uint32_t n;          /* parties */
	uint32_t arrived;    /* lock: in this generation */
	uint32_t generation; /* lock: bumped at each release */
	weft__wlink waiters; /* lock */
} weft_barrier;

/* Initialises an embedded barrier for n parties. Returns 0 or -EINVAL (b
 * NULL or n == 0). */
int weft_barrier_init(weft_barrier *b, uint32_t n);

/* Releases an embedded barrier; nothing may wait on it. */
void weft_barrier_destroy(weft_barrier *b);

typedef struct weft_barrier_wait {
	weft__waiter w; /* private */
	weft_barrier *b;
	intptr_t res;   /* at READY: 1 for exactly one of the n (the leader,
			 * the last to arrive), 0 for the others */
} weft_barrier_wait;
WEFT_FUTURE_EXTERN(weft_barrier_wait);

void weft_barrier_wait_init(weft_barrier_wait *f, weft_barrier *b);

/* READY (res as above) once n waits of this generation have arrived.
 * Never fails. */
weft_poll weft_barrier_wait_poll(weft_barrier_wait *f, weft_cx *cx);

/* Cancels a wait (un-arrives if still waiting). */
void weft_barrier_wait_drop(weft_barrier_wait *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BARRIER_H */
