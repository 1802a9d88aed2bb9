/* test/io/bufio.c - the buffered reader and writer of weft/bufio.h over
 * the scripted stream (test/io/script.h), with and without poll_fill:
 * lines at every split point, zero-copy results from in-place chunks,
 * over-long lines skipped with the next line intact, end of stream inside
 * a line, read_exact across chunks, fill/consume, a future dropped half
 * way, the synchronous try forms (held items only, never the stream), a
 * search for another delimiter starting over, and
 * the writer's coalescing (N small writes + flush = 1 call). */
#include <stdio.h>

#include "../sync/harness.h"
#include "script.h"
#include "weft/bufio.h"

#define RUN(name, f, k)                                                     \
	do {                                                                \
		int guard_ = 0;                                             \
		while (name##_poll((f), tt_cx(k)) == WEFT_PENDING)          \
			cr_assert_lt(++guard_, 100000, "no progress");      \
	} while (0)

static void setup(script *s, bool fill)
{
	if (fill)
		script_init_fill(s, 0);
	else
		script_init(s, 0);
}

/* Reads lines (max bytes each) until end of stream; checks them against
 * want[] (NULL entries: -EMSGSIZE expected there). */
static void expect_lines(weft_bufreader *r, tt *k, size_t max,
			 const char *const *want, int nwant)
{
	weft_bufreader_read_until f;

	for (int i = 0; i <= nwant; i++) {
		weft_bufreader_read_line_init(&f, r, max);
		RUN(weft_bufreader_read_until, &f, k);
		if (i == nwant) {
			cr_assert_eq(f.res, 0, "end of stream after %d", i);
			return;
		}
		if (!want[i]) {
			cr_assert_eq(f.res, -EMSGSIZE, "line %d too long", i);
			continue;
		}
		cr_assert_eq(f.res, (intptr_t)strlen(want[i]),
			     "line %d: %zd", i, (ssize_t)f.res);
		cr_assert_arr_eq(f.data, want[i], strlen(want[i]));
	}
}

static const char text[] = "alpha\nbe\n\ngamma-delta-epsilon\nz\ntail";
static const char *const text_lines[] = {
	"alpha\n", "be\n", "\n", "gamma-delta-epsilon\n", "z\n", "tail",
};

Test(bufio, lines_decode_the_same_at_every_split)
{
	size_t n = sizeof(text) - 1;

	for (int fill = 0; fill < 2; fill++) {
		for (size_t step = 1; step <= n; step++) {
			script s;
			tt k;
			weft_bufreader r;

			tt_init(&k);
			setup(&s, fill);
			script_split(&s, text, n, step);
			cr_assert_eq(weft_bufreader_init(&r, &s.base, 32), 0);
			expect_lines(&r, &k, 0, text_lines, 6);
			weft_bufreader_destroy(&r);
		}
		for (size_t cut = 1; cut < n; cut++) {
			script s;
			tt k;
			weft_bufreader r;

			tt_init(&k);
			setup(&s, fill);
			script_add(&s, text, cut);
			script_add(&s, text + cut, n - cut);
			cr_assert_eq(weft_bufreader_init(&r, &s.base, 32), 0);
			expect_lines(&r, &k, 0, text_lines, 6);
			weft_bufreader_destroy(&r);
		}
	}
}

Test(bufio, lines_inside_a_chunk_are_borrowed_in_place)
{
	static const char a[] = "one\ntwo\nthr", b[] = "ee\nfour\n";
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;

	tt_init(&k);
	script_init_fill(&s, 0);
	script_add(&s, a, strlen(a));
	script_add(&s, b, strlen(b));
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 4);
	cr_assert_eq(f.data, a, "no copy: the stream's own chunk");
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.data, a + 4);
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 6);
	cr_assert_arr_eq(f.data, "three\n", 6);
	cr_assert_not(script_owns(&s, f.data), "spanning: gathered");
	cr_assert_eq(weft_bufreader_buffered(&r), 0,
		     "only the spanning line was copied");
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.data, b + 3, "in place again after it");
	weft_bufreader_destroy(&r);
}

