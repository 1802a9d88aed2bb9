/* weft/rt.h - the runtime: builder, spawn, join handles, block_on, the
 * blocking pool, shutdown.
 *
 * Errors are negative errno values. Every function taking a pointer returns
 * -EINVAL for NULL where it returns int.
 */
#ifndef WEFT_RT_H
#define WEFT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_rt weft_rt;

/* A join handle: a counted reference to a spawned task. Release it with
 * weft_join_drop (which detaches: the task keeps running). */
typedef struct weft_join weft_join;

/* What a spawned frame is: its poll function, its drop function (may be
 * NULL; run exactly once, when the task completes or is cancelled, to
 * release what the frame owns), its size and its alignment. WEFT_SPAWN
 * makes one per call site, statically, with sizeof and _Alignof of the
 * frame type.
 *
 * align places the frame in the task's allocation: a frame aligned to at
 * most 8 starts right after the runtime's 56-byte task header (8-aligned);
 * any other starts 64 bytes in (16-aligned). align 0 (an initializer
 * written before this field existed) is taken as 16. Alignment above 16
 * is not provided: such a frame is 16-aligned. */
typedef struct weft_task_type {
	weft_poll_fn poll;
	weft_drop_fn drop;
	size_t size;
	size_t align;
} weft_task_type;

/* Allocator hook (tests inject failures with it). alloc returns NULL on
 * failure, else memory aligned as malloc's; free gets the size that was
 * asked for. It serves the task allocations and the small boxes that hold
 * a join handle's waker when that waker is not a task's (weft_join_poll
 * from block_on or a foreign executor). */
typedef struct weft_allocator {
	void *(*alloc)(size_t size, void *ctx);
	void (*free)(void *p, size_t size, void *ctx);
	void *ctx;
} weft_allocator;

typedef struct weft_rt_builder {
	unsigned workers;        /* worker threads; 0 = one per online CPU */
	bool current_thread;     /* no worker threads: block_on runs tasks */
	bool no_pin;             /* do not pin worker i to CPU i mod ncpu */
	bool enable_io;          /* start the io_uring reactor (default true) */
	unsigned io_entries;     /* ring size; 0 = default (4096) */
	bool io_normal_sched;    /* leave the reactor thread SCHED_OTHER
	                          * (default: SCHED_BATCH, see
	                          * docs/architecture.md, "Reactor thread
	                          * scheduling") */
	const char *thread_name; /* prefix, default "weft-w"; "-<index>" added */
	size_t stack_size;       /* worker stack size; 0 = system default */
	void (*on_thread_start)(void *arg); /* called on each worker thread */
	void (*on_thread_stop)(void *arg);
	void *hook_arg;
	const weft_allocator *allocator; /* task allocations; NULL = default */
} weft_rt_builder;

/* Fills b with the defaults (all workers, pinned, io enabled). */
void weft_rt_builder_init(weft_rt_builder *b);

/* Creates and starts a runtime. b may be NULL for the defaults.
 * Returns 0, or -EINVAL (bad builder field), -ENOMEM, -EAGAIN (thread
 * creation), or the reactor's error when enable_io is set and the ring
 * cannot be created (weft_rt_create_error() then names the reason). */
int weft_rt_create(weft_rt **out, const weft_rt_builder *b);

/* A text naming why the last weft_rt_create on this thread failed, or "". */
const char *weft_rt_create_error(void);

/* Cancels every task (each drop function runs once; join handles report
 * -ECANCELED), stops and joins every thread, closes the reactor. Idempotent.
 * After it, spawn returns -ESHUTDOWN. Called from a task (a worker of rt,
 * which it would have to join) it does nothing: shut down from outside. */
void weft_rt_shutdown(weft_rt *rt);

/* Shuts down (if not yet) and frees the runtime. Memory still referenced
 * by live join handles or wakers is freed when the last one is dropped. */
void weft_rt_destroy(weft_rt *rt);

/* The runtime whose worker (or block_on) is running on this thread, or NULL. */
weft_rt *weft_rt_current(void);

/* Number of worker threads (0 for the current-thread flavour). */
unsigned weft_rt_workers(const weft_rt *rt);

