/* runtime/futset.c - the dynamic future set (weft/futset.h).
 *
 * A member lives in a slot: a 32-byte header (struct weft__fsnode) and
 * the frame after it. Slots come from chunks that never move, owned by a
 * shared block (struct weft__futset_shared) that is reference-counted:
 * one reference for the set, one for each clone of a member's waker. So
 * a waker that outlives its member, or the whole set, still points at
 * valid memory; waking it finds the slot not live and does nothing.
 *
 * Each slot has one atomic state byte: LIVE (a member is in it) and
 * QUEUED (it is on the ready stack, in the owner's batch, or waiting in
 * the owner's pushed list). A wake CASes LIVE to LIVE|QUEUED (nothing
 * else: a slot not live, or queued already, is left alone) and, having
 * won that, pushes the slot on the ready stack: a Treiber stack in one
 * atomic word, `head`, pushed by CAS from any thread and taken whole by
 * the owner with one exchange (no pop, so no ABA). The word holds a slot
 * pointer, 0, or ARMED (1: empty, and the owner's task waits on it). The
 * owner arms only when it is about to return PENDING with nothing listed,
 * by a CAS from 0 to ARMED, after storing the parent waker; a wake whose
 * push replaces ARMED is the one that wakes the parent (by reference),
 * and a wake that finds a list or 0 wakes nobody: the owner is running,
 * or will look at the list before it waits (it takes the list, then arms
 * only from 0). So a wake is two CASes and no lock, and the parent is
 * woken once per wait however many members are woken.
 *
 * The parent waker is written by the owner only, and only while no wake
 * can be reading it: not armed, and every wake that consumed an arm has
 * finished with the parent. The owner counts the arms consumed (it sees
 * the list where it left ARMED); each consuming wake counts itself done
 * in the high bits of the reference word, in the same atomic step that
 * drops its reference when it wakes by value. A new parent (the set
 * polled by another task) or destroy with a wake still in its parent wake
 * waits for it (PENDING with a self-wake; destroy yields the thread).
 *
 * The owner reverses the taken stack into its batch (FIFO: linked through
 * `bnext`, owner-only) and clears QUEUED on each slot just before polling
 * it: an exchange (seq_cst, pairs with the wake's CAS: either the wake
 * sees the clear and lists the slot again, or the poll sees what was done
 * before the wake); a member not polled since its push has no waker yet
 * (a stale one of the slot's earlier member may wake it: one spurious
 * poll), so a plain store does. A member that completes is unmarked LIVE
 * by a CAS from LIVE to 0; if a wake queued it meanwhile the slot stays
 * QUEUED (it is on the stack: skipped and cleared when taken) and no wake
 * touches it again until a push makes it live. Only the owner changes a
 * slot that is not LIVE, so push stores LIVE|QUEUED with a plain store
 * and puts the member at the end of the batch (or, when the slot is
 * still on the stack, leaves it there to be taken). A call that returns a
 * completed member keeps the rest of the batch for the next call (the
 * cost per completion does not grow with the number ready). Retired slots
 * go on a free list (through `bnext`: a retired slot is never in the
 * batch) and are reused.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/futset_internal.h"
#include "weft/futset.h"

enum { FS_LIVE = 1, FS_QUEUED = 2 };

struct weft__fsnode {
	struct weft__fsnode *next;       /* ready stack (the pushing wake) */
	struct weft__fsnode *bnext;      /* owner: batch, pushed or free */
	struct weft__futset_shared *sh;
	uint32_t idx;
	atomic_uchar st;                 /* FS_LIVE | FS_QUEUED */
	uint8_t owned;                   /* owner: a member to drop */
	uint8_t fresh;                   /* owner: not polled since push */
};

/* head: a slot, 0, or FS_ARMED */
#define FS_ARMED ((uintptr_t)1)

/* rc: references in the low 40 bits, arm-consuming wakes done (mod 2^24)
 * above */
#define RC_REF ((uint64_t)1)
#define RC_REFS(v) ((v) & (((uint64_t)1 << 40) - 1))
#define RC_DONE ((uint64_t)1 << 40)
#define RC_DONES(v) ((uint32_t)((v) >> 40))
#define DONE_MASK 0xffffffu

enum { ARM_NONE, ARM_OUT };

