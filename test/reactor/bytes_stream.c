/* test/reactor/bytes_stream.c - byte streams over kernel descriptors
 * (weft_bytes_from_stream, weft_bytes_from_fd) and the splice copies:
 * read / fill / consume / write over TCP, a read dropped mid-wait loses
 * nothing, peer reset, end of stream mid-read (each with the receive
 * queue and with the single-shot fallback); pipes both ways with end of
 * file; 64 MiB copied between two TCP connections by splice, checked, and
 * the same through the forced read/write loop; sendfile from a file, both
 * ways. */
#include <pthread.h>
#include <sys/socket.h>

#include "helpers.h"
#include "../io/bytes_tasks.h"
#include "reactor/bytes_stream.h"

struct pair {
	weft_stream *c, *s;
};

static weft_stream *connect_to(weft_rt *rt, struct sockaddr_storage *a,
			       socklen_t len)
{
	weft_tcp_connect c = { 0 };

	weft_tcp_connect_init(&c, (struct sockaddr *)a, len, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect, &c), 0);
	cr_assert_eq(c.res, 0, "connect: %ld", (long)c.res);
	return c.stream;
}

static struct pair tcp_pair(weft_rt *rt)
{
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l = test_listen(AF_INET, &a, &len);
	weft_listener_accept acc = { 0 };
	struct pair p;

	p.c = connect_to(rt, &a, len);
	weft_listener_accept_init(&acc, l);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_listener_accept, &acc), 0);
	cr_assert_eq(acc.res, 0);
	p.s = acc.stream;
	weft_listener_drop(l);
	return p;
}

static weft_bytes *bytes_of(weft_stream *s)
{
	weft_bytes *b = NULL;

	cr_assert_eq(weft_bytes_from_stream(&b, s), 0);
	return b;
}

struct fill_once {
	WEFT_ASYNC;
	weft_bytes *b;
	const void *data;
};

static weft_poll fill_once_poll(struct fill_once *f, weft_cx *cx)
{
	return f->b->vt->poll_fill(f->b, cx, &f->data, &f->res);
}

WEFT_FUTURE(fill_once, struct fill_once, WEFT_NO_DROP);

static intptr_t read_once(weft_rt *rt, weft_bytes *b, void *buf, size_t n)
{
	weft_bytes_read r = { 0 };

	weft_bytes_read_init(&r, b, buf, n);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_bytes_read, &r), 0);
	return r.res;
}

static void send_raw(weft_stream *s, const char *p)
{
	cr_assert_eq(send(weft_stream_fd(s), p, strlen(p), 0),
		     (ssize_t)strlen(p));
}

/* ------------------------------------------------------------- TCP */

static void read_fill_consume_write(bool fallback)
{
	weft_rt *rt;
	struct pair p;
	weft_bytes *b;
	char buf[64];
	struct fill_once f = { 0 };
	weft_bytes_write w = { 0 };

	weft__bytes_test_no_recvq = fallback;
	rt = test_rt(1);
	p = tcp_pair(rt);
	b = bytes_of(p.s);
	cr_assert_str_eq(b->vt->name, "tcp");
	cr_assert_eq(weft_bytes_fd(b), weft_stream_fd(p.s));
	send_raw(p.c, "hello world");
	cr_assert_eq(read_once(rt, b, buf, 5), 5);
	cr_assert_arr_eq(buf, "hello", 5);
	f.b = b;
	cr_assert_eq(WEFT_BLOCK_ON(rt, fill_once, &f), 0);
	cr_assert_eq(f.res, 6, "fill lends the rest");
	cr_assert_arr_eq(f.data, " world", 6);
	b->vt->consume(b, 3);
	cr_assert_eq(read_once(rt, b, buf, sizeof(buf)), 3);
	cr_assert_arr_eq(buf, "rld", 3, "consume took 3, the rest stayed");
	weft_bytes_write_all_init(&w, b, "pong", 4);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_bytes_write, &w), 0);
	cr_assert_eq(w.res, 4);
	cr_assert_eq(recv(weft_stream_fd(p.c), buf, sizeof(buf), 0), 4);
	cr_assert_arr_eq(buf, "pong", 4);
	weft_bytes_drop(b);
	weft_stream_drop(p.c);
	weft_rt_destroy(rt);
}

Test(bytes_stream, tcp_read_fill_consume_write) { read_fill_consume_write(false); }
Test(bytes_stream, tcp_read_fill_consume_write_fallback)
{
	read_fill_consume_write(true);
}

