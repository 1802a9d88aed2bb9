/* test/reactor/file.c - files: open, write at offsets (more than one
 * chunk), fsync, read back, read past the end, open errors; a read
 * dropped in flight; debug checks: re-initialising a read in flight, and
 * dropping a file handle twice, abort; a read of a pipe ends with what
 * was ready. */
#include <stdio.h>

#include "helpers.h"

#define BIG (3 * 1024 * 1024 + 123)

struct file_rt {
	WEFT_ASYNC;
	const char *path;
	unsigned char *data, *back;
	size_t got;
	weft_file_open o;
	weft_file_write w;
	weft_file_fsync s;
	weft_file_read r;
};

static weft_poll file_rt_poll(struct file_rt *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_file_open, &f->o, f->path,
			O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_eq(f->o.res, 0, "open: %ld", (long)f->o.res);
	WEFT_AWAIT_INIT(weft_file_write, &f->w, f->o.file, f->data, BIG, 10);
	cr_assert_eq(f->w.res, BIG);
	WEFT_AWAIT_INIT(weft_file_write, &f->w, f->o.file, "head", 4, 0);
	cr_assert_eq(f->w.res, 4);
	WEFT_AWAIT_INIT(weft_file_fsync, &f->s, f->o.file, 0);
	cr_assert_eq(f->s.res, 0);
	WEFT_AWAIT_INIT(weft_file_fsync, &f->s, f->o.file, WEFT_FSYNC_DATASYNC);
	cr_assert_eq(f->s.res, 0);
	for (f->got = 0; f->got < BIG + 10;) {
		WEFT_AWAIT_INIT(weft_file_read, &f->r, f->o.file,
				f->back + f->got, BIG + 10 - f->got, f->got);
		cr_assert_gt(f->r.res, 0);
		f->got += (size_t)f->r.res;
	}
	cr_assert_arr_eq(f->back, "head", 4);
	cr_assert_arr_eq(f->back + 10, f->data, BIG);
	WEFT_AWAIT_INIT(weft_file_read, &f->r, f->o.file, f->back, 16,
			BIG + 10);
	cr_assert_eq(f->r.res, 0, "read at EOF");
	weft_file_drop(f->o.file);
	WEFT_AWAIT_INIT(weft_file_open, &f->o, "/nonexistent/dir/x", O_RDONLY, 0);
	cr_assert_eq(f->o.res, -ENOENT);
	WEFT_AWAIT_INIT(weft_file_open, &f->o, NULL, O_RDONLY, 0);
	cr_assert_eq(f->o.res, -EINVAL);
	WEFT_END();
}

WEFT_FUTURE(file_rt, struct file_rt, WEFT_NO_DROP);

Test(file, write_fsync_read_round_trip)
{
	weft_rt *rt = test_rt(2);
	char path[64];
	struct file_rt f = { 0 };

	snprintf(path, sizeof(path), "/tmp/weft-file-%d", getpid());
	f.path = path;
	f.data = malloc(BIG);
	f.back = calloc(1, BIG + 10);
	for (size_t i = 0; i < BIG; i++)
		f.data[i] = (unsigned char)(i * 7 + 3);
	cr_assert_eq(WEFT_BLOCK_ON(rt, file_rt, &f), 0);
	unlink(path);
	free(f.data);
	free(f.back);
	weft_rt_destroy(rt);
}

/* A read of an empty pipe never completes: it stays in flight until its
 * task is aborted (the record is freed on its final completion: LSan). */
struct stuck_read {
	WEFT_ASYNC;
	weft_file *file;
	weft_file_read r;
	char buf[16];
};

static weft_poll stuck_read_poll(struct stuck_read *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_file_read_init(&f->r, f->file, f->buf, sizeof(f->buf), 0);
	WEFT_AWAIT_ON(weft_file_read, &f->r);
	cr_assert_fail("read of an empty pipe completed: %ld", (long)f->r.res);
	WEFT_END();
}

static void stuck_read_drop(struct stuck_read *f)
{
	weft_file_read_drop(&f->r);
	weft_file_drop(f->file);
}

WEFT_FUTURE(stuck_read, struct stuck_read, stuck_read_drop);

Test(file, read_dropped_in_flight)
{
	weft_rt *rt = test_rt(2);
	int p[2];
	weft_join *j;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(WEFT_SPAWN(rt, stuck_read, &j,
				{ .file = weft_file_from_fd(p[0]) }), 0);
	usleep(10000);
	weft_join_abort(j);
	cr_assert_eq(test_join(rt, j), -ECANCELED);
	close(p[1]);
	weft_rt_destroy(rt);
}

TEST_MISUSE(file, init_of_a_read_in_flight_aborts)
{
	weft_rt *rt = test_rt(1);
	weft_file_read r = { 0 };
	char buf[8];
	int p[2];
	weft_file *file;

	cr_assert_eq(pipe(p), 0);
	file = weft_file_from_fd(p[0]);
	weft_file_read_init(&r, file, buf, sizeof(buf), 0);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_file_read, &r), WEFT_PENDING);
	weft_file_read_init(&r, file, buf, sizeof(buf), 0); /* aborts */
	cr_assert_fail("weft_file_read_init in flight did not abort");
}

TEST_MISUSE(file, second_drop_of_a_file_aborts)
{
	weft_rt *rt = test_rt(1);
	weft_file_read r = { 0 };
	char buf[8];
	int p[2];
	weft_file *file;

	cr_assert_eq(pipe(p), 0);
	file = weft_file_from_fd(p[0]);
	weft_file_read_init(&r, file, buf, sizeof(buf), 0);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_file_read, &r), WEFT_PENDING);
	/* the read in flight holds the descriptor: the object lives on */
	weft_file_drop(file);
	weft_file_drop(file); /* aborts */
	cr_assert_fail("a second weft_file_drop did not abort");
}

/* A read of a pipe (not a regular file) ends with what was ready, even
 * when it asked for more than one chunk: it does not wait for the rest
 * (the writer stays open, so waiting would hang; the timeout is only a
 * hang guard). */
struct pipe_read {
	WEFT_ASYNC;
	weft_file *file;
	weft_file_read r;
	char buf[2 * 1024 * 1024];
};

static weft_poll pipe_read_poll(struct pipe_read *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_file_read, &f->r, f->file, f->buf,
			sizeof(f->buf), 0);
	WEFT_RETURN(f->r.res);
	WEFT_END();
}

WEFT_FUTURE(pipe_read, struct pipe_read, WEFT_NO_DROP);

Test(file, read_of_a_pipe_returns_what_is_ready, .timeout = 60)
{
	weft_rt *rt = test_rt(2);
	struct pipe_read *f = calloc(1, sizeof(*f));
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "hello", 5), 5);
	f->file = weft_file_from_fd(p[0]);
	cr_assert_eq(WEFT_BLOCK_ON(rt, pipe_read, f), 0);
	cr_assert_eq(f->res, 5, "read: %ld", (long)f->res);
	cr_assert_arr_eq(f->buf, "hello", 5);
	weft_file_drop(f->file);
	close(p[1]);
	free(f);
	weft_rt_destroy(rt);
}
