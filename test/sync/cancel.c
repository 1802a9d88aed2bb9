/* test/sync/cancel.c - cancellation tokens: wake every waiter exactly
 * once, child trees (down, never up), re-parenting when a middle node is
 * dropped, drop guards, every cancellation point of the cancelled future,
 * a thread stress cancelling a tree while threads wait and fork, and the
 * debug checks (a queued wait re-initialised, a token dropped too often). */
#include <errno.h>

#include "harness.h"
#include "weft/cancel.h"

Test(cancel, cancel_wakes_each_waiter_once_and_is_permanent)
{
	weft_cancel_token *t;
	weft_cancel_wait f[3] = { 0 }, late = { 0 };
	tt k[3];

	cr_assert_eq(weft_cancel_create(&t), 0);
	for (int i = 0; i < 3; i++) {
		tt_init(&k[i]);
		weft_cancel_wait_init(&f[i], t);
		cr_assert_eq(weft_cancel_wait_poll(&f[i], tt_cx(&k[i])),
			     WEFT_PENDING);
		cr_assert_eq(weft_cancel_wait_poll(&f[i], tt_cx(&k[i])),
			     WEFT_PENDING);
	}
	cr_assert_not(weft_cancel_is_cancelled(t));
	weft_cancel(t);
	weft_cancel(t);
	cr_assert(weft_cancel_is_cancelled(t));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(tt_wakes(&k[i]), 1);
		cr_assert_eq(weft_cancel_wait_poll(&f[i], tt_cx(&k[i])), WEFT_READY);
		cr_assert_eq(tt_live(&k[i]), 0);
	}
	weft_cancel_wait_init(&late, t);
	cr_assert_eq(weft_cancel_wait_poll(&late, tt_cx(&k[0])), WEFT_READY);
	weft_cancel_drop(t);
	cr_assert_eq(weft_cancel_create(NULL), -EINVAL);
}

Test(cancel, children_follow_parents_never_the_reverse)
{
	weft_cancel_token *root, *a, *b, *a1, *late;
	weft_cancel_wait fr = { 0 }, fa1 = { 0 };
	tt k;

	tt_init(&k);
	weft_cancel_create(&root);
	weft_cancel_child(root, &a);
	weft_cancel_child(root, &b);
	weft_cancel_child(a, &a1);
	weft_cancel_wait_init(&fr, root);
	weft_cancel_wait_init(&fa1, a1);
	cr_assert_eq(weft_cancel_wait_poll(&fr, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_cancel_wait_poll(&fa1, tt_cx(&k)), WEFT_PENDING);
	weft_cancel(a);
	cr_assert(weft_cancel_is_cancelled(a1));
	cr_assert_not(weft_cancel_is_cancelled(root));
	cr_assert_not(weft_cancel_is_cancelled(b));
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert_eq(weft_cancel_wait_poll(&fa1, tt_cx(&k)), WEFT_READY);
	weft_cancel_child(a, &late);
	cr_assert(weft_cancel_is_cancelled(late), "child of a cancelled token");
	weft_cancel(root);
	cr_assert(weft_cancel_is_cancelled(b));
	cr_assert_eq(tt_wakes(&k), 2);
	cr_assert_eq(weft_cancel_wait_poll(&fr, tt_cx(&k)), WEFT_READY);
	weft_cancel_drop(late);
	weft_cancel_drop(a1);
	weft_cancel_drop(b);
	weft_cancel_drop(a);
	weft_cancel_drop(root);
	cr_assert_eq(tt_live(&k), 0);
}

Test(cancel, dropping_a_middle_node_keeps_grandchildren_attached)
{
	weft_cancel_token *root, *mid, *leaf, *mid2;
	weft_cancel_wait f = { 0 };
	tt k;

	tt_init(&k);
	weft_cancel_create(&root);
	weft_cancel_child(root, &mid);
	weft_cancel_child(mid, &leaf);
	mid2 = weft_cancel_clone(mid);
	weft_cancel_drop(mid);   /* one handle left: node stays */
	weft_cancel_drop(mid2);  /* node gone: leaf re-parented to root */
	weft_cancel_wait_init(&f, leaf);
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_PENDING);
	weft_cancel(root);
	cr_assert_eq(tt_wakes(&k), 1);
	cr_assert(weft_cancel_is_cancelled(leaf));
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_READY);
	weft_cancel_drop(leaf);
	weft_cancel_drop(root);

	/* a dropped root leaves its children as roots of their own */
	weft_cancel_create(&root);
	weft_cancel_child(root, &leaf);
	weft_cancel_drop(root);
	cr_assert_not(weft_cancel_is_cancelled(leaf));
	weft_cancel(leaf);
	cr_assert(weft_cancel_is_cancelled(leaf));
	weft_cancel_drop(leaf);
	cr_assert_eq(tt_live(&k), 0);
}

