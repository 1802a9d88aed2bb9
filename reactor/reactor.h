/* reactor/reactor.h - private: the reactor object and the operation record
 * shared by every file of reactor/.
 *
 * Threads and ownership
 * ---------------------
 * The reactor thread owns the io_uring (both the submission and the
 * completion side: it is the ring's single issuer), the timer wheel and the
 * list of armed records. Every other thread talks to it only by handing it
 * operation records that "need attention":
 *
 *   worker i      -> stage[i] (plain list, worker i only) -> flush(i) pushes
 *                    the whole list onto `stack` with one CAS
 *   other thread  -> pushes onto `stack` directly, then wakes the reactor
 *
 * The reactor drains `stack` with one exchange, then looks at each record's
 * flags to decide what to do (arm it, cancel it, free it).
 *
 * Worker rings (wring.c): each worker of the multi-thread flavour also
 * owns a ring of its own, with the same hand-off in small (its own stage,
 * a stack for cancels from other threads); socket operations its tasks
 * submit are armed there, and a record names the ring it is armed on
 * (`q`). "The reactor" below means the thread of the record's ring.
 *
 * Operation record (struct weft__op)
 * ----------------------------------
 * A record is shared by its owner (a future, or a listener) and the reactor.
 * It owns what the kernel may touch: the SQE template, its buffer (the tail
 * `buf`), its msghdr/sockaddr, and a counted reference to the fd object. It
 * is freed by whichever side observes  GONE && !ARMED && !QUEUED  under the
 * record lock, so nothing the kernel may still write is freed early and no
 * fd is closed under an in-flight operation.
 *
 *   QUEUED     on a staging list or the stack; `next` belongs to the pusher
 *              until the reactor pops it. Set by whoever pushes, cleared by
 *              the reactor when it pops. Never pushed twice.
 *   WANT       the owner asks the reactor to arm it (submit / insert timer)
 *   ARMED      in the kernel (final CQE not seen) or in the wheel
 *   DONE       a final result is in `res`
 *   GONE       the owner dropped it (its waker is dropped too)
 *   CANCELING  an ASYNC_CANCEL was submitted for it
 */
#ifndef WEFT_REACTOR_H
#define WEFT_REACTOR_H

#include <liburing.h>
#include <pthread.h>
#include <semaphore.h>

#include "weft/metrics.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "weft/core.h"
#include "weft/rt.h"
#include "runtime/driver.h"
#include "reactor/wheel.h"

#define WEFT__OPF_QUEUED    0x01u
#define WEFT__OPF_WANT      0x02u
#define WEFT__OPF_ARMED     0x04u
#define WEFT__OPF_DONE      0x08u
#define WEFT__OPF_GONE      0x10u
#define WEFT__OPF_CANCELING 0x20u

enum weft__op_kind {
	WEFT__OP_TIMER = 1, /* wheel entry; fires at `wl.when` */
	WEFT__OP_IO,        /* one SQE (the template), one final CQE */
	WEFT__OP_ACCEPT,    /* (multishot) accept feeding a bounded fd queue
	                     * (accept.c) */
	WEFT__OP_RECVQ,     /* multishot recv feeding a stream's queue of
	                     * provided buffers (recvq.c) */
	WEFT__OP_REAPER,    /* a POLL_ADD on the pidfd of a child whose
	                     * handle was destroyed unwaited: owned by the
	                     * reactor from its submission, freed on its
	                     * final CQE, reaps the child then (process.c) */
	WEFT__OP_WATCH,     /* a (multishot) POLL_ADD kept armed for a
	                     * weft_fd_watch: readiness bits accumulate in
	                     * u.w until a wait takes them (watch.c) */
};

/* user_data values that are not records (records are 8-aligned). */
#define WEFT__UD_CANCEL  ((uint64_t)1)  /* an ASYNC_CANCEL's own CQE */
#define WEFT__UD_EVENTFD ((uint64_t)2)  /* the reactor's wake-up read */

struct weft__fd;
struct weft__reactor;
struct weft__uq;

/* Accept queue: at this many unclaimed connections the multishot accept
 * is cancelled (backpressure: the kernel backlog holds the rest). The
 * queue itself grows past it for the completions already in flight, so no
 * accepted connection is ever dropped. */
#define WEFT__ACCEPT_HIGH 64u

/* Accept back-off after EMFILE/ENFILE/ENOBUFS/ENOMEM (accept.c): the
 * listener waits MIN ms before its next attempt, doubling per failure up
 * to MAX. MAX bounds how long queued clients wait once descriptors are
 * free again (issue 16: it was 1 s, and clients waited ~0.3 s; the bound
 * asked is 50 ms, MAX leaves room for the accept itself), and the failed
 * attempts a full fd table costs: at most 1000 / MAX a second. */
