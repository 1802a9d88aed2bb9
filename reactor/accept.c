/* reactor/accept.c - accepting connections (weft/net.h): the accept record
 * (kind ACCEPT: its arm, completion and release, called by op.c) and the
 * weft_listener_accept future; TCP and Unix listeners share it.
 *
 * A listener's accept record is created by the first accept and owned by
 * the listener handle until weft_listener_drop (socket.c). The reactor
 * keeps one multishot accept armed on it (single-shot on a kernel without
 * it) and appends connections to the record's bounded queue; an accept
 * future takes from the queue and asks for a re-arm when the multishot
 * has ended (error, backpressure, or a single-shot kernel). After
 * EMFILE/ENFILE/ENOBUFS/ENOMEM the re-arm waits a growing back-off (10 ms
 * doubling to 40 ms: reactor.h), so a full fd table never makes the
 * accept loop spin (at most 25 failed attempts a second once at the cap)
 * and clients queued in the backlog are taken within 40 ms (plus the
 * accept itself) of descriptors coming free.
 *
 * Atomics: the record lock (op.c) guards the queue; the single-shot count
 * is a relaxed statistic.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft/net.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define FD_OF(h) ((struct weft__fd *)(h))

#define BACKOFF_MIN_MS WEFT__ACCEPT_BACKOFF_MIN_MS
#define BACKOFF_MAX_MS WEFT__ACCEPT_BACKOFF_MAX_MS

unsigned weft__listener_test_backoff_ms(struct weft_listener *l)
{
	return FD_OF(l)->backoff_ms;
}

/* ------------------------------------------------- the record (reactor) */

void weft__accept_arm(struct weft__reactor *r, struct io_uring_sqe *sqe)
{
	if (r->features & WEFT__FEAT_MULTISHOT_ACCEPT)
		sqe->ioprio |= IORING_ACCEPT_MULTISHOT;
	else /* relaxed, one writer: a count for the tests */
		atomic_store_explicit(
			&r->single_accepts,
			atomic_load_explicit(&r->single_accepts,
					     memory_order_relaxed) + 1,
			memory_order_relaxed);
}

/* Makes room for one more fd in the accept ring (lock held). */
static bool accept_queue_room(struct weft__op *op)
{
	return op->u.acc.len < op->u.acc.cap ||
	       weft__ring_grow((void **)&op->u.acc.fds, &op->u.acc.head,
			       &op->u.acc.cap, op->u.acc.len,
			       sizeof(*op->u.acc.fds), WEFT__ACCEPT_HIGH);
}

int weft__accept_complete_locked(struct weft__reactor *r, struct weft__op *op,
				 int32_t res, bool more, bool *cancel)
{
	uint32_t *len = &op->u.acc.len;

	if (res >= 0) {
		if ((op->flags & WEFT__OPF_GONE) || !accept_queue_room(op))
			return res;
		op->u.acc.fds[(op->u.acc.head + *len) % op->u.acc.cap] = res;
		(*len)++;
		/* backpressure: stop the multishot before the queue fills;
		 * the owner re-arms it when it has drained the queue */
		if (more && *len >= WEFT__ACCEPT_HIGH &&
		    !(op->flags & WEFT__OPF_CANCELING)) {
			op->flags |= WEFT__OPF_CANCELING;
			*cancel = true;
		}
		return -1;
	}
	if (res == -EINVAL && (r->features & WEFT__FEAT_MULTISHOT_ACCEPT)) {
		/* the kernel refused the multishot flag: fall back for good;
		 * the owner's next poll re-arms single-shot */
		r->features &= ~WEFT__FEAT_MULTISHOT_ACCEPT;
		return -1;
	}
	if (res != -ECANCELED && !op->u.acc.err)
		op->u.acc.err = res;
	return -1;
}

void weft__accept_release(struct weft__op *op)
{
	for (uint32_t i = 0; i < op->u.acc.len; i++)
		close(op->u.acc.fds[(op->u.acc.head + i) % op->u.acc.cap]);
	free(op->u.acc.fds);
}

/* ------------------------------------------------------------ the future */