/* The synchronous fast path: held items only, never the stream. */
Test(bufio, try_forms_take_held_items_and_never_call_the_stream)
{
	static const char a[] = "ab\ncd\nefgh";
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;
	const void *d = "x";

	tt_init(&k);
	script_init_fill(&s, 0);
	script_add(&s, a, strlen(a));
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	/* nothing held yet: -EAGAIN, and the stream untouched (its first
	 * read would have answered PENDING once and armed itself) */
	cr_assert_eq(weft_bufreader_try_until(&r, '\n', 0, &d), -EAGAIN);
	cr_assert_null(d);
	cr_assert_eq(weft_bufreader_try_exact(&r, 1, &d), -EAGAIN);
	cr_assert_not(s.armed);
	cr_assert_eq(s.at, 0);
	/* the future fills: the first line, in the stream's chunk */
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 3);
	cr_assert_eq(f.data, a);
	/* the next line is held: in place, no copy */
	cr_assert_eq(weft_bufreader_try_until(&r, '\n', 0, &d), 3);
	cr_assert_eq(d, a + 3);
	/* "efgh" has no delimiter: -EAGAIN, and nothing taken */
	cr_assert_eq(weft_bufreader_try_until(&r, '\n', 0, &d), -EAGAIN);
	cr_assert_eq(weft_bufreader_try_peek(&r, 2, &d), 2);
	cr_assert_eq(d, a + 6);
	cr_assert_eq(weft_bufreader_try_exact(&r, 5, &d), -EAGAIN);
	cr_assert_eq(weft_bufreader_try_exact(&r, 4, &d), 4);
	cr_assert_arr_eq(d, "efgh", 4);
	cr_assert_eq(weft_bufreader_try_exact(&r, 1, &d), -EAGAIN);
	/* bad arguments as the poll functions give them */
	cr_assert_eq(weft_bufreader_try_until(&r, 256, 0, &d), -EINVAL);
	cr_assert_eq(weft_bufreader_try_exact(&r, 0, &d), -EINVAL);
	cr_assert_eq(weft_bufreader_try_until(NULL, '\n', 0, &d), -EINVAL);
	/* the end of stream is the future's to report */
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 0);
	weft_bufreader_destroy(&r);
}

/* A pending skip (or an over-long line's rest) goes through the future. */
Test(bufio, try_forms_leave_skipping_to_the_futures)
{
	static const char a[] = "0123456789\nok\n";
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;
	const void *d;

	tt_init(&k);
	script_init_fill(&s, 0);
	script_add(&s, a, strlen(a));
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	weft_bufreader_read_line_init(&f, &r, 4);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, -EMSGSIZE);
	/* "456789\n" is still to be skipped: the fast path does not */
	cr_assert_eq(weft_bufreader_try_until(&r, '\n', 0, &d), -EAGAIN);
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 3);
	cr_assert_arr_eq(f.data, "ok\n", 3);
	weft_bufreader_destroy(&r);
}

Test(bufio, an_over_long_line_is_an_error_and_the_next_line_is_intact)
{
	static const char msg[] =
		"short\nthis-line-is-far-too-long-for-it\nnext\nx\n";
	static const char *const want[] = { "short\n", NULL, "next\n", "x\n" };
	size_t n = sizeof(msg) - 1;

	for (int fill = 0; fill < 2; fill++)
		for (size_t step = 1; step <= n; step++) {
			script s;
			tt k;
			weft_bufreader r;

			tt_init(&k);
			setup(&s, fill);
			script_split(&s, msg, n, step);
			cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
			expect_lines(&r, &k, 10, want, 4);
			weft_bufreader_destroy(&r);
		}
}

Test(bufio, the_capacity_bounds_a_line_and_the_stream_stays_in_step)
{
	static const char msg[] = "0123456789abcdef\nok\n";
	static const char *const want[] = { NULL, "ok\n" };
	script s;
	tt k;
	weft_bufreader r;

	tt_init(&k);
	script_init(&s, 0);
	script_split(&s, msg, sizeof(msg) - 1, 5);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 8), 0);
	expect_lines(&r, &k, 1000, want, 2);
	weft_bufreader_destroy(&r);
}

Test(bufio, after_a_long_line_fill_sees_the_rest_when_the_caller_wants_it)
{
	static const char msg[] = "abcdefghij\nk\n";
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;
	weft_bufreader_fill g;

	tt_init(&k);
	script_init(&s, 0);
	script_add(&s, msg, sizeof(msg) - 1);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	weft_bufreader_read_line_init(&f, &r, 4);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, -EMSGSIZE);
	weft_bufreader_fill_init(&g, &r);
	RUN(weft_bufreader_fill, &g, &k);
	cr_assert_geq(g.res, 7);
	cr_assert_arr_eq(g.data, "efghij\n", 7, "the bytes after the 4 dropped");
	weft_bufreader_consume(&r, 7);
	weft_bufreader_read_line_init(&f, &r, 4);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 2);
	cr_assert_arr_eq(f.data, "k\n", 2);
	weft_bufreader_destroy(&r);
}

