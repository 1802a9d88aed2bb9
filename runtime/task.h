/* runtime/task.h - private to the task files of runtime/ (task.c, waker.c,
 * join.c, spawn.c, owner.c, shutdown.c): the small helpers on the task
 * record that several of them need on their fast paths, inline so that
 * splitting the task code into files costs no call, and the functions each
 * file offers the others.
 *
 * Which file holds what:
 *   task.c    the state word: its transitions, memory-order pairs,
 *             reference counting, running a poll, completion
 *   waker.c   the task waker (vtable) and the wake batch
 *   join.c    join handles: the join waker slot, weft_join_wait, abort,
 *             drop
 *   spawn.c   weft_spawn
 *   owner.c   owner lists, freeing a task, the remote-free stacks
 */
#ifndef WEFT_RUNTIME_TASK_H
#define WEFT_RUNTIME_TASK_H

#include "runtime/internal.h"

static inline uint64_t weft__refs(uint64_t s)
{
	return s >> WEFT__REF_SHIFT;
}

static inline void weft__task_ref_inc(struct weft__task *t)
{
	/* relaxed: a new reference is made from an existing one, which keeps
	 * the task alive meanwhile (as Arc::clone) */
	atomic_fetch_add_explicit(&t->state, WEFT__REF_ONE,
				  memory_order_relaxed);
}

static inline weft_rt *weft__task_rt(const struct weft__task *t)
{
	return weft__task_owner(t)->rt;
}

/* Bytes allocated for a task of this type whose header comes after
 * `lead` bytes (weft__task_lead): the lead, the header and the frame,
 * which is at least 8 bytes for the output slot; rounded up to 16 (what
 * malloc-style size classes hand out). */
static inline size_t weft__task_bytes(const weft_future_type *type,
				      size_t lead)
{
	size_t sz = type->size < sizeof(intptr_t) ? sizeof(intptr_t)
						  : type->size;

	return (lead + sizeof(struct weft__task) + sz + 15) & ~(size_t)15;
}

/* The tracking record of t (rt->track is set): right after the bytes
 * weft__task_bytes counts. */
static inline struct weft__track *weft__task_track(struct weft__task *t)
{
	size_t lead = weft__task_lead(t->type);

	return (struct weft__track *)(void *)((char *)t - lead +
					      weft__task_bytes(t->type, lead));
}

/* Links a task into o's list, which is not locked (o->locked false). */
static inline void weft__owner_link_unlocked(struct weft__owner *o,
					     struct weft__task *t)
{
	atomic_store_explicit(&t->owner, o, memory_order_relaxed);
	t->owned_prev = NULL;
	t->owned_next = o->head;
	if (o->head)
		o->head->owned_prev = t;
	o->head = t;
	weft__owner_live_add(o, 1);
}

/* Links a task into o's list; the caller owns the list (owner.c). With
 * task tracking the list's lock is held meanwhile (weft_rt_dump). */
static inline void weft__owner_link(struct weft__owner *o,
				    struct weft__task *t)
{
	bool locked = o->locked;

	if (locked)
		weft__owner_lock(o);
	atomic_store_explicit(&t->owner, o, memory_order_relaxed);
	t->owned_prev = NULL;
	t->owned_next = o->head;
	if (o->head)
		o->head->owned_prev = t;
	o->head = t;
	weft__owner_live_add(o, 1);
	if (locked)
		weft__owner_unlock(o);
}

/* owner.c: the last reference is gone: run the frame's drop if it never
 * completed, drop a leftover join waker, and free (or hand to the owner). */
void weft__task_dealloc(struct weft__task *t);

/* waker.c: a wake by reference of the task t (as its waker's
 * wake_by_ref, without the vtable). */
void weft__task_wake_by_ref(struct weft__task *t);

/* join.c: releases what t's join waker slot holds and empties it (the
 * side JOIN_WAKER gives the slot to calls it). */
void weft__join_waker_drop(struct weft__task *t);

/* The join waker slot's word (join.c, "join waker slot"): a task pointer
 * tagged WEFT__JW_TASK, a pointer to a boxed weft_waker, a weft__jw_ext
 * tagged WEFT__JW_EXT, or 0. */
static inline struct weft__task *weft__jw_task(uintptr_t jw)
{
	return (struct weft__task *)(jw & ~WEFT__JW_TASK);
}

/* The TAIL record of t (spawned with weft__spawn_ext): the
 * WEFT__TAIL_BYTES at the allocation's end, after the frame and the
 * tracking record if any (16-byte aligned start, so at least 8-aligned). */
static inline void *weft__task_tail(struct weft__task *t)
{
	size_t lead = weft__task_lead(t->type);

	return (char *)t - lead + weft__task_bytes(t->type, lead) +
	       weft__task_rt(t)->track_bytes;
}

/* spawn.c: weft_spawn with a join handle (never NULL) whose slot holds
 * ext from the start (JOIN_WAKER set before the task is queued, so ext's
 * notify may run as soon as this returns, or before), and a TAIL record
 * (weft__task_tail, uninitialised) in the same allocation. Returns as
 * weft_spawn. */
int weft__spawn_ext(weft_rt *rt, const weft_future_type *type,
		    const void *init, struct weft__jw_ext *ext,
		    weft_join **join);

/* join.c: installs ext in t's (empty) join waker slot and sets
 * JOIN_WAKER; false, installing nothing, if t is COMPLETE already. */
bool weft__join_set_ext(struct weft__task *t, struct weft__jw_ext *ext);
/* join.c: takes t's slot back (clears JOIN_WAKER); false if t is COMPLETE
 * (then the task side notifies, or has notified, the ext). */
bool weft__join_take_ext(struct weft__task *t);

/* Wakes (by reference) the joiner whose waker the slot word jw of the
 * task t holds. */
static inline void weft__join_waker_wake_by_ref(struct weft__task *t,
						uintptr_t jw)
{
	if (jw & WEFT__JW_EXT) {
		struct weft__jw_ext *e =
			(struct weft__jw_ext *)(jw & ~WEFT__JW_EXT);

		e->notify(e, t);
	} else if (jw & WEFT__JW_TASK)
		weft__task_wake_by_ref(weft__jw_task(jw));
	else if (jw)
		weft_waker_wake_by_ref((const weft_waker *)jw);
}

#endif /* WEFT_RUNTIME_TASK_H */
