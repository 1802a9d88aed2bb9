/* bench/tcp_bytes.h - a weft_bytes over a weft_stream (the same small
 * adapter as examples/chat.c), for the bufio workload until weft's own TCP
 * byte stream (toolkit-streams, with a zero-copy poll_fill from the
 * kernel's provided buffers) is merged: this one copies each receive into
 * a 64 KiB buffer (the raw readers' size) it then lends through poll_fill, and copies each write
 * into a 4 KiB buffer it sends from. */
#ifndef WEFT_BENCH_TCP_BYTES_H
#define WEFT_BENCH_TCP_BYTES_H

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <weft.h>

typedef struct tcp_bytes {
	weft_bytes base;
	weft_stream *s;
	weft_stream_recv rx;          /* read side: one task */
	bool rx_busy;
	size_t roff, rlen;
	char rbuf[65536];             /* as the raw readers receive */
	weft_stream_send tx;          /* write side: one task */
	bool tx_busy;
	intptr_t tx_err;
	char wbuf[4096];
} tcp_bytes;

static weft_poll tb_fill(weft_bytes *self, weft_cx *cx, const void **data,
			 intptr_t *res)
{
	tcp_bytes *t = (tcp_bytes *)self;

	if (t->roff == t->rlen) {
		if (!t->rx_busy) {
			weft_stream_recv_init(&t->rx, t->s, t->rbuf,
					      sizeof(t->rbuf));
			t->rx_busy = true;
		}
		if (weft_stream_recv_poll(&t->rx, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		t->rx_busy = false;
		if (t->rx.res <= 0) {
			*res = t->rx.res;
			return WEFT_READY;
		}
		t->roff = 0;
		t->rlen = (size_t)t->rx.res;
	}
	*data = t->rbuf + t->roff;
	*res = (intptr_t)(t->rlen - t->roff);
	return WEFT_READY;
}

static void tb_consume(weft_bytes *self, size_t n)
{
	((tcp_bytes *)self)->roff += n;
}

static weft_poll tb_read(weft_bytes *self, weft_cx *cx, void *buf,
			 size_t len, intptr_t *res)
{
	const void *d;

	if (tb_fill(self, cx, &d, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res > 0) {
		if ((size_t)*res > len)
			*res = (intptr_t)len;
		memcpy(buf, d, (size_t)*res);
		tb_consume(self, (size_t)*res);
	}
	return WEFT_READY;
}

/* Waits for the send in flight; its error is kept for the next call. */
static weft_poll tb_settle(tcp_bytes *t, weft_cx *cx)
{
	if (t->tx_busy) {
		if (weft_stream_send_poll(&t->tx, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		t->tx_busy = false;
		if (t->tx.res < 0)
			t->tx_err = t->tx.res;
	}
	return WEFT_READY;
}

static weft_poll tb_write(weft_bytes *self, weft_cx *cx,
			  const struct iovec *iov, int iovcnt, intptr_t *res)
{
	tcp_bytes *t = (tcp_bytes *)self;
	size_t n = 0;

	if (tb_settle(t, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	if (t->tx_err) {
		*res = t->tx_err;
		return WEFT_READY;
	}
	for (int i = 0; i < iovcnt && n < sizeof(t->wbuf); i++) {
		size_t k = iov[i].iov_len;

		if (k > sizeof(t->wbuf) - n)
			k = sizeof(t->wbuf) - n;
		memcpy(t->wbuf + n, iov[i].iov_base, k);
		n += k;
	}
	weft_stream_send_all_init(&t->tx, t->s, t->wbuf, n);
	t->tx_busy = true;
	(void)tb_settle(t, cx);           /* start it now */
	*res = (intptr_t)n;
	return WEFT_READY;
}

static weft_poll tb_flush(weft_bytes *self, weft_cx *cx, intptr_t *res)
{
	tcp_bytes *t = (tcp_bytes *)self;

	if (tb_settle(t, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = t->tx_err;
	return WEFT_READY;
}

static weft_poll tb_shutdown(weft_bytes *self, weft_cx *cx, intptr_t *res)
{
	if (tb_flush(self, cx, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res == 0)
		*res = weft_stream_shutdown(((tcp_bytes *)self)->s, SHUT_WR);
	return WEFT_READY;
}

static void tb_release(weft_bytes *self)
{
	tcp_bytes *t = (tcp_bytes *)self;

	if (t->rx_busy)
		weft_stream_recv_drop(&t->rx);
	if (t->tx_busy)
		weft_stream_send_drop(&t->tx);
	weft_stream_drop(t->s);
	free(t);
}

static const weft_bytes_vtable tb_vt = {
	.poll_read = tb_read, .poll_fill = tb_fill, .consume = tb_consume,
	.poll_write = tb_write, .poll_flush = tb_flush,
	.poll_shutdown = tb_shutdown, .release = tb_release, .name = "tcp",
};

static inline weft_bytes *tcp_bytes_create(weft_stream *s)
{
	tcp_bytes *t = calloc(1, sizeof(*t));

	if (!t) {
		weft_stream_drop(s);
		return NULL;
	}
	t->base.vt = &tb_vt;
	t->s = s;
	return &t->base;
}

#endif
