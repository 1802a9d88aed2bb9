/* test/sync/broadcast.c - weft_broadcast: every receiver sees every value,
 * a lagging receiver is told how many it missed and resumes at the oldest,
 * close after the last sender, cancellation of a waiting receive, a
 * thread stress with receivers checking order and counting losses, the
 * element destructor (each value once: overwritten or the last receiver
 * gone), and the debug checks. */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "weft/broadcast.h"

Test(broadcast, every_receiver_gets_every_value_in_order)
{
	weft_broadcast *tx;
	weft_broadcast_rx a, b;
	uint64_t v;

	cr_assert_eq(weft_broadcast_create(&tx, &a, 8, 4, NULL), 0);
	weft_broadcast_subscribe(tx, &b);
	for (v = 0; v < 3; v++)
		cr_assert_eq(weft_broadcast_send(tx, &v), 2);
	for (uint64_t i = 0; i < 3; i++) {
		cr_assert_eq(weft_broadcast_try_recv(&a, &v, NULL), 0);
		cr_assert_eq(v, i);
		cr_assert_eq(weft_broadcast_try_recv(&b, &v, NULL), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(weft_broadcast_try_recv(&a, &v, NULL), -EAGAIN);
	weft_broadcast_tx_drop(tx);
	cr_assert_eq(weft_broadcast_try_recv(&a, &v, NULL), -EPIPE);
	weft_broadcast_rx_drop(&a);
	weft_broadcast_rx_drop(&b);
}

Test(broadcast, lagging_receiver_learns_how_many_it_missed)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	weft_broadcast_recv r = { 0 };
	uint64_t v, missed = 0;
	tt k;

	tt_init(&k);
	weft_broadcast_create(&tx, &rx, 8, 4, NULL);
	for (v = 0; v < 10; v++)
		weft_broadcast_send(tx, &v);
	weft_broadcast_recv_init(&r, &rx, &v);
	cr_assert_eq(weft_broadcast_recv_poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(r.res, -EOVERFLOW);
	cr_assert_eq(r.missed, 6);
	for (uint64_t i = 6; i < 10; i++) {
		cr_assert_eq(weft_broadcast_try_recv(&rx, &v, &missed), 0);
		cr_assert_eq(v, i);
	}
	weft_broadcast_tx_drop(tx);
	weft_broadcast_rx_drop(&rx);
}

Test(broadcast, waiting_receive_woken_once_and_droppable)
{
	weft_broadcast *tx;
	weft_broadcast_rx a, b;
	weft_broadcast_recv ra = { 0 }, rb = { 0 };
	uint64_t va = 0, vb = 0, v = 42;
	tt ka, kb;

	tt_init(&ka);
	tt_init(&kb);
	weft_broadcast_create(&tx, &a, 8, 2, NULL);
	weft_broadcast_subscribe(tx, &b);
	weft_broadcast_recv_init(&ra, &a, &va);
	weft_broadcast_recv_init(&rb, &b, &vb);
	cr_assert_eq(weft_broadcast_recv_poll(&ra, tt_cx(&ka)), WEFT_PENDING);
	cr_assert_eq(weft_broadcast_recv_poll(&rb, tt_cx(&kb)), WEFT_PENDING);
	weft_broadcast_recv_drop(&rb); /* while waiting */
	weft_broadcast_send(tx, &v);
	cr_assert_eq(tt_wakes(&ka), 1);
	cr_assert_eq(tt_wakes(&kb), 0);
	cr_assert_eq(weft_broadcast_recv_poll(&ra, tt_cx(&ka)), WEFT_READY);
	cr_assert_eq(ra.res, 0);
	cr_assert_eq(va, 42);
	cr_assert_eq(weft_broadcast_try_recv(&b, &vb, NULL), 0, "b lost nothing");
	cr_assert_eq(vb, 42);
	weft_broadcast_recv_init(&ra, &a, &va);
	cr_assert_eq(weft_broadcast_recv_poll(&ra, tt_cx(&ka)), WEFT_PENDING);
	weft_broadcast_tx_drop(tx);
	cr_assert_eq(tt_wakes(&ka), 2);
	cr_assert_eq(weft_broadcast_recv_poll(&ra, tt_cx(&ka)), WEFT_READY);
	cr_assert_eq(ra.res, -EPIPE);
	weft_broadcast_rx_drop(&a);
	weft_broadcast_rx_drop(&b);
	cr_assert_eq(tt_live(&ka) + tt_live(&kb), 0);
}

Test(broadcast, send_without_receivers_fails)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	uint64_t v = 0;

	cr_assert_eq(weft_broadcast_create(&tx, &rx, 8, 0, NULL), -EINVAL);
	weft_broadcast_create(&tx, &rx, 8, 2, NULL);
	weft_broadcast_rx_drop(&rx);
	cr_assert_eq(weft_broadcast_send(tx, &v), -EPIPE);
	weft_broadcast_tx_drop(tx);
}

#define N STRESS(20000, 1000000)

struct st {
	weft_broadcast_rx rx[2];
	tt k[2];
	uint64_t got[2], lost[2];
	int bad[2];
};

static void *receiver(void *arg)
{
	struct st *s = ((void **)arg)[0];
	int i = (int)(intptr_t)((void **)arg)[1];
	uint64_t expect = 0, v;

	for (;;) {
		weft_broadcast_recv r = { 0 };
		int seen = tt_wakes(&s->k[i]);

		weft_broadcast_recv_init(&r, &s->rx[i], &v);
		while (weft_broadcast_recv_poll(&r, tt_cx(&s->k[i])) ==
		       WEFT_PENDING)
			seen = tt_wait_wake(&s->k[i], seen);
		if (r.res == -EPIPE)
			break;
		if (r.res == -EOVERFLOW) {
			expect += r.missed;
			s->lost[i] += r.missed;
			continue;
		}
		if (v != expect)
			s->bad[i] = 1;
		expect++;
		s->got[i]++;
	}
	return NULL;
}

Test(broadcast, threads_receive_in_order_and_account_for_every_value,
     .timeout = 120)
{
	struct st s = { .bad = { 0, 0 } };
	weft_broadcast *tx;
	pthread_t th[2];
	void *args[2][2];

	weft_broadcast_create(&tx, &s.rx[0], 8, 16, NULL);
	weft_broadcast_subscribe(tx, &s.rx[1]);
	for (int i = 0; i < 2; i++) {
		tt_init(&s.k[i]);
		s.got[i] = s.lost[i] = 0;
		args[i][0] = &s;
		args[i][1] = (void *)(intptr_t)i;
		pthread_create(&th[i], NULL, receiver, args[i]);
	}
	for (uint64_t v = 0; v < N; v++)
		weft_broadcast_send(tx, &v);
	weft_broadcast_tx_drop(tx);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(s.bad[i], 0);
		cr_assert_eq(s.got[i] + s.lost[i], N);
		cr_assert_eq(tt_live(&s.k[i]), 0);
		weft_broadcast_rx_drop(&s.rx[i]);
	}
}

