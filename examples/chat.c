/* examples/chat.c - a line chat server on loopback: every line a client
 * sends is broadcast to the other clients as "cN: line", through a weft
 * broadcast channel; the lines codec reads them (at most 200 bytes: a
 * longer line is refused with a notice and the next one is read), a
 * buffered writer sends them. A client whose writer falls more than 64
 * lines behind is told how many it missed and carries on from the oldest
 * line still held.
 *
 *   chat PORT       serve on 127.0.0.1:PORT until killed (try nc)
 *   chat PORT CERT KEY
 *                   the same over TLS (weft/tls.h; try openssl s_client):
 *                   each accepted connection is wrapped in a TLS server
 *                   stream presenting CERT with KEY; the rest is the same
 *                   code, over weft_bytes
 *   chat            self-test: a server for 3 clients on a free port and
 *                   the 3 clients, in-process; each says something, each
 *                   checks what it heard; then they leave and it ends.
 *
 * The byte stream under the codec is weft_bytes_from_stream's: the lines
 * are found in the kernel's receive buffers, copied once into the reader.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <weft.h>

#define LINE_MAX_LEN 200
#define LAG_SLOTS 64
#define SELFTEST_CLIENTS 3

/* weft's TCP byte stream over an accepted or connected stream: the codec
 * reads straight from the kernel's receive buffers. On error the stream
 * is dropped here. */
static weft_bytes *tcp_bytes(weft_stream *s)
{
	weft_bytes *b;

	if (weft_bytes_from_stream(&b, s)) {
		weft_stream_drop(s);
		return NULL;
	}
	return b;
}

/* EXAMPLE_TLS: libweft has weft/tls.h's functions (examples/meson.build
 * sets it when OpenSSL 3 was found). */
#ifndef EXAMPLE_TLS
#define EXAMPLE_TLS 0
#endif

/* tcp_bytes, then wrapped in a TLS server stream when ctx is set (the
 * handshake runs on the session's first read or write). NULL on error,
 * everything dropped. */
static weft_bytes *server_bytes(weft_stream *s, weft_tls_ctx *ctx)
{
	weft_bytes *b = tcp_bytes(s);
#if EXAMPLE_TLS
	weft_bytes *t;

	if (b && ctx) {
		if (weft_tls_wrap(&t, ctx, b)) {
			weft_bytes_drop(b);
			return NULL;
		}
		b = t;
	}
#else
	(void)ctx;
#endif
	return b;
}

/* -------------------------------------------------------------- server */

static const weft_codec_lines lines = { .max_len = LINE_MAX_LEN,
					.strip_cr = true };

typedef struct chat_msg {
	int from;
	int len;
	char text[LINE_MAX_LEN];
} chat_msg;

/* Sends each broadcast line (but the client's own) to the client. */
struct writer {
	WEFT_ASYNC;
	int id;
	weft_broadcast_rx rx;
	weft_bufwriter *w;
	weft_broadcast_recv recv;
	chat_msg m;
	char out[LINE_MAX_LEN + 64];
	int n;
	weft_bufwriter_write put;
	weft_bufwriter_flush flush;
};

static weft_poll writer_poll(struct writer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_broadcast_recv, &f->recv, &f->rx, &f->m);
		if (f->recv.res == -EOVERFLOW)
			f->n = snprintf(f->out, sizeof(f->out),
					"*** you lagged: %llu lines skipped\n",
					(unsigned long long)f->recv.missed);
		else if (f->recv.res < 0)
			break;
		else if (f->m.from == f->id)
			continue;
		else
			f->n = snprintf(f->out, sizeof(f->out), "c%d: %.*s\n",
					f->m.from, f->m.len, f->m.text);
		WEFT_AWAIT_INIT(weft_bufwriter_write, &f->put, f->w, f->out,
				(size_t)f->n);
		WEFT_AWAIT_INIT(weft_bufwriter_flush, &f->flush, f->w);
		if (f->put.res < 0 || f->flush.res < 0)
			break;
	}
	WEFT_RETURN(0);
	WEFT_END();
}

static void writer_drop(struct writer *f)
{
	weft_broadcast_recv_drop(&f->recv);
	weft_broadcast_rx_drop(&f->rx);
}
WEFT_FUTURE(writer, struct writer, writer_drop);

/* One client: welcome it, spawn its writer, broadcast what it says. */
struct session {
	WEFT_ASYNC;
	int id;
	weft_rt *rt;
	weft_bytes *b;
	weft_broadcast *tx;
	weft_broadcast_rx rx;         /* moves to the writer at its spawn */
	bool subscribed;
	weft_bufreader r;
	weft_bufwriter w;
	weft_join *wj;
	weft_codec_lines_next next;
	weft_codec_lines_write hello;
	weft_bufwriter_flush flush;
	weft_join_wait wait;
	char name[16];
	chat_msg m;
};

