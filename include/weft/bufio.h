/* weft/bufio.h - buffered reading and writing on a byte stream (bytes.h):
 * a reader that finds delimiters, lines and fixed-size records in what the
 * stream gives, and a writer that gathers small writes into one send.
 *
 * Reader (weft_bufreader). It holds one buffer of `capacity` bytes, fixed
 * at _init/_create (1 byte to 16 MiB; 0 means 64 KiB): that is all it ever
 * buffers, and so the longest line or record it can return. Results are
 * borrowed, not copied: a READY read_until, read_line or read_exact sets
 * `data` to the bytes inside the reader (its buffer, or the stream's own
 * chunk when the stream has poll_fill), and they stay valid until the next
 * call on the reader (any function below taking the reader, or _destroy).
 * Those bytes are used up: the next call starts after them. Copy what must
 * live longer. Borrowing is what makes the fast path possible: when the
 * stream has poll_fill (weft's sockets: the kernel's receive buffers), a
 * line or record that lies wholly inside one chunk is returned in place,
 * with no copy at all; only one that spans chunks is gathered into the
 * reader's buffer. A stream without poll_fill is read into the buffer
 * (one poll_read of as much as fits), and lines are cut from there.
 *
 * Over-long lines: read_until and read_line take `max` (the longest result
 * accepted, delimiter included; 0 or more than the capacity means the
 * capacity). When `max` bytes arrive without the delimiter the future is
 * READY with -EMSGSIZE; those bytes are dropped, and the reader is left
 * skipping: the next read_until or read_line first discards the rest of
 * that line (through its delimiter) and then returns the line after it.
 * A caller that wants the rest instead calls weft_bufreader_fill or
 * read_exact next, which cancel the skip and see the bytes that follow the
 * dropped ones. Nothing after the long line is lost or misparsed.
 *
 * End of stream and errors: read_until returns a final line without its
 * delimiter when the stream ends inside it (res = its length: check the
 * last byte), and 0 once nothing is left. read_exact returns -EPIPE when
 * the stream ends inside the n bytes (those that arrived stay in the
 * reader: weft_bufreader_fill shows them), and 0 when it ends before any.
 * A stream error is returned as it is
 * (-errno), with the buffered bytes kept.
 *
 * Cancellation: the futures hold no state of their own (the reader holds
 * it all), so dropping one at any point loses nothing: bytes already
 * received stay in the reader for the next call, and a new future picks up
 * where the dropped one stopped.
 *
 * Writer (weft_bufwriter). It holds one buffer of `capacity` bytes (same
 * bounds). A write that fits is copied into it (READY at once, no system
 * call); one that does not fit sends the buffered bytes first, and a write
 * at least as big as the buffer goes straight through, in the same
 * gathering write as the buffered bytes before it (one poll_write of two
 * iovecs), never copied. weft_bufwriter_flush sends what is buffered (a
 * single poll_write when the stream takes it all) and then flushes the
 * stream. So N small writes and a flush are one send. Nothing is sent
 * behind the caller's back: call flush (or shutdown) when the peer must
 * see the bytes. A write future dropped before READY has copied or sent
 * `done` of its bytes (the rest were not taken); those are sent or
 * buffered, in order.
 *
 * Threads: a reader is used by one task at a time, and so is a writer
 * (they may be different tasks: the stream's read and write sides are
 * independent, bytes.h). Each future is polled by the task that holds it.
 * Neither owns the stream: drop it (weft_bytes_drop) after destroying the
 * reader and writer on it. While a reader is set up on a stream, read the
 * stream only through the reader: the reader keeps the chunk the stream's
 * poll_fill lent across calls and tells the stream how much of it was used
 * when the chunk is used up, or at weft_bufreader_destroy (so one chunk of
 * many short lines costs the stream one poll_fill and one consume).
 */
#ifndef WEFT_BUFIO_H
#define WEFT_BUFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* The capacity used when 0 is asked for, and the largest one accepted. */
#define WEFT_BUFIO_DEFAULT_CAPACITY (64u * 1024u)
#define WEFT_BUFIO_MAX_CAPACITY (16u * 1024u * 1024u)