/* ------------------------------------------------- element destructor */

static atomic_int released;

static void buf_release(void *elem)
{
	free(*(char **)elem);
	atomic_fetch_add(&released, 1);
}

static char *buf_make(int i)
{
	char *b = malloc(16);

	cr_assert_not_null(b);
	b[0] = (char)('a' + i);
	b[1] = 0;
	return b;
}

Test(broadcast, overwritten_and_held_values_are_released_once)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	char *v, *got;
	uint64_t missed;

	atomic_store(&released, 0);
	cr_assert_eq(weft_broadcast_create(&tx, &rx, sizeof v, 3, buf_release),
		     0);
	for (int i = 0; i < 3; i++) {
		v = buf_make(i);
		cr_assert_eq(weft_broadcast_send(tx, &v), 1);
	}
	cr_assert_eq(atomic_load(&released), 0, "the ring holds all three");
	cr_assert_eq(weft_broadcast_try_recv(&rx, &got, NULL), 0);
	cr_assert_str_eq(got, "a", "a borrowed copy");
	cr_assert_eq(atomic_load(&released), 0, "a receive releases nothing");
	for (int i = 3; i < 5; i++) {
		v = buf_make(i);
		cr_assert_eq(weft_broadcast_send(tx, &v), 1);
		cr_assert_eq(atomic_load(&released), i - 2, "overwritten");
	}
	cr_assert_eq(weft_broadcast_try_recv(&rx, &got, &missed), -EOVERFLOW);
	cr_assert_eq(missed, 1);
	cr_assert_eq(weft_broadcast_try_recv(&rx, &got, NULL), 0);
	cr_assert_str_eq(got, "c");
	weft_broadcast_tx_drop(tx);
	cr_assert_eq(atomic_load(&released), 2);
	weft_broadcast_rx_drop(&rx); /* the last receiver: c, d, e go */
	cr_assert_eq(atomic_load(&released), 5);
}

