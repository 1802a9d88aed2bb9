/* weft/rwlock.h - an async reader-writer lock, write-preferring and fair.
 *
 * Built on a weft_semaphore holding WEFT_RWLOCK_MAX_READERS permits: a
 * read takes one, a write takes all of them. The semaphore is FIFO with no
 * barging, so once a writer waits, readers that come later queue behind it
 * (write-preferring), and a writer gets the permits granted in part while
 * earlier readers finish (neither side starves).
 *
 * Cancellation as for weft_semaphore: dropping a waiting read or write
 * gives back what it had been granted; one granted but not yet polled
 * releases it.
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

static inline void weft_rwlock_init(weft_rwlock *l)
{
	weft_semaphore_init(&l->sem, WEFT_RWLOCK_MAX_READERS);
}

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

/* A read or a write lock future (READY = held; never fails). */
typedef struct weft_rwlock_lock {
	weft_semaphore_acquire a;
} weft_rwlock_lock;

static inline void weft_rwlock_read_init(weft_rwlock_lock *f, weft_rwlock *l)
{
	weft_semaphore_acquire_init(&f->a, &l->sem, 1);
}

static inline void weft_rwlock_write_init(weft_rwlock_lock *f, weft_rwlock *l)
{
	weft_semaphore_acquire_init(&f->a, &l->sem, WEFT_RWLOCK_MAX_READERS);
}

static inline weft_poll weft_rwlock_lock_poll(weft_rwlock_lock *f, weft_cx *cx)
{
	return weft_semaphore_acquire_poll(&f->a, cx);
}

static inline void weft_rwlock_lock_drop(weft_rwlock_lock *f)
{
	weft_semaphore_acquire_drop(&f->a);
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_RWLOCK_H */
