/* weft/futset.h - a dynamic set of futures polled inside one task
 * (futures' FuturesUnordered): push futures while the set runs, await the
 * next one to complete, and poll again only the members that were woken.
 *
 * A set holds futures of one type, named at init by its WEFT_FUTURE name
 * (WEFT_FUTSET_INIT(&set, fetch, 0)); WEFT_FUTSET_PUSH(&set, fetch)
 * returns a zeroed frame of that type inside the set, as a fetch_frame *
 * (assigned to a pointer to another frame type it is C's
 * incompatible-pointer diagnostic: an error with -Werror, and by default
 * from gcc 14), which the caller initialises before the set is polled
 * again. Pushing a type other than the set's returns NULL (debug builds
 * abort). Members of
 * different kinds go in one set through a frame of your own that holds a
 * tag and a union of them. The frames are the set's: each lives in a slot
 * that never moves until the member is retired, so a member may point
 * into itself.
 *
 * Wakes: every member gets its own waker (the slot itself); waking it
 * puts the slot on the set's ready list (two compare-and-swaps, no lock)
 * and, when the task's last next poll on the set returned PENDING and no
 * member has been woken since, wakes that task: once per wait, however
 * many members are woken before it comes back, and not at all while the
 * task is running between next polls (it looks at the list at its next
 * poll; a next that returned READY asked for no wake, as the poll
 * contract has it). The next future polls only the slots on that list,
 * so a wake costs the same whatever the set's size. A member woken while
 * it is already listed is listed once.
 *
 * Memory and bounds: with cap 0 the set grows in chunks of slots (16, 32,
 * 64, ..., up to 64 Ki slots a chunk) and reuses retired slots, so at
 * most peak-members slots are ever allocated, and no allocation happens
 * per push once they exist; with cap > 0 every slot is allocated at init
 * and a push beyond cap members fails. Each slot is a 32-byte header and
 * the frame, rounded up to the frame's alignment (at least 16). The slots are freed when the set is destroyed and the last clone
 * of a member's waker has been dropped (a waker may outlive its member:
 * waking it then does nothing; waking a slot reused by a later member
 * polls that member once more, which the poll contract allows).
 *
 * Results: weft_futset_next completes with a member that completed: res
 * is the member's result (weft_future_res: 0 for a WEFT_ASYNC_VOID
 * frame) and `frame` points at it, readable until the next call on the
 * set (next, push, destroy), which then runs the member's drop function
 * (harmless after READY, by the future shape) and retires its slot. With
 * no member left, res = WEFT_FUTSET_EMPTY (-ENODATA) at once; a next
 * future waiting on a set that becomes empty cannot happen (a set only
 * empties through next).
 *
 * Cancellation: dropping a next future loses nothing (a member is taken
 * only by the poll that returns it), so a next is a select branch
 * (WEFT_BRANCH(weft_futset_next, &f->next)). weft_futset_destroy runs the
 * drop function of every member still in the set, whatever it is doing
 * (mid-I/O: a weft future's drop cancels its operation); members that
 * wake each other from their drop functions are not polled again. A push
 * from a drop function while the set is being destroyed returns NULL
 * (nothing is added, nothing leaks).
 *
 * Threads: a set belongs to one owner (the task that polls next: it may
 * move between workers); init, push, next, len and destroy are called by
 * that owner only. Members' wakers may be cloned, woken and dropped from
 * any thread, also after the set is destroyed.
 */
#ifndef WEFT_FUTSET_H
#define WEFT_FUTSET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* What weft_futset_next gives when the set has no member: an errno value,
 * as a codec's end of stream. */
#define WEFT_FUTSET_EMPTY (-ENODATA)

/* Most members a set may hold (the slot index is 32 bits). */
#define WEFT_FUTSET_MAX ((size_t)1 << 31)

struct weft__futset_shared;
struct weft__fsnode;

/* An embedded object (_init/_destroy); its fields are private. */
typedef struct weft_futset {
	const weft_future_type *type;
	struct weft__futset_shared *sh;
	struct weft__fsnode *last;     /* returned by the last next */
	struct weft__fsnode *free;     /* retired slots */
	struct weft__fsnode *batch;    /* taken from the ready list, not
					* polled yet */
	struct weft__fsnode *batch_tail;
	size_t len;
	size_t cap;
	bool dying;
} weft_futset;

