/* examples/cancel.c - cooperative cancellation with a token inside a
 * select loop (the seeds' managed_example). The worker loops on
 *   select { token cancelled => break, do_work() => {} }
 * main lets it work a while, cancels the token and joins the worker,
 * which ends by itself: its result is the work it finished, not
 * -ECANCELED (that is weft_join_abort's result). The do_work under way
 * when the token fires loses the select and is dropped: its drop function
 * runs (here it counts), which is all cancellation is in weft.
 */
#include <stdio.h>
#include <weft.h>

static int cut_short;             /* do_work futures dropped unfinished */

struct do_work {
	WEFT_ASYNC;                   /* res: 1 once the work is done */
	weft_sleep sleep;
};

static weft_poll do_work_poll(struct do_work *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->sleep, 10 * WEFT_MS);  /* the work */
	WEFT_RETURN(1);
	WEFT_END();
}

static void do_work_drop(struct do_work *f)   /* a losing branch */
{
	weft_sleep_drop(&f->sleep);
	cut_short += !f->res;
}
WEFT_FUTURE(do_work, struct do_work, do_work_drop);

struct worker {
	WEFT_ASYNC;                   /* res: units of work finished */
	weft_cancel_token *token;
	weft_cancel_wait cancelled;
	struct do_work work;
	weft_branch br[2];
	weft_select sel;
};

static weft_poll worker_poll(struct worker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		weft_cancel_wait_init(&f->cancelled, f->token);
		f->work = (struct do_work){ 0 };
		WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
				  WEFT_BRANCH(weft_cancel_wait, &f->cancelled),
				  WEFT_BRANCH(do_work, &f->work));
		if (f->sel.res == 0)
			break;                /* clean up here, then end */
		f->res++;
	}
	WEFT_END();
}

static void worker_drop(struct worker *f)
{
	weft_select_drop(&f->sel);    /* if aborted mid-select */
	weft_cancel_drop(f->token);
}
WEFT_FUTURE(worker, struct worker, worker_drop);

int main(void)
{
	weft_cancel_token *token;
	weft_join_wait wait = { 0 };
	weft_sleep later = { 0 };
	weft_join *handle;
	weft_rt *rt;

	if (weft_rt_create(&rt, NULL) || weft_cancel_create(&token) ||
	    WEFT_SPAWN(rt, worker, &handle,     /* with a clone of the token */
		       { .token = weft_cancel_clone(token) }))
		return 1;                      /* (an example: no clean-up) */
	WEFT_BLOCK_ON_INIT(rt, weft_sleep, &later, 55 * WEFT_MS);
	weft_cancel(token);                /* later: signal cancellation */
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &wait, handle); /* clean exit */
	weft_join_drop(handle);
	weft_cancel_drop(token);
	weft_rt_destroy(rt);
	printf("worker finished %ld units of work, then saw the token\n",
	       (long)wait.res);
	printf("do_work futures dropped unfinished: %d\n", cut_short);
	/* it ended by itself (not -ECANCELED), cutting one do_work short */
	return wait.res >= 0 && cut_short == 1 ? 0 : 1;
}