#define WEFT__ACCEPT_BACKOFF_MIN_MS 10u
#define WEFT__ACCEPT_BACKOFF_MAX_MS 40u

/* Receive queue: at this many unread buffers the stream's multishot recv
 * is cancelled; re-armed once the reader has taken them all. A slow reader
 * holds this many plus what the kernel delivered before the cancel took
 * effect (one task-work run retries a multishot recv up to 32 times when
 * data keeps coming). While the pool is scarce (more than half of it held,
 * weft__pool_scarce) a stream whose reader is not waiting holds no pool
 * buffer at all: its chunks are copied into memory of its own (`heap`,
 * the same bound) and its multishot is cancelled (recvq.c). */
#define WEFT__RECVQ_HIGH 8u

/* One received chunk: a provided buffer and how much of it is data, or
 * (heap != NULL) a copy the stream owns, len bytes (malloc'd). */
struct weft__rxbuf {
	uint16_t bid;
	uint32_t len;
	unsigned char *heap;
};

struct weft__op {
	struct weft__op *next;        /* QUEUED link; owned by the pusher */
	struct weft__reactor *r;      /* set at alloc; immutable */
	struct weft__fd *fd;          /* counted ref or NULL; immutable */
	struct weft__fd *fd2;         /* a second one (splice), or NULL; set
	                               * before the first push */
	atomic_flag lock;             /* guards flags, res, waker, acc */
	uint8_t kind;                 /* enum weft__op_kind; immutable */
	uint16_t flags;               /* WEFT__OPF_*, under lock */
	int32_t res;                  /* final CQE res, under lock */
	weft_waker waker;             /* owner's task; under lock */
	struct weft__wheel_link wl;   /* wheel or armed-list links: the thread
	                               * of the ring it is armed on only */
	/* the ring the record was last armed on (set under lock with ARMED,
	 * by that ring's thread; stable while ARMED). A receive queue's
	 * chunks come from this ring's pool. NULL before the first arm. */
	struct weft__uq *q;
	/* ---- timers stop here (they are allocated up to `sqe`) ---- */
	struct io_uring_sqe sqe;      /* template filled by the owner before the
	                               * first push; read by the reactor */
	union {
		struct {              /* kind ACCEPT, under lock (accept.c) */
			uint32_t head, len, cap;
			int32_t err;  /* an error not yet reported */
			int *fds;     /* ring of cap accepted fds */
		} acc;
		struct {              /* kind RECVQ, under lock (recvq.c) */
			uint32_t head, len, cap;
			uint32_t off; /* bytes of q[head] already taken */
			int32_t err;  /* an error not yet reported */
			bool eof;     /* the peer's FIN was received */
			bool starved; /* the last multishot ended with
			               * ENOBUFS: single-shot receives until
			               * the pool has room */
			bool lent;    /* q[head] is lent (weft__recvq_poll's
			               * lend) until weft__recvq_consume */
			bool probe;   /* armed, its first bytes not yet
			               * seen: look for a reset after them
			               * (recvq.c, "the reset probe") */
			struct weft__rxbuf *q; /* ring of cap chunks */
		} rq;
		struct {              /* kind WATCH, under lock (watch.c) */
			uint32_t rd, wr;  /* revents not yet taken, by
			                   * direction */
			uint32_t arms;    /* POLL_ADDs armed (tests) */
			bool closed;      /* the watcher was destroyed */
			weft_waker wwaker; /* the writable wait's task (the
			                    * readable one's is `waker`) */
		} w;
		struct {              /* msg ops: the kernel reads/writes these */
			struct msghdr msg;
			struct iovec iov;
			struct sockaddr_storage addr;
		} m;
	} u;
	uint32_t cap;                 /* bytes in buf */
	unsigned char buf[] __attribute__((aligned(16)));
};

/* Per-worker staging list: worker i is the only thread that touches
 * stage[i] (it pushes during its tick and hands the list over in flush). */
struct weft__stage {
	struct weft__op *head, *tail;
	char pad[64 - 2 * sizeof(void *)];
} __attribute__((aligned(64)));

/* Kernel features (probed at start; a test hook can force them off). */
#define WEFT__FEAT_MULTISHOT_ACCEPT 0x01u
#define WEFT__FEAT_DEFER_TASKRUN    0x02u  /* SINGLE_ISSUER|DEFER_TASKRUN */
#define WEFT__FEAT_EXT_ARG          0x04u  /* wait with a timeout, no SQE */
#define WEFT__FEAT_RING             0x08u  /* test hook only: no ring at all */
#define WEFT__FEAT_RECV_MULTI       0x10u  /* provided buffer ring +
                                            * multishot recv (6.0) */
