/* test/runtime/faults.c - injected allocation failures (issue 16): a
 * program's worth of weft (a runtime with I/O, spawned tasks, channels, a
 * oneshot reply, a timer, a TCP connection echoing through a server task)
 * is run once for each allocation weft makes in it, with exactly that one
 * allocation failing. Each run must end (no hang: a lost wake-up or a task
 * that waits forever on a peer that failed), report a clear error or
 * succeed through a fallback, and leave nothing allocated: every block
 * weft allocated during the run is freed once the runtime is destroyed.
 *
 * The failures are injected by the linker: this test is linked with
 * --wrap for malloc, calloc, realloc, aligned_alloc and free (and
 * jemalloc's mallocx/sdallocx when weft uses them), which redirects the
 * calls made by weft's objects (the static library is linked into this
 * executable) and by this file, not those inside libc or Criterion. The
 * wrappers count allocations, fail the chosen one, and keep the set of
 * live blocks. With TLS (OpenSSL found), the same sweep runs a TLS client
 * and server over a duplex pair. */
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "weft.h"

/* ------------------------------------------------------------ wrappers */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
void __wrap_free(void *p);

/* The allocation to fail: counts down, the one that takes it from 0 to -1
 * fails; negative = none (after it, the count stays negative). */
static atomic_long countdown = -1;
static atomic_long allocs;        /* allocations counted while armed */
static atomic_bool armed;

#define LIVE_SLOTS (1u << 16)
static void *live[LIVE_SLOTS];    /* open addressing; TOMB = freed slot */
#define TOMB ((void *)1)
static atomic_flag live_lock = ATOMIC_FLAG_INIT;
static long nlive;

static void lk(void)
{
	while (atomic_flag_test_and_set_explicit(&live_lock,
						 memory_order_acquire))
		;
}

static void unlk(void)
{
	atomic_flag_clear_explicit(&live_lock, memory_order_release);
}

static size_t slot_of(void *p)
{
	return ((uintptr_t)p >> 4) * 2654435761u % LIVE_SLOTS;
}

static void live_add(void *p)
{
	size_t i = slot_of(p);

	lk();
	while (live[i] && live[i] != TOMB)
		i = (i + 1) % LIVE_SLOTS;
	live[i] = p;
	nlive++;
	unlk();
}

static void live_del(void *p)
{
	size_t i = slot_of(p);

	lk();
	for (size_t k = 0; k < LIVE_SLOTS && live[i]; k++) {
		if (live[i] == p) {
			live[i] = TOMB;
			nlive--;
			break;
		}
		i = (i + 1) % LIVE_SLOTS;
	}
	unlk();
}

/* Where the failed allocation was made (printed when a run hangs). */
static void *failed_at[32];
static int failed_depth;

/* true: this allocation fails */
static bool inject(void)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return false;
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	if (atomic_fetch_sub_explicit(&countdown, 1, memory_order_relaxed))
		return false;
	failed_depth = backtrace(failed_at, 32);
	return true;
}

static void *track(void *p)
{
	if (p && atomic_load_explicit(&armed, memory_order_relaxed))
		live_add(p);
	return p;
}

void *__wrap_malloc(size_t n)
{
	return inject() ? NULL : track(__real_malloc(n));
}

void *__wrap_calloc(size_t k, size_t n)
{
	return inject() ? NULL : track(__real_calloc(k, n));
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return inject() ? NULL : track(__real_aligned_alloc(a, n));
}

void *__wrap_realloc(void *p, size_t n)
{
	void *q;

	if (inject())
		return NULL;
	q = __real_realloc(p, n);
	if (q && p)
		live_del(p);
	return track(q);
}

void __wrap_free(void *p)
{
	if (p)
		live_del(p);
	__real_free(p);
}

#ifdef FAULTS_WRAP_JEMALLOC
void *__real_mallocx(size_t n, int flags);
void __real_sdallocx(void *p, size_t n, int flags);
void *__wrap_mallocx(size_t n, int flags);
void __wrap_sdallocx(void *p, size_t n, int flags);

void *__wrap_mallocx(size_t n, int flags)
{
	return inject() ? NULL : track(__real_mallocx(n, flags));
}

void __wrap_sdallocx(void *p, size_t n, int flags)
{
	if (p)
		live_del(p);
	__real_sdallocx(p, n, flags);
}
#endif

static void arm(long fail_at)
{
	memset(live, 0, sizeof(live));
	nlive = 0;
	atomic_store(&allocs, 0);
	atomic_store(&countdown, fail_at);
	atomic_store(&armed, true);
}

