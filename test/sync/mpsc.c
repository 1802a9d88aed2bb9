/* test/sync/mpsc.c - weft_mpsc: FIFO, back-pressure with handoff to the
 * oldest waiting sender, reserve/permit, close/drain, last-sender close,
 * receiver drop, unbounded growth, recv_many, every cancellation point
 * with counts, wake-exactly-once, batched handoff (low-water mark),
 * multi-producer thread stress, the element destructor (every value the
 * channel holds when the receiver goes is released exactly once, the
 * actor pattern's reply channel included), and the debug checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "weft/mpsc.h"
#include "weft/oneshot.h"

/* One poll of a receive into out. The recv future holds only rx, out and
 * res, so a fresh one per poll is the same receive polled again; *res
 * gets its res at READY. */
static weft_poll rx_poll(weft_mpsc_rx *rx, weft_cx *cx, void *out,
			 intptr_t *res)
{
	weft_mpsc_recv r = { 0 };
	weft_poll p;

	weft_mpsc_recv_init(&r, rx, out);
	p = weft_mpsc_recv_poll(&r, cx);
	if (p == WEFT_READY)
		*res = r.res;
	return p;
}

/* The same for recv_many: at READY *n values (res >= 0) and *err 0, or
 * *n = 0 and *err = res. */
static weft_poll rx_poll_many(weft_mpsc_rx *rx, weft_cx *cx, void *buf,
			      size_t max, size_t *n, intptr_t *err)
{
	weft_mpsc_recv_many r = { 0 };
	weft_poll p;

	weft_mpsc_recv_many_init(&r, rx, buf, max);
	p = weft_mpsc_recv_many_poll(&r, cx);
	if (p == WEFT_READY) {
		*n = r.res > 0 ? (size_t)r.res : 0;
		*err = r.res > 0 ? 0 : r.res;
	}
	return p;
}

static intptr_t recv_now(weft_mpsc_rx *rx, tt *k, uint64_t *v)
{
	intptr_t err = 1;

	cr_assert_eq(rx_poll(rx, tt_cx(k), v, &err), WEFT_READY);
	return err;
}

Test(mpsc, values_arrive_in_send_order)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	uint64_t v;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	for (v = 0; v < 4; v++)
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EAGAIN);
	cr_assert_eq(weft_mpsc_len(rx), 4);
	for (uint64_t i = 0; i < 4; i++) {
		cr_assert_eq(recv_now(rx, &k, &v), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(weft_mpsc_try_recv(rx, &v), -EAGAIN);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(weft_mpsc_try_recv(rx, &v), -EPIPE);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
}

Test(mpsc, invalid_arguments)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, (1ul << 31) + 1, NULL),
		     -EINVAL);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 0, 4, NULL), -EINVAL);
	cr_assert_eq(weft_mpsc_create(NULL, &rx, 8, 4, NULL), -EINVAL);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 0, WEFT_MPSC_UNBOUNDED, NULL),
		     -EINVAL);
	cr_assert_eq(weft_mpsc_create(&tx, NULL, 8, WEFT_MPSC_UNBOUNDED, NULL),
		     -EINVAL);
	cr_assert_eq(weft_mpsc_try_send(NULL, &tx), -EINVAL);
	cr_assert_eq(weft_mpsc_try_recv(NULL, &tx), -EINVAL);
}

Test(mpsc, full_channel_parks_senders_and_hands_slots_oldest_first)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s[3] = { 0 };
	uint64_t vals[3] = { 10, 11, 12 }, v = 0;
	tt k[3], kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	for (int i = 0; i < 3; i++) {
		tt_init(&k[i]);
		weft_mpsc_send_init(&s[i], tx, &vals[i]);
		cr_assert_eq(weft_mpsc_send_poll(&s[i], tt_cx(&k[i])),
			     WEFT_PENDING);
	}
	/* a newcomer does not overtake the waiting senders */
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EAGAIN);
	for (int i = 0; i < 3; i++) {
		uint64_t want = i == 0 ? 0 : vals[i - 1];

		cr_assert_eq(recv_now(rx, &kr, &v), 0);
		cr_assert_eq(v, want);
		for (int j = 0; j < 3; j++)
			cr_assert_eq(tt_wakes(&k[j]), j <= i ? 1 : 0);
		cr_assert_eq(weft_mpsc_send_poll(&s[i], tt_cx(&k[i])),
			     WEFT_READY);
		cr_assert_eq(s[i].res, 0);
	}
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 12);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tt_live(&k[i]), 0);
}

