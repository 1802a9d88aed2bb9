/* test/abi/pedantic.c - every async-body macro, compiled as ISO C11 with
 * -Wall -Wextra -Wpedantic -Werror (gcc and clang, by test/abi/pedantic.sh
 * and by meson), then run with its results checked.
 *
 * The labels-as-values the body macros use are a GNU extension; core.h
 * confines it to the macros (diagnostic pragmas around each use), so code
 * written with them is pedantic-clean. This file uses each of them:
 * WEFT_ASYNC, WEFT_ASYNC_VOID, WEFT_BEGIN, WEFT_AWAIT, WEFT_AWAIT_ON,
 * WEFT_AWAIT_INIT, WEFT_AWAIT_FRAME, WEFT_YIELD, WEFT_RETURN, WEFT_END,
 * WEFT_FUTURE (with a drop function and with WEFT_NO_DROP),
 * WEFT_FUTURE_EXTERN / WEFT_FUTURE_DEFINE, WEFT_BRANCH with select,
 * join_all and timeout, WEFT_BRANCH_KEEP, WEFT_AWAIT_SELECT,
 * WEFT_AWAIT_JOIN_ALL, WEFT_SPAWN, WEFT_SPAWN_FRAME, WEFT_BLOCK_ON,
 * WEFT_BLOCK_ON_INIT, WEFT_DEBUG_CHECK, WEFT_WAKER_NONE, an await inside a
 * switch, several awaits on one line, and a poll driven by hand through
 * weft_cx_init.
 */
#include <weft.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n",        \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

/* Yields once, then returns x * x. */
struct square {
	WEFT_ASYNC;
	intptr_t x;
};

static weft_poll square_poll(struct square *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	WEFT_RETURN(f->x * f->x);
	WEFT_END();
}
WEFT_FUTURE(square, struct square, WEFT_NO_DROP);

/* Sleeps a minute (always cancelled here) and counts its drops. */
struct nap {
	WEFT_ASYNC;
	weft_sleep sleep;
	atomic_int *drops;
};

static weft_poll nap_poll(struct nap *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->sleep, 60 * WEFT_SEC);
	WEFT_RETURN(f->sleep.res);
	WEFT_END();
}

static void nap_drop(struct nap *f)
{
	weft_sleep_drop(&f->sleep);
	atomic_fetch_add(f->drops, 1);
}
WEFT_FUTURE(nap, struct nap, nap_drop);

/* Drops of the nap kept across two selects (WEFT_BRANCH_KEEP). */
static atomic_int kept_drops;

/* A frame without a result. */
struct mark {
	WEFT_ASYNC_VOID;
	int *flag;
};

static weft_poll mark_poll(struct mark *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD(); WEFT_YIELD(); /* two resume points on one line */
	*f->flag = 1;
	WEFT_END();
}
WEFT_FUTURE(mark, struct mark, WEFT_NO_DROP);

/* A future declared the way weft declares its own (the frame type is the
 * future's name; a header would hold the struct and WEFT_FUTURE_EXTERN,
 * one source file WEFT_FUTURE_DEFINE). Counts down n yields. */
typedef struct countdown {
	unsigned n;
	intptr_t res;
} countdown;
WEFT_FUTURE_EXTERN(countdown);

static void countdown_init(countdown *c, unsigned n)
{
	c->n = n;
	c->res = -EINPROGRESS;
}

static weft_poll countdown_poll(countdown *c, weft_cx *cx)
{
	WEFT_DEBUG_CHECK(c->res == -EINPROGRESS, "countdown_poll",
			 "polled after READY; call countdown_init first");
	if (c->n > 0) {
		c->n--;
		weft_cx_yield(cx);
		return WEFT_PENDING;
	}
	c->res = 0;
	return WEFT_READY;
}

static void countdown_drop(countdown *c)
{
	(void)c;
}
WEFT_FUTURE_DEFINE(countdown, countdown_drop);

/* An await inside a switch: the resume points do not use switch labels. */
struct pick {
	WEFT_ASYNC;
	int which;
	struct square sq;
	countdown cd;
};

