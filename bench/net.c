/* bench/net.c - the reactor's workloads (../shared/peers/README.md):
 * 8 sleep_many, and the servers of 10 tcp_echo and 11 http_plaintext.
 *
 * sleep_many: N = 100 000 detached tasks, task i sleeps until now + d_i ms
 * (SplitMix64 seed 42, d_i in 1..=100, computed before timing), adds its
 * signed lateness to a shared atomic and does count-and-signal. With
 * --dist (not part of the README's workload; bench/run never passes it)
 * each task also records its own lateness and first-poll time, and each
 * measured repetition prints a line of percentiles and of mean lateness
 * by deadline (10 ms buckets from the repetition's start) on stderr; the
 * medians of the percentiles become extra rows (lateness_p50_us, ...).
 *
 * Servers: bound to 127.0.0.1:--port only, on the two-worker runtime; the
 * accept loop is a spawned task; accepted sockets get TCP_NODELAY. They
 * exit on SIGTERM (a signalfd-free watcher thread: sigtimedwait) or after
 * --max-seconds of the monotonic clock (a stop and continue, or a tracer,
 * does not end them). tcp_echo: one task per connection, read up to 4096
 * bytes, write them all back, until EOF or error. http: the hand-parsed
 * style of the tokio peer (README 11): 8 KiB read buffer (1 KiB inside
 * the frame until a read fills it: http_conn), every complete request
 * head in the buffer answered into one output buffer written with one
 * send_all, leftovers kept, HTTP/1.0 and Connection: close honoured, 400
 * and close on a request with a body or a head line without a colon (the
 * peer's rule, an empty line left by a bare LF included), 431 and close on
 * a head larger than 8 KiB, Date cached per worker thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "weft/net.h"
#include "weft/time.h"

/* ------------------------------------------------------------ sleep_many */

#define SLEEP_N 100000u

struct sleepers {
	weft_rt *rt;
	uint64_t n;
	unsigned *dur_ms;
	_Atomic int64_t late_ns;
	struct bench_counter ctr;
	struct bench_samples wall, late;
	/* --dist only (else NULL): per task, lateness and first-poll instant */
	int64_t *lat_ns;
	uint64_t *start_ns;
	uint64_t t0;
	struct bench_samples p50, p99, p999, max;
};

struct sleep_task {
	WEFT_ASYNC;
	struct sleepers *st;
	unsigned d;
	unsigned idx;       /* --dist: this task's slot in lat_ns/start_ns */
	weft_instant deadline;
	weft_sleep s;
};

static weft_poll sleep_task_poll(struct sleep_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->deadline = weft_now() + (weft_duration)f->d * WEFT_MS;
	weft_sleep_until_init(&f->s, f->deadline);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	if (f->s.res < 0)
		bench_fail("sleep: %s", strerror((int)-f->s.res));
	int64_t late = (int64_t)(weft_now() - f->deadline);

	/* relaxed: a sum; the counter's acq_rel increment publishes it */
	atomic_fetch_add_explicit(&f->st->late_ns, late,
				  memory_order_relaxed);
	if (f->st->lat_ns) {  /* --dist; published as late_ns is */
		f->st->lat_ns[f->idx] = late;
		f->st->start_ns[f->idx] =
			f->deadline - (weft_instant)f->d * WEFT_MS;
	}
	bench_counter_bump(&f->st->ctr);
	WEFT_END();
}

WEFT_FUTURE(sleep_task, struct sleep_task, WEFT_NO_DROP);

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank of the sorted v[0..n): the p-th percentile. */
static int64_t rank_of(const int64_t *v, uint64_t n, double p)
{
	uint64_t k = (uint64_t)(p / 100.0 * (double)n + 0.999999);

	return v[k ? (k > n ? n : k) - 1 : 0];
}

#define DIST_BUCKETS 12  /* 10 ms each from t0; the last is 110 ms+ */

/* --dist: one repetition's distribution, on stderr (rep 0 is the
 * warm-up, printed but not kept). `spawned` is when the last task first
 * ran; `before` is the mean lateness of the tasks due by then. */
