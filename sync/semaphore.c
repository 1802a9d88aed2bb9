/* sync/semaphore.c - the fair counting semaphore.
 *
 * State word: permits << 2 | WAITERS | CLOSED.
 *  - WAITERS is set exactly while the wait list is not empty, and only
 *    under s->lock. While it is set, every change of the word happens under
 *    the lock: lock-free acquirers back off to the queue (no barging) and
 *    releasers take the lock to hand permits to the queue.
 *  - While it is clear, try_acquire and release change the word by CAS
 *    without the lock. A waiter sets WAITERS by CAS (under the lock) after
 *    seeing too few permits, so a concurrent lock-free release either lands
 *    before that CAS (the waiter sees the permits and takes them) or fails
 *    its own CAS and retries through the lock: no lost wakeup.
 * Grants: under the lock, free permits go to the oldest waiter's `arg`
 * (permits still owed), in part if needed; a waiter owed nothing is popped
 * and woken (weft__waiter_wake_locked). FIFO: a later waiter never receives
 * permits while an earlier one is owed.
 *
 * Pairs: a releaser's release CAS -> the acquirer's acquire CAS on the word
 * (what the permit holder did before releasing happens before the next
 * holder's critical section); weft__waiter_wake_locked()'s release store
 * -> weft__waiter_state()'s acquire for granted waiters.
 */
#include <errno.h>
#include <stdatomic.h>

#include "weft/semaphore.h"
#include "sem.h"
#include "wait.h"

#define SEM_CLOSED 1u
#define SEM_WAITERS 2u
#define SEM_SHIFT 2

static inline uint64_t sem_permits(uint64_t w)
{
	return w >> SEM_SHIFT;
}

int weft_semaphore_init(weft_semaphore *s, uint64_t permits)
{
	if (!s || permits > WEFT_SEMAPHORE_MAX)
		return -EINVAL;
	/* relaxed: initialisation, published by sharing s */
	atomic_store_explicit(&s->state, permits << SEM_SHIFT,
			      memory_order_relaxed);
	weft__lock_init(&s->lock);
	weft__list_init(&s->waiters);
	return 0;
}

void weft_semaphore_destroy(weft_semaphore *s)
{
	(void)s;
}

int weft_semaphore_try_acquire(weft_semaphore *s, uint64_t n)
{
	/* relaxed: the CAS below orders */
	uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);

	if (n == 0 || n > WEFT_SEMAPHORE_MAX)
		return -EINVAL;
	for (;;) {
		if (w & SEM_CLOSED)
			return -EPIPE;
		if ((w & SEM_WAITERS) || sem_permits(w) < n)
			return -EAGAIN;
		/* acquire: pairs with the release CAS of the releaser whose
		 * permits we take */
		if (atomic_compare_exchange_weak_explicit(
			    &s->state, &w, w - (n << SEM_SHIFT),
			    memory_order_acquire, memory_order_relaxed))
			return 0;
	}
}

/* Lock held: adds `add` permits and hands the free ones to waiters,
 * oldest first, until the batch is full. */
static void sem_grant_locked(weft_semaphore *s, uint64_t add,
			     weft__wake_batch *b)
{
	weft__wlink *h = &s->waiters;
	uint64_t w, avail;

	if (weft__list_empty(h)) {
		/* WAITERS is clear, so lock-free CASes may race: add
		 * atomically. release: publishes the releaser's critical
		 * section to the acquire CAS that takes these permits */
		atomic_fetch_add_explicit(&s->state, add << SEM_SHIFT,
					  memory_order_release);
		return;
	}
	/* WAITERS is set: nobody changes the word without the lock */
	w = atomic_load_explicit(&s->state, memory_order_relaxed);
	avail = sem_permits(w) + add;
	while (!weft__list_empty(h) && avail && !weft__batch_full(b)) {
		weft__waiter *x = (weft__waiter *)h->next;
		uint64_t give = avail < x->arg ? avail : x->arg;

		x->arg -= (uint32_t)give;
		avail -= give;
		if (x->arg == 0) {
			weft__list_unlink(&x->link);
			weft__waiter_wake_locked(x, WEFT__W_WOKEN, b);
		}
	}
	/* release: as above, for lock-free acquirers once WAITERS clears */
	atomic_store_explicit(&s->state,
			      (avail << SEM_SHIFT) | (w & SEM_CLOSED) |
				      (weft__list_empty(h) ? 0 : SEM_WAITERS),
			      memory_order_release);
}

