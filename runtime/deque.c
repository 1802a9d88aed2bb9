/* runtime/deque.c - the per-worker run queue: a growable Chase-Lev array.
 *
 * Who: the owning worker pushes at `bottom` (weft__deque_push) and takes
 * one task from `top` (weft__deque_pop); other workers steal half of the
 * tasks from `top` (weft__deque_steal_into). Taking from top is what makes
 * the owner's queue FIFO: a yielded or re-woken task goes behind the tasks
 * already queued, which the fairness contract needs. Chase-Lev's LIFO take
 * at bottom is deliberately not offered: it would starve old tasks behind a
 * pair of tasks waking each other, and on x86 its seq_cst fence costs as
 * much as the CAS that the top take pays.
 *
 * Built with -Ddeque=fixed the buffer never grows: a push into a full
 * deque fails with -ENOSPC and the worker moves the older half to the
 * injector (tokio's scheme); docs/benchmarks.md compares the two.
 *
 * Indices only grow (64-bit, never wrap in practice): top only by CAS,
 * bottom only by the owner. Slots [top, bottom) hold tasks. A buffer that
 * is outgrown stays allocated (linked through prev) until the deque is
 * destroyed, so a thief still reading an old buffer reads valid memory; any
 * slot it read there that was since reused makes its CAS on top fail.
 *
 * Memory-order pairs (after Le, Pop, Cohen, Zappa Nardelli, PPoPP 2013):
 *  1. push: release store of bottom  ->  pop/steal: acquire load of bottom.
 *     The slot written before bottom is visible to whoever sees the index.
 *  2. push (grow): release store of buf -> steal: acquire load of buf.
 *     A thief that saw the new bottom sees the buffer holding it.
 *  3. pop/steal: CAS on top (acq_rel) -> push: acquire load of top.
 *     A taker's read of a slot happens before the owner reuses that slot.
 * Because only push moves bottom, and only upwards, a taker that read a
 * stale bottom just sees fewer tasks; the seq_cst fence the paper needs
 * between the take's store to bottom and load of top has no counterpart.
 *
 * Model: test/model/deque.pml checks push, grow and deque_take (pop and
 * half steal) with spin, pairs 1 and 2 with their stale reads, for an
 * owner and two thieves (docs/reliability.md); its header maps each step
 * to the code here. Change both together.
 */
#include <errno.h>
#include <string.h>

#include "runtime/internal.h"

static struct weft__deque_buf *buf_new(size_t cap)
{
	struct weft__deque_buf *b;
	size_t bytes = sizeof(*b) + cap * sizeof(b->slot[0]);

	b = weft__malloc(bytes);
	if (!b)
		return NULL;
	b->mask = cap - 1;
	b->prev = NULL;
	return b;
}

static size_t buf_bytes(const struct weft__deque_buf *b)
{
	return sizeof(*b) + (b->mask + 1) * sizeof(b->slot[0]);
}

int weft__deque_init(struct weft__deque *dq, size_t cap)
{
	struct weft__deque_buf *b;

	if (cap < 2 || (cap & (cap - 1)))
		return -EINVAL;
	b = buf_new(cap);
	if (!b)
		return -ENOMEM;
	atomic_init(&dq->top, 0);
	atomic_init(&dq->bottom, 0);
	atomic_init(&dq->buf, b);
	return 0;
}

void weft__deque_destroy(struct weft__deque *dq)
{
	struct weft__deque_buf *b = atomic_load_explicit(&dq->buf,
							 memory_order_relaxed);

	while (b) {
		struct weft__deque_buf *prev = b->prev;

		weft__mfree(b, buf_bytes(b));
		b = prev;
	}
	atomic_store_explicit(&dq->buf, NULL, memory_order_relaxed);
}

/* Owner only: doubles the buffer, copying the live range [t, b). */
static struct weft__deque_buf *deque_grow(struct weft__deque *dq,
					  struct weft__deque_buf *old,
					  size_t t, size_t b)
{
	struct weft__deque_buf *nb = buf_new((old->mask + 1) * 2);

	if (!nb)
		return NULL;
	for (size_t i = t; i < b; i++) {
		/* relaxed: only the owner writes slots; thieves that read the
		 * old buffer are covered by pair 3 */
		struct weft__task *x = atomic_load_explicit(
			&old->slot[i & old->mask], memory_order_relaxed);
		atomic_store_explicit(&nb->slot[i & nb->mask], x,
				      memory_order_relaxed);
	}
	nb->prev = old;
	/* release: the copied slots before the buffer pointer (pair 2) */
	atomic_store_explicit(&dq->buf, nb, memory_order_release);
	return nb;
}

