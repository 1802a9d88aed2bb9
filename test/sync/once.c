/* test/sync/once.c - weft_once_cell: the first caller runs its init and
 * every concurrent caller gets that value without running its own; an
 * init that fails gives its error to its caller only and the next caller
 * inits; an init dropped mid-way (its caller aborted) passes the turn on
 * and its child's drop runs; set/get; the value destructor at destroy;
 * many tasks on several workers racing for one cell run one init; the
 * debug check on re-initialising a registered get_or_init. */
#include <errno.h>
#include <sched.h>

#include "harness.h"
#include "weft/once.h"
#include "weft/rt.h"

/* An init future the test drives: PENDING until *go, then res = result. */
struct minit {
	WEFT_ASYNC;
	atomic_int *go;
	intptr_t result;
	int polls, drops;
};

static weft_poll minit_poll(struct minit *f, weft_cx *cx)
{
	f->polls++;
	if (!atomic_load(f->go))
		return WEFT_PENDING;   /* the test polls again itself */
	f->res = f->result;
	return WEFT_READY;
}

static void minit_drop(struct minit *f)
{
	f->drops++;
}

WEFT_FUTURE(minit, struct minit, minit_drop);

typedef weft_once_cell_get_or_init goi;

Test(once, first_caller_inits_and_concurrent_callers_share_its_value)
{
	weft_once_cell c;
	atomic_int go = 0;
	struct minit ia = { .go = &go, .result = 7 }, ib = ia, ic = ia;
	goi a = { 0 }, b = { 0 }, d = { 0 };
	intptr_t v = -1;
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_once_cell_init(&c, NULL), 0);
	cr_assert(!weft_once_cell_get(&c, &v));
	weft_once_cell_get_or_init_init(&a, &c, WEFT_BRANCH(minit, &ia));
	weft_once_cell_get_or_init_init(&b, &c, WEFT_BRANCH(minit, &ib));
	weft_once_cell_get_or_init_init(&d, &c, WEFT_BRANCH(minit, &ic));
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&d, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_once_cell_set(&c, 3), -EBUSY);
	atomic_store(&go, 1);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(a.res, 7);
	cr_assert_eq(tt_wakes(&k), 2, "both waiters woken");
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&d, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(b.res, 7);
	cr_assert_eq(d.res, 7);
	cr_assert_eq(ib.polls + ic.polls, 0, "a second init ran");
	cr_assert(weft_once_cell_get(&c, &v));
	cr_assert_eq(v, 7);
	cr_assert_eq(weft_once_cell_set(&c, 3), -EEXIST);
	/* READY is fused; drops after READY change nothing */
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_READY);
	weft_once_cell_get_or_init_drop(&a);
	weft_once_cell_get_or_init_drop(&b);
	weft_once_cell_get_or_init_drop(&d);
	cr_assert_eq(ia.drops + ib.drops + ic.drops, 0);
	cr_assert_eq(tt_live(&k), 0);
	weft_once_cell_destroy(&c);
}

Test(once, a_failed_init_lets_the_next_caller_try)
{
	weft_once_cell c;
	atomic_int go = 0;
	struct minit ia = { .go = &go, .result = -EIO };
	struct minit ib = { .go = &go, .result = 9 };
	goi a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_once_cell_init(&c, NULL);
	weft_once_cell_get_or_init_init(&a, &c, WEFT_BRANCH(minit, &ia));
	weft_once_cell_get_or_init_init(&b, &c, WEFT_BRANCH(minit, &ib));
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_PENDING);
	atomic_store(&go, 1);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(a.res, -EIO, "the failing caller gets its error");
	cr_assert(!weft_once_cell_get(&c, NULL), "a failure set the cell");
	cr_assert_eq(tt_wakes(&k), 1, "the waiter was woken to try");
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(b.res, 9);
	cr_assert_eq(ib.polls, 1);
	cr_assert_eq(tt_live(&k), 0);
	weft_once_cell_destroy(&c);
}

Test(once, an_init_dropped_mid_way_passes_the_turn_on)
{
	weft_once_cell c;
	atomic_int go = 0;
	struct minit ia = { .go = &go, .result = 1 };
	struct minit ib = { .go = &go, .result = 2 };
	goi a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_once_cell_init(&c, NULL);
	weft_once_cell_get_or_init_init(&a, &c, WEFT_BRANCH(minit, &ia));
	weft_once_cell_get_or_init_init(&b, &c, WEFT_BRANCH(minit, &ib));
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_PENDING);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_PENDING);
	weft_once_cell_get_or_init_drop(&a);   /* aborted mid-init */
	cr_assert_eq(ia.drops, 1, "the init child was not dropped");
	cr_assert_eq(tt_wakes(&k), 1);
	atomic_store(&go, 1);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(b.res, 2);
	cr_assert_eq(ib.drops, 0);
	weft_once_cell_get_or_init_drop(&a);   /* a second drop: nothing */
	cr_assert_eq(ia.drops, 1);
	cr_assert_eq(tt_live(&k), 0);
	weft_once_cell_destroy(&c);
}

