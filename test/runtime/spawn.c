/* test/runtime/spawn.c - weft_spawn's errors: NULL arguments (-EINVAL),
 * a shut-down runtime (-ESHUTDOWN), allocation failure through the
 * builder's allocator hook (-ENOMEM, nothing leaked, the init bytes not
 * consumed), and the frame initialisation contract.
 */
#include "test/runtime/harness.h"

struct counted {
	WEFT_ASYNC;
	probe *p;
	intptr_t v;
};

static weft_poll counted_poll(struct counted *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	WEFT_RETURN(f->v);
	WEFT_END();
}

static void counted_drop(struct counted *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}

WEFT_FUTURE(counted, struct counted, counted_drop);

Test(spawn, null_arguments_return_einval)
{
	weft_rt *rt = rt_current();
	weft_future_type no_poll = { .size = 16, .align = 8 };
	weft_join *j = (weft_join *)(uintptr_t)1;
	probe p = { 0 };
	struct counted init = { .p = &p };

	cr_assert_eq(weft_spawn(NULL, &counted_future, &init, &j), -EINVAL);
	cr_assert_null(j);
	j = (weft_join *)(uintptr_t)1;
	cr_assert_eq(weft_spawn(rt, NULL, &init, &j), -EINVAL);
	cr_assert_null(j);
	j = (weft_join *)(uintptr_t)1;
	cr_assert_eq(weft_spawn(rt, &no_poll, &init, &j), -EINVAL);
	cr_assert_null(j);
	cr_assert_eq(weft_spawn(rt, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_spawn_blocking(rt, NULL, NULL, NULL, NULL), -EINVAL);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.drops), 0);
}

Test(spawn, after_shutdown_returns_eshutdown, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	struct counted init = { .p = &p };
	weft_join *j = (weft_join *)(uintptr_t)1;

	weft_rt_shutdown(rt);
	cr_assert_eq(weft_spawn(rt, &counted_future, &init, &j), -ESHUTDOWN);
	cr_assert_null(j);
	cr_assert_eq(weft_spawn(rt, &counted_future, &init, NULL), -ESHUTDOWN);
	weft_rt_shutdown(rt);  /* idempotent */
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.drops), 0, "a refused frame is not dropped");
	rt_leak_check();
}

struct zeroed {
	WEFT_ASYNC;
	long a[8];
};

static weft_poll zeroed_poll(struct zeroed *f, weft_cx *cx)
{
	long sum = 0;

	for (int i = 0; i < 8; i++)
		sum += f->a[i] != 0;
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(sum + 100);
	WEFT_END();
}
WEFT_FUTURE(zeroed, struct zeroed, WEFT_NO_DROP);

Test(spawn, null_init_zeroes_the_frame, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();

	/* reuse freed memory a few times: a stale frame would show */
	for (int round = 0; round < 5; round++) {
		weft_join *j;
		intptr_t out = 0;

		cr_assert_eq(weft_spawn(rt, &zeroed_future, NULL, &j), 0);
		out = join_on(rt, j);
		cr_assert_eq(out, 100, "frame not zeroed");
		weft_join_drop(j);
	}
	weft_rt_destroy(rt);
}

/* ------------------------------------------------ allocation failure */

static void enomem_case(bool current, long fail_at)
{
	enum { N = 10 };
	calloc_hook h = { .fail_at = fail_at };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(1, current, &a);
	probe p[N] = { 0 };
	weft_join *j[N];
	int failed = -1;

	for (int i = 0; i < N; i++) {
		struct counted init = { .p = &p[i], .v = i };
		int rc;

		j[i] = (weft_join *)(uintptr_t)1;
		rc = weft_spawn(rt, &counted_future, &init, &j[i]);
		if (i + 1 == fail_at) {
			cr_assert_eq(rc, -ENOMEM, "spawn %d: %d", i, rc);
			cr_assert_null(j[i]);
			failed = i;
		} else {
			cr_assert_eq(rc, 0, "spawn %d: %d", i, rc);
		}
	}
	cr_assert_eq(failed, (int)fail_at - 1);
	for (int i = 0; i < N; i++) {
		intptr_t out = -1;

		if (i == failed)
			continue;
		out = join_on(rt, j[i]);
		cr_assert_eq(out, i);
		weft_join_drop(j[i]);
	}
	weft_rt_destroy(rt);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(atomic_load(&p[i].drops), i == failed ? 0 : 1);
		cr_assert_eq(atomic_load(&p[i].polls), i == failed ? 0 : 2);
	}
	cr_assert_eq(atomic_load(&h.live), 0, "task memory outstanding");
	cr_assert_eq(atomic_load(&h.live_bytes), 0);
	rt_leak_check();
}

Test(spawn, allocation_failure_returns_enomem_multi_thread,
     .timeout = RT_TIMEOUT)
{
	for (long n = 1; n <= 10; n++)
		enomem_case(false, n);
}

Test(spawn, allocation_failure_returns_enomem_current_thread,
     .timeout = RT_TIMEOUT)
{
	for (long n = 1; n <= 10; n++)
		enomem_case(true, n);
}

/* A task spawning children on its worker sees -ENOMEM too. */
struct spawner {
	WEFT_ASYNC;
	probe *kids;
	int n;
	int *rcs;
};

static weft_poll spawner_poll(struct spawner *f, weft_cx *cx)
{
	for (int i = 0; i < f->n; i++) {
		struct counted init = { .p = &f->kids[i], .v = i };

		f->rcs[i] = weft_spawn(weft_rt_current(), &counted_future, &init,
				       NULL);
	}
	return WEFT_READY;
}
WEFT_FUTURE(spawner, struct spawner, WEFT_NO_DROP);

Test(spawn, allocation_failure_on_a_worker_returns_enomem,
     .timeout = RT_TIMEOUT)
{
	calloc_hook h = { .fail_at = 4 };  /* the parent is allocation 1 */
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	probe kids[6] = { 0 };
	int rcs[6];
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, spawner, &j,
				{ .kids = kids, .n = 6, .rcs = rcs }),
		     0);
	/* a join that finds the parent unfinished boxes block_on's waker (an
	 * allocation, which would shift the count): join once it is done */
	cr_assert(WAIT_UNTIL(weft_join_is_finished(j)));
	cr_assert_eq(join_on(rt, j), 0);
	weft_join_drop(j);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(rcs[i], i == 2 ? -ENOMEM : 0, "child %d: %d", i,
			     rcs[i]);
		if (i != 2)
			cr_assert(WAIT_UNTIL(atomic_load(&kids[i].drops) == 1));
	}
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&kids[2].drops), 0);
	cr_assert_eq(atomic_load(&h.live), 0);
	rt_leak_check();
}

Test(spawn, builder_rejects_an_incomplete_allocator)
{
	weft_allocator a = { hook_alloc, NULL, NULL };
	weft_rt_builder b;
	weft_rt *rt = (weft_rt *)(uintptr_t)1;

	weft_rt_builder_init(&b);
	b.io.enable = false;
	b.allocator = &a;
	cr_assert_eq(weft_rt_create(&rt, &b), -EINVAL);
	cr_assert_null(rt);
	cr_assert_eq(weft_rt_create(NULL, &b), -EINVAL);
}
