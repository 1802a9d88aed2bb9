/* runtime/task.c - task records: state transitions, the task waker,
 * spawn, join handles, abort, and freeing.
 *
 * The state word (internal.h) changes only by CAS loops or single
 * fetch-ops, so every transition is one atomic step. Transitions:
 *
 *   spawn            -> NOTIFIED | refs(queue [+ join]) [| JOIN_INTEREST]
 *   run:  to_running   NOTIFIED -> RUNNING          (queue ref = run ref)
 *         to_idle      RUNNING -> idle, run ref dropped
 *                      RUNNING|NOTIFIED -> NOTIFIED, run ref = queue ref
 *                      CANCELLED seen -> cancel path
 *         complete     RUNNING -> COMPLETE [| CANCELLED], run ref dropped
 *   wake_by_ref      idle -> NOTIFIED, +1 ref, queued
 *                    RUNNING -> RUNNING|NOTIFIED (re-queued after poll)
 *                    NOTIFIED or COMPLETE -> unchanged
 *   wake (by value)  as wake_by_ref, consuming the waker's ref
 *   abort            idle -> NOTIFIED|CANCELLED (+1 ref, queued)
 *                    RUNNING or NOTIFIED -> |CANCELLED (|NOTIFIED)
 *   join waker       handle sets JOIN_WAKER after writing join_waker;
 *                    clears it (CAS, fails once COMPLETE) to replace it.
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
 * Who may touch the slot is decided by JOIN_WAKER alone, as before.
 *
 * Memory-order pairs:
 *  1. complete's RMW (acq_rel, release half) publishes the output ->
 *     join_poll's acquire load of the state reads it.
 *  2. the handle's CAS setting JOIN_WAKER (release) publishes join_waker
 *     (and the box it may point to) -> complete's RMW (acquire half)
 *     reads it before waking.
 *  3. ref_dec's fetch_sub (acq_rel): every use of the task by a reference
 *     holder happens before the free by the last one.
 *  4. wake's CAS (acq_rel) orders what the waker wrote before the wake
 *     (a sent message) before the task's next poll, through the queue.
 *
 * Freeing: each worker owns a list of the tasks spawned on it (shutdown
 * walks these lists). The thread that drops the last reference frees the
 * task if it owns its list; otherwise it pushes the task on the owner's
 * remote_free stack (one CAS), and the owner unlinks and frees it at its
 * next maintenance. A task spawned from a foreign thread is in no list
 * until the worker that first runs it adopts it (it cannot be freed
 * before: the queue holds a reference); shutdown links those still queued
 * into rt->foreign.
 * After the workers stop, frees take rt->lock instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static inline uint64_t refs(uint64_t s)
{
	return s >> WEFT__REF_SHIFT;
}

/* Bytes allocated for a task of this type whose header comes after
 * `lead` bytes (weft__task_lead): the lead, the header and the frame,
 * which is at least 8 bytes for the output slot; rounded up to 16 (what
 * malloc-style size classes hand out). */
static inline size_t type_task_bytes(const weft_future_type *type, size_t lead)
{
	size_t sz = type->size < sizeof(intptr_t) ? sizeof(intptr_t)
						  : type->size;

	return (lead + sizeof(struct weft__task) + sz + 15) & ~(size_t)15;
}

static inline weft_rt *task_rt(const struct weft__task *t)
{
	return weft__task_owner(t)->rt;
}

void weft_debug_poll_after_ready(const char *file, int line)
{
	fprintf(stderr, "weft: %s:%d: future polled after it returned READY "
		"(a finished future must not be polled again: keep a done "
		"flag, or re-initialise it first)\n", file, line);
	abort();
}

void weft_debug_misuse(const char *where, const char *what)
{
	fprintf(stderr, "weft: %s: %s\n", where, what);
	abort();
}

/* --------------------------------------------------------- owner lists */

static void owner_link(struct weft__owner *o, struct weft__task *t)
{
	atomic_store_explicit(&t->owner, o, memory_order_relaxed);
	t->owned_prev = NULL;
	t->owned_next = o->head;
	if (o->head)
		o->head->owned_prev = t;
	o->head = t;
	o->live++;
}

static void owner_unlink(struct weft__owner *o, struct weft__task *t)
{
	if (t->owned_prev)
		t->owned_prev->owned_next = t->owned_next;
	else
		o->head = t->owned_next;
	if (t->owned_next)
		t->owned_next->owned_prev = t->owned_prev;
	o->live--;
}

/* Links a task into o's list; the caller owns the list. */
void weft__task_adopt(struct weft__owner *o, struct weft__task *t)
{
	owner_link(o, t);
}

