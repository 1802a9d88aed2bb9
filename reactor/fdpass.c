/* reactor/fdpass.c - descriptor passing over Unix streams (SCM_RIGHTS,
 * weft/net.h): the weft_unix_send_fds and weft_unix_recv_fds futures.
 *
 * send: tried at once with a non-blocking sendmsg(2) from the polling
 * thread; when the socket is full, the bytes (at most 64 KiB) and the
 * descriptor numbers are copied into an IO record and sent by
 * IORING_OP_SENDMSG (the kernel reads the numbers when it sends, in the
 * submitter's descriptor table: the caller keeps them open until READY).
 *
 * recv: one IORING_OP_RECVMSG into the record's tail, laid out as
 *   [control data: CMSG_SPACE(WEFT_UNIX_FDS_MAX ints), zeroed][bytes]
 * The descriptors the kernel installs belong to the record until the
 * future takes them (it then sets msg_controllen to 0); a record freed
 * with descriptors still in it (the future was dropped after the message
 * arrived) closes them in op.c's IO release (weft__fdpass_close_unclaimed).
 * So no received descriptor is ever leaked. No atomics here: the record
 * lock (op.c) orders the kernel's writes before the owner's reads.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define FD_OF(h) ((struct weft__fd *)(h))
#define FDPASS_DATA_MAX (64u * 1024)
#define CTRL_SPACE CMSG_SPACE(sizeof(int) * WEFT_UNIX_FDS_MAX)

/* Control data aligned for struct cmsghdr. */
union fdpass_ctrl {
	struct cmsghdr h;
	unsigned char buf[CTRL_SPACE];
};

/* Fills msg's control data with one SCM_RIGHTS message of nfds fds. */
static void put_rights(struct msghdr *msg, void *ctrl, const int *fds,
		       int nfds)
{
	struct cmsghdr *c;

	msg->msg_control = ctrl;
	msg->msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
}

/* Calls fn on each descriptor of msg's SCM_RIGHTS messages. */
static void each_passed_fd(struct msghdr *msg, void (*fn)(int fd, void *arg),
			   void *arg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			fn(fd, arg);
		}
	}
}

static void close_one(int fd, void *arg)
{
	(void)arg;
	close(fd);
}

void weft__fdpass_close_unclaimed(struct msghdr *msg)
{
	if (msg->msg_control && msg->msg_controllen)
		each_passed_fd(msg, close_one, NULL);
	msg->msg_controllen = 0;
}

static int check_unix_stream(const weft_stream *s)
{
	return s && FD_OF(s)->domain == AF_UNIX ? 0 : -EINVAL;
}

/* ----------------------------------------------------------------- send */

void weft_unix_send_fds_init(weft_unix_send_fds *f, weft_stream *s,
			     const void *buf, size_t len, const int *fds,
			     int nfds)
{
	WEFT_DEBUG_CHECK(!f->op, "weft_unix_send_fds_init",
			 "the send is still in flight (its record would "
			 "leak); call weft_unix_send_fds_drop first");
	f->s = s;
	f->buf = buf;
	f->len = len;
	f->op = NULL;
	f->res = 0;
	f->nfds = 0;
	if (nfds < 0 || nfds > WEFT_UNIX_FDS_MAX || (nfds && !fds)) {
		f->res = -EINVAL; /* reported at the first poll */
		return;
	}
	if (nfds)
		memcpy(f->fds, fds, sizeof(int) * (size_t)nfds);
	f->nfds = nfds;
}

static int send_fds_by_ring(weft_unix_send_fds *f, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	struct weft__op *op;

	if (!r)
		return -ENODEV;
	op = weft__op_alloc(r, WEFT__OP_IO, FD_OF(f->s), CTRL_SPACE + f->len);
	if (!op)
		return -ENOMEM;
	memset(&op->u.m.msg, 0, sizeof(op->u.m.msg));
	memcpy(op->buf + CTRL_SPACE, f->buf, f->len);
	op->u.m.iov.iov_base = op->buf + CTRL_SPACE;
	op->u.m.iov.iov_len = f->len;
	op->u.m.msg.msg_iov = &op->u.m.iov;
	op->u.m.msg.msg_iovlen = 1;
	if (f->nfds)
		put_rights(&op->u.m.msg, op->buf, f->fds, f->nfds);
	io_uring_prep_sendmsg(&op->sqe, FD_OF(f->s)->fd, &op->u.m.msg,
			      MSG_NOSIGNAL);
	op->waker = weft_waker_clone(&cx->waker);
	f->op = op;
	weft__op_submit(op);
	return 0;
}

/* The direct attempt: bytes taken, or -errno (-EAGAIN: the socket is
 * full). */
