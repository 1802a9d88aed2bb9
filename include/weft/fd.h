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
 * The descriptor stays the caller's: weft never closes it and never
 * changes its flags. Two ways to wait:
 *
 *   weft_fd_ready (and weft_fd_read/_write on it): one single-shot
 *   IORING_OP_POLL_ADD per wait, level-triggered (a descriptor that is
 *   ready when the wait starts completes it at once); the future owns
 *   nothing between waits. For one-off waits.
 *
 *   weft_fd_watch (below): a watcher handle that keeps one multishot
 *   POLL_ADD (IORING_POLL_ADD_MULTI) armed while it lives and remembers
 *   the readiness the kernel reported until a wait takes it. A wait that
 *   finds readiness recorded completes at once; one that does not costs
 *   no submission, only the completion that ends it. For descriptors
 *   waited on again and again (a foreign library's socket, an eventfd).
 *
 * (The rest of this comment is about weft_fd_ready; weft_fd_watch has its
 * own below.)
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
#include <stdbool.h>
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

/* ---------------------------------------------------------------- watch */

/* A watcher: one multishot POLL_ADD on fd, kept armed from the first wait
 * until weft_fd_watch_destroy, so that a descriptor waited on in a loop
 * costs one submission in all instead of one per wait.
 *
 * Readiness is edge-recorded, as with epoll's EPOLLET: each completion the
 * kernel posts (the fd became readable, writable, hung up, ...) is or'ed
 * into the watcher's record, one set of bits per direction (readable:
 * POLLIN, POLLPRI, POLLRDHUP; writable: POLLOUT; POLLERR, POLLHUP and
 * POLLNVAL go to both). A wait takes its direction's bits: READY at once
 * when some are recorded (readiness that arrived while nobody waited is
 * never lost), else PENDING until the next completion for it. The rule
 * that follows, as for EPOLLET: after a wait completes, do the operation
 * until it gives EAGAIN before waiting again; a wait after a partial read
 * may sleep although bytes are left. Readiness is a hint here too (a
 * recorded edge may be one whose bytes a read since then already took:
 * the read gives EAGAIN and the caller waits again).
 *
 * The kernel may end a multishot poll on its own (a completion without
 * IORING_CQE_F_MORE: its completion queue overflowed, ...): the watcher
 * then wakes both waits, and the next wait that finds nothing recorded
 * arms it again (the new POLL_ADD reports the level the fd is at then, so
 * no readiness is lost across the gap). A kernel without multishot polls
 * (before 5.13) refuses the first one; the watcher then arms single-shot
 * polls, one per wait that finds nothing recorded.
 *
 * Errors: weft_fd_watch_create gives -EBADF (fd < 0), -EINVAL (events
 * has no POLLIN, POLLPRI, POLLRDHUP or POLLOUT, or other bits) or
 * -ENOMEM. A wait gives -EINVAL (events not a subset of the watcher's, or
 * of both directions), -ENODEV (no runtime with I/O enabled polls it),
 * -ENOMEM (no operation record), -ECANCELED (the watcher was destroyed,
 * or the runtime shut down first), and the error the kernel's poll gave
 * (-EBADF: fd not open when the poll was armed); an error is kept and
 * every later wait on the watcher gives it too.
 *
 * Closing the descriptor: as for weft_fd_ready (above), the kernel's poll
 * holds the open file; destroy the watcher before closing the fd.
 *
 * Cancellation: dropping a wait at any point is safe and loses nothing
 * (the readiness stays recorded for the next wait). weft_fd_watch_destroy
 * may be called with waits pending: they are woken and give -ECANCELED
 * when polled next (the watcher's memory lives until the last of them is
 * completed or dropped); the poll is cancelled (IORING_OP_ASYNC_CANCEL)
 * once the last one lets go, and its record freed on its final completion.
 *
 * Threads: a watcher may be used from any threads, but takes at most one
 * readable and one writable wait at a time (they may be in different
 * tasks: a reader and a writer); a second wait in the same direction
 * would take the first one's wake-up. The watcher must be alive (not
 * destroyed) at each wait's _init and first poll; a wait that is PENDING
 * keeps it alive by itself. */
typedef struct weft_fd_watch weft_fd_watch;

/* Creates a watcher on fd for events (POLLIN, POLLPRI, POLLRDHUP, POLLOUT,
 * or'ed). Nothing is submitted until the first wait is polled. Returns 0
 * with *out set, or -EBADF, -EINVAL, -ENOMEM (*out is then NULL). */
int weft_fd_watch_create(weft_fd_watch **out, int fd, unsigned events);
/* Ends the watcher (see above: pending waits give -ECANCELED; the poll is
 * cancelled). The fd stays open. NULL is ignored. */
void weft_fd_watch_destroy(weft_fd_watch *w);

/* Waits for readiness recorded on w in one direction: events is POLLIN
 * (or POLLPRI, POLLRDHUP: the readable direction) or POLLOUT (the
 * writable one), and must be among the watcher's. READY with res = the
 * revents recorded for that direction since the last wait took them (> 0;
 * it may hold POLLERR, POLLHUP, POLLNVAL, and bits of that direction that
 * were not asked for), or res < 0. weft_fd_watch_readable_init and
 * weft_fd_watch_writable_init are _init with POLLIN and POLLOUT. */
typedef struct weft_fd_watch_wait {
	weft_fd_watch *w;
	unsigned events;          /* the direction's bits */
	bool held;                /* private: holds a reference on w */
	intptr_t res;             /* revents, or a negative errno */
} weft_fd_watch_wait;
WEFT_FUTURE_EXTERN(weft_fd_watch_wait);

void weft_fd_watch_wait_init(weft_fd_watch_wait *f, weft_fd_watch *w,
			     unsigned events);
weft_poll weft_fd_watch_wait_poll(weft_fd_watch_wait *f, weft_cx *cx);
void weft_fd_watch_wait_drop(weft_fd_watch_wait *f);

void weft_fd_watch_readable_init(weft_fd_watch_wait *f, weft_fd_watch *w);
void weft_fd_watch_writable_init(weft_fd_watch_wait *f, weft_fd_watch *w);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_FD_H */