static long disarm(void)
{
	atomic_store(&armed, false);
	atomic_store(&countdown, -1);
	return atomic_load(&allocs);
}

/* ------------------------------------------------------------ scenario */

#define MSGS 16
#define ECHO_BYTES 3000

struct producer {
	WEFT_ASYNC;
	weft_mpsc_tx *tx;
	uint64_t i;
	weft_mpsc_send send;
};

static weft_poll producer_poll(struct producer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < MSGS; f->i++) {
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx, &f->i);
		if (f->send.res < 0)
			break;
	}
	weft_mpsc_tx_drop(f->tx);
	f->tx = NULL;
	WEFT_RETURN(f->i == MSGS ? 0 : f->send.res);
	WEFT_END();
}

static void producer_drop(struct producer *f)
{
	weft_mpsc_send_drop(&f->send);
	if (f->tx)
		weft_mpsc_tx_drop(f->tx);
}
WEFT_FUTURE(producer, struct producer, producer_drop);

struct replier {
	WEFT_ASYNC_VOID;
	weft_oneshot *reply;
};

static weft_poll replier_poll(struct replier *f, weft_cx *cx)
{
	int v = 42;

	WEFT_BEGIN(f, cx);
	weft_oneshot_send(f->reply, &v);   /* consumes the sender */
	f->reply = NULL;
	WEFT_END();
}

static void replier_drop(struct replier *f)
{
	if (f->reply)
		weft_oneshot_tx_drop(f->reply);
}
WEFT_FUTURE(replier, struct replier, replier_drop);

/* Accepts one connection and echoes what it reads until end of stream. */
struct server {
	WEFT_ASYNC;
	weft_listener *l;
	weft_stream *s;
	char buf[1024];
	weft_listener_accept acc;
	weft_stream_recv recv;
	weft_stream_send send;
};

static weft_poll server_poll(struct server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	/* the listener is the server's: closing it resets a connection
	 * still in the backlog, so a client of a failed accept sees it */
	weft_listener_drop(f->l);
	f->l = NULL;
	if (f->acc.res < 0)
		WEFT_RETURN(f->acc.res);
	f->s = f->acc.stream;
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->recv, f->s, f->buf,
				sizeof(f->buf));
		if (f->recv.res <= 0)
			break;
		weft_stream_send_all_init(&f->send, f->s, f->buf,
					  (size_t)f->recv.res);
		WEFT_AWAIT_ON(weft_stream_send, &f->send);
		if (f->send.res < 0)
			break;
	}
	weft_stream_drop(f->s);
	f->s = NULL;
	WEFT_RETURN(f->recv.res < 0 ? f->recv.res : 0);
	WEFT_END();
}

static void server_drop(struct server *f)
{
	weft_listener_accept_drop(&f->acc);
	if (f->l)
		weft_listener_drop(f->l);
	weft_stream_recv_drop(&f->recv);
	weft_stream_send_drop(&f->send);
	if (f->s)
		weft_stream_drop(f->s);
}
WEFT_FUTURE(server, struct server, server_drop);

struct scenario {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_oneshot *otx, *orx;
	weft_join *jp, *jr, *js;
	weft_listener *l;
	weft_stream *c;
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t v, sum;
	int got, reply;
	size_t back;
	char out[ECHO_BYTES], in[ECHO_BYTES];
	weft_mpsc_recv recv;
	weft_oneshot_recv orecv;
	weft_join_wait jw;
	weft_sleep nap;
	weft_tcp_connect conn;
	weft_stream_send send;
	weft_stream_recv srecv;
};

#define TRY(expr)                                                           \
	do {                                                                \
		intptr_t r_ = (expr);                                       \
		if (r_ < 0)                                                 \
			WEFT_RETURN(r_);                                    \
	} while (0)

