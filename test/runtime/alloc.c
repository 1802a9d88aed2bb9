/* test/runtime/alloc.c - weft's jemalloc settings (runtime/alloc.c,
 * weft__alloc_tune): a runtime's creation turns jemalloc's background
 * thread on and shortens the dirty decay, unless the user named them in
 * MALLOC_CONF; and then memory freed after a burst goes back to the
 * system while the process idles (resident bytes fall, read from
 * jemalloc's own statistics). Built with allocator=jemalloc only. Each
 * Criterion test runs in a process of its own, so the settings of one do
 * not reach the next. */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <criterion/criterion.h>
#include <jemalloc/jemalloc.h>

#include "weft.h"
#include "runtime/internal.h"

static weft_rt *rt_new(void)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = 1;
	b.no_pin = true;
	cr_assert_eq(weft_rt_create(&rt, &b), 0, "%s",
		     weft_rt_create_error());
	return rt;
}

static bool background_on(void)
{
	bool on = false;
	size_t len = sizeof(on);

	cr_assert_eq(mallctl("background_thread", &on, &len, NULL, 0), 0);
	return on;
}

static ssize_t decay_ms(const char *name)
{
	ssize_t ms = 0;
	size_t len = sizeof(ms);

	cr_assert_eq(mallctl(name, &ms, &len, NULL, 0), 0, "%s", name);
	return ms;
}

Test(alloc, a_runtime_turns_on_the_background_thread_and_decay)
{
	weft_rt *rt;

	unsetenv("MALLOC_CONF");
	rt = rt_new();
	cr_assert(background_on());
	cr_assert_eq(decay_ms("arenas.dirty_decay_ms"), WEFT__DIRTY_DECAY_MS);
	cr_assert_eq(decay_ms("arena.0.dirty_decay_ms"), WEFT__DIRTY_DECAY_MS);
	weft_rt_destroy(rt);
}

Test(alloc, malloc_conf_wins)
{
	weft_rt *rt;

	/* the process read it before main; weft sees the names and leaves
	 * both settings as jemalloc has them */
	setenv("MALLOC_CONF", "background_thread:false,dirty_decay_ms:10000",
	       1);
	rt = rt_new();
	cr_assert(!background_on());
	cr_assert_neq(decay_ms("arenas.dirty_decay_ms"), WEFT__DIRTY_DECAY_MS);
	weft_rt_destroy(rt);
	unsetenv("MALLOC_CONF");
}

static size_t resident(void)
{
	uint64_t epoch = 1;
	size_t n = 0, len = sizeof(n);

	cr_assert_eq(mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch)), 0);
	cr_assert_eq(mallctl("stats.resident", &n, &len, NULL, 0), 0);
	return n;
}

Test(alloc, an_idle_process_gives_a_burst_back, .timeout = 60)
{
	enum { N = 100000, SZ = 512 };
	static void *p[N];
	struct timespec d = { 0, 50 * 1000000 };
	size_t before, peak, now = 0;
	weft_rt *rt;

	unsetenv("MALLOC_CONF");
	rt = rt_new();
	before = resident();
	for (int i = 0; i < N; i++) {
		p[i] = mallocx(SZ, 0);
		cr_assert_not_null(p[i]);
		memset(p[i], 0x5a, SZ);
	}
	peak = resident();
	cr_assert_gt(peak, before + (size_t)N * SZ / 2);
	for (int i = 0; i < N; i++)
		dallocx(p[i], 0);
	/* nothing allocates from here on: only the background thread can
	 * purge (hang guard 30 s; the decay is 1 s) */
	for (int i = 0; i < 600; i++) {
		now = resident();
		if (now <= 2 * before)
			break;
		nanosleep(&d, NULL);
	}
	cr_log_info("resident: %zu before, %zu at the peak, %zu after",
		    before, peak, now);
	cr_assert_leq(now, 2 * before,
		      "resident %zu bytes, %zu before the burst", now, before);
	weft_rt_destroy(rt);
}
