/* examples/metrics_http.c - serving the runtime's metrics over HTTP for
 * Prometheus. A task listens on 127.0.0.1 (an ephemeral port, printed) and
 * answers each request with weft_metrics_prometheus's text; meanwhile a
 * few tasks sleep and yield so there is something to count.
 *   metrics_http          serves two requests it makes itself, checks
 *                         them (status line, content type, TYPE lines)
 *   metrics_http --serve  serves until killed: curl 127.0.0.1:PORT/metrics
 * Loopback only; one connection at a time, HTTP/1.0, the connection closed
 * after each answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <weft.h>

/* One request at a time: read the head, answer, close. */
struct server {
	WEFT_ASYNC;
	weft_listener *l;
	int requests;            /* answer this many, then end; <= 0: forever */
	int served;
	weft_listener_accept acc;
	weft_stream *s;
	weft_stream_recv rx;
	weft_stream_send tx;
	char req[2048];
	size_t got;
	char *answer;
};

/* The response: a header and the metrics (malloc'd, NULL without memory). */
static char *answer(weft_rt *rt, size_t *len)
{
	weft_worker_metrics ws[64];
	weft_metrics m;
	intptr_t n;
	char head[160];
	int h;
	char *out;

	weft_metrics_init(&m, ws, 64);
	if (weft_rt_metrics(rt, &m) < 0 ||
	    (n = weft_metrics_prometheus(&m, NULL, 0)) < 0)
		return NULL;
	h = snprintf(head, sizeof(head),
		     "HTTP/1.0 200 OK\r\n"
		     "Content-Type: text/plain; version=0.0.4\r\n"
		     "Content-Length: %ld\r\n\r\n", (long)n);
	out = malloc((size_t)h + (size_t)n + 1);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)h);
	weft_metrics_prometheus(&m, out + h, (size_t)n + 1);
	*len = (size_t)h + (size_t)n;
	return out;
}

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	size_t len = 0;

	WEFT_BEGIN(f, cx);
	for (f->served = 0; f->requests <= 0 || f->served < f->requests;
	     f->served++) {
		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		if (f->acc.res < 0)
			WEFT_RETURN(f->acc.res);
		f->s = f->acc.stream;
		f->got = 0;
		f->req[0] = '\0';
		while (!strstr(f->req, "\r\n\r\n") &&
		       f->got < sizeof(f->req) - 1) {
			WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->s,
					f->req + f->got,
					sizeof(f->req) - 1 - f->got);
			if (f->rx.res <= 0)
				break;
			f->got += (size_t)f->rx.res;
			f->req[f->got] = '\0';
		}
		f->answer = answer(weft_rt_current(), &len);
		if (f->answer) {
			weft_stream_send_all_init(&f->tx, f->s, f->answer, len);
			WEFT_AWAIT_ON(weft_stream_send, &f->tx);
			free(f->answer);
			f->answer = NULL;
		}
		weft_stream_drop(f->s);
		f->s = NULL;
	}
	WEFT_RETURN(0);
	WEFT_END();
}

static void server_drop(struct server *f)
{
	/* dropped at shutdown in --serve mode: between awaits only the
	 * stream and the answer are held (an accept or receive in progress
	 * is dropped by its own drop) */
	if (f->s) {
		weft_stream_recv_drop(&f->rx);
		weft_stream_send_drop(&f->tx);
		weft_stream_drop(f->s);
	} else {
		weft_listener_accept_drop(&f->acc);
	}
	free(f->answer);
}

WEFT_FUTURE(server, struct server, server_drop);

/* Something to count: sleeps and yields in a loop. */
struct busy {
	WEFT_ASYNC;
	int i;
	weft_sleep s;
};

static weft_poll busy_poll(struct busy *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < 50; f->i++) {
		WEFT_AWAIT_INIT(weft_sleep, &f->s, WEFT_MS);
		WEFT_YIELD();
	}
	WEFT_END();
}

static void busy_drop(struct busy *f)
{
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(busy, struct busy, busy_drop);

/* A plain blocking client (this thread is no worker). */
static int get_metrics(int port, char *buf, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	const char req[] = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
	size_t got = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (got < cap - 1 && (r = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	bool serve = argc > 1 && strcmp(argv[1], "--serve") == 0;
	struct sockaddr_in any = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	static char buf[65536];
	weft_listener *l;
	weft_join *srv;
	weft_join_wait w;
	weft_rt *rt;
	int port, bad = 0;

	if (weft_rt_create(&rt, NULL))
		return 1;
	any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (weft_tcp_listen(&l, (struct sockaddr *)&any, sizeof(any), NULL) ||
	    weft_listener_local_addr(l, &ss, &sl))
		return 1;
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	printf("serving http://127.0.0.1:%d/metrics\n", port);
	fflush(stdout);
	for (int i = 0; i < 4; i++)
		WEFT_SPAWN(rt, busy, NULL, { 0 });
	if (WEFT_SPAWN(rt, server, &srv, { .l = l, .requests = serve ? 0 : 2 }))
		return 1;
	if (serve) {
		for (;;)
			pause();
	}
	for (int i = 0; i < 2; i++) {
		if (get_metrics(port, buf, sizeof(buf)) < 0)
			return 1;
		bad |= strncmp(buf, "HTTP/1.0 200 OK\r\n", 17) != 0 ||
		       !strstr(buf, "Content-Type: text/plain; version=0.0.4") ||
		       !strstr(buf, "# TYPE weft_worker_polls_total counter\n") ||
		       !strstr(buf, "weft_worker_polls_total{worker=\"0\"} ");
	}
	/* the last answer's first samples */
	for (char *p = strstr(buf, "weft_worker_polls_total{"), *e;
	     p && (e = strchr(p, '\n')) && strncmp(p, "weft_worker_polls", 17) == 0;
	     p = e + 1)
		printf("%.*s\n", (int)(e - p), p);
	bad |= WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, srv) != 0 ||
	       w.res != 0;
	weft_join_drop(srv);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
	printf("metrics served: %s\n", bad ? "FAILED" : "2 answers ok");
	return bad;
}
