/* test/reactor/process.c - child processes (weft/process.h) with a real
 * /bin/sh: exit codes 0 and 3, killed by SIGTERM (the child does not
 * inherit the workers' blocked signals), stdout and stderr pipes read
 * fully (more than a pipe holds), stdin piped through cat, a child that
 * exits before its pipe is read (its bytes, then EOF), a missing program,
 * spawning outside a runtime, no zombie after a handle is destroyed
 * unwaited, and stdin/stdout taken as byte streams
 * (weft_process_stdio_bytes): lines written through a bufwriter, read
 * back through a bufreader, more than a pipe holds each way. */
#include <sys/wait.h>

#include "helpers.h"

#define SH "/bin/sh"

/* Spawns sh -c script with opts, waits for it: the wait's res. */
struct run_sh {
	WEFT_ASYNC;
	const char *script;
	int kill_with;
	weft_process *p;
	weft_process_wait w;
	weft_timeout t;
	int code, signo;
};

static weft_poll run_sh_poll(struct run_sh *f, weft_cx *cx)
{
	char *argv[] = { "sh", "-c", (char *)f->script, NULL };
	int err;

	WEFT_BEGIN(f, cx);
	err = weft_process_spawn(&f->p, SH, argv, NULL);
	cr_assert_eq(err, 0, "spawn: %d", err);
	cr_assert_gt(weft_process_pid(f->p), 0);
	if (f->kill_with)
		cr_assert_eq(weft_process_kill(f->p, f->kill_with), 0);
	weft_process_wait_init(&f->w, f->p);
	weft_timeout_init(&f->t, WEFT_BRANCH(weft_process_wait, &f->w),
			  10000 * WEFT_MS);      /* hang guard only */
	WEFT_AWAIT_ON(weft_timeout, &f->t);
	cr_assert_geq(f->t.res, 0, "wait: %ld", (long)f->t.res);
	f->code = f->w.code;
	f->signo = f->w.signo;
	/* a second wait returns the same status at once */
	WEFT_AWAIT_INIT(weft_process_wait, &f->w, f->p);
	cr_assert_eq(f->w.code, f->code);
	/* reaped: the pidfd no longer reaches it */
	cr_assert_eq(weft_process_kill(f->p, SIGTERM), -ESRCH);
	weft_process_destroy(f->p);
	f->p = NULL;
	WEFT_RETURN(f->w.res);
	WEFT_END();
}

static void run_sh_drop(struct run_sh *f)
{
	weft_timeout_drop(&f->t);
	weft_process_wait_drop(&f->w);
	weft_process_destroy(f->p);
}

WEFT_FUTURE(run_sh, struct run_sh, run_sh_drop);

static struct run_sh run(weft_rt *rt, const char *script, int kill_with)
{
	struct run_sh f = { .script = script, .kill_with = kill_with };

	cr_assert_eq(WEFT_BLOCK_ON(rt, run_sh, &f), 0);
	return f;
}

Test(process, exit_codes_and_killed_by_a_signal)
{
	struct run_sh f;
	weft_rt *rt;

	/* the spawning thread blocks SIGTERM (as graceful.c's would): the
	 * child must not inherit that, or the kill below would not end it */
	cr_assert_eq(weft_signal_block(NULL), 0);
	rt = test_rt(2);

	f = run(rt, "exit 0", 0);
	cr_assert(WIFEXITED(f.res));
	cr_assert_eq(WEXITSTATUS(f.res), 0);
	cr_assert_eq(f.code, 0);
	cr_assert_eq(f.signo, 0);
	f = run(rt, "exit 3", 0);
	cr_assert(WIFEXITED(f.res));
	cr_assert_eq(WEXITSTATUS(f.res), 3);
	cr_assert_eq(f.code, 3);
	f = run(rt, "exec sleep 30", SIGTERM);
	cr_assert(WIFSIGNALED(f.res), "status %#lx", (long)f.res);
	cr_assert_eq(WTERMSIG(f.res), SIGTERM);
	cr_assert_eq(f.code, -1);
	cr_assert_eq(f.signo, SIGTERM);
	weft_rt_destroy(rt);
}

/* Reads fd to end of file into buf (at most cap): the byte count. */
struct drain {
	WEFT_ASYNC;
	int fd;
	char *buf;
	size_t cap, got;
	weft_fd_read r;
};

static weft_poll drain_poll(struct drain *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_fd_read, &f->r, f->fd, f->buf + f->got,
				f->cap - f->got);
		cr_assert_geq(f->r.res, 0, "read: %ld", (long)f->r.res);
		if (f->r.res == 0)
			break;
		f->got += (size_t)f->r.res;
		cr_assert_lt(f->got, f->cap, "more output than expected");
	}
	WEFT_RETURN(f->got);
	WEFT_END();
}

