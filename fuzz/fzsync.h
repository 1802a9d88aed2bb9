/* fuzz/fzsync.h - what the channel and semaphore harnesses share: a
 * reader of the op script, and a counting waker per simulated task with
 * the lost-wake-up check: a future that returned PENDING and returns
 * READY at a later poll must have been woken in between (in a runtime,
 * an unwoken task is never polled again: it would hang). Single thread:
 * the harnesses poll every future by hand. */
#ifndef WEFT_FUZZ_FZSYNC_H
#define WEFT_FUZZ_FZSYNC_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/core.h"
#include "check.h"


typedef struct fz_rd {
	const uint8_t *p;
	size_t n;
} fz_rd;

static inline uint8_t fz_byte(fz_rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

/* A simulated task: its waker counts wakes and live clones. */
typedef struct fz_task {
	int wakes, live;
	int wakes_at_pending; /* wakes when the last PENDING was returned */
	bool pending;         /* a future of this task is waiting */
	weft_waker w;
	weft_cx cx;
} fz_task;

static weft_waker fzt_clone(const void *d);
static void fzt_wake(void *d)
{
	((fz_task *)d)->wakes++;
	((fz_task *)d)->live--;
}
static void fzt_wake_ref(const void *d)
{
	((fz_task *)d)->wakes++;
}
static void fzt_drop(void *d)
{
	((fz_task *)d)->live--;
}
static const weft_waker_vtable fzt_vt = { fzt_clone, fzt_wake, fzt_wake_ref,
					  fzt_drop };
static weft_waker fzt_clone(const void *d)
{
	((fz_task *)d)->live++;
	return (weft_waker){ &fzt_vt, (void *)d };
}

static inline void fz_task_init(fz_task *t)
{
	memset(t, 0, sizeof(*t));
	t->w = (weft_waker){ &fzt_vt, t };
	weft_cx_init(&t->cx, &t->w);
}

/* The context for one poll (a fresh coop budget: no forced yields). */
static inline weft_cx *fz_cx(fz_task *t)
{
	t->cx.budget = WEFT_COOP_BUDGET;
	return &t->cx;
}

/* Records a poll's outcome: PENDING arms the check, READY after PENDING
 * asserts a wake came in between. */
static inline void fz_polled(fz_task *t, weft_poll p)
{
	if (p == WEFT_PENDING) {
		t->pending = true;
		t->wakes_at_pending = t->wakes;
		return;
	}
	if (t->pending)
		FUZZ_CHECK(t->wakes > t->wakes_at_pending); /* lost wake-up */
	t->pending = false;
}

/* The future was dropped, or the task did something else: no check. */
static inline void fz_forget(fz_task *t)
{
	t->pending = false;
}

#endif
