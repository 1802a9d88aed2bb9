/* io/copy.c - copy between byte streams (weft/bytes.h): weft_bytes_copy,
 * weft_bytes_copy_bidirectional and weft_bytes_sendfile.
 *
 * One direction of a copy is a small state machine (struct
 * weft__copy_dir). When both ends are weft's kernel streams and the reader
 * has received nothing yet, it splices: source -> a pipe of its own ->
 * destination, two IORING_OP_SPLICE operations per chunk (the pipe's
 * 64 KiB), through the weft_splice future (reactor/splice.c), which holds
 * references on the descriptors. A kernel that refuses (-EINVAL on the
 * first splice, nothing moved yet) turns the direction into the
 * read/write loop: poll_fill and write from the lent bytes (no copy in the
 * future) where the reader lends its own buffer, else poll_read into a
 * 64 KiB buffer of the direction's. No atomics here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weft/bytes.h"
#include "reactor/bytes_stream.h"
#include "reactor/fd.h"

#define COPY_BUF (64u * 1024)
#define PIPE_CHUNK (1024u * 1024)  /* asked of the pipe (F_SETPIPE_SZ) */

bool weft__copy_test_no_splice;
atomic_ulong weft__copy_test_spliced;

enum {
	D_START,
	D_FLUSH0,
	D_SPIN_START,
	D_SPIN,
	D_SPOUT,
	D_READ,
	D_WRITE,
	D_END,
	D_END_WAIT,
	D_DONE,
};

static void dir_init(struct weft__copy_dir *d, weft_bytes *from,
		     weft_bytes *to)
{
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->state = D_START;
}

static void dir_pipe_close(struct weft__copy_dir *d)
{
	weft__fd_put(d->pipe_r);
	weft__fd_put(d->pipe_w);
	d->pipe_r = d->pipe_w = NULL;
}

static void dir_cleanup(struct weft__copy_dir *d)
{
	weft_splice_drop(&d->sp);
	weft_bytes_write_drop(&d->w);
	weft_bytes_flush_drop(&d->f);
	dir_pipe_close(d);
	free(d->buf);
	d->buf = NULL;
}

static weft_poll dir_fail(struct weft__copy_dir *d, intptr_t err)
{
	dir_cleanup(d);
	d->res = err;
	d->state = D_DONE;
	return WEFT_READY;
}

/* A pipe for splicing from `in` to `out` (both kernel streams), or false:
 * use the loop. */
static bool dir_pipe_open(struct weft__copy_dir *d, bool need_fresh_from)
{
	bool fresh = true;
	int p[2];

	if (weft__copy_test_no_splice || !weft__bytes_kfd(d->to, NULL))
		return false;
	if (need_fresh_from && (!weft__bytes_kfd(d->from, &fresh) || !fresh))
		return false;
	if (pipe2(p, O_CLOEXEC))
		return false;
	/* fewer round trips per byte; the default 64 KiB stays if refused
	 * (a splice moves what fits) */
	(void)fcntl(p[1], F_SETPIPE_SZ, (int)PIPE_CHUNK);
	d->pipe_r = weft__fd_new(p[0], 0);
	d->pipe_w = weft__fd_new(p[1], 0);
	if (!d->pipe_r || !d->pipe_w) {
		dir_pipe_close(d);   /* weft__fd_new closed a failed one */
		return false;
	}
	return true;
}

/* Whether a splice's 0 from a socket is its end of stream. A TCP
 * splice read can return 0 with the peer still open (data that lands
 * between its read attempt and its queue check: tcp_splice_read's
 * "nothing read while the receive queue is not empty" case), so a 0 is
 * checked with a non-blocking peek: 0 is the end; a byte or EAGAIN means
 * splice again. Not a socket (a pipe: ENOTSOCK): its 0 is the end. */
