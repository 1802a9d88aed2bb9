/* test/reactor/resetprobe.c - the reset probe of stream receives
 * (reactor/recvq.c): after the first bytes of a multishot arm, the ring's
 * thread asks the socket (poll, zero timeout) whether it is already reset
 * or hung up, and if so cancels the arm so that the next receive re-arms
 * and reports it. The kernel race it guards against (a multishot armed
 * while the peer's bytes and its reset arrive, left waiting for ever) is
 * too narrow to make happen on purpose, so the test makes the probe's
 * condition certain instead: the CQE hook resets the peer (SO_LINGER 0)
 * while the arm's first bytes are being dispatched, and waits until the
 * socket shows it. Then the stream must end with the bytes and then
 * -ECONNRESET, the probe must have counted a dead socket, and the
 * descriptor must close. On the reactor's ring (current-thread flavour)
 * and on the worker rings (multi-thread). Waits are bounded hang
 * guards. */
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "helpers.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

/* The hook's state: set by the test before the receive, read by the
 * hook on the ring's thread (atomics: the hook may run on any worker). */
static _Atomic int hook_peer = -1;  /* the client socket to reset */
static _Atomic int hook_server = -1; /* the stream's descriptor */
static _Atomic int hook_resets;

static void reset_on_first_bytes(const struct weft__op *op,
				 struct io_uring_cqe *cqe)
{
	struct linger lg = { 1, 0 };
	struct pollfd p;
	int peer;

	if (op->kind != WEFT__OP_RECVQ || cqe->res <= 0 ||
	    !(cqe->flags & IORING_CQE_F_MORE) ||
	    op->fd->fd != atomic_load(&hook_server))
		return;
	peer = atomic_exchange(&hook_peer, -1);
	if (peer < 0)
		return;
	cr_assert_eq(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
		     0);
	close(peer);
	atomic_fetch_add(&hook_resets, 1);
	/* loopback delivers the reset at once; wait (bounded) until the
	 * socket shows it, so the probe's poll will */
	p = (struct pollfd){ .fd = op->fd->fd, .events = POLLIN };
	for (int i = 0; i < 10000; i++) {
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)))
			return;
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	cr_assert_fail("the reset never reached the server socket");
}

/* Receives until an error or the end: the last receive's result, or
 * -EBADMSG unless the bytes before it were the five sent. */
struct drain {
	WEFT_ASYNC;
	weft_stream *s;
	weft_stream_recv rx;
	char buf[64];
	size_t got;
};

static weft_poll drain_poll(struct drain *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->s, f->buf,
				sizeof(f->buf));
		if (f->rx.res <= 0)
			break;
		f->got += (size_t)f->rx.res;
	}
	WEFT_RETURN(f->got == 5 ? f->rx.res : -EBADMSG);
	WEFT_END();
}

WEFT_FUTURE(drain, struct drain, WEFT_NO_DROP);

static void tcp_pair(int *server, int *client)
{
	struct sockaddr_storage ss;
	socklen_t n = test_loopback(&ss, AF_INET, 0);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&ss, n), 0);
	cr_assert_eq(listen(l, 4), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&ss, &n), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(*client, 0);
	cr_assert_eq(connect(*client, (struct sockaddr *)&ss, n), 0);
	*server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(*server, 0);
	close(l);
}

static void reset_after_first_bytes(unsigned workers)
{
	weft_rt *rt;
	weft_stream *s;
	weft_join *j = NULL;
	int server, client, before;
	intptr_t res;

	before = test_fd_count();
	weft__reactor_test_cqe = reset_on_first_bytes;
	rt = test_rt(workers);
	tcp_pair(&server, &client);
	s = weft_stream_from_fd(server);
	cr_assert_not_null(s);
	atomic_store(&hook_server, server);
	atomic_store(&hook_peer, client);
	atomic_store(&hook_resets, 0);
	cr_assert_eq(write(client, "hello", 5), 5);
	cr_assert_eq(WEFT_SPAWN(rt, drain, &j, { .s = s }), 0);
	res = test_join(rt, j);
	cr_assert_eq(atomic_load(&hook_resets), 1,
		     "the hook saw the arm's first bytes");
	cr_assert_eq(res, -ECONNRESET, "the stream ended with %ld", (long)res);
	cr_assert_geq(weft__reactor_test_probe_dead(rt), 1,
		      "the probe found the reset socket and stopped the arm");
	weft_stream_drop(s);
	weft_rt_destroy(rt);
	weft__reactor_test_cqe = NULL;
	cr_assert_eq(test_fd_count(), before, "the descriptors are closed");
}

Test(resetprobe, a_reset_after_the_first_bytes_on_the_reactor_ring,
     .timeout = 60)
{
	reset_after_first_bytes(0);
}

Test(resetprobe, a_reset_after_the_first_bytes_on_a_worker_ring,
     .timeout = 60)
{
	reset_after_first_bytes(2);
}