static weft_poll session_poll(struct session *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_bufreader_init(&f->r, f->b, 1024) ||
	    weft_bufwriter_init(&f->w, f->b, 4096))
		WEFT_RETURN(-ENOMEM);
	/* subscribed before the welcome: the client hears every line sent
	 * after it; the writer starts after it (one writer at a time) */
	weft_broadcast_subscribe(f->tx, &f->rx);
	f->subscribed = true;
	snprintf(f->name, sizeof(f->name), "welcome c%d", f->id);
	WEFT_AWAIT_INIT(weft_codec_lines_write, &f->hello, &f->w, &lines,
			f->name, strlen(f->name));
	WEFT_AWAIT_INIT(weft_bufwriter_flush, &f->flush, &f->w);
	f->subscribed = false;
	if (WEFT_SPAWN(f->rt, writer, &f->wj,
		       { .id = f->id, .rx = f->rx, .w = &f->w })) {
		weft_broadcast_rx_drop(&f->rx);
		WEFT_RETURN(-ENOMEM);
	}
	for (;;) {
		WEFT_AWAIT_INIT(weft_codec_lines_next, &f->next, &f->r, &lines);
		if (f->next.res == -EMSGSIZE)
			continue;           /* refused; the next line is fine */
		if (f->next.res < 0)
			break;              /* -ENODATA: the client left */
		f->m.from = f->id;
		f->m.len = (int)f->next.res;
		memcpy(f->m.text, f->next.data, (size_t)f->next.res);
		weft_broadcast_send(f->tx, &f->m);
	}
	weft_join_abort(f->wj);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->wj);
	WEFT_RETURN(0);
	WEFT_END();
}

static void session_drop(struct session *f)
{
	if (f->subscribed)
		weft_broadcast_rx_drop(&f->rx);
	if (f->wj) {
		weft_join_abort(f->wj);
		weft_join_drop(f->wj);
	}
	weft_bufreader_destroy(&f->r);
	weft_bufwriter_destroy(&f->w);
	weft_bytes_drop(f->b);
	weft_broadcast_tx_drop(f->tx);
}
WEFT_FUTURE(session, struct session, session_drop);

/* Accepts clients (max of them, 0: forever), a session each. */
struct server {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_listener *l;
	weft_tls_ctx *tls;            /* NULL: plain TCP */
	int max, n;
	weft_broadcast *tx;
	weft_broadcast_rx rx0;
	weft_listener_accept acc;
	weft_join *joins[SELFTEST_CLIENTS];
	weft_join_wait wait;
};

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->n = 0; !f->max || f->n < f->max; f->n++) {
		weft_join *j, **slot;

		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		if (f->acc.res < 0)
			continue;
		struct session s = { .id = f->n, .rt = f->rt,
				     .b = server_bytes(f->acc.stream, f->tls),
				     .tx = weft_broadcast_tx_clone(f->tx) };

		slot = f->max ? &f->joins[f->n] : &j;
		if (!s.b || WEFT_SPAWN_FRAME(f->rt, session, slot, &s))
			WEFT_RETURN(-ENOMEM);
		if (!f->max)
			weft_join_drop(j);
	}
	for (f->n = 0; f->n < f->max; f->n++) {
		WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->joins[f->n]);
		weft_join_drop(f->joins[f->n]);
	}
	WEFT_RETURN(0);
	WEFT_END();
}

static void server_drop(struct server *f)
{
	weft_listener_accept_drop(&f->acc);
	weft_broadcast_rx_drop(&f->rx0);
	weft_broadcast_tx_drop(f->tx);
	weft_listener_drop(f->l);
}
WEFT_FUTURE(server, struct server, server_drop);

/* ----------------------------------------------------------- self-test */

struct peer {
	weft_bytes *b;
	weft_bufreader r;
	weft_bufwriter w;
};

/* The clients: connect, wait for the welcomes, each says one line, each
 * reads the others' lines; then a line too long, then they all leave. */
struct clients {
	WEFT_ASYNC;
	struct sockaddr_in addr;
	struct peer p[SELFTEST_CLIENTS];
	int i, j, heard;
	weft_tcp_connect conn;
	weft_codec_lines_next next;
	weft_codec_lines_write put;
	weft_bufwriter_flush flush;
	char said[64];
	char long_line[LINE_MAX_LEN + 20];
};

static bool heard_is(const weft_codec_lines_next *n, const char *want)
{
	if (n->res < 0)
		return false;
	printf("heard: %.*s\n", (int)n->res, (const char *)n->data);
	return (size_t)n->res == strlen(want) &&
	       !memcmp(n->data, want, (size_t)n->res);
}

