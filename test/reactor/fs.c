/* test/reactor/fs.c - the file system futures (weft/fs.h), in a fresh
 * temporary directory: mkdir, write_file, read_file (and -EFBIG over its
 * maximum), statx size and type, rename (and NOREPLACE), read_dir listing
 * exactly the entries (in one batch and in batches of one), unlink and
 * rmdir, the errors (-ENOENT, -EEXIST, -ENOTEMPTY, -EINVAL); the same on
 * the blocking-pool fallback (the ring's opcodes forced off by the test
 * hook); an 8 MiB file written and read back byte for byte (read_file and
 * one weft_file_read); a listing of 300 entries in batches; every future
 * dropped after 1, 2, 3 ... steps (LSan: nothing leaks); re-initialising
 * a statx in flight aborts; without I/O the path calls take the pool and
 * read_file is -ENODEV; read_file of a /proc file (size unknown). */
#include <dirent.h>
#include <sys/stat.h>

#include "helpers.h"
#include "reactor/reactor.h"

#define BIG (8u * 1024 * 1024)

/* A fresh directory under /tmp; the tests remove what they made. */
static void test_tmpdir(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/weft-fs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static weft_rt *fs_rt(bool fallback)
{
	weft_rt *rt;
	unsigned ops;

	weft__reactor_test_disable(fallback ? WEFT__FEAT_FS_ALL : 0);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	ops = weft__fs_test_ring_ops(rt);
	if (fallback)
		cr_assert_eq(ops, 0, "ring ops %#x with the hook on", ops);
	else if (ops != WEFT__FEAT_FS_ALL)
		cr_log_info("kernel lacks some fs opcodes: %#x", ops);
	return rt;
}

/* The scenario, from one task. */
struct scenario {
	WEFT_ASYNC;
	char dir[64], sub[96], f1[96], f2[96], g[96], nosuch[96];
	const char *want[3];
	bool seen[3];
	int found;
	uint64_t pos;
	weft_fs_mkdir mk;
	weft_fs_write_file wf;
	weft_fs_read_file rf;
	weft_fs_statx st;
	weft_fs_rename rn;
	weft_fs_read_dir rd;
	weft_fs_unlink ul;
};

/* Marks the entries of a batch in f->seen; fails on any other name or a
 * name seen twice. */
static void mark_entries(struct scenario *f, const weft_fs_read_dir *rd)
{
	for (intptr_t i = 0; i < rd->res; i++) {
		int k = 0;

		while (k < 3 && strcmp(rd->entries[i].name, f->want[k]))
			k++;
		cr_assert_lt(k, 3, "unexpected entry %s", rd->entries[i].name);
		cr_assert(!f->seen[k], "entry %s seen twice", f->want[k]);
		cr_assert_eq(rd->entries[i].type,
			     k == 0 ? DT_DIR : DT_REG, "type of %s",
			     f->want[k]);
		f->seen[k] = true;
		f->found++;
	}
}

static weft_poll scenario_poll(struct scenario *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	/* mkdir, and again: -EEXIST; under a missing parent: -ENOENT */
	WEFT_AWAIT_INIT(weft_fs_mkdir, &f->mk, f->sub, 0700);
	cr_assert_eq(f->mk.res, 0, "mkdir: %ld", (long)f->mk.res);
	WEFT_AWAIT_INIT(weft_fs_mkdir, &f->mk, f->sub, 0700);
	cr_assert_eq(f->mk.res, -EEXIST);
	WEFT_AWAIT_INIT(weft_fs_mkdir, &f->mk, "/nonexistent/weft/x", 0700);
	cr_assert_eq(f->mk.res, -ENOENT);

	/* write_file: create, then EXCL refuses, without CREATE a missing
	 * file is -ENOENT, an unknown flag -EINVAL */
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->f1, "hello, world", 12,
			WEFT_FS_CREATE | WEFT_FS_TRUNCATE, 0600);
	cr_assert_eq(f->wf.res, 12, "write_file: %ld", (long)f->wf.res);
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->f1, "x", 1,
			WEFT_FS_CREATE | WEFT_FS_EXCL, 0600);
	cr_assert_eq(f->wf.res, -EEXIST);
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->nosuch, "x", 1, 0, 0);
	cr_assert_eq(f->wf.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->f1, "x", 1, 0x100, 0);
	cr_assert_eq(f->wf.res, -EINVAL);
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->g, "gg", 2,
			WEFT_FS_CREATE, 0600);
	cr_assert_eq(f->wf.res, 2);

	/* read_file: the bytes, NUL-terminated; max = length is enough,
	 * one less is -EFBIG; missing: -ENOENT */
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, f->f1, 1024);
	cr_assert_eq(f->rf.res, 12, "read_file: %ld", (long)f->rf.res);
	cr_assert_eq(f->rf.len, 12);
	cr_assert_str_eq((const char *)f->rf.data, "hello, world");
	free(f->rf.data);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, f->f1, 12);
	cr_assert_eq(f->rf.res, 12);
	free(f->rf.data);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, f->f1, 11);
	cr_assert_eq(f->rf.res, -EFBIG);
	cr_assert_null(f->rf.data);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, f->nosuch, 1024);
	cr_assert_eq(f->rf.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, NULL, 1024);
	cr_assert_eq(f->rf.res, -EINVAL);

	/* statx: size and type of a file and a directory; missing */
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, f->f1, 0, STATX_BASIC_STATS);
	cr_assert_eq(f->st.res, 0, "statx: %ld", (long)f->st.res);
	cr_assert_eq(f->st.stx.stx_size, 12);
	cr_assert(S_ISREG(f->st.stx.stx_mode));
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, f->sub, 0, STATX_BASIC_STATS);
	cr_assert_eq(f->st.res, 0);
	cr_assert(S_ISDIR(f->st.stx.stx_mode));
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, f->nosuch, 0, STATX_BASIC_STATS);
	cr_assert_eq(f->st.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, NULL, 0, STATX_BASIC_STATS);
	cr_assert_eq(f->st.res, -EINVAL);

	/* rename f1 -> f2; f1 is gone; NOREPLACE onto g: -EEXIST */
	WEFT_AWAIT_INIT(weft_fs_rename, &f->rn, f->f1, f->f2, 0);
	cr_assert_eq(f->rn.res, 0, "rename: %ld", (long)f->rn.res);
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, f->f1, 0, STATX_BASIC_STATS);
	cr_assert_eq(f->st.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, f->f2, 0, STATX_BASIC_STATS);
	cr_assert_eq(f->st.res, 0);
	cr_assert_eq(f->st.stx.stx_size, 12);
	WEFT_AWAIT_INIT(weft_fs_rename, &f->rn, f->g, f->f2, WEFT_FS_NOREPLACE);
	cr_assert_eq(f->rn.res, -EEXIST);
	WEFT_AWAIT_INIT(weft_fs_rename, &f->rn, f->nosuch, f->f1, 0);
	cr_assert_eq(f->rn.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_rename, &f->rn, f->g, f->f2, 0x80);
	cr_assert_eq(f->rn.res, -EINVAL);

	/* read_dir: exactly sub, f2, g in one batch ... */
	WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->dir, 0, 64);
	cr_assert_eq(f->rd.res, 3, "read_dir: %ld", (long)f->rd.res);
	mark_entries(f, &f->rd);
	free(f->rd.entries);
	WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->dir, f->rd.next, 64);
	cr_assert_eq(f->rd.res, 0, "read_dir after the end: %ld",
		     (long)f->rd.res);
	cr_assert_null(f->rd.entries);
	/* ... and in batches of one */
	memset(f->seen, 0, sizeof(f->seen));
	f->found = 0;
	for (f->pos = 0;; f->pos = f->rd.next) {
		WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->dir, f->pos, 1);
		cr_assert_geq(f->rd.res, 0);
		cr_assert_leq(f->rd.res, 1);
		if (f->rd.res == 0)
			break;
		mark_entries(f, &f->rd);
		free(f->rd.entries);
	}
	cr_assert_eq(f->found, 3);
	WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->nosuch, 0, 8);
	cr_assert_eq(f->rd.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->f2, 0, 8);
	cr_assert_eq(f->rd.res, -ENOTDIR);
	WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->dir, 0, 0);
	cr_assert_eq(f->rd.res, -EINVAL);

	/* unlink: a directory without the flag, a file with it, a missing
	 * one, a directory that is not empty; then empty it and remove it */
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->f1, "", 0,
			WEFT_FS_CREATE, 0600);
	cr_assert_eq(f->wf.res, 0);
	WEFT_AWAIT_INIT(weft_fs_rename, &f->rn, f->f1, f->sub, 0);
	cr_assert_eq(f->rn.res, -EISDIR);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->sub, 0);
	cr_assert(f->ul.res == -EISDIR || f->ul.res == -EPERM,
		  "unlink of a directory: %ld", (long)f->ul.res);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->f2, WEFT_FS_REMOVEDIR);
	cr_assert_eq(f->ul.res, -ENOTDIR);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->nosuch, 0);
	cr_assert_eq(f->ul.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->f2, 0x1);
	cr_assert_eq(f->ul.res, -EINVAL);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->dir, WEFT_FS_REMOVEDIR);
	cr_assert_eq(f->ul.res, -ENOTEMPTY);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->f1, 0);
	cr_assert_eq(f->ul.res, 0);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->f2, 0);
	cr_assert_eq(f->ul.res, 0);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->g, 0);
	cr_assert_eq(f->ul.res, 0);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->sub, WEFT_FS_REMOVEDIR);
	cr_assert_eq(f->ul.res, 0);
	WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->dir, 0, 8);
	cr_assert_eq(f->rd.res, 0, "left in the directory: %ld",
		     (long)f->rd.res);
	WEFT_AWAIT_INIT(weft_fs_unlink, &f->ul, f->dir, WEFT_FS_REMOVEDIR);
	cr_assert_eq(f->ul.res, 0);
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, f->dir, 0, STATX_TYPE);
	cr_assert_eq(f->st.res, -ENOENT);
	WEFT_END();
}

