/* sync/barrier.c - the reusable barrier.
 *
 * One lock guards `arrived` and the waiter list. An arrival that is not the
 * n-th queues itself (arrived counts queued waiters plus nothing else); the
 * n-th resets `arrived` to 0 and releases the list with
 * weft__wake_all_unlock(), which detaches it first, so arrivals of the next
 * generation queue on a fresh list and are not released by mistake. A
 * queued wait that is dropped unlinks itself and decrements `arrived`
 * under the lock, but only if its generation (w.arg) is still the current
 * one: a waiter of a released generation may still sit QUEUED in the
 * leader's private list while the leader drains it in batches.
 */
#include <errno.h>

#include "weft/barrier.h"
#include "wait.h"

int weft_barrier_init(weft_barrier *b, uint32_t n)
{
	if (!b || !n)
		return -EINVAL;
	weft__lock_init(&b->lock);
	b->n = n;
	b->arrived = 0;
	b->generation = 0;
	weft__list_init(&b->waiters);
	return 0;
}

void weft_barrier_destroy(weft_barrier *b)
{
	(void)b; /* nothing allocated */
}

void weft_barrier_wait_init(weft_barrier_wait *f, weft_barrier *b)
{
	WEFT__WAITER_CHECK_INIT(&f->w, "weft_barrier_wait_init",
		"the wait is still queued (it counts as arrived): call "
		"weft_barrier_wait_drop before initialising it again");
	weft__waiter_init(&f->w, 0);
	f->b = b;
	f->res = 0;
}

weft_poll weft_barrier_wait_poll(weft_barrier_wait *f, weft_cx *cx)
{
	weft_barrier *b = f->b;

	switch (weft__waiter_state(&f->w)) {
	case WEFT__W_IDLE:
		weft__lock_acquire(&b->lock);
		if (++b->arrived < b->n) {
			f->w.arg = b->generation;
			weft__waiter_enqueue_locked(&b->waiters, &f->w, cx);
			weft__lock_release(&b->lock);
			return WEFT_PENDING;
		}
		b->arrived = 0;
		b->generation++;
		f->res = 1; /* the leader */
		weft__wake_all_unlock(&b->lock, &b->waiters, WEFT__W_WOKEN_ALL);
		break;
	case WEFT__W_QUEUED:
		weft__lock_acquire(&b->lock);
		if (weft__waiter_state(&f->w) == WEFT__W_QUEUED) {
			weft_waker_register(&f->w.waker, cx);
			weft__lock_release(&b->lock);
			return WEFT_PENDING;
		}
		weft__lock_release(&b->lock);
		break;
	default:
		break;
	}
	weft__waiter_set_state(&f->w, WEFT__W_DONE);
	return WEFT_READY;
}

void weft_barrier_wait_drop(weft_barrier_wait *f)
{
	if (weft__waiter_state(&f->w) == WEFT__W_QUEUED) {
		weft_barrier *b = f->b;

		weft__lock_acquire(&b->lock);
		if (weft__waiter_state(&f->w) == WEFT__W_QUEUED) {
			weft__list_unlink(&f->w.link);
			/* still queued but maybe already released (the leader
			 * is draining its batches): only un-arrive if our
			 * generation is the current one */
			if (f->w.arg == b->generation)
				b->arrived--;
			weft__lock_release(&b->lock);
			weft_waker_drop(&f->w.waker);
		} else {
			weft__lock_release(&b->lock);
		}
	}
	weft__waiter_set_state(&f->w, WEFT__W_DONE);
}

WEFT_FUTURE_DEFINE(weft_barrier_wait, weft_barrier_wait_drop);
