/* sync/watch.c - the latest-value channel.
 *
 * One lock guards the value, the version, the waiter list and the flags.
 * `version` is also read without the lock (acquire) by the fast paths,
 * pairing with the release store in weft_watch_send(), which happens under
 * the lock after the value is copied: a reader that sees version v and
 * then copies under the lock gets a value at least as new as v.
 *
 * send copies the value, bumps the version and wakes every waiter with
 * weft__wake_all_unlock() (each once, outside the lock). Lifetime: `refs`
 * counts the sender and every receiver; the last drop frees.
 *
 * Element destructor (release, optional): send releases the value it
 * replaces, under the lock, before copying the new one in; the free
 * releases the last value. Debug builds abort on a tx_drop that finds
 * tx_gone (while receivers keep the channel alive).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/watch.h"
#include "wait.h"

struct weft_watch {
	weft__lock lock;
	_Atomic uint64_t version; /* written under the lock */
	_Atomic uint32_t refs;    /* sender + receivers */
	uint32_t receivers;       /* lock */
	bool tx_gone;             /* lock */
	uint32_t elem_size;
	void (*release)(void *elem);
	weft__wlink waiters;      /* lock */
	char value[];             /* lock */
};

static void wt_unref(weft_watch *w)
{
	/* acq_rel: the freeing drop sees every other holder's accesses */
	if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
		if (w->release)
			w->release(w->value);
		free(w);
	}
}

static void wt_ref(weft_watch *w)
{
	/* relaxed: taken from a live handle */
	atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
}

int weft_watch_create(weft_watch **tx, weft_watch_rx *rx, size_t elem_size,
		      const void *init, void (*release)(void *elem))
{
	weft_watch *w;

	if (!init || !tx || !rx || elem_size == 0 || elem_size > (1u << 20))
		return -EINVAL;
	w = calloc(1, sizeof(*w) + elem_size);
	if (!w)
		return -ENOMEM;
	weft__lock_init(&w->lock);
	/* relaxed: initialisation, published by returning the handles */
	atomic_store_explicit(&w->version, 0, memory_order_relaxed);
	atomic_store_explicit(&w->refs, 2, memory_order_relaxed);
	w->receivers = 1;
	w->elem_size = (uint32_t)elem_size;
	w->release = release;
	weft__list_init(&w->waiters);
	memcpy(w->value, init, elem_size);
	*tx = w;
	rx->w = w;
	rx->seen = 0;
	return 0;
}

int weft_watch_send(weft_watch *w, const void *value)
{
	if (!w || !value)
		return -EINVAL;
	weft__lock_acquire(&w->lock);
	if (w->receivers == 0) {
		weft__lock_release(&w->lock);
		return -EPIPE;
	}
	if (w->release)
		w->release(w->value); /* the replaced value */
	memcpy(w->value, value, w->elem_size);
	/* release: publishes the new value to the acquire loads in
	 * weft_watch_has_changed() and wt_version() */
	atomic_store_explicit(&w->version,
			      atomic_load_explicit(&w->version,
						   memory_order_relaxed) + 1,
			      memory_order_release);
	weft__wake_all_unlock(&w->lock, &w->waiters, WEFT__W_WOKEN_ALL);
	return 0;
}

void weft_watch_tx_drop(weft_watch *w)
{
	if (!w)
		return;
	weft__lock_acquire(&w->lock);
	WEFT_DEBUG_CHECK(!w->tx_gone, "weft_watch_tx_drop",
		"the sender was already dropped: drop it exactly once");
	w->tx_gone = true;
	/* our reference keeps w alive across the unlocked wake batches */
	weft__wake_all_unlock(&w->lock, &w->waiters, WEFT__W_CLOSED);
	wt_unref(w);
}

void weft_watch_subscribe(weft_watch *w, weft_watch_rx *rx)
{
	wt_ref(w);
	weft__lock_acquire(&w->lock);
	w->receivers++;
	rx->w = w;
	rx->seen = atomic_load_explicit(&w->version, memory_order_relaxed);
	weft__lock_release(&w->lock);
}

void weft_watch_rx_clone(const weft_watch_rx *rx, weft_watch_rx *out)
{
	weft_watch *w = rx->w;

	wt_ref(w);
	weft__lock_acquire(&w->lock);
	w->receivers++;
	weft__lock_release(&w->lock);
	out->w = w;
	out->seen = rx->seen;
}

