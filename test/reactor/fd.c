/* test/reactor/fd.c - readiness on any fd (weft/fd.h): a pipe and an
 * eventfd become readable after a write and are writable; an empty pipe
 * stays unready; a wait dropped in flight leaks nothing; an fd closed
 * under a wait (the kernel keeps watching the open file) and a closed fd;
 * weft_fd_read / weft_fd_write moving 1 MiB through a pipe, EOF, and
 * -EPIPE without SIGPIPE; re-initialising a wait in flight aborts. */
#include <poll.h>
#include <sys/eventfd.h>

#include "helpers.h"

static void nb_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

/* Waits for events on fd, with a hang guard: res or -ETIMEDOUT. */
struct wait_fd {
	WEFT_ASYNC;
	int fd;
	unsigned events;
	weft_duration limit;
	weft_fd_ready r;
	weft_timeout t;
};

static weft_poll wait_fd_poll(struct wait_fd *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_fd_ready_init(&f->r, f->fd, f->events);
	weft_timeout_init(&f->t, WEFT_BRANCH(weft_fd_ready, &f->r),
			  f->limit ? f->limit : 10000 * WEFT_MS);
	WEFT_AWAIT_ON(weft_timeout, &f->t);
	WEFT_RETURN(f->t.res);
	WEFT_END();
}

static void wait_fd_drop(struct wait_fd *f)
{
	weft_timeout_drop(&f->t);
}

WEFT_FUTURE(wait_fd, struct wait_fd, wait_fd_drop);

static intptr_t wait_on(weft_rt *rt, int fd, unsigned events,
			weft_duration limit)
{
	struct wait_fd f = { .fd = fd, .events = events, .limit = limit };

	cr_assert_eq(WEFT_BLOCK_ON(rt, wait_fd, &f), 0);
	return f.res;
}

Test(fd, pipe_readable_after_write_and_writable)
{
	weft_rt *rt = test_rt(2);
	int p[2];
	intptr_t res;

	nb_pipe(p);
	/* empty: not readable within the limit; always writable */
	cr_assert_eq(wait_on(rt, p[0], POLLIN, 50 * WEFT_MS), -ETIMEDOUT);
	res = wait_on(rt, p[1], POLLOUT, 0);
	cr_assert_gt(res, 0);
	cr_assert(res & POLLOUT);
	cr_assert_eq(write(p[1], "x", 1), 1);
	res = wait_on(rt, p[0], POLLIN, 0);
	cr_assert_gt(res, 0, "readable: %ld", (long)res);
	cr_assert(res & POLLIN);
	close(p[0]);
	close(p[1]);
	weft_rt_destroy(rt);
}

/* Waits for the eventfd to be readable, then reads its counter. */
struct efd_reader {
	WEFT_ASYNC;
	int fd;
	uint64_t value;
	weft_fd_ready r;
};

static weft_poll efd_reader_poll(struct efd_reader *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_fd_ready, &f->r, f->fd, POLLIN);
	cr_assert_gt(f->r.res, 0);
	cr_assert(f->r.res & POLLIN);
	cr_assert_eq(eventfd_read(f->fd, &f->value), 0);
	WEFT_RETURN(0);
	WEFT_END();
}

static void efd_reader_drop(struct efd_reader *f)
{
	weft_fd_ready_drop(&f->r);
}

WEFT_FUTURE(efd_reader, struct efd_reader, efd_reader_drop);

Test(fd, eventfd_readable_after_a_write_from_another_thread)
{
	weft_rt *rt = test_rt(2);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct efd_reader f = { .fd = efd };
	weft_join *j;
	uint64_t v;

	cr_assert_geq(efd, 0);
	cr_assert(wait_on(rt, efd, POLLOUT, 0) & POLLOUT);
	cr_assert_eq(wait_on(rt, efd, POLLIN, 50 * WEFT_MS), -ETIMEDOUT);
	cr_assert_eq(WEFT_SPAWN(rt, efd_reader, &j, { .fd = efd }), 0);
	cr_assert_eq(eventfd_write(efd, 42), 0);
	cr_assert_eq(test_join(rt, j), 0);
	/* the task read the counter: nothing left */
	cr_assert_eq(eventfd_read(efd, &v), -1);
	cr_assert_eq(errno, EAGAIN);
	(void)f;
	close(efd);
	weft_rt_destroy(rt);
}

Test(fd, wait_dropped_in_flight_leaks_nothing)
{
	int before = test_fd_count();
	weft_rt *rt = test_rt(2);
	weft_fd_ready r = { 0 };
	int p[2];

	nb_pipe(p);
	weft_fd_readable_init(&r, p[0]);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_fd_ready, &r), WEFT_PENDING);
	weft_fd_ready_drop(&r);
	weft_fd_ready_drop(&r); /* a second drop is harmless */
	/* the fd is still the caller's and still works */
	cr_assert_eq(write(p[1], "y", 1), 1);
	cr_assert(wait_on(rt, p[0], POLLIN, 0) & POLLIN);
	close(p[0]);
	close(p[1]);
	weft_rt_destroy(rt);
	cr_assert_eq(test_fd_count(), before);
}

/* Closing the fd number under an armed wait: the kernel's poll holds the
 * open file, so the wait neither fails nor completes; it completes when
 * the file becomes ready (here: the write end is closed, POLLHUP). The
 * wait is armed for sure once a wait submitted after it has completed
 * (the reactor submits in order; a poll takes the file at submission). */
struct closed_under {
	WEFT_ASYNC;
	int rfd, wfd;
	weft_fd_ready r, w;
	weft_sleep s;
};

