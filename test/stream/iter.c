/* test/stream/iter.c - the stream contract and the combinators that hold
 * no futures (weft/iter.h), hand-polled: fusing (a stream polled after
 * its end returns the end without touching its source), error items
 * passing through, map, filter, take, take_while, chain, merge (fair),
 * zip, keyed merge, for_each, argument errors, and the mpsc, broadcast,
 * watch and lines sources.
 */
#include "test/runtime/harness.h"
#include "weft/iter.h"
#include "weft/bytes.h"

/* A test source: items int64 from an array; a value of -1000 - e is the
 * error item -e; with pend, every other poll is PENDING (it wakes
 * itself). Counts its polls. */
struct vec {
	weft_iter it;
	const int64_t *v;
	size_t n, i;
	bool pend, flip;
	int polls;
};

static weft_poll vec_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	struct vec *s = (struct vec *)it;

	s->polls++;
	if (s->pend && (s->flip = !s->flip)) {
		weft_waker_wake_by_ref(&cx->waker);
		return WEFT_PENDING;
	}
	if (s->i == s->n) {
		*res = WEFT_ITER_END;
		return WEFT_READY;
	}
	int64_t x = s->v[s->i++];
	if (x <= -1000) {
		*res = x + 1000;
		return WEFT_READY;
	}
	memcpy(item, &x, sizeof(x));
	*res = 0;
	return WEFT_READY;
}
static const weft_iter_vt vec_vt = { vec_poll, NULL, "vec" };

static void vec_init(struct vec *s, const int64_t *v, size_t n, bool pend)
{
	memset(s, 0, sizeof(*s));
	weft_iter_setup(&s->it, &vec_vt, sizeof(int64_t));
	s->v = v;
	s->n = n;
	s->pend = pend;
}

/* Drains it by hand: items into out (up to max), error items as
 * -1000 - errno; returns how many, stops at the end. */
static size_t drain(weft_iter *it, weft_cx *cx, int64_t *out, size_t max)
{
	size_t k = 0;
	unsigned char item[WEFT_ITER_HOLD];

	for (int guard = 0; guard < 10000; guard++) {
		intptr_t r;

		if (weft_iter_poll_next(it, cx, item, &r) == WEFT_PENDING)
			continue;
		if (r == WEFT_ITER_END)
			return k;
		cr_assert_lt(k, max);
		if (r < 0)
			out[k++] = -1000 + r;
		else
			memcpy(&out[k++], item, sizeof(int64_t));
	}
	cr_assert_fail("no end");
	return k;
}

#define V(...) ((const int64_t[]){ __VA_ARGS__ })
#define NV(...) (sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t))
#define SRC(s, pend, ...) vec_init((s), V(__VA_ARGS__), NV(__VA_ARGS__), (pend))

static void expect(const int64_t *got, size_t n, const int64_t *want,
		   size_t wn)
{
	cr_assert_eq(n, wn, "%zu items, want %zu", n, wn);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "item %zu: %lld, want %lld", i,
			     (long long)got[i], (long long)want[i]);
}
#define EXPECT(got, n, ...) expect((got), (n), V(__VA_ARGS__), NV(__VA_ARGS__))

Test(iter, fused_after_end)
{
	struct vec s;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t out[8];
	intptr_t r;
	unsigned char item[8];

	SRC(&s, false, 1, 2);
	EXPECT(out, drain(&s.it, cx, out, 8), 1, 2);
	int polls = s.polls;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(weft_iter_poll_next(&s.it, cx, item, &r),
			     WEFT_READY);
		cr_assert_eq(r, WEFT_ITER_END);
	}
	cr_assert_eq(s.polls, polls, "the source is not polled after its end");
	weft_iter_drop(&s.it);
	weft_iter_drop(&s.it);
	cr_assert_eq(weft_iter_poll_next(NULL, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, -EINVAL);
}

static intptr_t times10(void *ctx, const void *in, void *out)
{
	int64_t x;

	(void)ctx;
	memcpy(&x, in, sizeof(x));
	if (x == 7)
		return -EDOM;
	x *= 10;
	memcpy(out, &x, sizeof(x));
	return 0;
}

static bool is_odd(void *ctx, const void *item)
{
	int64_t x;

	(void)ctx;
	memcpy(&x, item, sizeof(x));
	return x & 1;
}

static bool below(void *ctx, const void *item)
{
	int64_t x;

	memcpy(&x, item, sizeof(x));
	return x < *(int64_t *)ctx;
}