static void sleep_dist(struct sleepers *st, unsigned rep)
{
	int64_t *v = malloc(st->n * sizeof(*v));
	double sum[DIST_BUCKETS] = { 0 }, before = 0;
	uint64_t cnt[DIST_BUCKETS] = { 0 }, nbefore = 0, spawned = 0;

	if (!v)
		bench_fail("out of memory");
	for (uint64_t i = 0; i < st->n; i++)
		if (st->start_ns[i] - st->t0 > spawned)
			spawned = st->start_ns[i] - st->t0;
	for (uint64_t i = 0; i < st->n; i++) {
		uint64_t due = st->start_ns[i] - st->t0 +
			       (uint64_t)st->dur_ms[i] * WEFT_MS;
		unsigned k = (unsigned)(due / (10 * WEFT_MS));

		if (k >= DIST_BUCKETS)
			k = DIST_BUCKETS - 1;
		sum[k] += (double)st->lat_ns[i];
		cnt[k]++;
		if (due <= spawned) {
			before += (double)st->lat_ns[i];
			nbefore++;
		}
		v[i] = st->lat_ns[i];
	}
	qsort(v, st->n, sizeof(*v), cmp_i64);
	fprintf(stderr,
		"sleep_many rep %u: lateness us min %.1f p50 %.1f p90 %.1f "
		"p99 %.1f p99.9 %.1f max %.1f; last first poll at %.1f ms, "
		"%" PRIu64 " due by then, their mean %.1f us; mean by due "
		"time (10 ms buckets):",
		rep, (double)v[0] / 1e3, (double)rank_of(v, st->n, 50) / 1e3,
		(double)rank_of(v, st->n, 90) / 1e3,
		(double)rank_of(v, st->n, 99) / 1e3,
		(double)rank_of(v, st->n, 99.9) / 1e3,
		(double)v[st->n - 1] / 1e3, (double)spawned / 1e6, nbefore,
		nbefore ? before / (double)nbefore / 1e3 : 0.0);
	for (unsigned k = 0; k < DIST_BUCKETS; k++)
		fprintf(stderr, " %.0f", cnt[k] ? sum[k] / (double)cnt[k] / 1e3
						: 0.0);
	fputc('\n', stderr);
	bench_samples_add(&st->p50, rep, (double)rank_of(v, st->n, 50) / 1e3);
	bench_samples_add(&st->p99, rep, (double)rank_of(v, st->n, 99) / 1e3);
	bench_samples_add(&st->p999, rep,
			  (double)rank_of(v, st->n, 99.9) / 1e3);
	bench_samples_add(&st->max, rep, (double)v[st->n - 1] / 1e3);
	free(v);
}

struct sleep_driver {
	WEFT_ASYNC;
	struct sleepers *st;
	unsigned rep;
	uint64_t t0;
	struct bench_signal_wait wait;
};

static weft_poll sleep_driver_poll(struct sleep_driver *f, weft_cx *cx)
{
	struct sleepers *st = f->st;

	WEFT_BEGIN(f, cx);
	for (f->rep = 0; f->rep <= st->wall.reps; f->rep++) {
		bench_counter_arm(&st->ctr, st->n);
		/* relaxed: published to the tasks by weft_spawn */
		atomic_store_explicit(&st->late_ns, 0, memory_order_relaxed);
		f->t0 = st->t0 = bench_now_ns();
		for (uint64_t i = 0; i < st->n; i++)
			BENCH_SPAWN(st->rt, sleep_task,
				    { .st = st, .d = st->dur_ms[i],
				      .idx = (unsigned)i });
		WEFT_AWAIT_INIT(bench_signal_wait, &f->wait, &st->ctr.done);
		bench_samples_add(&st->wall, f->rep,
				  (double)(bench_now_ns() - f->t0) / 1e6);
		/* relaxed: the signal's wait acquired the last increment */
		bench_samples_add(&st->late, f->rep,
				  (double)atomic_load_explicit(
					  &st->late_ns, memory_order_relaxed) /
					  (double)st->n / 1000.0);
		if (st->lat_ns)
			sleep_dist(st, f->rep);
	}
	WEFT_END();
}

WEFT_FUTURE(sleep_driver, struct sleep_driver, WEFT_NO_DROP);

