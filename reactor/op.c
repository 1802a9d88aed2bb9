/* reactor/op.c - the operation record's life (see reactor.h for the flags),
 * and the two plain kinds: IO (one SQE, one final CQE) and TIMER (a wheel
 * entry). The other kinds own their arm, completion and release in their
 * files: ACCEPT in accept.c, RECVQ in recvq.c, REAPER in process.c, WATCH
 * in watch.c; this
 * file calls them (direct calls, by kind). A REAPER record has no owner
 * once submitted (the child's handle is gone): it is never GONE, and the
 * reactor frees it on its final completion, or when it refuses to arm it
 * at shutdown.
 *
 * Owner side (any thread): alloc, fill the SQE template, submit, poll,
 * drop. Reactor side: attend (popped from the stack), complete (a CQE),
 * fire (a timer), abandon (shutdown).
 *
 * Every flag change happens under the record's spinlock (weft__op_lock:
 * acquire / weft__op_unlock: release), so the owner and the reactor agree
 * on who frees: the one that sees GONE && !ARMED && !QUEUED. The lock is
 * held for a few instructions and never across a call that can block or
 * take another lock; wakers taken out under it are woken or dropped after
 * it is released.
 *
 * Other pairs:
 *   weft__reactor_push (release CAS) -> reactor drain (acquire exchange):
 *     the SQE template and `next` written before the push are seen by the
 *     reactor.
 *   r->live: relaxed increments (the creator already holds a count, the
 *     reactor's own); acq_rel decrement in weft__op_free pairs with the one
 *     in weft__reactor_stop, so whichever drops the last count frees r
 *     after the other's uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reactor/fd.h"
#include "reactor/reactor.h"

static size_t op_size(int kind, size_t cap)
{
	if (kind == WEFT__OP_TIMER)
		return offsetof(struct weft__op, sqe);
	return sizeof(struct weft__op) + cap;
}

struct weft__op *weft__op_alloc(struct weft__reactor *r, int kind,
				struct weft__fd *fd, size_t cap)
{
	struct weft__op *op = malloc(op_size(kind, cap));
	size_t hdr = kind == WEFT__OP_TIMER ? offsetof(struct weft__op, sqe)
					    : offsetof(struct weft__op, buf);

	if (!op)
		return NULL;
	memset(op, 0, hdr);
	atomic_flag_clear_explicit(&op->lock, memory_order_relaxed);
	op->r = r;
	op->kind = (uint8_t)kind;
	op->fd = fd ? weft__fd_get(fd) : NULL;
	if (kind != WEFT__OP_TIMER)  /* timers end before `sqe` */
		op->cap = (uint32_t)cap;
	/* relaxed: a count only; r stays alive through the creator's own
	 * reference (see file comment) */
	atomic_fetch_add_explicit(&r->live, 1, memory_order_relaxed);
	return op;
}

/* The IO kind's release: an open nobody took the result of (file.c marks
 * a taken one), and descriptors a receive got that nobody took (fdpass.c
 * clears msg_controllen once they are taken). */
static void io_release(struct weft__op *op)
{
	if (op->sqe.opcode == IORING_OP_OPENAT &&
	    (op->flags & WEFT__OPF_DONE) && op->res >= 0)
		close(op->res);
	if (op->sqe.opcode == IORING_OP_RECVMSG &&
	    (op->flags & WEFT__OPF_DONE) && op->res >= 0)
		weft__fdpass_close_unclaimed(&op->u.m.msg);
}

void weft__op_free(struct weft__op *op)
{
	struct weft__reactor *r = op->r;

	switch (op->kind) {
	case WEFT__OP_ACCEPT:
		weft__accept_release(op);
		break;
	case WEFT__OP_RECVQ:
		/* r, and so the pool, lives until the live count below
		 * drops */
		weft__recvq_release(r, op);
		break;
	case WEFT__OP_IO:
		io_release(op);
		break;
	case WEFT__OP_REAPER:
		weft__reaper_release(op);
		break;
	case WEFT__OP_WATCH:
		weft_waker_drop(&op->u.w.wwaker);
		break;
	default:
		break;
	}
	weft__fd_put(op->fd);
	weft__fd_put(op->fd2);
	free(op);
	/* acq_rel: pairs with weft__reactor_stop's decrement; the last one
	 * frees r after every other user of it is done */
	if (atomic_fetch_sub_explicit(&r->live, 1, memory_order_acq_rel) == 1)
		weft__reactor_free(r);
}

