/* test/reactor/watch.c - fd watchers (weft/fd.h, weft_fd_watch): an edge
 * that arrives while nobody waits completes the next wait without a new
 * poll, and is taken once (edge-recorded, not level); many waits on one
 * multishot poll; the re-arm when a poll ends (every poll single-shot, as
 * after a kernel-ended multishot); readable and writable waits at once;
 * destroy with a wait pending (woken, -ECANCELED); runtime shutdown under
 * a wait; bad arguments and a closed fd. */
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include "helpers.h"
#include "reactor/reactor.h"
#include "reactor/ready.h"

static void nb_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One wait on a watcher with a hang guard: res, or -ETIMEDOUT. */
struct wait_w {
	WEFT_ASYNC;
	weft_fd_watch *w;
	unsigned events;
	weft_duration limit;
	weft_fd_watch_wait wt;
	weft_timeout t;
};

static weft_poll wait_w_poll(struct wait_w *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_fd_watch_wait_init(&f->wt, f->w, f->events);
	weft_timeout_init(&f->t, WEFT_BRANCH(weft_fd_watch_wait, &f->wt),
			  f->limit ? f->limit : 10000 * WEFT_MS);
	WEFT_AWAIT_ON(weft_timeout, &f->t);
	WEFT_RETURN(f->t.res);
	WEFT_END();
}

static void wait_w_drop(struct wait_w *f)
{
	weft_timeout_drop(&f->t);
}

WEFT_FUTURE(wait_w, struct wait_w, wait_w_drop);

static intptr_t wait_on(weft_rt *rt, weft_fd_watch *w, unsigned events,
			weft_duration limit)
{
	struct wait_w f = { .w = w, .events = events, .limit = limit };

	cr_assert_eq(WEFT_BLOCK_ON(rt, wait_w, &f), 0);
	return f.res;
}

static weft_fd_watch *watch(int fd, unsigned events)
{
	weft_fd_watch *w = NULL;

	cr_assert_eq(weft_fd_watch_create(&w, fd, events), 0);
	cr_assert_not_null(w);
	return w;
}

/* Polls a fresh readable wait once at a time until it is READY (the
 * reactor recorded the edge), each poll from a new block_on; hang guard
 * 10 s. Returns its res. */
static intptr_t poll_until_ready(weft_rt *rt, weft_fd_watch *w)
{
	weft_fd_watch_wait wt = { 0 };

	for (int i = 0; i < 10000; i++) {
		weft_fd_watch_readable_init(&wt, w);
		if (TEST_POLL_ONCE(rt, weft_fd_watch_wait, &wt) == WEFT_READY)
			return wt.res;
		weft_fd_watch_wait_drop(&wt);
		pause_ms(1);
	}
	cr_assert_fail("the edge was never recorded");
	return 0;
}

Test(watch, an_edge_between_waits_is_kept_and_taken_once)
{
	weft_rt *rt = test_rt(2);
	weft_fd_watch *w;
	intptr_t res;
	char c;
	int p[2];

	nb_pipe(p);
	w = watch(p[0], POLLIN);
	/* empty: the first wait arms the poll and sleeps */
	cr_assert_eq(wait_on(rt, w, POLLIN, 50 * WEFT_MS), -ETIMEDOUT);
	cr_assert_eq(weft__fd_watch_test_arms(w), 1);
	/* readiness while nobody waits: recorded, and a later wait takes it
	 * in one poll, with no new POLL_ADD */
	cr_assert_eq(write(p[1], "x", 1), 1);
	res = poll_until_ready(rt, w);
	cr_assert(res & POLLIN, "revents %#lx", (long)res);
	cr_assert_eq(weft__fd_watch_test_arms(w), 1);
	/* taken: the byte is still there (level: readable), but no new edge
	 * came, so the next wait sleeps (EPOLLET's rule, documented) */
	cr_assert_eq(wait_on(rt, w, POLLIN, 50 * WEFT_MS), -ETIMEDOUT);
	/* a new write is a new edge */
	cr_assert_eq(write(p[1], "y", 1), 1);
	res = wait_on(rt, w, POLLIN, 0);
	cr_assert_gt(res, 0, "res %ld", (long)res);
	cr_assert(res & POLLIN);
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(weft__fd_watch_test_arms(w), 1);
	weft_fd_watch_destroy(w);
	close(p[0]);
	close(p[1]);
	weft_rt_destroy(rt);
}

/* Another thread writes the eventfd `n` times, each after the reader took
 * the previous count (handshake through `taken`). */
struct efd_writer {
	int fd;
	unsigned n;
	atomic_uint taken;
};

static void *efd_writer_main(void *arg)
{
	struct efd_writer *e = arg;

	for (unsigned i = 0; i < e->n; i++) {
		while (atomic_load(&e->taken) < i)
			pause_ms(0);
		cr_assert_eq(eventfd_write(e->fd, 1), 0);
	}
	return NULL;
}

/* Reads n counts from the eventfd through the watcher: wait, read until
 * EAGAIN. res = counts read, or a negative errno. */
