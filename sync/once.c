/* sync/once.c - the once cell (weft/once.h).
 *
 * State (one atomic word, changed under the cell's lock):
 *   EMPTY         no value; the next get_or_init to take the lock becomes
 *                 the initialiser (state INIT, its `running` set)
 *   INIT          one get_or_init is polling its init child; the others
 *                 queue on `waiters` with their wakers
 *   SET           `value` holds the value, for good
 * The initialiser that finishes (or is dropped) takes the lock, moves to
 * SET or back to EMPTY, and wakes every waiter outside the lock (sync/
 * wait.h's rule: wakers are never called with a lock held): after SET
 * they read the value, after EMPTY the first one polled becomes the next
 * initialiser and the others queue again. Waking them all on a failure
 * (not one) means a waiter dropped meanwhile cannot strand the turn.
 *
 * Pairs: the release store of SET (under the lock) -> the acquire load of
 * `state` in weft_once_cell_get and get_or_init's fast path: the value is
 * written before SET, and never again.
 */
#include <errno.h>
#include <stddef.h>

#include "sync/wait.h"
#include "weft/once.h"

enum { ONCE_EMPTY = 0, ONCE_INIT = 1, ONCE_SET = 2 };

typedef weft_once_cell_get_or_init goi;

static goi *goi_of(weft__wlink *l)
{
	return (goi *)(void *)((char *)l - offsetof(goi, link));
}

int weft_once_cell_init(weft_once_cell *c, void (*value_drop)(intptr_t))
{
	if (!c)
		return -EINVAL;
	weft__lock_init(&c->lock);
	/* relaxed: initialisation, published by whatever shares the cell */
	atomic_store_explicit(&c->state, ONCE_EMPTY, memory_order_relaxed);
	c->value = 0;
	c->value_drop = value_drop;
	weft__list_init(&c->waiters);
	return 0;
}

void weft_once_cell_destroy(weft_once_cell *c)
{
	if (!c)
		return;
	WEFT_DEBUG_CHECK(weft__list_empty(&c->waiters),
			 "weft_once_cell_destroy",
			 "a get_or_init still waits on the cell: drop it first");
	/* relaxed: the owner destroys it; nothing runs concurrently */
	if (atomic_load_explicit(&c->state, memory_order_relaxed) ==
		    ONCE_SET &&
	    c->value_drop)
		c->value_drop(c->value);
	atomic_store_explicit(&c->state, ONCE_EMPTY, memory_order_relaxed);
}

bool weft_once_cell_get(weft_once_cell *c, intptr_t *value)
{
	/* acquire: the value written before SET (file comment) */
	if (!c || atomic_load_explicit(&c->state, memory_order_acquire) !=
			  ONCE_SET)
		return false;
	if (value)
		*value = c->value;
	return true;
}

/* Wakes every queued get_or_init, WEFT__BATCH at a time outside the lock;
 * called with the lock held, returns with it released. */
static void wake_all_unlock(weft_once_cell *c)
{
	for (;;) {
		weft_waker batch[WEFT__BATCH];
		unsigned n = 0;

		while (n < WEFT__BATCH && !weft__list_empty(&c->waiters)) {
			goi *w = goi_of(c->waiters.next);

			weft__list_unlink(&w->link);
			w->queued = false;
			batch[n++] = w->waker;
			w->waker = WEFT_WAKER_NONE;
		}
		weft__lock_release(&c->lock);
		for (unsigned i = 0; i < n; i++)
			weft_waker_wake(&batch[i]);
		if (n < WEFT__BATCH)
			return;
		weft__lock_acquire(&c->lock);
	}
}

/* The initialiser's end: SET with value (res >= 0) or back to EMPTY. */
static void finish_init(weft_once_cell *c, intptr_t res)
{
	weft__lock_acquire(&c->lock);
	if (res >= 0)
		c->value = res;
	/* release: the value before SET (file comment) */
	atomic_store_explicit(&c->state, res >= 0 ? ONCE_SET : ONCE_EMPTY,
			      memory_order_release);
	wake_all_unlock(c);
}

