/* reactor/stream.c - receive and send on connected stream sockets
 * (weft/net.h), the provided buffer pool of multishot receives, and each
 * stream's receive queue (kind RECVQ).
 *
 * recv: the first receive arms the stream's multishot recv into the pool
 * (its chunks queue on the stream's RECVQ record, the multishot stopped at
 * WEFT__RECVQ_HIGH unread chunks and re-armed when they are taken); a
 * receive future copies from the queue. Without multishot, or when the
 * pool ran dry, it is one IORING_OP_RECV into the record's own buffer (at
 * most 64 KiB), copied out when the future completes; dropping the future
 * cancels the operation and the buffer lives until its final CQE.
 *
 * send: tried first with a non-blocking sendmsg(2) from the polling thread
 * (MSG_DONTWAIT | MSG_NOSIGNAL): a socket with room takes the bytes at once,
 * with no trip through the reactor. Only when the socket is full are the
 * remaining bytes (at most 256 KiB) copied into a record and sent by the
 * ring, which waits for room; then the direct path is tried again. So at
 * most one chunk per future is ever buffered by weft. No atomics here.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define FD_OF(h) ((struct weft__fd *)(h))
#define RECV_MAX (64u * 1024)
#define SEND_CHUNK (256u * 1024)
#define RECVQ_FALLBACK 2  /* recvq_poll: receive single-shot instead */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_pause() __builtin_ia32_pause()
#else
#define cpu_pause() ((void)0)
#endif

/* ---------------------------------------------------------- buffer pool */

int weft__pool_init(struct weft__reactor *r)
{
	struct weft__bufpool *p = &r->pool;
	struct io_uring_buf_reg reg;
	size_t ring_bytes = WEFT__POOL_BUFS * sizeof(struct io_uring_buf);
	int ret;

	p->count = WEFT__POOL_BUFS;
	p->size = WEFT__POOL_BUF_SIZE;
	p->mask = (uint32_t)io_uring_buf_ring_mask(p->count);
	atomic_flag_clear_explicit(&p->lock, memory_order_relaxed);
	/* the ring must be page-aligned: mmap gives that */
	p->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->br == MAP_FAILED) {
		p->br = NULL;
		return -errno;
	}
	p->mem = mmap(NULL, (size_t)p->count * p->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		ret = -errno;
		goto out_ring;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)p->br;
	reg.ring_entries = p->count;
	reg.bgid = WEFT__POOL_BGID;
	ret = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (ret)
		goto out_mem;
	io_uring_buf_ring_init(p->br);
	for (uint32_t i = 0; i < p->count; i++)
		io_uring_buf_ring_add(p->br, p->mem + (size_t)i * p->size,
				      p->size, (unsigned short)i, (int)p->mask,
				      (int)i);
	io_uring_buf_ring_advance(p->br, (int)p->count);
	return 0;
out_mem:
	munmap(p->mem, (size_t)p->count * p->size);
	p->mem = NULL;
out_ring:
	munmap(p->br, ring_bytes);
	p->br = NULL;
	return ret;
}

/* After the ring is gone (the kernel no longer reads the pool). */
void weft__pool_free(struct weft__reactor *r)
{
	struct weft__bufpool *p = &r->pool;

	if (!p->br)
		return;
	munmap(p->mem, (size_t)p->count * p->size);
	munmap(p->br, p->count * sizeof(struct io_uring_buf));
	p->br = NULL;
}

void weft__pool_put(struct weft__reactor *r, const uint16_t *bids,
		    unsigned n)
{
	struct weft__bufpool *p = &r->pool;

	if (!n)
		return;
	/* acquire/release: one producer at a time on the ring's tail; the
	 * advance itself is a release store the kernel reads with acquire */
	while (atomic_flag_test_and_set_explicit(&p->lock,
						 memory_order_acquire))
		cpu_pause();
	for (unsigned i = 0; i < n; i++)
		io_uring_buf_ring_add(p->br, p->mem + (size_t)bids[i] * p->size,
				      p->size, bids[i], (int)p->mask, (int)i);
	io_uring_buf_ring_advance(p->br, (int)n);
	/* relaxed: a statistic, read by tests once everything is quiet */
	atomic_fetch_add_explicit(&p->returned, n, memory_order_relaxed);
	atomic_flag_clear_explicit(&p->lock, memory_order_release);
}

