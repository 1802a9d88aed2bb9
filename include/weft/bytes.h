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
#include "io.h"

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

/* -------------------------------------------------------- constructors */

struct weft_stream;
struct weft__fd;

/* A byte stream over one of weft's own TCP or Unix streams (weft/net.h):
 * takes over the handle s (weft_bytes_drop drops it). Reads come straight
 * from the stream's receive queue (poll_fill lends the kernel's provided
 * buffer itself: a buffered reader copies once), with the single-shot
 * receive of net.h as the fallback; bytes a fallback receive got and the
 * caller did not take stay in the stream (at most 64 KiB). A write is
 * tried at once with a non-blocking send(2); what the socket does not take
 * (at most 256 KiB) is copied into one send operation owned by the stream
 * and counts as taken: the next write, flush or shutdown is PENDING until
 * it completes, and reports its error (the first write error sticks: every
 * later write, flush and shutdown returns it). Shutdown is flush, then
 * shutdown(SHUT_WR). fd is the socket; name "tcp" or "unix". Releasing
 * cancels what is in flight (a taken but unsent chunk is lost: shut down
 * first) and drops the stream.
 * Returns 0 with *out set, -EINVAL (NULL argument) or -ENOMEM; on error
 * the stream stays the caller's. */
int weft_bytes_from_stream(weft_bytes **out, struct weft_stream *s);

/* A byte stream over any non-seekable descriptor: a pipe, FIFO, terminal,
 * character device, or a socket someone else made (name "pipe"). Reads
 * and writes are io_uring IORING_OP_READ / IORING_OP_WRITE operations
 * owned by the stream, so the descriptor's file status flags are left as
 * they are: O_NONBLOCK is neither needed nor set (on a blocking
 * descriptor the kernel runs the operation in its worker pool; setting
 * O_NONBLOCK on an inherited stdio descriptor would change it for every
 * process sharing the open file description). When the descriptor already
 * is O_NONBLOCK, writes are first tried with write(2). A read fills the
 * stream's own buffer (64 KiB; poll_fill lends it) and what the caller did
 * not take stays there for the next read; writes take at most 256 KiB into
 * one in-flight write operation, as weft_bytes_from_stream's do. Shutdown
 * flushes, then: shutdown(SHUT_WR) on a socket; on a write-only
 * descriptor, closes the stream's descriptor so the reader sees end of
 * file; otherwise nothing more. fd() is the descriptor (the duplicate with
 * WEFT_BYTES_FD_KEEP).
 * Without flags the stream owns fd and release closes it (once nothing in
 * flight still names it); on error fd stays the caller's. Returns 0 with
 * *out set, -EINVAL (fd < 0, NULL out, unknown flags), -ESPIPE (a regular
 * file or block device: use weft/io.h), -EBADF, -EMFILE (the duplicate)
 * or -ENOMEM. */
int weft_bytes_from_fd(weft_bytes **out, int fd, unsigned flags);

/* weft_bytes_from_fd flag: release leaves fd open (the stream works on a
 * duplicate, F_DUPFD_CLOEXEC). */
#define WEFT_BYTES_FD_KEEP 0x1u

/* weft_bytes_from_fd(out, 0, 1 or 2, WEFT_BYTES_FD_KEEP): stdio is never
 * closed (nor made non-blocking) by weft. */
int weft_bytes_stdin(weft_bytes **out);
/* weft_bytes_stdin's twin for descriptor 1 (kept open). */
int weft_bytes_stdout(weft_bytes **out);
/* weft_bytes_stdin's twin for descriptor 2 (kept open). */
int weft_bytes_stderr(weft_bytes **out);

/* An in-memory duplex pair (name "duplex"): what *a writes *b reads and
 * the other way round. Each direction is a ring of cap bytes (cap 0:
 * 64 KiB; at most 1 GiB): a write takes what fits and is PENDING while the
 * ring is full (back-pressure); poll_fill lends the ring's oldest bytes.
 * Flush is immediate (written bytes are the peer's already). Shutting down
 * one side gives the other side's reads end of stream once they have
 * taken what was written; releasing one side does the same and makes the
 * other side's writes fail with -EPIPE. The two sides may be used by
 * tasks on different workers (a lock per direction; wakers are woken
 * outside it). Returns 0 with both set, -EINVAL or -ENOMEM. */
int weft_bytes_duplex(weft_bytes **a, weft_bytes **b, size_t cap);

/* ----------------------------------------------------------------- splice */

/* Moves up to len bytes from fd_in to fd_out without copying them through
 * user space: one IORING_OP_SPLICE (one side must be a pipe). off_in and
 * off_out are offsets for seekable descriptors, or -1 (the descriptor's
 * current position / none, as pipes and sockets need). res = bytes moved
 * (0 at end of input), or -errno (-EINVAL: the kernel cannot splice these
 * descriptors; -EBADF, -ENODEV without a runtime with I/O, -ENOMEM, ...).
 * The future duplicates both descriptors at its first poll (released with
 * the operation), so closing them after _init is safe; dropping it cancels
 * the operation (bytes already moved into a pipe stay in the pipe). */
