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
	WEFT_ASYNC;              /* res: the size (so far), or -errno */
	const char *path;
	weft_file_open open;     /* open.file: the file, once open */
	weft_file_read read;
	char buf[16384];
};

static weft_poll size_of_file_poll(struct size_of_file *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_file_open, &f->open, f->path, O_RDONLY, 0);
	if (f->open.res < 0)
		WEFT_RETURN(f->open.res);
	do {
		WEFT_AWAIT_INIT(weft_file_read, &f->read, f->open.file, f->buf,
				sizeof(f->buf), (uint64_t)f->res);
		f->res += f->read.res > 0 ? f->read.res : 0;
	} while (f->read.res > 0);
	weft_file_drop(f->open.file);
	WEFT_RETURN(f->read.res < 0 ? f->read.res : f->res);
	WEFT_END();
}
/* Run to its end by join_all, never dropped half-way (a frame that can be
 * cancelled needs a drop function: weft_file_open_drop, _read_drop and
 * weft_file_drop of an open file). */
WEFT_FUTURE(size_of_file, struct size_of_file, WEFT_NO_DROP);

int main(int argc, char **argv)
{
	const char *paths[4] = { "/etc/passwd", argv[0], "/",
				 "/no/such/file" };
	struct size_of_file f[4] = { 0 };
	weft_branch br[4];
	weft_join_all all;
	weft_rt *rt;
	int bad;

	if (weft_rt_create(&rt, NULL))
		return 1;
	for (int i = 0; i < 4; i++) {
		f[i].path = argc == 5 ? argv[i + 1] : paths[i];
		br[i] = WEFT_BRANCH(size_of_file, &f[i]);
	}
	bad = WEFT_BLOCK_ON_INIT(rt, weft_join_all, &all, br, 4) != 0;
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
