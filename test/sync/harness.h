/* test/sync/harness.h - hand-polling helpers for the sync tests: a counting
 * test waker (wakes and live clones), a context around it, a tiny thread
 * helper, and MISUSE_TEST for the debug-build checks. Included by each
 * test/sync/<unit>.c.
 *
 * Futures are declared `= {0}` (zeroed, as the API requires: the debug
 * check in each waiting future's _init reads the node's state). */
#ifndef WEFT_TEST_SYNC_HARNESS_H
#define WEFT_TEST_SYNC_HARNESS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "weft/core.h"

/* A test waker: counts wakes and the live clones it handed out. A test
 * ends with live == 0 (no waker leaked or left dangling in a primitive). */
typedef struct tw {
	atomic_int wakes;
	atomic_int live;
} tw;

static weft_waker tw_clone(const void *d);
static void tw_wake(void *d)
{
	tw *t = d;

	atomic_fetch_add(&t->wakes, 1);
	atomic_fetch_sub(&t->live, 1);
}
static void tw_wake_by_ref(const void *d)
{
	atomic_fetch_add(&((tw *)d)->wakes, 1);
}
static void tw_drop(void *d)
{
	atomic_fetch_sub(&((tw *)d)->live, 1);
}
static const weft_waker_vtable tw_vt = { tw_clone, tw_wake, tw_wake_by_ref,
					 tw_drop };
static weft_waker tw_clone(const void *d)
{
	atomic_fetch_add(&((tw *)d)->live, 1);
	return (weft_waker){ &tw_vt, (void *)d };
}

/* A test task: its waker and a context around it. */
typedef struct tt {
	tw t;
	weft_waker w;
	weft_cx cx;
} tt;

static inline void tt_init(tt *k)
{
	atomic_init(&k->t.wakes, 0);
	atomic_init(&k->t.live, 0);
	k->w = (weft_waker){ &tw_vt, &k->t };
	weft_cx_init(&k->cx, &k->w);
}

static inline int tt_wakes(tt *k)
{
	return atomic_load(&k->t.wakes);
}

static inline int tt_live(tt *k)
{
	return atomic_load(&k->t.live);
}

/* Resets the budget (a new "poll" of the task). */
static inline weft_cx *tt_cx(tt *k)
{
	k->cx.budget = WEFT_COOP_BUDGET;
	k->cx.flags = 0;
	return &k->cx;
}

/* Spins (yielding the CPU) until the task has been woken more than
 * `seen` times; returns the new count. Used by thread tests. */
static inline int tt_wait_wake(tt *k, int seen)
{
	int w;

	while ((w = tt_wakes(k)) == seen)
		sched_yield();
	return w;
}

/* A test of a debug-build misuse check: the body must abort (SIGABRT,
 * from weft_debug_misuse). The library is built without NDEBUG by default
 * (debugoptimized); a release build (NDEBUG) has no checks, and the test
 * is skipped. Criterion and test/shim both honour .signal. */
#ifndef NDEBUG
#define MISUSE_TEST(suite, name) Test(suite, name, .signal = SIGABRT)
#else
#define MISUSE_TEST(suite, name)                                            \
	static void suite##_##name##_body(void);                           \
	Test(suite, name)                                                  \
	{                                                                  \
		cr_skip_test("NDEBUG: no debug checks");                   \
	}                                                                  \
	__attribute__((unused)) static void suite##_##name##_body(void)
#endif

#ifdef WEFT_STRESS
#define STRESS(small, big) (big)
#else
#define STRESS(small, big) (small)
#endif

#endif /* WEFT_TEST_SYNC_HARNESS_H */
