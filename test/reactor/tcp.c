/* test/reactor/tcp.c - TCP listener and stream over loopback (IPv4 and
 * IPv6): 1 MiB echo through many small and large writes with a half-close,
 * 1000 concurrent connections, peer reset, connect refused and timed out,
 * accept under EMFILE, writev, addresses, listener options. */
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "helpers.h"

/* ------------------------------------------------------ echo server */

struct echo_conn {
	WEFT_ASYNC;
	weft_stream *s;
	weft_recv rx;
	weft_send tx;
	char buf[4096];
};

static weft_poll echo_conn_poll(struct echo_conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (;;) {
		weft_recv_init(&f->rx, f->s, f->buf, sizeof(f->buf));
		WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
		if (f->rx.res <= 0)
			break;
		weft_send_all_init(&f->tx, f->s, f->buf, (size_t)f->rx.res);
		WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
		if (f->tx.res < 0)
			break;
	}
	WEFT_END(f);
}

static void echo_conn_drop(struct echo_conn *f)
{
	weft_recv_drop(&f->rx);
	weft_send_drop(&f->tx);
	weft_stream_close(f->s);
}

/* Accepts `count` connections (0 = until aborted), one echo task each. */
struct acceptor {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_listener *l;
	int count, done;
	weft_accept acc;
};

static weft_poll acceptor_poll(struct acceptor *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (f->done = 0; !f->count || f->done < f->count; f->done++) {
		weft_accept_init(&f->acc, f->l);
		WEFT_AWAIT(f, weft_accept_poll(&f->acc, cx));
		cr_assert_eq(f->acc.err, 0, "accept: %d", f->acc.err);
		cr_assert_eq(WEFT_SPAWN(f->rt, NULL, echo_conn_poll,
					echo_conn_drop, struct echo_conn,
					{ .s = f->acc.stream }), 0);
	}
	WEFT_END(f);
}

static void acceptor_drop(struct acceptor *f)
{
	weft_accept_drop(&f->acc);
}

static int join(weft_rt *rt, weft_join *j, intptr_t *out)
{
	weft_join_fut jf = { j, 0, 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, weft_join_fut_poll, &jf), 0);
	weft_join_drop(j);
	if (out)
		*out = jf.out;
	return jf.err;
}

/* ------------------------------------------------------ 1 MiB echo */

#define MIB (1024 * 1024)

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 31 + (i >> 9));
}

struct writer {
	WEFT_ASYNC;
	weft_stream *s;
	size_t off, chunk;
	unsigned k;
	weft_send tx;
	unsigned char *data;
};

static weft_poll writer_poll(struct writer *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (f->off = 0, f->k = 0; f->off < MIB; f->off += f->chunk, f->k++) {
		/* small (1..64) and large (up to 200 KiB) writes */
		f->chunk = f->k % 3 ? 1 + f->k % 64 : 1 + (f->k * 7919) % 200000;
		if (f->chunk > MIB - f->off)
			f->chunk = MIB - f->off;
		if (f->k % 5 == 4) {
			/* a plain send may be short: continue from there */
			weft_send_init(&f->tx, f->s, f->data + f->off, f->chunk);
			WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
			cr_assert_gt(f->tx.res, 0);
			f->chunk = (size_t)f->tx.res;
		} else {
			weft_send_all_init(&f->tx, f->s, f->data + f->off,
					   f->chunk);
			WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
			cr_assert_eq(f->tx.res, (ssize_t)f->chunk);
		}
	}
	/* half-close: the server sees EOF, echoes the rest, closes */
	cr_assert_eq(weft_stream_shutdown(f->s, SHUT_WR), 0);
	WEFT_END(f);
}

struct reader {
	WEFT_ASYNC;
	weft_stream *s;
	size_t got;
	weft_recv rx;
	unsigned char buf[70000];
};

static weft_poll reader_poll(struct reader *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (;;) {
		weft_recv_init(&f->rx, f->s, f->buf, sizeof(f->buf));
		WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
		cr_assert_geq(f->rx.res, 0, "recv: %zd", f->rx.res);
		if (f->rx.res == 0)
			break;
		for (ssize_t i = 0; i < f->rx.res; i++)
			cr_assert_eq(f->buf[i], pattern(f->got + (size_t)i),
				     "byte %zu", f->got + (size_t)i);
		f->got += (size_t)f->rx.res;
	}
	WEFT_RETURN(f, cx, f->got);
	WEFT_END(f);
}

struct connector {
	WEFT_ASYNC;
	weft_connect c;
};

static weft_poll connector_poll(struct connector *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	WEFT_AWAIT(f, weft_connect_poll(&f->c, cx));
	WEFT_END(f);
}

