/* runtime/join.c - join handles: the join waker slot, waiting for a task's
 * end (weft_join_wait), abort, is_finished, drop.
 *
 * The join waker slot is one word (the header is 56 bytes so that a
 * 56-byte frame fits jemalloc's 112-byte class: idle_memory). A joiner
 * whose waker is a task's (a task awaiting the join, the common case) is
 * stored as that task's pointer tagged WEFT__JW_TASK, holding the
 * reference a clone would hold: no allocation. Any other waker (block_on's
 * parker, a foreign executor's) is cloned into a box from the runtime's
 * allocator, freed when the waker is replaced, dropped or the task freed.
 * If the box cannot be allocated, join_set_waker wakes the joiner at once
 * and reports PENDING: the joiner polls again, nothing is lost. 0 = empty.
 * Who may touch the slot is decided by JOIN_WAKER alone (internal.h): the
 * handle while the bit is clear, the task side after.
 *
 * The state transitions and memory-order pairs named here are task.c's.
 */
#include <errno.h>
#include <string.h>

#include "runtime/task.h"

/* ---------------------------------------------------- join waker slot */

/* Only the side that JOIN_WAKER currently gives the slot to calls these. */

/* Stores a clone of w in t's slot (empty before). Returns false, storing
 * nothing, if w needs a box and none could be allocated. */
static bool join_waker_store(struct weft__task *t, const weft_waker *w)
{
	weft_waker *box;

	if (w->vt == &weft__task_waker_vt) {
		/* the reference task_waker_clone would take */
		weft__task_ref_inc(w->data);
		t->join_waker = (uintptr_t)w->data | WEFT__JW_TASK;
		return true;
	}
	if (!w->vt) {
		t->join_waker = 0;
		return true;
	}
	box = weft__alloc(weft__task_rt(t), sizeof(*box));
	if (!box)
		return false;
	*box = weft_waker_clone(w);
	t->join_waker = (uintptr_t)box;
	return true;
}

/* Releases what t's slot holds and empties it. */
void weft__join_waker_drop(struct weft__task *t)
{
	uintptr_t jw = t->join_waker;
	weft_waker *box = (weft_waker *)jw;

	t->join_waker = 0;
	if (jw & WEFT__JW_EXT) {
		/* not the slot's: its owner (group.c) frees it */
	} else if (jw & WEFT__JW_TASK) {
		weft__task_ref_dec(weft__jw_task(jw));
	} else if (jw) {
		weft_waker_drop(box);
		weft__free(weft__task_rt(t), box, sizeof(*box));
	}
}

static bool join_waker_will_wake(uintptr_t jw, const weft_waker *w)
{
	if (jw & WEFT__JW_EXT)
		return false;
	if (jw & WEFT__JW_TASK)
		return w->vt == &weft__task_waker_vt &&
		       w->data == weft__jw_task(jw);
	if (jw)
		return weft_waker_will_wake((const weft_waker *)jw, w);
	return !w->vt;
}

/* Wakes the joiner whose waker t's slot holds (shutdown's cancel path;
 * the caller saw JOIN_INTEREST | JOIN_WAKER with acquire). */
void weft__task_wake_joiner(struct weft__task *t)
{
	weft__join_waker_wake_by_ref(t, t->join_waker);
}

bool weft__join_set_ext(struct weft__task *t, struct weft__jw_ext *ext)
{
	uint64_t s;

	t->join_waker = (uintptr_t)ext | WEFT__JW_EXT;
	s = atomic_load_explicit(&t->state, memory_order_relaxed);
	for (;;) {
		if (s & WEFT__COMPLETE) {
			t->join_waker = 0;
			return false;
		}
		/* release: pair 2; acquire on failure: pair 1 if COMPLETE */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, s | WEFT__JOIN_WAKER,
			    memory_order_release, memory_order_acquire))
			return true;
	}
}

bool weft__join_take_ext(struct weft__task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);

	for (;;) {
		if (s & WEFT__COMPLETE)
			return false;
		/* acquire: the slot is ours again */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, s & ~WEFT__JOIN_WAKER,
			    memory_order_acquire, memory_order_relaxed))
			break;
	}
	t->join_waker = 0;
	return true;
}

/* ---------------------------------------------------------- join handle */

/* Installs cx's waker as the join waker. Returns false if the task
 * completed meanwhile (then the caller reads the output). When no box can
 * be allocated for the waker it wakes cx's waker instead and returns true
 * (PENDING): the joiner polls again. */
