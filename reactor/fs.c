/* reactor/fs.c - the file system (weft/fs.h): whole-file read and write,
 * statx, mkdir, unlink, rename and read_dir.
 *
 * read_file and write_file are state machines over the futures of io.h
 * (open, then reads or writes in bounded chunks), so they inherit their
 * buffer ownership: the kernel only ever sees operation records.
 *
 * statx, mkdir, unlink and rename are one "call" each: an IO record on the
 * ring when the probe found its opcode (r->fs_ops, fixed at start-up), its
 * paths (and, for statx, the struct statx the kernel fills) in the
 * record's own buffer; otherwise a job on the blocking pool that runs the
 * system call. read_dir is always a job (no getdents opcode).
 *
 * A job (struct weft__fs_job) is shared by the future and the pool and
 * counted: two references exist before weft_spawn_blocking hands it over,
 * one the future's (dropped when it takes the result or is dropped) and
 * one the pool's (its release function, run exactly once after fn or
 * instead of it). fn writes its results (statx, entries) into the job;
 * the future reads them only after its join completed, which the pool
 * publishes after fn returned. Whichever reference goes last frees the
 * job and any entries nobody took.
 *
 * Pairs: fs_job_put's acq_rel decrement with the other side's: the last
 * one frees after seeing every write the other side made to the job.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/fs.h"
#include "weft/rt.h"
#include "runtime/driver.h"
#include "reactor/reactor.h"

_Static_assert(WEFT_FS_REMOVEDIR == AT_REMOVEDIR,
	       "WEFT_FS_REMOVEDIR is passed to the kernel as it is");
_Static_assert(WEFT_FS_NOREPLACE == RENAME_NOREPLACE,
	       "WEFT_FS_NOREPLACE is passed to the kernel as it is");
_Static_assert(WEFT_FS_EXCHANGE == RENAME_EXCHANGE,
	       "WEFT_FS_EXCHANGE is passed to the kernel as it is");

#define CHECK_IDLE(busy, where, fix)                                        \
	WEFT_DEBUG_CHECK(!(busy), where,                                    \
			 "the operation is still in flight (its record "    \
			 "would leak); call " fix " first")

/* read_file's first buffer; it doubles up to max + 1 bytes. */
#define READ_FILE_FIRST (64u * 1024)

enum fs_kind { FS_STATX, FS_MKDIR, FS_UNLINK, FS_RENAME, FS_READ_DIR };

/* One call's arguments. */
struct fs_args {
	int kind;              /* enum fs_kind */
	const char *p1, *p2;   /* p2: FS_RENAME's target */
	int flags;
	unsigned mask;         /* FS_STATX */
	mode_t mode;           /* FS_MKDIR */
	uint64_t pos;          /* FS_READ_DIR */
	size_t max;            /* FS_READ_DIR */
};

struct weft__fs_job {
	atomic_uint refs;      /* the future's and the pool's */
	struct fs_args a;      /* p1, p2 point into paths */
	weft_join *join;       /* the future's handle on the pool task */
	/* results, written by fn on the pool thread, read by the future
	 * after its join completed */
	struct statx stx;      /* FS_STATX */
	weft_fs_dirent *ents;  /* FS_READ_DIR; freed with the job unless
	                        * the future took it */
	uint64_t next;         /* FS_READ_DIR */
	char paths[];
};

static void fs_job_put(void *arg)
{
	struct weft__fs_job *j = arg;

	/* acq_rel: the last holder frees after the other's last use (see
	 * the file comment) */
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
		free(j->ents);
		free(j);
	}
}

static int is_dot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* Takes up to max entries of fd (positioned) into ents: the count, or
 * -errno; *next follows the last entry taken. */
static intptr_t read_dir_fill(int fd, weft_fs_dirent *ents, size_t max,
			      uint64_t *next)
{
	char buf[16384] __attribute__((aligned(8)));
	size_t n = 0;

	while (n < max) {
		ssize_t got = getdents64(fd, buf, sizeof(buf));

		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		for (ssize_t o = 0; o < got && n < max;) {
			struct dirent64 *d = (struct dirent64 *)(buf + o);
			size_t len = strnlen(d->d_name, sizeof(ents->name) - 1);

			o += d->d_reclen;
			*next = (uint64_t)d->d_off;
			if (is_dot(d->d_name))
				continue;
			ents[n].ino = d->d_ino;
			ents[n].type = d->d_type;
			memcpy(ents[n].name, d->d_name, len);
			ents[n].name[len] = '\0';
			n++;
		}
	}
	return (intptr_t)n;
}

