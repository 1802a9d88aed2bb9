/* io/bytes.c - the byte-stream futures of weft/bytes.h: each calls the
 * stream's vtable, so none holds anything of its own to release. */
#include <errno.h>
#include <limits.h>

#include "weft/bytes.h"

void weft_bytes_drop(weft_bytes *b)
{
	if (b)
		b->vt->release(b);
}

int weft_bytes_fd(const weft_bytes *b)
{
	return b && b->vt->fd ? b->vt->fd(b) : -1;
}

/* ---------------------------------------------------------------- read */

static void read_setup(weft_bytes_read *r, weft_bytes *b, void *buf,
		       size_t len, bool exact)
{
	r->b = b;
	r->buf = buf;
	r->len = len;
	r->done = 0;
	r->exact = exact;
	r->res = 0;
}

void weft_bytes_read_init(weft_bytes_read *r, weft_bytes *b, void *buf,
			  size_t len)
{
	read_setup(r, b, buf, len, false);
}

void weft_bytes_read_exact_init(weft_bytes_read *r, weft_bytes *b, void *buf,
				size_t len)
{
	read_setup(r, b, buf, len, true);
}

weft_poll weft_bytes_read_poll(weft_bytes_read *r, weft_cx *cx)
{
	if (!r->b) {
		r->res = -EINVAL;
		return WEFT_READY;
	}
	if (!r->exact) {
		if (r->len == 0) {
			r->res = 0;
			return WEFT_READY;
		}
		return r->b->vt->poll_read(r->b, cx, r->buf, r->len, &r->res);
	}
	while (r->done < r->len) {
		intptr_t n;

		if (r->b->vt->poll_read(r->b, cx, (char *)r->buf + r->done,
					r->len - r->done, &n) == WEFT_PENDING)
			return WEFT_PENDING;
		if (n <= 0) {
			r->res = n < 0 ? n : -EPIPE;
			return WEFT_READY;
		}
		r->done += (size_t)n;
	}
	r->res = (intptr_t)r->len;
	return WEFT_READY;
}

void weft_bytes_read_drop(weft_bytes_read *r)
{
	(void)r;
}

WEFT_FUTURE_DEFINE(weft_bytes_read, weft_bytes_read_drop);

/* --------------------------------------------------------------- write */

static void write_setup(weft_bytes_write *w, weft_bytes *b,
			const struct iovec *iov, int iovcnt, bool all)
{
	w->b = b;
	w->iov = iov;
	w->iovcnt = iovcnt;
	w->all = all;
	w->total = 0;
	w->done = 0;
	w->res = 0;
	for (int i = 0; iov && i < iovcnt; i++)
		w->total += iov[i].iov_len;
}

void weft_bytes_write_init(weft_bytes_write *w, weft_bytes *b,
			   const void *buf, size_t len)
{
	w->one.iov_base = (void *)buf;
	w->one.iov_len = len;
	write_setup(w, b, &w->one, 1, false);
}

void weft_bytes_write_all_init(weft_bytes_write *w, weft_bytes *b,
			       const void *buf, size_t len)
{
	w->one.iov_base = (void *)buf;
	w->one.iov_len = len;
	write_setup(w, b, &w->one, 1, true);
}

void weft_bytes_writev_init(weft_bytes_write *w, weft_bytes *b,
			    const struct iovec *iov, int iovcnt, bool all)
{
	write_setup(w, b, iov, iovcnt, all);
	if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov))
		w->iovcnt = -1;
}

/* The iovecs still to write: copies of those past `done`, at most 64
 * (a stream takes what it can and the rest goes at the next call). */
#define WRITE_IOV_BATCH 64

weft_poll weft_bytes_write_poll(weft_bytes_write *w, weft_cx *cx)
{
	if (!w->b || w->iovcnt < 0) {
		w->res = -EINVAL;
		return WEFT_READY;
	}
	while (w->done < w->total) {
		struct iovec rest[WRITE_IOV_BATCH];
		size_t skip = w->done;
		int n = 0;
		intptr_t took;

		for (int i = 0; i < w->iovcnt && n < WRITE_IOV_BATCH; i++) {
			size_t l = w->iov[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			rest[n].iov_base = (char *)w->iov[i].iov_base + skip;
			rest[n].iov_len = l - skip;
			skip = 0;
			n++;
		}
		if (w->b->vt->poll_write(w->b, cx, rest, n, &took) ==
		    WEFT_PENDING)
			return WEFT_PENDING;
		if (took < 0) {
			w->res = took;
			return WEFT_READY;
		}
		if (took == 0) {
			w->res = -EIO;   /* a stream that takes nothing */
			return WEFT_READY;
		}
		w->done += (size_t)took;
		if (!w->all)
			break;
	}
	w->res = (intptr_t)w->done;
	return WEFT_READY;
}

void weft_bytes_write_drop(weft_bytes_write *w)
{
	(void)w;
}

WEFT_FUTURE_DEFINE(weft_bytes_write, weft_bytes_write_drop);

/* --------------------------------------------------------------- flush */

void weft_bytes_flush_init(weft_bytes_flush *f, weft_bytes *b)
{
	f->b = b;
	f->shutdown = false;
	f->res = 0;
}

void weft_bytes_shutdown_init(weft_bytes_flush *f, weft_bytes *b)
{
	f->b = b;
	f->shutdown = true;
	f->res = 0;
}

weft_poll weft_bytes_flush_poll(weft_bytes_flush *f, weft_cx *cx)
{
	if (!f->b) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	if (f->shutdown)
		return f->b->vt->poll_shutdown(f->b, cx, &f->res);
	return f->b->vt->poll_flush(f->b, cx, &f->res);
}

void weft_bytes_flush_drop(weft_bytes_flush *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_bytes_flush, weft_bytes_flush_drop);
