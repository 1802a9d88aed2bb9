/* stream/iter_conc.c - the combinators that run a future per item:
 * for_each_concurrent, buffer_unordered and buffered (weft/iter.h).
 *
 * Each holds a future set (weft/futset.h) of cap = limit, so every slot is
 * allocated at init and none per item; the set polls only the futures
 * that were woken. A poll alternates between pulling items from the
 * source while there is room (each pulled item becomes a future through
 * the caller's start function) and driving the set, until neither can
 * progress. buffered keeps the order with a sequence number per slot and
 * limit result slots: a future that finishes out of order leaves its item
 * in its result slot (the set's slot is retired and may take the next
 * item's future), and the head of the order is given as soon as it is
 * there. Resources go at the end (or at drop, whichever is first).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/futset_internal.h"
#include "weft/iter.h"

#define LIMIT_MAX ((size_t)1 << 20)

/* ------------------------------------------------ for_each_concurrent */

void weft_iter_for_each_concurrent_init(weft_iter_for_each_concurrent *f,
					weft_iter *src, size_t limit,
					const weft_future_type *type,
					weft_iter_start_fn start, void *ctx)
{
	int r;

	memset(&f->set, 0, sizeof(f->set));
	f->src = src;
	f->type = type;
	f->start = start;
	f->ctx = ctx;
	f->limit = limit;
	f->err = 0;
	f->src_done = false;
	f->res = 0;
	if (!src || !src->vt || !type || !start || !limit ||
	    limit > LIMIT_MAX) {
		f->res = -EINVAL;
		return;
	}
	if (src->item_size > WEFT_ITER_HOLD) {
		f->res = -EMSGSIZE;
		return;
	}
	r = weft_futset_init(&f->set, type, limit);
	if (r)
		f->res = r;
}

/* Pulls items into new futures while fewer than max run. */
static void pull(weft_iter *src, weft_cx *cx, weft_futset *set, size_t max,
		 const weft_future_type *type, weft_iter_start_fn start,
		 void *ctx, weft_iter_hold *hold, bool *src_done,
		 intptr_t *err, uint64_t *seq, uint64_t *tail)
{
	while (!*src_done && weft_futset_len(set) < max) {
		intptr_t r;
		void *frame;

		if (weft_iter_poll_next(src, cx, hold->b, &r) == WEFT_PENDING)
			return;
		if (r < 0) {
			if (r != WEFT_ITER_END)
				*err = r;
			*src_done = true;
			return;
		}
		frame = weft_futset_push(set, type);
		if (!frame) {
			*err = -ENOMEM;
			*src_done = true;
			return;
		}
		start(ctx, frame, hold->b);
		if (seq)
			seq[weft__futset_index(set, frame)] = (*tail)++;
	}
}

weft_poll weft_iter_for_each_concurrent_poll(weft_iter_for_each_concurrent *f,
					     weft_cx *cx)
{
	if (f->res < 0 || !f->set.sh)
		return WEFT_READY;
	for (;;) {
		void *frame;
		intptr_t r;

		pull(f->src, cx, &f->set, f->limit, f->type, f->start, f->ctx,
		     &f->item, &f->src_done, &f->err, NULL, NULL);
		if (weft_futset_len(&f->set) == 0) {
			if (!f->src_done)
				return WEFT_PENDING;
			weft_futset_destroy(&f->set);
			f->res = f->err;
			return WEFT_READY;
		}
		if (weft__futset_poll(&f->set, cx, &frame, &r) == WEFT_PENDING)
			return WEFT_PENDING;
	}
}

void weft_iter_for_each_concurrent_drop(weft_iter_for_each_concurrent *f)
{
	weft_futset_destroy(&f->set);
}

WEFT_FUTURE_DEFINE(weft_iter_for_each_concurrent,
		   weft_iter_for_each_concurrent_drop);

/* ------------------------------------------ buffer_unordered, buffered */

static void buf_free(weft_iter_buffered *b)
{
	weft_futset_destroy(&b->set);
	free(b->seq);
	free(b->rres);
	free(b->rbuf);
	free(b->rdone);
	b->seq = NULL;
	b->rres = NULL;
	b->rbuf = NULL;
	b->rdone = NULL;
}

