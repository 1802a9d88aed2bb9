/* test/io/codec.c - the line and length-delimited frame codecs of
 * weft/codec.h over the scripted stream: every input decoded byte by byte,
 * at every 2-way split and in one piece, with and without poll_fill;
 * over-long lines and frames (and the item after them); every header
 * width and endianness, offsets, adjustments, kept headers; the end of
 * stream between and inside items; a dropped next future mid-frame; the
 * encoders into a buffer and into a bufwriter. The decoding tests run
 * twice: with the futures alone, and with the synchronous _try_next first
 * (the futures only where it says -EAGAIN), which must give the same
 * items, and some of them (checked) when the input comes in one piece. */
#include "../sync/harness.h"
#include "script.h"
#include "weft/codec.h"

#define RUN(name, f, k)                                                     \
	do {                                                                \
		int guard_ = 0;                                             \
		while (name##_poll((f), tt_cx(k)) == WEFT_PENDING)          \
			cr_assert_lt(++guard_, 100000, "no progress");      \
	} while (0)

typedef struct item {
	intptr_t res;          /* length, or -errno */
	const char *data;
} item;

/* How the input is cut: mode 0 byte by byte, 1 at `cut` (two pieces),
 * 2 in one piece. */
static void cut_input(script *s, bool fill, const char *in, size_t n,
		      int mode, size_t cut)
{
	if (fill)
		script_init_fill(s, 0);
	else
		script_init(s, 0);
	if (mode == 0) {
		script_split(s, in, n, 1);
	} else if (mode == 1) {
		script_add(s, in, cut);
		script_add(s, in + cut, n - cut);
	} else {
		script_add(s, in, n);
	}
}

/* Runs `check` over every way to cut the input, both stream kinds. */
#define FOR_EACH_CUT(in, n, fill, mode, cut)                                \
	for (int fill = 0; fill < 2; fill++)                                \
		for (int mode = 0; mode < 3; mode++)                        \
			for (size_t cut = 1;                                \
			     cut < (mode == 1 ? (n) : 2); cut++)

/* The next line: with use_try, weft_codec_lines_try_next first (counted
 * in *tried when it gives one), and the future when it says -EAGAIN. */
static void next_line(weft_bufreader *r, const weft_codec_lines *c,
		      bool use_try, tt *k, weft_codec_lines_next *f,
		      int *tried)
{
	if (use_try) {
		f->res = weft_codec_lines_try_next(r, c, &f->data);
		if (f->res != -EAGAIN) {
			(*tried)++;
			return;
		}
		cr_assert_null(f->data);
	}
	weft_codec_lines_next_init(f, r, c);
	RUN(weft_codec_lines_next, f, k);
}

static void lines_expect(const char *in, size_t n, size_t cap,
			 const weft_codec_lines *c, const item *want,
			 int nwant)
{
	for (int use_try = 0; use_try < 2; use_try++)
	FOR_EACH_CUT(in, n, fill, mode, cut) {
		script s;
		tt k;
		weft_bufreader r;
		weft_codec_lines_next f;
		int tried = 0;

		tt_init(&k);
		cut_input(&s, fill, in, n, mode, cut);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, cap), 0);
		for (int i = 0; i < nwant; i++) {
			next_line(&r, c, use_try, &k, &f, &tried);
			cr_assert_eq(f.res, want[i].res,
				     "try %d fill %d mode %d cut %zu item %d: "
				     "%zd", use_try, fill, mode, cut, i,
				     (ssize_t)f.res);
			if (f.res > 0)
				cr_assert_arr_eq(f.data, want[i].data,
						 (size_t)f.res);
		}
		/* in one piece, every line after the first is held: the
		 * fast path gives them (all but the end and long ones) */
		if (use_try && mode == 2)
			cr_assert_gt(tried, 0, "the fast path gave nothing");
		weft_bufreader_destroy(&r);
	}
}

