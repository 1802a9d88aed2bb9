/* bench/stream_wl.c - issue 13's future set and stream workloads (not in
 * the peers README):
 *
 *   futset_wake      a future set (weft/futset.h) of N members, all
 *                    waiting; one member at a time is woken (in turn:
 *                    0, 1, ..., N-1, 0, ...), the driver awaits the set's next (only that
 *                    member is polled: it completes) and pushes a
 *                    replacement. ns per wake (wake + next + push), for
 *                    N = 100, 10 000 and 1 000 000 (--n: that N only).
 *                    Flat across N is the claim (a random order adds
 *                    the cache and TLB misses of touching one slot of
 *                    a set far larger than the caches, not set work).
 *   stream_for_each  1 000 000 int64 items through an mpsc channel
 *                    (unbounded, filled before the timed region), consumed
 *                    by weft_iter_for_each_concurrent (limit 64, a
 *                    trivial future per item that adds it to a sum), then
 *                    by a hand-written weft_mpsc_recv loop adding each
 *                    item: ns per item, both rows.
 *
 * One warm-up and 5 measured repetitions (1 with --quick), median, as the
 * other workloads; the driver is a task on a worker (bench_drive).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "weft/futset.h"
#include "weft/iter.h"

/* ---------------------------------------------------------- futset_wake */

#define WAKES 200000u

struct fw_st {
	uint64_t n;
	weft_waker *wakers;      /* member i's waker, while it waits */
	struct bench_samples samples;
};

/* Waits once (its waker in st->wakers[id]), completes when polled again. */
struct fw_member {
	WEFT_ASYNC;
	struct fw_st *st;
	uint32_t id;
	bool waited;
};

static weft_poll fw_member_poll(struct fw_member *f, weft_cx *cx)
{
	if (f->waited) {
		f->res = f->id;
		return WEFT_READY;
	}
	f->waited = true;
	f->st->wakers[f->id] = weft_waker_clone(&cx->waker);
	return WEFT_PENDING;
}
WEFT_FUTURE(fw_member, struct fw_member, WEFT_NO_DROP);

struct fw_driver {
	WEFT_ASYNC;
	struct fw_st *st;
	weft_futset set;
	weft_futset_next nx;
	unsigned rep;
	uint32_t id;
	uint64_t i, t0;
};

static void fw_push(struct fw_driver *f, uint32_t id)
{
	struct fw_member *m = WEFT_FUTSET_PUSH(&f->set, fw_member);

	if (!m)
		bench_fail("weft_futset_push failed");
	m->st = f->st;
	m->id = id;
}

static weft_poll fw_driver_poll(struct fw_driver *f, weft_cx *cx)
{
	struct fw_st *st = f->st;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= st->samples.reps; f->rep++) {
		if (WEFT_FUTSET_INIT(&f->set, fw_member, 0))
			bench_fail("weft_futset_init");
		for (f->i = 0; f->i < st->n; f->i++)
			fw_push(f, (uint32_t)f->i);
		/* first poll: every member registers and waits */
		weft_futset_next_init(&f->nx, &f->set);
		if (weft_futset_next_poll(&f->nx, weft_cx_) != WEFT_PENDING)
			bench_fail("a member completed before its wake");
		f->t0 = bench_now_ns();
		for (f->i = 0; f->i < WAKES; f->i++) {
			f->id = (uint32_t)(f->i % st->n);
			weft_waker_wake(&st->wakers[f->id]);
			WEFT_AWAIT_INIT(weft_futset_next, &f->nx, &f->set);
			if (f->nx.res != (intptr_t)f->id)
				bench_fail("woke %u, got %lld", f->id,
					   (long long)f->nx.res);
			fw_push(f, f->id);
			/* the replacement registers at the next poll: poll
			 * it now so the next wake finds its waker */
			weft_futset_next_init(&f->nx, &f->set);
			if (weft_futset_next_poll(&f->nx, weft_cx_) !=
			    WEFT_PENDING)
				bench_fail("a member completed unwoken");
		}
		bench_samples_add(&st->samples, f->rep,
				  (double)(bench_now_ns() - f->t0) / WAKES);
		for (f->i = 0; f->i < st->n; f->i++)
			weft_waker_drop(&st->wakers[f->i]);
		weft_futset_destroy(&f->set);
	}
	WEFT_END();
}
WEFT_FUTURE(fw_driver, struct fw_driver, WEFT_NO_DROP);