#define WEFT__FEAT_POLL_MULTI       0x1000u /* multishot POLL_ADD (5.13)
                                             * for fd watchers; off: each
                                             * arm is single-shot */
#define WEFT__FEAT_BATCH_SCHED      0x20u  /* reactor thread SCHED_BATCH
                                            * (WEFT_IO_DISABLE=0x20 turns it
                                            * off, for A/B runs) */
#define WEFT__FEAT_POOL_SHARE       0x40u  /* copies out of a scarce pool
                                            * (recvq.c); WEFT_IO_DISABLE=
                                            * 0x40 turns them off, for A/B
                                            * runs and the ENOBUFS tests */
/* File system operations on the ring (fs.c); each one missing (or forced
 * off) runs as a system call on the blocking pool instead. */
#define WEFT__FEAT_FS_STATX         0x100u /* IORING_OP_STATX (5.6) */
#define WEFT__FEAT_FS_MKDIRAT       0x200u /* IORING_OP_MKDIRAT (5.15) */
#define WEFT__FEAT_FS_UNLINKAT      0x400u /* IORING_OP_UNLINKAT (5.11) */
#define WEFT__FEAT_FS_RENAMEAT      0x800u /* IORING_OP_RENAMEAT (5.11) */
#define WEFT__FEAT_FS_ALL (WEFT__FEAT_FS_STATX | WEFT__FEAT_FS_MKDIRAT |   \
			   WEFT__FEAT_FS_UNLINKAT | WEFT__FEAT_FS_RENAMEAT)

/* The provided buffer pool of multishot receives (buffer group 0 of one
 * ring; pool.c). The kernel takes buffers from the ring's head; any thread
 * gives them back at the tail under `lock` (the ring has one producer at
 * a time). One pool per ring: the functions take the pool, not the
 * reactor. */
struct weft__bufpool {
	struct io_uring_buf_ring *br;   /* NULL: no pool */
	unsigned char *mem;             /* count * size bytes */
	uint32_t count, size, mask;
	atomic_flag lock;
	/* buffers the kernel filled (the ring's thread) and buffers given
	 * back (under lock): the difference is what streams hold */
	atomic_ulong filled, returned;
	/* scarce above this many held: count / 2 (a test hook moves it) */
	_Atomic uint32_t scarce_at;
};

#define WEFT__POOL_BUFS 512u            /* buffers in the pool */
#define WEFT__POOL_BUF_SIZE 4096u       /* bytes per buffer */
#define WEFT__POOL_BGID 0

/* Counters for weft_rt_metrics (driver.c reads them, relaxed): written
 * by the reactor thread only (a load and a store, no RMW), except
 * fallbacks (the owner side, a rare path: an atomic add). */
struct weft__rstats {
	_Atomic uint64_t passes __attribute__((aligned(64)));
	_Atomic uint64_t sqes;
	_Atomic uint64_t cqes[WEFT_CQE_KINDS];
	_Atomic uint64_t timers_fired;
	_Atomic uint64_t timers_live;
	_Atomic uint64_t cancels;
	unsigned sq_tail;                   /* sqe_tail at the last count */
	_Atomic uint64_t pool_exhausted;    /* multishots ended by ENOBUFS */
	_Atomic uint64_t pool_spilled;      /* chunks copied out of the pool */
	_Atomic uint64_t probe_dead;        /* arms the reset probe stopped */
	_Atomic uint64_t fallbacks __attribute__((aligned(64)));
};

static inline void weft__rstat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
				      + n, memory_order_relaxed);
}

/* A ring records are armed on, as op.c sees it: the reactor's ring or a
 * worker's (struct weft__wring). Every field is touched only by the
 * ring's issuing thread (the reactor thread, or that worker), except
 * `pool` (any thread gives buffers back) and `stats` (relaxed reads). */
struct weft__uq {
	struct io_uring *ring;
	unsigned *inflight;                 /* final CQEs due */
	struct weft__wheel_link *armed;     /* armed I/O records */
	struct weft__bufpool *pool;         /* its provided buffers */
	struct weft__rstats *stats;
	int worker;                         /* -1: the reactor's ring */
	bool closing;                       /* refuse arms, drop wakers */
};