WEFT_FUTURE(scenario, struct scenario, WEFT_NO_DROP);

static void run_scenario(bool fallback)
{
	weft_rt *rt = fs_rt(fallback);
	struct scenario *f = calloc(1, sizeof(*f));

	test_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->sub, sizeof(f->sub), "%s/sub", f->dir);
	snprintf(f->f1, sizeof(f->f1), "%s/f1", f->dir);
	snprintf(f->f2, sizeof(f->f2), "%s/f2", f->dir);
	snprintf(f->g, sizeof(f->g), "%s/g", f->dir);
	snprintf(f->nosuch, sizeof(f->nosuch), "%s/nosuch", f->dir);
	f->want[0] = "sub";
	f->want[1] = "f2";
	f->want[2] = "g";
	cr_assert_eq(WEFT_BLOCK_ON(rt, scenario, f), 0);
	free(f);
	weft_rt_destroy(rt);
}

Test(fs, mkdir_write_read_statx_rename_list_unlink)
{
	run_scenario(false);
}

Test(fs, the_same_on_the_blocking_pool_fallback)
{
	run_scenario(true);
}

/* 8 MiB: write_file, read_file, and one weft_file_read of it all. */
struct big {
	WEFT_ASYNC;
	const char *path;
	unsigned char *data, *back;
	weft_fs_write_file wf;
	weft_fs_read_file rf;
	weft_file_open o;
	weft_file_read r;
};