static void drain_drop(struct drain *f)
{
	weft_fd_read_drop(&f->r);
}

WEFT_FUTURE(drain, struct drain, drain_drop);

#define BIG_OUT 200000

struct piped {
	WEFT_ASYNC;
	weft_process *p;
	char *out, err[64];
	struct drain d;
	weft_fd_write w;
	weft_process_wait wait;
	const char *script;
	int mode;                /* 0 stdout+stderr, 1 cat, 2 exit first */
};

static weft_poll piped_poll(struct piped *f, weft_cx *cx)
{
	char *argv[] = { "sh", "-c", (char *)f->script, NULL };
	weft_process_opts o = { 0 };

	WEFT_BEGIN(f, cx);
	o.stdio[0] = f->mode == 1 ? WEFT_STDIO_PIPE : WEFT_STDIO_NULL;
	o.stdio[1] = WEFT_STDIO_PIPE;
	o.stdio[2] = f->mode == 0 ? WEFT_STDIO_PIPE : WEFT_STDIO_INHERIT;
	cr_assert_eq(weft_process_spawn(&f->p, SH, argv, &o), 0);
	cr_assert_eq(weft_process_stdio(f->p, 0) >= 0, f->mode == 1);
	cr_assert_geq(weft_process_stdio(f->p, 1), 0);
	if (f->mode == 1) {
		WEFT_AWAIT_INIT(weft_fd_write, &f->w,
				weft_process_stdio(f->p, 0), "hello\nworld\n",
				12);
		cr_assert_eq(f->w.res, 12);
		weft_process_close_stdin(f->p);
		cr_assert_eq(weft_process_stdio(f->p, 0), -1);
	}
	if (f->mode == 2) {
		/* the child is gone before anyone reads its pipe */
		WEFT_AWAIT_INIT(weft_process_wait, &f->wait, f->p);
		cr_assert_eq(f->wait.code, 5);
	}
	f->d = (struct drain){ .fd = weft_process_stdio(f->p, 1),
			       .buf = f->out, .cap = BIG_OUT + 64 };
	WEFT_AWAIT_ON(drain, &f->d);
	f->res = f->d.res;
	if (f->mode == 0) {
		f->d = (struct drain){ .fd = weft_process_stdio(f->p, 2),
				       .buf = f->err, .cap = sizeof(f->err) };
		WEFT_AWAIT_ON(drain, &f->d);
		cr_assert_eq(f->d.res, 3);
		cr_assert_arr_eq(f->err, "err", 3);
	}
	WEFT_AWAIT_INIT(weft_process_wait, &f->wait, f->p);
	cr_assert_geq(f->wait.res, 0);
	cr_assert_eq(f->wait.code, f->mode == 2 ? 5 : 0);
	weft_process_destroy(f->p);
	f->p = NULL;
	WEFT_RETURN(f->res);
	WEFT_END();
}

static void piped_drop(struct piped *f)
{
	drain_drop(&f->d);
	weft_fd_write_drop(&f->w);
	weft_process_wait_drop(&f->wait);
	weft_process_destroy(f->p);
}

WEFT_FUTURE(piped, struct piped, piped_drop);

static struct piped *piped_run(weft_rt *rt, const char *script, int mode)
{
	struct piped *f = calloc(1, sizeof(*f));

	f->out = calloc(1, BIG_OUT + 64);
	f->script = script;
	f->mode = mode;
	cr_assert_eq(WEFT_BLOCK_ON(rt, piped, f), 0);
	return f;
}

static void piped_free(struct piped *f)
{
	free(f->out);
	free(f);
}

Test(process, stdout_and_stderr_pipes_are_read_fully)
{
	weft_rt *rt = test_rt(2);
	int before = test_fd_count();
	struct piped *f = piped_run(rt,
		"head -c 200000 /dev/zero | tr '\\0' a; printf err >&2", 0);

	cr_assert_eq(f->res, BIG_OUT);
	for (size_t i = 0; i < BIG_OUT; i++)
		cr_assert_eq(f->out[i], 'a', "byte %zu", i);
	piped_free(f);
	cr_assert_eq(test_fd_count(), before, "a descriptor was left open");
	weft_rt_destroy(rt);
}

Test(process, stdin_piped_through_cat)
{
	weft_rt *rt = test_rt(2);
	struct piped *f = piped_run(rt, "exec cat", 1);

	cr_assert_eq(f->res, 12);
	cr_assert_arr_eq(f->out, "hello\nworld\n", 12);
	piped_free(f);
	weft_rt_destroy(rt);
}

