/* reactor/socket.c - listeners (bound here or adopted from an fd) and
 * connect, with or without a local address (weft/net.h), and the stream
 * handle's synchronous functions (addresses, options, shutdown, drop); TCP
 * and Unix stream sockets share all of it. Generic socket options and
 * peer credentials are in sockopt.c. Accepting is in accept.c,
 * receiving in recvq.c, sending in stream.c.
 *
 * The public handle types are the counted descriptor (fd.h) under another
 * name. Atomics: weft_stream_drop takes the stream's receive record with
 * one acquire exchange (pairs with its installing CAS, recvq.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define FD_OF(h) ((struct weft__fd *)(h))

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* linux/in.h; libc headers may lack it */
#endif

/* ------------------------------------------------------------- listener */

/* The default backlog: net.core.somaxconn, the most the kernel grants
 * (listen(2) silently caps a larger one). One small read per listen. */
static int default_backlog(void)
{
	char buf[16];
	ssize_t n;
	long v;
	int fd = open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return WEFT_LISTEN_BACKLOG;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return WEFT_LISTEN_BACKLOG;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v <= INT_MAX ? (int)v : WEFT_LISTEN_BACKLOG;
}

static int listen_on(weft_listener **out, int domain,
		     const struct sockaddr *addr, socklen_t len,
		     const weft_listen_opts *o)
{
	weft_listen_opts def = { .backlog = 0, .reuseaddr = true };
	int fd, one = 1, ret;
	struct weft__fd *f;

	if (!out || !addr)
		return -EINVAL;
	if (!o)
		o = &def;
	fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (domain != AF_UNIX) {
		if ((o->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR,
						&one, sizeof(one))) ||
		    (o->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
						&one, sizeof(one))) ||
		    (domain == AF_INET6 && o->v6only &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				sizeof(one))))
			goto out_errno;
	}
	if (bind(fd, addr, len) ||
	    listen(fd, o->backlog > 0 ? o->backlog : default_backlog()))
		goto out_errno;
	f = weft__fd_new(fd, domain);
	if (!f)
		return -ENOMEM;
	*out = (weft_listener *)f;
	return 0;
out_errno:
	ret = -errno;
	close(fd);
	return ret;
}

int weft_tcp_listen(weft_listener **out, const struct sockaddr *addr,
		    socklen_t len, const weft_listen_opts *opts)
{
	if (!addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;
	return listen_on(out, addr->sa_family, addr, len, opts);
}

static int unix_addr(struct sockaddr_un *sun, const char *path,
		     socklen_t *len)
{
	size_t n;

	if (!path)
		return -EINVAL;
	n = strlen(path);
	if (n == 0 || n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int weft_unix_listen(weft_listener **out, const char *path,
		     const weft_listen_opts *opts)
{
	struct sockaddr_un sun;
	socklen_t len;
	int ret = unix_addr(&sun, path, &len);

	if (ret)
		return ret;
	return listen_on(out, AF_UNIX, (struct sockaddr *)&sun, len, opts);
}

int weft_listener_local_addr(const weft_listener *l,
			     struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(FD_OF(l)->fd, (struct sockaddr *)ss, len) ? -errno
								       : 0;
}

int weft_listener_from_fd(weft_listener **out, int fd)
{
	int v = 0, domain = 0;
	socklen_t len = sizeof(v);
	struct weft__fd *f;

	if (!out)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len))
		return -errno;
	if (!v)
		return -EINVAL;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len))
		return -errno;
	if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
		return -EAFNOSUPPORT;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len))
		return -errno;
	if (v != SOCK_STREAM)
		return -EINVAL;
	f = weft__fd_wrap(fd, domain);
	if (!f)
		return -ENOMEM;
	*out = (weft_listener *)f;
	return 0;
}

int weft_listener_fd(const weft_listener *l)
{
	return FD_OF(l)->fd;
}

