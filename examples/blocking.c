/* examples/blocking.c - blocking the executor. Ten futures sleep 10, 20,
 * ... 100 ms under join_all on a current-thread runtime (one thread runs
 * every task), three ways:
 *   blocking sleep   usleep in the poll: the only thread is stuck, so the
 *                    futures run one after the other (about 550 ms);
 *   async sleep      weft_sleep: the futures wait together (about 100 ms);
 *   blocking pool    usleep on a pool thread (weft_spawn_blocking), the
 *                    runtime thread free meanwhile (about 100 ms).
 * It prints the times; what it checks are facts, not times: every future
 * finished, and which thread did the sleeping.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* gettid */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <weft.h>

enum mode { BLOCKING, ASYNC, POOL };
static const char *const mode_name[] = { "blocking sleep", "async sleep",
					 "blocking pool" };
static weft_instant start;

/* Runs on a pool thread. The pool owns arg and frees it (the release
 * function), even if the waiting future is dropped first. */
static intptr_t nap(void *arg)
{
	usleep(*(unsigned *)arg * 1000);
	return gettid();
}

struct sleep_ms {
	WEFT_ASYNC;              /* res: the thread that slept, 0 for none */
	enum mode mode;
	unsigned id, ms;
	weft_sleep sleep;
	weft_join *j;
	weft_join_wait wait;
};

static weft_poll sleep_ms_poll(struct sleep_ms *f, weft_cx *cx)
{
	unsigned *arg;

	WEFT_BEGIN(f, cx);
	if (f->mode == BLOCKING) {
		usleep(f->ms * 1000);                /* blocks the executor */
		f->res = gettid();
	} else if (f->mode == ASYNC) {
		WEFT_AWAIT_INIT(weft_sleep, &f->sleep, f->ms * WEFT_MS);
		f->res = f->sleep.res;               /* 0: nobody slept */
	} else {
		if (!(arg = malloc(sizeof(*arg))))
			WEFT_RETURN(-1);
		*arg = f->ms;
		if (weft_spawn_blocking(weft_rt_current(), nap, arg, free,
					&f->j)) {
			free(arg);                   /* not taken: still ours */
			WEFT_RETURN(-1);
		}
		WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j);
		weft_join_drop(f->j);
		f->j = NULL;
		f->res = f->wait.res;
	}
	printf("future %u slept for %u ms, finished after %lu ms\n", f->id,
	       f->ms, (unsigned long)((weft_now() - start) / WEFT_MS));
	WEFT_END();
}

/* Cancellation: a sleep_ms dropped mid-way releases what it holds. */
static void sleep_ms_drop(struct sleep_ms *f)
{
	weft_sleep_drop(&f->sleep);
	if (f->j) {
		weft_join_abort(f->j);   /* a nap not started never runs */
		weft_join_drop(f->j);
	}
}
WEFT_FUTURE(sleep_ms, struct sleep_ms, sleep_ms_drop);

int main(void)
{
	weft_rt_builder b;
	weft_rt *rt;
	int bad = 0;

	weft_rt_builder_init(&b);
	b.current_thread = true;
	if (weft_rt_create(&rt, &b))
		return 1;
	for (int m = BLOCKING; m <= POOL; m++) {
		struct sleep_ms f[10];
		weft_branch br[10];
		weft_join_all all;

		for (unsigned i = 0; i < 10; i++) {
			f[i] = (struct sleep_ms){ .mode = m, .id = i + 1,
						  .ms = 10 * (i + 1) };
			br[i] = WEFT_BRANCH(sleep_ms, &f[i]);
		}
		printf("%s:\n", mode_name[m]);
		start = weft_now();
		weft_join_all_init(&all, br, 10);
		if (WEFT_BLOCK_ON(rt, weft_join_all, &all) || all.res)
			bad = 1;
		printf("%s: all 10 done after %lu ms\n", mode_name[m],
		       (unsigned long)((weft_now() - start) / WEFT_MS));
		for (unsigned i = 0; i < 10; i++)   /* who slept */
			bad |= m == BLOCKING ? f[i].res != gettid()
			     : m == ASYNC    ? f[i].res != 0
					     : f[i].res <= 0 || f[i].res == gettid();
	}
	weft_rt_destroy(rt);
	return bad;
}