static void dropped_read_loses_nothing(bool fallback)
{
	weft_rt *rt;
	struct pair p;
	weft_bytes *b;
	char buf[64];
	weft_bytes_read r = { 0 };

	weft__bytes_test_no_recvq = fallback;
	rt = test_rt(1);
	p = tcp_pair(rt);
	b = bytes_of(p.s);
	weft_bytes_read_init(&r, b, buf, sizeof(buf));
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_bytes_read, &r), WEFT_PENDING);
	weft_bytes_read_drop(&r);    /* the caller goes away mid-wait */
	send_raw(p.c, "abc");
	usleep(20000); /* not needed to pass: lets the data land first */
	send_raw(p.c, "def");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read_once(rt, b, buf, 3), 3);
	cr_assert_arr_eq(buf, "abc", 3, "what arrived after the drop");
	cr_assert_eq(read_once(rt, b, buf, sizeof(buf)), 3);
	cr_assert_arr_eq(buf, "def", 3);
	weft_bytes_drop(b);
	weft_stream_drop(p.c);
	weft_rt_destroy(rt);
}

Test(bytes_stream, dropped_read_loses_nothing) { dropped_read_loses_nothing(false); }
Test(bytes_stream, dropped_read_loses_nothing_fallback)
{
	dropped_read_loses_nothing(true);
}

static void peer_reset(bool fallback)
{
	weft_rt *rt;
	struct pair p;
	weft_bytes *b;
	char buf[64];
	struct linger lg = { 1, 0 };

	weft__bytes_test_no_recvq = fallback;
	rt = test_rt(1);
	p = tcp_pair(rt);
	b = bytes_of(p.s);
	cr_assert_eq(setsockopt(weft_stream_fd(p.c), SOL_SOCKET, SO_LINGER,
				&lg, sizeof(lg)), 0);
	weft_stream_drop(p.c);          /* RST */
	cr_assert_eq(read_once(rt, b, buf, sizeof(buf)), -ECONNRESET);
	weft_bytes_drop(b);
	weft_rt_destroy(rt);
}

Test(bytes_stream, peer_reset) { peer_reset(false); }
Test(bytes_stream, peer_reset_fallback) { peer_reset(true); }

static void eof_mid_stream(bool fallback)
{
	weft_rt *rt;
	struct pair p;
	weft_bytes *b;
	char buf[64];
	weft_bytes_read r = { 0 };

	weft__bytes_test_no_recvq = fallback;
	rt = test_rt(1);
	p = tcp_pair(rt);
	b = bytes_of(p.s);
	send_raw(p.c, "0123456789");
	cr_assert_eq(weft_stream_shutdown(p.c, SHUT_WR), 0);
	weft_bytes_read_exact_init(&r, b, buf, 20);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_bytes_read, &r), 0);
	cr_assert_eq(r.res, -EPIPE, "the stream ended 10 bytes in");
	cr_assert_eq(r.done, 10);
	cr_assert_arr_eq(buf, "0123456789", 10);
	cr_assert_eq(read_once(rt, b, buf, sizeof(buf)), 0, "and stays ended");
	weft_bytes_drop(b);
	weft_stream_drop(p.c);
	weft_rt_destroy(rt);
}

Test(bytes_stream, eof_mid_stream) { eof_mid_stream(false); }
Test(bytes_stream, eof_mid_stream_fallback) { eof_mid_stream(true); }

/* ----------------------------------------------------------- pipes */

#define PIPE_TOTAL (1u << 20)

static void *pipe_feed(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[8192];

	for (size_t off = 0; off < PIPE_TOTAL; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = bt_pattern(9, off + i);
		for (size_t d = 0; d < sizeof(buf);) {
			ssize_t n = write(fd, buf + d, sizeof(buf) - d);

			if (n <= 0)
				return (void *)1;
			d += (size_t)n;
		}
	}
	close(fd);
	return NULL;
}

static void *pipe_drain(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[7000];
	size_t got = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != bt_pattern(9, got + (size_t)i))
				return (void *)-1;
		got += (size_t)n;
	}
	close(fd);
	return (void *)(intptr_t)got;
}

Test(bytes_stream, from_a_pipe_until_eof)
{
	weft_rt *rt = test_rt(1);
	int p[2];
	weft_bytes *b;
	pthread_t th;
	void *ret;
	struct bt_reader *r = calloc(1, sizeof(*r));

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(weft_bytes_from_fd(&b, p[0], 0), 0);
	cr_assert_str_eq(b->vt->name, "pipe");
	cr_assert_eq(weft_bytes_fd(b), p[0]);
	cr_assert_eq(pthread_create(&th, NULL, pipe_feed,
				    (void *)(intptr_t)p[1]), 0);
	r->b = b;
	r->seed = 9;
	r->max = 3000;
	cr_assert_eq(WEFT_BLOCK_ON(rt, bt_reader, r), 0);
	cr_assert_eq(r->res, PIPE_TOTAL, "every byte, then EOF on close");
	pthread_join(th, &ret);
	cr_assert_null(ret);
	weft_bytes_drop(b);
	cr_assert_eq(fcntl(p[0], F_GETFD), -1, "release closed the pipe");
	free(r);
	weft_rt_destroy(rt);
}

