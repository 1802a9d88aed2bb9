/* bench/latency_wl.c - wake_latency (12) of ../shared/peers/README.md,
 * implemented from that text: how long a task woken from outside the
 * runtime waits before it runs again, with the runtime idle and busy.
 *
 *  - Waiter: a task spawned by the driver task; it loops R x (reps + 1)
 *    times: await a one-permit weft_notify (weft_notify_wait, the permit
 *    stored if it is not waiting yet, as tokio's Notify), read the clock,
 *    record now - t_sent in ns, acknowledge through a mutex + condition
 *    variable (as tokio's peer).
 *  - Waker: a plain OS thread (pthread_create, not a worker of the
 *    runtime). Round i: sleep g_i us (nanosleep; the kernel adds its timer
 *    slack, so the runtime goes idle between wake-ups; a gap of 0 does not
 *    sleep at all, as std::thread::sleep and time.Sleep do nothing for a
 *    zero duration), store t_sent (release), weft_notify_one, wait for the
 *    acknowledgement. g_i = SplitMix64(seed 7) % 200, the sequence
 *    restarting each repetition (first values 87, 4, 146, 3, 74).
 *  - Loads: "idle" (nothing else runs) and "busy" (the driver first spawns
 *    4 tasks that WEFT_YIELD in a loop until the waker is done). One
 *    runtime per load; one warm-up and 5 measured repetitions (1 with
 *    --quick) back to back on it.
 *  - Metrics, per load: p50_us, p99_us, p999_us, each the nearest-rank
 *    percentile (the smallest sample with at least q of the samples at or
 *    below it) of one repetition's R latencies, in microseconds, and the
 *    median of that over the measured repetitions. n = R. R = 10 000
 *    (1 000 with --quick; --n replaces it).
 *
 * Both clocks are CLOCK_MONOTONIC (bench_now_ns), read on two threads.
 * t_sent is read by the waiter after its wake; the notify's release/acquire
 * pair orders the waker's store before it (see sync/notify.c).
 *
 * Diagnostics (stderr and an optional file; the rows do not change):
 *  - after each load one line on stderr: wall time, the process's CPU time
 *    (getrusage: workers, reactor, waker together) and CPU per wake-up, so
 *    that the cost of a longer spin window (WEFT_SPIN_US, runtime/worker.c)
 *    can be set against the latency it saves;
 *  - WEFT_BENCH_WAKE_DUMP=FILE: the waker also reads the clock when
 *    weft_notify_one returns, and every measured wake-up is written to FILE
 *    as "load rep gap_us notify_ns latency_ns" (notify_ns: t_sent to the
 *    return of notify_one on the waker thread, which includes the futex
 *    wake of a parked worker; latency_ns as in the rows). The extra clock
 *    read is on the waker thread after the wake was sent, and only when
 *    the variable is set.
 *
 * `weft-bench wake_probe [--n R]` (hidden, not a README workload): the
 * machine's floor under the idle load, without weft. A thread pinned to
 * CPU 1 futex-waits; a thread pinned to CPU 0 sleeps the same gaps, reads
 * the clock, stores the word and futex-wakes it, then waits for its
 * acknowledgement (a futex the other way). Prints the percentiles of the
 * one-way wake (clock before FUTEX_WAKE to clock after the waiter's
 * FUTEX_WAIT returned) and of the FUTEX_WAKE call itself.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifdef BENCH_USE_NOTIFY
#include "weft/notify.h"

#define WAKE_R 10000u
#define WAKE_R_QUICK 1000u
#define WAKE_SEED 7u
#define WAKE_GAP_MOD 200u
#define BUSY_TASKS 4u

/* What the driver, the waiter, the yielders and the waker share (reached
 * through a plain pointer, README "Shared state"). */
struct wake {
	weft_rt *rt;
	bool busy;
	uint64_t r;              /* wake-ups per repetition */
	unsigned reps;           /* measured repetitions */
	uint64_t total;          /* r * (reps + 1) */
	uint32_t *gaps_us;       /* r gaps, replayed each repetition */
	uint64_t *lat_ns;        /* total latencies, written by the waiter */
	uint64_t *notify_ns;     /* WEFT_BENCH_WAKE_DUMP: t_sent to the end
				  * of notify_one, per wake-up; else NULL */
	_Atomic uint64_t sent_ns;
	weft_notify gate;        /* the waiter's one-permit notification */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	uint64_t acked;          /* under lock: wake-ups acknowledged */
	bool waiter_done;        /* under lock: the waiter left its loop */
	_Atomic bool stop;       /* the yielders stop (busy) */
};

