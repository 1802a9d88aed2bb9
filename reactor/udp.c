/* reactor/udp.c - datagram sockets (weft/net.h): UDP and Unix datagram
 * bind and connect, adopting an fd, the handle, and the send and receive
 * futures they share.
 *
 * send: tried at once with a non-blocking sendto(2); if the socket is
 * full, the datagram and the address are copied into a record and sent
 * with IORING_OP_SENDMSG. recv: IORING_OP_RECVMSG into the record's
 * buffer and address, copied out on completion. No atomics here.
 */
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define FD_OF(h) ((struct weft__fd *)(h))
#define DGRAM_MAX (64u * 1024)

int weft_udp_bind(weft_udp **out, const struct sockaddr *addr, socklen_t len)
{
	int domain = addr ? addr->sa_family : AF_INET, fd, ret;
	struct weft__fd *f;

	if (!out || (domain != AF_INET && domain != AF_INET6))
		return -EINVAL;
	fd = socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr && bind(fd, addr, len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	f = weft__fd_new(fd, domain);
	if (!f)
		return -ENOMEM;
	*out = (weft_udp *)f;
	return 0;
}

int weft_udp_connect(weft_udp *u, const struct sockaddr *addr, socklen_t len)
{
	return connect(FD_OF(u)->fd, addr, len) ? -errno : 0;
}

int weft_udp_local_addr(const weft_udp *u, struct sockaddr_storage *ss,
			socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(FD_OF(u)->fd, (struct sockaddr *)ss, len) ? -errno
								       : 0;
}

int weft_udp_fd(const weft_udp *u)
{
	return FD_OF(u)->fd;
}

void weft_udp_drop(weft_udp *u)
{
	if (u) {
		weft__fd_mark_dropped(FD_OF(u), "weft_udp_drop");
		weft__fd_put(FD_OF(u));
	}
}

int weft_udp_from_fd(weft_udp **out, int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);
	struct weft__fd *f;

	if (!out)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return -errno;
	if (type != SOCK_DGRAM)
		return -EINVAL;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return -errno;
	if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
		return -EAFNOSUPPORT;
	f = weft__fd_wrap(fd, domain);
	if (!f)
		return -ENOMEM;
	*out = (weft_udp *)f;
	return 0;
}

/* ------------------------------------------------------- Unix datagrams */