Test(bytes_stream, to_a_pipe_shutdown_is_eof)
{
	weft_rt *rt = test_rt(1);
	int p[2];
	weft_bytes *b;
	pthread_t th;
	void *ret;
	struct bt_writer *w = calloc(1, sizeof(*w));

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(weft_bytes_from_fd(&b, p[1], 0), 0);
	cr_assert_eq(pthread_create(&th, NULL, pipe_drain,
				    (void *)(intptr_t)p[0]), 0);
	w->b = b;
	w->seed = 9;
	w->len = PIPE_TOTAL;
	w->shut = true;
	cr_assert_eq(WEFT_BLOCK_ON(rt, bt_writer, w), 0);
	cr_assert_eq(w->res, PIPE_TOTAL);
	pthread_join(th, &ret);
	cr_assert_eq((intptr_t)ret, PIPE_TOTAL,
		     "the reader got every byte, then EOF at shutdown");
	weft_bytes_drop(b);
	free(w);
	weft_rt_destroy(rt);
}

Test(bytes_stream, keep_flag_and_argument_errors)
{
	int p[2], fd;
	weft_bytes *b;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(weft_bytes_from_fd(&b, p[1], WEFT_BYTES_FD_KEEP), 0);
	cr_assert_neq(weft_bytes_fd(b), p[1], "a duplicate");
	fd = weft_bytes_fd(b);
	weft_bytes_drop(b);
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the duplicate is closed");
	cr_assert_geq(fcntl(p[1], F_GETFD), 0, "the caller's fd stays open");
	cr_assert_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0,
		     "status flags untouched");
	/* stdio: duplicates, the descriptors themselves stay open */
	if (weft_bytes_stdin(&b) == 0) {
		cr_assert_neq(weft_bytes_fd(b), 0);
		weft_bytes_drop(b);
		cr_assert_geq(fcntl(0, F_GETFD), 0, "stdin stays open");
	}
	if (weft_bytes_stdout(&b) == 0) {
		cr_assert_neq(weft_bytes_fd(b), 1);
		weft_bytes_drop(b);
		cr_assert_geq(fcntl(1, F_GETFD), 0, "stdout stays open");
	}
	if (weft_bytes_stderr(&b) == 0) {
		cr_assert_neq(weft_bytes_fd(b), 2);
		weft_bytes_drop(b);
		cr_assert_geq(fcntl(2, F_GETFD), 0, "stderr stays open");
	}
	cr_assert_eq(weft_bytes_from_fd(&b, -1, 0), -EINVAL);
	cr_assert_eq(weft_bytes_from_fd(&b, p[0], 0x80), -EINVAL);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(weft_bytes_from_fd(&b, fd, 0), -ESPIPE);
	close(fd);
	close(p[0]);
	close(p[1]);
	cr_assert_eq(weft_bytes_from_stream(NULL, NULL), -EINVAL);
}

/* Every write through the stream's send record (the direct send turned
 * off): 4 MiB arrive intact, in order, then EOF at shutdown. */
Test(bytes_stream, tcp_writes_through_the_ring)
{
	weft_rt *rt;
	struct pair p;
	weft_bytes *w, *r;
	weft_join *jw, *jr;

	weft__bytes_test_no_direct = true;
	rt = test_rt(2);
	p = tcp_pair(rt);
	w = bytes_of(p.c);
	r = bytes_of(p.s);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr, { .b = r, .seed = 6 }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_writer, &jw,
				{ .b = w, .seed = 6, .len = 4u << 20,
				  .shut = true }), 0);
	cr_assert_eq(test_join(rt, jw), 4 << 20);
	cr_assert_eq(test_join(rt, jr), 4 << 20);
	weft_bytes_drop(w);
	weft_bytes_drop(r);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------ splice copy, 64 MiB */

