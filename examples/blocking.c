/* examples/blocking.c - blocking the executor. Ten futures sleep 10, 20,
 * ... 100 ms under join_all on a current-thread runtime (one thread runs
 * every task), three ways:
 *   blocking sleep   usleep in the poll: the only thread is stuck, so the
 *                    futures run one after the other (about 550 ms);
 *   async sleep      weft_sleep: the futures wait together (about 100 ms);
 *   blocking pool    usleep on a pool thread (weft_spawn_blocking), the
 *                    runtime thread free meanwhile (about 100 ms).
 * It prints the times; what it checks are facts, not times: every future
 * finished, and the pool's sleeps ran on other threads than the runtime's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* gettid */
#endif
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

static enum { BLOCKING, ASYNC, POOL } mode;
static const char *const mode_name[] = { "blocking sleep", "async sleep",
					 "blocking pool" };
static weft_instant start;

/* On a pool thread. ms comes by value, in the argument pointer itself:
 * nap shares nothing with the waiting frame, and there is nothing to
 * release (the release function is NULL). */
static intptr_t nap(void *ms)
{
	usleep((unsigned)(uintptr_t)ms * 1000);
	return gettid();
}

struct sleep_ms {
	WEFT_ASYNC;              /* res: the pool thread's id, or 0 */
	unsigned id, ms;
	weft_sleep sleep;
	weft_join *j;
	weft_join_wait wait;
};

static weft_poll sleep_ms_poll(struct sleep_ms *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (mode == BLOCKING) {
		usleep(f->ms * 1000);              /* blocks the executor */
	} else if (mode == ASYNC) {
		WEFT_AWAIT_INIT(weft_sleep, &f->sleep, f->ms * WEFT_MS);
	} else {
		if (weft_spawn_blocking(weft_rt_current(), nap,
					(void *)(uintptr_t)f->ms, NULL, &f->j))
			WEFT_RETURN(-1);
		WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j);
		weft_join_drop(f->j);
		f->res = f->wait.res;              /* nap's, or -ECANCELED */
	}
	printf("future %u slept for %u ms, finished after %lu ms\n", f->id,
	       f->ms, (unsigned long)((weft_now() - start) / WEFT_MS));
	WEFT_END();
}
/* Run to its end by join_all, never dropped half-way (a frame that can be
 * cancelled drops its sleep, and aborts and drops its join handle). */
WEFT_FUTURE(sleep_ms, struct sleep_ms, WEFT_NO_DROP);

int main(void)
{
	weft_rt_builder b;
	weft_rt *rt;
	int bad = 0;

	weft_rt_builder_init(&b);
	b.current_thread = true;
	if (weft_rt_create(&rt, &b))
		return 1;
	for (mode = BLOCKING; mode <= POOL; mode++) {
		struct sleep_ms f[10] = { 0 };
		weft_branch br[10];
		weft_join_all all;

		for (unsigned i = 0; i < 10; i++) {
			f[i].id = i + 1;
			f[i].ms = 10 * (i + 1);
			br[i] = WEFT_BRANCH(sleep_ms, &f[i]);
		}
		start = weft_now();
		bad |= WEFT_BLOCK_ON_INIT(rt, weft_join_all, &all, br, 10) != 0;
		printf("%s: all 10 done after %lu ms\n", mode_name[mode],
		       (unsigned long)((weft_now() - start) / WEFT_MS));
		for (unsigned i = 0; i < 10; i++)  /* the pool's own threads */
			bad |= mode == POOL ? f[i].res <= 0 ||
						      f[i].res == gettid()
					    : f[i].res != 0;
	}
	weft_rt_destroy(rt);
	return bad;
}
