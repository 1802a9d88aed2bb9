/* test/runtime/harness.h - helpers shared by the runtime tests: runtime
 * construction (io disabled, unpinned), a counting test waker, a gate (a
 * one-shot event a task can await), joining a task from a non-worker
 * thread, bounded waits used only as failure guards, and a counting
 * allocator hook. Included by each test/runtime/<unit>.c.
 */
#ifndef WEFT_TEST_RUNTIME_HARNESS_H
#define WEFT_TEST_RUNTIME_HARNESS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/combinators.h"
#include "weft/core.h"
#include "weft/rt.h"

#ifdef WEFT_STRESS
#define STRESS(small, big) (big)
#else
#define STRESS(small, big) (small)
#endif

/* Per-test failure guard: a hang (a starved task, a lost wake-up) fails
 * the test instead of blocking the suite. Generous for TSan. */
#define RT_TIMEOUT 120

/* Spins (yielding, then napping) until cond holds; false after ~60 s.
 * A failure guard only: no test passes or fails on how long this takes. */
#define WAIT_UNTIL(cond)                                                  \
	__extension__({                                                   \
		bool ok_ = false;                                         \
		for (long i_ = 0; i_ < 1200000; i_++) {                   \
			if (cond) {                                       \
				ok_ = true;                               \
				break;                                    \
			}                                                 \
			if (i_ < 2000)                                    \
				sched_yield();                            \
			else                                              \
				usleep(50);                               \
		}                                                         \
		ok_;                                                      \
	})

/* ---------------------------------------------------------- leak check */

#if defined(__SANITIZE_ADDRESS__)
#define RT_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_HAVE_LSAN 1
#endif
#endif
#ifdef RT_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Fails the test if LeakSanitizer finds unreachable memory now (ASan
 * builds; a no-op elsewhere). Criterion ignores LSan's report at process
 * exit, so tests that prove "nothing leaked" call this after destroy. */
static __attribute__((noinline, unused)) void rt_leak_check(void)
{
#ifdef RT_HAVE_LSAN
	if (__lsan_do_recoverable_leak_check())
		cr_assert_fail("memory leaked (LeakSanitizer report above)");
#endif
}

/* ------------------------------------------------------------ runtimes */

static inline weft_rt *rt_new(unsigned workers, bool current_thread)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.current_thread = current_thread;
	b.no_pin = true;
	b.io.enable = false;
	cr_assert_eq(weft_rt_create(&rt, &b), 0, "weft_rt_create: %s",
		     weft_rt_create_error());
	return rt;
}

static inline weft_rt *rt_multi(unsigned workers)
{
	return rt_new(workers, false);
}

static inline weft_rt *rt_current(void)
{
	return rt_new(0, true);
}

/* ---------------------------------------------------------- test waker */

/* Counts wakes and live clones; a test ends with live == 0. */
typedef struct tw {
	atomic_int wakes;
	atomic_int live;
} tw;

static weft_waker tw_clone(const void *d);
static void tw_wake(void *d)
{
	atomic_fetch_add(&((tw *)d)->wakes, 1);
	atomic_fetch_sub(&((tw *)d)->live, 1);
}
static void tw_wake_by_ref(const void *d)
{
	atomic_fetch_add(&((tw *)(uintptr_t)d)->wakes, 1);
}
static void tw_drop(void *d)
{
	atomic_fetch_sub(&((tw *)d)->live, 1);
}
static const weft_waker_vtable tw_vt = { tw_clone, tw_wake, tw_wake_by_ref,
					 tw_drop };
static weft_waker tw_clone(const void *d)
{
	atomic_fetch_add(&((tw *)(uintptr_t)d)->live, 1);
	return (weft_waker){ &tw_vt, (void *)(uintptr_t)d };
}

/* A hand-polled context around a tw (combinator and join-handle tests). */
typedef struct tcx {
	tw t;
	weft_waker w;
	weft_cx cx;
} tcx;

static inline weft_cx *tcx_init(tcx *k)
{
	atomic_init(&k->t.wakes, 0);
	atomic_init(&k->t.live, 0);
	k->w = (weft_waker){ &tw_vt, &k->t };
	weft_cx_init(&k->cx, &k->w);
	return &k->cx;
}

/* ---------------------------------------------------------------- gate */

/* A one-shot event: gate_poll is READY once gate_open ran. Safe from any
 * thread; the registered waker is woken by value on open. */
typedef struct gate {
	pthread_mutex_t m;
	bool open;
	weft_waker w;
} gate;

