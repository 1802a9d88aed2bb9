/* reactor/watch.c - fd watchers (weft/fd.h, weft_fd_watch): one multishot
 * IORING_OP_POLL_ADD per watcher, kept armed while the watcher lives, and
 * the WATCH record kind that holds what it reported.
 *
 * The record (reactor.h, u.w) holds the readiness bits the kernel posted
 * and no wait has taken yet, one mask per direction, and one waker per
 * direction (`waker` for the readable wait, u.w.wwaker for the writable
 * one). The reactor or's each CQE's revents into the masks and wakes the
 * waits whose direction got bits; a wait takes its mask under the lock.
 * So readiness that arrives between waits is kept, and a wait that finds
 * bits completes without touching the ring.
 *
 * Arming: the record is created by the first wait's poll (it needs the
 * cx's reactor) and armed by a wait that finds nothing recorded while the
 * record is not in the kernel (weft__op_want_locked: the first wait, and
 * every wait after the kernel ended the multishot or, without multishot,
 * after each single-shot completion). The final CQE of a poll that ended
 * by itself wakes both waits so that a waiting one re-arms it; an
 * -EINVAL on a multishot arm turns the feature off for the reactor and
 * re-arms single-shot at once (reactor side).
 *
 * Lifetime: the watcher is counted (refs): its creator holds one, and a
 * wait holds one from the first time it returns PENDING until it is READY
 * or dropped, so destroy may run with waits pending. The last reference
 * drops the record (weft__op_drop: cancelled if armed, freed on its final
 * completion) and frees the watcher.
 *
 * Memory order: refs is acq_rel (the last one sees every user's writes);
 * the record pointer is published with a release CAS (the losing racer of
 * two first waits frees its unshared record) and read with acquire. All
 * record state is under the record's lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "weft/fd.h"
#include "reactor/reactor.h"
#include "reactor/ready.h"

#define RD_BITS ((unsigned)(POLLIN | POLLPRI | POLLRDHUP))
#define WR_BITS ((unsigned)POLLOUT)
#define BOTH_BITS ((unsigned)(POLLERR | POLLHUP | POLLNVAL))

struct weft_fd_watch {
	int fd;
	unsigned events;
	atomic_uint refs;
	_Atomic(struct weft__op *) op;
};

/* ------------------------------------------------------- reactor side */

void weft__watch_arm(struct weft__reactor *r, struct weft__op *op,
		     struct io_uring_sqe *sqe)
{
	if (!(r->features & WEFT__FEAT_POLL_MULTI))
		sqe->len &= ~IORING_POLL_ADD_MULTI;
	weft__op_lock(op);
	op->u.w.arms++;
	weft__op_unlock(op);
}

weft_waker weft__watch_take_wwaker_locked(struct weft__op *op)
{
	weft_waker w = op->u.w.wwaker;

	op->u.w.wwaker = WEFT_WAKER_NONE;
	return w;
}

static void take_waker(weft_waker *slot, weft_waker *out)
{
	*out = *slot;
	*slot = WEFT_WAKER_NONE;
}

void weft__watch_complete_locked(struct weft__reactor *r, struct weft__op *op,
				 int32_t res, bool more, weft_waker *w1,
				 weft_waker *w2, bool *rearm)
{
	/* relaxed: only read on the reactor thread after stop's wake-up */
	bool stopping = atomic_load_explicit(&r->stopping,
					     memory_order_relaxed);

	if (res >= 0) {
		unsigned ev = (unsigned)res;
		unsigned rd = ev & (RD_BITS | BOTH_BITS);
		unsigned wr = ev & (WR_BITS | BOTH_BITS);

		op->u.w.rd |= rd;
		op->u.w.wr |= wr;
		/* a final CQE wakes both: a waiting one re-arms the poll */
		if (rd || !more)
			take_waker(&op->waker, w1);
		if (wr || !more)
			take_waker(&op->u.w.wwaker, w2);
		return;
	}
	if (more)
		return;
	if (res == -EINVAL && (r->features & WEFT__FEAT_POLL_MULTI) &&
	    !(op->flags & WEFT__OPF_GONE) && !stopping) {
		/* a kernel before 5.13: single-shot from now on */
		r->features &= ~WEFT__FEAT_POLL_MULTI;
		op->flags |= WEFT__OPF_ARMED;
		*rearm = true;
		return;
	}
	if (!(op->flags & WEFT__OPF_GONE)) {
		op->flags |= WEFT__OPF_DONE;
		op->res = stopping ? -ECANCELED : res;
	}
	take_waker(&op->waker, w1);
	take_waker(&op->u.w.wwaker, w2);
}

