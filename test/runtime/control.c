/* test/runtime/control.c - the control socket weft-top attaches to
 * (weft_obs_opts.control_path: mode 0600, the snapshot protocol, EOF and
 * removal at shutdown, a path that exists, is too long or cannot be
 * created), the wait notes leaf futures leave for the dump (a sleep's
 * deadline, a stream receive's fd, an mpsc receive's channel), the dump on
 * a signal (dump_signal), the blocked worker's stack in a long-poll
 * report (stack_signal) and the obs struct's versions (a 1.1-sized one,
 * signals that cannot be used).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test/runtime/harness.h"
#include "weft/metrics.h"
#include "weft/mpsc.h"
#include "weft/net.h"
#include "weft/time.h"

static weft_rt *rt_ctl(const weft_obs_opts *obs, int *err)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = 2;
	b.no_pin = true;
	*err = weft_rt_create_with(&rt, &b, obs);
	return rt;
}

static void tmp_path(char *out, size_t len, const char *name)
{
	char dir[] = "/tmp/weft-ctl-XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	snprintf(out, len, "%s/%s", dir, name);
}

static void tmp_clean(const char *path)
{
	char dir[256];
	char *slash;

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	rmdir(dir);
}

/* ------------------------------------------------------- waiting tasks */

struct sleeper {
	WEFT_ASYNC;
	weft_sleep s;
	weft_instant deadline;
};

static weft_poll sleeper_poll(struct sleeper *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_sleep_until_init(&f->s, f->deadline);
	WEFT_AWAIT_ON(weft_sleep, &f->s);
	WEFT_RETURN(f->s.res);
	WEFT_END();
}

static void sleeper_drop(struct sleeper *f)
{
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(sleeper, struct sleeper, sleeper_drop);

struct chan_waiter {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	weft_mpsc_recv r;
	int v;
};

static weft_poll chan_waiter_poll(struct chan_waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_mpsc_recv_init(&f->r, f->rx, &f->v);
	WEFT_AWAIT_ON(weft_mpsc_recv, &f->r);
	WEFT_RETURN(f->r.res);
	WEFT_END();
}

static void chan_waiter_drop(struct chan_waiter *f)
{
	weft_mpsc_recv_drop(&f->r);
}

WEFT_FUTURE(chan_waiter, struct chan_waiter, chan_waiter_drop);

struct sock_waiter {
	WEFT_ASYNC;
	weft_stream *s;
	weft_stream_recv r;
	char buf[16];
};

static weft_poll sock_waiter_poll(struct sock_waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_stream_recv_init(&f->r, f->s, f->buf, sizeof(f->buf));
	WEFT_AWAIT_ON(weft_stream_recv, &f->r);
	WEFT_RETURN(f->r.res);
	WEFT_END();
}

static void sock_waiter_drop(struct sock_waiter *f)
{
	weft_stream_recv_drop(&f->r);
}

WEFT_FUTURE(sock_waiter, struct sock_waiter, sock_waiter_drop);

struct waiters {
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_stream *s;
	int sv[2];
	weft_instant deadline;
};

static void waiters_spawn(weft_rt *rt, struct waiters *w)
{
	cr_assert_eq(weft_mpsc_create(&w->tx, &w->rx, sizeof(int), 4, NULL), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->sv),
		     0);
	w->s = weft_stream_from_fd(w->sv[0]);
	cr_assert_not_null(w->s);
	w->deadline = weft_now() + 3600 * WEFT_SEC;
	cr_assert_eq(WEFT_SPAWN(rt, sleeper, NULL, { .deadline = w->deadline }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, chan_waiter, NULL, { .rx = w->rx }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, sock_waiter, NULL, { .s = w->s }), 0);
}

/* after the runtime is gone (its tasks dropped theirs) */
static void waiters_free(struct waiters *w)
{
	weft_mpsc_tx_drop(w->tx);
	weft_mpsc_rx_drop(w->rx);
	weft_stream_drop(w->s);
	close(w->sv[1]);
}

struct notes {
	int timer, fd, chan;
	uint64_t deadline, fdv, chanv;
};

