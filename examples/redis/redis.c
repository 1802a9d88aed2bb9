/* examples/redis/redis.c - a Redis-protocol (RESP2) server on weft, for
 * redis-cli and redis-benchmark: strings with expiry in a sharded store
 * shared by all workers (store.c), the commands of cmd.c, requests parsed
 * by resp.c.
 *
 *   weft-redis [--port P] [--max-seconds S] [--max-bulk BYTES]
 *              [--workers N]
 *
 * Listens on 127.0.0.1 (port 0: any; the line "listening on
 * 127.0.0.1:P" says which), one task per connection. Pipelining: a
 * connection reads what the socket has, runs every complete request in
 * it, gathers the replies in one buffer and sends them with one send
 * when no complete request is left (redis writes per read too, but weft
 * does no extra wake-up or epoll round per batch). SIGTERM or SIGINT: stop
 * accepting, let connections finish for up to a second, exit 0. Expiry:
 * lazy (a command that meets an expired key removes it) plus a sweeper on
 * a 100 ms interval that walks a few buckets of each shard: a timer per
 * key would cost a timer record and a wake-up per key; this costs one
 * tick for all of them (redis does the same).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>
#include "cmd.h"
#include "resp.h"
#include "store.h"

#define IN_CHUNK 16384u
/* The most one connection buffers for one request (redis's
 * client-query-buffer-limit); past it the connection is closed. */
#define QBUF_MAX ((size_t)1 << 30)

struct conn {
	WEFT_ASYNC;
	weft_stream *s;
	struct store *st;
	size_t max_bulk;
	char *in;
	size_t in_len, in_cap, pos;
	struct resp_cmd cmd;
	struct out out;
	size_t need;            /* the incomplete request's length, if known */
	bool closing, more;
	weft_stream_recv r;
	weft_stream_send w;
};

/* Room for at least IN_CHUNK more bytes, or `need` in all -> 0 or -1. */
static int in_room(struct conn *f, size_t need)
{
	size_t cap = f->in_cap ? f->in_cap : IN_CHUNK * 2;
	char *p;

	if (need > QBUF_MAX)
		return -1;
	if (need < f->in_len + IN_CHUNK)
		need = f->in_len + IN_CHUNK;
	while (cap < need)
		cap *= 2;
	if (cap == f->in_cap)
		return 0;
	if (!(p = realloc(f->in, cap)))
		return -1;
	f->in = p;
	f->in_cap = cap;
	return 0;
}

/* Runs the complete requests in in[pos, in_len); stops early when the
 * replies pass OUT_FLUSH_AT. Sets closing on a protocol error or QUIT.
 * Returns what the next incomplete request needs (0: unknown). */
static size_t run_requests(struct conn *f)
{
	size_t need = 0;

	f->more = false;
	while (!f->closing) {
		const char *err;
		long n = resp_parse(&f->cmd, f->in + f->pos,
				    f->in_len - f->pos, &need, &err);

		if (n == RESP_INCOMPLETE)
			return need ? f->pos + need : 0;
		if (n < 0) {
			out_error(&f->out, n == RESP_ERROR ? err :
				  "ERR out of memory");
			f->closing = true;
			break;
		}
		f->pos += (size_t)n;
		if (f->cmd.argc && !cmd_exec(f->st, &f->cmd, &f->out))
			f->closing = true;
		if (f->out.len >= OUT_FLUSH_AT) {
			f->more = !f->closing;
			break;
		}
	}
	return 0;
}

static weft_poll conn_poll(struct conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->cmd.max_bulk = f->max_bulk;
	weft_tcp_set_nodelay(f->s, true);
	for (;;) {
		if (in_room(f, 0))
			break;
		WEFT_AWAIT_INIT(weft_stream_recv, &f->r, f->s,
				f->in + f->in_len, f->in_cap - f->in_len);
		if (f->r.res <= 0)
			break;
		f->in_len += (size_t)f->r.res;
		for (;;) {
			f->need = run_requests(f);
			if (f->out.nomem)
				WEFT_RETURN(-ENOMEM);
			if (f->out.len) {
				weft_stream_send_all_init(&f->w, f->s,
							  f->out.p,
							  f->out.len);
				WEFT_AWAIT_ON(weft_stream_send, &f->w);
				if (f->w.res < 0)
					WEFT_RETURN(0);
				f->out.len = 0;
			}
			/* stopped early with the replies flushed: run on */
			if (!f->more || f->closing)
				break;
		}
		if (f->closing)
			break;
		/* keep the incomplete request at the start of the buffer */
		memmove(f->in, f->in + f->pos, f->in_len - f->pos);
		f->in_len -= f->pos;
		f->need = f->need > f->pos ? f->need - f->pos : 0;
		f->pos = 0;
		if (in_room(f, f->need))
			break;
		if (f->in_cap > 4 * IN_CHUNK && f->in_len < IN_CHUNK &&
		    f->need == 0) {     /* a big request is done: shrink */
			char *p = realloc(f->in, IN_CHUNK * 2);

			if (p) {
				f->in = p;
				f->in_cap = IN_CHUNK * 2;
			}
		}
	}
	WEFT_END();
}