static bool join_set_waker(struct weft__task *t, const weft_cx *cx)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);

	if (s & WEFT__COMPLETE)
		return false;
	if (s & WEFT__JOIN_WAKER) {
		if (join_waker_will_wake(t->join_waker, &cx->waker))
			return true;
		/* take the slot back; fails if the task completed */
		for (;;) {
			if (s & WEFT__COMPLETE)
				return false;
			/* acquire: the slot is ours again */
			if (atomic_compare_exchange_weak_explicit(
				    &t->state, &s, s & ~WEFT__JOIN_WAKER,
				    memory_order_acquire, memory_order_acquire))
				break;
		}
		weft__join_waker_drop(t);
	}
	if (!join_waker_store(t, &cx->waker)) {
		/* no JOIN_WAKER, so the task will wake nobody: have the
		 * joiner poll again rather than sleep unwoken */
		weft_waker_wake_by_ref(&cx->waker);
		return true;
	}
	s = atomic_load_explicit(&t->state, memory_order_relaxed);
	for (;;) {
		if (s & WEFT__COMPLETE) {
			weft__join_waker_drop(t);
			return false;
		}
		/* release: pair 2; acquire on failure: pair 1 if COMPLETE */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, s | WEFT__JOIN_WAKER,
			    memory_order_release, memory_order_acquire))
			return true;
	}
}

void weft_join_wait_init(weft_join_wait *w, weft_join *j)
{
	w->j = j;
	w->res = 0;
}

weft_poll weft_join_wait_poll(weft_join_wait *w, weft_cx *cx)
{
	struct weft__task *t = weft__join_task(w->j);
	uint64_t s;
	intptr_t v;

	if (!t) {
		w->res = -EINVAL;
		return WEFT_READY;
	}
	/* acquire: pair 1 */
	s = atomic_load_explicit(&t->state, memory_order_acquire);
	if (!(s & WEFT__COMPLETE)) {
		if (join_set_waker(t, cx))
			return WEFT_PENDING;
		s = atomic_load_explicit(&t->state, memory_order_acquire);
	}
	if (s & WEFT__JOIN_TAKEN) {
		w->res = -EINVAL;
		return WEFT_READY;
	}
	/* relaxed: only the handle's owner sets JOIN_TAKEN */
	atomic_fetch_or_explicit(&t->state, WEFT__JOIN_TAKEN,
				 memory_order_relaxed);
	if (s & WEFT__CANCELLED) {
		w->res = -ECANCELED;
		return WEFT_READY;
	}
	memcpy(&v, weft__task_frame(t), sizeof(v));
	w->res = v;
	return WEFT_READY;
}

void weft_join_wait_drop(weft_join_wait *w)
{
	(void)w;
}

WEFT_FUTURE_DEFINE(weft_join_wait, weft_join_wait_drop);

bool weft_join_is_finished(const weft_join *j)
{
	const struct weft__task *t = weft__join_task(j);

	return t && (atomic_load_explicit(&((struct weft__task *)t)->state,
					  memory_order_acquire) &
		     WEFT__COMPLETE);
}

void weft_join_abort(weft_join *j)
{
	struct weft__task *t = weft__join_task(j);
	uint64_t s, n;
	bool submit;

	if (!t)
		return;
	s = atomic_load_explicit(&t->state, memory_order_relaxed);
	for (;;) {
		submit = false;
		if (s & (WEFT__COMPLETE | WEFT__CANCELLED))
			return;
		if (s & WEFT__RUNNING)
			n = s | WEFT__CANCELLED | WEFT__NOTIFIED;
		else if (s & WEFT__NOTIFIED)
			n = s | WEFT__CANCELLED;
		else {
			n = (s | WEFT__CANCELLED | WEFT__NOTIFIED) +
			    WEFT__REF_ONE;
			submit = true;
		}
		/* acq_rel: as a wake (pair 4) */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (submit)
		weft__worker_schedule(t, true);
}

void weft_join_drop(weft_join *j)
{
	struct weft__task *t = weft__join_task(j);
	uint64_t s;

	if (!t)
		return;
	s = atomic_load_explicit(&t->state, memory_order_relaxed);
	for (;;) {
		uint64_t n;

		WEFT_DEBUG_CHECK(s & WEFT__JOIN_INTEREST, "weft_join_drop",
				 "the join handle was already dropped: drop "
				 "each handle once");
		if (s & WEFT__COMPLETE) {
			/* the handle's reference goes and JOIN_INTEREST with
			 * it, in one step (JOIN_INTEREST is set, so the
			 * subtraction clears it): nothing reads the bit once
			 * COMPLETE, and a second drop while the task lives is
			 * then caught above. acq_rel: pair 3 */
			uint64_t prev = atomic_fetch_sub_explicit(
				&t->state, WEFT__REF_ONE + WEFT__JOIN_INTEREST,
				memory_order_acq_rel);

			if (weft__refs(prev) == 1)
				weft__task_dealloc(t);
			return;
		}
		n = s & ~(WEFT__JOIN_INTEREST | WEFT__JOIN_WAKER);
		/* acquire: we may now own join_waker again */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acquire,
			    memory_order_relaxed)) {
			if (s & WEFT__JOIN_WAKER)
				weft__join_waker_drop(t);
			break;
		}
	}
	weft__task_ref_dec(t);
}