Test(mpsc, dropping_a_send_at_each_point_loses_and_duplicates_nothing)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t va = 1, vb = 2, vc = 3, v = 0;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&a, tx, &va);
	weft_mpsc_send_init(&b, tx, &vb);
	weft_mpsc_send_init(&c, tx, &vc);
	cr_assert_eq(weft_mpsc_send_poll(&a, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_mpsc_send_poll(&b, tt_cx(&k)), WEFT_PENDING);
	/* a: dropped while waiting -> not sent */
	weft_mpsc_send_drop(&a);
	cr_assert_lt(a.res, 0);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 0);
	/* b: woken (its value went in), dropped before its poll -> sent */
	cr_assert_eq(tt_wakes(&k), 1);
	weft_mpsc_send_drop(&b);
	cr_assert_eq(b.res, 0);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 2);
	/* c: completed, then dropped -> sent */
	cr_assert_eq(weft_mpsc_send_poll(&c, tt_cx(&k)), WEFT_READY);
	weft_mpsc_send_drop(&c);
	cr_assert_eq(c.res, 0);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(weft_mpsc_try_recv(rx, &v), -EAGAIN, "1 was never sent");
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k) + tt_live(&kr), 0);
}

Test(mpsc, reserve_holds_a_slot_and_gives_it_back_when_dropped)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_reserve r1 = { 0 }, r2 = { 0 };
	weft_mpsc_send s = { 0 };
	uint64_t v = 0, sv = 99;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	weft_mpsc_reserve_init(&r1, tx);
	cr_assert_eq(weft_mpsc_reserve_poll(&r1, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(r1.res, 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EAGAIN, "slot is reserved");
	weft_mpsc_reserve_init(&r2, tx);
	cr_assert_eq(weft_mpsc_reserve_poll(&r2, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_send_init(&s, tx, &sv);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	/* the permit is used: value in, receiver takes it, r2 is granted */
	v = 5;
	cr_assert_eq(weft_mpsc_permit_send(tx, &v), 0);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 5);
	cr_assert_eq(tt_wakes(&k), 1);
	/* r2 dropped after the grant: the slot passes to the send behind */
	weft_mpsc_reserve_drop(&r2);
	cr_assert_eq(tt_wakes(&k), 2);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 99);
	/* release returns an unused permit */
	weft_mpsc_reserve_init(&r1, tx);
	cr_assert_eq(weft_mpsc_reserve_poll(&r1, tt_cx(&k)), WEFT_READY);
	weft_mpsc_permit_release(tx);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
}

Test(mpsc, reserve_dropped_while_waiting_takes_nothing)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_reserve r = { 0 };
	uint64_t v = 0;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_reserve_init(&r, tx);
	cr_assert_eq(weft_mpsc_reserve_poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_reserve_drop(&r);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0, "slot not held");
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
	cr_assert_eq(tt_wakes(&k), 0);
}

Test(mpsc, close_drains_buffer_then_reports_epipe)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s = { 0 };
	weft_mpsc_reserve r = { 0 };
	uint64_t v, sv = 7;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 2, NULL), 0);
	for (v = 0; v < 2; v++)
		weft_mpsc_try_send(tx, &v);
	weft_mpsc_send_init(&s, tx, &sv);
	weft_mpsc_reserve_init(&r, tx);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_mpsc_reserve_poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_close(rx);
	cr_assert_eq(tt_wakes(&k), 2);
	cr_assert(weft_mpsc_is_closed(tx));
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.res, -EPIPE);
	weft_mpsc_send_drop(&s);
	cr_assert_lt(s.res, 0);
	cr_assert_eq(weft_mpsc_reserve_poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(r.res, -EPIPE);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EPIPE);
	for (uint64_t i = 0; i < 2; i++) {
		cr_assert_eq(recv_now(rx, &kr, &v), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(recv_now(rx, &kr, &v), -EPIPE);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k) + tt_live(&kr), 0);
}

Test(mpsc, last_sender_dropped_wakes_receiver_once_after_drain)
{
	weft_mpsc_tx *tx, *tx2;
	weft_mpsc_rx *rx;
	uint64_t v = 4;
	intptr_t err;
	tt kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	tx2 = weft_mpsc_tx_clone(tx);
	cr_assert_eq(rx_poll(rx, tt_cx(&kr), &v, &err),
		     WEFT_PENDING);
	weft_mpsc_try_send(tx2, &v);
	cr_assert_eq(tt_wakes(&kr), 1);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_tx_drop(tx2);
	cr_assert_eq(tt_wakes(&kr), 1, "already woken; no waker registered");
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(recv_now(rx, &kr, &v), -EPIPE);
	weft_mpsc_rx_drop(rx);

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	cr_assert_eq(rx_poll(rx, tt_cx(&kr), &v, &err),
		     WEFT_PENDING);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(tt_wakes(&kr), 2);
	cr_assert_eq(recv_now(rx, &kr, &v), -EPIPE);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&kr), 0);
}

Test(mpsc, receiver_dropped_fails_waiting_and_later_sends)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s = { 0 };
	uint64_t v = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	weft_mpsc_try_send(tx, &v);
	weft_mpsc_send_init(&s, tx, &v);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.res, -EPIPE);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EPIPE);
	weft_mpsc_tx_drop(tx); /* frees (ASan checks) */
	cr_assert_eq(tt_live(&k), 0);
}

