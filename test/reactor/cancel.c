/* test/reactor/cancel.c - dropping I/O futures in flight: aborting a task
 * blocked in recv, send or accept cancels the operation, frees its record
 * on the final completion (LSan), touches no freed memory (ASan), and the
 * descriptor is really closed afterwards (the peer sees EOF, the fd
 * number is reusable). Shutdown with operations in flight. */
#include <poll.h>
#include <stdatomic.h>

#include "helpers.h"

/* Waits (bounded) until the peer of fd sees EOF or a reset. */
static bool peer_sees_close(int fd)
{
	char c;

	for (int i = 0; i < 300; i++) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 10) == 1) {
			ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				return true;
		}
	}
	return false;
}

/* Reads everything the peer of fd sent (bounded, 3 s without progress)
 * and reports whether it then saw EOF or a reset. */
static bool peer_drains_to_eof(int fd)
{
	static char buf[65536];

	for (int idle = 0; idle < 300;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 10) != 1) {
			idle++;
			continue;
		}
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
		if (n > 0)
			idle = 0;
	}
	return false;
}

struct blocked_recv {
	WEFT_ASYNC;
	weft_stream *s;
	weft_stream_recv rx;
	char buf[512];
};

static weft_poll blocked_recv_poll(struct blocked_recv *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->s, f->buf, sizeof(f->buf));
	cr_assert_fail("recv completed: %ld", (long)f->rx.res);
	WEFT_END();
}

static void blocked_recv_drop(struct blocked_recv *f)
{
	weft_stream_recv_drop(&f->rx);
	weft_stream_drop(f->s);
}

WEFT_FUTURE(blocked_recv, struct blocked_recv, blocked_recv_drop);

static weft_stream *accepted_pair(weft_listener *l, struct sockaddr_storage *a,
				  socklen_t len, int *client)
{
	int fd;

	*client = socket(a->ss_family, SOCK_STREAM, 0);
	cr_assert_eq(connect(*client, (struct sockaddr *)a, len), 0);
	fd = accept(weft_listener_fd(l), NULL, NULL);
	cr_assert_geq(fd, 0);
	return weft_stream_from_fd(fd);
}

Test(cancel, abort_task_in_recv_closes_fd)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	int client, fdnum;
	weft_stream *s = accepted_pair(l, &a, len, &client);
	weft_join *j;

	fdnum = weft_stream_fd(s);
	cr_assert_eq(WEFT_SPAWN(rt, blocked_recv, &j, { .s = s }), 0);
	usleep(20000); /* let the recv reach the kernel */
	weft_join_abort(j);
	cr_assert_eq(test_join(rt, j), -ECANCELED);
	cr_assert(peer_sees_close(client), "fd not closed after abort");
	/* the number is free again */
	for (int i = 0; i < 100 && fcntl(fdnum, F_GETFD) >= 0; i++)
		usleep(1000);
	cr_assert_lt(fcntl(fdnum, F_GETFD), 0);
	close(client);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

struct blocked_send {
	WEFT_ASYNC;
	weft_stream *s;
	weft_stream_send tx;
	char *big;
};

static weft_poll blocked_send_poll(struct blocked_send *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_stream_send_all_init(&f->tx, f->s, f->big, 64 << 20);
	WEFT_AWAIT_ON(weft_stream_send, &f->tx);
	cr_assert_fail("send_all completed: %ld", (long)f->tx.res);
	WEFT_END();
}

static void blocked_send_drop(struct blocked_send *f)
{
	weft_stream_send_drop(&f->tx);
	weft_stream_drop(f->s);
	free(f->big); /* the record has its own copy: nothing reads this */
}

WEFT_FUTURE(blocked_send, struct blocked_send, blocked_send_drop);

Test(cancel, abort_task_in_send_frees_its_buffer)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET6, &a, &len);
	int client;
	weft_stream *s = accepted_pair(l, &a, len, &client);
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, blocked_send, &j,
				{ .s = s, .big = calloc(1, 64 << 20) }), 0);
	usleep(50000); /* the peer never reads: the send blocks in the ring */
	weft_join_abort(j);
	cr_assert_eq(test_join(rt, j), -ECANCELED);
	/* the aborted send's record is freed on its final completion and
	 * the fd closed with it: the peer reads what was sent, then EOF */
	cr_assert(peer_drains_to_eof(client), "fd not closed after abort");
	close(client);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

struct blocked_accept {
	WEFT_ASYNC;
	weft_listener *l;
	weft_listener_accept acc;
};

static weft_poll blocked_accept_poll(struct blocked_accept *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	cr_assert_fail("accept completed");
	WEFT_END();
}

static void blocked_accept_drop(struct blocked_accept *f)
{
	weft_listener_accept_drop(&f->acc);
}

WEFT_FUTURE(blocked_accept, struct blocked_accept, blocked_accept_drop);

Test(cancel, abort_task_in_accept_then_close_listener)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	weft_join *j;
	int c;

	cr_assert_eq(WEFT_SPAWN(rt, blocked_accept, &j, { .l = l }), 0);
	usleep(20000);
	weft_join_abort(j);
	cr_assert_eq(test_join(rt, j), -ECANCELED);
	weft_listener_drop(l);
	/* the listening socket is closed once its accept has ended */
	for (int i = 0; i < 200; i++) {
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0) {
			close(c);
			break;
		}
		close(c);
		usleep(5000);
		c = -2;
	}
	cr_assert_neq(c, -2, "the listener still accepts connections");
	weft_rt_destroy(rt);
}

Test(cancel, shutdown_with_io_in_flight)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	int clients[8];

	for (int i = 0; i < 8; i++) {
		weft_stream *s = accepted_pair(l, &a, len, &clients[i]);

		cr_assert_eq(WEFT_SPAWN(rt, blocked_recv, NULL, { .s = s }), 0);
	}
	cr_assert_eq(WEFT_SPAWN(rt, blocked_accept, NULL, { .l = l }), 0);
	usleep(20000);
	weft_rt_destroy(rt); /* cancels all, waits for the final CQEs */
	for (int i = 0; i < 8; i++) {
		cr_assert(peer_sees_close(clients[i]));
		close(clients[i]);
	}
	weft_listener_drop(l);
}
