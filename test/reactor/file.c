/* test/reactor/file.c - files: open, write at offsets (more than one
 * chunk), fsync, read back, read past the end, open errors. */
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
	WEFT_BEGIN(f);
	weft_file_open_init(&f->o, f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	WEFT_AWAIT(f, weft_file_open_poll(&f->o, cx));
	cr_assert_eq(f->o.err, 0, "open: %d", f->o.err);
	weft_file_write_init(&f->w, f->o.file, f->data, BIG, 10);
	WEFT_AWAIT(f, weft_file_write_poll(&f->w, cx));
	cr_assert_eq(f->w.res, BIG);
	weft_file_write_init(&f->w, f->o.file, "head", 4, 0);
	WEFT_AWAIT(f, weft_file_write_poll(&f->w, cx));
	cr_assert_eq(f->w.res, 4);
	weft_file_fsync_init(&f->s, f->o.file, 0);
	WEFT_AWAIT(f, weft_file_fsync_poll(&f->s, cx));
	cr_assert_eq(f->s.res, 0);
	for (f->got = 0; f->got < BIG + 10;) {
		weft_file_read_init(&f->r, f->o.file, f->back + f->got,
				    BIG + 10 - f->got, f->got);
		WEFT_AWAIT(f, weft_file_read_poll(&f->r, cx));
		cr_assert_gt(f->r.res, 0);
		f->got += (size_t)f->r.res;
	}
	cr_assert_arr_eq(f->back, "head", 4);
	cr_assert_arr_eq(f->back + 10, f->data, BIG);
	weft_file_read_init(&f->r, f->o.file, f->back, 16, BIG + 10);
	WEFT_AWAIT(f, weft_file_read_poll(&f->r, cx));
	cr_assert_eq(f->r.res, 0, "read at EOF");
	weft_file_close(f->o.file);
	weft_file_open_init(&f->o, "/nonexistent/dir/x", O_RDONLY, 0);
	WEFT_AWAIT(f, weft_file_open_poll(&f->o, cx));
	cr_assert_eq(f->o.err, -ENOENT);
	WEFT_END(f);
}

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
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, file_rt_poll, &f), 0);
	unlink(path);
	free(f.data);
	free(f.back);
	weft_rt_destroy(rt);
}