int bench_futset_wake(int argc, char **argv)
{
	static const uint64_t sizes[] = { 100, 10000, 1000000 };
	struct bench_opts o;
	int rc = bench_opts_parse(argc, argv, &o);
	weft_rt *rt;

	if (rc)
		return rc;
	rt = bench_rt_create();
	for (size_t k = 0; k < 3; k++) {
		struct fw_st st;

		memset(&st, 0, sizeof(st));
		st.n = o.n ? o.n : sizes[k];
		st.wakers = calloc(st.n, sizeof(*st.wakers));
		if (!st.wakers)
			bench_fail("out of memory");
		bench_samples_init(&st.samples, bench_reps(&o, 5));
		BENCH_DRIVE(rt, fw_driver, { .st = &st });
		bench_emit("futset_wake", st.n, "", "ns_per_wake",
			   bench_samples_median(&st.samples));
		free(st.wakers);
		if (o.n)
			break;
	}
	weft_rt_destroy(rt);
	return BENCH_EXIT_OK;
}

/* ------------------------------------------------------ stream_for_each */

#define ITEMS 1000000u
#define LIMIT 64u

struct sf_st {
	uint64_t n;
	struct bench_samples conc, loop;
	int64_t sum;
};

/* The per-item future of for_each_concurrent: adds its item. */
struct sf_item {
	WEFT_ASYNC_VOID;
	struct sf_st *st;
	int64_t v;
};

static weft_poll sf_item_poll(struct sf_item *f, weft_cx *cx)
{
	(void)cx;
	f->st->sum += f->v;
	return WEFT_READY;
}
WEFT_FUTURE(sf_item, struct sf_item, WEFT_NO_DROP);

static void sf_start(void *ctx, void *frame, const void *item)
{
	struct sf_item *f = frame;

	f->st = ctx;
	memcpy(&f->v, item, sizeof(f->v));
}

struct sf_driver {
	WEFT_ASYNC;
	struct sf_st *st;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_iter_mpsc src;
	weft_iter_for_each_concurrent fe;
	weft_mpsc_recv recv;
	int64_t item;
	unsigned rep;
	int mode;
	uint64_t i, t0;
};

static weft_poll sf_driver_poll(struct sf_driver *f, weft_cx *cx)
{
	struct sf_st *st = f->st;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= st->conc.reps; f->rep++)
		for (f->mode = 0; f->mode < 2; f->mode++) {
			if (weft_mpsc_create(&f->tx, &f->rx, sizeof(int64_t),
					     WEFT_MPSC_UNBOUNDED, NULL))
				bench_fail("weft_mpsc_create");
			for (f->i = 0; f->i < st->n; f->i++) {
				int64_t v = (int64_t)f->i;

				if (weft_mpsc_try_send(f->tx, &v))
					bench_fail("weft_mpsc_try_send");
			}
			weft_mpsc_tx_drop(f->tx);
			st->sum = 0;
			f->t0 = bench_now_ns();
			if (f->mode == 0) {
				weft_iter_mpsc_init(&f->src, f->rx,
						    sizeof(int64_t));
				WEFT_ITER_FOR_EACH_CONCURRENT_INIT(
					&f->fe, &f->src.it, LIMIT, sf_item,
					sf_start, st);
				WEFT_AWAIT_ON(weft_iter_for_each_concurrent,
					      &f->fe);
				if (f->fe.res)
					bench_fail("for_each_concurrent: %d",
						   (int)f->fe.res);
			} else {
				for (;;) {
					WEFT_AWAIT_INIT(weft_mpsc_recv,
							&f->recv, f->rx,
							&f->item);
					if (f->recv.res)
						break;
					st->sum += f->item;
				}
			}
			bench_samples_add(f->mode ? &st->loop : &st->conc,
					  f->rep,
					  (double)(bench_now_ns() - f->t0) /
						  st->n);
			weft_mpsc_rx_drop(f->rx);
			if ((uint64_t)st->sum != st->n * (st->n - 1) / 2)
				bench_fail("items sum to %lld",
					   (long long)st->sum);
		}
	WEFT_END();
}
WEFT_FUTURE(sf_driver, struct sf_driver, WEFT_NO_DROP);

int bench_stream_for_each(int argc, char **argv)
{
	struct bench_opts o;
	struct sf_st st;
	int rc = bench_opts_parse(argc, argv, &o);
	weft_rt *rt;

	if (rc)
		return rc;
	memset(&st, 0, sizeof(st));
	st.n = bench_size(&o, ITEMS);
	bench_samples_init(&st.conc, bench_reps(&o, 5));
	bench_samples_init(&st.loop, bench_reps(&o, 5));
	rt = bench_rt_create();
	BENCH_DRIVE(rt, sf_driver, { .st = &st });
	weft_rt_destroy(rt);
	bench_emit("stream_for_each", st.n, ",\"tasks\":64",
		   "ns_per_item_concurrent", bench_samples_median(&st.conc));
	bench_emit("stream_for_each", st.n, "", "ns_per_item_loop",
		   bench_samples_median(&st.loop));
	return BENCH_EXIT_OK;
}