Test(codec, lines_at_every_split_with_cr_stripping_and_a_last_line)
{
	static const char in[] = "hello\r\nworld\n\n\r\nno-cr\nlast";
	static const weft_codec_lines crlf = { .strip_cr = true };
	static const weft_codec_lines plain = { 0 };
	static const item want[] = {
		{ 5, "hello" }, { 5, "world" }, { 0, "" }, { 0, "" },
		{ 5, "no-cr" }, { 4, "last" }, { -ENODATA, NULL },
		{ -ENODATA, NULL },
	};
	static const item want_plain[] = {
		{ 6, "hello\r" }, { 5, "world" }, { 0, "" }, { 1, "\r" },
		{ 5, "no-cr" }, { 4, "last" }, { -ENODATA, NULL },
	};

	lines_expect(in, sizeof(in) - 1, 64, &crlf, want, 8);
	lines_expect(in, sizeof(in) - 1, 64, &plain, want_plain, 7);
}

Test(codec, an_over_long_line_is_skipped_and_the_next_ones_parse)
{
	static const char in[] =
		"ok\r\n0123456789\r\n0123456789ABCDEFGHIJ\nfine\r\n12345678\n";
	static const weft_codec_lines c = { .max_len = 8, .strip_cr = true };
	static const item want[] = {
		{ 2, "ok" }, { -EMSGSIZE, NULL }, { -EMSGSIZE, NULL },
		{ 4, "fine" }, { 8, "12345678" }, { -ENODATA, NULL },
	};

	lines_expect(in, sizeof(in) - 1, 64, &c, want, 6);
	/* the reader's capacity bounds lines when max_len is 0 */
	static const weft_codec_lines unbounded = { 0 };
	static const item want_cap[] = {
		{ 3, "ok\r" }, { 11, "0123456789\r" }, { -EMSGSIZE, NULL },
		{ 5, "fine\r" }, { 8, "12345678" }, { -ENODATA, NULL },
	};
	lines_expect(in, sizeof(in) - 1, 16, &unbounded, want_cap, 6);
}

Test(codec, lines_encode_into_a_buffer_and_a_bufwriter)
{
	static const weft_codec_lines c = { .max_len = 8 };
	char out[16];
	script s;
	tt k;
	weft_bufwriter w;
	weft_codec_lines_write f;
	weft_bufwriter_flush fl;

	cr_assert_eq(weft_codec_lines_encode(&c, "abc", 3, out, 16), 4);
	cr_assert_arr_eq(out, "abc\n", 4);
	cr_assert_eq(weft_codec_lines_encode(&c, "a\nb", 3, out, 16), -EINVAL);
	cr_assert_eq(weft_codec_lines_encode(&c, "123456789", 9, out, 16),
		     -EMSGSIZE);
	cr_assert_eq(weft_codec_lines_encode(&c, "abc", 3, out, 3), -ENOBUFS);

	tt_init(&k);
	script_init(&s, 0);
	cr_assert_eq(weft_bufwriter_init(&w, &s.base, 64), 0);
	weft_codec_lines_write_init(&f, &w, &c, "one", 3);
	RUN(weft_codec_lines_write, &f, &k);
	cr_assert_eq(f.res, 4);
	weft_codec_lines_write_init(&f, &w, &c, "two", 3);
	RUN(weft_codec_lines_write, &f, &k);
	weft_codec_lines_write_init(&f, &w, &c, "x\ny", 3);
	RUN(weft_codec_lines_write, &f, &k);
	cr_assert_eq(f.res, -EINVAL);
	weft_bufwriter_flush_init(&fl, &w);
	RUN(weft_bufwriter_flush, &fl, &k);
	cr_assert_eq(s.writes, 1);
	cr_assert_eq(s.sunk, 8);
	cr_assert_arr_eq(s.sink, "one\ntwo\n", 8);
	weft_bufwriter_destroy(&w);
}

/* --------------------------------------------------------------- frames */

/* The next frame, as next_line does it. */
static void next_frame(weft_bufreader *r, const weft_codec_frames *c,
		       bool use_try, tt *k, weft_codec_frames_next *f,
		       int *tried)
{
	if (use_try) {
		f->res = weft_codec_frames_try_next(r, c, &f->data);
		if (f->res != -EAGAIN) {
			(*tried)++;
			return;
		}
		cr_assert_null(f->data);
	}
	weft_codec_frames_next_init(f, r, c);
	RUN(weft_codec_frames_next, f, k);
}