/* Prepares an empty set for futures of `type` (WEFT_FUTSET_INIT names
 * it), holding at most cap members (0: grows as needed, up to
 * WEFT_FUTSET_MAX). Returns 0, -EINVAL (set or type NULL, a type without
 * a poll function, cap over WEFT_FUTSET_MAX) or -ENOMEM; on failure the
 * set is left empty and weft_futset_destroy is harmless on it. */
int weft_futset_init(weft_futset *set, const weft_future_type *type,
		     size_t cap);
#define WEFT_FUTSET_INIT(set, name, cap)                                    \
	weft_futset_init((set), &name##_future, (cap))

/* Adds a member: returns its frame, zeroed, to be initialised by the
 * caller (name_init(frame, ...) or a braced frame) before the set is next
 * polled; it is polled at the next poll of a next future. Returns NULL
 * (nothing added) when the set is full (cap members), out of memory,
 * being destroyed, or when type is not the set's (debug builds abort on
 * that one: weft_debug_misuse). Called by the owner, also from inside a
 * member's poll (the new member is polled by a later next poll). */
void *weft_futset_push(weft_futset *set, const weft_future_type *type);
#ifdef __cplusplus
#define WEFT_FUTSET_PUSH(set, name)                                         \
	(static_cast<name##_frame *>(weft_futset_push((set), &name##_future)))
#else
#define WEFT_FUTSET_PUSH(set, name)                                         \
	((name##_frame *)weft_futset_push((set), &name##_future))
#endif

/* Adds a member initialised from a braced initialiser of its frame (the
 * WEFT_SPAWN of a set): WEFT_FUTSET_PUSH_INIT(&set, fetch, { .id = 3 })
 * copies the frame into a new slot and returns it (fetch_frame *), or
 * NULL as weft_futset_push. A field the frame does not have, or a value
 * of another frame type, does not compile. weft_futset_push_init is the
 * function under it: init is type->size bytes, copied. */
void *weft_futset_push_init(weft_futset *set, const weft_future_type *type,
			    const void *init);
#ifdef __cplusplus
#define WEFT_FUTSET_PUSH_INIT(set, name, ...)                               \
	([&]() -> name##_frame * {                                          \
		name##_frame weft_init_ = __VA_ARGS__;                      \
		return static_cast<name##_frame *>(weft_futset_push_init(   \
			(set), &name##_future, &weft_init_));               \
	}())
#else
#define WEFT_FUTSET_PUSH_INIT(set, name, ...)                               \
	((name##_frame *)weft_futset_push_init(                             \
		(set), &name##_future, &(name##_frame)__VA_ARGS__))
#endif

/* Members in the set (pushed, not yet returned by next). */
size_t weft_futset_len(const weft_futset *set);

/* Drops every member still in the set (their drop functions run, on the
 * calling thread, in no particular order), retires the last returned one,
 * and releases the set. The slots' memory goes when the last waker clone
 * does. No next future may be in use on the set. Harmless on a set whose
 * init failed. When another thread is inside a member's wake that is
 * waking the task, destroy waits for that wake to finish (yielding the
 * thread: a few instructions, never a wait on the program). */
void weft_futset_destroy(weft_futset *set);

/* Waits for a member to complete: READY with res = its result and frame
 * at it (see the top), or res = WEFT_FUTSET_EMPTY when the set has no
 * member. Each poll polls the members woken since the last one (and the
 * newly pushed), each with its own waker and the task's coop budget,
 * returning at the first that completes (the others stay listed). A poll
 * that returns PENDING has the task's waker woken by the next member
 * wake; when the set is polled by another task than before, the new one
 * is woken from then on (the old waker is released). */
typedef struct weft_futset_next {
	weft_futset *set;
	void *frame;   /* after READY with a member: the member's frame */
	intptr_t res;
} weft_futset_next;
WEFT_FUTURE_EXTERN(weft_futset_next);

void weft_futset_next_init(weft_futset_next *n, weft_futset *set);
weft_poll weft_futset_next_poll(weft_futset_next *n, weft_cx *cx);
/* Nothing to release: the members stay in the set. */
void weft_futset_next_drop(weft_futset_next *n);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_FUTSET_H */