static weft_poll big_poll(struct big *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_fs_write_file, &f->wf, f->path, f->data, BIG,
			WEFT_FS_CREATE | WEFT_FS_TRUNCATE, 0600);
	cr_assert_eq(f->wf.res, BIG, "write_file: %ld", (long)f->wf.res);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, f->path, BIG);
	cr_assert_eq(f->rf.res, BIG, "read_file: %ld", (long)f->rf.res);
	cr_assert(memcmp(f->rf.data, f->data, BIG) == 0, "bytes differ");
	free(f->rf.data);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, f->path, BIG - 1);
	cr_assert_eq(f->rf.res, -EFBIG);
	WEFT_AWAIT_INIT(weft_file_open, &f->o, f->path, O_RDONLY, 0);
	cr_assert_eq(f->o.res, 0);
	/* one read of more than the file: all of it, short at the end */
	WEFT_AWAIT_INIT(weft_file_read, &f->r, f->o.file, f->back, BIG + 100,
			0);
	cr_assert_eq(f->r.res, BIG, "weft_file_read: %ld", (long)f->r.res);
	cr_assert(memcmp(f->back, f->data, BIG) == 0, "bytes differ");
	WEFT_AWAIT_INIT(weft_file_read, &f->r, f->o.file, f->back, BIG, 5);
	cr_assert_eq(f->r.res, BIG - 5);
	cr_assert(memcmp(f->back, f->data + 5, BIG - 5) == 0, "bytes differ");
	weft_file_drop(f->o.file);
	WEFT_END();
}

WEFT_FUTURE(big, struct big, WEFT_NO_DROP);

Test(fs, eight_mib_written_and_read_back)
{
	weft_rt *rt = test_rt(2);
	char dir[64], path[96];
	struct big f = { 0 };

	test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big", dir);
	f.path = path;
	f.data = malloc(BIG);
	f.back = malloc(BIG + 100);
	for (size_t i = 0; i < BIG; i++)
		f.data[i] = (unsigned char)(i * 131 + (i >> 13));
	cr_assert_eq(WEFT_BLOCK_ON(rt, big, &f), 0);
	unlink(path);
	rmdir(dir);
	free(f.data);
	free(f.back);
	weft_rt_destroy(rt);
}

