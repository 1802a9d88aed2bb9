/* runtime/owner.c - owner lists and freeing a task.
 *
 * Each worker owns a list of the tasks spawned on it (shutdown walks these
 * lists). The thread that drops the last reference frees the task if it
 * owns its list; otherwise it pushes the task on the owner's remote_free
 * stack (one CAS), and the owner unlinks and frees it at its next
 * maintenance. A task spawned from a foreign thread is in no list until
 * the worker that first runs it adopts it (it cannot be freed before: the
 * queue holds a reference); shutdown links those still queued into
 * rt->foreign.
 * After the workers stop, frees take rt->lock instead.
 *
 * Linking (weft__owner_link) is inline in runtime/task.h: spawn does it on
 * every task.
 */
#include "runtime/task.h"

void weft__owner_init(struct weft__owner *o, weft_rt *rt, int index)
{
	atomic_flag_clear(&o->lock);
	o->locked = rt->track;
	o->head = NULL;
	atomic_init(&o->live, 0);
	o->rt = rt;
	o->index = index;
	atomic_init(&o->remote_free, NULL);
}

static void owner_unlink(struct weft__owner *o, struct weft__task *t)
{
	if (t->owned_prev)
		t->owned_prev->owned_next = t->owned_next;
	else
		o->head = t->owned_next;
	if (t->owned_next)
		t->owned_next->owned_prev = t->owned_prev;
	weft__owner_live_add(o, (size_t)-1);
}

/* Links a task into o's list; the caller owns the list. */
void weft__task_adopt(struct weft__owner *o, struct weft__task *t)
{
	atomic_fetch_add_explicit(&o->rt->foreign_adopted, 1,
				  memory_order_relaxed);
	weft__owner_link(o, t);
}

/* Unlinks and frees a task; the caller owns o's list at this moment. */
void weft__task_free_now(struct weft__task *t)
{
	weft_rt *rt = weft__task_rt(t);
	size_t lead = weft__task_lead(t->type);
	/* relaxed: TAIL is set at spawn and never changes */
	bool tail = atomic_load_explicit(&t->state, memory_order_relaxed) &
		    WEFT__TAIL;

	struct weft__owner *o = weft__task_owner(t);

	if (o->locked) {
		weft__owner_lock(o);
		owner_unlink(o, t);
		weft__owner_unlock(o);
	} else {
		owner_unlink(o, t);
	}
	weft__free(rt, (char *)t - lead,
		   weft__task_bytes(t->type, lead) + rt->track_bytes +
			   (tail ? WEFT__TAIL_BYTES : 0));
}

void weft__owner_drain_remote(struct weft__owner *o)
{
	/* acquire: the pushers' last uses of each task (pair 3, task.c) and
	 * their links; pairs with the release CAS in weft__task_dealloc */
	struct weft__task *t = atomic_exchange_explicit(&o->remote_free, NULL,
							memory_order_acquire);

	while (t) {
		struct weft__task *next = t->next;

		weft__task_free_now(t);
		t = next;
	}
}

/* The last reference is gone: run the frame's drop if it never completed,
 * drop a leftover join waker, and free (or hand to the owner). */
void weft__task_dealloc(struct weft__task *t)
{
	/* relaxed: ref_dec's acq_rel made every earlier write visible */
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	struct weft__owner *o = weft__task_owner(t);
	weft_rt *rt = o->rt;
	struct weft__worker *w;
	struct weft__task *head;

	if (!(s & WEFT__COMPLETE) && rt->obs.on_task_terminate)
		rt->obs.on_task_terminate(rt->obs.arg, (uintptr_t)t,
					      t->type);
	if (!(s & WEFT__COMPLETE) && t->type->drop)
		t->type->drop(weft__task_frame(t));
	if (s & WEFT__JOIN_WAKER)
		weft__join_waker_drop(t);
	if (s & WEFT__HAS_ID)
		weft__task_id_forget(rt, t);

	/* acquire: pairs with the release store in weft_rt_shutdown */
	if (atomic_load_explicit(&rt->stopped, memory_order_acquire)) {
		pthread_mutex_lock(&rt->lock);
		weft__task_free_now(t);
		pthread_mutex_unlock(&rt->lock);
		weft__rt_maybe_free(rt);
		return;
	}
	w = weft__worker_current();
	if (w && &w->owner == o) {
		weft__task_free_now(t);
		return;
	}
	/* relaxed load + release CAS: publishes t->next and our last use of
	 * the task to weft__owner_drain_remote's acquire exchange */
	head = atomic_load_explicit(&o->remote_free, memory_order_relaxed);
	do
		t->next = head;
	while (!atomic_compare_exchange_weak_explicit(
		&o->remote_free, &head, t, memory_order_release,
		memory_order_relaxed));
	/* t is the owner's from here (it may be freed already): only head,
	 * our copy of what t->next was, is read below */
	/* A parked owner would keep the task until its next wake-up, which
	 * an idle runtime may never have: the first free pushed to a parked
	 * worker's stack wakes it (its park drains the stack first). The
	 * Dekker pair with weft__worker_park: our push; seq_cst fence; load
	 * its park word / its store of the park word; seq_cst fence; load
	 * remote_free. Either it sees the task or we see it parked. */
	if (!head && o->index >= 0) {
		struct weft__worker *ow = &o->rt->workers[o->index];

		atomic_thread_fence(memory_order_seq_cst);
		/* relaxed: ordered by the fence above */
		if (atomic_load_explicit(&ow->park_word, memory_order_relaxed))
			weft__idle_unpark_index(o->rt, (unsigned)o->index);
	}
}
