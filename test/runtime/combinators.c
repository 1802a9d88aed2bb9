/* test/runtime/combinators.c - join_all and select over child futures
 * held inline: each child's result lands in the child (its res), never in
 * the combinator or the parent; each branch is polled until it is done
 * and never after (fused), select's winner (its res), its losers dropped
 * exactly once, biased order, and a fair start that does not always pick
 * the same branch. Hand-polled with a counting waker, plus one run inside
 * a spawned task.
 */
#include "test/runtime/harness.h"

/* Ready on poll n + 1 with res v; otherwise wakes itself and waits. */
struct cd {
	WEFT_ASYNC;
	int n;
	intptr_t v;
	int polls;
	int polls_after_done;
	int drops;
	bool done;
	int id;
	char *log;
	int *loglen;
};

static weft_poll cd_poll(struct cd *c, weft_cx *cx)
{
	if (c->done) {
		c->polls_after_done++;
		return WEFT_READY;
	}
	c->polls++;
	if (c->log)
		c->log[(*c->loglen)++] = (char)('0' + c->id);
	if (c->polls > c->n) {
		c->done = true;
		c->res = c->v;
		return WEFT_READY;
	}
	weft_waker_wake_by_ref(&cx->waker);
	return WEFT_PENDING;
}

static void cd_drop(struct cd *c)
{
	c->drops++;
}
WEFT_FUTURE(cd, struct cd, cd_drop);

/* The same frame as a future with nothing to drop. */
static weft_poll cd_nodrop_poll(struct cd *c, weft_cx *cx)
{
	return cd_poll(c, cx);
}
WEFT_FUTURE(cd_nodrop, struct cd, WEFT_NO_DROP);

/* ------------------------------------------------------------ join_all */