static weft_poll pick_poll(struct pick *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	switch (f->which) {
	case 0:
		WEFT_AWAIT_FRAME(square, &f->sq, { .x = 11 });
		WEFT_RETURN(f->sq.res);
	case 1:
		WEFT_AWAIT_INIT(countdown, &f->cd, 3);
		WEFT_RETURN(100 + f->cd.res);
	default:
		break;
	}
	WEFT_RETURN(-EINVAL);
	WEFT_END();
}
WEFT_FUTURE(pick, struct pick, WEFT_NO_DROP);

enum { TASKS = 6 };

struct top {
	WEFT_ASYNC;
	weft_rt *rt;
	atomic_int *drops;
	weft_join *j[TASKS];
	weft_join *napj;
	int i;
	intptr_t sum;
	int flag;
	weft_join_wait wait;
	struct square child;
	struct square sq[2];
	struct mark m;
	struct nap n;
	struct pick p;
	countdown cd;
	weft_branch br[3];
	weft_select sel;
	weft_join_all all;
	weft_timeout tmo;
};

static weft_poll top_poll(struct top *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);

	/* Spawn with an initialiser and with a frame built apart, join. */
	for (f->i = 0; f->i < TASKS; f->i++) {
		if (f->i % 2) {
			CHECK(WEFT_SPAWN(f->rt, square, &f->j[f->i],
					 { .x = f->i }) == 0);
		} else {
			struct square fr = { .x = f->i };

			CHECK(WEFT_SPAWN_FRAME(f->rt, square, &f->j[f->i],
					       &fr) == 0);
		}
	}
	f->sum = 0;
	for (f->i = 0; f->i < TASKS; f->i++) {
		WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j[f->i]);
		weft_join_drop(f->j[f->i]);
		CHECK(f->wait.res >= 0);
		f->sum += f->wait.res;
	}
	CHECK(f->sum == 0 + 1 + 4 + 9 + 16 + 25);

	/* Abort a spawned task: its drop runs, the join reports it. */
	CHECK(WEFT_SPAWN(f->rt, nap, &f->napj, { .drops = f->drops }) == 0);
	weft_join_abort(f->napj);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->napj);
	weft_join_drop(f->napj);
	CHECK(f->wait.res == -ECANCELED);

	/* The four await forms. */
	f->child = (struct square){ .x = 3 };
	WEFT_AWAIT(square_poll(&f->child, cx));
	CHECK(f->child.res == 9);
	f->child = (struct square){ .x = 4 };
	WEFT_AWAIT_ON(square, &f->child);
	CHECK(f->child.res == 16);
	WEFT_AWAIT_FRAME(square, &f->child, { .x = 5 });
	CHECK(f->child.res == 25);
	WEFT_AWAIT_INIT(countdown, &f->cd, 2);
	CHECK(f->cd.res == 0);
	CHECK(f->res == 0); /* a child's result never lands in the parent */

	/* Switch bodies. */
	WEFT_AWAIT_FRAME(pick, &f->p, { .which = 0 });
	CHECK(f->p.res == 121);
	WEFT_AWAIT_FRAME(pick, &f->p, { .which = 1 });
	CHECK(f->p.res == 100);

	/* select: the square wins (index 1), the nap is dropped. */
	f->n = (struct nap){ .drops = f->drops };
	f->child = (struct square){ .x = 6 };
	f->br[0] = WEFT_BRANCH(nap, &f->n);
	f->br[1] = WEFT_BRANCH(square, &f->child);
	WEFT_AWAIT_INIT(weft_select, &f->sel, f->br, 2, WEFT_SELECT_BIASED);
	CHECK(f->sel.res == 1 && f->child.res == 36);

	/* join_all over a square, a void frame and a countdown. */
	f->flag = 0;
	f->sq[0] = (struct square){ .x = 7 };
	f->m = (struct mark){ .flag = &f->flag };
	countdown_init(&f->cd, 4);
	f->br[0] = WEFT_BRANCH(square, &f->sq[0]);
	f->br[1] = WEFT_BRANCH(mark, &f->m);
	f->br[2] = WEFT_BRANCH(countdown, &f->cd);
	WEFT_AWAIT_INIT(weft_join_all, &f->all, f->br, 3);
	CHECK(f->all.res == 0 && f->sq[0].res == 49 && f->flag == 1 &&
	      f->cd.res == 0);

	/* timeout: the nap times out and is dropped. */
	f->n = (struct nap){ .drops = f->drops };
	WEFT_AWAIT_INIT(weft_timeout, &f->tmo, WEFT_BRANCH(nap, &f->n),
			WEFT_MS);
	CHECK(f->tmo.res == -ETIMEDOUT && f->tmo.timed_out);

	/* The one-line select: the square wins; the kept nap is not dropped
	 * and goes on in the next select (the countdown wins), until its
	 * owner drops it. */
	f->n = (struct nap){ .drops = &kept_drops };
	f->child = (struct square){ .x = 8 };
	WEFT_AWAIT_SELECT(&f->sel, f->br, WEFT_SELECT_BIASED,
			  WEFT_BRANCH_KEEP(nap, &f->n),
			  WEFT_BRANCH(square, &f->child));
	CHECK(f->sel.res == 1 && f->sel.n == 2 && f->child.res == 64);
	CHECK(atomic_load(&kept_drops) == 0);
	countdown_init(&f->cd, 2);
	WEFT_AWAIT_SELECT(&f->sel, f->br, 0, WEFT_BRANCH_KEEP(nap, &f->n),
			  WEFT_BRANCH(countdown, &f->cd));
	CHECK(f->sel.res == 1 && f->cd.res == 0);
	CHECK(atomic_load(&kept_drops) == 0);
	nap_drop(&f->n);
	CHECK(atomic_load(&kept_drops) == 1);

	/* The one-line join_all. */
	f->sq[1] = (struct square){ .x = 9 };
	countdown_init(&f->cd, 3);
	WEFT_AWAIT_JOIN_ALL(&f->all, f->br, WEFT_BRANCH(square, &f->sq[1]),
			    WEFT_BRANCH(countdown, &f->cd));
	CHECK(f->all.res == 0 && f->all.n == 2 && f->sq[1].res == 81 &&
	      f->cd.res == 0);

	{
		/* C allows an initialised local after WEFT_BEGIN (C++ does
		 * not); it does not survive the next await. */
		intptr_t twice = f->sum * 2;

		f->sum = twice / 2;
	}
	WEFT_RETURN(f->sum);
	WEFT_END();
}
WEFT_FUTURE(top, struct top, WEFT_NO_DROP);

