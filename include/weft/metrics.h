/* weft/metrics.h - observability: runtime metrics (per worker, runtime
 * wide, reactor), a dump of the live tasks, and the metrics in the
 * Prometheus text exposition format.
 *
 * The metrics are counters the threads of the runtime keep for
 * themselves (each worker in its own cache line, the reactor thread in
 * its own), read by weft_rt_metrics without stopping or locking any
 * worker. They are always on. The long-poll detector, the task hooks and
 * task tracking (spawn sites, ages, poll counts, the dump) are set up with
 * the builder's `obs` member (weft/rt.h, weft_obs_opts).
 *
 * Errors are negative errno values. Functions returning int return
 * -EINVAL for a NULL argument they need.
 *
 * Threads: every function here may be called from any thread, a task's
 * or not, while the runtime runs, and concurrently with each other.
 */
#ifndef WEFT_METRICS_H
#define WEFT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* -------------------------------------------------------------- metrics */

/* One worker's counters (totals since the runtime started, except the
 * depth). Each is exact for its own worker; taken together they are a
 * sample, not one instant (the worker keeps running while they are
 * read). */
typedef struct weft_worker_metrics {
	uint64_t polls;           /* task polls (current-thread flavour: and
	                           * the block_on future's polls) */
	uint64_t runs;            /* polls of tasks taken from a queue:
	                           * polls - lifo_runs */
	uint64_t lifo_runs;       /* polls of tasks run from the LIFO slot */
	uint64_t steal_attempts;  /* looks into another worker's deque */
	uint64_t steals;          /* looks that took something */
	uint64_t tasks_stolen;    /* tasks those looks took */
	uint64_t injector_pulls;  /* batches taken from the injector */
	uint64_t budget_yields;   /* polls that ended by a budget-forced yield */
	uint64_t parks;           /* times the worker went to sleep */
	uint64_t unparks;         /* times it woke from that sleep */
	uint64_t spawned;         /* tasks spawned from this worker */
	uint64_t long_polls;      /* long polls the detector saw here */
	uint64_t busy_ns;         /* time not parked (up to the read) */
	uint64_t queue_depth;     /* tasks in its deque now */
} weft_worker_metrics;

/* Completion kinds counted by the reactor (weft_reactor_metrics.cqes). */
enum {
	WEFT_CQE_IO,       /* one-shot I/O operations (read, write, connect) */
	WEFT_CQE_ACCEPT,   /* multishot accepts */
	WEFT_CQE_RECVQ,    /* multishot receives into the buffer pool */
	WEFT_CQE_CANCEL,   /* the reactor's own cancellation requests */
	WEFT_CQE_WAKE,     /* the reactor's wake-up eventfd read */
	WEFT_CQE_OTHER,    /* io_uring's wait timeouts */
	WEFT_CQE_KINDS
};

/* The io_uring reactor's counters (all 0 for a runtime without it). */
typedef struct weft_reactor_metrics {
	uint64_t passes;          /* loop passes of the reactor thread */
	uint64_t sqes;            /* submission entries handed to the kernel */
	uint64_t cqes[WEFT_CQE_KINDS]; /* completions reaped, by kind */
	uint64_t timers_fired;    /* timer entries that expired */
	uint64_t timers_live;     /* timer entries in the wheel at the
	                           * reactor's last pass */
	uint64_t cancellations;   /* cancellation requests submitted */
	uint64_t pool_buffers;    /* provided buffers in the pool (0: none) */
	uint64_t pool_in_use;     /* of them held by streams now */
	uint64_t pool_fallbacks;  /* receives that ran dry of pool buffers and
	                           * fell back to a plain read */
	/* added after 1.1.0 (filled when weft_metrics.size holds them): */
	uint64_t pool_exhausted;  /* multishot receives that ended because the
	                           * pool was empty (ENOBUFS) */
	uint64_t pool_spilled;    /* received chunks copied out of the pool
	                           * into memory of their stream's own: the
	                           * pool was more than half held and the
	                           * stream's reader was not waiting */
} weft_reactor_metrics;

/* The metrics of one runtime. Versioned by its first field: the caller
 * sets `size` to sizeof(weft_metrics) as it was compiled (weft_metrics_init
 * does), and the library fills only what that size holds, so a program
 * built against an older header keeps working with a newer library.
 * Fields added later go at the end. */
typedef struct weft_metrics {
	size_t size;              /* in: sizeof(weft_metrics) */
	/* in: where the per-worker counters go, and how many entries fit
	 * (NULL / 0: none are filled) */
	weft_worker_metrics *workers;
	unsigned workers_cap;
	unsigned nworkers;        /* out: worker slots (entries filled:
	                           * the smaller of this and workers_cap) */
	uint64_t tasks_live;      /* tasks spawned and not yet freed */
	uint64_t tasks_spawned;   /* every task spawned so far */
	uint64_t injector_depth;  /* tasks waiting in the injector */
	uint64_t long_polls;      /* long polls reported (all workers) */
	uint64_t blocking_threads; /* blocking-pool threads alive */
	uint64_t blocking_idle;   /* of them waiting for a job */
	uint64_t blocking_queue;  /* jobs queued, not yet started */
	weft_reactor_metrics reactor;
} weft_metrics;

/* Prepares m: zeroes it, sets size, and the worker array (NULL, 0 for
 * none). */
void weft_metrics_init(weft_metrics *m, weft_worker_metrics *workers,
		       unsigned workers_cap);

/* Fills m (prepared with weft_metrics_init) with rt's metrics. Never
 * blocks a worker or the reactor: counters are read with relaxed loads;
 * the blocking pool's three numbers are read under its lock (held for
 * those three loads). Returns 0, or -EINVAL (rt or m NULL, or m->size
 * smaller than the first version's). */
