/* io/duplex.c - the in-memory duplex pair (weft_bytes_duplex, bytes.h).
 *
 * One allocation holds both directions and both ends. A direction is a
 * ring of cap bytes under its own mutex, with the waker of the reader
 * waiting for bytes and of the writer waiting for room; `closed` when its
 * writer shut down or was released (the reader gets end of stream once the
 * ring is empty), `gone` when its reader was released (writes fail with
 * -EPIPE). End `i` writes direction i and reads direction 1 - i. Wakers
 * are taken out under the mutex and woken after it is released. The pair
 * is freed by the second release (an acq_rel count: the freeing thread
 * sees everything the other end did before its release).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/bytes.h"

#define DUPLEX_DEFAULT (64u * 1024)
#define DUPLEX_MAX ((size_t)1 << 30)

struct dir {
	pthread_mutex_t mu;
	unsigned char *ring;
	size_t cap, head, len;
	bool closed, gone;
	weft_waker reader, writer;
};

struct end {
	weft_bytes base;
	struct pair *p;
	int i;
	bool fill_lent;
};

struct pair {
	struct dir d[2];
	struct end e[2];
	atomic_int refs;
};

#define END(b) ((struct end *)(b))
#define RX(e) (&(e)->p->d[1 - (e)->i])
#define TX(e) (&(e)->p->d[(e)->i])

/* Bytes available (lend: the contiguous run at head). Lock held. */
static weft_poll rx_wait_locked(struct dir *d, weft_cx *cx, intptr_t *res)
{
	if (d->len)
		return WEFT_READY;
	if (d->closed) {
		*res = 0;
		return WEFT_READY;
	}
	weft_waker_register(&d->reader, cx);
	return WEFT_PENDING;
}

static weft_poll dx_read(weft_bytes *b, weft_cx *cx, void *buf, size_t len,
			 intptr_t *res)
{
	struct dir *d = RX(END(b));
	weft_waker w = WEFT_WAKER_NONE;
	size_t n = 0;
	weft_poll p;

	if (len == 0) {
		*res = 0;
		return WEFT_READY;
	}
	pthread_mutex_lock(&d->mu);
	p = rx_wait_locked(d, cx, res);
	if (p == WEFT_READY && d->len) {
		while (n < len && d->len) {
			size_t run = d->cap - d->head;
			size_t k = run < d->len ? run : d->len;

			if (k > len - n)
				k = len - n;
			memcpy((char *)buf + n, d->ring + d->head, k);
			n += k;
			d->head = (d->head + k) % d->cap;
			d->len -= k;
		}
		*res = (intptr_t)n;
		w = d->writer;
		d->writer = WEFT_WAKER_NONE;
	}
	pthread_mutex_unlock(&d->mu);
	weft_waker_wake(&w);
	return p;
}

static weft_poll dx_fill(weft_bytes *b, weft_cx *cx, const void **data,
			 intptr_t *res)
{
	struct end *e = END(b);
	struct dir *d = RX(e);
	weft_poll p;

	pthread_mutex_lock(&d->mu);
	p = rx_wait_locked(d, cx, res);
	if (p == WEFT_READY && d->len) {
		size_t run = d->cap - d->head;

		/* the writer appends past head + len only: this run stays
		 * put until consume */
		*data = d->ring + d->head;
		*res = (intptr_t)(run < d->len ? run : d->len);
		e->fill_lent = true;
	}
	pthread_mutex_unlock(&d->mu);
	return p;
}

static void dx_consume(weft_bytes *b, size_t n)
{
	struct end *e = END(b);
	struct dir *d = RX(e);
	weft_waker w = WEFT_WAKER_NONE;

	if (!e->fill_lent)
		return;
	e->fill_lent = false;
	pthread_mutex_lock(&d->mu);
	if (n > d->len)
		n = d->len;
	d->head = (d->head + n) % d->cap;
	d->len -= n;
	if (n) {
		w = d->writer;
		d->writer = WEFT_WAKER_NONE;
	}
	pthread_mutex_unlock(&d->mu);
	weft_waker_wake(&w);
}

