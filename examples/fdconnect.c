/* examples/fdconnect.c - a foreign non-blocking socket on weft, through
 * readiness (weft/fd.h): the pattern for integrating any library that does
 * its own I/O on non-blocking descriptors (c-ares, libpq, OpenSSL, curl).
 *
 * The "foreign" side here is plain POSIX: a socket of our own, a
 * non-blocking connect(2) that returns EINPROGRESS, then getsockopt
 * (SO_ERROR) once weft says the socket is writable, as connect(2)
 * prescribes. Then a request and its reply, with weft_fd_write and
 * weft_fd_read (try the call; on EAGAIN wait for readiness; again). The
 * peer is a weft echo server on 127.0.0.1, in the same program.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <weft.h>

/* The echo peer: accepts one connection, echoes one message. */
struct peer {
	WEFT_ASYNC;
	weft_listener *l;
	weft_listener_accept acc;
	weft_stream_recv r;
	weft_stream_send w;
	char buf[64];
};

static weft_poll peer_poll(struct peer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	if (f->acc.res < 0)
		WEFT_RETURN(f->acc.res);
	WEFT_AWAIT_INIT(weft_stream_recv, &f->r, f->acc.stream, f->buf,
			sizeof(f->buf));
	if (f->r.res > 0) {
		weft_stream_send_all_init(&f->w, f->acc.stream, f->buf,
					  (size_t)f->r.res);
		WEFT_AWAIT_ON(weft_stream_send, &f->w);
	}
	weft_stream_drop(f->acc.stream);
	WEFT_END();
}

static void peer_drop(struct peer *f)
{
	weft_listener_accept_drop(&f->acc);
	weft_stream_recv_drop(&f->r);
	weft_stream_send_drop(&f->w);
}

WEFT_FUTURE(peer, struct peer, peer_drop);

/* The client: a socket weft knows nothing about. */
struct client {
	WEFT_ASYNC;                   /* res: bytes of the reply, or -errno */
	struct sockaddr_in to;
	int fd;
	weft_fd_ready ready;
	weft_fd_write w;
	weft_fd_read r;
	char reply[64];
};

static weft_poll client_poll(struct client *f, weft_cx *cx)
{
	int err = 0;
	socklen_t len = sizeof(err);

	WEFT_BEGIN(f, cx);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		WEFT_RETURN(-errno);
	if (connect(f->fd, (struct sockaddr *)&f->to, sizeof(f->to)) < 0) {
		if (errno != EINPROGRESS)
			WEFT_RETURN(-errno);
		/* in progress: writable once it is done, one way or the other */
		WEFT_AWAIT_INIT(weft_fd_ready, &f->ready, f->fd, POLLOUT);
		if (f->ready.res < 0)
			WEFT_RETURN(f->ready.res);
		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			WEFT_RETURN(-errno);
		if (err)
			WEFT_RETURN(-err);
	}
	WEFT_AWAIT_INIT(weft_fd_write, &f->w, f->fd, "hello, peer", 11);
	if (f->w.res < 0)
		WEFT_RETURN(f->w.res);
	WEFT_AWAIT_INIT(weft_fd_read, &f->r, f->fd, f->reply,
			sizeof(f->reply) - 1);
	WEFT_RETURN(f->r.res);
	WEFT_END();
}

static void client_drop(struct client *f)
{
	weft_fd_ready_drop(&f->ready);
	weft_fd_write_drop(&f->w);
	weft_fd_read_drop(&f->r);
}

WEFT_FUTURE(client, struct client, client_drop);

int main(void)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	struct client c = { .fd = -1 };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	weft_listener *l = NULL;
	weft_join_wait pw = { 0 };
	weft_join *pj;
	weft_rt *rt;
	int bad;

	any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&l, (struct sockaddr *)&any, sizeof(any), NULL) ||
	    weft_listener_local_addr(l, &ss, &sl) ||
	    WEFT_SPAWN(rt, peer, &pj, { .l = l }))
		return 1;
	memcpy(&c.to, &ss, sizeof(c.to));
	bad = WEFT_BLOCK_ON(rt, client, &c) != 0 || c.res < 0;
	if (!bad)
		printf("reply: %.*s\n", (int)c.res, c.reply);
	else
		printf("client: %s\n", strerror((int)-c.res));
	client_drop(&c);
	if (c.fd >= 0)
		close(c.fd);
	weft_join_abort(pj);             /* a no-op once it echoed */
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &pw, pj);
	weft_join_drop(pj);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
	return bad;
}