Test(mpsc, unbounded_grows_across_the_wrap_and_keeps_order)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	uint64_t v, next = 0, sent = 0;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, WEFT_MPSC_UNBOUNDED, NULL), 0);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 300 * (round + 1); i++, sent++)
			cr_assert_eq(weft_mpsc_try_send(tx, &sent), 0);
		for (int i = 0; i < 250 * (round + 1); i++, next++) {
			cr_assert_eq(weft_mpsc_try_recv(rx, &v), 0);
			cr_assert_eq(v, next);
		}
	}
	while (weft_mpsc_try_recv(rx, &v) == 0)
		cr_assert_eq(v, next++);
	cr_assert_eq(next, sent);
	weft_mpsc_rx_drop(rx); /* receiver first, then the last sender */
	weft_mpsc_tx_drop(tx);
}

Test(mpsc, recv_many_takes_a_batch_and_admits_waiters)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s[3] = { 0 };
	uint64_t vals[3] = { 100, 101, 102 }, buf[10], v;
	size_t n;
	intptr_t err;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	for (v = 0; v < 4; v++)
		weft_mpsc_try_send(tx, &v);
	for (int i = 0; i < 3; i++) {
		weft_mpsc_send_init(&s[i], tx, &vals[i]);
		cr_assert_eq(weft_mpsc_send_poll(&s[i], tt_cx(&k)), WEFT_PENDING);
	}
	cr_assert_eq(rx_poll_many(rx, tt_cx(&kr), buf, 10, &n, &err),
		     WEFT_READY);
	cr_assert_eq(n, 4);
	for (uint64_t i = 0; i < 4; i++)
		cr_assert_eq(buf[i], i);
	cr_assert_eq(tt_wakes(&k), 3);
	cr_assert_eq(rx_poll_many(rx, tt_cx(&kr), buf, 2, &n, &err),
		     WEFT_READY);
	cr_assert_eq(n, 2);
	cr_assert_eq(buf[0], 100);
	cr_assert_eq(buf[1], 101);
	for (int i = 0; i < 3; i++)
		weft_mpsc_send_drop(&s[i]);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(rx_poll_many(rx, tt_cx(&kr), buf, 10, &n, &err),
		     WEFT_READY);
	cr_assert_eq(n, 1);
	cr_assert_eq(rx_poll_many(rx, tt_cx(&kr), buf, 10, &n, &err),
		     WEFT_READY);
	cr_assert_eq(err, -EPIPE);
	cr_assert_eq(n, 0);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k) + tt_live(&kr), 0);
}

/* cap 8: the receiver hands room over once 4 slots are free (half the
 * ring), in one batch, oldest waiter first; the rest keep waiting */
Test(mpsc, freed_room_is_handed_to_waiters_in_one_batch_oldest_first)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s[6] = { 0 };
	uint64_t vals[6] = { 100, 101, 102, 103, 104, 105 }, v;
	tt k[6], kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 8, NULL), 0);
	for (v = 0; v < 8; v++)
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	for (int i = 0; i < 6; i++) {
		tt_init(&k[i]);
		weft_mpsc_send_init(&s[i], tx, &vals[i]);
		cr_assert_eq(weft_mpsc_send_poll(&s[i], tt_cx(&k[i])),
			     WEFT_PENDING);
	}
	for (uint64_t i = 0; i < 3; i++) {
		cr_assert_eq(recv_now(rx, &kr, &v), 0);
		cr_assert_eq(v, i);
		for (int j = 0; j < 6; j++)
			cr_assert_eq(tt_wakes(&k[j]), 0, "batched, not per value");
	}
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EAGAIN, "no overtaking");
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 3);
	for (int j = 0; j < 6; j++)
		cr_assert_eq(tt_wakes(&k[j]), j < 4 ? 1 : 0);
	cr_assert_eq(weft_mpsc_len(rx), 8);
	for (uint64_t i = 4; i < 8; i++) {
		cr_assert_eq(recv_now(rx, &kr, &v), 0);
		cr_assert_eq(v, i);
	}
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(recv_now(rx, &kr, &v), 0);
		cr_assert_eq(v, vals[i], "FIFO among waiters");
		if (i < 4) {
			cr_assert_eq(weft_mpsc_send_poll(&s[i], tt_cx(&k[i])),
				     WEFT_READY);
			cr_assert_eq(s[i].res, 0);
		}
	}
	weft_mpsc_send_drop(&s[4]);
	cr_assert_eq(s[4].res, 0);
	weft_mpsc_send_drop(&s[5]);
	cr_assert_eq(s[5].res, 0);
	cr_assert_eq(weft_mpsc_try_recv(rx, &v), -EAGAIN);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(tt_live(&k[i]), 0);
	cr_assert_eq(tt_live(&kr), 0);
}

/* permits keep the free room below the handoff mark: taking the last
 * value (the receiver is about to park) must still serve the waiter */
