/* test/runtime/deque.c - the per-worker Chase-Lev deque, white-box:
 * owner order, growth, and every item taken exactly once while thieves
 * steal concurrently (also while the owner grows the array).
 *
 * Items are fake task pointers (the deque never dereferences them on
 * these paths): item i is encoded as (i + 1) << 6.
 */
#include "test/runtime/harness.h"
#include "runtime/internal.h"

static struct weft__task *item(size_t i)
{
	return (struct weft__task *)(uintptr_t)((i + 1) << 6);
}

static size_t index_of(struct weft__task *t)
{
	return (size_t)(((uintptr_t)t >> 6) - 1);
}

static size_t deque_cap(struct weft__deque *dq)
{
	return atomic_load(&dq->buf)->mask + 1;
}

Test(deque, init_rejects_capacity_not_power_of_two)
{
	struct weft__deque dq;

	cr_assert_eq(weft__deque_init(&dq, 0), -EINVAL);
	cr_assert_eq(weft__deque_init(&dq, 1), -EINVAL);
	cr_assert_eq(weft__deque_init(&dq, 3), -EINVAL);
	cr_assert_eq(weft__deque_init(&dq, 384), -EINVAL);
	cr_assert_eq(weft__deque_init(&dq, 2), 0);
	weft__deque_destroy(&dq);
}

Test(deque, owner_pops_oldest_first)
{
	struct weft__deque dq;

	cr_assert_eq(weft__deque_init(&dq, 256), 0);
	cr_assert_null(weft__deque_pop(&dq));
	for (size_t i = 0; i < 10; i++)
		cr_assert_eq(weft__deque_push(&dq, item(i)), 0);
	cr_assert_eq(weft__deque_len(&dq), 10);
	for (size_t i = 0; i < 10; i++)
		cr_assert_eq(weft__deque_pop(&dq), item(i), "pop %zu", i);
	cr_assert_null(weft__deque_pop(&dq));
	cr_assert_eq(weft__deque_len(&dq), 0);
	weft__deque_destroy(&dq);
}

Test(deque, grows_far_beyond_initial_capacity_keeping_order)
{
#ifdef WEFT_DEQUE_FIXED
	cr_skip_test("fixed-capacity deque build: no growth");
#endif
	struct weft__deque dq;
	size_t n = 100000, next = 0;

	cr_assert_eq(weft__deque_init(&dq, 256), 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(weft__deque_push(&dq, item(i)), 0);
		/* interleave some pops so top moves while the array grows */
		if (i % 7 == 0)
			cr_assert_eq(weft__deque_pop(&dq), item(next++));
	}
	cr_assert_geq(deque_cap(&dq), n - next);
	cr_assert_eq(weft__deque_len(&dq), n - next);
	while (next < n)
		cr_assert_eq(weft__deque_pop(&dq), item(next++));
	cr_assert_null(weft__deque_pop(&dq));
	weft__deque_destroy(&dq);
}

#ifdef WEFT_DEQUE_FIXED
Test(deque, fixed_build_refuses_push_into_full_deque)
{
	struct weft__deque dq;

	cr_assert_eq(weft__deque_init(&dq, 256), 0);
	for (size_t i = 0; i < 256; i++)
		cr_assert_eq(weft__deque_push(&dq, item(i)), 0);
	cr_assert_eq(weft__deque_push(&dq, item(256)), -ENOSPC);
	cr_assert_eq(weft__deque_pop(&dq), item(0));
	cr_assert_eq(weft__deque_push(&dq, item(256)), 0);
	weft__deque_destroy(&dq);
}
#endif

