/* weft/fd.h - readiness on any file descriptor: wait until a caller's fd
 * is readable or writable (IORING_OP_POLL_ADD), and read or write a
 * non-blocking fd, waiting for readiness when it would block.
 *
 * This is the bridge to everything weft does not wrap itself: pipes,
 * eventfds, signalfds, pidfds, character devices, and the sockets of a
 * foreign library that does its own I/O on non-blocking descriptors
 * (c-ares, libpq, non-blocking OpenSSL, libcurl's multi interface). The
 * pattern is the one of poll(2): try the operation; on EAGAIN, await
 * readiness, then try again (docs/guide.md, "Readiness on any fd", has a
 * worked non-blocking connect).
 *
 * The descriptor stays the caller's: weft never closes it, never changes
 * its flags, and keeps no state about it between futures. Each wait is one
 * single-shot IORING_OP_POLL_ADD: level-triggered (a descriptor that is
 * ready when the wait starts completes it at once), one completion per
 * wait. Multishot polls (IORING_POLL_ADD_MULTI, kernel 5.13) are not used
 * here: a multishot poll needs an owner that outlives each wait (the
 * multishot completions of a wait nobody polls would have to be stored
 * somewhere), and these futures own nothing between waits; a wait costs
 * one submission and one completion, which every supported kernel has.
 *
 * Closing the descriptor under a wait: the kernel's poll holds its own
 * reference to the open file, so a close(2) of the fd number during a
 * wait neither completes the wait nor makes it fail: it goes on watching
 * the open file, and completes when that file becomes ready (for a pipe's
 * read end whose fd was closed: when the write end writes or is closed,
 * with POLLIN or POLLHUP). A wait whose descriptor is closed before the
 * kernel armed its poll (the reactor submits it shortly after the first
 * poll of the future) gives -EBADF, as does a wait on a descriptor that is
 * not open: a close during a wait therefore either gives -EBADF or leaves
 * the wait watching the old file, never anything else. So close a
 * descriptor only
 * after dropping the futures that wait on it; the fd number may otherwise
 * be reused by an unrelated open while the old file is still watched.
 *
 * Errors: every future here gives -EBADF (fd < 0 or not open), -ENODEV
 * (no runtime with I/O enabled polls it), -ENOMEM (no operation record)
 * and -ECANCELED (the runtime shut down first); weft_fd_ready gives
 * -EINVAL when events is 0; weft_fd_read and weft_fd_write give the
 * errno of read(2) and write(2) (-EPIPE: the read end of a pipe is
 * closed; -EIO, -EINVAL, ...).
 *
 * Cancellation: dropping a future at any point is safe and loses nothing:
 * a wait in flight is cancelled (IORING_OP_ASYNC_CANCEL) and its record
 * freed on its final completion; weft_fd_read and weft_fd_write only read
 * or write while being polled, so a dropped one has moved no bytes that it
 * did not report. Call _drop from the enclosing frame's drop function;
 * after READY it is a no-op. Debug builds abort when _init finds the
 * future's wait still in flight (call _drop first).
 *
 * Threads: a descriptor may be waited on by any number of futures, from
 * any threads, at once; each is completed by its own poll. Each future is
 * polled by the task that holds it.
 */
#ifndef WEFT_FD_H
#define WEFT_FD_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct weft__op;
struct weft__fd;

/* ---------------------------------------------------------------- ready */

/* Waits until fd has one of events (POLLIN, POLLOUT, POLLPRI, POLLRDHUP,
 * or'ed): READY with res = the revents mask the kernel reported (> 0; it
 * may include POLLERR, POLLHUP or POLLNVAL, which are always watched), or
 * res < 0. Readiness is a hint, as with poll(2): the operation that
 * follows may still give EAGAIN (another reader took the data), and the
 * caller then waits again. weft_fd_readable_init and
 * weft_fd_writable_init are weft_fd_ready_init with POLLIN and POLLOUT. */
typedef struct weft_fd_ready {
	int fd;
	unsigned events;          /* POLL* bits asked for */
	struct weft__fd *obj;     /* private: a counted fd weft owns, or NULL */
	struct weft__op *op;      /* private */
	intptr_t res;             /* revents, or a negative errno */
} weft_fd_ready;
WEFT_FUTURE_EXTERN(weft_fd_ready);

void weft_fd_ready_init(weft_fd_ready *f, int fd, unsigned events);
weft_poll weft_fd_ready_poll(weft_fd_ready *f, weft_cx *cx);
void weft_fd_ready_drop(weft_fd_ready *f);

/* weft_fd_ready_init(f, fd, POLLIN): readable, or at end of file/hang-up
 * (POLLHUP), or in error (POLLERR). */
void weft_fd_readable_init(weft_fd_ready *f, int fd);
/* weft_fd_ready_init(f, fd, POLLOUT): writable (room for at least one
 * byte; PIPE_BUF bytes for a pipe), or in error. */
void weft_fd_writable_init(weft_fd_ready *f, int fd);

/* ----------------------------------------------------------------- read */

/* Reads up to len bytes from a non-blocking fd: read(2) at once; on EAGAIN
 * waits until the fd is readable and reads again. res = bytes read (0 at
 * end of file: the write end of a pipe closed, the peer's FIN), or a
 * negative errno. At most len bytes land in buf, which must stay valid
 * until READY or _drop: the read is done by the polling thread into buf
 * directly, never while the kernel waits. A blocking fd is read too, but
 * then blocks the polling thread: set O_NONBLOCK first. */
typedef struct weft_fd_read {
	int fd;
	void *buf;
	size_t len;
	weft_fd_ready ready;      /* private */
	intptr_t res;
} weft_fd_read;
WEFT_FUTURE_EXTERN(weft_fd_read);

void weft_fd_read_init(weft_fd_read *f, int fd, void *buf, size_t len);
weft_poll weft_fd_read_poll(weft_fd_read *f, weft_cx *cx);
void weft_fd_read_drop(weft_fd_read *f);

/* ---------------------------------------------------------------- write */

/* Writes len bytes from buf to a non-blocking fd: write(2) at once, again
 * after waiting for writability on EAGAIN, until all are written (res =
 * len) or an error (res < 0; bytes written before it are lost to the
 * caller's count only: `done` holds them). A write to a pipe whose read
 * end is closed gives -EPIPE, never SIGPIPE: the write runs with SIGPIPE
 * blocked in the polling thread and a SIGPIPE it raised is consumed
 * (sigtimedwait) before the mask is restored; a SIGPIPE that was already
 * pending for the thread is left pending. buf must stay valid until READY
 * or _drop. */
typedef struct weft_fd_write {
	int fd;
	const void *buf;
	size_t len;
	size_t done;              /* bytes written so far */
	weft_fd_ready ready;      /* private */
	intptr_t res;
} weft_fd_write;
WEFT_FUTURE_EXTERN(weft_fd_write);

void weft_fd_write_init(weft_fd_write *f, int fd, const void *buf,
			size_t len);
weft_poll weft_fd_write_poll(weft_fd_write *f, weft_cx *cx);
void weft_fd_write_drop(weft_fd_write *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_FD_H */
