/* runtime/internal.h - the runtime's private structures: task header,
 * deque, injector, idle set, worker, runtime object. Shared by the files of
 * runtime/ only.
 */
#ifndef WEFT_RUNTIME_INTERNAL_H
#define WEFT_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/rt.h"
#include "weft/waiter.h"
#include "runtime/driver.h"
#include "runtime/note.h"

#define WEFT__CACHELINE 64
#define WEFT__ALIGNED __attribute__((aligned(WEFT__CACHELINE)))

#if defined(__x86_64__) || defined(__i386__)
#define weft__cpu_relax() __builtin_ia32_pause()
#else
#define weft__cpu_relax() ((void)0)
#endif

/* ------------------------------------------------------------------ task
 *
 * State word (one atomic u64, changed only by CAS or one fetch-op):
 *
 *   bit 0 RUNNING        a worker is polling the frame
 *   bit 1 NOTIFIED       queued, or woken while running (re-queue after poll)
 *   bit 2 COMPLETE       finished (output written) or cancelled
 *   bit 3 CANCELLED      abort requested / the task ended cancelled
 *   bit 4 JOIN_INTEREST  a join handle exists
 *   bit 5 JOIN_WAKER     join_waker holds the joiner's waker (the task side
 *                        may read it; the handle may not touch it)
 *                        (its encoding: join.c, "join waker slot")
 *   bit 6 JOIN_TAKEN     the output was handed to the join handle
 *   bit 7 HAS_ID         the task has an id in rt's id table (runtime/
 *                        group.c, "task ids"): freeing it removes the entry
 *   bit 8 TAIL           the allocation ends with WEFT__TAIL_BYTES more
 *                        (a JoinSet member's record, runtime/group.c;
 *                        weft__task_tail); set at spawn, never changed
 *   bits 9.. refcount    join handle + each waker + the queue/run reference
 *                        (and each abort handle)
 */
#define WEFT__RUNNING      (1ull << 0)
#define WEFT__NOTIFIED     (1ull << 1)
#define WEFT__COMPLETE     (1ull << 2)
#define WEFT__CANCELLED    (1ull << 3)
#define WEFT__JOIN_INTEREST (1ull << 4)
#define WEFT__JOIN_WAKER   (1ull << 5)
#define WEFT__JOIN_TAKEN   (1ull << 6)
#define WEFT__HAS_ID       (1ull << 7)
#define WEFT__TAIL         (1ull << 8)
#define WEFT__REF_SHIFT    9
#define WEFT__REF_ONE      (1ull << WEFT__REF_SHIFT)
#define WEFT__FLAGS_MASK   (WEFT__REF_ONE - 1)

/* Bytes of a TAIL allocation's record (runtime/group.c's struct member). */
#define WEFT__TAIL_BYTES   40

struct weft__owner;
struct weft__task;
static inline struct weft__owner *weft__task_owner(const struct weft__task *t);

/* One allocation: this 56-byte header, then the frame right after it.
 * A frame that needs more than 8-byte alignment gets 8 bytes of padding
 * in front of the header (weft__task_lead). After the frame's drop
 * function ran at completion, the frame's first 8 bytes hold the output. */
struct weft__task {
	_Atomic uint64_t state;
	const weft_future_type *type;      /* poll, drop, frame size, align */
	struct weft__task *next;         /* link: injector, wake batches, a
					  * worker's injected batch, and the
					  * remote-free stack at 0 refs */
	struct weft__task *owned_prev;   /* owner list links; owner thread only */
	struct weft__task *owned_next;
	/* the joiner's waker in one word (see JOIN_WAKER): a task pointer
	 * tagged WEFT__JW_TASK, a pointer to a boxed weft_waker, or 0 */
	uintptr_t join_waker;
	/* the list holding it (and so its runtime). A task spawned from a
	 * foreign thread points at rt->foreign unlinked until the worker
	 * that first runs it adopts it (weft__task_run); atomic because
	 * wakers on other threads read it meanwhile for the runtime, which
	 * both values name */
	_Atomic(struct weft__owner *) owner;
};

_Static_assert(sizeof(struct weft__task) == 56, "task header is 56 bytes");