int weft_rt_metrics(weft_rt *rt, weft_metrics *m);

/* --------------------------------------------------------- Prometheus */

/* Writes m in the Prometheus text exposition format (version 0.0.4): a
 * HELP and a TYPE line per metric family, then its samples, per-worker
 * ones labelled {worker="N"}, the completions {kind="io"} and so on;
 * counters end in _total, times are in seconds. At most len bytes are
 * written, always NUL-terminated when len > 0.
 * Returns the length of the whole text (as snprintf: a result >= len
 * means it was cut; call again with a larger buffer; 16 KiB holds a
 * runtime of 32 workers), or -EINVAL (m or buf NULL with len > 0). */
intptr_t weft_metrics_prometheus(const weft_metrics *m, char *buf,
				 size_t len);

/* As weft_metrics_prometheus, written to the file descriptor fd (all of
 * it, retrying short writes and EINTR). Returns the bytes written, or
 * -EINVAL, -ENOMEM, or the write's -errno. */
intptr_t weft_metrics_prometheus_fd(const weft_metrics *m, int fd);

/* ----------------------------------------------------------- task dump */

/* A live task's state in a dump. */
typedef enum weft_task_state {
	WEFT_TASK_IDLE,        /* waiting to be woken */
	WEFT_TASK_NOTIFIED,    /* queued to run */
	WEFT_TASK_RUNNING,     /* being polled now */
	WEFT_TASK_COMPLETING,  /* finished; its memory not yet released
	                        * (a join handle or waker holds it) */
} weft_task_state;

/* What a task waits on, as the leaf future it last waited in said when
 * it returned PENDING (weft_task_info.wait_kind and .wait). Said by
 * weft_sleep (and the interval and timeout built on it), the stream send
 * and receive futures of weft/net.h, and the mpsc send, reserve and
 * receive futures; a task waiting elsewhere shows WEFT_WAIT_UNKNOWN, and
 * one in a select-like combinator shows the last leaf polled. */
typedef enum weft_wait_kind {
	WEFT_WAIT_UNKNOWN,     /* not said (or never pending yet) */
	WEFT_WAIT_TIMER,       /* wait: the deadline (a weft_instant, ns) */
	WEFT_WAIT_FD,          /* wait: the file descriptor */
	WEFT_WAIT_CHANNEL,     /* wait: the channel's address (the rx or tx
	                        * handle's channel, as a number) */
} weft_wait_kind;

/* The name of a wait kind ("?", "timer", "fd", "channel"). */
const char *weft_wait_kind_name(weft_wait_kind k);

/* One task of a dump. */
typedef struct weft_task_info {
	uintptr_t task;           /* the task's address: its id in reports
	                           * (weft_long_poll.task, the hooks) */
	uint64_t id;              /* its weft_join_id, 0 when never asked */
	weft_task_state state;
	const weft_future_type *type; /* its future type */
	const char *name;         /* the future's name (WEFT_FUTURE) */
	const char *symbol;       /* the poll function's symbol (dladdr), or
	                           * NULL when it is not exported */
	const char *file;         /* spawn site (WEFT_SPAWN), NULL when */
	unsigned line;            /* spawned through weft_spawn */
	int worker;               /* owning worker, -1: spawned from outside */
	uint64_t age_ns;          /* since the spawn */
	uint64_t polls;           /* polls so far */
	const char *task_name;    /* weft_spawn_named's name, or NULL */
	/* added in 1.2 (the library fills them; a program built against
	 * 1.1 only reads the fields before) */
	uint64_t poll_ns;         /* time spent in its polls so far */
	weft_wait_kind wait_kind; /* what its last PENDING poll waited on */
	uint64_t wait;            /* the deadline, fd or address (wait_kind) */
} weft_task_info;

/* Calls fn(arg, info) for every live task of rt, then returns. The
 * records are copied one worker at a time under that worker's list lock
 * (held only for the copy: spawns and frees on that worker wait that
 * long, nothing else does), and fn runs after, with no lock held, so it
 * may do anything, call weft_rt_dump or spawn included. A list that grew
 * past the buffer sized for it is copied again into a larger one, so a
 * task that lives through the whole dump is in it exactly once; a task
 * spawned or freed meanwhile may or may not be. A task spawned from
 * outside the runtime is in no worker's list until a worker first runs it
 * (and adopts it): a dump before that leaves it out.
 * Needs task tracking (weft_obs_opts.track_tasks). Returns the number of
 * tasks reported, or -EINVAL (rt or fn NULL), -ENOTSUP (tracking is off),
 * -ENOMEM (no memory for the copy). */
intptr_t weft_rt_dump(weft_rt *rt,
		      void (*fn)(void *arg, const weft_task_info *info),
		      void *arg);

/* weft_rt_dump writing one line per task to fd:
 *   task 0x55d0c1a2b3c0 id 0 idle name ticker sym ticker_poll
 *   at main.c:42 worker 1 age 1.250s polls 17 busy 0.002s
 *   waits timer in 0.480s
 * (one line; "waits" as wait_kind says: "timer in S" (or "timer due"
 * once the deadline has passed), "fd N", "channel 0x..."; left out when
 * unknown). Returns the number of tasks, or as weft_rt_dump, or a write's -errno. */
intptr_t weft_rt_dump_fd(weft_rt *rt, int fd);

/* The name of a task state ("idle", "notified", "running", "completing"),
 * "?" for another value. */
const char *weft_task_state_name(weft_task_state s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_METRICS_H */
