/* test/sync/rwlock.c - weft_rwlock: shared readers, exclusive writers,
 * write preference (a waiting writer stops later readers), cancellation
 * of a partly granted writer, a thread stress checking invariants, and
 * the debug check on re-initialising a queued read or write. */
#include <errno.h>

#include "harness.h"
#include "weft/rwlock.h"

Test(rwlock, readers_share_and_waiting_writer_blocks_new_readers)
{
	weft_rwlock l;
	weft_rwlock_write w = { 0 };
	weft_rwlock_read r = { 0 };
	tt kw, kr;

	tt_init(&kw);
	tt_init(&kr);
	weft_rwlock_init(&l);
	cr_assert_eq(weft_rwlock_try_read(&l), 0);
	cr_assert_eq(weft_rwlock_try_read(&l), 0);
	cr_assert_eq(weft_rwlock_try_write(&l), -EAGAIN);
	weft_rwlock_write_init(&w, &l);
	cr_assert_eq(weft_rwlock_write_poll(&w, tt_cx(&kw)), WEFT_PENDING);
	cr_assert_eq(weft_rwlock_try_read(&l), -EAGAIN, "write-preferring");
	weft_rwlock_read_init(&r, &l);
	cr_assert_eq(weft_rwlock_read_poll(&r, tt_cx(&kr)), WEFT_PENDING);
	weft_rwlock_read_unlock(&l);
	cr_assert_eq(tt_wakes(&kw), 0);
	weft_rwlock_read_unlock(&l);
	cr_assert_eq(tt_wakes(&kw), 1);
	cr_assert_eq(weft_rwlock_write_poll(&w, tt_cx(&kw)), WEFT_READY);
	cr_assert_eq(tt_wakes(&kr), 0);
	weft_rwlock_write_unlock(&l);
	cr_assert_eq(tt_wakes(&kr), 1);
	cr_assert_eq(weft_rwlock_read_poll(&r, tt_cx(&kr)), WEFT_READY);
	weft_rwlock_read_unlock(&l);
	cr_assert_eq(weft_rwlock_try_write(&l), 0);
	weft_rwlock_write_unlock(&l);
	cr_assert_eq(tt_live(&kw) + tt_live(&kr), 0);
}

Test(rwlock, writer_dropped_while_partly_granted_frees_readers)
{
	weft_rwlock l;
	weft_rwlock_write w = { 0 };
	weft_rwlock_read r = { 0 };
	tt k;

	tt_init(&k);
	weft_rwlock_init(&l);
	cr_assert_eq(weft_rwlock_try_read(&l), 0);
	weft_rwlock_write_init(&w, &l);
	cr_assert_eq(weft_rwlock_write_poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_rwlock_read_init(&r, &l);
	cr_assert_eq(weft_rwlock_read_poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_rwlock_write_drop(&w);
	cr_assert_eq(tt_wakes(&k), 1, "the queued reader goes in");
	cr_assert_eq(weft_rwlock_read_poll(&r, tt_cx(&k)), WEFT_READY);
	weft_rwlock_read_unlock(&l);
	weft_rwlock_read_unlock(&l);
	cr_assert_eq(weft_rwlock_try_write(&l), 0);
	weft_rwlock_write_unlock(&l);
	cr_assert_eq(tt_live(&k), 0);
}

#define ITERS STRESS(5000, 200000)

struct shared {
	weft_rwlock l;
	long a, b;          /* plain; writers keep a == b */
	atomic_int readers; /* inside a read section */
	atomic_int bad;
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
		weft_rwlock_read fr = { 0 };
		weft_rwlock_write fw = { 0 };
		bool write;
		int seen = tt_wakes(&k);

		rng = rng * 1103515245u + 12345u;
		write = (rng >> 16) % 4 == 0;
		if (write) {
			weft_rwlock_write_init(&fw, &sh->l);
			while (weft_rwlock_write_poll(&fw, tt_cx(&k)) ==
			       WEFT_PENDING)
				seen = tt_wait_wake(&k, seen);
		} else {
			weft_rwlock_read_init(&fr, &sh->l);
			while (weft_rwlock_read_poll(&fr, tt_cx(&k)) ==
			       WEFT_PENDING)
				seen = tt_wait_wake(&k, seen);
		}
		if (write) {
			if (atomic_load(&sh->readers))
				atomic_fetch_add(&sh->bad, 1);
			sh->a++;
			sh->b++;
			weft_rwlock_write_unlock(&sh->l);
		} else {
			atomic_fetch_add(&sh->readers, 1);
			if (sh->a != sh->b)
				atomic_fetch_add(&sh->bad, 1);
			atomic_fetch_sub(&sh->readers, 1);
			weft_rwlock_read_unlock(&sh->l);
		}
	}
#undef k
	return NULL;
}

Test(rwlock, threads_see_consistent_data, .timeout = 300)
{
	struct shared sh = { .a = 0, .b = 0 };
	pthread_t th[3];

	atomic_init(&sh.next, 0);
	for (int i = 0; i < 4; i++)
		tt_init(&sh.k[i]);
	weft_rwlock_init(&sh.l);
	atomic_init(&sh.readers, 0);
	atomic_init(&sh.bad, 0);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, &sh);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tt_live(&sh.k[i]), 0);
	cr_assert_eq(atomic_load(&sh.bad), 0);
	cr_assert_eq(weft_rwlock_try_write(&sh.l), 0);
}

MISUSE_TEST(rwlock, init_of_a_queued_write_aborts)
{
	weft_rwlock l;
	weft_rwlock_write w = { 0 };
	tt k;

	tt_init(&k);
	weft_rwlock_init(&l);
	cr_assert_eq(weft_rwlock_try_read(&l), 0);
	weft_rwlock_write_init(&w, &l);
	cr_assert_eq(weft_rwlock_write_poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_rwlock_write_init(&w, &l);
}

MISUSE_TEST(rwlock, init_of_a_queued_read_aborts)
{
	weft_rwlock l;
	weft_rwlock_read r = { 0 };
	tt k;

	tt_init(&k);
	weft_rwlock_init(&l);
	cr_assert_eq(weft_rwlock_try_write(&l), 0);
	weft_rwlock_read_init(&r, &l);
	cr_assert_eq(weft_rwlock_read_poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_rwlock_read_init(&r, &l);
}

Test(rwlock, read_and_write_are_future_types)
{
	weft_rwlock l;
	weft_rwlock_read r = { 0 };
	weft_rwlock_write w = { 0 };
	tt k;

	tt_init(&k);
	weft_rwlock_init(&l);
	weft_rwlock_read_init(&r, &l);
	cr_assert_eq(weft_rwlock_read_future.poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_future_res(&weft_rwlock_read_future, &r), 0);
	weft_rwlock_write_init(&w, &l);
	cr_assert_eq(weft_rwlock_write_future.poll(&w, tt_cx(&k)),
		     WEFT_PENDING);
	weft_rwlock_write_future.drop(&w);
	weft_rwlock_read_unlock(&l);
	cr_assert_eq(weft_rwlock_try_write(&l), 0, "the dropped write held nothing");
	weft_rwlock_write_unlock(&l);
	cr_assert_eq(tt_live(&k), 0);
}