static void on_note(void *arg, const weft_task_info *in)
{
	struct notes *n = arg;

	if (in->state != WEFT_TASK_IDLE)
		return;
	if (strcmp(in->name, "sleeper") == 0 &&
	    in->wait_kind == WEFT_WAIT_TIMER) {
		n->timer++;
		n->deadline = in->wait;
	} else if (strcmp(in->name, "sock_waiter") == 0 &&
		   in->wait_kind == WEFT_WAIT_FD) {
		n->fd++;
		n->fdv = in->wait;
	} else if (strcmp(in->name, "chan_waiter") == 0 &&
		   in->wait_kind == WEFT_WAIT_CHANNEL) {
		n->chan++;
		n->chanv = in->wait;
	}
}

static bool notes_seen(weft_rt *rt, struct notes *n)
{
	memset(n, 0, sizeof(*n));
	return weft_rt_dump(rt, on_note, n) >= 0 && n->timer == 1 &&
	       n->fd == 1 && n->chan == 1;
}

Test(control, dump_says_what_each_task_waits_on, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	struct waiters w;
	struct notes n;
	weft_rt *rt;
	int err;

	weft_obs_opts_init(&o);
	o.track_tasks = true;
	rt = rt_ctl(&o, &err);
	cr_assert_eq(err, 0, "%s", weft_rt_create_error());
	waiters_spawn(rt, &w);
	cr_assert(WAIT_UNTIL(notes_seen(rt, &n)));
	cr_assert_eq(n.deadline, w.deadline);
	cr_assert_eq(n.fdv, (uint64_t)w.sv[0]);
	cr_assert_neq(n.chanv, 0);
	cr_assert_str_eq(weft_wait_kind_name(WEFT_WAIT_TIMER), "timer");
	cr_assert_str_eq(weft_wait_kind_name(WEFT_WAIT_UNKNOWN), "?");
	weft_rt_destroy(rt);
	waiters_free(&w);
}

/* ------------------------------------------------------- the socket */

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect %s: %s", path, strerror(errno));
	return fd;
}

/* sends req, reads up to a line "end" (or "error ..." line); returns the
 * text (static) or NULL at EOF */
static char *ask(int fd, const char *req)
{
	static char buf[1 << 16];
	size_t len = 0;

	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		ssize_t r;

		buf[len] = '\0';
		if ((len >= 4 && strcmp(buf + len - 4, "end\n") == 0) ||
		    strncmp(buf, "error", 5) == 0 ? strchr(buf, '\n') != NULL
						  : false)
			return buf;
		cr_assert_lt(len + 1, sizeof(buf));
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		cr_assert_geq(r, 0);
		if (r == 0)
			return len ? buf : NULL;
		len += (size_t)r;
	}
}

static bool has_line(const char *text, const char *start, const char *also)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		if (strncmp(line, start, strlen(start)) == 0 &&
		    (!also || strstr(line, also)))
			return true;
	}
	return false;
}

static bool snapshot_shows_waiters(int fd)
{
	const char *t = ask(fd, "snapshot\n");

	return t && has_line(t, "task ", "sleeper") &&
	       has_line(t, "task ", "waits timer in") &&
	       has_line(t, "task ", "waits channel 0x") &&
	       has_line(t, "task ", "waits fd ");
}

