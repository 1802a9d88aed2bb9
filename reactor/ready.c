/* reactor/ready.c - readiness on any descriptor (weft/fd.h): the
 * weft_fd_ready future (one single-shot IORING_OP_POLL_ADD per wait), and
 * weft_fd_read / weft_fd_write, which try the system call on the polling
 * thread and wait for readiness only when it gives EAGAIN.
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

/* Runs after a wait of *rd completed or when none is in flight: whether
 * the caller may try its system call now (*stop set and the error in
 * *err when the wait failed). PENDING while a wait is in flight. */
static weft_poll await_ready(weft_fd_ready *rd, weft_cx *cx, intptr_t *err)
{
	*err = 0;
	if (!rd->op)
		return WEFT_READY;
	if (weft_fd_ready_poll(rd, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	if (rd->res < 0)
		*err = rd->res;
	return WEFT_READY;
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

weft_poll weft_fd_read_poll(weft_fd_read *f, weft_cx *cx)
{
	intptr_t err;
	ssize_t n;

	for (;;) {
		bool waited = f->ready.op != NULL;

		if (await_ready(&f->ready, cx, &err) == WEFT_PENDING)
			return WEFT_PENDING;
		if (err < 0) {
			f->res = err;
			return WEFT_READY;
		}
		/* a read that never waits still spends the task's budget
		 * (a completed wait spent it in weft__op_poll) */
		if (!waited && !weft_coop_proceed(cx))
			return WEFT_PENDING;
		do
			n = read(f->fd, f->buf, f->len);
		while (n < 0 && errno == EINTR);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			f->res = n >= 0 ? (intptr_t)n : -errno;
			return WEFT_READY;
		}
		weft_fd_readable_init(&f->ready, f->fd);
		if (weft_fd_ready_poll(&f->ready, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->ready.res < 0) {
			f->res = f->ready.res;
			return WEFT_READY;
		}
	}
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

weft_poll weft_fd_write_poll(weft_fd_write *f, weft_cx *cx)
{
	intptr_t err;
	ssize_t n;

	for (;;) {
		bool waited = f->ready.op != NULL;

		if (await_ready(&f->ready, cx, &err) == WEFT_PENDING)
			return WEFT_PENDING;
		if (err < 0) {
			f->res = err;
			return WEFT_READY;
		}
		if (f->done == f->len) {
			f->res = (intptr_t)f->len;
			return WEFT_READY;
		}
		if (!waited && !weft_coop_proceed(cx))
			return WEFT_PENDING;
		n = write_nosigpipe(f->fd, (const char *)f->buf + f->done,
				    f->len - f->done);
		if (n > 0) {
			f->done += (size_t)n;
			continue;
		}
		if (n != -EAGAIN && n != -EWOULDBLOCK) {
			f->res = n < 0 ? n : -EIO;
			return WEFT_READY;
		}
		weft_fd_writable_init(&f->ready, f->fd);
		if (weft_fd_ready_poll(&f->ready, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->ready.res < 0) {
			f->res = f->ready.res;
			return WEFT_READY;
		}
	}
}

void weft_fd_write_drop(weft_fd_write *f)
{
	weft_fd_ready_drop(&f->ready);
}

WEFT_FUTURE_DEFINE(weft_fd_write, weft_fd_write_drop);