Test(combinators, join_all_collects_every_output)
{
	enum { N = 8 };
	struct cd c[N];
	weft_branch br[N];
	weft_join_all ja;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int polls = 0;

	for (int i = 0; i < N; i++) {
		c[i] = (struct cd){ .n = (i * 3) % 5, .v = 10 * i };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_join_all_init(&ja, br, N);
	while (weft_join_all_poll(&ja, cx) == WEFT_PENDING)
		cr_assert_lt(++polls, 100);
	cr_assert_eq(polls, 4, "the slowest branch needs 5 polls");
	cr_assert_eq(ja.res, 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(c[i].res, 10 * i);
		cr_assert(br[i].done);
		cr_assert_eq(c[i].polls, c[i].n + 1);
		cr_assert_eq(c[i].polls_after_done, 0, "branch %d polled after "
			     "done", i);
		cr_assert_eq(c[i].drops, 0, "join does not drop children");
	}
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

Test(combinators, join_all_of_nothing_is_ready_and_bad_args_rejected)
{
	weft_join_all ja;
	weft_branch bad = weft_branch_make(NULL, NULL);
	tcx k;

	weft_join_all_init(&ja, NULL, 0);
	cr_assert_eq(weft_join_all_poll(&ja, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(ja.res, 0);
	weft_join_all_init(&ja, NULL, 3);
	cr_assert_eq(ja.res, -EINVAL);
	cr_assert_eq(weft_join_all_poll(&ja, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(ja.res, -EINVAL);
	weft_join_all_init(&ja, &bad, 1);
	cr_assert_eq(ja.res, -EINVAL);
	weft_join_all_drop(&ja);
}

Test(combinators, join_all_drop_runs_each_drop_once)
{
	struct cd c[4];
	weft_branch br[4];
	weft_join_all ja;
	tcx k;

	for (int i = 0; i < 4; i++) {
		c[i] = (struct cd){ .n = i };
		br[i] = i == 3 ? WEFT_BRANCH(cd_nodrop, &c[i])
			       : WEFT_BRANCH(cd, &c[i]);
	}
	weft_join_all_init(&ja, br, 4);
	cr_assert_eq(weft_join_all_poll(&ja, tcx_init(&k)), WEFT_PENDING);
	weft_join_all_drop(&ja);
	weft_join_all_drop(&ja);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(c[i].drops, 1);
	cr_assert_eq(c[3].drops, 0);
}

/* -------------------------------------------------------------- select */

Test(combinators, select_reports_winner_and_drops_losers_once)
{
	struct cd c[5];
	weft_branch br[5];
	weft_select s;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int polls = 1;

	for (int i = 0; i < 5; i++) {
		c[i] = (struct cd){ .n = i == 3 ? 2 : 1000, .v = 100 + i };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_select_init(&s, br, 5, 0);
	cr_assert_eq(s.res, -1);
	while (weft_select_poll(&s, cx) == WEFT_PENDING)
		cr_assert_lt(++polls, 100);
	cr_assert_eq(polls, 3);
	cr_assert_eq(s.res, 3);
	cr_assert_eq(c[3].res, 103);
	cr_assert_eq(c[3].drops, 0, "the winner is not dropped");
	for (int i = 0; i < 5; i++)
		if (i != 3) {
			cr_assert_eq(c[i].drops, 1, "loser %d", i);
			cr_assert(br[i].dropped);
		}
	/* fused: polling again polls nothing and keeps the winner */
	for (int i = 0; i < 5; i++)
		c[i].polls = 0;
	cr_assert_eq(weft_select_poll(&s, cx), WEFT_READY);
	cr_assert_eq(s.res, 3);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(c[i].polls, 0);
		cr_assert_eq(c[i].polls_after_done, 0);
	}
	/* dropping the finished select drops only what is left: the winner */
	weft_select_drop(&s);
	weft_select_drop(&s);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(c[i].drops, 1);
}

Test(combinators, select_drop_before_completion_drops_all_once)
{
	struct cd c[3];
	weft_branch br[3];
	weft_select s;
	tcx k;

	for (int i = 0; i < 3; i++) {
		c[i] = (struct cd){ .n = 10 };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_select_init(&s, br, 3, 0);
	cr_assert_eq(weft_select_poll(&s, tcx_init(&k)), WEFT_PENDING);
	weft_select_drop(&s);
	weft_select_drop(&s);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(c[i].drops, 1);
}

Test(combinators, select_rejects_bad_arguments)
{
	weft_select s;
	weft_branch bad = weft_branch_make(NULL, NULL);
	tcx k;

	weft_select_init(&s, NULL, 1, 0);
	cr_assert_eq(s.res, -EINVAL);
	cr_assert_eq(weft_select_poll(&s, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(s.res, -EINVAL);
	weft_select_init(&s, &bad, 0, 0);
	cr_assert_eq(s.res, -EINVAL);
	weft_select_init(&s, &bad, 1, 0);
	cr_assert_eq(s.res, -EINVAL);
	weft_select_drop(&s);
}

Test(combinators, biased_select_polls_in_index_order)
{
	char log[64];
	int len = 0;
	struct cd c[4];
	weft_branch br[4];
	weft_select s;
	tcx k;
	weft_cx *cx = tcx_init(&k);

	for (int i = 0; i < 4; i++) {
		c[i] = (struct cd){ .n = 2, .id = i, .log = log,
				    .loglen = &len, .v = i };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_select_init(&s, br, 4, WEFT_SELECT_BIASED);
	while (weft_select_poll(&s, cx) == WEFT_PENDING)
		;
	log[len] = '\0';
	/* every branch becomes ready on its third poll: branch 0 wins, and
	 * the third round stops at it */
	cr_assert_str_eq(log, "012301230");
	cr_assert_eq(s.res, 0);
}

static int fair_pick(void)
{
	struct cd c[4];
	weft_branch br[4];
	weft_select s;
	tcx k;

	for (int i = 0; i < 4; i++) {
		c[i] = (struct cd){ .n = 0, .v = i };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_select_init(&s, br, 4, 0);
	cr_assert_eq(weft_select_poll(&s, tcx_init(&k)), WEFT_READY);
	return (int)s.res;
}

Test(combinators, fair_select_start_varies_over_runs)
{
	int hits[4] = { 0 }, distinct = 0;

	/* every branch is ready at once, so the winner is the start: the
	 * same select placed at the same address must not always start at
	 * the same branch */
	for (int run = 0; run < 200; run++)
		hits[fair_pick()]++;
	for (int i = 0; i < 4; i++)
		distinct += hits[i] > 0;
	cr_assert_gt(distinct, 1, "hits %d %d %d %d", hits[0], hits[1],
		     hits[2], hits[3]);
}

/* ------------------------------------------- inside a spawned task */

struct two_of {
	WEFT_ASYNC;
	struct cd a, b, c;
	weft_branch br[3];
	weft_join_all ja;
	weft_branch sb[2];
	struct cd x, y;
	weft_select sel;
};

/* join_all over three children, then select between two, all held
 * inline in the task's (pinned) frame. */
static weft_poll two_of_poll(struct two_of *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->br[0] = WEFT_BRANCH(cd, &f->a);
	f->br[1] = WEFT_BRANCH(cd, &f->b);
	f->br[2] = WEFT_BRANCH(cd, &f->c);
	WEFT_AWAIT_INIT(weft_join_all, &f->ja, f->br, 3);
	if (f->ja.res)
		WEFT_RETURN(-1);
	f->sb[0] = WEFT_BRANCH(cd, &f->x);
	f->sb[1] = WEFT_BRANCH(cd, &f->y);
	WEFT_AWAIT_INIT(weft_select, &f->sel, f->sb, 2, 0);
	if (f->sel.res < 0)
		WEFT_RETURN(-1);
	WEFT_RETURN(f->a.res + f->b.res + f->c.res +
		    (f->sel.res ? f->y.res : f->x.res) + 1000 * f->sel.res +
		    10000 * (f->x.drops + f->y.drops));
	WEFT_END();
}
WEFT_FUTURE(two_of, struct two_of, WEFT_NO_DROP);

Test(combinators, join_all_then_select_inside_a_task, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	weft_join *j;
	intptr_t out = 0;

	cr_assert_eq(WEFT_SPAWN(rt, two_of, &j,
				{ .a = { .n = 3, .v = 1 },
				  .b = { .n = 0, .v = 2 },
				  .c = { .n = 7, .v = 4 },
				  .x = { .n = 1000000, .v = 50 },
				  .y = { .n = 5, .v = 70 } }),
		     0);
	out = join_on(rt, j);
	/* 1+2+4, winner y (index 1) with 70, the loser x dropped once */
	cr_assert_eq(out, 7 + 70 + 1000 + 10000);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------- kept branches, sugar */

Test(combinators, select_never_drops_a_kept_branch)
{
	struct cd c[3];
	weft_branch br[3];
	weft_select s;
	tcx k;
	weft_cx *cx = tcx_init(&k);

	for (int i = 0; i < 3; i++)
		c[i] = (struct cd){ .n = i == 2 ? 0 : 1000, .v = i };
	br[0] = WEFT_BRANCH_KEEP(cd, &c[0]);
	br[1] = WEFT_BRANCH(cd, &c[1]);
	br[2] = WEFT_BRANCH(cd, &c[2]);
	weft_select_init(&s, br, 3, WEFT_SELECT_BIASED);
	cr_assert_eq(weft_select_poll(&s, cx), WEFT_READY);
	cr_assert_eq(s.res, 2);
	cr_assert_eq(c[0].drops, 0, "a kept loser is left to its owner");
	cr_assert_eq(c[1].drops, 1, "a plain loser is dropped");
	weft_select_drop(&s);
	cr_assert_eq(c[0].drops, 0, "nor does dropping the select drop it");
	/* the kept future goes on where it was in the next select */
	br[0] = WEFT_BRANCH_KEEP(cd, &c[0]);
	weft_select_init(&s, br, 1, 0);
	cr_assert_eq(weft_select_poll(&s, cx), WEFT_PENDING);
	cr_assert_eq(c[0].polls, 2, "polled once in each select");
	cd_drop(&c[0]);                        /* its owner's drop */
}

/* A frame that selects and joins through the one-line macros. */
struct sugar {
	WEFT_ASYNC;
	struct cd a, b, c;
	weft_branch br[3];
	weft_select sel;
	weft_join_all all;
};

static weft_poll sugar_poll(struct sugar *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->a = (struct cd){ .n = 5, .v = 1 };
	f->b = (struct cd){ .n = 1, .v = 2 };
	WEFT_AWAIT_SELECT(&f->sel, f->br, WEFT_SELECT_BIASED,
			  WEFT_BRANCH(cd, &f->a), WEFT_BRANCH(cd, &f->b));
	if (f->sel.res != 1 || f->a.drops != 1 || f->br[1].fut != &f->b)
		WEFT_RETURN(-1);
	f->a = (struct cd){ .n = 2, .v = 10 };
	f->b = (struct cd){ .n = 0, .v = 20 };
	f->c = (struct cd){ .n = 3, .v = 30 };
	WEFT_AWAIT_JOIN_ALL(&f->all, f->br, WEFT_BRANCH(cd, &f->a),
			    WEFT_BRANCH(cd, &f->b), WEFT_BRANCH(cd, &f->c));
	WEFT_RETURN(f->a.res + f->b.res + f->c.res + f->all.res);
	WEFT_END();
}
WEFT_FUTURE(sugar, struct sugar, WEFT_NO_DROP);

Test(combinators, one_line_select_and_join_all, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	struct sugar f = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, sugar, &f), 0);
	cr_assert_eq(f.res, 60, "res %ld", (long)f.res);
	cr_assert_eq(f.all.n, 3);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------------ try_join */

Test(combinators, try_join_all_ok_collects_outputs)
{
	enum { N = 5 };
	struct cd c[N];
	weft_branch br[N];
	weft_try_join tj;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int polls = 0;

	for (int i = 0; i < N; i++) {
		c[i] = (struct cd){ .n = i, .v = 7 * i };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_try_join_init(&tj, br, N);
	while (weft_try_join_poll(&tj, cx) == WEFT_PENDING)
		cr_assert_lt(++polls, 100);
	cr_assert_eq(tj.res, 0);
	cr_assert_eq(tj.failed, -1);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(c[i].res, 7 * i);
		cr_assert_eq(c[i].polls_after_done, 0);
		cr_assert_eq(c[i].drops, 0, "success leaves the children");
	}
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

Test(combinators, try_join_first_error_drops_the_others)
{
	enum { N = 5 };
	struct cd c[N];
	weft_branch br[N];
	weft_try_join tj;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int polls = 0;

	/* branch 0 finishes first (ok), branch 3 fails on its third poll,
	 * branch 4 would fail later, 1 and 2 never finish */
	for (int i = 0; i < N; i++)
		c[i] = (struct cd){ .n = 1000, .v = i };
	c[0].n = 0;
	c[3].n = 2;
	c[3].v = -EIO;
	c[4].n = 5;
	c[4].v = -EPIPE;
	for (int i = 0; i < N; i++)
		br[i] = WEFT_BRANCH(cd, &c[i]);
	weft_try_join_init(&tj, br, N);
	while (weft_try_join_poll(&tj, cx) == WEFT_PENDING)
		cr_assert_lt(++polls, 100);
	cr_assert_eq(polls, 2);
	cr_assert_eq(tj.res, -EIO);
	cr_assert_eq(tj.failed, 3);
	cr_assert_eq(c[3].res, -EIO);
	cr_assert_eq(c[3].drops, 0, "the failing child is the caller's");
	for (int i = 0; i < N; i++) {
		if (i != 3)
			cr_assert_eq(c[i].drops, 1, "branch %d dropped %d", i,
				     c[i].drops);
	}
	/* READY again without polling the branches; drop adds no drops to
	 * the already dropped ones */
	cr_assert_eq(weft_try_join_poll(&tj, cx), WEFT_READY);
	cr_assert_eq(c[1].polls, 3);
	weft_try_join_drop(&tj);
	for (int i = 0; i < N; i++)
		cr_assert_eq(c[i].drops, 1);
}

Test(combinators, try_join_drop_before_completion_and_bad_args)
{
	struct cd c[3];
	weft_branch br[3];
	weft_try_join tj;
	weft_branch bad = weft_branch_make(NULL, NULL);
	tcx k;

	for (int i = 0; i < 3; i++) {
		c[i] = (struct cd){ .n = 10 };
		br[i] = WEFT_BRANCH(cd, &c[i]);
	}
	weft_try_join_init(&tj, br, 3);
	cr_assert_eq(weft_try_join_poll(&tj, tcx_init(&k)), WEFT_PENDING);
	weft_try_join_drop(&tj);
	weft_try_join_drop(&tj);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(c[i].drops, 1);
	weft_try_join_init(&tj, NULL, 0);
	cr_assert_eq(weft_try_join_poll(&tj, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(tj.res, 0);
	weft_try_join_init(&tj, NULL, 2);
	cr_assert_eq(tj.res, -EINVAL);
	cr_assert_eq(tj.failed, -1);
	weft_try_join_init(&tj, &bad, 1);
	cr_assert_eq(tj.res, -EINVAL);
}

/* The one-liner inside a task: the second branch fails, the others go. */
struct tj_sugar {
	WEFT_ASYNC;
	struct cd a, b, c;
	weft_branch br[3];
	weft_try_join tj;
};

static weft_poll tj_sugar_poll(struct tj_sugar *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->a = (struct cd){ .n = 50, .v = 1 };
	f->b = (struct cd){ .n = 3, .v = -ETIMEDOUT };
	f->c = (struct cd){ .n = 0, .v = 3 };
	WEFT_AWAIT_TRY_JOIN(&f->tj, f->br, WEFT_BRANCH(cd, &f->a),
			    WEFT_BRANCH(cd, &f->b), WEFT_BRANCH(cd, &f->c));
	WEFT_RETURN(f->tj.res);
	WEFT_END();
}
WEFT_FUTURE(tj_sugar, struct tj_sugar, WEFT_NO_DROP);

Test(combinators, one_line_try_join, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	struct tj_sugar f = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, tj_sugar, &f), 0);
	cr_assert_eq(f.res, -ETIMEDOUT);
	cr_assert_eq(f.tj.failed, 1);
	cr_assert_eq(f.a.drops, 1);
	cr_assert_eq(f.b.drops, 0);
	cr_assert_eq(f.c.drops, 1, "a finished branch is dropped too");
	cr_assert_eq(f.c.res, 3);
	weft_rt_destroy(rt);
}