/* Encodes bodies[] with c (offset bytes: 'o'), decodes them at every cut,
 * both stream kinds, and checks each frame, then -ENODATA. */
static void frames_roundtrip(const weft_codec_frames *c)
{
	static const char *const bodies[] = {
		"", "x", "hello frames", "0123456789abcdefghijklmnopqrstuv",
	};
	char in[512], frame[64];
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		size_t bl = strlen(bodies[i]);
		intptr_t m;

		memset(frame, 'o', c->offset);
		memcpy(frame + c->offset, bodies[i], bl);
		m = weft_codec_frames_encode(c, frame, c->offset + bl, in + n,
					     sizeof(in) - n);
		cr_assert_eq(m, (intptr_t)(c->offset + bl + c->width),
			     "encode %d: %zd", i, (ssize_t)m);
		n += (size_t)m;
	}
	for (int use_try = 0; use_try < 2; use_try++)
	FOR_EACH_CUT(in, n, fill, mode, cut) {
		script s;
		tt k;
		weft_bufreader r;
		weft_codec_frames_next f;
		int tried = 0;

		tt_init(&k);
		cut_input(&s, fill, in, n, mode, cut);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, 128), 0);
		for (int i = 0; i < 4; i++) {
			size_t bl = strlen(bodies[i]);
			size_t head = c->offset + c->width;

			next_frame(&r, c, use_try, &k, &f, &tried);
			if (c->keep_header) {
				cr_assert_eq(f.res, (intptr_t)(head + bl),
					     "width %u le %d mode %d cut %zu"
					     " frame %d: %zd", c->width,
					     c->little_endian, mode, cut, i,
					     (ssize_t)f.res);
				cr_assert_arr_eq((const char *)f.data + head,
						 bodies[i], bl);
			} else {
				cr_assert_eq(f.res, (intptr_t)bl,
					     "width %u le %d mode %d cut %zu"
					     " frame %d: %zd", c->width,
					     c->little_endian, mode, cut, i,
					     (ssize_t)f.res);
				cr_assert_arr_eq(f.data, bodies[i], bl);
			}
		}
		next_frame(&r, c, use_try, &k, &f, &tried);
		cr_assert_eq(f.res, -ENODATA);
		if (use_try && mode == 2)
			cr_assert_gt(tried, 0, "the fast path gave nothing");
		weft_bufreader_destroy(&r);
	}
}

Test(codec, frames_of_every_width_and_endianness_at_every_split)
{
	static const unsigned widths[] = { 1, 2, 4, 8 };

	for (int w = 0; w < 4; w++)
		for (int le = 0; le < 2; le++) {
			weft_codec_frames c = { .width = widths[w],
						.little_endian = le };

			frames_roundtrip(&c);
		}
}

Test(codec, frames_with_offset_adjustment_and_kept_headers)
{
	weft_codec_frames c = { .width = 2, .offset = 3, .adjust = 0 };

	frames_roundtrip(&c);
	c.adjust = -2;        /* the field counts itself */
	frames_roundtrip(&c);
	c.keep_header = true;
	frames_roundtrip(&c);
	c = (weft_codec_frames){ .width = 4, .little_endian = true,
				 .offset = 1, .adjust = 5, .keep_header = true };
	/* adjust 5: every body is at least 5 bytes; bodies shorter are
	 * an encoder -EINVAL, checked below */
	char out[32];
	cr_assert_eq(weft_codec_frames_encode(&c, "ox", 2, out, 32), -EINVAL);
	cr_assert_eq(weft_codec_frames_encode(&c, "o0123456", 8, out, 32), 12);
	cr_assert_arr_eq(out, "o\x02\x00\x00\x00" "0123456", 12,
			 "little endian value = 7 - 5");
}

