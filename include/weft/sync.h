/* weft/sync.h - the sync module: one header per primitive, all included
 * here. Every primitive uses only the waker API of core.h; every waiting
 * future is cancellation-safe (see docs/sync.md). */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "core.h"
#include "notify.h"
#include "oneshot.h"
#include "mpsc.h"
#include "semaphore.h"
#include "mutex.h"
#include "rwlock.h"
#include "cancel.h"
#include "watch.h"
#include "broadcast.h"
#include "barrier.h"
#include "once.h"

#endif /* WEFT_SYNC_H */
