/* fuzz/wheel.c - libFuzzer harness for the reactor's timer wheel
 * (reactor/wheel.c, compiled into the harness: it is internal).
 *
 * Input: 8 bytes of start time (so slot and level boundaries fall
 * anywhere), then a script of 3-byte ops [op][a][b] on up to 64 timers,
 * checked against a model that keeps each timer's deadline and state:
 *  - insert (timer a%64 when idle) at now + a delay drawn from b and the
 *    op byte on every scale from 0 ms to past the wheel's span (2^36 ms):
 *    insert returns false exactly when the deadline is not after the
 *    wheel's time (the caller then fires it);
 *  - cancel (remove, when armed): it must never fire;
 *  - advance now by a delay on the same scales: every armed timer with
 *    deadline <= now fires exactly once in that advance, none fires
 *    before its deadline, and firing is in deadline order (ms ticks);
 *    a fired timer may re-arm itself or cancel another (the callback may
 *    insert and remove);
 *  - after each op: the wheel's count is the model's, and
 *    weft__wheel_next is never later than the earliest armed deadline.
 * At the end the wheel is advanced past the last deadline: everything
 * still armed fires, and the wheel is empty. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "reactor/wheel.h"

#define NT 64
#define SPAN ((uint64_t)1 << 36) /* 64^6 ms */

struct tm_ {
	struct weft__wheel_link l; /* first: the link is the timer */
	uint64_t when;             /* the model's deadline */
	bool armed;
	uint8_t on_fire;           /* 0 nothing, 1 re-arm, 2 cancel next */
	uint32_t fired;
};

struct st {
	struct weft__wheel w;
	struct tm_ t[NT];
	uint64_t now;         /* the time of the advance in progress */
	uint64_t last_fired;  /* deadline of the last timer fired */
	size_t armed;
	uint64_t rearm;       /* delay for re-arms (from the script) */
};

/* A delay on every scale: s picks the magnitude, v the value. */
static uint64_t delay(uint8_t s, uint8_t v)
{
	switch (s % 8) {
	case 0: return v % 4;                  /* 0..3 ms: due now or next */
	case 1: return v;                      /* level 0/1 */
	case 2: return (uint64_t)v << 6;       /* level 1/2 */
	case 3: return (uint64_t)v << 12;
	case 4: return (uint64_t)v << 18;
	case 5: return (uint64_t)v << 27;      /* top levels */
	case 6: return SPAN - 128 + v;         /* around the span */
	default: return SPAN * (v % 5 + 1) + v; /* parked past the span */
	}
}

static void arm(struct st *s, struct tm_ *t, uint64_t when)
{
	t->when = when;
	t->l.when = when;
	if (weft__wheel_insert(&s->w, &t->l)) {
		t->armed = true;
		s->armed++;
	} else {
		/* due already: the caller fires it (the reactor does) */
		FUZZ_CHECK(when <= s->w.elapsed);
		t->fired++;
	}
}

static void fire(struct weft__wheel_link *e, void *arg)
{
	struct st *s = arg;
	struct tm_ *t = (struct tm_ *)e;

	FUZZ_CHECK(t >= s->t && t < s->t + NT);
	FUZZ_CHECK(t->armed);                 /* cancelled ones never */
	FUZZ_CHECK(t->when <= s->now);        /* never before its deadline */
	FUZZ_CHECK(t->when >= s->last_fired); /* deadline order */
	FUZZ_CHECK(e->prev == NULL && e->next == NULL);
	s->last_fired = t->when;
	t->armed = false;
	s->armed--;
	t->fired++;
	if (t->on_fire == 1 && t->fired < 4) {
		/* re-arm (an interval): later than the wheel's time */
		arm(s, t, s->w.elapsed + s->rearm);
	} else if (t->on_fire == 2) {
		struct tm_ *o = &s->t[(size_t)(t - s->t + 1) % NT];

		if (o->armed) {
			weft__wheel_remove(&s->w, &o->l);
			o->armed = false;
			s->armed--;
		}
	}
}

/* After an advance to now: nothing armed is due. */
FZ_MODEL static void check_advanced(const struct st *s, uint64_t now)
{
	FUZZ_CHECK(s->w.elapsed >= now);
	for (size_t i = 0; i < NT; i++)
		FUZZ_CHECK(!s->t[i].armed || s->t[i].when > now);
}

static void advance(struct st *s, uint64_t now)
{
	s->now = now;
	s->last_fired = 0;
	weft__wheel_advance(&s->w, now, fire, s);
	check_advanced(s, now);
}

FZ_MODEL static void check(struct st *s)
{
	uint64_t min = UINT64_MAX;

	FUZZ_CHECK(s->w.count == s->armed);
	for (size_t i = 0; i < NT; i++)
		if (s->t[i].armed && s->t[i].when < min)
			min = s->t[i].when;
	FUZZ_CHECK(weft__wheel_next(&s->w) <= min);
	FUZZ_CHECK((min == UINT64_MAX) == (weft__wheel_next(&s->w) ==
					   UINT64_MAX));
}

/* The latest armed deadline, or end if later. */
FZ_MODEL static uint64_t latest(const struct st *s, uint64_t end)
{
	for (size_t i = 0; i < NT; i++)
		if (s->t[i].armed && s->t[i].when > end)
			end = s->t[i].when;
	return end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st s;
	uint64_t start = 0, end = 0;

	if (size < 8)
		return 0;
	memcpy(&start, data, 8);
	start &= ((uint64_t)1 << 52) - 1; /* room for every delay */
	data += 8;
	size -= 8;
	memset(&s, 0, sizeof(s));
	weft__wheel_init(&s.w, start);
	s.now = start;
	s.rearm = 1;
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
		struct tm_ *t = &s.t[a % NT];

		switch (op % 4) {
		case 0: /* insert */
		case 1:
			if (t->armed)
				break;
			t->on_fire = (uint8_t)(op >> 6) % 3;
			s.rearm = delay(op >> 2, b) + 1;
			arm(&s, t, s.w.elapsed + delay(op >> 2, b));
			break;
		case 2: /* cancel */
			if (t->armed) {
				weft__wheel_remove(&s.w, &t->l);
				t->armed = false;
				s.armed--;
			}
			break;
		default: /* advance */
			advance(&s, s.w.elapsed + delay(op >> 2, b));
			break;
		}
		check(&s);
	}
	/* re-armed timers move the end: at most 4 rounds each */
	for (int round = 0; round < 8 && s.armed; round++)
		advance(&s, latest(&s, end));
	FUZZ_CHECK(s.armed == 0 && s.w.count == 0);
	FUZZ_CHECK(weft__wheel_next(&s.w) == UINT64_MAX);
	return 0;
}
