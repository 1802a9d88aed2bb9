/* bench/chan_wl.c - the channel workloads of ../shared/peers/README.md:
 * ping_pong (4), mpsc_throughput (6) and oneshot (7), on weft's mpsc and
 * oneshot channels. Same sizes, timed regions and checks as the peers;
 * the driver is a task on a worker (bench_drive); one warm-up and 5
 * measured repetitions (1 with --quick); medians.
 *
 * Like for like with tokio: channels are created per repetition (per
 * operation for oneshot, as an allocated channel: weft's oneshot can also
 * live inside a frame with no allocation, which this workload does not
 * use), values are received one at a time (no recv_many).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "weft/mpsc.h"
#include "weft/oneshot.h"

#define PING_R 100000u
#define MPSC_M 1000000u
#define ONESHOT_N 100000u

/* ------------------------------------------------------------ ping_pong */

struct echo {
	WEFT_ASYNC;
	weft_mpsc_rx *rx_ab;
	weft_mpsc_tx *tx_ba;
	uint64_t v;
	weft_mpsc_recv recv;
	weft_mpsc_send send;
};

static weft_poll echo_poll(struct echo *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx_ab, &f->v);
		if (f->recv.res < 0)
			break;
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx_ba, &f->v);
		if (f->send.res < 0)
			break;
	}
	WEFT_END();
}

static void echo_drop(struct echo *f)
{
	weft_mpsc_send_drop(&f->send);  /* a no-op unless waiting */
	weft_mpsc_rx_drop(f->rx_ab);
	weft_mpsc_tx_drop(f->tx_ba);
}

WEFT_FUTURE(echo, struct echo, echo_drop);

struct ping_driver {
	WEFT_ASYNC;
	uint64_t r;
	unsigned rep;
	struct bench_samples *samples;
	weft_mpsc_tx *tx_ab;
	weft_mpsc_rx *rx_ba;
	uint64_t i, v, t0;
	weft_mpsc_send send;
	weft_mpsc_recv recv;
	weft_join *echo;
	weft_join_wait echo_wait;
};

static weft_poll ping_driver_poll(struct ping_driver *f, weft_cx *cx)
{
	weft_mpsc_tx *tx_ba;
	weft_mpsc_rx *rx_ab;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= f->samples->reps; f->rep++) {
		if (weft_mpsc_create(&f->tx_ab, &rx_ab, sizeof(uint64_t), 1,
				     NULL) ||
		    weft_mpsc_create(&tx_ba, &f->rx_ba, sizeof(uint64_t), 1,
				     NULL))
			bench_fail("cannot create the channels");
		if (WEFT_SPAWN(weft_rt_current(), echo, &f->echo,
			       { .rx_ab = rx_ab, .tx_ba = tx_ba }))
			bench_fail("cannot spawn the echo task");
		f->t0 = bench_now_ns();
		for (f->i = 0; f->i < f->r; f->i++) {
			WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx_ab,
					&f->i);
			if (f->send.res < 0)
				bench_fail("echo task gone (%d)",
					   (int)f->send.res);
			WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx_ba,
					&f->v);
			if (f->recv.res < 0 || f->v != f->i)
				bench_fail("round trip %llu came back as %llu "
					   "(%d)", (unsigned long long)f->i,
					   (unsigned long long)f->v,
					   (int)f->recv.res);
		}
		bench_samples_add(f->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / f->r);
		weft_mpsc_tx_drop(f->tx_ab);
		WEFT_AWAIT_INIT(weft_join_wait, &f->echo_wait, f->echo);
		weft_join_drop(f->echo);
		weft_mpsc_rx_drop(f->rx_ba);
		if (f->echo_wait.res < 0)
			bench_fail("echo task failed (%d)",
				   (int)f->echo_wait.res);
	}
	WEFT_END();
}

WEFT_FUTURE(ping_driver, struct ping_driver, WEFT_NO_DROP);

int bench_ping_pong(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_samples s;
	weft_rt *rt;
	int rc = bench_opts_parse(argc, argv, &o);
	uint64_t r;

	if (rc)
		return rc;
	r = bench_size(&o, PING_R);
	bench_samples_init(&s, bench_reps(&o, 5));
	rt = bench_rt_create();
	BENCH_DRIVE(rt, ping_driver, { .r = r, .samples = &s });
	weft_rt_destroy(rt);
	bench_emit("ping_pong", r, "", "ns_per_round_trip",
		   bench_samples_median(&s));
	return BENCH_EXIT_OK;
}

/* ------------------------------------------------------ mpsc_throughput */

struct producer {
	WEFT_ASYNC;
	weft_mpsc_tx *tx;
	uint64_t count, i;
	weft_mpsc_send send;
};

static weft_poll producer_poll(struct producer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->count; f->i++) {
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx, &f->i);
		if (f->send.res < 0)
			bench_fail("consumer gone (%d)", (int)f->send.res);
	}
	WEFT_END();
}

static void producer_drop(struct producer *f)
{
	weft_mpsc_send_drop(&f->send);  /* a no-op unless waiting */
	weft_mpsc_tx_drop(f->tx);
}

WEFT_FUTURE(producer, struct producer, producer_drop);

struct consumer {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	weft_oneshot *done;
	uint64_t m, got, v, sum;
	weft_mpsc_recv recv;
};

static weft_poll consumer_poll(struct consumer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->got = 0; f->got < f->m; f->got++) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx, &f->v);
		if (f->recv.res < 0)
			bench_fail("producers gone early (%d)",
				   (int)f->recv.res);
		f->sum += f->v;
	}
	weft_oneshot_send(f->done, &f->sum);
	f->done = NULL;
	WEFT_END();
}

