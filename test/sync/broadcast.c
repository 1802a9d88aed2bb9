/* test/sync/broadcast.c - weft_broadcast: every receiver sees every value,
 * a lagging receiver is told how many it missed and resumes at the oldest,
 * close after the last sender, cancellation of a waiting receive, and a
 * thread stress with receivers checking order and counting losses. */
#include <errno.h>

#include "harness.h"
#include "weft/broadcast.h"

Test(broadcast, every_receiver_gets_every_value_in_order)
{
	weft_broadcast *tx;
	weft_broadcast_rx a, b;
	uint64_t v;

	cr_assert_eq(weft_broadcast_create(8, 4, &tx, &a), 0);
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
	weft_broadcast_recv r;
	uint64_t v, missed = 0;
	tt k;

	tt_init(&k);
	weft_broadcast_create(8, 4, &tx, &rx);
	for (v = 0; v < 10; v++)
		weft_broadcast_send(tx, &v);
	weft_broadcast_recv_init(&r, &rx, &v);
	cr_assert_eq(weft_broadcast_recv_poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(r.err, -EOVERFLOW);
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
	weft_broadcast_recv ra, rb;
	uint64_t va = 0, vb = 0, v = 42;
	tt ka, kb;

	tt_init(&ka);
	tt_init(&kb);
	weft_broadcast_create(8, 2, &tx, &a);
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
	cr_assert_eq(ra.err, 0);
	cr_assert_eq(va, 42);
	cr_assert_eq(weft_broadcast_try_recv(&b, &vb, NULL), 0, "b lost nothing");
	cr_assert_eq(vb, 42);
	weft_broadcast_recv_init(&ra, &a, &va);
	cr_assert_eq(weft_broadcast_recv_poll(&ra, tt_cx(&ka)), WEFT_PENDING);
	weft_broadcast_tx_drop(tx);
	cr_assert_eq(tt_wakes(&ka), 2);
	cr_assert_eq(weft_broadcast_recv_poll(&ra, tt_cx(&ka)), WEFT_READY);
	cr_assert_eq(ra.err, -EPIPE);
	weft_broadcast_rx_drop(&a);
	weft_broadcast_rx_drop(&b);
	cr_assert_eq(tt_live(&ka) + tt_live(&kb), 0);
}

Test(broadcast, send_without_receivers_fails)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	uint64_t v = 0;

	cr_assert_eq(weft_broadcast_create(8, 0, &tx, &rx), -EINVAL);
	weft_broadcast_create(8, 2, &tx, &rx);
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
		weft_broadcast_recv r;
		int seen = tt_wakes(&s->k[i]);

		weft_broadcast_recv_init(&r, &s->rx[i], &v);
		while (weft_broadcast_recv_poll(&r, tt_cx(&s->k[i])) ==
		       WEFT_PENDING)
			seen = tt_wait_wake(&s->k[i], seen);
		if (r.err == -EPIPE)
			break;
		if (r.err == -EOVERFLOW) {
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

	weft_broadcast_create(8, 16, &tx, &s.rx[0]);
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
