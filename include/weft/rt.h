/* weft/rt.h - the runtime: builder, spawn, join handles, block_on, the
 * blocking pool, shutdown.
 *
 * Errors are negative errno values. Every function taking a pointer returns
 * -EINVAL for NULL where it returns int.
 *
 * Threads: weft_spawn, weft_spawn_blocking and the join-handle functions
 * may be called from any thread, a task's or not. weft_block_on may not be
 * called from a worker of the same runtime (-EDEADLK), weft_rt_shutdown,
 * weft_rt_shutdown_timeout and weft_rt_destroy only from outside the
 * runtime's workers; a task shuts its own runtime down with
 * weft_rt_shutdown_background or the weft_rt_shutdown_wait future.
 *
 * Cancellation: a spawned task is cancelled by weft_join_abort or by the
 * runtime's shutdown: its frame's drop function runs once, on a worker (or
 * the shutting-down thread), and its join reports -ECANCELED.
 */
#ifndef WEFT_RT_H
#define WEFT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_rt weft_rt;

/* A join handle: a counted reference to a spawned task. Release it with
 * weft_join_drop (which detaches: the task keeps running); await it with
 * weft_join_wait. */
typedef struct weft_join weft_join;

/* Allocator hook (tests inject failures with it). alloc returns NULL on
 * failure, else memory aligned as malloc's; free gets the size that was
 * asked for. It serves the task allocations, the small boxes that hold a
 * join handle's waker when that waker is not a task's (weft_join_wait
 * from block_on or a foreign executor), and the blocking pool's job
 * records. */
typedef struct weft_allocator {
	void *(*alloc)(size_t size, void *ctx);
	void (*free)(void *p, size_t size, void *ctx);
	void *ctx;
} weft_allocator;

/* The I/O reactor's settings (the io_uring driver of reactor/), the `io`
 * member of the builder. */
typedef struct weft_io_opts {
	bool enable;             /* start the reactor (default true); without
	                          * it, I/O and timer futures report -ENODEV */
	unsigned entries;        /* ring size; 0 = default (4096) */
	bool normal_sched;       /* leave the reactor thread SCHED_OTHER
	                          * (default: SCHED_BATCH, see
	                          * docs/architecture.md, "Reactor thread
	                          * scheduling") */
} weft_io_opts;

/* A long poll, as the detector reports it (weft_obs_opts.on_long_poll). */
typedef struct weft_long_poll {
	uintptr_t task;          /* the task's address (its id in dumps) */
	const char *name;        /* the future's name (WEFT_FUTURE) */
	const char *symbol;      /* the poll function's symbol (dladdr), or
	                          * NULL when it is not exported */
	const char *file;        /* spawn site, NULL without task tracking */
	unsigned line;           /* or for a task spawned by weft_spawn */
	unsigned worker;         /* the worker running the poll */
	uint64_t elapsed_ns;     /* how long the poll has run so far (a lower
	                          * bound: within half the threshold, or up
	                          * to 8 thresholds for a poll that started
	                          * on an idle runtime) */
	const char *task_name;   /* weft_spawn_named's name (weft/group.h),
	                          * or NULL */
	/* added in 1.2: with weft_obs_opts.stack_signal, the blocked worker's
	 * stack as backtrace(3) returned it (innermost first), else 0 and
	 * NULL; valid during the report only */
	unsigned nstack;
	void *const *stack;
} weft_long_poll;

/* Hooks on tasks: `task` is the task's address (as in dumps and long-poll
 * reports), `type` its future type (type->name names it). */
typedef void (*weft_task_hook)(void *arg, uintptr_t task,
			       const weft_future_type *type);
/* Hooks on workers: the worker's index. */
typedef void (*weft_worker_hook)(void *arg, unsigned worker);