static weft_stream *connect_to(weft_rt *rt, struct sockaddr_storage *a,
			       socklen_t len)
{
	struct connector f = { 0 };

	weft_tcp_connect_init(&f.c, (struct sockaddr *)a, len, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, connector_poll, &f), 0);
	cr_assert_eq(f.c.err, 0, "connect: %d", f.c.err);
	return f.c.stream;
}

static void echo_mib(int family)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(family, &a, &len);
	unsigned char *data = malloc(MIB);
	weft_join *ja, *jw, *jr;
	weft_stream *s;
	intptr_t got;

	for (size_t i = 0; i < MIB; i++)
		data[i] = pattern(i);
	cr_assert_eq(WEFT_SPAWN(rt, &ja, acceptor_poll, acceptor_drop,
				struct acceptor, { .rt = rt, .l = l, .count = 1 }), 0);
	s = connect_to(rt, &a, len);
	cr_assert_eq(WEFT_SPAWN(rt, &jr, reader_poll, NULL, struct reader,
				{ .s = s }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, &jw, writer_poll, NULL, struct writer,
				{ .s = s, .data = data }), 0);
	cr_assert_eq(join(rt, jw, NULL), 0);
	cr_assert_eq(join(rt, jr, &got), 0);
	cr_assert_eq(got, MIB);
	cr_assert_eq(join(rt, ja, NULL), 0);
	weft_stream_close(s);
	weft_listener_close(l);
	weft_rt_destroy(rt);
	free(data);
}

Test(tcp, echo_1mib_small_and_large_writes_v4) { echo_mib(AF_INET); }
Test(tcp, echo_1mib_small_and_large_writes_v6) { echo_mib(AF_INET6); }

/* ------------------------------------------------- many connections */

struct client {
	WEFT_ASYNC;
	struct sockaddr_storage a;
	socklen_t len;
	int id;
	atomic_int *started, *total;
	weft_connect c;
	weft_send tx;
	weft_recv rx;
	weft_sleep nap;
	char out[64], in[64];
	size_t got;
};

static weft_poll client_poll(struct client *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_tcp_connect_init(&f->c, (struct sockaddr *)&f->a, f->len, 0);
	WEFT_AWAIT(f, weft_connect_poll(&f->c, cx));
	cr_assert_eq(f->c.err, 0, "connect %d: %d", f->id, f->c.err);
	/* hold every connection open at once before talking */
	atomic_fetch_add(f->started, 1);
	while (atomic_load(f->started) < *f->total) {
		weft_sleep_init(&f->nap, 2 * WEFT_MS);
		WEFT_AWAIT(f, weft_sleep_poll(&f->nap, cx));
	}
	snprintf(f->out, sizeof(f->out), "hello from client %d", f->id);
	weft_send_all_init(&f->tx, f->c.stream, f->out, sizeof(f->out));
	WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
	cr_assert_eq(f->tx.res, sizeof(f->out));
	while (f->got < sizeof(f->in)) {
		weft_recv_init(&f->rx, f->c.stream, f->in + f->got,
			       sizeof(f->in) - f->got);
		WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
		cr_assert_gt(f->rx.res, 0);
		f->got += (size_t)f->rx.res;
	}
	cr_assert_arr_eq(f->in, f->out, sizeof(f->out));
	weft_stream_close(f->c.stream);
	WEFT_END(f);
}

