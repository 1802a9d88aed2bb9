/* weft/combinators.h - join and select over child futures held inline in
 * a frame.
 *
 * A branch names a child future the caller stores somewhere pinned (usually
 * a field of the same frame): its poll function, its drop function (may be
 * NULL) and its frame. A branch's WEFT_RETURN value lands in branch.out.
 */
#ifndef WEFT_COMBINATORS_H
#define WEFT_COMBINATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_branch {
	weft_poll_fn poll;
	weft_drop_fn drop;
	void *frame;
	intptr_t out;   /* the child's WEFT_RETURN value */
	bool done;      /* fused: a finished branch is never polled again */
	bool dropped;   /* its drop function has run */
} weft_branch;

#define WEFT_BRANCH(poll, drop, frame)                                       \
	((weft_branch){ (weft_poll_fn)(poll), (weft_drop_fn)(drop), (frame), \
			0, false, false })

/* ------------------------------------------------------------ join_all */

/* Completes when every branch has completed. Each poll polls the branches
 * not yet done. Branch drop functions are not run by the join (the
 * children completed; the caller owns their frames). */
typedef struct weft_join_all {
	weft_branch *branches;
	size_t n;
	size_t remaining;
} weft_join_all;

/* Returns 0 or -EINVAL (branches NULL with n > 0). */
int weft_join_all_init(weft_join_all *j, weft_branch *branches, size_t n);
weft_poll weft_join_all_poll(weft_join_all *j, weft_cx *cx);

/* Runs the drop function of every branch not yet dropped (call it when the
 * join itself is dropped before completing). */
void weft_join_all_drop(weft_join_all *j);

/* -------------------------------------------------------------- select */

#define WEFT_SELECT_BIASED 1u  /* poll in index order instead of a random start */

/* Completes when one branch completes: `winner` is its index. The losers'
 * drop functions run before READY is returned (they are cancelled). */
typedef struct weft_select {
	weft_branch *branches;
	size_t n;
	unsigned flags;
	uint32_t rng;   /* xorshift state for the fair start */
	int winner;     /* -1 until READY */
} weft_select;

/* Returns 0 or -EINVAL (branches NULL, or n == 0). */
int weft_select_init(weft_select *s, weft_branch *branches, size_t n,
		     unsigned flags);
weft_poll weft_select_poll(weft_select *s, weft_cx *cx);

/* Runs the drop function of every branch not yet dropped (call it when the
 * select itself is dropped before completing). */
void weft_select_drop(weft_select *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_COMBINATORS_H */