static weft_poll scenario_poll(struct scenario *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	/* channels and tasks */
	TRY(weft_mpsc_create(&f->tx, &f->rx, sizeof(uint64_t), 4, NULL));
	TRY(WEFT_SPAWN(f->rt, producer, &f->jp, { .tx = f->tx }));
	f->tx = NULL;
	for (;;) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx, &f->v);
		if (f->recv.res < 0)
			break;
		f->sum += f->v;
		f->got++;
	}
	weft_join_wait_init(&f->jw, f->jp);
	WEFT_AWAIT_ON(weft_join_wait, &f->jw);
	TRY(f->jw.res);
	if (f->got != MSGS || f->sum != MSGS * (MSGS - 1) / 2)
		WEFT_RETURN(-EPROTO);   /* values lost: never acceptable */
	TRY(weft_oneshot_create(&f->orx, sizeof(int)));
	f->otx = f->orx;   /* one object, two roles */
	TRY(WEFT_SPAWN(f->rt, replier, &f->jr, { .reply = f->otx }));
	f->otx = NULL;     /* the replier's now */
	WEFT_AWAIT_INIT(weft_oneshot_recv, &f->orecv, f->orx, &f->reply);
	TRY(f->orecv.res);
	if (f->reply != 42)
		WEFT_RETURN(-EPROTO);
	/* a timer */
	WEFT_AWAIT_INIT(weft_sleep, &f->nap, WEFT_MS);
	TRY(f->nap.res);
	/* TCP through a server task */
	{
		struct sockaddr_in *a = (struct sockaddr_in *)&f->ss;

		memset(&f->ss, 0, sizeof(f->ss));
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		TRY(weft_tcp_listen(&f->l, (struct sockaddr *)a, sizeof(*a),
				    NULL));
		f->len = sizeof(f->ss);
		TRY(weft_listener_local_addr(f->l, &f->ss, &f->len));
	}
	TRY(WEFT_SPAWN(f->rt, server, &f->js, { .l = f->l }));
	f->l = NULL;   /* the server's now */
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->conn, (struct sockaddr *)&f->ss,
			f->len, 0);
	TRY(f->conn.res);
	f->c = f->conn.stream;
	for (size_t i = 0; i < ECHO_BYTES; i++)
		f->out[i] = (char)(i * 7 + 1);
	weft_stream_send_all_init(&f->send, f->c, f->out, ECHO_BYTES);
	WEFT_AWAIT_ON(weft_stream_send, &f->send);
	TRY(f->send.res);
	while (f->back < ECHO_BYTES) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->srecv, f->c,
				f->in + f->back, ECHO_BYTES - f->back);
		TRY(f->srecv.res);
		if (f->srecv.res == 0)
			WEFT_RETURN(-EPIPE);   /* the server gave up */
		f->back += (size_t)f->srecv.res;
	}
	if (memcmp(f->in, f->out, ECHO_BYTES))
		WEFT_RETURN(-EPROTO);
	weft_stream_shutdown(f->c, SHUT_WR);
	weft_join_wait_init(&f->jw, f->js);
	WEFT_AWAIT_ON(weft_join_wait, &f->jw);
	TRY(f->jw.res);
	WEFT_RETURN(0);
	WEFT_END();
}

static void scenario_drop(struct scenario *f)
{
	weft_mpsc_recv_drop(&f->recv);
	weft_oneshot_recv_drop(&f->orecv);
	weft_join_wait_drop(&f->jw);
	weft_sleep_drop(&f->nap);
	weft_tcp_connect_drop(&f->conn);
	weft_stream_send_drop(&f->send);
	weft_stream_recv_drop(&f->srecv);
	if (f->tx)
		weft_mpsc_tx_drop(f->tx);
	if (f->rx)
		weft_mpsc_rx_drop(f->rx);
	if (f->otx)
		weft_oneshot_tx_drop(f->otx);
	if (f->orx)
		weft_oneshot_rx_drop(f->orx);
	weft_join_drop(f->jp);
	weft_join_drop(f->jr);
	weft_join_drop(f->js);
	if (f->c)
		weft_stream_drop(f->c);
	if (f->l)
		weft_listener_drop(f->l);
}
WEFT_FUTURE(scenario, struct scenario, scenario_drop);

/* One run: returns the scenario's result, or the error that stopped it
 * before it ran (the runtime could not be created, block_on refused). */
#if WEFT_HAVE_TLS_TEST
static intptr_t run_tls(weft_rt *rt);
#endif
static bool tls_mode; /* the sweep runs the TLS scenario */

static intptr_t run_once(unsigned workers)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	struct scenario *f;
	intptr_t res;
	int ret;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.current_thread = workers == 0;
	b.no_pin = true;
	b.io.entries = 64;
	ret = weft_rt_create(&rt, &b);
	if (ret < 0)
		return ret;
#if WEFT_HAVE_TLS_TEST
	if (tls_mode) {
		res = run_tls(rt);
		weft_rt_destroy(rt);
		return res;
	}
#endif
	/* the frame is the test's: taken with the real calloc, neither
	 * counted nor failed */
	f = __real_calloc(1, sizeof(*f));
	cr_assert(f);
	f->rt = rt;
	f->res = -EINPROGRESS;
	ret = WEFT_BLOCK_ON(rt, scenario, f);
	res = ret < 0 ? ret : f->res;
	scenario_drop(f);
	weft_rt_destroy(rt);
	__real_free(f);
	return res;
}

