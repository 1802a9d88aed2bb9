/* runtime/futset.c - the dynamic future set (weft/futset.h).
 *
 * A member lives in a slot: a 32-byte header (struct weft__fsnode) and
 * the frame after it. Slots come from chunks that never move, owned by a
 * shared block (struct weft__futset_shared) that is reference-counted:
 * one reference for the set, one for each clone of a member's waker. So
 * a waker that outlives its member, or the whole set, still points at
 * valid memory; waking it finds the slot not live and does nothing.
 *
 * The ready list is intrusive (the header's `next`), guarded by the
 * shared block's mutex together with the parent waker. Each slot has two
 * atomic flags: `live` (a member is in it) and `queued` (it is on the
 * ready list or in the owner's batch). A wake that turns queued from 0 to
 * 1 on a live slot appends it, and wakes the parent only on the
 * empty-to-non-empty edge (the parent looks at the list after every
 * registration, so no wake is lost). The owner takes the whole list at
 * once into its batch (linked through `bnext`, owner-only) and clears
 * queued on each slot just before polling it, so a member woken during
 * its own poll is listed again, and one woken while it waits in the
 * batch is not listed twice. A call that returns a completed member
 * keeps the rest of the batch for the next call (no re-listing: the cost
 * per completion does not grow with the number ready). A completed
 * member's slot is marked not live; if it is still listed it is skipped
 * when taken. Retired slots go on a free list (through `bnext`: a retired
 * slot is never in the batch) and are reused.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/futset_internal.h"
#include "weft/futset.h"

struct weft__fsnode {
	struct weft__fsnode *next;       /* ready list (under mu) */
	struct weft__fsnode *bnext;      /* owner: batch or free list */
	struct weft__futset_shared *sh;
	uint32_t idx;
	atomic_uchar live;               /* wakes list it */
	atomic_uchar queued;             /* listed, or in the owner's batch */
	uint8_t owned;                   /* owner: a member to drop */
};

struct weft__futset_shared {
	pthread_mutex_t mu;
	struct weft__fsnode *head, *tail;
	/* head != NULL, for the owner to read without mu (a hint: written
	 * under mu, read relaxed) */
	atomic_bool listed;
	weft_waker parent;
	atomic_size_t refs;
	/* owner-only below (and the last unref) */
	char **chunks;
	size_t *chunk_n;
	size_t nchunks, chunks_cap;
	size_t nslots;
	size_t stride, off;
	bool in_poll;                    /* owner: polling a member */
};

#define CHUNK_FIRST 16u
#define CHUNK_MAX 65536u

static void *node_frame(struct weft__fsnode *n)
{
	return (char *)n + n->sh->off;
}

static void sh_unref(struct weft__futset_shared *sh)
{
	if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < sh->nchunks; i++)
		free(sh->chunks[i]);
	free(sh->chunks);
	free(sh->chunk_n);
	weft_waker_drop(&sh->parent);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

/* Appends n (mu held); returns true when the list was empty before
 * (the parent is to be woken). The caller won n->queued's 0 -> 1. */
static bool list_push(struct weft__futset_shared *sh, struct weft__fsnode *n)
{
	bool was_empty;

	n->next = NULL;
	was_empty = sh->head == NULL;
	if (was_empty) {
		sh->head = n;
		atomic_store_explicit(&sh->listed, true, memory_order_relaxed);
	} else {
		sh->tail->next = n;
	}
	sh->tail = n;
	return was_empty;
}

static void fs_wake_by_ref(const void *d)
{
	struct weft__fsnode *n = (struct weft__fsnode *)(uintptr_t)d;
	struct weft__futset_shared *sh = n->sh;
	weft_waker w = WEFT_WAKER_NONE;

	/* seq_cst: pairs with the owner's clearing of queued before it
	 * polls the member (either it sees our 1 and lists the member
	 * again, or its poll sees what was done before this wake) */
	if (!atomic_load(&n->live) || atomic_exchange(&n->queued, 1))
		return;
	pthread_mutex_lock(&sh->mu);
	if (list_push(sh, n))
		w = weft_waker_clone(&sh->parent);
	pthread_mutex_unlock(&sh->mu);
	weft_waker_wake(&w);
}