void weft_listener_accept_init(weft_listener_accept *a, weft_listener *l)
{
	WEFT_DEBUG_CHECK(!a->backoff.op, "weft_listener_accept_init",
			 "the accept is still waiting out a back-off (its "
			 "timer would leak); call weft_listener_accept_drop "
			 "first");
	a->l = l;
	a->stream = NULL;
	a->res = 0;
	a->backing_off = false;
	weft_sleep_until_init(&a->backoff, 0);
}

void weft_listener_accept_drop(weft_listener_accept *a)
{
	weft_sleep_drop(&a->backoff);
	a->backing_off = false;
}

static bool is_resource_error(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS ||
	       err == -ENOMEM;
}

static struct weft__op *accept_record(struct weft__fd *f, weft_cx *cx)
{
	struct weft__reactor *r;
	struct weft__op *op;

	if (f->acc)
		return f->acc;
	r = weft__reactor_of(cx);
	if (!r)
		return NULL;
	op = weft__op_alloc(r, WEFT__OP_ACCEPT, f, 0);
	if (!op)
		return NULL;
	io_uring_prep_accept(&op->sqe, f->fd, NULL, NULL, SOCK_CLOEXEC);
	f->acc = op;
	return op;
}

/* One look at the queue; lock held by the caller. Returns 1 with a
 * stream or an error in a, 0 to wait; *push when a re-arm must be pushed. */
static int accept_take_locked(weft_listener_accept *a, struct weft__fd *f,
			      struct weft__op *op, bool *push)
{
	if (op->u.acc.len) {
		int fd = op->u.acc.fds[op->u.acc.head];

		op->u.acc.head = (op->u.acc.head + 1) % op->u.acc.cap;
		op->u.acc.len--;
		f->backoff_ms = 0;
		a->stream = (weft_stream *)weft__fd_new(fd, f->domain);
		a->res = a->stream ? 0 : -ENOMEM;
		return 1;
	}
	if (op->u.acc.err) {
		a->res = op->u.acc.err;
		op->u.acc.err = 0;
		if (is_resource_error((int)a->res)) {
			f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2
						      : BACKOFF_MIN_MS;
			if (f->backoff_ms > BACKOFF_MAX_MS)
				f->backoff_ms = BACKOFF_MAX_MS;
			f->backoff_until = weft_now() +
					   (uint64_t)f->backoff_ms * WEFT_MS;
		}
		return 1;
	}
	if (!(op->flags & WEFT__OPF_ARMED) && op->u.acc.len < WEFT__ACCEPT_HIGH &&
	    weft_now() >= f->backoff_until)
		*push = weft__op_want_locked(op);
	return 0;
}

weft_poll weft_listener_accept_poll(weft_listener_accept *a, weft_cx *cx)
{
	struct weft__fd *f = FD_OF(a->l);
	struct weft__op *op;
	bool push = false, armed;
	int got;

	if (!f) {
		a->res = -EINVAL;
		return WEFT_READY;
	}
	if (a->backing_off) {
		if (weft_sleep_poll(&a->backoff, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		a->backing_off = false;
	}
	op = accept_record(f, cx);
	if (!op) {
		a->res = weft__reactor_of(cx) ? -ENOMEM : -ENODEV;
		return WEFT_READY;
	}
	weft__op_lock(op);
	if ((op->u.acc.len || op->u.acc.err) && cx->budget == 0) {
		/* out of coop budget: yield before taking anything, so that
		 * nothing taken is lost */
		weft__op_unlock(op);
		weft_cx_yield(cx);
		return WEFT_PENDING;
	}
	got = accept_take_locked(a, f, op, &push);
	if (!got)
		weft_waker_register(&op->waker, cx);
	armed = op->flags & (WEFT__OPF_ARMED | WEFT__OPF_QUEUED);
	weft__op_unlock(op);
	if (push)
		weft__reactor_push(op->r, op);
	if (got) {
		weft_coop_proceed(cx); /* budget checked above: spends one */
		return WEFT_READY;
	}
	if (!armed && !push) {
		/* backing off: wake up when the re-arm is due */
		weft_sleep_until_init(&a->backoff, f->backoff_until);
		a->backing_off = true;
		if (weft_sleep_poll(&a->backoff, cx) == WEFT_READY)
			a->backing_off = false;
		if (!a->backing_off)
			return weft_listener_accept_poll(a, cx);
	}
	return WEFT_PENDING;
}

WEFT_FUTURE_DEFINE(weft_listener_accept, weft_listener_accept_drop);