int weft__deque_push(struct weft__deque *dq, struct weft__task *task)
{
	/* relaxed: only the owner writes bottom and buf */
	size_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
	struct weft__deque_buf *buf = atomic_load_explicit(&dq->buf,
							   memory_order_relaxed);
	/* acquire: takers' slot reads happen before we reuse slots (pair 3) */
	size_t t = atomic_load_explicit(&dq->top, memory_order_acquire);

	if (b - t > buf->mask) {
#ifdef WEFT_DEQUE_FIXED
		return -ENOSPC;
#endif
		buf = deque_grow(dq, buf, t, b);
		if (!buf)
			return -ENOMEM;
	}
	/* relaxed: published by the release store of bottom below */
	atomic_store_explicit(&buf->slot[b & buf->mask], task,
			      memory_order_relaxed);
	/* release: the slot before the index (pair 1) */
	atomic_store_explicit(&dq->bottom, b + 1, memory_order_release);
	return 0;
}

size_t weft__deque_len(struct weft__deque *dq)
{
	/* relaxed: an estimate for scheduling hints only */
	size_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
	size_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);

	return b > t ? b - t : 0;
}

/* Claims up to `want` tasks at top; returns how many (0 = empty). The
 * claimed tasks are copied to out[]. */
static size_t deque_take(struct weft__deque *dq, struct weft__task **out,
			 size_t want, bool half)
{
	for (;;) {
		/* acquire: pairs with other takers' CAS (pair 3's order) */
		size_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
		/* acquire: slots below bottom are written (pair 1) */
		size_t b = atomic_load_explicit(&dq->bottom,
						memory_order_acquire);
		struct weft__deque_buf *buf;
		size_t n;

		if (t >= b)
			return 0;
		n = b - t;
		if (half)
			n = n - n / 2;
		if (n > want)
			n = want;
		/* acquire: the buffer holding the slots we saw (pair 2) */
		buf = atomic_load_explicit(&dq->buf, memory_order_acquire);
		for (size_t i = 0; i < n; i++)
			out[i] = atomic_load_explicit(
				&buf->slot[(t + i) & buf->mask],
				memory_order_relaxed);
		/* acq_rel: release orders our slot reads before the owner's
		 * reuse (pair 3); failure means someone else took them */
		if (atomic_compare_exchange_strong_explicit(
			    &dq->top, &t, t + n, memory_order_acq_rel,
			    memory_order_relaxed))
			return n;
	}
}

/* Owner only, fixed-capacity build: moves the older half of a full deque
 * to out[] (at most max); returns how many. */
size_t weft__deque_take_half(struct weft__deque *dq, struct weft__task **out,
			     size_t max)
{
	return deque_take(dq, out, max, true);
}

struct weft__task *weft__deque_pop(struct weft__deque *dq)
{
	struct weft__task *t;

	return deque_take(dq, &t, 1, false) ? t : NULL;
}

#define STEAL_MAX 128

/* Steals half of `from` (at most STEAL_MAX) into `to`, the caller's own
 * deque. Returns one of the stolen tasks to run now, or NULL. */
struct weft__task *weft__deque_steal_into(struct weft__deque *from,
					  struct weft__deque *to)
{
	struct weft__task *got[STEAL_MAX];
	size_t n = deque_take(from, got, STEAL_MAX, true);

	if (n == 0)
		return NULL;
	for (size_t i = 1; i < n; i++) {
		if (weft__deque_push(to, got[i]) < 0) {
			/* out of memory growing our deque: run what we can
			 * by giving the rest back through the injector */
			struct weft__task *h = got[i];

			for (size_t k = i; k + 1 < n; k++)
				got[k]->next = got[k + 1];
			got[n - 1]->next = NULL;
			weft__injector_push(&weft__task_owner(h)->rt->inj, h, got[n - 1],
					    n - i);
			break;
		}
	}
	return got[0];
}
