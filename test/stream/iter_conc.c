/* test/stream/iter_conc.c - streams inside a runtime with I/O:
 * for_each_concurrent (never more than limit at once, reaching it, every
 * item handled, an error item stops the pulling), buffer_unordered (every
 * result), buffered (results in the source's order), dropping each while
 * its futures sleep (their drop functions run; ASan: nothing leaks), the
 * interval, accept and signal sources, and timeout per item.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test/runtime/harness.h"
#include "weft.h"
#include "weft/iter.h"

static weft_rt *io_rt(unsigned workers)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.current_thread = workers == 0;
	b.no_pin = true;
	b.io.entries = 256;
	cr_assert_eq(weft_rt_create(&rt, &b), 0, "%s", weft_rt_create_error());
	return rt;
}

/* What the jobs share (one task polls them all: plain ints). */
struct conc {
	int running, max_running, done, dropped, started;
	int64_t sum;
	int64_t order[256];
	int norder;
};

/* A job: sleeps d, then returns 2 v. */
struct job {
	WEFT_ASYNC;
	struct conc *c;
	int64_t v;
	weft_duration d;
	bool running;
	weft_sleep sl;
};

static weft_poll job_poll(struct job *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->running = true;
	f->c->started++;
	if (++f->c->running > f->c->max_running)
		f->c->max_running = f->c->running;
	/* d 0: done at the first poll, so it always comes before the earlier
	 * items that wait for a timer (no timing involved) */
	if (f->d)
		WEFT_AWAIT_INIT(weft_sleep, &f->sl, f->d);
	f->running = false;
	f->c->running--;
	f->c->done++;
	f->c->sum += f->v;
	WEFT_RETURN(2 * f->v);
	WEFT_END();
}

static void job_drop(struct job *f)
{
	if (f->running) {
		f->running = false;
		f->c->running--;
		f->c->dropped++;
	}
	weft_sleep_drop(&f->sl);
}
WEFT_FUTURE(job, struct job, job_drop);

static void job_start(void *ctx, void *frame, const void *item)
{
	struct job *j = frame;

	j->c = ctx;
	memcpy(&j->v, item, sizeof(j->v));
	/* 0 to 4 ms, so that they finish out of order */
	j->d = (weft_duration)((j->v * 7) % 5) * WEFT_MS;
}

/* An unbounded mpsc channel holding 1..n, closed. */
static weft_mpsc_rx *filled(int64_t n)
{
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;

	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(int64_t),
				      WEFT_MPSC_UNBOUNDED, NULL), 0);
	for (int64_t i = 1; i <= n; i++)
		cr_assert_eq(weft_mpsc_try_send(tx, &i), 0);
	weft_mpsc_tx_drop(tx);
	return rx;
}

/* ------------------------------------------------ for_each_concurrent */

struct fec_task {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	struct conc *c;
	size_t limit;
	weft_iter_mpsc src;
	weft_iter_for_each_concurrent fe;
};

static weft_poll fec_task_poll(struct fec_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_mpsc_init(&f->src, f->rx, sizeof(int64_t));
	WEFT_ITER_FOR_EACH_CONCURRENT_INIT(&f->fe, &f->src.it, f->limit, job,
					   job_start, f->c);
	WEFT_AWAIT_ON(weft_iter_for_each_concurrent, &f->fe);
	WEFT_RETURN(f->fe.res);
	WEFT_END();
}
WEFT_FUTURE(fec_task, struct fec_task, WEFT_NO_DROP);

Test(iter_conc, for_each_concurrent_bounded_and_complete,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(2);
	struct conc c = { 0 };
	struct fec_task t = { .rx = filled(100), .c = &c, .limit = 8 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, fec_task, &t), 0);
	cr_assert_eq(t.res, 0);
	cr_assert_eq(c.done, 100);
	cr_assert_eq(c.sum, 100 * 101 / 2);
	cr_assert_leq(c.max_running, 8, "at most limit at once");
	cr_assert_eq(c.max_running, 8, "and the limit is used");
	cr_assert_eq(c.running, 0);
	weft_mpsc_rx_drop(t.rx);
	weft_rt_destroy(rt);
	rt_leak_check();
}