Test(control, socket_0600_answers_snapshots_and_closes_at_shutdown,
     .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	struct waiters w;
	char path[128];
	struct stat st;
	weft_rt *rt;
	const char *t;
	int err, fd, fd2;
	char c;

	tmp_path(path, sizeof(path), "ctl.sock");
	weft_obs_opts_init(&o);
	o.track_tasks = true;
	o.control_path = path;
	rt = rt_ctl(&o, &err);
	cr_assert_eq(err, 0, "%s", weft_rt_create_error());
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	waiters_spawn(rt, &w);
	fd = ctl_connect(path);
	fd2 = ctl_connect(path);
	t = ask(fd, "snapshot\n");
	cr_assert_not_null(t);
	cr_assert(has_line(t, "weft-snapshot 1", NULL), "%s", t);
	cr_assert(has_line(t, "pid ", "workers 2 tracking 1"), "%s", t);
	cr_assert(has_line(t, "worker 0 busy_ns ", NULL), "%s", t);
	cr_assert(has_line(t, "worker 1 busy_ns ", NULL), "%s", t);
	cr_assert(has_line(t, "runtime live ", NULL), "%s", t);
	cr_assert(WAIT_UNTIL(snapshot_shows_waiters(fd)));
	/* two clients at once, and a request it does not know */
	t = ask(fd2, "bogus\n");
	cr_assert(has_line(t, "error unknown request", NULL), "%s", t);
	cr_assert(has_line(ask(fd2, "snapshot\n"), "runtime live ", NULL));
	weft_rt_destroy(rt);
	/* the program is gone: EOF, and the socket is removed */
	cr_assert_eq(read(fd, &c, 1), 0);
	cr_assert_eq(read(fd2, &c, 1), 0);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(errno, ENOENT);
	close(fd);
	close(fd2);
	waiters_free(&w);
	tmp_clean(path);
}

Test(control, path_that_exists_or_cannot_be_made_fails_clearly,
     .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	char path[128], longp[200];
	weft_rt *rt;
	int err, fd;

	tmp_path(path, sizeof(path), "taken");
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	weft_obs_opts_init(&o);
	o.control_path = path;
	rt = rt_ctl(&o, &err);
	cr_assert_null(rt);
	cr_assert_eq(err, -EEXIST);
	cr_assert_not_null(strstr(weft_rt_create_error(), "exists"), "%s",
			   weft_rt_create_error());
	cr_assert_not_null(strstr(weft_rt_create_error(), path));
	/* the file is the caller's: left alone */
	cr_assert_eq(access(path, F_OK), 0);

	/* a stale socket of an earlier runtime is a path that exists too */
	unlink(path);
	rt = rt_ctl(&o, &err);
	cr_assert_eq(err, 0, "%s", weft_rt_create_error());
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -EEXIST);
	weft_rt_destroy(rt);
	cr_assert_neq(access(path, F_OK), 0);

	/* a directory that does not exist, one nobody may create in (even
	 * root: /proc), a path too long for a sockaddr_un */
	o.control_path = "/nonexistent-weft-dir/ctl.sock";
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -ENOENT);
	cr_assert_not_null(strstr(weft_rt_create_error(),
				  "cannot create the control socket"));
	o.control_path = "/proc/weft-ctl.sock";
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_lt(err, 0);
	cr_assert_not_null(strstr(weft_rt_create_error(), "/proc/weft-ctl"));
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	o.control_path = longp;
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -ENAMETOOLONG);
	tmp_clean(path);
}

/* ------------------------------------------------- the dump on a signal */

static bool file_has(const char *path, const char *what)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

Test(control, dump_signal_writes_the_tasks_to_stderr, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	struct waiters w;
	char path[128];
	sigset_t set, old;
	weft_rt *rt;
	int err, fd, saved;

	/* this thread's mask is restored at the end (create blocks the
	 * signal in it) */
	sigemptyset(&set);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	tmp_path(path, sizeof(path), "stderr");
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_APPEND, 0600);
	cr_assert_geq(fd, 0);
	saved = dup(2);
	cr_assert_geq(saved, 0);
	weft_obs_opts_init(&o);
	o.track_tasks = true;
	o.dump_signal = SIGUSR2;
	rt = rt_ctl(&o, &err);
	cr_assert_eq(err, 0, "%s", weft_rt_create_error());
	waiters_spawn(rt, &w);
	cr_assert(WAIT_UNTIL(notes_seen(rt, &(struct notes){ 0 })));
	cr_assert_eq(dup2(fd, 2), 2);
	/* to the process: the control thread's signalfd takes it (every
	 * thread blocks it) */
	cr_assert_eq(kill(getpid(), SIGUSR2), 0);
	cr_assert(WAIT_UNTIL(file_has(path, "weft: end of task dump")));
	dup2(saved, 2);
	close(saved);
	cr_assert(file_has(path, "weft: task dump (signal"));
	cr_assert(file_has(path, " name sleeper "));
	cr_assert(file_has(path, "waits timer in "));
	cr_assert(file_has(path, "waits channel 0x"));
	weft_rt_destroy(rt);
	waiters_free(&w);
	close(fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	tmp_clean(path);
}

