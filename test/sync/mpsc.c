/* test/sync/mpsc.c - weft_mpsc: FIFO, back-pressure with handoff to the
 * oldest waiting sender, reserve/permit, close/drain, last-sender close,
 * receiver drop, unbounded growth, recv_many, every cancellation point
 * with counts, wake-exactly-once, batched handoff (low-water mark) and
 * multi-producer thread stress. */
#include <errno.h>

#include "harness.h"
#include "weft/mpsc.h"

static int recv_now(weft_mpsc_rx *rx, tt *k, uint64_t *v)
{
	int err = 1;

	cr_assert_eq(weft_mpsc_recv_poll(rx, tt_cx(k), v, &err), WEFT_READY);
	return err;
}

Test(mpsc, values_arrive_in_send_order)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	uint64_t v;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_channel(8, 4, &tx, &rx), 0);
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

	cr_assert_eq(weft_mpsc_channel(8, 0, &tx, &rx), -EINVAL);
	cr_assert_eq(weft_mpsc_channel(0, 4, &tx, &rx), -EINVAL);
	cr_assert_eq(weft_mpsc_channel(8, 4, NULL, &rx), -EINVAL);
	cr_assert_eq(weft_mpsc_unbounded(0, &tx, &rx), -EINVAL);
	cr_assert_eq(weft_mpsc_try_send(NULL, &tx), -EINVAL);
	cr_assert_eq(weft_mpsc_try_recv(NULL, &tx), -EINVAL);
}

