/* test/sync/barrier.c - weft_barrier: release on the n-th arrival with
 * exactly one leader (res 1), reuse across generations, un-arrival of a
 * dropped wait, threads looping through many generations, and the debug
 * check on re-initialising a queued wait. */
#include <errno.h>

#include "harness.h"
#include "weft/barrier.h"

Test(barrier, nth_arrival_releases_all_with_one_leader)
{
	weft_barrier b;
	weft_barrier_wait w[3] = { 0 };
	tt k;
	int leaders = 0;

	tt_init(&k);
	cr_assert_eq(weft_barrier_init(&b, 0), -EINVAL);
	cr_assert_eq(weft_barrier_init(&b, 3), 0);
	for (int gen = 0; gen < 2; gen++) {
		for (int i = 0; i < 3; i++)
			weft_barrier_wait_init(&w[i], &b);
		cr_assert_eq(weft_barrier_wait_poll(&w[0], tt_cx(&k)), WEFT_PENDING);
		cr_assert_eq(weft_barrier_wait_poll(&w[1], tt_cx(&k)), WEFT_PENDING);
		cr_assert_eq(weft_barrier_wait_poll(&w[2], tt_cx(&k)), WEFT_READY);
		cr_assert_eq(tt_wakes(&k), 2 * (gen + 1));
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(weft_barrier_wait_poll(&w[i], tt_cx(&k)),
				     WEFT_READY);
			leaders += (int)w[i].res;
		}
	}
	cr_assert_eq(leaders, 2);
	cr_assert_eq(tt_live(&k), 0);
	weft_barrier_destroy(&b);
}

Test(barrier, dropped_wait_un_arrives)
{
	weft_barrier b;
	weft_barrier_wait a = { 0 }, c = { 0 }, d = { 0 };
	tt k;

	tt_init(&k);
	weft_barrier_init(&b, 2);
	weft_barrier_wait_init(&a, &b);
	cr_assert_eq(weft_barrier_wait_poll(&a, tt_cx(&k)), WEFT_PENDING);
	weft_barrier_wait_drop(&a);
	weft_barrier_wait_init(&c, &b);
	cr_assert_eq(weft_barrier_wait_poll(&c, tt_cx(&k)), WEFT_PENDING,
		     "a no longer counts");
	weft_barrier_wait_init(&d, &b);
	cr_assert_eq(weft_barrier_wait_poll(&d, tt_cx(&k)), WEFT_READY);
	weft_barrier_wait_drop(&c); /* released, not yet polled: no effect */
	weft_barrier_wait_init(&a, &b);
	cr_assert_eq(weft_barrier_wait_poll(&a, tt_cx(&k)), WEFT_PENDING);
	weft_barrier_wait_drop(&a);
	cr_assert_eq(tt_live(&k), 0);
}

#define GENS STRESS(2000, 100000)
#define PARTIES 3

struct st {
	weft_barrier b;
	tt k[PARTIES];
	atomic_int leaders;
	atomic_int phase[GENS + 1];
	int bad;
};

static void *party(void *arg)
{
	struct st *s = ((void **)arg)[0];
	int i = (int)(intptr_t)((void **)arg)[1];

	for (int g = 0; g < GENS; g++) {
		weft_barrier_wait w = { 0 };
		int seen = tt_wakes(&s->k[i]);

		atomic_fetch_add(&s->phase[g], 1);
		weft_barrier_wait_init(&w, &s->b);
		while (weft_barrier_wait_poll(&w, tt_cx(&s->k[i])) == WEFT_PENDING)
			seen = tt_wait_wake(&s->k[i], seen);
		/* everyone arrived at generation g before anyone leaves it */
		if (atomic_load(&s->phase[g]) != PARTIES)
			s->bad = 1;
		if (w.res == 1)
			atomic_fetch_add(&s->leaders, 1);
	}
	return NULL;
}

Test(barrier, threads_cross_many_generations, .timeout = 120)
{
	struct st *s = calloc(1, sizeof(*s));
	pthread_t th[PARTIES];
	void *args[PARTIES][2];

	weft_barrier_init(&s->b, PARTIES);
	for (int i = 0; i < PARTIES; i++) {
		tt_init(&s->k[i]);
		args[i][0] = s;
		args[i][1] = (void *)(intptr_t)i;
		pthread_create(&th[i], NULL, party, args[i]);
	}
	for (int i = 0; i < PARTIES; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(s->bad, 0);
	cr_assert_eq(atomic_load(&s->leaders), GENS);
	for (int i = 0; i < PARTIES; i++)
		cr_assert_eq(tt_live(&s->k[i]), 0);
	free(s);
}

MISUSE_TEST(barrier, init_of_a_queued_wait_aborts)
{
	weft_barrier b;
	weft_barrier_wait w = { 0 };
	tt k;

	tt_init(&k);
	weft_barrier_init(&b, 2);
	weft_barrier_wait_init(&w, &b);
	cr_assert_eq(weft_barrier_wait_poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_barrier_wait_init(&w, &b);
}
