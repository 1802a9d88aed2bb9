/* reactor/process.c - child processes (weft/process.h): spawn with
 * posix_spawn(3) and a pidfd, the wait future (waitid(P_PIDFD, WNOHANG) on
 * the polling thread; when the child still runs, a readiness wait on the
 * pidfd, which becomes readable when it exits), kill through the pidfd,
 * the pipes, and the reaper.
 *
 * The reaper: every handle carries one REAPER record, allocated at spawn
 * (so destroying a handle cannot fail for want of memory, and the record's
 * count on the reactor keeps the reactor alive while the handle lives).
 * A handle destroyed with its child not yet reaped submits the record: a
 * POLL_ADD on the pidfd that the reactor owns from then on (op.c). Its
 * final completion (the child exited, or the runtime is shutting down)
 * frees it, and weft__reaper_release reaps the child then if it has
 * exited, before the pidfd's last reference closes it. A handle whose
 * child was reaped frees the record unused.
 *
 * The handle's fields belong to the thread using it (weft/process.h, the
 * threads paragraph); kill reads only the pidfd, which is immutable. No
 * atomics here but the reactor's `stopped` flag, read once in destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft/bytes.h"
#include "weft/process.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"
#include "reactor/ready.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

struct weft_process {
	pid_t pid;
	struct weft__fd *pidfd;     /* the handle's reference */
	struct weft__op *reaper;    /* REAPER record, unsubmitted */
	int pipes[3];               /* parent's ends, or -1 */
	bool reaped;                /* status, code, signo are set */
	int status, code, signo;
};

/* waitid(P_PIDFD, WNOHANG): 1 when the child was reaped now (*si filled),
 * 0 when it still runs, or -errno. */
static int reap_now(int pidfd, siginfo_t *si)
{
	int ret;

	si->si_pid = 0;
	do
		ret = waitid((idtype_t)P_PIDFD, (id_t)pidfd, si,
			     WEXITED | WNOHANG);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return si->si_pid != 0;
}

void weft__reaper_release(struct weft__op *op)
{
	siginfo_t si;

	(void)reap_now(op->fd->fd, &si);
}

/* Records what reap_now found in *si. */
static void set_status(weft_process *p, const siginfo_t *si)
{
	p->reaped = true;
	if (si->si_code == CLD_EXITED) {
		p->code = si->si_status & 0xff;
		p->signo = 0;
		p->status = p->code << 8;
	} else {
		p->code = -1;
		p->signo = si->si_status;
		p->status = si->si_status |
			    (si->si_code == CLD_DUMPED ? 0x80 : 0);
	}
}

/* ---------------------------------------------------------------- spawn */

