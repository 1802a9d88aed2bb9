/* bench/ready_wl.c - weft-bench-ready: readiness waits on a caller's fd
 * (weft/fd.h), single-shot weft_fd_ready against a weft_fd_watch's
 * multishot poll (weft-only; issue 12).
 *
 * Workload fd_pingpong: two tasks pass one byte back and forth through two
 * non-blocking pipes; each side writes, then waits until its read end is
 * readable and reads. Every round trip is two readiness waits that find
 * the fd not ready (so each costs a poll's completion and a wake-up).
 * Modes "single" (a weft_fd_ready per wait: one POLL_ADD submitted per
 * wait) and "multishot" (one weft_fd_watch per read end, armed once).
 * Metrics ns_per_wait (the round trip's time / 2) and cpu_ns_per_wait
 * (the process's CPU time, all threads, per wait); the modes alternate,
 * rep by rep, and the median of each is printed. Options: --rounds N
 * (default 100000), --reps R (default 5), --workers W (default 1: both
 * tasks on one worker; 0: a current-thread runtime), --mode single or
 * --mode multishot (one run of that mode only, nothing printed: for
 * callgrind's instruction counts, as bench/instr.sh takes them).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <weft.h>

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads what is there (a pipe's short read means it is empty now): 0, or
 * -errno other than EAGAIN. */
static int drain(int fd)
{
	char buf[64];
	ssize_t n;

	do
		n = read(fd, buf, sizeof(buf));
	while (n == (ssize_t)sizeof(buf));
	if (n < 0 && errno != EAGAIN)
		return -errno;
	return n == 0 ? -EPIPE : 0;
}

/* One side: `first` writes before its first wait. */
struct side {
	WEFT_ASYNC;
	int rfd, wfd;
	bool first, multi;
	uint64_t rounds, i;
	weft_fd_watch *w;
	weft_fd_ready r;
	weft_fd_watch_wait ww;
};

static weft_poll side_poll(struct side *f, weft_cx *cx)
{
	intptr_t res;
	int err;

	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->rounds; f->i++) {
		if (f->first && write(f->wfd, "p", 1) != 1)
			WEFT_RETURN(-EIO);
		if (f->multi) {
			WEFT_AWAIT_INIT(weft_fd_watch_wait, &f->ww, f->w,
					POLLIN);
			res = f->ww.res;
		} else {
			WEFT_AWAIT_INIT(weft_fd_ready, &f->r, f->rfd, POLLIN);
			res = f->r.res;
		}
		if (res < 0)
			WEFT_RETURN(res);
		err = drain(f->rfd);
		if (err < 0)
			WEFT_RETURN(err);
		if (!f->first && write(f->wfd, "p", 1) != 1)
			WEFT_RETURN(-EIO);
	}
	WEFT_RETURN(0);
	WEFT_END();
}

static void side_drop(struct side *f)
{
	weft_fd_ready_drop(&f->r);
	weft_fd_watch_wait_drop(&f->ww);
}
WEFT_FUTURE(side, struct side, side_drop);

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run: ns per wait, wall-clock (returned) and CPU time of the whole
 * process (workers, reactor; *cpu). */
static double run_once(weft_rt *rt, bool multi, uint64_t rounds, double *cpu)
{
	int a[2], b[2];
	struct side *s = calloc(2, sizeof(*s));
	weft_join *j0, *j1;
	weft_join_wait w0 = { 0 }, w1 = { 0 };
	uint64_t t0, t1, c0, c1;

	if (!s || pipe2(a, O_NONBLOCK | O_CLOEXEC) ||
	    pipe2(b, O_NONBLOCK | O_CLOEXEC))
		exit(1);
	/* s[0]: writes a, reads b; s[1]: reads a, writes b */
	s[0] = (struct side){ .rfd = b[0], .wfd = a[1], .first = true,
			      .multi = multi, .rounds = rounds };
	s[1] = (struct side){ .rfd = a[0], .wfd = b[1], .multi = multi,
			      .rounds = rounds };
	if (multi && (weft_fd_watch_create(&s[0].w, b[0], POLLIN) ||
		      weft_fd_watch_create(&s[1].w, a[0], POLLIN)))
		exit(1);
	t0 = clock_ns(CLOCK_MONOTONIC);
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (weft_spawn(rt, &side_future, &s[1], &j1) ||
	    weft_spawn(rt, &side_future, &s[0], &j0))
		exit(1);
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w0, j0);
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w1, j1);
	t1 = clock_ns(CLOCK_MONOTONIC);
	c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (w0.res < 0 || w1.res < 0) {
		fprintf(stderr, "weft-bench-ready: %s: %ld %ld\n",
			multi ? "multishot" : "single", (long)w0.res,
			(long)w1.res);
		exit(1);
	}
	weft_join_drop(j0);
	weft_join_drop(j1);
	weft_fd_watch_destroy(s[0].w);
	weft_fd_watch_destroy(s[1].w);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	free(s);
	*cpu = (double)(c1 - c0) / (double)(2 * rounds);
	return (double)(t1 - t0) / (double)(2 * rounds);
}

int main(int argc, char **argv)
{
	uint64_t rounds = 100000;
	unsigned reps = 5, workers = 1;
	int only = -1;
	weft_rt_builder bld;
	weft_rt *rt;
	double t[2][100], c[2][100], dummy;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rounds"))
			rounds = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--reps"))
			reps = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--workers"))
			workers = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mode"))
			only = !strcmp(argv[i + 1], "multishot");
	}
	if (!rounds || !reps || reps > 99) {
		fprintf(stderr, "usage: weft-bench-ready [--rounds N] "
				"[--reps R] [--workers W] [--mode M]\n");
		return 2;
	}
	weft_rt_builder_init(&bld);
	bld.workers = workers;
	bld.current_thread = workers == 0;
	if (weft_rt_create(&rt, &bld)) {
		fprintf(stderr, "weft-bench-ready: %s\n",
			weft_rt_create_error());
		return 1;
	}
	if (only >= 0) {             /* one run, for callgrind */
		run_once(rt, only, rounds, &dummy);
		weft_rt_destroy(rt);
		return 0;
	}
	run_once(rt, false, rounds / 10 + 1, &dummy);        /* warm */
	run_once(rt, true, rounds / 10 + 1, &dummy);
	for (unsigned i = 0; i < reps; i++)
		for (int m = 0; m < 2; m++)
			t[m][i] = run_once(rt, m, rounds, &c[m][i]);
	for (int m = 0; m < 2; m++) {
		qsort(t[m], reps, sizeof(t[m][0]), cmp_d);
		qsort(c[m], reps, sizeof(c[m][0]), cmp_d);
		for (int k = 0; k < 2; k++)
			printf("{\"peer\":\"weft\",\"workload\":"
			       "\"fd_pingpong\",\"n\":%lu,\"mode\":\"%s\","
			       "\"metric\":\"%s\",\"value\":%.1f}\n",
			       (unsigned long)rounds,
			       m ? "multishot" : "single",
			       k ? "cpu_ns_per_wait" : "ns_per_wait",
			       k ? c[m][reps / 2] : t[m][reps / 2]);
	}
	weft_rt_destroy(rt);
	return 0;
}