static ssize_t send_fds_now(weft_unix_send_fds *f)
{
	union fdpass_ctrl ctrl;
	struct iovec iov = { (void *)f->buf, f->len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	memset(&ctrl, 0, sizeof(ctrl));
	if (f->nfds)
		put_rights(&msg, ctrl.buf, f->fds, f->nfds);
	do
		n = sendmsg(FD_OF(f->s)->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n >= 0 ? n : -errno;
}

weft_poll weft_unix_send_fds_poll(weft_unix_send_fds *f, weft_cx *cx)
{
	int32_t res;
	ssize_t n;

	if (f->op) {
		if (weft__op_poll(f->op, cx, &res) == WEFT_PENDING)
			return WEFT_PENDING;
		weft__op_drop(f->op);
		f->op = NULL;
		f->res = res;
		return WEFT_READY;
	}
	if (f->res < 0)
		return WEFT_READY;
	if (check_unix_stream(f->s) || f->len == 0 || !f->buf) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	if (f->len > FDPASS_DATA_MAX) {
		f->res = -EMSGSIZE;
		return WEFT_READY;
	}
	n = send_fds_now(f);
	if (n != -EAGAIN && n != -EWOULDBLOCK) {
		f->res = n;
		return WEFT_READY;
	}
	n = send_fds_by_ring(f, cx);
	if (n) {
		f->res = n;
		return WEFT_READY;
	}
	return WEFT_PENDING;
}

void weft_unix_send_fds_drop(weft_unix_send_fds *f)
{
	if (f->op) {
		weft__op_drop(f->op);
		f->op = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_unix_send_fds, weft_unix_send_fds_drop);

/* ----------------------------------------------------------------- recv */

void weft_unix_recv_fds_init(weft_unix_recv_fds *f, weft_stream *s,
			     void *buf, size_t len, int *fds, int maxfds)
{
	WEFT_DEBUG_CHECK(!f->op, "weft_unix_recv_fds_init",
			 "the receive is still in flight (its record would "
			 "leak); call weft_unix_recv_fds_drop first");
	f->s = s;
	f->buf = buf;
	f->len = len;
	f->fds = fds;
	f->maxfds = maxfds;
	f->nfds = 0;
	f->truncated = false;
	f->op = NULL;
	f->res = 0;
}

static int recv_fds_start(weft_unix_recv_fds *f, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	size_t cap = f->len < FDPASS_DATA_MAX ? f->len : FDPASS_DATA_MAX;
	struct weft__op *op;

	if (check_unix_stream(f->s) || f->len == 0 || !f->buf ||
	    f->maxfds < 0 || (f->maxfds && !f->fds))
		return -EINVAL;
	if (!r)
		return -ENODEV;
	op = weft__op_alloc(r, WEFT__OP_IO, FD_OF(f->s), CTRL_SPACE + cap);
	if (!op)
		return -ENOMEM;
	memset(&op->u.m.msg, 0, sizeof(op->u.m.msg));
	memset(op->buf, 0, CTRL_SPACE);
	op->u.m.iov.iov_base = op->buf + CTRL_SPACE;
	op->u.m.iov.iov_len = cap;
	op->u.m.msg.msg_iov = &op->u.m.iov;
	op->u.m.msg.msg_iovlen = 1;
	op->u.m.msg.msg_control = op->buf;
	op->u.m.msg.msg_controllen = CTRL_SPACE;
	io_uring_prep_recvmsg(&op->sqe, FD_OF(f->s)->fd, &op->u.m.msg,
			      MSG_CMSG_CLOEXEC);
	op->waker = weft_waker_clone(&cx->waker);
	f->op = op;
	weft__op_submit(op);
	return 0;
}

/* Hands one received descriptor to the caller, or closes it when the
 * caller's array is full. */
static void take_one(int fd, void *arg)
{
	weft_unix_recv_fds *f = arg;
	int max = f->maxfds < WEFT_UNIX_FDS_MAX ? f->maxfds : WEFT_UNIX_FDS_MAX;

	if (f->nfds < max) {
		f->fds[f->nfds++] = fd;
	} else {
		close(fd);
		f->truncated = true;
	}
}

weft_poll weft_unix_recv_fds_poll(weft_unix_recv_fds *f, weft_cx *cx)
{
	struct msghdr *msg;
	int32_t res;

	if (!f->op) {
		res = recv_fds_start(f, cx);
		if (res) {
			f->res = res;
			return WEFT_READY;
		}
		return WEFT_PENDING;
	}
	if (weft__op_poll(f->op, cx, &res) == WEFT_PENDING)
		return WEFT_PENDING;
	msg = &f->op->u.m.msg;
	if (res >= 0) {
		memcpy(f->buf, f->op->buf + CTRL_SPACE, (size_t)res);
		if (msg->msg_controllen)
			each_passed_fd(msg, take_one, f);
		if (msg->msg_flags & MSG_CTRUNC)
			f->truncated = true;
		msg->msg_controllen = 0; /* taken: the release closes none */
	}
	f->res = res;
	weft__op_drop(f->op);
	f->op = NULL;
	return WEFT_READY;
}

void weft_unix_recv_fds_drop(weft_unix_recv_fds *f)
{
	if (f->op) {
		weft__op_drop(f->op);
		f->op = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_unix_recv_fds, weft_unix_recv_fds_drop);