/* --------------------------------------------------------- owner side */

int weft_fd_watch_create(weft_fd_watch **out, int fd, unsigned events)
{
	weft_fd_watch *w;

	*out = NULL;
	if (fd < 0)
		return -EBADF;
	if (!(events & (RD_BITS | WR_BITS)) ||
	    (events & ~(RD_BITS | WR_BITS)))
		return -EINVAL;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->events = events;
	atomic_init(&w->refs, 1);
	atomic_init(&w->op, NULL);
	*out = w;
	return 0;
}

/* Drops one reference; the last one lets the record go and frees w. */
static void watch_put(weft_fd_watch *w)
{
	struct weft__op *op;
	weft_waker ww;

	/* acq_rel: the last one sees every other holder's writes */
	if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
		return;
	op = atomic_load_explicit(&w->op, memory_order_acquire);
	if (op) {
		weft__op_lock(op);
		ww = weft__watch_take_wwaker_locked(op);
		weft__op_unlock(op);
		weft_waker_drop(&ww);
		weft__op_drop(op);
	}
	free(w);
}

void weft_fd_watch_destroy(weft_fd_watch *w)
{
	struct weft__op *op;
	weft_waker w1 = WEFT_WAKER_NONE, w2 = WEFT_WAKER_NONE;

	if (!w)
		return;
	op = atomic_load_explicit(&w->op, memory_order_acquire);
	if (op) {
		/* pending waits see `closed` when polled next */
		weft__op_lock(op);
		op->u.w.closed = true;
		take_waker(&op->waker, &w1);
		take_waker(&op->u.w.wwaker, &w2);
		weft__op_unlock(op);
		weft_waker_wake(&w1);
		weft_waker_wake(&w2);
	}
	watch_put(w);
}

/* The watcher's record, created (not armed) by the first wait: NULL with
 * *err set when there is none. */
static struct weft__op *watch_record(weft_fd_watch *w, weft_cx *cx, int *err)
{
	struct weft__op *op = atomic_load_explicit(&w->op,
						   memory_order_acquire);
	struct weft__op *none = NULL;
	struct weft__reactor *r;