Test(iter, map_filter_take_take_while)
{
	struct vec s;
	weft_iter_map m;
	weft_iter_filter f;
	weft_iter_take t;
	weft_iter_take_while tkw;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t out[16], lim = 4;

	SRC(&s, true, 1, 2, -1000 - EIO, 7, 3);
	weft_iter_map_init(&m, &s.it, sizeof(int64_t), times10, NULL);
	EXPECT(out, drain(&m.it, cx, out, 16), 10, 20, -1000 - EIO,
	       -1000 - EDOM, 30);

	SRC(&s, true, 1, 2, 3, -1000 - EIO, 4, 5);
	weft_iter_filter_init(&f, &s.it, is_odd, NULL);
	EXPECT(out, drain(&f.it, cx, out, 16), 1, 3, -1000 - EIO, 5);

	SRC(&s, false, 1, -1000 - EIO, 3, 4, 5);
	weft_iter_take_init(&t, &s.it, 3);
	EXPECT(out, drain(&t.it, cx, out, 16), 1, -1000 - EIO, 3);
	cr_assert_eq(s.i, 3, "take does not pull past its n");

	SRC(&s, false, 1, 2, -1000 - EIO, 3, 9, 1);
	weft_iter_take_while_init(&tkw, &s.it, below, &lim);
	EXPECT(out, drain(&tkw.it, cx, out, 16), 1, 2, -1000 - EIO, 3);
	cr_assert_eq(s.i, 5, "the failing item is consumed, no more");
}

Test(iter, chain_merge_zip)
{
	struct vec a, b, c;
	weft_iter_chain ch;
	weft_iter_merge mg;
	weft_iter_zip z;
	weft_iter *srcs[3];
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t out[32];

	SRC(&a, true, 1, 2);
	SRC(&b, false, 3);
	weft_iter_chain_init(&ch, &a.it, &b.it);
	EXPECT(out, drain(&ch.it, cx, out, 32), 1, 2, 3);

	/* merge: three always-ready sources alternate fairly */
	SRC(&a, false, 1, 1, 1, 1);
	SRC(&b, false, 2, 2, 2, 2);
	SRC(&c, false, 3, 3);
	srcs[0] = &a.it;
	srcs[1] = &b.it;
	srcs[2] = &c.it;
	weft_iter_merge_init(&mg, srcs, 3);
	EXPECT(out, drain(&mg.it, cx, out, 32), 1, 2, 3, 1, 2, 3, 1, 2, 1, 2);

	/* zip: pairs, ends with the shorter; b's pending polls keep a's item */
	SRC(&a, false, 1, 2, 3);
	SRC(&b, true, 10, 20);
	weft_iter_zip_init(&z, &a.it, &b.it);
	cr_assert_eq(z.it.item_size, 16 + 8);
	int got = 0;
	for (int g = 0; g < 100; g++) {
		unsigned char item[32];
		intptr_t r;
		int64_t x, y;

		if (weft_iter_poll_next(&z.it, cx, item, &r) == WEFT_PENDING)
			continue;
		if (r == WEFT_ITER_END)
			break;
		memcpy(&x, item, 8);
		memcpy(&y, item + z.b_off, 8);
		cr_assert_eq(x, got + 1);
		cr_assert_eq(y, 10 * (got + 1));
		got++;
	}
	cr_assert_eq(got, 2);
}

Test(iter, keyed_merge)
{
	struct vec a, b;
	weft_iter_keyed km;
	weft_iter_keyed_entry e[2];
	tcx k;
	weft_cx *cx = tcx_init(&k);
	unsigned char item[16];
	intptr_t r;
	int n[2] = { 0, 0 };

	weft_iter_keyed_init(&km, e, 2, sizeof(int64_t));
	cr_assert_eq(weft_iter_poll_next(&km.it, cx, item, &r), WEFT_PENDING,
		     "empty and open: waits");
	SRC(&a, false, 1, 2, 3);
	SRC(&b, false, 4, 5);
	cr_assert_eq(weft_iter_keyed_insert(&km, 100, &a.it), 0);
	cr_assert_eq(atomic_load(&k.t.wakes), 1, "an insert wakes the poller");
	cr_assert_eq(weft_iter_keyed_insert(&km, 100, &b.it), -EEXIST);
	cr_assert_eq(weft_iter_keyed_insert(&km, 200, &b.it), 0);
	cr_assert_eq(weft_iter_keyed_insert(&km, 300, &b.it), -ENOSPC);
	weft_iter_keyed_close(&km);
	for (int g = 0; g < 100; g++) {
		uint64_t key;
		int64_t x;

		cr_assert_eq(weft_iter_poll_next(&km.it, cx, item, &r),
			     WEFT_READY);
		if (r == WEFT_ITER_END)
			break;
		memcpy(&key, item, 8);
		memcpy(&x, item + 8, 8);
		cr_assert(key == 100 ? x <= 3 : x >= 4, "key %llu item %lld",
			  (unsigned long long)key, (long long)x);
		n[key == 200]++;
	}
	cr_assert_eq(n[0], 3);
	cr_assert_eq(n[1], 2);
	cr_assert_eq(km.n, 0, "ended members removed");
	cr_assert_null(weft_iter_keyed_remove(&km, 100));
	weft_iter_drop(&km.it);
}

