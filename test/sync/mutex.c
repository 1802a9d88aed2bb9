/* test/sync/mutex.c - weft_mutex: FIFO hand-over, cancellation while
 * waiting and after hand-over, a thread stress on a plain counter (TSan
 * checks the lock orders memory), and the debug check on re-initialising
 * a queued lock. */
#include <errno.h>

#include "harness.h"
#include "weft/mutex.h"

Test(mutex, lock_is_handed_to_waiters_in_order)
{
	weft_mutex m;
	weft_mutex_lock l[3] = { 0 };
	tt k[3];

	weft_mutex_init(&m);
	cr_assert_eq(weft_mutex_try_lock(&m), 0);
	cr_assert_eq(weft_mutex_try_lock(&m), -EAGAIN);
	for (int i = 0; i < 3; i++) {
		tt_init(&k[i]);
		weft_mutex_lock_init(&l[i], &m);
		cr_assert_eq(weft_mutex_lock_poll(&l[i], tt_cx(&k[i])),
			     WEFT_PENDING);
	}
	for (int i = 0; i < 3; i++) {
		weft_mutex_unlock(&m);
		for (int j = 0; j < 3; j++)
			cr_assert_eq(tt_wakes(&k[j]), j <= i ? 1 : 0);
		cr_assert_eq(weft_mutex_try_lock(&m), -EAGAIN);
		cr_assert_eq(weft_mutex_lock_poll(&l[i], tt_cx(&k[i])),
			     WEFT_READY);
	}
	weft_mutex_unlock(&m);
	cr_assert_eq(weft_mutex_try_lock(&m), 0);
	weft_mutex_unlock(&m);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tt_live(&k[i]), 0);
}

Test(mutex, dropped_lock_never_leaves_mutex_held_by_nobody)
{
	weft_mutex m;
	weft_mutex_lock a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_mutex_init(&m);
	weft_mutex_try_lock(&m);
	weft_mutex_lock_init(&a, &m);
	weft_mutex_lock_init(&b, &m);
	cr_assert_eq(weft_mutex_lock_poll(&a, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_mutex_lock_poll(&b, tt_cx(&k)), WEFT_PENDING);
	weft_mutex_lock_drop(&a);  /* while waiting */
	weft_mutex_unlock(&m);     /* goes to b */
	cr_assert_eq(tt_wakes(&k), 1);
	weft_mutex_lock_drop(&b);  /* handed over, not yet polled */
	cr_assert_eq(weft_mutex_try_lock(&m), 0, "b's drop unlocked it");
	weft_mutex_unlock(&m);
	cr_assert_eq(tt_live(&k), 0);
}

#define ITERS STRESS(20000, 500000)

struct shared {
	weft_mutex m;
	long counter; /* plain: only touched under m */
	tt k[4];          /* per thread, owned by the test */
	atomic_int next; /* hands out k */
};

static void *worker(void *arg)
{
	struct shared *sh = arg;
	tt *kp = &sh->k[atomic_fetch_add(&sh->next, 1)];
#define k (*kp)
	for (int i = 0; i < ITERS; i++) {
		weft_mutex_lock l = { 0 };
		int seen = tt_wakes(&k);

		weft_mutex_lock_init(&l, &sh->m);
		while (weft_mutex_lock_poll(&l, tt_cx(&k)) == WEFT_PENDING) {
			if (i % 5 == 0) { /* abandon and retry */
				weft_mutex_lock_drop(&l);
				weft_mutex_lock_init(&l, &sh->m);
				continue;
			}
			seen = tt_wait_wake(&k, seen);
		}
		sh->counter++;
		weft_mutex_unlock(&sh->m);
	}
#undef k
	return NULL;
}

Test(mutex, threads_increment_a_plain_counter_exactly, .timeout = 300)
{
	struct shared sh = { .counter = 0 };
	pthread_t th[3];

	atomic_init(&sh.next, 0);
	for (int i = 0; i < 4; i++)
		tt_init(&sh.k[i]);
	weft_mutex_init(&sh.m);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, &sh);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tt_live(&sh.k[i]), 0);
	cr_assert_eq(sh.counter, 3L * ITERS);
}

MISUSE_TEST(mutex, init_of_a_queued_lock_aborts)
{
	weft_mutex m;
	weft_mutex_lock l = { 0 };
	tt k;

	tt_init(&k);
	weft_mutex_init(&m);
	cr_assert_eq(weft_mutex_try_lock(&m), 0);
	weft_mutex_lock_init(&l, &m);
	cr_assert_eq(weft_mutex_lock_poll(&l, tt_cx(&k)), WEFT_PENDING);
	weft_mutex_lock_init(&l, &m);
}

Test(mutex, lock_is_a_future_type)
{
	weft_mutex m;
	weft_mutex_lock l = { 0 };
	tt k;

	tt_init(&k);
	weft_mutex_init(&m);
	weft_mutex_lock_init(&l, &m);
	cr_assert_eq(weft_mutex_lock_future.poll(&l, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_future_res(&weft_mutex_lock_future, &l), 0);
	cr_assert_eq(weft_mutex_try_lock(&m), -EAGAIN);
	weft_mutex_unlock(&m);
	weft_mutex_lock_future.drop(&l); /* after READY: keeps nothing */
	cr_assert_eq(weft_mutex_try_lock(&m), 0);
	weft_mutex_unlock(&m);
}