Test(mpsc, waiter_below_the_mark_is_served_when_the_ring_empties)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_reserve r[3] = { 0 };
	weft_mpsc_send s = { 0 };
	uint64_t v = 7, w = 8;
	intptr_t err;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	for (int i = 0; i < 3; i++) {
		weft_mpsc_reserve_init(&r[i], tx);
		cr_assert_eq(weft_mpsc_reserve_poll(&r[i], tt_cx(&k)), WEFT_READY);
		cr_assert_eq(r[i].res, 0);
	}
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&s, tx, &w);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(tt_wakes(&k), 1, "1 free slot < mark 2, ring empty");
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.res, 0);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 8);
	/* parked receiver, room below the mark: a new send is not stuck */
	cr_assert_eq(rx_poll(rx, tt_cx(&kr), &v, &err),
		     WEFT_PENDING);
	cr_assert_eq(weft_mpsc_try_send(tx, &w), 0);
	cr_assert_eq(tt_wakes(&kr), 1);
	for (int i = 0; i < 3; i++)
		weft_mpsc_permit_release(tx);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 8);
	cr_assert_eq(recv_now(rx, &kr, &v), -EPIPE);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k) + tt_live(&kr), 0);
}

/* values left, room below the mark, a sender waiting: closing the
 * channel fails the sender at once (value not taken) and still drains */
Test(mpsc, waiter_below_the_mark_is_released_by_close)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s = { 0 };
	uint64_t v, w = 99;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 16, NULL), 0);
	for (v = 0; v < 16; v++)
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&s, tx, &w);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 0);
	weft_mpsc_close(rx);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.res, -EPIPE);
	weft_mpsc_send_drop(&s);
	cr_assert_lt(s.res, 0);
	for (uint64_t i = 1; i < 16; i++) {
		cr_assert_eq(recv_now(rx, &kr, &v), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(recv_now(rx, &kr, &v), -EPIPE);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k) + tt_live(&kr), 0);
}

Test(mpsc, burst_of_sends_wakes_waiting_receiver_once)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	uint64_t v = 0;
	intptr_t err;
	tt kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 16, NULL), 0);
	cr_assert_eq(rx_poll(rx, tt_cx(&kr), &v, &err),
		     WEFT_PENDING);
	for (int i = 0; i < 10; i++)
		weft_mpsc_try_send(tx, &v);
	cr_assert_eq(tt_wakes(&kr), 1);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&kr), 0);
}

Test(mpsc, odd_sized_values_and_coop_budget)
{
	struct rec { uint32_t a; char s[13]; } in = { 7, "hello world!" }, out;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s = { 0 };
	intptr_t err;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof in, 3, NULL), 0);
	weft_mpsc_send_init(&s, tx, &in);
	weft_cx *cx = tt_cx(&k);

	cx->budget = 0;
	cr_assert_eq(weft_mpsc_send_poll(&s, cx), WEFT_PENDING);
	cr_assert_eq(tt_wakes(&k), 1, "yielded");
	cr_assert_eq(weft_mpsc_len(rx), 0);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cx = tt_cx(&k);
	cx->budget = 0;
	cr_assert_eq(rx_poll(rx, cx, &out, &err), WEFT_PENDING);
	cr_assert_eq(rx_poll(rx, tt_cx(&k), &out, &err), WEFT_READY);
	cr_assert_eq(out.a, 7);
	cr_assert_str_eq(out.s, "hello world!");
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
}

/* --------------------------------------------------------- threads */

#define NPROD 4
#define PER STRESS(20000, 1000000)

struct prod {
	weft_mpsc_tx *tx;
	int id;
	tt k; /* owned by the test: wakes may still land after return */
};

/* Sends id<<32 | seq for seq in [0, PER), in order, mixing every way of
 * sending and cancelling a send. */
static void *producer(void *arg)
{
	struct prod *p = arg;
	unsigned rng = (unsigned)p->id * 7919u + 1;
#define k (p->k)
	for (uint64_t seq = 0; seq < PER;) {
		uint64_t v = ((uint64_t)p->id << 32) | seq;
		int seen = tt_wakes(&k);

		rng = rng * 1103515245u + 12345u;
		switch ((rng >> 16) % 4) {
		case 0:
			if (weft_mpsc_try_send(p->tx, &v) == 0)
				seq++;
			else
				sched_yield();
			break;
		case 1: { /* reserve, then send or give back */
			weft_mpsc_reserve r = { 0 };
			weft_poll pr;

			weft_mpsc_reserve_init(&r, p->tx);
			while ((pr = weft_mpsc_reserve_poll(&r, tt_cx(&k))) ==
			       WEFT_PENDING) {
				if ((rng >> 20) % 3 == 0)
					break;
				seen = tt_wait_wake(&k, seen);
			}
			if (pr == WEFT_PENDING) {
				weft_mpsc_reserve_drop(&r);
				break;
			}
			if ((rng >> 24) % 4 == 0) {
				weft_mpsc_permit_release(p->tx);
			} else {
				weft_mpsc_permit_send(p->tx, &v);
				seq++;
			}
			break;
		}
		default: { /* send future, sometimes abandoned mid-wait */
			weft_mpsc_send s = { 0 };
			weft_poll r;

			weft_mpsc_send_init(&s, p->tx, &v);
			while ((r = weft_mpsc_send_poll(&s, tt_cx(&k))) ==
			       WEFT_PENDING) {
				if ((rng >> 20) % 3 == 0)
					break;
				seen = tt_wait_wake(&k, seen);
			}
			if (r == WEFT_PENDING)
				weft_mpsc_send_drop(&s); /* res: delivered? */
			if (r == WEFT_READY || s.res == 0)
				seq++;
			break;
		}
		}
	}
#undef k
	weft_mpsc_tx_drop(p->tx);
	return NULL;
}