unsigned long weft__pool_test_outstanding(weft_rt *rt)
{
	struct weft__reactor *r = weft__rt_driver(rt);

	if (!r || !r->pool.br)
		return 0;
	/* relaxed: statistics (see weft__pool_put) */
	return atomic_load_explicit(&r->pool.filled, memory_order_relaxed) -
	       atomic_load_explicit(&r->pool.returned, memory_order_relaxed);
}

unsigned weft__stream_test_queued(weft_stream *s)
{
	/* acquire: pairs with the CAS that installed the record */
	struct weft__op *op = atomic_load_explicit(&FD_OF(s)->rx,
						   memory_order_acquire);
	unsigned n;

	if (!op)
		return 0;
	weft__op_lock(op);
	n = op->u.rq.len;
	weft__op_unlock(op);
	return n;
}

/* ------------------------------------------------- multishot recv (RECVQ) */

/* Room for one more chunk (lock held; grows rarely: only past the queue's
 * high mark, by completions already in flight when it was reached). */
static bool recvq_room(struct weft__op *op)
{
	return op->u.rq.len < op->u.rq.cap ||
	       weft__ring_grow((void **)&op->u.rq.q, &op->u.rq.head,
			       &op->u.rq.cap, op->u.rq.len, sizeof(*op->u.rq.q),
			       2 * WEFT__RECVQ_HIGH);
}

void weft__recvq_result_locked(struct weft__reactor *r, struct weft__op *op,
			       const struct io_uring_cqe *cqe, bool more,
			       bool *cancel, int *ret)
{
	int32_t res = cqe->res;

	*ret = -1;
	if (res > 0) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		if (!(cqe->flags & IORING_CQE_F_BUFFER))
			return; /* cannot happen with BUFFER_SELECT */
		/* relaxed: a statistic written by this thread only */
		atomic_store_explicit(
			&r->pool.filled,
			atomic_load_explicit(&r->pool.filled,
					     memory_order_relaxed) + 1,
			memory_order_relaxed);
		if (op->flags & WEFT__OPF_GONE) {
			*ret = bid;
		} else if (!recvq_room(op)) {
			/* out of memory for the queue itself: the bytes are
			 * lost, so the stream reports it and stops */
			*ret = bid;
			op->u.rq.err = -ENOMEM;
		} else {
			op->u.rq.q[(op->u.rq.head + op->u.rq.len) %
				   op->u.rq.cap] =
				(struct weft__rxbuf){ bid, (uint32_t)res };
			op->u.rq.len++;
		}
		if (more && op->u.rq.len >= WEFT__RECVQ_HIGH &&
		    !(op->flags & WEFT__OPF_CANCELING)) {
			op->flags |= WEFT__OPF_CANCELING;
			*cancel = true;
		}
		return;
	}
	if (res == 0) {
		op->u.rq.eof = true;
		return;
	}
	if (res == -ECANCELED)
		return; /* our own stop (backpressure, close): re-armed on
			 * demand */
	if (res == -EINVAL && !op->u.rq.len) {
		/* a kernel without multishot recv: off for good; the owner
		 * falls back to single-shot receives */
		atomic_store_explicit(&r->recv_multi, false,
				      memory_order_relaxed);
		res = -ENOBUFS;
	}
	if (!op->u.rq.err)
		op->u.rq.err = res;
}

static struct weft__op *recvq_record(struct weft__fd *f,
				     struct weft__reactor *re)
{
	/* acquire: pairs with the release CAS below (the template) */
	struct weft__op *op = atomic_load_explicit(&f->rx,
						   memory_order_acquire);
	struct weft__op *none = NULL;

