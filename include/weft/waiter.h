/* weft/waiter.h - the pieces the sync primitives embed in public structs:
 * an intrusive wait-list link, a waiter node and a small futex lock.
 *
 * These types are public only so that primitives and their futures can be
 * embedded in frames (no allocation per wait). Their fields are private to
 * sync/: touch them only through the primitive's functions.
 *
 * Threads: the types here have no functions of their own; see the
 * primitive that embeds them.
 */
#ifndef WEFT_WAITER_H
#define WEFT_WAITER_H

#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* A link in a circular doubly linked wait list. A primitive's list head is
 * a sentinel link; a queued waiter is unlinked in O(1) by its owner. */
typedef struct weft__wlink {
	struct weft__wlink *prev;
	struct weft__wlink *next;
} weft__wlink;

/* A waiter node, 40 bytes: lives inside the waiting future. `link` and
 * `waker` are guarded by the primitive's lock while the node is queued;
 * `state` is written under that lock and read without it (acquire);
 * `arg` is per-primitive (notify: epoch, semaphore: permits still owed).
 * A zeroed node is an initialised, never-queued one (state 0, IDLE): the
 * debug-build check in every waiting future's _init relies on it. */
typedef struct weft__waiter {
	weft__wlink link;
	weft_waker waker;
	WEFT__ATOMIC(uint32_t) state;
	uint32_t arg;
} weft__waiter;

/* A 4-byte mutex: 0 free, 1 held, 2 held with sleepers (futex). Critical
 * sections in sync/ are a few pointer updates and one element copy. */
typedef struct weft__lock {
	WEFT__ATOMIC(uint32_t) word;
} weft__lock;

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_WAITER_H */