/* Bytes of padding in front of the header of a task of this type, 0 or 8,
 * so that its frame starts 56 or 64 bytes into the allocation (which is
 * at least 16-aligned). 0 when the frame needs at most 8 (idle_memory: 56
 * + a 56-byte frame fits jemalloc's 112-byte class, where a frame at 64
 * would need the 128-byte one); else 8, and the frame is 16-aligned.
 * align 0 (a type initialised without it) counts as 16 (the unsigned wrap
 * of align - 1); more than 16 is not provided (rt.h).
 * The header always ends where the frame starts: task <-> frame is the
 * constant 56 and only spawn and free, which read the type, deal with the
 * padding (the poll path computes no offset: yield and ping-pong counts
 * of bench/instr.sh unchanged). Written without a branch: spawn and free
 * compute it for every task. */
static inline size_t weft__task_lead(const weft_future_type *type)
{
	return (size_t)(type->align - 1 >= 8) << 3;
}

static inline void *weft__task_frame(struct weft__task *t)
{
	return (char *)t + sizeof(*t);
}

static inline struct weft__owner *weft__task_owner(const struct weft__task *t)
{
	/* relaxed: only the runtime is read through it off the owner thread,
	 * and every owner of a task names the same runtime */
	return atomic_load_explicit(&((struct weft__task *)(uintptr_t)t)->owner,
				    memory_order_relaxed);
}

static inline struct weft__task *weft__join_task(const weft_join *j)
{
	return (struct weft__task *)(uintptr_t)j;
}

/* The list of live tasks spawned on one worker (or from foreign threads).
 * Only the owner thread links and unlinks (the foreign list: under
 * rt->foreign_lock); other threads hand dead tasks back through
 * remote_free, which the owner drains. */
struct weft__owner {
	/* with task tracking (rt->track): held while linking, unlinking and
	 * by weft_rt_dump while it copies the list (metrics.c) */
	atomic_flag lock;
	bool locked;                     /* rt->track: links take `lock` */
	struct weft__task *head;
	/* tasks in the list: written by the list's owner (a relaxed load and
	 * store), read by weft_rt_metrics */
	_Atomic size_t live;
	weft_rt *rt;
	int index;                       /* worker index, -1 = foreign */
	/* Treiber stack, pushed by any thread (CAS), drained by the owner
	 * with one exchange, so no ABA. */
	_Atomic(struct weft__task *) remote_free WEFT__ALIGNED;
};

extern const weft_waker_vtable weft__task_waker_vt;

/* join_waker tag: the word is a task pointer (task headers are at least
 * 8-aligned, so bit 0 is free) holding the reference its task waker
 * would hold */
#define WEFT__JW_TASK ((uintptr_t)1)
/* join_waker tag: the word points at a weft__jw_ext that the slot does
 * not own (a JoinSet member, a tracker: runtime/group.c). Waking it calls
 * notify(ext, task) once the task is COMPLETE; dropping the slot does
 * nothing to it (its owner takes it back with weft__join_take_ext). */
#define WEFT__JW_EXT ((uintptr_t)2)
struct weft__jw_ext {
	void (*notify)(struct weft__jw_ext *self, struct weft__task *t);
};

/* task.c */
void weft__task_run(struct weft__task *t, void *worker);
void weft__task_ref_dec(struct weft__task *t);
/* join.c */
void weft__task_wake_joiner(struct weft__task *t);
/* owner.c */
void weft__owner_init(struct weft__owner *o, weft_rt *rt, int index);
void weft__task_free_now(struct weft__task *t);
void weft__owner_drain_remote(struct weft__owner *o);
void weft__task_adopt(struct weft__owner *o, struct weft__task *t);

/* Task tracking (weft_obs_opts.track_tasks): this record follows the
 * frame (at weft__task_bytes from the allocation's start), so the header
 * stays 56 bytes and a runtime without tracking pays nothing. file, line
 * and spawn_ns are written before the task is published; polls, poll_ns
 * and note by the polling worker (relaxed stores, read by dumps). */
struct weft__track {
	const char *file;
	uint32_t line;
	uint32_t pad_;
	uint64_t spawn_ns;
	_Atomic uint64_t polls;
	_Atomic uint64_t poll_ns;        /* time spent in its polls */
	_Atomic uint64_t note;           /* its last PENDING poll's wait note
					  * (note.h), 0: none said */
};

/* ----------------------------------------------------------------- deque */

struct weft__deque_buf {
	size_t mask;
	struct weft__deque_buf *prev;      /* older buffers, freed at destroy */
	_Atomic(struct weft__task *) slot[];
};

/* Growable Chase-Lev array. The owner pushes at bottom; the owner and the
 * thieves take from top (the owner takes one, thieves half). */
