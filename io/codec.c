/* io/codec.c - the line and length-delimited frame codecs of
 * weft/codec.h, on the buffered reader and writer (io/bufio.c).
 *
 * The decoders are one or two reader calls each: a line is
 * weft_bufreader_poll_until('\n'); a frame is a peek at its header, then
 * poll_exact of the whole frame (header and body: one contiguous span, so
 * a frame inside one chunk is returned in place). The reader holds every
 * byte received and any skipping, so the futures hold nothing and a frame
 * split across reads, or a future dropped half way, decodes the same.
 *
 * The encoders write the pieces (offset bytes, length field, body; a line
 * and its "\n") through weft_bufwriter_write, one after the other
 * (pieces_poll), which copies small pieces and sends big ones beside the
 * buffer.
 *
 * Each decoder also has a synchronous form (_try_next): the held item
 * (line_held, frame_held: the reader's per-item steps of io/bufio_fast.h,
 * inline here, and the same finishing steps the futures use, line_finish,
 * frame_header, frame_finish), so both return the same items. The next
 * futures start with it too and call the reader's poll functions only
 * when it says -EAGAIN. frame_held does in one settle and one look at the
 * header what weft_bufreader_try_peek and _try_exact would do in two.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "io/bufio_fast.h"
#include "weft/codec.h"

/* The encoders' futures write their item as pieces, one bufwriter write
 * each: *stage 0 not started, 1..last the piece being written (start(f)
 * sets the write up for *stage), -1 READY. *done counts the bytes written;
 * READY with *res = *done, or the first error. */