int bench_sleep_many(int argc, char **argv)
{
	struct bench_opts o;
	struct sleepers st;
	uint64_t seed = 42;
	bool dist = false;
	int rc, k = 0;

	/* --dist is this workload's own option: taken out before the
	 * common parser sees argv */
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--dist"))
			argv[k++] = argv[i];
		else
			dist = true;
	rc = bench_opts_parse(k, argv, &o);
	if (rc)
		return rc;
	memset(&st, 0, sizeof(st));
	st.n = bench_size(&o, SLEEP_N);
	st.dur_ms = malloc(st.n * sizeof(*st.dur_ms));
	if (!st.dur_ms)
		bench_fail("out of memory");
	for (uint64_t i = 0; i < st.n; i++)
		st.dur_ms[i] = 1 + (unsigned)(bench_splitmix64(&seed) % 100);
	bench_samples_init(&st.wall, bench_reps(&o, 5));
	bench_samples_init(&st.late, bench_reps(&o, 5));
	if (dist) {
		st.lat_ns = calloc(st.n, sizeof(*st.lat_ns));
		st.start_ns = calloc(st.n, sizeof(*st.start_ns));
		if (!st.lat_ns || !st.start_ns)
			bench_fail("out of memory");
		bench_samples_init(&st.p50, bench_reps(&o, 5));
		bench_samples_init(&st.p99, bench_reps(&o, 5));
		bench_samples_init(&st.p999, bench_reps(&o, 5));
		bench_samples_init(&st.max, bench_reps(&o, 5));
	}
	bench_signal_init(&st.ctr.done);
	st.rt = bench_rt_create();
	BENCH_DRIVE(st.rt, sleep_driver, { .st = &st });
	weft_rt_destroy(st.rt);
	bench_signal_destroy(&st.ctr.done);
	free(st.dur_ms);
	bench_emit("sleep_many", st.n, "", "wall_ms",
		   bench_samples_median(&st.wall));
	bench_emit("sleep_many", st.n, "", "mean_lateness_us",
		   bench_samples_median(&st.late));
	if (dist) {
		bench_emit("sleep_many", st.n, "", "lateness_p50_us",
			   bench_samples_median(&st.p50));
		bench_emit("sleep_many", st.n, "", "lateness_p99_us",
			   bench_samples_median(&st.p99));
		bench_emit("sleep_many", st.n, "", "lateness_p999_us",
			   bench_samples_median(&st.p999));
		bench_emit("sleep_many", st.n, "", "lateness_max_us",
			   bench_samples_median(&st.max));
		free(st.lat_ns);
		free(st.start_ns);
	}
	return BENCH_EXIT_OK;
}

/* --------------------------------------------------------------- servers */

/* Exits the process on SIGTERM/SIGINT or after max_seconds. Runs on its
 * own thread; the signals are blocked everywhere else (before the runtime
 * creates its threads, so they inherit the mask). sigtimedwait fails with
 * EINTR when the process is stopped and continued (SIGSTOP/SIGCONT, a
 * debugger or strace attaching): only the monotonic clock passing the
 * deadline ends the wait, each retry with the time left. */
static void *server_watch(void *arg)
{
	unsigned secs = *(unsigned *)arg;
	uint64_t deadline = bench_now_ns() + (uint64_t)secs * 1000000000u;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		uint64_t now = bench_now_ns();
		struct timespec ts;

		if (now >= deadline) {
			fprintf(stderr, "%s: --max-seconds reached, exiting\n",
				bench_current_workload);
			break;
		}
		ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
		ts.tv_nsec = (long)((deadline - now) % 1000000000u);
		if (sigtimedwait(&set, NULL, &ts) >= 0)
			break; /* SIGTERM or SIGINT */
		/* EAGAIN (timed out) or EINTR: the clock decides */
	}
	_exit(0);
	return NULL;
}

static unsigned watch_secs;

static void server_setup(const struct bench_opts *o)
{
	pthread_t t;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* belt and braces: sends use MSG_NOSIGNAL */
	watch_secs = o->max_seconds;
	if (pthread_create(&t, NULL, server_watch, &watch_secs))
		bench_fail("cannot start the watcher thread");
	pthread_detach(t);
}

typedef int (*conn_spawn_fn)(weft_rt *rt, weft_stream *s);

struct acceptor {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_listener *l;
	conn_spawn_fn spawn;
	weft_listener_accept acc;
	weft_sleep pause;
};

static weft_poll acceptor_poll(struct acceptor *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		if (f->acc.res < 0) {
			fprintf(stderr, "%s: accept: %s\n",
				bench_current_workload,
				strerror((int)-f->acc.res));
			WEFT_AWAIT_INIT(weft_sleep, &f->pause, 10 * WEFT_MS);
			continue;
		}
		weft_tcp_set_nodelay(f->acc.stream, true);
		if (f->spawn(f->rt, f->acc.stream))
			weft_stream_drop(f->acc.stream);
	}
	WEFT_END();
}

