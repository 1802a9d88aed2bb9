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
