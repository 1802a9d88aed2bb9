/* reactor/recvq.c - stream receives (weft/net.h): each stream's receive
 * queue (kind RECVQ: its completion and release, called by op.c) and the
 * weft_stream_recv future that reads it, with its single-shot fallback.
 * A peek (weft_stream_peek_init) is the same future: it copies from the
 * queued chunks without taking them, leaves an error queued, and its
 * single-shot fallback passes MSG_PEEK, so the bytes stay in the socket.
 *
 * The first receive on a stream installs the stream's RECVQ record (one
 * per stream, owned by the handle until weft_stream_drop, socket.c) and
 * arms one multishot recv into the provided buffer pool (pool.c); every
 * chunk the kernel fills is queued on the record. At WEFT__RECVQ_HIGH
 * unread chunks the multishot is cancelled (backpressure), and re-armed
 * once the reader has taken everything queued. A receive future copies
 * from the queue and gives the emptied buffers back. Without multishot,
 * or when the pool ran dry (the multishot ends with ENOBUFS), a receive is
 * one IORING_OP_RECV into the record's own buffer (at most 64 KiB), copied
 * out when the future completes; dropping the future cancels the operation
 * and the buffer lives until its final CQE.
 *
 * Sharing the pool (issue 15: stopped readers emptied it for everyone):
 *  - while the pool is scarce (weft__pool_scarce: more than half of it
 *    held), a chunk that arrives for a stream whose reader is not waiting
 *    (no waker registered) is copied, with the pool chunks queued before
 *    it, into memory the stream owns (the chunk's `heap`), its buffers go
 *    back at once, and the multishot is cancelled: a stream whose task is
 *    not reading holds no pool buffer and keeps none armed; its reader
 *    re-arms it once it has taken what is queued. A lent head chunk stays
 *    in the pool until it is consumed.
 *  - a multishot that ended with ENOBUFS marks the stream `starved`: its
 *    receives go single-shot (counted as fallbacks) until the pool has
 *    room again (weft__pool_has_room), instead of re-arming into the same
 *    failure.
 * The copies are bounded as the queue is (reactor.h, WEFT__RECVQ_HIGH),
 * and counted (pool_spilled), as are the ENOBUFS ends (pool_exhausted) and
 * the single-shot fallbacks (pool_fallbacks) in weft_reactor_metrics.
 *
 * Atomics: the stream's `rx` pointer is installed by an acq_rel CAS and
 * read with acquire (the record's template); `recv_multi` is a relaxed
 * feature bit (either path is correct); the queue itself is under the
 * record lock (op.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"
#include "runtime/note.h"

#define FD_OF(h) ((struct weft__fd *)(h))
#define RECV_MAX (64u * 1024)

/* ------------------------------------------------------------ test hook */

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

unsigned weft__stream_test_pooled(weft_stream *s)
{
	/* acquire: pairs with the CAS that installed the record */
	struct weft__op *op = atomic_load_explicit(&FD_OF(s)->rx,
						   memory_order_acquire);
	unsigned n = 0;

	if (!op)
		return 0;
	weft__op_lock(op);
	for (uint32_t i = 0; i < op->u.rq.len; i++)
		n += !op->u.rq.q[(op->u.rq.head + i) % op->u.rq.cap].heap;
	weft__op_unlock(op);
	return n;
}

/* ------------------------------------------------ the record (reactor) */

/* The bytes of chunk c. */
static unsigned char *chunk_data(const struct weft__op *op,
				 const struct weft__rxbuf *c)
{
	/* a pool chunk is from the pool of the ring the record is armed on:
	 * it is re-armed (perhaps on another ring) only once its queue is
	 * empty */
	return c->heap ? c->heap
		       : op->q->pool->mem + (size_t)c->bid * op->q->pool->size;
}

/* Lets go of an emptied chunk (lock held): a copy is freed, a pool
 * buffer goes into bids for the caller to give back after unlocking. */
static void chunk_done(struct weft__rxbuf *c, uint16_t *bids,
		       unsigned *nbids)
{
	if (c->heap) {
		free(c->heap);
		c->heap = NULL;
	} else {
		bids[(*nbids)++] = c->bid;
	}
}

