/* bench/sync_wl.c - idle_memory (9) of ../shared/peers/README.md, which
 * parks its tasks on a weft_notify. It is compiled only when the library
 * has sync/notify.c (bench/meson.build then defines BENCH_USE_NOTIFY);
 * otherwise its weak symbol stays NULL and weft-bench reports it as not
 * implemented. The channel workloads are in chan_wl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifdef BENCH_USE_NOTIFY
#include "weft/notify.h"

/* ---------------------------------------------------------- 9 idle_memory */

#define IDLE_N 1000000u

/* Reads a "kB" field such as VmRSS or VmHWM from /proc/self/status. */
static uint64_t status_kb(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");
	uint64_t v = 0;
	bool found = false;

	if (!f)
		bench_fail("/proc/self/status: %s", strerror(errno));
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			found = sscanf(line + len + 1, "%llu",
				       (unsigned long long *)&v) == 1;
	fclose(f);
	if (!found)
		bench_fail("%s not in /proc/self/status", field);
	return v;
}

/* What the parked tasks and the driver share. */
struct idle {
	weft_rt *rt;
	uint64_t n;
	_Atomic uint64_t started;
	_Atomic uint64_t done;
	weft_notify gate;         /* opened with notify_waiters */
	weft_notify all_started;  /* notify_one by the n-th starter */
	weft_notify all_done;     /* notify_one by the n-th finisher */
	uint64_t before_kb, hwm_kb;
};

/* A parked task: 8 (resume, WEFT_ASYNC_VOID) + 48 (the wait) = 56 bytes,
 * which with the 56-byte task header is jemalloc's 112-byte class. The
 * frame keeps no pointer of its own to the shared state: the wait holds
 * the address of st->gate (weft_notify_wait.n, valid after READY too), and
 * st is the struct around it. The spawn initialiser puts that address in
 * gate.n, where weft_notify_wait_init puts it again; the rest of the wait
 * is zero, as init requires. */
struct idle_task {
	WEFT_ASYNC_VOID;
	weft_notify_wait gate;
};

_Static_assert(sizeof(struct idle_task) <= 56,
	       "idle_memory: a parked task's frame must stay within 56 bytes");

static struct idle *idle_of(weft_notify *gate)
{
	return (struct idle *)(void *)((char *)gate -
				       offsetof(struct idle, gate));
}

static weft_poll idle_task_poll(struct idle_task *f, weft_cx *cx)
{
	struct idle *st = idle_of(f->gate.n);

	WEFT_BEGIN(f, cx);
	/* the wait is set up before counting in, so a notify_waiters that
	 * follows the n-th start is never missed */
	weft_notify_wait_init(&f->gate, &st->gate);
	/* acq_rel: count-and-signal (README) */
	if (atomic_fetch_add_explicit(&st->started, 1, memory_order_acq_rel) +
		    1 == st->n)
		weft_notify_one(&st->all_started);
	WEFT_AWAIT_ON(weft_notify_wait, &f->gate);
	if (atomic_fetch_add_explicit(&st->done, 1, memory_order_acq_rel) + 1 ==
	    st->n)
		weft_notify_one(&st->all_done);
	WEFT_END();
}

/* No drop function: a task is never dropped while it waits (the driver
 * opens the gate and waits for every task to finish before shutdown), so
 * completing costs no drop call, as before. */
WEFT_FUTURE(idle_task, struct idle_task, WEFT_NO_DROP);

struct idle_driver {
	WEFT_ASYNC;
	struct idle *st;
	weft_notify_wait wait;
};

static weft_poll idle_driver_poll(struct idle_driver *f, weft_cx *cx)
{
	struct idle *st = f->st;
	uint64_t i;

	WEFT_BEGIN(f, cx);
	st->before_kb = status_kb("VmRSS");
	for (i = 0; i < st->n; i++)
		BENCH_SPAWN(st->rt, idle_task, { .gate = { .n = &st->gate } });
	WEFT_AWAIT_INIT(weft_notify_wait, &f->wait, &st->all_started);
	st->hwm_kb = status_kb("VmHWM");
	weft_notify_waiters(&st->gate);
	WEFT_AWAIT_INIT(weft_notify_wait, &f->wait, &st->all_done);
	WEFT_END();
}

WEFT_FUTURE(idle_driver, struct idle_driver, WEFT_NO_DROP);

/* The child: one repetition, prints bytes per task on stdout. */
int bench_idle_memory_child(int argc, char **argv)
{
	struct bench_opts o;
	struct idle st;
	int fd, rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	/* "5" resets VmHWM to the current RSS (Linux >= 4.0); harmless if
	 * refused */
	fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "5", 1) != 1)
			(void)0;
		close(fd);
	}
	memset(&st, 0, sizeof(st));
	st.n = bench_size(&o, IDLE_N);
	weft_notify_init(&st.gate);
	weft_notify_init(&st.all_started);
	weft_notify_init(&st.all_done);
	st.rt = bench_rt_create();
	BENCH_DRIVE(st.rt, idle_driver, { .st = &st });
	weft_rt_destroy(st.rt);
	if (atomic_load(&st.done) != st.n || atomic_load(&st.started) != st.n)
		bench_fail("%llu started, %llu done of %llu",
			   (unsigned long long)atomic_load(&st.started),
			   (unsigned long long)atomic_load(&st.done),
			   (unsigned long long)st.n);
	weft_notify_destroy(&st.gate);
	weft_notify_destroy(&st.all_started);
	weft_notify_destroy(&st.all_done);
	printf("%.1f\n", (double)(st.hwm_kb > st.before_kb ?
				  st.hwm_kb - st.before_kb : 0) *
				 1024.0 / (double)st.n);
	return BENCH_EXIT_OK;
}

/* Runs this program as `idle_memory_child [--n N]`, returns its number. */
static double idle_child_run(const struct bench_opts *o)
{
	char nbuf[32], out[64];
	char *args[5] = { "weft-bench", "idle_memory_child", NULL, NULL, NULL };
	int pfd[2], status;
	ssize_t got, len = 0;
	char *end;
	double v;
	pid_t pid;

	if (o->n) {
		snprintf(nbuf, sizeof(nbuf), "%llu", (unsigned long long)o->n);
		args[2] = "--n";
		args[3] = nbuf;
	}
	if (pipe(pfd))
		bench_fail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bench_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(pfd[1]);
	while (len < (ssize_t)sizeof(out) - 1 &&
	       (got = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += got;
	out[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		bench_fail("idle_memory child failed (status %d)", status);
	v = strtod(out, &end);
	if (end == out || (*end != '\n' && *end != '\0'))
		bench_fail("idle_memory child printed '%s'", out);
	return v;
}

/* Each repetition in a fresh child (peak RSS never goes down); no
 * warm-up; 3 repetitions (1 with --quick). */
int bench_idle_memory(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_samples s;
	unsigned rep;
	int rc = bench_opts_parse(argc, argv, &o);

	if (rc)
		return rc;
	bench_samples_init(&s, bench_reps(&o, 3));
	for (rep = 1; rep <= s.reps; rep++)
		bench_samples_add(&s, rep, idle_child_run(&o));
	bench_emit("idle_memory", bench_size(&o, IDLE_N), "", "bytes_per_task",
		   bench_samples_median(&s));
	return BENCH_EXIT_OK;
}

#endif /* BENCH_USE_NOTIFY */
