/* runtime/waker.c - the task waker and the wake batch.
 *
 * A task's waker is {&weft__task_waker_vt, task}; each clone holds one
 * reference on the task. Waking follows the wake transitions of the state
 * word (task.c): an idle task becomes NOTIFIED and is queued, a running
 * one is marked NOTIFIED and re-queued after its poll, a NOTIFIED or
 * COMPLETE one is left as it is.
 *
 * The wake batch serves a thread that is not a worker (an I/O driver's,
 * runtime/driver.h, which reaches these functions through the host table
 * runtime.c gives it): tasks it wakes are made NOTIFIED and linked into
 * the batch, and one flush hands them all to the injector (one lock) and
 * unparks at most one sleeping worker.
 */
#include "runtime/task.h"

/* Returns true if the task must be queued (the caller's ref goes with it
 * when by_val, or a new ref was added when !by_val). */
static inline bool wake_transition(struct weft__task *t, bool by_val,
				   bool *dealloc)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint64_t n;
	bool submit;

	*dealloc = false;
	for (;;) {
		if (s & (WEFT__COMPLETE | WEFT__NOTIFIED)) {
			n = by_val ? s - WEFT__REF_ONE : s;
			submit = false;
		} else if (s & WEFT__RUNNING) {
			n = (s | WEFT__NOTIFIED) - (by_val ? WEFT__REF_ONE : 0);
			submit = false;
		} else {
			n = (s | WEFT__NOTIFIED) + (by_val ? 0 : WEFT__REF_ONE);
			submit = true;
		}
		if (n == s)
			return false;
		/* acq_rel: pair 4 (release), and pair 3 when dropping a ref
		 * (task.c) */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (!submit && by_val && weft__refs(n) == 0)
		*dealloc = true;
	return submit;
}

static weft_waker task_waker_clone(const void *data)
{
	struct weft__task *t = (struct weft__task *)(uintptr_t)data;

	weft__task_ref_inc(t);
	return (weft_waker){ &weft__task_waker_vt, t };
}

static void task_waker_wake(void *data)
{
	struct weft__task *t = data;
	bool dealloc;

	if (wake_transition(t, true, &dealloc))
		weft__worker_schedule(t, false);
	else if (dealloc)
		weft__task_dealloc(t);
}

static void task_waker_wake_by_ref(const void *data)
{
	struct weft__task *t = (struct weft__task *)(uintptr_t)data;
	bool dealloc;

	if (wake_transition(t, false, &dealloc))
		weft__worker_schedule(t, false);
}

void weft__task_wake_by_ref(struct weft__task *t)
{
	task_waker_wake_by_ref(t);
}

static void task_waker_drop(void *data)
{
	weft__task_ref_dec(data);
}

const weft_waker_vtable weft__task_waker_vt = {
	.clone = task_waker_clone,
	.wake = task_waker_wake,
	.wake_by_ref = task_waker_wake_by_ref,
	.drop = task_waker_drop,
};

/* ---------------------------------------------------------- wake batch */

static void batch_append(struct weft__wake_batch *b, struct weft__task *t)
{
	t->next = NULL;
	if (b->tail)
		((struct weft__task *)b->tail)->next = t;
	else
		b->head = t;
	b->tail = t;
	b->n++;
}

static bool is_task_of(const weft_waker *w, weft_rt *rt)
{
	return w->vt == &weft__task_waker_vt &&
	       weft__task_rt((const struct weft__task *)w->data) == rt;
}

void weft__rt_batch_add(struct weft__wake_batch *b, weft_waker *w)
{
	struct weft__task *t;
	bool dealloc;

	if (!is_task_of(w, b->rt)) {
		weft_waker_wake(w);
		return;
	}
	t = w->data;
	*w = WEFT_WAKER_NONE;
	if (wake_transition(t, true, &dealloc))
		batch_append(b, t);
	else if (dealloc)
		weft__task_dealloc(t);
}

void weft__rt_batch_add_ref(struct weft__wake_batch *b, const weft_waker *w)
{
	struct weft__task *t;
	bool dealloc;

	if (!is_task_of(w, b->rt)) {
		weft_waker_wake_by_ref(w);
		return;
	}
	t = w->data;
	if (wake_transition(t, false, &dealloc))
		batch_append(b, t);
}

void weft__rt_batch_flush(struct weft__wake_batch *b)
{
	struct weft__worker *w = weft__worker_current();

	if (!b->n)
		return;
	if (w && w->rt == b->rt && !w->in_poll) {
		/* a worker flushing its driver (its own ring's completions):
		 * onto its own deque */
		weft__worker_push_batch(w, b->head, b->n);
		b->head = b->tail = NULL;
		b->n = 0;
		return;
	}
	weft__injector_push(&b->rt->inj, b->head, b->tail, b->n);
	weft__idle_notify_one(b->rt);
	b->head = b->tail = NULL;
	b->n = 0;
}