void weft_listener_drop(weft_listener *l)
{
	struct weft__fd *f = FD_OF(l);

	if (!f)
		return;
	weft__fd_mark_dropped(f, "weft_listener_drop");
	if (f->acc) {
		weft__op_drop(f->acc);
		f->acc = NULL;
	}
	weft__fd_put(f);
}

/* -------------------------------------------------------------- connect */

/* Debug builds: a connect re-initialised in flight would leak its record
 * (and socket) and its timer. */
static void connect_check_idle(const weft_tcp_connect *c, const char *where)
{
	WEFT_DEBUG_CHECK(!c->op && !c->timer.op, where,
			 "the connect is still in flight (its socket and "
			 "record would leak); call weft_tcp_connect_drop "
			 "first");
	(void)c;
	(void)where;
}

void weft_tcp_connect_init(weft_tcp_connect *c, const struct sockaddr *addr,
			   socklen_t len, weft_duration timeout)
{
	connect_check_idle(c, "weft_tcp_connect_init");
	memset(c, 0, sizeof(*c));
	if (addr && len <= sizeof(c->addr)) {
		memcpy(&c->addr, addr, len);
		c->addrlen = len;
	}
	c->timeout = timeout;
}

/* Bind before connect keeps the local address in the tail of c->addr,
 * past the peer's (an IPv4 or IPv6 address: 16 or 28 bytes), so that
 * weft_tcp_connect keeps its 1.0 layout (test abi/layout): a local
 * address is there when its family is set (init zeroes the struct). */
#define LOCAL_OFF 64u

union local_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static union local_addr *local_of(weft_tcp_connect *c)
{
	return (union local_addr *)(void *)((char *)&c->addr + LOCAL_OFF);
}

static socklen_t local_len(sa_family_t family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in);
}

_Static_assert(LOCAL_OFF + sizeof(union local_addr) <=
	       sizeof(struct sockaddr_storage),
	       "the local address fits in the tail of addr");

void weft_tcp_connect_from_init(weft_tcp_connect *c,
				const struct sockaddr *local,
				socklen_t locallen,
				const struct sockaddr *addr, socklen_t len,
				weft_duration timeout)
{
	connect_check_idle(c, "weft_tcp_connect_from_init");
	weft_tcp_connect_init(c, addr, len, timeout);
	if (!local || !c->addrlen || local->sa_family != c->addr.ss_family ||
	    (local->sa_family != AF_INET && local->sa_family != AF_INET6) ||
	    locallen < local_len(local->sa_family) ||
	    c->addrlen > LOCAL_OFF) {
		c->addrlen = 0; /* reported as -EINVAL at the first poll */
		return;
	}
	memcpy(local_of(c), local, local_len(local->sa_family));
}

void weft_unix_connect_init(weft_tcp_connect *c, const char *path,
			    weft_duration timeout)
{
	struct sockaddr_un sun;
	socklen_t len;

	connect_check_idle(c, "weft_unix_connect_init");
	memset(c, 0, sizeof(*c));
	c->timeout = timeout;
	if (unix_addr(&sun, path, &len) == 0) {
		memcpy(&c->addr, &sun, len);
		c->addrlen = len;
	}
}

/* Bind before connect. With port 0, IP_BIND_ADDRESS_NO_PORT defers the
 * port choice to connect(2), which can reuse a port for other peers. */
static int bind_local(int fd, const union local_addr *a)
{
	bool v6 = a->sa.sa_family == AF_INET6;
	in_port_t port = v6 ? a->in6.sin6_port : a->in.sin_port;
	int one = 1;

	if (port == 0)
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
				 sizeof(one)); /* best effort: an old kernel */
	return bind(fd, &a->sa, local_len(a->sa.sa_family)) ? -errno : 0;
}