/* The item of a finished frame, into out; returns its res. */
static intptr_t finish_item(weft_iter_buffered *b, void *frame, intptr_t r,
			    void *out)
{
	if (b->finish)
		return b->finish(b->ctx, frame, out);
	if (r >= 0)
		memcpy(out, &r, sizeof(r));
	return r;
}

static weft_poll buf_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_buffered *b = (weft_iter_buffered *)it;
	size_t isz = it->item_size;

	for (;;) {
		void *frame;
		intptr_t r;
		size_t room;

		if (b->ordered && b->head < b->tail &&
		    b->rdone[b->head % b->limit]) {
			size_t s = (size_t)(b->head % b->limit);

			*res = b->rres[s];
			if (*res >= 0)
				memcpy(item, b->rbuf + s * isz, isz);
			b->rdone[s] = 0;
			b->head++;
			return WEFT_READY;
		}
		room = b->ordered ? b->limit - (size_t)(b->tail - b->head)
				  : b->limit;
		if (b->ordered)
			room += weft_futset_len(&b->set);
		pull(b->src, cx, &b->set, room, b->type, b->start, b->ctx,
		     &b->item, &b->src_done, &b->err, b->seq, &b->tail);
		if (weft_futset_len(&b->set) == 0) {
			if (!b->src_done)
				return WEFT_PENDING;
			if (b->err) {
				*res = b->err;
				b->err = 0;
				return WEFT_READY;
			}
			buf_free(b);
			*res = WEFT_ITER_END;
			return WEFT_READY;
		}
		if (weft__futset_poll(&b->set, cx, &frame, &r) == WEFT_PENDING)
			return WEFT_PENDING;
		if (!b->ordered) {
			*res = finish_item(b, frame, r, item);
			return WEFT_READY;
		}
		{
			uint64_t q = b->seq[weft__futset_index(&b->set, frame)];
			size_t s = (size_t)(q % b->limit);

			b->rres[s] = finish_item(b, frame, r, b->rbuf + s * isz);
			b->rdone[s] = 1;
		}
	}
}

static void buf_drop(weft_iter *it)
{
	buf_free((weft_iter_buffered *)it);
}

static const weft_iter_vt buf_vt = { buf_poll, buf_drop,
				     "weft_iter_buffered" };

static void buf_init(weft_iter_buffered *b, weft_iter *src, size_t limit,
		     const weft_future_type *type, weft_iter_start_fn start,
		     intptr_t (*finish)(void *ctx, void *frame, void *out),
		     size_t out_size, void *ctx, bool ordered)
{
	size_t isz = finish ? out_size : sizeof(intptr_t);

	memset(b, 0, sizeof(*b));
	b->src = src;
	b->type = type;
	b->start = start;
	b->finish = finish;
	b->ctx = ctx;
	b->limit = limit;
	b->ordered = ordered;
	weft_iter_setup(&b->it, &buf_vt, isz);
	if (!src || !src->vt || !type || !start || !limit ||
	    limit > LIMIT_MAX || !isz) {
		b->err = -EINVAL;
	} else if (src->item_size > WEFT_ITER_HOLD) {
		b->err = -EMSGSIZE;
	} else if (weft_futset_init(&b->set, type, limit)) {
		b->err = -ENOMEM;
	} else if (ordered) {
		b->seq = calloc(limit, sizeof(*b->seq));
		b->rres = calloc(limit, sizeof(*b->rres));
		b->rbuf = calloc(limit, isz);
		b->rdone = calloc(limit, 1);
		if (!b->seq || !b->rres || !b->rbuf || !b->rdone) {
			buf_free(b);
			b->err = -ENOMEM;
		}
	}
	/* a failed init gives its error once, then the end */
	if (b->err)
		b->src_done = true;
}

void weft_iter_buffer_unordered_init(weft_iter_buffered *b, weft_iter *src,
				     size_t limit,
				     const weft_future_type *type,
				     weft_iter_start_fn start,
				     intptr_t (*finish)(void *ctx, void *frame,
							void *out),
				     size_t out_size, void *ctx)
{
	buf_init(b, src, limit, type, start, finish, out_size, ctx, false);
}

void weft_iter_buffered_init(weft_iter_buffered *b, weft_iter *src,
			     size_t limit, const weft_future_type *type,
			     weft_iter_start_fn start,
			     intptr_t (*finish)(void *ctx, void *frame,
						void *out),
			     size_t out_size, void *ctx)
{
	buf_init(b, src, limit, type, start, finish, out_size, ctx, true);
}
