/* sync/mutex.c - weft_mutex's lock future: an acquire of the mutex's one
 * permit (the rest of weft_mutex is inline in weft/mutex.h). */
#include "weft/mutex.h"
#include "sem.h"

void weft_mutex_lock_init(weft_mutex_lock *l, weft_mutex *m)
{
	weft__semaphore_acquire_setup(l, &m->sem, 1, "weft_mutex_lock_init",
		"the lock is still registered (queued, or handed the mutex and "
		"not yet polled): call weft_mutex_lock_drop before initialising "
		"it again");
}

WEFT_FUTURE_DEFINE(weft_mutex_lock, weft_mutex_lock_drop);