Test(mpsc, full_channel_parks_senders_and_hands_slots_oldest_first)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_send s[3];
	uint64_t vals[3] = { 10, 11, 12 }, v = 0;
	tt k[3], kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 1, &tx, &rx), 0);
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
		cr_assert_eq(s[i].err, 0);
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
	weft_mpsc_send a, b, c;
	uint64_t va = 1, vb = 2, vc = 3, v = 0;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 1, &tx, &rx), 0);
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&a, tx, &va);
	weft_mpsc_send_init(&b, tx, &vb);
	weft_mpsc_send_init(&c, tx, &vc);
	cr_assert_eq(weft_mpsc_send_poll(&a, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_mpsc_send_poll(&b, tt_cx(&k)), WEFT_PENDING);
	/* a: dropped while waiting -> not sent */
	cr_assert_not(weft_mpsc_send_drop(&a));
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 0);
	/* b: woken (its value went in), dropped before its poll -> sent */
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert(weft_mpsc_send_drop(&b));
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 2);
	/* c: completed, then dropped -> sent */
	cr_assert_eq(weft_mpsc_send_poll(&c, tt_cx(&k)), WEFT_READY);
	cr_assert(weft_mpsc_send_drop(&c));
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
	weft_mpsc_reserve r1, r2;
	weft_mpsc_send s;
	uint64_t v = 0, sv = 99;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 1, &tx, &rx), 0);
	weft_mpsc_reserve_init(&r1, tx);
	cr_assert_eq(weft_mpsc_reserve_poll(&r1, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(r1.err, 0);
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
	weft_mpsc_reserve r;
	uint64_t v = 0;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 1, &tx, &rx), 0);
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
	weft_mpsc_send s;
	weft_mpsc_reserve r;
	uint64_t v, sv = 7;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 2, &tx, &rx), 0);
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
	cr_assert_eq(s.err, -EPIPE);
	cr_assert_not(weft_mpsc_send_drop(&s));
	cr_assert_eq(weft_mpsc_reserve_poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(r.err, -EPIPE);
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
	int err;
	tt kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 4, &tx, &rx), 0);
	tx2 = weft_mpsc_tx_clone(tx);
	cr_assert_eq(weft_mpsc_recv_poll(rx, tt_cx(&kr), &v, &err),
		     WEFT_PENDING);
	weft_mpsc_try_send(tx2, &v);
	cr_assert_eq(tt_wakes(&kr), 1);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_tx_drop(tx2);
	cr_assert_eq(tt_wakes(&kr), 1, "already woken; no waker registered");
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(recv_now(rx, &kr, &v), -EPIPE);
	weft_mpsc_rx_drop(rx);

	cr_assert_eq(weft_mpsc_channel(8, 4, &tx, &rx), 0);
	cr_assert_eq(weft_mpsc_recv_poll(rx, tt_cx(&kr), &v, &err),
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
	weft_mpsc_send s;
	uint64_t v = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_channel(8, 1, &tx, &rx), 0);
	weft_mpsc_try_send(tx, &v);
	weft_mpsc_send_init(&s, tx, &v);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.err, -EPIPE);
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
	cr_assert_eq(weft_mpsc_unbounded(8, &tx, &rx), 0);
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
	weft_mpsc_send s[3];
	uint64_t vals[3] = { 100, 101, 102 }, buf[10], v;
	size_t n;
	int err;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 4, &tx, &rx), 0);
	for (v = 0; v < 4; v++)
		weft_mpsc_try_send(tx, &v);
	for (int i = 0; i < 3; i++) {
		weft_mpsc_send_init(&s[i], tx, &vals[i]);
		cr_assert_eq(weft_mpsc_send_poll(&s[i], tt_cx(&k)), WEFT_PENDING);
	}
	cr_assert_eq(weft_mpsc_recv_many_poll(rx, tt_cx(&kr), buf, 10, &n, &err),
		     WEFT_READY);
	cr_assert_eq(n, 4);
	for (uint64_t i = 0; i < 4; i++)
		cr_assert_eq(buf[i], i);
	cr_assert_eq(tt_wakes(&k), 3);
	cr_assert_eq(weft_mpsc_recv_many_poll(rx, tt_cx(&kr), buf, 2, &n, &err),
		     WEFT_READY);
	cr_assert_eq(n, 2);
	cr_assert_eq(buf[0], 100);
	cr_assert_eq(buf[1], 101);
	for (int i = 0; i < 3; i++)
		weft_mpsc_send_drop(&s[i]);
	weft_mpsc_tx_drop(tx);
	cr_assert_eq(weft_mpsc_recv_many_poll(rx, tt_cx(&kr), buf, 10, &n, &err),
		     WEFT_READY);
	cr_assert_eq(n, 1);
	cr_assert_eq(weft_mpsc_recv_many_poll(rx, tt_cx(&kr), buf, 10, &n, &err),
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
	weft_mpsc_send s[6];
	uint64_t vals[6] = { 100, 101, 102, 103, 104, 105 }, v;
	tt k[6], kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 8, &tx, &rx), 0);
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
			cr_assert_eq(s[i].err, 0);
		}
	}
	cr_assert(weft_mpsc_send_drop(&s[4]));
	cr_assert(weft_mpsc_send_drop(&s[5]));
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
	weft_mpsc_reserve r[3];
	weft_mpsc_send s;
	uint64_t v = 7, w = 8;
	int err;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 4, &tx, &rx), 0);
	for (int i = 0; i < 3; i++) {
		weft_mpsc_reserve_init(&r[i], tx);
		cr_assert_eq(weft_mpsc_reserve_poll(&r[i], tt_cx(&k)), WEFT_READY);
		cr_assert_eq(r[i].err, 0);
	}
	cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&s, tx, &w);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(tt_wakes(&k), 1, "1 free slot < mark 2, ring empty");
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.err, 0);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 8);
	/* parked receiver, room below the mark: a new send is not stuck */
	cr_assert_eq(weft_mpsc_recv_poll(rx, tt_cx(&kr), &v, &err),
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
	weft_mpsc_send s;
	uint64_t v, w = 99;
	tt k, kr;

	tt_init(&k);
	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 16, &tx, &rx), 0);
	for (v = 0; v < 16; v++)
		cr_assert_eq(weft_mpsc_try_send(tx, &v), 0);
	weft_mpsc_send_init(&s, tx, &w);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(recv_now(rx, &kr, &v), 0);
	cr_assert_eq(v, 0);
	weft_mpsc_close(rx);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(s.err, -EPIPE);
	cr_assert_not(weft_mpsc_send_drop(&s));
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
	int err;
	tt kr;

	tt_init(&kr);
	cr_assert_eq(weft_mpsc_channel(8, 16, &tx, &rx), 0);
	cr_assert_eq(weft_mpsc_recv_poll(rx, tt_cx(&kr), &v, &err),
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
	weft_mpsc_send s;
	int err;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_mpsc_channel(sizeof in, 3, &tx, &rx), 0);
	weft_mpsc_send_init(&s, tx, &in);
	weft_cx *cx = tt_cx(&k);

	cx->budget = 0;
	cr_assert_eq(weft_mpsc_send_poll(&s, cx), WEFT_PENDING);
	cr_assert_eq(tt_wakes(&k), 1, "yielded");
	cr_assert_eq(weft_mpsc_len(rx), 0);
	cr_assert_eq(weft_mpsc_send_poll(&s, tt_cx(&k)), WEFT_READY);
	cx = tt_cx(&k);
	cx->budget = 0;
	cr_assert_eq(weft_mpsc_recv_poll(rx, cx, &out, &err), WEFT_PENDING);
	cr_assert_eq(weft_mpsc_recv_poll(rx, tt_cx(&k), &out, &err), WEFT_READY);
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
			weft_mpsc_reserve r;
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
			weft_mpsc_send s;
			weft_poll r;

			weft_mpsc_send_init(&s, p->tx, &v);
			while ((r = weft_mpsc_send_poll(&s, tt_cx(&k))) ==
			       WEFT_PENDING) {
				if ((rng >> 20) % 3 == 0)
					break;
				seen = tt_wait_wake(&k, seen);
			}
			if (r == WEFT_READY || weft_mpsc_send_drop(&s))
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
	cr_assert_eq(weft_mpsc_channel(8, 8, &tx, &rx), 0);
	for (int i = 0; i < NPROD; i++) {
		p[i].tx = i ? weft_mpsc_tx_clone(tx) : tx;
		p[i].id = i;
		tt_init(&p[i].k);
		pthread_create(&th[i], NULL, producer, &p[i]);
	}
	for (;;) {
		size_t n = 0;
		int err, seen = tt_wakes(&k);
		weft_poll r;

		if (total % 3)
			r = weft_mpsc_recv_poll(rx, tt_cx(&k), buf, &err), n = 1;
		else
			r = weft_mpsc_recv_many_poll(rx, tt_cx(&k), buf, 16, &n,
						     &err);
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

	cr_assert_eq(weft_mpsc_channel(8, 3, &tx, &rx), 0);
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
		int err;

		if (p->futures) {
			weft_mpsc_send s;
			int seen = tt_wakes(&p->k);

			weft_mpsc_send_init(&s, p->tx, &v);
			while (weft_mpsc_send_poll(&s, tt_cx(&p->k)) == WEFT_PENDING)
				seen = tt_wait_wake(&p->k, seen);
			err = s.err;
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
		int err, seen = tt_wakes(&k);
		weft_poll r;

		if (close_after && total >= close_after) {
			weft_mpsc_close(rx);
			close_after = 0;
		}
		if (total & 1)
			r = weft_mpsc_recv_poll(rx, tt_cx(&k), buf, &err), got = 1;
		else
			r = weft_mpsc_recv_many_poll(rx, tt_cx(&k), buf, 8, &got,
						     &err);
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
	cr_assert_eq(weft_mpsc_channel(8, 1024, &tx, &rx), 0);
	cr_assert_eq(run_producers(tx, rx, 1, PER * 4, false, 0), PER * 4);
	cr_assert_eq(weft_mpsc_unbounded(8, &tx, &rx), 0);
	cr_assert_eq(run_producers(tx, rx, 1, PER * 4, false, 0), PER * 4);
}

Test(mpsc, many_producers_wrap_a_small_ring_lock_free, .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_channel(8, 3, &tx, &rx), 0);
	cr_assert_eq(run_producers(tx, rx, NPROD, PER, false, 0),
		     (uint64_t)NPROD * PER);
	cr_assert_eq(weft_mpsc_channel(8, 5, &tx, &rx), 0);
	cr_assert_eq(run_producers(tx, rx, NPROD, PER, true, 0),
		     (uint64_t)NPROD * PER);
}

Test(mpsc, unbounded_producers_cross_blocks_in_order, .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_unbounded(8, &tx, &rx), 0);
	cr_assert_eq(run_producers(tx, rx, NPROD, PER, false, 0),
		     (uint64_t)NPROD * PER);
}

Test(mpsc, close_racing_with_sends_drains_every_accepted_value,
     .timeout = 300)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	for (int round = 0; round < 4; round++) {
		cr_assert_eq(weft_mpsc_channel(8, 16, &tx, &rx), 0);
		run_producers(tx, rx, NPROD, PER, round & 1, PER / 2);
		cr_assert_eq(weft_mpsc_unbounded(8, &tx, &rx), 0);
		run_producers(tx, rx, NPROD, PER, false, PER / 2);
	}
}