struct weft__deque {
	_Atomic size_t top WEFT__ALIGNED;
	_Atomic size_t bottom WEFT__ALIGNED;
	_Atomic(struct weft__deque_buf *) buf;
};

int weft__deque_init(struct weft__deque *dq, size_t cap);
void weft__deque_destroy(struct weft__deque *dq);
int weft__deque_push(struct weft__deque *dq, struct weft__task *t);
struct weft__task *weft__deque_pop(struct weft__deque *dq);
struct weft__task *weft__deque_steal_into(struct weft__deque *from,
					  struct weft__deque *to);
size_t weft__deque_len(struct weft__deque *dq);
size_t weft__deque_take_half(struct weft__deque *dq, struct weft__task **out,
			     size_t max);

/* -------------------------------------------------------------- injector */

struct weft__injector {
	/* Treiber stack of pushed tasks, newest first (any thread) */
	_Atomic(struct weft__task *) pushed WEFT__ALIGNED;
	pthread_mutex_t lock WEFT__ALIGNED; /* consumers */
	struct weft__task *head, *tail;  /* FIFO, under lock */
	_Atomic size_t len;              /* FIFO length, written under lock */
};

void weft__injector_init(struct weft__injector *q);
void weft__injector_destroy(struct weft__injector *q);
void weft__injector_push(struct weft__injector *q, struct weft__task *head,
			 struct weft__task *tail, size_t n);
struct weft__task *weft__injector_pop(struct weft__injector *q);
size_t weft__injector_pop_batch(struct weft__injector *q,
				struct weft__task **first, size_t max,
				unsigned share);
static inline bool weft__injector_is_empty(struct weft__injector *q)
{
	/* relaxed: a hint; callers that must not miss work call this after
	 * the idle protocol's seq_cst fence (idle.c) */
	return atomic_load_explicit(&q->pushed, memory_order_relaxed) == NULL &&
	       atomic_load_explicit(&q->len, memory_order_relaxed) == 0;
}

/* ------------------------------------------------------------ idle set */

struct weft__idle {
	/* low 16 bits: workers not parked; high 16: workers searching */
	_Atomic uint32_t state WEFT__ALIGNED;
	pthread_mutex_t lock;
	unsigned *sleepers;            /* under lock: indices of parked workers */
	unsigned nsleepers;
	unsigned nworkers;
};

int weft__idle_init(struct weft__idle *idle, unsigned nworkers);
void weft__idle_destroy(struct weft__idle *idle);
void weft__idle_notify_one(weft_rt *rt);
bool weft__idle_try_searching(struct weft__idle *idle);
bool weft__idle_end_searching(struct weft__idle *idle);
void weft__idle_park_begin(struct weft__idle *idle, unsigned index,
			   bool searching);
bool weft__idle_park_cancel(struct weft__idle *idle, unsigned index);
void weft__idle_unpark_all(weft_rt *rt);
void weft__idle_unpark_index(weft_rt *rt, unsigned index);

/* ---------------------------------------------------------------- worker */

/* A counter written only by its own thread, read relaxed by
 * weft_rt_metrics on any thread. On x86-64 one `add` to memory: a single
 * writer needs no lock prefix, and the 8-byte aligned store it makes is
 * seen whole by readers (x86's single-copy atomicity), so the relaxed
 * load and store C11 would spell it with (three instructions, as gcc and
 * clang compile them) become one; per poll and per spawn that is what
 * keeps the metrics inside the 2 % (docs/observability.md,
 * "Overhead"). Elsewhere, and under TSan (whose model should see the
 * write), the relaxed load and store. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN 1
#endif
#if defined(__x86_64__) && !defined(WEFT__TSAN)
#define WEFT__ADD_OWNED(c, n)                                               \
	__asm__ volatile("addq %1, %0"                                      \
			 : "+m"(*(uint64_t *)(uintptr_t)(c))                \
			 : "er"((uint64_t)(n)))
#else
#define WEFT__ADD_OWNED(c, n)                                               \
	atomic_store_explicit((c), atomic_load_explicit((c),                \
							memory_order_relaxed) + \
					   (n),                             \
			      memory_order_relaxed)
#endif

static inline void weft__stat_add(_Atomic uint64_t *c, uint64_t n)
{
	WEFT__ADD_OWNED(c, n);
}

static inline uint64_t weft__stat_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)c,
				    memory_order_relaxed);
}

/* A worker's metrics (metrics.c reads them), in lines of their own that
 * only the worker writes. poll_seq counts the polls begun, cur_task is
 * non-zero while one runs (weft__poll_begin); cur_task, cur_type (and, with tracking, the spawn site
 * cur_file:cur_line) name that poll for the long-poll detector (watch.c), which
 * reads them seqlock-style: seq, fields, seq again. */
