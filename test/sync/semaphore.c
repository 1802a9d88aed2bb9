/* test/sync/semaphore.c - weft_semaphore: counts, FIFO with partial grants
 * and no barging, every cancellation point returning exactly what was
 * granted, close, overflow, a thread stress bounding concurrent holders,
 * and the debug check on re-initialising a registered acquire. */
#include <errno.h>

#include "harness.h"
#include "weft/semaphore.h"

Test(semaphore, try_acquire_and_release_count_permits)
{
	weft_semaphore s;

	cr_assert_eq(weft_semaphore_init(&s, 3), 0);
	cr_assert_eq(weft_semaphore_try_acquire(&s, 2), 0);
	cr_assert_eq(weft_semaphore_try_acquire(&s, 2), -EAGAIN);
	cr_assert_eq(weft_semaphore_try_acquire(&s, 1), 0);
	cr_assert_eq(weft_semaphore_available(&s), 0);
	cr_assert_eq(weft_semaphore_release(&s, 3), 0);
	cr_assert_eq(weft_semaphore_available(&s), 3);
	cr_assert_eq(weft_semaphore_try_acquire(&s, 0), -EINVAL);
	cr_assert_eq(weft_semaphore_init(NULL, 1), -EINVAL);
	cr_assert_eq(weft_semaphore_add_permits(&s, WEFT_SEMAPHORE_MAX), -EOVERFLOW);
	cr_assert_eq(weft_semaphore_available(&s), 3);
}

Test(semaphore, large_waiter_is_served_first_and_blocks_barging)
{
	weft_semaphore s;
	weft_semaphore_acquire big = { 0 }, small = { 0 };
	tt kb, ks;

	tt_init(&kb);
	tt_init(&ks);
	weft_semaphore_init(&s, 1);
	weft_semaphore_acquire_init(&big, &s, 3);
	weft_semaphore_acquire_init(&small, &s, 1);
	cr_assert_eq(weft_semaphore_acquire_poll(&big, tt_cx(&kb)), WEFT_PENDING);
	cr_assert_eq(weft_semaphore_acquire_poll(&small, tt_cx(&ks)),
		     WEFT_PENDING, "queues behind big despite a free permit");
	cr_assert_eq(weft_semaphore_try_acquire(&s, 1), -EAGAIN);
	weft_semaphore_release(&s, 1);
	cr_assert_eq(tt_wakes(&kb), 0, "2 of 3");
	weft_semaphore_release(&s, 1);
	cr_assert_eq(tt_wakes(&kb), 1);
	cr_assert_eq(tt_wakes(&ks), 0);
	weft_semaphore_release(&s, 1);
	cr_assert_eq(tt_wakes(&ks), 1);
	cr_assert_eq(weft_semaphore_acquire_poll(&big, tt_cx(&kb)), WEFT_READY);
	cr_assert_eq(big.res, 0);
	cr_assert_eq(weft_semaphore_acquire_poll(&small, tt_cx(&ks)), WEFT_READY);
	cr_assert_eq(weft_semaphore_available(&s), 0);
	weft_semaphore_release(&s, 4);
	cr_assert_eq(weft_semaphore_available(&s), 4, "3 + 1 held, all back");
	cr_assert_eq(tt_live(&kb) + tt_live(&ks), 0);
}

Test(semaphore, dropping_at_each_point_returns_exactly_what_was_granted)
{
	weft_semaphore s;
	weft_semaphore_acquire a = { 0 }, b = { 0 }, c = { 0 };
	tt k;

	tt_init(&k);
	weft_semaphore_init(&s, 2);
	weft_semaphore_acquire_init(&a, &s, 4);
	weft_semaphore_acquire_init(&b, &s, 2);
	cr_assert_eq(weft_semaphore_acquire_poll(&a, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_semaphore_acquire_poll(&b, tt_cx(&k)), WEFT_PENDING);
	weft_semaphore_release(&s, 1); /* a now holds 3 of 4 */
	cr_assert_eq(weft_semaphore_available(&s), 0);
	/* a dropped while waiting: its 3 go to b (2), 1 left free */
	weft_semaphore_acquire_drop(&a);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_semaphore_available(&s), 1);
	/* b dropped after being granted, before its poll: gives back 2 */
	weft_semaphore_acquire_drop(&b);
	cr_assert_eq(weft_semaphore_available(&s), 3);
	/* c completed, then dropped: keeps its permits */
	weft_semaphore_acquire_init(&c, &s, 3);
	cr_assert_eq(weft_semaphore_acquire_poll(&c, tt_cx(&k)), WEFT_READY);
	weft_semaphore_acquire_drop(&c);
	cr_assert_eq(weft_semaphore_available(&s), 0);
	/* never polled: nothing */
	weft_semaphore_acquire_init(&a, &s, 1);
	weft_semaphore_acquire_drop(&a);
	weft_semaphore_release(&s, 3);
	cr_assert_eq(weft_semaphore_available(&s), 3);
	cr_assert_eq(tt_live(&k), 0);
}

