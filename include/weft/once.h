/* weft/once.h - a cell initialised once, asynchronously (tokio's
 * OnceCell with get_or_try_init).
 *
 * The first task to ask for the value of an empty cell runs its own init
 * future (a child it holds, named by WEFT_BRANCH); every caller arriving
 * while that init runs waits, and all of them get the value it produced.
 * An init that fails (its res < 0) leaves the cell empty and gives its
 * error to its own caller only: the waiting callers are woken and the
 * first of them to be polled runs its own init next. An init whose caller
 * is dropped mid-way (a select it lost, an abort) is dropped with it and
 * leaves the cell empty the same way. Once set, a value never changes;
 * weft_once_cell_destroy hands it to the cell's value destructor.
 *
 * Values are intptr_t, non-negative (a pointer, an fd, a count): an init
 * future's res >= 0 is the value, < 0 an error.
 *
 * Cancellation: dropping a waiting get_or_init loses nothing (it leaves
 * the wait list); dropping the one running the init drops its child
 * (unless the branch is WEFT_BRANCH_KEEP) and passes the turn to a
 * waiter. Debug builds abort when a get_or_init still registered is
 * initialised again: drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it, never by two
 * threads at once. The init future runs inside its caller's poll.
 */
#ifndef WEFT_ONCE_H
#define WEFT_ONCE_H

#include <stdbool.h>
#include <stdint.h>

#include "combinators.h"
#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* An embedded cell (_init / _destroy). Fields are private. */
typedef struct weft_once_cell {
	weft__lock lock;
	WEFT__ATOMIC(uint32_t) state;  /* empty, initialising, set */
	intptr_t value;                /* once set */
	void (*value_drop)(intptr_t value);
	weft__wlink waiters;           /* lock: waiting get_or_inits */
} weft_once_cell;

/* Initialises an empty cell. value_drop (NULL: none) receives the value
 * at weft_once_cell_destroy if one was set. Returns 0 or -EINVAL (c
 * NULL). */
int weft_once_cell_init(weft_once_cell *c, void (*value_drop)(intptr_t));

/* Runs the value destructor on the value, if set. No future may use the
 * cell any more (debug builds abort when one still waits). */
void weft_once_cell_destroy(weft_once_cell *c);

/* True, with *value (may be NULL) set, once the cell holds a value. */
bool weft_once_cell_get(weft_once_cell *c, intptr_t *value);

/* Sets the value of an empty cell without an init future (value >= 0),
 * waking every waiter with it. Returns 0, -EEXIST (already set), -EBUSY
 * (an init is running: it will set it), -EINVAL (c NULL, value < 0). */
int weft_once_cell_set(weft_once_cell *c, intptr_t value);

/* Gets the cell's value, running init first if the cell is empty and no
 * other init is running (else waits for it). READY with res = the value
 * (>= 0), or res < 0: init's own error (this caller's init failed: the
 * cell stays empty), -EINVAL (cell NULL, or init has no type). init's
 * child is the caller's (in its frame, like a timeout's child); it is
 * polled only when this caller's turn comes, maybe never (a value set by
 * someone else), and dropped when this future is dropped while it runs. */
typedef struct weft_once_cell_get_or_init {
	weft_once_cell *cell;
	weft_branch init;
	weft__wlink link;     /* in the cell's wait list (private) */
	weft_waker waker;     /* guarded by the cell's lock (private) */
	bool queued;          /* private, under the cell's lock */
	bool registered;      /* private, the owner's: it has queued */
	bool running;         /* private: this caller runs the init */
	bool done;
	intptr_t res;
} weft_once_cell_get_or_init;
WEFT_FUTURE_EXTERN(weft_once_cell_get_or_init);

void weft_once_cell_get_or_init_init(weft_once_cell_get_or_init *f,
				     weft_once_cell *cell, weft_branch init);
weft_poll weft_once_cell_get_or_init_poll(weft_once_cell_get_or_init *f,
					  weft_cx *cx);
/* Leaves the wait list, or, while running the init, drops it (the next
 * caller runs its own). */
void weft_once_cell_get_or_init_drop(weft_once_cell_get_or_init *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_ONCE_H */
