/* examples/pipeline.c - a stream pipeline (the seeds' streams chapter):
 * the connections accepted on a loopback listener, as a stream
 * (weft_iter_accept), cut to the first CLIENTS (weft_iter_take), each
 * handled by a future of its own with at most LIMIT at once
 * (weft_iter_for_each_concurrent). A handler reads one line and answers
 * it upper-cased. The clients are tasks of the same program; the
 * pipeline ends by itself once the CLIENTS-th connection is handled,
 * and the program checks every answer and that no more than LIMIT
 * handlers ever ran at once.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>
#include <weft/iter.h>

enum { CLIENTS = 8, LIMIT = 3 };

/* the handlers all run inside the server's task: plain ints; the clients
 * are tasks of their own, on any worker */
static int running, most, handled;
static atomic_int answered;

struct handler {                      /* one per connection */
	WEFT_ASYNC_VOID;
	weft_stream *s;
	char buf[64];
	weft_stream_recv recv;
	weft_stream_send send;
};

static weft_poll handler_poll(struct handler *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (++running > most)
		most = running;
	WEFT_AWAIT_INIT(weft_stream_recv, &f->recv, f->s, f->buf,
			sizeof(f->buf));
	for (intptr_t i = 0; i < f->recv.res; i++)
		f->buf[i] = (char)toupper((unsigned char)f->buf[i]);
	if (f->recv.res > 0) {
		weft_stream_send_all_init(&f->send, f->s, f->buf,
					  (size_t)f->recv.res);
		WEFT_AWAIT_ON(weft_stream_send, &f->send);
	}
	running--;
	handled++;
	WEFT_END();
}

static void handler_drop(struct handler *f)
{
	weft_stream_recv_drop(&f->recv);
	weft_stream_send_drop(&f->send);
	weft_stream_drop(f->s);           /* closes the connection */
}
WEFT_FUTURE(handler, struct handler, handler_drop);

static void start(void *ctx, void *frame, const void *item)
{
	struct handler *h = frame;        /* zeroed by the set */

	(void)ctx;
	memcpy(&h->s, item, sizeof(h->s)); /* the item is a weft_stream * */
}

struct client {
	WEFT_ASYNC_VOID;
	struct sockaddr_in addr;
	int i;
	char out[32], in[32];
	weft_tcp_connect conn;
	weft_stream_send send;
	weft_stream_recv recv;
};

static weft_poll client_poll(struct client *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->conn,
			(struct sockaddr *)&f->addr, sizeof(f->addr), 0);
	if (f->conn.res == 0) {
		snprintf(f->out, sizeof(f->out), "hello %d\n", f->i);
		weft_stream_send_all_init(&f->send, f->conn.stream, f->out,
					  strlen(f->out));
		WEFT_AWAIT_ON(weft_stream_send, &f->send);
		WEFT_AWAIT_INIT(weft_stream_recv, &f->recv, f->conn.stream,
				f->in, sizeof(f->in) - 1);
		snprintf(f->out, sizeof(f->out), "HELLO %d\n", f->i);
		if (f->recv.res == (intptr_t)strlen(f->out) &&
		    !memcmp(f->in, f->out, strlen(f->out)))
			atomic_fetch_add(&answered, 1);
		weft_stream_drop(f->conn.stream);
	}
	WEFT_END();
}
WEFT_FUTURE(client, struct client, WEFT_NO_DROP);

struct server {
	WEFT_ASYNC;
	weft_listener *l;
	weft_iter_accept conns;
	weft_iter_take first;
	weft_iter_for_each_concurrent each;
};

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_accept_init(&f->conns, f->l);
	weft_iter_take_init(&f->first, &f->conns.it, CLIENTS);
	WEFT_ITER_FOR_EACH_CONCURRENT_INIT(&f->each, &f->first.it, LIMIT,
					   handler, start, NULL);
	WEFT_AWAIT_ON(weft_iter_for_each_concurrent, &f->each);
	weft_iter_drop(&f->conns.it);
	WEFT_RETURN(f->each.res);
	WEFT_END();
}
WEFT_FUTURE(server, struct server, WEFT_NO_DROP);

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t len;
	struct server srv = { 0 };
	weft_join *j[CLIENTS];
	weft_rt *rt;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&srv.l, (struct sockaddr *)&addr, sizeof(addr),
			    NULL) ||
	    weft_listener_local_addr(srv.l, &ss, &len))
		return 1;
	memcpy(&addr, &ss, sizeof(addr));
	for (int i = 0; i < CLIENTS; i++)
		if (WEFT_SPAWN(rt, client, &j[i], { .addr = addr, .i = i }))
			return 1;
	if (WEFT_BLOCK_ON(rt, server, &srv))
		return 1;
	for (int i = 0; i < CLIENTS; i++) {  /* each client to its end */
		weft_join_wait w = { 0 };

		if (WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j[i]))
			return 1;
		weft_join_drop(j[i]);
	}
	weft_listener_drop(srv.l);
	weft_rt_destroy(rt);
	printf("pipeline: %d connections handled, at most %d at once\n",
	       handled, most);
	printf("clients: %d of %d answered\n", atomic_load(&answered),
	       CLIENTS);
	return srv.res == 0 && handled == CLIENTS &&
			       atomic_load(&answered) == CLIENTS &&
			       most <= LIMIT
		       ? 0
		       : 1;
}
