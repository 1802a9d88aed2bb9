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
 * The encoders write the pieces (offset bytes, length field, body) through
 * weft_bufwriter_write, which copies small pieces and sends big ones
 * beside the buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "weft/codec.h"

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

weft_poll weft_codec_lines_next_poll(weft_codec_lines_next *f, weft_cx *cx)
{
	const weft_codec_lines *c = &f->c;
	size_t limit = 0, n;
	const char *d;

	/* room for the "\n" and the "\r" the line may carry */
	if (c->max_len && c->max_len < SIZE_MAX - 2)
		limit = c->max_len + 1 + (c->strip_cr ? 1 : 0);
	if (weft_bufreader_poll_until(f->r, cx, '\n', limit, &f->data,
				      &f->res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (f->res <= 0) {
		if (f->res == 0)
			f->res = -ENODATA;
		f->data = NULL;
		return WEFT_READY;
	}
	d = f->data;
	n = (size_t)f->res;
	if (d[n - 1] == '\n') {
		n--;
		if (c->strip_cr && n && d[n - 1] == '\r')
			n--;
	}
	if (c->max_len && n > c->max_len) {
		/* "\r\n" room taken by a longer line without "\r": all of
		 * it is used up already, nothing to skip */
		f->data = NULL;
		f->res = -EMSGSIZE;
		return WEFT_READY;
	}
	f->res = (intptr_t)n;
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

weft_poll weft_codec_lines_write_poll(weft_codec_lines_write *f,
				      weft_cx *cx)
{
	static const char nl = '\n';

	/* stage 0: not started; 1: the line; 2: the "\n"; -1: READY */
	if (f->stage < 0)
		return WEFT_READY;
	if (f->stage == 0) {
		weft_bufwriter_write_init(&f->w, f->bw, f->line, f->len);
		f->stage = 1;
	}
	for (;;) {
		if (weft_bufwriter_write_poll(&f->w, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->w.res < 0) {
			f->done += f->w.done;
			f->res = f->w.res;
			f->stage = -1;
			return WEFT_READY;
		}
		f->done += f->w.len;
		if (f->stage == 2) {
			f->res = (intptr_t)f->done;
			f->stage = -1;
			return WEFT_READY;
		}
		f->stage = 2;
		weft_bufwriter_write_init(&f->w, f->bw, &nl, 1);
	}
}

void weft_codec_lines_write_drop(weft_codec_lines_write *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_codec_lines_write, weft_codec_lines_write_drop);

/* --------------------------------------------------------------- frames */

static bool frames_valid(const weft_codec_frames *c)
{
	return c && (c->width == 1 || c->width == 2 || c->width == 4 ||
		     c->width == 8) &&
	       c->offset <= WEFT_BUFIO_MAX_CAPACITY;
}

static uint64_t field_get(const unsigned char *p, unsigned width, bool le)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < width; i++)
		v = v << 8 | p[le ? width - 1 - i : i];
	return v;
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
static intptr_t frame_total(const weft_codec_frames *c, uint64_t value,
			    size_t cap, size_t *skip)
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

weft_poll weft_codec_frames_next_poll(weft_codec_frames_next *f,
				      weft_cx *cx)
{
	const weft_codec_frames *c = &f->c;
	const unsigned char *d;
	const void *p;
	size_t head, skip = 0;
	intptr_t total;

	f->data = NULL;
	if (!f->r || !frames_valid(c)) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	head = c->offset + c->width;
	if (head > f->r->cap) {       /* a header the reader cannot hold */
		f->res = -EINVAL;
		return WEFT_READY;
	}
	if (weft_bufreader_poll_peek(f->r, cx, head, &p, &f->res) ==
	    WEFT_PENDING)
		return WEFT_PENDING;
	if (f->res <= 0) {
		if (f->res == 0)
			f->res = -ENODATA;
		return WEFT_READY;
	}
	d = p;
	total = frame_total(c, field_get(d + c->offset, c->width,
					 c->little_endian),
			    f->r->cap, &skip);
	if (total < 0) {
		if (total == -EMSGSIZE)   /* the next future starts after it */
			weft_bufreader_skip(f->r, skip);
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
	if (c->keep_header) {
		f->data = p;
	} else {
		f->data = (const char *)p + head;
		f->res -= (intptr_t)head;
	}
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

/* Starts writing piece `stage` (1: offset bytes, 2: field, 3: body). */
static void frames_piece(weft_codec_frames_write *f)
{
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
	/* stage 0: not started; 1..3: the pieces; -1: READY */
	if (f->stage < 0)
		return WEFT_READY;
	if (f->stage == 0) {
		f->stage = 1;
		frames_piece(f);
	}
	for (;;) {
		if (weft_bufwriter_write_poll(&f->w, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->w.res < 0) {
			f->done += f->w.done;
			f->res = f->w.res;
			f->stage = -1;
			return WEFT_READY;
		}
		f->done += f->w.len;
		if (f->stage == 3) {
			f->res = (intptr_t)f->done;
			f->stage = -1;
			return WEFT_READY;
		}
		f->stage++;
		frames_piece(f);
	}
}

void weft_codec_frames_write_drop(weft_codec_frames_write *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_codec_frames_write, weft_codec_frames_write_drop);