/* Dropped while its jobs sleep: a select against a short sleep. */
struct fec_drop_task {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	struct conc *c;
	weft_iter_mpsc src;
	weft_iter_for_each_concurrent fe;
	weft_sleep stop;
	weft_branch br[2];
	weft_select sel;
};

/* Jobs that sleep for a minute (they are dropped long before). */
static void long_start(void *ctx, void *frame, const void *item)
{
	struct job *j = frame;

	(void)item;
	j->c = ctx;
	j->d = 60 * WEFT_SEC;
}

static weft_poll fec_drop_task_poll(struct fec_drop_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_mpsc_init(&f->src, f->rx, sizeof(int64_t));
	WEFT_ITER_FOR_EACH_CONCURRENT_INIT(&f->fe, &f->src.it, 4, job,
					   long_start, f->c);
	weft_sleep_init(&f->stop, 30 * WEFT_MS);
	WEFT_AWAIT_SELECT(&f->sel, f->br, WEFT_SELECT_BIASED,
			  WEFT_BRANCH(weft_iter_for_each_concurrent, &f->fe),
			  WEFT_BRANCH(weft_sleep, &f->stop));
	WEFT_RETURN(f->sel.res);
	WEFT_END();
}
WEFT_FUTURE(fec_drop_task, struct fec_drop_task, WEFT_NO_DROP);

Test(iter_conc, dropping_for_each_concurrent_drops_sleeping_jobs,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(1);
	struct conc c = { 0 };
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	struct fec_drop_task t = { .c = &c };

	/* the channel stays open: the stream never ends */
	cr_assert_eq(weft_mpsc_create(&tx, &rx, sizeof(int64_t), 0, NULL), 0);
	for (int64_t i = 1; i <= 10; i++)
		cr_assert_eq(weft_mpsc_try_send(tx, &i), 0);
	t.rx = rx;
	cr_assert_eq(WEFT_BLOCK_ON(rt, fec_drop_task, &t), 0);
	cr_assert_eq(t.res, 1, "the stop sleep won");
	cr_assert_eq(c.started, 4);
	cr_assert_eq(c.dropped, 4, "each running job's drop ran");
	cr_assert_eq(c.running, 0);
	cr_assert_eq(weft_mpsc_len(rx), 6, "items not pulled stay queued");
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	weft_rt_destroy(rt);
	rt_leak_check();
}

/* --------------------------------------------- buffered, unordered */

struct buf_task {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	struct conc *c;
	bool ordered;
	size_t stop_after;  /* 0: drain; else drop after this many */
	weft_iter_mpsc src;
	weft_iter_buffered b;
	weft_iter_next nx;
	int64_t item;
};

static weft_poll buf_task_poll(struct buf_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_mpsc_init(&f->src, f->rx, sizeof(int64_t));
	if (f->ordered)
		weft_iter_buffered_init(&f->b, &f->src.it, 6, &job_future,
					job_start, NULL, 0, f->c);
	else
		weft_iter_buffer_unordered_init(&f->b, &f->src.it, 6,
						&job_future, job_start, NULL,
						0, f->c);
	for (;;) {
		WEFT_AWAIT_INIT(weft_iter_next, &f->nx, &f->b.it, &f->item);
		if (f->nx.res == WEFT_ITER_END)
			break;
		if (f->nx.res < 0)
			WEFT_RETURN(f->nx.res);
		f->c->order[f->c->norder++] = f->item;
		if (f->stop_after && (size_t)f->c->norder == f->stop_after)
			break;
	}
	weft_iter_drop(&f->b.it);
	WEFT_RETURN(0);
	WEFT_END();
}
WEFT_FUTURE(buf_task, struct buf_task, WEFT_NO_DROP);