Test(semaphore, close_fails_waiters_and_later_acquires)
{
	weft_semaphore s;
	weft_semaphore_acquire a = { 0 };
	tt k;

	tt_init(&k);
	weft_semaphore_init(&s, 1);
	weft_semaphore_acquire_init(&a, &s, 3);
	cr_assert_eq(weft_semaphore_acquire_poll(&a, tt_cx(&k)), WEFT_PENDING);
	weft_semaphore_close(&s);
	cr_assert(weft_semaphore_is_closed(&s));
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_semaphore_acquire_poll(&a, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(a.res, -EPIPE);
	weft_semaphore_acquire_drop(&a);
	cr_assert_eq(weft_semaphore_try_acquire(&s, 1), -EPIPE);
	weft_semaphore_acquire_init(&a, &s, 1);
	cr_assert_eq(weft_semaphore_acquire_poll(&a, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(a.res, -EPIPE);
	cr_assert_eq(weft_semaphore_available(&s), 1);
	cr_assert_eq(tt_live(&k), 0);
}

/* --------------------------------------------------------- threads */

#define PERMITS 4
#define ITERS STRESS(5000, 200000)

struct shared {
	weft_semaphore s;
	atomic_int held;  /* permits held right now */
	atomic_int over;  /* times more than PERMITS were held */
	tt k[4];          /* per thread, owned by the test */
	atomic_int next; /* hands out k */
};

static void *worker(void *arg)
{
	struct shared *sh = arg;
	unsigned rng = (unsigned)(uintptr_t)&rng;
	tt *kp = &sh->k[atomic_fetch_add(&sh->next, 1)];
#define k (*kp)
	for (int i = 0; i < ITERS; i++) {
		weft_semaphore_acquire a = { 0 };
		uint32_t n;
		weft_poll p;
		int seen = tt_wakes(&k);

		rng = rng * 1103515245u + 12345u;
		n = 1 + (rng >> 16) % 3;
		weft_semaphore_acquire_init(&a, &sh->s, n);
		while ((p = weft_semaphore_acquire_poll(&a, tt_cx(&k))) ==
		       WEFT_PENDING) {
			if ((rng >> 20) % 4 == 0)
				break;
			seen = tt_wait_wake(&k, seen);
		}
		if (p == WEFT_PENDING) {
			weft_semaphore_acquire_drop(&a);
			continue;
		}
		if (atomic_fetch_add(&sh->held, (int)n) + (int)n > PERMITS)
			atomic_fetch_add(&sh->over, 1);
		atomic_fetch_sub(&sh->held, (int)n);
		weft_semaphore_release(&sh->s, n);
	}
#undef k
	return NULL;
}

Test(semaphore, threads_never_exceed_permits_and_leak_none, .timeout = 300)
{
	struct shared sh;
	pthread_t th[4];

	atomic_init(&sh.next, 0);
	for (int i = 0; i < 4; i++)
		tt_init(&sh.k[i]);
	weft_semaphore_init(&sh.s, PERMITS);
	atomic_init(&sh.held, 0);
	atomic_init(&sh.over, 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, &sh);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tt_live(&sh.k[i]), 0);
	cr_assert_eq(atomic_load(&sh.over), 0);
	cr_assert_eq(weft_semaphore_available(&sh.s), PERMITS);
}

MISUSE_TEST(semaphore, init_of_a_queued_acquire_aborts)
{
	weft_semaphore s;
	weft_semaphore_acquire a = { 0 };
	tt k;

	tt_init(&k);
	weft_semaphore_init(&s, 0);
	weft_semaphore_acquire_init(&a, &s, 1);
	cr_assert_eq(weft_semaphore_acquire_poll(&a, tt_cx(&k)), WEFT_PENDING);
	weft_semaphore_acquire_init(&a, &s, 1);
}

/* granted, not yet polled: re-initialising would leak the permits */
MISUSE_TEST(semaphore, init_of_a_granted_unpolled_acquire_aborts)
{
	weft_semaphore s;
	weft_semaphore_acquire a = { 0 };
	tt k;

	tt_init(&k);
	weft_semaphore_init(&s, 0);
	weft_semaphore_acquire_init(&a, &s, 1);
	cr_assert_eq(weft_semaphore_acquire_poll(&a, tt_cx(&k)), WEFT_PENDING);
	weft_semaphore_release(&s, 1);
	cr_assert_eq(tt_wakes(&k), 1);
	weft_semaphore_acquire_init(&a, &s, 1);
}

Test(semaphore, acquire_is_a_future_type_with_res)
{
	weft_semaphore s;
	weft_semaphore_acquire a = { 0 };
	tt k;

	tt_init(&k);
	weft_semaphore_init(&s, 1);
	weft_semaphore_acquire_init(&a, &s, 0);
	cr_assert_eq(weft_semaphore_acquire_future.poll(&a, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(weft_future_res(&weft_semaphore_acquire_future, &a),
		     -EINVAL);
	weft_semaphore_acquire_init(&a, &s, 1);
	cr_assert_eq(weft_semaphore_acquire_future.poll(&a, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(a.res, 0);
	cr_assert_eq(weft_semaphore_available(&s), 0);
	weft_semaphore_release(&s, 1);
}
