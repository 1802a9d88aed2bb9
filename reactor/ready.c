/* reactor/ready.c - readiness on any descriptor (weft/fd.h): the
 * weft_fd_ready future (one single-shot IORING_OP_POLL_ADD per wait), and
 * weft_fd_read / weft_fd_write, which try the system call on the polling
 * thread and wait for readiness only when it gives EAGAIN (one loop,
 * fd_io_poll, taking the call). The multishot watcher is watch.c.
 *
 * A wait is an IO-kind record (op.c): the reactor arms its POLL_ADD, a
 * dropped wait is cancelled and freed on its final completion, so the
 * rules of reactor.h hold unchanged. The record names the descriptor by
 * number, and holds a reference to the counted fd object when weft owns
 * the descriptor (signal streams, pidfds: weft__fd_ready_init_obj), so
 * that one is never closed under a poll. No atomics here.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "weft/fd.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"
#include "reactor/ready.h"

#define CHECK_IDLE(op, where, fix)                                          \
	WEFT_DEBUG_CHECK(!(op), where,                                      \
			 "the wait is still in flight (its record would "   \
			 "leak); call " fix " first")

/* ---------------------------------------------------------------- ready */

static void ready_setup(weft_fd_ready *f, int fd, struct weft__fd *obj,
			unsigned events)
{
	CHECK_IDLE(f->op, "weft_fd_ready_init", "weft_fd_ready_drop");
	f->fd = fd;
	f->events = events;
	f->obj = obj;
	f->op = NULL;
	f->res = 0;
}

void weft_fd_ready_init(weft_fd_ready *f, int fd, unsigned events)
{
	ready_setup(f, fd, NULL, events);
}

void weft__fd_ready_init_obj(weft_fd_ready *f, struct weft__fd *obj,
			     unsigned events)
{
	ready_setup(f, obj->fd, obj, events);
}

void weft_fd_readable_init(weft_fd_ready *f, int fd)
{
	ready_setup(f, fd, NULL, POLLIN);
}

void weft_fd_writable_init(weft_fd_ready *f, int fd)
{
	ready_setup(f, fd, NULL, POLLOUT);
}

static weft_poll ready_finish(weft_fd_ready *f, intptr_t res)
{
	f->res = res;
	return WEFT_READY;
}

/* Allocates and submits the POLL_ADD record: 0 or -errno. */
static int ready_arm(weft_fd_ready *f, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	struct weft__op *op;

	if (!r)
		return -ENODEV;
	op = weft__op_alloc(r, WEFT__OP_IO, f->obj, 0);
	if (!op)
		return -ENOMEM;
	io_uring_prep_poll_add(&op->sqe, f->fd, f->events);
	op->waker = weft_waker_clone(&cx->waker);
	f->op = op;
	weft__op_submit(op);
	return 0;
}

weft_poll weft_fd_ready_poll(weft_fd_ready *f, weft_cx *cx)
{
	int32_t res;
	int err;

	if (!f->op) {
		if (f->fd < 0)
			return ready_finish(f, -EBADF);
		if (f->events == 0)
			return ready_finish(f, -EINVAL);
		err = ready_arm(f, cx);
		if (err < 0)
			return ready_finish(f, err);
		return WEFT_PENDING;
	}
	if (weft__op_poll(f->op, cx, &res) == WEFT_PENDING)
		return WEFT_PENDING;
	weft__op_drop(f->op);
	f->op = NULL;
	return ready_finish(f, res);
}

