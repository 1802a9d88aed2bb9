/* examples/proxy.c - a TCP proxy: for each connection accepted on the
 * listening address, connect to the upstream and copy both ways with
 * weft_bytes_copy_bidirectional (zero copy by splice between weft's
 * sockets; a half-close is passed on, each direction ends on its own).
 *
 *   proxy LISTEN_IP:PORT UPSTREAM_IP:PORT    serve until killed
 *   proxy --self-test                        loopback only: an echo
 *       server as the upstream, the proxy in front of it, and 4 clients
 *       that each send 1 MiB through the proxy, shut down, and check that
 *       every byte comes back; prints the counts and exits (0 when all
 *       bytes round-tripped).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

/* ------------------------------------------------------- one connection */

struct conn {
	WEFT_ASYNC;
	weft_stream *down;             /* the accepted client */
	struct sockaddr_in up_addr;
	weft_tcp_connect connect;
	weft_bytes *a, *b;
	weft_bytes_copy_bidirectional copy;
};

static weft_poll conn_poll(struct conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->connect,
			(struct sockaddr *)&f->up_addr, sizeof(f->up_addr),
			5 * WEFT_SEC);
	if (f->connect.res < 0)
		WEFT_RETURN(f->connect.res);
	if (weft_bytes_from_stream(&f->a, f->down))
		WEFT_RETURN(-1);
	f->down = NULL;                /* a owns it now */
	if (weft_bytes_from_stream(&f->b, f->connect.stream))
		WEFT_RETURN(-1);
	f->connect.stream = NULL;
	WEFT_AWAIT_INIT(weft_bytes_copy_bidirectional, &f->copy, f->a, f->b);
	printf("proxy: connection done: %llu bytes up, %llu down, res %ld\n",
	       (unsigned long long)f->copy.a_to_b,
	       (unsigned long long)f->copy.b_to_a, (long)f->copy.res);
	WEFT_RETURN(f->copy.res);
	WEFT_END();
}

static void conn_drop(struct conn *f)
{
	weft_bytes_copy_bidirectional_drop(&f->copy);
	weft_tcp_connect_drop(&f->connect);
	weft_stream_drop(f->connect.stream);
	weft_stream_drop(f->down);
	weft_bytes_drop(f->a);
	weft_bytes_drop(f->b);
}
WEFT_FUTURE(conn, struct conn, conn_drop);

/* Accepts `count` connections (0: forever), a conn task each. */
struct acceptor {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_listener *l;
	struct sockaddr_in up_addr;
	int count, done;
	weft_listener_accept acc;
};

static weft_poll acceptor_poll(struct acceptor *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->done = 0; !f->count || f->done < f->count; f->done++) {
		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		if (f->acc.res < 0)
			continue;      /* EMFILE etc.: the listener backs off */
		if (WEFT_SPAWN(f->rt, conn, NULL,
			       { .down = f->acc.stream,
				 .up_addr = f->up_addr }))
			weft_stream_drop(f->acc.stream);
	}
	WEFT_END();
}

static void acceptor_drop(struct acceptor *f)
{
	weft_listener_accept_drop(&f->acc);
}
WEFT_FUTURE(acceptor, struct acceptor, acceptor_drop);

/* ---------------------------------------------------------- self-test */

#define CLIENTS 4
#define CLIENT_BYTES (1u << 20)

/* The upstream: echoes each connection (a copy from the stream to itself). */
struct echo {
	WEFT_ASYNC;
	weft_stream *s;
	weft_bytes *b;
	weft_bytes_copy copy;
	weft_bytes_flush shut;
};

static weft_poll echo_poll(struct echo *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_bytes_from_stream(&f->b, f->s))
		WEFT_RETURN(-1);
	f->s = NULL;
	WEFT_AWAIT_INIT(weft_bytes_copy, &f->copy, f->b, f->b);
	weft_bytes_shutdown_init(&f->shut, f->b);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->shut);
	WEFT_RETURN(f->copy.res);
	WEFT_END();
}

static void echo_drop(struct echo *f)
{
	weft_bytes_copy_drop(&f->copy);
	weft_stream_drop(f->s);
	weft_bytes_drop(f->b);
}
WEFT_FUTURE(echo, struct echo, echo_drop);

struct echo_server {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_listener *l;
	weft_listener_accept acc;
};

static weft_poll echo_server_poll(struct echo_server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		if (f->acc.res == 0 &&
		    WEFT_SPAWN(f->rt, echo, NULL, { .s = f->acc.stream }))
			weft_stream_drop(f->acc.stream);
	}
	WEFT_END();
}

static void echo_server_drop(struct echo_server *f)
{
	weft_listener_accept_drop(&f->acc);
}
WEFT_FUTURE(echo_server, struct echo_server, echo_server_drop);

static unsigned char pattern(int id, size_t i)
{
	return (unsigned char)(i * 131 + (i >> 11) + (size_t)id * 7);
}

/* Sends CLIENT_BYTES through the proxy, then shuts down its side. */
struct sender {
	WEFT_ASYNC;
	weft_bytes *b;
	int id;
	size_t off, n;
	weft_bytes_write w;
	weft_bytes_flush shut;
	unsigned char buf[16384];
};

