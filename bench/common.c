/* bench/common.c - what every workload of weft-bench shares: the command
 * line, the clock, medians, JSON rows, SplitMix64, the runtime and its
 * driver task, and the one-permit signal of count-and-signal.
 *
 * Threads: options and reporting run on the main thread (or the spawning
 * thread of spawn_remote); the signal is raised from any worker and waited
 * on by the driver task.
 *
 * Memory-order pairs of the fallback signal (used until <weft/notify.h>
 * exists):
 *   wait_poll's release CAS EMPTY->WAITING (publishes the waker slot)
 *     -> raise's acq_rel CAS WAITING->WAKING (reads the slot);
 *   raise's release store of PERMIT (after taking the slot)
 *     -> wait_poll's acquire load of PERMIT (may reuse the slot).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

const char *bench_current_workload = "weft-bench";

/* -------------------------------------------------------------- options */

static int usage(const char *why)
{
	fprintf(stderr,
		"weft-bench: %s\n"
		"usage: weft-bench <workload> [--quick] [--reps N] [--n N] "
		"[--port P] [--max-seconds S]\n", why);
	return BENCH_EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

int bench_opts_parse(int argc, char **argv, struct bench_opts *o)
{
	uint64_t v;
	int i;

	memset(o, 0, sizeof(*o));
	o->workload = argc > 0 ? argv[0] : "";
	o->max_seconds = 600;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) {
			o->quick = true;
			continue;
		}
		if (strcmp(a, "--reps") && strcmp(a, "--n") &&
		    strcmp(a, "--port") && strcmp(a, "--max-seconds"))
			return usage("unknown option");
		if (!parse_u64(val, &v))
			return usage("option needs a number");
		i++;
		if (!strcmp(a, "--reps") && v >= 1 && v <= 1000)
			o->reps = (unsigned)v;
		else if (!strcmp(a, "--n") && v >= 1)
			o->n = v;
		else if (!strcmp(a, "--port") && v >= 1 && v <= 65535)
			o->port = (unsigned)v;
		else if (!strcmp(a, "--max-seconds") && v >= 1 && v <= 86400)
			o->max_seconds = (unsigned)v;
		else
			return usage("option value out of range");
	}
	return 0;
}

unsigned bench_reps(const struct bench_opts *o, unsigned full)
{
	if (o->reps)
		return o->reps;
	return o->quick ? 1 : full;
}

uint64_t bench_size(const struct bench_opts *o, uint64_t def)
{
	return o->n ? o->n : def;
}

/* ----------------------------------------------------------- reporting */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		bench_fail("median of no samples");
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void bench_samples_init(struct bench_samples *s, unsigned reps)
{
	s->reps = reps;
	s->v = calloc(reps, sizeof(*s->v));
	if (!s->v)
		bench_fail("out of memory");
}

void bench_samples_add(struct bench_samples *s, unsigned rep, double value)
{
	if (rep == 0)
		return;
	if (rep > s->reps)
		bench_fail("repetition %u of %u", rep, s->reps);
	s->v[rep - 1] = value;
}

double bench_samples_median(struct bench_samples *s)
{
	double m = bench_median(s->v, s->reps);

	free(s->v);
	s->v = NULL;
	return m;
}

void bench_emit(const char *workload, uint64_t n, const char *extra,
		const char *metric, double value)
{
	printf("{\"peer\":\"weft\",\"workload\":\"%s\",\"n\":%llu%s,"
	       "\"metric\":\"%s\",\"value\":%.1f}\n",
	       workload, (unsigned long long)n, extra ? extra : "", metric,
	       value);
	fflush(stdout);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weft-bench %s: FAILED: ", bench_current_workload);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stdout);
	_Exit(BENCH_EXIT_FAIL);
}

void bench_spawn_failed(int err)
{
	bench_fail("weft_spawn: %s", strerror(-err));
}

uint64_t bench_splitmix64(uint64_t *state)
{
	uint64_t z;

	*state += 0x9E3779B97F4A7C15ull;
	z = *state;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------- runtime */

weft_rt *bench_rt_create(void)
{
	weft_rt_builder b;
	weft_rt *rt;
	int err;

	weft_rt_builder_init(&b);
	b.workers = 2;
	err = weft_rt_create(&rt, &b);
	if (err)
		bench_fail("weft_rt_create: %s (%s)", strerror(-err),
			   weft_rt_create_error());
	return rt;
}

/* The block_on future of bench_drive: spawns the driver, joins it. */
struct drive_root {
	WEFT_ASYNC;
	weft_rt *rt;
	const weft_future_type *type;
	const void *init;
	weft_join *j;
	weft_join_wait wait;
};

static weft_poll drive_root_poll(struct drive_root *f, weft_cx *cx)
{
	int err;

	WEFT_BEGIN(f, cx);
	err = weft_spawn(f->rt, f->type, f->init, &f->j);
	if (err)
		bench_spawn_failed(err);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j);
	weft_join_drop(f->j);
	/* res: the driver's own res, or -ECANCELED */
	if (f->wait.res < 0)
		bench_fail("driver task: %s", strerror((int)-f->wait.res));
	WEFT_RETURN(f->wait.res);
	WEFT_END();
}