Test(iter_conc, buffered_keeps_order_unordered_does_not_need_to,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(2);

	for (int ordered = 0; ordered < 2; ordered++) {
		struct conc c = { 0 };
		struct buf_task t = { .rx = filled(60), .c = &c,
				      .ordered = ordered };
		int64_t seen[61] = { 0 };
		bool in_order = true;

		cr_assert_eq(WEFT_BLOCK_ON(rt, buf_task, &t), 0);
		cr_assert_eq(t.res, 0);
		cr_assert_eq(c.norder, 60);
		for (int i = 0; i < 60; i++) {
			cr_assert(c.order[i] % 2 == 0 && c.order[i] <= 120);
			seen[c.order[i] / 2]++;
			if (c.order[i] != 2 * (i + 1))
				in_order = false;
		}
		for (int i = 1; i <= 60; i++)
			cr_assert_eq(seen[i], 1, "result %d seen %lld", i,
				     (long long)seen[i]);
		cr_assert_leq(c.max_running, 6);
		if (ordered)
			cr_assert(in_order, "buffered gives the source's order");
		else
			cr_assert(!in_order, "item 5 (no sleep) before item 1");
		weft_mpsc_rx_drop(t.rx);
	}
	weft_rt_destroy(rt);
	rt_leak_check();
}

Test(iter_conc, dropping_buffered_mid_flight, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(1);
	struct conc c = { 0 };
	struct buf_task t = { .rx = filled(60), .c = &c,
			      .ordered = true, .stop_after = 3 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, buf_task, &t), 0);
	cr_assert_eq(c.norder, 3);
	cr_assert_eq(c.running, 0, "the running jobs were dropped");
	weft_mpsc_rx_drop(t.rx);
	weft_rt_destroy(rt);
	rt_leak_check();
}

/* ---------------------------------------------- interval and timeout */

struct ivl_task {
	WEFT_ASYNC;
	weft_interval iv;
	weft_iter_interval src;
	weft_iter_take take;
	weft_iter_next nx;
	weft_instant tick, last;
	int n;
};

static weft_poll ivl_task_poll(struct ivl_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_interval_init(&f->iv, weft_now(), 2 * WEFT_MS, WEFT_MISSED_BURST);
	weft_iter_interval_init(&f->src, &f->iv);
	weft_iter_take_init(&f->take, &f->src.it, 3);
	for (;;) {
		WEFT_AWAIT_INIT(weft_iter_next, &f->nx, &f->take.it, &f->tick);
		if (f->nx.res == WEFT_ITER_END)
			break;
		if (f->nx.res < 0)
			WEFT_RETURN(f->nx.res);
		if (f->n && f->tick != f->last + 2 * WEFT_MS)
			WEFT_RETURN(-ERANGE);
		f->last = f->tick;
		f->n++;
	}
	weft_interval_destroy(&f->iv);
	WEFT_RETURN(f->n);
	WEFT_END();
}
WEFT_FUTURE(ivl_task, struct ivl_task, WEFT_NO_DROP);

Test(iter_conc, interval_ticks_as_a_stream, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(1);
	struct ivl_task t = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, ivl_task, &t), 0);
	cr_assert_eq(t.res, 3, "three ticks a period apart, then the end");
	weft_rt_destroy(rt);
}

struct tmo_task {
	WEFT_ASYNC;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_iter_mpsc src;
	weft_iter_timeout tmo;
	weft_iter_next nx;
	int64_t item;
	intptr_t first;
};

static weft_poll tmo_task_poll(struct tmo_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_mpsc_init(&f->src, f->rx, sizeof(int64_t));
	weft_iter_timeout_init(&f->tmo, &f->src.it, 5 * WEFT_MS);
	WEFT_AWAIT_INIT(weft_iter_next, &f->nx, &f->tmo.it, &f->item);
	f->first = f->nx.res;
	f->item = 42;
	weft_mpsc_try_send(f->tx, &f->item);
	f->item = 0;
	WEFT_AWAIT_INIT(weft_iter_next, &f->nx, &f->tmo.it, &f->item);
	weft_iter_drop(&f->tmo.it);
	WEFT_RETURN(f->nx.res == 0 ? f->item : f->nx.res);
	WEFT_END();
}
WEFT_FUTURE(tmo_task, struct tmo_task, WEFT_NO_DROP);