struct weft__wstats {
	_Atomic uint64_t poll_seq WEFT__ALIGNED;
	_Atomic uintptr_t cur_task;
	_Atomic(const weft_future_type *) cur_type;
	_Atomic(const char *) cur_file;  /* with tracking: its spawn site */
	_Atomic uint32_t cur_line;
	_Atomic uint64_t lifo_runs, budget_yields, spawned;
	_Atomic uint64_t steal_attempts WEFT__ALIGNED;
	_Atomic uint64_t steals, stolen, injector_pulls, parks, unparks;
	_Atomic uint64_t busy_ns;        /* up to active_since */
	_Atomic uint64_t active_since;   /* 0 while parked */
	_Atomic uint64_t long_polls;     /* written by the watcher only */
};

/* The long-poll detector's view of a poll on worker stats st (watch.c,
 * which gives the reading side): the poll's number first, then its type,
 * then the task (non-zero: in a poll or just after one). Release on the
 * last two: a watcher that read a field of a poll reads a number at least
 * as new (the number's `add` is a plain x86 store, ordered before them by
 * the processor and by the release stores' compiler barrier). The task
 * goes back to 0 not after every poll but when the worker stops running
 * tasks (weft__poll_idle: it searches for work, parks, or leaves), so a
 * report of a "poll" covers what the worker did for that task up to its
 * next poll: the poll, and its completion (the frame's drop, the
 * joiner's wake, the free). The tracking path (task.c, poll_observed)
 * also clears it after each poll. The caller stores cur_file / cur_line
 * first when it tracks. Three instructions per poll. */
static inline void weft__poll_begin(struct weft__wstats *st, uintptr_t task,
				    const weft_future_type *type)
{
	weft__stat_add(&st->poll_seq, 1);
	atomic_store_explicit(&st->cur_type, type, memory_order_release);
	atomic_store_explicit(&st->cur_task, task, memory_order_release);
}

static inline void weft__poll_end(struct weft__wstats *st)
{
	atomic_store_explicit(&st->cur_task, 0, memory_order_release);
}

/* The worker runs no task for now (search, park, exit). */
static inline void weft__poll_idle(struct weft__wstats *st)
{
	weft__poll_end(st);
}

/* weft__worker.obs: what a poll has to do beyond the common path (one
 * test of this byte on it when none is set) */
#define WEFT__OBS_POLL 1u   /* tracking (poll counts, spawn sites) or the
			     * poll hooks */
#define WEFT__OBS_TERM 2u   /* on_task_terminate */

static inline size_t weft__owner_live(const struct weft__owner *o)
{
	return atomic_load_explicit(&((struct weft__owner *)(uintptr_t)o)->live,
				    memory_order_relaxed);
}

static inline void weft__owner_live_add(struct weft__owner *o, size_t d)
{
	/* on x86-64 size_t is the 64-bit counter WEFT__ADD_OWNED adds to */
	WEFT__ADD_OWNED(&o->live, d);
}

struct weft__worker {
	/* first: the wait note leaf futures set through cx->worker (note.h) */
	struct weft__note note;
	struct weft__deque dq;
	/* owner-only fields */
	struct weft__task *lifo WEFT__ALIGNED; /* woken by the running task */
	struct weft__task *injected;   /* injector batch to run next (next-linked) */
	weft_rt *rt;
	unsigned index;
	uint32_t tick;
	uint32_t rng;
	bool searching;
	bool in_poll;
	bool yielded;                  /* a task yielded since the last pick */
	uint8_t obs;                   /* WEFT__OBS_*: slow paths to take */
	/* worker.c, search(): how its spins paid */
	uint8_t pure_credit, spin_credit, probe;
	struct weft__owner owner;
	/* futex: 1 while parked, 0 once unparked; written by the waker */
	_Atomic uint32_t park_word WEFT__ALIGNED;
	pthread_t thread;
	bool started;
	struct weft__wstats stats;
};

