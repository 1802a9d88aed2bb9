/* runtime/sigmask.h - private: creating weft's threads with the streamed
 * signals blocked (weft/signal.h). */
#ifndef WEFT_RUNTIME_SIGMASK_H
#define WEFT_RUNTIME_SIGMASK_H

#include <signal.h>

/* Blocks weft_signal_set_fill's set in the calling thread and saves the
 * previous mask in *old: call it before pthread_create, so the new thread
 * starts with the set blocked (no window in which it could take one), and
 * weft__sigmask_leave(old) after. */
void weft__sigmask_enter(sigset_t *old);
void weft__sigmask_leave(const sigset_t *old);

#endif /* WEFT_RUNTIME_SIGMASK_H */