Test(iter_conc, timeout_per_item, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(1);
	struct tmo_task t = { 0 };

	cr_assert_eq(weft_mpsc_create(&t.tx, &t.rx, sizeof(int64_t), 4, NULL),
		     0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, tmo_task, &t), 0);
	cr_assert_eq(t.first, -ETIMEDOUT, "no item within the limit");
	cr_assert_eq(t.res, 42, "the stream goes on after a timeout");
	weft_mpsc_tx_drop(t.tx);
	weft_mpsc_rx_drop(t.rx);
	weft_rt_destroy(rt);
	rt_leak_check();
}

/* ------------------------------------------------- accept and signals */

static void *connector(void *p)
{
	struct sockaddr_in *sa = p;

	for (int i = 0; i < 3; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		cr_assert_geq(fd, 0);
		cr_assert_eq(connect(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
		close(fd);
	}
	return NULL;
}

struct acc_task {
	WEFT_ASYNC;
	weft_listener *l;
	weft_iter_accept src;
	weft_iter_take take;
	weft_iter_next nx;
	weft_stream *s;
	int n;
};

static weft_poll acc_task_poll(struct acc_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_accept_init(&f->src, f->l);
	weft_iter_take_init(&f->take, &f->src.it, 3);
	for (;;) {
		WEFT_AWAIT_INIT(weft_iter_next, &f->nx, &f->take.it, &f->s);
		if (f->nx.res == WEFT_ITER_END)
			break;
		if (f->nx.res < 0)
			WEFT_RETURN(f->nx.res);
		weft_stream_drop(f->s);
		f->n++;
	}
	weft_iter_drop(&f->src.it);
	WEFT_RETURN(f->n);
	WEFT_END();
}
WEFT_FUTURE(acc_task, struct acc_task, WEFT_NO_DROP);

Test(iter_conc, accepted_connections_as_a_stream, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = io_rt(1);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t len;
	struct acc_task t = { 0 };
	pthread_t th;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(weft_tcp_listen(&t.l, (struct sockaddr *)&sa, sizeof(sa),
				     NULL), 0);
	cr_assert_eq(weft_listener_local_addr(t.l, &ss, &len), 0);
	memcpy(&sa, &ss, sizeof(sa));
	pthread_create(&th, NULL, connector, &sa);
	cr_assert_eq(WEFT_BLOCK_ON(rt, acc_task, &t), 0);
	pthread_join(th, NULL);
	cr_assert_eq(t.res, 3);
	weft_listener_drop(t.l);
	weft_rt_destroy(rt);
}

struct sig_task {
	WEFT_ASYNC;
	weft_signal *sig;
	weft_iter_signal src;
	weft_iter_next nx;
	struct signalfd_siginfo info;
};

static weft_poll sig_task_poll(struct sig_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_iter_signal_init(&f->src, f->sig);
	kill(getpid(), SIGUSR2);
	WEFT_AWAIT_INIT(weft_iter_next, &f->nx, &f->src.it, &f->info);
	weft_iter_drop(&f->src.it);
	WEFT_RETURN(f->nx.res > 0 ? (intptr_t)f->info.ssi_signo : f->nx.res);
	WEFT_END();
}
WEFT_FUTURE(sig_task, struct sig_task, WEFT_NO_DROP);

Test(iter_conc, signals_as_a_stream, .timeout = RT_TIMEOUT)
{
	sigset_t set;
	struct sig_task t = { 0 };
	weft_rt *rt;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	cr_assert_eq(weft_signal_block(&set), 0);
	rt = io_rt(0);
	cr_assert_eq(weft_signal_create(&t.sig, &set), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, sig_task, &t), 0);
	cr_assert_eq(t.res, SIGUSR2);
	weft_signal_destroy(t.sig);
	weft_rt_destroy(rt);
}
