/* reactor/time.c - sleep, interval and timeout futures (weft/time.h).
 *
 * A sleep allocates a timer record at its first pending poll and hands it
 * to the reactor (staged on the worker: no lock is taken per timer). The
 * record's tick is the deadline rounded up to the next millisecond, so the
 * reactor, which fires a tick once the clock has reached it, never wakes a
 * sleep early. Dropping a pending sleep asks the reactor to unlink and
 * free the record (op.c). An interval owns the sleep of its next tick; a
 * tick future polls it.
 *
 * The paused clock (weft_time_pause). The reactor reads its now through
 * weft__reactor_now: CLOCK_MONOTONIC, or clock_ns while clock_mode is set;
 * weft_now reads the same for the calling thread's runtime, so sleeps,
 * intervals and timeouts all follow it. clock_ns only moves forward: by
 * weft_time_advance (any thread), or by the reactor itself when the mode
 * is AUTO and the runtime is idle (weft__clock_due: the clock jumps to
 * the earliest timer, whose tasks then run before the next jump). The
 * reactor fires the wheel up to the clock each pass, flushes the wakes,
 * then publishes the now it used in clock_seen; weft_time_advance returns
 * once clock_seen has caught up, so every timer it made due has woken
 * its task. Pairs:
 *   1. weft_time_pause: clock_ns, then the mode (release) -> every
 *      weft__reactor_now (acquire of the mode).
 *   2. weft_time_advance: fetch_add of clock_ns (seq_cst), then wake()'s
 *      seq_cst load of `sleeping` <-> reactor_wait: seq_cst store of
 *      `sleeping`, then weft__clock_moved's seq_cst load of clock_ns. A
 *      Dekker pair: the reactor sees the new time, or the advancer sees
 *      it asleep and writes the eventfd.
 *   3. the reactor's release store of clock_seen after its wake flush ->
 *      weft_time_advance's acquire load.
 */
#include <errno.h>
#include <sched.h>

#include "weft/time.h"
#include "reactor/reactor.h"
#include "runtime/note.h"

/* The calling thread's runtime's reactor (NULL outside any). */
static struct weft__reactor *current_reactor(void)
{
	weft_rt *rt = weft_rt_current();

	return rt ? weft__rt_driver(rt) : NULL;
}

weft_instant weft_now(void)
{
	struct weft__reactor *r = current_reactor();

	return r ? weft__reactor_now(r) : weft__now_ns();
}

/* ----------------------------------------------------------- paused clock */

weft_instant weft_time_now(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;

	return r ? weft__reactor_now(r) : weft__now_ns();
}

bool weft_time_is_paused(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;

	/* relaxed: a snapshot of the mode only */
	return r && atomic_load_explicit(&r->clock_mode, memory_order_relaxed);
}

int weft_time_pause(weft_rt *rt, bool auto_advance)
{
	struct weft__reactor *r;
	uint32_t mode = auto_advance ? WEFT__CLOCK_AUTO : WEFT__CLOCK_PAUSED;
	uint32_t old = WEFT__CLOCK_REAL;

	if (!rt)
		return -EINVAL;
	r = weft__rt_driver(rt);
	if (!r)
		return -ENODEV;
	/* a whole millisecond, so an advance by whole milliseconds lands on
	 * the ticks timers are rounded up to */
	if (!atomic_load_explicit(&r->clock_mode, memory_order_relaxed))
		atomic_store_explicit(&r->clock_ns,
				      (weft__now_ns() + WEFT_MS - 1) / WEFT_MS *
					      WEFT_MS,
				      memory_order_relaxed);
	/* release: pair 1 (clock_ns before the mode). A CAS from REAL, or a
	 * plain store when only the auto flag changes; two threads pausing
	 * at once both set a clock no earlier than the wheel's ticks. */
	if (!atomic_compare_exchange_strong_explicit(
		    &r->clock_mode, &old, mode, memory_order_release,
		    memory_order_relaxed))
		atomic_store_explicit(&r->clock_mode, mode,
				      memory_order_release);
	weft__reactor_kick(r);
	return 0;
}

