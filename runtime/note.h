/* runtime/note.h - the wait note: what a task waits on, as the leaf future
 * that returned PENDING knows it (a sleep: its deadline; a stream send or
 * receive: the fd; an mpsc send or receive: the channel), for the task
 * dump (weft_task_info.wait_kind, metrics.c).
 *
 * cx->worker, when not NULL, points at the polling worker (a struct
 * weft__worker, internal.h), whose first member is its note word, so a
 * leaf sets the note with one store and no call: the kind in the top four
 * bits, the value below (a deadline in ns, an fd, a user-space address:
 * all under 2^60). On the pending path only: six instructions on x86-64
 * (load cx->worker, test, branch, the kind's constant, or, store), none
 * on the ready path (the mpsc send and reserve futures test their poll's
 * result for it: two more on every return). Only the polling thread touches the word. With task
 * tracking the worker clears it before each poll and copies it into the
 * task's tracking record after a poll that returned PENDING; without, the
 * store is all it costs and nobody reads it. A task waiting on several
 * leaves (a select) shows the last one polled.
 */
#ifndef WEFT_RUNTIME_NOTE_H
#define WEFT_RUNTIME_NOTE_H

#include <stdint.h>

#include "weft/core.h"
#include "weft/metrics.h"

#define WEFT__NOTE_SHIFT 60
#define WEFT__NOTE_MASK ((UINT64_C(1) << WEFT__NOTE_SHIFT) - 1)

/* The first member of struct weft__worker. */
struct weft__note {
	uint64_t word;
};

static inline void weft__cx_note(const weft_cx *cx, weft_wait_kind kind,
				 uint64_t what)
{
	struct weft__note *n = (struct weft__note *)cx->worker;

	/* what < 2^60 (a deadline in ns, an fd, a user-space address): not
	 * masked, which would cost two more instructions */
	if (n)
		n->word = (uint64_t)kind << WEFT__NOTE_SHIFT | what;
}

#endif /* WEFT_RUNTIME_NOTE_H */
