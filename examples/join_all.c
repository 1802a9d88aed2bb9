/* examples/join_all.c - join_all over four futures: the size of four
 * files, read at once through io_uring (the seed's size_of_page over four
 * URLs, one of them bad). Each future's result is in its own res: the
 * size, or a negative errno for the file that cannot be opened.
 *
 * Run: build/examples/join_all [FILE FILE FILE FILE]
 * It checks every result against stat(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <weft.h>

struct size_of_file {
	WEFT_ASYNC;              /* res: the size, or -errno */
	const char *path;
	uint64_t size;
	weft_file *file;
	weft_file_open open;
	weft_file_read read;
	char buf[16384];
};

static weft_poll size_of_file_poll(struct size_of_file *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_file_open, &f->open, f->path, O_RDONLY, 0);
	if (f->open.res < 0)
		WEFT_RETURN(f->open.res);
	f->file = f->open.file;
	do {
		WEFT_AWAIT_INIT(weft_file_read, &f->read, f->file, f->buf,
				sizeof(f->buf), f->size);
		f->size += f->read.res > 0 ? (uint64_t)f->read.res : 0;
	} while (f->read.res > 0);
	weft_file_drop(f->file);
	f->file = NULL;
	WEFT_RETURN(f->read.res < 0 ? f->read.res : (intptr_t)f->size);
	WEFT_END();
}

static void size_of_file_drop(struct size_of_file *f)  /* if cancelled */
{
	weft_file_open_drop(&f->open);
	weft_file_read_drop(&f->read);
	if (f->file)
		weft_file_drop(f->file);
}
WEFT_FUTURE(size_of_file, struct size_of_file, size_of_file_drop);

int main(int argc, char **argv)
{
	const char *paths[4] = { "/etc/passwd", argv[0], "/",
				 "/no/such/file" };
	struct size_of_file f[4] = { 0 };
	weft_branch br[4];
	weft_join_all all;
	weft_rt *rt;
	int bad = 0;

	if (weft_rt_create(&rt, NULL))
		return 1;
	for (int i = 0; i < 4; i++) {
		f[i].path = argc == 5 ? argv[i + 1] : paths[i];
		br[i] = WEFT_BRANCH(size_of_file, &f[i]);
	}
	weft_join_all_init(&all, br, 4);
	if (WEFT_BLOCK_ON(rt, weft_join_all, &all))
		bad = 1;
	weft_rt_destroy(rt);
	for (int i = 0; i < 4; i++) {
		struct stat st;
		intptr_t want = stat(f[i].path, &st) ? -errno
			      : S_ISDIR(st.st_mode) ? -EISDIR : st.st_size;

		if (f[i].res >= 0)
			printf("%s: Ok(%ld)\n", f[i].path, (long)f[i].res);
		else
			printf("%s: Err(%s)\n", f[i].path,
			       strerror((int)-f[i].res));
		bad |= f[i].res != want;
	}
	return bad;
}