/* --------------------------------------------------------------- reader */

/* A buffered reader: embed it (_init/_destroy) or allocate it (_create/
 * _destroy). Fields are private. */
typedef struct weft_bufreader {
	weft_bytes *b;        /* the stream (not owned) */
	char *buf;            /* capacity bytes */
	size_t cap;
	size_t start, end;    /* buffered bytes: buf[start, end) */
	size_t scanned;       /* of those, searched for scan_for already */
	int scan_for;         /* the delimiter `scanned` is about */
	size_t fill_len;      /* what the last poll_fill returned */
	size_t used;          /* used up by the last result (applied next) */
	size_t skip;          /* bytes still to discard (weft_bufreader_skip) */
	int skip_delim;       /* >= 0: discard through this byte first */
	bool in_stream;       /* `used` is in the stream's chunk */
	bool filled_stream;   /* the last fill returned the stream's chunk */
	bool heap;            /* from _create */
	const char *chunk;    /* the stream's chunk poll_fill lent, or NULL */
	size_t chunk_len;     /* its length */
	size_t chunk_used;    /* of it, used up (the stream is told at the
	                       * end of the chunk, or at destroy) */
} weft_bufreader;

/* Sets up r on stream b with a buffer of capacity bytes (0: 64 KiB).
 * Returns 0, -EINVAL (b NULL, capacity over WEFT_BUFIO_MAX_CAPACITY) or
 * -ENOMEM. */
int weft_bufreader_init(weft_bufreader *r, weft_bytes *b, size_t capacity);
/* The same, allocated: *out is set on 0. */
int weft_bufreader_create(weft_bufreader **out, weft_bytes *b,
			  size_t capacity);
/* Frees the buffer (and r, when it came from _create). Bytes still
 * buffered are dropped; the stream is not touched. NULL is ignored. */
void weft_bufreader_destroy(weft_bufreader *r);
/* Bytes held in the reader's own buffer, not yet returned (the stream's
 * chunk not counted). */
size_t weft_bufreader_buffered(const weft_bufreader *r);
/* Discards the next n bytes of the stream (lazily, at the next call):
 * for skipping a record the caller does not want. */
void weft_bufreader_skip(weft_bufreader *r, size_t n);

/* Poll-style access to the buffered bytes, for code that parses by itself
 * (tokio's poll_fill_buf/consume). READY: *data points at res >= 1 bytes
 * (what the reader holds, or else the stream's next chunk, or else one
 * read into the buffer), 0 at end of stream, or -errno (-EINVAL: r
 * NULL). The bytes stay until consumed. The pointer is valid until the
 * next call on the reader. Cancels a pending line skip. */
weft_poll weft_bufreader_poll_fill(weft_bufreader *r, weft_cx *cx,
				   const void **data, intptr_t *res);
/* Uses up n of the bytes the last poll_fill returned (n <= its res; debug
 * builds abort on more, others take res). */
void weft_bufreader_consume(weft_bufreader *r, size_t n);

/* The poll function of weft_bufreader_read_until, for writing other
 * futures and codecs on a reader: READY with *res and *data as that
 * future's res and data. */
weft_poll weft_bufreader_poll_until(weft_bufreader *r, weft_cx *cx,
				    int delim, size_t max, const void **data,
				    intptr_t *res);
/* The poll function of weft_bufreader_read_exact: READY with *res and
 * *data as that future's res and data. */
weft_poll weft_bufreader_poll_exact(weft_bufreader *r, weft_cx *cx,
				    size_t n, const void **data,
				    intptr_t *res);
/* Like poll_exact but the n bytes are not used up: the next call sees
 * them again (for reading a header before deciding). */
weft_poll weft_bufreader_poll_peek(weft_bufreader *r, weft_cx *cx,
				   size_t n, const void **data,
				   intptr_t *res);

