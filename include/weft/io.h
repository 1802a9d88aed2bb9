/* weft/io.h - files on io_uring: open, read/write at an offset, fsync,
 * close.
 *
 * A weft_file is a counted descriptor: weft_file_close releases the
 * caller's handle at once, and the descriptor itself is closed when no
 * operation on it is still in the kernel. Operation futures own their
 * buffers while the kernel may use them: a read lands in the operation's
 * own buffer and is copied out when the future completes; a write copies
 * the caller's bytes at its first poll. So a future may be dropped at any
 * time (call its _drop from the frame's drop function): the operation is
 * cancelled and its record freed on its final completion.
 *
 * Results: `res` is bytes (>= 0) or a negative errno.
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
void weft_file_close(weft_file *f);
/* Wraps an open descriptor (ownership passes to weft). NULL on ENOMEM. */
weft_file *weft_file_from_fd(int fd);

typedef struct weft_file_open {
	const char *path;      /* copied at the first poll */
	int flags;             /* open(2) flags; O_CLOEXEC is added */
	mode_t mode;
	struct weft__op *op;
	weft_file *file;       /* after READY with err == 0 */
	int err;
} weft_file_open;

void weft_file_open_init(weft_file_open *o, const char *path, int flags,
			 mode_t mode);
weft_poll weft_file_open_poll(weft_file_open *o, weft_cx *cx);
void weft_file_open_drop(weft_file_open *o);

/* Reads up to len bytes at offset off (at most 1 MiB per operation). */
typedef struct weft_file_read {
	weft_file *file;
	void *buf;
	size_t len;
	uint64_t off;
	struct weft__op *op;
	ssize_t res;
} weft_file_read;

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
	size_t done;
	struct weft__op *op;
	ssize_t res;
} weft_file_write;

void weft_file_write_init(weft_file_write *w, weft_file *f, const void *buf,
			  size_t len, uint64_t off);
weft_poll weft_file_write_poll(weft_file_write *w, weft_cx *cx);
void weft_file_write_drop(weft_file_write *w);

typedef struct weft_file_fsync {
	weft_file *file;
	unsigned flags;        /* 0, or IORING_FSYNC_DATASYNC (1) */
	struct weft__op *op;
	int res;
} weft_file_fsync;

void weft_file_fsync_init(weft_file_fsync *s, weft_file *f, unsigned flags);
weft_poll weft_file_fsync_poll(weft_file_fsync *s, weft_cx *cx);
void weft_file_fsync_drop(weft_file_fsync *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_IO_H */
