/* weft/barrier.h - a reusable barrier for n tasks (tokio's Barrier).
 *
 * The n-th arrival releases the n-1 waiting ones; exactly one of the n (the
 * last to arrive) is told it is the leader. Then the barrier is ready for
 * the next generation.
 *
 * Cancellation: a wait dropped while waiting un-arrives (the count goes
 * back down), so the barrier still needs n live arrivals; a wait dropped
 * after its generation was released changes nothing.
 */
#ifndef WEFT_BARRIER_H
#define WEFT_BARRIER_H

#include <stdbool.h>
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

/* Returns 0 or -EINVAL (b NULL or n == 0). */
int weft_barrier_init(weft_barrier *b, uint32_t n);

typedef struct weft_barrier_wait {
	weft__waiter w;
	weft_barrier *b;
	bool leader; /* at READY: true for exactly one of the n */
} weft_barrier_wait;

void weft_barrier_wait_init(weft_barrier_wait *f, weft_barrier *b);

/* READY once n waits of this generation have arrived. Never errs. */
weft_poll weft_barrier_wait_poll(weft_barrier_wait *f, weft_cx *cx);

/* Cancels a wait (un-arrives if still waiting). */
void weft_barrier_wait_drop(weft_barrier_wait *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BARRIER_H */