/* Unlinks and frees a task; the caller owns o's list at this moment. */
void weft__task_free_now(struct weft__task *t)
{
	weft_rt *rt = task_rt(t);
	size_t lead = weft__task_lead(t->type);

	owner_unlink(weft__task_owner(t), t);
	weft__free(rt, (char *)t - lead, type_task_bytes(t->type, lead));
}

void weft__owner_drain_remote(struct weft__owner *o)
{
	/* acquire: the pushers' last uses of each task (pair 3) and their
	 * links; pairs with the release CAS in task_release */
	struct weft__task *t = atomic_exchange_explicit(&o->remote_free, NULL,
							memory_order_acquire);

	while (t) {
		struct weft__task *next = t->next;

		weft__task_free_now(t);
		t = next;
	}
}

static void join_waker_drop(struct weft__task *t);

/* The last reference is gone: run the frame's drop if it never completed,
 * drop a leftover join waker, and free (or hand to the owner). */
static void task_dealloc(struct weft__task *t)
{
	/* relaxed: ref_dec's acq_rel made every earlier write visible */
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	struct weft__owner *o = weft__task_owner(t);
	weft_rt *rt = o->rt;
	struct weft__worker *w;

	if (!(s & WEFT__COMPLETE) && t->type->drop)
		t->type->drop(weft__task_frame(t));
	if (s & WEFT__JOIN_WAKER)
		join_waker_drop(t);

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
	t->next = atomic_load_explicit(&o->remote_free, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		&o->remote_free, &t->next, t, memory_order_release,
		memory_order_relaxed))
		;
}

void weft__task_ref_dec(struct weft__task *t)
{
	/* acq_rel: pair 3 */
	uint64_t prev = atomic_fetch_sub_explicit(&t->state, WEFT__REF_ONE,
						  memory_order_acq_rel);

	if (refs(prev) == 1)
		task_dealloc(t);
}

static inline void ref_inc(struct weft__task *t)
{
	/* relaxed: a new reference is made from an existing one, which keeps
	 * the task alive meanwhile (as Arc::clone) */
	atomic_fetch_add_explicit(&t->state, WEFT__REF_ONE,
				  memory_order_relaxed);
}

/* -------------------------------------------------------------- wakers */

/* Returns true if the task must be queued (the caller's ref goes with it
 * when by_val, or a new ref was added when !by_val). */
static bool wake_transition(struct weft__task *t, bool by_val, bool *dealloc)
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
		/* acq_rel: pair 4 (release), and pair 3 when dropping a ref */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (!submit && by_val && refs(n) == 0)
		*dealloc = true;
	return submit;
}

static weft_waker task_waker_clone(const void *data)
{
	struct weft__task *t = (struct weft__task *)(uintptr_t)data;

	ref_inc(t);
	return (weft_waker){ &weft__task_waker_vt, t };
}

static void task_waker_wake(void *data)
{
	struct weft__task *t = data;
	bool dealloc;

	if (wake_transition(t, true, &dealloc))
		weft__worker_schedule(t, false);
	else if (dealloc)
		task_dealloc(t);
}

static void task_waker_wake_by_ref(const void *data)
{
	struct weft__task *t = (struct weft__task *)(uintptr_t)data;
	bool dealloc;

	if (wake_transition(t, false, &dealloc))
		weft__worker_schedule(t, false);
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

/* ---------------------------------------------------- join waker slot */

/* Only the side that JOIN_WAKER currently gives the slot to calls these
 * (internal.h): the handle while the bit is clear, the task side after. */

static inline struct weft__task *jw_task(uintptr_t jw)
{
	return (struct weft__task *)(jw & ~WEFT__JW_TASK);
}

/* Stores a clone of w in t's slot (empty before). Returns false, storing
 * nothing, if w needs a box and none could be allocated. */
static bool join_waker_store(struct weft__task *t, const weft_waker *w)
{
	weft_waker *box;

	if (w->vt == &weft__task_waker_vt) {
		/* the reference task_waker_clone would take */
		ref_inc(w->data);
		t->join_waker = (uintptr_t)w->data | WEFT__JW_TASK;
		return true;
	}
	if (!w->vt) {
		t->join_waker = 0;
		return true;
	}
	box = weft__alloc(task_rt(t), sizeof(*box));
	if (!box)
		return false;
	*box = weft_waker_clone(w);
	t->join_waker = (uintptr_t)box;
	return true;
}

static void join_waker_wake_by_ref(uintptr_t jw)
{
	if (jw & WEFT__JW_TASK)
		task_waker_wake_by_ref(jw_task(jw));
	else if (jw)
		weft_waker_wake_by_ref((const weft_waker *)jw);
}

/* Releases what t's slot holds and empties it. */
static void join_waker_drop(struct weft__task *t)
{
	uintptr_t jw = t->join_waker;
	weft_waker *box = (weft_waker *)jw;

	t->join_waker = 0;
	if (jw & WEFT__JW_TASK) {
		weft__task_ref_dec(jw_task(jw));
	} else if (jw) {
		weft_waker_drop(box);
		weft__free(task_rt(t), box, sizeof(*box));
	}
}

static bool join_waker_will_wake(uintptr_t jw, const weft_waker *w)
{
	if (jw & WEFT__JW_TASK)
		return w->vt == &weft__task_waker_vt && w->data == jw_task(jw);
	if (jw)
		return weft_waker_will_wake((const weft_waker *)jw, w);
	return !w->vt;
}

/* Wakes the joiner whose waker t's slot holds (shutdown's cancel path;
 * the caller saw JOIN_INTEREST | JOIN_WAKER with acquire). */
void weft__task_wake_joiner(struct weft__task *t)
{
	join_waker_wake_by_ref(t->join_waker);
}

/* ---------------------------------------------------------- wake batch */

void weft__wake_batch_init(struct weft__wake_batch *b, weft_rt *rt)
{
	b->rt = rt;
	b->head = b->tail = NULL;
	b->n = 0;
}

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
	       task_rt((const struct weft__task *)w->data) == rt;
}