/* Lock held on entry, released on return: adds permits and wakes every
 * waiter they satisfy, a batch at a time. */
static void sem_release_unlock(weft_semaphore *s, uint64_t add)
{
	weft__wake_batch b;

	weft__batch_init(&b);
	for (;;) {
		sem_grant_locked(s, add, &b);
		add = 0;
		bool more = weft__batch_full(&b);

		weft__lock_release(&s->lock);
		weft__batch_wake(&b);
		if (!more)
			return;
		weft__lock_acquire(&s->lock);
	}
}

int weft_semaphore_release(weft_semaphore *s, uint64_t n)
{
	/* relaxed: the CAS orders */
	uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);

	if (n == 0)
		return 0;
	for (;;) {
		if (n > WEFT_SEMAPHORE_MAX - sem_permits(w))
			return -EOVERFLOW;
		if (w & SEM_WAITERS)
			break;
		/* release: publishes our critical section to the next
		 * acquirer's acquire CAS */
		if (atomic_compare_exchange_weak_explicit(
			    &s->state, &w, w + (n << SEM_SHIFT),
			    memory_order_release, memory_order_relaxed))
			return 0;
	}
	weft__lock_acquire(&s->lock);
	sem_release_unlock(s, n);
	return 0;
}

void weft_semaphore_close(weft_semaphore *s)
{
	weft__wlink *h = &s->waiters;
	uint64_t back = 0;

	weft__lock_acquire(&s->lock);
	/* partial grants go back to the word */
	for (weft__wlink *l = h->next; l != h; l = l->next) {
		weft_semaphore_acquire *a = (weft_semaphore_acquire *)l;

		back += a->n - a->w.arg;
	}
	/* acq_rel: WAITERS may be clear (lock-free CASes race), so RMW;
	 * release publishes CLOSED to acquirers' loads */
	uint64_t w = atomic_fetch_or_explicit(&s->state, SEM_CLOSED,
					      memory_order_acq_rel);
	w |= SEM_CLOSED;
	if (!weft__list_empty(h)) {
		atomic_store_explicit(&s->state,
				      (w & ~(uint64_t)SEM_WAITERS) +
					      (back << SEM_SHIFT),
				      memory_order_release);
	}
	weft__wake_all_unlock(&s->lock, h, WEFT__W_CLOSED);
}

bool weft_semaphore_is_closed(const weft_semaphore *s)
{
	/* acquire: pairs with close's release */
	return atomic_load_explicit(&((weft_semaphore *)s)->state,
				    memory_order_acquire) & SEM_CLOSED;
}

uint64_t weft_semaphore_available(const weft_semaphore *s)
{
	/* relaxed: a snapshot */
	return sem_permits(atomic_load_explicit(&((weft_semaphore *)s)->state,
						memory_order_relaxed));
}

void weft__semaphore_acquire_setup(weft_semaphore_acquire *a,
				   weft_semaphore *s, uint32_t n,
				   const char *where, const char *what)
{
	WEFT__WAITER_CHECK_INIT(&a->w, where, what);
	weft__waiter_init(&a->w, n);
	a->s = s;
	a->n = n;
	a->res = 0;
}

void weft_semaphore_acquire_init(weft_semaphore_acquire *a, weft_semaphore *s,
				 uint32_t n)
{
	weft__semaphore_acquire_setup(a, s, n, "weft_semaphore_acquire_init",
		"the acquire is still registered (queued, or granted and not "
		"yet polled): call weft_semaphore_acquire_drop before "
		"initialising it again");
}

/* Lock held: takes n permits if nobody waits, else queues a. Returns 0,
 * -EPIPE, or 1 when queued. */