Test(process, child_exiting_before_its_pipe_is_read_keeps_its_bytes)
{
	weft_rt *rt = test_rt(1);
	struct piped *f = piped_run(rt, "printf 'last words'; exit 5", 2);

	cr_assert_eq(f->res, 10);
	cr_assert_arr_eq(f->out, "last words", 10);
	piped_free(f);
	weft_rt_destroy(rt);
}

/* Spawns what the test names and returns the error. */
struct spawn_err {
	WEFT_ASYNC;
	const char *path;
	bool search;
};

static weft_poll spawn_err_poll(struct spawn_err *f, weft_cx *cx)
{
	char *argv[] = { (char *)f->path, NULL };
	weft_process_opts o = { .search_path = f->search };
	weft_process *p = NULL;
	int err;

	WEFT_BEGIN(f, cx);
	err = weft_process_spawn(&p, f->path, argv, &o);
	cr_assert_null(p);
	WEFT_RETURN(err);
	WEFT_END();
}

WEFT_FUTURE(spawn_err, struct spawn_err, WEFT_NO_DROP);

Test(process, missing_program_and_bad_arguments)
{
	weft_rt *rt = test_rt(1);
	int before = test_fd_count();
	struct spawn_err f = { .path = "/no/such/program" };
	weft_process_opts bad = { .stdio = { 7, 0, 0 } };
	char *argv[] = { "sh", NULL };
	weft_process *p = NULL;

	cr_assert_eq(WEFT_BLOCK_ON(rt, spawn_err, &f), 0);
	cr_assert_eq(f.res, -ENOENT);
	f = (struct spawn_err){ .path = "no-such-program-weft", .search = true };
	cr_assert_eq(WEFT_BLOCK_ON(rt, spawn_err, &f), 0);
	cr_assert_eq(f.res, -ENOENT);
	/* not on a runtime's thread; and bad options */
	cr_assert_eq(weft_process_spawn(&p, SH, argv, NULL), -ENODEV);
	cr_assert_eq(weft_process_spawn(&p, SH, argv, &bad), -EINVAL);
	cr_assert_eq(weft_process_spawn(&p, NULL, argv, NULL), -EINVAL);
	cr_assert_null(p);
	cr_assert_eq(test_fd_count(), before);
	weft_rt_destroy(rt);
}

/* True once pid is no child of ours (reaped); false while it runs or is
 * a zombie. WNOWAIT: the test itself reaps nothing. */
static bool reaped(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0
	       && errno == ECHILD;
}

/* Spawns `cat` with stdin piped, takes the pipe and destroys the handle
 * unwaited while cat runs; closing the pipe then makes cat exit, and the
 * reaper must reap it. */
struct unwaited {
	WEFT_ASYNC;
	pid_t pid;
	int in;
};

static weft_poll unwaited_poll(struct unwaited *f, weft_cx *cx)
{
	char *argv[] = { "cat", NULL };
	weft_process_opts o = {
		.search_path = true,
		.stdio = { WEFT_STDIO_PIPE, WEFT_STDIO_NULL, WEFT_STDIO_NULL },
	};
	weft_process *p = NULL;

	WEFT_BEGIN(f, cx);
	cr_assert_eq(weft_process_spawn(&p, "cat", argv, &o), 0);
	f->pid = weft_process_pid(p);
	f->in = weft_process_take_stdio(p, 0);
	cr_assert_geq(f->in, 0);
	cr_assert_eq(weft_process_stdio(p, 0), -1);
	weft_process_destroy(p);
	cr_assert_not(reaped(f->pid));
	close(f->in);
	WEFT_END();
}

WEFT_FUTURE(unwaited, struct unwaited, WEFT_NO_DROP);

Test(process, destroyed_unwaited_child_leaves_no_zombie)
{
	weft_rt *rt = test_rt(2);
	struct unwaited f = { 0 };
	int i;

	cr_assert_eq(WEFT_BLOCK_ON(rt, unwaited, &f), 0);
	cr_assert_gt(f.pid, 0);
	/* hang guard only: 10 s */
	for (i = 0; i < 10000 && !reaped(f.pid); i++)
		usleep(1000);
	cr_assert(reaped(f.pid), "child %d not reaped (a zombie)", f.pid);
	weft_rt_destroy(rt);
}

/* ------------------------------------------- pipes as byte streams */

#define PIPE_LINES 8000        /* ~90 KB each way: more than a pipe holds */

/* Writes PIPE_LINES lines through a bufwriter on the child's stdin, then
 * shuts it down (the child reads end of file). */
struct feeder {
	WEFT_ASYNC;
	weft_bytes *b;
	int i;
	weft_bufwriter w;
	weft_codec_lines_write lw;
	weft_bufwriter_flush fl;
	char line[32];
};

static const weft_codec_lines pipe_lines = { .max_len = 64 };

