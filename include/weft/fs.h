/* weft/fs.h - the file system: a whole file read or written in one
 * future, statx, mkdir, unlink and rmdir, rename, and directory listing.
 *
 * Paths are relative to the working directory (or absolute), and every
 * future copies its paths at its first poll, into memory it owns until
 * the kernel is done with them: the caller's strings need to live only
 * until that poll. statx, mkdir, unlink and rename run as io_uring
 * operations (IORING_OP_STATX, MKDIRAT, UNLINKAT, RENAMEAT) where the
 * kernel has them, probed when the runtime starts, and as plain system
 * calls on the blocking pool (weft_spawn_blocking, weft/rt.h) where it
 * does not; read_dir always runs on the blocking pool (io_uring has no
 * getdents). The result is the same either way. Futures have the shape of
 * core.h (_init, _poll, _drop; the result in `res`: a length, a count, 0,
 * or a negative errno).
 *
 * Errors: every future here reports, besides the kernel's errno for its
 * system call (open(2), read(2), write(2), statx(2), mkdir(2), unlink(2),
 * rmdir(2), rename(2), getdents64(2): -ENOENT, -EEXIST, -ENOTEMPTY,
 * -EACCES, -ENOTDIR, ...), -EINVAL for a NULL path or a flag it does not
 * know, -ENODEV (no runtime polls it; read_file and write_file also need
 * its I/O enabled, the others then take the blocking pool), -ENOMEM (no
 * operation record, job or buffer), -ECANCELED (the runtime shut down
 * first) and the blocking pool's -EAGAIN (no pool thread could start) and
 * -ESHUTDOWN (the runtime is shutting down).
 *
 * Cancellation: every future may be dropped at any point (call its _drop
 * from the frame's drop function). What it owns is released: an io_uring
 * operation is cancelled and its record freed on its final completion; a
 * blocking-pool call that already started runs to its end on the pool
 * thread and its result is released there. A dropped mkdir, unlink,
 * rename or write_file may still have taken effect (check the file
 * system); nothing a dropped read_file or read_dir read is kept.
 *
 * Threads: each future is polled by the task that holds it (any worker);
 * the blocking pool's threads run the fallbacks and never touch the
 * future itself.
 */
#ifndef WEFT_FS_H
#define WEFT_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/stat.h>

#include "core.h"
#include "io.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct weft__op;
struct weft__fs_job;

/* ------------------------------------------------------------ read_file */

/* Reads the whole file at path into a new malloc'd buffer: res = its
 * length and `data` the bytes (the caller's: free() it), or a negative
 * errno and data NULL. At most max bytes (max up to INTPTR_MAX - 1):
 * a longer file gives -EFBIG, after reading no more than max + 1 bytes,
 * and the buffer never grows past max + 1 bytes. The buffer holds one
 * byte more than the length, a 0, so a text file is a C string. The file
 * is read to the end of file (a read that returns 0), in operations of at
 * most 1 MiB (weft_file_read), so files whose size is not known in
 * advance (/proc, pipes) work too.
 *
 * Cancellation: dropping it closes the file and frees the buffer. */
typedef struct weft_fs_read_file {
	const char *path;      /* copied at the first poll */
	size_t max;            /* the most bytes accepted */
	void *data;            /* after READY with res >= 0 (caller frees) */
	size_t len;            /* after READY with res >= 0: res */
	int state;             /* private */
	size_t cap;            /* private: bytes allocated at data */
	weft_file_open open;   /* private */
	weft_file_read read;   /* private */
	intptr_t res;
} weft_fs_read_file;
WEFT_FUTURE_EXTERN(weft_fs_read_file);

void weft_fs_read_file_init(weft_fs_read_file *rf, const char *path,
			    size_t max);
weft_poll weft_fs_read_file_poll(weft_fs_read_file *rf, weft_cx *cx);
void weft_fs_read_file_drop(weft_fs_read_file *rf);

/* ----------------------------------------------------------- write_file */

/* weft_fs_write_file flags: create the file when it does not exist
 * (O_CREAT, with the mode given), truncate it first (O_TRUNC), fail with
 * -EEXIST when it exists (O_EXCL, with WEFT_FS_CREATE). */
#define WEFT_FS_CREATE   0x1u
#define WEFT_FS_TRUNCATE 0x2u
#define WEFT_FS_EXCL     0x4u