void weft__op_submit(struct weft__op *op)
{
	/* not shared yet: no lock needed; the push publishes it */
	op->flags = WEFT__OPF_QUEUED | WEFT__OPF_WANT;
	weft__reactor_push(op->r, op);
}

void weft__op_resubmit(struct weft__op *op, weft_cx *cx)
{
	/* the reactor is done with a DONE record (not ARMED, not QUEUED):
	 * the lock only orders this against its last unlock */
	weft__op_lock(op);
	op->flags = WEFT__OPF_QUEUED | WEFT__OPF_WANT;
	op->res = 0;
	weft_waker_register(&op->waker, cx);
	weft__op_unlock(op);
	weft__reactor_push(op->r, op);
}

weft_poll weft__op_poll(struct weft__op *op, weft_cx *cx, int32_t *res)
{
	bool done;

	weft__op_lock(op);
	done = op->flags & WEFT__OPF_DONE;
	if (done)
		*res = op->res;
	else
		weft_waker_register(&op->waker, cx);
	weft__op_unlock(op);
	if (done && !weft_coop_proceed(cx))
		return WEFT_PENDING;
	return done ? WEFT_READY : WEFT_PENDING;
}

bool weft__op_want_locked(struct weft__op *op)
{
	if (op->flags & (WEFT__OPF_ARMED | WEFT__OPF_QUEUED | WEFT__OPF_GONE))
		return false;
	op->flags |= WEFT__OPF_WANT | WEFT__OPF_QUEUED;
	return true;
}

void weft__op_drop(struct weft__op *op)
{
	weft_waker w;
	bool push = false, dofree = false;
	struct weft__uq *q = NULL;

	weft__op_lock(op);
	op->flags |= WEFT__OPF_GONE;
	w = op->waker;
	op->waker = WEFT_WAKER_NONE;
	if (op->flags & WEFT__OPF_QUEUED) {
		/* the reactor will see GONE when it pops it */
	} else if (op->flags & WEFT__OPF_ARMED) {
		op->flags |= WEFT__OPF_QUEUED;
		push = true;
		/* timers are armed in the reactor's wheel (q unset) */
		q = op->kind == WEFT__OP_TIMER ? NULL : op->q;
	} else {
		dofree = true;
	}
	weft__op_unlock(op);
	weft_waker_drop(&w);
	if (push)
		weft__reactor_push_cancel(op->r, op, q);
	if (dofree)
		weft__op_free(op);
}

/* Hands a taken waker to the batch, or drops it once the reactor stops
 * (the runtime's workers are gone by then). */
static void op_wake(struct weft__reactor *r, struct weft__uq *q,
		    weft_waker *w, struct weft__wake_batch *b)
{
	if (!weft_waker_is_set(w))
		return;
	/* relaxed: set by weft__reactor_stop before its eventfd write, which
	 * the reactor observed through the ring before getting here; a
	 * worker ring that closes at shutdown drops them too */
	if (q->closing ||
	    atomic_load_explicit(&r->stopping, memory_order_relaxed))
		weft_waker_drop(w);
	else
		weft__wake_batch_add(b, w);
}

static struct io_uring_sqe *ring_sqe(struct weft__uq *q)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(q->ring)))
		io_uring_submit(q->ring);
	return sqe;
}

/* On q's thread: an ASYNC_CANCEL for op, armed on q. */
static void op_send_cancel(struct weft__uq *q, struct weft__op *op)
{
	struct io_uring_sqe *sqe = ring_sqe(q);

	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	sqe->user_data = WEFT__UD_CANCEL;
	(*q->inflight)++;
	weft__rstat_add(&q->stats->cancels, 1);
}

static void op_arm_io(struct weft__reactor *r, struct weft__uq *q,
		      struct weft__op *op)
{
	struct io_uring_sqe *sqe = ring_sqe(q);