typedef struct weft_splice {
	int fd_in, fd_out;
	int64_t off_in, off_out;
	size_t len;
	unsigned flags;               /* SPLICE_F_*; init sets SPLICE_F_MOVE */
	struct weft__fd *in, *out;    /* private: counted descriptors */
	struct weft__op *op;          /* private */
	intptr_t res;
} weft_splice;
WEFT_FUTURE_EXTERN(weft_splice);

void weft_splice_init(weft_splice *f, int fd_in, int64_t off_in, int fd_out,
		      int64_t off_out, size_t len);
weft_poll weft_splice_poll(weft_splice *f, weft_cx *cx);
void weft_splice_drop(weft_splice *f);

/* ------------------------------------------------------------------- copy */

/* One direction of a copy (private: a part of the copy futures). */
struct weft__copy_dir {
	weft_bytes *from, *to;
	int state;
	bool splice, lent;
	uint64_t count;
	unsigned char *buf;           /* read loop: 64 KiB, malloc'ed */
	const void *data;             /* what to write next */
	size_t len, off;
	weft_bytes_write w;
	weft_bytes_flush f;
	weft_splice sp;
	struct weft__fd *pipe_r, *pipe_w;
	size_t in_pipe;               /* bytes in the pipe still to move */
	intptr_t res;
};

/* Copies everything from `from` to `to`: reads until end of stream,
 * writes each chunk in full, then flushes `to` (it is not shut down).
 * res = bytes copied, or the first error (-errno of either side;
 * dir.count says how many bytes were written until then).
 * Bounded: with poll_fill the reader's own buffer is written from (no
 * copy in the future), else a 64 KiB buffer the future allocates (freed at
 * READY or _drop); -ENOMEM when it cannot. Zero copy: when both ends are
 * weft's own kernel streams (weft_bytes_from_stream, weft_bytes_from_fd)
 * and `from` holds nothing received yet, the bytes move through a pipe of
 * the future's with IORING_OP_SPLICE (after `to` is flushed); when the
 * kernel refuses (-EINVAL on the first splice) the read/write loop is
 * used. Dropping the future stops the copy: bytes already read and not yet
 * written (or in the pipe) are lost, so drop a copy only when the streams
 * are abandoned too. Neither stream is released. */
typedef struct weft_bytes_copy {
	struct weft__copy_dir dir;
	intptr_t res;
} weft_bytes_copy;
WEFT_FUTURE_EXTERN(weft_bytes_copy);

void weft_bytes_copy_init(weft_bytes_copy *c, weft_bytes *from,
			  weft_bytes *to);
weft_poll weft_bytes_copy_poll(weft_bytes_copy *c, weft_cx *cx);
void weft_bytes_copy_drop(weft_bytes_copy *c);

/* Copies both ways at once between a and b (a proxy): a's bytes to b and
 * b's to a, each direction as weft_bytes_copy does it. When one side's
 * reads end, the other side is shut down (the half-close is passed on)
 * and the other direction goes on until its end. res = 0 when both
 * directions ended, with the counts in a_to_b and b_to_a; or the first
 * error of either direction (the other is stopped; the counts say how far
 * each got). The streams are neither released nor shut down on error. */
typedef struct weft_bytes_copy_bidirectional {
	struct weft__copy_dir ab, ba;
	uint64_t a_to_b, b_to_a;
	intptr_t res;
} weft_bytes_copy_bidirectional;
WEFT_FUTURE_EXTERN(weft_bytes_copy_bidirectional);

void weft_bytes_copy_bidirectional_init(weft_bytes_copy_bidirectional *c,
					weft_bytes *a, weft_bytes *b);
weft_poll weft_bytes_copy_bidirectional_poll(
	weft_bytes_copy_bidirectional *c, weft_cx *cx);
void weft_bytes_copy_bidirectional_drop(
	weft_bytes_copy_bidirectional *c);

/* Sends len bytes of the file file_fd from offset off to the stream `to`
 * (an HTTP server's static files): splice file -> pipe -> socket when `to`
 * is one of weft's kernel streams, else the file is read (io_uring reads,
 * 64 KiB at a time) and written. len 0: up to the end of the file. res =
 * bytes sent (fewer than len only when the file is shorter), or -errno.
 * file_fd is duplicated at the first poll (the caller keeps its own); `to`
 * is flushed first and at the end, not shut down. Dropping it stops the
 * transfer (what was taken may be partly sent). */
typedef struct weft_bytes_sendfile {
	int file_fd;
	uint64_t off, len;
	uint64_t sent;                /* bytes sent so far */
	struct weft__copy_dir dir;    /* private: the stream side */
	weft_file *file;              /* private: the duplicate */
	weft_file_read rd;            /* private: the read fallback */
	intptr_t res;
} weft_bytes_sendfile;
WEFT_FUTURE_EXTERN(weft_bytes_sendfile);

void weft_bytes_sendfile_init(weft_bytes_sendfile *s, int file_fd,
			      uint64_t off, uint64_t len, weft_bytes *to);
weft_poll weft_bytes_sendfile_poll(weft_bytes_sendfile *s, weft_cx *cx);
void weft_bytes_sendfile_drop(weft_bytes_sendfile *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_BYTES_H */