static int sem_take_or_queue_locked(weft_semaphore *s, weft_semaphore_acquire *a,
				    const weft_cx *cx)
{
	uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);

	for (;;) {
		uint64_t to;

		if (w & SEM_CLOSED)
			return -EPIPE;
		if (!(w & SEM_WAITERS) && sem_permits(w) >= a->n)
			to = w - ((uint64_t)a->n << SEM_SHIFT);
		else
			to = w | SEM_WAITERS;
		/* acq_rel: acquire pairs with the releaser whose permits we
		 * take; setting WAITERS must be one step with the permit
		 * check (see the file comment) */
		if (atomic_compare_exchange_weak_explicit(
			    &s->state, &w, to, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (!(w & SEM_WAITERS) && sem_permits(w) >= a->n)
		return 0;
	weft__waiter_enqueue_locked(&s->waiters, &a->w, cx);
	return 1;
}

static weft_poll sem_first_poll(weft_semaphore_acquire *a, weft_cx *cx)
{
	weft_semaphore *s = a->s;
	int r;

	if (a->n == 0) {
		a->res = -EINVAL;
		return WEFT_READY;
	}
	if (!weft_coop_proceed(cx))
		return WEFT_PENDING;
	r = weft_semaphore_try_acquire(s, a->n);
	if (r != -EAGAIN) {
		a->res = r;
		return WEFT_READY;
	}
	weft__lock_acquire(&s->lock);
	r = sem_take_or_queue_locked(s, a, cx);
	weft__lock_release(&s->lock);
	if (r == 1)
		return WEFT_PENDING;
	a->res = r;
	return WEFT_READY;
}

weft_poll weft_semaphore_acquire_poll(weft_semaphore_acquire *a, weft_cx *cx)
{
	weft_poll p = WEFT_READY;

	switch (weft__waiter_state(&a->w)) {
	case WEFT__W_IDLE:
		p = sem_first_poll(a, cx);
		break;
	case WEFT__W_QUEUED:
		weft__lock_acquire(&a->s->lock);
		if (weft__waiter_state(&a->w) == WEFT__W_QUEUED) {
			weft_waker_register(&a->w.waker, cx);
			weft__lock_release(&a->s->lock);
			return WEFT_PENDING;
		}
		weft__lock_release(&a->s->lock);
		return weft_semaphore_acquire_poll(a, cx);
	case WEFT__W_WOKEN:
		a->res = 0;
		break;
	case WEFT__W_CLOSED:
		a->res = -EPIPE;
		break;
	default:
		return WEFT_READY;
	}
	if (p == WEFT_READY)
		weft__waiter_set_state(&a->w, WEFT__W_DONE);
	return p;
}

void weft_semaphore_acquire_drop(weft_semaphore_acquire *a)
{
	weft_semaphore *s = a->s;
	uint32_t st = weft__waiter_state(&a->w);

	/* IDLE (never polled) or DONE (READY, or dropped): nothing held */

	if (st == WEFT__W_QUEUED) {
		weft__lock_acquire(&s->lock);
		st = weft__waiter_state(&a->w);
		if (st == WEFT__W_QUEUED) {
			uint64_t granted = a->n - a->w.arg;

			weft__list_unlink(&a->w.link);
			weft_waker_drop(&a->w.waker);
			weft__waiter_set_state(&a->w, WEFT__W_DONE);
			if (weft__list_empty(&s->waiters)) {
				/* last waiter: clear WAITERS, under the lock
				 * (acq_rel as in the CASes) */
				atomic_fetch_and_explicit(&s->state,
							  ~(uint64_t)SEM_WAITERS,
							  memory_order_acq_rel);
			}
			/* our partial grant may satisfy the next waiter */
			sem_release_unlock(s, granted);
			return;
		}
		weft__lock_release(&s->lock);
	}
	weft__waiter_set_state(&a->w, WEFT__W_DONE);
	if (st == WEFT__W_WOKEN) /* granted, never returned READY */
		weft_semaphore_release(s, a->n);
}

WEFT_FUTURE_DEFINE(weft_semaphore_acquire, weft_semaphore_acquire_drop);