	*sqe = op->sqe;
	if (op->kind == WEFT__OP_ACCEPT)
		weft__accept_arm(r, sqe);
	else if (op->kind == WEFT__OP_WATCH)
		weft__watch_arm(r, op, sqe);
	sqe->user_data = (uint64_t)(uintptr_t)op;
	weft__link_list_add(q->armed, &op->wl);
	(*q->inflight)++;
}

void weft__op_attend(struct weft__reactor *r, struct weft__uq *q,
		     struct weft__op *op, struct weft__wake_batch *b)
{
	enum { NOTHING, FREE, CANCEL, UNTIME, ARM, REFUSE } act = NOTHING;
	weft_waker w = WEFT_WAKER_NONE, w2 = WEFT_WAKER_NONE;
	/* relaxed: only read on the reactor thread after stop's wake-up; a
	 * worker's ring refuses arms while it closes */
	bool stopping = q->closing ||
			atomic_load_explicit(&r->stopping,
					     memory_order_relaxed);

	weft__op_lock(op);
	op->flags &= ~WEFT__OPF_QUEUED;
	if (op->flags & WEFT__OPF_GONE) {
		if (!(op->flags & WEFT__OPF_ARMED)) {
			act = FREE;
		} else if (op->kind == WEFT__OP_TIMER) {
			op->flags &= ~WEFT__OPF_ARMED;
			act = UNTIME;
		} else if (!(op->flags & WEFT__OPF_CANCELING)) {
			op->flags |= WEFT__OPF_CANCELING;
			act = CANCEL;
		}
	} else if ((op->flags & WEFT__OPF_WANT) &&
		   !(op->flags & WEFT__OPF_ARMED)) {
		op->flags &= ~WEFT__OPF_WANT;
		if (stopping) {
			if (op->kind == WEFT__OP_RECVQ)
				weft__recvq_refuse_locked(op);
			if (op->kind == WEFT__OP_WATCH)
				w2 = weft__watch_take_wwaker_locked(op);
			op->flags |= WEFT__OPF_DONE;
			op->res = -ECANCELED;
			w = op->waker;
			op->waker = WEFT_WAKER_NONE;
			act = REFUSE;
		} else {
			op->flags |= WEFT__OPF_ARMED;
			if (op->kind != WEFT__OP_TIMER)
				op->q = q;
			if (op->kind == WEFT__OP_RECVQ)
				op->u.rq.probe = true;
			act = ARM;
		}
	}
	weft__op_unlock(op);

	switch (act) {
	case FREE:
		weft__op_free(op);
		break;
	case UNTIME:
		weft__wheel_remove(&r->wheel, &op->wl);
		weft__op_free(op);
		break;
	case CANCEL:
		op_send_cancel(q, op);
		break;
	case ARM:
		if (op->kind != WEFT__OP_TIMER)
			op_arm_io(r, q, op);
		else if (!weft__wheel_insert(&r->wheel, &op->wl))
			weft__op_fire_timer(r, op, b);
		break;
	case REFUSE:
		weft_waker_drop(&w);
		weft_waker_drop(&w2);
		if (op->kind == WEFT__OP_REAPER)  /* nobody else will */
			weft__op_free(op);
		break;
	case NOTHING:
		break;
	}
}

void weft__op_fire_timer(struct weft__reactor *r, struct weft__op *op,
			 struct weft__wake_batch *b)
{
	weft_waker w;
	bool dofree;

	weft__op_lock(op);
	op->flags &= ~WEFT__OPF_ARMED;
	op->flags |= WEFT__OPF_DONE;
	op->res = 0;
	w = op->waker;
	op->waker = WEFT_WAKER_NONE;
	dofree = (op->flags & (WEFT__OPF_GONE | WEFT__OPF_QUEUED)) ==
		 WEFT__OPF_GONE;
	weft__op_unlock(op);
	op_wake(r, &r->mq, &w, b);
	if (dofree)
		weft__op_free(op);
}

/* Grows a ring of `len` elements of esz bytes (head at *head, *cap slots)
 * to twice its size, or `first` slots, unwrapped from 0; false on ENOMEM
 * (the ring is unchanged). Called under a record lock: rare, only when a
 * queue outgrows itself. */
