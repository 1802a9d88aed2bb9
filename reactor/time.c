/* reactor/time.c - sleep, interval and timeout futures (weft/time.h).
 *
 * A sleep allocates a timer record at its first pending poll and hands it
 * to the reactor (staged on the worker: no lock is taken per timer). The
 * record's tick is the deadline rounded up to the next millisecond, so the
 * reactor, which fires a tick once the clock has reached it, never wakes a
 * sleep early. Dropping a pending sleep asks the reactor to unlink and
 * free the record (op.c). An interval owns the sleep of its next tick; a
 * tick future polls it. No atomics here.
 */
#include <errno.h>

#include "weft/time.h"
#include "reactor/reactor.h"
#include "runtime/note.h"

weft_instant weft_now(void)
{
	return weft__now_ns();
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

void weft_timeout_init(weft_timeout *t, weft_branch child,
		       weft_duration limit)
{
	WEFT_DEBUG_CHECK(!t->sleep.op, "weft_timeout_init",
			 "the timeout is still pending (its timer would leak); "
			 "call weft_timeout_drop first");
	t->child = child;
	t->timed_out = false;
	t->res = 0;
	weft_sleep_init(&t->sleep, limit);
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