static intptr_t summer(void *ctx, void *item)
{
	int64_t x;

	memcpy(&x, item, sizeof(x));
	if (x == 99)
		return -ECHILD;
	*(int64_t *)ctx += x;
	return 0;
}

Test(iter, for_each_sums_and_stops_at_errors)
{
	struct vec s;
	weft_iter_for_each fe;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t sum = 0;
	int g = 0;

	SRC(&s, true, 1, 2, 3);
	weft_iter_for_each_init(&fe, &s.it, summer, &sum);
	while (weft_iter_for_each_poll(&fe, cx) == WEFT_PENDING)
		cr_assert_lt(++g, 100);
	cr_assert_eq(fe.res, 0);
	cr_assert_eq(sum, 6);

	sum = 0;
	SRC(&s, false, 1, -1000 - EIO, 3);
	weft_iter_for_each_init(&fe, &s.it, summer, &sum);
	cr_assert_eq(weft_iter_for_each_poll(&fe, cx), WEFT_READY);
	cr_assert_eq(fe.res, -EIO, "an error item stops it");
	cr_assert_eq(sum, 1);

	sum = 0;
	SRC(&s, false, 1, 99, 3);
	weft_iter_for_each_init(&fe, &s.it, summer, &sum);
	cr_assert_eq(weft_iter_for_each_poll(&fe, cx), WEFT_READY);
	cr_assert_eq(fe.res, -ECHILD, "fn's error stops it");
	cr_assert_eq(s.i, 2);
}

/* Items too large to hold, and NULL sources: the error once, then the end. */
struct big {
	weft_iter it;
};
static weft_poll big_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	(void)it, (void)cx;
	memset(item, 0, 128);
	*res = 0;
	return WEFT_READY;
}
static const weft_iter_vt big_vt = { big_poll, NULL, "big" };

