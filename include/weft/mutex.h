/* weft/mutex.h - an async mutex: FIFO, built on a one-permit weft_semaphore.
 *
 * The lock future is the guard's birth: when weft_mutex_lock_poll returns
 * READY the task holds the mutex until it calls weft_mutex_unlock (the
 * guard's drop). The mutex protects whatever data the caller associates
 * with it; lock and unlock order memory like a pthread mutex (the unlocker's
 * writes happen before the next holder's reads).
 *
 * Cancellation: weft_mutex_lock_drop on a waiting lock leaves the queue;
 * on one that was handed the mutex but not yet polled it unlocks again, so
 * the mutex is never left held by nobody. Debug builds abort when a lock
 * future is re-initialised while it is still registered (queued, or
 * handed the mutex and not yet polled): drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_MUTEX_H
#define WEFT_MUTEX_H

#include "semaphore.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_mutex {
	weft_semaphore sem;
} weft_mutex;

/* Initialises an unlocked mutex (embedded; cannot fail). */
static inline void weft_mutex_init(weft_mutex *m)
{
	weft_semaphore_init(&m->sem, 1);
}

/* Releases an embedded mutex; nothing may wait on it. */
static inline void weft_mutex_destroy(weft_mutex *m)
{
	weft_semaphore_destroy(&m->sem);
}

/* Returns 0 (now held) or -EAGAIN (held, or others are queued). */
static inline int weft_mutex_try_lock(weft_mutex *m)
{
	return weft_semaphore_try_acquire(&m->sem, 1);
}

/* Releases the mutex held by the caller (the guard's drop). */
static inline void weft_mutex_unlock(weft_mutex *m)
{
	weft_semaphore_release(&m->sem, 1);
}

/* The lock future: an acquire of the mutex's one permit (64 bytes). */
typedef weft_semaphore_acquire weft_mutex_lock;
WEFT_FUTURE_EXTERN(weft_mutex_lock);

void weft_mutex_lock_init(weft_mutex_lock *l, weft_mutex *m);

/* READY (res = 0) once the mutex is held; never fails. */
static inline weft_poll weft_mutex_lock_poll(weft_mutex_lock *l, weft_cx *cx)
{
	return weft_semaphore_acquire_poll(l, cx);
}

/* Cancels a lock that has not returned READY (see top). */
static inline void weft_mutex_lock_drop(weft_mutex_lock *l)
{
	weft_semaphore_acquire_drop(l);
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_MUTEX_H */