	if (op)
		return op;
	op = weft__op_alloc(re, WEFT__OP_RECVQ, f, 0);
	if (!op)
		return NULL;
	io_uring_prep_recv(&op->sqe, f->fd, NULL, 0, 0);
	op->sqe.ioprio |= IORING_RECV_MULTISHOT;
	op->sqe.flags |= IOSQE_BUFFER_SELECT;
	op->sqe.buf_group = WEFT__POOL_BGID;
	/* release: publishes the record to another receiver racing us (one
	 * receiver at a time is the rule; this only keeps a breach safe) */
	if (!atomic_compare_exchange_strong_explicit(&f->rx, &none, op,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		weft__op_free(op);
		return none;
	}
	return op;
}

/* Buffers one receive may empty (and give back) in one call: a queue can
 * outgrow the high mark (see reactor.h), the rest waits for the next. */
#define TAKE_MAX 32u

/* Copies queued chunks into r->buf (lock held); the buffers emptied (at
 * most TAKE_MAX) are stored in bids for the caller to give back after
 * unlocking. */
static size_t recvq_take_locked(weft_stream_recv *r, struct weft__reactor *re,
				struct weft__op *op, uint16_t *bids,
				unsigned *nbids)
{
	size_t got = 0;

	while (op->u.rq.len && got < r->len && *nbids < TAKE_MAX) {
		struct weft__rxbuf *c = &op->u.rq.q[op->u.rq.head];
		size_t k = c->len - op->u.rq.off;

		if (k > r->len - got)
			k = r->len - got;
		memcpy((char *)r->buf + got,
		       re->pool.mem + (size_t)c->bid * re->pool.size +
			       op->u.rq.off,
		       k);
		got += k;
		op->u.rq.off += (uint32_t)k;
		if (op->u.rq.off == c->len) {
			bids[(*nbids)++] = c->bid;
			op->u.rq.off = 0;
			op->u.rq.head = (op->u.rq.head + 1) % op->u.rq.cap;
			op->u.rq.len--;
		}
	}
	return got;
}

/* READY with r->res set, PENDING (waker queued), or RECVQ_FALLBACK when
 * the pool ran dry or multishot is refused: the caller receives
 * single-shot this time. */
static int recvq_poll(weft_stream_recv *r, struct weft__reactor *re, weft_cx *cx)
{
	struct weft__fd *f = FD_OF(r->s);
	struct weft__op *op;
	uint16_t bids[TAKE_MAX];
	unsigned nbids = 0;
	bool push = false, ready = true, fallback = false, unref = false;

	if (r->waiting && !atomic_load_explicit(&f->rx, memory_order_relaxed)) {
		/* the handle was closed under a waiting receive */
		r->waiting = false;
		weft__fd_put(f);
		r->res = -EBADF;
		return WEFT_READY;
	}
	op = recvq_record(f, re);
	if (!op) {
		r->res = -ENOMEM;
		return WEFT_READY;
	}
	weft__op_lock(op);
	if ((op->u.rq.len || op->u.rq.err || op->u.rq.eof) && cx->budget == 0) {
		/* out of coop budget: yield before taking anything */
		weft__op_unlock(op);
		weft_cx_yield(cx);
		return WEFT_PENDING;
	}
	if (op->u.rq.len) {
		r->res = (intptr_t)recvq_take_locked(r, re, op, bids, &nbids);
	} else if (op->u.rq.err == -ENOBUFS) {
		op->u.rq.err = 0;
		fallback = true;
	} else if (op->u.rq.err) {
		r->res = op->u.rq.err;
		op->u.rq.err = 0;
	} else if (op->u.rq.eof) {
		r->res = 0;
	} else {
		ready = false;
		weft_waker_register(&op->waker, cx);
		if (!r->waiting) {
			/* the stream object outlives a close while we wait */
			weft__fd_get(f);
			r->waiting = true;
		}
	}
	/* re-arm once the reader has taken everything the last multishot
	 * delivered (never past end of stream or an unreported error) */
	if (!fallback && !op->u.rq.len && !op->u.rq.eof && !op->u.rq.err &&
	    !(op->flags & (WEFT__OPF_ARMED | WEFT__OPF_QUEUED)))
		push = weft__op_want_locked(op);
	if (ready && r->waiting) {
		weft_waker_drop(&op->waker);
		r->waiting = false;
		unref = true;
	}
	weft__op_unlock(op);
	if (unref)
		weft__fd_put(f);
	weft__pool_put(re, bids, nbids);
	if (push)
		weft__reactor_push(re, op);
	if (fallback)
		return RECVQ_FALLBACK;
	if (ready)
		weft_coop_proceed(cx); /* budget checked above: spends one */
	return ready ? WEFT_READY : WEFT_PENDING;
}

/* ------------------------------------------------------------------ recv */

void weft_stream_recv_init(weft_stream_recv *r, weft_stream *s, void *buf,
			   size_t len)
{
	WEFT_DEBUG_CHECK(!r->op && !r->waiting, "weft_stream_recv_init",
			 "the receive is still waiting (its record or stream "
			 "reference would leak); call weft_stream_recv_drop "
			 "first");
	r->s = s;
	r->buf = buf;
	r->len = len;
	r->op = NULL;
	r->res = 0;
	r->waiting = false;
}

void weft_stream_recv_drop(weft_stream_recv *r)
{
	if (r->op) {
		weft__op_drop(r->op);
		r->op = NULL;
	}
	if (r->waiting) {
		/* acquire: pairs with the CAS that installed the record; NULL
		 * when the handle was closed (which dropped the waker) */
		struct weft__op *op = atomic_load_explicit(
			&FD_OF(r->s)->rx, memory_order_acquire);
		weft_waker w = WEFT_WAKER_NONE;

		if (op) {
			weft__op_lock(op);
			w = op->waker;
			op->waker = WEFT_WAKER_NONE;
			weft__op_unlock(op);
		}
		weft_waker_drop(&w);
		r->waiting = false;
		weft__fd_put(FD_OF(r->s));
	}
}

/* Single-shot: one IORING_OP_RECV into the record's own buffer. */
static int oneshot_start(weft_stream_recv *r, struct weft__reactor *re, weft_cx *cx)
{
	size_t cap = r->len < RECV_MAX ? r->len : RECV_MAX;
	struct weft__op *op;

	op = weft__op_alloc(re, WEFT__OP_IO, FD_OF(r->s), cap);
	if (!op)
		return -ENOMEM;
	io_uring_prep_recv(&op->sqe, FD_OF(r->s)->fd, op->buf, cap, 0);
	op->waker = weft_waker_clone(&cx->waker);
	r->op = op;
	weft__op_submit(op);
	return 0;
}

weft_poll weft_stream_recv_poll(weft_stream_recv *r, weft_cx *cx)
{
	struct weft__reactor *re;
	int32_t res;
	int ret;

	if (!r->s) {
		r->res = -EINVAL;
		return WEFT_READY;
	}
	if (r->op) {
		if (weft__op_poll(r->op, cx, &res) == WEFT_PENDING)
			return WEFT_PENDING;
		if (res > 0)
			memcpy(r->buf, r->op->buf, (size_t)res);
		r->res = res;
		weft__op_drop(r->op);
		r->op = NULL;
		return WEFT_READY;
	}
	if (r->len == 0) {
		r->res = 0;
		return WEFT_READY;
	}
	re = weft__reactor_of(cx);
	if (!re) {
		r->res = -ENODEV;
		return WEFT_READY;
	}
	/* relaxed: a feature bit; either path is correct */
	if (atomic_load_explicit(&re->recv_multi, memory_order_relaxed)) {
		ret = recvq_poll(r, re, cx);
		if (ret != RECVQ_FALLBACK)
			return (weft_poll)ret;
	}
	ret = oneshot_start(r, re, cx);
	if (ret) {
		r->res = ret;
		return WEFT_READY;
	}
	return WEFT_PENDING;
}

WEFT_FUTURE_DEFINE(weft_stream_recv, weft_stream_recv_drop);

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
	struct msghdr msg = { .msg_iov = v };
	ssize_t n;

	msg.msg_iovlen = (size_t)iov_from(w, v, 64);
	do
		n = sendmsg(FD_OF(w->s)->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
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
		if (weft__op_poll(w->op, cx, &res) == WEFT_PENDING)
			return WEFT_PENDING;
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
	return WEFT_PENDING;
}

WEFT_FUTURE_DEFINE(weft_stream_send, weft_stream_send_drop);
