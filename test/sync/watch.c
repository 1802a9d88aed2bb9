/* test/sync/watch.c - weft_watch: coalescing, borrow, sender drop after a
 * last value, no-receiver send, cancellation of the changed future, a
 * thread stress where receivers only ever see newer values, the element
 * destructor (each replaced value and the last one, once), and the debug
 * checks. */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "weft/watch.h"

Test(watch, sends_coalesce_into_one_change_with_the_latest_value)
{
	weft_watch *tx;
	weft_watch_rx rx;
	weft_watch_changed c = { 0 };
	uint64_t v = 0;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_watch_create(&tx, &rx, 8, &v, NULL), 0);
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_poll(&c, tt_cx(&k)), WEFT_PENDING);
	for (v = 1; v <= 3; v++)
		cr_assert_eq(weft_watch_send(tx, &v), 0);
	cr_assert_eq(tt_wakes(&k), 1, "one wake for three sends");
	cr_assert_eq(weft_watch_changed_poll(&c, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(c.res, 0);
	weft_watch_borrow(&rx, &v);
	cr_assert_eq(v, 3);
	cr_assert_eq(weft_watch_has_changed(&rx), 0);
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_poll(&c, tt_cx(&k)), WEFT_PENDING);
	weft_watch_changed_drop(&c); /* while waiting */
	cr_assert_eq(tt_live(&k), 0);
	v = 4;
	weft_watch_send(tx, &v);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_watch_has_changed(&rx), 1, "the dropped wait lost nothing");
	weft_watch_tx_drop(tx);
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_poll(&c, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(c.res, 0, "the last value first");
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_poll(&c, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(c.res, -EPIPE);
	cr_assert_eq(weft_watch_has_changed(&rx), -EPIPE);
	weft_watch_rx_drop(&rx);
}

Test(watch, receivers_track_their_own_version_and_sender_drop_wakes)
{
	weft_watch *tx;
	weft_watch_rx a, b;
	weft_watch_changed ca = { 0 }, cb = { 0 };
	uint64_t v = 10;
	tt ka, kb;

	tt_init(&ka);
	tt_init(&kb);
	weft_watch_create(&tx, &a, 8, &v, NULL);
	v = 11;
	weft_watch_send(tx, &v);
	weft_watch_subscribe(tx, &b); /* has seen 11 */
	cr_assert_eq(weft_watch_has_changed(&a), 1);
	cr_assert_eq(weft_watch_has_changed(&b), 0);
	weft_watch_changed_init(&ca, &a);
	weft_watch_changed_init(&cb, &b);
	cr_assert_eq(weft_watch_changed_poll(&ca, tt_cx(&ka)), WEFT_READY);
	cr_assert_eq(weft_watch_changed_poll(&cb, tt_cx(&kb)), WEFT_PENDING);
	weft_watch_tx_drop(tx);
	cr_assert_eq(tt_wakes(&kb), 1);
	cr_assert_eq(weft_watch_changed_poll(&cb, tt_cx(&kb)), WEFT_READY);
	cr_assert_eq(cb.res, -EPIPE);
	weft_watch_rx_drop(&a);
	weft_watch_rx_drop(&b);
	cr_assert_eq(tt_live(&ka) + tt_live(&kb), 0);
}

Test(watch, send_without_receivers_fails)
{
	weft_watch *tx;
	weft_watch_rx rx, r2;
	uint64_t v = 1;

	cr_assert_eq(weft_watch_create(&tx, &rx, 0, &v, NULL), -EINVAL);
	weft_watch_create(&tx, &rx, 8, &v, NULL);
	weft_watch_rx_clone(&rx, &r2);
	weft_watch_rx_drop(&rx);
	cr_assert_eq(weft_watch_send(tx, &v), 0);
	weft_watch_rx_drop(&r2);
	cr_assert_eq(weft_watch_send(tx, &v), -EPIPE);
	weft_watch_tx_drop(tx);
}

#define N STRESS(20000, 1000000)

struct st {
	weft_watch *tx;
	weft_watch_rx rx[2];
	tt k[2];
	int bad[2];
};

static void *receiver(void *arg)
{
	struct st *s = ((void **)arg)[0];
	int i = (int)(intptr_t)((void **)arg)[1];
	uint64_t last = 0, v;

	for (;;) {
		weft_watch_changed c = { 0 };
		int seen = tt_wakes(&s->k[i]);

		weft_watch_changed_init(&c, &s->rx[i]);
		while (weft_watch_changed_poll(&c, tt_cx(&s->k[i])) ==
		       WEFT_PENDING)
			seen = tt_wait_wake(&s->k[i], seen);
		if (c.res == -EPIPE)
			break;
		weft_watch_borrow(&s->rx[i], &v);
		if (v < last)
			s->bad[i] = 1;
		last = v;
	}
	if (last != N)
		s->bad[i] = 1;
	return NULL;
}

Test(watch, threads_only_see_newer_values_and_the_last, .timeout = 120)
{
	struct st s = { .bad = { 0, 0 } };
	pthread_t th[2];
	void *args[2][2];
	uint64_t v = 0;

	weft_watch_create(&s.tx, &s.rx[0], 8, &v, NULL);
	weft_watch_subscribe(s.tx, &s.rx[1]);
	for (int i = 0; i < 2; i++) {
		tt_init(&s.k[i]);
		args[i][0] = &s;
		args[i][1] = (void *)(intptr_t)i;
		pthread_create(&th[i], NULL, receiver, args[i]);
	}
	for (v = 1; v <= N; v++)
		weft_watch_send(s.tx, &v);
	weft_watch_tx_drop(s.tx);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(s.bad[i], 0);
		cr_assert_eq(tt_live(&s.k[i]), 0);
		weft_watch_rx_drop(&s.rx[i]);
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

Test(watch, each_replaced_value_and_the_last_are_released_once)
{
	weft_watch *tx;
	weft_watch_rx rx, r2;
	char *v = buf_make(0), *got = NULL;

	atomic_store(&released, 0);
	cr_assert_eq(weft_watch_create(&tx, &rx, sizeof v, &v, buf_release), 0);
	for (int i = 1; i <= 3; i++) {
		v = buf_make(i);
		cr_assert_eq(weft_watch_send(tx, &v), 0);
		cr_assert_eq(atomic_load(&released), i, "the replaced value");
	}
	weft_watch_borrow(&rx, &got);
	cr_assert_str_eq(got, "d", "a borrow: still the channel's");
	weft_watch_rx_clone(&rx, &r2);
	weft_watch_rx_drop(&rx);
	weft_watch_rx_drop(&r2);
	v = buf_make(9);
	cr_assert_eq(weft_watch_send(tx, &v), -EPIPE);
	free(v); /* not stored: still ours */
	cr_assert_eq(atomic_load(&released), 3);
	weft_watch_tx_drop(tx); /* the last handle: the last value goes */
	cr_assert_eq(atomic_load(&released), 4);
}

Test(watch, the_last_value_is_released_by_the_last_receiver)
{
	weft_watch *tx;
	weft_watch_rx rx;
	char *v = buf_make(0);

	atomic_store(&released, 0);
	cr_assert_eq(weft_watch_create(&tx, &rx, sizeof v, &v, buf_release), 0);
	weft_watch_tx_drop(tx);
	cr_assert_eq(atomic_load(&released), 0);
	weft_watch_rx_drop(&rx);
	cr_assert_eq(atomic_load(&released), 1);
}

MISUSE_TEST(watch, sender_dropped_twice_aborts)
{
	weft_watch *tx;
	weft_watch_rx rx;
	uint64_t v = 0;

	cr_assert_eq(weft_watch_create(&tx, &rx, 8, &v, NULL), 0);
	weft_watch_tx_drop(tx); /* the receiver keeps the channel alive */
	weft_watch_tx_drop(tx);
}

MISUSE_TEST(watch, init_of_a_queued_changed_aborts)
{
	weft_watch *tx;
	weft_watch_rx rx;
	weft_watch_changed c = { 0 };
	uint64_t v = 0;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_watch_create(&tx, &rx, 8, &v, NULL), 0);
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_poll(&c, tt_cx(&k)), WEFT_PENDING);
	weft_watch_changed_init(&c, &rx);
}

Test(watch, changed_is_a_future_type)
{
	weft_watch *tx;
	weft_watch_rx rx;
	weft_watch_changed c = { 0 };
	uint64_t v = 0;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_watch_create(&tx, &rx, 8, &v, NULL), 0);
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_future.poll(&c, tt_cx(&k)),
		     WEFT_PENDING);
	weft_watch_changed_future.drop(&c);
	cr_assert_eq(tt_live(&k), 0);
	weft_watch_tx_drop(tx);
	weft_watch_changed_init(&c, &rx);
	cr_assert_eq(weft_watch_changed_future.poll(&c, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_future_res(&weft_watch_changed_future, &c), -EPIPE);
	weft_watch_rx_drop(&rx);
}