int weft_time_advance(weft_rt *rt, weft_duration d)
{
	struct weft__reactor *r;
	uint64_t target;

	if (!rt)
		return -EINVAL;
	r = weft__rt_driver(rt);
	if (!r)
		return -ENODEV;
	/* relaxed: the mode only gates the call */
	if (!atomic_load_explicit(&r->clock_mode, memory_order_relaxed))
		return -EINVAL;
	/* seq_cst: pair 2 (the clock before wake()'s look at `sleeping`) */
	target = atomic_fetch_add_explicit(&r->clock_ns, d,
					   memory_order_seq_cst) + d;
	weft__reactor_kick(r);
	/* acquire: pair 3 (the wakes of what fell due are out) */
	while (atomic_load_explicit(&r->clock_seen, memory_order_acquire) <
	       target) {
		/* relaxed: a stopping reactor advances no more */
		if (atomic_load_explicit(&r->stopping, memory_order_relaxed))
			return -ESHUTDOWN;
		sched_yield();
	}
	return 0;
}

bool weft__clock_due(struct weft__reactor *r, uint64_t at)
{
	uint64_t now;

	/* acquire: as weft__reactor_now */
	if (atomic_load_explicit(&r->clock_mode, memory_order_acquire) !=
	    WEFT__CLOCK_AUTO)
		return at <= weft__reactor_now(r);
	now = atomic_load_explicit(&r->clock_ns, memory_order_acquire);
	if (at <= now)
		return true;
	if (!weft__rt_is_idle(r->rt))
		return false;
	/* relaxed: only the reactor and advancers write it, both forward;
	 * the reactor's next pass reads it on this thread */
	while (now < at &&
	       !atomic_compare_exchange_weak_explicit(
		       &r->clock_ns, &now, at, memory_order_relaxed,
		       memory_order_relaxed))
		;
	return true;
}

struct __kernel_timespec *weft__clock_timeout(struct weft__reactor *r,
					      uint64_t at,
					      struct __kernel_timespec *ts)
{
	/* relaxed: the mode decides only how long to wait */
	uint32_t mode = atomic_load_explicit(&r->clock_mode,
					     memory_order_relaxed);
	uint64_t left, now;

	if (mode == WEFT__CLOCK_PAUSED)
		return NULL;
	if (mode == WEFT__CLOCK_AUTO) {
		left = WEFT_MS;  /* look at the runtime again in a while */
	} else {
		now = weft__now_ns();
		left = at > now ? at - now : 0;
	}
	ts->tv_sec = (long long)(left / 1000000000u);
	ts->tv_nsec = (long long)(left % 1000000000u);
	return ts;
}

/* (Re)arms s without looking at its old state: s->op is NULL here. */
static void sleep_set(weft_sleep *s, weft_instant deadline)
{
	s->deadline = deadline;
	s->op = NULL;
	s->res = 0;
}

void weft_sleep_until_init(weft_sleep *s, weft_instant deadline)
{
	WEFT_DEBUG_CHECK(!s->op, "weft_sleep_init",
			 "the sleep is still pending (its timer would leak, and "
			 "the reactor with it); call weft_sleep_drop first or "
			 "use weft_sleep_reset");
	sleep_set(s, deadline);
}

void weft_sleep_init(weft_sleep *s, weft_duration d)
{
	weft_sleep_until_init(s, weft_now() + d);
}

void weft_sleep_drop(weft_sleep *s)
{
	if (s->op) {
		weft__op_drop(s->op);
		s->op = NULL;
	}
}

void weft_sleep_reset(weft_sleep *s, weft_instant deadline)
{
	weft_sleep_drop(s);
	sleep_set(s, deadline);
}

static weft_poll sleep_register(weft_sleep *s, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	struct weft__op *op;

	if (!r) {
		s->res = -ENODEV;
		return WEFT_READY;
	}
	op = weft__op_alloc(r, WEFT__OP_TIMER, NULL, 0);
	if (!op) {
		s->res = -ENOMEM;
		return WEFT_READY;
	}
	op->wl.when = (s->deadline + WEFT_MS - 1) / WEFT_MS;
	op->waker = weft_waker_clone(&cx->waker); /* not shared yet */
	s->op = op;
	weft__op_submit(op);
	return WEFT_PENDING;
}

weft_poll weft_sleep_poll(weft_sleep *s, weft_cx *cx)
{
	int32_t res;

	if (!s->op) {
		if (weft_now() < s->deadline) {
			/* the dump's wait note (runtime/note.h): one store */
			weft__cx_note(cx, WEFT_WAIT_TIMER, s->deadline);
			return sleep_register(s, cx);
		}
		if (!weft_coop_proceed(cx))
			return WEFT_PENDING;
		return WEFT_READY;
	}
	if (weft__op_poll(s->op, cx, &res) == WEFT_PENDING) {
		weft__cx_note(cx, WEFT_WAIT_TIMER, s->deadline);
		return WEFT_PENDING;
	}
	weft__op_drop(s->op);
	s->op = NULL;
	s->res = res;
	return WEFT_READY;
}

