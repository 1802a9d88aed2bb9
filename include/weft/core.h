/* weft/core.h - futures, poll results, wakers, the poll context and the
 * async-body macros. Everything else in weft is built on these.
 *
 * A future is a struct (its "frame") whose first member is WEFT_ASYNC, plus
 * a poll function `weft_poll f(struct frame *self, weft_cx *cx)`. Locals that
 * live across an await are fields of the frame; child futures are stored
 * inline in the parent frame, so a task is one allocation however deep its
 * await tree. A spawned frame never moves (it is pinned): it may point into
 * itself.
 *
 * The poll contract: return WEFT_PENDING only after arranging for the waker
 * in cx to be woken when progress is possible; never poll a future again
 * after it returned WEFT_READY (debug builds assert it in WEFT_BEGIN).
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum weft_poll {
	WEFT_PENDING = 0,
	WEFT_READY = 1,
} weft_poll;

typedef struct weft_cx weft_cx;

/* ---------------------------------------------------------------- wakers */

/* Like Rust's RawWakerVTable. All four may be called from any thread.
 * clone returns a new owned waker; wake consumes the waker; wake_by_ref
 * does not; drop releases without waking. */
typedef struct weft_waker weft_waker;
typedef struct weft_waker_vtable {
	weft_waker (*clone)(const void *data);
	void (*wake)(void *data);
	void (*wake_by_ref)(const void *data);
	void (*drop)(void *data);
} weft_waker_vtable;

/* An owned waker. {NULL, NULL} is the empty waker: every operation on it is
 * a no-op, so a zero-initialised slot is valid. */
struct weft_waker {
	const weft_waker_vtable *vt;
	void *data;
};

#define WEFT_WAKER_NONE ((weft_waker){ NULL, NULL })

static inline bool weft_waker_is_set(const weft_waker *w)
{
	return w->vt != NULL;
}

static inline weft_waker weft_waker_clone(const weft_waker *w)
{
	return w->vt ? w->vt->clone(w->data) : WEFT_WAKER_NONE;
}

/* Wakes and consumes *w; *w is left empty. */
static inline void weft_waker_wake(weft_waker *w)
{
	const weft_waker_vtable *vt = w->vt;

	w->vt = NULL;
	if (vt)
		vt->wake(w->data);
}

static inline void weft_waker_wake_by_ref(const weft_waker *w)
{
	if (w->vt)
		w->vt->wake_by_ref(w->data);
}

/* Releases *w without waking; *w is left empty. */
static inline void weft_waker_drop(weft_waker *w)
{
	const weft_waker_vtable *vt = w->vt;

	w->vt = NULL;
	if (vt)
		vt->drop(w->data);
}

/* True when waking a would wake the same task as waking b. */
static inline bool weft_waker_will_wake(const weft_waker *a, const weft_waker *b)
{
	return a->vt == b->vt && a->data == b->data;
}

/* --------------------------------------------------------- poll context */

/* Passed to every poll function. `waker` is the current task's waker,
 * borrowed: clone it (weft_waker_register) to keep it past the poll.
 * `out` is where WEFT_RETURN stores a value (the task's output slot, or a
 * combinator's per-branch slot). `budget` is the cooperative budget: see
 * weft_coop_proceed. The remaining fields belong to the runtime. */
struct weft_cx {
	weft_waker waker;
	intptr_t *out;
	uint32_t budget;
	uint32_t flags;    /* WEFT__CX_* below, runtime-owned */
	void *worker;      /* runtime-owned: the worker polling, or NULL */
	void *rt;          /* runtime-owned: the runtime, or NULL */
};

#define WEFT__CX_YIELD 1u  /* the task asked to go behind the others */

/* Budget a task gets per poll: this many ready resource operations
 * (channel receives, I/O completions) before weft_coop_proceed forces a
 * yield. tokio uses 128 too. */
#define WEFT_COOP_BUDGET 128u

/* Builds a context around a caller-owned waker (tests, foreign executors).
 * The waker stays owned by the caller; out may be NULL. */
static inline void weft_cx_init(weft_cx *cx, const weft_waker *w, intptr_t *out)
{
	cx->waker = *w;
	cx->out = out;
	cx->budget = WEFT_COOP_BUDGET;
	cx->flags = 0;
	cx->worker = NULL;
	cx->rt = NULL;
}

/* Stores the task's waker in *slot so the owner of slot can wake it later.
 * A slot that already wakes this task is left as it is (no atomic op); any
 * other waker in the slot is dropped first. */
static inline void weft_waker_register(weft_waker *slot, const weft_cx *cx)
{
	if (weft_waker_will_wake(slot, &cx->waker))
		return;
	weft_waker_drop(slot);
	*slot = weft_waker_clone(&cx->waker);
}

/* Asks for the current task to be polled again after the others that are
 * runnable now (a yield). Used by WEFT_YIELD and by weft_coop_proceed. */
static inline void weft_cx_yield(weft_cx *cx)
{
	cx->flags |= WEFT__CX_YIELD;
	weft_waker_wake_by_ref(&cx->waker);
}

