/* test/sync/oneshot.c - weft_oneshot: delivery, -EPIPE cases, close,
 * try_recv, waker hygiene at every cancellation point, the coop budget,
 * two-thread races (heap channels freed by the last end, and one embedded
 * channel reused every round as the oneshot workload does), and the debug
 * checks on an end used after it was consumed. */
#include <errno.h>

#include "harness.h"
#include "weft/oneshot.h"

/* One poll of a receive of o into out. The recv future holds only o, out
 * and res, so a fresh one per poll is the same receive polled again;
 * *res gets its res at READY (res may be NULL). */
static weft_poll os_poll(weft_oneshot *o, weft_cx *cx, void *out,
			 intptr_t *res)
{
	weft_oneshot_recv r = { 0 };
	weft_poll p;

	weft_oneshot_recv_init(&r, o, out);
	p = weft_oneshot_recv_poll(&r, cx);
	if (p == WEFT_READY && res)
		*res = r.res;
	weft_oneshot_recv_drop(&r);
	return p;
}

Test(oneshot, send_before_recv_delivers_value)
{
	weft_oneshot *o;
	uint64_t v = 42, got = 0;
	intptr_t err = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_oneshot_create(&o, sizeof v), 0);
	cr_assert_eq(weft_oneshot_send(o, &v), 0);
	cr_assert_eq(os_poll(o, tt_cx(&k), &got, &err),
		     WEFT_READY);
	cr_assert_eq(err, 0);
	cr_assert_eq(got, 42);
	cr_assert_eq(weft_oneshot_try_recv(o, &got), -EPIPE, "only once");
	weft_oneshot_rx_drop(o);
	cr_assert_eq(tt_live(&k), 0);
	cr_assert_eq(tt_wakes(&k), 0);
}

Test(oneshot, pending_recv_is_woken_exactly_once_by_send)
{
	weft_oneshot o;
	uint32_t v = 7, got = 0;
	intptr_t err = 1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_oneshot_init(&o, sizeof v, NULL), 0);
	cr_assert_eq(os_poll(&o, tt_cx(&k), &got, &err),
		     WEFT_PENDING);
	cr_assert_eq(os_poll(&o, tt_cx(&k), &got, &err),
		     WEFT_PENDING);
	cr_assert_eq(tt_live(&k), 1);
	cr_assert_eq(weft_oneshot_send(&o, &v), 0);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(tt_live(&k), 0, "the sender consumed the waker");
	cr_assert_eq(os_poll(&o, tt_cx(&k), &got, &err),
		     WEFT_READY);
	cr_assert_eq(err, 0);
	cr_assert_eq(got, 7);
	weft_oneshot_rx_drop(&o);
	cr_assert_eq(tt_live(&k), 0);
}

Test(oneshot, large_values_heap_and_caller_buffer)
{
	struct big { char b[100]; } in, out;
	weft_oneshot *o, e;
	struct big buf;
	tt k;
	intptr_t err;

	tt_init(&k);
	memset(&in, 0x5a, sizeof in);
	cr_assert_eq(weft_oneshot_create(&o, sizeof in), 0);
	cr_assert_eq(weft_oneshot_send(o, &in), 0);
	cr_assert_eq(os_poll(o, tt_cx(&k), &out, &err),
		     WEFT_READY);
	cr_assert_eq(memcmp(&in, &out, sizeof in), 0);
	weft_oneshot_rx_drop(o);

	cr_assert_eq(weft_oneshot_init(&e, sizeof in, NULL), -EINVAL);
	cr_assert_eq(weft_oneshot_init(&e, sizeof in, &buf), 0);
	memset(&out, 0, sizeof out);
	cr_assert_eq(weft_oneshot_send(&e, &in), 0);
	cr_assert_eq(weft_oneshot_try_recv(&e, &out), 0);
	cr_assert_eq(memcmp(&in, &out, sizeof in), 0);
	weft_oneshot_rx_drop(&e);
}

