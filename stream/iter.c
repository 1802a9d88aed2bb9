/* runtime/iter.c - the stream contract (weft/iter.h), weft's sources as
 * streams, and the combinators that hold no futures of their own (map,
 * filter, take, take_while, chain, merge, zip, timeout, keyed merge,
 * for_each). The concurrent ones are in runtime/iter_conc.c.
 *
 * Fusing lives in one place, weft_iter_poll_next: a stream that returned
 * the end is never polled again. A source keeps the futures that must
 * survive between polls (a queued broadcast or watch waiter, an accept's
 * back-off, a signal's readiness registration) and re-creates the
 * stateless ones (an mpsc receive, an interval tick, a codec next) at
 * each poll. A source "ends after an error" by setting a flag that makes
 * its next poll return the end.
 */
#include <errno.h>
#include <string.h>

#include "weft/iter.h"

void weft_iter_setup(weft_iter *it, const weft_iter_vt *vt, size_t item_size)
{
	it->vt = vt;
	it->item_size = item_size;
	it->ended = false;
	it->dropped = false;
}

weft_poll weft_iter_poll_next(weft_iter *it, weft_cx *cx, void *item,
			      intptr_t *res)
{
	weft_poll p;

	if (!it || !it->vt || !it->vt->poll_next) {
		*res = -EINVAL;
		return WEFT_READY;
	}
	if (it->ended) {
		*res = WEFT_ITER_END;
		return WEFT_READY;
	}
	p = it->vt->poll_next(it, cx, item, res);
	if (p == WEFT_READY && *res == WEFT_ITER_END)
		it->ended = true;
	return p;
}

void weft_iter_drop(weft_iter *it)
{
	if (!it || it->dropped)
		return;
	it->dropped = true;
	it->ended = true;
	if (it->vt && it->vt->drop)
		it->vt->drop(it);
}

void weft_iter_next_init(weft_iter_next *n, weft_iter *it, void *item)
{
	n->it = it;
	n->item = item;
	n->res = 0;
}

weft_poll weft_iter_next_poll(weft_iter_next *n, weft_cx *cx)
{
	return weft_iter_poll_next(n->it, cx, n->item, &n->res);
}

void weft_iter_next_drop(weft_iter_next *n)
{
	(void)n;
}

WEFT_FUTURE_DEFINE(weft_iter_next, weft_iter_next_drop);

/* A source's "end after this error": the ended flag is set by
 * weft_iter_poll_next only for the end itself, so a source marks its
 * own. */
#define END_AFTER(s) ((s)->it.vt = &ended_vt)

static weft_poll ended_poll(weft_iter *it, weft_cx *cx, void *item,
			    intptr_t *res)
{
	(void)it, (void)cx, (void)item;
	*res = WEFT_ITER_END;
	return WEFT_READY;
}
static const weft_iter_vt ended_vt = { ended_poll, NULL, "ended" };

/* Sets up a stream that gives err once, then the end (bad arguments). */
static void setup_failed(weft_iter *it, size_t item_size);

/* --------------------------------------------------------------- mpsc */

