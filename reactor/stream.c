/* reactor/stream.c - sending on connected stream sockets (weft/net.h):
 * the weft_stream_send future (send, send_all, writev).
 *
 * A send is tried first with a non-blocking send(2) (sendmsg(2) for more
 * than one buffer) from the polling thread (MSG_DONTWAIT | MSG_NOSIGNAL):
 * a socket with room takes the bytes
 * at once, with no trip through the reactor. Only when the socket is full
 * are the remaining bytes (at most 256 KiB) copied into a record and sent
 * by the ring, which waits for room; then the direct path is tried again.
 * So at most one chunk per future is ever buffered by weft. No atomics
 * here.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"
#include "runtime/note.h"

#define FD_OF(h) ((struct weft__fd *)(h))
#define SEND_CHUNK (256u * 1024)

/* ----------------------------------------------------------------- send */

static void send_setup(weft_stream_send *w, weft_stream *s,
		       const struct iovec *iov, int iovcnt, bool all,
		       const char *where)
{
	WEFT_DEBUG_CHECK(!w->op, where,
			 "the send is still in flight (its record would "
			 "leak); call weft_stream_send_drop first");
	(void)where;
	w->s = s;
	w->iov = iov;
	w->iovcnt = iovcnt;
	w->all = all;
	w->total = 0;
	w->done = 0;
	w->op = NULL;
	w->res = 0;
}

void weft_stream_send_init(weft_stream_send *w, weft_stream *s,
			   const void *buf, size_t len)
{
	send_setup(w, s, &w->one_iov, 1, false, "weft_stream_send_init");
	w->one_iov.iov_base = (void *)buf;
	w->one_iov.iov_len = len;
	w->total = len;
}

void weft_stream_send_all_init(weft_stream_send *w, weft_stream *s,
			       const void *buf, size_t len)
{
	send_setup(w, s, &w->one_iov, 1, true, "weft_stream_send_all_init");
	w->one_iov.iov_base = (void *)buf;
	w->one_iov.iov_len = len;
	w->total = len;
}

void weft_stream_writev_init(weft_stream_send *w, weft_stream *s,
			     const struct iovec *iov, int iovcnt, bool all)
{
	send_setup(w, s, iov, iovcnt, all, "weft_stream_writev_init");
	for (int i = 0; i < iovcnt; i++)
		w->total += iov[i].iov_len;
}

void weft_stream_send_drop(weft_stream_send *w)
{
	if (w->op) {
		weft__op_drop(w->op);
		w->op = NULL;
	}
}

/* The iovecs from byte `done` on, as at most IOV_MAX entries in out. */
static int iov_from(const weft_stream_send *w, struct iovec *out, int max)
{
	size_t skip = w->done;
	int n = 0;

	for (int i = 0; i < w->iovcnt && n < max; i++) {
		if (skip >= w->iov[i].iov_len) {
			skip -= w->iov[i].iov_len;
			continue;
		}
		out[n].iov_base = (char *)w->iov[i].iov_base + skip;
		out[n].iov_len = w->iov[i].iov_len - skip;
		skip = 0;
		n++;
	}
	return n;
}

/* Non-blocking send of what is left: bytes sent, 0 on EAGAIN, or -errno. */
static ssize_t send_direct(weft_stream_send *w)
{
	struct iovec v[64];
	size_t nv = (size_t)iov_from(w, v, 64);
	ssize_t n;

	do
		n = weft__sock_send_nb(FD_OF(w->s)->fd, v, nv);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n;
}

/* Copies up to SEND_CHUNK of what is left into a record and hands it to
 * the ring (which waits for room). */
static int send_by_ring(weft_stream_send *w, weft_cx *cx)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	size_t left = w->total - w->done, cap, off = 0;
	struct iovec v[64];
	struct weft__op *op;
	int n;

	if (!r)
		return -ENODEV;
	cap = left < SEND_CHUNK ? left : SEND_CHUNK;
	op = weft__op_alloc(r, WEFT__OP_IO, FD_OF(w->s), cap);
	if (!op)
		return -ENOMEM;
	n = iov_from(w, v, 64);
	for (int i = 0; i < n && off < cap; i++) {
		size_t k = v[i].iov_len < cap - off ? v[i].iov_len : cap - off;

		memcpy(op->buf + off, v[i].iov_base, k);
		off += k;
	}
	io_uring_prep_send(&op->sqe, FD_OF(w->s)->fd, op->buf, cap,
			   MSG_NOSIGNAL | MSG_WAITALL);
	op->waker = weft_waker_clone(&cx->waker);
	w->op = op;
	weft__op_submit(op);
	return 0;
}

static weft_poll send_finish(weft_stream_send *w, intptr_t res)
{
	w->res = res;
	return WEFT_READY;
}

weft_poll weft_stream_send_poll(weft_stream_send *w, weft_cx *cx)
{
	int32_t res;
	ssize_t n;

	if (!w->s)
		return send_finish(w, -EINVAL);
	if (w->op) {
		if (weft__op_poll(w->op, cx, &res) == WEFT_PENDING) {
			/* the dump's wait note (runtime/note.h) */
			weft__cx_note(cx, WEFT_WAIT_FD,
				      (uint64_t)FD_OF(w->s)->fd);
			return WEFT_PENDING;
		}
		weft__op_drop(w->op);
		w->op = NULL;
		if (res < 0)
			return send_finish(w, res);
		w->done += (size_t)res;
		if (!w->all || w->done == w->total)
			return send_finish(w, (intptr_t)w->done);
	}
	while (w->done < w->total) {
		n = send_direct(w);
		if (n < 0)
			return send_finish(w, n);
		if (n == 0)
			break;
		w->done += (size_t)n;
		if (!w->all)
			return send_finish(w, (intptr_t)w->done);
	}
	if (w->done == w->total)
		return send_finish(w, (intptr_t)w->done);
	n = send_by_ring(w, cx);
	if (n < 0)
		return send_finish(w, n);
	weft__cx_note(cx, WEFT_WAIT_FD, (uint64_t)FD_OF(w->s)->fd);
	return WEFT_PENDING;
}

WEFT_FUTURE_DEFINE(weft_stream_send, weft_stream_send_drop);