struct efd_reader {
	WEFT_ASYNC;
	weft_fd_watch *w;
	struct efd_writer *e;
	uint64_t got;
	weft_fd_watch_wait wt;
};

static weft_poll efd_reader_poll(struct efd_reader *f, weft_cx *cx)
{
	uint64_t v;

	WEFT_BEGIN(f, cx);
	while (f->got < f->e->n) {
		WEFT_AWAIT_INIT(weft_fd_watch_wait, &f->wt, f->w, POLLIN);
		if (f->wt.res < 0)
			WEFT_RETURN(f->wt.res);
		while (eventfd_read(f->e->fd, &v) == 0) {
			f->got += v;
			atomic_store(&f->e->taken, (unsigned)f->got);
		}
		cr_assert_eq(errno, EAGAIN);
	}
	WEFT_RETURN((intptr_t)f->got);
	WEFT_END();
}

static void efd_reader_drop(struct efd_reader *f)
{
	weft_fd_watch_wait_drop(&f->wt);
}

WEFT_FUTURE(efd_reader, struct efd_reader, efd_reader_drop);

/* Runs the eventfd ping-pong of n rounds on a runtime built with the
 * features `off` forced off; returns the watcher's arm count. */
static unsigned pingpong(unsigned off, unsigned n)
{
	weft_rt *rt;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct efd_writer e = { .fd = efd, .n = n };
	struct efd_reader r = { .e = &e };
	weft_timeout t = { 0 };
	pthread_t th;
	unsigned arms;

	cr_assert_geq(efd, 0);
	weft__reactor_test_disable(off);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	r.w = watch(efd, POLLIN);
	cr_assert_eq(pthread_create(&th, NULL, efd_writer_main, &e), 0);
	weft_timeout_init(&t, WEFT_BRANCH(efd_reader, &r), 20 * WEFT_SEC);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_timeout, &t), 0);
	cr_assert_eq(t.res, (intptr_t)n, "res %ld", (long)t.res);
	cr_assert_eq(r.got, n);
	pthread_join(th, NULL);
	arms = weft__fd_watch_test_arms(r.w);
	weft_fd_watch_destroy(r.w);
	weft_rt_destroy(rt);
	close(efd);
	return arms;
}

Test(watch, many_waits_on_one_multishot_poll)
{
	unsigned arms = pingpong(0, 200);

	/* the kernel may end a multishot by itself (a full completion
	 * queue), but not 200 times here */
	cr_assert_lt(arms, 10, "%u polls armed for 200 waits", arms);
}

/* Every poll single-shot: each completion ends the poll, as the kernel
 * ending a multishot does (a CQE without F_MORE); the next wait must arm
 * it again or it never completes. */
Test(watch, rearmed_after_each_poll_ends)
{
	unsigned arms = pingpong(WEFT__FEAT_POLL_MULTI, 200);

	cr_assert_geq(arms, 2, "%u polls armed", arms);
}

/* A task waiting readable and writable on one socket at once (two waits
 * in one select-like future): writable completes at once, readable when
 * the peer writes. */
struct both {
	WEFT_ASYNC;
	weft_fd_watch *w;
	int peer;
	weft_fd_watch_wait rd, wr;
};

static weft_poll both_poll(struct both *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_fd_watch_readable_init(&f->rd, f->w);
	weft_fd_watch_writable_init(&f->wr, f->w);
	cr_assert_eq(weft_fd_watch_wait_poll(&f->rd, cx), WEFT_PENDING);
	WEFT_AWAIT_ON(weft_fd_watch_wait, &f->wr);
	cr_assert_gt(f->wr.res, 0);
	cr_assert(f->wr.res & POLLOUT, "revents %#lx", (long)f->wr.res);
	cr_assert(!(f->wr.res & POLLIN));
	cr_assert_eq(weft_fd_watch_wait_poll(&f->rd, cx), WEFT_PENDING);
	cr_assert_eq(write(f->peer, "z", 1), 1);
	WEFT_AWAIT_ON(weft_fd_watch_wait, &f->rd);
	WEFT_RETURN(f->rd.res);
	WEFT_END();
}

static void both_drop(struct both *f)
{
	weft_fd_watch_wait_drop(&f->rd);
	weft_fd_watch_wait_drop(&f->wr);
}

WEFT_FUTURE(both, struct both, both_drop);

Test(watch, readable_and_writable_waits_at_once)
{
	weft_rt *rt = test_rt(2);
	struct both f = { 0 };
	weft_timeout t = { 0 };
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
		     0);
	f.w = watch(sv[0], POLLIN | POLLOUT);
	f.peer = sv[1];
	weft_timeout_init(&t, WEFT_BRANCH(both, &f), 10 * WEFT_SEC);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_timeout, &t), 0);
	cr_assert_gt(t.res, 0, "res %ld", (long)t.res);
	cr_assert(t.res & POLLIN);
	cr_assert(!(t.res & POLLOUT), "revents %#lx", (long)t.res);
	weft_fd_watch_destroy(f.w);
	close(sv[0]);
	close(sv[1]);
	weft_rt_destroy(rt);
}

