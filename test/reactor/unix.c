/* test/reactor/unix.c - Unix stream sockets: listen, connect, accept,
 * echo both ways, connect to a missing path. */
#include <stdio.h>

#include "helpers.h"

struct unix_pair {
	WEFT_ASYNC;
	weft_listener *l;
	const char *path;
	weft_accept acc;
	weft_connect c;
	weft_send tx;
	weft_recv rx;
	char buf[32];
};

static weft_poll unix_pair_poll(struct unix_pair *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_unix_connect_init(&f->c, f->path, 0);
	WEFT_AWAIT(f, weft_connect_poll(&f->c, cx));
	cr_assert_eq(f->c.err, 0, "connect: %d", f->c.err);
	weft_accept_init(&f->acc, f->l);
	WEFT_AWAIT(f, weft_accept_poll(&f->acc, cx));
	cr_assert_eq(f->acc.err, 0);
	weft_send_all_init(&f->tx, f->c.stream, "over unix", 9);
	WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
	cr_assert_eq(f->tx.res, 9);
	weft_recv_init(&f->rx, f->acc.stream, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
	cr_assert_eq(f->rx.res, 9);
	cr_assert_arr_eq(f->buf, "over unix", 9);
	/* and back, then EOF after close */
	weft_send_all_init(&f->tx, f->acc.stream, "back", 4);
	WEFT_AWAIT(f, weft_send_poll(&f->tx, cx));
	weft_stream_close(f->acc.stream);
	weft_recv_init(&f->rx, f->c.stream, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
	cr_assert_eq(f->rx.res, 4);
	weft_recv_init(&f->rx, f->c.stream, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_recv_poll(&f->rx, cx));
	cr_assert_eq(f->rx.res, 0);
	weft_stream_close(f->c.stream);
	WEFT_END(f);
}

Test(unix_stream, connect_accept_echo_eof)
{
	weft_rt *rt = test_rt(2);
	char path[64];
	struct unix_pair f = { 0 };
	struct sockaddr_storage ss;
	socklen_t len;

	snprintf(path, sizeof(path), "/tmp/weft-test-%d.sock", getpid());
	unlink(path);
	cr_assert_eq(weft_unix_listen(&f.l, path, NULL), 0);
	cr_assert_eq(weft_listener_local_addr(f.l, &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_UNIX);
	f.path = path;
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, unix_pair_poll, &f), 0);
	weft_listener_close(f.l);
	unlink(path);
	weft_rt_destroy(rt);
}

struct unix_missing {
	WEFT_ASYNC;
	weft_connect c;
};

static weft_poll unix_missing_poll(struct unix_missing *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_unix_connect_init(&f->c, "/tmp/weft-no-such-socket", 0);
	WEFT_AWAIT(f, weft_connect_poll(&f->c, cx));
	WEFT_END(f);
}

Test(unix_stream, connect_to_missing_path)
{
	weft_rt *rt = test_rt(1);
	struct unix_missing f = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, unix_missing_poll, &f), 0);
	cr_assert_eq(f.c.err, -ENOENT);
	weft_rt_destroy(rt);
}