/* Cooperative budget. A leaf future that is about to complete without
 * waiting (a channel with a value ready, an I/O result already there) calls
 * this first: it returns true and consumes one unit, or, when the task has
 * used its budget, arranges a yield and returns false, and the leaf must
 * return WEFT_PENDING. A task that is always ready therefore cannot keep a
 * worker from the other tasks. */
static inline bool weft_coop_proceed(weft_cx *cx)
{
	if (cx->budget == 0) {
		weft_cx_yield(cx);
		return false;
	}
	cx->budget--;
	return true;
}

/* --------------------------------------------------------- async bodies */

/* Resume points use labels-as-values (gcc and clang), so a switch inside an
 * async body keeps working. One await per source line is not required:
 * labels come from __COUNTER__. */
#define WEFT__CAT2(a, b) a##b
#define WEFT__CAT(a, b) WEFT__CAT2(a, b)
#define WEFT__LABEL(n) WEFT__CAT(weft_resume_l_, n)

/* Stores a resume label. gcc 12's -Wdangling-pointer takes a label
 * address for the address of a local; it is not one, so silence it here. */
#define WEFT__SET_RESUME(f, label)                                        \
	_Pragma("GCC diagnostic push")                                   \
	_Pragma("GCC diagnostic ignored \"-Wpragmas\"")                  \
	_Pragma("GCC diagnostic ignored \"-Wunknown-warning-option\"")   \
	_Pragma("GCC diagnostic ignored \"-Wdangling-pointer\"")         \
	(f)->weft_resume_ = &&label;                                     \
	_Pragma("GCC diagnostic pop")

/* The first member of every frame: where to resume (NULL = start). */
#define WEFT_ASYNC void *weft_resume_

void weft__poll_after_ready(const char *file, int line);
#ifdef NDEBUG
#define WEFT__CHECK_NOT_DONE(f) ((void)0)
#else
#define WEFT__CHECK_NOT_DONE(f)                                          \
	do {                                                             \
		if ((f)->weft_resume_ == &&weft_done_)                   \
			weft__poll_after_ready(__FILE__, __LINE__);      \
	} while (0)
#endif

/* Opens an async body; f is the frame pointer. */
#define WEFT_BEGIN(f)                                                    \
	do {                                                             \
		if ((f)->weft_resume_) {                                 \
			WEFT__CHECK_NOT_DONE(f);                         \
			goto *(f)->weft_resume_;                         \
		}                                                        \
	} while (0)

/* Evaluates expr (a poll of a child future); while it is PENDING, returns
 * PENDING and resumes here, re-evaluating expr, on the next poll. */
#define WEFT_AWAIT(f, expr) WEFT__AWAIT(f, expr, WEFT__LABEL(__COUNTER__))
#define WEFT__AWAIT(f, expr, L)                                          \
	do {                                                             \
	L:                                                               \
		if ((expr) == WEFT_PENDING) {                            \
			WEFT__SET_RESUME(f, L)                         \
			return WEFT_PENDING;                             \
		}                                                        \
	} while (0)

/* As WEFT_AWAIT, but a WEFT_RETURN inside the child stores into *dst
 * (an intptr_t) instead of the caller's output slot. */
#define WEFT_AWAIT_INTO(f, cx, dst, expr)                                \
	WEFT__AWAIT_INTO(f, cx, dst, expr, WEFT__LABEL(__COUNTER__))
#define WEFT__AWAIT_INTO(f, cx, dst, expr, L)                            \
	do {                                                             \
	L:;                                                              \
		intptr_t *weft_saved_out_ = (cx)->out;                   \
		(cx)->out = (dst);                                       \
		weft_poll weft_p_ = (expr);                              \
		(cx)->out = weft_saved_out_;                             \
		if (weft_p_ == WEFT_PENDING) {                           \
			WEFT__SET_RESUME(f, L)                         \
			return WEFT_PENDING;                             \
		}                                                        \
	} while (0)

/* Goes behind the other runnable tasks once, then continues. */
#define WEFT_YIELD(f, cx) WEFT__YIELD(f, cx, WEFT__LABEL(__COUNTER__))
#define WEFT__YIELD(f, cx, L)                                            \
	do {                                                             \
		WEFT__SET_RESUME(f, L)                                 \
		weft_cx_yield(cx);                                       \
		return WEFT_PENDING;                                     \
	L:;                                                              \
	} while (0)

/* Completes the body with a value stored in the current output slot
 * (the task's output for a task's top-level future). */
#define WEFT_RETURN(f, cx, value)                                        \
	do {                                                             \
		if ((cx)->out)                                           \
			*(cx)->out = (intptr_t)(value);                  \
		WEFT__SET_RESUME(f, weft_done_)                        \
		return WEFT_READY;                                       \
	} while (0)

/* Closes an async body: completes with no value. Required once per body. */
#define WEFT_END(f)                                                      \
	weft_done_:                                                      \
	WEFT__SET_RESUME(f, weft_done_)                                \
	return WEFT_READY

/* Generic poll and drop signatures. Frame-typed functions are cast to
 * these by WEFT_SPAWN and the combinators (the frame is passed as void *). */
typedef weft_poll (*weft_poll_fn)(void *frame, weft_cx *cx);
typedef void (*weft_drop_fn)(void *frame);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_CORE_H */