void *weft__worker_main(void *arg);
void weft__worker_schedule(struct weft__task *t, bool yield);
/* Pushes n next-linked tasks onto w's own deque (w is the calling
 * thread's worker, which runs the first of them next) and calls
 * weft__idle_notify_one once if more than one task is queued there (a
 * driver's completions reaped by the worker that owns them: the wake
 * batch's flush on a worker). */
void weft__worker_push_batch(struct weft__worker *w, struct weft__task *head,
			     size_t n);
struct weft__worker *weft__worker_current(void);
bool weft__worker_run_once(struct weft__worker *w);
bool weft__worker_run_once_ex(struct weft__worker *w,
			      const _Atomic uint32_t *extra);
void weft__worker_park(struct weft__worker *w, const _Atomic uint32_t *stop);
void weft__worker_unpark(struct weft__worker *w);
void weft__worker_enter(struct weft__worker *w);
void weft__worker_leave(struct weft__worker *w);

/* --------------------------------------------------------------- runtime */

struct weft__blocking;

struct weft_rt {
	/* first: what a driver may read (driver.h) */
	struct weft__rt_head head;
	struct weft__injector inj;
	struct weft__idle idle;
	unsigned nworkers;             /* worker slots (>= 1) */
	unsigned nthreads;             /* worker threads (0 = current-thread) */
	struct weft__worker *workers;  /* nworkers entries */
	_Atomic uint32_t stop WEFT__ALIGNED; /* workers leave their loops */
	_Atomic uint32_t shutdown;     /* spawn refused */
	_Atomic bool stopped;          /* workers joined: frees take `lock` */
	bool destroyed;                /* the owner called destroy */
	bool freeing;                  /* rt_free is under way */
	pthread_mutex_t lock;          /* foreign list, shutdown, post-stop frees */
	struct weft__owner foreign;    /* tasks spawned off the workers */
	weft_allocator alloc;
	bool has_alloc;
	bool malloc_is_jemalloc;       /* see alloc.c */
	weft_rt_builder cfg;
	weft_obs_opts obs;             /* as given to create (defaults) */
	const struct weft__driver_ops *driver_ops; /* head.driver's */
	struct weft__blocking *blocking;
	_Atomic(struct weft__worker *) block_on_owner; /* current-thread: taken */
	/* foreign spawns between their shutdown check and their push */
	_Atomic uint32_t foreign_inflight WEFT__ALIGNED;
	/* task ids (group.c): the next id, and the table of ids given to
	 * tasks through weft_join_id (HAS_ID), by task address */
	_Atomic uint64_t next_id WEFT__ALIGNED;
	pthread_mutex_t id_lock;
	struct weft__id_node **id_buckets;
	size_t id_nbuckets;
	size_t id_count;
	/* observability (metrics.c, watch.c) */
	bool track;                    /* obs.track_tasks */
	size_t track_bytes;            /* track ? sizeof(weft__track) : 0 */
	bool obs_spawn;                /* track, or obs.on_task_spawn */
	bool driver_gone;              /* under lock: stop() was called */
	/* spawns off the workers, and those of them linked into a list
	 * since (their first run, or shutdown): the difference is in no list */
	_Atomic uint64_t foreign_spawned WEFT__ALIGNED;
	_Atomic uint64_t foreign_adopted;
	struct weft__watch *watch;     /* the long-poll detector, or NULL */
	/* multi-thread block_on callers running their future (not waiting
	 * in wait_notified): read by host_is_idle (runtime.c) */
	_Atomic uint32_t block_on_busy;
	/* shutdown's progress (shutdown.c), under shut_mu */
	pthread_mutex_t shut_mu;
	pthread_cond_t shut_cv;        /* shut_state became SHUT_DONE */
	int shut_state;                /* SHUT_NONE, SHUT_RUNNING, SHUT_DONE */
	intptr_t shut_detached;        /* blocking jobs left running */
	weft__wlink shut_waiters;      /* weft_rt_shutdown_wait futures */
	pthread_t shut_thread;         /* the thread running the shutdown */
	bool bg_started;               /* bg_thread exists, not joined */
	pthread_t bg_thread;           /* weft_rt_shutdown_background's */
	uint64_t bg_timeout_ns;
	/* the detector, for the stack_signal handler on the workers (set
	 * with stack_signal only) */
	_Atomic(struct weft__watch *) stack_watch;
	struct weft__control *control; /* control socket / dump signal thread */
};