void weft_watch_rx_drop(weft_watch_rx *rx)
{
	weft_watch *w = rx->w;

	if (!w)
		return;
	weft__lock_acquire(&w->lock);
	w->receivers--;
	weft__lock_release(&w->lock);
	rx->w = NULL;
	wt_unref(w);
}

void weft_watch_borrow(weft_watch_rx *rx, void *out)
{
	weft_watch *w = rx->w;

	weft__lock_acquire(&w->lock);
	memcpy(out, w->value, w->elem_size);
	rx->seen = atomic_load_explicit(&w->version, memory_order_relaxed);
	weft__lock_release(&w->lock);
}

/* acquire: pairs with the release store in weft_watch_send() */
static inline uint64_t wt_version(const weft_watch *w)
{
	return atomic_load_explicit(&((weft_watch *)w)->version,
				    memory_order_acquire);
}

int weft_watch_has_changed(const weft_watch_rx *rx)
{
	weft_watch *w = rx->w;
	bool gone;

	if (wt_version(w) != rx->seen)
		return 1;
	weft__lock_acquire(&w->lock);
	gone = w->tx_gone;
	weft__lock_release(&w->lock);
	/* recheck: a last send may have come just before the drop */
	if (wt_version(w) != rx->seen)
		return 1;
	return gone ? -EPIPE : 0;
}

void weft_watch_changed_init(weft_watch_changed *c, weft_watch_rx *rx)
{
	WEFT__WAITER_CHECK_INIT(&c->w, "weft_watch_changed_init",
		"the wait is still registered (queued, or woken and not yet "
		"polled): call weft_watch_changed_drop before initialising it "
		"again");
	weft__waiter_init(&c->w, 0);
	c->rx = rx;
	c->res = 0;
}

/* Lock held: a newer version (0), sender gone (-EPIPE), or 1. */
static int wt_check_locked(weft_watch_rx *rx)
{
	weft_watch *w = rx->w;
	uint64_t v = atomic_load_explicit(&w->version, memory_order_relaxed);

	if (v != rx->seen) {
		rx->seen = v;
		return 0;
	}
	return w->tx_gone ? -EPIPE : 1;
}

weft_poll weft_watch_changed_poll(weft_watch_changed *c, weft_cx *cx)
{
	weft_watch *w = c->rx->w;
	int r;

	switch (weft__waiter_state(&c->w)) {
	case WEFT__W_IDLE:
		if (wt_version(w) != c->rx->seen && !weft_coop_proceed(cx))
			return WEFT_PENDING;
		/* fall through */
	case WEFT__W_WOKEN_ALL:
	case WEFT__W_CLOSED:
		weft__lock_acquire(&w->lock);
		r = wt_check_locked(c->rx);
		if (r == 1) /* nothing newer: wait */
			weft__waiter_enqueue_locked(&w->waiters, &c->w, cx);
		weft__lock_release(&w->lock);
		if (r == 1)
			return WEFT_PENDING;
		break;
	case WEFT__W_QUEUED:
		weft__lock_acquire(&w->lock);
		if (weft__waiter_state(&c->w) == WEFT__W_QUEUED) {
			weft_waker_register(&c->w.waker, cx);
			weft__lock_release(&w->lock);
			return WEFT_PENDING;
		}
		weft__lock_release(&w->lock);
		return weft_watch_changed_poll(c, cx);
	default:
		return WEFT_READY;
	}
	c->res = r;
	weft__waiter_set_state(&c->w, WEFT__W_DONE);
	return WEFT_READY;
}

void weft_watch_changed_drop(weft_watch_changed *c)
{
	if (weft__waiter_state(&c->w) == WEFT__W_QUEUED) {
		weft_watch *w = c->rx->w;

		weft__lock_acquire(&w->lock);
		if (weft__waiter_state(&c->w) == WEFT__W_QUEUED) {
			weft__list_unlink(&c->w.link);
			weft__lock_release(&w->lock);
			weft_waker_drop(&c->w.waker);
		} else {
			weft__lock_release(&w->lock);
		}
	}
	weft__waiter_set_state(&c->w, WEFT__W_DONE);
}

WEFT_FUTURE_DEFINE(weft_watch_changed, weft_watch_changed_drop);