/* Worker-owned rings (wring.c). Each worker of the multi-thread flavour
 * owns one ring (SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG, created on
 * the worker's thread) for the socket operations its tasks submit: the
 * kernel runs their completions as task work of that worker, which reaps
 * them at its flush points and waits in the ring when it parks; the
 * reactor thread keeps timers, files, and whatever is submitted from
 * other threads. A record is armed on the ring of the worker that asks
 * for it (stage, flushed by the worker itself); a cancel of a record
 * armed on ring A from another thread is pushed on A's stack and wakes A
 * (the eventfd), never submitted on A from that thread. */
struct weft__wring {
	struct weft__uq q;
	/* handoff from other threads (cancels): Dekker pair with sleeping as
	 * the reactor's stack (reactor.c) */
	_Atomic(struct weft__op *) stack __attribute__((aligned(64)));
	atomic_bool sleeping;               /* waiting in the ring */
	atomic_bool live;                   /* the ring exists (unpark reads
	                                     * it: eventfd, else futex) */
	int efd;                            /* wakes the parked worker */
	/* the worker's thread only */
	struct weft__stage stage;           /* records to arm on this ring */
	struct io_uring ring __attribute__((aligned(64)));
	unsigned inflight;
	struct weft__wheel_link armed_io;
	bool created;                       /* ring open (creator, then the
	                                     * worker; free reads it) */
	bool live_local;                    /* as live, for the worker */
	bool efd_armed;
	/* the last enter's task work may have been cut short: the kernel
	 * runs at most 20 deferred task-work items per io_uring_enter
	 * (IO_LOCAL_TW_DEFAULT_MAX) and keeps the rest on a retry list
	 * without setting IORING_SQ_TASKRUN again, so the flag alone would
	 * leave them waiting (wring.c, ring_pass) */
	bool tw_more;
	uint64_t efd_buf;
	struct weft__bufpool pool;
	struct weft__rstats stats;
} __attribute__((aligned(64)));

struct weft__reactor {
	/* shared, written once before the thread starts */
	weft_rt *rt;
	unsigned nworkers;
	struct weft__stage *stage;          /* nworkers entries */
	struct weft__wring *wr;             /* nworkers worker rings */
	struct weft__uq mq;                 /* the reactor ring's view */

	/* handoff to the reactor (see weft__reactor_push) */
	_Atomic(struct weft__op *) stack __attribute__((aligned(64)));
	atomic_bool sleeping;               /* reactor is (about to be) blocked
	                                     * in io_uring_enter */
	atomic_bool stopping;
	/* multishot receives in use (cleared for good if the kernel refuses
	 * them); the pool is set up before the thread starts serving */
	atomic_bool recv_multi;
	/* WEFT__FEAT_FS_* the ring serves: written by the reactor thread
	 * before its start-up sem_post, read-only after (workers read it
	 * once weft_rt_create returned: the semaphore orders it) */
	unsigned fs_ops;
	/* copies out of a scarce pool are on (WEFT__FEAT_POOL_SHARE not
	 * forced off): written like fs_ops, read-only after */
	bool pool_share;
	struct weft__bufpool pool;
	int efd;                            /* eventfd that wakes the reactor */

	/* records alive (allocated, not freed); the reactor object itself is
	 * freed by stop() or, if records outlive it, by the last free */
	atomic_long live __attribute__((aligned(64)));
	atomic_bool stopped;

	/* reactor thread only */
	struct io_uring ring __attribute__((aligned(64)));
	pthread_t thread;
	unsigned features;
	uint64_t efd_buf;
	bool efd_armed;
	unsigned inflight;                  /* SQEs whose final CQE is due,
	                                     * cancels and the eventfd read too */
	struct weft__wheel wheel;
	struct weft__wheel_link armed_io;   /* list head of armed I/O records */

	/* start handshake: the thread creates the ring (single issuer) */
	sem_t ready;
	int init_err;
	char init_msg[160];
	unsigned entries;
	unsigned off;                       /* WEFT__FEAT_* forced off (hook |
	                                     * WEFT_IO_DISABLE), read once */
	bool batch_sched;                   /* asked for SCHED_BATCH */
	int policy;                         /* what the thread runs under */
	/* accepts armed without the multishot flag (reactor thread writes,
	 * tests read: weft__reactor_test_single_accepts) */
	atomic_ulong single_accepts;
	struct weft__rstats stats;          /* metrics (see above) */
	/* the paused clock (reactor/time.c has its protocol) */
	_Atomic uint32_t clock_mode __attribute__((aligned(64)));
	_Atomic uint64_t clock_ns;          /* its now, while paused */
	_Atomic uint64_t clock_seen;        /* the now of the reactor's last
	                                     * pass, once its wakes are out */
};