/* Copies the queued pool chunks (all but a lent head) into memory of the
 * stream's own and gives their buffers back (reactor thread, lock held;
 * the pool's lock is a leaf). A chunk that cannot be copied (ENOMEM)
 * stays in the pool. */
static void recvq_spill_locked(struct weft__op *op)
{
	for (uint32_t i = op->u.rq.lent ? 1 : 0; i < op->u.rq.len; i++) {
		struct weft__rxbuf *c =
			&op->u.rq.q[(op->u.rq.head + i) % op->u.rq.cap];
		uint32_t off = i == 0 ? op->u.rq.off : 0;
		unsigned char *h;
		uint16_t bid;

		if (c->heap)
			continue;
		h = malloc(c->len - off);
		if (!h)
			return;
		memcpy(h, chunk_data(op, c) + off, c->len - off);
		bid = c->bid;
		c->heap = h;
		c->len -= off;
		if (i == 0)
			op->u.rq.off = 0;
		weft__pool_put(op->q->pool, &bid, 1);
		weft__rstat_add(&op->q->stats->pool_spilled, 1);
	}
}

/* Room for one more chunk (lock held; grows rarely: only past the queue's
 * high mark, by completions already in flight when it was reached). */
static bool recvq_room(struct weft__op *op)
{
	return op->u.rq.len < op->u.rq.cap ||
	       weft__ring_grow((void **)&op->u.rq.q, &op->u.rq.head,
			       &op->u.rq.cap, op->u.rq.len, sizeof(*op->u.rq.q),
			       2 * WEFT__RECVQ_HIGH);
}

bool weft__recvq_complete_locked(struct weft__reactor *r, struct weft__op *op,
				 const struct io_uring_cqe *cqe, bool more,
				 bool *cancel, int *ret)
{
	int32_t res = cqe->res;
	bool probe = op->u.rq.probe && more;

	*ret = -1;
	if (res > 0) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		bool idle;

		op->u.rq.probe = false;
		if (!(cqe->flags & IORING_CQE_F_BUFFER))
			return false; /* cannot happen with BUFFER_SELECT */

		weft__pool_note_filled(op->q->pool);
		if (op->flags & WEFT__OPF_GONE) {
			*ret = bid;
			return false; /* its cancel is on its way */
		} else if (!recvq_room(op)) {
			/* out of memory for the queue itself: the bytes are
			 * lost, so the stream reports it and stops */
			*ret = bid;
			op->u.rq.err = -ENOMEM;
		} else {
			op->u.rq.q[(op->u.rq.head + op->u.rq.len) %
				   op->u.rq.cap] =
				(struct weft__rxbuf){ bid, (uint32_t)res,
						      NULL };
			op->u.rq.len++;
		}
		/* a scarce pool and a reader that is not waiting: the stream
		 * lets go of its pool buffers and stops its multishot */
		idle = r->pool_share &&
		       !weft_waker_is_set(&op->waker) &&
		       weft__pool_scarce(op->q->pool);
		if (idle)
			recvq_spill_locked(op);
		if (more && (op->u.rq.len >= WEFT__RECVQ_HIGH || idle) &&
		    !(op->flags & WEFT__OPF_CANCELING)) {
			op->flags |= WEFT__OPF_CANCELING;
			*cancel = true;
		}
		return probe && !(op->flags & WEFT__OPF_CANCELING);
	}
	if (res == 0) {
		op->u.rq.eof = true;
		return false;
	}
	if (res == -ECANCELED)
		return false; /* our own stop (backpressure, close): re-armed on
			 * demand */
	if (res == -EINVAL && !op->u.rq.len) {
		/* a kernel without multishot recv: off for good; the owner
		 * falls back to single-shot receives */
		atomic_store_explicit(&r->recv_multi, false,
				      memory_order_relaxed);
		res = -ENOBUFS;
	} else if (res == -ENOBUFS) {
		weft__rstat_add(&op->q->stats->pool_exhausted, 1);
	}
	if (!op->u.rq.err)
		op->u.rq.err = res;
	return false;
}