Test(tcp, thousand_concurrent_connections)
{
	struct rlimit rl;
	int n = 1000;
	atomic_int started = 0, total;
	weft_rt *rt;
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l;
	weft_join *ja, **j;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * (rlim_t)n + 100) {
		rl.rlim_cur = rl.rlim_max < 2 * (rlim_t)n + 100 ? rl.rlim_max
							       : 2 * (rlim_t)n + 100;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2 * (rlim_t)n + 100)
		n = ((int)rl.rlim_cur - 100) / 2;
	cr_assert_gt(n, 100, "RLIMIT_NOFILE too low");
	total = n;
	rt = test_rt(2);
	l = test_listen(AF_INET, &a, &len);
	j = calloc((size_t)n, sizeof(*j));
	cr_assert_eq(WEFT_SPAWN(rt, &ja, acceptor_poll, acceptor_drop,
				struct acceptor, { .rt = rt, .l = l, .count = n }), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(WEFT_SPAWN(rt, &j[i], client_poll, NULL,
					struct client,
					{ .a = a, .len = len, .id = i,
					  .started = &started, .total = &total }), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(join(rt, j[i], NULL), 0);
	cr_assert_eq(join(rt, ja, NULL), 0);
	weft_listener_close(l);
	weft_rt_destroy(rt);
	free(j);
}

/* ------------------------------------------------------- peer reset */

struct resetee {
	WEFT_ASYNC;
	weft_listener *l;
	weft_accept acc;
	weft_send tx;
	weft_recv rx;
	char *big;
	char buf[16];
};

static weft_poll resetee_poll(struct resetee *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_accept_init(&f->acc, f->l);
	WEFT_AWAIT(f, weft_accept_poll(&f->acc, cx));
	cr_assert_eq(f->acc.err, 0);
	/* the peer never reads, then resets: send_all fails, no SIGPIPE */
	weft_send_all_init(&f->tx, f->acc.stream, f->big, 32 * MIB);
	WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
	cr_assert(f->tx.res == -ECONNRESET || f->tx.res == -EPIPE,
		  "send_all after reset: %zd", f->tx.res);
	weft_send_init(&f->tx, f->acc.stream, "x", 1);
	WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
	cr_assert(f->tx.res == -ECONNRESET || f->tx.res == -EPIPE,
		  "send after reset: %zd", f->tx.res);
	weft_recv_init(&f->rx, f->acc.stream, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
	cr_assert(f->rx.res == -ECONNRESET || f->rx.res == 0,
		  "recv after reset: %zd", f->rx.res);
	weft_stream_close(f->acc.stream);
	WEFT_END(f);
}

/* Runs once, at completion or cancellation: the frame owns big. */
static void resetee_drop(struct resetee *f)
{
	free(f->big);
}

Test(tcp, peer_reset_gives_errors_not_sigpipe)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	struct linger lg = { 1, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	weft_join *j;

	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
	cr_assert_eq(WEFT_SPAWN(rt, &j, resetee_poll, resetee_drop,
				struct resetee,
				{ .l = l, .big = calloc(1, 32 * MIB) }), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, len), 0);
	usleep(50000); /* let the server fill the socket buffers */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* unread data + linger 0: RST */
	cr_assert_eq(join(rt, j, NULL), 0);
	weft_listener_close(l);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------ connect failures */

Test(tcp, connect_refused)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET6, &a, &len);
	struct connector f = { 0 };

	weft_listener_close(l); /* nothing listens on that port now */
	weft_tcp_connect_init(&f.c, (struct sockaddr *)&a, len, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, connector_poll, &f), 0);
	cr_assert_eq(f.c.err, -ECONNREFUSED);
	weft_rt_destroy(rt);
}

Test(tcp, connect_timeout_cancels_the_attempt)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listen_opts o = { .backlog = 1 };
	struct sockaddr_storage any;
	socklen_t anylen = test_loopback(&any, AF_INET, 0);
	weft_listener *l;
	struct connector f = { 0 };
	int fds[8], nfd = 0, before;

	/* a listener that never accepts, its queue full: SYNs are dropped */
	cr_assert_eq(weft_tcp_listen(&l, (struct sockaddr *)&any, anylen, &o), 0);
	weft_listener_local_addr(l, &a, &len);
	for (; nfd < 8; nfd++) {
		fds[nfd] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fds[nfd], (struct sockaddr *)&a, len);
	}
	usleep(20000);
	before = test_fd_count();
	weft_tcp_connect_init(&f.c, (struct sockaddr *)&a, len, 100 * WEFT_MS);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, connector_poll, &f), 0);
	if (f.c.err == 0) {
		weft_stream_close(f.c.stream);
		cr_skip_test("the kernel completed the connection anyway");
	}
	cr_assert_eq(f.c.err, -ETIMEDOUT);
	/* the socket is closed once the cancelled connect has completed */
	for (int i = 0; i < 200 && test_fd_count() > before; i++)
		usleep(10000);
	cr_assert_eq(test_fd_count(), before);
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	weft_listener_close(l);
	weft_rt_destroy(rt);
}

/* ----------------------------------------------- accept under EMFILE */

struct one_accept {
	WEFT_ASYNC;
	weft_accept acc;
};

static weft_poll one_accept_poll(struct one_accept *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	WEFT_AWAIT(f, weft_accept_poll(&f->acc, cx));
	WEFT_END(f);
}

Test(tcp, accept_under_emfile_backs_off_and_recovers)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	struct rlimit rl, low;
	int c[4], lowest, errs = 0;

	for (int i = 0; i < 4; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(c[i], (struct sockaddr *)&a, len), 0);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	lowest = dup(0);
	close(lowest);
	low = rl;
	low.rlim_cur = (rlim_t)lowest; /* no new descriptor can be made */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int k = 0; k < 3; k++) {
		struct one_accept f = { 0 };

		weft_accept_init(&f.acc, l);
		cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, one_accept_poll, &f), 0);
		if (f.acc.err == 0) {
			weft_stream_close(f.acc.stream);
			continue;
		}
		cr_assert(f.acc.err == -EMFILE || f.acc.err == -ENFILE,
			  "accept: %d", f.acc.err);
		errs++;
	}
	cr_assert_geq(errs, 1, "accept never saw EMFILE");
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int i = 0; i < 4 - (3 - errs); i++) {
		struct one_accept f = { 0 };

		weft_accept_init(&f.acc, l);
		cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, one_accept_poll, &f), 0);
		cr_assert_eq(f.acc.err, 0, "accept after recovery: %d", f.acc.err);
		weft_stream_close(f.acc.stream);
	}
	for (int i = 0; i < 4; i++)
		close(c[i]);
	weft_listener_close(l);
	weft_rt_destroy(rt);
}