static weft_poll clients_poll(struct clients *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < SELFTEST_CLIENTS; f->i++) {
		struct peer *p = &f->p[f->i];

		WEFT_AWAIT_INIT(weft_tcp_connect, &f->conn,
				(struct sockaddr *)&f->addr, sizeof(f->addr),
				5 * WEFT_SEC);
		if (f->conn.res < 0)
			WEFT_RETURN(f->conn.res);
		p = &f->p[f->i];
		p->b = tcp_bytes(f->conn.stream);
		if (!p->b || weft_bufreader_init(&p->r, p->b, 1024) ||
		    weft_bufwriter_init(&p->w, p->b, 1024))
			WEFT_RETURN(-ENOMEM);
		snprintf(f->said, sizeof(f->said), "welcome c%d", f->i);
		WEFT_AWAIT_INIT(weft_codec_lines_next, &f->next, &f->p[f->i].r,
				&lines);
		if (!heard_is(&f->next, f->said))
			WEFT_RETURN(-EBADMSG);
	}
	/* the first one sends a line too long first: refused, not heard */
	memset(f->long_line, 'x', sizeof(f->long_line));
	WEFT_AWAIT_INIT(weft_codec_lines_write, &f->put, &f->p[0].w,
			&(weft_codec_lines){ 0 }, f->long_line,
			sizeof(f->long_line));
	for (f->i = 0; f->i < SELFTEST_CLIENTS; f->i++) {
		snprintf(f->said, sizeof(f->said), "hello from %d", f->i);
		WEFT_AWAIT_INIT(weft_codec_lines_write, &f->put, &f->p[f->i].w,
				&lines, f->said, strlen(f->said));
		WEFT_AWAIT_INIT(weft_bufwriter_flush, &f->flush, &f->p[f->i].w);
		for (f->j = 0; f->j < SELFTEST_CLIENTS; f->j++) {
			if (f->j == f->i)
				continue;
			snprintf(f->said, sizeof(f->said), "c%d: hello from %d",
				 f->i, f->i);
			WEFT_AWAIT_INIT(weft_codec_lines_next, &f->next,
					&f->p[f->j].r, &lines);
			if (!heard_is(&f->next, f->said))
				WEFT_RETURN(-EBADMSG);
			f->heard++;
		}
	}
	for (f->i = 0; f->i < SELFTEST_CLIENTS; f->i++) {
		weft_bufwriter_shutdown_init(&f->flush, &f->p[f->i].w);
		WEFT_AWAIT_ON(weft_bufwriter_flush, &f->flush);
	}
	WEFT_RETURN(f->heard);
	WEFT_END();
}

static void clients_drop(struct clients *f)
{
	weft_tcp_connect_drop(&f->conn);
	for (int i = 0; i < SELFTEST_CLIENTS; i++) {
		weft_bufreader_destroy(&f->p[i].r);
		weft_bufwriter_destroy(&f->p[i].w);
		weft_bytes_drop(f->p[i].b);
	}
}
WEFT_FUTURE(clients, struct clients, clients_drop);

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t alen = sizeof(ss);
	struct server srv = { .max = argc > 1 ? 0 : SELFTEST_CLIENTS };
	weft_join *sj;
	weft_join_wait wait = { 0 };
	weft_rt *rt;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(argc > 1 ? (uint16_t)atoi(argv[1]) : 0);
	if (argc == 3 || argc > 4) {
		fprintf(stderr, "usage: chat [PORT [CERT KEY]]\n");
		return 2;
	}
	if (argc == 4) {
#if EXAMPLE_TLS
		weft_tls_config tc = { .server = true, .cert_file = argv[2],
				       .key_file = argv[3] };
		int err = weft_tls_ctx_create(&srv.tls, &tc);

		if (err) {
			fprintf(stderr, "chat: %s / %s: %s\n", argv[2], argv[3],
				strerror(-err));
			return 1;
		}
#else
		fprintf(stderr, "chat: built without TLS (OpenSSL 3)\n");
		return 1;
#endif
	}
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&srv.l, (struct sockaddr *)&addr, sizeof(addr),
			    NULL) ||
	    weft_listener_local_addr(srv.l, &ss, &alen) ||
	    weft_broadcast_create(&srv.tx, &srv.rx0, sizeof(chat_msg),
				  LAG_SLOTS, NULL))
		return 1;
	srv.rt = rt;
	memcpy(&addr, &ss, sizeof(addr));
	printf("chat on 127.0.0.1:%d%s\n", ntohs(addr.sin_port),
	       srv.tls ? " (TLS)" : "");
	fflush(stdout);
	if (WEFT_SPAWN_FRAME(rt, server, &sj, &srv))
		return 1;
	if (argc == 1) {
		struct clients c = { .addr = addr };

		int rc = WEFT_BLOCK_ON(rt, clients, &c);

		clients_drop(&c);      /* block_on leaves the frame to us */
		if (rc || c.res < 0) {
			fprintf(stderr, "self-test failed: %d\n", (int)c.res);
			return 1;
		}
		printf("self-test: %d lines heard by the right clients\n",
		       (int)c.res);
	}
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &wait, sj);
	weft_join_drop(sj);
	weft_rt_destroy(rt);
#if EXAMPLE_TLS
	weft_tls_ctx_destroy(srv.tls);
#endif
	printf("server done: %d\n", (int)wait.res);
	return wait.res == 0 ? 0 : 1;
}