/* The reset probe. A multishot receive armed while a peer's bytes and its
 * reset are both arriving can be left waiting forever: the kernel (seen
 * on 6.18) receives the bytes, finds nothing more queued (a reset leaves
 * no FIN to count) and goes back to waiting for a wake-up that the dead
 * socket has already sent. So after an arm's first bytes, and only then
 * (once per arm, not per message), a zero-timeout poll(2) asks the socket
 * whether it is reset (POLLERR) or hung up (POLLHUP); poll consumes
 * nothing, so the error stays for the next receive to report. If it is,
 * the arm is cancelled; its -ECANCELED end is our own stop, and the next
 * receive re-arms, which reports the reset (or the end) at once. A reset
 * that comes after the poll wakes the armed receive as usual. A FIN alone
 * (POLLRDHUP) is not a trigger: the kernel reports it. */
bool weft__recvq_probe(struct weft__op *op)
{
	struct pollfd p = { .fd = op->fd->fd, .events = POLLIN };
	bool dead = false;

	if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLERR | POLLHUP)))
		return false;
	weft__op_lock(op);
	if ((op->flags & (WEFT__OPF_ARMED | WEFT__OPF_CANCELING |
			  WEFT__OPF_GONE)) == WEFT__OPF_ARMED) {
		op->flags |= WEFT__OPF_CANCELING;
		dead = true;
	}
	weft__op_unlock(op);
	if (dead)
		weft__rstat_add(&op->q->stats->probe_dead, 1);
	return dead;
}

void weft__recvq_refuse_locked(struct weft__op *op)
{
	op->u.rq.err = -ECANCELED;
}

void weft__recvq_release(struct weft__reactor *r, struct weft__op *op)
{
	/* unread chunks: their buffers go back to the pool, the copies
	 * are freed */
	for (uint32_t i = 0; i < op->u.rq.len; i++) {
		struct weft__rxbuf *c =
			&op->u.rq.q[(op->u.rq.head + i) % op->u.rq.cap];
		uint16_t bid;
		unsigned n = 0;

		/* chunks are queued only by arms, which set q */
		chunk_done(c, &bid, &n);
		weft__pool_put(op->q->pool, &bid, n);
	}
	free(op->u.rq.q);
}

/* ----------------------------------------------------- the queue (owner) */

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
static size_t recvq_take_locked(void *buf, size_t len, struct weft__op *op,
				uint16_t *bids, unsigned *nbids)
{
	size_t got = 0;

	while (op->u.rq.len && got < len && *nbids < TAKE_MAX) {
		struct weft__rxbuf *c = &op->u.rq.q[op->u.rq.head];
		size_t k = c->len - op->u.rq.off;

		if (k > len - got)
			k = len - got;
		memcpy((char *)buf + got, chunk_data(op, c) + op->u.rq.off, k);
		got += k;
		op->u.rq.off += (uint32_t)k;
		op->u.rq.lent = false;
		if (op->u.rq.off == c->len) {
			chunk_done(c, bids, nbids);
			op->u.rq.off = 0;
			op->u.rq.head = (op->u.rq.head + 1) % op->u.rq.cap;
			op->u.rq.len--;
		}
	}
	return got;
}

/* A peek: copies from the queued chunks into buf without taking them
 * (lock held). */
static size_t recvq_peek_locked(void *buf, size_t len,
				const struct weft__op *op)
{
	uint32_t off = op->u.rq.off;
	size_t got = 0;

	for (uint32_t i = 0; i < op->u.rq.len && got < len; i++) {
		const struct weft__rxbuf *c =
			&op->u.rq.q[(op->u.rq.head + i) % op->u.rq.cap];
		size_t k = c->len - off;

		if (k > len - got)
			k = len - got;
		memcpy((char *)buf + got, chunk_data(op, c) + off, k);
		got += k;
		off = 0;
	}
	return got;
}

/* READY with *res set, PENDING (waker queued), or WEFT__RECVQ_FALLBACK
 * when the pool ran dry or multishot is refused: the caller receives
 * single-shot this time. Copies into buf/len (with keep, without taking:
 * weft_stream_peek; a queued error is then left for the next receive), or
 * with lend set lends the head chunk (*lend, *res bytes; see reactor.h). */