/* ---------------------------------------------------------------- spawn */

/* Allocates a task with a frame of type->size bytes (placed as type->align
 * says), copies init into the frame (NULL = zero it), and schedules it.
 * *type is referenced, not copied: it must stay valid until the task is
 * freed (make it static, as WEFT_SPAWN does). With join != NULL *join
 * receives a handle; with join == NULL the task is detached.
 * Returns 0, -EINVAL (rt, type or type->poll NULL), -ESHUTDOWN (runtime
 * shut down), -ENOMEM (nothing leaked; the init bytes are not consumed, so
 * the caller still owns whatever they point to). */
int weft_spawn(weft_rt *rt, const weft_task_type *type, const void *init,
	       weft_join **join);

/* WEFT_SPAWN(rt, &join_or_NULL, poll_fn, drop_fn_or_NULL, struct frame,
 *            { .field = value, ... })  -> int as weft_spawn. */
#define WEFT_SPAWN(rt, join, poll, drop, type, ...)                         \
	__extension__({                                                     \
		static const weft_task_type weft_tt_ = {                    \
			(weft_poll_fn)(poll), (weft_drop_fn)(drop),         \
			sizeof(type), _Alignof(type) };                     \
		weft_spawn((rt), &weft_tt_, &(type)__VA_ARGS__, (join));    \
	})

/* ----------------------------------------------------------- join handle */

/* Polls for the task's completion. READY with *err = 0 and *out = the
 * task's output; or *err = -ECANCELED (aborted, or the runtime shut down
 * first); or *err = -EINVAL (j NULL, or the output was already taken by an
 * earlier READY). out may be NULL.
 * PENDING keeps a clone of cx's waker for the task to wake. A task's waker
 * (a task awaiting the join) is kept in the task header; any other waker
 * (block_on, a foreign executor) is kept in a small allocation from the
 * runtime's allocator. If that allocation fails, nothing is kept: cx's
 * waker is woken at once and PENDING returned, so the joiner polls again
 * (a retry loop while memory is short, never a lost wake). */
weft_poll weft_join_poll(weft_join *j, weft_cx *cx, int *err, intptr_t *out);

/* Requests cancellation: the task is cancelled at its next poll point (its
 * drop function runs, the join reports -ECANCELED). No effect on a finished
 * task. The handle stays valid. */
void weft_join_abort(weft_join *j);

/* True once the task has completed or been cancelled. */
bool weft_join_is_finished(const weft_join *j);

/* Releases the handle. Does not cancel: the task runs on, detached. */
void weft_join_drop(weft_join *j);

/* A join as a future to hold in a frame: weft_join_fut_poll stores the
 * result in the struct. */
typedef struct weft_join_fut {
	weft_join *j;
	int err;
	intptr_t out;
} weft_join_fut;

static inline weft_poll weft_join_fut_poll(weft_join_fut *f, weft_cx *cx)
{
	return weft_join_poll(f->j, cx, &f->err, &f->out);
}

/* ------------------------------------------------------------- block_on */

/* Runs the future (poll, frame) to completion on the calling thread and
 * returns its output in *out (may be NULL). In the multi-thread flavour the
 * workers run the other tasks meanwhile; in the current-thread flavour the
 * calling thread runs them too. The frame is the caller's (it is not
 * copied and not dropped). Returns 0, -EINVAL, -ESHUTDOWN, or -EDEADLK when
 * called from a worker of rt. */
int weft_block_on(weft_rt *rt, weft_poll_fn poll, void *frame, intptr_t *out);

#define WEFT_BLOCK_ON(rt, out, poll, frame)                                  \
	weft_block_on((rt), (weft_poll_fn)(poll), (frame), (out))

/* --------------------------------------------------------- blocking pool */

/* Runs fn(arg) on a pool thread (created on demand, at most 64, idle ones
 * exit after 10 s). The returned task completes with fn's return value as
 * its output. Aborting it before fn starts skips fn; once started fn runs
 * to the end and its result is discarded. Errors as weft_spawn. */
int weft_spawn_blocking(weft_rt *rt, intptr_t (*fn)(void *arg), void *arg,
			weft_join **join);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_RT_H */