Test(broadcast, last_receiver_drop_releases_what_nobody_can_read)
{
	weft_broadcast *tx;
	weft_broadcast_rx a, b;
	char *v;

	atomic_store(&released, 0);
	cr_assert_eq(weft_broadcast_create(&tx, &a, sizeof v, 4, buf_release),
		     0);
	weft_broadcast_subscribe(tx, &b);
	for (int i = 0; i < 6; i++) {
		v = buf_make(i);
		cr_assert_eq(weft_broadcast_send(tx, &v), 2);
	}
	cr_assert_eq(atomic_load(&released), 2);
	weft_broadcast_rx_drop(&a);
	cr_assert_eq(atomic_load(&released), 2, "b can still read them");
	weft_broadcast_rx_drop(&b);
	cr_assert_eq(atomic_load(&released), 6, "nobody can: released");
	v = buf_make(9);
	cr_assert_eq(weft_broadcast_send(tx, &v), -EPIPE);
	free(v); /* not stored: still ours */
	/* a new subscriber starts after them; its values are new ones */
	weft_broadcast_subscribe(tx, &a);
	for (int i = 0; i < 5; i++) {
		v = buf_make(i);
		cr_assert_eq(weft_broadcast_send(tx, &v), 1);
	}
	cr_assert_eq(atomic_load(&released), 7, "only a new value overwritten");
	weft_broadcast_tx_drop(tx);
	weft_broadcast_rx_drop(&a);
	cr_assert_eq(atomic_load(&released), 11);
}

MISUSE_TEST(broadcast, sender_dropped_more_often_than_cloned_aborts)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;

	cr_assert_eq(weft_broadcast_create(&tx, &rx, 8, 4, NULL), 0);
	weft_broadcast_tx_drop(weft_broadcast_tx_clone(tx));
	weft_broadcast_tx_drop(tx);
	weft_broadcast_tx_drop(tx); /* the receiver keeps the channel alive */
}

MISUSE_TEST(broadcast, init_of_a_queued_recv_aborts)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	weft_broadcast_recv r = { 0 };
	uint64_t v;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_broadcast_create(&tx, &rx, 8, 4, NULL), 0);
	weft_broadcast_recv_init(&r, &rx, &v);
	cr_assert_eq(weft_broadcast_recv_poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_broadcast_recv_init(&r, &rx, &v);
}

Test(broadcast, receiver_dropped_twice_is_harmless)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	weft_broadcast_recv r = { 0 };
	uint64_t v = 3;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_broadcast_create(&tx, &rx, 8, 4, NULL), 0);
	weft_broadcast_recv_init(&r, &rx, &v);
	cr_assert_eq(weft_broadcast_recv_future.poll(&r, tt_cx(&k)),
		     WEFT_PENDING);
	weft_broadcast_recv_future.drop(&r);
	weft_broadcast_rx_drop(&rx);
	weft_broadcast_rx_drop(&rx);
	cr_assert_eq(weft_broadcast_send(tx, &v), -EPIPE);
	weft_broadcast_tx_drop(tx);
	cr_assert_eq(tt_live(&k), 0);
}
