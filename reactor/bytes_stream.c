/* reactor/bytes_stream.c - byte streams (weft/bytes.h) over kernel
 * descriptors: weft's own TCP and Unix streams (weft_bytes_from_stream)
 * and any other non-seekable descriptor (weft_bytes_from_fd: pipes, FIFOs,
 * terminals, foreign sockets). One implementation, "kstream", for both.
 *
 * Read side: a socket reads its receive queue (recvq.c) directly:
 * poll_read copies out of the provided buffers, poll_fill lends the head
 * buffer itself. Without multishot (or with the pool empty) and for every
 * other descriptor, a read is one IORING_OP_RECV / IORING_OP_READ into
 * the stream's own record `rop` (64 KiB), which stays with the stream: the
 * bytes a caller did not take, or that arrived after it went away, are
 * served by the next read (and lent by poll_fill). While `rop` holds bytes
 * or is in flight the receive queue is not looked at, so the order holds
 * (the multishot is not armed then: it ended with ENOBUFS, or was never
 * started).
 *
 * Write side: a non-blocking send(2) (sockets) or write(2) (descriptors
 * that are O_NONBLOCK already) first; what the kernel does not take (at
 * most 256 KiB) is copied into the stream's record `wop` and sent by the
 * ring; the write reports it taken. The next write, flush or shutdown
 * waits for it (PENDING: back-pressure) and reports its error; the first
 * error sticks.
 *
 * Records are reused: an idle DONE record is re-armed by
 * weft__op_resubmit (op.c). Release drops them (cancelled if in flight,
 * freed on their final CQE, as every record is) and the descriptor
 * reference. Threads: one reader and one writer (bytes.h); the read side
 * touches only r*, the write side only w*, so they need no lock between
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/bytes.h"
#include "weft/net.h"
#include "reactor/bytes_stream.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define RBUF (64u * 1024)
#define WCHUNK (256u * 1024)
#define WMIN (16u * 1024)

enum { FILL_NONE, FILL_ROP, FILL_RECVQ };

struct kstream {
	weft_bytes base;
	struct weft__fd *f;     /* the stream's reference (NULL after a
	                         * closing shutdown) */
	int fdno;               /* f->fd, kept for fd() */
	bool sock;              /* recv/send; else read/write */
	bool nonblock;          /* O_NONBLOCK already: write(2) first */
	bool wronly;            /* O_WRONLY: shutdown closes */
	/* read side */
	struct weft__op *rop;
	bool rbusy, rwaiting;
	int fill;
	uint32_t roff, rlen;
	/* write side */
	struct weft__op *wop;
	bool wbusy, shut;
	uint32_t woff, wlen;
	int werr;
};

#define KS(b) ((struct kstream *)(b))

/* ---------------------------------------------------------------- read */

/* The single-shot read into rop (allocated on first use). */
static int rop_start(struct kstream *k, struct weft__reactor *re,
		     weft_cx *cx)
{
	if (!k->rop) {
		k->rop = weft__op_alloc(re, WEFT__OP_IO, k->f, RBUF);
		if (!k->rop)
			return -ENOMEM;
	}
	if (k->sock)
		io_uring_prep_recv(&k->rop->sqe, k->f->fd, k->rop->buf, RBUF, 0);
	else
		io_uring_prep_read(&k->rop->sqe, k->f->fd, k->rop->buf, RBUF,
				   (uint64_t)-1);
	k->rbusy = true;
	weft__op_resubmit(k->rop, cx);
	return 0;
}