WEFT_FUTURE_DEFINE(weft_sleep, weft_sleep_drop);

/* -------------------------------------------------------------- interval */

void weft_interval_init(weft_interval *iv, weft_instant start,
			weft_duration period, weft_missed_tick missed)
{
	WEFT_DEBUG_CHECK(!iv->sleep.op, "weft_interval_init",
			 "the interval's timer is still pending (it would "
			 "leak); call weft_interval_destroy first");
	iv->period = period ? period : WEFT_MS;
	iv->missed = missed;
	sleep_set(&iv->sleep, start);
}

void weft_interval_destroy(weft_interval *iv)
{
	weft_sleep_drop(&iv->sleep);
}

/* The tick after the one scheduled at `tick`, seen at `now`. */
static weft_instant interval_next(const weft_interval *iv, weft_instant tick,
				  weft_instant now)
{
	weft_instant p = iv->period;

	if (now < tick + p)
		return tick + p;
	switch (iv->missed) {
	case WEFT_MISSED_DELAY:
		return now + p;
	case WEFT_MISSED_SKIP:
		return tick + p * ((now - tick) / p + 1);
	case WEFT_MISSED_BURST:
	default:
		return tick + p;
	}
}

void weft_interval_tick_init(weft_interval_tick *t, weft_interval *iv)
{
	t->iv = iv;
	t->tick = 0;
	t->res = 0;
}

weft_poll weft_interval_tick_poll(weft_interval_tick *t, weft_cx *cx)
{
	weft_interval *iv = t->iv;
	weft_instant tick;

	if (weft_sleep_poll(&iv->sleep, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	tick = iv->sleep.deadline;
	t->res = iv->sleep.res;
	if (t->res < 0) {
		/* the tick is not consumed: the next tick future retries it */
		sleep_set(&iv->sleep, tick);
		return WEFT_READY;
	}
	t->tick = tick;
	sleep_set(&iv->sleep, interval_next(iv, tick, weft_now()));
	return WEFT_READY;
}

void weft_interval_tick_drop(weft_interval_tick *t)
{
	(void)t;
}

WEFT_FUTURE_DEFINE(weft_interval_tick, weft_interval_tick_drop);

/* --------------------------------------------------------------- timeout */

void weft_timeout_at_init(weft_timeout *t, weft_branch child,
			  weft_instant deadline)
{
	WEFT_DEBUG_CHECK(!t->sleep.op, "weft_timeout_init",
			 "the timeout is still pending (its timer would leak); "
			 "call weft_timeout_drop first");
	t->child = child;
	t->timed_out = false;
	t->res = 0;
	weft_sleep_until_init(&t->sleep, deadline);
}

void weft_timeout_init(weft_timeout *t, weft_branch child,
		       weft_duration limit)
{
	weft_timeout_at_init(t, child, weft_now() + limit);
}

weft_poll weft_timeout_poll(weft_timeout *t, weft_cx *cx)
{
	weft_branch *c = &t->child;

	if (c->done)
		return WEFT_READY;
	if (c->type->poll(c->fut, cx) == WEFT_READY) {
		weft_sleep_drop(&t->sleep);
		c->done = true;
		t->res = weft_future_res(c->type, c->fut);
		return WEFT_READY;
	}
	if (weft_sleep_poll(&t->sleep, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	if (c->type->drop && !c->keep)
		c->type->drop(c->fut);
	c->done = c->dropped = true;
	t->timed_out = t->sleep.res == 0;
	t->res = t->sleep.res ? t->sleep.res : -ETIMEDOUT;
	return WEFT_READY;
}

void weft_timeout_drop(weft_timeout *t)
{
	weft_sleep_drop(&t->sleep);
	if (!t->child.done && !t->child.dropped && !t->child.keep &&
	    t->child.type && t->child.type->drop)
		t->child.type->drop(t->child.fut);
	t->child.done = t->child.dropped = true;
}

WEFT_FUTURE_DEFINE(weft_timeout, weft_timeout_drop);