WEFT_FUTURE(acceptor, struct acceptor, WEFT_NO_DROP);

static int serve(int argc, char **argv, const char *name, conn_spawn_fn spawn)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct bench_opts o;
	weft_listener *l;
	weft_join_wait jw = { 0 };
	weft_join *j;
	weft_rt *rt;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	if (!o.port) {
		fprintf(stderr, "%s: --port is required\n", name);
		return BENCH_EXIT_USAGE;
	}
	server_setup(&o);
	sin.sin_port = htons((unsigned short)o.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rt = bench_rt_create();
	rc = weft_tcp_listen(&l, (struct sockaddr *)&sin, sizeof(sin), NULL);
	if (rc)
		bench_fail("bind 127.0.0.1:%u: %s", o.port, strerror(-rc));
	fprintf(stderr, "weft %s listening on 127.0.0.1:%u\n", name, o.port);
	rc = WEFT_SPAWN(rt, acceptor, &j, { .rt = rt, .l = l, .spawn = spawn });
	if (rc)
		bench_spawn_failed(rc);
	/* the acceptor never ends: the watcher thread exits the process */
	weft_join_wait_init(&jw, j);
	WEFT_BLOCK_ON(rt, weft_join_wait, &jw);
	return BENCH_EXIT_FAIL;
}

/* ------------------------------------------------------------- tcp_echo */

struct echo_conn {
	WEFT_ASYNC;
	weft_stream *s;
	weft_stream_recv rx;
	weft_stream_send tx;
	char buf[4096];
};

static weft_poll echo_conn_poll(struct echo_conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->s, f->buf,
				sizeof(f->buf));
		if (f->rx.res <= 0)
			break;
		weft_stream_send_all_init(&f->tx, f->s, f->buf,
					  (size_t)f->rx.res);
		WEFT_AWAIT_ON(weft_stream_send, &f->tx);
		if (f->tx.res < 0)
			break;
	}
	WEFT_END();
}

static void echo_conn_drop(struct echo_conn *f)
{
	weft_stream_recv_drop(&f->rx);  /* no-ops unless pending */
	weft_stream_send_drop(&f->tx);
	weft_stream_drop(f->s);
}

WEFT_FUTURE(echo_conn, struct echo_conn, echo_conn_drop);

static int echo_spawn(weft_rt *rt, weft_stream *s)
{
	return WEFT_SPAWN(rt, echo_conn, NULL, { .s = s });
}

int bench_tcp_echo_server(int argc, char **argv)
{
	return serve(argc, argv, "tcp_echo_server", echo_spawn);
}

/* ----------------------------------------------------------------- http */

#define HTTP_BUF 8192

static const char *const http_days[7] = { "Thu", "Fri", "Sat", "Sun",
					  "Mon", "Tue", "Wed" };
static const char *const http_months[12] = { "Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec" };

/* IMF-fixdate of a Unix time, 29 bytes (no terminator needed). */
static void http_date(uint64_t secs, char out[30])
{
	int64_t days = (int64_t)(secs / 86400), sod = (int64_t)(secs % 86400);
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153, day = doy - (153 * mp + 2) / 5 + 1;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);

	snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 http_days[days % 7], (int)day, http_months[month - 1],
		 (int)year, (int)(sod / 3600), (int)(sod / 60 % 60),
		 (int)(sod % 60));
}

/* Per worker thread: the second the cached Date was made for. */
static _Thread_local uint64_t date_sec = UINT64_MAX;
static _Thread_local char date_buf[30];

static const char *http_cached_date(void)
{
	uint64_t now = (uint64_t)time(NULL);

	if (now != date_sec) {
		date_sec = now;
		http_date(now, date_buf);
	}
	return date_buf;
}