static weft_waker fs_clone(const void *d);

static void fs_drop(void *d)
{
	sh_unref(((struct weft__fsnode *)d)->sh);
}

static void fs_wake(void *d)
{
	fs_wake_by_ref(d);
	fs_drop(d);
}

static const weft_waker_vtable fs_vt = { fs_clone, fs_wake, fs_wake_by_ref,
					 fs_drop };

static weft_waker fs_clone(const void *d)
{
	struct weft__fsnode *n = (struct weft__fsnode *)(uintptr_t)d;

	atomic_fetch_add_explicit(&n->sh->refs, 1, memory_order_relaxed);
	return (weft_waker){ &fs_vt, (void *)(uintptr_t)d };
}

/* Adds a chunk of k slots to the free list. */
static int grow(weft_futset *set, size_t k)
{
	struct weft__futset_shared *sh = set->sh;
	size_t align = set->type->align < 16 ? 16 : set->type->align;
	char *c;

	if (sh->nchunks == sh->chunks_cap) {
		size_t nc = sh->chunks_cap ? 2 * sh->chunks_cap : 8;
		char **a = realloc(sh->chunks, nc * sizeof(*a));
		size_t *b;

		if (!a)
			return -ENOMEM;
		sh->chunks = a;
		b = realloc(sh->chunk_n, nc * sizeof(*b));
		if (!b)
			return -ENOMEM;
		sh->chunk_n = b;
		sh->chunks_cap = nc;
	}
	c = aligned_alloc(align, k * sh->stride);
	if (!c)
		return -ENOMEM;
	sh->chunks[sh->nchunks] = c;
	sh->chunk_n[sh->nchunks] = k;
	sh->nchunks++;
	/* pushed in reverse so that the lowest index is handed out first */
	for (size_t i = k; i-- > 0;) {
		struct weft__fsnode *n =
			(struct weft__fsnode *)(void *)(c + i * sh->stride);

		n->next = NULL;
		n->sh = sh;
		n->idx = (uint32_t)(sh->nslots + i);
		atomic_init(&n->live, 0);
		atomic_init(&n->queued, 0);
		n->owned = 0;
		n->bnext = set->free;
		set->free = n;
	}
	sh->nslots += k;
	return 0;
}

int weft_futset_init(weft_futset *set, const weft_future_type *type,
		     size_t cap)
{
	struct weft__futset_shared *sh;
	size_t align, hdr;

	if (!set)
		return -EINVAL;
	memset(set, 0, sizeof(*set));
	if (!type || !type->poll || cap > WEFT_FUTSET_MAX || !type->align ||
	    (type->align & (type->align - 1)))
		return -EINVAL;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	if (pthread_mutex_init(&sh->mu, NULL)) {
		free(sh);
		return -ENOMEM;
	}
	atomic_init(&sh->refs, 1);
	align = type->align < 16 ? 16 : type->align;
	hdr = (sizeof(struct weft__fsnode) + align - 1) & ~(align - 1);
	sh->off = hdr;
	sh->stride = (hdr + type->size + align - 1) & ~(align - 1);
	set->type = type;
	set->sh = sh;
	set->cap = cap;
	if (cap && grow(set, cap)) {
		sh_unref(sh);
		memset(set, 0, sizeof(*set));
		return -ENOMEM;
	}
	return 0;
}

static void retire_last(weft_futset *set)
{
	struct weft__fsnode *n = set->last;

	if (!n)
		return;
	set->last = NULL;
	n->owned = 0;
	if (set->type->drop)
		set->type->drop(node_frame(n));
	n->bnext = set->free;
	set->free = n;
}