/* Observability settings, given to weft_rt_create_with (see
 * weft/metrics.h for the metrics and the dump, docs/observability.md).
 * They are not a member of weft_rt_builder: the builder keeps its 1.0
 * layout (programs built against 1.0 allocate it), and this struct is
 * versioned by its first field instead: weft_obs_opts_init sets `size`,
 * and a later weft reads only the fields a program's size covers.
 *
 * The long-poll detector: a watcher thread looks at every worker each
 * long_poll_ns / 2 (at least every millisecond; while no worker is in a
 * poll, less and less often, down to every 8 x long_poll_ns) and reports
 * a poll that has been running for long_poll_ns or more, once per poll:
 * on_long_poll (called on the watcher thread, which it must not block
 * for long), or by default one line on stderr:
 *   weft: long poll: task 0x... (name, sym) spawned at f.c:12 has run
 *   52 ms on worker 1
 * Each worker publishes only a sequence number, the task and its type per
 * poll (no clock read); the watcher keeps the time. A reported poll's
 * time includes its completion (the frame's drop, the joiner's wake, the
 * free): the worker marks itself out of a poll only when it stops running
 * tasks (it searches for work, parks or leaves), not after each poll.
 *
 * Task tracking (track_tasks): every task also records its spawn site,
 * spawn time, poll count, time spent in its polls and what its last
 * pending poll waited on (weft_task_info.wait_kind), 48 bytes after its
 * frame, and the owner lists take a per-worker lock: weft_rt_dump needs
 * it, and long-poll reports and hooks name the spawn site with it. Costs a
 * clock read per spawn, two per poll, and an uncontended lock per spawn
 * and free.
 *
 * Hooks: each is one predictable branch on its path when unset. Set, it
 * is called on the thread doing the work, inside the runtime: it must not
 * block, spawn from on_task_terminate, or call into the runtime beyond
 * weft_rt_metrics. on_task_spawn runs on the spawning thread before the
 * task can run; on_task_terminate when the task completes, is cancelled,
 * or is dropped unfinished; on_poll_begin / on_poll_end around each poll
 * on its worker; on_park before a worker sleeps, on_unpark after it
 * woke.
 *
 * The control socket (control_path, added in 1.2): the runtime listens on
 * a Unix stream socket at that path, created with mode 0600 (only the
 * owner may connect; connections from another user id are refused too),
 * and answers each "snapshot" line with the metrics, the busiest tasks and
 * the recent long polls as text; tools/weft-top shows them live. No
 * network listener is ever opened. A thread of its own serves it, copying
 * the state as weft_rt_metrics and weft_rt_dump do (the workers are never
 * stopped or locked beyond the dump's list copies); at most 8 clients at
 * once, each answer at most 64 tasks and 16 long polls. The path must not
 * exist: weft_rt_create_with fails with -EEXIST when it does (a stale
 * socket of an earlier run included: remove it first), -ENAMETOOLONG
 * when it does not fit a sockaddr_un (107 bytes), and bind(2)'s error
 * (-EACCES, -ENOENT, -EROFS, ...) when it cannot be created there;
 * weft_rt_create_error() names the path and the reason. Shutdown closes
 * the clients (weft-top reports that the program exited) and removes the
 * socket.
 *
 * Dump on a signal (dump_signal, added in 1.2; 0 = none): that signal
 * writes weft_rt_dump_fd's lines to stderr (with task tracking; without,
 * one line saying it is off), read by the control thread from a
 * signalfd, so no handler is installed. For a signalfd to get it the
 * signal must be blocked in every thread: weft_rt_create_with blocks it in
 * the calling thread (changing that thread's mask) and so in every thread
 * the runtime starts; threads the program started before must block it
 * themselves (the rule of weft/signal.h). A signal weft_signal streams
 * cannot be dumped on as well: one signalfd reads each delivery.
 *
 * The blocked worker's stack (stack_signal, added in 1.2; 0 = off, the
 * default): a long-poll report then includes the blocked worker's stack,
 * taken by sending that signal to the worker thread, whose handler (the
 * only one weft installs, with sigaction, for this signal, process-wide,
 * from creation to shutdown, which puts the previous one back: choose one
 * the program does not use, e.g. SIGRTMIN + 3; not one of
 * weft_signal_set_fill's, which weft's threads block: -EINVAL) stores
 * backtrace(3) into the worker's buffer; the watcher waits up to 100 ms
 * for it and prints it (the default report) or passes it
 * (weft_long_poll.stack). Off by default: a signal interrupts the blocked
 * system call (EINTR) in code that may not expect it, and backtrace(3)
 * is not async-signal-safe on its first call (weft calls it once at
 * creation so that it loads what it needs then). */
typedef struct weft_obs_opts {
	size_t size;             /* sizeof(weft_obs_opts): set by _init */
	uint64_t long_poll_ns;   /* detector threshold; weft_obs_opts_init
	                          * sets 10 ms; 0 = off */
	void (*on_long_poll)(void *arg, const weft_long_poll *report);
	bool track_tasks;        /* spawn sites, ages, poll counts, dumps */
	weft_task_hook on_task_spawn;
	weft_task_hook on_task_terminate;
	weft_task_hook on_poll_begin;
	weft_task_hook on_poll_end;
	weft_worker_hook on_park;
	weft_worker_hook on_unpark;
	void *arg;               /* the first argument of every hook here */
	/* added in 1.2 (a 1.1 program's size ends before them: all off) */
	const char *control_path; /* Unix socket for weft-top; NULL: none */
	int dump_signal;         /* signal that dumps the tasks; 0: none */
	int stack_signal;        /* signal that takes a blocked worker's
	                          * stack for long-poll reports; 0: off */
} weft_obs_opts;

