/* reactor/file.c - files on io_uring (weft/io.h): the file handle, and the
 * openat, read and write at an offset, and fsync futures. Each operation
 * owns its buffer (the record's tail): a read is copied out on completion,
 * a write's bytes are copied in before submission, the open path too.
 * Reads and writes of any length go in operations of at most CHUNK bytes,
 * one after the other, so a record never holds more than CHUNK bytes
 * however large the caller's buffer: the caller's buffer is never handed
 * to the kernel (a dropped future's frame, and the buffer with it, may be
 * gone before the kernel's completion arrives). No atomics here.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "weft/io.h"
#include "reactor/fd.h"
#include "reactor/reactor.h"

#define FD_OF(h) ((struct weft__fd *)(h))
#define CHUNK (1024u * 1024)

_Static_assert(WEFT_FSYNC_DATASYNC == IORING_FSYNC_DATASYNC,
	       "WEFT_FSYNC_DATASYNC is passed to the kernel as it is");

#define CHECK_IDLE(op, where, fix)                                          \
	WEFT_DEBUG_CHECK(!(op), where,                                      \
			 "the operation is still in flight (its record "    \
			 "would leak); call " fix " first")

int weft_file_fd(const weft_file *f)
{
	return FD_OF(f)->fd;
}

void weft_file_drop(weft_file *f)
{
	if (f) {
		weft__fd_mark_dropped(FD_OF(f), "weft_file_drop");
		weft__fd_put(FD_OF(f));
	}
}

weft_file *weft_file_from_fd(int fd)
{
	return (weft_file *)weft__fd_new(fd, 0);
}

/* Allocates an I/O record and makes it wait for cx; NULL with *err set. */
static struct weft__op *file_op(weft_cx *cx, struct weft__fd *fd, size_t cap,
				int *err)
{
	struct weft__reactor *r = weft__reactor_of(cx);
	struct weft__op *op;

	*err = r ? -ENOMEM : -ENODEV;
	if (!r || !(op = weft__op_alloc(r, WEFT__OP_IO, fd, cap)))
		return NULL;
	op->waker = weft_waker_clone(&cx->waker);
	*err = 0;
	return op;
}

/* Polls a record; on READY drops it and returns its result in *res. */
static weft_poll file_wait(struct weft__op **opp, weft_cx *cx, int32_t *res)
{
	if (weft__op_poll(*opp, cx, res) == WEFT_PENDING)
		return WEFT_PENDING;
	return WEFT_READY;
}

static void op_release(struct weft__op **opp)
{
	if (*opp) {
		weft__op_drop(*opp);
		*opp = NULL;
	}
}

/* ----------------------------------------------------------------- open */

void weft_file_open_init(weft_file_open *o, const char *path, int flags,
			 mode_t mode)
{
	CHECK_IDLE(o->op, "weft_file_open_init", "weft_file_open_drop");
	o->path = path;
	o->flags = flags;
	o->mode = mode;
	o->op = NULL;
	o->file = NULL;
	o->res = 0;
}

weft_poll weft_file_open_poll(weft_file_open *o, weft_cx *cx)
{
	int32_t res;
	int err;

	if (!o->op) {
		size_t n = o->path ? strlen(o->path) + 1 : 0;

		if (!n) {
			o->res = -EINVAL;
			return WEFT_READY;
		}
		o->op = file_op(cx, NULL, n, &err);
		if (!o->op) {
			o->res = err;
			return WEFT_READY;
		}
		memcpy(o->op->buf, o->path, n);
		io_uring_prep_openat(&o->op->sqe, AT_FDCWD,
				     (const char *)o->op->buf,
				     o->flags | O_CLOEXEC, o->mode);
		weft__op_submit(o->op);
		return WEFT_PENDING;
	}
	if (file_wait(&o->op, cx, &res) == WEFT_PENDING)
		return WEFT_PENDING;
	o->op->res = -EBADF; /* taken: DONE, not armed, ours alone now */
	op_release(&o->op);
	if (res < 0) {
		o->res = res;
		return WEFT_READY;
	}
	o->file = weft_file_from_fd(res);
	o->res = o->file ? 0 : -ENOMEM;
	return WEFT_READY;
}

void weft_file_open_drop(weft_file_open *o)
{
	/* an open that completes after this is closed when its record is
	 * freed (weft__op_free) */
	op_release(&o->op);
}

WEFT_FUTURE_DEFINE(weft_file_open, weft_file_open_drop);

/* ----------------------------------------------------------------- read */

void weft_file_read_init(weft_file_read *r, weft_file *f, void *buf,
			 size_t len, uint64_t off)
{
	CHECK_IDLE(r->op, "weft_file_read_init", "weft_file_read_drop");
	r->file = f;
	r->buf = buf;
	r->len = len;
	r->off = off;
	r->op = NULL;
	r->res = len > (size_t)INTPTR_MAX ? -EINVAL : 0;
}

/* A regular file or a block device: a short read there is no end of
 * file (a buffered read may stop early under memory pressure), so the
 * read goes on until a read returns 0. Anything else (pipe, socket,
 * terminal) returns what it has, and a short read ends the future. Asked
 * only after a short read (rare but for the end of a file), so a read
 * costs no fstat in the common case and the future no field to keep the
 * answer in (weft_file_read's layout is the 1.0 ABI). */
static bool is_whole(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) ||
				       S_ISBLK(st.st_mode));
}

