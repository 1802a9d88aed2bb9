/* test/reactor/unix.c - Unix stream sockets: listen, connect, accept,
 * echo both ways, connect to a missing path. */
#include <stdio.h>

#include "helpers.h"

struct unix_pair {
	WEFT_ASYNC;
	weft_listener *l;
	const char *path;
	weft_listener_accept acc;
	weft_tcp_connect c;
	weft_stream_send tx;
	weft_stream_recv rx;
	char buf[32];
};

static weft_poll unix_pair_poll(struct unix_pair *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_unix_connect_init(&f->c, f->path, 0);
	WEFT_AWAIT_ON(weft_tcp_connect, &f->c);
	cr_assert_eq(f->c.res, 0, "connect: %ld", (long)f->c.res);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	cr_assert_eq(f->acc.res, 0);
	weft_stream_send_all_init(&f->tx, f->c.stream, "over unix", 9);
	WEFT_AWAIT_ON(weft_stream_send, &f->tx);
	cr_assert_eq(f->tx.res, 9);
	WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->acc.stream, f->buf,
			sizeof(f->buf));
	cr_assert_eq(f->rx.res, 9);
	cr_assert_arr_eq(f->buf, "over unix", 9);
	/* and back, then EOF after the accepted side is dropped */
	weft_stream_send_all_init(&f->tx, f->acc.stream, "back", 4);
	WEFT_AWAIT_ON(weft_stream_send, &f->tx);
	weft_stream_drop(f->acc.stream);
	WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->c.stream, f->buf,
			sizeof(f->buf));
	cr_assert_eq(f->rx.res, 4);
	WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->c.stream, f->buf,
			sizeof(f->buf));
	cr_assert_eq(f->rx.res, 0);
	weft_stream_drop(f->c.stream);
	WEFT_END();
}

WEFT_FUTURE(unix_pair, struct unix_pair, WEFT_NO_DROP);

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
	cr_assert_eq(WEFT_BLOCK_ON(rt, unix_pair, &f), 0);
	weft_listener_drop(f.l);
	unlink(path);
	weft_rt_destroy(rt);
}

Test(unix_stream, connect_to_missing_path)
{
	weft_rt *rt = test_rt(1);
	weft_tcp_connect c = { 0 };

	weft_unix_connect_init(&c, "/tmp/weft-no-such-socket", 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &c), 0);
	cr_assert_eq(c.res, -ENOENT);
	weft_rt_destroy(rt);
}