int weft__recvq_poll(struct weft__fd *f, struct weft__reactor *re,
		     weft_cx *cx, void *buf, size_t len, bool keep,
		     const void **lend, bool *waiting, intptr_t *res)
{
	struct weft__op *op;
	uint16_t bids[TAKE_MAX];
	unsigned nbids = 0;
	bool push = false, ready = true, fallback = false, unref = false;
	struct weft__bufpool *pool;

	if (*waiting && !atomic_load_explicit(&f->rx, memory_order_relaxed)) {
		/* the handle was closed under a waiting receive */
		*waiting = false;
		weft__fd_put(f);
		*res = -EBADF;
		return WEFT_READY;
	}
	op = recvq_record(f, re);
	if (!op) {
		*res = -ENOMEM;
		return WEFT_READY;
	}
	weft__op_lock(op);
	if ((op->u.rq.len || op->u.rq.err || op->u.rq.eof) && cx->budget == 0) {
		/* out of coop budget: yield before taking anything */
		weft__op_unlock(op);
		weft_cx_yield(cx);
		return WEFT_PENDING;
	}
	if (op->u.rq.len && lend) {
		struct weft__rxbuf *c = &op->u.rq.q[op->u.rq.head];

		*lend = chunk_data(op, c) + op->u.rq.off;
		*res = (intptr_t)(c->len - op->u.rq.off);
		op->u.rq.lent = true; /* not copied away until consumed */
	} else if (op->u.rq.len && keep) {
		*res = (intptr_t)recvq_peek_locked(buf, len, op);
	} else if (op->u.rq.len) {
		*res = (intptr_t)recvq_take_locked(buf, len, op, bids,
						   &nbids);
	} else if (op->u.rq.err == -ENOBUFS) {
		/* the pool ran dry under the multishot: single-shot until
		 * it has room again (not re-armed into the same failure) */
		op->u.rq.err = 0;
		op->u.rq.starved = true;
		fallback = true;
	} else if (op->u.rq.err) {
		*res = op->u.rq.err;
		if (!keep) /* a peek leaves it for the next receive */
			op->u.rq.err = 0;
	} else if (op->u.rq.eof) {
		*res = 0;
	} else if (op->u.rq.starved && op->q && op->q->pool &&
		   !weft__pool_has_room(op->q->pool)) {
		fallback = true;
	} else {
		op->u.rq.starved = false;
		ready = false;
		weft_waker_register(&op->waker, cx);
		if (!*waiting) {
			/* the stream object outlives a close while we wait */
			weft__fd_get(f);
			*waiting = true;
		}
	}
	/* re-arm once the reader has taken everything the last multishot
	 * delivered (never past end of stream or an unreported error) */
	if (!fallback && !op->u.rq.len && !op->u.rq.eof && !op->u.rq.err &&
	    !(op->flags & (WEFT__OPF_ARMED | WEFT__OPF_QUEUED)))
		push = weft__op_want_locked(op);
	if (ready && *waiting) {
		weft_waker_drop(&op->waker);
		*waiting = false;
		unref = true;
	}
	pool = nbids ? op->q->pool : NULL; /* the ring that filled them */
	weft__op_unlock(op);
	if (unref)
		weft__fd_put(f);
	if (pool)
		weft__pool_put(pool, bids, nbids);
	if (push)
		weft__reactor_push(re, op);
	if (fallback) {
		atomic_fetch_add_explicit(&re->stats.fallbacks, 1,
					  memory_order_relaxed);
		return WEFT__RECVQ_FALLBACK;
	}
	if (ready)
		weft_coop_proceed(cx); /* budget checked above: spends one */
	return ready ? WEFT_READY : WEFT_PENDING;
}

void weft__recvq_consume(struct weft__fd *f, struct weft__reactor *re,
			 size_t n)
{
	/* acquire: pairs with the CAS that installed the record */
	struct weft__op *op = atomic_load_explicit(&f->rx,
						   memory_order_acquire);
	uint16_t bids[TAKE_MAX];
	unsigned nbids = 0;
	struct weft__bufpool *pool;

	if (!op)
		return;
	weft__op_lock(op);
	op->u.rq.lent = false;
	while (n && op->u.rq.len && nbids < TAKE_MAX) {
		struct weft__rxbuf *c = &op->u.rq.q[op->u.rq.head];
		size_t k = c->len - op->u.rq.off;

		if (k > n)
			k = n;
		n -= k;
		op->u.rq.off += (uint32_t)k;
		if (op->u.rq.off == c->len) {
			chunk_done(c, bids, &nbids);
			op->u.rq.off = 0;
			op->u.rq.head = (op->u.rq.head + 1) % op->u.rq.cap;
			op->u.rq.len--;
		}
	}
	pool = nbids ? op->q->pool : NULL;
	weft__op_unlock(op);
	if (pool)
		weft__pool_put(pool, bids, nbids);
}