Test(cancel, dropping_the_wait_at_each_point)
{
	weft_cancel_token *t;
	weft_cancel_wait a = { 0 }, b = { 0 }, c = { 0 };
	tt k;

	tt_init(&k);
	weft_cancel_create(&t);
	weft_cancel_wait_init(&a, t);
	weft_cancel_wait_init(&b, t);
	weft_cancel_wait_init(&c, t);
	weft_cancel_wait_drop(&c); /* never polled */
	cr_assert_eq(weft_cancel_wait_poll(&a, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(weft_cancel_wait_poll(&b, tt_cx(&k)), WEFT_PENDING);
	weft_cancel_wait_drop(&a); /* while waiting */
	cr_assert_eq(tt_live(&k), 1);
	weft_cancel(t);
	cr_assert_eq(tt_wakes(&k), 1, "only b was still waiting");
	weft_cancel_wait_drop(&b); /* woken, not polled */
	cr_assert_eq(tt_live(&k), 0);
	weft_cancel_drop(t);
}

Test(cancel, drop_guard_cancels_unless_disarmed)
{
	weft_cancel_token *t, *u;
	weft_cancel_guard g;

	weft_cancel_create(&t);
	weft_cancel_guard_init(&g, weft_cancel_clone(t));
	weft_cancel_guard_drop(&g);
	cr_assert(weft_cancel_is_cancelled(t));
	weft_cancel_drop(t);

	weft_cancel_create(&t);
	weft_cancel_guard_init(&g, weft_cancel_clone(t));
	u = weft_cancel_guard_disarm(&g);
	weft_cancel_guard_drop(&g);
	cr_assert_not(weft_cancel_is_cancelled(t));
	weft_cancel_drop(u);
	weft_cancel_drop(t);
}

/* --------------------------------------------------------- threads */

struct tree {
	weft_cancel_token *root;
	atomic_int ready;
	atomic_int go;
};

/* Each thread makes a chain of children, waits on every node, and
 * meanwhile creates and drops extra children. */
static void *waiter(void *arg)
{
	struct tree *tr = arg;
	enum { DEPTH = 8 };
	weft_cancel_token *n[DEPTH];
	weft_cancel_wait f[DEPTH] = { 0 };
	tt k;
	int bad = 0;

	tt_init(&k);
	weft_cancel_child(tr->root, &n[0]);
	for (int i = 1; i < DEPTH; i++)
		weft_cancel_child(n[i - 1], &n[i]);
	for (int i = 0; i < DEPTH; i++) {
		weft_cancel_wait_init(&f[i], n[i]);
		weft_cancel_wait_poll(&f[i], tt_cx(&k));
	}
	atomic_fetch_add(&tr->ready, 1);
	while (!weft_cancel_is_cancelled(n[DEPTH - 1])) {
		weft_cancel_token *x;

		weft_cancel_child(n[3], &x);
		weft_cancel_drop(x);
	}
	for (int i = 0; i < DEPTH; i++) {
		int seen = tt_wakes(&k);

		while (weft_cancel_wait_poll(&f[i], tt_cx(&k)) == WEFT_PENDING)
			seen = tt_wait_wake(&k, seen);
	}
	/* a waiter may see its state before the canceller calls its
	 * waker: weft_cancel has returned (all wakes done) once go is set */
	while (!atomic_load(&tr->go))
		sched_yield();
	if (tt_wakes(&k) != DEPTH || tt_live(&k) != 0)
		bad = 1;
	for (int i = DEPTH - 1; i >= 0; i--)
		weft_cancel_drop(n[i]);
	return (void *)(intptr_t)bad;
}

Test(cancel, tree_cancel_reaches_every_thread_once, .timeout = 120)
{
	for (int round = 0; round < STRESS(50, 2000); round++) {
		struct tree tr;
		pthread_t th[3];

		weft_cancel_create(&tr.root);
		atomic_init(&tr.ready, 0);
		atomic_init(&tr.go, 0);
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, waiter, &tr);
		while (atomic_load(&tr.ready) < 3)
			sched_yield();
		weft_cancel(tr.root);
		atomic_store(&tr.go, 1);
		for (int i = 0; i < 3; i++) {
			void *bad;

			pthread_join(th[i], &bad);
			cr_assert_eq((intptr_t)bad, 0);
		}
		weft_cancel_drop(tr.root);
	}
}

/* The trap: re-initialising a queued wait used to make weft_cancel
 * loop forever (the node's list was rewritten while linked). Debug builds
 * abort in init instead. */
MISUSE_TEST(cancel, init_of_a_queued_wait_aborts)
{
	weft_cancel_token *t;
	weft_cancel_wait f = { 0 };
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_cancel_create(&t), 0);
	weft_cancel_wait_init(&f, t);
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_PENDING);
	weft_cancel_wait_init(&f, t);
}

Test(cancel, init_after_ready_or_drop_is_fine)
{
	weft_cancel_token *t;
	weft_cancel_wait f = { 0 };
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_cancel_create(&t), 0);
	weft_cancel_wait_init(&f, t);
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_PENDING);
	weft_cancel_wait_drop(&f);
	weft_cancel_wait_init(&f, t);
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_PENDING);
	weft_cancel(t);
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(f.res, 0);
	weft_cancel_wait_init(&f, t);
	cr_assert_eq(weft_cancel_wait_poll(&f, tt_cx(&k)), WEFT_READY);
	weft_cancel_drop(t);
	cr_assert_eq(tt_live(&k), 0);
}

/* The future type drives a wait through its trampolines (what select and
 * timeout use). */
Test(cancel, wait_is_a_future_type)
{
	weft_cancel_token *t;
	weft_cancel_wait f = { 0 };
	tt k;

	tt_init(&k);
	cr_assert_eq(weft_cancel_create(&t), 0);
	weft_cancel_wait_init(&f, t);
	cr_assert_eq(weft_cancel_wait_future.poll(&f, tt_cx(&k)), WEFT_PENDING);
	weft_cancel_wait_future.drop(&f);
	cr_assert_eq(tt_live(&k), 0);
	weft_cancel(t);
	cr_assert_eq(tt_wakes(&k), 0, "dropped: not woken");
	weft_cancel_drop(t);
}