static weft_poll pieces_poll(weft_bufwriter_write *w, weft_cx *cx, int *stage,
			     int last, size_t *done, intptr_t *res,
			     void (*start)(void *f), void *f)
{
	if (*stage < 0)
		return WEFT_READY;
	if (*stage == 0) {
		*stage = 1;
		start(f);
	}
	for (;;) {
		if (weft_bufwriter_write_poll(w, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (w->res < 0) {
			*done += w->done;
			*res = w->res;
			*stage = -1;
			return WEFT_READY;
		}
		*done += w->len;
		if (*stage == last) {
			*res = (intptr_t)*done;
			*stage = -1;
			return WEFT_READY;
		}
		(*stage)++;
		start(f);
	}
}

/* ---------------------------------------------------------------- lines */

void weft_codec_lines_next_init(weft_codec_lines_next *f, weft_bufreader *r,
				const weft_codec_lines *c)
{
	f->r = r;
	if (c)
		f->c = *c;
	else
		memset(&f->c, 0, sizeof(f->c));
	f->data = NULL;
	f->res = 0;
}

/* The reader's limit for c: room for the "\n" and the "\r" the line may
 * carry (0: the reader's capacity). */
WEFT__INLINE size_t line_limit(const weft_codec_lines *c)
{
	if (c->max_len && c->max_len < SIZE_MAX - 2)
		return c->max_len + 1 + (c->strip_cr ? 1 : 0);
	return 0;
}

/* A line of n >= 1 bytes at *data from the reader: its length without
 * "\n" (and "\r"), or -EMSGSIZE (*data NULL). */
WEFT__INLINE intptr_t line_finish(const weft_codec_lines *c,
				  const void **data, size_t n)
{
	const char *d = *data;

	if (d[n - 1] == '\n') {
		n--;
		if (c->strip_cr && n && d[n - 1] == '\r')
			n--;
	}
	if (c->max_len && n > c->max_len) {
		/* "\r\n" room taken by a longer line without "\r": all of
		 * it is used up already, nothing to skip */
		*data = NULL;
		return -EMSGSIZE;
	}
	return (intptr_t)n;
}

/* The held line (the reader's fast path, io/bufio_fast.h, inlined: one
 * call per line from the caller, none inside), or -EAGAIN; r valid. */
WEFT__INLINE intptr_t line_held(weft_bufreader *r, const weft_codec_lines *c,
				const void **data)
{
	intptr_t res = weft__bufreader_until(r, '\n', line_limit(c), data);

	return res > 0 ? line_finish(c, data, (size_t)res) : res;
}

intptr_t weft_codec_lines_try_next(weft_bufreader *r,
				   const weft_codec_lines *c,
				   const void **data)
{
	static const weft_codec_lines none;

	*data = NULL;
	if (!r || !r->b)
		return -EINVAL;
	return line_held(r, c ? c : &none, data);
}

weft_poll weft_codec_lines_next_poll(weft_codec_lines_next *f, weft_cx *cx)
{
	if (f->r && f->r->b) {
		/* a held line: no trip through the reader's poll function */
		f->res = line_held(f->r, &f->c, &f->data);
		if (f->res != -EAGAIN)
			return WEFT_READY;
	}
	if (weft_bufreader_poll_until(f->r, cx, '\n', line_limit(&f->c),
				      &f->data, &f->res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (f->res <= 0) {
		if (f->res == 0)
			f->res = -ENODATA;
		f->data = NULL;
		return WEFT_READY;
	}
	f->res = line_finish(&f->c, &f->data, (size_t)f->res);
	return WEFT_READY;
}

void weft_codec_lines_next_drop(weft_codec_lines_next *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_codec_lines_next, weft_codec_lines_next_drop);

static intptr_t line_check(const weft_codec_lines *c, const void *line,
			   size_t len)
{
	if (!c || (len && !line) || len > (size_t)INTPTR_MAX - 1)
		return -EINVAL;
	if (c->max_len && len > c->max_len)
		return -EMSGSIZE;
	if (len && memchr(line, '\n', len))
		return -EINVAL;
	return 0;
}

intptr_t weft_codec_lines_encode(const weft_codec_lines *c, const void *line,
				 size_t len, void *out, size_t cap)
{
	intptr_t ret = line_check(c, line, len);

	if (ret < 0)
		return ret;
	if (cap < len + 1 || !out)
		return -ENOBUFS;
	if (len)
		memcpy(out, line, len);
	((char *)out)[len] = '\n';
	return (intptr_t)len + 1;
}

void weft_codec_lines_write_init(weft_codec_lines_write *f,
				 weft_bufwriter *w, const weft_codec_lines *c,
				 const void *line, size_t len)
{
	f->bw = w;
	f->line = line;
	f->len = len;
	f->done = 0;
	f->res = line_check(c, line, len);
	f->stage = f->res < 0 ? -1 : 0;
	if (!w && f->stage == 0) {
		f->res = -EINVAL;
		f->stage = -1;
	}
}

/* Starts writing piece f->stage of a line (1: the line, 2: "\n"). */
static void lines_piece(void *arg)
{
	static const char nl = '\n';
	weft_codec_lines_write *f = arg;

	if (f->stage == 1)
		weft_bufwriter_write_init(&f->w, f->bw, f->line, f->len);
	else
		weft_bufwriter_write_init(&f->w, f->bw, &nl, 1);
}

weft_poll weft_codec_lines_write_poll(weft_codec_lines_write *f,
				      weft_cx *cx)
{
	return pieces_poll(&f->w, cx, &f->stage, 2, &f->done, &f->res,
			   lines_piece, f);
}

void weft_codec_lines_write_drop(weft_codec_lines_write *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_codec_lines_write, weft_codec_lines_write_drop);

/* --------------------------------------------------------------- frames */

WEFT__INLINE bool frames_valid(const weft_codec_frames *c)
{
	return c && (c->width == 1 || c->width == 2 || c->width == 4 ||
		     c->width == 8) &&
	       c->offset <= WEFT_BUFIO_MAX_CAPACITY;
}

/* The length field at p (width 1, 2, 4 or 8: frames_valid), one load. */
WEFT__INLINE uint64_t field_get(const unsigned char *p, unsigned width,
				bool le)
{
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	switch (width) {
	case 1:
		return p[0];
	case 2:
		memcpy(&v16, p, 2);
		return le ? le16toh(v16) : be16toh(v16);
	case 4:
		memcpy(&v32, p, 4);
		return le ? le32toh(v32) : be32toh(v32);
	default:
		memcpy(&v64, p, 8);
		return le ? le64toh(v64) : be64toh(v64);
	}
}

static void field_put(unsigned char *p, unsigned width, bool le, uint64_t v)
{
	for (unsigned i = 0; i < width; i++) {
		p[le ? i : width - 1 - i] = (unsigned char)v;
		v >>= 8;
	}
}

void weft_codec_frames_next_init(weft_codec_frames_next *f,
				 weft_bufreader *r, const weft_codec_frames *c)
{
	f->r = r;
	if (c)
		f->c = *c;
	else
		memset(&f->c, 0, sizeof(f->c));   /* width 0: -EINVAL */
	f->data = NULL;
	f->res = 0;
}

/* The whole frame's length from the header's field value, or -errno;
 * for -EMSGSIZE, *skip = the frame's length (saturated at SIZE_MAX: such
 * a frame never ends anyway). */
WEFT__INLINE intptr_t frame_total(const weft_codec_frames *c,
				  uint64_t value, size_t cap, size_t *skip)
{
	size_t head = c->offset + c->width;
	size_t max = c->max_frame && c->max_frame < cap ? c->max_frame : cap;
	uint64_t body;

	if (c->adjust < 0) {
		uint64_t minus = (uint64_t)0 - (uint64_t)c->adjust;

		if (value < minus)
			return -EBADMSG;
		body = value - minus;
	} else {
		body = value + (uint64_t)c->adjust;
		if (body < value)
			body = UINT64_MAX;      /* wrapped: too big anyway */
	}
	if (head > max || body > (uint64_t)(max - head)) {
		*skip = body > (uint64_t)(SIZE_MAX - head) ? SIZE_MAX
							   : head + body;
		return -EMSGSIZE;
	}
	return (intptr_t)(head + body);
}

/* The frame whose header is at d: its whole length, or -errno (for
 * -EMSGSIZE the reader is set to skip it). */
WEFT__INLINE intptr_t frame_header(const weft_codec_frames *c,
				   weft_bufreader *r, const unsigned char *d)
{
	size_t skip = 0;
	intptr_t total = frame_total(c, field_get(d + c->offset, c->width,
						  c->little_endian),
				     r->cap, &skip);

	if (total == -EMSGSIZE)       /* the next future starts after it */
		weft_bufreader_skip(r, skip);
	return total;
}

/* The frame (header included) of total bytes at *data: as returned. */
WEFT__INLINE intptr_t frame_finish(const weft_codec_frames *c,
				   const void **data, intptr_t total)
{
	size_t head = c->offset + c->width;

	if (c->keep_header)
		return total;
	*data = (const char *)*data + head;
	return total - (intptr_t)head;
}

/* 0 when c can be decoded by r, else -EINVAL. */
WEFT__INLINE int frames_usable(const weft_codec_frames *c,
			       const weft_bufreader *r)
{
	if (!r || !frames_valid(c) || c->offset + c->width > r->cap)
		return -EINVAL;  /* a header the reader cannot hold too */
	return 0;
}

/* The held frame (header and body in one held span: the reader's fast
 * path, io/bufio_fast.h, inlined; one settle, one look at the header),
 * or -EAGAIN, or frame_header's error; r and c usable. What
 * weft_bufreader_try_peek of the header and then _try_exact of the frame
 * would do, without their repeated steps. */
WEFT__INLINE intptr_t frame_held(weft_bufreader *r,
				 const weft_codec_frames *c,
				 const void **data)
{
	size_t head = c->offset + c->width;
	const char *base;
	bool in_stream;
	size_t have;
	intptr_t total;

	weft__bufreader_settle(r);
	if (r->skip)
		return -EAGAIN;
	r->skip_delim = -1;   /* as the reader's exact reads: a long line's
	                       * rest is the caller's now */
	have = weft__bufreader_held(r, &base, &in_stream);
	if (have < head)
		return -EAGAIN;
	total = frame_header(c, r, (const unsigned char *)base);
	if (total < 0)
		return total;
	if (have < (size_t)total)
		return -EAGAIN;
	weft__bufreader_give(r, base, in_stream, (size_t)total, data);
	return frame_finish(c, data, total);
}

intptr_t weft_codec_frames_try_next(weft_bufreader *r,
				    const weft_codec_frames *c,
				    const void **data)
{
	*data = NULL;
	if (frames_usable(c, r) < 0 || !r->b)
		return -EINVAL;
	return frame_held(r, c, data);
}

weft_poll weft_codec_frames_next_poll(weft_codec_frames_next *f,
				      weft_cx *cx)
{
	const weft_codec_frames *c = &f->c;
	const void *p;
	intptr_t total;

	f->data = NULL;
	if (frames_usable(c, f->r) < 0) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	if (f->r->b) {
		/* a held frame: no trip through the reader's poll functions */
		f->res = frame_held(f->r, c, &f->data);
		if (f->res != -EAGAIN)
			return WEFT_READY;
		f->data = NULL;
	}
	if (weft_bufreader_poll_peek(f->r, cx, c->offset + c->width, &p,
				     &f->res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (f->res <= 0) {
		if (f->res == 0)
			f->res = -ENODATA;
		return WEFT_READY;
	}
	total = frame_header(c, f->r, p);
	if (total < 0) {
		f->res = total;
		return WEFT_READY;
	}
	if (weft_bufreader_poll_exact(f->r, cx, (size_t)total, &p, &f->res) ==
	    WEFT_PENDING)
		return WEFT_PENDING;
	if (f->res <= 0) {
		if (f->res == 0)
			f->res = -EPIPE;
		return WEFT_READY;
	}
	f->data = p;
	f->res = frame_finish(c, &f->data, total);
	return WEFT_READY;
}

void weft_codec_frames_next_drop(weft_codec_frames_next *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_codec_frames_next, weft_codec_frames_next_drop);

/* The length field for a frame of len bytes (offset bytes + body), or
 * -errno. */
static intptr_t frame_field(const weft_codec_frames *c, const void *frame,
			    size_t len, unsigned char field[8])
{
	uint64_t body, value;

	if (!frames_valid(c) || (len && !frame) || len < c->offset ||
	    len > (size_t)INTPTR_MAX - 8)
		return -EINVAL;
	body = len - c->offset;
	if (c->adjust < 0) {
		value = body + ((uint64_t)0 - (uint64_t)c->adjust);
		if (value < body)
			return -EMSGSIZE;
	} else {
		if (body < (uint64_t)c->adjust)
			return -EINVAL;
		value = body - (uint64_t)c->adjust;
	}
	if (c->width < 8 && value >> (8 * c->width))
		return -EMSGSIZE;
	if (c->max_frame && len + c->width > c->max_frame)
		return -EMSGSIZE;
	field_put(field, c->width, c->little_endian, value);
	return 0;
}

intptr_t weft_codec_frames_encode(const weft_codec_frames *c,
				  const void *frame, size_t len, void *out,
				  size_t cap)
{
	unsigned char field[8];
	intptr_t ret = frame_field(c, frame, len, field);
	char *o = out;

	if (ret < 0)
		return ret;
	if (!out || cap < len + c->width)
		return -ENOBUFS;
	if (c->offset)
		memcpy(o, frame, c->offset);
	memcpy(o + c->offset, field, c->width);
	if (len > c->offset)
		memcpy(o + c->offset + c->width,
		       (const char *)frame + c->offset, len - c->offset);
	return (intptr_t)(len + c->width);
}

void weft_codec_frames_write_init(weft_codec_frames_write *f,
				  weft_bufwriter *w,
				  const weft_codec_frames *c,
				  const void *frame, size_t len)
{
	f->bw = w;
	f->frame = frame;
	f->len = len;
	f->done = 0;
	f->stage = 0;
	f->res = frame_field(c, frame, len, f->field);
	if (!w && f->res == 0)
		f->res = -EINVAL;
	if (f->res < 0) {
		f->stage = -1;
		return;
	}
	f->offset = c->offset;
	f->width = c->width;
}

/* Starts writing piece f->stage (1: offset bytes, 2: field, 3: body). */
static void frames_piece(void *arg)
{
	weft_codec_frames_write *f = arg;
	const char *fr = f->frame;

	switch (f->stage) {
	case 1:
		weft_bufwriter_write_init(&f->w, f->bw, fr, f->offset);
		break;
	case 2:
		weft_bufwriter_write_init(&f->w, f->bw, f->field, f->width);
		break;
	default:
		weft_bufwriter_write_init(&f->w, f->bw, fr + f->offset,
					  f->len - f->offset);
		break;
	}
}

weft_poll weft_codec_frames_write_poll(weft_codec_frames_write *f,
				       weft_cx *cx)
{
	return pieces_poll(&f->w, cx, &f->stage, 3, &f->done, &f->res,
			   frames_piece, f);
}

void weft_codec_frames_write_drop(weft_codec_frames_write *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_codec_frames_write, weft_codec_frames_write_drop);