/* ---------------------------------------------- writev and addresses */

struct vwriter {
	WEFT_ASYNC;
	weft_stream *s;
	struct iovec iov[3];
	weft_send tx;
};

static weft_poll vwriter_poll(struct vwriter *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	f->iov[0] = (struct iovec){ "abc", 3 };
	f->iov[1] = (struct iovec){ "", 0 };
	f->iov[2] = (struct iovec){ "defgh", 5 };
	weft_writev_init(&f->tx, f->s, f->iov, 3, true);
	WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
	cr_assert_eq(f->tx.res, 8);
	WEFT_END(f);
}

Test(tcp, writev_addresses_nodelay)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage a, peer, local;
	socklen_t len, plen, llen;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	weft_stream *s = connect_to(rt, &a, len);
	int fd, v = 0;
	socklen_t vl = sizeof(v);
	struct vwriter w = { .s = s };
	char buf[16] = { 0 };

	fd = accept(weft_listener_fd(l), NULL, NULL);
	cr_assert_geq(fd, 0);
	cr_assert_eq(weft_tcp_set_nodelay(s, true), 0);
	getsockopt(weft_stream_fd(s), IPPROTO_TCP, TCP_NODELAY, &v, &vl);
	cr_assert(v);
	cr_assert_eq(weft_stream_peer_addr(s, &peer, &plen), 0);
	cr_assert_eq(plen, len);
	cr_assert_eq(((struct sockaddr_in *)&peer)->sin_port,
		     ((struct sockaddr_in *)&a)->sin_port);
	cr_assert_eq(weft_stream_local_addr(s, &local, &llen), 0);
	cr_assert_eq(local.ss_family, AF_INET);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, vwriter_poll, &w), 0);
	cr_assert_eq(recv(fd, buf, sizeof(buf), MSG_WAITALL | MSG_DONTWAIT) >= 0, 1);
	cr_assert_str_eq(buf, "abcdefgh");
	close(fd);
	weft_stream_close(s);
	weft_listener_close(l);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------- listener options */

static int sockopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	cr_assert_eq(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

Test(tcp, listen_options_reuseport_reuseaddr)
{
	weft_rt *rt = test_rt(1);
	weft_listen_opts rp = { .reuseport = true, .reuseaddr = true };
	weft_listen_opts plain = { .backlog = 4 };
	struct sockaddr_storage any, a;
	socklen_t anylen = test_loopback(&any, AF_INET, 0), len = sizeof(a);
	weft_listener *l1, *l2, *l3 = NULL, *dflt;

	/* defaults (NULL): SO_REUSEADDR on, SO_REUSEPORT off */
	cr_assert_eq(weft_tcp_listen(&dflt, (struct sockaddr *)&any, anylen,
				     NULL), 0);
	cr_assert_neq(sockopt_int(weft_listener_fd(dflt), SOL_SOCKET,
				  SO_REUSEADDR), 0);
	cr_assert_eq(sockopt_int(weft_listener_fd(dflt), SOL_SOCKET,
				 SO_REUSEPORT), 0);
	/* two SO_REUSEPORT listeners share one port ... */
	cr_assert_eq(weft_tcp_listen(&l1, (struct sockaddr *)&any, anylen, &rp),
		     0);
	cr_assert_neq(sockopt_int(weft_listener_fd(l1), SOL_SOCKET,
				  SO_REUSEPORT), 0);
	cr_assert_eq(weft_listener_local_addr(l1, &a, &len), 0);
	cr_assert_eq(weft_tcp_listen(&l2, (struct sockaddr *)&a, len, &rp), 0);
	/* ... a listener without it cannot join them, and says why */
	cr_assert_eq(weft_tcp_listen(&l3, (struct sockaddr *)&a, len, &plain),
		     -EADDRINUSE);
	cr_assert_null(l3);
	cr_assert_eq(sockopt_int(weft_listener_fd(l2), SOL_SOCKET,
				 SO_REUSEADDR) != 0, true);
	weft_listener_close(l2);
	weft_listener_close(l1);
	/* options given explicitly: SO_REUSEADDR only when asked for */
	cr_assert_eq(weft_tcp_listen(&l3, (struct sockaddr *)&any, anylen,
				     &plain), 0);
	cr_assert_eq(sockopt_int(weft_listener_fd(l3), SOL_SOCKET,
				 SO_REUSEADDR), 0);
	weft_listener_close(l3);
	weft_listener_close(dflt);
	weft_rt_destroy(rt);
}