/* watch.c: the long-poll detector's thread */
int weft__watch_start(weft_rt *rt);
void weft__watch_stop(weft_rt *rt);
/* watch.c: the last long polls reported (at most WEFT__LONG_POLL_RING),
 * newest first, with when each was reported (at[i]); their strings have
 * static storage and nstack is 0. Returns how many (0 without the
 * detector). Any thread, while the watcher runs. */
#define WEFT__LONG_POLL_RING 16
size_t weft__watch_recent(weft_rt *rt, weft_long_poll *out, uint64_t *at,
			  size_t max);
/* control.c: the control socket and dump-signal thread (started at
 * creation when either is asked for; stopped first thing at shutdown) */
int weft__control_start(weft_rt *rt);
void weft__control_stop(weft_rt *rt);
/* runtime.c: weft_rt_create_error's text for this thread */
void weft__rt_create_errorf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
uint64_t weft__rt_now_ns(void);  /* CLOCK_MONOTONIC */
/* metrics.c: " waits ..." of a dump line for in (empty when unknown) */
struct weft_task_info;
void weft__wait_text(const struct weft_task_info *in, uint64_t now,
		     char *buf, size_t len);
/* blocking.c: the pool's numbers, under its lock */
void weft__blocking_stats(weft_rt *rt, uint64_t *threads, uint64_t *idle,
			  uint64_t *queued);
static inline void weft__owner_lock(struct weft__owner *o)
{
	while (atomic_flag_test_and_set_explicit(&o->lock,
						 memory_order_acquire))
		weft__cpu_relax();
}
static inline void weft__owner_unlock(struct weft__owner *o)
{
	atomic_flag_clear_explicit(&o->lock, memory_order_release);
}

/* group.c: test hook, a JoinSet's late notifier goes first (the comment
 * at its definition). */
extern atomic_int weft__joinset_test_late;
/* group.c: task ids. A fresh id (never 0, unique in rt). */
uint64_t weft__rt_new_id(weft_rt *rt);
/* Removes t's entry from rt's id table (t's state has HAS_ID). */
void weft__task_id_forget(weft_rt *rt, struct weft__task *t);
void weft__ids_destroy(weft_rt *rt);
/* t's id, 0 when it has none (makes none) */
uint64_t weft__task_id_peek(struct weft__task *t);
/* t's name (weft_spawn_named), NULL when it has none; a string of static
 * storage. Under t's owner lock (weft_rt_dump), as weft__task_id_peek */
const char *weft__task_name_peek(struct weft__task *t);
/* The name of the task at address `task` if it is alive, else NULL: the
 * long-poll detector, which holds no reference (best effort: an address
 * reused by a new task names that one) */
const char *weft__task_name_at(weft_rt *rt, uintptr_t task);

void *weft__alloc(weft_rt *rt, size_t size);
void weft__free(weft_rt *rt, void *p, size_t size);
void *weft__malloc(size_t size);
void weft__mfree(void *p, size_t size);
bool weft__alloc_probe(void);
/* jemalloc returns idle memory: its background thread and this dirty
 * decay, unless the user configured them (alloc.c); no-op without it. */
#define WEFT__DIRTY_DECAY_MS 1000
void weft__alloc_tune(void);

void weft__rt_maybe_free(weft_rt *rt);
/* shutdown.c: joins weft_rt_shutdown_background's thread, if any */
void weft__shutdown_join_background(weft_rt *rt);
/* The runtime a multi-thread block_on on this thread drives, or NULL. */
weft_rt *weft__block_on_current(void);

/* waker.c: the wake batch, offered to the driver through the host table */
void weft__rt_batch_add(struct weft__wake_batch *b, weft_waker *w);
void weft__rt_batch_add_ref(struct weft__wake_batch *b, const weft_waker *w);
void weft__rt_batch_flush(struct weft__wake_batch *b);
int weft__blocking_init(weft_rt *rt);
void weft__blocking_shutdown(weft_rt *rt);  /* stops and joins the threads */
/* As weft__blocking_shutdown until deadline (CLOCK_MONOTONIC; NULL: no
 * limit); then releases the jobs not started, leaves the running ones to
 * their threads (detached) and returns their number. */
struct timespec;
unsigned weft__blocking_shutdown_until(weft_rt *rt,
				       const struct timespec *deadline);
void weft__blocking_destroy(weft_rt *rt);   /* frees the pool (after it) */

/* futex helpers */
void weft__futex_wait(_Atomic uint32_t *word, uint32_t expect);
void weft__futex_wake(_Atomic uint32_t *word, int n);

#endif /* WEFT_RUNTIME_INTERNAL_H */
