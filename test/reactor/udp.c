/* test/reactor/udp.c - UDP over loopback (IPv4 and IPv6): send_to and
 * recv_from with the sender's address, connected sockets, and a recv
 * dropped in flight. */
#include "helpers.h"

struct udp_roundtrip {
	WEFT_ASYNC;
	weft_udp *a, *b;
	struct sockaddr_storage to;
	socklen_t tolen;
	weft_udp_send tx;
	weft_udp_recv rx;
	char buf[64];
};

static weft_poll udp_roundtrip_poll(struct udp_roundtrip *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_udp_send_to_init(&f->tx, f->a, "ping", 4, (struct sockaddr *)&f->to,
			      f->tolen);
	WEFT_AWAIT(f, weft_udp_send_poll(&f->tx, cx));
	cr_assert_eq(f->tx.res, 4);
	weft_udp_recv_from_init(&f->rx, f->b, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_udp_recv_poll(&f->rx, cx));
	cr_assert_eq(f->rx.res, 4);
	cr_assert_arr_eq(f->buf, "ping", 4);
	/* answer the sender at the address recv_from reported */
	weft_udp_send_to_init(&f->tx, f->b, "pong!", 5,
			      (struct sockaddr *)&f->rx.from, f->rx.fromlen);
	WEFT_AWAIT(f, weft_udp_send_poll(&f->tx, cx));
	cr_assert_eq(f->tx.res, 5);
	weft_udp_recv_from_init(&f->rx, f->a, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_udp_recv_poll(&f->rx, cx));
	cr_assert_eq(f->rx.res, 5);
	cr_assert_arr_eq(f->buf, "pong!", 5);
	WEFT_END(f);
}

static void roundtrip(int family)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, family, 0);
	struct udp_roundtrip f = { 0 };

	cr_assert_eq(weft_udp_bind(&f.a, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_udp_bind(&f.b, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_udp_local_addr(f.b, &f.to, &f.tolen), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, udp_roundtrip_poll, &f), 0);
	weft_udp_close(f.a);
	weft_udp_close(f.b);
	weft_rt_destroy(rt);
}

Test(udp, send_to_recv_from_v4) { roundtrip(AF_INET); }
Test(udp, send_to_recv_from_v6) { roundtrip(AF_INET6); }

struct udp_connected {
	WEFT_ASYNC;
	weft_udp *a, *b;
	weft_udp_send tx;
	weft_udp_recv rx;
	char buf[8];
};

static weft_poll udp_connected_poll(struct udp_connected *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_udp_send_to_init(&f->tx, f->a, "hello", 5, NULL, 0);
	WEFT_AWAIT(f, weft_udp_send_poll(&f->tx, cx));
	cr_assert_eq(f->tx.res, 5);
	/* a short buffer truncates the datagram */
	weft_udp_recv_from_init(&f->rx, f->b, f->buf, 3);
	WEFT_AWAIT(f, weft_udp_recv_poll(&f->rx, cx));
	cr_assert_eq(f->rx.res, 3);
	cr_assert_arr_eq(f->buf, "hel", 3);
	WEFT_END(f);
}

Test(udp, connected_send_and_truncation)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage ss, bs;
	socklen_t len = test_loopback(&ss, AF_INET, 0), blen;
	struct udp_connected f = { 0 };

	cr_assert_eq(weft_udp_bind(&f.a, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_udp_bind(&f.b, (struct sockaddr *)&ss, len), 0);
	weft_udp_local_addr(f.b, &bs, &blen);
	cr_assert_eq(weft_udp_connect(f.a, (struct sockaddr *)&bs, blen), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, udp_connected_poll, &f), 0);
	weft_udp_close(f.a);
	weft_udp_close(f.b);
	weft_rt_destroy(rt);
}

struct udp_waiter {
	WEFT_ASYNC;
	weft_udp *u;
	weft_udp_recv rx;
	char buf[16];
};

static weft_poll udp_waiter_poll(struct udp_waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_udp_recv_from_init(&f->rx, f->u, f->buf, sizeof(f->buf));
	WEFT_AWAIT(f, weft_udp_recv_poll(&f->rx, cx));
	WEFT_END(f);
}

static void udp_waiter_drop(struct udp_waiter *f)
{
	weft_udp_recv_drop(&f->rx);
	weft_udp_close(f->u);
}

Test(udp, recv_dropped_in_flight)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, AF_INET6, 0);
	weft_udp *u;
	weft_join *j;
	weft_join_fut jf;

	cr_assert_eq(weft_udp_bind(&u, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(WEFT_SPAWN(rt, &j, udp_waiter_poll, udp_waiter_drop,
				struct udp_waiter, { .u = u }), 0);
	usleep(10000);
	weft_join_abort(j);
	jf = (weft_join_fut){ j, 0, 0 };
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, weft_join_fut_poll, &jf), 0);
	cr_assert_eq(jf.err, -ECANCELED);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}