Test(mpsc, producers_keep_fifo_and_nothing_is_lost_or_doubled,
     .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct prod p[NPROD];
	pthread_t th[NPROD];
	uint64_t next[NPROD] = { 0 }, total = 0, buf[16];
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 8, NULL), 0);
	for (int i = 0; i < NPROD; i++) {
		p[i].tx = i ? weft_mpsc_tx_clone(tx) : tx;
		p[i].id = i;
		tt_init(&p[i].k);
		pthread_create(&th[i], NULL, producer, &p[i]);
	}
	for (;;) {
		size_t n = 0;
		intptr_t err = 0;
		int seen = tt_wakes(&k);
		weft_poll r;

		if (total % 3)
			r = rx_poll(rx, tt_cx(&k), buf, &err), n = 1;
		else
			r = rx_poll_many(rx, tt_cx(&k), buf, 16, &n, &err);
		if (r == WEFT_PENDING) {
			tt_wait_wake(&k, seen);
			continue;
		}
		if (err == -EPIPE)
			break;
		for (size_t i = 0; i < n; i++) {
			uint32_t id = (uint32_t)(buf[i] >> 32);

			cr_assert_lt(id, NPROD);
			cr_assert_eq(buf[i] & 0xffffffffu, next[id], "FIFO per producer");
			next[id]++;
			total++;
		}
	}
	for (int i = 0; i < NPROD; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NPROD; i++) {
		cr_assert_eq(next[i], PER);
		cr_assert_eq(tt_live(&p[i].k), 0);
	}
	cr_assert_eq(total, (uint64_t)NPROD * PER);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
}

/* ------------------------------------------- lock-free ring edges */

Test(mpsc, non_power_of_two_ring_wraps_and_counts)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	uint64_t v, next = 0, sent = 0;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 3, NULL), 0);
	for (int round = 0; round < 20; round++) {
		while (weft_mpsc_try_send(tx, &sent) == 0)
			sent++;
		cr_assert_eq(weft_mpsc_len(rx), 3);
		for (int i = 0; i <= round % 3; i++, next++) {
			cr_assert_eq(weft_mpsc_try_recv(rx, &v), 0);
			cr_assert_eq(v, next);
		}
		cr_assert_eq(weft_mpsc_len(rx), 3 - (size_t)(round % 3 + 1));
	}
	while (weft_mpsc_try_recv(rx, &v) == 0)
		cr_assert_eq(v, next++);
	cr_assert_eq(next, sent);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
}

struct plain_prod {
	weft_mpsc_tx *tx;
	int id;
	uint64_t per;
	bool futures;     /* send futures (wait) or try_send (spin) */
	uint64_t ok;      /* values the channel accepted */
	tt k;
};

/* Sends id<<32 | seq in order until per values or -EPIPE. */
static void *plain_producer(void *arg)
{
	struct plain_prod *p = arg;

	for (uint64_t seq = 0; seq < p->per;) {
		uint64_t v = ((uint64_t)p->id << 32) | seq;
		intptr_t err;

		if (p->futures) {
			weft_mpsc_send s = { 0 };
			int seen = tt_wakes(&p->k);

			weft_mpsc_send_init(&s, p->tx, &v);
			while (weft_mpsc_send_poll(&s, tt_cx(&p->k)) == WEFT_PENDING)
				seen = tt_wait_wake(&p->k, seen);
			err = s.res;
		} else {
			while ((err = weft_mpsc_try_send(p->tx, &v)) == -EAGAIN)
				sched_yield();
		}
		if (err)
			break;
		seq++;
		p->ok++;
	}
	weft_mpsc_tx_drop(p->tx);
	return NULL;
}

/* Runs n producers of per values each on a fresh channel and receives
 * everything, checking FIFO per producer; close_after > 0 closes the
 * receiver after that many values and drains. Returns values received. */
