/* runtime/injector.c - the global injection queue.
 *
 * Takes tasks scheduled from threads that are not workers of the runtime
 * (the reactor, the blocking pool, block_on callers, foreign threads) and
 * the overflow of a deque that cannot grow. A mutex guards an intrusive
 * FIFO linked through task->next; `len` is written under the lock and read
 * without it as an emptiness hint, so workers skip the lock when there is
 * nothing to take. Callers that must not miss a push (parking workers)
 * re-check after the idle protocol's seq_cst fence (idle.c).
 */
#include "runtime/internal.h"

void weft__injector_init(struct weft__injector *q)
{
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	atomic_init(&q->len, 0);
}

void weft__injector_destroy(struct weft__injector *q)
{
	pthread_mutex_destroy(&q->lock);
}

/* Appends the chain head..tail (n tasks, linked through next). */
void weft__injector_push(struct weft__injector *q, struct weft__task *head,
			 struct weft__task *tail, size_t n)
{
	tail->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = head;
	else
		q->head = head;
	q->tail = tail;
	/* relaxed: the lock orders the list; len is only a hint outside */
	atomic_store_explicit(&q->len,
			      atomic_load_explicit(&q->len,
						   memory_order_relaxed) + n,
			      memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
}

struct weft__task *weft__injector_pop(struct weft__injector *q)
{
	struct weft__task *first;

	return weft__injector_pop_batch(q, &first, 1) ? first : NULL;
}

/* Takes up to max tasks; returns the count and the chain in *first
 * (linked through next, NULL-terminated). */
size_t weft__injector_pop_batch(struct weft__injector *q,
				struct weft__task **first, size_t max)
{
	struct weft__task *h, *t;
	size_t n = 0;

	if (weft__injector_is_empty(q))
		return 0;
	pthread_mutex_lock(&q->lock);
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
		/* relaxed: under the lock, see the module comment */
		atomic_store_explicit(&q->len,
				      atomic_load_explicit(&q->len,
							   memory_order_relaxed) - n,
				      memory_order_relaxed);
	}
	pthread_mutex_unlock(&q->lock);
	*first = h;
	return n;
}
