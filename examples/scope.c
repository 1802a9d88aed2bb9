/* examples/scope.c - structured concurrency: a scope owns the workers it
 * spawns into a JoinSet, collects them in the order they finish, and on
 * the first error aborts the rest (the seeds' "cancel the siblings when
 * one fails"). No worker outlives the scope: the ones still running when
 * worker 3 fails are cancelled (their drop functions run: they count),
 * and joinset_next reports each of them as -ECANCELED.
 *
 * Each worker "fetches" (a sleep): workers 0..3 for (i + 1) * 20 ms,
 * and worker 3 fails with -EIO when its fetch ends; workers 4..7 would
 * take 10 s, so they are always cut short. Usually 0..2 finish first; on
 * a host stalled past their deadlines some of them may be collected after
 * the failure and cancelled instead, so what the program checks is that
 * every worker was either collected or cancelled, and that every cancelled
 * one was dropped unfinished.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

enum { WORKERS = 8, FAILING = 3 };

static atomic_int dropped_unfinished;  /* workers cancelled mid-sleep */

struct worker {
	WEFT_ASYNC;                   /* res: the fetched size, or -errno */
	int i;
	bool fetched;
	weft_sleep fetch;
};

static weft_poll worker_poll(struct worker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->fetch,
			f->i <= FAILING ? (f->i + 1) * 20 * WEFT_MS
					: 10 * WEFT_SEC);
	f->fetched = true;
	if (f->i == FAILING)
		WEFT_RETURN(-EIO);
	WEFT_RETURN(100 * (f->i + 1));
	WEFT_END();
}

static void worker_drop(struct worker *f)
{
	if (!f->fetched)              /* it runs at every end */
		atomic_fetch_add(&dropped_unfinished, 1);
	weft_sleep_drop(&f->fetch);
}
WEFT_FUTURE(worker, struct worker, worker_drop);

struct scope {
	WEFT_ASYNC;                   /* res: 0, or the first error */
	weft_joinset *set;
	int i, ok, cancelled;
	weft_joinset_next next;
};

static weft_poll scope_poll(struct scope *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_joinset_create(&f->set, NULL) < 0)
		WEFT_RETURN(-ENOMEM);
	for (f->i = 0; f->i < WORKERS; f->i++)
		if (WEFT_JOINSET_SPAWN(f->set, worker, { .i = f->i }) < 0)
			WEFT_RETURN(-ENOMEM);   /* the drop destroys the set */
	for (;;) {
		WEFT_AWAIT_INIT(weft_joinset_next, &f->next, f->set);
		if (f->next.id == 0)             /* -ENOENT: all collected */
			break;
		if (f->next.res == -ECANCELED) {
			f->cancelled++;
		} else if (f->next.res < 0) {
			printf("task %llu failed: %s; cancelling the others\n",
			       (unsigned long long)f->next.id,
			       strerror((int)-f->next.res));
			if (f->res == 0)
				f->res = f->next.res;
			weft_joinset_abort_all(f->set);
		} else {
			printf("task %llu fetched %ld bytes\n",
			       (unsigned long long)f->next.id,
			       (long)f->next.res);
			f->ok++;
		}
	}
	weft_joinset_destroy(f->set);     /* empty now: frees it */
	f->set = NULL;
	printf("scope: %d ok, %d cancelled after the first error\n", f->ok,
	       f->cancelled);
	WEFT_END();
}

static void scope_drop(struct scope *f)
{
	weft_joinset_destroy(f->set);     /* aborts whatever is left */
}
WEFT_FUTURE(scope, struct scope, scope_drop);

int main(void)
{
	struct scope s = { 0 };
	weft_rt *rt;

	if (weft_rt_create(&rt, NULL) || WEFT_BLOCK_ON(rt, scope, &s))
		return 1;
	scope_drop(&s);                   /* block_on leaves it to us */
	weft_rt_destroy(rt);
	printf("scope result: %s\n", strerror((int)-s.res));
	printf("workers dropped unfinished: %d\n",
	       atomic_load(&dropped_unfinished));
	return s.res == -EIO && s.ok + s.cancelled == WORKERS - 1 &&
			       s.cancelled >= WORKERS - FAILING - 1 &&
			       atomic_load(&dropped_unfinished) == s.cancelled
		       ? 0
		       : 1;
}