Test(oneshot, invalid_arguments)
{
	weft_oneshot *o;
	uint64_t v = 0;

	cr_assert_eq(weft_oneshot_create(NULL, 8), -EINVAL);
	cr_assert_eq(weft_oneshot_create(&o, 0), -EINVAL);
	cr_assert_eq(weft_oneshot_init(NULL, 8, NULL), -EINVAL);
	cr_assert_eq(weft_oneshot_send(NULL, &v), -EINVAL);
	cr_assert_eq(weft_oneshot_try_recv(NULL, &v), -EINVAL);
}

Test(oneshot, sender_dropped_unsent_gives_epipe_and_wakes)
{
	weft_oneshot *o;
	uint64_t got = 9;
	intptr_t err = 0;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_oneshot_create(&o, 8), 0);
	cr_assert_eq(os_poll(o, tt_cx(&k), &got, &err),
		     WEFT_PENDING);
	weft_oneshot_tx_drop(o);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(os_poll(o, tt_cx(&k), &got, &err),
		     WEFT_READY);
	cr_assert_eq(err, -EPIPE);
	cr_assert_eq(got, 9, "out untouched");
	weft_oneshot_rx_drop(o);
	cr_assert_eq(tt_live(&k), 0);
}

Test(oneshot, send_after_close_fails_and_value_before_close_survives)
{
	weft_oneshot *o;
	uint64_t v = 1, got = 0;
	tt k;
	intptr_t err;

	tt_init(&k);
	cr_assert_eq(weft_oneshot_create(&o, 8), 0);
	cr_assert_eq(os_poll(o, tt_cx(&k), &got, &err),
		     WEFT_PENDING);
	weft_oneshot_close(o);
	cr_assert(weft_oneshot_is_closed(o));
	cr_assert_eq(weft_oneshot_send(o, &v), -EPIPE);
	cr_assert_eq(os_poll(o, tt_cx(&k), &got, &err),
		     WEFT_READY);
	cr_assert_eq(err, -EPIPE);
	weft_oneshot_rx_drop(o);
	cr_assert_eq(tt_live(&k), 0, "registered waker released");

	cr_assert_eq(weft_oneshot_create(&o, 8), 0);
	cr_assert_eq(weft_oneshot_send(o, &v), 0);
	weft_oneshot_close(o);
	cr_assert_eq(weft_oneshot_try_recv(o, &got), 0);
	cr_assert_eq(got, 1);
	weft_oneshot_rx_drop(o);
}

Test(oneshot, receiver_dropped_first_send_fails_and_frees)
{
	weft_oneshot *o;
	uint64_t v = 3;
	tt k;
	intptr_t err;

	tt_init(&k);
	cr_assert_eq(weft_oneshot_create(&o, 8), 0);
	cr_assert_eq(os_poll(o, tt_cx(&k), &v, &err),
		     WEFT_PENDING);
	weft_oneshot_rx_drop(o); /* drop while waiting */
	cr_assert_eq(tt_live(&k), 0);
	cr_assert_eq(weft_oneshot_send(o, &v), -EPIPE); /* frees (ASan) */
	cr_assert_eq(tt_wakes(&k), 0);
}

Test(oneshot, try_recv_states)
{
	weft_oneshot o;
	uint64_t v = 5, got = 0;

	weft_oneshot_init(&o, 8, NULL);
	cr_assert_eq(weft_oneshot_try_recv(&o, &got), -EAGAIN);
	weft_oneshot_send(&o, &v);
	cr_assert_eq(weft_oneshot_try_recv(&o, &got), 0);
	cr_assert_eq(got, 5);
	cr_assert_eq(weft_oneshot_try_recv(&o, &got), -EPIPE);
	weft_oneshot_rx_drop(&o);
}

