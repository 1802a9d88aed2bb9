/* weft/time.h - time: instants, sleep, interval, timeout.
 *
 * Timers live on the reactor's hierarchical wheel (1 ms resolution, one
 * kernel timeout for the earliest deadline). A timer never fires early: a
 * deadline is rounded up to the next millisecond tick. Registering a timer
 * from a worker costs no lock: it is staged on the worker and handed to the
 * reactor with the rest of the tick's submissions.
 *
 * Every future here is a struct to embed in a frame, with _init, _poll and
 * _drop. Call _drop from the enclosing frame's drop function if the frame
 * can be dropped while the future is pending (after READY it is a no-op).
 * Futures need a runtime with I/O enabled (the one polling them, or the
 * calling thread's); without one they complete with err = -ENODEV.
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

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

weft_instant weft_now(void);

struct weft__op;

/* ----------------------------------------------------------------- sleep */

typedef struct weft_sleep {
	weft_instant deadline;
	struct weft__op *op;   /* private: the timer record while registered */
	int err;               /* after READY: 0, -ENODEV (no reactor), -ENOMEM,
	                        * or -ECANCELED (runtime shut down first) */
} weft_sleep;

/* Completes d after the call to init (tokio's sleep). */
void weft_sleep_init(weft_sleep *s, weft_duration d);
/* Completes at deadline (at once if it has passed). */
void weft_sleep_until_init(weft_sleep *s, weft_instant deadline);
weft_poll weft_sleep_poll(weft_sleep *s, weft_cx *cx);
void weft_sleep_drop(weft_sleep *s);
/* Moves the deadline (pending or completed sleep); poll it again after. */
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

typedef struct weft_interval {
	weft_sleep sleep;        /* private */
	weft_duration period;
	weft_missed_tick missed;
	weft_instant tick;       /* after READY: the scheduled time of the tick */
} weft_interval;

/* First tick at start (immediately if start <= now), then every period
 * (0 is taken as 1 ms). */
void weft_interval_init(weft_interval *iv, weft_instant start,
			weft_duration period, weft_missed_tick missed);
weft_poll weft_interval_tick_poll(weft_interval *iv, weft_cx *cx);
void weft_interval_drop(weft_interval *iv);

/* --------------------------------------------------------------- timeout */

/* Runs a child future (held by the caller, usually in the same frame) with
 * a time limit. READY with err = 0 when the child completed first (its
 * WEFT_RETURN went to the caller's output slot: use WEFT_AWAIT_INTO), or
 * err = -ETIMEDOUT when the limit passed first: the child's drop function
 * has then run (it was cancelled). */
typedef struct weft_timeout {
	weft_poll_fn poll;
	weft_drop_fn drop;
	void *child;
	weft_sleep sleep;        /* private */
	int err;
	bool finished;           /* private */
} weft_timeout;

void weft_timeout_init(weft_timeout *t, weft_poll_fn poll, weft_drop_fn drop,
		       void *child, weft_duration limit);
weft_poll weft_timeout_poll(weft_timeout *t, weft_cx *cx);
/* Drops the sleep and, if neither finished, the child. */
void weft_timeout_drop(weft_timeout *t);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_TIME_H */