/* Drives a future by hand, as a foreign executor would. */
static void poll_by_hand(void)
{
	weft_cx cx;
	struct square sq = { .x = 12 };
	int polls = 0;

	weft_cx_init(&cx, &WEFT_WAKER_NONE);
	while (square_poll(&sq, &cx) == WEFT_PENDING)
		polls++;
	CHECK(polls == 1 && sq.res == 144);
	CHECK(weft_future_res(&square_future, &sq) == 144);
	CHECK(mark_future.res_off == WEFT_NO_RES);
}

static void run(bool current_thread)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	atomic_int drops = 0;
	countdown cd = { 0 };
	weft_join_wait w = { 0 };
	weft_join *j;

	atomic_store(&kept_drops, 0);
	weft_rt_builder_init(&b);
	b.current_thread = current_thread;
	b.workers = 2;
	b.no_pin = true;
	CHECK(weft_rt_create(&rt, &b) == 0);

	struct top t = { .rt = rt, .drops = &drops };

	CHECK(WEFT_BLOCK_ON(rt, top, &t) == 0);
	CHECK(t.res == 0 + 1 + 4 + 9 + 16 + 25);
	/* init + block_on in one expression: a future of this file, and a
	 * join of a task spawned from here */
	CHECK(WEFT_BLOCK_ON_INIT(rt, countdown, &cd, 3) == 0 && cd.res == 0);
	CHECK(WEFT_SPAWN(rt, square, &j, { .x = 13 }) == 0);
	CHECK(WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j) == 0 &&
	      w.res == 169);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	/* the aborted task, the select's loser, the timed-out child */
	CHECK(atomic_load(&drops) == 3);
}

int main(void)
{
	poll_by_hand();
	run(false);
	run(true);
	printf("pedantic: ok\n");
	return 0;
}