typedef struct weft_rt_builder {
	unsigned workers;        /* worker threads; 0 = one per online CPU */
	bool current_thread;     /* no worker threads: block_on runs tasks */
	bool no_pin;             /* do not pin worker i to CPU i mod ncpu */
	weft_io_opts io;         /* the reactor's settings */
	const char *thread_name; /* prefix, default "weft-w"; "-<index>" added */
	size_t stack_size;       /* worker stack size; 0 = system default */
	void (*on_thread_start)(void *arg); /* called on each worker thread */
	void (*on_thread_stop)(void *arg);
	void *hook_arg;
	const weft_allocator *allocator; /* task allocations; NULL = default */
} weft_rt_builder;

/* Fills b with the defaults (all workers, pinned, io enabled). */
void weft_rt_builder_init(weft_rt_builder *b);

/* Fills o with the defaults: the long-poll detector at 10 ms reporting on
 * stderr, no task tracking, no hooks. */
void weft_obs_opts_init(weft_obs_opts *o);

/* Creates and starts a runtime. b may be NULL for the defaults.
 * Returns 0, or -EINVAL (bad builder field), -ENOMEM, -EAGAIN (thread
 * creation), or the reactor's error when io.enable is set and the ring
 * cannot be created (weft_rt_create_error() then names the reason). */
int weft_rt_create(weft_rt **out, const weft_rt_builder *b);
/* weft_rt_create with observability settings (NULL: weft_obs_opts_init's
 * defaults, which weft_rt_create uses). -EINVAL when obs->size is 0 or
 * smaller than the 1.1 struct (call weft_obs_opts_init first), or a
 * dump_signal or stack_signal that is not a signal number (or is SIGKILL,
 * SIGSTOP, or the two the same); with control_path, -EEXIST,
 * -ENAMETOOLONG or bind(2)'s error (see weft_obs_opts). */
int weft_rt_create_with(weft_rt **out, const weft_rt_builder *b,
			const weft_obs_opts *obs);

/* A text naming why the last weft_rt_create on this thread failed, or "". */
const char *weft_rt_create_error(void);

/* Cancels every task (each drop function runs once; join handles report
 * -ECANCELED), stops and joins every thread, closes the reactor. Idempotent:
 * a call while another thread's shutdown is under way waits for it. Waits
 * for blocking-pool jobs as long as they run (weft_rt_shutdown_timeout
 * bounds that). After it, spawn returns -ESHUTDOWN. Called from a task (a
 * worker of rt, which it would have to join) it does nothing: a task uses
 * weft_rt_shutdown_background or weft_rt_shutdown_wait. */
void weft_rt_shutdown(weft_rt *rt);

/* No limit, for weft_rt_shutdown_timeout and the background forms. */
#define WEFT_RT_NO_TIMEOUT UINT64_MAX

/* weft_rt_shutdown that waits for blocking-pool jobs (weft_spawn_blocking
 * functions still running) at most timeout_ns nanoseconds from the call
 * (WEFT_RT_NO_TIMEOUT: as long as they take). Jobs still running then
 * are detached: their functions run on to their end on their pool
 * threads, their results are discarded and their release functions run
 * there after them, while the shutdown goes on (every task is cancelled,
 * the reactor stopped) and weft_rt_destroy may free the runtime. Nothing
 * a detached job uses is freed under it: its record and the pool's are
 * freed (through the builder's allocator, which must outlive them) by its
 * thread when it returns; a job that never returns keeps its thread and
 * those two records forever, nothing else. Jobs queued and not started
 * are released without running. The bound covers the pool only: worker
 * threads are joined after the poll each is in (a poll that never
 * returns is not bounded). Returns the number of jobs detached (0: none
 * was left running), or -EINVAL (rt NULL), -EDEADLK (called from a
 * worker of rt). When another thread's shutdown of rt is under way or
 * done, waits for it and returns its result. */
int weft_rt_shutdown_timeout(weft_rt *rt, uint64_t timeout_ns);

