/* test/io/duplex.c - the in-memory duplex pair (weft_bytes_duplex): a
 * write takes what fits in cap and is PENDING when the ring is full
 * (woken when the reader makes room); fill/consume lend the ring; shutdown
 * gives the peer end of stream after the bytes written; release gives the
 * peer end of stream and -EPIPE; two tasks on two workers ping-pong 1 MiB
 * through a small ring, checked. */
#include "../sync/harness.h"
#include "../reactor/helpers.h"
#include "bytes_tasks.h"

static weft_poll wr(weft_bytes *b, tt *k, const char *s, size_t n,
		    intptr_t *res)
{
	struct iovec v = { (void *)s, n };

	*res = 1234;
	return b->vt->poll_write(b, tt_cx(k), &v, 1, res);
}

static weft_poll rd(weft_bytes *b, tt *k, char *buf, size_t n, intptr_t *res)
{
	*res = 1234;
	return b->vt->poll_read(b, tt_cx(k), buf, n, res);
}

Test(duplex, back_pressure_at_cap)
{
	weft_bytes *a, *b;
	tt kw, kr;
	intptr_t res;
	char buf[64];
	const void *data;

	tt_init(&kw);
	tt_init(&kr);
	cr_assert_eq(weft_bytes_duplex(&a, &b, 16), 0);
	cr_assert_str_eq(a->vt->name, "duplex");
	cr_assert_eq(weft_bytes_fd(a), -1);
	cr_assert_eq(rd(b, &kr, buf, sizeof(buf), &res), WEFT_PENDING,
		     "nothing written yet");
	cr_assert_eq(wr(a, &kw, "0123456789abcdefghij", 20, &res), WEFT_READY);
	cr_assert_eq(res, 16, "a write takes what fits in cap");
	cr_assert_eq(tt_wakes(&kr), 1, "the waiting reader was woken");
	cr_assert_eq(wr(a, &kw, "ghij", 4, &res), WEFT_PENDING,
		     "the ring is full: back-pressure");
	cr_assert_eq(tt_wakes(&kw), 0);
	cr_assert_eq(rd(b, &kr, buf, 10, &res), WEFT_READY);
	cr_assert_eq(res, 10);
	cr_assert_arr_eq(buf, "0123456789", 10);
	cr_assert_eq(tt_wakes(&kw), 1, "room made: the writer was woken");
	cr_assert_eq(wr(a, &kw, "ghij", 4, &res), WEFT_READY);
	cr_assert_eq(res, 4);
	/* the ring wraps: fill lends the contiguous run, then the rest */
	cr_assert_eq(b->vt->poll_fill(b, tt_cx(&kr), &data, &res), WEFT_READY);
	cr_assert_eq(res, 6);
	cr_assert_arr_eq(data, "abcdef", 6);
	b->vt->consume(b, 6);
	cr_assert_eq(b->vt->poll_fill(b, tt_cx(&kr), &data, &res), WEFT_READY);
	cr_assert_eq(res, 4);
	cr_assert_arr_eq(data, "ghij", 4);
	b->vt->consume(b, 2);
	cr_assert_eq(rd(b, &kr, buf, sizeof(buf), &res), WEFT_READY);
	cr_assert_eq(res, 2, "consume took only 2");
	cr_assert_arr_eq(buf, "ij", 2);
	weft_bytes_drop(a);
	weft_bytes_drop(b);
	cr_assert_eq(tt_live(&kw), 0, "no waker left behind");
	cr_assert_eq(tt_live(&kr), 0, "no waker left behind");
}

Test(duplex, shutdown_gives_end_of_stream_after_the_bytes)
{
	weft_bytes *a, *b;
	tt k;
	intptr_t res;
	char buf[16];

	tt_init(&k);
	cr_assert_eq(weft_bytes_duplex(&a, &b, 0), 0);
	cr_assert_eq(wr(a, &k, "abc", 3, &res), WEFT_READY);
	cr_assert_eq(a->vt->poll_flush(a, tt_cx(&k), &res), WEFT_READY);
	cr_assert_eq(res, 0);
	cr_assert_eq(a->vt->poll_shutdown(a, tt_cx(&k), &res), WEFT_READY);
	cr_assert_eq(res, 0);
	cr_assert_eq(wr(a, &k, "x", 1, &res), WEFT_READY);
	cr_assert_eq(res, -EPIPE, "no writes after shutdown");
	cr_assert_eq(rd(b, &k, buf, sizeof(buf), &res), WEFT_READY);
	cr_assert_eq(res, 3);
	cr_assert_eq(rd(b, &k, buf, sizeof(buf), &res), WEFT_READY);
	cr_assert_eq(res, 0, "end of stream");
	/* the other direction still works */
	cr_assert_eq(wr(b, &k, "back", 4, &res), WEFT_READY);
	cr_assert_eq(res, 4);
	cr_assert_eq(rd(a, &k, buf, sizeof(buf), &res), WEFT_READY);
	cr_assert_eq(res, 4);
	weft_bytes_drop(a);
	weft_bytes_drop(b);
}

