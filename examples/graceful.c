/* examples/graceful.c - graceful shutdown of a TCP server on SIGTERM or
 * SIGINT: an echo server on 127.0.0.1 that, when the signal comes, stops
 * accepting (the listener is closed, so new clients are refused), lets the
 * connections in flight finish within a deadline, and exits; connections
 * still open at the deadline are cut off (the runtime cancels their tasks
 * and closes their sockets).
 *
 *   graceful [PORT [DEADLINE_MS]]     (defaults: 0 = any port, 5000 ms)
 *
 * The rule of weft/signal.h comes first in main: the signals are blocked
 * before the runtime (or any thread) exists, so only the signal stream
 * ever sees them. Connections are counted by a tracker; at shutdown it is
 * closed and waited for, under a timeout. examples/graceful.py runs it,
 * keeps two clients in flight, sends SIGTERM and checks all of this.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

/* One client: echo what it sends until it closes. */
struct conn {
	WEFT_ASYNC;
	weft_stream *s;
	weft_stream_recv r;
	weft_stream_send w;
	char buf[4096];
};

static weft_poll conn_poll(struct conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->r, f->s, f->buf,
				sizeof(f->buf));
		if (f->r.res <= 0)
			break;
		weft_stream_send_all_init(&f->w, f->s, f->buf,
					  (size_t)f->r.res);
		WEFT_AWAIT_ON(weft_stream_send, &f->w);
		if (f->w.res < 0)
			break;
	}
	WEFT_END();
}

static void conn_drop(struct conn *f)
{
	weft_stream_recv_drop(&f->r);
	weft_stream_send_drop(&f->w);
	weft_stream_drop(f->s);
}

WEFT_FUTURE(conn, struct conn, conn_drop);

struct server {
	WEFT_ASYNC;                   /* res: 0, or a setup error */
	unsigned short port;
	weft_duration deadline;
	weft_listener *l;
	weft_signal *sig;
	weft_tracker *tr;
	weft_listener_accept acc;
	weft_signal_recv stop;        /* kept across the selects */
	weft_branch br[2];
	weft_select sel;
	weft_tracker_wait done;
	weft_timeout limit;
};

static int server_setup(struct server *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	sigset_t set;
	int err;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(f->port);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if ((err = weft_tcp_listen(&f->l, (struct sockaddr *)&a, sizeof(a),
				   NULL)) ||
	    (err = weft_signal_create(&f->sig, &set)) ||
	    (err = weft_tracker_create(&f->tr, NULL)) ||
	    (err = weft_listener_local_addr(f->l, &ss, &len)))
		return err;
	printf("listening on 127.0.0.1:%u\n",
	       ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	return 0;
}

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if ((f->res = server_setup(f)) < 0)
		WEFT_RETURN(f->res);
	weft_signal_recv_init(&f->stop, f->sig);
	for (;;) {
		weft_listener_accept_init(&f->acc, f->l);
		WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				  WEFT_BRANCH(weft_listener_accept, &f->acc),
				  WEFT_BRANCH_KEEP(weft_signal_recv, &f->stop));
		if (f->sel.res == 1)
			break;
		if (f->acc.res < 0)
			continue;     /* EMFILE and friends: the listener backs off */
		if (WEFT_TRACKER_SPAWN(f->tr, conn, NULL, { .s = f->acc.stream }))
			weft_stream_drop(f->acc.stream);
	}
	if (f->stop.res < 0)
		WEFT_RETURN(f->stop.res);
	weft_listener_drop(f->l);     /* new clients are refused from here
	                               * (once the reactor closes the fd) */
	f->l = NULL;
	printf("%s: stopped accepting, %zu connection(s) in flight\n",
	       f->stop.res == SIGTERM ? "SIGTERM" : "SIGINT",
	       weft_tracker_len(f->tr));
	fflush(stdout);
	weft_tracker_close(f->tr);
	weft_tracker_wait_init(&f->done, f->tr);
	weft_timeout_init(&f->limit, WEFT_BRANCH(weft_tracker_wait, &f->done),
			  f->deadline);
	WEFT_AWAIT_ON(weft_timeout, &f->limit);
	if (f->limit.timed_out)
		printf("deadline passed: %zu connection(s) cut off\n",
		       weft_tracker_len(f->tr));
	else
		printf("all connections finished\n");
	WEFT_END();
}

static void server_drop(struct server *f)
{
	weft_signal_recv_drop(&f->stop);
	weft_timeout_drop(&f->limit);
	weft_listener_drop(f->l);
	weft_signal_destroy(f->sig);
}

WEFT_FUTURE(server, struct server, server_drop);

int main(int argc, char **argv)
{
	struct server srv = { .deadline = 5000 * WEFT_MS };
	weft_rt *rt;
	int ret;

	/* first, before any thread exists: the signals go to the stream */
	weft_signal_block(NULL);
	if (argc > 1)
		srv.port = (unsigned short)atoi(argv[1]);
	if (argc > 2)
		srv.deadline = (weft_duration)atoi(argv[2]) * WEFT_MS;
	if (weft_rt_create(&rt, NULL)) {
		fprintf(stderr, "runtime: %s\n", weft_rt_create_error());
		return 1;
	}
	ret = WEFT_BLOCK_ON(rt, server, &srv);
	if (ret == 0 && srv.res < 0)
		fprintf(stderr, "server: %s\n", strerror((int)-srv.res));
	server_drop(&srv);
	/* cancels the connections cut off at the deadline */
	weft_rt_destroy(rt);
	weft_tracker_destroy(srv.tr);
	return ret || srv.res < 0;
}