static weft_poll closed_under_poll(struct closed_under *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_fd_readable_init(&f->r, f->rfd);
	cr_assert_eq(weft_fd_ready_poll(&f->r, cx), WEFT_PENDING);
	WEFT_AWAIT_INIT(weft_fd_ready, &f->w, f->wfd, POLLOUT);
	cr_assert(f->w.res & POLLOUT);
	close(f->rfd);
	/* give a wrongly-completing wait time to show up */
	WEFT_AWAIT_INIT(weft_sleep, &f->s, 30 * WEFT_MS);
	cr_assert_eq(weft_fd_ready_poll(&f->r, cx), WEFT_PENDING,
		     "closing the fd completed the wait: %ld", (long)f->r.res);
	close(f->wfd);
	WEFT_AWAIT_ON(weft_fd_ready, &f->r);
	WEFT_RETURN(f->r.res);
	WEFT_END();
}

static void closed_under_drop(struct closed_under *f)
{
	weft_fd_ready_drop(&f->r);
	weft_fd_ready_drop(&f->w);
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(closed_under, struct closed_under, closed_under_drop);

Test(fd, fd_closed_under_a_wait_keeps_watching_the_file)
{
	weft_rt *rt = test_rt(2);
	struct closed_under f = { 0 };
	int p[2];

	nb_pipe(p);
	f.rfd = p[0];
	f.wfd = p[1];
	cr_assert_eq(WEFT_BLOCK_ON(rt, closed_under, &f), 0);
	cr_assert_gt(f.res, 0, "res %ld", (long)f.res);
	cr_assert(f.res & POLLHUP, "revents %#lx", (long)f.res);
	weft_rt_destroy(rt);
}

Test(fd, closed_fd_and_bad_arguments_fail)
{
	weft_rt *rt = test_rt(1);
	int p[2];

	nb_pipe(p);
	close(p[0]);
	close(p[1]);
	cr_assert_eq(wait_on(rt, p[0], POLLIN, 0), -EBADF);
	cr_assert_eq(wait_on(rt, -1, POLLIN, 0), -EBADF);
	nb_pipe(p);
	cr_assert_eq(wait_on(rt, p[0], 0, 0), -EINVAL);
	close(p[0]);
	close(p[1]);
	weft_rt_destroy(rt);
}

/* ---------------------------------------------------- read and write */

#define MOVE (1024 * 1024 + 17)

struct writer {
	WEFT_ASYNC;
	int fd;
	const unsigned char *data;
	weft_fd_write w;
};

static weft_poll writer_poll(struct writer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_fd_write, &f->w, f->fd, f->data, MOVE);
	close(f->fd);
	WEFT_RETURN(f->w.res);
	WEFT_END();
}

static void writer_drop(struct writer *f)
{
	weft_fd_write_drop(&f->w);
}

WEFT_FUTURE(writer, struct writer, writer_drop);

struct reader {
	WEFT_ASYNC;
	int fd;
	unsigned char *back;
	size_t got;
	weft_fd_read r;
};

static weft_poll reader_poll(struct reader *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_fd_read, &f->r, f->fd, f->back + f->got,
				MOVE + 64 - f->got);
		cr_assert_geq(f->r.res, 0, "read: %ld", (long)f->r.res);
		if (f->r.res == 0)
			break;
		f->got += (size_t)f->r.res;
	}
	WEFT_RETURN(f->got);
	WEFT_END();
}

static void reader_drop(struct reader *f)
{
	weft_fd_read_drop(&f->r);
}

WEFT_FUTURE(reader, struct reader, reader_drop);

Test(fd, read_and_write_move_a_mebibyte_through_a_pipe)
{
	weft_rt *rt = test_rt(2);
	unsigned char *data = malloc(MOVE), *back = calloc(1, MOVE + 64);
	weft_join *jw, *jr;
	int p[2];

	for (size_t i = 0; i < MOVE; i++)
		data[i] = (unsigned char)(i * 13 + 5);
	nb_pipe(p);
	cr_assert_eq(WEFT_SPAWN(rt, reader, &jr, { .fd = p[0], .back = back }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, writer, &jw, { .fd = p[1], .data = data }),
		     0);
	cr_assert_eq(test_join(rt, jw), MOVE);
	cr_assert_eq(test_join(rt, jr), MOVE);
	cr_assert_arr_eq(back, data, MOVE);
	close(p[0]);
	free(data);
	free(back);
	weft_rt_destroy(rt);
}

Test(fd, write_to_a_closed_pipe_is_epipe_not_sigpipe)
{
	weft_rt *rt = test_rt(1);
	struct writer f = { 0 };
	unsigned char data[16] = { 0 };
	sigset_t pend;
	int p[2];

	/* default SIGPIPE disposition: a raised one would kill the test */
	signal(SIGPIPE, SIG_DFL);
	nb_pipe(p);
	close(p[0]);
	f.fd = p[1];
	f.data = data;
	weft_fd_write_init(&f.w, p[1], data, sizeof(data));
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_fd_write, &f.w), 0);
	cr_assert_eq(f.w.res, -EPIPE);
	sigpending(&pend);
	cr_assert_not(sigismember(&pend, SIGPIPE), "SIGPIPE left pending");
	close(p[1]);
	weft_rt_destroy(rt);
}

TEST_MISUSE(fd, init_of_a_wait_in_flight_aborts)
{
	weft_rt *rt = test_rt(1);
	weft_fd_ready r = { 0 };
	int p[2];

	nb_pipe(p);
	weft_fd_readable_init(&r, p[0]);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_fd_ready, &r), WEFT_PENDING);
	weft_fd_readable_init(&r, p[0]); /* aborts */
	cr_assert_fail("weft_fd_readable_init in flight did not abort");
}
