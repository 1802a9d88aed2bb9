/* weft/core.h - futures, poll results, wakers, the poll context, the
 * result convention, typed future declarations and the async-body macros.
 * Everything else in weft is built on these.
 *
 * A future is a struct (its "frame") plus a poll function
 * `weft_poll name_poll(struct frame *self, weft_cx *cx)`. Locals that live
 * across an await are fields of the frame; child futures are stored inline
 * in the parent frame, so a task is one allocation however deep its await
 * tree. A spawned frame never moves (it is pinned): it may point into
 * itself.
 *
 * The poll contract: return WEFT_PENDING only after arranging for the waker
 * in cx to be woken when progress is possible; never poll a future again
 * after it returned WEFT_READY (debug builds assert it in WEFT_BEGIN).
 *
 * ---------------------------------------------------------------------
 * THE SHAPE OF EVERY FUTURE (weft's and yours)
 *
 *   weft_<module>_<op>_init(fut, args...)   prepare (cannot fail; errors
 *                                           are reported through res)
 *   weft_<module>_<op>_poll(fut, cx)        WEFT_PENDING or WEFT_READY
 *   weft_<module>_<op>_drop(fut)            cancel and release; harmless
 *                                           after READY and before the
 *                                           first poll
 *
 * THE RESULT CONVENTION: after READY, the future's `res` field (intptr_t)
 * holds the result, like an io_uring CQE: res >= 0 is the value (a byte
 * count, an index, a count, 0 for "done"), res < 0 is a negative errno.
 * Other outputs (an accepted stream, a received element) go to fields or
 * caller memory that the future's header names; they are valid only when
 * res >= 0. A frame of yours has the same `res` (WEFT_ASYNC declares it):
 * WEFT_RETURN(v) stores v there, and a task's output, a join's result, a
 * branch's result and block_on's result are read from it. A child's result
 * is in the child (`f->child.res`), never in the parent.
 *
 * Lifetimes: `_create`/`_destroy` for heap objects, `_init`/`_destroy` for
 * objects embedded in caller memory, `_drop` for counted handles (and for
 * futures, as above). "close" always means "no more sending": a closed
 * channel or stream refuses new sends while its handles stay valid.
 *
 * Futures are initialised on zeroed memory (a spawned frame is zeroed where
 * its initialiser names nothing; write `= {0}` on the stack) or after their
 * _drop or READY. Debug builds (NDEBUG not defined when weft was built)
 * abort with a message naming the future and the fix when _init finds the
 * future still registered (a queued waiter, a pending timer, I/O in
 * flight), and when a handle is dropped twice.
 *
 * Threads: a waker may be cloned, woken and dropped from any thread (the
 * vtable's promise); a weft_cx is valid only during the poll it is passed
 * to, on that thread. A future is polled by one thread at a time (its
 * task's), and a task may run on another worker at each poll.
 * ---------------------------------------------------------------------
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#include <type_traits>
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum weft_poll {
	WEFT_PENDING = 0,
	WEFT_READY = 1,
} weft_poll;

typedef struct weft_cx weft_cx;

/* Atomic fields of public structs. C++ code never touches them (they are
 * private to the library), so C++ sees a plain field of the same size and
 * alignment (the atomic types weft uses are lock-free: 4- and 8-byte
 * integers and pointers). */
#ifdef __cplusplus
#define WEFT__ATOMIC(T) alignas(sizeof(T)) T
#else
#define WEFT__ATOMIC(T) _Atomic(T)
#endif

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

#ifdef __cplusplus
#define WEFT_WAKER_NONE (weft_waker{ NULL, NULL })
#else
#define WEFT_WAKER_NONE ((weft_waker){ NULL, NULL })
#endif

static inline bool weft_waker_is_set(const weft_waker *w)
{
	return w->vt != NULL;
}