static bool splice_eof_real(int fd)
{
	char c;
	ssize_t n;

	do
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The pipe -> destination half of a splice chunk: READY when the pipe is
 * empty again (count updated), or failed. */
static weft_poll dir_splice_out(struct weft__copy_dir *d, weft_cx *cx,
				uint64_t *count)
{
	for (;;) {
		if (weft_splice_poll(&d->sp, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (d->sp.res <= 0) {
			d->res = d->sp.res < 0 ? d->sp.res : -EIO;
			return WEFT_READY;
		}
		d->in_pipe -= (size_t)d->sp.res;
		*count += (uint64_t)d->sp.res;
		/* relaxed: a statistic for the tests */
		atomic_fetch_add_explicit(&weft__copy_test_spliced,
					  (unsigned long)d->sp.res,
					  memory_order_relaxed);
		if (!d->in_pipe)
			return WEFT_READY;
		weft__splice_init_fds(&d->sp, d->pipe_r, -1,
				      weft__bytes_kfd(d->to, NULL), -1,
				      d->in_pipe);
	}
}

/* Starts the pipe -> destination half for d->in_pipe bytes. */
static int dir_start_out(struct weft__copy_dir *d)
{
	struct weft__fd *out = weft__bytes_kfd(d->to, NULL);

	if (!out)
		return -EBADF;
	weft__splice_init_fds(&d->sp, d->pipe_r, -1, out, -1, d->in_pipe);
	return 0;
}

/* READY when the direction is over: d->res = 0 (end of stream reached,
 * `to` flushed, or shut down with shut) or -errno. */
static weft_poll dir_poll(struct weft__copy_dir *d, weft_cx *cx, bool shut)
{
	struct weft__fd *in;
	intptr_t r;
	int err;

	for (;;) {
		switch (d->state) {
		case D_START:
			d->splice = dir_pipe_open(d, true);
			if (d->splice) {
				weft_bytes_flush_init(&d->f, d->to);
				d->state = D_FLUSH0;
			} else {
				d->state = D_READ;
			}
			break;
		case D_FLUSH0:
			if (weft_bytes_flush_poll(&d->f, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->f.res < 0)
				return dir_fail(d, d->f.res);
			d->state = D_SPIN_START;
			break;
		case D_SPIN_START:
			in = weft__bytes_kfd(d->from, NULL);
			if (!in)
				return dir_fail(d, -EBADF);
			weft__splice_init_fds(&d->sp, in, -1, d->pipe_w, -1,
					      PIPE_CHUNK);
			d->state = D_SPIN;
			break;
		case D_SPIN:
			if (weft_splice_poll(&d->sp, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			r = d->sp.res;
			if (r == -EINVAL && d->count == 0) {
				/* the kernel cannot splice these: the loop */
				dir_pipe_close(d);
				d->splice = false;
				d->state = D_READ;
				break;
			}
			if (r < 0)
				return dir_fail(d, r);
			if (r == 0) {
				in = weft__bytes_kfd(d->from, NULL);
				d->state = in && !splice_eof_real(in->fd)
						   ? D_SPIN_START : D_END;
				break;
			}
			d->in_pipe = (size_t)r;
			err = dir_start_out(d);
			if (err)
				return dir_fail(d, err);
			d->state = D_SPOUT;
			break;
		case D_SPOUT:
			if (dir_splice_out(d, cx, &d->count) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->res < 0)
				return dir_fail(d, d->res);
			d->state = D_SPIN_START;
			break;
		case D_READ:
			if (d->from->vt->poll_fill &&
			    !weft__bytes_kfd(d->from, NULL)) {
				if (d->from->vt->poll_fill(d->from, cx, &d->data,
							   &r) == WEFT_PENDING)
					return WEFT_PENDING;
				d->lent = r > 0;
			} else {
				if (!d->buf) {
					d->buf = malloc(COPY_BUF);
					if (!d->buf)
						return dir_fail(d, -ENOMEM);
				}
				if (d->from->vt->poll_read(d->from, cx, d->buf,
							   COPY_BUF, &r) ==
				    WEFT_PENDING)
					return WEFT_PENDING;
				d->data = d->buf;
			}
			if (r < 0)
				return dir_fail(d, r);
			if (r == 0) {
				d->state = D_END;
				break;
			}
			d->len = (size_t)r;
			weft_bytes_write_all_init(&d->w, d->to, d->data, d->len);
			d->state = D_WRITE;
			break;
		case D_WRITE:
			if (weft_bytes_write_poll(&d->w, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->w.res < 0)
				return dir_fail(d, d->w.res);
			d->count += d->len;
			if (d->lent) {
				d->from->vt->consume(d->from, d->len);
				d->lent = false;
			}
			d->state = D_READ;
			break;
		case D_END:
			if (shut)
				weft_bytes_shutdown_init(&d->f, d->to);
			else
				weft_bytes_flush_init(&d->f, d->to);
			d->state = D_END_WAIT;
			break;
		case D_END_WAIT:
			if (weft_bytes_flush_poll(&d->f, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->f.res < 0)
				return dir_fail(d, d->f.res);
			dir_cleanup(d);
			d->res = 0;
			d->state = D_DONE;
			return WEFT_READY;
		default:
			return WEFT_READY;
		}
	}
}

/* ---------------------------------------------------------------- copy */

void weft_bytes_copy_init(weft_bytes_copy *c, weft_bytes *from,
			  weft_bytes *to)
{
	WEFT_DEBUG_CHECK(!c->dir.sp.op, "weft_bytes_copy_init",
			 "the copy is still in flight (its splice would "
			 "leak); call weft_bytes_copy_drop first");
	dir_init(&c->dir, from, to);
	c->res = 0;
}

weft_poll weft_bytes_copy_poll(weft_bytes_copy *c, weft_cx *cx)
{
	if (!c->dir.from || !c->dir.to) {
		c->res = -EINVAL;
		return WEFT_READY;
	}
	if (dir_poll(&c->dir, cx, false) == WEFT_PENDING)
		return WEFT_PENDING;
	c->res = c->dir.res < 0 ? c->dir.res : (intptr_t)c->dir.count;
	return WEFT_READY;
}

void weft_bytes_copy_drop(weft_bytes_copy *c)
{
	dir_cleanup(&c->dir);
}

WEFT_FUTURE_DEFINE(weft_bytes_copy, weft_bytes_copy_drop);

/* -------------------------------------------------------- bidirectional */

void weft_bytes_copy_bidirectional_init(weft_bytes_copy_bidirectional *c,
					weft_bytes *a, weft_bytes *b)
{
	WEFT_DEBUG_CHECK(!c->ab.sp.op && !c->ba.sp.op,
			 "weft_bytes_copy_bidirectional_init",
			 "the copy is still in flight (its splices would "
			 "leak); call weft_bytes_copy_bidirectional_drop "
			 "first");
	dir_init(&c->ab, a, b);
	dir_init(&c->ba, b, a);
	c->a_to_b = c->b_to_a = 0;
	c->res = 0;
}

weft_poll weft_bytes_copy_bidirectional_poll(
	weft_bytes_copy_bidirectional *c, weft_cx *cx)
{
	if (!c->ab.from || !c->ab.to) {
		c->res = -EINVAL;
		return WEFT_READY;
	}
	if (c->ab.state != D_DONE)
		dir_poll(&c->ab, cx, true);
	if (c->ab.res >= 0 && c->ba.state != D_DONE)
		dir_poll(&c->ba, cx, true);
	c->a_to_b = c->ab.count;
	c->b_to_a = c->ba.count;
	if (c->ab.res < 0 || c->ba.res < 0) {
		c->res = c->ab.res < 0 ? c->ab.res : c->ba.res;
		dir_cleanup(&c->ab);
		dir_cleanup(&c->ba);
		return WEFT_READY;
	}
	if (c->ab.state != D_DONE || c->ba.state != D_DONE)
		return WEFT_PENDING;
	c->res = 0;
	return WEFT_READY;
}

void weft_bytes_copy_bidirectional_drop(
	weft_bytes_copy_bidirectional *c)
{
	dir_cleanup(&c->ab);
	dir_cleanup(&c->ba);
}

WEFT_FUTURE_DEFINE(weft_bytes_copy_bidirectional,
		   weft_bytes_copy_bidirectional_drop);

/* ------------------------------------------------------------- sendfile */

enum {
	F_START,
	F_FLUSH0,
	F_NEXT,
	F_SPIN,
	F_SPOUT,
	F_READ,
	F_WRITE,
	F_END,
	F_END_WAIT,
	F_DONE,
};

void weft_bytes_sendfile_init(weft_bytes_sendfile *s, int file_fd,
			      uint64_t off, uint64_t len, weft_bytes *to)
{
	WEFT_DEBUG_CHECK(!s->dir.sp.op && !s->rd.op,
			 "weft_bytes_sendfile_init",
			 "the transfer is still in flight (its operation "
			 "would leak); call weft_bytes_sendfile_drop first");
	dir_init(&s->dir, NULL, to);
	s->dir.state = F_START;
	s->file_fd = file_fd;
	s->off = off;
	s->len = len;
	s->sent = 0;
	s->file = NULL;
	memset(&s->rd, 0, sizeof(s->rd));
	s->res = 0;
}

void weft_bytes_sendfile_drop(weft_bytes_sendfile *s)
{
	dir_cleanup(&s->dir);
	weft_file_read_drop(&s->rd);
	if (s->file) {
		weft_file_drop(s->file);
		s->file = NULL;
	}
}

static weft_poll sf_finish(weft_bytes_sendfile *s, intptr_t res)
{
	weft_bytes_sendfile_drop(s);
	s->dir.state = F_DONE;
	s->res = res;
	return WEFT_READY;
}

/* The next chunk's size: the rest of len (0: of the file), at most max. */
static size_t sf_chunk(const weft_bytes_sendfile *s, size_t max)
{
	uint64_t left = s->len ? s->len - s->sent : max;

	return left < max ? (size_t)left : max;
}

weft_poll weft_bytes_sendfile_poll(weft_bytes_sendfile *s, weft_cx *cx)
{
	struct weft__copy_dir *d = &s->dir;
	int fd;

	if (!d->to) {
		s->res = -EINVAL;
		return WEFT_READY;
	}
	for (;;) {
		switch (d->state) {
		case F_START:
			fd = fcntl(s->file_fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				return sf_finish(s, -errno);
			s->file = weft_file_from_fd(fd);
			if (!s->file)
				return sf_finish(s, -ENOMEM);
			d->splice = dir_pipe_open(d, false);
			weft_bytes_flush_init(&d->f, d->to);
			d->state = F_FLUSH0;
			break;
		case F_FLUSH0:
			if (weft_bytes_flush_poll(&d->f, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->f.res < 0)
				return sf_finish(s, d->f.res);
			d->state = F_NEXT;
			break;
		case F_NEXT:
			if (s->len && s->sent == s->len) {
				d->state = F_END;
				break;
			}
			if (d->splice) {
				weft__splice_init_fds(
					&d->sp, (struct weft__fd *)s->file,
					(int64_t)(s->off + s->sent), d->pipe_w,
					-1, sf_chunk(s, PIPE_CHUNK));
				d->state = F_SPIN;
				break;
			}
			if (!d->buf) {
				d->buf = malloc(COPY_BUF);
				if (!d->buf)
					return sf_finish(s, -ENOMEM);
			}
			weft_file_read_init(&s->rd, s->file, d->buf,
					    sf_chunk(s, COPY_BUF),
					    s->off + s->sent);
			d->state = F_READ;
			break;
		case F_SPIN:
			if (weft_splice_poll(&d->sp, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->sp.res == -EINVAL && s->sent == 0) {
				dir_pipe_close(d);
				d->splice = false;
				d->state = F_NEXT;
				break;
			}
			if (d->sp.res < 0)
				return sf_finish(s, d->sp.res);
			if (d->sp.res == 0) {
				d->state = F_END;
				break;
			}
			d->in_pipe = (size_t)d->sp.res;
			fd = dir_start_out(d);
			if (fd)
				return sf_finish(s, fd);
			d->state = F_SPOUT;
			break;
		case F_SPOUT:
			if (dir_splice_out(d, cx, &s->sent) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->res < 0)
				return sf_finish(s, d->res);
			d->state = F_NEXT;
			break;
		case F_READ:
			if (weft_file_read_poll(&s->rd, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (s->rd.res < 0)
				return sf_finish(s, s->rd.res);
			if (s->rd.res == 0) {
				d->state = F_END;
				break;
			}
			d->len = (size_t)s->rd.res;
			weft_bytes_write_all_init(&d->w, d->to, d->buf, d->len);
			d->state = F_WRITE;
			break;
		case F_WRITE:
			if (weft_bytes_write_poll(&d->w, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			if (d->w.res < 0)
				return sf_finish(s, d->w.res);
			s->sent += d->len;
			d->state = F_NEXT;
			break;
		case F_END:
			weft_bytes_flush_init(&d->f, d->to);
			d->state = F_END_WAIT;
			break;
		case F_END_WAIT:
			if (weft_bytes_flush_poll(&d->f, cx) == WEFT_PENDING)
				return WEFT_PENDING;
			return sf_finish(s, d->f.res < 0 ? d->f.res
							 : (intptr_t)s->sent);
		default:
			return WEFT_READY;
		}
	}
}

WEFT_FUTURE_DEFINE(weft_bytes_sendfile, weft_bytes_sendfile_drop);
