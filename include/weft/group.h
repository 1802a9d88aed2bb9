/* weft/group.h - task groups: a JoinSet (spawn into a set, join the
 * members in completion order, abort them all), a TaskTracker (count
 * spawned tasks, wait until closed and empty), abort handles separate from
 * join handles, and task ids.
 *
 * Structured concurrency in C: a scope owns the tasks it spawns into a
 * set, waits for them one by one as they finish, and on the first error
 * aborts the rest (examples/scope.c). Destroying the set aborts every
 * member that is still running, so no member outlives its scope
 * unnoticed.
 *
 * Errors are negative errno values. Functions returning int return
 * -EINVAL for a NULL argument they need.
 *
 * Threads: abort handles, task ids and the tracker may be used from any
 * thread; a JoinSet belongs to one owner at a time (tokio's &mut JoinSet:
 * its functions and its next future are called by that owner only, which
 * may be a task moving between workers); its members run anywhere.
 */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "rt.h"
#include "waiter.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* ------------------------------------------------------------- task ids */

/* Every task can be given a 64-bit id, unique within its runtime for the
 * runtime's whole life (ids are never reused; 0 is never an id). The id
 * is made the first time it is asked for (weft_join_id, an abort
 * handle's id, or when the task is spawned into a JoinSet or with a
 * name) and is stable from then on. Returns 0 for NULL, or when the id
 * table could not grow (out of memory; ask again). */
uint64_t weft_join_id(const weft_join *j);

/* ----------------------------------------------------------- task names */

/* weft_spawn giving the task a name (NULL: none, as weft_spawn), shown
 * with its id in weft_rt_dump (weft_task_info.task_name, the dump's
 * "task_name" field) and in long-poll reports (weft_long_poll.task_name),
 * and read back with weft_join_name / weft_abort_handle_name. name is a
 * string of static storage (a literal; not copied: it must outlive the
 * task's runtime). The name is attached just after the task is scheduled
 * (a report or hook in its first moments may miss it). Costs one
 * allocation and one lock beyond weft_spawn. Returns as weft_spawn, with
 * nothing taken on failure (-ENOMEM included). Any thread. */
int weft_spawn_named(weft_rt *rt, const char *name,
		     const weft_future_type *type, const void *init,
		     weft_join **join);

/* WEFT_SPAWN_NAMED(rt, "name", future, &join_or_NULL, { .field = ... })
 * -> int as weft_spawn_named. */
#ifdef __cplusplus
#define WEFT_SPAWN_NAMED(rt, tname, name, join, ...)                        \
	([&]() -> int {                                                     \
		name##_frame weft_init_ = __VA_ARGS__;                      \
		return weft_spawn_named((rt), (tname), &name##_future,      \
					&weft_init_, (join));               \
	}())