static bool acceptable(intptr_t r)
{
	/* -ENOMEM where the allocation failed; what a peer sees of it: end
	 * of stream (-EPIPE here), a reset or a refused connection (the
	 * server's listener closed), a cancelled operation */
	return r == 0 || r == -ENOMEM || r == -EPIPE || r == -ECONNRESET ||
	       r == -ECONNREFUSED || r == -ECANCELED ||
	       /* TLS: a context that could not load its files (OpenSSL's
		* view of a failed allocation), a handshake that failed */
	       (tls_mode && (r == -EPROTO || r == -EKEYREJECTED));
}

static volatile long hang_at = -1;

static void on_alarm(int sig)
{
	char msg[96];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg),
		     "faults: hung with allocation %ld failing\n", hang_at);
	if (write(2, msg, (size_t)n) < 0) {
		/* nothing more to do */
	}
	backtrace_symbols_fd(failed_at, failed_depth, 2);
	abort();
}

static void sweep(unsigned workers)
{
	long total, k, failed_runs = 0, ok_runs = 0;
	intptr_t r;

	/* backtrace's first call loads libgcc (allocating): not in a run */
	failed_depth = backtrace(failed_at, 32);
	/* a clean run first: how many allocations the scenario makes */
	arm(-1);
	r = run_once(workers);
	total = disarm();
	cr_assert_eq(r, 0, "the scenario itself fails: %ld", (long)r);
	cr_assert_eq(nlive, 0, "a clean run leaves %ld blocks", nlive);
	cr_assert_gt(total, 10, "the wrappers see weft's allocations");
	signal(SIGALRM, on_alarm);
	for (k = 0; k < total + 8; k++) {
		long made;

		hang_at = k;
		alarm(20);
		arm(k);
		r = run_once(workers);
		made = disarm();
		alarm(0);
		cr_assert(acceptable(r),
			  "allocation %ld of %ld failing: result %ld", k, made,
			  (long)r);
		cr_assert_eq(nlive, 0,
			     "allocation %ld failing: %ld blocks left", k,
			     nlive);
		if (r == 0)
			ok_runs++;
		else
			failed_runs++;
		if (made <= k)
			break;   /* no allocation failed: past the last one */
	}
	cr_log_info("workers %u: %ld allocations; with one failing: %ld runs "
		    "failed cleanly, %ld succeeded anyway", workers, total,
		    failed_runs, ok_runs);
	cr_assert_gt(failed_runs, 0, "no injected failure was reported");
}

#if WEFT_HAVE_TLS_TEST
/* ----------------------------------------------------------------- TLS
 * A TLS client and server (weft/tls.h) over an in-memory duplex pair:
 * the contexts, the pair, both wraps, the handshake, 4 KiB each way and
 * close_notify, in one run. Only weft's own allocations are failed (the
 * wrappers see weft's objects, not OpenSSL's). Certificates come from
 * `openssl req`, made once before the sweep. */
#define TLS_BYTES 4096
static char tls_dir[64], tls_cert[128], tls_key[128];

struct tls_server {
	WEFT_ASYNC;
	weft_bytes *b;
	weft_bytes_read r;
	weft_bytes_write w;
	weft_bytes_flush f;
	char buf[TLS_BYTES];
};

static weft_poll tls_server_poll(struct tls_server *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_bytes_read_exact_init(&f->r, f->b, f->buf, TLS_BYTES);
	WEFT_AWAIT_ON(weft_bytes_read, &f->r);
	TRY(f->r.res);
	weft_bytes_write_all_init(&f->w, f->b, f->buf, TLS_BYTES);
	WEFT_AWAIT_ON(weft_bytes_write, &f->w);
	TRY(f->w.res);
	weft_bytes_shutdown_init(&f->f, f->b);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	TRY(f->f.res);
	WEFT_RETURN(0);
	WEFT_END();
}

static void tls_server_drop(struct tls_server *f)
{
	weft_bytes_read_drop(&f->r);
	weft_bytes_write_drop(&f->w);
	weft_bytes_flush_drop(&f->f);
	weft_bytes_drop(f->b);   /* the server's end, its to release */
}
WEFT_FUTURE(tls_server, struct tls_server, tls_server_drop);

struct tls_scn {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_tls_ctx *sc, *cc;
	weft_bytes *a, *b, *ta;
	weft_join *js;
	weft_join_wait jw;
	weft_bytes_write w;
	weft_bytes_read r;
	weft_bytes_flush f;
	char out[TLS_BYTES], in[TLS_BYTES];
};