Test(bufio, a_dropped_read_loses_nothing)
{
	static const char msg[] = "first line\nsecond\n";
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;
	int pend = 0;

	tt_init(&k);
	script_init_fill(&s, 0);
	script_split(&s, msg, sizeof(msg) - 1, 3);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	/* poll a few times (part of the line gathered), then drop it */
	weft_bufreader_read_line_init(&f, &r, 0);
	while (pend < 4 &&
	       weft_bufreader_read_until_poll(&f, tt_cx(&k)) == WEFT_PENDING)
		pend++;
	cr_assert_eq(pend, 4, "still waiting");
	weft_bufreader_read_until_drop(&f);
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 11);
	cr_assert_arr_eq(f.data, "first line\n", 11);
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_arr_eq(f.data, "second\n", 7);
	weft_bufreader_destroy(&r);
}

Test(bufio, read_until_any_delimiter_and_errors_pass_through)
{
	static const char msg[] = "k1=v1;k2=v2;rest";
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;

	tt_init(&k);
	script_init(&s, 0);
	script_split(&s, msg, sizeof(msg) - 1, 4);
	s.end_err = -ECONNRESET;
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	weft_bufreader_read_until_init(&f, &r, ';', 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 6);
	cr_assert_arr_eq(f.data, "k1=v1;", 6);
	weft_bufreader_read_until_init(&f, &r, ';', 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_arr_eq(f.data, "k2=v2;", 6);
	weft_bufreader_read_until_init(&f, &r, ';', 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, -ECONNRESET);
	cr_assert_eq(weft_bufreader_buffered(&r), 4, "'rest' kept");
	weft_bufreader_read_until_init(&f, &r, 300, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, -EINVAL);
	weft_bufreader_destroy(&r);
}

Test(bufio, read_exact_gathers_borrows_and_reports_the_end)
{
	static const char msg[] = "0123456789abcdefXYZ";
	for (int fill = 0; fill < 2; fill++) {
		script s;
		tt k;
		weft_bufreader r;
		weft_bufreader_read_exact f;

		tt_init(&k);
		setup(&s, fill);
		script_add(&s, msg, 10);
		script_add(&s, msg + 10, 9);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, 16), 0);
		weft_bufreader_read_exact_init(&f, &r, 4);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_eq(f.res, 4);
		cr_assert_arr_eq(f.data, "0123", 4);
		if (fill)
			cr_assert_eq(f.data, msg, "in place");
		weft_bufreader_read_exact_init(&f, &r, 12);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_eq(f.res, 12);
		cr_assert_arr_eq(f.data, "456789abcdef", 12);
		weft_bufreader_read_exact_init(&f, &r, 17);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_eq(f.res, -EMSGSIZE, "over the capacity");
		weft_bufreader_read_exact_init(&f, &r, 5);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_eq(f.res, -EPIPE, "3 of 5 then the end");
		cr_assert_eq(weft_bufreader_buffered(&r), 3);
		weft_bufreader_read_exact_init(&f, &r, 3);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_arr_eq(f.data, "XYZ", 3, "they stayed");
		weft_bufreader_read_exact_init(&f, &r, 3);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_eq(f.res, 0, "clean end");
		weft_bufreader_destroy(&r);
	}
}

Test(bufio, fill_and_consume_walk_the_stream)
{
	static const char msg[] = "hello world";
	for (int fill = 0; fill < 2; fill++) {
		script s;
		tt k;
		weft_bufreader r;
		weft_bufreader_fill g;
		char got[32];
		size_t n = 0;

		tt_init(&k);
		setup(&s, fill);
		script_split(&s, msg, 11, 4);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, 8), 0);
		for (;;) {
			weft_bufreader_fill_init(&g, &r);
			RUN(weft_bufreader_fill, &g, &k);
			cr_assert_geq(g.res, 0);
			if (g.res == 0)
				break;
			got[n++] = *(const char *)g.data;   /* one at a time */
			weft_bufreader_consume(&r, 1);
		}
		cr_assert_eq(n, 11);
		cr_assert_arr_eq(got, msg, 11);
		weft_bufreader_destroy(&r);
	}
}