Test(oneshot, abandoned_recv_then_new_waker_loses_nothing)
{
	weft_oneshot o;
	uint64_t v = 11, got = 0;
	tt a, b;
	intptr_t err;

	tt_init(&a);
	tt_init(&b);
	weft_oneshot_init(&o, 8, NULL);
	/* task a polls, then abandons the receive (its select lost) */
	cr_assert_eq(os_poll(&o, tt_cx(&a), &got, &err),
		     WEFT_PENDING);
	/* the receiver moves to task b */
	cr_assert_eq(os_poll(&o, tt_cx(&b), &got, &err),
		     WEFT_PENDING);
	cr_assert_eq(tt_live(&a), 0);
	cr_assert_eq(weft_oneshot_send(&o, &v), 0);
	cr_assert_eq(tt_wakes(&a), 0);
	cr_assert_eq(tt_wakes(&b), 1);
	cr_assert_eq(os_poll(&o, tt_cx(&b), &got, &err),
		     WEFT_READY);
	cr_assert_eq(got, 11);
	weft_oneshot_rx_drop(&o);
	cr_assert_eq(tt_live(&b), 0);
}

Test(oneshot, exhausted_budget_yields_and_keeps_value)
{
	weft_oneshot o;
	uint64_t v = 2, got = 0;
	tt k;
	intptr_t err;

	tt_init(&k);
	weft_oneshot_init(&o, 8, NULL);
	weft_oneshot_send(&o, &v);
	weft_cx *cx = tt_cx(&k);

	cx->budget = 0;
	cr_assert_eq(os_poll(&o, cx, &got, &err), WEFT_PENDING);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(os_poll(&o, tt_cx(&k), &got, &err),
		     WEFT_READY);
	cr_assert_eq(got, 2);
	weft_oneshot_rx_drop(&o);
	cr_assert_eq(tt_live(&k), 0);
}

/* --------------------------------------------------------- threads */

#define NCH STRESS(20000, 500000)

struct race {
	weft_oneshot **ch;
	int *sent; /* 1 sent ok, -1 failed, 0 dropped unsent */
};

static void *race_sender(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < NCH; i++) {
		uint64_t v = (uint64_t)i;

		if (i % 7 == 3) {
			weft_oneshot_tx_drop(r->ch[i]);
			r->sent[i] = 0;
		} else {
			r->sent[i] = weft_oneshot_send(r->ch[i], &v) == 0 ? 1 : -1;
		}
	}
	return NULL;
}

Test(oneshot, two_threads_every_end_combination, .timeout = 120)
{
	struct race r;
	pthread_t th;
	tt k;
	int *got = calloc(NCH, sizeof(int));

	tt_init(&k);
	r.ch = calloc(NCH, sizeof(*r.ch));
	r.sent = calloc(NCH, sizeof(int));
	for (int i = 0; i < NCH; i++)
		cr_assert_eq(weft_oneshot_create(&r.ch[i], 8), 0);
	pthread_create(&th, NULL, race_sender, &r);
	for (int i = 0; i < NCH; i++) {
		uint64_t v;
		intptr_t err = 1;
		int seen = tt_wakes(&k);

		got[i] = 2; /* dropped early */
		if (i % 5 != 1) {
			while (os_poll(r.ch[i], tt_cx(&k), &v, &err) ==
			       WEFT_PENDING)
				seen = tt_wait_wake(&k, seen);
			got[i] = err == 0 ? 1 : 0;
			if (err == 0)
				cr_assert_eq(v, (uint64_t)i);
		} else if (i % 3 == 0) {
			os_poll(r.ch[i], tt_cx(&k), &v, &err);
		}
		weft_oneshot_rx_drop(r.ch[i]);
	}
	pthread_join(th, NULL);
	for (int i = 0; i < NCH; i++) {
		if (got[i] == 1)
			cr_assert_eq(r.sent[i], 1);
		if (got[i] == 0)
			cr_assert_eq(r.sent[i], 0);
		if (r.sent[i] == -1)
			cr_assert_eq(got[i], 2, "a send fails only after rx_drop");
	}
	cr_assert_eq(tt_live(&k), 0);
	free(r.ch);
	free(r.sent);
	free(got);
}