/* ------------------------------------------------------------ the tasks */

struct wake_waiter {
	WEFT_ASYNC_VOID;
	struct wake *st;
	uint64_t i;
	weft_notify_wait wait;
};

static weft_poll wake_waiter_poll(struct wake_waiter *f, weft_cx *cx)
{
	struct wake *st = f->st;
	uint64_t now, sent;

	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < st->total; f->i++) {
		WEFT_AWAIT_INIT(weft_notify_wait, &f->wait, &st->gate);
		now = bench_now_ns();
		/* acquire: pairs with the waker's release store (the notify
		 * orders it too) */
		sent = atomic_load_explicit(&st->sent_ns, memory_order_acquire);
		st->lat_ns[f->i] = now > sent ? now - sent : 0;
		pthread_mutex_lock(&st->lock);
		st->acked = f->i + 1;
		pthread_cond_signal(&st->cv);
		pthread_mutex_unlock(&st->lock);
	}
	pthread_mutex_lock(&st->lock);
	st->waiter_done = true;
	pthread_mutex_unlock(&st->lock);
	WEFT_END();
}

static void wake_waiter_drop(struct wake_waiter *f)
{
	weft_notify_wait_drop(&f->wait);  /* a no-op unless waiting */
}

WEFT_FUTURE(wake_waiter, struct wake_waiter, wake_waiter_drop);

/* The busy load: yields until the waker is done. */
struct wake_yielder {
	WEFT_ASYNC_VOID;
	struct wake *st;
};

static weft_poll wake_yielder_poll(struct wake_yielder *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	/* relaxed: a flag that only ends the loop (tokio's peer: Relaxed) */
	while (!atomic_load_explicit(&f->st->stop, memory_order_relaxed))
		WEFT_YIELD();
	WEFT_END();
}

WEFT_FUTURE(wake_yielder, struct wake_yielder, WEFT_NO_DROP);

/* The driver: spawns the background load (busy) and then the waiter,
 * detached, and ends (tokio's driver does the same). */
struct wake_driver {
	WEFT_ASYNC;
	struct wake *st;
};

static weft_poll wake_driver_poll(struct wake_driver *f, weft_cx *cx)
{
	struct wake *st = f->st;

	WEFT_BEGIN(f, cx);
	if (st->busy)
		for (unsigned k = 0; k < BUSY_TASKS; k++)
			BENCH_SPAWN(st->rt, wake_yielder, { .st = st });
	BENCH_SPAWN(st->rt, wake_waiter, { .st = st });
	WEFT_RETURN(0);
	WEFT_END();
}

WEFT_FUTURE(wake_driver, struct wake_driver, WEFT_NO_DROP);

/* ------------------------------------------------------------ the waker */

static void sleep_us(uint32_t us)
{
	struct timespec ts = { .tv_sec = us / 1000000u,
			       .tv_nsec = (long)(us % 1000000u) * 1000 };

	if (!us)
		return;  /* as std::thread::sleep / time.Sleep of 0 */
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *wake_waker(void *arg)
{
	struct wake *st = arg;

	for (uint64_t i = 0; i < st->total; i++) {
		uint64_t sent;

		sleep_us(st->gaps_us[i % st->r]);
		sent = bench_now_ns();
		/* release: the waiter's acquire load reads this round's */
		atomic_store_explicit(&st->sent_ns, sent, memory_order_release);
		weft_notify_one(&st->gate);
		if (st->notify_ns)
			st->notify_ns[i] = bench_now_ns() - sent;
		pthread_mutex_lock(&st->lock);
		while (st->acked < i + 1)
			pthread_cond_wait(&st->cv, &st->lock);
		pthread_mutex_unlock(&st->lock);
	}
	return NULL;
}

/* ---------------------------------------------------------- percentiles */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least q of the samples at or
 * below it, of sorted v[0..n), in us. k = ceil(q n) in double, as the
 * peers compute it, clamped to 1..n. */
static double pct_us(const uint64_t *sorted, uint64_t n, double q)
{
	double k = q * (double)n;
	uint64_t rank = (uint64_t)k;

	if ((double)rank < k)
		rank++;  /* ceil, without libm */
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;

	return (double)sorted[rank - 1] / 1000.0;
}

/* ------------------------------------------------------------- one load */

static void wake_gaps(uint32_t *gaps, uint64_t r)
{
	static const uint32_t first[5] = { 87, 4, 146, 3, 74 };
	uint64_t s = WAKE_SEED;

	for (uint64_t i = 0; i < r; i++) {
		gaps[i] = (uint32_t)(bench_splitmix64(&s) % WAKE_GAP_MOD);
		if (i < 5 && gaps[i] != first[i])
			bench_fail("gap %llu is %u, README says %u",
				   (unsigned long long)i, gaps[i], first[i]);
	}
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) /
		       1e6;
}