Test(codec, known_header_bytes_decode)
{
	/* big endian width 2 = 5; little endian width 4 = 3 with offset */
	static const char be[] = "\x00\x05hello";
	static const char le[] = "T\x03\x00\x00\x00" "abc";
	weft_codec_frames cbe = { .width = 2 };
	weft_codec_frames cle = { .width = 4, .little_endian = true,
				  .offset = 1 };
	script s;
	tt k;
	weft_bufreader r;
	weft_codec_frames_next f;

	tt_init(&k);
	script_init(&s, 0);
	script_add(&s, be, 7);
	script_add(&s, le, 8);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
	weft_codec_frames_next_init(&f, &r, &cbe);
	RUN(weft_codec_frames_next, &f, &k);
	cr_assert_eq(f.res, 5);
	cr_assert_arr_eq(f.data, "hello", 5);
	weft_codec_frames_next_init(&f, &r, &cle);
	RUN(weft_codec_frames_next, &f, &k);
	cr_assert_eq(f.res, 3);
	cr_assert_arr_eq(f.data, "abc", 3);
	weft_bufreader_destroy(&r);
}

Test(codec, an_over_long_frame_is_skipped_and_the_next_one_decodes)
{
	static const weft_codec_frames c = { .width = 1, .max_frame = 10 };
	char in[128];
	size_t n = 0;

	in[n++] = 2;                     /* a frame first: the one after
					  * it is held when it is decoded
					  * (the fast path sees it) */
	in[n++] = 'o';
	in[n++] = 'k';
	in[n++] = 40;                    /* a 41-byte frame: too big */
	memset(in + n, 'Z', 40);
	n += 40;
	in[n++] = 3;
	memcpy(in + n, "abc", 3);
	n += 3;
	in[n++] = 9;                     /* 10 bytes: just fits */
	memcpy(in + n, "123456789", 9);
	n += 9;
	for (int use_try = 0; use_try < 2; use_try++)
	FOR_EACH_CUT(in, n, fill, mode, cut) {
		script s;
		tt k;
		weft_bufreader r;
		weft_codec_frames_next f;
		int tried = 0;

		tt_init(&k);
		cut_input(&s, fill, in, n, mode, cut);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, 32), 0);
		next_frame(&r, &c, use_try, &k, &f, &tried);
		cr_assert_eq(f.res, 2);
		cr_assert_arr_eq(f.data, "ok", 2);
		next_frame(&r, &c, use_try, &k, &f, &tried);
		cr_assert_eq(f.res, -EMSGSIZE);
		next_frame(&r, &c, use_try, &k, &f, &tried);
		cr_assert_eq(f.res, 3, "try %d mode %d cut %zu", use_try,
			     mode, cut);
		cr_assert_arr_eq(f.data, "abc", 3);
		next_frame(&r, &c, use_try, &k, &f, &tried);
		cr_assert_eq(f.res, 9);
		next_frame(&r, &c, use_try, &k, &f, &tried);
		cr_assert_eq(f.res, -ENODATA);
		weft_bufreader_destroy(&r);
	}
	char out[32];
	cr_assert_eq(weft_codec_frames_encode(&c, "0123456789", 10, out, 32),
		     -EMSGSIZE, "encoder: over max_frame");
	weft_codec_frames c1 = { .width = 1 };
	char big[300] = { 0 };
	cr_assert_eq(weft_codec_frames_encode(&c1, big, 256, out, 32),
		     -EMSGSIZE, "encoder: over what the field holds");
}

Test(codec, the_end_of_stream_inside_a_frame_is_epipe)
{
	static const weft_codec_frames c = { .width = 2 };
	static const char in[] = "\x00\x02ok\x00\x05" "abc";
	for (int cut_at = 1; cut_at <= 2; cut_at++) {
		script s;
		tt k;
		weft_bufreader r;
		weft_codec_frames_next f;

		tt_init(&k);
		script_init(&s, 0);
		/* cut_at 1: the stream ends in the second header; 2: in
		 * its body */
		script_add(&s, in, cut_at == 1 ? 5 : 9);
		cr_assert_eq(weft_bufreader_init(&r, &s.base, 32), 0);
		weft_codec_frames_next_init(&f, &r, &c);
		RUN(weft_codec_frames_next, &f, &k);
		cr_assert_eq(f.res, 2);
		weft_codec_frames_next_init(&f, &r, &c);
		RUN(weft_codec_frames_next, &f, &k);
		cr_assert_eq(f.res, -EPIPE);
		weft_bufreader_destroy(&r);
	}
}