void *weft_futset_push(weft_futset *set, const weft_future_type *type)
{
	struct weft__futset_shared *sh;
	struct weft__fsnode *n;
	void *frame;

	if (!set || !set->sh || set->dying)
		return NULL;
	WEFT_DEBUG_CHECK(type == set->type, "weft_futset_push",
			 "the future type is not the set's (WEFT_FUTSET_INIT "
			 "named another): use one set per type, or a frame "
			 "of your own that holds either");
	if (type != set->type)
		return NULL;
	retire_last(set);
	if ((set->cap && set->len >= set->cap) || set->len >= WEFT_FUTSET_MAX)
		return NULL;
	sh = set->sh;
	if (!set->free && !set->cap) {
		size_t k = CHUNK_FIRST << (sh->nchunks < 12 ? sh->nchunks : 12);

		if (k > CHUNK_MAX)
			k = CHUNK_MAX;
		if (grow(set, k))
			return NULL;
	}
	n = set->free;
	if (!n)
		return NULL;
	set->free = n->bnext;
	frame = node_frame(n);
	memset(frame, 0, type->size);
	n->owned = 1;
	set->len++;
	/* release: a stale waker of the slot's earlier member that sees 1
	 * lists this one (one spurious poll, which the contract allows) */
	atomic_store_explicit(&n->live, 1, memory_order_release);
	/* a slot retired while still listed is listed already. Otherwise the
	 * new member goes straight to the owner's batch (no lock: the batch
	 * is the owner's), as if taken from the list; pushed from inside a
	 * member's poll, to the list (polled by a later call: members that
	 * push members cannot keep one call going). No parent wake: the
	 * owner polls next after pushing, and a push from inside a member's
	 * poll is seen by next_poll's last look */
	if (atomic_exchange(&n->queued, 1)) {
		/* listed already */
	} else if (sh->in_poll) {
		pthread_mutex_lock(&sh->mu);
		(void)list_push(sh, n);
		pthread_mutex_unlock(&sh->mu);
	} else {
		n->bnext = NULL;
		if (set->batch)
			set->batch_tail->bnext = n;
		else
			set->batch = n;
		set->batch_tail = n;
	}
	return frame;
}

void *weft_futset_push_init(weft_futset *set, const weft_future_type *type,
			    const void *init)
{
	void *frame;

	if (!init)
		return NULL;
	frame = weft_futset_push(set, type);
	if (frame)
		memcpy(frame, init, type->size);
	return frame;
}

size_t weft_futset_len(const weft_futset *set)
{
	return set ? set->len : 0;
}

void weft_futset_destroy(weft_futset *set)
{
	struct weft__futset_shared *sh;

	if (!set || !set->sh)
		return;
	sh = set->sh;
	set->dying = true;
	retire_last(set);
	pthread_mutex_lock(&sh->mu);
	for (size_t c = 0; c < sh->nchunks; c++)
		for (size_t i = 0; i < sh->chunk_n[c]; i++) {
			struct weft__fsnode *n = (struct weft__fsnode *)(void *)
				(sh->chunks[c] + i * sh->stride);

			atomic_store(&n->live, 0);
			atomic_store(&n->queued, 0);
		}
	sh->head = sh->tail = NULL;
	set->batch = NULL;
	pthread_mutex_unlock(&sh->mu);
	for (size_t c = 0; c < sh->nchunks; c++)
		for (size_t i = 0; i < sh->chunk_n[c]; i++) {
			struct weft__fsnode *n = (struct weft__fsnode *)(void *)
				(sh->chunks[c] + i * sh->stride);

			if (!n->owned)
				continue;
			n->owned = 0;
			if (set->type->drop)
				set->type->drop(node_frame(n));
		}
	pthread_mutex_lock(&sh->mu);
	weft_waker parent = sh->parent;
	sh->parent = WEFT_WAKER_NONE;
	pthread_mutex_unlock(&sh->mu);
	weft_waker_drop(&parent);
	set->sh = NULL;
	set->len = 0;
	set->free = NULL;
	sh_unref(sh);
}

static void take_list(weft_futset *set, weft_cx *cx);

