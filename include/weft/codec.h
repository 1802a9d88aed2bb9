/* weft/codec.h - codecs on buffered streams (bufio.h): newline-delimited
 * lines and length-delimited frames. Each has a decoder, a next-item
 * future on a weft_bufreader, and an encoder, into a caller's buffer or as
 * a future writing into a weft_bufwriter.
 *
 * A codec is a small configuration struct, copied by the futures' _init.
 * Items are borrowed from the reader (bufio.h): a READY next future's
 * `data` points at the item inside the reader, valid until the next call
 * on the reader; copy what must live longer. An item that lies in one
 * chunk of a stream with poll_fill is not copied at all. Decoding depends
 * only on the bytes, never on how they were cut: an item split across any
 * number of reads decodes the same.
 *
 * Results of the next futures: res = the item's length (>= 0: an empty
 * line or frame is an item), -ENODATA at a clean end of stream (between
 * items), -EPIPE when the stream ends inside a frame, -EMSGSIZE for an
 * item over the codec's maximum (it is skipped: the next future decodes
 * the item after it), -EINVAL for a bad configuration (a frame header
 * longer than the reader's capacity included), -EBADMSG for a
 * frame header that gives a negative length, or the stream's -errno.
 *
 * Bounds: an item is held whole in the reader's buffer, so the largest
 * item is the smaller of the codec's maximum and the reader's capacity;
 * nothing is ever buffered beyond it.
 *
 * Cancellation: a next future keeps no state of its own (the reader does),
 * so dropping it at any point loses nothing: a new one returns the same
 * item. An encoding future dropped before READY has written `done` bytes
 * of the item (the peer would see part of it): drop the connection then,
 * or finish the item.
 *
 * Threads: as for the reader and writer (bufio.h): one task at a time.
 */
#ifndef WEFT_CODEC_H
#define WEFT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bufio.h"
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* ---------------------------------------------------------------- lines */

/* Lines end with "\n". max_len is the longest line accepted, counted
 * without its "\n" (and without the "\r" that strip_cr removes); 0 means
 * as long as the reader holds. strip_cr: a "\r" before the "\n" is
 * removed from the line returned. The encoder writes "\n" only.
 *
 * At the end of stream a last line without "\n" is returned as a line
 * (as tokio's LinesCodec does), and then -ENODATA. An over-long line is
 * -EMSGSIZE; the rest of it is skipped and the next line is returned by
 * the next future. */
typedef struct weft_codec_lines {
	size_t max_len;
	bool strip_cr;
} weft_codec_lines;

/* Future: the next line; res = its length (without "\n"), data at it. */
typedef struct weft_codec_lines_next {
	weft_bufreader *r;
	weft_codec_lines c;
	const void *data;
	intptr_t res;
} weft_codec_lines_next;
WEFT_FUTURE_EXTERN(weft_codec_lines_next);

void weft_codec_lines_next_init(weft_codec_lines_next *f, weft_bufreader *r,
				const weft_codec_lines *c);
weft_poll weft_codec_lines_next_poll(weft_codec_lines_next *f, weft_cx *cx);
void weft_codec_lines_next_drop(weft_codec_lines_next *f);

/* The next line when the reader already holds it whole (bufio.h's fast
 * path: weft_bufreader_try_until): res and *data as a READY
 * weft_codec_lines_next would give them (its length, or -EMSGSIZE for a
 * held line over max_len, or -EINVAL); -EAGAIN when the line is not held
 * yet, or at the end of stream, an error or an over-long line still to be
 * read: then await weft_codec_lines_next, which does all of that. Never
 * calls the stream. c NULL: the defaults (no max_len, no strip_cr). The
 * loop for many short lines:
 *
 *     while ((n = weft_codec_lines_try_next(r, &c, &d)) != -EAGAIN)
 *             handle(d, n);            // n >= 0, or -EMSGSIZE
 *     // then await weft_codec_lines_next for the next one
 */
intptr_t weft_codec_lines_try_next(weft_bufreader *r,
				   const weft_codec_lines *c,
				   const void **data);

/* Encodes line (len bytes, no "\n" in it) and "\n" into out (cap bytes).
 * Returns the bytes written (len + 1), -EMSGSIZE (len over max_len),
 * -EINVAL (a "\n" in the line), or -ENOBUFS (cap too small). */
intptr_t weft_codec_lines_encode(const weft_codec_lines *c, const void *line,
				 size_t len, void *out, size_t cap);

/* Future: writes line and "\n" into the writer (not flushed). res = len +
 * 1, the encoder's errors, or the stream's -errno. The line is read at
 * each poll: keep it until READY. */