Test(deque, wraps_around_a_full_small_array)
{
	struct weft__deque dq;
	size_t next = 0, pushed = 0;

	cr_assert_eq(weft__deque_init(&dq, 4), 0);
	/* keep 3 items live while indices run far past the array size */
	for (int round = 0; round < 1000; round++) {
		while (pushed - next < 3)
			cr_assert_eq(weft__deque_push(&dq, item(pushed++)), 0);
		cr_assert_eq(weft__deque_pop(&dq), item(next++));
	}
	cr_assert_eq(deque_cap(&dq), 4, "no growth needed at 3 live items");
	weft__deque_destroy(&dq);
}

Test(deque, thief_takes_oldest_half_while_owner_keeps_newest)
{
	struct weft__deque owner, thief;
	struct weft__task *t;

	cr_assert_eq(weft__deque_init(&owner, 256), 0);
	cr_assert_eq(weft__deque_init(&thief, 256), 0);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(weft__deque_push(&owner, item(i)), 0);
	/* half (4) of the oldest: item 0 to run now, 1..3 into thief's deque */
	t = weft__deque_steal_into(&owner, &thief);
	cr_assert_eq(t, item(0));
	cr_assert_eq(weft__deque_len(&thief), 3);
	cr_assert_eq(weft__deque_len(&owner), 4);
	for (size_t i = 1; i < 4; i++)
		cr_assert_eq(weft__deque_pop(&thief), item(i));
	for (size_t i = 4; i < 8; i++)
		cr_assert_eq(weft__deque_pop(&owner), item(i));
	cr_assert_null(weft__deque_steal_into(&owner, &thief));
	/* a single item is stolen whole */
	cr_assert_eq(weft__deque_push(&owner, item(42)), 0);
	cr_assert_eq(weft__deque_steal_into(&owner, &thief), item(42));
	cr_assert_null(weft__deque_pop(&owner));
	weft__deque_destroy(&owner);
	weft__deque_destroy(&thief);
}

Test(deque, steal_takes_at_most_128)
{
#ifdef WEFT_DEQUE_FIXED
	cr_skip_test("fixed-capacity deque build: no growth");
#endif
	struct weft__deque owner, thief;

	cr_assert_eq(weft__deque_init(&owner, 256), 0);
	cr_assert_eq(weft__deque_init(&thief, 2), 0);
	for (size_t i = 0; i < 1000; i++)
		cr_assert_eq(weft__deque_push(&owner, item(i)), 0);
	cr_assert_eq(weft__deque_steal_into(&owner, &thief), item(0));
	cr_assert_eq(weft__deque_len(&thief), 127);
	cr_assert_eq(weft__deque_len(&owner), 1000 - 128);
	/* the thief's own deque grew from 2 to hold the batch, in order */
	for (size_t i = 1; i < 128; i++)
		cr_assert_eq(weft__deque_pop(&thief), item(i));
	weft__deque_destroy(&owner);
	weft__deque_destroy(&thief);
}

/* ------------------------------------------------- concurrent thieves */

#define NTHIEVES 3
#ifdef WEFT_DEQUE_FIXED
#define MINE_CAP 256   /* a steal batch (<= 128) always fits */
#else
#define MINE_CAP 2     /* thieves' deques grow while they steal */
#endif

struct race {
	struct weft__deque victim;
	struct weft__deque mine[NTHIEVES];
	atomic_uchar *seen;          /* times each item was taken */
	size_t n;
	atomic_bool owner_done;
	atomic_long stolen;          /* items taken by thieves */
	atomic_long dup;             /* items taken twice (or bogus) */
};

static void take(struct race *r, struct weft__task *t)
{
	size_t i = index_of(t);

	if (i >= r->n || atomic_fetch_add(&r->seen[i], 1) != 0)
		atomic_fetch_add(&r->dup, 1);
}

struct thief_arg {
	struct race *r;
	int k;
};