Test(watch, destroy_with_a_wait_pending)
{
	int before = test_fd_count();
	weft_rt *rt = test_rt(2);
	weft_fd_watch *w;
	weft_fd_watch_wait wt = { 0 };
	int p[2];

	nb_pipe(p);
	w = watch(p[0], POLLIN);
	weft_fd_watch_readable_init(&wt, w);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_fd_watch_wait, &wt),
		     WEFT_PENDING);
	weft_fd_watch_destroy(w);
	/* the wait holds the watcher's memory until it completes */
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_fd_watch_wait, &wt), WEFT_READY);
	cr_assert_eq(wt.res, -ECANCELED);
	weft_fd_watch_wait_drop(&wt);       /* no-op after READY */
	/* a second pending wait, dropped after destroy instead */
	w = watch(p[0], POLLIN);
	weft_fd_watch_readable_init(&wt, w);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_fd_watch_wait, &wt),
		     WEFT_PENDING);
	weft_fd_watch_destroy(w);
	weft_fd_watch_wait_drop(&wt);
	/* the descriptor is still the caller's */
	cr_assert_eq(write(p[1], "q", 1), 1);
	close(p[0]);
	close(p[1]);
	weft_rt_destroy(rt);
	cr_assert_eq(test_fd_count(), before);
}

/* A task blocked in a wait: destroy from another thread wakes it. No
 * timeout inside (a timeout's wake-up would poll the wait, which then
 * sees the destroy by itself): the test's own time limit is the guard. */
struct blocked {
	WEFT_ASYNC;
	weft_fd_watch *w;
	weft_fd_watch_wait wt;
};

static weft_poll blocked_poll(struct blocked *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_fd_watch_wait, &f->wt, f->w, POLLIN);
	WEFT_RETURN(f->wt.res);
	WEFT_END();
}

static void blocked_drop(struct blocked *f)
{
	weft_fd_watch_wait_drop(&f->wt);
}

WEFT_FUTURE(blocked, struct blocked, blocked_drop);

Test(watch, destroy_wakes_a_blocked_task, .timeout = 30)
{
	weft_rt *rt = test_rt(2);
	weft_fd_watch *w;
	weft_join *j;
	int p[2];

	nb_pipe(p);
	w = watch(p[0], POLLIN);
	cr_assert_eq(WEFT_SPAWN(rt, blocked, &j, { .w = w }), 0);
	/* armed: the task's wait is pending (it registered before the arm) */
	for (int i = 0; i < 10000 && !weft__fd_watch_test_arms(w); i++)
		pause_ms(1);
	cr_assert_eq(weft__fd_watch_test_arms(w), 1);
	weft_fd_watch_destroy(w);
	cr_assert_eq(test_join(rt, j), -ECANCELED);
	close(p[0]);
	close(p[1]);
	weft_rt_destroy(rt);
}

Test(watch, runtime_shutdown_under_a_wait)
{
	weft_rt *rt = test_rt(1);
	weft_fd_watch *w;
	weft_fd_watch_wait wt = { 0 };
	int p[2];

	nb_pipe(p);
	w = watch(p[0], POLLIN);
	weft_fd_watch_readable_init(&wt, w);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_fd_watch_wait, &wt),
		     WEFT_PENDING);
	weft_rt_destroy(rt);
	/* the record outlives the runtime; dropping frees it (ASan) */
	weft_fd_watch_wait_drop(&wt);
	weft_fd_watch_destroy(w);
	close(p[0]);
	close(p[1]);
}

Test(watch, bad_arguments_and_a_closed_fd)
{
	weft_rt *rt = test_rt(1);
	weft_fd_watch *w = (weft_fd_watch *)1;
	int p[2];

	cr_assert_eq(weft_fd_watch_create(&w, -1, POLLIN), -EBADF);
	cr_assert_null(w);
	cr_assert_eq(weft_fd_watch_create(&w, 0, 0), -EINVAL);
	cr_assert_eq(weft_fd_watch_create(&w, 0, POLLIN | POLLERR), -EINVAL);
	weft_fd_watch_destroy(NULL);
	nb_pipe(p);
	w = watch(p[0], POLLIN);
	/* not among the watcher's events; both directions at once */
	cr_assert_eq(wait_on(rt, w, POLLOUT, 0), -EINVAL);
	cr_assert_eq(wait_on(rt, w, POLLIN | POLLOUT, 0), -EINVAL);
	weft_fd_watch_destroy(w);
	/* a descriptor that is not open: -EBADF, kept for later waits */
	close(p[1]);
	close(p[0]);
	w = watch(p[0], POLLIN);
	cr_assert_eq(wait_on(rt, w, POLLIN, 0), -EBADF);
	cr_assert_eq(wait_on(rt, w, POLLIN, 0), -EBADF);
	weft_fd_watch_destroy(w);
	weft_rt_destroy(rt);
}