static const char resp_head[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
	"Content-Type: text/plain\r\nDate: ";
static const char resp_400[] = "HTTP/1.1 400 Bad Request\r\n"
			       "Content-Length: 0\r\nConnection: close\r\n\r\n";
static const char resp_431[] =
	"HTTP/1.1 431 Request Header Fields Too Large\r\n"
	"Content-Length: 0\r\nConnection: close\r\n\r\n";

static size_t push_response(char *out, bool close_it)
{
	size_t n = 0;

#define PUT(s, len) (memcpy(out + n, (s), (len)), n += (len))
	PUT(resp_head, sizeof(resp_head) - 1);
	PUT(http_cached_date(), 29);
	if (close_it)
		PUT("\r\nConnection: close\r\n\r\n", 23);
	else
		PUT("\r\n\r\n", 4);
	PUT("Hello, World!", 13);
#undef PUT
	return n;
}

static bool eq_nocase(const char *a, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(a, lit, n);
}

/* 1: close after answering, 0: keep alive, -1: refuse (400). */
static int close_after(const char *h, size_t len)
{
	const char *end = h + len, *line = h, *nl;
	size_t ll;
	int close_it;

	nl = memchr(line, '\n', len);
	ll = (nl ? (size_t)(nl - line) : len);
	if (ll && line[ll - 1] == '\r')
		ll--;
	if (ll >= 9 && !memcmp(line + ll - 9, " HTTP/1.1", 9))
		close_it = 0;
	else if (ll >= 9 && !memcmp(line + ll - 9, " HTTP/1.0", 9))
		close_it = 1;
	else
		return -1;
	/* every line after the request line is a header, the empty one
	 * after a trailing bare LF included (`Host: x\n` + CRLFCRLF: 400),
	 * as in the peer's split on every LF */
	while (nl) {
		const char *colon, *v, *ve;

		line = nl + 1;
		nl = memchr(line, '\n', (size_t)(end - line));
		ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (ll && line[ll - 1] == '\r')
			ll--;
		colon = memchr(line, ':', ll);
		if (!colon)
			return -1;
		v = colon + 1;
		ve = line + ll;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (eq_nocase(line, (size_t)(colon - line), "connection")) {
			if (eq_nocase(v, (size_t)(ve - v), "close"))
				close_it = 1;
			else if (eq_nocase(v, (size_t)(ve - v), "keep-alive"))
				close_it = 0;
		} else if (eq_nocase(line, (size_t)(colon - line),
				     "content-length")) {
			if (!(ve - v == 1 && *v == '0'))
				return -1;
		} else if (eq_nocase(line, (size_t)(colon - line),
				     "transfer-encoding")) {
			return -1;
		}
	}
	return close_it;
}

static const char *find_head_end(const char *b, size_t n)
{
	return memmem(b, n, "\r\n\r\n", 4);
}

/* A connection's memory. The peer's read buffer is 8 KiB, which is also
 * the largest request head; the connection starts on HTTP_RSMALL bytes
 * inside its frame and moves to a heap buffer of HTTP_BUF when a read
 * fills the small one (a pipelining burst, or a head that does not fit),
 * back again after a read that leaves the big one part empty with the
 * leftover fitting the small one. The output buffer is HTTP_WSMALL bytes
 * in the frame (8 responses: one request per read, as wrk sends, never
 * allocates), grown on the heap by doubling when more complete heads
 * arrived together, and freed once written. An idle connection so holds
 * its frame (2.2 KiB) and, only after a read that filled its buffer to
 * the last byte, the 8 KiB one: at most ~11 KiB, against 94 KiB when both
 * buffers were sized for the worst case inside the frame (issue 16; the
 * spawn copies the initialiser over the whole frame, so every byte of it
 * is resident). */
#define HTTP_RSMALL 1024
#define HTTP_WSMALL 1024
#define HTTP_RESP_MAX 134 /* a response with Connection: close */

struct http_conn {
	WEFT_ASYNC;
	weft_stream *s;
	char *rbuf;             /* rsmall, or HTTP_BUF bytes on the heap */
	char *wbuf;             /* wsmall, or wcap bytes on the heap */
	size_t rcap, filled, start, wlen, wcap;
	bool close_it, read_full;
	weft_stream_recv rx;
	weft_stream_send tx;
	char rsmall[HTTP_RSMALL];
	char wsmall[HTTP_WSMALL];
};

/* Room for one more response in wbuf; false when out of memory. */
static bool http_wroom(struct http_conn *f)
{
	size_t cap = f->wcap;
	char *nb;

	if (f->wcap - f->wlen >= HTTP_RESP_MAX)
		return true;
	while (cap - f->wlen < HTTP_RESP_MAX)
		cap *= 2;
	if (f->wbuf == f->wsmall) {
		nb = malloc(cap);
		if (nb)
			memcpy(nb, f->wbuf, f->wlen);
	} else {
		nb = realloc(f->wbuf, cap);
	}
	if (!nb)
		return false;
	f->wbuf = nb;
	f->wcap = cap;
	return true;
}

static void http_wfree(struct http_conn *f)
{
	if (f->wbuf != f->wsmall)
		free(f->wbuf);
	f->wbuf = f->wsmall;
	f->wcap = HTTP_WSMALL;
}

/* Answers every complete head in rbuf[0..filled); returns -1 on a refused
 * request (400 queued), else 0. Out of memory for the output it stops and
 * closes after writing what it has. */
static int http_answer(struct http_conn *f)
{
	const char *e;

	f->start = 0;
	while ((e = find_head_end(f->rbuf + f->start, f->filled - f->start))) {
		size_t hl = (size_t)(e - (f->rbuf + f->start));
		int c = close_after(f->rbuf + f->start, hl);

		if (c < 0) {
			memcpy(f->wbuf, resp_400, sizeof(resp_400) - 1);
			f->wlen = sizeof(resp_400) - 1;
			f->close_it = true;
			return -1;
		}
		if (!http_wroom(f)) {
			f->close_it = true;
			break;
		}
		f->close_it = c;
		f->wlen += push_response(f->wbuf + f->wlen, f->close_it);
		f->start += hl + 4;
		if (f->close_it)
			break;
	}
	return 0;
}

/* After a round, leftover moved to the front: picks the read buffer for
 * the next read; false to close (a head larger than HTTP_BUF, or no
 * memory for one larger than the small buffer). */
static bool http_rbuf_next(struct http_conn *f)
{
	char *big;

	if (f->rbuf == f->rsmall) {
		if (f->filled < HTTP_RSMALL && !f->read_full)
			return true;
		big = malloc(HTTP_BUF);
		if (!big)
			return f->filled < HTTP_RSMALL;
		memcpy(big, f->rsmall, f->filled);
		f->rbuf = big;
		f->rcap = HTTP_BUF;
		return true;
	}
	if (f->filled == HTTP_BUF)
		return false; /* a head larger than the buffer */
	if (!f->read_full && f->filled <= HTTP_RSMALL) {
		memcpy(f->rsmall, f->rbuf, f->filled);
		free(f->rbuf);
		f->rbuf = f->rsmall;
		f->rcap = HTTP_RSMALL;
	}
	return true;
}

static weft_poll http_conn_poll(struct http_conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->rbuf = f->rsmall;
	f->rcap = HTTP_RSMALL;
	f->wbuf = f->wsmall;
	f->wcap = HTTP_WSMALL;
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->s,
				f->rbuf + f->filled, f->rcap - f->filled);
		if (f->rx.res <= 0)
			break;
		f->read_full = (size_t)f->rx.res == f->rcap - f->filled;
		f->filled += (size_t)f->rx.res;
		f->wlen = 0;
		f->close_it = false;
		http_answer(f);
		if (f->wlen) {
			weft_stream_send_all_init(&f->tx, f->s, f->wbuf,
						  f->wlen);
			WEFT_AWAIT_ON(weft_stream_send, &f->tx);
			if (f->wbuf != f->wsmall)
				http_wfree(f);
			if (f->tx.res < 0)
				break;
		}
		if (f->close_it)
			break;
		memmove(f->rbuf, f->rbuf + f->start, f->filled - f->start);
		f->filled -= f->start;
		if (!http_rbuf_next(f)) {
			/* a head larger than the buffer is answered 431 before
			 * the close (issue 16's abuse run: it was closed
			 * without a word) */
			if (f->filled == HTTP_BUF) {
				weft_stream_send_all_init(&f->tx, f->s, resp_431,
							  sizeof(resp_431) - 1);
				WEFT_AWAIT_ON(weft_stream_send, &f->tx);
			}
			break;
		}
	}
	WEFT_END();
}

static void http_conn_drop(struct http_conn *f)
{
	weft_stream_recv_drop(&f->rx);
	weft_stream_send_drop(&f->tx); /* before the buffer it sends from */
	if (f->rbuf && f->rbuf != f->rsmall)
		free(f->rbuf);
	if (f->wbuf && f->wbuf != f->wsmall)
		free(f->wbuf);
	weft_stream_drop(f->s);
}

WEFT_FUTURE(http_conn, struct http_conn, http_conn_drop);

static int http_spawn(weft_rt *rt, weft_stream *s)
{
	return WEFT_SPAWN(rt, http_conn, NULL, { .s = s });
}

int bench_http_server(int argc, char **argv)
{
	return serve(argc, argv, "http_server", http_spawn);
}