static inline void gate_init(gate *g)
{
	pthread_mutex_init(&g->m, NULL);
	g->open = false;
	g->w = WEFT_WAKER_NONE;
}

static inline void gate_open(gate *g)
{
	weft_waker w;

	pthread_mutex_lock(&g->m);
	g->open = true;
	w = g->w;
	g->w = WEFT_WAKER_NONE;
	pthread_mutex_unlock(&g->m);
	weft_waker_wake(&w);
}

static inline weft_poll gate_poll(gate *g, weft_cx *cx)
{
	weft_poll p = WEFT_READY;

	pthread_mutex_lock(&g->m);
	if (!g->open) {
		weft_waker_register(&g->w, cx);
		p = WEFT_PENDING;
	}
	pthread_mutex_unlock(&g->m);
	return p;
}

/* Drops a waker still registered (the waiter was cancelled). */
static inline void gate_destroy(gate *g)
{
	weft_waker_drop(&g->w);
	pthread_mutex_destroy(&g->m);
}

/* A future that completes once g opens (a frame awaiting a gate). */
struct gate_fut {
	WEFT_ASYNC_VOID;
	gate *g;
};

static inline weft_poll gate_fut_poll(struct gate_fut *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT(gate_poll(f->g, cx));
	WEFT_END();
}
WEFT_FUTURE(gate_fut, struct gate_fut, WEFT_NO_DROP);

/* Blocks the calling (non-worker) thread until g opens. */
static inline void gate_block_on(weft_rt *rt, gate *g)
{
	struct gate_fut f = { .g = g };

	cr_assert_eq(WEFT_BLOCK_ON(rt, gate_fut, &f), 0);
}

/* ------------------------------------------------------------- joining */

/* Awaits a join handle: res = the join's result. */
struct joiner {
	WEFT_ASYNC;
	weft_join *j;
	weft_join_wait w;
};

static inline weft_poll joiner_poll(struct joiner *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_join_wait, &f->w, f->j);
	WEFT_RETURN(f->w.res);
	WEFT_END();
}
WEFT_FUTURE(joiner, struct joiner, WEFT_NO_DROP);

/* Joins j from the calling (non-worker) thread through block_on and
 * returns the join's result: the task's output, or -ECANCELED, or -EINVAL
 * (output already taken). Does not drop j. */
static inline intptr_t join_on(weft_rt *rt, weft_join *j)
{
	struct joiner f = { .j = j, .res = 12345 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, joiner, &f), 0);
	return f.res;
}

/* Polls j's join once with a counting waker: READY expected (the task
 * finished); returns the result and checks no waker was kept. */
static inline intptr_t join_now(weft_join *j)
{
	weft_join_wait w;
	tcx k;

	weft_join_wait_init(&w, j);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(atomic_load(&k.t.live), 0, "no waker kept");
	return w.res;
}

/* ----------------------------------------------------------- allocator */

/* Counting allocator hook: fails allocation number fail_at (1-based; 0 =
 * never) and tracks what is outstanding. */
typedef struct calloc_hook {
	atomic_long calls;
	atomic_long live;
	atomic_long live_bytes;
	long fail_at;
} calloc_hook;

static inline void *hook_alloc(size_t size, void *ctx)
{
	calloc_hook *h = ctx;
	long n = atomic_fetch_add(&h->calls, 1) + 1;

	if (h->fail_at && n == h->fail_at)
		return NULL;
	atomic_fetch_add(&h->live, 1);
	atomic_fetch_add(&h->live_bytes, (long)size);
	return malloc(size);
}

static inline void hook_free(void *p, size_t size, void *ctx)
{
	calloc_hook *h = ctx;

	atomic_fetch_sub(&h->live, 1);
	atomic_fetch_sub(&h->live_bytes, (long)size);
	free(p);
}

static inline weft_rt *rt_with_alloc(unsigned workers, bool current_thread,
				     const weft_allocator *a)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.current_thread = current_thread;
	b.no_pin = true;
	b.io.enable = false;
	b.allocator = a;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	return rt;
}

/* Inside an async body: returns PENDING without arranging a wake (the
 * caller has handed its waker elsewhere), resuming after this point on the
 * next poll. */
#define PARK() PARK_(WEFT__LABEL(__COUNTER__))
#define PARK_(L)                                                          \
	do {                                                              \
		WEFT__SET_RESUME(L)                                       \
		return WEFT_PENDING;                                      \
	L:;                                                               \
	} while (0)

/* A counter pair most test frames point at. */
typedef struct probe {
	atomic_int polls;
	atomic_int drops;
} probe;

#endif /* WEFT_TEST_RUNTIME_HARNESS_H */