/* WEFT_BENCH_WAKE_DUMP: appends the measured wake-ups of one load. */
static void wake_dump(const struct wake *st, const char *path)
{
	FILE *f = fopen(path, "a");

	if (!f)
		bench_fail("%s: %s", path, strerror(errno));
	for (uint64_t i = st->r; i < st->total; i++)
		fprintf(f, "%s %llu %u %llu %llu\n", st->busy ? "busy" : "idle",
			(unsigned long long)(i / st->r), st->gaps_us[i % st->r],
			(unsigned long long)st->notify_ns[i],
			(unsigned long long)st->lat_ns[i]);
	if (fclose(f))
		bench_fail("%s: %s", path, strerror(errno));
}

static void wake_load(const struct bench_opts *o, bool busy)
{
	static const struct { const char *metric; double q; } m[3] = {
		{ "p50_us", 0.5 }, { "p99_us", 0.99 }, { "p999_us", 0.999 },
	};
	struct wake st;
	struct bench_samples s;
	uint64_t *sorted;
	char extra[32];
	const char *dump = getenv("WEFT_BENCH_WAKE_DUMP");
	double cpu0, cpu;
	uint64_t t0, wall;
	pthread_t th;
	int rc;

	memset(&st, 0, sizeof(st));
	st.busy = busy;
	st.r = bench_size(o, o->quick ? WAKE_R_QUICK : WAKE_R);
	st.reps = bench_reps(o, 5);
	st.total = st.r * (st.reps + 1);
	st.gaps_us = malloc(st.r * sizeof(*st.gaps_us));
	st.lat_ns = malloc(st.total * sizeof(*st.lat_ns));
	sorted = malloc(st.r * sizeof(*sorted));
	if (dump && *dump)
		st.notify_ns = calloc(st.total, sizeof(*st.notify_ns));
	if (!st.gaps_us || !st.lat_ns || !sorted ||
	    (dump && *dump && !st.notify_ns))
		bench_fail("out of memory");
	/* touched now, so the waiter takes no page fault between clock
	 * reads */
	memset(st.lat_ns, 0, st.total * sizeof(*st.lat_ns));
	wake_gaps(st.gaps_us, st.r);
	weft_notify_init(&st.gate);
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cv, NULL);
	atomic_init(&st.sent_ns, 0);
	atomic_init(&st.stop, false);

	st.rt = bench_rt_create();
	cpu0 = cpu_s();
	t0 = bench_now_ns();
	BENCH_DRIVE(st.rt, wake_driver, { .st = &st });
	rc = pthread_create(&th, NULL, wake_waker, &st);
	if (rc)
		bench_fail("pthread_create: %s", strerror(rc));
	pthread_join(th, NULL);
	wall = bench_now_ns() - t0;
	cpu = cpu_s() - cpu0;
	atomic_store_explicit(&st.stop, true, memory_order_relaxed);
	weft_rt_destroy(st.rt);
	fprintf(stderr, "weft-bench wake_latency %s: %llu wake-ups in %.2f s, "
		"CPU %.2f s (%.2f CPUs), %.1f us CPU per wake-up\n",
		busy ? "busy" : "idle", (unsigned long long)st.total,
		(double)wall / 1e9, cpu, cpu * 1e9 / (double)wall,
		cpu * 1e6 / (double)st.total);

	/* the lock orders every latency write before these reads */
	pthread_mutex_lock(&st.lock);
	if (st.acked != st.total || !st.waiter_done)
		bench_fail("%llu of %llu wake-ups acknowledged, waiter %s",
			   (unsigned long long)st.acked,
			   (unsigned long long)st.total,
			   st.waiter_done ? "done" : "not done");
	pthread_mutex_unlock(&st.lock);
	if (st.notify_ns)
		wake_dump(&st, dump);

	snprintf(extra, sizeof(extra), ",\"load\":\"%s\"",
		 busy ? "busy" : "idle");
	for (unsigned k = 0; k < 3; k++) {
		bench_samples_init(&s, st.reps);
		for (unsigned rep = 1; rep <= st.reps; rep++) {
			memcpy(sorted, st.lat_ns + rep * st.r,
			       st.r * sizeof(*sorted));
			qsort(sorted, st.r, sizeof(*sorted), cmp_u64);
			bench_samples_add(&s, rep, pct_us(sorted, st.r, m[k].q));
		}
		bench_emit("wake_latency", st.r, extra, m[k].metric,
			   bench_samples_median(&s));
	}

	pthread_cond_destroy(&st.cv);
	pthread_mutex_destroy(&st.lock);
	weft_notify_destroy(&st.gate);
	free(sorted);
	free(st.notify_ns);
	free(st.lat_ns);
	free(st.gaps_us);
}