/* One embedded channel reused every round: the receiver re-inits it as
 * soon as it has the value, while the sender thread may still be inside
 * send. TSan/ASan flag any access by the sender after it published. */
struct reuse {
	weft_oneshot o;
	atomic_int round; /* the round the sender may run */
	int rounds;
};

static void *reuse_sender(void *arg)
{
	struct reuse *r = arg;

	for (int i = 0; i < r->rounds; i++) {
		uint64_t v = (uint64_t)i;

		while (atomic_load_explicit(&r->round, memory_order_acquire) != i)
			sched_yield();
		weft_oneshot_send(&r->o, &v);
	}
	return NULL;
}

Test(oneshot, embedded_channel_reused_while_sender_returns, .timeout = 120)
{
	struct reuse r;
	pthread_t th;
	tt k;

	tt_init(&k);
	r.rounds = STRESS(20000, 500000);
	atomic_init(&r.round, -1);
	pthread_create(&th, NULL, reuse_sender, &r);
	for (int i = 0; i < r.rounds; i++) {
		uint64_t v = 0;
		intptr_t err;
		int seen = tt_wakes(&k);

		weft_oneshot_init(&r.o, 8, NULL);
		atomic_store_explicit(&r.round, i, memory_order_release);
		while (os_poll(&r.o, tt_cx(&k), &v, &err) ==
		       WEFT_PENDING)
			seen = tt_wait_wake(&k, seen);
		cr_assert_eq(err, 0);
		cr_assert_eq(v, (uint64_t)i);
		weft_oneshot_rx_drop(&r.o);
	}
	pthread_join(th, NULL);
	cr_assert_eq(tt_live(&k), 0);
}

Test(oneshot, recv_is_a_future_type_with_res)
{
	weft_oneshot o;
	weft_oneshot_recv r = { 0 };
	uint64_t v = 9, got = 0;
	tt k;

	tt_init(&k);
	weft_oneshot_init(&o, 8, NULL);
	weft_oneshot_recv_init(&r, &o, &got);
	cr_assert_eq(weft_oneshot_recv_future.poll(&r, tt_cx(&k)), WEFT_PENDING);
	weft_oneshot_recv_future.drop(&r); /* abandoned: the value will stay */
	cr_assert_eq(weft_oneshot_send(&o, &v), 0);
	cr_assert_eq(tt_wakes(&k), 1, "the waker stayed in the channel");
	weft_oneshot_recv_init(&r, &o, &got);
	cr_assert_eq(weft_oneshot_recv_future.poll(&r, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_future_res(&weft_oneshot_recv_future, &r), 0);
	cr_assert_eq(got, 9);
	weft_oneshot_rx_drop(&o);
	cr_assert_eq(tt_live(&k), 0);
}

/* the sender still lives, so the channel does too: a second rx_drop is
 * caught (it would free the channel under the sender) */
MISUSE_TEST(oneshot, receiver_dropped_twice_aborts)
{
	weft_oneshot *o;

	cr_assert_eq(weft_oneshot_create(&o, 8), 0);
	weft_oneshot_rx_drop(o);
	weft_oneshot_rx_drop(o);
}

MISUSE_TEST(oneshot, sender_used_after_send_aborts)
{
	weft_oneshot *o;
	uint64_t v = 1;

	cr_assert_eq(weft_oneshot_create(&o, 8), 0);
	cr_assert_eq(weft_oneshot_send(o, &v), 0);
	weft_oneshot_tx_drop(o);
}

MISUSE_TEST(oneshot, sender_sent_twice_aborts)
{
	weft_oneshot o;
	uint64_t v = 1;

	weft_oneshot_init(&o, 8, NULL);
	cr_assert_eq(weft_oneshot_send(&o, &v), 0);
	weft_oneshot_send(&o, &v);
}
