/* io/bufio.c - the buffered reader and writer of weft/bufio.h.
 *
 * Reader. Bytes come from one of two places: the reader's own buffer
 * buf[start, end), or, when that is empty and the stream has poll_fill,
 * the stream's current chunk (not copied). A result is a pointer into one
 * of them; the bytes it covers are recorded in `used` (in_stream says
 * which place) and dropped at the start of the next call
 * (weft__bufreader_settle), so the pointer stays valid until then. Only a
 * line or record that does not lie inside one chunk is gathered into buf.
 * The per-item steps (settle, the held bytes, give, the held-line and
 * held-span searches) are static inline functions in io/bufio_fast.h,
 * shared with the codecs (io/codec.c). Invariants: start <= end <=
 * cap; start == end implies start == 0; `scanned` bytes of buf[start, end)
 * hold no `scan_for` byte. Skipping (an over-long line's rest, or
 * weft_bufreader_skip) is state here too, done by discard() at the start
 * of each operation, so the futures hold nothing and may be dropped
 * anywhere.
 *
 * Writer. buf[sent, len) is what the stream has not taken yet. A write
 * that fits is copied; one that does not sends buf first, together with
 * the new bytes when they are at least a buffer's worth (one poll_write
 * of two iovecs).
 *
 * Threads: none of its own; one task uses a reader (or writer) at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/bufio_fast.h"
#include "weft/bufio.h"

static int capacity_of(size_t asked, size_t *cap)
{
	if (asked > WEFT_BUFIO_MAX_CAPACITY)
		return -EINVAL;
	*cap = asked ? asked : WEFT_BUFIO_DEFAULT_CAPACITY;
	return 0;
}

/* --------------------------------------------------------------- reader */

int weft_bufreader_init(weft_bufreader *r, weft_bytes *b, size_t capacity)
{
	size_t cap;

	memset(r, 0, sizeof(*r));
	r->skip_delim = -1;
	r->scan_for = -1;
	if (!b || capacity_of(capacity, &cap) < 0)
		return -EINVAL;
	r->buf = malloc(cap);
	if (!r->buf)
		return -ENOMEM;
	r->b = b;
	r->cap = cap;
	return 0;
}

