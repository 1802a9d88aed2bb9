/* weft/time.h - time: instants, sleep, interval, timeout.
 *
 * Timers live on the reactor's hierarchical wheel (1 ms resolution, one
 * kernel timeout for the earliest deadline). A timer never fires early: a
 * deadline is rounded up to the next millisecond tick. Registering a timer
 * from a worker costs no lock: it is staged on the worker and handed to the
 * reactor with the rest of the tick's submissions.
 *
 * Every future here has the shape of core.h (_init, _poll, _drop, `res`)
 * and is a struct to embed in a frame. Call _drop from the enclosing
 * frame's drop function if the frame can be dropped while the future is
 * pending (after READY it is a no-op). Futures need a runtime with I/O
 * enabled (the one polling them, or the calling thread's); without one
 * they complete with res = -ENODEV. Debug builds abort when _init finds the
 * future's timer still pending (use _reset, or _drop first).
 *
 * Threads: weft_now may be called from any thread. A timer future is
 * polled by the task that holds it; it may be initialised on one thread
 * and polled on another (a task moves between workers).
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "combinators.h"
#include "core.h"
#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* A point on CLOCK_MONOTONIC, and a span, both in nanoseconds. */
typedef uint64_t weft_instant;
typedef uint64_t weft_duration;

#define WEFT_NS ((weft_duration)1)
#define WEFT_US ((weft_duration)1000)
#define WEFT_MS ((weft_duration)1000000)
#define WEFT_SEC ((weft_duration)1000000000)

/* The current time on CLOCK_MONOTONIC, in nanoseconds; on a thread of
 * a runtime whose clock is paused (a worker, a block_on caller), that
 * runtime's paused clock (weft_time_pause). */
weft_instant weft_now(void);

/* ---------------------------------------------------------- paused clock */

/* A paused clock, for tests (tokio's time::pause): the runtime's time
 * stops at the call (rounded up to a whole millisecond) and moves only
 * when weft_time_advance says so, or, with auto_advance, by itself when
 * the runtime is idle: every worker parked, no task queued, no
 * block_on caller running its future, no blocking-pool job queued or
 * running. Then the clock jumps straight to the earliest timer, whose
 * tasks run before it jumps again: a test of a 30 s timeout takes no 30 s
 * and timers fire in deadline order. Sleep, sleep_until, interval and
 * timeout all follow it, as does weft_now on the runtime's threads
 * (weft_time_now(rt) from any thread). I/O does not stop auto-advance
 * (a task waiting on a socket counts as idle). Timers keep their 1 ms
 * resolution: a sleep fires once the clock reaches its deadline rounded
 * up to the millisecond. There is no way back to the real clock.
 * Call it before the tasks that use time start (sleeps registered before
 * it were computed on the real clock, which the paused one continues).
 * Calling it again only changes auto_advance. Returns 0, -EINVAL (rt
 * NULL), -ENODEV (rt has no reactor). Any thread. */
int weft_time_pause(weft_rt *rt, bool auto_advance);

/* Moves rt's paused clock forward by d and returns once every timer due
 * by the new time has fired (its task woken: not run yet; a yield or a
 * join lets it run). Returns 0, -EINVAL (rt NULL, or its clock is not
 * paused), -ENODEV (no reactor), -ESHUTDOWN (rt's reactor is stopping).
 * Any thread, a task's too (it waits, without blocking in the kernel, for
 * the reactor's next pass); not concurrently with weft_rt_shutdown. */
int weft_time_advance(weft_rt *rt, weft_duration d);

/* rt's now: its paused clock, or CLOCK_MONOTONIC (also for rt NULL or
 * without a reactor). Any thread. */
weft_instant weft_time_now(weft_rt *rt);

/* True while rt's clock is paused. Any thread. */
bool weft_time_is_paused(weft_rt *rt);

struct weft__op;

/* ----------------------------------------------------------------- sleep */

typedef struct weft_sleep {
	weft_instant deadline;
	struct weft__op *op;   /* private: the timer record while registered */
	intptr_t res;          /* after READY: 0, -ENODEV (no reactor), -ENOMEM,
	                        * or -ECANCELED (runtime shut down first) */
} weft_sleep;
WEFT_FUTURE_EXTERN(weft_sleep);

/* Completes d after the call to init (tokio's sleep). */
void weft_sleep_init(weft_sleep *s, weft_duration d);
/* Completes at deadline (at once if it has passed). Initialises the same
 * future as weft_sleep_init. */
