/* reactor/signal.c - signal streams (weft/signal.h): a signalfd wrapped
 * in a counted descriptor, the receive future (read the signalfd on the
 * polling thread; on EAGAIN wait for it to be readable), and ctrl_c (a
 * SIGINT stream of its own around one receive).
 *
 * The signalfd is a struct weft__fd, so a wait in flight holds it open
 * (reactor/ready.h) even if the stream is destroyed under it. Nothing is
 * buffered here: a signal leaves the kernel only in the read that returns
 * it to a caller. No atomics here.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "weft/signal.h"
#include "reactor/fd.h"
#include "reactor/ready.h"

struct weft_signal {
	struct weft__fd *fd;    /* the signalfd; the stream's reference */
};

int weft_signal_create(weft_signal **out, const sigset_t *set)
{
	sigset_t ok;
	weft_signal *s;
	bool any = false;
	int fd;

	if (!out || !set)
		return -EINVAL;
	weft_signal_set_fill(&ok);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(set, sig) != 1)
			continue;
		if (sigismember(&ok, sig) != 1)
			return -EINVAL;
		any = true;
	}
	if (!any)
		return -EINVAL;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		free(s);
		return err;
	}
	s->fd = weft__fd_new(fd, 0);
	if (!s->fd) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void weft_signal_destroy(weft_signal *s)
{
	if (!s)
		return;
	weft__fd_put(s->fd);
	free(s);
}

int weft_signal_fd(const weft_signal *s)
{
	return s->fd->fd;
}

/* ----------------------------------------------------------------- recv */

void weft_signal_recv_init(weft_signal_recv *f, weft_signal *s)
{
	WEFT_DEBUG_CHECK(!f->ready.op, "weft_signal_recv_init",
			 "the receive is still waiting (its record would "
			 "leak); call weft_signal_recv_drop first");
	f->s = s;
	f->ready.op = NULL;
	f->res = 0;
}

/* One non-blocking read of the signalfd: the signal number, 0 when none
 * is pending, or -errno. */
static intptr_t recv_try(weft_signal_recv *f)
{
	ssize_t n;

	do
		n = read(f->s->fd->fd, &f->info, sizeof(f->info));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(f->info))
		return (intptr_t)f->info.ssi_signo;
	if (n >= 0)
		return -EIO;  /* signalfd reads whole records only */
	return errno == EAGAIN ? 0 : -errno;
}

weft_poll weft_signal_recv_poll(weft_signal_recv *f, weft_cx *cx)
{
	intptr_t got;

	if (!f->s) {
		f->res = -EINVAL;
		return WEFT_READY;
	}
	for (;;) {
		if (f->ready.op) {
			if (weft_fd_ready_poll(&f->ready, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (f->ready.res < 0) {
				f->res = f->ready.res;
				return WEFT_READY;
			}
		} else if (!weft_coop_proceed(cx)) {
			return WEFT_PENDING;
		}
		got = recv_try(f);
		if (got != 0) {
			f->res = got;
			return WEFT_READY;
		}
		weft__fd_ready_init_obj(&f->ready, f->s->fd, POLLIN);
		if (weft_fd_ready_poll(&f->ready, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (f->ready.res < 0) {
			f->res = f->ready.res;
			return WEFT_READY;
		}
	}
}

void weft_signal_recv_drop(weft_signal_recv *f)
{
	weft_fd_ready_drop(&f->ready);
}

WEFT_FUTURE_DEFINE(weft_signal_recv, weft_signal_recv_drop);

/* --------------------------------------------------------------- ctrl_c */

void weft_signal_ctrl_c_init(weft_signal_ctrl_c *f)
{
	WEFT_DEBUG_CHECK(!f->s, "weft_signal_ctrl_c_init",
			 "the wait is still in use (its stream would leak); "
			 "call weft_signal_ctrl_c_drop first");
	f->s = NULL;
	f->recv.ready.op = NULL;
	f->res = 0;
}

weft_poll weft_signal_ctrl_c_poll(weft_signal_ctrl_c *f, weft_cx *cx)
{
	if (!f->s) {
		sigset_t set;
		int err;

		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		err = weft_signal_create(&f->s, &set);
		if (err < 0) {
			f->s = NULL;
			f->res = err;
			return WEFT_READY;
		}
		weft_signal_recv_init(&f->recv, f->s);
	}
	if (weft_signal_recv_poll(&f->recv, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	f->res = f->recv.res < 0 ? f->recv.res : 0;
	weft_signal_destroy(f->s);
	f->s = NULL;
	return WEFT_READY;
}

void weft_signal_ctrl_c_drop(weft_signal_ctrl_c *f)
{
	if (f->s) {
		weft_signal_recv_drop(&f->recv);
		weft_signal_destroy(f->s);
		f->s = NULL;
	}
}

WEFT_FUTURE_DEFINE(weft_signal_ctrl_c, weft_signal_ctrl_c_drop);
