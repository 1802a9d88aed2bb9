/* sync/cancel.c - cancellation-token trees.
 *
 * One lock per tree (struct ct_tree, shared by all its nodes and freed
 * with the last node) guards the shape (parent, children, sibling links),
 * every node's waiter list, and the writes of `cancelled`. `cancelled` is
 * also read without the lock (acquire), pairing with the release store in
 * ct_cancel_subtree_locked(): a task that sees it set also sees what the
 * canceller did before cancelling.
 *
 * Node lifetime: `refs` counts handles (clone: relaxed increment from a
 * live handle; drop: acq_rel decrement). The last drop takes the tree lock,
 * moves the node's children to its parent (or makes them roots), unlinks
 * it and frees it. A waiting weft_cancel_wait must be dropped before the
 * handle it waits on (the usual rule for frames). Debug builds check the
 * decrement for an underflow: a token dropped more often than it has
 * handles is caught while its memory still reads as a node with no handle
 * left (freed memory may not, so this is a best effort).
 *
 * Cancel walks the subtree iteratively (parent pointers, no recursion),
 * marks every node and moves all their waiters into one private list,
 * which is then drained by weft__wake_all_unlock(): each waiter is woken
 * once, outside the lock.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "weft/cancel.h"
#include "wait.h"

typedef struct ct_tree {
	weft__lock lock;
	size_t nodes; /* lock: live nodes; the last one frees the tree */
} ct_tree;

struct weft_cancel_token {
	ct_tree *tree;
	_Atomic uint32_t refs;
	_Atomic bool cancelled;     /* written under the lock */
	struct weft_cancel_token *parent; /* lock */
	weft__wlink children;      /* lock: head of the children list */
	weft__wlink sibling;       /* lock: link in parent->children */
	weft__wlink waiters;       /* lock: weft_cancel_wait futures */
};

static inline weft_cancel_token *ct_of_sibling(weft__wlink *l)
{
	return (weft_cancel_token *)((char *)l -
				     offsetof(weft_cancel_token, sibling));
}

static weft_cancel_token *ct_alloc(ct_tree *tree)
{
	weft_cancel_token *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->tree = tree;
	/* relaxed: initialisation, published by returning the handle */
	atomic_store_explicit(&t->refs, 1, memory_order_relaxed);
	atomic_store_explicit(&t->cancelled, false, memory_order_relaxed);
	weft__list_init(&t->children);
	weft__list_init(&t->sibling);
	weft__list_init(&t->waiters);
	return t;
}

int weft_cancel_create(weft_cancel_token **out)
{
	ct_tree *tree;

	if (!out)
		return -EINVAL;
	tree = calloc(1, sizeof(*tree));
	if (!tree)
		return -ENOMEM;
	weft__lock_init(&tree->lock);
	tree->nodes = 1;
	*out = ct_alloc(tree);
	if (!*out) {
		free(tree);
		return -ENOMEM;
	}
	return 0;
}

int weft_cancel_child(weft_cancel_token *parent, weft_cancel_token **out)
{
	weft_cancel_token *c;
	ct_tree *tree;

	if (!parent || !out)
		return -EINVAL;
	tree = parent->tree;
	c = ct_alloc(tree);
	if (!c)
		return -ENOMEM;
	weft__lock_acquire(&tree->lock);
	tree->nodes++;
	c->parent = parent;
	weft__list_push_back(&parent->children, &c->sibling);
	/* relaxed: under the lock, which orders against cancel */
	if (atomic_load_explicit(&parent->cancelled, memory_order_relaxed))
		atomic_store_explicit(&c->cancelled, true, memory_order_relaxed);
	weft__lock_release(&tree->lock);
	*out = c;
	return 0;
}

weft_cancel_token *weft_cancel_clone(weft_cancel_token *t)
{
	/* relaxed: taken from a live handle, nothing to publish */
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void weft_cancel_drop(weft_cancel_token *t)
{
	ct_tree *tree;
	uint32_t refs;
	bool last_node;

	if (!t)
		return;
	/* acq_rel: the last handle's free must follow every other handle's
	 * use (acquire), and ours precede it (release) */
	refs = atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel);
	WEFT_DEBUG_CHECK(refs != 0, "weft_cancel_drop",
		"the token has no handle left (dropped more often than it was "
		"created, cloned or made a child): drop each handle once");
	if (refs != 1)
		return;
	tree = t->tree;
	weft__lock_acquire(&tree->lock);
	while (!weft__list_empty(&t->children)) {
		weft__wlink *l = t->children.next;
		weft_cancel_token *c = ct_of_sibling(l);

		weft__list_unlink(l);
		c->parent = t->parent;
		if (t->parent)
			weft__list_push_back(&t->parent->children, l);
	}
	weft__list_unlink(&t->sibling);
	last_node = --tree->nodes == 0;
	weft__lock_release(&tree->lock);
	free(t);
	if (last_node)
		free(tree);
}

