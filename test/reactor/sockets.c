/* test/reactor/sockets.c - the rest of the socket toolkit: a listener and
 * a UDP socket adopted from an fd, peek then receive the same bytes (with
 * the multishot receive queue and single-shot), socket options, peer
 * credentials, bind before connect, Unix datagrams, and a burst of 2000
 * connects to one listener that never accepts (the default backlog). */
#include <netinet/tcp.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "helpers.h"
#include "reactor/reactor.h"

static unsigned short port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* ------------------------------------------------------------ from fd */

Test(sockets, listener_from_an_inherited_fd_accepts)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, AF_INET, 0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c, p[2];
	weft_listener *l = NULL;
	weft_listener_accept acc = { 0 };

	/* not listening yet, then not a socket: refused, the fd still ours */
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_listener_from_fd(&l, fd), -EINVAL);
	cr_assert_geq(fcntl(fd, F_GETFD), 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(weft_listener_from_fd(&l, p[0]), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(weft_listener_from_fd(&l, fd), 0);
	cr_assert_eq(weft_listener_fd(l), fd);
	cr_assert_eq(weft_listener_local_addr(l, &ss, &len), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&ss, len), 0);
	weft_listener_accept_init(&acc, l);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_listener_accept, &acc), 0);
	cr_assert_eq(acc.res, 0);
	weft_stream_drop(acc.stream);
	close(c);
	weft_listener_drop(l);
	/* closed once the cancelled accept has completed */
	for (int i = 0; i < 500 && fcntl(fd, F_GETFD) >= 0; i++)
		usleep(10000);
	cr_assert_lt(fcntl(fd, F_GETFD), 0, "the listener owned the fd");
	weft_rt_destroy(rt);
}

Test(sockets, udp_from_an_inherited_fd_round_trip)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, AF_INET, 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	weft_udp *u = NULL;
	weft_udp_send tx = { 0 };
	weft_udp_recv rx = { 0 };
	char buf[16];

	cr_assert_eq(weft_udp_from_fd(&u, tcp), -EINVAL);
	close(tcp);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_udp_from_fd(&u, fd), 0);
	cr_assert_eq(weft_udp_local_addr(u, &ss, &len), 0);
	weft_udp_send_init(&tx, u, "self", 4, (struct sockaddr *)&ss, len);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_send, &tx), 0);
	cr_assert_eq(tx.res, 4);
	weft_udp_recv_init(&rx, u, buf, sizeof(buf));
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_recv, &rx), 0);
	cr_assert_eq(rx.res, 4);
	cr_assert_arr_eq(buf, "self", 4);
	weft_udp_drop(u);
	weft_rt_destroy(rt);
}

/* --------------------------------------------------------------- peek */

/* A connected pair: *s is weft's accepted side, the return the plain
 * client fd. */
static int tcp_pair(weft_rt *rt, weft_listener **l, weft_stream **s)
{
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener_accept acc = { 0 };
	int c;

	*l = test_listen(AF_INET, &a, &len);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, len), 0);
	weft_listener_accept_init(&acc, *l);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_listener_accept, &acc), 0);
	cr_assert_eq(acc.res, 0);
	*s = acc.stream;
	return c;
}

static intptr_t op_recv(weft_rt *rt, weft_stream *s, void *buf, size_t len,
			bool peek)
{
	weft_stream_recv r = { 0 };

	if (peek)
		weft_stream_peek_init(&r, s, buf, len);
	else
		weft_stream_recv_init(&r, s, buf, len);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_stream_recv, &r), 0);
	return r.res;
}