static weft_poll dx_write(weft_bytes *b, weft_cx *cx, const struct iovec *iov,
			  int iovcnt, intptr_t *res)
{
	struct dir *d = TX(END(b));
	weft_waker w = WEFT_WAKER_NONE;
	size_t total = 0, n = 0;
	weft_poll p = WEFT_READY;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	pthread_mutex_lock(&d->mu);
	if (d->gone || d->closed) {
		*res = -EPIPE;
	} else if (total == 0) {
		*res = 0;
	} else if (d->len == d->cap) {
		weft_waker_register(&d->writer, cx);
		p = WEFT_PENDING;
	} else {
		for (int i = 0; i < iovcnt && d->len < d->cap; i++) {
			const char *src = iov[i].iov_base;
			size_t left = iov[i].iov_len;

			while (left && d->len < d->cap) {
				size_t tail = (d->head + d->len) % d->cap;
				size_t run = tail >= d->head ? d->cap - tail
							     : d->head - tail;
				size_t k = run < left ? run : left;

				if (k > d->cap - d->len)
					k = d->cap - d->len;
				memcpy(d->ring + tail, src, k);
				d->len += k;
				src += k;
				left -= k;
				n += k;
			}
		}
		*res = (intptr_t)n;
		w = d->reader;
		d->reader = WEFT_WAKER_NONE;
	}
	pthread_mutex_unlock(&d->mu);
	weft_waker_wake(&w);
	return p;
}

static weft_poll dx_flush(weft_bytes *b, weft_cx *cx, intptr_t *res)
{
	(void)b;
	(void)cx;
	*res = 0;
	return WEFT_READY;
}

/* Closes direction d's writing side (shutdown, release). */
static void dir_close(struct dir *d, bool reader_gone)
{
	weft_waker r, w;

	pthread_mutex_lock(&d->mu);
	if (reader_gone)
		d->gone = true;
	else
		d->closed = true;
	r = d->reader;
	w = d->writer;
	d->reader = d->writer = WEFT_WAKER_NONE;
	pthread_mutex_unlock(&d->mu);
	weft_waker_wake(&r);
	weft_waker_wake(&w);
}

static weft_poll dx_shutdown(weft_bytes *b, weft_cx *cx, intptr_t *res)
{
	(void)cx;
	dir_close(TX(END(b)), false);
	*res = 0;
	return WEFT_READY;
}

static void pair_free(struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		pthread_mutex_destroy(&p->d[i].mu);
		weft_waker_drop(&p->d[i].reader);
		weft_waker_drop(&p->d[i].writer);
		free(p->d[i].ring);
	}
	free(p);
}

static void dx_release(weft_bytes *b)
{
	struct end *e = END(b);
	struct pair *p = e->p;

	dir_close(TX(e), false);  /* the peer reads end of stream */
	dir_close(RX(e), true);   /* the peer's writes fail */
	/* acq_rel: the last release sees the other end's uses (file
	 * comment) */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		pair_free(p);
}

static const weft_bytes_vtable duplex_vt = {
	.poll_read = dx_read,
	.poll_fill = dx_fill,
	.consume = dx_consume,
	.poll_write = dx_write,
	.poll_flush = dx_flush,
	.poll_shutdown = dx_shutdown,
	.release = dx_release,
	.fd = NULL,
	.name = "duplex",
};

int weft_bytes_duplex(weft_bytes **a, weft_bytes **b, size_t cap)
{
	struct pair *p;

	if (!a || !b || cap > DUPLEX_MAX)
		return -EINVAL;
	if (cap == 0)
		cap = DUPLEX_DEFAULT;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		p->d[i].cap = cap;
		p->d[i].ring = malloc(cap);
		if (!p->d[i].ring) {
			if (i)
				pthread_mutex_destroy(&p->d[0].mu);
			free(p->d[0].ring);
			free(p);
			return -ENOMEM;
		}
		pthread_mutex_init(&p->d[i].mu, NULL);
		p->e[i].base.vt = &duplex_vt;
		p->e[i].p = p;
		p->e[i].i = i;
	}
	atomic_init(&p->refs, 2);
	*a = &p->e[0].base;
	*b = &p->e[1].base;
	return 0;
}