static inline weft_waker weft_waker_clone(const weft_waker *w)
{
	if (w->vt)
		return w->vt->clone(w->data);
	return WEFT_WAKER_NONE;
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
 * `budget` is the cooperative budget: see weft_coop_proceed. The remaining
 * fields belong to the runtime. */
struct weft_cx {
	weft_waker waker;
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
 * The waker stays owned by the caller. */
static inline void weft_cx_init(weft_cx *cx, const weft_waker *w)
{
	cx->waker = *w;
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

/* ------------------------------------------------------ future types */

/* What spawn, the combinators, timeout and block_on know of a future:
 * typed trampolines to its poll and drop functions (generated by
 * WEFT_FUTURE, so no function is ever called through an incompatible
 * pointer type), its size and alignment, where its intptr_t `res` is
 * (WEFT_NO_RES for a frame declared with WEFT_ASYNC_VOID), and its name
 * (for diagnostics). Never write one by hand: WEFT_FUTURE makes it. */
typedef struct weft_future_type {
	weft_poll (*poll)(void *fut, weft_cx *cx);
	void (*drop)(void *fut);       /* NULL: nothing to release */
	size_t size;
	size_t align;
	size_t res_off;
	const char *name;
} weft_future_type;

#define WEFT_NO_RES ((size_t)-1)

/* The drop argument of WEFT_FUTURE for a frame that owns nothing. */
static inline void weft_no_drop(const void *fut)
{
	(void)fut;
}
#define WEFT_NO_DROP weft_no_drop

/* Reads a future's result through its type (0 for a WEFT_ASYNC_VOID one). */
static inline intptr_t weft_future_res(const weft_future_type *type,
				       const void *fut)
{
	if (type->res_off == WEFT_NO_RES)
		return 0;
	return *(const intptr_t *)(const void *)((const char *)fut +
						 type->res_off);
}

/* WEFT_FUTURE(name, type, drop) at file scope declares the future `name`:
 * its frame type `type` (a struct, usually beginning with WEFT_ASYNC), its
 * poll function, which must be `weft_poll name_poll(type *, weft_cx *)`
 * and declared before, and its drop function (`void drop(type *)`, run
 * exactly once when a spawned task completes or is cancelled, or when a
 * combinator cancels the branch), or WEFT_NO_DROP. It defines
 *   name_frame    a typedef of type
 *   name_future   the weft_future_type, used by WEFT_SPAWN, WEFT_BRANCH,
 *                 WEFT_BLOCK_ON and weft_timeout_init
 * A poll or drop function of another type is a compile error, and so is
 * handing a frame of another type to those macros.
 *
 * WEFT_FUTURE_EXTERN(name) in a header and WEFT_FUTURE_DEFINE(name, drop)
 * in one source file do the same for a future whose frame type is itself
 * called `name` (weft's own futures: weft_sleep_future, ...). */
#ifdef __cplusplus
#define WEFT__STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define WEFT__ALIGNOF(type) alignof(type)
#define WEFT__RES_OFF(type)                                                 \
	(std::is_same<decltype(((type *)0)->weft_resume_), void *>::value     \
		 ? offsetof(type, weft_resume_) + sizeof(void *)             \
		 : WEFT_NO_RES)
#define WEFT__DROP_PTR(name, drop) name##__drop_
#define WEFT__CHECK_FNS(name, type, drop)
#define WEFT__FRAME(name, fut) name##__typed(fut)
#else
#define WEFT__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define WEFT__ALIGNOF(type) _Alignof(type)
#define WEFT__RES_OFF(type)                                                 \
	_Generic(((type *)0)->weft_resume_,                                 \
		 void *: offsetof(type, weft_resume_) + sizeof(void *),     \
		 default: WEFT_NO_RES)
#define WEFT__DROP_PTR(name, drop)                                          \
	_Generic(&(drop), void (*)(const void *): (void (*)(void *))0,      \
		 default: name##__drop_)
#define WEFT__CHECK_FNS(name, type, drop)                                   \
	_Static_assert(_Generic(&name##_poll,                               \
		weft_poll (*)(type *, weft_cx *): 1, default: 0),           \
		#name "_poll must be weft_poll " #name "_poll(" #type       \
		" *, weft_cx *)");                                          \
	_Static_assert(_Generic(&(drop), void (*)(type *): 1,               \
		void (*)(const void *): 1, default: 0),                     \
		"the drop function of " #name " must take " #type " *");
/* A frame of any other type than name's has no _Generic association:
 * a compile error. */
#define WEFT__FRAME(name, fut) _Generic((fut), name##_frame *: (fut))
#endif

#define WEFT__FUTURE_FNS(linkage, name, type, drop)                         \
	typedef type name##_frame;                                          \
	WEFT__CHECK_FNS(name, type, drop)                                   \
	linkage weft_poll name##__poll_(void *weft_p_, weft_cx *weft_c_)    \
	{                                                                   \
		return name##_poll((type *)weft_p_, weft_c_);               \
	}                                                                   \
	__attribute__((unused)) linkage void name##__drop_(void *weft_p_)   \
	{                                                                   \
		drop((type *)weft_p_);                                      \
	}                                                                   \
	__attribute__((unused)) static inline type *name##__typed(type *p)  \
	{                                                                   \
		return p;                                                   \
	}

#define WEFT_FUTURE(name, type, drop)                                       \
	WEFT__FUTURE_FNS(static, name, type, drop)                          \
	__attribute__((unused)) static const weft_future_type name##_future = { \
		name##__poll_, WEFT__DROP_PTR(name, drop), sizeof(type),    \
		WEFT__ALIGNOF(type), WEFT__RES_OFF(type), #name }

#ifdef __cplusplus
#define WEFT_FUTURE_EXTERN(name)                                            \
	typedef name name##_frame;                                          \
	extern const weft_future_type name##_future;                        \
	__attribute__((unused)) static inline name *name##__typed(name *p)  \
	{                                                                   \
		return p;                                                   \
	}
#else
#define WEFT_FUTURE_EXTERN(name)                                            \
	typedef name name##_frame;                                          \
	extern const weft_future_type name##_future
#endif

/* In the library's (or your) source file, after the header's
 * WEFT_FUTURE_EXTERN(name); the frame type is `name`, the result field is
 * name.res. */
#ifdef __cplusplus
#define WEFT__CHECK_DEFINE(name)                                            \
	static_assert(std::is_same<decltype(&name##_poll),                  \
		weft_poll (*)(name *, weft_cx *)>::value,                   \
		#name "_poll must take " #name " *");
#else
#define WEFT__CHECK_DEFINE(name)                                            \
	_Static_assert(_Generic(&name##_poll,                               \
		weft_poll (*)(name *, weft_cx *): 1, default: 0),           \
		#name "_poll must take " #name " *");
#endif
#define WEFT_FUTURE_DEFINE(name, drop)                                      \
	WEFT__CHECK_DEFINE(name)                                            \
	static weft_poll name##__poll_(void *weft_p_, weft_cx *weft_c_)     \
	{                                                                   \
		return name##_poll((name *)weft_p_, weft_c_);               \
	}                                                                   \
	static void name##__drop_(void *weft_p_)                            \
	{                                                                   \
		drop((name *)weft_p_);                                      \
	}                                                                   \
	const weft_future_type name##_future = {                            \
		name##__poll_, name##__drop_, sizeof(name), WEFT__ALIGNOF(name), \
		offsetof(name, res), #name }

/* --------------------------------------------------------- async bodies */

/* The first member of a frame: where to resume (NULL = start), and the
 * frame's result (`res`, see the result convention above). A frame whose
 * body never returns a value may begin with WEFT_ASYNC_VOID instead and
 * save the 8 bytes (WEFT_RETURN does not compile in it; WEFT_END ends it;
 * its result reads as 0). */
#define WEFT_ASYNC                                                          \
	void *weft_resume_;                                                 \
	intptr_t res
#define WEFT_ASYNC_VOID const void *weft_resume_

/* Resume points use labels-as-values (gcc and clang), so a switch inside an
 * async body keeps working. The GNU extension is confined to these macros:
 * code using them compiles with -Wpedantic -Werror. Labels come from
 * __COUNTER__, so several awaits may share a line. */
#define WEFT__CAT2(a, b) a##b
#define WEFT__CAT(a, b) WEFT__CAT2(a, b)
#define WEFT__LABEL(n) WEFT__CAT(weft_resume_l_, n)

/* gcc 12's -Wdangling-pointer takes a label address for the address of a
 * local; it is not one. -Wpedantic: labels-as-values are a GNU extension,
 * which every supported compiler has. */
#define WEFT__GNU_BEGIN                                                     \
	_Pragma("GCC diagnostic push")                                      \
	_Pragma("GCC diagnostic ignored \"-Wpragmas\"")                     \
	_Pragma("GCC diagnostic ignored \"-Wunknown-warning-option\"")      \
	_Pragma("GCC diagnostic ignored \"-Wdangling-pointer\"")            \
	_Pragma("GCC diagnostic ignored \"-Wpedantic\"")                    \
	_Pragma("GCC diagnostic ignored \"-Wgnu-label-as-value\"")
#define WEFT__GNU_END _Pragma("GCC diagnostic pop")

#define WEFT__SET_RESUME(label)                                             \
	WEFT__GNU_BEGIN                                                     \
	weft_self_->weft_resume_ = &&label;                                 \
	WEFT__GNU_END

/* Called by WEFT_BEGIN (debug builds of your code) when a finished future
 * is polled again. Prints where and aborts. */
void weft_debug_poll_after_ready(const char *file, int line);

/* What debug builds of weft call on a misuse that would otherwise fail
 * silently: prints "weft: <where>: <what>" (what names the fix) and aborts.
 * WEFT_DEBUG_CHECK(cond, where, what) calls it when cond is false, and
 * compiles to nothing under NDEBUG; your own futures may use it too. */
void weft_debug_misuse(const char *where, const char *what);

#ifdef NDEBUG
#define WEFT_DEBUG_CHECK(cond, where, what) ((void)0)
#else
#define WEFT_DEBUG_CHECK(cond, where, what)                                 \
	((cond) ? (void)0 : weft_debug_misuse((where), (what)))
#endif

#ifdef NDEBUG
#define WEFT__CHECK_NOT_DONE() ((void)0)
#else
#define WEFT__CHECK_NOT_DONE()                                              \
	do {                                                                \
		WEFT__GNU_BEGIN                                             \
		if (weft_self_->weft_resume_ == &&weft_done_)               \
			weft_debug_poll_after_ready(__FILE__, __LINE__);    \
		WEFT__GNU_END                                               \
	} while (0)
#endif

#ifdef __cplusplus
#define WEFT__SELF_DECL(f) auto const weft_self_ = (f)
#else
#define WEFT__SELF_DECL(f) __typeof__(f) const weft_self_ = (f)
#endif

/* Opens an async body: f is the frame pointer, cx the context. The other
 * macros use both implicitly. Place it first in the poll function (after
 * plain local declarations, which do not survive an await). */
#define WEFT_BEGIN(f, cx)                                                   \
	WEFT__SELF_DECL(f);                                                 \
	weft_cx *const weft_cx_ = (cx);                                     \
	(void)weft_cx_;                                                     \
	if (weft_self_->weft_resume_) {                                     \
		WEFT__CHECK_NOT_DONE();                                     \
		WEFT__GNU_BEGIN                                             \
		goto *weft_self_->weft_resume_;                             \
		WEFT__GNU_END                                               \
	}                                                                   \
	do {                                                                \
	} while (0)

/* Evaluates expr (a poll of a child future); while it is PENDING, returns
 * PENDING and resumes here, re-evaluating expr, on the next poll. */
#define WEFT_AWAIT(expr) WEFT__AWAIT(expr, WEFT__LABEL(__COUNTER__))
#define WEFT__AWAIT(expr, L)                                                \
	do {                                                                \
	L:                                                                  \
		if ((expr) == WEFT_PENDING) {                               \
			WEFT__SET_RESUME(L)                                 \
			return WEFT_PENDING;                                \
		}                                                           \
	} while (0)

/* Awaits the future `name` at fut (already initialised): name_poll. */
#define WEFT_AWAIT_ON(name, fut) WEFT_AWAIT(name##_poll((fut), weft_cx_))

/* Initialises and awaits in one line: name_init(fut, args...) once, then
 * name_poll(fut, cx) until READY. Read the result from (fut)->res.
 *   WEFT_AWAIT_INIT(weft_sleep, &f->sleep, 100 * WEFT_MS); */
#define WEFT_AWAIT_INIT(name, fut, ...)                                     \
	WEFT__AWAIT_INIT(name, fut, WEFT__LABEL(__COUNTER__), __VA_ARGS__)
#define WEFT__AWAIT_INIT(name, fut, L, ...)                                 \
	do {                                                                \
		name##_init((fut), __VA_ARGS__);                            \
		WEFT__AWAIT(name##_poll((fut), weft_cx_), L);               \
	} while (0)

/* Initialises a child frame of your future `name` (declared with
 * WEFT_FUTURE) from a braced initialiser and awaits it:
 *   WEFT_AWAIT_FRAME(fetch, &f->fetch, { .fd = f->fd });  ... f->fetch.res */
#ifdef __cplusplus
#define WEFT__FRAME_INIT(name, fut, ...) (*(fut) = name##_frame __VA_ARGS__)
#else
#define WEFT__FRAME_INIT(name, fut, ...) (*(fut) = (name##_frame)__VA_ARGS__)
#endif
#define WEFT_AWAIT_FRAME(name, fut, ...)                                    \
	WEFT__AWAIT_FRAME(name, fut, WEFT__LABEL(__COUNTER__), __VA_ARGS__)
#define WEFT__AWAIT_FRAME(name, fut, L, ...)                                \
	do {                                                                \
		WEFT__FRAME_INIT(name, WEFT__FRAME(name, fut), __VA_ARGS__); \
		WEFT__AWAIT(name##_poll((fut), weft_cx_), L);               \
	} while (0)

/* Goes behind the other runnable tasks once, then continues. */
#define WEFT_YIELD() WEFT__YIELD(WEFT__LABEL(__COUNTER__))
#define WEFT__YIELD(L)                                                      \
	do {                                                                \
		WEFT__SET_RESUME(L)                                         \
		weft_cx_yield(weft_cx_);                                    \
		return WEFT_PENDING;                                        \
	L:;                                                                 \
	} while (0)

/* Completes the body with a value: stores it in the frame's res. */
#define WEFT_RETURN(value)                                                  \
	do {                                                                \
		weft_self_->res = (intptr_t)(value);                        \
		WEFT__SET_RESUME(weft_done_)                                \
		return WEFT_READY;                                          \
	} while (0)

/* Closes an async body: completes, res unchanged (0 unless set). Required
 * once per body, at its end. */
#define WEFT_END()                                                          \
	weft_done_:                                                         \
	WEFT__SET_RESUME(weft_done_)                                        \
	return WEFT_READY

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_CORE_H */