void weft_fd_ready_drop(weft_fd_ready *f)
{
	if (f->op) {
		weft__op_drop(f->op);
		f->op = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_fd_ready, weft_fd_ready_drop);

/* One system call on a non-blocking fd, or -errno. */
typedef ssize_t (*fd_call)(void *f);

/* The loop weft_fd_read and weft_fd_write share: finishes the wait in
 * *rd if one is in flight, then calls call(f) (on the polling thread);
 * on EAGAIN waits for `events` on fd and calls again. READY with *out =
 * what the call returned (>= 0, or a -errno other than EAGAIN) or the
 * wait's error; PENDING while a wait is in flight. A call made without
 * waiting first spends the task's budget (a completed wait spent it in
 * weft__op_poll). */
static weft_poll fd_io_poll(weft_fd_ready *rd, weft_cx *cx, int fd,
			    unsigned events, fd_call call, void *f,
			    intptr_t *out)
{
	for (;;) {
		bool waited = rd->op != NULL;
		ssize_t n;

		if (waited) {
			if (weft_fd_ready_poll(rd, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (rd->res < 0) {
				*out = rd->res;
				return WEFT_READY;
			}
		} else if (!weft_coop_proceed(cx)) {
			return WEFT_PENDING;
		}
		n = call(f);
		if (n != -EAGAIN && n != -EWOULDBLOCK) {
			*out = n;
			return WEFT_READY;
		}
		ready_setup(rd, fd, NULL, events);
		if (weft_fd_ready_poll(rd, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (rd->res < 0) {
			*out = rd->res;
			return WEFT_READY;
		}
	}
}

/* ----------------------------------------------------------------- read */

void weft_fd_read_init(weft_fd_read *f, int fd, void *buf, size_t len)
{
	CHECK_IDLE(f->ready.op, "weft_fd_read_init", "weft_fd_read_drop");
	f->fd = fd;
	f->buf = buf;
	f->len = len;
	f->ready.op = NULL;
	f->res = 0;
}

static ssize_t read_call(void *arg)
{
	weft_fd_read *f = arg;
	ssize_t n;

	do
		n = read(f->fd, f->buf, f->len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

weft_poll weft_fd_read_poll(weft_fd_read *f, weft_cx *cx)
{
	return fd_io_poll(&f->ready, cx, f->fd, POLLIN, read_call, f,
			  &f->res);
}

void weft_fd_read_drop(weft_fd_read *f)
{
	weft_fd_ready_drop(&f->ready);
}

WEFT_FUTURE_DEFINE(weft_fd_read, weft_fd_read_drop);

/* ---------------------------------------------------------------- write */

void weft_fd_write_init(weft_fd_write *f, int fd, const void *buf,
			size_t len)
{
	CHECK_IDLE(f->ready.op, "weft_fd_write_init", "weft_fd_write_drop");
	f->fd = fd;
	f->buf = buf;
	f->len = len;
	f->done = 0;
	f->ready.op = NULL;
	f->res = 0;
}

/* write(2) with SIGPIPE blocked in this thread; a SIGPIPE the write
 * raised is taken back before the mask is restored (one that was pending
 * before stays pending). Bytes written or -errno. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe, old, pending;
	bool was_pending;
	ssize_t n;
	int err;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	err = n < 0 ? errno : 0;
	if (err == EPIPE && !was_pending) {
		while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n < 0 ? -err : n;
}

static ssize_t write_call(void *arg)
{
	weft_fd_write *f = arg;

	return write_nosigpipe(f->fd, (const char *)f->buf + f->done,
			       f->len - f->done);
}

weft_poll weft_fd_write_poll(weft_fd_write *f, weft_cx *cx)
{
	intptr_t n;

	while (f->done < f->len) {
		if (fd_io_poll(&f->ready, cx, f->fd, POLLOUT, write_call, f,
			       &n) == WEFT_PENDING)
			return WEFT_PENDING;
		if (n <= 0) {
			f->res = n < 0 ? n : -EIO;
			return WEFT_READY;
		}
		f->done += (size_t)n;
	}
	f->res = (intptr_t)f->len;
	return WEFT_READY;
}

void weft_fd_write_drop(weft_fd_write *f)
{
	weft_fd_ready_drop(&f->ready);
}

WEFT_FUTURE_DEFINE(weft_fd_write, weft_fd_write_drop);