bool weft__ring_grow(void **q, uint32_t *head, uint32_t *cap, uint32_t len,
		     size_t esz, uint32_t first)
{
	uint32_t ncap = *cap ? *cap * 2 : first;
	char *n = malloc((size_t)ncap * esz);

	if (!n)
		return false;
	for (uint32_t i = 0; i < len; i++)
		memcpy(n + (size_t)i * esz,
		       (char *)*q + (size_t)((*head + i) % *cap) * esz, esz);
	free(*q);
	*q = n;
	*cap = ncap;
	*head = 0;
	return true;
}

void weft__op_complete(struct weft__reactor *r, struct weft__op *op,
		       const struct io_uring_cqe *cqe,
		       struct weft__wake_batch *b)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	bool cancel = false, rearm = false, probe = false, dofree;
	int stray = -1, spare = -1;
	weft_waker w = WEFT_WAKER_NONE, w2 = WEFT_WAKER_NONE;
	/* the ring this CQE came from: op stays armed on it until this
	 * thread clears ARMED below, so q does not change under us */
	struct weft__uq *q = op->q;

	if (!more) {
		weft__link_list_del(&op->wl);
		(*q->inflight)--;
	}
	weft__op_lock(op);
	if (!more)
		op->flags &= ~(WEFT__OPF_ARMED | WEFT__OPF_CANCELING);
	if (op->kind == WEFT__OP_ACCEPT) {
		stray = weft__accept_complete_locked(r, op, cqe->res, more,
						     &cancel);
	} else if (op->kind == WEFT__OP_RECVQ) {
		probe = weft__recvq_complete_locked(r, op, cqe, more, &cancel,
						    &spare);
	} else if (op->kind == WEFT__OP_WATCH) {
		/* wakes only the waits the readiness is for */
		weft__watch_complete_locked(r, op, cqe->res, more, &w, &w2,
					    &rearm);
	} else if (!more) {
		op->res = cqe->res;
		op->flags |= WEFT__OPF_DONE;
	}
	if (op->kind != WEFT__OP_WATCH) {
		w = op->waker;
		op->waker = WEFT_WAKER_NONE;
	}
	dofree = !more && ((op->flags & (WEFT__OPF_GONE | WEFT__OPF_QUEUED)) ==
				   WEFT__OPF_GONE ||
			   op->kind == WEFT__OP_REAPER);
	weft__op_unlock(op);
	if (stray >= 0)
		close(stray);
	if (spare >= 0) {
		uint16_t bid = (uint16_t)spare;

		weft__pool_put(q->pool, &bid, 1);
	}
	if (probe && weft__recvq_probe(op))
		cancel = true;
	if (cancel)
		op_send_cancel(q, op);
	if (rearm)
		op_arm_io(r, q, op);
	op_wake(r, q, &w, b);
	op_wake(r, q, &w2, b);
	if (dofree)
		weft__op_free(op);
}

void weft__op_abandon(struct weft__reactor *r, struct weft__op *op,
		      struct weft__wake_batch *b)
{
	weft_waker w, w2 = WEFT_WAKER_NONE;
	bool dofree;

	(void)b;
	weft__op_lock(op);
	op->flags &= ~WEFT__OPF_ARMED;
	op->flags |= WEFT__OPF_DONE;
	op->res = -ECANCELED;
	w = op->waker;
	op->waker = WEFT_WAKER_NONE;
	if (op->kind == WEFT__OP_WATCH)
		w2 = weft__watch_take_wwaker_locked(op);
	dofree = (op->flags & (WEFT__OPF_GONE | WEFT__OPF_QUEUED)) ==
		 WEFT__OPF_GONE;
	weft__op_unlock(op);
	weft_waker_drop(&w);
	weft_waker_drop(&w2);
	if (dofree)
		weft__op_free(op);
}

/* Used by weft__reactor_stop: cancels an armed I/O record once. */
void weft__op_cancel_for_stop(struct weft__reactor *r, struct weft__op *op)
{
	bool send;

	weft__op_lock(op);
	send = !(op->flags & WEFT__OPF_CANCELING);
	op->flags |= WEFT__OPF_CANCELING;
	weft__op_unlock(op);
	(void)r;
	if (send)
		op_send_cancel(op->q, op);
}
