/* test/sync/rt_tasks.c - the sync primitives under the real runtime: two
 * workers, spawned tasks, block_on. An mpsc ping-pong, many producers into
 * one bounded channel, oneshot replies, and a notify gate with many parked
 * tasks (the benchmark shapes, small). */
#include <errno.h>

#include "harness.h"
#include "weft/rt.h"
#include "weft/sync.h"

static weft_rt *rt_start(void)
{
	weft_rt_builder b;
	weft_rt *rt;

	weft_rt_builder_init(&b);
	b.workers = 2;
	b.enable_io = false;
	b.no_pin = true;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	return rt;
}

/* ---------------------------------------------------------- ping-pong */

struct echo {
	WEFT_ASYNC;
	weft_mpsc_rx *in;
	weft_mpsc_tx *out;
	uint64_t v;
	int err;
	weft_mpsc_send send;
};

static weft_poll echo_poll(struct echo *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (;;) {
		WEFT_AWAIT(f, weft_mpsc_recv_poll(f->in, cx, &f->v, &f->err));
		if (f->err)
			break;
		weft_mpsc_send_init(&f->send, f->out, &f->v);
		WEFT_AWAIT(f, weft_mpsc_send_poll(&f->send, cx));
	}
	weft_mpsc_rx_drop(f->in);
	weft_mpsc_tx_drop(f->out);
	WEFT_END(f);
}

struct pinger {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_mpsc_tx *ab;
	weft_mpsc_rx *ba;
	uint64_t i, v;
	int err, bad;
	weft_mpsc_send send;
};

static weft_poll pinger_poll(struct pinger *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (f->i = 0; f->i < STRESS(20000, 100000); f->i++) {
		weft_mpsc_send_init(&f->send, f->ab, &f->i);
		WEFT_AWAIT(f, weft_mpsc_send_poll(&f->send, cx));
		WEFT_AWAIT(f, weft_mpsc_recv_poll(f->ba, cx, &f->v, &f->err));
		if (f->err || f->v != f->i)
			f->bad++;
	}
	weft_mpsc_tx_drop(f->ab);
	weft_mpsc_rx_drop(f->ba);
	WEFT_RETURN(f, cx, f->bad);
	WEFT_END(f);
}

Test(rt_tasks, mpsc_ping_pong_between_tasks, .timeout = 120)
{
	weft_rt *rt = rt_start();
	weft_mpsc_tx *ab, *ba_tx;
	weft_mpsc_rx *ab_rx, *ba;
	struct pinger p = { 0 };
	intptr_t out = -1;

	weft_mpsc_channel(8, 1, &ab, &ab_rx);
	weft_mpsc_channel(8, 1, &ba_tx, &ba);
	cr_assert_eq(WEFT_SPAWN(rt, NULL, echo_poll, NULL, struct echo,
				{ .in = ab_rx, .out = ba_tx }), 0);
	p.ab = ab;
	p.ba = ba;
	cr_assert_eq(WEFT_BLOCK_ON(rt, &out, pinger_poll, &p), 0);
	cr_assert_eq(out, 0);
	weft_rt_destroy(rt);
}

/* ------------------------------------------- producers and a consumer */

#define PRODUCERS 4
#define PER_PRODUCER STRESS(20000, 250000)

struct producer {
	WEFT_ASYNC;
	weft_mpsc_tx *tx;
	uint64_t i;
	weft_mpsc_send send;
};

static weft_poll producer_poll(struct producer *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (f->i = 0; f->i < PER_PRODUCER; f->i++) {
		weft_mpsc_send_init(&f->send, f->tx, &f->i);
		WEFT_AWAIT(f, weft_mpsc_send_poll(&f->send, cx));
	}
	weft_mpsc_tx_drop(f->tx);
	WEFT_END(f);
}

struct consumer {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	weft_oneshot *done;
	uint64_t v, sum;
	int err;
};