static int unix_path(struct sockaddr_un *sun, const char *path,
		     socklen_t *len)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int weft_unix_dgram_bind(weft_udp **out, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = 0;
	int fd, ret;
	struct weft__fd *f;

	if (!out)
		return -EINVAL;
	if (path && (ret = unix_path(&sun, path, &len)))
		return ret;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (path && bind(fd, (struct sockaddr *)&sun, len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	f = weft__fd_new(fd, AF_UNIX);
	if (!f)
		return -ENOMEM;
	*out = (weft_udp *)f;
	return 0;
}

int weft_unix_dgram_connect(weft_udp *u, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int ret;

	if (!u || !path)
		return -EINVAL;
	ret = unix_path(&sun, path, &len);
	if (ret)
		return ret;
	return weft_udp_connect(u, (struct sockaddr *)&sun, len);
}

/* ---------------------------------------------------------------- send */

void weft_udp_send_init(weft_udp_send *s, weft_udp *u, const void *buf,
			size_t len, const struct sockaddr *to, socklen_t tolen)
{
	WEFT_DEBUG_CHECK(!s->op, "weft_udp_send_init",
			 "the send is still in flight (its record would "
			 "leak); call weft_udp_send_drop first");
	s->u = u;
	s->buf = buf;
	s->len = len;
	s->tolen = to && tolen <= sizeof(s->to) ? tolen : 0;
	if (s->tolen)
		memcpy(&s->to, to, tolen);
	s->op = NULL;
	s->res = 0;
}

static int udp_send_by_ring(weft_udp_send *s, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	struct weft__op *op;

	if (!r)
		return -ENODEV;
	op = weft__op_alloc(r, WEFT__OP_IO, FD_OF(s->u), s->len);
	if (!op)
		return -ENOMEM;
	memcpy(op->buf, s->buf, s->len);
	op->u.m.iov.iov_base = op->buf;
	op->u.m.iov.iov_len = s->len;
	memset(&op->u.m.msg, 0, sizeof(op->u.m.msg));
	op->u.m.msg.msg_iov = &op->u.m.iov;
	op->u.m.msg.msg_iovlen = 1;
	if (s->tolen) {
		memcpy(&op->u.m.addr, &s->to, s->tolen);
		op->u.m.msg.msg_name = &op->u.m.addr;
		op->u.m.msg.msg_namelen = s->tolen;
	}
	io_uring_prep_sendmsg(&op->sqe, FD_OF(s->u)->fd, &op->u.m.msg,
			      MSG_NOSIGNAL);
	op->waker = weft_waker_clone(&cx->waker);
	s->op = op;
	weft__op_submit(op);
	return 0;
}

weft_poll weft_udp_send_poll(weft_udp_send *s, weft_cx *cx)
{
	int32_t res;
	ssize_t n;

	if (s->op) {
		if (weft__op_poll(s->op, cx, &res) == WEFT_PENDING)
			return WEFT_PENDING;
		weft__op_drop(s->op);
		s->op = NULL;
		s->res = res;
		return WEFT_READY;
	}
	if (s->res < 0) /* an argument refused at _init */
		return WEFT_READY;
	if (!s->u || s->len > DGRAM_MAX) {
		s->res = s->u ? -EMSGSIZE : -EINVAL;
		return WEFT_READY;
	}
	do
		n = sendto(FD_OF(s->u)->fd, s->buf, s->len,
			   MSG_DONTWAIT | MSG_NOSIGNAL,
			   s->tolen ? (struct sockaddr *)&s->to : NULL,
			   s->tolen);
	while (n < 0 && errno == EINTR);
	if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		s->res = n >= 0 ? n : -errno;
		return WEFT_READY;
	}
	res = udp_send_by_ring(s, cx);
	if (res) {
		s->res = res;
		return WEFT_READY;
	}
	return WEFT_PENDING;
}

void weft_udp_send_drop(weft_udp_send *s)
{
	if (s->op) {
		weft__op_drop(s->op);
		s->op = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_udp_send, weft_udp_send_drop);

void weft_unix_dgram_send_init(weft_udp_send *s, weft_udp *u, const void *buf,
			       size_t len, const char *path)
{
	struct sockaddr_un sun;
	socklen_t sl = 0;
	int ret = path ? unix_path(&sun, path, &sl) : 0;

	weft_udp_send_init(s, u, buf, len, ret || !path ? NULL
							: (struct sockaddr *)&sun,
			   sl);
	s->res = ret;  /* an error is reported at the first poll */
}

/* ---------------------------------------------------------------- recv */

void weft_udp_recv_init(weft_udp_recv *r, weft_udp *u, void *buf, size_t len)
{
	WEFT_DEBUG_CHECK(!r->op, "weft_udp_recv_init",
			 "the receive is still in flight (its record would "
			 "leak); call weft_udp_recv_drop first");
	r->u = u;
	r->buf = buf;
	r->len = len;
	r->fromlen = 0;
	r->op = NULL;
	r->res = 0;
}

static int udp_recv_start(weft_udp_recv *r, weft_cx *cx)
{
	struct weft__reactor *re = weft__reactor_of(cx);
	size_t cap = r->len < DGRAM_MAX ? r->len : DGRAM_MAX;
	struct weft__op *op;

	if (!re)
		return -ENODEV;
	op = weft__op_alloc(re, WEFT__OP_IO, FD_OF(r->u), cap);
	if (!op)
		return -ENOMEM;
	op->u.m.iov.iov_base = op->buf;
	op->u.m.iov.iov_len = cap;
	memset(&op->u.m.msg, 0, sizeof(op->u.m.msg));
	op->u.m.msg.msg_iov = &op->u.m.iov;
	op->u.m.msg.msg_iovlen = 1;
	op->u.m.msg.msg_name = &op->u.m.addr;
	op->u.m.msg.msg_namelen = sizeof(op->u.m.addr);
	io_uring_prep_recvmsg(&op->sqe, FD_OF(r->u)->fd, &op->u.m.msg, 0);
	op->waker = weft_waker_clone(&cx->waker);
	r->op = op;
	weft__op_submit(op);
	return 0;
}

weft_poll weft_udp_recv_poll(weft_udp_recv *r, weft_cx *cx)
{
	int32_t res;

	if (!r->op) {
		res = r->u ? udp_recv_start(r, cx) : -EINVAL;
		if (res) {
			r->res = res;
			return WEFT_READY;
		}
		return WEFT_PENDING;
	}
	if (weft__op_poll(r->op, cx, &res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (res > 0)
		memcpy(r->buf, r->op->buf, (size_t)res);
	if (res >= 0) {
		r->fromlen = r->op->u.m.msg.msg_namelen;
		memcpy(&r->from, &r->op->u.m.addr, r->fromlen);
	}
	r->res = res;
	weft__op_drop(r->op);
	r->op = NULL;
	return WEFT_READY;
}

void weft_udp_recv_drop(weft_udp_recv *r)
{
	if (r->op) {
		weft__op_drop(r->op);
		r->op = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_udp_recv, weft_udp_recv_drop);
