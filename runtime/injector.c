/* runtime/injector.c - the global injection queue.
 *
 * Takes tasks scheduled from threads that are not workers of the runtime
 * (the reactor, the blocking pool, block_on callers, foreign spawners) and
 * the overflow of a deque that cannot grow.
 *
 * Producers never lock: weft__injector_push links its chain onto `pushed`,
 * a Treiber stack, with one CAS (the reactor pushes a whole batch of wakes
 * that way). Consumers (workers) serialise on `lock`: a consumer that finds
 * its private FIFO (head..tail) empty takes the whole stack with one
 * exchange and reverses it into the FIFO, then takes its share. A
 * multi-task push (a wake batch) reverses its chain before linking it, so
 * tasks come out oldest first, within and across pushes. No ABA: the only pop of `pushed` is the exchange of the whole
 * stack.
 *
 * Pairs:
 *  1. push: CAS of `pushed` (release) -> consumer: exchange (acquire).
 *     The tasks' links and whatever the pusher wrote before scheduling.
 *  2. `len` is a hint written with relaxed order; emptiness
 *     checks that must not miss a push re-read `pushed` after the idle
 *     protocol's seq_cst fence (idle.c, worker.c work_visible).
 */
#include "runtime/internal.h"

void weft__injector_init(struct weft__injector *q)
{
	atomic_init(&q->pushed, NULL);
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	atomic_init(&q->len, 0);
}

void weft__injector_destroy(struct weft__injector *q)
{
	pthread_mutex_destroy(&q->lock);
}

/* Appends the chain head..tail (n tasks, linked through next; tail->next
 * need not be NULL). */
void weft__injector_push(struct weft__injector *q, struct weft__task *head,
			 struct weft__task *tail, size_t n)
{
	struct weft__task *top;

	if (n > 1) {
		/* the stack is reversed once more when a consumer takes it:
		 * reverse the chain now so that it comes out in its order */
		struct weft__task *rev = NULL, *t = head;

		tail = head;
		for (size_t i = 0; i < n; i++) {
			struct weft__task *next = t->next;

			t->next = rev;
			rev = t;
			t = next;
		}
		head = rev;
	}
	/* relaxed: the CAS below publishes tail->next */
	top = atomic_load_explicit(&q->pushed, memory_order_relaxed);
	do {
		tail->next = top;
		/* release: pair 1 */
	} while (!atomic_compare_exchange_weak_explicit(
		&q->pushed, &top, head, memory_order_release,
		memory_order_relaxed));
}

struct weft__task *weft__injector_pop(struct weft__injector *q)
{
	struct weft__task *first;

	return weft__injector_pop_batch(q, &first, 1, 1) ? first : NULL;
}

/* Under q->lock: moves the pushed stack, reversed, into the FIFO. */
static void injector_grab(struct weft__injector *q)
{
	/* acquire: pair 1 */
	struct weft__task *t = atomic_exchange_explicit(&q->pushed, NULL,
							memory_order_acquire);
	struct weft__task *rev = NULL, *last = t;
	size_t n = 0;

	while (t) {
		struct weft__task *next = t->next;

		t->next = rev;
		rev = t;
		t = next;
		n++;
	}
	if (!n)
		return;
	if (q->tail)
		q->tail->next = rev;
	else
		q->head = rev;
	q->tail = last;
	atomic_store_explicit(&q->len,
			      atomic_load_explicit(&q->len,
						   memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Takes up to max tasks, and at most a 1/share part of what is queued
 * (so that idle workers split a burst); returns the count and the chain
 * in *first (linked through next, NULL-terminated). */
size_t weft__injector_pop_batch(struct weft__injector *q,
				struct weft__task **first, size_t max,
				unsigned share)
{
	struct weft__task *h, *t;
	size_t n = 0, len, fair;

	*first = NULL;
	if (weft__injector_is_empty(q))
		return 0;
	pthread_mutex_lock(&q->lock);
	if (!q->head)
		injector_grab(q);
	len = atomic_load_explicit(&q->len, memory_order_relaxed);
	fair = len / (share ? share : 1) + 1;
	if (max > fair)
		max = fair;
	h = t = q->head;
	if (h) {
		n = 1;
		while (n < max && t->next) {
			t = t->next;
			n++;
		}
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
		t->next = NULL;
		/* relaxed: under the lock (pair 2) */
		atomic_store_explicit(&q->len, len - n, memory_order_relaxed);
	}
	pthread_mutex_unlock(&q->lock);
	*first = h;
	return n;
}