/* Copies into buf (peek NULL) or lends (peek): the shared read path. */
static weft_poll ks_read_any(struct kstream *k, weft_cx *cx, void *buf,
			     size_t len, const void **peek, intptr_t *res)
{
	struct weft__reactor *re;
	int32_t r;
	int ret;

	if (k->rbusy) {
		if (weft__op_poll(k->rop, cx, &r) == WEFT_PENDING)
			return WEFT_PENDING;
		k->rbusy = false;
		if (r <= 0) {
			*res = r;
			return WEFT_READY;
		}
		k->roff = 0;
		k->rlen = (uint32_t)r;
	}
	if (k->roff < k->rlen) {
		size_t n = k->rlen - k->roff;

		if (peek) {
			*peek = k->rop->buf + k->roff;
			k->fill = FILL_ROP;
		} else {
			if (n > len)
				n = len;
			memcpy(buf, k->rop->buf + k->roff, n);
			k->roff += (uint32_t)n;
		}
		*res = (intptr_t)n;
		return WEFT_READY;
	}
	if (!k->f) {
		*res = -EBADF;
		return WEFT_READY;
	}
	re = weft__reactor_of(cx);
	if (!re) {
		*res = -ENODEV;
		return WEFT_READY;
	}
	/* relaxed: a feature bit; either path is correct */
	if (k->sock && !weft__bytes_test_no_recvq &&
	    atomic_load_explicit(&re->recv_multi, memory_order_relaxed)) {
		ret = weft__recvq_poll(k->f, re, cx, buf, len, false, peek,
				       &k->rwaiting, res);
		if (ret != WEFT__RECVQ_FALLBACK) {
			if (ret == WEFT_READY && peek && *res > 0)
				k->fill = FILL_RECVQ;
			return (weft_poll)ret;
		}
	}
	ret = rop_start(k, re, cx);
	if (ret) {
		*res = ret;
		return WEFT_READY;
	}
	return WEFT_PENDING;
}

static weft_poll ks_read(weft_bytes *b, weft_cx *cx, void *buf, size_t len,
			 intptr_t *res)
{
	if (len == 0) {
		*res = 0;
		return WEFT_READY;
	}
	return ks_read_any(KS(b), cx, buf, len, NULL, res);
}

static weft_poll ks_fill(weft_bytes *b, weft_cx *cx, const void **data,
			 intptr_t *res)
{
	return ks_read_any(KS(b), cx, NULL, 0, data, res);
}

static void ks_consume(weft_bytes *b, size_t n)
{
	struct kstream *k = KS(b);

	if (k->fill == FILL_ROP) {
		if (n > k->rlen - k->roff)
			n = k->rlen - k->roff;
		k->roff += (uint32_t)n;
	} else if (k->fill == FILL_RECVQ && k->f) {
		/* acquire: pairs with the CAS that installed the record */
		struct weft__op *rx = atomic_load_explicit(&k->f->rx,
							   memory_order_acquire);

		if (rx)
			weft__recvq_consume(k->f, rx->r, n);
	}
	k->fill = FILL_NONE;
}

/* --------------------------------------------------------------- write */

/* Waits for the write in flight (resubmitting the rest of a short one). */
static weft_poll ks_wait_write(struct kstream *k, weft_cx *cx)
{
	int32_t r;

	while (k->wbusy) {
		if (weft__op_poll(k->wop, cx, &r) == WEFT_PENDING)
			return WEFT_PENDING;
		if (r <= 0) {
			k->wbusy = false;
			if (!k->werr)
				k->werr = r < 0 ? r : -EIO;
			break;
		}
		k->woff += (uint32_t)r;
		if (k->woff >= k->wlen) {
			k->wbusy = false;
			break;
		}
		if (k->sock)
			io_uring_prep_send(&k->wop->sqe, k->f->fd,
					   k->wop->buf + k->woff,
					   k->wlen - k->woff,
					   MSG_NOSIGNAL | MSG_WAITALL);
		else
			io_uring_prep_write(&k->wop->sqe, k->f->fd,
					    k->wop->buf + k->woff,
					    k->wlen - k->woff, (uint64_t)-1);
		weft__op_resubmit(k->wop, cx);
	}
	return WEFT_READY;
}