static void *thief_main(void *arg)
{
	struct thief_arg *a = arg;
	struct race *r = a->r;
	struct weft__deque *mine = &r->mine[a->k];

	for (;;) {
		/* read done before trying, so a failed steal after done
		 * means the victim was empty for good */
		bool done = atomic_load(&r->owner_done);
		struct weft__task *t = weft__deque_steal_into(&r->victim, mine);

		if (t) {
			take(r, t);
			atomic_fetch_add(&r->stolen, 1);
			while ((t = weft__deque_pop(mine))) {
				take(r, t);
				atomic_fetch_add(&r->stolen, 1);
			}
		} else if (done) {
			break;
		} else {
			sched_yield();
		}
	}
	return NULL;
}

/* The owner pushes n items in bursts of `burst`, popping one item after
 * every `pop_every` pushes (0 = never), while NTHIEVES threads steal. */
static void run_race(size_t n, size_t cap, size_t burst, size_t pop_every)
{
#ifdef WEFT_DEQUE_FIXED
	cap = 256;
#endif
	struct race *r = calloc(1, sizeof(*r));
	pthread_t th[NTHIEVES];
	struct thief_arg args[NTHIEVES];
	struct weft__task *t;
	long owner_took = 0;

	cr_assert_not_null(r);
	r->n = n;
	r->seen = calloc(n, sizeof(*r->seen));
	cr_assert_not_null(r->seen);
	cr_assert_eq(weft__deque_init(&r->victim, cap), 0);
	for (int k = 0; k < NTHIEVES; k++) {
		cr_assert_eq(weft__deque_init(&r->mine[k], MINE_CAP), 0);
		args[k] = (struct thief_arg){ r, k };
		cr_assert_eq(pthread_create(&th[k], NULL, thief_main, &args[k]),
			     0);
	}
	for (size_t i = 0; i < n; i++) {
		int rc;

		while ((rc = weft__deque_push(&r->victim, item(i))) == -ENOSPC) {
			/* fixed build: a full deque; take one and retry */
			if ((t = weft__deque_pop(&r->victim))) {
				take(r, t);
				owner_took++;
			}
		}
		cr_assert_eq(rc, 0);
		if (pop_every && i % pop_every == 0 &&
		    (t = weft__deque_pop(&r->victim))) {
			take(r, t);
			owner_took++;
		}
		if (burst && i % burst == burst - 1)
			sched_yield();
	}
	/* the owner drains what is left, racing the thieves to the end */
	while ((t = weft__deque_pop(&r->victim))) {
		take(r, t);
		owner_took++;
	}
	atomic_store(&r->owner_done, true);
	for (int k = 0; k < NTHIEVES; k++)
		pthread_join(th[k], NULL);

	cr_assert_eq(atomic_load(&r->dup), 0, "items taken twice or bogus");
	cr_assert_eq(atomic_load(&r->stolen) + owner_took, (long)n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&r->seen[i]), 1, "item %zu taken %d times",
			     i, (int)atomic_load(&r->seen[i]));
	for (int k = 0; k < NTHIEVES; k++)
		weft__deque_destroy(&r->mine[k]);
	weft__deque_destroy(&r->victim);
	free(r->seen);
	free(r);
}

Test(deque, thieves_and_owner_take_every_item_exactly_once, .timeout = RT_TIMEOUT)
{
	run_race(STRESS(200000, 4000000), 256, 64, 3);
}

Test(deque, every_item_taken_once_while_array_grows_during_steals,
     .timeout = RT_TIMEOUT)
{
	/* starts at 2 slots: the owner grows the array while thieves read
	 * it; no owner pops, so only bursts decide how far it grows */
#ifdef WEFT_DEQUE_FIXED
	cr_skip_test("fixed-capacity deque build: no growth");
#endif
	for (int round = 0; round < STRESS(20, 200); round++)
		run_race(20000, 2, 4096, 0);
}

Test(deque, owner_pop_races_thieves_for_the_last_item, .timeout = RT_TIMEOUT)
{
	/* one item at a time: owner pops right after each push, so the owner
	 * and the thieves contend on the same top slot almost always */
	run_race(STRESS(100000, 1000000), 2, 0, 1);
}
