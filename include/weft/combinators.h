/* weft/combinators.h - join and select over child futures held inline in
 * a frame.
 *
 * A branch names a child future that the caller stores somewhere pinned
 * (usually a field of the same frame) together with its future type:
 * WEFT_BRANCH(name, &f->child) for a future declared with WEFT_FUTURE (or
 * one of weft's: WEFT_BRANCH(weft_sleep, &f->sleep)). A frame of another
 * type than name's is a compile error. A branch's result is in the child
 * itself (f->child.res), never in the parent.
 *
 * Threads: a select, join_all or timeout is polled by the one task that
 * holds it, and it polls and drops its branches on that task's thread,
 * never two at once.
 *
 * Cancellation: dropping a select or join_all drops every branch not yet
 * finished (and not WEFT_BRANCH_KEEP); a branch's own
 * drop function says what that loses (weft's futures lose nothing).
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
	bool keep;      /* never dropped by the combinator (WEFT_BRANCH_KEEP) */
} weft_branch;

static inline weft_branch weft_branch_make(const weft_future_type *type,
					   void *fut)
{
	weft_branch b;

	b.type = type;
	b.fut = fut;
	b.done = false;
	b.dropped = false;
	b.keep = false;
	return b;
}

static inline weft_branch weft_branch_kept(weft_branch b)
{
	b.keep = true;
	return b;
}

#define WEFT_BRANCH(name, fut)                                              \
	weft_branch_make(&name##_future, WEFT__FRAME(name, fut))

/* A branch the combinator polls but never drops, like tokio's
 * `select! { _ = &mut sleep => ... }`: a select that another branch wins
 * leaves it registered (a timer keeps its timer record), to be polled again
 * by the next select; its owner drops it (in the frame's drop function).
 * Use it for a future that outlives one select: a report timer made once,
 * a long receive. */
#define WEFT_BRANCH_KEEP(name, fut) weft_branch_kept(WEFT_BRANCH(name, fut))

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

/* ------------------------------------------------------------ try_join */

/* Like join_all, for branches whose results follow the result convention:
 * completes with res = 0 when every branch completed with res >= 0 (each
 * child's result is in the child, as join_all), or at the first branch
 * that completes with res < 0: then res is that error, `failed` its index,
 * and the drop function of every other branch not yet dropped has run
 * before READY is returned (the unfinished ones are cancelled; finished
 * ones are dropped too, which the future shape makes harmless). The
 * failing child is left to the caller, as select's winner. `failed` is -1
 * while no branch failed. A branch declared with WEFT_ASYNC_VOID reads as
 * res 0 (never fails). With branches NULL and n > 0, res = -EINVAL and
 * failed = -1. Dropping the try_join runs the drop function of every
 * branch not yet dropped. */
typedef struct weft_try_join {
	weft_branch *branches;
	size_t n;
	size_t remaining;
	intptr_t failed;
	intptr_t res;
} weft_try_join;
WEFT_FUTURE_EXTERN(weft_try_join);

void weft_try_join_init(weft_try_join *j, weft_branch *branches, size_t n);
weft_poll weft_try_join_poll(weft_try_join *j, weft_cx *cx);
void weft_try_join_drop(weft_try_join *j);

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

/* ---------------------------------------------- one-line select and join */

/* WEFT_AWAIT_SELECT(&f->sel, f->br, flags, WEFT_BRANCH(a, &f->a), ...)
 * copies the branches into f->br (an array in the frame, at least as long:
 * a shorter one, or a pointer, does not compile), then initialises and
 * awaits the select; f->sel.res is the winner's index after it.
 * WEFT_AWAIT_JOIN_ALL(&f->all, f->br, WEFT_BRANCH(...), ...) likewise. */
#define WEFT__BRANCHES_SET(br, n, ...)                                      \
	const weft_branch weft_b_[] = { __VA_ARGS__ };                      \
	const size_t n = sizeof(weft_b_) / sizeof(weft_b_[0]);             \
	WEFT__STATIC_ASSERT(sizeof(br) >= sizeof(weft_b_),                  \
			    "the branch array is shorter than the branches"); \
	for (size_t weft_i_ = 0; weft_i_ < n; weft_i_++)                    \
		(br)[weft_i_] = weft_b_[weft_i_]

#define WEFT_AWAIT_SELECT(sel, br, flags, ...)                              \
	WEFT__AWAIT_SELECT(sel, br, flags, WEFT__LABEL(__COUNTER__), __VA_ARGS__)
#define WEFT__AWAIT_SELECT(sel, br, flags, L, ...)                          \
	do {                                                                \
		{                                                           \
			WEFT__BRANCHES_SET(br, weft_n_, __VA_ARGS__);       \
			weft_select_init((sel), (br), weft_n_, (flags));    \
		}                                                           \
		WEFT__AWAIT(weft_select_poll((sel), weft_cx_), L);          \
	} while (0)

#define WEFT_AWAIT_JOIN_ALL(all, br, ...)                                   \
	WEFT__AWAIT_JOIN_ALL(all, br, WEFT__LABEL(__COUNTER__), __VA_ARGS__)
#define WEFT__AWAIT_JOIN_ALL(all, br, L, ...)                               \
	do {                                                                \
		{                                                           \
			WEFT__BRANCHES_SET(br, weft_n_, __VA_ARGS__);       \
			weft_join_all_init((all), (br), weft_n_);           \
		}                                                           \
		WEFT__AWAIT(weft_join_all_poll((all), weft_cx_), L);        \
	} while (0)

/* WEFT_AWAIT_TRY_JOIN(&f->tj, f->br, WEFT_BRANCH(...), ...): as
 * WEFT_AWAIT_JOIN_ALL; f->tj.res is 0 or the first error, f->tj.failed
 * the failing branch's index. */
#define WEFT_AWAIT_TRY_JOIN(tj, br, ...)                                    \
	WEFT__AWAIT_TRY_JOIN(tj, br, WEFT__LABEL(__COUNTER__), __VA_ARGS__)
#define WEFT__AWAIT_TRY_JOIN(tj, br, L, ...)                                \
	do {                                                                \
		{                                                           \
			WEFT__BRANCHES_SET(br, weft_n_, __VA_ARGS__);       \
			weft_try_join_init((tj), (br), weft_n_);            \
		}                                                           \
		WEFT__AWAIT(weft_try_join_poll((tj), weft_cx_), L);         \
	} while (0)

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_COMBINATORS_H */