size_t weft__recvq_held(struct weft__fd *f)
{
	/* acquire: pairs with the CAS that installed the record */
	struct weft__op *op = atomic_load_explicit(&f->rx,
						   memory_order_acquire);
	size_t n = 0;

	if (!op)
		return 0;
	weft__op_lock(op);
	for (uint32_t i = 0; i < op->u.rq.len; i++)
		n += op->u.rq.q[(op->u.rq.head + i) % op->u.rq.cap].len;
	n -= op->u.rq.off;
	weft__op_unlock(op);
	return n;
}

void weft__recvq_unwait(struct weft__fd *f, bool *waiting)
{
	/* acquire: pairs with the CAS that installed the record; NULL when
	 * the handle was closed (which dropped the waker) */
	struct weft__op *op;
	weft_waker w = WEFT_WAKER_NONE;

	if (!*waiting)
		return;
	op = atomic_load_explicit(&f->rx, memory_order_acquire);
	if (op) {
		weft__op_lock(op);
		w = op->waker;
		op->waker = WEFT_WAKER_NONE;
		weft__op_unlock(op);
	}
	weft_waker_drop(&w);
	*waiting = false;
	weft__fd_put(f);
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
	r->peek = false;
}

void weft_stream_peek_init(weft_stream_recv *r, weft_stream *s, void *buf,
			   size_t len)
{
	WEFT_DEBUG_CHECK(!r->op && !r->waiting, "weft_stream_peek_init",
			 "the peek is still waiting (its record or stream "
			 "reference would leak); call weft_stream_recv_drop "
			 "first");
	weft_stream_recv_init(r, s, buf, len);
	r->peek = true;
}

void weft_stream_recv_drop(weft_stream_recv *r)
{
	if (r->op) {
		weft__op_drop(r->op);
		r->op = NULL;
	}
	weft__recvq_unwait(FD_OF(r->s), &r->waiting);
}

/* Single-shot: one IORING_OP_RECV into the record's own buffer. */
static int oneshot_start(weft_stream_recv *r, struct weft__reactor *re, weft_cx *cx)
{
	size_t cap = r->len < RECV_MAX ? r->len : RECV_MAX;
	struct weft__op *op;

	op = weft__op_alloc(re, WEFT__OP_IO, FD_OF(r->s), cap);
	if (!op)
		return -ENOMEM;
	io_uring_prep_recv(&op->sqe, FD_OF(r->s)->fd, op->buf, cap,
			   r->peek ? MSG_PEEK : 0);
	op->waker = weft_waker_clone(&cx->waker);
	r->op = op;
	weft__op_submit(op);
	return 0;
}

static inline weft_poll recv_poll(weft_stream_recv *r, weft_cx *cx)
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
		ret = weft__recvq_poll(FD_OF(r->s), re, cx, r->buf, r->len,
				       r->peek, NULL, &r->waiting, &r->res);
		if (ret != WEFT__RECVQ_FALLBACK)
			return (weft_poll)ret;
	}
	ret = oneshot_start(r, re, cx);
	if (ret) {
		r->res = ret;
		return WEFT_READY;
	}
	return WEFT_PENDING;
}

weft_poll weft_stream_recv_poll(weft_stream_recv *r, weft_cx *cx)
{
	weft_poll p = recv_poll(r, cx);

	/* the dump's wait note (runtime/note.h) */
	if (p == WEFT_PENDING)
		weft__cx_note(cx, WEFT_WAIT_FD, (uint64_t)FD_OF(r->s)->fd);
	return p;
}

WEFT_FUTURE_DEFINE(weft_stream_recv, weft_stream_recv_drop);
