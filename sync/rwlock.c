/* sync/rwlock.c - weft_rwlock's read and write futures: acquires of one
 * and of all WEFT_RWLOCK_MAX_READERS permits (the rest of weft_rwlock is
 * inline in weft/rwlock.h). */
#include "weft/rwlock.h"
#include "sem.h"

void weft_rwlock_read_init(weft_rwlock_read *f, weft_rwlock *l)
{
	weft__semaphore_acquire_setup(f, &l->sem, 1, "weft_rwlock_read_init",
		"the read lock is still registered (queued, or granted and not "
		"yet polled): call weft_rwlock_read_drop before initialising it "
		"again");
}

void weft_rwlock_write_init(weft_rwlock_write *f, weft_rwlock *l)
{
	weft__semaphore_acquire_setup(f, &l->sem, WEFT_RWLOCK_MAX_READERS,
		"weft_rwlock_write_init",
		"the write lock is still registered (queued, or granted in part "
		"and not yet polled): call weft_rwlock_write_drop before "
		"initialising it again");
}

WEFT_FUTURE_DEFINE(weft_rwlock_read, weft_rwlock_read_drop);
WEFT_FUTURE_DEFINE(weft_rwlock_write, weft_rwlock_write_drop);
