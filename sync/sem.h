/* sync/sem.h - private to sync/: the semaphore acquire's initialiser
 * under another future's name, so that the debug-build check in
 * weft_mutex_lock_init and weft_rwlock_{read,write}_init names the future
 * the caller used. */
#ifndef WEFT_SYNC_SEM_H
#define WEFT_SYNC_SEM_H

#include "weft/semaphore.h"

/* weft_semaphore_acquire_init, reporting a still-registered acquire as
 * "weft: <where>: <what>". */
void weft__semaphore_acquire_setup(weft_semaphore_acquire *a,
				   weft_semaphore *s, uint32_t n,
				   const char *where, const char *what);

#endif /* WEFT_SYNC_SEM_H */