struct weft__futset_shared {
	/* touched by wakes, any thread */
	_Atomic(uintptr_t) head;
	_Atomic(uint64_t) rc;
	weft_waker parent;               /* written by the owner, see top */
	/* owner-only below (and the last unref), on its own line */
	_Alignas(64) uint8_t arm;        /* ARM_*: ARMED left in head */
	bool in_poll;                    /* polling a member */
	uint32_t consumed;               /* arms consumed (mod 2^24) */
	struct weft__fsnode *pushed, *pushed_tail; /* during a member's poll */
	char **chunks;
	size_t *chunk_n;
	size_t nchunks, chunks_cap;
	size_t nslots;
	size_t stride, off;
};

#define CHUNK_FIRST 16u
#define CHUNK_MAX 65536u

static void *node_frame(struct weft__fsnode *n)
{
	return (char *)n + n->sh->off;
}

static void sh_free(struct weft__futset_shared *sh)
{
	for (size_t i = 0; i < sh->nchunks; i++)
		free(sh->chunks[i]);
	free(sh->chunks);
	free(sh->chunk_n);
	weft_waker_drop(&sh->parent);
	free(sh);
}

static void sh_unref(struct weft__futset_shared *sh)
{
	uint64_t prev = atomic_fetch_sub_explicit(&sh->rc, RC_REF,
						  memory_order_acq_rel);

	if (RC_REFS(prev) == 1)
		sh_free(sh);
}

/* Lists a slot whose QUEUED this wake set; when it consumed the arm,
 * wakes the parent and returns true (the caller counts itself done). */
static bool stack_push(struct weft__futset_shared *sh, struct weft__fsnode *n)
{
	uintptr_t h = atomic_load_explicit(&sh->head, memory_order_relaxed);

	do
		n->next = h == FS_ARMED ? NULL : (struct weft__fsnode *)h;
	/* release: n->next and the wake's writes for the owner's take;
	 * acquire: the parent stored before the arm */
	while (!atomic_compare_exchange_weak_explicit(
		&sh->head, &h, (uintptr_t)n, memory_order_acq_rel,
		memory_order_relaxed));
	if (h != FS_ARMED)
		return false;
	weft_waker_wake_by_ref(&sh->parent);
	return true;
}

/* Sets QUEUED on a live slot not queued yet; true when this call did. */
static bool mark_queued(struct weft__fsnode *n)
{
	unsigned char s = atomic_load_explicit(&n->st, memory_order_relaxed);

	do {
		if (s != FS_LIVE)
			return false;
		/* seq_cst: pairs with the owner's clearing of QUEUED before
		 * it polls the member (see the top) */
	} while (!atomic_compare_exchange_weak(&n->st, &s,
					       FS_LIVE | FS_QUEUED));
	return true;
}

static void fs_wake_by_ref(const void *d)
{
	struct weft__fsnode *n = (struct weft__fsnode *)(uintptr_t)d;
	struct weft__futset_shared *sh = n->sh;

	if (mark_queued(n) && stack_push(sh, n))
		/* release: done with the parent */
		atomic_fetch_add_explicit(&sh->rc, RC_DONE,
					  memory_order_release);
}

static void fs_drop(void *d)
{
	sh_unref(((struct weft__fsnode *)d)->sh);
}

static void fs_wake(void *d)
{
	struct weft__fsnode *n = d;
	struct weft__futset_shared *sh = n->sh;
	uint64_t prev;

	if (!mark_queued(n) || !stack_push(sh, n)) {
		sh_unref(sh);
		return;
	}
	/* one step: done with the parent, and the reference dropped */
	prev = atomic_fetch_add_explicit(&sh->rc, RC_DONE - RC_REF,
					 memory_order_acq_rel);
	if (RC_REFS(prev) == 1)
		sh_free(sh);
}

static weft_waker fs_clone(const void *d);

static const weft_waker_vtable fs_vt = { fs_clone, fs_wake, fs_wake_by_ref,
					 fs_drop };