static weft_poll sender_poll(struct sender *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->off = 0; f->off < CLIENT_BYTES; f->off += f->n) {
		f->n = CLIENT_BYTES - f->off < sizeof(f->buf)
			       ? CLIENT_BYTES - f->off : sizeof(f->buf);
		for (size_t i = 0; i < f->n; i++)
			f->buf[i] = pattern(f->id, f->off + i);
		weft_bytes_write_all_init(&f->w, f->b, f->buf, f->n);
		WEFT_AWAIT_ON(weft_bytes_write, &f->w);
		if (f->w.res < 0)
			WEFT_RETURN(f->w.res);
	}
	weft_bytes_shutdown_init(&f->shut, f->b);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->shut);
	WEFT_RETURN(f->shut.res);
	WEFT_END();
}
WEFT_FUTURE(sender, struct sender, WEFT_NO_DROP);

/* One client: connects, sends (a task of its own) and reads everything
 * back until end of stream; res = bytes that came back intact, or < 0. */
struct client {
	WEFT_ASYNC;
	weft_rt *rt;
	struct sockaddr_in proxy;
	int id;
	size_t got;
	weft_tcp_connect connect;
	weft_bytes *b;
	weft_join *send;
	weft_join_wait wait;
	weft_bytes_read r;
	unsigned char buf[65536];
};

static weft_poll client_poll(struct client *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->connect,
			(struct sockaddr *)&f->proxy, sizeof(f->proxy),
			5 * WEFT_SEC);
	if (f->connect.res < 0 ||
	    weft_bytes_from_stream(&f->b, f->connect.stream))
		WEFT_RETURN(-1);
	if (WEFT_SPAWN(f->rt, sender, &f->send, { .b = f->b, .id = f->id }))
		WEFT_RETURN(-1);
	for (;;) {
		WEFT_AWAIT_INIT(weft_bytes_read, &f->r, f->b, f->buf,
				sizeof(f->buf));
		if (f->r.res <= 0)
			break;
		for (intptr_t i = 0; i < f->r.res; i++)
			if (f->buf[i] != pattern(f->id, f->got + (size_t)i))
				WEFT_RETURN(-2);
		f->got += (size_t)f->r.res;
	}
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->send);
	if (f->r.res < 0 || f->wait.res < 0)
		WEFT_RETURN(-3);
	WEFT_RETURN(f->got);
	WEFT_END();
}

static void client_drop(struct client *f)
{
	weft_tcp_connect_drop(&f->connect);
	weft_join_wait_drop(&f->wait);
	if (f->send)
		weft_join_drop(f->send);
	weft_bytes_drop(f->b);
}
WEFT_FUTURE(client, struct client, client_drop);

static int listen_on(weft_listener **l, struct sockaddr_in *a)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (weft_tcp_listen(l, (struct sockaddr *)a, sizeof(*a), NULL) ||
	    weft_listener_local_addr(*l, &ss, &len))
		return -1;
	memcpy(a, &ss, sizeof(*a));
	return 0;
}

static int self_test(weft_rt *rt)
{
	struct sockaddr_in echo_addr = { .sin_family = AF_INET };
	struct sockaddr_in proxy_addr = { .sin_family = AF_INET };
	weft_listener *le, *lp;
	weft_join *je, *jp, *jc[CLIENTS];
	int ok = 0;

	echo_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	proxy_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_on(&le, &echo_addr) || listen_on(&lp, &proxy_addr))
		return 1;
	if (WEFT_SPAWN(rt, echo_server, &je, { .rt = rt, .l = le }) ||
	    WEFT_SPAWN(rt, acceptor, &jp,
		       { .rt = rt, .l = lp, .up_addr = echo_addr,
			 .count = CLIENTS }))
		return 1;
	for (int i = 0; i < CLIENTS; i++)
		if (WEFT_SPAWN(rt, client, &jc[i],
			       { .rt = rt, .proxy = proxy_addr, .id = i }))
			return 1;
	for (int i = 0; i < CLIENTS; i++) {
		weft_join_wait w = { 0 };

		WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, jc[i]);
		weft_join_drop(jc[i]);
		printf("client %d: %ld of %u bytes came back intact\n", i,
		       (long)w.res, CLIENT_BYTES);
		ok += w.res == (intptr_t)CLIENT_BYTES;
	}
	weft_join_abort(je);
	weft_join_drop(je);
	weft_join_drop(jp);
	printf("proxy self-test: %d of %d clients round-tripped\n", ok,
	       CLIENTS);
	weft_rt_destroy(rt);     /* cancels the servers, then the listeners */
	weft_listener_drop(le);
	weft_listener_drop(lp);
	return ok == CLIENTS ? 0 : 1;
}

/* ---------------------------------------------------------------- main */

static int parse(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in listen_addr, up_addr;
	weft_listener *l;
	weft_join *j;
	weft_join_wait w = { 0 };
	weft_rt *rt;

	if (argc == 2 && !strcmp(argv[1], "--self-test")) {
		if (weft_rt_create(&rt, NULL))
			return 1;
		return self_test(rt);
	}
	if (argc != 3 || parse(argv[1], &listen_addr) ||
	    parse(argv[2], &up_addr)) {
		fprintf(stderr, "usage: proxy LISTEN_IP:PORT UPSTREAM_IP:PORT"
				" | --self-test\n");
		return 2;
	}
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&l, (struct sockaddr *)&listen_addr,
			    sizeof(listen_addr), NULL) ||
	    WEFT_SPAWN(rt, acceptor, &j,
		       { .rt = rt, .l = l, .up_addr = up_addr }))
		return 1;
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j);   /* forever */
	return 0;
}