Test(bufio, skip_discards_bytes_across_chunks)
{
	static const char msg[] = "0123456789ab";
	script s;
	tt k;
	weft_bufreader *r;
	weft_bufreader_read_exact f;

	tt_init(&k);
	script_init_fill(&s, 0);
	script_split(&s, msg, 12, 3);
	cr_assert_eq(weft_bufreader_create(&r, &s.base, 0), 0);
	weft_bufreader_skip(r, 7);
	weft_bufreader_read_exact_init(&f, r, 2);
	RUN(weft_bufreader_read_exact, &f, &k);
	cr_assert_arr_eq(f.data, "78", 2);
	weft_bufreader_destroy(r);
	cr_assert_eq(s.at, 3, "destroy used up the borrowed bytes");
	cr_assert_eq(s.off, 0);
	weft_bufreader r2;
	cr_assert_eq(weft_bufreader_init(&r2, NULL, 8), -EINVAL);
	cr_assert_eq(weft_bufreader_init(&r2, &s.base, 1u << 30), -EINVAL);
	weft_bufreader_destroy(&r2);
}

/* --------------------------------------------------------------- writer */

Test(bufio, small_writes_and_a_flush_are_one_call)
{
	script s;
	tt k;
	weft_bufwriter w;
	weft_bufwriter_write f;
	weft_bufwriter_flush fl;
	char want[200];
	size_t n = 0;

	tt_init(&k);
	script_init(&s, 0);
	cr_assert_eq(weft_bufwriter_init(&w, &s.base, 256), 0);
	for (int i = 0; i < 20; i++) {
		char piece[16];
		int m = snprintf(piece, sizeof(piece), "msg %d;", i);

		memcpy(want + n, piece, (size_t)m);
		n += (size_t)m;
		weft_bufwriter_write_init(&f, &w, piece, (size_t)m);
		cr_assert_eq(weft_bufwriter_write_poll(&f, tt_cx(&k)),
			     WEFT_READY, "a write that fits is READY at once");
		cr_assert_eq(f.res, m);
	}
	cr_assert_eq(s.writes, 0, "nothing sent before the flush");
	weft_bufwriter_flush_init(&fl, &w);
	RUN(weft_bufwriter_flush, &fl, &k);
	cr_assert_eq(fl.res, 0);
	cr_assert_eq(s.writes, 1, "one call for all of them");
	cr_assert_eq(s.flushes, 1);
	cr_assert_eq(s.sunk, n);
	cr_assert_arr_eq(s.sink, want, n);
	weft_bufwriter_destroy(&w);
}

Test(bufio, a_big_write_goes_out_beside_the_buffer)
{
	static char big[1000];
	script s;
	tt k;
	weft_bufwriter w;
	weft_bufwriter_write f;
	weft_bufwriter_flush fl;

	memset(big, 'B', sizeof(big));
	tt_init(&k);
	script_init(&s, 0);
	cr_assert_eq(weft_bufwriter_init(&w, &s.base, 64), 0);
	weft_bufwriter_write_init(&f, &w, "head:", 5);
	RUN(weft_bufwriter_write, &f, &k);
	weft_bufwriter_write_init(&f, &w, big, sizeof(big));
	RUN(weft_bufwriter_write, &f, &k);
	cr_assert_eq(f.res, 1000);
	cr_assert_eq(s.writes, 1, "buffer and big write: one writev");
	cr_assert_eq(s.sunk, 1005);
	cr_assert_arr_eq(s.sink, "head:BBB", 8);
	cr_assert_eq(weft_bufwriter_buffered(&w), 0, "not copied");
	weft_bufwriter_write_init(&f, &w, big, 60);
	RUN(weft_bufwriter_write, &f, &k);
	weft_bufwriter_write_init(&f, &w, big, 10);
	RUN(weft_bufwriter_write, &f, &k);
	cr_assert_eq(s.writes, 2, "60 + 10 > 64: the 60 went first");
	cr_assert_eq(weft_bufwriter_buffered(&w), 10);
	weft_bufwriter_shutdown_init(&fl, &w);
	RUN(weft_bufwriter_flush, &fl, &k);
	cr_assert_eq(s.shutdowns, 1);
	cr_assert_eq(s.sunk, 1075);
	weft_bufwriter_destroy(&w);
}