static weft_poll tls_scn_poll(struct tls_scn *f, weft_cx *cx)
{
	weft_bytes *tb;
	weft_tls_config scfg = { .server = true, .cert_file = tls_cert,
				 .key_file = tls_key };
	weft_tls_config ccfg = { .ca_file = tls_cert,
				 .server_name = "localhost" };

	WEFT_BEGIN(f, cx);
	TRY(weft_tls_ctx_create(&f->sc, &scfg));
	TRY(weft_tls_ctx_create(&f->cc, &ccfg));
	TRY(weft_bytes_duplex(&f->a, &f->b, 0));
	TRY(weft_tls_wrap(&f->ta, f->cc, f->a));
	f->a = NULL;       /* the client stream's now */
	TRY(weft_tls_wrap(&tb, f->sc, f->b));
	f->b = NULL;
	if (WEFT_SPAWN(f->rt, tls_server, &f->js, { .b = tb })) {
		weft_bytes_drop(tb);
		WEFT_RETURN(-ENOMEM);
	}
	for (size_t i = 0; i < TLS_BYTES; i++)
		f->out[i] = (char)(i * 13 + 5);
	weft_bytes_write_all_init(&f->w, f->ta, f->out, TLS_BYTES);
	WEFT_AWAIT_ON(weft_bytes_write, &f->w);
	TRY(f->w.res);
	weft_bytes_flush_init(&f->f, f->ta);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	TRY(f->f.res);
	weft_bytes_read_exact_init(&f->r, f->ta, f->in, TLS_BYTES);
	WEFT_AWAIT_ON(weft_bytes_read, &f->r);
	TRY(f->r.res);
	if (memcmp(f->in, f->out, TLS_BYTES))
		WEFT_RETURN(-EPROTO);
	weft_join_wait_init(&f->jw, f->js);
	WEFT_AWAIT_ON(weft_join_wait, &f->jw);
	TRY(f->jw.res);
	WEFT_RETURN(0);
	WEFT_END();
}

static void tls_scn_drop(struct tls_scn *f)
{
	weft_bytes_write_drop(&f->w);
	weft_bytes_read_drop(&f->r);
	weft_bytes_flush_drop(&f->f);
	weft_join_wait_drop(&f->jw);
	if (f->ta)
		weft_bytes_drop(f->ta);
	if (f->a)
		weft_bytes_drop(f->a);
	if (f->b)
		weft_bytes_drop(f->b);
	weft_join_drop(f->js);
	weft_tls_ctx_destroy(f->sc);
	weft_tls_ctx_destroy(f->cc);
}
WEFT_FUTURE(tls_scn, struct tls_scn, tls_scn_drop);

static intptr_t run_tls(weft_rt *rt)
{
	struct tls_scn *f = __real_calloc(1, sizeof(*f));
	intptr_t res;
	int ret;

	cr_assert(f);
	f->rt = rt;
	f->res = -EINPROGRESS;
	ret = WEFT_BLOCK_ON(rt, tls_scn, f);
	res = ret < 0 ? ret : f->res;
	tls_scn_drop(f);
	/* the server task's frame goes with the runtime */
	__real_free(f);
	return res;
}

static void tls_sweep(unsigned workers)
{
	char cmd[512];

	snprintf(tls_dir, sizeof(tls_dir), "/tmp/weft-faults-XXXXXX");
	cr_assert(mkdtemp(tls_dir));
	snprintf(tls_cert, sizeof(tls_cert), "%s/cert.pem", tls_dir);
	snprintf(tls_key, sizeof(tls_key), "%s/key.pem", tls_dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
		 " -nodes -days 1 -subj /CN=localhost"
		 " -addext subjectAltName=DNS:localhost"
		 " -keyout %s -out %s 2>/dev/null", tls_key, tls_cert);
	cr_assert_eq(system(cmd), 0, "openssl req");
	tls_mode = true;
	sweep(workers);
	tls_mode = false;
	unlink(tls_cert);
	unlink(tls_key);
	rmdir(tls_dir);
}

Test(faults, every_allocation_fails_once_tls_multi_thread, .timeout = 600)
{
	tls_sweep(2);
}

Test(faults, every_allocation_fails_once_tls_current_thread, .timeout = 600)
{
	tls_sweep(0);
}
#endif

Test(faults, every_allocation_fails_once_multi_thread, .timeout = 600)
{
	sweep(2);
}

Test(faults, every_allocation_fails_once_current_thread, .timeout = 600)
{
	sweep(0);
}
