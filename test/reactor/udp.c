/* test/reactor/udp.c - UDP over loopback (IPv4 and IPv6): send and recv
 * with the sender's address, connected sockets, a recv dropped in flight,
 * and the debug check on re-initialising a recv in flight. */
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
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_udp_send, &f->tx, f->a, "ping", 4,
			(struct sockaddr *)&f->to, f->tolen);
	cr_assert_eq(f->tx.res, 4);
	WEFT_AWAIT_INIT(weft_udp_recv, &f->rx, f->b, f->buf, sizeof(f->buf));
	cr_assert_eq(f->rx.res, 4);
	cr_assert_arr_eq(f->buf, "ping", 4);
	/* answer the sender at the address recv reported */
	WEFT_AWAIT_INIT(weft_udp_send, &f->tx, f->b, "pong!", 5,
			(struct sockaddr *)&f->rx.from, f->rx.fromlen);
	cr_assert_eq(f->tx.res, 5);
	WEFT_AWAIT_INIT(weft_udp_recv, &f->rx, f->a, f->buf, sizeof(f->buf));
	cr_assert_eq(f->rx.res, 5);
	cr_assert_arr_eq(f->buf, "pong!", 5);
	WEFT_END();
}

WEFT_FUTURE(udp_roundtrip, struct udp_roundtrip, WEFT_NO_DROP);

static void roundtrip(int family)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, family, 0);
	struct udp_roundtrip f = { 0 };

	cr_assert_eq(weft_udp_bind(&f.a, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_udp_bind(&f.b, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(weft_udp_local_addr(f.b, &f.to, &f.tolen), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, udp_roundtrip, &f), 0);
	weft_udp_drop(f.a);
	weft_udp_drop(f.b);
	weft_rt_destroy(rt);
}

Test(udp, send_recv_v4) { roundtrip(AF_INET); }
Test(udp, send_recv_v6) { roundtrip(AF_INET6); }

struct udp_connected {
	WEFT_ASYNC;
	weft_udp *a, *b;
	weft_udp_send tx;
	weft_udp_recv rx;
	char buf[8];
};

static weft_poll udp_connected_poll(struct udp_connected *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_udp_send, &f->tx, f->a, "hello", 5, NULL, 0);
	cr_assert_eq(f->tx.res, 5);
	/* a short buffer truncates the datagram */
	WEFT_AWAIT_INIT(weft_udp_recv, &f->rx, f->b, f->buf, 3);
	cr_assert_eq(f->rx.res, 3);
	cr_assert_arr_eq(f->buf, "hel", 3);
	WEFT_END();
}

WEFT_FUTURE(udp_connected, struct udp_connected, WEFT_NO_DROP);

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
	cr_assert_eq(WEFT_BLOCK_ON(rt, udp_connected, &f), 0);
	weft_udp_drop(f.a);
	weft_udp_drop(f.b);
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
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_udp_recv, &f->rx, f->u, f->buf, sizeof(f->buf));
	WEFT_END();
}

static void udp_waiter_drop(struct udp_waiter *f)
{
	weft_udp_recv_drop(&f->rx);
	weft_udp_drop(f->u);
}

WEFT_FUTURE(udp_waiter, struct udp_waiter, udp_waiter_drop);

Test(udp, recv_dropped_in_flight)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, AF_INET6, 0);
	weft_udp *u;
	weft_join *j;

	cr_assert_eq(weft_udp_bind(&u, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(WEFT_SPAWN(rt, udp_waiter, &j, { .u = u }), 0);
	usleep(10000);
	weft_join_abort(j);
	cr_assert_eq(test_join(rt, j), -ECANCELED);
	weft_rt_destroy(rt);
}

TEST_MISUSE(udp, init_of_a_recv_in_flight_aborts)
{
	weft_rt *rt = test_rt(1);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, AF_INET, 0);
	weft_udp_recv rx = { 0 };
	char buf[8];
	weft_udp *u;

	cr_assert_eq(weft_udp_bind(&u, (struct sockaddr *)&ss, len), 0);
	weft_udp_recv_init(&rx, u, buf, sizeof(buf));
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_udp_recv, &rx), WEFT_PENDING);
	weft_udp_recv_init(&rx, u, buf, sizeof(buf)); /* aborts */
	cr_assert_fail("weft_udp_recv_init in flight did not abort");
}