/* While a read is under way its res counts the bytes copied to buf so far
 * (the future has no other field for it: weft_file_read's layout is the
 * 1.0 ABI), so at READY it already holds the result. */
#define READ_DONE(r) ((size_t)(r)->res)

/* Submits the read of the next chunk (at most CHUNK bytes) into a new
 * record's own buffer; 0 or -errno. */
static int read_chunk(weft_file_read *r, weft_cx *cx)
{
	size_t n = r->len - READ_DONE(r);
	int err;

	if (n > CHUNK)
		n = CHUNK;
	r->op = file_op(cx, FD_OF(r->file), n, &err);
	if (!r->op)
		return err;
	io_uring_prep_read(&r->op->sqe, FD_OF(r->file)->fd, r->op->buf,
			   (unsigned)n, r->off + READ_DONE(r));
	weft__op_submit(r->op);
	return 0;
}

weft_poll weft_file_read_poll(weft_file_read *r, weft_cx *cx)
{
	int32_t res;
	size_t asked;
	int err;

	if (r->res < 0)
		return WEFT_READY; /* refused at init */
	for (;;) {
		if (!r->op) {
			if (READ_DONE(r) == r->len)
				return WEFT_READY;
			err = read_chunk(r, cx);
			if (err) {
				/* bytes already read are the result; the
				 * error comes again at the next read */
				if (!r->res)
					r->res = err;
				return WEFT_READY;
			}
			return WEFT_PENDING;
		}
		if (file_wait(&r->op, cx, &res) == WEFT_PENDING)
			return WEFT_PENDING;
		asked = r->op->cap;
		if (res > 0)
			memcpy((char *)r->buf + READ_DONE(r), r->op->buf,
			       (size_t)res);
		op_release(&r->op);
		if (res == -EINTR || res == -EAGAIN)
			continue; /* the same chunk again */
		if (res < 0) {
			if (!r->res)
				r->res = res;
			return WEFT_READY;
		}
		r->res += res;
		if (res == 0 ||
		    ((size_t)res < asked && !is_whole(FD_OF(r->file)->fd)))
			return WEFT_READY; /* end of file, or what a pipe had */
	}
}

void weft_file_read_drop(weft_file_read *r)
{
	op_release(&r->op);
}

WEFT_FUTURE_DEFINE(weft_file_read, weft_file_read_drop);

/* ---------------------------------------------------------------- write */

void weft_file_write_init(weft_file_write *w, weft_file *f, const void *buf,
			  size_t len, uint64_t off)
{
	CHECK_IDLE(w->op, "weft_file_write_init", "weft_file_write_drop");
	w->file = f;
	w->buf = buf;
	w->len = len;
	w->off = off;
	w->done = 0;
	w->op = NULL;
	w->res = len > (size_t)INTPTR_MAX ? -EINVAL : 0;
}

weft_poll weft_file_write_poll(weft_file_write *w, weft_cx *cx)
{
	int32_t res;
	int err;

	if (w->res < 0)
		return WEFT_READY; /* refused at init */
	for (;;) {
		if (!w->op) {
			size_t n = w->len - w->done;

			if (n == 0) {
				w->res = (intptr_t)w->len;
				return WEFT_READY;
			}
			if (n > CHUNK)
				n = CHUNK;
			w->op = file_op(cx, FD_OF(w->file), n, &err);
			if (!w->op) {
				w->res = err;
				return WEFT_READY;
			}
			memcpy(w->op->buf, (const char *)w->buf + w->done, n);
			io_uring_prep_write(&w->op->sqe, FD_OF(w->file)->fd,
					    w->op->buf, (unsigned)n,
					    w->off + w->done);
			weft__op_submit(w->op);
			return WEFT_PENDING;
		}
		if (file_wait(&w->op, cx, &res) == WEFT_PENDING)
			return WEFT_PENDING;
		op_release(&w->op);
		if (res == -EINTR || res == -EAGAIN)
			continue; /* the same chunk again */
		if (res <= 0) {
			w->res = res < 0 ? res : -EIO;
			return WEFT_READY;
		}
		w->done += (size_t)res;
	}
}

void weft_file_write_drop(weft_file_write *w)
{
	op_release(&w->op);
}

WEFT_FUTURE_DEFINE(weft_file_write, weft_file_write_drop);

/* ---------------------------------------------------------------- fsync */

void weft_file_fsync_init(weft_file_fsync *s, weft_file *f, unsigned flags)
{
	CHECK_IDLE(s->op, "weft_file_fsync_init", "weft_file_fsync_drop");
	s->file = f;
	s->flags = flags;
	s->op = NULL;
	s->res = 0;
}

weft_poll weft_file_fsync_poll(weft_file_fsync *s, weft_cx *cx)
{
	int32_t res;
	int err;

	if (!s->op) {
		s->op = file_op(cx, FD_OF(s->file), 0, &err);
		if (!s->op) {
			s->res = err;
			return WEFT_READY;
		}
		io_uring_prep_fsync(&s->op->sqe, FD_OF(s->file)->fd, s->flags);
		weft__op_submit(s->op);
		return WEFT_PENDING;
	}
	if (file_wait(&s->op, cx, &res) == WEFT_PENDING)
		return WEFT_PENDING;
	s->res = res;
	op_release(&s->op);
	return WEFT_READY;
}

void weft_file_fsync_drop(weft_file_fsync *s)
{
	op_release(&s->op);
}

WEFT_FUTURE_DEFINE(weft_file_fsync, weft_file_fsync_drop);