/* Starts weft_rt_shutdown_timeout(rt, timeout_ns) on a thread of its own
 * and returns at once: the way a task (or a signal handler's
 * thread) shuts its own runtime down. The calling task, like every task,
 * is cancelled by it (its drop function runs). Learn when it is done with
 * weft_rt_is_shut_down, a weft_rt_shutdown_wait future, or
 * weft_rt_shutdown (which waits for it); weft_rt_destroy waits for it and
 * joins its thread (call it as always: it is still needed). Returns 0,
 * -EINVAL (rt NULL), -EALREADY (a shutdown of rt has begun: nothing
 * started), -EAGAIN (no thread could be created). Any thread. */
int weft_rt_shutdown_background(weft_rt *rt, uint64_t timeout_ns);

/* True once rt's shutdown has finished (every task cancelled, every
 * thread but detached jobs' joined). Any thread. */
bool weft_rt_is_shut_down(weft_rt *rt);

/* A future completing when rt's shutdown has finished: res = the number
 * of blocking jobs it detached (>= 0), or -EINVAL (rt NULL), -EAGAIN (the
 * shutdown thread could not start). Its first poll starts a background
 * shutdown with timeout_ns (as weft_rt_shutdown_background) unless one
 * has begun. Awaited by a task of another runtime or a block_on caller,
 * it completes without blocking a worker; awaited by a task of rt
 * itself, it never completes: that task is cancelled by the shutdown it
 * started (its drop functions run, this future's with them). Any number
 * may wait at once. It holds rt borrowed: let it complete or drop it
 * before weft_rt_destroy. Dropping it leaves the shutdown running. In the
 * current-thread flavour, do not await it from rt's own block_on. */
typedef struct weft_rt_shutdown_wait {
	weft_rt *rt;
	uint64_t timeout_ns;
	weft__wlink link;     /* in rt's list of waits (private) */
	weft_waker waker;     /* guarded by rt's shutdown lock (private) */
	bool queued;
	intptr_t res;
} weft_rt_shutdown_wait;
WEFT_FUTURE_EXTERN(weft_rt_shutdown_wait);

void weft_rt_shutdown_wait_init(weft_rt_shutdown_wait *w, weft_rt *rt,
				uint64_t timeout_ns);
weft_poll weft_rt_shutdown_wait_poll(weft_rt_shutdown_wait *w, weft_cx *cx);
/* Leaves rt's list of waits if still queued (the shutdown goes on). */
void weft_rt_shutdown_wait_drop(weft_rt_shutdown_wait *w);

/* Shuts down (if not yet; waits for a shutdown under way, and joins the
 * thread of a background one) and frees the runtime. Memory still
 * referenced by live join handles or wakers is freed when the last one is
 * dropped. */
void weft_rt_destroy(weft_rt *rt);

/* The runtime of the calling thread: the one whose worker it is (a task's
 * poll, the current-thread block_on), or whose block_on it is running
 * (multi-thread flavour); else NULL. */
weft_rt *weft_rt_current(void);

/* Number of worker threads (0 for the current-thread flavour). */
unsigned weft_rt_workers(const weft_rt *rt);

/* ---------------------------------------------------------------- spawn */

/* Allocates a task with a frame of type->size bytes, copies init into the
 * frame (NULL = zero it), and schedules it. type is a future type made by
 * WEFT_FUTURE (static storage). With join != NULL *join receives a handle;
 * with join == NULL the task is detached. The task's output is its frame's
 * res when the poll function returns READY.
 * Returns 0, or on failure -EINVAL (rt or type NULL), -ESHUTDOWN (runtime
 * shut down), -ENOMEM, with nothing taken: no task exists, the drop
 * function has not run, *join is NULL, and the caller still owns whatever
 * the init bytes refer to. */
int weft_spawn(weft_rt *rt, const weft_future_type *type, const void *init,
	       weft_join **join);

/* weft_spawn recording the spawn site file:line (file: a string of static
 * storage, as __FILE__) for dumps, long-poll reports and hooks when task
 * tracking is on (weft_obs_opts.track_tasks); WEFT_SPAWN calls it.
 * Returns as weft_spawn. */
int weft_spawn_at(weft_rt *rt, const weft_future_type *type,
		  const void *init, weft_join **join, const char *file,
		  unsigned line);

/* WEFT_SPAWN(rt, name, &join_or_NULL, { .field = value, ... }) spawns the
 * future `name` (WEFT_FUTURE) with a frame built from the initialiser
 * (fields it does not name are zero) -> int as weft_spawn.
 * WEFT_SPAWN_FRAME(rt, name, &join_or_NULL, &frame) copies a frame you
 * built (of name's frame type; a pointer of another type does not
 * compile). */
