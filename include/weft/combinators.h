/* weft/combinators.h - join and select over child futures held inline in
 * a frame.
 *
 * A branch names a child future that the caller stores somewhere pinned
 * (usually a field of the same frame) together with its future type:
 * WEFT_BRANCH(name, &f->child) for a future declared with WEFT_FUTURE (or
 * one of weft's: WEFT_BRANCH(weft_sleep, &f->sleep)). A frame of another
 * type than name's is a compile error. A branch's result is in the child
 * itself (f->child.res), never in the parent.
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
	const weft_future_type *type;
	void *fut;
	bool done;      /* fused: a finished branch is never polled again */
	bool dropped;   /* its drop function has run */
} weft_branch;

static inline weft_branch weft_branch_make(const weft_future_type *type,
					   void *fut)
{
	weft_branch b;

	b.type = type;
	b.fut = fut;
	b.done = false;
	b.dropped = false;
	return b;
}

#define WEFT_BRANCH(name, fut)                                              \
	weft_branch_make(&name##_future, WEFT__FRAME(name, fut))

/* ------------------------------------------------------------ join_all */

/* Completes when every branch has completed (res = 0; each child's result
 * is in the child). Each poll polls the branches not yet done. Dropping the
 * join (weft_join_all_drop) runs the drop function of every branch not yet
 * dropped; a completed join leaves the children to the caller. */
typedef struct weft_join_all {
	weft_branch *branches;
	size_t n;
	size_t remaining;
	intptr_t res;
} weft_join_all;
WEFT_FUTURE_EXTERN(weft_join_all);

/* branches: n entries, kept by the caller until the join is dropped. With
 * branches NULL and n > 0 the join completes at once with res = -EINVAL. */
void weft_join_all_init(weft_join_all *j, weft_branch *branches, size_t n);
weft_poll weft_join_all_poll(weft_join_all *j, weft_cx *cx);
void weft_join_all_drop(weft_join_all *j);

/* -------------------------------------------------------------- select */

#define WEFT_SELECT_BIASED 1u  /* poll in index order instead of a random start */

/* Completes when one branch completes: res is its index (the winner's own
 * result is in the winner). The losers' drop functions run before READY is
 * returned (they are cancelled). res = -EINVAL when branches is NULL or n
 * is 0. */
typedef struct weft_select {
	weft_branch *branches;
	size_t n;
	unsigned flags;
	uint32_t rng;   /* xorshift state for the fair start */
	intptr_t res;
} weft_select;
WEFT_FUTURE_EXTERN(weft_select);

void weft_select_init(weft_select *s, weft_branch *branches, size_t n,
		      unsigned flags);
weft_poll weft_select_poll(weft_select *s, weft_cx *cx);
/* Runs the drop function of every branch not yet dropped. */
void weft_select_drop(weft_select *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_COMBINATORS_H */