static int connect_start(weft_tcp_connect *c, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	int domain = c->addr.ss_family, fd;
	struct weft__fd *f;
	struct weft__op *op;

	if (!c->addrlen || (domain != AF_INET && domain != AF_INET6 &&
			    domain != AF_UNIX))
		return -EINVAL;
	if (!r)
		return -ENODEV;
	fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	f = weft__fd_new(fd, domain);
	if (!f)
		return -ENOMEM;
	if (c->addrlen <= LOCAL_OFF && local_of(c)->sa.sa_family) {
		int ret = bind_local(fd, local_of(c));

		if (ret) {
			weft__fd_put(f);
			return ret;
		}
	}
	op = weft__op_alloc(r, WEFT__OP_IO, f, 0);
	weft__fd_put(f); /* the record holds it now */
	if (!op)
		return -ENOMEM;
	memcpy(&op->u.m.addr, &c->addr, c->addrlen);
	io_uring_prep_connect(&op->sqe, fd, (struct sockaddr *)&op->u.m.addr,
			      c->addrlen);
	op->waker = weft_waker_clone(&cx->waker);
	c->op = op;
	if (c->timeout)
		weft_sleep_init(&c->timer, c->timeout);
	weft__op_submit(op);
	return 0;
}

weft_poll weft_tcp_connect_poll(weft_tcp_connect *c, weft_cx *cx)
{
	int32_t res;

	if (!c->op) {
		c->res = connect_start(c, cx);
		if (c->res)
			return WEFT_READY;
	}
	if (weft__op_poll(c->op, cx, &res) == WEFT_PENDING) {
		if (!c->timeout ||
		    weft_sleep_poll(&c->timer, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		weft_tcp_connect_drop(c);
		c->res = -ETIMEDOUT;
		return WEFT_READY;
	}
	weft_sleep_drop(&c->timer);
	if (res == 0) {
		c->stream = (weft_stream *)weft__fd_get(c->op->fd);
		c->res = 0;
	} else {
		c->res = res;
	}
	weft__op_drop(c->op);
	c->op = NULL;
	return WEFT_READY;
}

void weft_tcp_connect_drop(weft_tcp_connect *c)
{
	weft_sleep_drop(&c->timer);
	if (c->op) {
		weft__op_drop(c->op);
		c->op = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_tcp_connect, weft_tcp_connect_drop);

/* ---------------------------------------------------------- stream misc */

int weft_stream_fd(const weft_stream *s)
{
	return FD_OF(s)->fd;
}

weft_stream *weft_stream_from_fd(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int domain = AF_INET;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		domain = ss.ss_family;
	return (weft_stream *)weft__fd_new(fd, domain);
}

int weft_stream_peer_addr(const weft_stream *s, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	*len = sizeof(*ss);
	return getpeername(FD_OF(s)->fd, (struct sockaddr *)ss, len) ? -errno
								       : 0;
}

int weft_stream_local_addr(const weft_stream *s, struct sockaddr_storage *ss,
			   socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(FD_OF(s)->fd, (struct sockaddr *)ss, len) ? -errno
								       : 0;
}

int weft_tcp_set_nodelay(weft_stream *s, bool on)
{
	int v = on;

	if (FD_OF(s)->domain == AF_UNIX)
		return -EOPNOTSUPP;
	return setsockopt(FD_OF(s)->fd, IPPROTO_TCP, TCP_NODELAY, &v,
			  sizeof(v)) ? -errno : 0;
}

int weft_stream_shutdown(weft_stream *s, int how)
{
	return shutdown(FD_OF(s)->fd, how) ? -errno : 0;
}

void weft_stream_drop(weft_stream *s)
{
	struct weft__op *rx;

	if (!s)
		return;
	weft__fd_mark_dropped(FD_OF(s), "weft_stream_drop");
	/* acquire: pairs with the CAS that installed the record */
	rx = atomic_exchange_explicit(&FD_OF(s)->rx, NULL,
				      memory_order_acquire);
	if (rx)
		weft__op_drop(rx);  /* cancelled; freed on its last CQE */
	weft__fd_put(FD_OF(s));
}
