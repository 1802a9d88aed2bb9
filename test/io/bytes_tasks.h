/* test/io/bytes_tasks.h - tasks over any weft_bytes for the byte-stream
 * tests (test/io, test/reactor): a writer of a checkable pattern (chunk
 * sizes vary, then an optional shutdown), a reader that checks the
 * pattern until end of stream (by read, or by fill/consume), and a
 * copy-then-shutdown task. */
#ifndef WEFT_TEST_IO_BYTES_TASKS_H
#define WEFT_TEST_IO_BYTES_TASKS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "weft.h"

static inline unsigned char bt_pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (i + seed * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;

	return (unsigned char)(x >> 56 ^ i);
}

/* Writes len pattern bytes (chunks up to `chunk`, varying), then shuts
 * down when shut. res = bytes written or -errno. */
struct bt_writer {
	WEFT_ASYNC;
	weft_bytes *b;
	uint64_t seed, len, off;
	size_t chunk, n;
	bool shut;
	unsigned k;
	weft_bytes_write w;
	weft_bytes_flush f;
	unsigned char buf[65536];
};

static weft_poll bt_writer_poll(struct bt_writer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->off = 0, f->k = 0; f->off < f->len; f->off += f->n, f->k++) {
		size_t max = f->chunk ? f->chunk : sizeof(f->buf);

		if (max > sizeof(f->buf))
			max = sizeof(f->buf);
		f->n = 1 + (f->k * 7919u) % max;
		if (f->n > f->len - f->off)
			f->n = (size_t)(f->len - f->off);
		for (size_t i = 0; i < f->n; i++)
			f->buf[i] = bt_pattern(f->seed, f->off + i);
		weft_bytes_write_all_init(&f->w, f->b, f->buf, f->n);
		WEFT_AWAIT_ON(weft_bytes_write, &f->w);
		if (f->w.res < 0)
			WEFT_RETURN(f->w.res);
	}
	if (f->shut) {
		weft_bytes_shutdown_init(&f->f, f->b);
		WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
		if (f->f.res < 0)
			WEFT_RETURN(f->f.res);
	}
	WEFT_RETURN(f->off);
	WEFT_END();
}

WEFT_FUTURE(bt_writer, struct bt_writer, WEFT_NO_DROP);

#define BT_MISMATCH (-100000)

/* Reads until end of stream checking the pattern: res = bytes read, a
 * read's -errno, or BT_MISMATCH - offset... (BT_MISMATCH). fill: uses
 * poll_fill/consume through the vtable. */
struct bt_reader {
	WEFT_ASYNC;
	weft_bytes *b;
	uint64_t seed, got;
	bool fill;
	size_t max;
	intptr_t n;
	const void *data;
	weft_bytes_read r;
	unsigned char buf[65536];
};

static bool bt_check(struct bt_reader *f, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != bt_pattern(f->seed, f->got + i))
			return false;
	return true;
}

static weft_poll bt_reader_poll(struct bt_reader *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		if (f->fill) {
			WEFT_AWAIT(f->b->vt->poll_fill(f->b, weft_cx_, &f->data,
						       &f->n));
			if (f->n <= 0)
				break;
			if (!bt_check(f, f->data, (size_t)f->n))
				WEFT_RETURN(BT_MISMATCH);
			f->b->vt->consume(f->b, (size_t)f->n);
		} else {
			WEFT_AWAIT_INIT(weft_bytes_read, &f->r, f->b, f->buf,
					f->max ? f->max : sizeof(f->buf));
			f->n = f->r.res;
			if (f->n <= 0)
				break;
			if (!bt_check(f, f->buf, (size_t)f->n))
				WEFT_RETURN(BT_MISMATCH);
		}
		f->got += (uint64_t)f->n;
	}
	if (f->n < 0)
		WEFT_RETURN(f->n);
	WEFT_RETURN(f->got);
	WEFT_END();
}

WEFT_FUTURE(bt_reader, struct bt_reader, WEFT_NO_DROP);

/* weft_bytes_copy, then shuts `to` down: res = the copy's res. */
struct bt_copy {
	WEFT_ASYNC;
	weft_bytes *from, *to;
	weft_bytes_copy c;
	weft_bytes_flush f;
};

static weft_poll bt_copy_poll(struct bt_copy *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_bytes_copy, &f->c, f->from, f->to);
	weft_bytes_shutdown_init(&f->f, f->to);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	WEFT_RETURN(f->c.res);
	WEFT_END();
}

static void bt_copy_drop(struct bt_copy *f)
{
	weft_bytes_copy_drop(&f->c);
}

WEFT_FUTURE(bt_copy, struct bt_copy, bt_copy_drop);

/* weft_bytes_copy_bidirectional: res = its res; counts in ab, ba. */
struct bt_bidi {
	WEFT_ASYNC;
	weft_bytes *a, *b;
	uint64_t *ab, *ba;
	weft_bytes_copy_bidirectional c;
};

static weft_poll bt_bidi_poll(struct bt_bidi *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_bytes_copy_bidirectional, &f->c, f->a, f->b);
	*f->ab = f->c.a_to_b;
	*f->ba = f->c.b_to_a;
	WEFT_RETURN(f->c.res);
	WEFT_END();
}

static void bt_bidi_drop(struct bt_bidi *f)
{
	weft_bytes_copy_bidirectional_drop(&f->c);
}

WEFT_FUTURE(bt_bidi, struct bt_bidi, bt_bidi_drop);

#endif