/* Writes len bytes (up to INTPTR_MAX) to the file at path, from offset 0:
 * res = len, or a negative errno (-EINVAL for another flag than the three
 * above). Without WEFT_FS_CREATE the file must exist (-ENOENT); without
 * WEFT_FS_TRUNCATE bytes past len are left as they were. The bytes are
 * copied in chunks of at most 1 MiB as the write goes (weft_file_write),
 * so data must stay valid until READY or the drop.
 *
 * Cancellation: dropping it closes the file; the chunks already written
 * (and the one in flight) may be in the file. */
typedef struct weft_fs_write_file {
	const char *path;      /* copied at the first poll */
	const void *data;
	size_t len;
	unsigned flags;        /* WEFT_FS_CREATE | WEFT_FS_TRUNCATE | ... */
	mode_t mode;           /* permissions of a created file */
	int state;             /* private */
	weft_file_open open;   /* private */
	weft_file_write write; /* private */
	intptr_t res;
} weft_fs_write_file;
WEFT_FUTURE_EXTERN(weft_fs_write_file);

void weft_fs_write_file_init(weft_fs_write_file *wf, const char *path,
			     const void *data, size_t len, unsigned flags,
			     mode_t mode);
weft_poll weft_fs_write_file_poll(weft_fs_write_file *wf, weft_cx *cx);
void weft_fs_write_file_drop(weft_fs_write_file *wf);

/* ---------------------------------------------------------------- statx */

/* statx(2) of path: res = 0 and `stx` filled (the fields of mask that the
 * file system provides; stx.stx_mask says which), or a negative errno.
 * flags are statx's AT_* flags (AT_SYMLINK_NOFOLLOW: the link itself;
 * AT_STATX_SYNC_AS_STAT ...), mask its STATX_* fields (STATX_BASIC_STATS
 * for what stat(2) gives). The kernel writes into the operation's own
 * buffer, copied to stx at READY. */
typedef struct weft_fs_statx {
	const char *path;      /* copied at the first poll */
	int flags;             /* AT_* */
	unsigned mask;         /* STATX_* */
	struct statx stx;      /* after READY with res == 0 */
	struct weft__op *op;   /* private: the io_uring operation */
	struct weft__fs_job *job; /* private: the blocking-pool call */
	intptr_t res;
} weft_fs_statx;
WEFT_FUTURE_EXTERN(weft_fs_statx);

void weft_fs_statx_init(weft_fs_statx *st, const char *path, int flags,
			unsigned mask);
weft_poll weft_fs_statx_poll(weft_fs_statx *st, weft_cx *cx);
void weft_fs_statx_drop(weft_fs_statx *st);

/* ---------------------------------------------------------------- mkdir */

/* mkdir(2): creates the directory path with mode (less the umask):
 * res = 0 or a negative errno (-EEXIST when path exists, -ENOENT when its
 * parent does not). */
typedef struct weft_fs_mkdir {
	const char *path;      /* copied at the first poll */
	mode_t mode;
	struct weft__op *op;   /* private */
	struct weft__fs_job *job; /* private */
	intptr_t res;
} weft_fs_mkdir;
WEFT_FUTURE_EXTERN(weft_fs_mkdir);

void weft_fs_mkdir_init(weft_fs_mkdir *m, const char *path, mode_t mode);
weft_poll weft_fs_mkdir_poll(weft_fs_mkdir *m, weft_cx *cx);
void weft_fs_mkdir_drop(weft_fs_mkdir *m);

/* --------------------------------------------------------------- unlink */

/* weft_fs_unlink flag: remove a directory (rmdir(2); AT_REMOVEDIR). */
#define WEFT_FS_REMOVEDIR 0x200  /* AT_REMOVEDIR */

/* unlink(2) of a file, or with WEFT_FS_REMOVEDIR rmdir(2) of an empty
 * directory: res = 0 or a negative errno (-ENOENT; -EISDIR for a
 * directory without the flag, -ENOTDIR for a file with it, -ENOTEMPTY
 * for a directory that is not empty). */
typedef struct weft_fs_unlink {
	const char *path;      /* copied at the first poll */
	int flags;             /* 0 or WEFT_FS_REMOVEDIR */
	struct weft__op *op;   /* private */
	struct weft__fs_job *job; /* private */
	intptr_t res;
} weft_fs_unlink;
WEFT_FUTURE_EXTERN(weft_fs_unlink);