/* clock_mode values */
#define WEFT__CLOCK_REAL 0u
#define WEFT__CLOCK_PAUSED 1u
#define WEFT__CLOCK_AUTO 2u                 /* paused, auto-advancing */

/* The reactor's now: CLOCK_MONOTONIC, or the paused clock. acquire:
 * pairs with weft_time_pause's release store of the mode (clock_ns is
 * set before it). */
uint64_t weft__now_ns(void);
static inline uint64_t weft__reactor_now(struct weft__reactor *r)
{
	if (atomic_load_explicit(&r->clock_mode, memory_order_acquire))
		return atomic_load_explicit(&r->clock_ns,
					    memory_order_acquire);
	return weft__now_ns();
}

/* ---- reactor.c */
/* The reactor serving cx (cx->rt, else the calling thread's runtime), or
 * NULL when no runtime with I/O enabled is reachable. */
struct weft__reactor *weft__reactor_of(const weft_cx *cx);
/* Hands op (QUEUED already set by the caller) to the reactor: staged on
 * the calling worker, or pushed and the reactor woken. */
void weft__reactor_push(struct weft__reactor *r, struct weft__op *op);
void weft__reactor_flush(struct weft__reactor *r, unsigned worker);
/* Hands the cancel of op (ARMED on ring q, read under its lock; QUEUED
 * set by the caller) to q's thread. */
void weft__reactor_push_cancel(struct weft__reactor *r, struct weft__op *op,
			       struct weft__uq *q);
/* push_chain for other files (wring.c): onto the reactor's stack, wakes
 * it. */
void weft__reactor_push_foreign(struct weft__reactor *r, struct weft__op *op);

/* ---- wring.c: worker-owned rings (see struct weft__wring) */
/* At start (creating thread): worker w's ring, disabled; none without
 * DEFER_TASKRUN or on failure (its tasks then use the reactor's ring). */
void weft__wring_create(struct weft__reactor *r, unsigned w);
/* On worker w's thread: enables its ring (w becomes its issuer). */
void weft__wring_start(struct weft__reactor *r, unsigned w);
/* On worker w's thread, after its loop: cancels what is armed on its
 * ring, waits for every final CQE, closes the ring. */
void weft__wring_stop(struct weft__reactor *r, unsigned w);
/* On worker w's thread: arms what it staged, submits, reaps, wakes. */
void weft__wring_flush(struct weft__reactor *r, unsigned w);
/* On worker w's thread: waits in the ring for a completion, a push or
 * an unpark; false when w has no ring (the caller uses its futex). */
bool weft__wring_park(struct weft__reactor *r, unsigned w);
/* Any thread: wakes worker w's ring wait; false when it has none. */
bool weft__wring_unpark(struct weft__reactor *r, unsigned w);
/* Whether op goes to a worker's ring (socket operations). */
bool weft__wring_eligible(const struct weft__op *op);
/* The calling thread's worker ring when it is worker of r with one. */
struct weft__wring *weft__wring_self(struct weft__reactor *r);
/* A cancel for op, armed on wr, from any thread: staged when the caller
 * is wr's worker, else pushed on wr's stack and wr woken. */
void weft__wring_push_cancel(struct weft__reactor *r, struct weft__wring *wr,
			     struct weft__op *op);
/* Stage op on wr (its own worker's thread). */
void weft__wring_stage(struct weft__wring *wr, struct weft__op *op);
/* Reactor stop: records left on the worker rings' stacks go to the
 * reactor (none of them is armed any more). */
void weft__wring_leftovers(struct weft__reactor *r);
void weft__wring_free(struct weft__reactor *r);
/* Test hooks: how many worker rings of rt are in use now; the ring the
 * receive queue of s is armed on (a worker's index, -1 the reactor's, -2
 * not armed). */
unsigned weft__wring_test_live(weft_rt *rt);
struct weft_stream;
int weft__stream_test_ring(struct weft_stream *s);
/* batch_sched: run the reactor thread as SCHED_BATCH (reactor.c). */
int weft__reactor_start(weft_rt *rt, unsigned entries, unsigned nworkers,
			bool batch_sched, struct weft__reactor **out);
/* Test hook (I/O fault injection, test/reactor/iofault.c): when set, the
 * reactor passes it a copy of every record's CQE before dispatching it,
 * and dispatches the copy, whose res the hook may rewrite (never flags: a
 * multishot record's F_MORE is the kernel's). Set it before creating the
 * runtime, clear it after destroying it. NULL in every program but the
 * tests (weft__ names are not exported: weft.map). */