static void consumer_drop(struct consumer *f)
{
	weft_mpsc_rx_drop(f->rx);
	if (f->done)
		weft_oneshot_tx_drop(f->done);
}

WEFT_FUTURE(consumer, struct consumer, consumer_drop);

struct mpsc_driver {
	WEFT_ASYNC;
	uint64_t m;
	unsigned p, k, rep;
	struct bench_samples *samples;
	weft_mpsc_tx *tx;
	weft_oneshot *done;
	uint64_t t0, sum;
	weft_oneshot_recv recv;
};

static weft_poll mpsc_driver_poll(struct mpsc_driver *f, weft_cx *cx)
{
	weft_rt *rt = weft_rt_current();
	weft_mpsc_rx *rx;
	uint64_t each, expect;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= f->samples->reps; f->rep++) {
		f->t0 = bench_now_ns();
		if (weft_mpsc_create(&f->tx, &rx, sizeof(uint64_t), 1024,
				     NULL) ||
		    weft_oneshot_create(&f->done, sizeof(uint64_t)))
			bench_fail("cannot create the channels");
		if (WEFT_SPAWN(rt, consumer, NULL,
			       { .rx = rx, .done = f->done, .m = f->m }))
			bench_fail("cannot spawn the consumer");
		for (f->k = 0; f->k < f->p; f->k++)
			if (WEFT_SPAWN(rt, producer, NULL,
				       { .tx = f->k + 1 < f->p
						       ? weft_mpsc_tx_clone(f->tx)
						       : f->tx,
					 .count = f->m / f->p }))
				bench_fail("cannot spawn a producer");
		WEFT_AWAIT_INIT(weft_oneshot_recv, &f->recv, f->done, &f->sum);
		bench_samples_add(f->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / f->m);
		weft_oneshot_rx_drop(f->done);
		if (f->recv.res < 0)
			bench_fail("consumer failed (%d)", (int)f->recv.res);
		each = f->m / f->p;
		expect = f->p * (each * (each - 1) / 2);
		if (f->sum != expect)
			bench_fail("sum %llu, expected %llu",
				   (unsigned long long)f->sum,
				   (unsigned long long)expect);
	}
	WEFT_END();
}

WEFT_FUTURE(mpsc_driver, struct mpsc_driver, WEFT_NO_DROP);

int bench_mpsc_throughput(int argc, char **argv)
{
	static const unsigned ps[] = { 1, 4 };
	struct bench_opts o;
	int rc = bench_opts_parse(argc, argv, &o);
	uint64_t m;

	if (rc)
		return rc;
	m = bench_size(&o, MPSC_M);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		struct bench_samples s;
		weft_rt *rt = bench_rt_create();
		char extra[32];

		bench_samples_init(&s, bench_reps(&o, 5));
		BENCH_DRIVE(rt, mpsc_driver,
			    { .m = m - m % ps[i], .p = ps[i], .samples = &s });
		weft_rt_destroy(rt);
		snprintf(extra, sizeof(extra), ",\"producers\":%u", ps[i]);
		bench_emit("mpsc_throughput", m, extra, "ns_per_msg",
			   bench_samples_median(&s));
	}
	return BENCH_EXIT_OK;
}

/* -------------------------------------------------------------- oneshot */

struct sender {
	WEFT_ASYNC;
	weft_oneshot *o;
	uint64_t v;
};

static weft_poll sender_poll(struct sender *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_oneshot_send(f->o, &f->v);
	f->o = NULL;
	WEFT_END();
}

static void sender_drop(struct sender *f)
{
	if (f->o)
		weft_oneshot_tx_drop(f->o);
}

WEFT_FUTURE(sender, struct sender, sender_drop);

struct oneshot_driver {
	WEFT_ASYNC;
	uint64_t n, i, v, t0;
	unsigned rep;
	struct bench_samples *samples;
	weft_oneshot *o;
	weft_oneshot_recv recv;
};

static weft_poll oneshot_driver_poll(struct oneshot_driver *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= f->samples->reps; f->rep++) {
		f->t0 = bench_now_ns();
		for (f->i = 0; f->i < f->n; f->i++) {
			if (weft_oneshot_create(&f->o, sizeof(uint64_t)))
				bench_fail("cannot create a oneshot");
			if (WEFT_SPAWN(weft_rt_current(), sender, NULL,
				       { .o = f->o, .v = f->i }))
				bench_fail("cannot spawn the sender");
			WEFT_AWAIT_INIT(weft_oneshot_recv, &f->recv, f->o,
					&f->v);
			weft_oneshot_rx_drop(f->o);
			if (f->recv.res < 0 || f->v != f->i)
				bench_fail("operation %llu received %llu (%d)",
					   (unsigned long long)f->i,
					   (unsigned long long)f->v,
					   (int)f->recv.res);
		}
		bench_samples_add(f->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / f->n);
	}
	WEFT_END();
}

WEFT_FUTURE(oneshot_driver, struct oneshot_driver, WEFT_NO_DROP);

int bench_oneshot(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_samples s;
	weft_rt *rt;
	int rc = bench_opts_parse(argc, argv, &o);
	uint64_t n;

	if (rc)
		return rc;
	n = bench_size(&o, ONESHOT_N);
	bench_samples_init(&s, bench_reps(&o, 5));
	rt = bench_rt_create();
	BENCH_DRIVE(rt, oneshot_driver, { .n = n, .samples = &s });
	weft_rt_destroy(rt);
	bench_emit("oneshot", n, "", "ns_per_op", bench_samples_median(&s));
	return BENCH_EXIT_OK;
}
