/* weft/io.h - files on io_uring: open, read/write at an offset, fsync.
 *
 * A weft_file is a counted descriptor: weft_file_drop releases the
 * caller's handle at once, and the descriptor itself is closed when no
 * operation on it is still in the kernel (debug builds abort when a handle
 * is dropped twice while weft still holds the descriptor). Operation
 * futures have the shape of core.h (_init, _poll, _drop; the result in
 * `res`: a byte count, 0, or a negative errno) and own their buffers while
 * the kernel may use them: a read lands in the operation's own buffer and
 * is copied out when the future completes; a write copies the caller's
 * bytes at each submission; the open path is copied too. So a future may
 * be dropped at any time (call its _drop from the frame's drop function):
 * the operation is cancelled and its record freed on its final
 * completion. Debug builds abort when _init finds the future's operation
 * still in flight (call _drop first).
 *
 * Errors: every future here reports, besides the kernel's errno for its
 * operation (openat(2), pread(2), pwrite(2), fsync(2)), -ENODEV (no
 * runtime with I/O enabled polls it), -ENOMEM (no operation record) and
 * -ECANCELED (the runtime shut down first). weft_file_open gives -EINVAL
 * for a NULL path. weft_file_read and weft_file_write give -EINVAL for a
 * length over INTPTR_MAX; weft_file_write gives -EIO when the kernel wrote
 * nothing. Whole files, statx, directories: weft/fs.h.
 *
 * Threads: a file handle may be used by tasks on any thread and its
 * synchronous functions called from any thread; each future is polled by
 * the task that holds it.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct weft__op;
typedef struct weft_file weft_file;

/* The descriptor (still owned by f). */
int weft_file_fd(const weft_file *f);
/* Releases the handle; the fd closes when no operation uses it. */
void weft_file_drop(weft_file *f);
/* Wraps an open descriptor (ownership passes to weft). NULL on ENOMEM (the
 * fd is then closed). */
weft_file *weft_file_from_fd(int fd);

/* Opens path (openat(2) relative to the working directory): READY with
 * res = 0 and file = the new handle (the caller's), or res < 0 (-ENOENT,
 * -EINVAL for a NULL path, ...). */
typedef struct weft_file_open {
	const char *path;      /* copied at the first poll */
	int flags;             /* open(2) flags; O_CLOEXEC is added */
	mode_t mode;
	struct weft__op *op;   /* private */
	weft_file *file;       /* after READY with res == 0 */
	intptr_t res;
} weft_file_open;
WEFT_FUTURE_EXTERN(weft_file_open);

void weft_file_open_init(weft_file_open *o, const char *path, int flags,
			 mode_t mode);
weft_poll weft_file_open_poll(weft_file_open *o, weft_cx *cx);
void weft_file_open_drop(weft_file_open *o);

/* Reads up to len bytes (any length up to INTPTR_MAX) at offset off into
 * buf: res = the bytes read, or a negative errno. The read goes in
 * operations of at most 1 MiB each, one after the other: each lands in
 * the operation's own buffer (the bound on what weft holds per read, and
 * why the caller's buffer never has to outlive the future) and is copied
 * to buf when it completes. On a regular file or a block device (fstat(2)
 * after a short read says which) the reads go on until len bytes or the
 * end of the file (a read returning 0), so res < len means the file ended at
 * off + res (0: off is at or past the end). On anything else (a pipe,
 * socket or terminal) the first read that comes back short ends it with
 * what was ready: read again at off + res for more. -EINTR and -EAGAIN
 * from the kernel repeat the read of that chunk. An error after some
 * bytes arrived reports those bytes (the error comes again at the next
 * read); -EINVAL for len over INTPTR_MAX.
 *
 * Cancellation: dropping the read loses nothing of a regular file (the
 * bytes already copied stay in buf, the rest is not read; read again);
 * on a pipe or socket the bytes of the operation in flight are lost. */
typedef struct weft_file_read {
	weft_file *file;
	void *buf;
	size_t len;
	uint64_t off;
	struct weft__op *op;   /* private */
	intptr_t res;          /* while pending: bytes copied so far */
} weft_file_read;
WEFT_FUTURE_EXTERN(weft_file_read);

void weft_file_read_init(weft_file_read *r, weft_file *f, void *buf,
			 size_t len, uint64_t off);
weft_poll weft_file_read_poll(weft_file_read *r, weft_cx *cx);
void weft_file_read_drop(weft_file_read *r);

/* Writes all len bytes (any length up to INTPTR_MAX) at offset off,
 * looping over short writes (and over -EINTR and -EAGAIN): res = len, or
 * a negative errno (then `done`
 * says how many bytes reached the file before the error). The bytes are
 * copied into the operation's own buffer in chunks of at most 1 MiB, one
 * chunk at a time, so buf must stay valid until READY (or the drop) but
 * is never read by the kernel itself. -EINVAL for len over INTPTR_MAX.
 *
 * Cancellation: dropping the write stops it after the chunk in flight,
 * which may still reach the file; `done` counts what completed before. */
typedef struct weft_file_write {
	weft_file *file;
	const void *buf;
	size_t len;
	uint64_t off;
	size_t done;           /* bytes written so far (valid after READY) */
	struct weft__op *op;   /* private */
	intptr_t res;
} weft_file_write;
WEFT_FUTURE_EXTERN(weft_file_write);

void weft_file_write_init(weft_file_write *w, weft_file *f, const void *buf,
			  size_t len, uint64_t off);
weft_poll weft_file_write_poll(weft_file_write *w, weft_cx *cx);
void weft_file_write_drop(weft_file_write *w);

/* fsync(2), or fdatasync with flags = WEFT_FSYNC_DATASYNC: res = 0 or a
 * negative errno. */
#define WEFT_FSYNC_DATASYNC 1u  /* IORING_FSYNC_DATASYNC */

typedef struct weft_file_fsync {
	weft_file *file;
	unsigned flags;        /* 0 or WEFT_FSYNC_DATASYNC */
	struct weft__op *op;   /* private */
	intptr_t res;
} weft_file_fsync;
WEFT_FUTURE_EXTERN(weft_file_fsync);

void weft_file_fsync_init(weft_file_fsync *s, weft_file *f, unsigned flags);
weft_poll weft_file_fsync_poll(weft_file_fsync *s, weft_cx *cx);
void weft_file_fsync_drop(weft_file_fsync *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_IO_H */