	if (op)
		return op;
	r = weft__reactor_of(cx);
	if (!r) {
		*err = -ENODEV;
		return NULL;
	}
	op = weft__op_alloc(r, WEFT__OP_WATCH, NULL, 0);
	if (!op) {
		*err = -ENOMEM;
		return NULL;
	}
	io_uring_prep_poll_multishot(&op->sqe, w->fd, w->events);
	/* acq_rel: publishes the record's setup; a loser sees the winner's */
	if (!atomic_compare_exchange_strong_explicit(&w->op, &none, op,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		weft__op_free(op);    /* never shared */
		return none;
	}
	return op;
}

void weft_fd_watch_wait_init(weft_fd_watch_wait *f, weft_fd_watch *w,
			     unsigned events)
{
	WEFT_DEBUG_CHECK(!f->held, "weft_fd_watch_wait_init",
			 "the wait is still pending (its reference on the "
			 "watcher would leak); call weft_fd_watch_wait_drop "
			 "first");
	f->w = w;
	f->events = events;
	f->held = false;
	f->res = 0;
	if (!w || !events || (events & ~w->events) ||
	    ((events & RD_BITS) && (events & WR_BITS)) ||
	    (events & ~(RD_BITS | WR_BITS)))
		f->res = -EINVAL;
}

void weft_fd_watch_readable_init(weft_fd_watch_wait *f, weft_fd_watch *w)
{
	weft_fd_watch_wait_init(f, w, POLLIN);
}

void weft_fd_watch_writable_init(weft_fd_watch_wait *f, weft_fd_watch *w)
{
	weft_fd_watch_wait_init(f, w, POLLOUT);
}

/* The direction's bits and waker slot on the record. */
static uint32_t *dir_bits(const weft_fd_watch_wait *f, struct weft__op *op)
{
	return (f->events & WR_BITS) ? &op->u.w.wr : &op->u.w.rd;
}

static weft_waker *dir_waker(const weft_fd_watch_wait *f, struct weft__op *op)
{
	return (f->events & WR_BITS) ? &op->u.w.wwaker : &op->waker;
}

static weft_poll wait_finish(weft_fd_watch_wait *f, intptr_t res)
{
	f->res = res;
	if (f->held) {
		f->held = false;
		watch_put(f->w);
	}
	f->w = NULL;
	return WEFT_READY;
}

weft_poll weft_fd_watch_wait_poll(weft_fd_watch_wait *f, weft_cx *cx)
{
	enum { WAIT, BITS, FAIL } st;
	struct weft__op *op;
	weft_waker mine = WEFT_WAKER_NONE;
	intptr_t res = 0;
	bool push = false;
	int err = 0;

	if (!f->w)                    /* READY already, or a bad _init */
		return WEFT_READY;
	if (f->res < 0)
		return wait_finish(f, f->res);
	op = watch_record(f->w, cx, &err);
	if (!op)
		return wait_finish(f, err);
	weft__op_lock(op);
	if (op->u.w.closed) {
		st = FAIL;
		res = -ECANCELED;
	} else if (*dir_bits(f, op)) {
		st = BITS;
	} else if (op->flags & WEFT__OPF_DONE) {
		st = FAIL;
		res = op->res;
	} else {
		st = WAIT;
		weft_waker_register(dir_waker(f, op), cx);
		push = weft__op_want_locked(op);
	}
	if (st == FAIL)
		take_waker(dir_waker(f, op), &mine);
	weft__op_unlock(op);
	if (st == WAIT) {
		if (!f->held) {
			/* relaxed: the caller's own reference keeps w alive
			 * here; the release of a drop orders the rest */
			atomic_fetch_add_explicit(&f->w->refs, 1,
						  memory_order_relaxed);
			f->held = true;
		}
		if (push)
			weft__reactor_push(op->r, op);
		return WEFT_PENDING;
	}
	weft_waker_drop(&mine);
	if (st == FAIL)
		return wait_finish(f, res);
	/* a ready wait spends the task's budget, as a completion does; the
	 * bits stay recorded until the re-poll takes them */
	if (!weft_coop_proceed(cx))
		return WEFT_PENDING;
	weft__op_lock(op);
	res = (intptr_t)*dir_bits(f, op);
	*dir_bits(f, op) = 0;
	take_waker(dir_waker(f, op), &mine);
	weft__op_unlock(op);
	weft_waker_drop(&mine);
	return wait_finish(f, res);
}

void weft_fd_watch_wait_drop(weft_fd_watch_wait *f)
{
	struct weft__op *op;
	weft_waker mine = WEFT_WAKER_NONE;

	if (!f->held)
		return;
	/* a pending wait created the record */
	op = atomic_load_explicit(&f->w->op, memory_order_acquire);
	weft__op_lock(op);
	take_waker(dir_waker(f, op), &mine);
	weft__op_unlock(op);
	weft_waker_drop(&mine);
	f->held = false;
	watch_put(f->w);
	f->w = NULL;
}

WEFT_FUTURE_DEFINE(weft_fd_watch_wait, weft_fd_watch_wait_drop);

/* ---------------------------------------------------------- test hook */

unsigned weft__fd_watch_test_arms(weft_fd_watch *w)
{
	struct weft__op *op = atomic_load_explicit(&w->op,
						   memory_order_acquire);
	unsigned n;

	if (!op)
		return 0;
	weft__op_lock(op);
	n = op->u.w.arms;
	weft__op_unlock(op);
	return n;
}
