/* bench/bench.h - the workloads of weft-bench and the helpers they share.
 *
 * weft-bench runs one workload of ../shared/peers/README.md per invocation
 * ("Adding a peer"): `weft-bench <workload> [--quick] [--reps N] [--n N]`
 * for the in-process workloads, `weft-bench tcp_echo_server|http_server
 * --port P --max-seconds S` for the servers. Every in-process workload
 * prints its rows as JSON lines on stdout, exactly as the peers do, with
 * "peer":"weft".
 *
 * Each workload is a function `int bench_<name>(int argc, char **argv)`:
 * argv[0] is the workload name, the rest its options (parse them with
 * bench_opts_parse). It returns the process exit status: 0 on success,
 * BENCH_EXIT_FAIL after a failed correctness check (message on stderr),
 * BENCH_EXIT_USAGE for a bad command line. The declarations below are
 * weak: a workload whose file is not built yet is a NULL function, and
 * main() reports it as not implemented (BENCH_EXIT_NOT_IMPL). Nothing is
 * ever faked.
 *
 * Files: main.c (dispatch), common.c (options, clock, medians, JSON rows,
 * SplitMix64, count-and-signal, the driver task), runtime_wl.c (spawn_many,
 * spawn_remote, yield_many, chained_spawn), chan_wl.c (ping_pong,
 * mpsc_throughput, oneshot), sync_wl.c (idle_memory), latency_wl.c
 * (wake_latency), net.c (sleep_many, tcp_echo_server, http_server). Every task and driver is a future
 * declared with WEFT_FUTURE, spawned by name (BENCH_SPAWN, BENCH_DRIVE).
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/group.h"
#include "weft/rt.h"

/* Exit statuses. */
#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2
#define BENCH_EXIT_NOT_IMPL 3

#define BENCH_WEAK __attribute__((weak))

/* ------------------------------------------------------------ workloads */

int bench_spawn_many(int argc, char **argv) BENCH_WEAK;
int bench_spawn_remote(int argc, char **argv) BENCH_WEAK;
int bench_yield_many(int argc, char **argv) BENCH_WEAK;
int bench_ping_pong(int argc, char **argv) BENCH_WEAK;
int bench_chained_spawn(int argc, char **argv) BENCH_WEAK;
int bench_joinset(int argc, char **argv) BENCH_WEAK;
int bench_spawn_join(int argc, char **argv) BENCH_WEAK;
int bench_futset_wake(int argc, char **argv) BENCH_WEAK;
int bench_stream_for_each(int argc, char **argv) BENCH_WEAK;
int bench_mpsc_throughput(int argc, char **argv) BENCH_WEAK;
int bench_oneshot(int argc, char **argv) BENCH_WEAK;
int bench_sleep_many(int argc, char **argv) BENCH_WEAK;
int bench_idle_memory(int argc, char **argv) BENCH_WEAK;
int bench_idle_memory_child(int argc, char **argv) BENCH_WEAK;
int bench_wake_latency(int argc, char **argv) BENCH_WEAK;
int bench_wake_probe(int argc, char **argv) BENCH_WEAK;
int bench_tcp_echo_server(int argc, char **argv) BENCH_WEAK;
int bench_http_server(int argc, char **argv) BENCH_WEAK;

/* -------------------------------------------------------------- options */

struct bench_opts {
	const char *workload;  /* argv[0] */
	bool quick;            /* --quick: 1 measured repetition */
	unsigned reps;         /* --reps N: measured repetitions; 0 = default */
	uint64_t n;            /* --n N: workload size; 0 = the README's */
	unsigned port;         /* --port P (servers) */
	unsigned max_seconds;  /* --max-seconds S (servers); default 600 */
};

/* Parses argv[1..argc) into *o (argv[0] is the workload). Prints usage on
 * stderr and returns BENCH_EXIT_USAGE on an unknown or malformed option,
 * else 0. */
int bench_opts_parse(int argc, char **argv, struct bench_opts *o);

/* Measured repetitions: --reps, else 1 with --quick, else full. */
unsigned bench_reps(const struct bench_opts *o, unsigned full);

/* The workload size: --n when given, else def. */
uint64_t bench_size(const struct bench_opts *o, uint64_t def);

/* ----------------------------------------------------------- reporting */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median of v[0..n) (sorts v; mean of the middle two when n is even). */
double bench_median(double *v, size_t n);

/* Per-repetition results: rep 0 is the warm-up and is discarded, reps
 * 1..reps are kept. */
struct bench_samples {
	unsigned reps;   /* measured repetitions */
	double *v;       /* reps values */
};

/* Allocates room for reps values (fails the run on ENOMEM). */
void bench_samples_init(struct bench_samples *s, unsigned reps);
/* Records repetition rep's value (rep 0, the warm-up, is dropped). */
void bench_samples_add(struct bench_samples *s, unsigned rep, double value);
/* The median of the measured values; frees them. */
double bench_samples_median(struct bench_samples *s);

/* Prints one row: {"peer":"weft","workload":W,"n":N<extra>,"metric":M,
 * "value":V} with V to one decimal. extra is "" or pre-formatted
 * ,"key":value pairs (e.g. ",\"tasks\":200"). Flushes stdout. */
void bench_emit(const char *workload, uint64_t n, const char *extra,
		const char *metric, double value);