/* Next node of a pre-order walk of root's subtree, or NULL. */
static weft_cancel_token *ct_next(weft_cancel_token *n, weft_cancel_token *root)
{
	if (!weft__list_empty(&n->children))
		return ct_of_sibling(n->children.next);
	while (n != root) {
		weft_cancel_token *p = n->parent;

		if (n->sibling.next != &p->children)
			return ct_of_sibling(n->sibling.next);
		n = p;
	}
	return NULL;
}

void weft_cancel(weft_cancel_token *t)
{
	ct_tree *tree = t->tree;
	weft__wlink all;

	/* acquire: a cancelled node stays cancelled, so nothing to do */
	if (atomic_load_explicit(&t->cancelled, memory_order_acquire))
		return;
	weft__list_init(&all);
	weft__lock_acquire(&tree->lock);
	for (weft_cancel_token *n = t; n; n = ct_next(n, t)) {
		/* release: pairs with the acquire loads in
		 * weft_cancel_is_cancelled() and weft_cancel_wait_poll() */
		atomic_store_explicit(&n->cancelled, true, memory_order_release);
		while (!weft__list_empty(&n->waiters)) {
			weft__wlink *l = n->waiters.next;

			weft__list_unlink(l);
			weft__list_push_back(&all, l);
		}
	}
	weft__wake_all_unlock(&tree->lock, &all, WEFT__W_WOKEN_ALL);
}

bool weft_cancel_is_cancelled(const weft_cancel_token *t)
{
	/* acquire: pairs with the release store in weft_cancel() */
	return atomic_load_explicit(&((weft_cancel_token *)t)->cancelled,
				    memory_order_acquire);
}

void weft_cancel_wait_init(weft_cancel_wait *f, weft_cancel_token *t)
{
	WEFT__WAITER_CHECK_INIT(&f->w, "weft_cancel_wait_init",
		"the wait is still queued on its token (a re-initialised "
		"queued wait makes weft_cancel loop forever): call "
		"weft_cancel_wait_drop before initialising it again");
	weft__waiter_init(&f->w, 0);
	f->t = t;
	f->res = 0;
}

weft_poll weft_cancel_wait_poll(weft_cancel_wait *f, weft_cx *cx)
{
	weft_cancel_token *t = f->t;
	ct_tree *tree = t->tree;

	switch (weft__waiter_state(&f->w)) {
	case WEFT__W_IDLE:
		if (weft_cancel_is_cancelled(t)) {
			/* completing without waiting: spend budget */
			if (!weft_coop_proceed(cx))
				return WEFT_PENDING;
			break;
		}
		weft__lock_acquire(&tree->lock);
		/* relaxed: under the lock that cancel holds while storing */
		if (atomic_load_explicit(&t->cancelled, memory_order_relaxed)) {
			weft__lock_release(&tree->lock);
			break;
		}
		weft__waiter_enqueue_locked(&t->waiters, &f->w, cx);
		weft__lock_release(&tree->lock);
		return WEFT_PENDING;
	case WEFT__W_QUEUED:
		weft__lock_acquire(&tree->lock);
		if (weft__waiter_state(&f->w) == WEFT__W_QUEUED) {
			weft_waker_register(&f->w.waker, cx);
			weft__lock_release(&tree->lock);
			return WEFT_PENDING;
		}
		weft__lock_release(&tree->lock);
		break;
	default:
		break;
	}
	weft__waiter_set_state(&f->w, WEFT__W_DONE);
	f->res = 0;
	return WEFT_READY;
}

void weft_cancel_wait_drop(weft_cancel_wait *f)
{
	if (weft__waiter_state(&f->w) == WEFT__W_QUEUED) {
		ct_tree *tree = f->t->tree;

		weft__lock_acquire(&tree->lock);
		if (weft__waiter_state(&f->w) == WEFT__W_QUEUED) {
			weft__list_unlink(&f->w.link);
			weft__lock_release(&tree->lock);
			weft_waker_drop(&f->w.waker);
		} else {
			weft__lock_release(&tree->lock);
		}
	}
	weft__waiter_set_state(&f->w, WEFT__W_DONE);
}

WEFT_FUTURE_DEFINE(weft_cancel_wait, weft_cancel_wait_drop);