static void peek_then_recv(bool multishot)
{
	weft_rt *rt;
	weft_listener *l;
	weft_stream *s;
	char buf[64];
	int c;

	weft__reactor_test_disable(multishot ? 0 : WEFT__FEAT_RECV_MULTI);
	rt = test_rt(1);
	weft__reactor_test_disable(0);
	c = tcp_pair(rt, &l, &s);
	cr_assert_eq(write(c, "hello world", 11), 11);
	/* a peek waits for data, then shows it without taking it */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(op_recv(rt, s, buf, 5, true), 5);
	cr_assert_arr_eq(buf, "hello", 5);
	cr_assert_eq(op_recv(rt, s, buf, sizeof(buf), true), 11);
	cr_assert_arr_eq(buf, "hello world", 11);
	/* a receive then takes the same bytes */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(op_recv(rt, s, buf, 6, false), 6);
	cr_assert_arr_eq(buf, "hello ", 6);
	cr_assert_eq(op_recv(rt, s, buf, 3, true), 3);
	cr_assert_arr_eq(buf, "wor", 3);
	cr_assert_eq(op_recv(rt, s, buf, sizeof(buf), false), 5);
	cr_assert_arr_eq(buf, "world", 5);
	/* end of stream: a peek reports it and leaves it */
	close(c);
	cr_assert_eq(op_recv(rt, s, buf, sizeof(buf), true), 0);
	cr_assert_eq(op_recv(rt, s, buf, sizeof(buf), false), 0);
	weft_stream_drop(s);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

Test(sockets, peek_then_recv_the_same_bytes_multishot)
{
	peek_then_recv(true);
}

Test(sockets, peek_then_recv_the_same_bytes_single_shot)
{
	peek_then_recv(false);
}

/* ------------------------------------------------------------ options */

Test(sockets, options_set_and_read_back)
{
	weft_rt *rt = test_rt(1);
	weft_listener *l;
	weft_stream *s;
	int c = tcp_pair(rt, &l, &s), fd = weft_stream_fd(s), v = 0;
	int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct linger lg;
	socklen_t len = sizeof(lg);

	cr_assert_eq(weft_sockopt_set_keepalive(fd, true, 30, 5, 3), 0);
	cr_assert_eq(weft_sockopt_get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(weft_sockopt_get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v), 0);
	cr_assert_eq(v, 30);
	cr_assert_eq(weft_sockopt_get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v), 0);
	cr_assert_eq(v, 5);
	cr_assert_eq(weft_sockopt_get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(weft_sockopt_set_keepalive(fd, false, 0, 0, 0), 0);
	cr_assert_eq(weft_sockopt_get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(weft_sockopt_set_int(fd, SOL_SOCKET, SO_RCVBUF, 65536), 0);
	cr_assert_eq(weft_sockopt_get_int(fd, SOL_SOCKET, SO_RCVBUF, &v), 0);
	cr_assert_geq(v, 65536); /* the kernel doubles it */
	cr_assert_eq(weft_sockopt_set_linger(fd, true, 0), 0);
	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len), 0);
	cr_assert(lg.l_onoff && lg.l_linger == 0);
	cr_assert_eq(weft_sockopt_set_ttl(fd, 42), 0);
	cr_assert_eq(weft_sockopt_get_int(fd, IPPROTO_IP, IP_TTL, &v), 0);
	cr_assert_eq(v, 42);
	if (u6 >= 0) {
		cr_assert_eq(weft_sockopt_set_ttl(u6, 7), 0);
		cr_assert_eq(weft_sockopt_get_int(u6, IPPROTO_IPV6,
						  IPV6_UNICAST_HOPS, &v), 0);
		cr_assert_eq(v, 7);
		close(u6);
	}
	cr_assert_eq(weft_sockopt_set_ttl(fd, 1000), -EINVAL);
	cr_assert_eq(weft_sockopt_get_int(-1, SOL_SOCKET, SO_RCVBUF, &v), -EBADF);
	cr_assert_eq(weft_stream_peer_cred(s, NULL, NULL, NULL), -EOPNOTSUPP);
	close(c);
	weft_stream_drop(s);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

Test(sockets, peer_credentials_are_our_own)
{
	int sv[2];
	weft_stream *s;
	pid_t pid = 0;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s = weft_stream_from_fd(sv[0]);
	cr_assert_not_null(s);
	cr_assert_eq(weft_stream_peer_cred(s, &pid, &uid, &gid), 0);
	cr_assert_eq(pid, getpid());
	cr_assert_eq(uid, getuid());
	cr_assert_eq(gid, getgid());
	weft_stream_drop(s);
	close(sv[1]);
}

/* ------------------------------------------------ bind before connect */

Test(sockets, bind_before_connect_uses_the_local_address)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage a, local, peer;
	socklen_t len, llen, plen;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	weft_listener_accept acc = { 0 };
	weft_tcp_connect c = { 0 };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };

	/* 127.0.0.2 is a loopback address too (127/8) */
	llen = test_loopback(&local, AF_INET, 0);
	((struct sockaddr_in *)&local)->sin_addr.s_addr = htonl(0x7f000002);
	weft_tcp_connect_from_init(&c, (struct sockaddr *)&local, llen,
				   (struct sockaddr *)&a, len, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &c), 0);
	cr_assert_eq(c.res, 0, "connect: %ld", (long)c.res);
	weft_listener_accept_init(&acc, l);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_listener_accept, &acc), 0);
	cr_assert_eq(weft_stream_peer_addr(acc.stream, &peer, &plen), 0);
	cr_assert_eq(((struct sockaddr_in *)&peer)->sin_addr.s_addr,
		     htonl(0x7f000002));
	cr_assert_neq(port_of(&peer), 0);
	weft_stream_drop(acc.stream);
	weft_stream_drop(c.stream);
	/* a local address of the other family is refused */
	weft_tcp_connect_from_init(&c, (struct sockaddr *)&v6, sizeof(v6),
				   (struct sockaddr *)&a, len, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &c), 0);
	cr_assert_eq(c.res, -EINVAL);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