/* 300 entries listed in batches of 64: each exactly once. */
#define MANY 300

struct many {
	WEFT_ASYNC;
	const char *dir;
	bool seen[MANY];
	int found;
	uint64_t pos;
	weft_fs_read_dir rd;
};

static weft_poll many_poll(struct many *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->pos = 0;; f->pos = f->rd.next) {
		WEFT_AWAIT_INIT(weft_fs_read_dir, &f->rd, f->dir, f->pos, 64);
		cr_assert_geq(f->rd.res, 0, "read_dir: %ld", (long)f->rd.res);
		cr_assert_leq(f->rd.res, 64);
		if (f->rd.res == 0)
			break;
		for (intptr_t i = 0; i < f->rd.res; i++) {
			int k = atoi(f->rd.entries[i].name);

			cr_assert(k >= 0 && k < MANY && !f->seen[k],
				  "entry %s", f->rd.entries[i].name);
			f->seen[k] = true;
			f->found++;
		}
		free(f->rd.entries);
	}
	cr_assert_eq(f->found, MANY);
	WEFT_END();
}

WEFT_FUTURE(many, struct many, WEFT_NO_DROP);

Test(fs, read_dir_in_batches_sees_each_entry_once)
{
	weft_rt *rt = test_rt(2);
	char dir[64], path[96];
	struct many *f = calloc(1, sizeof(*f));

	test_tmpdir(dir, sizeof(dir));
	for (int i = 0; i < MANY; i++) {
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		cr_assert_eq(mkdir(path, 0700), 0);
	}
	f->dir = dir;
	cr_assert_eq(WEFT_BLOCK_ON(rt, many, f), 0);
	for (int i = 0; i < MANY; i++) {
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		rmdir(path);
	}
	rmdir(dir);
	free(f);
	weft_rt_destroy(rt);
}

/* Drives a future through k steps, then stops: a step is one poll and,
 * when that poll was PENDING, the wake-up it arranged (so step k leaves
 * the future at its k-th wait: the open done, a read or a pool call in
 * flight or complete and not yet taken ...). res = 1 when the future
 * completed. The test drops it afterwards. */
struct poll_k {
	WEFT_ASYNC;
	const weft_future_type *type;
	void *fut;
	int k, i;
	bool waiting;
};

static weft_poll poll_k_step(struct poll_k *f, weft_cx *cx, bool *done)
{
	if (f->waiting) {
		f->waiting = false; /* woken: the step is over */
		return WEFT_READY;
	}
	if (f->type->poll(f->fut, cx) == WEFT_READY) {
		*done = true;
		return WEFT_READY;
	}
	f->waiting = true;
	return WEFT_PENDING;
}

static weft_poll poll_k_poll(struct poll_k *f, weft_cx *cx)
{
	bool done = false;

	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->k; f->i++) {
		WEFT_AWAIT(poll_k_step(f, cx, &done));
		if (done)
			WEFT_RETURN(1);
	}
	WEFT_RETURN(0);
	WEFT_END();
}

WEFT_FUTURE(poll_k, struct poll_k, WEFT_NO_DROP);

/* Every future of fs.h, each dropped after k steps (k = 1 ... 12), on
 * the ring and on the pool: nothing may leak (LSan) or be written after
 * the drop (ASan). What completed is undone for the next round. */