int bench_wake_latency(int argc, char **argv)
{
	struct bench_opts o;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	wake_load(&o, false);
	wake_load(&o, true);
	return BENCH_EXIT_OK;
}

/* ------------------------------------------------------ the futex probe */

struct probe {
	uint64_t r;
	uint32_t *gaps_us;
	uint64_t *wake_ns;       /* one-way: waker's clock to waiter's */
	uint64_t *call_ns;       /* the FUTEX_WAKE call on the waker */
	_Atomic uint64_t sent_ns;
	_Atomic uint32_t go;     /* 1: woken; the waiter resets it */
	_Atomic uint32_t ack;    /* 1: acknowledged; the waker resets it */
};

static void futex_wait_u32(_Atomic uint32_t *w, uint32_t expect)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, expect, NULL,
		NULL, 0);
}

static void futex_wake_u32(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
		0);
}

static void pin_cpu(unsigned cpu)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (n < 1)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % (unsigned)n, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *probe_waiter(void *arg)
{
	struct probe *p = arg;

	pin_cpu(1);
	for (uint64_t i = 0; i < p->r; i++) {
		/* acquire: pairs with the waker's release store of go */
		while (atomic_load_explicit(&p->go, memory_order_acquire) == 0)
			futex_wait_u32(&p->go, 0);
		p->wake_ns[i] = bench_now_ns() -
				atomic_load_explicit(&p->sent_ns,
						     memory_order_relaxed);
		atomic_store_explicit(&p->go, 0, memory_order_relaxed);
		/* release: our write of wake_ns[i] before the waker's read */
		atomic_store_explicit(&p->ack, 1, memory_order_release);
		futex_wake_u32(&p->ack);
	}
	return NULL;
}

static void probe_print(const char *what, uint64_t *v, uint64_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("  %-34s p50 %6.1f  p99 %6.1f  p999 %7.1f  max %8.1f us\n",
	       what, pct_us(v, n, 0.5), pct_us(v, n, 0.99),
	       pct_us(v, n, 0.999), (double)v[n - 1] / 1000.0);
}

int bench_wake_probe(int argc, char **argv)
{
	struct bench_opts o;
	struct probe p;
	pthread_t th;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	memset(&p, 0, sizeof(p));
	p.r = bench_size(&o, WAKE_R);
	p.gaps_us = malloc(p.r * sizeof(*p.gaps_us));
	p.wake_ns = calloc(p.r, sizeof(*p.wake_ns));
	p.call_ns = calloc(p.r, sizeof(*p.call_ns));
	if (!p.gaps_us || !p.wake_ns || !p.call_ns)
		bench_fail("out of memory");
	wake_gaps(p.gaps_us, p.r);
	rc = pthread_create(&th, NULL, probe_waiter, &p);
	if (rc)
		bench_fail("pthread_create: %s", strerror(rc));
	pin_cpu(0);
	for (uint64_t i = 0; i < p.r; i++) {
		uint64_t t;

		sleep_us(p.gaps_us[i]);
		t = bench_now_ns();
		atomic_store_explicit(&p.sent_ns, t, memory_order_relaxed);
		/* release: sent_ns before the waiter's acquire of go */
		atomic_store_explicit(&p.go, 1, memory_order_release);
		futex_wake_u32(&p.go);
		p.call_ns[i] = bench_now_ns() - t;
		/* acquire: pairs with the waiter's release store of ack */
		while (atomic_load_explicit(&p.ack, memory_order_acquire) == 0)
			futex_wait_u32(&p.ack, 0);
		atomic_store_explicit(&p.ack, 0, memory_order_relaxed);
	}
	pthread_join(th, NULL);
	printf("wake_probe: %llu futex wakes of a thread parked on CPU 1 from "
	       "CPU 0, gaps as wake_latency's\n", (unsigned long long)p.r);
	probe_print("one-way wake (clock to clock)", p.wake_ns, p.r);
	probe_print("FUTEX_WAKE call on the waker", p.call_ns, p.r);
	free(p.call_ns);
	free(p.wake_ns);
	free(p.gaps_us);
	return BENCH_EXIT_OK;
}

#endif /* BENCH_USE_NOTIFY */