int weft_once_cell_set(weft_once_cell *c, intptr_t value)
{
	uint32_t s;

	if (!c || value < 0)
		return -EINVAL;
	weft__lock_acquire(&c->lock);
	/* relaxed: under the lock, which orders every change of state */
	s = atomic_load_explicit(&c->state, memory_order_relaxed);
	if (s != ONCE_EMPTY) {
		weft__lock_release(&c->lock);
		return s == ONCE_SET ? -EEXIST : -EBUSY;
	}
	c->value = value;
	/* release: as finish_init */
	atomic_store_explicit(&c->state, ONCE_SET, memory_order_release);
	wake_all_unlock(c);
	return 0;
}

void weft_once_cell_get_or_init_init(goi *f, weft_once_cell *cell,
				     weft_branch init)
{
	WEFT_DEBUG_CHECK(!f->registered && !f->running,
			 "weft_once_cell_get_or_init_init",
			 "the get_or_init is still registered with its cell: "
			 "drop it before initialising it again");
	f->cell = cell;
	f->init = init;
	f->link.prev = f->link.next = &f->link;
	f->waker = WEFT_WAKER_NONE;
	f->queued = false;
	f->registered = false;
	f->running = false;
	f->done = false;
	f->res = 0;
}

/* Under the lock: leaves the wait list if queued. */
static void leave_locked(goi *f)
{
	if (f->queued) {
		weft__list_unlink(&f->link);
		f->queued = false;
	}
	weft_waker_drop(&f->waker);
}

static weft_poll ready(goi *f, intptr_t res)
{
	f->res = res;
	f->done = true;
	f->registered = false;
	return WEFT_READY;
}

static weft_poll run_init(goi *f, weft_cx *cx)
{
	weft_branch *b = &f->init;
	intptr_t res;

	if (b->type->poll(b->fut, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	b->done = true;
	res = weft_future_res(b->type, b->fut);
	f->running = false;
	finish_init(f->cell, res);
	return ready(f, res);
}

weft_poll weft_once_cell_get_or_init_poll(goi *f, weft_cx *cx)
{
	weft_once_cell *c = f->cell;
	uint32_t s;

	if (f->done)
		return WEFT_READY;
	if (!c || !f->init.type) {
		f->res = -EINVAL;
		f->done = true;
		return WEFT_READY;
	}
	if (f->running)
		return run_init(f, cx);
	/* acquire: as weft_once_cell_get */
	if (!f->registered &&
	    atomic_load_explicit(&c->state, memory_order_acquire) == ONCE_SET)
		return ready(f, c->value);
	weft__lock_acquire(&c->lock);
	/* relaxed: under the lock */
	s = atomic_load_explicit(&c->state, memory_order_relaxed);
	if (s == ONCE_SET) {
		leave_locked(f);
		weft__lock_release(&c->lock);
		return ready(f, c->value);
	}
	if (s == ONCE_EMPTY) {
		/* our turn */
		atomic_store_explicit(&c->state, ONCE_INIT,
				      memory_order_relaxed);
		leave_locked(f);
		f->running = true;
		weft__lock_release(&c->lock);
		return run_init(f, cx);
	}
	weft_waker_register(&f->waker, cx);
	if (!f->queued) {
		weft__list_push_back(&c->waiters, &f->link);
		f->queued = true;
		f->registered = true;
	}
	weft__lock_release(&c->lock);
	return WEFT_PENDING;
}

void weft_once_cell_get_or_init_drop(goi *f)
{
	weft_once_cell *c = f->cell;
	weft_branch *b = &f->init;

	if (!c)
		return;
	if (f->running) {
		/* dropped mid-init: the child goes, the turn passes on */
		if (!b->done && !b->dropped && !b->keep && b->type->drop)
			b->type->drop(b->fut);
		b->done = b->dropped = true;
		f->running = false;
		finish_init(c, -ECANCELED);
		return;
	}
	if (f->registered && !f->done) {
		weft__lock_acquire(&c->lock);
		leave_locked(f);
		weft__lock_release(&c->lock);
	}
	f->registered = false;
}

WEFT_FUTURE_DEFINE(weft_once_cell_get_or_init,
		   weft_once_cell_get_or_init_drop);