static void copy_between_tcp(uint64_t total, bool splice)
{
	weft_rt *rt;
	struct pair p1, p2;
	weft_bytes *src_w, *src_r, *dst_w, *dst_r;
	weft_join *jw, *jc, *jr;
	unsigned long before;

	weft__copy_test_no_splice = !splice;
	rt = test_rt(2);
	p1 = tcp_pair(rt);
	p2 = tcp_pair(rt);
	src_w = bytes_of(p1.c);
	src_r = bytes_of(p1.s);
	dst_w = bytes_of(p2.c);
	dst_r = bytes_of(p2.s);
	before = atomic_load(&weft__copy_test_spliced);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr,
				{ .b = dst_r, .seed = 5, .fill = true }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_copy, &jc,
				{ .from = src_r, .to = dst_w }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_writer, &jw,
				{ .b = src_w, .seed = 5, .len = total,
				  .shut = true }), 0);
	cr_assert_eq(test_join(rt, jw), (intptr_t)total);
	cr_assert_eq(test_join(rt, jc), (intptr_t)total);
	cr_assert_eq(test_join(rt, jr), (intptr_t)total,
		     "every byte arrived, in order");
	if (splice)
		cr_assert_eq(atomic_load(&weft__copy_test_spliced) - before,
			     total, "all of it went by splice");
	else
		cr_assert_eq(atomic_load(&weft__copy_test_spliced), before,
			     "none of it went by splice");
	weft_bytes_drop(src_w);
	weft_bytes_drop(src_r);
	weft_bytes_drop(dst_w);
	weft_bytes_drop(dst_r);
	weft_rt_destroy(rt);
}

Test(bytes_stream, splice_copy_64mib_between_tcp_connections)
{
	copy_between_tcp(64u << 20, true);
}

Test(bytes_stream, copy_read_write_loop_forced)
{
	copy_between_tcp(8u << 20, false);
}

/* --------------------------------------------------------- sendfile */

struct sendfile_task {
	WEFT_ASYNC;
	int fd;
	uint64_t off, len;
	weft_bytes *to;
	weft_bytes_sendfile s;
	weft_bytes_flush f;
};

static weft_poll sendfile_task_poll(struct sendfile_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_bytes_sendfile_init(&f->s, f->fd, f->off, f->len, f->to);
	WEFT_AWAIT_ON(weft_bytes_sendfile, &f->s);
	weft_bytes_shutdown_init(&f->f, f->to);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->f);
	WEFT_RETURN(f->s.res);
	WEFT_END();
}

static void sendfile_task_drop(struct sendfile_task *f)
{
	weft_bytes_sendfile_drop(&f->s);
}

WEFT_FUTURE(sendfile_task, struct sendfile_task, sendfile_task_drop);

static void sendfile_case(bool splice)
{
	weft_rt *rt;
	struct pair p;
	weft_bytes *to, *from;
	weft_join *js, *jr;
	char path[] = "/tmp/weft-sendfile-XXXXXX";
	int fd = mkstemp(path);
	unsigned char *data = malloc(3u << 20);
	unsigned long before = atomic_load(&weft__copy_test_spliced);

	weft__copy_test_no_splice = !splice;
	cr_assert_geq(fd, 0);
	unlink(path);
	/* pattern seed 4 starting at offset 1000 of the file */
	for (size_t i = 0; i < (3u << 20); i++)
		data[i] = i >= 1000 ? bt_pattern(4, i - 1000) : 0;
	cr_assert_eq(write(fd, data, 3u << 20), 3 << 20);
	rt = test_rt(2);
	p = tcp_pair(rt);
	to = bytes_of(p.s);
	from = bytes_of(p.c);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr, { .b = from, .seed = 4 }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, sendfile_task, &js,
				{ .fd = fd, .off = 1000, .len = 2u << 20,
				  .to = to }), 0);
	cr_assert_eq(test_join(rt, js), 2 << 20);
	cr_assert_eq(test_join(rt, jr), 2 << 20);
	if (splice)
		cr_assert_eq(atomic_load(&weft__copy_test_spliced) - before,
			     2u << 20);
	weft_bytes_drop(to);
	weft_bytes_drop(from);
	weft_rt_destroy(rt);
	close(fd);
	free(data);
}

Test(bytes_stream, sendfile_by_splice) { sendfile_case(true); }
Test(bytes_stream, sendfile_by_reads) { sendfile_case(false); }

/* ----------------------------------------------------- weft_splice */

Test(bytes_stream, splice_future_on_raw_descriptors)
{
	weft_rt *rt = test_rt(1);
	int a[2], b[2];
	char buf[16] = { 0 };
	weft_splice sp = { 0 };

	cr_assert_eq(pipe2(a, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(b, O_CLOEXEC), 0);
	cr_assert_eq(write(a[1], "hello", 5), 5);
	weft_splice_init(&sp, a[0], -1, b[1], -1, 64);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_splice, &sp), 0);
	cr_assert_eq(sp.res, 5, "moved what the pipe held");
	cr_assert_eq(read(b[0], buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	close(a[1]);
	weft_splice_init(&sp, a[0], -1, b[1], -1, 64);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_splice, &sp), 0);
	cr_assert_eq(sp.res, 0, "end of input");
	weft_splice_init(&sp, -1, -1, b[1], -1, 64);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_splice, &sp), 0);
	cr_assert_eq(sp.res, -EBADF);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	weft_rt_destroy(rt);
}