static uint64_t run_producers(weft_mpsc_tx *tx, weft_mpsc_rx *rx, int n,
			      uint64_t per, bool futures, uint64_t close_after)
{
	struct plain_prod p[NPROD];
	pthread_t th[NPROD];
	uint64_t next[NPROD] = { 0 }, total = 0, buf[8], sent = 0;
	tt k;

	tt_init(&k);
	/* every handle exists before any producer runs: a producer that
	 * finished and dropped the only handle would close the channel */
	for (int i = 0; i < n; i++) {
		p[i] = (struct plain_prod){ .tx = i ? weft_mpsc_tx_clone(tx) : tx,
					    .id = i, .per = per,
					    .futures = futures };
		tt_init(&p[i].k);
	}
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, plain_producer, &p[i]);
	for (;;) {
		size_t got = 0;
		intptr_t err = 0;
		int seen = tt_wakes(&k);
		weft_poll r;

		if (close_after && total >= close_after) {
			weft_mpsc_close(rx);
			close_after = 0;
		}
		if (total & 1)
			r = rx_poll(rx, tt_cx(&k), buf, &err), got = 1;
		else
			r = rx_poll_many(rx, tt_cx(&k), buf, 8, &got, &err);
		if (r == WEFT_PENDING) {
			tt_wait_wake(&k, seen);
			continue;
		}
		if (err == -EPIPE)
			break;
		for (size_t i = 0; i < got; i++) {
			uint32_t id = (uint32_t)(buf[i] >> 32);

			cr_assert_lt(id, (uint32_t)n);
			cr_assert_eq(buf[i] & 0xffffffffu, next[id],
				     "FIFO per producer");
			next[id]++;
			total++;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(next[i], p[i].ok, "accepted == received");
		cr_assert_eq(tt_live(&p[i].k), 0);
		sent += p[i].ok;
	}
	cr_assert_eq(total, sent);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
	return total;
}

Test(mpsc, receiver_parks_as_the_last_producer_publishes, .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	/* one producer, a receiver that keeps catching up and parking: a
	 * lost wake-up hangs the test */
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1024, NULL), 0);
	cr_assert_eq(run_producers(tx, rx, 1, PER * 4, false, 0), PER * 4);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, WEFT_MPSC_UNBOUNDED, NULL), 0);
	cr_assert_eq(run_producers(tx, rx, 1, PER * 4, false, 0), PER * 4);
}

Test(mpsc, many_producers_wrap_a_small_ring_lock_free, .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 3, NULL), 0);
	cr_assert_eq(run_producers(tx, rx, NPROD, PER, false, 0),
		     (uint64_t)NPROD * PER);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 5, NULL), 0);
	cr_assert_eq(run_producers(tx, rx, NPROD, PER, true, 0),
		     (uint64_t)NPROD * PER);
}

Test(mpsc, unbounded_producers_cross_blocks_in_order, .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, WEFT_MPSC_UNBOUNDED, NULL), 0);
	cr_assert_eq(run_producers(tx, rx, NPROD, PER, false, 0),
		     (uint64_t)NPROD * PER);
}

Test(mpsc, close_racing_with_sends_drains_every_accepted_value,
     .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	for (int round = 0; round < 4; round++) {
		cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 16, NULL), 0);
		run_producers(tx, rx, NPROD, PER, round & 1, PER / 2);
		cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, WEFT_MPSC_UNBOUNDED, NULL), 0);
		run_producers(tx, rx, NPROD, PER, false, PER / 2);
	}
}

/* ------------------------------------------------- element destructor */

/* A value that owns a heap buffer; release frees it and counts. */
struct owned {
	uint64_t id;
	char *buf;
};

static atomic_int released;

static void owned_release(void *elem)
{
	struct owned *o = elem;

	free(o->buf);
	o->buf = NULL;
	atomic_fetch_add(&released, 1);
}

static struct owned owned_make(uint64_t id)
{
	struct owned o = { id, malloc(32) };

	cr_assert_not_null(o.buf);
	snprintf(o.buf, 32, "value %llu", (unsigned long long)id);
	return o;
}

Test(mpsc, receiver_drop_releases_every_buffered_value_once)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send handed[2] = { 0 }, waiting = { 0 };
	struct owned v, got, w[2] = { owned_make(100), owned_make(101) };
	struct owned wv = owned_make(102);
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	atomic_store(&released, 0);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(struct owned), 4,
				      owned_release), 0);
	for (uint64_t i = 0; i < 4; i++) {
		v = owned_make(i);
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	}
	for (int i = 0; i < 2; i++) {
		weft_mpsc_send_init(&handed[i], tx, &w[i]);
		cr_assert_eq(weft_mpsc_send_poll(&handed[i], tt_cx(&k)),
			     WEFT_PENDING);
	}
	weft_mpsc_send_init(&waiting, tx, &wv);
	cr_assert_eq(weft_mpsc_send_poll(&waiting, tt_cx(&k)), WEFT_PENDING);
	/* received values are the receiver's: never released */
	for (uint64_t i = 0; i < 2; i++) {
		cr_assert_eq(weft_mpsc_try_recv(rx, &got), 0);
		cr_assert_eq(got.id, i);
		cr_assert_str_eq(got.buf, i ? "value 1" : "value 0");
		free(got.buf);
	}
	/* 2 slots free (the mark): the handoff copied w[0] and w[1] in
	 * (delivered: the channel's now); wv still waits, the sender's */
	cr_assert_eq(tt_wakes(&k), 2);
	cr_assert_eq(atomic_load(&released), 0);
	weft_mpsc_rx_drop(rx);
	/* 2, 3, w[0] and w[1] were the channel's */
	cr_assert_eq(atomic_load(&released), 4);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(weft_mpsc_send_poll(&handed[i], tt_cx(&k)),
			     WEFT_READY);
		cr_assert_eq(handed[i].res, 0, "delivered (then released)");
	}
	cr_assert_eq(weft_mpsc_send_poll(&waiting, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(waiting.res, -EPIPE, "not taken: still ours");
	cr_assert_str_eq(wv.buf, "value 102");
	free(wv.buf);
	v = owned_make(7);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), -EPIPE);
	free(v.buf); /* a failed send leaves the value with the caller */
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(atomic_load(&released), 4, "the free releases nothing more");
	cr_assert_eq(tt_live(&k) + tt_live(&kr), 0);
}

