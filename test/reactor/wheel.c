/* test/reactor/wheel.c - the timer wheel as a plain data structure: every
 * entry fires exactly once, never before its tick, in tick order; removal;
 * cascades across every level; far deadlines. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "reactor/wheel.h"

struct ent {
	struct weft__wheel_link l;
	int fired;
	uint64_t at;
};

static uint64_t clock_now;

static void on_fire(struct weft__wheel_link *l, void *arg)
{
	struct ent *e = (struct ent *)l;
	uint64_t *last = arg;

	e->fired++;
	e->at = clock_now;
	cr_assert_geq(clock_now, l->when, "fired early");
	cr_assert_geq(l->when, *last, "out of order");
	*last = l->when;
}

static void run_to(struct weft__wheel *w, uint64_t end, uint64_t *last)
{
	while (clock_now < end) {
		uint64_t n = weft__wheel_next(w);

		if (n == UINT64_MAX || n > end)
			n = end;
		if (n < clock_now + 1)
			n = clock_now + 1;
		clock_now = n;
		weft__wheel_advance(w, clock_now, on_fire, last);
	}
}

Test(wheel, random_deadlines_fire_once_in_order_never_early)
{
	enum { N = 20000 };
	struct weft__wheel w;
	struct ent *e = calloc(N, sizeof(*e));
	uint64_t last = 0;

	clock_now = 1000;
	weft__wheel_init(&w, clock_now);
	srand(7);
	for (int i = 0; i < N; i++) {
		uint64_t span = (uint64_t)1 << (rand() % 24);

		e[i].l.when = clock_now + 1 + (uint64_t)rand() % span;
		cr_assert(weft__wheel_insert(&w, &e[i].l));
	}
	run_to(&w, clock_now + (1u << 24) + 10, &last);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(e[i].fired, 1);
		cr_assert_eq(e[i].at, e[i].l.when, "late by %llu",
			     (unsigned long long)(e[i].at - e[i].l.when));
	}
	cr_assert_eq(w.count, 0);
	free(e);
}

Test(wheel, removed_entries_never_fire)
{
	struct weft__wheel w;
	struct ent e[64] = { 0 };
	uint64_t last = 0;

	clock_now = 5;
	weft__wheel_init(&w, clock_now);
	for (int i = 0; i < 64; i++) {
		e[i].l.when = clock_now + 1 + (uint64_t)i * 97;
		weft__wheel_insert(&w, &e[i].l);
	}
	for (int i = 0; i < 64; i += 2)
		weft__wheel_remove(&w, &e[i].l);
	run_to(&w, clock_now + 64 * 97 + 10, &last);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(e[i].fired, i % 2);
}

Test(wheel, due_entry_is_refused)
{
	struct weft__wheel w;
	struct ent e = { 0 };

	weft__wheel_init(&w, 100);
	e.l.when = 100;
	cr_assert_not(weft__wheel_insert(&w, &e.l));
	e.l.when = 50;
	cr_assert_not(weft__wheel_insert(&w, &e.l));
}

Test(wheel, far_deadline_beyond_the_top_level)
{
	struct weft__wheel w;
	struct ent e = { 0 };
	uint64_t last = 0;

	clock_now = 0;
	weft__wheel_init(&w, 0);
	e.l.when = ((uint64_t)1 << 37) + 12345; /* beyond 64^6 ms */
	cr_assert(weft__wheel_insert(&w, &e.l));
	cr_assert_leq(weft__wheel_next(&w), e.l.when);
	run_to(&w, e.l.when + 1, &last);
	cr_assert_eq(e.fired, 1);
	cr_assert_eq(e.at, e.l.when);
}

/* Issue 16's wheel fuzzer: a deadline almost a whole turn of the top level
 * ahead (2^36 ms less 64) landed in the current top-level slot, one turn
 * later, looked due at once, and advance re-inserted it there forever. The
 * same with a clamped far deadline while elapsed is in the last top slot.
 * A hang guard: the test's timeout (an infinite loop fails it). */
Test(wheel, deadline_almost_a_turn_ahead_does_not_spin, .timeout = 20)
{
	static const uint64_t starts[] = {
		0x20e060fff90cull, /* the fuzzer's start time */
		63ull << 30 | 5,   /* elapsed in the last top-level slot */
	};
	static const uint64_t ahead[] = {
		((uint64_t)1 << 36) - 64, ((uint64_t)1 << 36) - 1,
		(uint64_t)1 << 36, ((uint64_t)1 << 40) + 3,
	};

	for (size_t s = 0; s < 2; s++) {
		for (size_t a = 0; a < 4; a++) {
			struct weft__wheel w;
			struct ent e = { 0 };
			uint64_t last = 0;

			clock_now = starts[s];
			weft__wheel_init(&w, clock_now);
			e.l.when = clock_now + ahead[a];
			cr_assert(weft__wheel_insert(&w, &e.l));
			/* a first step that must not fire it (nor spin) */
			clock_now += 1000;
			weft__wheel_advance(&w, clock_now, on_fire, &last);
			cr_assert_eq(e.fired, 0);
			run_to(&w, e.l.when + 1, &last);
			cr_assert_eq(e.fired, 1);
			cr_assert_eq(e.at, e.l.when);
		}
	}
}

/* fire may remove other entries, those of the slot being fired included
 * (the wheel fuzzer: advance detached the slot's whole chain, so an entry
 * removed by an earlier one's fire still fired and was counted twice). */
static struct ent pair[3];
static struct weft__wheel *pair_w;

static void fire_removes_others(struct weft__wheel_link *l, void *arg)
{
	struct ent *e = (struct ent *)l;

	(void)arg;
	e->fired++;
	/* the first to fire removes every other (at marks it removed) */
	for (int i = 0; i < 3; i++)
		if (&pair[i] != e && !pair[i].fired && pair[i].at == 0) {
			pair[i].at = 1;
			weft__wheel_remove(pair_w, &pair[i].l);
		}
}

Test(wheel, fire_may_remove_an_entry_of_the_same_slot)
{
	struct weft__wheel w;

	pair_w = &w;
	weft__wheel_init(&w, 100);
	for (int i = 0; i < 3; i++) {
		pair[i] = (struct ent){ 0 };
		pair[i].l.when = 105; /* one level-0 slot */
		cr_assert(weft__wheel_insert(&w, &pair[i].l));
	}
	weft__wheel_advance(&w, 200, fire_removes_others, NULL);
	/* the first fired removed the others, which never fire */
	cr_assert_eq(pair[0].fired + pair[1].fired + pair[2].fired, 1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pair[i].fired + (int)pair[i].at, 1,
			     "entry %d fired %d removed %d", i, pair[i].fired,
			     (int)pair[i].at);
	cr_assert_eq(w.count, 0);
	cr_assert_eq(weft__wheel_next(&w), UINT64_MAX);
}
