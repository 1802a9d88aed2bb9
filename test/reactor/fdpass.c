/* test/reactor/fdpass.c - descriptor passing over Unix streams
 * (SCM_RIGHTS): to a forked child that writes through the descriptor it
 * received, more descriptors than the receiver takes, a receive dropped
 * after its message arrived (no descriptor leaks), a send through the
 * ring when the socket is full, and bad arguments. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers.h"

static intptr_t send_fds(weft_rt *rt, weft_stream *s, const char *msg,
			 const int *fds, int nfds)
{
	weft_unix_send_fds f = { 0 };

	weft_unix_send_fds_init(&f, s, msg, strlen(msg), fds, nfds);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_unix_send_fds, &f), 0);
	return f.res;
}

/* The child: a runtime of its own, receives one fd and writes through
 * it. Exit status 0 when all went well. */
static int child_main(int sock)
{
	weft_rt *rt = NULL;
	weft_rt_builder b;
	weft_unix_recv_fds f = { 0 };
	weft_stream *s;
	char buf[16];
	int fd = -1;

	weft_rt_builder_init(&b);
	b.workers = 1;
	b.no_pin = true;
	b.io.entries = 64;
	if (weft_rt_create(&rt, &b))
		return 2;
	s = weft_stream_from_fd(sock);
	weft_unix_recv_fds_init(&f, s, buf, sizeof(buf), &fd, 1);
	if (WEFT_BLOCK_ON(rt, weft_unix_recv_fds, &f) || f.res != 4 ||
	    memcmp(buf, "pipe", 4) || f.nfds != 1 || f.truncated)
		return 3;
	if (write(fd, "from the child", 14) != 14)
		return 4;
	close(fd);
	weft_stream_drop(s);
	weft_rt_destroy(rt);
	return 0;
}

Test(fdpass, a_child_writes_through_a_received_fd)
{
	int sv[2], p[2], status = -1;
	char buf[32] = { 0 };
	weft_rt *rt;
	weft_stream *s;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		close(p[0]);
		close(p[1]);
		_exit(child_main(sv[1]));
	}
	close(sv[1]);
	rt = test_rt(1);
	s = weft_stream_from_fd(sv[0]);
	cr_assert_eq(send_fds(rt, s, "pipe", &p[1], 1), 4);
	close(p[1]); /* the child holds the only write end now */
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 14);
	cr_assert_str_eq(buf, "from the child");
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);
	close(p[0]);
	weft_stream_drop(s);
	weft_rt_destroy(rt);
}

/* The received descriptors refer to the same open files as the sent. */
static void assert_same_file(int a, int b)
{
	struct stat sa, sb;

	cr_assert_eq(fstat(a, &sa), 0);
	cr_assert_eq(fstat(b, &sb), 0);
	cr_assert(sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
}

Test(fdpass, more_fds_than_the_receiver_takes_are_closed)
{
	weft_rt *rt = test_rt(1);
	int sv[2], p[2], fds[3], got[4] = { -1, -1, -1, -1 }, before;
	weft_stream *a, *b;
	weft_unix_recv_fds r = { 0 };
	char buf[8];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a = weft_stream_from_fd(sv[0]);
	b = weft_stream_from_fd(sv[1]);
	cr_assert_eq(pipe(p), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[0];
	before = test_fd_count();
	cr_assert_eq(send_fds(rt, a, "three", fds, 3), 5);
	weft_unix_recv_fds_init(&r, b, buf, sizeof(buf), got, 1);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_unix_recv_fds, &r), 0);
	cr_assert_eq(r.res, 5);
	cr_assert_eq(r.nfds, 1);
	cr_assert(r.truncated);
	cr_assert_eq(got[1], -1);
	assert_same_file(got[0], p[0]);
	cr_assert(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	close(got[0]);
	cr_assert_eq(test_fd_count(), before, "the extra fds were closed");
	/* bytes with no descriptors */
	cr_assert_eq(send_fds(rt, a, "none", NULL, 0), 4);
	weft_unix_recv_fds_init(&r, b, buf, sizeof(buf), got, 4);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_unix_recv_fds, &r), 0);
	cr_assert_eq(r.res, 4);
	cr_assert_eq(r.nfds, 0);
	cr_assert(!r.truncated);
	close(p[0]);
	close(p[1]);
	weft_stream_drop(a);
	weft_stream_drop(b);
	weft_rt_destroy(rt);
}