#ifdef __cplusplus
#define WEFT_SPAWN(rt, name, join, ...)                                     \
	([&]() -> int {                                                     \
		name##_frame weft_init_ = __VA_ARGS__;                      \
		return weft_spawn_at((rt), &name##_future, &weft_init_,     \
				     (join), __FILE__, __LINE__);           \
	}())
#else
#define WEFT_SPAWN(rt, name, join, ...)                                     \
	weft_spawn_at((rt), &name##_future, &(name##_frame)__VA_ARGS__,     \
		      (join), __FILE__, __LINE__)
#endif
#define WEFT_SPAWN_FRAME(rt, name, join, frame)                             \
	weft_spawn_at((rt), &name##_future, WEFT__FRAME(name, frame), (join), \
		      __FILE__, __LINE__)

/* ----------------------------------------------------------- join handle */

/* Requests cancellation: the task is cancelled at its next poll point (its
 * drop function runs, a join reports -ECANCELED). No effect on a finished
 * task. The handle stays valid. */
void weft_join_abort(weft_join *j);

/* True once the task has completed or been cancelled. */
bool weft_join_is_finished(const weft_join *j);

/* Releases the handle. Does not cancel: the task runs on, detached. Debug
 * builds abort on a second drop of the same handle while the task lives. */
void weft_join_drop(weft_join *j);

/* Waits for the task's end: res = the task's output (its frame's res), or
 * -ECANCELED (aborted, or the runtime shut down first), or -EINVAL (j NULL,
 * or the output was already taken by an earlier wait). The wait borrows
 * the handle: drop it with weft_join_drop after READY (or abort it first).
 * A task awaiting the join keeps its waker in the task header; any other
 * waker (block_on, a foreign executor) is kept in a small allocation from
 * the runtime's allocator; when that fails, the waker is woken at once and
 * PENDING returned (a retry while memory is short, never a lost wake). */
typedef struct weft_join_wait {
	weft_join *j;
	intptr_t res;
} weft_join_wait;
WEFT_FUTURE_EXTERN(weft_join_wait);

void weft_join_wait_init(weft_join_wait *w, weft_join *j);
weft_poll weft_join_wait_poll(weft_join_wait *w, weft_cx *cx);
/* Nothing to release (the waker left in the task is dropped with it). */
void weft_join_wait_drop(weft_join_wait *w);

/* ------------------------------------------------------------- block_on */

/* Runs the future (type, fut) to completion on the calling thread; its
 * result is then in fut's res. In the multi-thread flavour the workers run
 * the other tasks meanwhile; in the current-thread flavour the calling
 * thread runs them too. The future is the caller's (not copied, not
 * dropped). Returns 0 (the future completed), or, without polling it,
 * -EINVAL, -ESHUTDOWN, -ENOMEM, or -EDEADLK when called from a worker of
 * rt. WEFT_BLOCK_ON(rt, name, &fut) checks fut's type. */
int weft_block_on(weft_rt *rt, const weft_future_type *type, void *fut);

#define WEFT_BLOCK_ON(rt, name, fut)                                        \
	weft_block_on((rt), &name##_future, WEFT__FRAME(name, fut))

/* name_init(fut, args...) then WEFT_BLOCK_ON(rt, name, fut), in one
 * expression (-> int as weft_block_on; the result is in (fut)->res):
 *   if (WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j) == 0) ... w.res */
#define WEFT_BLOCK_ON_INIT(rt, name, fut, ...)                              \
	(name##_init((fut), __VA_ARGS__), WEFT_BLOCK_ON(rt, name, fut))

/* --------------------------------------------------------- blocking pool */

/* Runs fn(arg) on a pool thread (created on demand, at most 64, idle ones
 * exit after 10 s) and returns, through *join, a task whose output is fn's
 * return value. Ownership of arg passes to the pool with a 0 return: the
 * pool calls release(arg) (when release is not NULL) exactly once, after
 * fn returned, or instead of fn when the task is aborted (or the runtime
 * shut down) before fn started; a started fn runs to its end and its
 * result is discarded. fn is never given anything of the waiting task, so
 * an aborted waiter can never be written to.
 * Returns 0, or -EINVAL (rt or fn NULL), -ESHUTDOWN, -ENOMEM, -EAGAIN (no
 * pool thread could be started), and then nothing was taken: release has
 * not run and the caller still owns arg. */
int weft_spawn_blocking(weft_rt *rt, intptr_t (*fn)(void *arg), void *arg,
			void (*release)(void *arg), weft_join **join);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_RT_H */
