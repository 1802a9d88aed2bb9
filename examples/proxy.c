/* examples/proxy.c - a TCP proxy: for each connection accepted on the
 * listening address, connect to the upstream and copy both ways with
 * weft_bytes_copy_bidirectional (zero copy by splice between weft's
 * sockets; a half-close is passed on, each direction ends on its own).
 * Either side may be TLS (weft/tls.h): the proxy then terminates TLS for
 * a plain upstream, or originates it towards a TLS upstream, or both; the
 * copy is the same code over weft_bytes (over TLS it reads and writes
 * through the TLS stream instead of splicing).
 *
 *   proxy [--accept-tls CERT KEY] [--connect-tls CA NAME]
 *         LISTEN_IP:PORT UPSTREAM_IP:PORT    serve until killed
 *       --accept-tls: clients speak TLS to the proxy, which presents
 *       CERT (PEM chain) with KEY; --connect-tls: the proxy speaks TLS to
 *       the upstream, verifying its certificate against CA and NAME (also
 *       sent as SNI). Port 0 listens on any free port: the first output
 *       line says which ("proxy: listening on IP:PORT"). One line per
 *       connection: the byte counts and the result, with the TLS error's
 *       reason when a TLS side failed.
 *   proxy --self-test                        loopback only: an echo
 *       server as the upstream, the proxy in front of it, and 4 clients
 *       that each send 1 MiB through the proxy, shut down, and check that
 *       every byte comes back; prints the counts and exits (0 when all
 *       bytes round-tripped).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

/* EXAMPLE_TLS: libweft has weft/tls.h's functions (OpenSSL 3 was found;
 * examples/meson.build sets it); without, the TLS options are refused. */
#ifndef EXAMPLE_TLS
#define EXAMPLE_TLS 0
#endif

/* ------------------------------------------------------- one connection */

/* The TLS sides (NULL: plain). */
struct tls_sides {
	weft_tls_ctx *down;            /* server role, towards the clients */
	weft_tls_ctx *up;              /* client role, towards the upstream */
};

/* Wraps *b in a TLS stream of ctx (nothing without one); 0 or -errno. */
static int maybe_tls(weft_bytes **b, weft_tls_ctx *ctx)
{
#if EXAMPLE_TLS
	weft_bytes *t;
	int err;

	if (!ctx)
		return 0;
	if ((err = weft_tls_wrap(&t, ctx, *b)) < 0)
		return err;
	*b = t;
	return 0;
#else
	(void)b;
	return ctx ? -ENOTSUP : 0;
#endif
}

/* A TLS side's error reason (OpenSSL's), or "". */
static const char *tls_why(weft_bytes *b)
{
#if EXAMPLE_TLS
	return b && !strcmp(b->vt->name, "tls") ? weft_tls_error(b) : "";
#else
	(void)b;
	return "";
#endif
}

static int tls_ctx(weft_tls_ctx **out, const weft_tls_config *cfg)
{
#if EXAMPLE_TLS
	return weft_tls_ctx_create(out, cfg);
#else
	(void)out, (void)cfg;
	return -ENOTSUP;
#endif
}

struct conn {
	WEFT_ASYNC;
	weft_stream *down;             /* the accepted client */
	struct sockaddr_in up_addr;
	const struct tls_sides *tls;
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
	if (maybe_tls(&f->a, f->tls->down) || maybe_tls(&f->b, f->tls->up))
		WEFT_RETURN(-ENOMEM);
	/* the handshakes run inside the copy, on the first read or write of
	 * each TLS side */
	WEFT_AWAIT_INIT(weft_bytes_copy_bidirectional, &f->copy, f->a, f->b);
	printf("proxy: connection done: %llu bytes up, %llu down, res %ld%s%s"
	       "%s%s\n",
	       (unsigned long long)f->copy.a_to_b,
	       (unsigned long long)f->copy.b_to_a, (long)f->copy.res,
	       *tls_why(f->a) ? "; client side: " : "", tls_why(f->a),
	       *tls_why(f->b) ? "; upstream side: " : "", tls_why(f->b));
	fflush(stdout);
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
	const struct tls_sides *tls;
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
				 .up_addr = f->up_addr, .tls = f->tls }))
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
	static const struct tls_sides plain = { NULL, NULL };
	int ok = 0;

	echo_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	proxy_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_on(&le, &echo_addr) || listen_on(&lp, &proxy_addr))
		return 1;
	if (WEFT_SPAWN(rt, echo_server, &je, { .rt = rt, .l = le }) ||
	    WEFT_SPAWN(rt, acceptor, &jp,
		       { .rt = rt, .l = lp, .up_addr = echo_addr,
			 .tls = &plain, .count = CLIENTS }))
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

static int usage(void)
{
	fprintf(stderr, "usage: proxy [--accept-tls CERT KEY] [--connect-tls"
			" CA NAME] LISTEN_IP:PORT UPSTREAM_IP:PORT"
			" | --self-test\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in listen_addr, up_addr;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	static struct tls_sides tls;
	weft_tls_config down = { .server = true, .alpn = NULL };
	weft_tls_config up = { .server = false };
	char ip[INET_ADDRSTRLEN];
	weft_listener *l;
	weft_join *j;
	weft_join_wait w = { 0 };
	weft_rt *rt;
	int i = 1, err;

	if (argc == 2 && !strcmp(argv[1], "--self-test")) {
		if (weft_rt_create(&rt, NULL))
			return 1;
		return self_test(rt);
	}
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 3) {
		if (i + 2 >= argc)
			return usage();
		if (!strcmp(argv[i], "--accept-tls")) {
			down.cert_file = argv[i + 1];
			down.key_file = argv[i + 2];
			err = tls_ctx(&tls.down, &down);
		} else if (!strcmp(argv[i], "--connect-tls")) {
			up.ca_file = argv[i + 1];
			up.server_name = argv[i + 2];
			err = tls_ctx(&tls.up, &up);
		} else {
			return usage();
		}
		if (err < 0) {
			fprintf(stderr, "proxy: %s %s %s: %s\n", argv[i],
				argv[i + 1], argv[i + 2], strerror(-err));
			return 1;
		}
	}
	if (argc - i != 2 || parse(argv[i], &listen_addr) ||
	    parse(argv[i + 1], &up_addr))
		return usage();
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&l, (struct sockaddr *)&listen_addr,
			    sizeof(listen_addr), NULL) ||
	    weft_listener_local_addr(l, &ss, &len))
		return 1;
	inet_ntop(AF_INET, &listen_addr.sin_addr, ip, sizeof(ip));
	printf("proxy: listening on %s:%u%s%s\n", ip,
	       ntohs(((struct sockaddr_in *)&ss)->sin_port),
	       tls.down ? " (TLS from clients)" : "",
	       tls.up ? " (TLS to the upstream)" : "");
	fflush(stdout);
	if (WEFT_SPAWN(rt, acceptor, &j,
		       { .rt = rt, .l = l, .up_addr = up_addr, .tls = &tls }))
		return 1;
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j);   /* forever */
	return 0;
}