extern void (*weft__reactor_test_cqe)(const struct weft__op *op,
				      struct io_uring_cqe *cqe);
/* The CQE to dispatch (every ring's reap): cqe itself, or a copy the
 * test hook rewrote. */
static inline const struct io_uring_cqe *
weft__reactor_hooked_cqe(const struct weft__op *op,
			 const struct io_uring_cqe *cqe,
			 struct io_uring_cqe *copy)
{
	if (__builtin_expect(!weft__reactor_test_cqe, 1))
		return cqe;
	*copy = *cqe;
	weft__reactor_test_cqe(op, copy);
	return copy;
}
/* Test hook: the scheduling policy the reactor thread of rt runs under
 * (SCHED_OTHER, SCHED_BATCH), or -1 without a reactor. */
int weft__reactor_test_policy(weft_rt *rt);
/* Test hooks: the setup flags of rt's ring (IORING_SETUP_*, fixed once
 * weft_rt_create returns), and how many accepts its reactor has armed
 * single-shot so far; 0 without a reactor. */
unsigned weft__reactor_test_ring_flags(weft_rt *rt);
unsigned long weft__reactor_test_single_accepts(weft_rt *rt);
/* Test hook: arms of stream receives that the reset probe (recvq.c)
 * found on a reset or hung-up socket, over every ring of rt. */
unsigned long weft__reactor_test_probe_dead(weft_rt *rt);
void weft__reactor_stop(struct weft__reactor *r);
/* Frees r (the last record, or stop, calls it). */
void weft__reactor_free(struct weft__reactor *r);
/* Wakes the reactor if it sleeps (the paused clock moved). */
void weft__reactor_kick(struct weft__reactor *r);

/* ---- time.c: the paused clock, on the reactor thread */
/* Whether a timer at `at` (ns) is due now; with the auto-advancing clock
 * and an idle runtime, moves the clock to `at` first. */
bool weft__clock_due(struct weft__reactor *r, uint64_t at);
/* The wait's timeout for a timer at `at` (not due): the time left on
 * CLOCK_MONOTONIC, none while paused (a kick ends the wait), a short poll
 * while auto-advancing (the runtime is re-checked for idleness). */
struct __kernel_timespec *weft__clock_timeout(struct weft__reactor *r,
					      uint64_t at,
					      struct __kernel_timespec *ts);
/* Whether the paused clock moved since the pass that saw `clock_seen`
 * (reactor_wait re-checks it after announcing its sleep). */
static inline bool weft__clock_moved(struct weft__reactor *r)
{
	/* seq_cst: the reactor's half of the Dekker pair with
	 * weft_time_advance (its fetch_add, then wake()'s load of sleeping) */
	return atomic_load_explicit(&r->clock_mode, memory_order_relaxed) &&
	       atomic_load_explicit(&r->clock_ns, memory_order_seq_cst) !=
		       atomic_load_explicit(&r->clock_seen,
					    memory_order_relaxed);
}

/* ---- op.c: record lifecycle; the IO and TIMER kinds */
struct weft__op *weft__op_alloc(struct weft__reactor *r, int kind,
				struct weft__fd *fd, size_t cap);
/* Publishes a filled record to the reactor (WANT|QUEUED). */
void weft__op_submit(struct weft__op *op);
/* READY when the record is DONE (*res receives the result), else registers
 * cx's waker and returns PENDING. Spends one unit of coop budget on READY. */
weft_poll weft__op_poll(struct weft__op *op, weft_cx *cx, int32_t *res);
/* Re-arms a record whose last operation is DONE (or a fresh one) with the
 * SQE template as it is now: cx's waker, WANT|QUEUED, pushed. The owner's
 * record is then in flight again (byte streams reuse theirs). */
void weft__op_resubmit(struct weft__op *op, weft_cx *cx);
/* The owner lets go: cancels it if armed; freed on its final completion. */
void weft__op_drop(struct weft__op *op);
/* Reactor side. */
/* attend and complete run on q's thread (attend may take a NULL batch on
 * a worker ring: it wakes nothing but timers, which stay on the reactor;
 * a worker's batch flushes onto its own deque). */
void weft__op_attend(struct weft__reactor *r, struct weft__uq *q,
		     struct weft__op *op, struct weft__wake_batch *b);
void weft__op_complete(struct weft__reactor *r, struct weft__op *op,
		       const struct io_uring_cqe *cqe,
		       struct weft__wake_batch *b);
void weft__op_fire_timer(struct weft__reactor *r, struct weft__op *op,
			 struct weft__wake_batch *b);