Test(control, obs_struct_versions_and_bad_signals, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	weft_rt *rt;
	int err;

	/* a program built against 1.1: its struct ends before control_path,
	 * whatever follows in memory is not read */
	memset(&o, 0xff, sizeof(o));
	weft_obs_opts_init(&o);
	o.size = offsetof(weft_obs_opts, control_path);
	memset(&o.control_path, 0xff,
	       sizeof(o) - offsetof(weft_obs_opts, control_path));
	rt = rt_ctl(&o, &err);
	cr_assert_eq(err, 0, "%s", weft_rt_create_error());
	weft_rt_destroy(rt);
	o.size = offsetof(weft_obs_opts, control_path) - 1;
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -EINVAL);

	weft_obs_opts_init(&o);
	o.dump_signal = SIGKILL;
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -EINVAL);
	o.dump_signal = 100000;
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -EINVAL);
	o.dump_signal = SIGUSR2;
	o.stack_signal = SIGUSR2;
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -EINVAL);
}

/* ------------------------------------------- the blocked worker's stack */

struct stack_seen {
	atomic_bool release;
	atomic_int reports;
	unsigned nstack;
	void *frames[64];
};

static struct stack_seen stack_seen;

static __attribute__((noinline)) void blocking_spin(atomic_bool *until)
{
	while (!atomic_load(until))
		__asm__ volatile("" ::: "memory");
}

struct blocker {
	WEFT_ASYNC;
};

static weft_poll blocker_poll(struct blocker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	blocking_spin(&stack_seen.release);
	WEFT_RETURN(0);
	WEFT_END();
}

WEFT_FUTURE(blocker, struct blocker, WEFT_NO_DROP);

static void on_stack_report(void *arg, const weft_long_poll *r)
{
	struct stack_seen *s = arg;

	if (atomic_load(&s->reports) == 0) {
		s->nstack = r->nstack < 64 ? r->nstack : 64;
		for (unsigned i = 0; i < s->nstack; i++)
			s->frames[i] = r->stack[i];
	}
	atomic_fetch_add(&s->reports, 1);
	atomic_store(&s->release, true);
}

Test(control, long_poll_report_has_the_blocked_workers_stack,
     .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	weft_join *j;
	weft_rt *rt;
	bool inside = false;
	int err;

	weft_obs_opts_init(&o);
	o.long_poll_ns = 20 * 1000 * 1000;
	o.on_long_poll = on_stack_report;
	o.arg = &stack_seen;
	o.stack_signal = SIGRTMIN + 3;
	rt = rt_ctl(&o, &err);
	cr_assert_eq(err, 0, "%s", weft_rt_create_error());
	cr_assert_eq(WEFT_SPAWN(rt, blocker, &j, { 0 }), 0);
	cr_assert_eq(join_on(rt, j), 0);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_geq(atomic_load(&stack_seen.reports), 1);
	cr_assert_gt(stack_seen.nstack, 0, "no stack in the report");
	/* the interrupted frame is in blocking_spin (a small function: its
	 * code is within the first 256 bytes from its start) */
	for (unsigned i = 0; i < stack_seen.nstack; i++) {
		uintptr_t a = (uintptr_t)stack_seen.frames[i];
		uintptr_t f = (uintptr_t)blocking_spin;

		inside |= a >= f && a < f + 256;
	}
	cr_assert(inside, "no frame in blocking_spin among %u",
		  stack_seen.nstack);
	/* the handler is gone with the runtime: the previous one is back */
	struct sigaction now;

	cr_assert_eq(sigaction(SIGRTMIN + 3, NULL, &now), 0);
	cr_assert_eq((void *)now.sa_handler, (void *)SIG_DFL);

	/* one of the signals weft's threads block cannot be used */
	o.stack_signal = SIGUSR1;
	cr_assert_null(rt_ctl(&o, &err));
	cr_assert_eq(err, -EINVAL);
}