weft_poll weft__futset_poll(weft_futset *set, weft_cx *cx, void **frame,
			    intptr_t *res)
{
	struct weft__futset_shared *sh = set->sh;
	struct weft__fsnode *n;
	bool more, took = false;

	retire_last(set);
	if (set->len == 0) {
		*res = WEFT_FUTSET_EMPTY;
		*frame = NULL;
		return WEFT_READY;
	}
	/* With members in the batch (pushed, or left by an earlier call)
	 * and nothing listed, poll them without the lock: a member that
	 * completes is returned at once. The parent waker is registered and
	 * the list taken before this call can return PENDING, and as soon
	 * as something is listed (so a woken member waits behind at most
	 * the batch it found) */
	if (!set->batch ||
	    atomic_load_explicit(&sh->listed, memory_order_relaxed)) {
		take_list(set, cx);
		took = true;
	}
	for (;;) {
		while ((n = set->batch) != NULL) {
			weft_cx mcx;
			weft_poll p;

			if (cx->budget == 0) {
				weft_cx_yield(cx);
				return WEFT_PENDING;
			}
			set->batch = n->bnext;
			atomic_store(&n->queued, 0);
			mcx = *cx;
			mcx.waker = (weft_waker){ &fs_vt, n };
			sh->in_poll = true;
			p = set->type->poll(node_frame(n), &mcx);
			sh->in_poll = false;
			cx->budget = mcx.budget;
			cx->flags |= mcx.flags;
			if (p != WEFT_READY)
				continue;
			/* release: as push's store of 1 */
			atomic_store_explicit(&n->live, 0,
					      memory_order_release);
			set->len--;
			set->last = n;
			*frame = node_frame(n);
			*res = weft_future_res(set->type, *frame);
			return WEFT_READY;
		}
		if (took)
			break;
		/* nothing completed: register before PENDING, and poll
		 * what was listed meanwhile */
		take_list(set, cx);
		took = true;
	}
	/* members woken during the batch: poll again soon */
	pthread_mutex_lock(&sh->mu);
	more = sh->head != NULL;
	pthread_mutex_unlock(&sh->mu);
	if (more)
		weft_waker_wake_by_ref(&cx->waker);
	return WEFT_PENDING;
}

/* Registers cx's waker as the parent and moves the ready list to the end
 * of the batch (owner). */
static void take_list(weft_futset *set, weft_cx *cx)
{
	struct weft__futset_shared *sh = set->sh;
	struct weft__fsnode *l, *n, **bt;
	weft_waker old = WEFT_WAKER_NONE;

	pthread_mutex_lock(&sh->mu);
	if (!weft_waker_will_wake(&sh->parent, &cx->waker)) {
		old = sh->parent;
		sh->parent = weft_waker_clone(&cx->waker);
	}
	l = sh->head;
	sh->head = sh->tail = NULL;
	atomic_store_explicit(&sh->listed, false, memory_order_relaxed);
	pthread_mutex_unlock(&sh->mu);
	weft_waker_drop(&old);

	/* the taken slots join the batch (the ones not polled yet by an
	 * earlier call come first); they stay queued, so no wake lists
	 * them again, and their `next` is ours to read */
	bt = set->batch ? &set->batch_tail->bnext : &set->batch;
	while (l) {
		n = l;
		l = l->next;
		if (!atomic_load_explicit(&n->live, memory_order_relaxed)) {
			/* retired while listed: forget it */
			atomic_store(&n->queued, 0);
			continue;
		}
		*bt = n;
		bt = &n->bnext;
		set->batch_tail = n;
	}
	*bt = NULL;
}

uint32_t weft__futset_index(const weft_futset *set, const void *frame)
{
	return ((const struct weft__fsnode *)(const void *)
		((const char *)frame - set->sh->off))->idx;
}

void weft_futset_next_init(weft_futset_next *n, weft_futset *set)
{
	n->set = set;
	n->frame = NULL;
	n->res = set && set->sh ? 0 : -EINVAL;
}

weft_poll weft_futset_next_poll(weft_futset_next *n, weft_cx *cx)
{
	if (!n->set || !n->set->sh) {
		n->res = -EINVAL;
		return WEFT_READY;
	}
	return weft__futset_poll(n->set, cx, &n->frame, &n->res);
}

void weft_futset_next_drop(weft_futset_next *n)
{
	(void)n;
}

WEFT_FUTURE_DEFINE(weft_futset_next, weft_futset_next_drop);