static void conn_drop(struct conn *f)
{
	weft_stream_recv_drop(&f->r);
	weft_stream_send_drop(&f->w);
	weft_stream_drop(f->s);
	free(f->in);
	out_free(&f->out);
	resp_cmd_free(&f->cmd);
}

WEFT_FUTURE(conn, struct conn, conn_drop);

struct server {
	WEFT_ASYNC;                   /* res: 0, or a setup error */
	unsigned short port;
	unsigned max_seconds;         /* 0: run until a signal */
	size_t max_bulk;
	struct store *st;
	weft_listener *l;
	weft_signal *sig;
	weft_tracker *tr;
	weft_interval sweep;
	bool sweep_on;
	weft_listener_accept acc;
	weft_signal_recv stop;        /* kept across the selects */
	weft_interval_tick tick;
	weft_sleep limit;             /* kept: the --max-seconds deadline */
	weft_branch br[4];
	weft_select sel;
	weft_tracker_wait done;
	weft_timeout grace;
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
	weft_interval_init(&f->sweep, weft_now() + 100 * WEFT_MS,
			   100 * WEFT_MS, WEFT_MISSED_SKIP);
	f->sweep_on = true;
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
	/* no --max-seconds: a deadline far enough away */
	weft_sleep_init(&f->limit, (f->max_seconds ? f->max_seconds :
				    86400u * 365u) * WEFT_SEC);
	for (;;) {
		weft_listener_accept_init(&f->acc, f->l);
		weft_interval_tick_init(&f->tick, &f->sweep);
		WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				  WEFT_BRANCH(weft_listener_accept, &f->acc),
				  WEFT_BRANCH_KEEP(weft_signal_recv, &f->stop),
				  WEFT_BRANCH_KEEP(weft_sleep, &f->limit),
				  WEFT_BRANCH(weft_interval_tick, &f->tick));
		if (f->sel.res == 1 || f->sel.res == 2)
			break;
		if (f->sel.res == 3) {
			store_sweep(f->st, 16);
			continue;
		}
		if (f->acc.res < 0)
			continue;     /* EMFILE and friends: the listener backs off */
		if (WEFT_TRACKER_SPAWN(f->tr, conn, NULL,
				       { .s = f->acc.stream, .st = f->st,
					 .max_bulk = f->max_bulk }))
			weft_stream_drop(f->acc.stream);
	}
	weft_listener_drop(f->l);     /* new clients are refused from here */
	f->l = NULL;
	printf("%s: stopped, %zu connection(s) open\n",
	       f->sel.res == 2 ? "max-seconds" :
	       f->stop.res == SIGTERM ? "SIGTERM" : "SIGINT",
	       weft_tracker_len(f->tr));
	fflush(stdout);
	weft_tracker_close(f->tr);
	weft_tracker_wait_init(&f->done, f->tr);
	weft_timeout_init(&f->grace, WEFT_BRANCH(weft_tracker_wait, &f->done),
			  1000 * WEFT_MS);
	WEFT_AWAIT_ON(weft_timeout, &f->grace);
	WEFT_END();
}

static void server_drop(struct server *f)
{
	weft_signal_recv_drop(&f->stop);
	weft_sleep_drop(&f->limit);
	weft_timeout_drop(&f->grace);
	weft_listener_drop(f->l);
	f->l = NULL;
	if (f->sweep_on)
		weft_interval_destroy(&f->sweep);
	f->sweep_on = false;
	weft_signal_destroy(f->sig);
	f->sig = NULL;
}

WEFT_FUTURE(server, struct server, server_drop);

static void usage(void)
{
	fprintf(stderr, "usage: weft-redis [--port P] [--max-seconds S] "
		"[--max-bulk BYTES] [--workers N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct store st;
	struct server srv = { .st = &st, .max_bulk = RESP_DEFAULT_MAX_BULK };
	weft_rt_builder b;
	weft_rt *rt;
	int ret;

	weft_signal_block(NULL);      /* first: before any thread exists */
	weft_rt_builder_init(&b);
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--port"))
			srv.port = (unsigned short)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-seconds"))
			srv.max_seconds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-bulk"))
			srv.max_bulk = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--workers"))
			b.workers = (unsigned)atoi(argv[++i]);
		else
			usage();
	}
	if (srv.max_bulk == 0 || srv.max_bulk > RESP_DEFAULT_MAX_BULK)
		usage();
	if (store_init(&st)) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	if (weft_rt_create(&rt, &b)) {
		fprintf(stderr, "runtime: %s\n", weft_rt_create_error());
		return 1;
	}
	ret = WEFT_BLOCK_ON(rt, server, &srv);
	if (ret == 0 && srv.res < 0)
		fprintf(stderr, "server: %s\n", strerror((int)-srv.res));
	server_drop(&srv);
	weft_rt_destroy(rt);          /* cancels connections still open */
	weft_tracker_destroy(srv.tr);
	store_destroy(&st);
	return ret || srv.res < 0;
}
