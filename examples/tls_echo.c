/* examples/tls_echo.c - a TLS server over weft_tls_wrap: for each TCP
 * connection accepted on 127.0.0.1, a TLS server stream (weft/tls.h) on
 * top of the connection's byte stream. The protocol is picked by ALPN:
 * "echo" (openssl s_client -alpn echo) echoes every byte back until the
 * client's close_notify; "http/1.1" (curl) or no ALPN reads one request
 * head and answers with a fixed HTTP/1.1 200 reply.
 *
 *   tls_echo CERT.pem KEY.pem [PORT [COUNT]]
 *       listens on 127.0.0.1:PORT (0 or none: any free port; the first
 *       output line says which), serves COUNT connections (0 or none:
 *       forever), one line per connection: its ALPN, SNI and result.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static const char reply[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 15\r\n"
	"Connection: close\r\n"
	"\r\n"
	"hello over TLS\n";

struct conn {
	WEFT_ASYNC;
	weft_stream *s;
	weft_tls_ctx *ctx;
	weft_bytes *raw, *tls;
	weft_tls_handshake hs;
	weft_bytes_copy copy;
	weft_bytes_read r;
	weft_bytes_write w;
	weft_bytes_flush shut;
	size_t got;
	intptr_t rc;
	char head[8192];
};

static weft_poll conn_poll(struct conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_bytes_from_stream(&f->raw, f->s))
		WEFT_RETURN(-1);
	f->s = NULL;
	if (weft_tls_wrap(&f->tls, f->ctx, f->raw))
		WEFT_RETURN(-1);
	f->raw = NULL;            /* the TLS stream owns it */
	WEFT_AWAIT_INIT(weft_tls_handshake, &f->hs, f->tls);
	if (f->hs.res < 0) {
		f->rc = f->hs.res;
		goto done;
	}
	if (!strcmp(weft_tls_alpn(f->tls), "echo")) {
		/* reader and writer of one stream, in one future */
		WEFT_AWAIT_INIT(weft_bytes_copy, &f->copy, f->tls, f->tls);
		f->rc = f->copy.res;
	} else {
		/* one request head (bounded by head[]), one fixed reply */
		while (f->got < sizeof(f->head) - 1) {
			WEFT_AWAIT_INIT(weft_bytes_read, &f->r, f->tls,
					f->head + f->got,
					sizeof(f->head) - 1 - f->got);
			if (f->r.res <= 0)
				break;
			f->got += (size_t)f->r.res;
			f->head[f->got] = '\0';
			if (strstr(f->head, "\r\n\r\n"))
				break;
		}
		weft_bytes_write_all_init(&f->w, f->tls, reply,
					  sizeof(reply) - 1);
		WEFT_AWAIT_ON(weft_bytes_write, &f->w);
		f->rc = f->w.res;
	}
	if (f->rc >= 0) {
		weft_bytes_shutdown_init(&f->shut, f->tls);  /* close_notify */
		WEFT_AWAIT_ON(weft_bytes_flush, &f->shut);
		if (f->shut.res < 0)
			f->rc = f->shut.res;
	}
done:
	printf("conn: alpn=%s sni=%s res=%ld%s%s\n",
	       *weft_tls_alpn(f->tls) ? weft_tls_alpn(f->tls) : "-",
	       *weft_tls_server_name(f->tls) ? weft_tls_server_name(f->tls)
					     : "-",
	       (long)(f->rc < 0 ? f->rc : 0), f->rc < 0 ? " " : "",
	       weft_tls_error(f->tls));
	fflush(stdout);
	WEFT_RETURN(f->rc);
	WEFT_END();
}

static void conn_drop(struct conn *f)
{
	weft_bytes_copy_drop(&f->copy);
	weft_stream_drop(f->s);
	weft_bytes_drop(f->raw);
	weft_bytes_drop(f->tls);
}
WEFT_FUTURE(conn, struct conn, conn_drop);

/* Accepts `count` connections (0: forever); waits for them all. */
struct server {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_listener *l;
	weft_tls_ctx *ctx;
	int count, done;
	weft_listener_accept acc;
	weft_join *last;
	weft_join_wait wait;
};

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->done = 0; !f->count || f->done < f->count; f->done++) {
		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		if (f->acc.res < 0)
			continue;
		if (f->last)
			weft_join_drop(f->last);   /* detach it */
		f->last = NULL;
		if (WEFT_SPAWN(f->rt, conn, &f->last,
			       { .s = f->acc.stream, .ctx = f->ctx }))
			weft_stream_drop(f->acc.stream);
	}
	if (f->last)
		WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->last);
	WEFT_RETURN(0);
	WEFT_END();
}

static void server_drop(struct server *f)
{
	weft_listener_accept_drop(&f->acc);
	weft_join_wait_drop(&f->wait);
	if (f->last)
		weft_join_drop(f->last);
}
WEFT_FUTURE(server, struct server, server_drop);

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	weft_tls_config cfg = { .server = true, .alpn = "echo,http/1.1" };
	weft_tls_ctx *ctx;
	weft_listener *l;
	weft_join *j;
	weft_join_wait w = { 0 };
	weft_rt *rt;
	int rc;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: tls_echo CERT KEY [PORT [COUNT]]\n");
		return 2;
	}
	cfg.cert_file = argv[1];
	cfg.key_file = argv[2];
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)(argc > 3 ? atoi(argv[3]) : 0));
	if ((rc = weft_tls_ctx_create(&ctx, &cfg))) {
		fprintf(stderr, "tls_echo: certificate: %s\n", strerror(-rc));
		return 1;
	}
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&l, (struct sockaddr *)&a, sizeof(a), NULL) ||
	    weft_listener_local_addr(l, &ss, &len))
		return 1;
	printf("listening on 127.0.0.1:%u\n",
	       ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	if (WEFT_SPAWN(rt, server, &j,
		       { .rt = rt, .l = l, .ctx = ctx,
			 .count = argc > 4 ? atoi(argv[4]) : 0 }))
		return 1;
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	weft_listener_drop(l);
	weft_tls_ctx_destroy(ctx);
	return w.res < 0 ? 1 : 0;
}
