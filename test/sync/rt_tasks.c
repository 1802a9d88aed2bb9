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
	b.io.enable = false;
	b.no_pin = true;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	return rt;
}

/* ---------------------------------------------------------- ping-pong */

struct echo {
	WEFT_ASYNC_VOID;
	weft_mpsc_rx *in;
	weft_mpsc_tx *out;
	uint64_t v;
	weft_mpsc_recv recv;
	weft_mpsc_send send;
};

static weft_poll echo_poll(struct echo *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->in, &f->v);
		if (f->recv.res < 0)
			break;
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->out, &f->v);
	}
	weft_mpsc_rx_drop(f->in);
	weft_mpsc_tx_drop(f->out);
	WEFT_END();
}
WEFT_FUTURE(echo, struct echo, WEFT_NO_DROP);

struct pinger {
	WEFT_ASYNC;
	weft_mpsc_tx *ab;
	weft_mpsc_rx *ba;
	uint64_t i, v;
	int bad;
	weft_mpsc_send send;
	weft_mpsc_recv recv;
};

static weft_poll pinger_poll(struct pinger *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < STRESS(20000, 100000); f->i++) {
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->ab, &f->i);
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->ba, &f->v);
		if (f->recv.res || f->v != f->i)
			f->bad++;
	}
	weft_mpsc_tx_drop(f->ab);
	weft_mpsc_rx_drop(f->ba);
	WEFT_RETURN(f->bad);
	WEFT_END();
}
WEFT_FUTURE(pinger, struct pinger, WEFT_NO_DROP);

Test(rt_tasks, mpsc_ping_pong_between_tasks, .timeout = 120)
{
	weft_rt *rt = rt_start();
	weft_mpsc_tx *ab, *ba_tx;
	weft_mpsc_rx *ab_rx, *ba;
	struct pinger p = { 0 };

	weft_mpsc_create(&ab, &ab_rx, 8, 1, NULL);
	weft_mpsc_create(&ba_tx, &ba, 8, 1, NULL);
	cr_assert_eq(WEFT_SPAWN(rt, echo, NULL, { .in = ab_rx, .out = ba_tx }),
		     0);
	p.ab = ab;
	p.ba = ba;
	p.res = -1;
	cr_assert_eq(WEFT_BLOCK_ON(rt, pinger, &p), 0);
	cr_assert_eq(p.res, 0);
	weft_rt_destroy(rt);
}

/* ------------------------------------------- producers and a consumer */

#define PRODUCERS 4
#define PER_PRODUCER STRESS(20000, 250000)

struct producer {
	WEFT_ASYNC_VOID;
	weft_mpsc_tx *tx;
	uint64_t i;
	weft_mpsc_send send;
};

static weft_poll producer_poll(struct producer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < PER_PRODUCER; f->i++)
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx, &f->i);
	weft_mpsc_tx_drop(f->tx);
	WEFT_END();
}
WEFT_FUTURE(producer, struct producer, WEFT_NO_DROP);

struct consumer {
	WEFT_ASYNC_VOID;
	weft_mpsc_rx *rx;
	weft_oneshot *done;
	uint64_t v, sum;
	weft_mpsc_recv recv;
};

static weft_poll consumer_poll(struct consumer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx, &f->v);
		if (f->recv.res)
			break;
		f->sum += f->v;
	}
	weft_mpsc_rx_drop(f->rx);
	weft_oneshot_send(f->done, &f->sum);
	WEFT_END();
}
WEFT_FUTURE(consumer, struct consumer, WEFT_NO_DROP);

struct driver {
	WEFT_ASYNC_VOID;
	weft_oneshot *done;
	uint64_t sum;
	weft_oneshot_recv recv;
};

static weft_poll driver_poll(struct driver *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_oneshot_recv, &f->recv, f->done, &f->sum);
	weft_oneshot_rx_drop(f->done);
	WEFT_END();
}
WEFT_FUTURE(driver, struct driver, WEFT_NO_DROP);

Test(rt_tasks, producers_into_bounded_channel_sum_exactly, .timeout = 120)
{
	weft_rt *rt = rt_start();
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct driver d = { 0 };
	uint64_t m = PER_PRODUCER;

	weft_mpsc_create(&tx, &rx, 8, 1024, NULL);
	weft_oneshot_create(&d.done, 8);
	cr_assert_eq(WEFT_SPAWN(rt, consumer, NULL,
				{ .rx = rx, .done = d.done }), 0);
	for (int i = 0; i < PRODUCERS; i++)
		cr_assert_eq(WEFT_SPAWN(rt, producer, NULL,
					{ .tx = i ? weft_mpsc_tx_clone(tx) : tx }),
			     0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, driver, &d), 0);
	cr_assert_eq(d.recv.res, 0);
	cr_assert_eq(d.sum, PRODUCERS * (m * (m - 1) / 2));
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------- notify gate */

#define PARKED STRESS(2000, 100000)

struct gate {
	weft_notify gate, all_started, all_done;
	atomic_int started, done;
};

/* The idle_memory shape: no pointer of its own, the shared state is
 * reached from the wait's notify pointer (which survives READY). */
struct parked {
	WEFT_ASYNC_VOID;
	weft_notify_wait wait;
};
_Static_assert(sizeof(struct parked) <= 56, "a parked frame is 56 bytes");

static struct gate *parked_gate(struct parked *f)
{
	return (struct gate *)(void *)((char *)f->wait.n -
				       offsetof(struct gate, gate));
}

static weft_poll parked_poll(struct parked *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (atomic_fetch_add(&parked_gate(f)->started, 1) + 1 == PARKED)
		weft_notify_one(&parked_gate(f)->all_started);
	WEFT_AWAIT_ON(weft_notify_wait, &f->wait);
	if (atomic_fetch_add(&parked_gate(f)->done, 1) + 1 == PARKED)
		weft_notify_one(&parked_gate(f)->all_done);
	WEFT_END();
}

static void parked_drop(struct parked *f)
{
	weft_notify_wait_drop(&f->wait);
}
WEFT_FUTURE(parked, struct parked, parked_drop);

struct opener {
	WEFT_ASYNC_VOID;
	struct gate *g;
	weft_notify_wait w;
};

static weft_poll opener_poll(struct opener *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_notify_wait, &f->w, &f->g->all_started);
	weft_notify_waiters(&f->g->gate);
	WEFT_AWAIT_INIT(weft_notify_wait, &f->w, &f->g->all_done);
	WEFT_END();
}
WEFT_FUTURE(opener, struct opener, WEFT_NO_DROP);

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
	for (int i = 0; i < PARKED; i++) {
		struct parked p = { 0 };

		/* the wait is initialised before the spawn: a gate opened
		 * after this line reaches it even before its first poll */
		weft_notify_wait_init(&p.wait, &g.gate);
		cr_assert_eq(WEFT_SPAWN_FRAME(rt, parked, NULL, &p), 0);
	}
	cr_assert_eq(WEFT_BLOCK_ON(rt, opener, &o), 0);
	cr_assert_eq(atomic_load(&g.done), PARKED);
	weft_rt_destroy(rt);
}