void weft_fs_unlink_init(weft_fs_unlink *u, const char *path, int flags);
weft_poll weft_fs_unlink_poll(weft_fs_unlink *u, weft_cx *cx);
void weft_fs_unlink_drop(weft_fs_unlink *u);

/* --------------------------------------------------------------- rename */

/* weft_fs_rename flags (renameat2(2)): fail with -EEXIST rather than
 * replace an existing target (RENAME_NOREPLACE); swap the two paths, both
 * of which must exist (RENAME_EXCHANGE). */
#define WEFT_FS_NOREPLACE 0x1u  /* RENAME_NOREPLACE */
#define WEFT_FS_EXCHANGE  0x2u  /* RENAME_EXCHANGE */

/* renameat2(2): moves from to to (replacing to, unless a flag says
 * otherwise): res = 0 or a negative errno (-ENOENT, -EEXIST with
 * WEFT_FS_NOREPLACE, -ENOTEMPTY when to is a directory that is not empty,
 * -EXDEV across file systems, -EINVAL for both flags at once). */
typedef struct weft_fs_rename {
	const char *from;      /* copied at the first poll */
	const char *to;        /* copied at the first poll */
	unsigned flags;        /* 0, WEFT_FS_NOREPLACE or WEFT_FS_EXCHANGE */
	struct weft__op *op;   /* private */
	struct weft__fs_job *job; /* private */
	intptr_t res;
} weft_fs_rename;
WEFT_FUTURE_EXTERN(weft_fs_rename);

void weft_fs_rename_init(weft_fs_rename *rn, const char *from,
			 const char *to, unsigned flags);
weft_poll weft_fs_rename_poll(weft_fs_rename *rn, weft_cx *cx);
void weft_fs_rename_drop(weft_fs_rename *rn);

/* ------------------------------------------------------------- read_dir */

/* The most entries one weft_fs_read_dir returns (its max). */
#define WEFT_FS_READ_DIR_MAX 4096u

/* One directory entry: its name (NUL-terminated, at most 255 bytes), its
 * inode number, its type (DT_REG, DT_DIR, DT_LNK, ... from <dirent.h>;
 * DT_UNKNOWN where the file system does not say: statx the entry then). */
typedef struct weft_fs_dirent {
	uint64_t ino;
	unsigned char type;
	char name[256];
} weft_fs_dirent;

/* Lists the directory at path in batches: one future returns the next
 * batch of at most max entries (1 ... WEFT_FS_READ_DIR_MAX, else -EINVAL)
 * from position pos (0: the start), "." and ".." left out: res = the
 * number of entries (0: the end of the directory), `entries` a malloc'd
 * array of them (the caller's: free() it; NULL when res is 0) and `next`
 * the position to pass to the next batch. Each batch opens the directory,
 * seeks to pos and reads (getdents64(2), on the blocking pool), so a
 * listing holds nothing open between batches and one batch holds at most
 * max entries (about 270 bytes each). Entries added or removed while a
 * listing goes on may or may not be seen, as with readdir(3) and
 * seekdir(3), whose positions these are.
 *
 *   for (f->pos = 0;; f->pos = f->rd.next) {
 *           WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->path, f->pos, 64);
 *           if (f->rd.res <= 0)
 *                   break;
 *           ... f->rd.entries[0 .. f->rd.res - 1] ...
 *           free(f->rd.entries);
 *   }
 *
 * Cancellation: dropping it releases the batch it was reading (nothing
 * was delivered, so nothing is lost: run the batch again from pos). */
typedef struct weft_fs_read_dir {
	const char *path;      /* copied at the first poll */
	uint64_t pos;          /* where the batch starts */
	size_t max;            /* the most entries in the batch */
	weft_fs_dirent *entries; /* after READY with res > 0 (caller frees) */
	uint64_t next;         /* after READY with res >= 0 */
	struct weft__fs_job *job; /* private */
	intptr_t res;
} weft_fs_read_dir;
WEFT_FUTURE_EXTERN(weft_fs_read_dir);

void weft_fs_read_dir_init(weft_fs_read_dir *rd, const char *path,
			   uint64_t pos, size_t max);
weft_poll weft_fs_read_dir_poll(weft_fs_read_dir *rd, weft_cx *cx);
void weft_fs_read_dir_drop(weft_fs_read_dir *rd);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_FS_H */