static ssize_t ks_write_direct(struct kstream *k, const struct iovec *iov,
			       int iovcnt)
{
	ssize_t n;

	if (weft__bytes_test_no_direct)
		return 0;
	do {
		if (k->sock)
			n = weft__sock_send_nb(k->f->fd, iov, (size_t)iovcnt);
		else
			n = writev(k->f->fd, iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n;
}

static weft_poll ks_write(weft_bytes *b, weft_cx *cx, const struct iovec *iov,
			  int iovcnt, intptr_t *res)
{
	struct kstream *k = KS(b);
	struct weft__reactor *re;
	size_t total = 0, cap, off = 0;
	ssize_t n;

	if (ks_wait_write(k, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	if (k->werr) {
		*res = k->werr;
		return WEFT_READY;
	}
	if (k->shut || !k->f) {
		*res = -EPIPE;
		return WEFT_READY;
	}
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0) {
		*res = 0;
		return WEFT_READY;
	}
	if (k->sock || k->nonblock) {
		n = ks_write_direct(k, iov, iovcnt);
		if (n != 0) {
			if (n < 0)
				k->werr = (int)n;
			*res = n;
			return WEFT_READY;
		}
	}
	re = weft__reactor_of(cx);
	if (!re) {
		*res = -ENODEV;
		return WEFT_READY;
	}
	cap = total < WCHUNK ? total : WCHUNK;
	if (k->wop && k->wop->cap < cap) {
		weft__op_drop(k->wop);   /* idle: freed at once */
		k->wop = NULL;
	}
	if (!k->wop) {
		k->wop = weft__op_alloc(re, WEFT__OP_IO, k->f,
					cap < WMIN ? WMIN : cap);
		if (!k->wop) {
			*res = -ENOMEM;
			return WEFT_READY;
		}
	}
	for (int i = 0; i < iovcnt && off < cap; i++) {
		size_t c = iov[i].iov_len < cap - off ? iov[i].iov_len
						      : cap - off;

		memcpy(k->wop->buf + off, iov[i].iov_base, c);
		off += c;
	}
	k->woff = 0;
	k->wlen = (uint32_t)cap;
	if (k->sock)
		io_uring_prep_send(&k->wop->sqe, k->f->fd, k->wop->buf, cap,
				   MSG_NOSIGNAL | MSG_WAITALL);
	else
		io_uring_prep_write(&k->wop->sqe, k->f->fd, k->wop->buf,
				    (unsigned)cap, (uint64_t)-1);
	k->wbusy = true;
	weft__op_resubmit(k->wop, cx);
	*res = (intptr_t)cap;
	return WEFT_READY;
}

static weft_poll ks_flush(weft_bytes *b, weft_cx *cx, intptr_t *res)
{
	struct kstream *k = KS(b);

	if (ks_wait_write(k, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = k->werr;
	return WEFT_READY;
}

static weft_poll ks_shutdown(weft_bytes *b, weft_cx *cx, intptr_t *res)
{
	struct kstream *k = KS(b);

	if (ks_flush(b, cx, res) == WEFT_PENDING)
		return WEFT_PENDING;
	if (*res < 0 || k->shut)
		return WEFT_READY;
	k->shut = true;
	if (k->sock) {
		if (shutdown(k->f->fd, SHUT_WR) && errno != ENOTCONN)
			*res = -errno;
	} else if (k->wronly && k->f) {
		/* no read side: give the descriptor up so the reader sees
		 * end of file (closed once no record names it) */
		if (k->wop) {
			weft__op_drop(k->wop);
			k->wop = NULL;
		}
		weft__fd_put(k->f);
		k->f = NULL;
	}
	return WEFT_READY;
}

static void ks_release(weft_bytes *b)
{
	struct kstream *k = KS(b);
	struct weft__op *rx = NULL;

	if (k->f) {
		weft__fd_mark_dropped(k->f, "weft_bytes_drop");
		weft__recvq_unwait(k->f, &k->rwaiting);
	}
	if (k->rop)
		weft__op_drop(k->rop);
	if (k->wop)
		weft__op_drop(k->wop);
	if (k->f) {
		/* acquire: pairs with the CAS that installed the record */
		rx = atomic_exchange_explicit(&k->f->rx, NULL,
					      memory_order_acquire);
		if (rx)
			weft__op_drop(rx);
		weft__fd_put(k->f);
	}
	free(k);
}

static int ks_fd(const weft_bytes *b)
{
	return KS(b)->f ? KS(b)->fdno : -1;
}

#define KS_VT(nm)                                                           \
	{ .poll_read = ks_read, .poll_fill = ks_fill, .consume = ks_consume, \
	  .poll_write = ks_write, .poll_flush = ks_flush,                   \
	  .poll_shutdown = ks_shutdown, .release = ks_release, .fd = ks_fd, \
	  .name = nm }

static const weft_bytes_vtable vt_tcp = KS_VT("tcp");
static const weft_bytes_vtable vt_unix = KS_VT("unix");
static const weft_bytes_vtable vt_pipe = KS_VT("pipe");

/* ---------------------------------------------------------- internals */

bool weft__bytes_test_no_recvq;
bool weft__bytes_test_no_direct;

struct weft__fd *weft__bytes_kfd(weft_bytes *b, bool *fresh)
{
	struct kstream *k;

	if (!b || (b->vt != &vt_tcp && b->vt != &vt_unix && b->vt != &vt_pipe))
		return NULL;
	k = KS(b);
	if (!k->f)
		return NULL;
	if (fresh)
		*fresh = !k->rbusy && k->roff == k->rlen && !k->rwaiting &&
			 !weft__recvq_held(k->f) &&
			 !atomic_load_explicit(&k->f->rx, memory_order_acquire);
	return k->f;
}

/* ------------------------------------------------------- constructors */

static struct kstream *ks_new(struct weft__fd *f, bool sock,
			      const weft_bytes_vtable *vt)
{
	struct kstream *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->base.vt = vt;
	k->f = f;
	k->fdno = f->fd;
	k->sock = sock;
	return k;
}

int weft_bytes_from_stream(weft_bytes **out, struct weft_stream *s)
{
	struct weft__fd *f = (struct weft__fd *)s;
	struct kstream *k;

	if (!out || !s)
		return -EINVAL;
	k = ks_new(f, true, f->domain == AF_UNIX ? &vt_unix : &vt_tcp);
	if (!k)
		return -ENOMEM;
	*out = &k->base;
	return 0;
}

int weft_bytes_from_fd(weft_bytes **out, int fd, unsigned flags)
{
	struct stat st;
	struct weft__fd *f;
	struct kstream *k;
	int fl, own = fd;

	if (!out || fd < 0 || (flags & ~WEFT_BYTES_FD_KEEP))
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
		return -ESPIPE;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	if (flags & WEFT_BYTES_FD_KEEP) {
		own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (own < 0) {
			int e = -errno;

			free(k);
			return e;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		if (own != fd)
			close(own);
		free(k);
		return -ENOMEM;
	}
	atomic_init(&f->refs, 1);
	f->fd = own;
	f->domain = S_ISSOCK(st.st_mode) ? AF_UNSPEC : 0;
	k->base.vt = &vt_pipe;
	k->f = f;
	k->fdno = own;
	k->sock = S_ISSOCK(st.st_mode);
	k->nonblock = fl & O_NONBLOCK;
	k->wronly = (fl & O_ACCMODE) == O_WRONLY;
	*out = &k->base;
	return 0;
}

int weft_bytes_stdin(weft_bytes **out)
{
	return weft_bytes_from_fd(out, 0, WEFT_BYTES_FD_KEEP);
}

int weft_bytes_stdout(weft_bytes **out)
{
	return weft_bytes_from_fd(out, 1, WEFT_BYTES_FD_KEEP);
}

int weft_bytes_stderr(weft_bytes **out)
{
	return weft_bytes_from_fd(out, 2, WEFT_BYTES_FD_KEEP);
}
