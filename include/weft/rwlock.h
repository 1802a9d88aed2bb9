/* weft/rwlock.h - an async reader-writer lock, write-preferring and fair.
 *
 * Built on a weft_semaphore holding WEFT_RWLOCK_MAX_READERS permits: a
 * read takes one, a write takes all of them. The semaphore is FIFO with no
 * barging, so once a writer waits, readers that come later queue behind it
 * (write-preferring), and a writer gets the permits granted in part while
 * earlier readers finish (neither side starves).
 *
 * Two futures, weft_rwlock_read and weft_rwlock_write (READY = held).
 * Cancellation as for weft_semaphore: dropping a waiting read or write
 * gives back what it had been granted; one granted but not yet polled
 * releases it. Debug builds abort when either is re-initialised while it
 * is still registered: drop it first.
 *
 * Threads: every function here may be called from any thread, in a task
 * or not; a future is polled by the task that holds it (on whichever
 * worker runs the task at that poll), never by two threads at once.
 */
#ifndef WEFT_RWLOCK_H
#define WEFT_RWLOCK_H

#include "semaphore.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define WEFT_RWLOCK_MAX_READERS (1u << 30)

typedef struct weft_rwlock {
	weft_semaphore sem;
} weft_rwlock;

/* Initialises an unlocked rwlock (embedded; cannot fail). */
static inline void weft_rwlock_init(weft_rwlock *l)
{
	weft_semaphore_init(&l->sem, WEFT_RWLOCK_MAX_READERS);
}

/* Releases an embedded rwlock; nothing may wait on it. */
static inline void weft_rwlock_destroy(weft_rwlock *l)
{
	weft_semaphore_destroy(&l->sem);
}

/* Returns 0 (read held) or -EAGAIN (a writer holds or waits). */
static inline int weft_rwlock_try_read(weft_rwlock *l)
{
	return weft_semaphore_try_acquire(&l->sem, 1);
}

/* Returns 0 (write held) or -EAGAIN (anyone holds or waits). */
static inline int weft_rwlock_try_write(weft_rwlock *l)
{
	return weft_semaphore_try_acquire(&l->sem, WEFT_RWLOCK_MAX_READERS);
}

static inline void weft_rwlock_read_unlock(weft_rwlock *l)
{
	weft_semaphore_release(&l->sem, 1);
}

static inline void weft_rwlock_write_unlock(weft_rwlock *l)
{
	weft_semaphore_release(&l->sem, WEFT_RWLOCK_MAX_READERS);
}

/* The read lock future: READY (res = 0) with a read held; never fails. */
typedef weft_semaphore_acquire weft_rwlock_read;
WEFT_FUTURE_EXTERN(weft_rwlock_read);

void weft_rwlock_read_init(weft_rwlock_read *f, weft_rwlock *l);

static inline weft_poll weft_rwlock_read_poll(weft_rwlock_read *f,
					      weft_cx *cx)
{
	return weft_semaphore_acquire_poll(f, cx);
}

static inline void weft_rwlock_read_drop(weft_rwlock_read *f)
{
	weft_semaphore_acquire_drop(f);
}

/* The write lock future: READY (res = 0) with the write held; never
 * fails. */
typedef weft_semaphore_acquire weft_rwlock_write;
WEFT_FUTURE_EXTERN(weft_rwlock_write);

void weft_rwlock_write_init(weft_rwlock_write *f, weft_rwlock *l);

static inline weft_poll weft_rwlock_write_poll(weft_rwlock_write *f,
					       weft_cx *cx)
{
	return weft_semaphore_acquire_poll(f, cx);
}

static inline void weft_rwlock_write_drop(weft_rwlock_write *f)
{
	weft_semaphore_acquire_drop(f);
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_RWLOCK_H */