void weft__op_abandon(struct weft__reactor *r, struct weft__op *op,
		      struct weft__wake_batch *b);
void weft__op_free(struct weft__op *op);
/* Shutdown: sends one ASYNC_CANCEL for an armed I/O record (on the ring
 * it is armed on, from that ring's thread). */
void weft__op_cancel_for_stop(struct weft__reactor *r, struct weft__op *op);
/* Requests a re-arm of an accept record (owner side, lock held: returns
 * whether the caller must push it). */
bool weft__op_want_locked(struct weft__op *op);
/* Doubles a record's queue ring (accept fds, receive chunks). */
bool weft__ring_grow(void **q, uint32_t *head, uint32_t *cap, uint32_t len,
		     size_t esz, uint32_t first);

/* One non-blocking send of iov[0..n) on socket fd (MSG_DONTWAIT |
 * MSG_NOSIGNAL): send(2) for one buffer (no msghdr or iovec array for the
 * kernel to copy in), sendmsg(2) for more. The caller loops on EINTR. */
static inline ssize_t weft__sock_send_nb(int fd, const struct iovec *iov,
					 size_t n)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)(uintptr_t)iov,
			      .msg_iovlen = n };

	if (n == 1)
		return send(fd, iov[0].iov_base, iov[0].iov_len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	return sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static inline void weft__op_lock(struct weft__op *op)
{
	/* acquire: sees everything the previous holder wrote before its
	 * release in weft__op_unlock(); pairs with that release */
	while (atomic_flag_test_and_set_explicit(&op->lock,
						 memory_order_acquire))
		;
}

static inline void weft__op_unlock(struct weft__op *op)
{
	/* release: publishes flags/res/waker to the next weft__op_lock() */
	atomic_flag_clear_explicit(&op->lock, memory_order_release);
}

/* ---- accept.c: the ACCEPT kind (reactor side; lock held where named) */
/* Sets the multishot flag on an accept's SQE (or counts a single-shot). */
void weft__accept_arm(struct weft__reactor *r, struct io_uring_sqe *sqe);
/* An accepted connection (or error) for an accept record; lock held.
 * Returns an fd to close (nobody will take it), or -1; *cancel when the
 * multishot must stop (queue at WEFT__ACCEPT_HIGH). */
int weft__accept_complete_locked(struct weft__reactor *r, struct weft__op *op,
				 int32_t res, bool more, bool *cancel);
/* At free: closes the connections nobody accepted. */
void weft__accept_release(struct weft__op *op);
/* Test hook: the back-off (ms) a listener waits before its next accept
 * attempt, as set by the last failed one; 0 when none. Read it when no
 * accept on the listener is being polled. */
struct weft_listener;
unsigned weft__listener_test_backoff_ms(struct weft_listener *l);

/* ---- watch.c: the WATCH kind (reactor side; lock held) */
/* Sets the multishot flag on a watch's POLL_ADD (when the kernel has it)
 * and counts the arm (takes the lock itself). */
void weft__watch_arm(struct weft__reactor *r, struct weft__op *op,
		     struct io_uring_sqe *sqe);
/* One CQE of a WATCH record: records the readiness, takes into *w1 and *w2
 * the wakers to wake (the final CQE wakes both: the next wait re-arms);
 * *rearm when the kernel refused the multishot flag and the record must be
 * armed again single-shot at once. */
void weft__watch_complete_locked(struct weft__reactor *r, struct weft__op *op,
				 int32_t res, bool more, weft_waker *w1,
				 weft_waker *w2, bool *rearm);
/* Takes the writable waiter's waker (shutdown paths drop it). */
weft_waker weft__watch_take_wwaker_locked(struct weft__op *op);

/* ---- process.c: the REAPER kind */
/* At free: reaps the child (waitid(P_PIDFD, WNOHANG)) if it has exited. */
void weft__reaper_release(struct weft__op *op);

/* ---- pool.c: the provided buffer pool (one per ring) */
/* Sets up p and registers it with ring (the ring's thread); 0 or -errno
 * (p->br NULL then). */
int weft__pool_init(struct weft__bufpool *p, struct io_uring *ring);
void weft__pool_free(struct weft__bufpool *p);
/* Gives n buffers back to the kernel (any thread; a leaf lock: it may be
 * taken under a record lock, never the other way round). */
void weft__pool_put(struct weft__bufpool *p, const uint16_t *bids,
		    unsigned n);
/* Counts one buffer the kernel filled (the ring's thread). */
void weft__pool_note_filled(struct weft__bufpool *p);
/* Buffers held by streams now (a sample; 0 without a pool), and whether
 * that is more than half of the pool (any thread). */
unsigned long weft__pool_in_use(struct weft__bufpool *p);
bool weft__pool_scarce(struct weft__bufpool *p);
/* Whether at most three quarters of p are held (a starved stream may
 * re-arm its multishot). */
bool weft__pool_has_room(struct weft__bufpool *p);

/* ---- recvq.c: the RECVQ kind (reactor side) */
/* One CQE of a RECVQ record; lock held. Sets *ret to a buffer to give back
 * (nobody will read it) or -1, *cancel when the multishot must stop (queue
 * full). Returns true for the first bytes of an arm that goes on: the
 * caller, unlocked, calls weft__recvq_probe. */
bool weft__recvq_complete_locked(struct weft__reactor *r, struct weft__op *op,
				 const struct io_uring_cqe *cqe, bool more,
				 bool *cancel, int *ret);
/* The reset probe (recvq.c): after an arm's first bytes, whether the
 * socket is already reset or hung up, in which case the record is marked
 * CANCELING and true returned (send its cancel). On the thread of the
 * ring the record is armed on, lock not held. */
bool weft__recvq_probe(struct weft__op *op);
/* A re-arm refused at shutdown; lock held. */
void weft__recvq_refuse_locked(struct weft__op *op);
/* At free: gives the unread chunks' buffers back to the pool. */
void weft__recvq_release(struct weft__reactor *r, struct weft__op *op);
/* Owner side, for the stream receive future and the byte streams over
 * sockets (bytes_stream.c). weft__recvq_poll: READY with *res (bytes
 * copied into buf, at most len, and taken, or with keep left queued
 * (weft_stream_peek, which also leaves a queued error); with lend != NULL
 * nothing is copied: *lend lends the head chunk's unread bytes, *res of
 * them, valid until weft__recvq_consume gives them back), 0 at end of
 * stream, -errno;
 * PENDING with cx's waker queued (*waiting set: the caller holds a
 * reference on f until weft__recvq_unwait or the next READY); or
 * WEFT__RECVQ_FALLBACK: receive single-shot this time. */
#define WEFT__RECVQ_FALLBACK 2
int weft__recvq_poll(struct weft__fd *f, struct weft__reactor *re,
		     weft_cx *cx, void *buf, size_t len, bool keep,
		     const void **lend, bool *waiting, intptr_t *res);
/* n bytes of the lent head are used up (buffers emptied go back). */
void weft__recvq_consume(struct weft__fd *f, struct weft__reactor *re,
			 size_t n);
/* Bytes queued and not yet taken (0 without a record). */
size_t weft__recvq_held(struct weft__fd *f);
/* A receive that stops waiting (dropped): takes its waker back and drops
 * its reference on f. No-op unless *waiting. */
void weft__recvq_unwait(struct weft__fd *f, bool *waiting);

/* Test hooks: unread chunks queued on a stream (0 without a record;
 * recvq.c), and pool buffers filled and not yet given back (pool.c). */
struct weft_stream;
unsigned weft__stream_test_queued(struct weft_stream *s);
unsigned long weft__pool_test_outstanding(weft_rt *rt);
/* Test hooks: of a stream's unread chunks, those still in pool buffers
 * (recvq.c); the pool counts as scarce above `at` buffers held from now
 * on (pool.c; its default is half the pool). */
unsigned weft__stream_test_pooled(struct weft_stream *s);
void weft__pool_test_scarce_at(weft_rt *rt, unsigned at);

/* ---- fdpass.c */
/* Closes the SCM_RIGHTS descriptors in a received msghdr's control data
 * (a record freed before its owner took them). */
void weft__fdpass_close_unclaimed(struct msghdr *msg);

/* ---- fs.c */
/* Test hook: the WEFT__FEAT_FS_* operations rt's ring serves (the rest
 * go to the blocking pool); 0 without a reactor. */
unsigned weft__fs_test_ring_ops(weft_rt *rt);

/* ---- probe.c */
/* Forced-off features (test hook), read by weft__reactor_start. */
void weft__reactor_test_disable(unsigned feats);
unsigned weft__reactor_test_disabled(void);
/* The test hook's mask or'ed with the WEFT_IO_DISABLE environment mask. */
unsigned weft__reactor_off(void);
/* Creates r->ring with the best flags this kernel supports and checks the
 * opcodes weft needs. Returns 0 or -errno with r->init_msg set. */
int weft__probe_ring(struct weft__reactor *r);

#endif /* WEFT_REACTOR_H */