Test(iter, argument_errors_then_end)
{
	struct big b;
	weft_iter_map m;
	weft_iter_take t;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	unsigned char item[128];
	intptr_t r;

	weft_iter_setup(&b.it, &big_vt, 128);
	weft_iter_map_init(&m, &b.it, 8, times10, NULL);
	cr_assert_eq(weft_iter_poll_next(&m.it, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, -EMSGSIZE);
	cr_assert_eq(weft_iter_poll_next(&m.it, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, WEFT_ITER_END);
	weft_iter_take_init(&t, NULL, 3);
	cr_assert_eq(weft_iter_poll_next(&t.it, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(weft_iter_poll_next(&t.it, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, WEFT_ITER_END);
}

/* ------------------------------------------------------------ sources */

Test(iter, mpsc_source_ends_when_closed_and_drained)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_iter_mpsc s;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t out[8];
	unsigned char item[8];
	intptr_t r;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(int64_t), 8, NULL), 0);
	weft_iter_mpsc_init(&s, rx, sizeof(int64_t));
	cr_assert_eq(weft_iter_poll_next(&s.it, cx, item, &r), WEFT_PENDING);
	for (int64_t i = 1; i <= 3; i++)
		cr_assert_eq(weft_mpsc_try_send(tx, &i), 0);
	cr_assert_geq(atomic_load(&k.t.wakes), 1);
	weft_mpsc_tx_drop(tx);
	EXPECT(out, drain(&s.it, cx, out, 8), 1, 2, 3);
	cr_assert_eq(weft_iter_poll_next(&s.it, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, WEFT_ITER_END, "fused");
	weft_iter_drop(&s.it);
	weft_mpsc_rx_drop(rx);
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

Test(iter, broadcast_source_reports_overflow_and_goes_on)
{
	weft_broadcast *tx;
	weft_broadcast_rx rx;
	weft_iter_broadcast s;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t out[8];

	cr_assert_eq(weft_broadcast_create(&tx, &rx, sizeof(int64_t), 2, NULL),
		     0);
	weft_iter_broadcast_init(&s, &rx, sizeof(int64_t));
	for (int64_t i = 1; i <= 4; i++)
		cr_assert_eq(weft_broadcast_send(tx, &i), 1);
	weft_broadcast_tx_drop(tx);
	EXPECT(out, drain(&s.it, cx, out, 8), -1000 - EOVERFLOW, 3, 4);
	cr_assert_eq(s.missed, 0, "missed is the last item's (none)");
	weft_iter_drop(&s.it);
	weft_broadcast_rx_drop(&rx);
}

Test(iter, watch_source_gives_changes)
{
	weft_watch *tx;
	weft_watch_rx rx;
	weft_iter_watch s;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int64_t v = 0, out[8];
	unsigned char item[8];
	intptr_t r;

	cr_assert_eq(weft_watch_create(&tx, &rx, sizeof(v), &v, NULL), 0);
	weft_iter_watch_init(&s, &rx, sizeof(v));
	cr_assert_eq(weft_iter_poll_next(&s.it, cx, item, &r), WEFT_PENDING);
	v = 5;
	cr_assert_eq(weft_watch_send(tx, &v), 0);
	v = 6;
	cr_assert_eq(weft_watch_send(tx, &v), 0);
	cr_assert_eq(weft_iter_poll_next(&s.it, cx, item, &r), WEFT_READY);
	cr_assert_eq(r, 0);
	memcpy(&v, item, 8);
	cr_assert_eq(v, 6, "coalesced to the latest");
	cr_assert_eq(weft_iter_poll_next(&s.it, cx, item, &r), WEFT_PENDING);
	v = 7;
	cr_assert_eq(weft_watch_send(tx, &v), 0);
	weft_watch_tx_drop(tx);
	EXPECT(out, drain(&s.it, cx, out, 8), 7);
	weft_iter_drop(&s.it);
	weft_watch_rx_drop(&rx);
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

Test(iter, lines_source_over_a_duplex)
{
	weft_bytes *a, *b;
	weft_bufreader r;
	weft_iter_lines s;
	weft_codec_lines c = { .max_len = 8, .strip_cr = true };
	weft_bytes_write w;
	static const char text[] = "one\r\ntoolongline\ntwo\nlast";
	tcx k;
	weft_cx *cx = tcx_init(&k);
	const char *want[] = { "one", NULL, "two", "last" };
	int i = 0;

	cr_assert_eq(weft_bytes_duplex(&a, &b, 0), 0);
	weft_bytes_write_all_init(&w, a, text, sizeof(text) - 1);
	cr_assert_eq(weft_bytes_write_poll(&w, cx), WEFT_READY);
	cr_assert_eq(w.res, (intptr_t)sizeof(text) - 1);
	weft_bytes_drop(a);
	cr_assert_eq(weft_bufreader_init(&r, b, 64), 0);
	weft_iter_lines_init(&s, &r, &c);
	for (int g = 0; g < 100; g++) {
		unsigned char item[sizeof(weft_iter_bytes)];
		weft_iter_bytes it;
		intptr_t res;

		if (weft_iter_poll_next(&s.it, cx, item, &res) == WEFT_PENDING)
			continue;
		if (res == WEFT_ITER_END)
			break;
		cr_assert_lt(i, 4);
		if (!want[i]) {
			cr_assert_eq(res, -EMSGSIZE, "the long line: %d",
				     (int)res);
		} else {
			memcpy(&it, item, sizeof(it));
			cr_assert_eq(res, (intptr_t)strlen(want[i]));
			cr_assert_eq(memcmp(it.data, want[i], it.len), 0);
		}
		i++;
	}
	cr_assert_eq(i, 4);
	weft_iter_drop(&s.it);
	weft_bufreader_destroy(&r);
	weft_bytes_drop(b);
}

Test(iter, frames_source_ends_inside_a_frame_with_an_error)
{
	weft_bytes *a, *b;
	weft_bufreader r;
	weft_iter_frames s;
	weft_codec_frames c = { .width = 2 };
	weft_bytes_write w;
	/* "abc", an empty frame, then a header promising 5 bytes and 1 */
	static const char bytes[] = "\0\3abc\0\0\0\5x";
	tcx k;
	weft_cx *cx = tcx_init(&k);
	intptr_t got[4];
	int n = 0;

	cr_assert_eq(weft_bytes_duplex(&a, &b, 0), 0);
	weft_bytes_write_all_init(&w, a, bytes, sizeof(bytes) - 1);
	cr_assert_eq(weft_bytes_write_poll(&w, cx), WEFT_READY);
	weft_bytes_drop(a);
	cr_assert_eq(weft_bufreader_init(&r, b, 64), 0);
	weft_iter_frames_init(&s, &r, &c);
	for (int g = 0; g < 100; g++) {
		weft_iter_bytes it;
		intptr_t res;

		if (weft_iter_poll_next(&s.it, cx, &it, &res) == WEFT_PENDING)
			continue;
		if (res == WEFT_ITER_END)
			break;
		cr_assert_lt(n, 4);
		got[n++] = res;
		if (res == 3)
			cr_assert_eq(memcmp(it.data, "abc", 3), 0);
	}
	cr_assert_eq(n, 3);
	cr_assert_eq(got[0], 3);
	cr_assert_eq(got[1], 0, "an empty frame is an item");
	cr_assert_eq(got[2], -EPIPE, "cut inside a frame: the error, then the end");
	weft_iter_drop(&s.it);
	weft_bufreader_destroy(&r);
	weft_bytes_drop(b);
}