/* ----------------------------------------------------- Unix datagrams */

Test(sockets, unix_datagram_round_trip)
{
	weft_rt *rt = test_rt(1);
	char pa[64], pb[64], buf[32];
	weft_udp *a = NULL, *b = NULL;
	weft_udp_send tx = { 0 };
	weft_udp_recv rx = { 0 };
	const struct sockaddr_un *from;

	snprintf(pa, sizeof(pa), "/tmp/weft-dg-a-%d.sock", getpid());
	snprintf(pb, sizeof(pb), "/tmp/weft-dg-b-%d.sock", getpid());
	unlink(pa);
	unlink(pb);
	cr_assert_eq(weft_unix_dgram_bind(&a, pa), 0);
	cr_assert_eq(weft_unix_dgram_bind(&b, pb), 0);
	weft_unix_dgram_send_init(&tx, a, "ping", 4, pb);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_send, &tx), 0);
	cr_assert_eq(tx.res, 4);
	weft_udp_recv_init(&rx, b, buf, sizeof(buf));
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_recv, &rx), 0);
	cr_assert_eq(rx.res, 4);
	cr_assert_arr_eq(buf, "ping", 4);
	from = (const struct sockaddr_un *)&rx.from;
	cr_assert_eq(from->sun_family, AF_UNIX);
	cr_assert_str_eq(from->sun_path, pa);
	/* reply to the sender's address, through the plain UDP future */
	weft_udp_send_init(&tx, b, "pong", 4, (struct sockaddr *)&rx.from,
			   rx.fromlen);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_send, &tx), 0);
	cr_assert_eq(tx.res, 4);
	weft_udp_recv_init(&rx, a, buf, sizeof(buf));
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_recv, &rx), 0);
	cr_assert_eq(rx.res, 4);
	cr_assert_arr_eq(buf, "pong", 4);
	/* connected, then a path too long */
	cr_assert_eq(weft_unix_dgram_connect(a, pb), 0);
	weft_unix_dgram_send_init(&tx, a, "x", 1, NULL);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_send, &tx), 0);
	cr_assert_eq(tx.res, 1);
	memset(buf, 'p', sizeof(buf));
	{
		char longp[200];

		memset(longp, 'p', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		weft_unix_dgram_send_init(&tx, a, "x", 1, longp);
		cr_assert_eq(WEFT_BLOCK_ON(rt, weft_udp_send, &tx), 0);
		cr_assert_eq(tx.res, -ENAMETOOLONG);
		cr_assert_eq(weft_unix_dgram_bind(&b, longp), -ENAMETOOLONG);
	}
	weft_udp_drop(a);
	weft_udp_drop(b);
	unlink(pa);
	unlink(pb);
	weft_rt_destroy(rt);
}