WEFT_FUTURE(drive_root, struct drive_root, WEFT_NO_DROP);

intptr_t bench_drive(weft_rt *rt, const weft_future_type *type,
		     const void *init)
{
	struct drive_root root = { .rt = rt, .type = type, .init = init };
	int err;

	err = WEFT_BLOCK_ON(rt, drive_root, &root);
	if (err)
		bench_fail("weft_block_on: %s", strerror(-err));
	return root.res;
}

/* ---------------------------------------------------- count-and-signal */

#if BENCH_HAVE_NOTIFY

void bench_signal_init(struct bench_signal *s)
{
	weft_notify_init(&s->notify);
}

void bench_signal_destroy(struct bench_signal *s)
{
	weft_notify_destroy(&s->notify);
}

void bench_signal_raise(struct bench_signal *s)
{
	weft_notify_one(&s->notify);
}

void bench_signal_wait_init(struct bench_signal_wait *w,
			    struct bench_signal *s)
{
	weft_notify_wait_init(&w->wait, &s->notify);
}

weft_poll bench_signal_wait_poll(struct bench_signal_wait *w, weft_cx *cx)
{
	return weft_notify_wait_poll(&w->wait, cx);
}

void bench_signal_wait_drop(struct bench_signal_wait *w)
{
	weft_notify_wait_drop(&w->wait);
}

#else /* !BENCH_HAVE_NOTIFY */

/* Fallback one-permit, one-waiter signal. States:
 *   EMPTY   no permit, nobody waiting;
 *   PERMIT  raised, not yet consumed;
 *   WAITING the waiter's waker is in the slot;
 *   WAKING  a raiser owns the slot and is about to store PERMIT and wake.
 * Only the waiter moves EMPTY->WAITING and PERMIT->EMPTY; only raisers move
 * EMPTY->PERMIT and WAITING->WAKING->PERMIT. */
enum { BENCH_SIG_EMPTY, BENCH_SIG_PERMIT, BENCH_SIG_WAITING, BENCH_SIG_WAKING };

void bench_signal_init(struct bench_signal *s)
{
	atomic_init(&s->state, BENCH_SIG_EMPTY);
	s->waker = WEFT_WAKER_NONE;
}

void bench_signal_destroy(struct bench_signal *s)
{
	weft_waker_drop(&s->waker);
}

void bench_signal_raise(struct bench_signal *s)
{
	unsigned st = atomic_load_explicit(&s->state, memory_order_relaxed);
	weft_waker w;

	for (;;) {
		if (st == BENCH_SIG_PERMIT || st == BENCH_SIG_WAKING)
			return;
		if (st == BENCH_SIG_EMPTY) {
			/* release: the raiser's writes reach the waiter,
			 * whose acquire load of PERMIT pairs with it */
			if (atomic_compare_exchange_weak_explicit(
				    &s->state, &st, BENCH_SIG_PERMIT,
				    memory_order_release, memory_order_relaxed))
				return;
			continue;
		}
		/* WAITING. acquire: pairs with wait_poll's release CAS that
		 * published the waker slot */
		if (atomic_compare_exchange_weak_explicit(
			    &s->state, &st, BENCH_SIG_WAKING,
			    memory_order_acq_rel, memory_order_relaxed))
			break;
	}
	w = s->waker;
	s->waker = WEFT_WAKER_NONE;
	/* release: the slot is free again before the waiter sees PERMIT */
	atomic_store_explicit(&s->state, BENCH_SIG_PERMIT, memory_order_release);
	weft_waker_wake(&w);
}

void bench_signal_wait_init(struct bench_signal_wait *w,
			    struct bench_signal *s)
{
	w->sig = s;
}

weft_poll bench_signal_wait_poll(struct bench_signal_wait *w, weft_cx *cx)
{
	struct bench_signal *s = w->sig;
	/* acquire: pairs with the raiser's release of PERMIT */
	unsigned st = atomic_load_explicit(&s->state, memory_order_acquire);

	if (st == BENCH_SIG_PERMIT) {
		/* only the waiter leaves PERMIT: no race */
		atomic_store_explicit(&s->state, BENCH_SIG_EMPTY,
				      memory_order_relaxed);
		return WEFT_READY;
	}
	if (st != BENCH_SIG_EMPTY)
		return WEFT_PENDING;  /* WAITING or WAKING: a wake is owed */
	weft_waker_register(&s->waker, cx);
	/* release: publishes the slot to the raiser's CAS on WAITING */
	if (atomic_compare_exchange_strong_explicit(
		    &s->state, &st, BENCH_SIG_WAITING, memory_order_release,
		    memory_order_acquire))
		return WEFT_PENDING;
	/* a raiser stored PERMIT meanwhile (st == PERMIT, acquired) */
	weft_waker_drop(&s->waker);
	atomic_store_explicit(&s->state, BENCH_SIG_EMPTY, memory_order_relaxed);
	return WEFT_READY;
}

void bench_signal_wait_drop(struct bench_signal_wait *w)
{
	(void)w;  /* a pending waker stays in the slot until destroy */
}

#endif /* BENCH_HAVE_NOTIFY */
