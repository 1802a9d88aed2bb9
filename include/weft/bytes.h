/* weft/bytes.h - byte streams: one interface for everything that reads and
 * writes bytes in order (TCP and Unix streams, pipes, stdio, the in-memory
 * duplex pair, TLS), so that buffered reading and writing, codecs and copy
 * are written once against it.
 *
 * A byte stream is an object whose first member is a `weft_bytes`: a
 * pointer to its vtable of poll functions, the contract tokio's AsyncRead,
 * AsyncBufRead and AsyncWrite traits describe, in C:
 *
 *   poll_read(self, cx, buf, len, &res)      READY: res = bytes read into
 *                                            buf (>= 1), 0 at end of
 *                                            stream (or len 0), or -errno
 *   poll_fill(self, cx, &data, &res)         optional (NULL when absent):
 *                                            READY: data points at res >= 1
 *                                            bytes the stream holds (kernel
 *                                            receive buffers for weft's own
 *                                            sockets: no copy), 0 at end of
 *                                            stream, or -errno; valid until
 *                                            the next call on the read side
 *   consume(self, n)                         with poll_fill: n of those
 *                                            bytes are used up
 *   poll_write(self, cx, iov, iovcnt, &res)  READY: res = bytes taken from
 *                                            the iovecs (>= 1 unless they
 *                                            are all empty), or -errno
 *   poll_flush(self, cx, &res)               READY when every byte taken is
 *                                            handed to the kernel (or the
 *                                            peer): res = 0 or -errno
 *   poll_shutdown(self, cx, &res)            flush, then "close": no more
 *                                            sending (the peer reads end of
 *                                            stream); res = 0 or -errno
 *   release(self)                            frees the stream (called by
 *                                            weft_bytes_drop)
 *   fd(self)                                 optional: the descriptor under
 *                                            the stream, for splice; -1 or
 *                                            NULL when there is none
 *
 * The poll contract of core.h holds for each function (PENDING only after
 * registering cx's waker). The state of an operation in progress lives in
 * the stream, not in the caller: a caller may stop polling at any time
 * (its future dropped) and nothing is lost. Bytes a read or fill had
 * received stay in the stream for the next read; bytes a write took are
 * sent (a write's later failure is reported by the next write, flush or
 * shutdown).
 *
 * The futures below (weft_bytes_read, _read_exact, _write, _write_all,
 * _writev, _flush, _shutdown) have the shape of core.h and call the
 * vtable; they hold no kernel resources, so their _drop is trivial, and
 * they are what a task awaits. Buffered reading and writing and codecs
 * are in bufio.h and codec.h; copy in this header.
 *
 * Threads: one task reads and one task writes at a time (they may be
 * different tasks, on different workers); an implementation keeps its read
 * side and its write side apart, or locks between them. Each future here is
 * polled by the task that holds it.
 *
 * Lifetime: a `weft_bytes *` is owned by one holder and released with
 * weft_bytes_drop (which does not flush: shut down first to be sure the
 * peer got everything). The constructors below take over what they wrap.
 */
#ifndef WEFT_BYTES_H
#define WEFT_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_bytes weft_bytes;

typedef struct weft_bytes_vtable {
	weft_poll (*poll_read)(weft_bytes *self, weft_cx *cx, void *buf,
			       size_t len, intptr_t *res);
	weft_poll (*poll_fill)(weft_bytes *self, weft_cx *cx,
			       const void **data, intptr_t *res);
	void (*consume)(weft_bytes *self, size_t n);
	weft_poll (*poll_write)(weft_bytes *self, weft_cx *cx,
				const struct iovec *iov, int iovcnt,
				intptr_t *res);
	weft_poll (*poll_flush)(weft_bytes *self, weft_cx *cx, intptr_t *res);
	weft_poll (*poll_shutdown)(weft_bytes *self, weft_cx *cx,
				   intptr_t *res);
	void (*release)(weft_bytes *self);
	int (*fd)(const weft_bytes *self);
	const char *name;     /* "tcp", "unix", "pipe", "duplex", "tls", ... */
} weft_bytes_vtable;

/* The first member of every byte stream. */
struct weft_bytes {
	const weft_bytes_vtable *vt;
};

/* Releases the stream (vt->release). NULL is ignored. */
void weft_bytes_drop(weft_bytes *b);
/* The descriptor under the stream (for splice, readiness, options), still
 * owned by the stream, or -1. */
int weft_bytes_fd(const weft_bytes *b);

/* ------------------------------------------------------------- futures */

/* Reads some bytes: res = count (>= 1), 0 at end of stream, or -errno. */
typedef struct weft_bytes_read {
	weft_bytes *b;
	void *buf;
	size_t len;
	size_t done;          /* read_exact: bytes in buf so far */
	bool exact;           /* private */
	intptr_t res;
} weft_bytes_read;
WEFT_FUTURE_EXTERN(weft_bytes_read);

void weft_bytes_read_init(weft_bytes_read *r, weft_bytes *b, void *buf,
			  size_t len);
/* Reads exactly len bytes: res = len, or -EPIPE when the stream ends
 * first (`done` says how many bytes arrived: they are in buf), or -errno.
 * Same future as weft_bytes_read. */
void weft_bytes_read_exact_init(weft_bytes_read *r, weft_bytes *b, void *buf,
				size_t len);
weft_poll weft_bytes_read_poll(weft_bytes_read *r, weft_cx *cx);
void weft_bytes_read_drop(weft_bytes_read *r);

/* Writes: some of buf (res = bytes taken, >= 1 unless len is 0), all of
 * buf (res = len), or a gathering write of iovcnt iovecs (all: every
 * byte, else some); or -errno. The iovecs and their bytes are read at each
 * poll: keep them alive until READY or _drop. */
typedef struct weft_bytes_write {
	weft_bytes *b;
	const struct iovec *iov;    /* private: iov/iovcnt, or one */
	int iovcnt;
	bool all;
	struct iovec one;
	size_t total, done;
	intptr_t res;
} weft_bytes_write;
WEFT_FUTURE_EXTERN(weft_bytes_write);

void weft_bytes_write_init(weft_bytes_write *w, weft_bytes *b,
			   const void *buf, size_t len);
void weft_bytes_write_all_init(weft_bytes_write *w, weft_bytes *b,
			       const void *buf, size_t len);
void weft_bytes_writev_init(weft_bytes_write *w, weft_bytes *b,
			    const struct iovec *iov, int iovcnt, bool all);
weft_poll weft_bytes_write_poll(weft_bytes_write *w, weft_cx *cx);
void weft_bytes_write_drop(weft_bytes_write *w);

/* Flush (weft_bytes_flush_init) or shut down (weft_bytes_shutdown_init):
 * res = 0 or -errno. */
typedef struct weft_bytes_flush {
	weft_bytes *b;
	bool shutdown;
	intptr_t res;
} weft_bytes_flush;
WEFT_FUTURE_EXTERN(weft_bytes_flush);

void weft_bytes_flush_init(weft_bytes_flush *f, weft_bytes *b);
void weft_bytes_shutdown_init(weft_bytes_flush *f, weft_bytes *b);
weft_poll weft_bytes_flush_poll(weft_bytes_flush *f, weft_cx *cx);
void weft_bytes_flush_drop(weft_bytes_flush *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BYTES_H */
