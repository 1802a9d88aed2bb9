/* reactor/splice.c - the weft_splice op future (weft/bytes.h): one
 * IORING_OP_SPLICE. The record holds a counted reference on both
 * descriptors (op->fd, op->fd2), so neither is closed while the kernel may
 * still use it; the public form duplicates the caller's descriptors into
 * such references at its first poll. No atomics here. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "weft/bytes.h"
#include "reactor/bytes_stream.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

static void splice_setup(weft_splice *f, int fd_in, int64_t off_in,
			 int fd_out, int64_t off_out, size_t len,
			 const char *where)
{
	WEFT_DEBUG_CHECK(!f->op, where,
			 "the splice is still in flight (its record would "
			 "leak); call weft_splice_drop first");
	(void)where;
	f->fd_in = fd_in;
	f->fd_out = fd_out;
	f->off_in = off_in;
	f->off_out = off_out;
	f->len = len;
	f->flags = SPLICE_F_MOVE;
	f->in = f->out = NULL;
	f->op = NULL;
	f->res = 0;
}

void weft_splice_init(weft_splice *f, int fd_in, int64_t off_in, int fd_out,
		      int64_t off_out, size_t len)
{
	splice_setup(f, fd_in, off_in, fd_out, off_out, len,
		     "weft_splice_init");
}

void weft__splice_init_fds(weft_splice *f, struct weft__fd *in,
			   int64_t off_in, struct weft__fd *out,
			   int64_t off_out, size_t len)
{
	splice_setup(f, in->fd, off_in, out->fd, off_out, len,
		     "weft_splice_init");
	f->in = weft__fd_get(in);
	f->out = weft__fd_get(out);
}

static void splice_unref(weft_splice *f)
{
	weft__fd_put(f->in);
	weft__fd_put(f->out);
	f->in = f->out = NULL;
}

void weft_splice_drop(weft_splice *f)
{
	if (f->op) {
		weft__op_drop(f->op);
		f->op = NULL;
	}
	splice_unref(f);
}

/* A counted duplicate of fd, or NULL with *err set. */
static struct weft__fd *dup_fd(int fd, int *err)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	struct weft__fd *f;

	if (d < 0) {
		*err = -errno;
		return NULL;
	}
	f = weft__fd_new(d, 0);
	if (!f)
		*err = -ENOMEM;
	return f;
}

static int splice_start(weft_splice *f, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	struct weft__op *op;
	int err = 0;

	if (!r)
		return -ENODEV;
	if (f->len > 0x7fffffffu)
		f->len = 0x7fffffffu;
	if (!f->in) {
		if (f->fd_in < 0 || f->fd_out < 0)
			return -EBADF;
		f->in = dup_fd(f->fd_in, &err);
		if (!f->in)
			return err;
		f->out = dup_fd(f->fd_out, &err);
		if (!f->out)
			return err;
	}
	op = weft__op_alloc(r, WEFT__OP_IO, f->in, 0);
	if (!op)
		return -ENOMEM;
	op->fd2 = weft__fd_get(f->out);
	io_uring_prep_splice(&op->sqe, f->in->fd, f->off_in, f->out->fd,
			     f->off_out, (unsigned)f->len, f->flags);
	op->waker = weft_waker_clone(&cx->waker);
	f->op = op;
	weft__op_submit(op);
	return 0;
}

weft_poll weft_splice_poll(weft_splice *f, weft_cx *cx)
{
	int32_t res;

	if (!f->op) {
		int err = f->len ? splice_start(f, cx) : 0;

		if (err || !f->len) {
			f->res = err;
			splice_unref(f);
			return WEFT_READY;
		}
	}
	if (weft__op_poll(f->op, cx, &res) == WEFT_PENDING)
		return WEFT_PENDING;
	weft__op_drop(f->op);
	f->op = NULL;
	splice_unref(f);
	f->res = res;
	return WEFT_READY;
}

WEFT_FUTURE_DEFINE(weft_splice, weft_splice_drop);