/* FS_READ_DIR on the pool thread: open, seek, read one batch. */
static intptr_t read_dir_run(struct weft__fs_job *j)
{
	weft_fs_dirent *ents, *shrunk;
	uint64_t next = j->a.pos;
	intptr_t ret;
	int fd = open(j->a.p1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ents = malloc(j->a.max * sizeof(*ents));
	if (!ents) {
		ret = -ENOMEM;
	} else if (j->a.pos && lseek(fd, (off_t)j->a.pos, SEEK_SET) < 0) {
		ret = -errno;
	} else {
		ret = read_dir_fill(fd, ents, j->a.max, &next);
	}
	close(fd);
	if (ret <= 0) {
		free(ents);
		return ret;
	}
	shrunk = realloc(ents, (size_t)ret * sizeof(*ents));
	j->ents = shrunk ? shrunk : ents;
	j->next = next;
	return ret;
}

/* The pool thread's side of a job: the system call itself. */
static intptr_t fs_job_run(void *arg)
{
	struct weft__fs_job *j = arg;
	const struct fs_args *a = &j->a;
	int ret = -EINVAL;

	switch (a->kind) {
	case FS_STATX:
		ret = statx(AT_FDCWD, a->p1, a->flags, a->mask, &j->stx);
		break;
	case FS_MKDIR:
		ret = mkdirat(AT_FDCWD, a->p1, a->mode);
		break;
	case FS_UNLINK:
		ret = unlinkat(AT_FDCWD, a->p1, a->flags);
		break;
	case FS_RENAME:
		ret = renameat2(AT_FDCWD, a->p1, AT_FDCWD, a->p2,
				(unsigned)a->flags);
		break;
	case FS_READ_DIR:
		return read_dir_run(j);
	}
	return ret < 0 ? -errno : 0;
}

/* Starts a call on the blocking pool. */
static int job_start(weft_cx *cx, const struct fs_args *a, size_t n1,
		     size_t n2, struct weft__fs_job **out)
{
	weft_rt *rt = cx && cx->rt ? (weft_rt *)cx->rt : weft_rt_current();
	struct weft__fs_job *j;
	int ret;

	if (!rt)
		return -ENODEV;
	j = malloc(sizeof(*j) + n1 + n2);
	if (!j)
		return -ENOMEM;
	memset(j, 0, sizeof(*j));
	atomic_init(&j->refs, 2);
	j->a = *a;
	memcpy(j->paths, a->p1, n1);
	j->a.p1 = j->paths;
	if (n2) {
		memcpy(j->paths + n1, a->p2, n2);
		j->a.p2 = j->paths + n1;
	}
	ret = weft_spawn_blocking(rt, fs_job_run, j, fs_job_put, &j->join);
	if (ret < 0) {
		free(j); /* nothing was taken: release did not run */
		return ret;
	}
	*out = j;
	return 0;
}

/* Starts a call on the ring: paths (and statx's buffer) in the record. */
static int ring_start(weft_cx *cx, struct weft__reactor *r,
		      const struct fs_args *a, size_t n1, size_t n2,
		      struct weft__op **out)
{
	size_t head = a->kind == FS_STATX ? sizeof(struct statx) : 0;
	struct weft__op *op = weft__op_alloc(r, WEFT__OP_IO, NULL,
					     head + n1 + n2);
	char *p1, *p2;

	if (!op)
		return -ENOMEM;
	op->waker = weft_waker_clone(&cx->waker);
	p1 = (char *)op->buf + head;
	p2 = p1 + n1;
	memcpy(p1, a->p1, n1);
	if (n2)
		memcpy(p2, a->p2, n2);
	switch (a->kind) {
	case FS_STATX:
		io_uring_prep_statx(&op->sqe, AT_FDCWD, p1, a->flags, a->mask,
				    (struct statx *)(void *)op->buf);
		break;
	case FS_MKDIR:
		io_uring_prep_mkdirat(&op->sqe, AT_FDCWD, p1, a->mode);
		break;
	case FS_UNLINK:
		io_uring_prep_unlinkat(&op->sqe, AT_FDCWD, p1, a->flags);
		break;
	default:
		io_uring_prep_renameat(&op->sqe, AT_FDCWD, p1, AT_FDCWD, p2,
				       (unsigned)a->flags);
		break;
	}
	weft__op_submit(op);
	*out = op;
	return 0;
}

static unsigned ring_feature(int kind)
{
	switch (kind) {
	case FS_STATX:
		return WEFT__FEAT_FS_STATX;
	case FS_MKDIR:
		return WEFT__FEAT_FS_MKDIRAT;
	case FS_UNLINK:
		return WEFT__FEAT_FS_UNLINKAT;
	case FS_RENAME:
		return WEFT__FEAT_FS_RENAMEAT;
	default:
		return 0;
	}
}

/* Starts a call: on the ring when it serves the kind, else on the pool
 * (opp is NULL for read_dir, which has no ring path). 0 or -errno. */
static int call_start(weft_cx *cx, const struct fs_args *a,
		      struct weft__op **opp, struct weft__fs_job **jobp)
{
	size_t n1 = a->p1 ? strlen(a->p1) + 1 : 0;
	size_t n2 = a->kind == FS_RENAME && a->p2 ? strlen(a->p2) + 1 : 0;
	struct weft__reactor *r;

	if (!n1 || (a->kind == FS_RENAME && !n2))
		return -EINVAL;
	r = opp ? weft__reactor_of(cx) : NULL;
	/* fs_ops: fixed before weft_rt_create returned (reactor.h) */
	if (r && (r->fs_ops & ring_feature(a->kind)))
		return ring_start(cx, r, a, n1, n2, opp);
	return job_start(cx, a, n1, n2, jobp);
}

/* Lets go of a job: aborts the pool task (no effect once it finished)
 * and drops the future's references. */
static void job_drop(struct weft__fs_job **jobp)
{
	struct weft__fs_job *j = *jobp;

	if (j) {
		weft_join_abort(j->join);
		weft_join_drop(j->join);
		fs_job_put(j);
		*jobp = NULL;
	}
}

static void op_drop(struct weft__op **opp)
{
	if (*opp) {
		weft__op_drop(*opp);
		*opp = NULL;
	}
}

/* Waits for a started call: READY with *res (and, for statx, *stx
 * filled on success). A job is left for the caller to take results from
 * and drop; a record is released here. */
static weft_poll call_poll(struct weft__op **opp, struct weft__fs_job *j,
			   weft_cx *cx, intptr_t *res, struct statx *stx)
{
	weft_join_wait w;
	int32_t r32;

	if (opp && *opp) {
		if (weft__op_poll(*opp, cx, &r32) == WEFT_PENDING)
			return WEFT_PENDING;
		if (stx && r32 == 0)
			memcpy(stx, (*opp)->buf, sizeof(*stx));
		*res = r32;
		op_drop(opp);
		return WEFT_READY;
	}
	/* a wait holds nothing between polls: a fresh one each time */
	weft_join_wait_init(&w, j->join);
	if (weft_join_wait_poll(&w, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	*res = w.res;
	if (stx && w.res == 0)
		*stx = j->stx;
	return WEFT_READY;
}

/* The poll of statx, mkdir, unlink and rename: start, then wait. */
static weft_poll path_call_poll(const struct fs_args *a, struct weft__op **opp,
				struct weft__fs_job **jobp, weft_cx *cx,
				intptr_t *res, struct statx *stx)
{
	int err;

	if (*res < 0)
		return WEFT_READY; /* refused at init */
	if (!*opp && !*jobp) {
		err = call_start(cx, a, opp, jobp);
		if (err) {
			*res = err;
			return WEFT_READY;
		}
	}
	if (call_poll(opp, *jobp, cx, res, stx) == WEFT_PENDING)
		return WEFT_PENDING;
	job_drop(jobp);
	return WEFT_READY;
}

unsigned weft__fs_test_ring_ops(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;

	return r ? r->fs_ops : 0;
}

/* ---------------------------------------------------------------- statx */

void weft_fs_statx_init(weft_fs_statx *st, const char *path, int flags,
			unsigned mask)
{
	CHECK_IDLE(st->op || st->job, "weft_fs_statx_init",
		   "weft_fs_statx_drop");
	st->path = path;
	st->flags = flags;
	st->mask = mask;
	memset(&st->stx, 0, sizeof(st->stx));
	st->op = NULL;
	st->job = NULL;
	st->res = 0;
}

weft_poll weft_fs_statx_poll(weft_fs_statx *st, weft_cx *cx)
{
	struct fs_args a = { .kind = FS_STATX, .p1 = st->path,
			     .flags = st->flags, .mask = st->mask };

	return path_call_poll(&a, &st->op, &st->job, cx, &st->res, &st->stx);
}

void weft_fs_statx_drop(weft_fs_statx *st)
{
	op_drop(&st->op);
	job_drop(&st->job);
}

WEFT_FUTURE_DEFINE(weft_fs_statx, weft_fs_statx_drop);

/* ---------------------------------------------------------------- mkdir */

void weft_fs_mkdir_init(weft_fs_mkdir *m, const char *path, mode_t mode)
{
	CHECK_IDLE(m->op || m->job, "weft_fs_mkdir_init", "weft_fs_mkdir_drop");
	m->path = path;
	m->mode = mode;
	m->op = NULL;
	m->job = NULL;
	m->res = 0;
}

weft_poll weft_fs_mkdir_poll(weft_fs_mkdir *m, weft_cx *cx)
{
	struct fs_args a = { .kind = FS_MKDIR, .p1 = m->path,
			     .mode = m->mode };

	return path_call_poll(&a, &m->op, &m->job, cx, &m->res, NULL);
}

void weft_fs_mkdir_drop(weft_fs_mkdir *m)
{
	op_drop(&m->op);
	job_drop(&m->job);
}

WEFT_FUTURE_DEFINE(weft_fs_mkdir, weft_fs_mkdir_drop);

/* --------------------------------------------------------------- unlink */

void weft_fs_unlink_init(weft_fs_unlink *u, const char *path, int flags)
{
	CHECK_IDLE(u->op || u->job, "weft_fs_unlink_init",
		   "weft_fs_unlink_drop");
	u->path = path;
	u->flags = flags;
	u->op = NULL;
	u->job = NULL;
	u->res = flags & ~WEFT_FS_REMOVEDIR ? -EINVAL : 0;
}

weft_poll weft_fs_unlink_poll(weft_fs_unlink *u, weft_cx *cx)
{
	struct fs_args a = { .kind = FS_UNLINK, .p1 = u->path,
			     .flags = u->flags };

	return path_call_poll(&a, &u->op, &u->job, cx, &u->res, NULL);
}

void weft_fs_unlink_drop(weft_fs_unlink *u)
{
	op_drop(&u->op);
	job_drop(&u->job);
}

WEFT_FUTURE_DEFINE(weft_fs_unlink, weft_fs_unlink_drop);

/* --------------------------------------------------------------- rename */

void weft_fs_rename_init(weft_fs_rename *rn, const char *from,
			 const char *to, unsigned flags)
{
	CHECK_IDLE(rn->op || rn->job, "weft_fs_rename_init",
		   "weft_fs_rename_drop");
	rn->from = from;
	rn->to = to;
	rn->flags = flags;
	rn->op = NULL;
	rn->job = NULL;
	rn->res = flags & ~(WEFT_FS_NOREPLACE | WEFT_FS_EXCHANGE) ? -EINVAL
								  : 0;
}

weft_poll weft_fs_rename_poll(weft_fs_rename *rn, weft_cx *cx)
{
	struct fs_args a = { .kind = FS_RENAME, .p1 = rn->from,
			     .p2 = rn->to, .flags = (int)rn->flags };

	return path_call_poll(&a, &rn->op, &rn->job, cx, &rn->res, NULL);
}

void weft_fs_rename_drop(weft_fs_rename *rn)
{
	op_drop(&rn->op);
	job_drop(&rn->job);
}

WEFT_FUTURE_DEFINE(weft_fs_rename, weft_fs_rename_drop);

/* ------------------------------------------------------------- read_dir */

void weft_fs_read_dir_init(weft_fs_read_dir *rd, const char *path,
			   uint64_t pos, size_t max)
{
	CHECK_IDLE(rd->job, "weft_fs_read_dir_init", "weft_fs_read_dir_drop");
	rd->path = path;
	rd->pos = pos;
	rd->max = max;
	rd->entries = NULL;
	rd->next = pos;
	rd->job = NULL;
	rd->res = max == 0 || max > WEFT_FS_READ_DIR_MAX ? -EINVAL : 0;
}

weft_poll weft_fs_read_dir_poll(weft_fs_read_dir *rd, weft_cx *cx)
{
	struct fs_args a = { .kind = FS_READ_DIR, .p1 = rd->path,
			     .pos = rd->pos, .max = rd->max };
	int err;

	if (rd->res < 0)
		return WEFT_READY; /* refused at init */
	if (!rd->job) {
		err = call_start(cx, &a, NULL, &rd->job);
		if (err) {
			rd->res = err;
			return WEFT_READY;
		}
	}
	if (call_poll(NULL, rd->job, cx, &rd->res, NULL) == WEFT_PENDING)
		return WEFT_PENDING;
	if (rd->res >= 0) {
		/* the job is ours alone now (the pool released it) */
		rd->entries = rd->job->ents;
		rd->job->ents = NULL;
		rd->next = rd->res > 0 ? rd->job->next : rd->pos;
	}
	job_drop(&rd->job);
	return WEFT_READY;
}

void weft_fs_read_dir_drop(weft_fs_read_dir *rd)
{
	job_drop(&rd->job);
}

WEFT_FUTURE_DEFINE(weft_fs_read_dir, weft_fs_read_dir_drop);

/* ------------------------------------------------------------ read_file */

enum { RF_START, RF_OPEN, RF_READ, RF_DONE };

void weft_fs_read_file_init(weft_fs_read_file *rf, const char *path,
			    size_t max)
{
	CHECK_IDLE(rf->open.op || rf->read.op, "weft_fs_read_file_init",
		   "weft_fs_read_file_drop");
	rf->path = path;
	rf->max = max;
	rf->data = NULL;
	rf->len = 0;
	rf->state = RF_START;
	rf->cap = 0;
	rf->open.op = NULL;
	rf->open.file = NULL;
	rf->read.op = NULL;
	rf->res = max > (size_t)INTPTR_MAX - 1 ? -EINVAL : 0;
}

/* Ends the read: releases the file (and, on an error, the buffer). */
static weft_poll read_file_end(weft_fs_read_file *rf, intptr_t res)
{
	weft_file_drop(rf->open.file);
	rf->open.file = NULL;
	if (res < 0) {
		free(rf->data);
		rf->data = NULL;
		rf->len = 0;
	}
	rf->state = RF_DONE;
	rf->res = res;
	return WEFT_READY;
}

/* Resizes the buffer to ncap bytes; false on ENOMEM (buffer unchanged). */
static bool read_file_resize(weft_fs_read_file *rf, size_t ncap)
{
	void *n = realloc(rf->data, ncap);

	if (!n)
		return false;
	rf->data = n;
	rf->cap = ncap;
	return true;
}

/* One read completed with res bytes (the state machine's RF_READ step):
 * READY when the read is over, else the next read is started. Only a read
 * that returns 0 is the end: a short one may be bytes before an error
 * (weft_file_read reports those first), so one more read follows it. */
static weft_poll read_file_step(weft_fs_read_file *rf, intptr_t res)
{
	if (res < 0)
		return read_file_end(rf, res);
	if (res == 0) {
		/* end of file: one byte more for the terminating 0 */
		if (rf->len == rf->cap && !read_file_resize(rf, rf->len + 1))
			return read_file_end(rf, -ENOMEM);
		((char *)rf->data)[rf->len] = '\0';
		return read_file_end(rf, (intptr_t)rf->len);
	}
	rf->len += (size_t)res;
	if (rf->len > rf->max)
		return read_file_end(rf, -EFBIG);
	if (rf->len == rf->cap) {
		size_t ncap = rf->cap <= (rf->max + 1) / 2 ? rf->cap * 2
							   : rf->max + 1;

		if (!read_file_resize(rf, ncap))
			return read_file_end(rf, -ENOMEM);
	}
	weft_file_read_init(&rf->read, rf->open.file,
			    (char *)rf->data + rf->len, rf->cap - rf->len,
			    rf->len);
	return WEFT_PENDING;
}

weft_poll weft_fs_read_file_poll(weft_fs_read_file *rf, weft_cx *cx)
{
	switch (rf->state) {
	case RF_START:
		if (rf->res < 0)
			return WEFT_READY; /* refused at init */
		weft_file_open_init(&rf->open, rf->path, O_RDONLY, 0);
		rf->state = RF_OPEN;
		/* fall through */
	case RF_OPEN:
		if (weft_file_open_poll(&rf->open, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (rf->open.res < 0)
			return read_file_end(rf, rf->open.res);
		rf->cap = rf->max + 1 < READ_FILE_FIRST ? rf->max + 1
							: READ_FILE_FIRST;
		rf->data = malloc(rf->cap);
		if (!rf->data)
			return read_file_end(rf, -ENOMEM);
		weft_file_read_init(&rf->read, rf->open.file, rf->data,
				    rf->cap, 0);
		rf->state = RF_READ;
		/* fall through */
	case RF_READ:
		do {
			if (weft_file_read_poll(&rf->read, cx) == WEFT_PENDING)
				return WEFT_PENDING;
		} while (read_file_step(rf, rf->read.res) == WEFT_PENDING);
		return WEFT_READY;
	default:
		return WEFT_READY;
	}
}

void weft_fs_read_file_drop(weft_fs_read_file *rf)
{
	weft_file_open_drop(&rf->open);
	weft_file_read_drop(&rf->read);
	if (rf->state != RF_DONE && rf->state != RF_START)
		read_file_end(rf, -ECANCELED);
}

WEFT_FUTURE_DEFINE(weft_fs_read_file, weft_fs_read_file_drop);

/* ----------------------------------------------------------- write_file */

enum { WF_START, WF_OPEN, WF_WRITE, WF_DONE };

#define WF_FLAGS (WEFT_FS_CREATE | WEFT_FS_TRUNCATE | WEFT_FS_EXCL)

void weft_fs_write_file_init(weft_fs_write_file *wf, const char *path,
			     const void *data, size_t len, unsigned flags,
			     mode_t mode)
{
	CHECK_IDLE(wf->open.op || wf->write.op, "weft_fs_write_file_init",
		   "weft_fs_write_file_drop");
	wf->path = path;
	wf->data = data;
	wf->len = len;
	wf->flags = flags;
	wf->mode = mode;
	wf->state = WF_START;
	wf->open.op = NULL;
	wf->open.file = NULL;
	wf->write.op = NULL;
	wf->res = (flags & ~WF_FLAGS) || len > (size_t)INTPTR_MAX ? -EINVAL
								  : 0;
}

static weft_poll write_file_end(weft_fs_write_file *wf, intptr_t res)
{
	weft_file_drop(wf->open.file);
	wf->open.file = NULL;
	wf->state = WF_DONE;
	wf->res = res;
	return WEFT_READY;
}

static int write_file_oflags(unsigned flags)
{
	return O_WRONLY | (flags & WEFT_FS_CREATE ? O_CREAT : 0) |
	       (flags & WEFT_FS_TRUNCATE ? O_TRUNC : 0) |
	       (flags & WEFT_FS_EXCL ? O_EXCL : 0);
}

weft_poll weft_fs_write_file_poll(weft_fs_write_file *wf, weft_cx *cx)
{
	switch (wf->state) {
	case WF_START:
		if (wf->res < 0)
			return WEFT_READY; /* refused at init */
		weft_file_open_init(&wf->open, wf->path,
				    write_file_oflags(wf->flags), wf->mode);
		wf->state = WF_OPEN;
		/* fall through */
	case WF_OPEN:
		if (weft_file_open_poll(&wf->open, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (wf->open.res < 0)
			return write_file_end(wf, wf->open.res);
		weft_file_write_init(&wf->write, wf->open.file, wf->data,
				     wf->len, 0);
		wf->state = WF_WRITE;
		/* fall through */
	case WF_WRITE:
		if (weft_file_write_poll(&wf->write, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		return write_file_end(wf, wf->write.res);
	default:
		return WEFT_READY;
	}
}

void weft_fs_write_file_drop(weft_fs_write_file *wf)
{
	weft_file_open_drop(&wf->open);
	weft_file_write_drop(&wf->write);
	if (wf->state != WF_DONE && wf->state != WF_START)
		write_file_end(wf, -ECANCELED);
}

WEFT_FUTURE_DEFINE(weft_fs_write_file, weft_fs_write_file_drop);