Test(once, a_waiter_dropped_while_waiting_leaves_the_list)
{
	weft_once_cell c;
	atomic_int go = 0;
	struct minit ia = { .go = &go, .result = 4 }, ib = ia;
	goi a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_once_cell_init(&c, NULL);
	weft_once_cell_get_or_init_init(&a, &c, WEFT_BRANCH(minit, &ia));
	weft_once_cell_get_or_init_init(&b, &c, WEFT_BRANCH(minit, &ib));
	weft_once_cell_get_or_init_poll(&a, tt_cx(&k));
	cr_assert_eq(weft_once_cell_get_or_init_poll(&b, tt_cx(&k)),
		     WEFT_PENDING);
	weft_once_cell_get_or_init_drop(&b);
	cr_assert_eq(tt_live(&k), 0, "the waiter's waker was kept");
	atomic_store(&go, 1);
	cr_assert_eq(weft_once_cell_get_or_init_poll(&a, tt_cx(&k)),
		     WEFT_READY);
	cr_assert_eq(tt_wakes(&k), 0);
	cr_assert_eq(ib.drops, 0, "a waiter's init is not its to drop");
	weft_once_cell_destroy(&c);
}

static intptr_t dropped_value;
static int value_drops;

static void value_drop(intptr_t v)
{
	dropped_value = v;
	value_drops++;
}

Test(once, set_get_and_the_value_destructor)
{
	weft_once_cell c;
	intptr_t v = 0;

	cr_assert_eq(weft_once_cell_init(NULL, NULL), -EINVAL);
	weft_once_cell_init(&c, value_drop);
	cr_assert_eq(weft_once_cell_set(&c, -1), -EINVAL);
	cr_assert_eq(weft_once_cell_set(&c, 0x1234), 0);
	cr_assert(weft_once_cell_get(&c, &v));
	cr_assert_eq(v, 0x1234);
	weft_once_cell_destroy(&c);
	cr_assert_eq(value_drops, 1);
	cr_assert_eq(dropped_value, 0x1234);
	/* an empty cell: no destructor call */
	weft_once_cell_init(&c, value_drop);
	weft_once_cell_destroy(&c);
	cr_assert_eq(value_drops, 1);
}

/* Tasks on four workers race for one cell; each init yields a few times
 * first (so others arrive while it runs) and counts itself. */
static atomic_int inits_run;

struct yinit {
	WEFT_ASYNC;
	int i;
};

static weft_poll yinit_poll(struct yinit *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	atomic_fetch_add(&inits_run, 1);
	for (f->i = 0; f->i < 5; f->i++)
		WEFT_YIELD();
	WEFT_RETURN(77);
	WEFT_END();
}

WEFT_FUTURE(yinit, struct yinit, WEFT_NO_DROP);

struct racer {
	WEFT_ASYNC;
	weft_once_cell *c;
	struct yinit init;
	goi g;
};

static weft_poll racer_poll(struct racer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_once_cell_get_or_init, &f->g, f->c,
			WEFT_BRANCH(yinit, &f->init));
	WEFT_RETURN(f->g.res);
	WEFT_END();
}

static void racer_drop(struct racer *f)
{
	weft_once_cell_get_or_init_drop(&f->g);
}

WEFT_FUTURE(racer, struct racer, racer_drop);

Test(once, many_tasks_on_many_workers_run_one_init, .timeout = 120)
{
	enum { N = 200 };
	weft_rt_builder bld;
	weft_rt *rt;
	weft_once_cell c;
	weft_join *j[N];

	weft_rt_builder_init(&bld);
	bld.workers = 4;
	bld.no_pin = true;
	bld.io.enable = false;
	cr_assert_eq(weft_rt_create(&rt, &bld), 0);
	weft_once_cell_init(&c, NULL);
	for (int i = 0; i < N; i++)
		cr_assert_eq(WEFT_SPAWN(rt, racer, &j[i], { .c = &c }), 0);
	for (int i = 0; i < N; i++) {
		weft_join_wait w;

		weft_join_wait_init(&w, j[i]);
		cr_assert_eq(WEFT_BLOCK_ON(rt, weft_join_wait, &w), 0);
		cr_assert_eq(w.res, 77);
		weft_join_drop(j[i]);
	}
	cr_assert_eq(atomic_load(&inits_run), 1);
	weft_rt_destroy(rt);
	weft_once_cell_destroy(&c);
}

MISUSE_TEST(once, init_of_a_registered_get_or_init_aborts)
{
	weft_once_cell c;
	atomic_int go = 0;
	struct minit ia = { .go = &go }, ib = ia;
	goi a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_once_cell_init(&c, NULL);
	weft_once_cell_get_or_init_init(&a, &c, WEFT_BRANCH(minit, &ia));
	weft_once_cell_get_or_init_poll(&a, tt_cx(&k));
	weft_once_cell_get_or_init_init(&b, &c, WEFT_BRANCH(minit, &ib));
	weft_once_cell_get_or_init_poll(&b, tt_cx(&k));
	weft_once_cell_get_or_init_init(&b, &c, WEFT_BRANCH(minit, &ib));
	cr_assert_fail("re-initialising a queued get_or_init did not abort");
}