void weft_sleep_until_init(weft_sleep *s, weft_instant deadline);
weft_poll weft_sleep_poll(weft_sleep *s, weft_cx *cx);
/* Releases the timer record; the deadline stays: a dropped sleep polled
 * again registers a new timer for the same deadline (so a select that
 * drops a losing sleep does not restart it; WEFT_BRANCH_KEEP avoids even
 * the new record). */
void weft_sleep_drop(weft_sleep *s);
/* Moves the deadline of a sleep in any state (pending, completed, never
 * polled): its timer, if any, is released, and the next poll waits for the
 * new deadline. The way to re-arm a sleep that may still be pending (a
 * timer created once in a select loop). */
void weft_sleep_reset(weft_sleep *s, weft_instant deadline);

/* -------------------------------------------------------------- interval */

/* What a tick that comes late by a period or more does (tokio's
 * MissedTickBehavior): BURST fires the missed ticks back to back, DELAY
 * schedules the next tick a period after now, SKIP keeps the original
 * schedule and drops the missed ticks. */
typedef enum weft_missed_tick {
	WEFT_MISSED_BURST = 0,
	WEFT_MISSED_DELAY,
	WEFT_MISSED_SKIP,
} weft_missed_tick;

/* An interval is an object embedded in caller memory (_init/_destroy); its
 * ticks are awaited one at a time with the weft_interval_tick future. The
 * interval keeps the timer of the next tick, so a tick future dropped
 * while waiting (a select branch that lost) loses no tick: the next tick
 * future waits for the same one. */
typedef struct weft_interval {
	weft_sleep sleep;        /* private: the next tick's timer */
	weft_duration period;
	weft_missed_tick missed;
} weft_interval;

/* First tick at start (immediately if start <= now), then every period
 * (0 is taken as 1 ms). Debug builds abort if iv's timer is still pending
 * (weft_interval_destroy it first). */
void weft_interval_init(weft_interval *iv, weft_instant start,
			weft_duration period, weft_missed_tick missed);
/* Releases the interval's timer. No tick future may be in use on it. */
void weft_interval_destroy(weft_interval *iv);

/* Waits for the interval's next tick. READY with res = 0 and tick = the
 * scheduled time of the tick (not when it was seen), or res < 0 (-ENODEV,
 * -ENOMEM, -ECANCELED: the tick is not consumed). One tick future at a
 * time per interval; the interval must outlive it. */
typedef struct weft_interval_tick {
	weft_interval *iv;
	weft_instant tick;       /* after READY with res == 0 */
	intptr_t res;
} weft_interval_tick;
WEFT_FUTURE_EXTERN(weft_interval_tick);

void weft_interval_tick_init(weft_interval_tick *t, weft_interval *iv);
weft_poll weft_interval_tick_poll(weft_interval_tick *t, weft_cx *cx);
/* Nothing to release (the timer belongs to the interval). */
void weft_interval_tick_drop(weft_interval_tick *t);

/* --------------------------------------------------------------- timeout */

/* Runs a child future (held by the caller, usually in the same frame;
 * named by WEFT_BRANCH(name, &f->child)) with a time limit. READY with
 * res = the child's own result when it completed first (also in the
 * child), or res = -ETIMEDOUT with timed_out set when the limit passed
 * first: the child's drop function has then run (it was cancelled;
 * not for a WEFT_BRANCH_KEEP child, which stays registered). A
 * failing timer (no reactor: -ENODEV) also cancels the child and gives
 * that error. */
typedef struct weft_timeout {
	weft_branch child;
	weft_sleep sleep;        /* private */
	bool timed_out;
	intptr_t res;
} weft_timeout;
WEFT_FUTURE_EXTERN(weft_timeout);

void weft_timeout_init(weft_timeout *t, weft_branch child,
		       weft_duration limit);
/* The deadline form (tokio's timeout_at): the limit is the instant
 * deadline (a deadline already passed still polls the child once, as a
 * zero limit does: a child that is ready at once wins). Initialises the
 * same future as weft_timeout_init; poll and drop it the same way. */
void weft_timeout_at_init(weft_timeout *t, weft_branch child,
			  weft_instant deadline);
weft_poll weft_timeout_poll(weft_timeout *t, weft_cx *cx);
/* Drops the sleep and, if neither finished, the child. */
void weft_timeout_drop(weft_timeout *t);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_TIME_H */