static weft_poll feeder_poll(struct feeder *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_bufwriter_init(&f->w, f->b, 4096))
		WEFT_RETURN(-ENOMEM);
	for (f->i = 0; f->i < PIPE_LINES; f->i++) {
		snprintf(f->line, sizeof(f->line), "line %d", f->i);
		WEFT_AWAIT_INIT(weft_codec_lines_write, &f->lw, &f->w,
				&pipe_lines, f->line, strlen(f->line));
		if (f->lw.res < 0)
			WEFT_RETURN(f->lw.res);
	}
	weft_bufwriter_shutdown_init(&f->fl, &f->w);
	WEFT_AWAIT_ON(weft_bufwriter_flush, &f->fl);
	WEFT_RETURN(f->fl.res);
	WEFT_END();
}

static void feeder_drop(struct feeder *f)
{
	weft_bufwriter_destroy(&f->w);
	weft_bytes_drop(f->b);
}

WEFT_FUTURE(feeder, struct feeder, feeder_drop);

/* sh prefixes each line of its stdin with "x"; the lines come back
 * through a bufreader on its stdout, each checked. res = lines read. */
struct filter {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_process *p;
	weft_bytes *in, *out;
	weft_join *fj;
	int i;
	weft_bufreader r;
	weft_codec_lines_next ln;
	weft_join_wait jw;
	weft_process_wait wait;
	char want[40];
};

static weft_poll filter_poll(struct filter *f, weft_cx *cx)
{
	char *argv[] = { "sh", "-c", "while read l; do echo \"x$l\"; done",
			 NULL };
	weft_process_opts o = { 0 };

	WEFT_BEGIN(f, cx);
	o.stdio[0] = WEFT_STDIO_PIPE;
	o.stdio[1] = WEFT_STDIO_PIPE;
	cr_assert_eq(weft_process_spawn(&f->p, SH, argv, &o), 0);
	cr_assert_eq(weft_process_stdio_bytes(f->p, 3, &f->in), -EINVAL);
	cr_assert_eq(weft_process_stdio_bytes(f->p, 2, &f->in), -EBADF,
		     "stderr is inherited, not a pipe");
	cr_assert_eq(weft_process_stdio_bytes(f->p, 0, &f->in), 0);
	cr_assert_eq(weft_process_stdio_bytes(f->p, 1, &f->out), 0);
	cr_assert_str_eq(f->out->vt->name, "pipe");
	cr_assert_eq(weft_process_stdio(f->p, 0), -1, "taken");
	cr_assert_eq(weft_process_stdio_bytes(f->p, 1, &f->out), -EBADF);
	cr_assert_eq(WEFT_SPAWN(f->rt, feeder, &f->fj, { .b = f->in }), 0);
	f->in = NULL;                /* the feeder's */
	cr_assert_eq(weft_bufreader_init(&f->r, f->out, 256), 0);
	for (f->i = 0;; f->i++) {
		WEFT_AWAIT_INIT(weft_codec_lines_next, &f->ln, &f->r,
				&pipe_lines);
		if (f->ln.res < 0)
			break;
		snprintf(f->want, sizeof(f->want), "xline %d", f->i);
		cr_assert_eq((size_t)f->ln.res, strlen(f->want), "line %d",
			     f->i);
		cr_assert_arr_eq(f->ln.data, f->want, strlen(f->want),
				 "line %d", f->i);
	}
	cr_assert_eq(f->ln.res, -ENODATA, "a clean end: %ld",
		     (long)f->ln.res);
	weft_join_wait_init(&f->jw, f->fj);
	WEFT_AWAIT_ON(weft_join_wait, &f->jw);
	cr_assert_eq(f->jw.res, 0, "feeder: %ld", (long)f->jw.res);
	WEFT_AWAIT_INIT(weft_process_wait, &f->wait, f->p);
	cr_assert_eq(f->wait.code, 0);
	WEFT_RETURN(f->i);
	WEFT_END();
}

static void filter_drop(struct filter *f)
{
	weft_join_drop(f->fj);
	weft_process_wait_drop(&f->wait);
	weft_bufreader_destroy(&f->r);
	weft_bytes_drop(f->in);
	weft_bytes_drop(f->out);
	weft_process_destroy(f->p);
}

WEFT_FUTURE(filter, struct filter, filter_drop);

Test(process, stdio_as_byte_streams_through_bufio)
{
	weft_rt *rt = test_rt(2);
	int before = test_fd_count();
	struct filter *f = calloc(1, sizeof(*f));

	cr_assert(f);
	f->rt = rt;
	cr_assert_eq(WEFT_BLOCK_ON(rt, filter, f), 0);
	cr_assert_eq(f->res, PIPE_LINES);
	filter_drop(f);
	free(f);
	cr_assert_eq(test_fd_count(), before, "a descriptor was left open");
	weft_rt_destroy(rt);
}