Test(duplex, release_gives_eof_and_epipe)
{
	weft_bytes *a, *b;
	tt kr, kw;
	intptr_t res;
	char buf[16], big[32] = { 0 };

	tt_init(&kr);
	tt_init(&kw);
	cr_assert_eq(weft_bytes_duplex(&a, &b, 8), 0);
	cr_assert_eq(rd(b, &kr, buf, sizeof(buf), &res), WEFT_PENDING);
	cr_assert_eq(wr(b, &kw, big, sizeof(big), &res), WEFT_READY);
	cr_assert_eq(res, 8);
	cr_assert_eq(wr(b, &kw, big, sizeof(big), &res), WEFT_PENDING);
	weft_bytes_drop(a);
	cr_assert_eq(tt_wakes(&kr), 1, "the waiting reader was woken");
	cr_assert_eq(tt_wakes(&kw), 1, "the waiting writer was woken");
	cr_assert_eq(rd(b, &kr, buf, sizeof(buf), &res), WEFT_READY);
	cr_assert_eq(res, 0, "end of stream");
	cr_assert_eq(wr(b, &kw, big, 1, &res), WEFT_READY);
	cr_assert_eq(res, -EPIPE);
	weft_bytes_drop(b);
	cr_assert_eq(tt_live(&kr) + tt_live(&kw), 0);
	cr_assert_eq(weft_bytes_duplex(NULL, &b, 8), -EINVAL);
}

/* ---------------------------------------------- ping-pong, two workers */

#define PP_TOTAL (1024 * 1024)

/* Sends chunks and reads each back, checking it. */
struct pinger {
	WEFT_ASYNC;
	weft_bytes *b;
	size_t off, n;
	unsigned k;
	weft_bytes_write w;
	weft_bytes_read r;
	weft_bytes_flush f;
	unsigned char out[1000], in[1000]; /* <= cap: no deadlock */
};

static weft_poll pinger_poll(struct pinger *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->off = 0, f->k = 0; f->off < PP_TOTAL; f->off += f->n, f->k++) {
		f->n = 1 + (f->k * 7919u) % sizeof(f->out);
		if (f->n > PP_TOTAL - f->off)
			f->n = PP_TOTAL - f->off;
		for (size_t i = 0; i < f->n; i++)
			f->out[i] = bt_pattern(7, f->off + i);
		weft_bytes_write_all_init(&f->w, f->b, f->out, f->n);
		WEFT_AWAIT_ON(weft_bytes_write, &f->w);
		if (f->w.res != (intptr_t)f->n)
			WEFT_RETURN(-1);
		weft_bytes_read_exact_init(&f->r, f->b, f->in, f->n);
		WEFT_AWAIT_ON(weft_bytes_read, &f->r);
		if (f->r.res != (intptr_t)f->n ||
		    memcmp(f->in, f->out, f->n))
			WEFT_RETURN(-2);
	}
	weft_bytes_shutdown_init(&f->f, f->b);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	WEFT_RETURN(f->off);
	WEFT_END();
}

WEFT_FUTURE(pinger, struct pinger, WEFT_NO_DROP);

/* Echoes until end of stream. */
struct ponger {
	WEFT_ASYNC;
	weft_bytes *b;
	size_t total;
	weft_bytes_read r;
	weft_bytes_write w;
	unsigned char buf[3000];
};

static weft_poll ponger_poll(struct ponger *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		weft_bytes_read_init(&f->r, f->b, f->buf, sizeof(f->buf));
		WEFT_AWAIT_ON(weft_bytes_read, &f->r);
		if (f->r.res <= 0)
			break;
		weft_bytes_write_all_init(&f->w, f->b, f->buf, (size_t)f->r.res);
		WEFT_AWAIT_ON(weft_bytes_write, &f->w);
		if (f->w.res < 0)
			WEFT_RETURN(f->w.res);
		f->total += (size_t)f->r.res;
	}
	WEFT_RETURN(f->r.res < 0 ? f->r.res : (intptr_t)f->total);
	WEFT_END();
}

WEFT_FUTURE(ponger, struct ponger, WEFT_NO_DROP);

Test(duplex, ping_pong_1mib_on_two_workers)
{
	weft_rt *rt = test_rt(2);
	weft_bytes *a, *b;
	weft_join *j1, *j2;

	cr_assert_eq(weft_bytes_duplex(&a, &b, 1024), 0);
	cr_assert_eq(WEFT_SPAWN(rt, ponger, &j2, { .b = b }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, pinger, &j1, { .b = a }), 0);
	cr_assert_eq(test_join(rt, j1), PP_TOTAL);
	cr_assert_eq(test_join(rt, j2), PP_TOTAL);
	weft_bytes_drop(a);
	weft_bytes_drop(b);
	weft_rt_destroy(rt);
}