static void close_pipe_pair(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Sets up stream i of the child in fa: 0 or -errno. For a pipe, the
 * parent's end goes to *parent, the child's to *child (closed by the
 * caller after the spawn). */
static int stdio_setup(posix_spawn_file_actions_t *fa, int i, int mode,
		       int *parent, int *child)
{
	int fds[2];

	if (mode == WEFT_STDIO_INHERIT)
		return 0;
	if (mode == WEFT_STDIO_NULL)
		return -posix_spawn_file_actions_addopen(
			fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	*parent = fds[i == 0 ? 1 : 0];
	*child = fds[i == 0 ? 0 : 1];
	if (fcntl(*parent, F_SETFL, O_NONBLOCK) < 0) {
		int err = -errno;

		close_pipe_pair(fds);
		*parent = *child = -1;
		return err;
	}
	/* dup2 onto 0/1/2 clears close-on-exec there; the original child
	 * end closes at the exec */
	return -posix_spawn_file_actions_adddup2(fa, *child, i);
}

static bool opts_valid(const weft_process_opts *o)
{
	for (int i = 0; i < 3; i++)
		if (o->stdio[i] < WEFT_STDIO_INHERIT ||
		    o->stdio[i] > WEFT_STDIO_PIPE)
			return false;
	return true;
}

/* posix_spawn with the child's mask emptied; the pid or -errno. */
static int spawn_child(pid_t *pid, const char *path, char *const argv[],
		       const weft_process_opts *o,
		       const posix_spawn_file_actions_t *fa)
{
	posix_spawnattr_t at;
	sigset_t none;
	int err;

	err = posix_spawnattr_init(&at);
	if (err)
		return -err;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	if (o->search_path)
		err = posix_spawnp(pid, path, fa, &at, argv,
				   o->envp ? o->envp : environ);
	else
		err = posix_spawn(pid, path, fa, &at, argv,
				  o->envp ? o->envp : environ);
	posix_spawnattr_destroy(&at);
	return -err;
}

/* The child is running but cannot be tracked: kill and reap it, so that
 * nothing is left behind by a failed spawn. */
static void abandon_child(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Opens the pidfd and the reaper for a running child: 0 or -errno. */
static int track_child(weft_process *p, struct weft__reactor *r)
{
	int fd = pidfd_open(p->pid, 0);

	if (fd < 0)
		return -errno;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	p->pidfd = weft__fd_new(fd, 0);
	if (!p->pidfd)
		return -ENOMEM;
	p->reaper = weft__op_alloc(r, WEFT__OP_REAPER, p->pidfd, 0);
	if (!p->reaper) {
		weft__fd_put(p->pidfd);
		p->pidfd = NULL;
		return -ENOMEM;
	}
	io_uring_prep_poll_add(&p->reaper->sqe, fd, POLLIN);
	return 0;
}

int weft_process_spawn(weft_process **out, const char *path,
		       char *const argv[], const weft_process_opts *opts)
{
	static const weft_process_opts defaults;
	const weft_process_opts *o = opts ? opts : &defaults;
	struct weft__reactor *r = weft__reactor_of(NULL);
	posix_spawn_file_actions_t fa;
	int child[3] = { -1, -1, -1 };
	weft_process *p;
	int err = 0;

	if (!out || !path || !argv || !opts_valid(o))
		return -EINVAL;
	if (!r)
		return -ENODEV;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pipes[0] = p->pipes[1] = p->pipes[2] = -1;
	err = -posix_spawn_file_actions_init(&fa);
	if (err)
		goto out_free;
	for (int i = 0; i < 3 && !err; i++)
		err = stdio_setup(&fa, i, o->stdio[i], &p->pipes[i],
				  &child[i]);
	if (!err)
		err = spawn_child(&p->pid, path, argv, o, &fa);
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 3; i++)
		if (child[i] >= 0)
			close(child[i]);
	if (err)
		goto out_pipes;
	err = track_child(p, r);
	if (err) {
		abandon_child(p->pid);
		goto out_pipes;
	}
	*out = p;
	return 0;
out_pipes:
	for (int i = 0; i < 3; i++)
		if (p->pipes[i] >= 0)
			close(p->pipes[i]);
out_free:
	free(p);
	return err;
}

/* ------------------------------------------------------------ the handle */

pid_t weft_process_pid(const weft_process *p)
{
	return p->pid;
}

int weft_process_stdio(const weft_process *p, int which)
{
	return which >= 0 && which < 3 ? p->pipes[which] : -1;
}

int weft_process_take_stdio(weft_process *p, int which)
{
	int fd = weft_process_stdio(p, which);

	if (fd >= 0)
		p->pipes[which] = -1;
	return fd;
}

int weft_process_stdio_bytes(weft_process *p, int which,
			     struct weft_bytes **out)
{
	int fd, ret;

	if (!p || !out || which < 0 || which > 2)
		return -EINVAL;
	fd = p->pipes[which];
	if (fd < 0)
		return -EBADF;
	ret = weft_bytes_from_fd(out, fd, 0);
	if (ret == 0)
		p->pipes[which] = -1;    /* the stream's now */
	return ret;
}

void weft_process_close_stdin(weft_process *p)
{
	if (p->pipes[0] >= 0) {
		close(p->pipes[0]);
		p->pipes[0] = -1;
	}
}

int weft_process_kill(weft_process *p, int signo)
{
	if (pidfd_send_signal(p->pidfd->fd, signo, NULL, 0) < 0)
		return -errno;
	return 0;
}

void weft_process_destroy(weft_process *p)
{
	struct weft__op *op;
	siginfo_t si;

	if (!p)
		return;
	for (int i = 0; i < 3; i++)
		if (p->pipes[i] >= 0)
			close(p->pipes[i]);
	op = p->reaper;
	if (!p->reaped && reap_now(p->pidfd->fd, &si) == 0 &&
	    /* acquire: pairs with weft__reactor_stop's release; a stopped
	     * reactor would never arm the reaper */
	    !atomic_load_explicit(&op->r->stopped, memory_order_acquire))
		weft__op_submit(op);  /* the reactor's now */
	else
		weft__op_free(op);    /* never shared */
	weft__fd_put(p->pidfd);
	free(p);
}

/* ----------------------------------------------------------------- wait */

void weft_process_wait_init(weft_process_wait *f, weft_process *p)
{
	WEFT_DEBUG_CHECK(!f->ready.op, "weft_process_wait_init",
			 "the wait is still in flight (its record would "
			 "leak); call weft_process_wait_drop first");
	f->p = p;
	f->code = -1;
	f->signo = 0;
	f->ready.op = NULL;
	f->res = 0;
}

static weft_poll wait_done(weft_process_wait *f, intptr_t res)
{
	if (res >= 0) {
		f->code = f->p->code;
		f->signo = f->p->signo;
		res = f->p->status;
	}
	f->res = res;
	return WEFT_READY;
}

weft_poll weft_process_wait_poll(weft_process_wait *f, weft_cx *cx)
{
	siginfo_t si;
	int got;

	if (!f->p)
		return wait_done(f, -EINVAL);
	for (;;) {
		if (f->ready.op) {
			if (weft_fd_ready_poll(&f->ready, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (f->ready.res < 0)
				return wait_done(f, f->ready.res);
		} else if (!weft_coop_proceed(cx)) {
			return WEFT_PENDING;
		}
		if (f->p->reaped)
			return wait_done(f, 0);
		got = reap_now(f->p->pidfd->fd, &si);
		if (got < 0)
			return wait_done(f, got);
		if (got > 0) {
			set_status(f->p, &si);
			return wait_done(f, 0);
		}
		weft__fd_ready_init_obj(&f->ready, f->p->pidfd, POLLIN);
		if (weft_fd_ready_poll(&f->ready, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->ready.res < 0)
			return wait_done(f, f->ready.res);
	}
}

void weft_process_wait_drop(weft_process_wait *f)
{
	weft_fd_ready_drop(&f->ready);
}

WEFT_FUTURE_DEFINE(weft_process_wait, weft_process_wait_drop);