void weft__wake_batch_add(struct weft__wake_batch *b, weft_waker *w)
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
		task_dealloc(t);
}

void weft__wake_batch_add_ref(struct weft__wake_batch *b, const weft_waker *w)
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

void weft__wake_batch_flush(struct weft__wake_batch *b)
{
	if (!b->n)
		return;
	weft__injector_push(&b->rt->inj, b->head, b->tail, b->n);
	weft__idle_notify_one(b->rt);
	b->head = b->tail = NULL;
	b->n = 0;
}

/* ------------------------------------------------------------- running */

/* Writes the task's end: output into the frame area, COMPLETE (and
 * CANCELLED), wakes the joiner, drops the run reference. */
static void task_complete(struct weft__task *t, intptr_t out, bool cancelled)
{
	uint64_t prev, n;
	bool detached;

	if (t->type->drop)
		t->type->drop(weft__task_frame(t));
	memcpy(weft__task_frame(t), &out, sizeof(out));
	prev = atomic_load_explicit(&t->state, memory_order_relaxed);
	for (;;) {
		/* an abort that came during the poll that returned READY
		 * found no later poll point: the output stands, so its
		 * CANCELLED bit is cleared */
		n = (prev & ~(WEFT__RUNNING | WEFT__NOTIFIED |
			      WEFT__CANCELLED)) |
		    WEFT__COMPLETE | (cancelled ? WEFT__CANCELLED : 0);
		/* with no join handle nobody reads the output or needs a
		 * wake: the run reference goes in the same step (one atomic
		 * instead of two on the common detached path) */
		detached = !(prev & WEFT__JOIN_INTEREST);
		if (detached)
			n -= WEFT__REF_ONE;
		/* acq_rel: pair 1 (release: output), pair 2 (acquire: the
		 * join waker written before JOIN_WAKER was set), and pair 3
		 * when the reference goes too */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &prev, n, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (detached) {
		if (refs(n) == 0)
			task_dealloc(t);
		return;
	}
	/* the handle's reference keeps the task (and join_waker) alive until
	 * our own reference goes, after the wake */
	if ((prev & WEFT__JOIN_WAKER))
		join_waker_wake_by_ref(t->join_waker);
	weft__task_ref_dec(t);
}

enum to_idle { IDLE, IDLE_RESCHEDULE, IDLE_CANCEL, IDLE_DEALLOC };

static enum to_idle transition_to_idle(struct weft__task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint64_t n;
	enum to_idle r;

	for (;;) {
		if (s & WEFT__CANCELLED)
			return IDLE_CANCEL;
		if (s & WEFT__NOTIFIED) {
			n = s & ~WEFT__RUNNING;
			r = IDLE_RESCHEDULE;
		} else {
			n = (s & ~WEFT__RUNNING) - WEFT__REF_ONE;
			r = refs(n) == 0 ? IDLE_DEALLOC : IDLE;
		}
		/* acq_rel: release publishes the frame's writes of this poll
		 * to the next poller (maybe another worker); acquire pairs
		 * with wakers' CAS (pair 4) */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acq_rel,
			    memory_order_relaxed))
			return r;
	}
}

/* Runs one poll of a task taken from a run queue (the caller's queue
 * reference becomes the run reference). */