Test(codec, bad_headers_and_configurations_are_errors)
{
	static const char in[] = "\x01xyz";
	weft_codec_frames c = { .width = 1, .adjust = -2 };
	script s;
	tt k;
	weft_bufreader r;
	weft_codec_frames_next f;

	tt_init(&k);
	script_init(&s, 0);
	script_add(&s, in, 4);
	cr_assert_eq(weft_bufreader_init(&r, &s.base, 32), 0);
	weft_codec_frames_next_init(&f, &r, &c);
	RUN(weft_codec_frames_next, &f, &k);
	cr_assert_eq(f.res, -EBADMSG, "1 - 2 < 0");
	c.width = 3;
	weft_codec_frames_next_init(&f, &r, &c);
	RUN(weft_codec_frames_next, &f, &k);
	cr_assert_eq(f.res, -EINVAL);
	weft_bufreader_destroy(&r);
}

Test(codec, a_dropped_next_frame_mid_frame_loses_nothing)
{
	static const weft_codec_frames c = { .width = 4 };
	char in[64], body[40];
	size_t n = 0;
	intptr_t m;

	for (int i = 0; i < 40; i++)
		body[i] = (char)('a' + i % 26);
	m = weft_codec_frames_encode(&c, body, 40, in, sizeof(in));
	cr_assert_eq(m, 44);
	n = (size_t)m;
	for (int fill = 0; fill < 2; fill++)
		for (int polls = 1; polls < 12; polls++) {
			script s;
			tt k;
			weft_bufreader r;
			weft_codec_frames_next f;
			int p = 0;

			tt_init(&k);
			cut_input(&s, fill, in, n, 0, 0);   /* byte by byte */
			cr_assert_eq(weft_bufreader_init(&r, &s.base, 64), 0);
			weft_codec_frames_next_init(&f, &r, &c);
			while (p < polls && weft_codec_frames_next_poll(
					&f, tt_cx(&k)) == WEFT_PENDING)
				p++;
			cr_assert_eq(p, polls, "still mid-frame");
			weft_codec_frames_next_drop(&f);
			weft_codec_frames_next_init(&f, &r, &c);
			RUN(weft_codec_frames_next, &f, &k);
			cr_assert_eq(f.res, 40);
			cr_assert_arr_eq(f.data, body, 40);
			weft_bufreader_destroy(&r);
		}
}

Test(codec, frames_write_into_a_bufwriter_as_encode_does)
{
	static const weft_codec_frames c = { .width = 2, .offset = 1,
					     .little_endian = true };
	static char big[300];
	char want[400];
	intptr_t a, b;
	script s;
	tt k;
	weft_bufwriter w;
	weft_codec_frames_write f;
	weft_bufwriter_flush fl;

	memset(big, 'q', sizeof(big));
	a = weft_codec_frames_encode(&c, "Tsmall", 6, want, sizeof(want));
	b = weft_codec_frames_encode(&c, big, 300, want + a,
				     sizeof(want) - (size_t)a);
	cr_assert_eq(a + b, 6 + 2 + 300 + 2);
	tt_init(&k);
	script_init(&s, 0);
	cr_assert_eq(weft_bufwriter_init(&w, &s.base, 64), 0);
	weft_codec_frames_write_init(&f, &w, &c, "Tsmall", 6);
	RUN(weft_codec_frames_write, &f, &k);
	cr_assert_eq(f.res, 8);
	weft_codec_frames_write_init(&f, &w, &c, big, 300);
	RUN(weft_codec_frames_write, &f, &k);
	cr_assert_eq(f.res, 302);
	weft_bufwriter_flush_init(&fl, &w);
	RUN(weft_bufwriter_flush, &fl, &k);
	cr_assert_eq(s.sunk, (size_t)(a + b));
	cr_assert_arr_eq(s.sink, want, (size_t)(a + b));
	weft_codec_frames_write_init(&f, &w, &c, "", 0);
	RUN(weft_codec_frames_write, &f, &k);
	cr_assert_eq(f.res, -EINVAL, "shorter than the offset");
	weft_bufwriter_destroy(&w);
}