Test(fdpass, a_receive_dropped_after_its_fds_arrived_closes_them)
{
	weft_rt *rt = test_rt(1);
	int sv[2], p[2], got[2], before, during = 0;
	weft_stream *b;
	weft_unix_recv_fds r = { 0 };
	char buf[8];
	struct iovec iov = { "x", 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	b = weft_stream_from_fd(sv[1]);
	cr_assert_eq(pipe(p), 0);
	before = test_fd_count();
	weft_unix_recv_fds_init(&r, b, buf, sizeof(buf), got, 2);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_unix_recv_fds, &r), WEFT_PENDING);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), p, 2 * sizeof(int));
	cr_assert_eq(sendmsg(sv[0], &m, 0), 1);
	/* the kernel installs both in our table when the receive runs */
	for (int i = 0; i < 1000 && during < before + 2; i++) {
		usleep(5000);
		during = test_fd_count();
	}
	cr_assert_eq(during, before + 2);
	weft_unix_recv_fds_drop(&r); /* never polled again */
	cr_assert_eq(test_fd_count(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	weft_stream_drop(b);
	weft_rt_destroy(rt);
}

Test(fdpass, a_send_waits_for_room_when_the_socket_is_full)
{
	weft_rt *rt = test_rt(1);
	int sv[2], p[2], got = -1;
	weft_stream *a;
	weft_unix_send_fds f = { 0 };
	static char fill[4096];
	char buf[4096];
	ssize_t n, filled = 0;
	struct iovec iov = { buf, sizeof(buf) };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a = weft_stream_from_fd(sv[0]);
	cr_assert_eq(pipe(p), 0);
	while ((n = send(sv[0], fill, sizeof(fill), MSG_DONTWAIT)) > 0)
		filled += n;
	cr_assert_gt(filled, 0);
	weft_unix_send_fds_init(&f, a, "late", 4, &p[1], 1);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_unix_send_fds, &f), WEFT_PENDING);
	cr_assert_not_null(f.op, "not handed to the ring");
	/* drain (p[1] stays open until READY: the kernel reads the number
	 * when it sends); the message with the fd comes last */
	while (filled > 0) {
		n = recv(sv[1], buf, (size_t)filled < sizeof(buf)
					     ? (size_t)filled : sizeof(buf), 0);
		cr_assert_gt(n, 0);
		filled -= n;
	}
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_unix_send_fds, &f), 0);
	cr_assert_eq(f.res, 4);
	close(p[1]);
	m.msg_control = ctl.b;
	m.msg_controllen = sizeof(ctl.b);
	n = recvmsg(sv[1], &m, 0);
	cr_assert_eq(n, 4);
	cr_assert_arr_eq(buf, "late", 4);
	cr_assert_not_null(CMSG_FIRSTHDR(&m), "no descriptor came");
	memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(got));
	assert_same_file(got, p[0]);
	close(got);
	close(p[0]);
	close(sv[1]);
	weft_stream_drop(a);
	weft_rt_destroy(rt);
}

Test(fdpass, bad_arguments)
{
	weft_rt *rt = test_rt(1);
	int sv[2], fds[WEFT_UNIX_FDS_MAX + 1] = { 0 };
	weft_stream *a;
	weft_listener *l;
	struct sockaddr_storage ss;
	socklen_t len;
	weft_tcp_connect c = { 0 };
	weft_unix_recv_fds r = { 0 };
	char buf[4];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	a = weft_stream_from_fd(sv[0]);
	cr_assert_eq(send_fds(rt, a, "", fds, 1), -EINVAL);
	cr_assert_eq(send_fds(rt, a, "x", fds, WEFT_UNIX_FDS_MAX + 1), -EINVAL);
	cr_assert_eq(send_fds(rt, a, "x", fds, -1), -EINVAL);
	l = test_listen(AF_INET, &ss, &len);
	weft_tcp_connect_init(&c, (struct sockaddr *)&ss, len, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &c), 0);
	cr_assert_eq(c.res, 0);
	cr_assert_eq(send_fds(rt, c.stream, "x", NULL, 0), -EINVAL, "TCP");
	weft_unix_recv_fds_init(&r, c.stream, buf, sizeof(buf), NULL, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_unix_recv_fds, &r), 0);
	cr_assert_eq(r.res, -EINVAL);
	weft_stream_drop(c.stream);
	weft_listener_drop(l);
	close(sv[1]);
	weft_stream_drop(a);
	weft_rt_destroy(rt);
}
