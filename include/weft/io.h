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
 * for a NULL path. weft_file_write gives -EIO when the kernel wrote
 * nothing.
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

/* Reads up to len bytes at offset off (at most 1 MiB per operation):
 * res = bytes read (0 at end of file) or a negative errno. */
typedef struct weft_file_read {
	weft_file *file;
	void *buf;
	size_t len;
	uint64_t off;
	struct weft__op *op;   /* private */
	intptr_t res;
} weft_file_read;
WEFT_FUTURE_EXTERN(weft_file_read);

void weft_file_read_init(weft_file_read *r, weft_file *f, void *buf,
			 size_t len, uint64_t off);
weft_poll weft_file_read_poll(weft_file_read *r, weft_cx *cx);
void weft_file_read_drop(weft_file_read *r);

/* Writes all len bytes at offset off (looping over short writes); res is
 * len or a negative errno. The bytes are copied in chunks of 1 MiB. */
typedef struct weft_file_write {
	weft_file *file;
	const void *buf;
	size_t len;
	uint64_t off;
	size_t done;           /* private */
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