/* weft_bufreader_try_until is the synchronous fast path of poll_until
 * (and try_exact, try_peek of poll_exact, poll_peek; the poll functions
 * start with them): the same result when the reader already holds it (in
 * its buffer, or in the stream chunk it keeps from the last fill), with no
 * call on the stream and no context; else -EAGAIN, with nothing taken
 * (the poll function or future then reads what is missing). Returns the
 * count (>= 1) with *data set (borrowed until the next call on the
 * reader, as a READY result is), -EINVAL as the poll function gives it, or
 * -EAGAIN;
 * over-long lines, the end of stream, a pending skip and errors are all
 * -EAGAIN here (the future reports them). A loop that takes items with
 * these until -EAGAIN and then awaits the future costs one future
 * completion per chunk of the stream instead of one per item: for short
 * items that is most of the reader's own cost. They never wait, so such a
 * loop runs at most as long as the held bytes last, and the future it
 * falls back to spends the task's budget as usual. */
intptr_t weft_bufreader_try_until(weft_bufreader *r, int delim, size_t max,
				  const void **data);
/* The fast path of weft_bufreader_poll_exact (see try_until): n held
 * contiguous bytes, used up; -EAGAIN when fewer are held in one place. */
intptr_t weft_bufreader_try_exact(weft_bufreader *r, size_t n,
				  const void **data);
/* The fast path of weft_bufreader_poll_peek (see try_until): n held
 * contiguous bytes, not used up; -EAGAIN when fewer are held. */
intptr_t weft_bufreader_try_peek(weft_bufreader *r, size_t n,
				 const void **data);

/* Future: the next bytes (weft_bufreader_poll_fill): res = count (>= 1),
 * 0 at end of stream, or -errno; data points at them, borrowed until the
 * next call on the reader. Consume what was used with
 * weft_bufreader_consume. */
typedef struct weft_bufreader_fill {
	weft_bufreader *r;
	const void *data;
	intptr_t res;
} weft_bufreader_fill;
WEFT_FUTURE_EXTERN(weft_bufreader_fill);

void weft_bufreader_fill_init(weft_bufreader_fill *f, weft_bufreader *r);
weft_poll weft_bufreader_fill_poll(weft_bufreader_fill *f, weft_cx *cx);
void weft_bufreader_fill_drop(weft_bufreader_fill *f);

/* Future: the bytes up to and including the next `delim` byte
 * (read_until), or the next "\n" (read_line), at most max bytes (0: the
 * capacity). res = the count (>= 1; the delimiter is the last byte, except
 * for a final line cut by the end of stream), 0 at end of stream,
 * -EMSGSIZE for a line longer than max (see the header comment: the rest
 * of it is skipped by the next read_until/read_line), -EINVAL (r NULL,
 * delim not a byte value), or the stream's -errno. data points at the
 * bytes, borrowed until the next call on the reader; they are used up. */
typedef struct weft_bufreader_read_until {
	weft_bufreader *r;
	int delim;
	size_t max;
	const void *data;
	intptr_t res;
} weft_bufreader_read_until;
WEFT_FUTURE_EXTERN(weft_bufreader_read_until);

void weft_bufreader_read_until_init(weft_bufreader_read_until *f,
				    weft_bufreader *r, int delim, size_t max);
void weft_bufreader_read_line_init(weft_bufreader_read_until *f,
				   weft_bufreader *r, size_t max);
weft_poll weft_bufreader_read_until_poll(weft_bufreader_read_until *f,
					 weft_cx *cx);
void weft_bufreader_read_until_drop(weft_bufreader_read_until *f);

/* Future: exactly n bytes (1 <= n <= the capacity), contiguous. res = n;
 * 0 when the stream had ended before any of them, -EPIPE when it ends
 * after some (the bytes that came stay in the reader), -EMSGSIZE for n over the capacity, -EINVAL (r NULL, n 0), or
 * the stream's -errno. data points at them, borrowed until the next call
 * on the reader; they are used up. Cancels a pending line skip. */