static weft_poll consumer_poll(struct consumer *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (;;) {
		WEFT_AWAIT(f, weft_mpsc_recv_poll(f->rx, cx, &f->v, &f->err));
		if (f->err)
			break;
		f->sum += f->v;
	}
	weft_mpsc_rx_drop(f->rx);
	weft_oneshot_send(f->done, &f->sum);
	WEFT_END(f);
}

struct driver {
	WEFT_ASYNC;
	weft_oneshot *done;
	uint64_t sum;
	int err;
};

static weft_poll driver_poll(struct driver *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	WEFT_AWAIT(f, weft_oneshot_recv_poll(f->done, cx, &f->sum, &f->err));
	weft_oneshot_rx_drop(f->done);
	WEFT_END(f);
}

Test(rt_tasks, producers_into_bounded_channel_sum_exactly, .timeout = 120)
{
	weft_rt *rt = rt_start();
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct driver d = { 0 };
	uint64_t m = PER_PRODUCER;

	weft_mpsc_channel(8, 1024, &tx, &rx);
	weft_oneshot_create(&d.done, 8);
	cr_assert_eq(WEFT_SPAWN(rt, NULL, consumer_poll, NULL, struct consumer,
				{ .rx = rx, .done = d.done }), 0);
	for (int i = 0; i < PRODUCERS; i++)
		cr_assert_eq(WEFT_SPAWN(rt, NULL, producer_poll, NULL,
					struct producer,
					{ .tx = i ? weft_mpsc_tx_clone(tx) : tx }),
			     0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, driver_poll, &d), 0);
	cr_assert_eq(d.err, 0);
	cr_assert_eq(d.sum, PRODUCERS * (m * (m - 1) / 2));
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------- notify gate */

#define PARKED STRESS(2000, 100000)

struct gate {
	weft_notify gate, all_started, all_done;
	atomic_int started, done;
};

struct parked {
	WEFT_ASYNC;
	struct gate *g;
	weft_notified wait;
};

static weft_poll parked_poll(struct parked *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_notified_init(&f->wait, &f->g->gate);
	if (atomic_fetch_add(&f->g->started, 1) + 1 == PARKED)
		weft_notify_one(&f->g->all_started);
	WEFT_AWAIT(f, weft_notified_poll(&f->wait, &f->g->gate, cx));
	if (atomic_fetch_add(&f->g->done, 1) + 1 == PARKED)
		weft_notify_one(&f->g->all_done);
	WEFT_END(f);
}

static void parked_drop(struct parked *f)
{
	weft_notified_drop(&f->wait, &f->g->gate);
}

struct opener {
	WEFT_ASYNC;
	struct gate *g;
	weft_notified w;
};

static weft_poll opener_poll(struct opener *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_notified_init(&f->w, &f->g->all_started);
	WEFT_AWAIT(f, weft_notified_poll(&f->w, &f->g->all_started, cx));
	weft_notify_waiters(&f->g->gate);
	weft_notified_init(&f->w, &f->g->all_done);
	WEFT_AWAIT(f, weft_notified_poll(&f->w, &f->g->all_done, cx));
	WEFT_END(f);
}

Test(rt_tasks, notify_gate_releases_every_parked_task, .timeout = 120)
{
	weft_rt *rt = rt_start();
	struct gate g;
	struct opener o = { .g = &g };

	weft_notify_init(&g.gate);
	weft_notify_init(&g.all_started);
	weft_notify_init(&g.all_done);
	atomic_init(&g.started, 0);
	atomic_init(&g.done, 0);
	for (int i = 0; i < PARKED; i++)
		cr_assert_eq(WEFT_SPAWN(rt, NULL, parked_poll, parked_drop,
					struct parked, { .g = &g }), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, opener_poll, &o), 0);
	cr_assert_eq(atomic_load(&g.done), PARKED);
	weft_rt_destroy(rt);
}