/* Reports a failed check on stderr ("weft-bench <workload>: ...") and
 * exits with BENCH_EXIT_FAIL. For correctness checks that must fail
 * loudly, from any thread. */
__attribute__((noreturn, format(printf, 1, 2)))
void bench_fail(const char *fmt, ...);

/* The workload name bench_fail prefixes (set by main). */
extern const char *bench_current_workload;

/* SplitMix64 step (README, sleep_many): advances *state, returns the next
 * value. Seed 42 gives d_i = 1 + z % 100 = 14, 92, 59, 65, 51, ... */
uint64_t bench_splitmix64(uint64_t *state);

/* ------------------------------------------------------------- runtime */

/* Creates the runtime every workload uses: two worker threads, otherwise
 * the defaults (reactor on, workers pinned). Fails the run on error. */
weft_rt *bench_rt_create(void);

/* Runs the driver task: spawns a task of `type` (a future type made by
 * WEFT_FUTURE) initialised from `init` onto rt from inside weft_block_on
 * (so the driver runs on a worker, not on the block_on thread, as
 * tokio::spawn inside block_on does) and waits for it to complete. Fails
 * the run if it cannot be spawned, does not complete, or completes with a
 * negative res (drivers return 0 or a count); returns the driver's res. */
intptr_t bench_drive(weft_rt *rt, const weft_future_type *type,
		     const void *init);

/* bench_drive of the future `name` (WEFT_FUTURE) with a frame literal. */
#define BENCH_DRIVE(rt, name, ...)                                          \
	bench_drive((rt), &name##_future, &(name##_frame)__VA_ARGS__)

/* Spawns a detached task of the future `name` (the handle is never taken,
 * README "Spawned tasks are detached"); fails the run if weft_spawn
 * fails. */
#define BENCH_SPAWN(rt, name, ...)                                          \
	do {                                                                \
		int bench_rc_ = WEFT_SPAWN((rt), name, NULL, __VA_ARGS__);  \
		if (bench_rc_ != 0)                                         \
			bench_spawn_failed(bench_rc_);                      \
	} while (0)

__attribute__((noreturn)) void bench_spawn_failed(int err);

/* ---------------------------------------------------- count-and-signal */

/* A one-permit signal with one waiter (the driver): raising it stores the
 * permit if the driver is not waiting yet, else wakes it; a wait consumes
 * the permit. It is weft_notify's notify_one / weft_notify_wait when the
 * library is built with sync/notify.c (bench/meson.build then defines
 * BENCH_USE_NOTIFY), and before that a minimal equivalent built on the
 * waker API (common.c; also chosen by -DBENCH_FALLBACK_SIGNAL, to compare
 * the two). */
#if defined(BENCH_USE_NOTIFY) && !defined(BENCH_FALLBACK_SIGNAL)
#define BENCH_HAVE_NOTIFY 1
#include "weft/notify.h"
#else
#define BENCH_HAVE_NOTIFY 0
#endif

#if BENCH_HAVE_NOTIFY
struct bench_signal {
	weft_notify notify;
};
struct bench_signal_wait {
	weft_notify_wait wait;
};
#else
struct bench_signal {
	/* BENCH_SIG_* below; see common.c for the protocol */
	_Atomic unsigned state;
	/* the waiter's waker; written by the waiter while EMPTY, taken by
	 * the raiser while WAKING */
	weft_waker waker;
};
struct bench_signal_wait {
	struct bench_signal *sig;
};
#endif

void bench_signal_init(struct bench_signal *s);
void bench_signal_destroy(struct bench_signal *s);
void bench_signal_raise(struct bench_signal *s);
/* The wait, in the shape of every future (WEFT_AWAIT_INIT(bench_signal_wait,
 * &f->wait, &sig)); it never fails, so it has no res. */
void bench_signal_wait_init(struct bench_signal_wait *w,
			    struct bench_signal *s);
weft_poll bench_signal_wait_poll(struct bench_signal_wait *w, weft_cx *cx);
/* Drops a wait that did not complete (not needed after READY). */
void bench_signal_wait_drop(struct bench_signal_wait *w);

/* count-and-signal (README, "Rules common to all in-process workloads"):
 * every task ends with one acq_rel fetch_add on count; the task whose
 * increment makes it equal to target raises done once. */
struct bench_counter {
	_Atomic uint64_t count;   /* tasks finished this repetition */
	uint64_t target;          /* written by the driver before the spawns */
	struct bench_signal done; /* raised by the task that reaches target */
};

/* Sets count to 0 and target (the driver, before the timed region). */
static inline void bench_counter_arm(struct bench_counter *c, uint64_t target)
{
	c->target = target;
	/* relaxed: published to the tasks by the release in weft_spawn */
	atomic_store_explicit(&c->count, 0, memory_order_relaxed);
}

/* The end of every counted task. */
static inline void bench_counter_bump(struct bench_counter *c)
{
	/* target is read before the increment: once the increment is done
	 * the driver may already be arming the next repetition */
	uint64_t target = c->target;

	/* acq_rel: the last increment acquires every earlier task's writes
	 * (README asks acq_rel or stronger) before it signals the driver */
	if (atomic_fetch_add_explicit(&c->count, 1, memory_order_acq_rel) + 1 ==
	    target)
		bench_signal_raise(&c->done);
}

#endif /* WEFT_BENCH_H */