#else
#define WEFT_SPAWN_NAMED(rt, tname, name, join, ...)                        \
	weft_spawn_named((rt), (tname), &name##_future,                     \
			 &(name##_frame)__VA_ARGS__, (join))
#endif

/* The task's name (weft_spawn_named, weft_joinset_spawn_named), or NULL
 * (none, or j NULL). Any thread. */
const char *weft_join_name(const weft_join *j);

/* --------------------------------------------------------- abort handle */

/* A counted reference to a task that can abort it and ask whether it has
 * finished, but never reads its output: give it to whoever may cancel a
 * task while the join handle stays with whoever waits for it. Each handle
 * (and each clone) keeps the task's memory (not the task) alive until it
 * is dropped; it does not keep the task running, nor stop it when
 * dropped. Thread-safe: clones may be used on different threads. */
typedef struct weft_abort_handle weft_abort_handle;

/* A new abort handle for j's task (NULL for NULL). The join handle stays
 * valid and separate: dropping it detaches the task as before. */
weft_abort_handle *weft_join_abort_handle(const weft_join *j);
/* Another handle for the same task (NULL for NULL). */
weft_abort_handle *weft_abort_handle_clone(const weft_abort_handle *a);
/* As weft_join_abort: cancels the task at its next poll point (its drop
 * function runs, a join reports -ECANCELED); no effect once finished. */
void weft_abort_handle_abort(weft_abort_handle *a);
/* True once the task has completed or been cancelled. */
bool weft_abort_handle_is_finished(const weft_abort_handle *a);
/* The task's id (see weft_join_id): the same as its join handle's. */
uint64_t weft_abort_handle_id(const weft_abort_handle *a);
/* The task's name (see weft_join_name), or NULL. */
const char *weft_abort_handle_name(const weft_abort_handle *a);
/* Releases this handle (NULL: nothing). Debug builds do not catch a
 * second drop of the same handle: drop each handle once. */
void weft_abort_handle_drop(weft_abort_handle *a);

/* -------------------------------------------------------------- JoinSet */

/* A set of spawned tasks whose outputs are collected in the order the
 * tasks finish (like tokio's JoinSet). Each member, when it finishes,
 * puts itself on the set's ready list (one atomic operation, no lock) and
 * wakes the task waiting in weft_joinset_next if one waits: the cost of
 * a completion does not depend on how many members the set has, and no
 * member is polled by the set. A member costs no allocation beyond its
 * task's (its record, 40 bytes, is part of the task's).
 *
 * The set is owned by one scope (a task's frame, or a thread), like
 * tokio's `&mut JoinSet`: spawn, next, abort_all, len and destroy are
 * called by the owner, one at a time (a task that moves between workers
 * is one owner; two threads using one set at once need a lock of their
 * own). Only one weft_joinset_next waits at a time, and nothing may use
 * the set once destroy has begun. The members themselves run anywhere. A next that finds
 * members ready takes one unit of the cooperative budget (core.h): a loop
 * collecting thousands of finished members yields now and then. */
typedef struct weft_joinset weft_joinset;

/* Creates an empty set whose members run on rt (NULL: the calling
 * thread's runtime, weft_rt_current()). Returns 0, -EINVAL (rt NULL and
 * no current runtime), -ENOMEM. */
int weft_joinset_create(weft_joinset **out, weft_rt *rt);

/* Aborts every member still running and frees the set and everything it
 * holds (outputs not yet collected are discarded). Returns at once: an
 * aborted member's drop function runs (exactly once) when it reaches its
 * next poll point, on a worker, or at runtime shutdown. A
 * weft_joinset_next of this set must not be waiting (drop it first).
 * NULL: nothing. */
void weft_joinset_destroy(weft_joinset *set);

/* Spawns the future type (a WEFT_FUTURE type, static storage) with a frame
 * copied from init (NULL: zeroed) as a member of set. Returns 0, or
 * -EINVAL (set or type NULL), -ESHUTDOWN, -ENOMEM, and then nothing was
 * taken: no task exists, its drop function has not run and the caller
 * still owns whatever init refers to. */
int weft_joinset_spawn(weft_joinset *set, const weft_future_type *type,
		       const void *init);

/* weft_joinset_spawn with a task name (see weft_spawn_named; NULL: none).
 * Returns as weft_joinset_spawn. */
int weft_joinset_spawn_named(weft_joinset *set, const char *name,
			     const weft_future_type *type, const void *init);

/* WEFT_JOINSET_SPAWN(set, name, { .field = value, ... }) spawns the future
 * `name` into set with a frame built from the initialiser (-> int as
 * weft_joinset_spawn). */
#ifdef __cplusplus
#define WEFT_JOINSET_SPAWN(set, name, ...)                                  \
	([&]() -> int {                                                     \
		name##_frame weft_init_ = __VA_ARGS__;                      \
		return weft_joinset_spawn((set), &name##_future, &weft_init_); \
	}())
#else
#define WEFT_JOINSET_SPAWN(set, name, ...)                                  \
	weft_joinset_spawn((set), &name##_future, &(name##_frame)__VA_ARGS__)
#endif

/* Requests cancellation of every member still running (as
 * weft_join_abort on each). They stay in the set: each is reported by
 * weft_joinset_next with res = -ECANCELED, or with its output if it
 * finished before the abort reached it. */
void weft_joinset_abort_all(weft_joinset *set);

/* Members not yet collected by weft_joinset_next (running or finished). */
size_t weft_joinset_len(const weft_joinset *set);

/* Waits for the next member to finish and collects it (it leaves the set):
 *   res >= 0 or < 0   the member's output (its frame's res), any value
 *   res = -ECANCELED  the member was aborted (abort_all, or the runtime
 *                     shut down first)
 *   res = -ENOENT     the set is empty: nothing to wait for (a member
 *                     spawned later can be waited for by a new next)
 *   res = -EINVAL     set is NULL
 * `id` is the collected member's task id (0 with -ENOENT and -EINVAL).
 * Note that a member's own output may be -ECANCELED or -ENOENT too: tell
 * them apart with id (non-zero for a collected member). Members are
 * reported in the order they finished. Dropping a waiting next loses
 * nothing (no member is taken before READY). */
typedef struct weft_joinset_next {
	weft_joinset *set;
	uint64_t id;
	intptr_t res;
} weft_joinset_next;
WEFT_FUTURE_EXTERN(weft_joinset_next);

void weft_joinset_next_init(weft_joinset_next *n, weft_joinset *set);
weft_poll weft_joinset_next_poll(weft_joinset_next *n, weft_cx *cx);
/* Nothing to release: a waker left in the set is replaced by the next
 * next, or dropped by weft_joinset_destroy. */
void weft_joinset_next_drop(weft_joinset_next *n);

/* ---------------------------------------------------------- TaskTracker */

/* Counts the tasks spawned through it, without keeping their outputs
 * (like tokio_util's TaskTracker): a server spawns each connection's task
 * through the tracker and, at shutdown, closes it and waits until every
 * connection task has ended. Closing does not stop spawning (a closed
 * tracker still tracks new tasks); it lets wait complete once the count
 * reaches 0. Thread-safe. */
typedef struct weft_tracker weft_tracker;

/* Creates an open, empty tracker for tasks of rt (NULL: weft_rt_current()).
 * Returns 0, -EINVAL, -ENOMEM. */
int weft_tracker_create(weft_tracker **out, weft_rt *rt);

/* Releases the tracker. Tracked tasks run on (their ends are counted by
 * nobody); no weft_tracker_wait may be waiting. NULL: nothing. */
void weft_tracker_destroy(weft_tracker *tr);

/* Spawns like weft_spawn and tracks the task until it completes or is
 * cancelled. With abort != NULL, *abort receives an abort handle for it
 * (there is no join handle: the output is discarded). Returns 0 or
 * -EINVAL, -ESHUTDOWN, -ENOMEM, with nothing taken (as weft_spawn). */
int weft_tracker_spawn(weft_tracker *tr, const weft_future_type *type,
		       const void *init, weft_abort_handle **abort);

/* WEFT_TRACKER_SPAWN(tr, name, &abort_or_NULL, { .field = value, ... }) */
#ifdef __cplusplus
#define WEFT_TRACKER_SPAWN(tr, name, abort, ...)                            \
	([&]() -> int {                                                     \
		name##_frame weft_init_ = __VA_ARGS__;                      \
		return weft_tracker_spawn((tr), &name##_future, &weft_init_, \
					  (abort));                         \
	}())
#else
#define WEFT_TRACKER_SPAWN(tr, name, abort, ...)                            \
	weft_tracker_spawn((tr), &name##_future,                            \
			   &(name##_frame)__VA_ARGS__, (abort))
#endif

/* Closes the tracker (waits may complete once it is empty); idempotent.
 * Returns true if this call closed it. */
bool weft_tracker_close(weft_tracker *tr);
/* Undoes weft_tracker_close: returns true if the tracker was closed;
 * waits that have not completed yet wait again. */
bool weft_tracker_reopen(weft_tracker *tr);
/* True while the tracker is closed. */
bool weft_tracker_is_closed(const weft_tracker *tr);
/* Tracked tasks that have not ended yet. */
size_t weft_tracker_len(const weft_tracker *tr);

/* Completes (res = 0) when the tracker is closed and no tracked task is
 * left; res = -EINVAL for tr NULL. Any number of waits may wait at once,
 * from any tasks or threads. The waiting future holds the tracker
 * borrowed: drop it before weft_tracker_destroy. */
typedef struct weft_tracker_wait {
	weft_tracker *tr;
	weft__wlink link;     /* in the tracker's wait list (private) */
	weft_waker waker;     /* guarded by the tracker's lock (private) */
	bool queued;
	intptr_t res;
} weft_tracker_wait;
WEFT_FUTURE_EXTERN(weft_tracker_wait);

void weft_tracker_wait_init(weft_tracker_wait *w, weft_tracker *tr);
weft_poll weft_tracker_wait_poll(weft_tracker_wait *w, weft_cx *cx);
/* Leaves the wait list if still queued. */
void weft_tracker_wait_drop(weft_tracker_wait *w);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_GROUP_H */