Test(bufio, a_stream_that_takes_little_still_gets_everything_in_order)
{
	static const char msg[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	script s;
	tt k;
	weft_bufwriter w;
	weft_bufwriter_write f;
	weft_bufwriter_flush fl;

	tt_init(&k);
	script_init(&s, 3);
	cr_assert_eq(weft_bufwriter_init(&w, &s.base, 8), 0);
	for (size_t o = 0; o < 36; o += 6) {
		weft_bufwriter_write_init(&f, &w, msg + o, 6);
		RUN(weft_bufwriter_write, &f, &k);
		cr_assert_eq(f.res, 6);
	}
	cr_assert_eq(weft_bufwriter_put(&w, "!!", 2), 0);
	cr_assert_eq(weft_bufwriter_put(&w, msg, 9), -ENOBUFS);
	weft_bufwriter_flush_init(&fl, &w);
	RUN(weft_bufwriter_flush, &fl, &k);
	cr_assert_eq(s.sunk, 38);
	cr_assert_arr_eq(s.sink, "abcdefghijklmnopqrstuvwxyz0123456789!!", 38);
	weft_bufwriter_destroy(&w);
}

Test(bufio, peek_leaves_the_bytes_for_the_next_call)
{
	static const char msg[] = "HDR:body";
	for (int fill = 0; fill < 2; fill++) {
		script s;
		tt k;
		weft_bufreader r;
		const void *d;
		intptr_t res;
		weft_bufreader_read_exact f;

		tt_init(&k);
		setup(&s, fill);
		script_split(&s, msg, 8, 2);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, 16), 0);
		while (weft_bufreader_poll_peek(&r, tt_cx(&k), 4, &d, &res) ==
		       WEFT_PENDING)
			;
		cr_assert_eq(res, 4);
		cr_assert_arr_eq(d, "HDR:", 4);
		weft_bufreader_read_exact_init(&f, &r, 8);
		RUN(weft_bufreader_read_exact, &f, &k);
		cr_assert_eq(f.res, 8);
		cr_assert_arr_eq(f.data, msg, 8, "the peeked bytes again");
		weft_bufreader_destroy(&r);
	}
}

/* The search state of a dropped read_until ('\n': every held byte
 * searched) is about '\n' only: a read_until(',') after it, with more
 * bytes added behind it by a peek, searches the held bytes from their
 * start (the fast path, io/bufio_fast.h, as the poll function). */
Test(bufio, a_search_for_another_delimiter_starts_over)
{
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_read_until f;
	const void *d;
	intptr_t res;

	tt_init(&k);
	script_init(&s, 0);
	script_add(&s, "ab,cd", 5);
	script_add(&s, "e,f\n", 4);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 32), 0);
	weft_bufreader_read_line_init(&f, &r, 0);
	/* poll 1: the first chunk's read waits; poll 2: it is read and
	 * searched, the second chunk's read waits */
	cr_assert_eq(weft_bufreader_read_until_poll(&f, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_bufreader_read_until_poll(&f, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_bufreader_buffered(&r), 5);
	weft_bufreader_read_until_drop(&f);
	while (weft_bufreader_poll_peek(&r, tt_cx(&k), 7, &d, &res) ==
	       WEFT_PENDING)
		;
	cr_assert_eq(res, 7);
	cr_assert_eq(weft_bufreader_try_until(&r, ',', 0, &d), 3,
		     "the first ',' is in the bytes searched for '\\n'");
	cr_assert_arr_eq(d, "ab,", 3);
	weft_bufreader_read_until_init(&f, &r, ',', 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 4);
	cr_assert_arr_eq(f.data, "cde,", 4);
	weft_bufreader_read_line_init(&f, &r, 0);
	RUN(weft_bufreader_read_until, &f, &k);
	cr_assert_eq(f.res, 2);
	cr_assert_arr_eq(f.data, "f\n", 2);
	weft_bufreader_destroy(&r);
}

MISUSE_TEST(bufio, consuming_more_than_fill_returned_aborts)
{
	script s;
	tt k;
	weft_bufreader r;
	weft_bufreader_fill g;

	tt_init(&k);
	script_init(&s, 0);
	script_add(&s, "abc", 3);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 16), 0);
	weft_bufreader_fill_init(&g, &r);
	RUN(weft_bufreader_fill, &g, &k);
	cr_assert_eq(g.res, 3);
	weft_bufreader_consume(&r, 4);
}