static weft_poll mpsc_poll(weft_iter *it, weft_cx *cx, void *item,
			   intptr_t *res)
{
	weft_iter_mpsc *s = (weft_iter_mpsc *)it;
	weft_mpsc_recv r;

	weft_mpsc_recv_init(&r, s->rx, item);
	if (weft_mpsc_recv_poll(&r, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = r.res == -EPIPE ? WEFT_ITER_END : r.res;
	return WEFT_READY;
}
static const weft_iter_vt mpsc_vt = { mpsc_poll, NULL, "weft_iter_mpsc" };

void weft_iter_mpsc_init(weft_iter_mpsc *s, weft_mpsc_rx *rx,
			 size_t elem_size)
{
	s->rx = rx;
	if (!rx || !elem_size)
		setup_failed(&s->it, elem_size);
	else
		weft_iter_setup(&s->it, &mpsc_vt, elem_size);
}

/* ---------------------------------------------------------- broadcast */

static weft_poll bc_poll(weft_iter *it, weft_cx *cx, void *item,
			 intptr_t *res)
{
	weft_iter_broadcast *s = (weft_iter_broadcast *)it;

	/* the waiter stays queued between polls: only its out moves */
	s->recv.out = item;
	if (weft_broadcast_recv_poll(&s->recv, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = s->recv.res == -EPIPE ? WEFT_ITER_END : s->recv.res;
	s->missed = s->recv.missed;
	weft_broadcast_recv_init(&s->recv, s->rx, NULL);
	return WEFT_READY;
}
static void bc_drop(weft_iter *it)
{
	weft_broadcast_recv_drop(&((weft_iter_broadcast *)it)->recv);
}
static const weft_iter_vt bc_vt = { bc_poll, bc_drop, "weft_iter_broadcast" };

void weft_iter_broadcast_init(weft_iter_broadcast *s, weft_broadcast_rx *rx,
			      size_t elem_size)
{
	memset(&s->recv, 0, sizeof(s->recv));
	s->rx = rx;
	s->missed = 0;
	if (!rx || !elem_size) {
		setup_failed(&s->it, elem_size);
		return;
	}
	weft_broadcast_recv_init(&s->recv, rx, NULL);
	weft_iter_setup(&s->it, &bc_vt, elem_size);
}

/* -------------------------------------------------------------- watch */

static weft_poll watch_poll(weft_iter *it, weft_cx *cx, void *item,
			    intptr_t *res)
{
	weft_iter_watch *s = (weft_iter_watch *)it;

	if (weft_watch_changed_poll(&s->changed, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = s->changed.res == -EPIPE ? WEFT_ITER_END : s->changed.res;
	if (*res == 0)
		weft_watch_borrow(s->rx, item);
	weft_watch_changed_init(&s->changed, s->rx);
	return WEFT_READY;
}
static void watch_drop(weft_iter *it)
{
	weft_watch_changed_drop(&((weft_iter_watch *)it)->changed);
}
static const weft_iter_vt watch_vt = { watch_poll, watch_drop,
				       "weft_iter_watch" };

void weft_iter_watch_init(weft_iter_watch *s, weft_watch_rx *rx,
			  size_t elem_size)
{
	memset(&s->changed, 0, sizeof(s->changed));
	s->rx = rx;
	if (!rx || !elem_size) {
		setup_failed(&s->it, elem_size);
		return;
	}
	weft_watch_changed_init(&s->changed, rx);
	weft_iter_setup(&s->it, &watch_vt, elem_size);
}

/* ----------------------------------------------------------- interval */

static weft_poll ivl_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_interval *s = (weft_iter_interval *)it;
	weft_interval_tick t;

	weft_interval_tick_init(&t, s->iv);
	if (weft_interval_tick_poll(&t, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = t.res;
	if (t.res == 0)
		memcpy(item, &t.tick, sizeof(t.tick));
	else
		END_AFTER(s);
	return WEFT_READY;
}
static const weft_iter_vt ivl_vt = { ivl_poll, NULL, "weft_iter_interval" };

void weft_iter_interval_init(weft_iter_interval *s, weft_interval *iv)
{
	s->iv = iv;
	if (!iv)
		setup_failed(&s->it, sizeof(weft_instant));
	else
		weft_iter_setup(&s->it, &ivl_vt, sizeof(weft_instant));
}

/* ------------------------------------------------------------- accept */

static weft_poll acc_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_accept *s = (weft_iter_accept *)it;

	if (weft_listener_accept_poll(&s->acc, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = s->acc.res;
	if (*res == 0)
		memcpy(item, &s->acc.stream, sizeof(s->acc.stream));
	/* the back-off deadline is the listener's: a fresh accept after an
	 * error still waits it out */
	weft_listener_accept_drop(&s->acc);
	weft_listener_accept_init(&s->acc, s->l);
	if (*res == -ENODEV || *res == -ECANCELED)
		END_AFTER(s);
	return WEFT_READY;
}
static void acc_drop(weft_iter *it)
{
	weft_listener_accept_drop(&((weft_iter_accept *)it)->acc);
}
static const weft_iter_vt acc_vt = { acc_poll, acc_drop, "weft_iter_accept" };

void weft_iter_accept_init(weft_iter_accept *s, weft_listener *l)
{
	memset(&s->acc, 0, sizeof(s->acc));
	s->l = l;
	if (!l) {
		setup_failed(&s->it, sizeof(weft_stream *));
		return;
	}
	weft_listener_accept_init(&s->acc, l);
	weft_iter_setup(&s->it, &acc_vt, sizeof(weft_stream *));
}

/* ------------------------------------------------------------- signal */

static weft_poll sig_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_signal *s = (weft_iter_signal *)it;

	if (weft_signal_recv_poll(&s->recv, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = s->recv.res;
	if (*res > 0)
		memcpy(item, &s->recv.info, sizeof(s->recv.info));
	weft_signal_recv_drop(&s->recv);
	if (*res < 0) {
		END_AFTER(s);
		return WEFT_READY;
	}
	weft_signal_recv_init(&s->recv, s->sig);
	return WEFT_READY;
}
static void sig_drop(weft_iter *it)
{
	weft_signal_recv_drop(&((weft_iter_signal *)it)->recv);
}
static const weft_iter_vt sig_vt = { sig_poll, sig_drop, "weft_iter_signal" };

void weft_iter_signal_init(weft_iter_signal *s, weft_signal *sig)
{
	memset(&s->recv, 0, sizeof(s->recv));
	s->sig = sig;
	if (!sig) {
		setup_failed(&s->it, sizeof(struct signalfd_siginfo));
		return;
	}
	weft_signal_recv_init(&s->recv, sig);
	weft_iter_setup(&s->it, &sig_vt, sizeof(struct signalfd_siginfo));
}

/* ------------------------------------------------------ lines, frames */

static intptr_t bytes_item(weft_iter *it, intptr_t r, const void *data,
			   void *item, bool *end_after)
{
	weft_iter_bytes b;

	(void)it;
	if (r >= 0) {
		b.data = data;
		b.len = (size_t)r;
		memcpy(item, &b, sizeof(b));
		return r;
	}
	if (r == -ENODATA)
		return WEFT_ITER_END;
	if (r != -EMSGSIZE)
		*end_after = true;
	return r;
}

static weft_poll lines_poll(weft_iter *it, weft_cx *cx, void *item,
			    intptr_t *res)
{
	weft_iter_lines *s = (weft_iter_lines *)it;
	weft_codec_lines_next n;
	bool end = false;

	weft_codec_lines_next_init(&n, s->r, &s->c);
	if (weft_codec_lines_next_poll(&n, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = bytes_item(it, n.res, n.data, item, &end);
	if (end)
		END_AFTER(s);
	return WEFT_READY;
}
static const weft_iter_vt lines_vt = { lines_poll, NULL, "weft_iter_lines" };

void weft_iter_lines_init(weft_iter_lines *s, weft_bufreader *r,
			  const weft_codec_lines *c)
{
	s->r = r;
	if (!r || !c) {
		setup_failed(&s->it, sizeof(weft_iter_bytes));
		return;
	}
	s->c = *c;
	weft_iter_setup(&s->it, &lines_vt, sizeof(weft_iter_bytes));
}

static weft_poll frames_poll(weft_iter *it, weft_cx *cx, void *item,
			     intptr_t *res)
{
	weft_iter_frames *s = (weft_iter_frames *)it;
	weft_codec_frames_next n;
	bool end = false;

	weft_codec_frames_next_init(&n, s->r, &s->c);
	if (weft_codec_frames_next_poll(&n, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = bytes_item(it, n.res, n.data, item, &end);
	if (end)
		END_AFTER(s);
	return WEFT_READY;
}
static const weft_iter_vt frames_vt = { frames_poll, NULL,
					"weft_iter_frames" };

void weft_iter_frames_init(weft_iter_frames *s, weft_bufreader *r,
			   const weft_codec_frames *c)
{
	s->r = r;
	if (!r || !c) {
		setup_failed(&s->it, sizeof(weft_iter_bytes));
		return;
	}
	s->c = *c;
	weft_iter_setup(&s->it, &frames_vt, sizeof(weft_iter_bytes));
}

/* --------------------------------------------- failed setup (-EINVAL) */

struct failed_iter {
	weft_iter it;
};

static weft_poll failed_poll(weft_iter *it, weft_cx *cx, void *item,
			     intptr_t *res)
{
	(void)cx, (void)item;
	/* the error once, then the end */
	it->vt = &ended_vt;
	*res = -EINVAL;
	return WEFT_READY;
}
static const weft_iter_vt failed_vt = { failed_poll, NULL, "failed" };

static void setup_failed(weft_iter *it, size_t item_size)
{
	weft_iter_setup(it, &failed_vt, item_size);
}

/* Gives -EMSGSIZE once, then the end (items too large to hold). */
static weft_poll msgsize_poll(weft_iter *it, weft_cx *cx, void *item,
			      intptr_t *res)
{
	(void)cx, (void)item;
	it->vt = &ended_vt;
	*res = -EMSGSIZE;
	return WEFT_READY;
}
static const weft_iter_vt msgsize_vt = { msgsize_poll, NULL, "too large" };

/* A combinator's argument check: -EINVAL for a NULL source, -EMSGSIZE for
 * one whose items it cannot hold. Returns true when it is fine. */
static bool check_src(weft_iter *it, const weft_iter *src, size_t item_size,
		      bool holds)
{
	if (!src || !src->vt) {
		setup_failed(it, item_size);
		return false;
	}
	if (holds && src->item_size > WEFT_ITER_HOLD) {
		weft_iter_setup(it, &msgsize_vt, item_size);
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- map */

static weft_poll map_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_map *m = (weft_iter_map *)it;

	if (weft_iter_poll_next(m->src, cx, m->in.b, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res >= 0)
		*res = m->fn(m->ctx, m->in.b, item);
	return WEFT_READY;
}
static const weft_iter_vt map_vt = { map_poll, NULL, "weft_iter_map" };

void weft_iter_map_init(weft_iter_map *m, weft_iter *src, size_t out_size,
			intptr_t (*fn)(void *ctx, const void *in, void *out),
			void *ctx)
{
	m->src = src;
	m->fn = fn;
	m->ctx = ctx;
	if (!fn) {
		setup_failed(&m->it, out_size);
		return;
	}
	if (check_src(&m->it, src, out_size, true))
		weft_iter_setup(&m->it, &map_vt, out_size);
}

/* ------------------------------------------------------------- filter */

static weft_poll filter_poll(weft_iter *it, weft_cx *cx, void *item,
			     intptr_t *res)
{
	weft_iter_filter *f = (weft_iter_filter *)it;

	for (;;) {
		if (weft_iter_poll_next(f->src, cx, item, res) == WEFT_PENDING)
			return WEFT_PENDING;
		if (*res < 0 || f->pred(f->ctx, item))
			return WEFT_READY;
		/* skipped: the source's budget spending keeps this loop
		 * from monopolising the worker */
	}
}
static const weft_iter_vt filter_vt = { filter_poll, NULL,
					"weft_iter_filter" };

void weft_iter_filter_init(weft_iter_filter *f, weft_iter *src,
			   bool (*pred)(void *ctx, const void *item),
			   void *ctx)
{
	f->src = src;
	f->pred = pred;
	f->ctx = ctx;
	if (!pred) {
		setup_failed(&f->it, src ? src->item_size : 0);
		return;
	}
	if (check_src(&f->it, src, 0, false))
		weft_iter_setup(&f->it, &filter_vt, src->item_size);
}

/* --------------------------------------------------------------- take */

static weft_poll take_poll(weft_iter *it, weft_cx *cx, void *item,
			   intptr_t *res)
{
	weft_iter_take *t = (weft_iter_take *)it;

	if (!t->left) {
		*res = WEFT_ITER_END;
		return WEFT_READY;
	}
	if (weft_iter_poll_next(t->src, cx, item, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res != WEFT_ITER_END)
		t->left--;
	return WEFT_READY;
}
static const weft_iter_vt take_vt = { take_poll, NULL, "weft_iter_take" };

void weft_iter_take_init(weft_iter_take *t, weft_iter *src, uint64_t n)
{
	t->src = src;
	t->left = n;
	if (check_src(&t->it, src, 0, false))
		weft_iter_setup(&t->it, &take_vt, src->item_size);
}

static weft_poll take_while_poll(weft_iter *it, weft_cx *cx, void *item,
				 intptr_t *res)
{
	weft_iter_take_while *t = (weft_iter_take_while *)it;

	if (weft_iter_poll_next(t->src, cx, item, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res >= 0 && !t->pred(t->ctx, item))
		*res = WEFT_ITER_END;
	return WEFT_READY;
}
static const weft_iter_vt take_while_vt = { take_while_poll, NULL,
					    "weft_iter_take_while" };

void weft_iter_take_while_init(weft_iter_take_while *t, weft_iter *src,
			       bool (*pred)(void *ctx, const void *item),
			       void *ctx)
{
	t->src = src;
	t->pred = pred;
	t->ctx = ctx;
	if (!pred) {
		setup_failed(&t->it, src ? src->item_size : 0);
		return;
	}
	if (check_src(&t->it, src, 0, false))
		weft_iter_setup(&t->it, &take_while_vt, src->item_size);
}

/* -------------------------------------------------------------- chain */

static weft_poll chain_poll(weft_iter *it, weft_cx *cx, void *item,
			    intptr_t *res)
{
	weft_iter_chain *c = (weft_iter_chain *)it;

	if (weft_iter_poll_next(c->a, cx, item, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res != WEFT_ITER_END)
		return WEFT_READY;
	return weft_iter_poll_next(c->b, cx, item, res);
}
static const weft_iter_vt chain_vt = { chain_poll, NULL, "weft_iter_chain" };

void weft_iter_chain_init(weft_iter_chain *c, weft_iter *a, weft_iter *b)
{
	c->a = a;
	c->b = b;
	if (!a || !b || !a->vt || !b->vt || a->item_size != b->item_size)
		setup_failed(&c->it, a ? a->item_size : 0);
	else
		weft_iter_setup(&c->it, &chain_vt, a->item_size);
}

/* -------------------------------------------------------------- merge */

static weft_poll merge_poll(weft_iter *it, weft_cx *cx, void *item,
			    intptr_t *res)
{
	weft_iter_merge *m = (weft_iter_merge *)it;
	size_t live = 0;

	for (size_t k = 0; k < m->n; k++) {
		size_t i = (m->next + k) % m->n;
		weft_iter *s = m->srcs[i];

		if (s->ended)
			continue;
		if (weft_iter_poll_next(s, cx, item, res) == WEFT_PENDING) {
			live++;
			continue;
		}
		if (*res == WEFT_ITER_END)
			continue;
		m->next = (i + 1) % m->n;
		return WEFT_READY;
	}
	if (live)
		return WEFT_PENDING;
	*res = WEFT_ITER_END;
	return WEFT_READY;
}
static const weft_iter_vt merge_vt = { merge_poll, NULL, "weft_iter_merge" };

void weft_iter_merge_init(weft_iter_merge *m, weft_iter **srcs, size_t n)
{
	m->srcs = srcs;
	m->n = n;
	m->next = 0;
	if (!srcs && n) {
		setup_failed(&m->it, 0);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!srcs[i] || !srcs[i]->vt ||
		    srcs[i]->item_size != srcs[0]->item_size) {
			setup_failed(&m->it, srcs[0] ? srcs[0]->item_size : 0);
			return;
		}
	weft_iter_setup(&m->it, &merge_vt, n ? srcs[0]->item_size : 0);
}

/* ---------------------------------------------------------------- zip */

static weft_poll zip_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_zip *z = (weft_iter_zip *)it;
	bool pending = false;

	if (!z->have_a) {
		if (weft_iter_poll_next(z->a, cx, z->ha.b, res) == WEFT_PENDING)
			pending = true;
		else if (*res < 0)
			return WEFT_READY; /* an error item, or the end */
		else
			z->have_a = true;
	}
	if (!z->have_b) {
		if (weft_iter_poll_next(z->b, cx, z->hb.b, res) == WEFT_PENDING)
			pending = true;
		else if (*res < 0)
			return WEFT_READY;
		else
			z->have_b = true;
	}
	if (pending)
		return WEFT_PENDING;
	memcpy(item, z->ha.b, z->a->item_size);
	memcpy((char *)item + z->b_off, z->hb.b, z->b->item_size);
	z->have_a = z->have_b = false;
	*res = 0;
	return WEFT_READY;
}
static const weft_iter_vt zip_vt = { zip_poll, NULL, "weft_iter_zip" };

void weft_iter_zip_init(weft_iter_zip *z, weft_iter *a, weft_iter *b)
{
	z->a = a;
	z->b = b;
	z->have_a = z->have_b = false;
	z->b_off = a ? (a->item_size + 15) & ~(size_t)15 : 0;
	if (!b) {
		setup_failed(&z->it, 0);
		return;
	}
	if (check_src(&z->it, a, 0, true) && check_src(&z->it, b, 0, true))
		weft_iter_setup(&z->it, &zip_vt, z->b_off + b->item_size);
}

/* ------------------------------------------------------------ timeout */

static weft_poll tmo_poll(weft_iter *it, weft_cx *cx, void *item,
			  intptr_t *res)
{
	weft_iter_timeout *t = (weft_iter_timeout *)it;

	if (!t->armed) {
		weft_sleep_reset(&t->sleep, weft_now() + t->d);
		t->armed = true;
	}
	if (weft_iter_poll_next(t->src, cx, item, res) == WEFT_READY) {
		t->armed = false;
		return WEFT_READY;
	}
	if (weft_sleep_poll(&t->sleep, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	t->armed = false;
	*res = t->sleep.res < 0 ? t->sleep.res : -ETIMEDOUT;
	return WEFT_READY;
}
static void tmo_drop(weft_iter *it)
{
	weft_sleep_drop(&((weft_iter_timeout *)it)->sleep);
}
static const weft_iter_vt tmo_vt = { tmo_poll, tmo_drop, "weft_iter_timeout" };

void weft_iter_timeout_init(weft_iter_timeout *t, weft_iter *src,
			    weft_duration d)
{
	t->src = src;
	t->d = d;
	t->armed = false;
	memset(&t->sleep, 0, sizeof(t->sleep));
	weft_sleep_init(&t->sleep, d);
	if (check_src(&t->it, src, 0, false))
		weft_iter_setup(&t->it, &tmo_vt, src->item_size);
}

/* -------------------------------------------------------------- keyed */

static weft_poll keyed_poll(weft_iter *it, weft_cx *cx, void *item,
			    intptr_t *res)
{
	weft_iter_keyed *k = (weft_iter_keyed *)it;

	for (size_t c = 0; c < k->cap; c++) {
		size_t i = (k->next + c) % k->cap;
		weft_iter_keyed_entry *e = &k->e[i];

		if (!e->it)
			continue;
		if (weft_iter_poll_next(e->it, cx, (char *)item + 8, res) ==
		    WEFT_PENDING)
			continue;
		if (*res == WEFT_ITER_END) {
			e->it = NULL;
			k->n--;
			continue;
		}
		memcpy(item, &e->key, sizeof(e->key));
		k->next = (i + 1) % k->cap;
		return WEFT_READY;
	}
	if (k->n == 0 && k->closed) {
		*res = WEFT_ITER_END;
		return WEFT_READY;
	}
	if (k->n == 0)
		weft_waker_register(&k->waiter, cx);
	return WEFT_PENDING;
}
static void keyed_drop(weft_iter *it)
{
	weft_waker_drop(&((weft_iter_keyed *)it)->waiter);
}
static const weft_iter_vt keyed_vt = { keyed_poll, keyed_drop,
				       "weft_iter_keyed" };

void weft_iter_keyed_init(weft_iter_keyed *k, weft_iter_keyed_entry *entries,
			  size_t cap, size_t member_size)
{
	k->e = entries;
	k->cap = entries ? cap : 0;
	k->n = 0;
	k->next = 0;
	k->closed = false;
	k->waiter = WEFT_WAKER_NONE;
	for (size_t i = 0; i < k->cap; i++)
		entries[i].it = NULL;
	weft_iter_setup(&k->it, &keyed_vt, 8 + member_size);
}

int weft_iter_keyed_insert(weft_iter_keyed *k, uint64_t key, weft_iter *it)
{
	size_t free_i = k ? k->cap : 0;

	if (!k || !it || !it->vt || k->closed ||
	    it->item_size + 8 != k->it.item_size)
		return -EINVAL;
	for (size_t i = 0; i < k->cap; i++) {
		if (k->e[i].it && k->e[i].key == key)
			return -EEXIST;
		if (!k->e[i].it && free_i == k->cap)
			free_i = i;
	}
	if (free_i == k->cap)
		return -ENOSPC;
	k->e[free_i].key = key;
	k->e[free_i].it = it;
	k->n++;
	weft_waker_wake(&k->waiter);
	return 0;
}

weft_iter *weft_iter_keyed_remove(weft_iter_keyed *k, uint64_t key)
{
	for (size_t i = 0; k && i < k->cap; i++)
		if (k->e[i].it && k->e[i].key == key) {
			weft_iter *it = k->e[i].it;

			k->e[i].it = NULL;
			k->n--;
			return it;
		}
	return NULL;
}

void weft_iter_keyed_close(weft_iter_keyed *k)
{
	if (!k)
		return;
	k->closed = true;
	weft_waker_wake(&k->waiter);
}

/* ----------------------------------------------------------- for_each */

void weft_iter_for_each_init(weft_iter_for_each *f, weft_iter *src,
			     intptr_t (*fn)(void *ctx, void *item),
			     void *ctx)
{
	f->src = src;
	f->fn = fn;
	f->ctx = ctx;
	f->res = 0;
	if (!src || !fn)
		f->res = -EINVAL;
	else if (src->item_size > WEFT_ITER_HOLD)
		f->res = -EMSGSIZE;
}

weft_poll weft_iter_for_each_poll(weft_iter_for_each *f, weft_cx *cx)
{
	intptr_t r;

	if (f->res < 0)
		return WEFT_READY;
	for (;;) {
		if (weft_iter_poll_next(f->src, cx, f->item.b, &r) ==
		    WEFT_PENDING)
			return WEFT_PENDING;
		if (r == WEFT_ITER_END) {
			f->res = 0;
			return WEFT_READY;
		}
		if (r < 0 || (r = f->fn(f->ctx, f->item.b)) < 0) {
			f->res = r;
			return WEFT_READY;
		}
	}
}

void weft_iter_for_each_drop(weft_iter_for_each *f)
{
	(void)f;
}

WEFT_FUTURE_DEFINE(weft_iter_for_each, weft_iter_for_each_drop);