typedef struct weft_bufreader_read_exact {
	weft_bufreader *r;
	size_t n;
	const void *data;
	intptr_t res;
} weft_bufreader_read_exact;
WEFT_FUTURE_EXTERN(weft_bufreader_read_exact);

void weft_bufreader_read_exact_init(weft_bufreader_read_exact *f,
				    weft_bufreader *r, size_t n);
weft_poll weft_bufreader_read_exact_poll(weft_bufreader_read_exact *f,
					 weft_cx *cx);
void weft_bufreader_read_exact_drop(weft_bufreader_read_exact *f);

/* --------------------------------------------------------------- writer */

/* A buffered writer: embed it (_init/_destroy) or allocate it (_create/
 * _destroy). Fields are private. */
typedef struct weft_bufwriter {
	weft_bytes *b;        /* the stream (not owned) */
	char *buf;            /* capacity bytes */
	size_t cap;
	size_t sent, len;     /* buf[sent, len) is still to send */
	bool heap;
} weft_bufwriter;

/* Sets up w on stream b with a buffer of capacity bytes (0: 64 KiB).
 * Returns 0, -EINVAL (b NULL, capacity over WEFT_BUFIO_MAX_CAPACITY) or
 * -ENOMEM. */
int weft_bufwriter_init(weft_bufwriter *w, weft_bytes *b, size_t capacity);
/* The same, allocated: *out is set on 0. */
int weft_bufwriter_create(weft_bufwriter **out, weft_bytes *b,
			  size_t capacity);
/* Frees the buffer (and w, from _create). Bytes not yet sent are dropped:
 * flush first. NULL is ignored. */
void weft_bufwriter_destroy(weft_bufwriter *w);
/* Bytes buffered, not yet taken by the stream. */
size_t weft_bufwriter_buffered(const weft_bufwriter *w);
/* Copies len bytes into the buffer when they fit: returns 0, or -ENOBUFS
 * (nothing copied: write them with the future, which sends first). For
 * encoders that build a message in pieces. */
int weft_bufwriter_put(weft_bufwriter *w, const void *buf, size_t len);

/* Future: writes all of buf (copied into the buffer when it fits, sent
 * with the buffered bytes when it does not; see the header comment).
 * res = len, or the stream's -errno (`done` bytes were taken), -EINVAL
 * (w NULL). The bytes are read at each poll: keep them until READY. */
typedef struct weft_bufwriter_write {
	weft_bufwriter *w;
	const void *buf;
	size_t len;
	size_t done;          /* bytes of buf buffered or sent so far */
	intptr_t res;
} weft_bufwriter_write;
WEFT_FUTURE_EXTERN(weft_bufwriter_write);

void weft_bufwriter_write_init(weft_bufwriter_write *f, weft_bufwriter *w,
			       const void *buf, size_t len);
weft_poll weft_bufwriter_write_poll(weft_bufwriter_write *f, weft_cx *cx);
void weft_bufwriter_write_drop(weft_bufwriter_write *f);

/* Future: sends every buffered byte and flushes the stream (flush_init),
 * or then shuts it down (shutdown_init: no more sending). res = 0 or the
 * stream's -errno (bytes not taken stay buffered: a later flush retries),
 * -EINVAL (w NULL). Dropped before READY: what the stream took is sent,
 * the rest stays buffered. */
typedef struct weft_bufwriter_flush {
	weft_bufwriter *w;
	bool shutdown;
	intptr_t res;
} weft_bufwriter_flush;
WEFT_FUTURE_EXTERN(weft_bufwriter_flush);

void weft_bufwriter_flush_init(weft_bufwriter_flush *f, weft_bufwriter *w);
void weft_bufwriter_shutdown_init(weft_bufwriter_flush *f, weft_bufwriter *w);
weft_poll weft_bufwriter_flush_poll(weft_bufwriter_flush *f, weft_cx *cx);
void weft_bufwriter_flush_drop(weft_bufwriter_flush *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BUFIO_H */