void weft__task_run(struct weft__task *t, void *worker)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	struct weft__worker *w = worker;
	weft_cx cx;
	weft_poll p;

	/* to_running: NOTIFIED -> RUNNING. acquire: the previous poll's
	 * writes (released by its to_idle) and the wakers' (pair 4) */
	for (;;) {
		uint64_t n = (s | WEFT__RUNNING) & ~WEFT__NOTIFIED;

		if (s & WEFT__COMPLETE) {
			/* cannot be queued once complete; be safe */
			weft__task_ref_dec(t);
			return;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acquire,
			    memory_order_relaxed))
			break;
	}
	if (w && weft__task_owner(t) == &w->rt->foreign)
		owner_link(&w->owner, t);
	if (s & WEFT__CANCELLED) {
		task_complete(t, 0, true);
		return;
	}

	cx.waker = (weft_waker){ &weft__task_waker_vt, t };
	cx.budget = WEFT_COOP_BUDGET;
	cx.flags = 0;
	cx.worker = w;
	cx.rt = task_rt(t);
	p = t->type->poll(weft__task_frame(t), &cx);
	if (p == WEFT_READY) {
		task_complete(t, weft_future_res(t->type, weft__task_frame(t)),
			      false);
		return;
	}
	switch (transition_to_idle(t)) {
	case IDLE:
		break;
	case IDLE_RESCHEDULE:
		/* woken during its own poll: a yield, or a wake from another
		 * thread; either way it goes behind the queued tasks */
		weft__worker_schedule(t, true);
		break;
	case IDLE_CANCEL:
		task_complete(t, 0, true);
		break;
	case IDLE_DEALLOC:
		/* nobody can wake it again: it is dropped unfinished */
		task_dealloc(t);
		break;
	}
}

/* --------------------------------------------------------------- spawn */

int weft_spawn(weft_rt *rt, const weft_future_type *type, const void *init,
	       weft_join **join)
{
	struct weft__worker *w;
	struct weft__task *t;
	size_t lead, bytes;
	char *mem;

	if (join)
		*join = NULL;
	if (!rt || !type || !type->poll)
		return -EINVAL;
	/* relaxed: a hint; the foreign path re-checks it (seq_cst) below, and
	 * the worker path cannot race with shutdown (workers stop first) */
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
		return -ESHUTDOWN;
	lead = weft__task_lead(type);
	bytes = type_task_bytes(type, lead);
	mem = weft__alloc(rt, bytes);
	if (!mem)
		return -ENOMEM;
	t = (struct weft__task *)(mem + lead);
	/* one reference for the run queue, one for the join handle */
	atomic_init(&t->state,
		    WEFT__NOTIFIED + WEFT__REF_ONE +
			    (join ? WEFT__REF_ONE + WEFT__JOIN_INTEREST : 0));
	t->type = type;
	t->next = NULL;
	t->join_waker = 0;
	if (init)
		memcpy(weft__task_frame(t), init, type->size);
	else
		memset(weft__task_frame(t), 0, type->size);

	w = weft__worker_current();
	if (w && w->rt == rt) {
		owner_link(&w->owner, t);
		if (join)
			*join = (weft_join *)t;
		/* from inside a poll the child takes the LIFO slot (it runs
		 * right after the parent's poll, on this worker, while its
		 * frame is hot; the previous occupant goes to the deque where
		 * others can steal it), as tokio does: a spawn chain stays on
		 * one core instead of bouncing (bench chained_spawn) */
		weft__worker_schedule(t, false);
		return 0;
	}
	/* A foreign spawn takes no lock: the task goes to the injector
	 * unlinked and the worker that first runs it adopts it. Shutdown
	 * waits for foreign_inflight to reach 0 after setting `shutdown`
	 * (seq_cst on both sides: either we see the flag or shutdown sees
	 * us and waits for our push), then finds the task in the injector. */
	atomic_init(&t->owner, &rt->foreign);
	t->owned_prev = t->owned_next = NULL;
	atomic_fetch_add_explicit(&rt->foreign_inflight, 1,
				  memory_order_seq_cst);
	if (atomic_load_explicit(&rt->shutdown, memory_order_seq_cst)) {
		atomic_fetch_sub_explicit(&rt->foreign_inflight, 1,
					  memory_order_release);
		weft__free(rt, mem, bytes);
		return -ESHUTDOWN;
	}
	if (join)
		*join = (weft_join *)t;
	weft__worker_schedule(t, true);
	/* release: our push before shutdown's acquire load of the count */
	atomic_fetch_sub_explicit(&rt->foreign_inflight, 1,
				  memory_order_release);
	return 0;
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
		join_waker_drop(t);
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
			join_waker_drop(t);
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
			/* relaxed: only the handle's owner clears it; kept
			 * so that a second drop is caught while the task
			 * lives */
			atomic_fetch_and_explicit(&t->state,
						  ~WEFT__JOIN_INTEREST,
						  memory_order_relaxed);
			break;
		}
		n = s & ~(WEFT__JOIN_INTEREST | WEFT__JOIN_WAKER);
		/* acquire: we may now own join_waker again */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, n, memory_order_acquire,
			    memory_order_relaxed)) {
			if (s & WEFT__JOIN_WAKER)
				join_waker_drop(t);
			break;
		}
	}
	weft__task_ref_dec(t);
}