static weft_waker fs_clone(const void *d)
{
	struct weft__fsnode *n = (struct weft__fsnode *)(uintptr_t)d;

	atomic_fetch_add_explicit(&n->sh->rc, RC_REF, memory_order_relaxed);
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
		atomic_init(&n->st, 0);
		n->owned = 0;
		n->fresh = 0;
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
	sh = aligned_alloc(64, (sizeof(*sh) + 63) & ~(size_t)63);
	if (!sh)
		return -ENOMEM;
	memset(sh, 0, sizeof(*sh));
	atomic_init(&sh->head, 0);
	atomic_init(&sh->rc, RC_REF);
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

static void retire(weft_futset *set, struct weft__fsnode *n)
{
	set->last = NULL;
	n->owned = 0;
	if (set->type->drop)
		set->type->drop(node_frame(n));
	n->bnext = set->free;
	set->free = n;
}

static inline void retire_last(weft_futset *set)
{
	if (set->last)
		retire(set, set->last);
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
	n->fresh = 1;
	set->len++;
	/* A slot not live is changed by the owner only (see the top). One
	 * retired while on the stack is taken from there; otherwise the
	 * member goes to the end of the batch, as if taken, or, pushed from
	 * inside a member's poll, to the pushed list, which a later call
	 * polls (members that push members cannot keep one call going). No
	 * parent wake: the owner polls next after pushing, and next_poll
	 * looks at the pushed list before it returns. release: a stale
	 * waker of the slot's earlier member that sees LIVE reads the slot
	 * as now */
	if (atomic_load_explicit(&n->st, memory_order_relaxed) & FS_QUEUED) {
		atomic_store_explicit(&n->st, FS_LIVE | FS_QUEUED,
				      memory_order_release);
		return frame;
	}
	atomic_store_explicit(&n->st, FS_LIVE | FS_QUEUED,
			      memory_order_release);
	n->bnext = NULL;
	if (sh->in_poll) {
		if (sh->pushed)
			sh->pushed_tail->bnext = n;
		else
			sh->pushed = n;
		sh->pushed_tail = n;
	} else {
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

/* Takes the ready stack (owner): the slots join the end of the batch in
 * the order they were woken; they stay QUEUED, so no wake lists them
 * again, and their `next` is ours to read. Slots retired while listed are
 * dropped from it (cleared: the owner's alone while not LIVE). An arm
 * left in head stays there unless disarm. */
static void take(weft_futset *set, bool disarm)
{
	struct weft__futset_shared *sh = set->sh;
	uintptr_t h = atomic_load_explicit(&sh->head, memory_order_relaxed);
	struct weft__fsnode *l = NULL, *n, *first = NULL, *last = NULL;

	if (!h || (h == FS_ARMED && !disarm))
		return;
	/* acquire: the pushing wakes' next links and writes */
	h = atomic_exchange_explicit(&sh->head, 0, memory_order_acquire);
	if (h == FS_ARMED) {
		sh->arm = ARM_NONE;
		return;
	}
	if (!h)
		return;
	if (sh->arm == ARM_OUT) {
		/* the list replaced ARMED: its first wake woke the parent */
		sh->arm = ARM_NONE;
		sh->consumed = (sh->consumed + 1) & DONE_MASK;
	}
	/* reverse: the stack is newest first */
	for (n = (struct weft__fsnode *)h; n; n = l) {
		l = n->next;
		if (!(atomic_load_explicit(&n->st, memory_order_relaxed) &
		      FS_LIVE)) {
			/* retired while listed: forget it */
			atomic_store_explicit(&n->st, 0, memory_order_release);
			continue;
		}
		n->bnext = first;
		first = n;
		if (!last)
			last = n;
	}
	if (!first)
		return;
	if (set->batch)
		set->batch_tail->bnext = first;
	else
		set->batch = first;
	set->batch_tail = last;
}

/* True when every wake that consumed an arm is done with the parent. */
static bool wakes_done(struct weft__futset_shared *sh)
{
	/* acquire: their reads of the parent before our write */
	uint64_t v = atomic_load_explicit(&sh->rc, memory_order_acquire);

	return (RC_DONES(v) & DONE_MASK) == sh->consumed;
}

/* Before PENDING with nothing in the batch: makes sure a later wake wakes
 * cx's task. Returns false when something is listed (the caller takes and
 * polls it); true when PENDING may be returned (armed, or, while a wake
 * is still using the old parent, the task woken to try again). */
static bool arm(weft_futset *set, weft_cx *cx)
{
	struct weft__futset_shared *sh = set->sh;
	uintptr_t h = atomic_load_explicit(&sh->head, memory_order_relaxed);
	bool same = weft_waker_will_wake(&sh->parent, &cx->waker);

	if (h == FS_ARMED) {
		if (same)
			return true;
		/* another task: disarm to change the parent */
		if (!atomic_compare_exchange_strong_explicit(
			    &sh->head, &h, 0, memory_order_relaxed,
			    memory_order_relaxed))
			return false;
		sh->arm = ARM_NONE;
		h = 0;
	}
	if (h)
		return false;
	if (!same) {
		weft_waker old;

		if (!wakes_done(sh)) {
			weft_waker_wake_by_ref(&cx->waker);
			return true;
		}
		old = sh->parent;
		sh->parent = weft_waker_clone(&cx->waker);
		weft_waker_drop(&old);
	}
	/* release: the parent for the wake that replaces ARMED */
	if (!atomic_compare_exchange_strong_explicit(
		    &sh->head, &h, FS_ARMED, memory_order_release,
		    memory_order_relaxed))
		return false;
	sh->arm = ARM_OUT;
	return true;
}

void weft_futset_destroy(weft_futset *set)
{
	struct weft__futset_shared *sh;
	weft_waker parent;

	if (!set || !set->sh)
		return;
	sh = set->sh;
	set->dying = true;
	retire_last(set);
	/* no arm from now on; wakes that list slots are forgotten */
	take(set, true);
	for (size_t c = 0; c < sh->nchunks; c++)
		for (size_t i = 0; i < sh->chunk_n[c]; i++) {
			struct weft__fsnode *n = (struct weft__fsnode *)(void *)
				(sh->chunks[c] + i * sh->stride);

			atomic_store_explicit(&n->st, 0, memory_order_release);
		}
	set->batch = NULL;
	sh->pushed = NULL;
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
	/* a wake that consumed the last arm may still be in its parent
	 * wake (a few instructions of a task wake): let it finish */
	while (!wakes_done(sh))
		sched_yield();
	parent = sh->parent;
	sh->parent = WEFT_WAKER_NONE;
	weft_waker_drop(&parent);
	set->sh = NULL;
	set->len = 0;
	set->free = NULL;
	sh_unref(sh);
}

weft_poll weft__futset_poll(weft_futset *set, weft_cx *cx, void **frame,
			    intptr_t *res)
{
	struct weft__futset_shared *sh = set->sh;
	struct weft__fsnode *n;
	uintptr_t h;
	bool took = false;

	retire_last(set);
	if (set->len == 0) {
		*res = WEFT_FUTSET_EMPTY;
		*frame = NULL;
		return WEFT_READY;
	}
	if (sh->pushed) {
		/* pushed from inside members' polls by an earlier call */
		if (set->batch)
			set->batch_tail->bnext = sh->pushed;
		else
			set->batch = sh->pushed;
		set->batch_tail = sh->pushed_tail;
		sh->pushed = NULL;
	}
	/* With members in the batch (pushed, or left by an earlier call)
	 * and nothing listed, poll them first: a member that completes is
	 * returned at once. The list is taken when the batch is empty, as
	 * soon as something is listed (so a woken member waits behind at
	 * most the batch it found), and once more before this call can
	 * return PENDING */
	h = atomic_load_explicit(&sh->head, memory_order_relaxed);
	if (!set->batch || (h && h != FS_ARMED)) {
		take(set, false);
		took = true;
	}
	for (;;) {
		while ((n = set->batch) != NULL) {
			weft_waker parent_w;
			weft_poll p;
			unsigned char e = FS_LIVE;

			if (cx->budget == 0) {
				weft_cx_yield(cx);
				return WEFT_PENDING;
			}
			set->batch = n->bnext;
			if (n->fresh) {
				n->fresh = 0;
				atomic_store_explicit(&n->st, FS_LIVE,
						      memory_order_release);
			} else {
				/* seq_cst: see the top */
				atomic_store(&n->st, FS_LIVE);
			}
			/* the member runs in the caller's context with its
			 * own waker in it (budget and flags are shared) */
			parent_w = cx->waker;
			cx->waker = (weft_waker){ &fs_vt, n };
			sh->in_poll = true;
			p = set->type->poll(node_frame(n), cx);
			sh->in_poll = false;
			cx->waker = parent_w;
			if (p != WEFT_READY)
				continue;
			/* queued by a wake meanwhile: leave it QUEUED, it is
			 * (or is about to be) on the stack */
			if (!atomic_compare_exchange_strong_explicit(
				    &n->st, &e, 0, memory_order_release,
				    memory_order_relaxed))
				atomic_store_explicit(&n->st, FS_QUEUED,
						      memory_order_relaxed);
			set->len--;
			set->last = n;
			*frame = node_frame(n);
			*res = weft_future_res(set->type, *frame);
			return WEFT_READY;
		}
		if (sh->pushed) {
			/* pushed from inside members' polls: the next call
			 * polls them */
			weft_waker_wake_by_ref(&cx->waker);
			return WEFT_PENDING;
		}
		if (arm(set, cx))
			return WEFT_PENDING;
		if (took)
			break;
		take(set, false);
		took = true;
	}
	/* members woken during this call: poll again soon */
	weft_waker_wake_by_ref(&cx->waker);
	return WEFT_PENDING;
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