Test(mpsc, unbounded_receiver_drop_releases_across_blocks)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct owned v;
	int n = 3000; /* several blocks */

	atomic_store(&released, 0);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(struct owned),
				      WEFT_MPSC_UNBOUNDED, owned_release), 0);
	for (int i = 0; i < n; i++) {
		v = owned_make((uint64_t)i);
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	}
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(weft_mpsc_try_recv(rx, &v), 0);
		cr_assert_eq(v.id, (uint64_t)i);
		free(v.buf);
	}
	cr_assert_eq(atomic_load(&released), 0);
	weft_mpsc_rx_drop(rx); /* the sender keeps the channel */
	cr_assert_eq(atomic_load(&released), n - 1000);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(atomic_load(&released), n - 1000);
}

Test(mpsc, close_keeps_values_receivable_and_drop_releases_the_rest)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct owned v;

	atomic_store(&released, 0);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(struct owned), 8,
				      owned_release), 0);
	for (int i = 0; i < 5; i++) {
		v = owned_make((uint64_t)i);
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	}
	weft_mpsc_close(rx);
	cr_assert_eq(atomic_load(&released), 0, "close releases nothing");
	cr_assert_eq(weft_mpsc_try_recv(rx, &v), 0);
	free(v.buf);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(atomic_load(&released), 4);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(atomic_load(&released), 4);
}

/* The seed texts' actor: a request carries the requester's reply channel.
 * The actor (the receiver) goes away with requests queued; releasing them
 * drops each reply sender, so each requester's receive completes with
 * -EPIPE instead of waiting forever, and nothing leaks. */
struct request {
	uint64_t arg;
	weft_oneshot *reply; /* the request owns the sending end */
};

static void request_release(void *elem)
{
	struct request *r = elem;

	weft_oneshot_tx_drop(r->reply);
	atomic_fetch_add(&released, 1);
}

Test(mpsc, queued_requests_release_their_reply_channel)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct {
		weft_oneshot *o;
		weft_oneshot_recv r;
		uint64_t answer;
		tt k;
	} req[3];

	atomic_store(&released, 0);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(struct request), 8,
				      request_release), 0);
	for (int i = 0; i < 3; i++) {
		struct request q;

		tt_init(&req[i].k);
		cr_assert_eq(weft_oneshot_create(&req[i].o, 8), 0);
		q = (struct request){ .arg = (uint64_t)i, .reply = req[i].o };
		cr_assert_eq(weft_mpsc_try_send(tx, &q), 0);
		req[i].r = (weft_oneshot_recv){ 0 };
		weft_oneshot_recv_init(&req[i].r, req[i].o, &req[i].answer);
		cr_assert_eq(weft_oneshot_recv_poll(&req[i].r, tt_cx(&req[i].k)),
			     WEFT_PENDING);
	}
	weft_mpsc_rx_drop(rx); /* the actor stops */
	cr_assert_eq(atomic_load(&released), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(tt_wakes(&req[i].k), 1, "the requester is woken");
		cr_assert_eq(weft_oneshot_recv_poll(&req[i].r, tt_cx(&req[i].k)),
			     WEFT_READY);
		cr_assert_eq(req[i].r.res, -EPIPE);
		weft_oneshot_rx_drop(req[i].o); /* frees it (ASan) */
		cr_assert_eq(tt_live(&req[i].k), 0);
	}
	weft_mpsc_tx_drop(tx);
}

/* Every value a producer got 0 for is either received or released, exactly
 * once, however the receiver's drop lands among lock-free sends. A value a
 * sender is still copying in when the receiver goes (its slot claimed
 * before the close) is released when the channel is freed: the values are
 * large (a long copy between claim and publish), so that case comes up
 * (a few times in 40 rounds here; a run of 100 without it is unlikely). */
struct big_owned {
	struct owned o;
	char pad[256 * 1024];
};

struct owned_prod {
	weft_mpsc_tx *tx;
	atomic_int *made;
};