typedef struct weft_codec_lines_write {
	weft_bufwriter_write w;     /* private */
	weft_bufwriter *bw;
	const void *line;
	size_t len;
	int stage;
	size_t done;                /* bytes written so far */
	intptr_t res;
} weft_codec_lines_write;
WEFT_FUTURE_EXTERN(weft_codec_lines_write);

void weft_codec_lines_write_init(weft_codec_lines_write *f,
				 weft_bufwriter *w, const weft_codec_lines *c,
				 const void *line, size_t len);
weft_poll weft_codec_lines_write_poll(weft_codec_lines_write *f,
				      weft_cx *cx);
void weft_codec_lines_write_drop(weft_codec_lines_write *f);

/* --------------------------------------------------------------- frames */

/* Length-delimited frames (tokio-util's LengthDelimitedCodec): a frame is
 * `offset` bytes, a length field of `width` bytes (1, 2, 4 or 8; big
 * endian unless little_endian), and a body of (field value + adjust)
 * bytes. The header is the offset bytes and the field. The frame returned
 * is the body (keep_header false) or the whole frame (keep_header true).
 * max_frame bounds the whole frame, header included (0: the reader's
 * capacity; more than the capacity: the capacity): a larger one is
 * -EMSGSIZE and is skipped (its length is known), so the next frame
 * decodes. A field value whose body would be negative is -EBADMSG: the
 * stream is out of step, and the reader is left at that header.
 *
 * Encoding takes `frame` as the offset bytes followed by the body (with
 * offset 0: just the body) and writes it with the length field inserted
 * after the offset bytes: value = body length - adjust. */
typedef struct weft_codec_frames {
	unsigned width;
	bool little_endian;
	size_t offset;
	int64_t adjust;
	bool keep_header;
	size_t max_frame;
} weft_codec_frames;

/* Future: the next frame; res = its length (as returned: the body, or the
 * whole frame), data at it. */
typedef struct weft_codec_frames_next {
	weft_bufreader *r;
	weft_codec_frames c;
	const void *data;
	intptr_t res;
} weft_codec_frames_next;
WEFT_FUTURE_EXTERN(weft_codec_frames_next);

void weft_codec_frames_next_init(weft_codec_frames_next *f,
				 weft_bufreader *r, const weft_codec_frames *c);
weft_poll weft_codec_frames_next_poll(weft_codec_frames_next *f,
				      weft_cx *cx);
void weft_codec_frames_next_drop(weft_codec_frames_next *f);

/* The next frame when the reader already holds it whole (header and body;
 * weft_bufreader_try_peek and _try_exact): res and *data as a READY
 * weft_codec_frames_next would give them (the frame's length, -EMSGSIZE
 * for a held header of an over-long frame, which is then skipped as the
 * future skips it, -EBADMSG, -EINVAL); -EAGAIN when the frame is not held
 * whole yet, or at the end of stream or an error: then await
 * weft_codec_frames_next. Never calls the stream. */
intptr_t weft_codec_frames_try_next(weft_bufreader *r,
				    const weft_codec_frames *c,
				    const void **data);

/* Encodes frame (len bytes: the offset bytes, then the body) into out
 * (cap bytes). Returns the bytes written (len + width), -EINVAL (bad
 * configuration, len under offset, body length under adjust), -EMSGSIZE
 * (the value does not fit the field, or the frame is over max_frame), or
 * -ENOBUFS (cap too small). */
intptr_t weft_codec_frames_encode(const weft_codec_frames *c,
				  const void *frame, size_t len, void *out,
				  size_t cap);

/* Future: writes the encoded frame into the writer (not flushed), without
 * copying it first. res = len + width, the encoder's errors, or the
 * stream's -errno. The frame is read at each poll: keep it until READY. */
typedef struct weft_codec_frames_write {
	weft_bufwriter_write w;     /* private */
	weft_bufwriter *bw;
	const void *frame;
	size_t len, offset;
	unsigned width;
	unsigned char field[8];
	int stage;
	size_t done;                /* bytes written so far */
	intptr_t res;
} weft_codec_frames_write;
WEFT_FUTURE_EXTERN(weft_codec_frames_write);

void weft_codec_frames_write_init(weft_codec_frames_write *f,
				  weft_bufwriter *w,
				  const weft_codec_frames *c,
				  const void *frame, size_t len);
weft_poll weft_codec_frames_write_poll(weft_codec_frames_write *f,
				       weft_cx *cx);
void weft_codec_frames_write_drop(weft_codec_frames_write *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_CODEC_H */