int weft_bufreader_create(weft_bufreader **out, weft_bytes *b,
			  size_t capacity)
{
	weft_bufreader *r = malloc(sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = weft_bufreader_init(r, b, capacity);
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->heap = true;
	*out = r;
	return 0;
}

/* The stream's chunk: the reader keeps what poll_fill lent (chunk,
 * chunk_len) and counts the bytes it used up of it (chunk_used), telling
 * the stream (consume) only when all of it is used, or at destroy. So a
 * run of short records in one chunk costs one poll_fill and one consume,
 * not one each. Nothing else reads the stream meanwhile (bufio.h). */
static weft_poll stream_fill(weft_bufreader *r, weft_cx *cx,
			     const void **data, intptr_t *res)
{
	if (r->chunk) {
		if (r->chunk_used < r->chunk_len) {
			*data = r->chunk + r->chunk_used;
			*res = (intptr_t)(r->chunk_len - r->chunk_used);
			return WEFT_READY;
		}
		r->b->vt->consume(r->b, r->chunk_used);
		r->chunk = NULL;
		r->chunk_len = r->chunk_used = 0;
	}
	if (r->b->vt->poll_fill(r->b, cx, data, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res > 0) {
		r->chunk = *data;
		r->chunk_len = (size_t)*res;
	}
	return WEFT_READY;
}

/* n bytes of the chunk stream_fill returned are used up. */
static void stream_consume(weft_bufreader *r, size_t n)
{
	r->chunk_used += n;
}

/* Gives the stream back what was used of its chunk. */
static void stream_release(weft_bufreader *r)
{
	if (r->chunk && r->chunk_used)
		r->b->vt->consume(r->b, r->chunk_used);
	r->chunk = NULL;
	r->chunk_len = r->chunk_used = 0;
}

void weft_bufreader_destroy(weft_bufreader *r)
{
	if (!r)
		return;
	if (r->b) {
		/* a stream chunk we returned is used up */
		weft__bufreader_settle(r);
		stream_release(r);
	}
	free(r->buf);
	r->buf = NULL;
	r->b = NULL;
	if (r->heap)
		free(r);
}

size_t weft_bufreader_buffered(const weft_bufreader *r)
{
	return r->end - r->start - (r->in_stream ? 0 : r->used);
}

void weft_bufreader_skip(weft_bufreader *r, size_t n)
{
	r->skip += n;
}

/* Reads more into buf (after moving what it holds to the front): READY
 * with *res = bytes added, 0 at end of stream, or -errno. The caller makes
 * sure there is room (end - start < cap). From a stream with poll_fill it
 * copies at most `want` bytes, and only through the first `delim` byte
 * when delim >= 0: just what continues the line or record being gathered,
 * the rest of the chunk is left in place for the zero-copy path. */
static weft_poll refill(weft_bufreader *r, weft_cx *cx, size_t want,
			int delim, intptr_t *res)
{
	const weft_bytes_vtable *vt = r->b->vt;

	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (vt->poll_fill) {
		const void *d;
		intptr_t m;
		size_t k = r->cap - r->end;

		if (stream_fill(r, cx, &d, &m) == WEFT_PENDING)
			return WEFT_PENDING;
		if (m <= 0) {
			*res = m;
			return WEFT_READY;
		}
		if (k > want)
			k = want;
		if (k > (size_t)m)
			k = (size_t)m;
		if (delim >= 0) {
			const char *p = memchr(d, delim, k);

			if (p)
				k = (size_t)(p - (const char *)d) + 1;
		}
		memcpy(r->buf + r->end, d, k);
		stream_consume(r, k);
		r->end += k;
		*res = (intptr_t)k;
		return WEFT_READY;
	}
	if (vt->poll_read(r->b, cx, r->buf + r->end, r->cap - r->end, res) ==
	    WEFT_PENDING)
		return WEFT_PENDING;
	if (*res > 0)
		r->end += (size_t)*res;
	return WEFT_READY;
}

/* The next bytes, wherever they are, without copying: own buffer first,
 * else the stream's chunk (*in_stream), else one read into buf. */
static weft_poll peek_some(weft_bufreader *r, weft_cx *cx, const char **d,
			   bool *in_stream, intptr_t *res)
{
	const weft_bytes_vtable *vt = r->b->vt;

	*in_stream = false;
	if (r->end == r->start) {
		if (vt->poll_fill) {
			const void *p;

			if (stream_fill(r, cx, &p, res) == WEFT_PENDING)
				return WEFT_PENDING;
			*d = p;
			*in_stream = true;
			return WEFT_READY;
		}
		if (refill(r, cx, r->cap, -1, res) == WEFT_PENDING)
			return WEFT_PENDING;
		if (*res <= 0)
			return WEFT_READY;
	}
	*d = r->buf + r->start;
	*res = (intptr_t)(r->end - r->start);
	return WEFT_READY;
}

static void drop_some(weft_bufreader *r, bool in_stream, size_t n)
{
	if (in_stream)
		stream_consume(r, n);
	else
		weft__bufreader_drop_own(r, n);
}

/* Does the pending skipping: READY with *res = 0 (done, or the stream
 * ended: nothing left to skip) or -errno. */
static weft_poll discard(weft_bufreader *r, weft_cx *cx, intptr_t *res)
{
	*res = 0;
	while (r->skip || r->skip_delim >= 0) {
		const char *d;
		bool in_stream;
		intptr_t m;
		size_t k;

		if (peek_some(r, cx, &d, &in_stream, &m) == WEFT_PENDING)
			return WEFT_PENDING;
		if (m <= 0) {
			r->skip = 0;
			r->skip_delim = -1;
			*res = m;
			return WEFT_READY;
		}
		if (r->skip) {
			k = (size_t)m < r->skip ? (size_t)m : r->skip;
			r->skip -= k;
		} else {
			const char *p = memchr(d, r->skip_delim, (size_t)m);

			k = p ? (size_t)(p - d) + 1 : (size_t)m;
			if (p)
				r->skip_delim = -1;
		}
		drop_some(r, in_stream, k);
	}
	return WEFT_READY;
}

/* weft__bufreader_settle and discard(), the start of every operation. */
static weft_poll begin(weft_bufreader *r, weft_cx *cx, intptr_t *res)
{
	weft__bufreader_settle(r);
	if (!r->skip && r->skip_delim < 0) {   /* the usual case */
		*res = 0;
		return WEFT_READY;
	}
	return discard(r, cx, res);
}

static void give(weft_bufreader *r, const void *p, bool in_stream,
		 size_t n, const void **data, intptr_t *res)
{
	weft__bufreader_give(r, p, in_stream, n, data);
	*res = (intptr_t)n;
}

/* The over-long line: drop limit bytes and skip through the delimiter. */
static weft_poll too_long(weft_bufreader *r, bool in_stream, size_t limit,
			  int delim, intptr_t *res)
{
	drop_some(r, in_stream, limit);
	r->skip_delim = delim;
	*res = -EMSGSIZE;
	return WEFT_READY;
}

/* ------------------------------------------------------------ fast path */

/* The synchronous forms: what the poll functions do when the item is
 * already held (the reader's buffer or the stream chunk it keeps), with
 * no stream call; -EAGAIN for everything else (nothing taken: the poll
 * function then does it all). The poll functions start with them; the
 * work is in io/bufio_fast.h, which the codecs use too. */

intptr_t weft_bufreader_try_until(weft_bufreader *r, int delim, size_t max,
				  const void **data)
{
	*data = NULL;
	if (!r || !r->b || delim < 0 || delim > 255)
		return -EINVAL;
	return weft__bufreader_until(r, delim, max, data);
}

/* n contiguous held bytes (use: used up by this result), or -EAGAIN. */
static intptr_t try_span(weft_bufreader *r, size_t n, bool use,
			 const void **data)
{
	*data = NULL;
	if (!r || !r->b || n == 0)
		return -EINVAL;
	return weft__bufreader_span(r, n, use, data);
}

intptr_t weft_bufreader_try_exact(weft_bufreader *r, size_t n,
				  const void **data)
{
	return try_span(r, n, true, data);
}

intptr_t weft_bufreader_try_peek(weft_bufreader *r, size_t n,
				 const void **data)
{
	return try_span(r, n, false, data);
}

weft_poll weft_bufreader_poll_until(weft_bufreader *r, weft_cx *cx,
				    int delim, size_t max, const void **data,
				    intptr_t *res)
{
	size_t limit;

	*data = NULL;
	if (!r || !r->b || delim < 0 || delim > 255) {
		*res = -EINVAL;
		return WEFT_READY;
	}
	*res = weft_bufreader_try_until(r, delim, max, data);
	if (*res != -EAGAIN)
		return WEFT_READY;
	limit = max == 0 || max > r->cap ? r->cap : max;
	if (begin(r, cx, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res < 0)
		return WEFT_READY;
	if (r->scan_for != delim) {
		r->scanned = 0;
		r->scan_for = delim;
	}
	for (;;) {
		size_t n = r->end - r->start;
		const void *d;
		intptr_t m;

		if (n || !r->b->vt->poll_fill) {
			size_t lim_n = n < limit ? n : limit;
			char *base = r->buf + r->start;

			if (r->scanned < lim_n) {
				char *p = memchr(base + r->scanned, delim,
						 lim_n - r->scanned);

				if (p) {
					give(r, base, false,
					     (size_t)(p - base) + 1, data, res);
					return WEFT_READY;
				}
				r->scanned = lim_n;
			}
			if (n >= limit)
				return too_long(r, false, limit, delim, res);
			if (refill(r, cx, limit - n, delim, &m) ==
			    WEFT_PENDING)
				return WEFT_PENDING;
			if (m < 0) {
				*res = m;
				return WEFT_READY;
			}
			if (m == 0) {   /* a final line without delimiter */
				if (n)
					give(r, r->buf + r->start, false, n,
					     data, res);
				else
					*res = 0;
				return WEFT_READY;
			}
			continue;
		}
		/* nothing buffered: look at the stream's chunk in place */
		if (stream_fill(r, cx, &d, &m) == WEFT_PENDING)
			return WEFT_PENDING;
		if (m <= 0) {
			*res = m;
			return WEFT_READY;
		}
		size_t lim_m = (size_t)m < limit ? (size_t)m : limit;
		const char *p = memchr(d, delim, lim_m);

		if (p) {
			give(r, d, true, (size_t)(p - (const char *)d) + 1,
			     data, res);
			return WEFT_READY;
		}
		if ((size_t)m >= limit)
			return too_long(r, true, limit, delim, res);
		/* the line goes on past this chunk: gather it */
		memcpy(r->buf, d, (size_t)m);
		stream_consume(r, (size_t)m);
		r->end = (size_t)m;
		r->scanned = (size_t)m;
	}
}

/* n contiguous bytes at *data (zero-copy when one chunk holds them);
 * `use` records them as used by this result. */
static weft_poll poll_span(weft_bufreader *r, weft_cx *cx, size_t n,
			   bool use, const void **data, intptr_t *res)
{
	*res = try_span(r, n, use, data);
	if (*res != -EAGAIN)
		return WEFT_READY;
	r->skip_delim = -1;     /* the caller takes the rest of a long line */
	if (begin(r, cx, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res < 0)
		return WEFT_READY;
	if (n > r->cap) {
		*res = -EMSGSIZE;
		return WEFT_READY;
	}
	for (;;) {
		size_t have = r->end - r->start;
		const void *d;
		intptr_t m;

		if (have >= n) {
			*data = r->buf + r->start;
			*res = (intptr_t)n;
			if (use)
				give(r, *data, false, n, data, res);
			return WEFT_READY;
		}
		if (!have && r->b->vt->poll_fill) {
			if (stream_fill(r, cx, &d, &m) ==
			    WEFT_PENDING)
				return WEFT_PENDING;
			if (m <= 0) {
				*res = m;
				return WEFT_READY;
			}
			if ((size_t)m >= n) {
				*data = d;
				*res = (intptr_t)n;
				if (use)
					give(r, d, true, n, data, res);
				return WEFT_READY;
			}
			memcpy(r->buf, d, (size_t)m);
			stream_consume(r, (size_t)m);
			r->end = (size_t)m;
			r->scanned = 0;
			continue;
		}
		if (refill(r, cx, n - have, -1, &m) == WEFT_PENDING)
			return WEFT_PENDING;
		if (m <= 0) {
			*res = m < 0 ? m : have ? -EPIPE : 0;
			return WEFT_READY;
		}
	}
}

weft_poll weft_bufreader_poll_exact(weft_bufreader *r, weft_cx *cx,
				    size_t n, const void **data,
				    intptr_t *res)
{
	return poll_span(r, cx, n, true, data, res);
}

weft_poll weft_bufreader_poll_peek(weft_bufreader *r, weft_cx *cx,
				   size_t n, const void **data,
				   intptr_t *res)
{
	return poll_span(r, cx, n, false, data, res);
}

weft_poll weft_bufreader_poll_fill(weft_bufreader *r, weft_cx *cx,
				   const void **data, intptr_t *res)
{
	const char *d = NULL;
	bool in_stream;

	*data = NULL;
	if (!r || !r->b) {
		*res = -EINVAL;
		return WEFT_READY;
	}
	r->skip_delim = -1;
	r->fill_len = 0;
	if (begin(r, cx, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res < 0)
		return WEFT_READY;
	if (peek_some(r, cx, &d, &in_stream, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res > 0) {
		*data = d;
		r->filled_stream = in_stream;
		r->fill_len = (size_t)*res;
	}
	return WEFT_READY;
}

void weft_bufreader_consume(weft_bufreader *r, size_t n)
{
	WEFT_DEBUG_CHECK(n <= r->fill_len, "weft_bufreader_consume",
			 "n is more than the last poll_fill returned");
	if (n > r->fill_len)
		n = r->fill_len;
	r->fill_len -= n;
	if (n)
		drop_some(r, r->filled_stream, n);
}

/* -------------------------------------------------------- reader futures */

void weft_bufreader_fill_init(weft_bufreader_fill *f, weft_bufreader *r)
{
	f->r = r;
	f->data = NULL;
	f->res = 0;
}

weft_poll weft_bufreader_fill_poll(weft_bufreader_fill *f, weft_cx *cx)
{
	return weft_bufreader_poll_fill(f->r, cx, &f->data, &f->res);
}

void weft_bufreader_fill_drop(weft_bufreader_fill *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_bufreader_fill, weft_bufreader_fill_drop);

void weft_bufreader_read_until_init(weft_bufreader_read_until *f,
				    weft_bufreader *r, int delim, size_t max)
{
	f->r = r;
	f->delim = delim;
	f->max = max;
	f->data = NULL;
	f->res = 0;
}

void weft_bufreader_read_line_init(weft_bufreader_read_until *f,
				   weft_bufreader *r, size_t max)
{
	weft_bufreader_read_until_init(f, r, '\n', max);
}

weft_poll weft_bufreader_read_until_poll(weft_bufreader_read_until *f,
					 weft_cx *cx)
{
	return weft_bufreader_poll_until(f->r, cx, f->delim, f->max,
					 &f->data, &f->res);
}

void weft_bufreader_read_until_drop(weft_bufreader_read_until *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_bufreader_read_until, weft_bufreader_read_until_drop);

void weft_bufreader_read_exact_init(weft_bufreader_read_exact *f,
				    weft_bufreader *r, size_t n)
{
	f->r = r;
	f->n = n;
	f->data = NULL;
	f->res = 0;
}

weft_poll weft_bufreader_read_exact_poll(weft_bufreader_read_exact *f,
					 weft_cx *cx)
{
	return weft_bufreader_poll_exact(f->r, cx, f->n, &f->data, &f->res);
}

void weft_bufreader_read_exact_drop(weft_bufreader_read_exact *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_bufreader_read_exact, weft_bufreader_read_exact_drop);

/* --------------------------------------------------------------- writer */

int weft_bufwriter_init(weft_bufwriter *w, weft_bytes *b, size_t capacity)
{
	size_t cap;

	memset(w, 0, sizeof(*w));
	if (!b || capacity_of(capacity, &cap) < 0)
		return -EINVAL;
	w->buf = malloc(cap);
	if (!w->buf)
		return -ENOMEM;
	w->b = b;
	w->cap = cap;
	return 0;
}

int weft_bufwriter_create(weft_bufwriter **out, weft_bytes *b,
			  size_t capacity)
{
	weft_bufwriter *w = malloc(sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	ret = weft_bufwriter_init(w, b, capacity);
	if (ret < 0) {
		free(w);
		return ret;
	}
	w->heap = true;
	*out = w;
	return 0;
}

void weft_bufwriter_destroy(weft_bufwriter *w)
{
	if (!w)
		return;
	free(w->buf);
	w->buf = NULL;
	w->b = NULL;
	if (w->heap)
		free(w);
}

size_t weft_bufwriter_buffered(const weft_bufwriter *w)
{
	return w->len - w->sent;
}

/* Room at the end of buf, after moving the unsent bytes to the front. */
static size_t room(weft_bufwriter *w)
{
	if (w->sent) {
		memmove(w->buf, w->buf + w->sent, w->len - w->sent);
		w->len -= w->sent;
		w->sent = 0;
	}
	return w->cap - w->len;
}

int weft_bufwriter_put(weft_bufwriter *w, const void *buf, size_t len)
{
	if (len > room(w))
		return -ENOBUFS;
	if (len)
		memcpy(w->buf + w->len, buf, len);
	w->len += len;
	return 0;
}

/* One poll_write of the buffered bytes and then extra (extra_len may be
 * 0): READY with *res = 0 and *took_extra = bytes of extra taken, or
 * -errno. */
static weft_poll send_some(weft_bufwriter *w, weft_cx *cx, const void *extra,
			   size_t extra_len, size_t *took_extra,
			   intptr_t *res)
{
	struct iovec iov[2];
	int n = 0;
	intptr_t took;
	size_t mine = w->len - w->sent;

	if (mine) {
		iov[n].iov_base = w->buf + w->sent;
		iov[n++].iov_len = mine;
	}
	if (extra_len) {
		iov[n].iov_base = (void *)extra;
		iov[n++].iov_len = extra_len;
	}
	if (w->b->vt->poll_write(w->b, cx, iov, n, &took) == WEFT_PENDING)
		return WEFT_PENDING;
	if (took <= 0) {
		*res = took < 0 ? took : -EIO;   /* a stream that takes nothing */
		return WEFT_READY;
	}
	if ((size_t)took >= mine) {
		*took_extra = (size_t)took - mine;
		w->sent = w->len = 0;
	} else {
		*took_extra = 0;
		w->sent += (size_t)took;
	}
	*res = 0;
	return WEFT_READY;
}

void weft_bufwriter_write_init(weft_bufwriter_write *f, weft_bufwriter *w,
			       const void *buf, size_t len)
{
	f->w = w;
	f->buf = buf;
	f->len = len;
	f->done = 0;
	f->res = 0;
}

weft_poll weft_bufwriter_write_poll(weft_bufwriter_write *f, weft_cx *cx)
{
	weft_bufwriter *w = f->w;

	if (!w || !w->b) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	while (f->done < f->len) {
		const char *rest = (const char *)f->buf + f->done;
		size_t n = f->len - f->done, took = 0;
		intptr_t res;

		if (n <= room(w)) {
			memcpy(w->buf + w->len, rest, n);
			w->len += n;
			f->done = f->len;
			break;
		}
		/* a buffer's worth or more goes out beside the buffer */
		if (send_some(w, cx, rest, n >= w->cap ? n : 0, &took,
			      &res) == WEFT_PENDING)
			return WEFT_PENDING;
		if (res < 0) {
			f->res = res;
			return WEFT_READY;
		}
		f->done += took;
	}
	f->res = (intptr_t)f->len;
	return WEFT_READY;
}

void weft_bufwriter_write_drop(weft_bufwriter_write *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_bufwriter_write, weft_bufwriter_write_drop);

void weft_bufwriter_flush_init(weft_bufwriter_flush *f, weft_bufwriter *w)
{
	f->w = w;
	f->shutdown = false;
	f->res = 0;
}

void weft_bufwriter_shutdown_init(weft_bufwriter_flush *f, weft_bufwriter *w)
{
	weft_bufwriter_flush_init(f, w);
	f->shutdown = true;
}

weft_poll weft_bufwriter_flush_poll(weft_bufwriter_flush *f, weft_cx *cx)
{
	weft_bufwriter *w = f->w;

	if (!w || !w->b) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	while (w->len > w->sent) {
		size_t took;

		if (send_some(w, cx, NULL, 0, &took, &f->res) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->res < 0)
			return WEFT_READY;
	}
	if (f->shutdown)
		return w->b->vt->poll_shutdown(w->b, cx, &f->res);
	return w->b->vt->poll_flush(w->b, cx, &f->res);
}

void weft_bufwriter_flush_drop(weft_bufwriter_flush *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_bufwriter_flush, weft_bufwriter_flush_drop);