static void *owned_producer(void *arg)
{
	struct owned_prod *p = arg;
	struct big_owned *v = calloc(1, sizeof(*v));

	cr_assert_not_null(v);
	for (;;) {
		int r;

		v->o = owned_make(0);
		while ((r = weft_mpsc_try_send(p->tx, v)) == -EAGAIN)
			sched_yield();
		if (r < 0) { /* closed: ours */
			free(v->o.buf);
			break;
		}
		atomic_fetch_add(p->made, 1);
	}
	free(v);
	weft_mpsc_tx_drop(p->tx);
	return NULL;
}

Test(mpsc, receiver_dropped_among_sends_releases_each_value_once,
     .timeout = 300)
{
	struct big_owned *v = calloc(1, sizeof(*v));

	cr_assert_not_null(v);
	for (int round = 0; round < STRESS(100, 1000); round++) {
		weft_mpsc_tx *tx;
		weft_mpsc_rx *rx;
		struct owned_prod p[3];
		pthread_t th[3];
		atomic_int made;
		int received = 0;
		size_t cap = round % 4 == 3 ? WEFT_MPSC_UNBOUNDED : 4;

		atomic_init(&made, 0);
		atomic_store(&released, 0);
		cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(*v), cap,
					      owned_release), 0);
		for (int i = 0; i < 3; i++) {
			p[i].tx = i ? weft_mpsc_tx_clone(tx) : tx;
			p[i].made = &made;
		}
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, owned_producer, &p[i]);
		while (received < 20 + round % 7) {
			if (weft_mpsc_try_recv(rx, v) == 0) {
				free(v->o.buf);
				received++;
			} else {
				sched_yield();
			}
		}
		weft_mpsc_rx_drop(rx);
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		cr_assert_eq(received + atomic_load(&released),
			     atomic_load(&made), "each accepted value once");
	}
	free(v);
}

/* ------------------------------------------------------- debug checks */

MISUSE_TEST(mpsc, receiver_dropped_twice_aborts)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	weft_mpsc_rx_drop(rx); /* the sender keeps the channel alive */
	weft_mpsc_rx_drop(rx);
}

MISUSE_TEST(mpsc, sender_dropped_more_often_than_cloned_aborts)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	weft_mpsc_tx_drop(weft_mpsc_tx_clone(tx));
	weft_mpsc_tx_drop(tx);
	weft_mpsc_tx_drop(tx); /* the receiver keeps the channel alive */
}

MISUSE_TEST(mpsc, init_of_a_waiting_send_aborts)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s = { 0 };
	uint64_t v = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&s, tx, &v);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_send_init(&s, tx, &v);
}

MISUSE_TEST(mpsc, init_of_a_waiting_reserve_aborts)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_reserve r = { 0 };
	uint64_t v = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_reserve_init(&r, tx);
	cr_assert_eq(weft_mpsc_reserve_poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_reserve_init(&r, tx);
}

Test(mpsc, send_drop_records_delivery_in_res)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send never = { 0 }, waiting = { 0 };
	uint64_t v = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 1, NULL), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&never, tx, &v);
	weft_mpsc_send_drop(&never);
	cr_assert_eq(never.res, -ECANCELED, "never polled: not sent");
	weft_mpsc_send_init(&waiting, tx, &v);
	cr_assert_eq(weft_mpsc_send_future.poll(&waiting, tt_cx(&k)),
		     WEFT_PENDING);
	weft_mpsc_send_future.drop(&waiting);
	cr_assert_eq(waiting.res, -ECANCELED, "dropped waiting: not sent");
	weft_mpsc_send_drop(&waiting);
	cr_assert_eq(waiting.res, -ECANCELED, "a second drop changes nothing");
	cr_assert_eq(weft_mpsc_len(rx), 1);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
}

Test(mpsc, recv_futures_report_through_res)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_recv r = { 0 };
	weft_mpsc_recv_many m = { 0 };
	uint64_t v = 5, buf[4];
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_create(&tx, &rx, 8, 4, NULL), 0);
	weft_mpsc_recv_many_init(&m, rx, buf, 0);
	cr_assert_eq(weft_mpsc_recv_many_poll(&m, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(m.res, -EINVAL);
	weft_mpsc_recv_init(&r, rx, &v);
	cr_assert_eq(weft_mpsc_recv_future.poll(&r, tt_cx(&k)), WEFT_PENDING);
	v = 6;
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	cr_assert_eq(tt_wakes(&k), 1);
	v = 0;
	cr_assert_eq(weft_mpsc_recv_future.poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_future_res(&weft_mpsc_recv_future, &r), 0);
	cr_assert_eq(v, 6);
	weft_mpsc_recv_many_init(&m, rx, buf, 4);
	cr_assert_eq(weft_mpsc_recv_many_future.poll(&m, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(m.res, 1, "res is the count");
	weft_mpsc_tx_drop(tx);
	weft_mpsc_recv_many_init(&m, rx, buf, 4);
	cr_assert_eq(weft_mpsc_recv_many_poll(&m, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(m.res, -EPIPE);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_live(&k), 0);
}