static void drop_each(bool fallback)
{
	weft_rt *rt = fs_rt(fallback);
	char dir[64], sub[96], file[96], other[96];
	static unsigned char data[3 * 1024 * 1024];

	test_tmpdir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	for (int k = 1; k <= 12; k++) {
		union {
			weft_fs_read_file rf;
			weft_fs_write_file wf;
			weft_fs_statx st;
			weft_fs_mkdir mk;
			weft_fs_unlink ul;
			weft_fs_rename rn;
			weft_fs_read_dir rd;
		} u;
		struct poll_k p = { .fut = &u, .k = k };

#define DROP_AFTER_K(name, ...)                                             \
	do {                                                                \
		memset(&u, 0, sizeof(u));                                   \
		name##_init((name *)(void *)&u, __VA_ARGS__);               \
		p.type = &name##_future;                                    \
		p.weft_resume_ = NULL;                                      \
		p.waiting = false;                                          \
		cr_assert_eq(WEFT_BLOCK_ON(rt, poll_k, &p), 0);             \
		name##_drop((name *)(void *)&u);                            \
	} while (0)

		DROP_AFTER_K(weft_fs_write_file, file, data, sizeof(data),
			     WEFT_FS_CREATE | WEFT_FS_TRUNCATE, 0600);
		if (p.res)
			cr_assert_eq(u.wf.res, (intptr_t)sizeof(data));
		DROP_AFTER_K(weft_fs_read_file, file, sizeof(data));
		if (p.res && u.rf.res >= 0)
			free(u.rf.data);
		DROP_AFTER_K(weft_fs_statx, file, 0, STATX_BASIC_STATS);
		DROP_AFTER_K(weft_fs_mkdir, sub, 0700);
		DROP_AFTER_K(weft_fs_read_dir, dir, 0, 16);
		if (p.res && u.rd.res > 0)
			free(u.rd.entries);
		DROP_AFTER_K(weft_fs_rename, file, other, 0);
		DROP_AFTER_K(weft_fs_unlink, sub, WEFT_FS_REMOVEDIR);
		/* a dropped call may or may not have run: undo it */
		rename(other, file);
		rmdir(sub);
#undef DROP_AFTER_K
	}
	unlink(file);
	cr_assert_eq(rmdir(dir), 0, "left in %s", dir);
	weft_rt_destroy(rt);
}

Test(fs, every_future_dropped_mid_flight_on_the_ring)
{
	drop_each(false);
}

Test(fs, every_future_dropped_mid_flight_on_the_pool)
{
	drop_each(true);
}

TEST_MISUSE(fs, init_of_a_statx_in_flight_aborts)
{
	weft_rt *rt = test_rt(1);
	weft_fs_statx st = { 0 };
	weft_poll p = WEFT_READY;

	/* a statx of "/" can complete between the first poll's submission
	 * and its look (the test thread is no worker: its submission reaches
	 * the reactor at once), so try until one is still in flight */
	for (int i = 0; i < 1000 && p == WEFT_READY; i++) {
		weft_fs_statx_init(&st, "/", 0, STATX_BASIC_STATS);
		p = TEST_POLL_ONCE(rt, weft_fs_statx, &st);
	}
	cr_assert_eq(p, WEFT_PENDING);
	weft_fs_statx_init(&st, "/", 0, STATX_BASIC_STATS); /* aborts */
	cr_assert_fail("weft_fs_statx_init in flight did not abort");
}

/* Without I/O the path calls still run (on the blocking pool); the whole
 * file futures, which need the ring, report -ENODEV. */
struct no_io {
	WEFT_ASYNC;
	weft_fs_statx st;
	weft_fs_read_file rf;
};

static weft_poll no_io_poll(struct no_io *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_fs_statx, &f->st, "/", 0, STATX_TYPE);
	cr_assert_eq(f->st.res, 0, "statx: %ld", (long)f->st.res);
	cr_assert(S_ISDIR(f->st.stx.stx_mode));
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, "/proc/self/stat", 4096);
	cr_assert_eq(f->rf.res, -ENODEV);
	WEFT_END();
}

WEFT_FUTURE(no_io, struct no_io, WEFT_NO_DROP);

Test(fs, without_io_path_calls_take_the_pool)
{
	weft_rt_builder b;
	weft_rt *rt;
	struct no_io f = { 0 };

	weft_rt_builder_init(&b);
	b.workers = 1;
	b.no_pin = true;
	b.io.enable = false;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, no_io, &f), 0);
	weft_rt_destroy(rt);
}

/* read_file of a file whose size stat does not tell (/proc): read to the
 * end all the same. */
struct proc_file {
	WEFT_ASYNC;
	weft_fs_read_file rf;
};

static weft_poll proc_file_poll(struct proc_file *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_fs_read_file, &f->rf, "/proc/self/status", 1 << 20);
	cr_assert_gt(f->rf.res, 0, "read_file: %ld", (long)f->rf.res);
	cr_assert_not_null(strstr(f->rf.data, "Pid:"));
	cr_assert_eq(strlen(f->rf.data), (size_t)f->rf.res);
	free(f->rf.data);
	WEFT_END();
}

WEFT_FUTURE(proc_file, struct proc_file, WEFT_NO_DROP);

Test(fs, read_file_of_a_proc_file)
{
	weft_rt *rt = test_rt(1);
	struct proc_file f = { 0 };

	cr_assert_eq(WEFT_BLOCK_ON(rt, proc_file, &f), 0);
	weft_rt_destroy(rt);
}