/* ---------------------------------------------------- connection burst */

#define BURST 2000

/* Polls BURST connects side by side until all are done. */
struct burst {
	WEFT_ASYNC;
	weft_tcp_connect *c;
	bool *done;
	int ndone;
};

static weft_poll burst_poll(struct burst *f, weft_cx *cx)
{
	for (int i = 0; i < BURST; i++) {
		if (f->done[i] ||
		    weft_tcp_connect_poll(&f->c[i], cx) == WEFT_PENDING)
			continue;
		f->done[i] = true;
		f->ndone++;
	}
	return f->ndone == BURST ? WEFT_READY : WEFT_PENDING;
}

WEFT_FUTURE(burst, struct burst, WEFT_NO_DROP);

/* The default backlog holds a burst of BURST connects to a listener that
 * accepts none of them: every connect completes, none refused or timed
 * out (with the old default of 1024 the rest had their SYNs dropped). */
Test(sockets, default_backlog_holds_a_burst_of_2000_connects)
{
	weft_rt *rt;
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l;
	static weft_tcp_connect c[BURST];
	static bool done[BURST];
	struct burst f = { .c = c, .done = done };
	struct rlimit rl;
	int somax = 0, refused = 0, timedout = 0, other = 0;
	FILE *p = fopen("/proc/sys/net/core/somaxconn", "r");

	if (p) {
		if (fscanf(p, "%d", &somax) != 1)
			somax = 0;
		fclose(p);
	}
	if (somax < BURST)
		cr_skip_test("net.core.somaxconn is %d", somax);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * BURST + 100) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * BURST + 100)
			cr_skip_test("RLIMIT_NOFILE too low");
	}
	rt = test_rt(2);
	l = test_listen(AF_INET, &a, &len);
	for (int i = 0; i < BURST; i++)
		weft_tcp_connect_init(&c[i], (struct sockaddr *)&a, len,
				      20 * WEFT_SEC); /* a hang guard */
	cr_assert_eq(WEFT_BLOCK_ON(rt, burst, &f), 0);
	for (int i = 0; i < BURST; i++) {
		if (c[i].res == 0)
			weft_stream_drop(c[i].stream);
		else if (c[i].res == -ECONNREFUSED)
			refused++;
		else if (c[i].res == -ETIMEDOUT)
			timedout++;
		else
			other++;
	}
	cr_assert_eq(refused + timedout + other, 0,
		     "refused %d, timed out %d, other %d", refused, timedout,
		     other);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

Test(sockets, unix_listener_and_datagram_from_fds)
{
	weft_rt *rt = test_rt(1);
	char path[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int sv[2];
	weft_listener *l = NULL;
	weft_udp *u = NULL;
	weft_tcp_connect c = { 0 };
	weft_listener_accept acc = { 0 };

	snprintf(path, sizeof(path), "/tmp/weft-act-%d.sock", getpid());
	unlink(path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(weft_listener_from_fd(&l, fd), 0);
	weft_unix_connect_init(&c, path, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &c), 0);
	cr_assert_eq(c.res, 0);
	weft_listener_accept_init(&acc, l);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_listener_accept, &acc), 0);
	cr_assert_eq(acc.res, 0);
	weft_stream_drop(acc.stream);
	weft_stream_drop(c.stream);
	weft_listener_drop(l);
	unlink(path);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(weft_udp_from_fd(&u, sv[0]), 0);
	weft_udp_drop(u);
	close(sv[1]);
	weft_rt_destroy(rt);
}
