/* bench/bufio_wl.c - weft-bench-bufio: the buffered reader and codecs of
 * weft/bufio.h and weft/codec.h against hand-written loops, on the same
 * loopback TCP stream (weft-only; issue 12).
 *
 * Workloads (one JSON row per metric, as weft-bench's):
 *   bufio_lines   N MiB of 64-byte lines ("...\n") from a sender task;
 *                 reader "codec_try": weft_codec_lines_try_next until
 *                 -EAGAIN, then one weft_codec_lines_next (the loop
 *                 codec.h shows); reader "codec_future":
 *                 weft_codec_lines_next alone, one future per line;
 *                 reader "memchr": weft_stream_recv into 64 KiB and a
 *                 memchr loop counting lines (no line handed out)
 *   bufio_frames  N MiB of 64-byte frames (4-byte big-endian length +
 *                 60 bytes); readers "codec_try" and "codec_future" as
 *                 for lines (weft_codec_frames_try_next,
 *                 weft_codec_frames_next); reader "manual":
 *                 weft_stream_recv and a header parser
 * Metrics: mb_per_s (MiB/s), items_per_s, cpu_us_per_mb (the whole
 * process's CPU time, user and system, per MiB: reader, sender, reactor
 * and the kernel's copies together) and reader_cpu_us_per_mb (the reading
 * thread's alone: the main thread, whose block_on polls the reader; its
 * spin before parking included). The CPU figures hold up on a loaded
 * host, where the wall-clock ones swing. Each run checks the item count.
 * The three readers of a workload alternate, rep by rep, and the median
 * of each is printed; then, per reader of the library, the ratio of its
 * median to the hand loop's (metric "<metric>_ratio": throughput ratios
 * above 1 and CPU ratios below 1 favour the library). Options: --mb N
 * (default 64), --reps R (default 3), --only K:R (one run of workload K (0
 * lines, 1 frames) with reader R (0 raw, 1 codec_future, 2 codec_try),
 * nothing printed), --mem K:R (the same reader over an in-memory stream
 * instead: no runtime, no io_uring, so callgrind can count its
 * instructions; the stream lends 4 KiB chunks through poll_fill, as the
 * receive queue does, and copies out through poll_read for the raw
 * reader; prints ns_per_item).
 * The stream under the codec is weft_bytes_from_stream's (poll_fill lends
 * the receive queue's buffers: the reader copies once).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <weft.h>

#define BLOCK (64 * 1024)
#define ITEM 64

static char block[2][BLOCK];      /* lines, frames */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the process (self: all its threads) or of this thread. */
static uint64_t cpu_ns(bool thread)
{
	struct timespec ts;
	struct rusage ru;

	if (thread) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		return (uint64_t)ts.tv_sec * 1000000000u +
		       (uint64_t)ts.tv_nsec;
	}
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		       1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		       1000u;
}

static void make_blocks(void)
{
	for (size_t o = 0; o < BLOCK; o += ITEM) {
		memset(block[0] + o, 'a' + (int)(o / ITEM % 26), ITEM - 1);
		block[0][o + ITEM - 1] = '\n';
		block[1][o] = 0;
		block[1][o + 1] = 0;
		block[1][o + 2] = 0;
		block[1][o + 3] = ITEM - 4;
		memset(block[1] + o + 4, 'f', ITEM - 4);
	}
}

/* Sends `blocks` copies of block[kind], then shuts down. */
struct sender {
	WEFT_ASYNC;
	weft_stream *s;
	int kind;
	uint64_t blocks, i;
	weft_stream_send send;
};

static weft_poll sender_poll(struct sender *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->blocks; f->i++) {
		weft_stream_send_all_init(&f->send, f->s, block[f->kind],
					  BLOCK);
		WEFT_AWAIT_ON(weft_stream_send, &f->send);
		if (f->send.res < 0)
			WEFT_RETURN(f->send.res);
	}
	weft_stream_shutdown(f->s, SHUT_WR);
	WEFT_RETURN(0);
	WEFT_END();
}

static void sender_drop(struct sender *f)
{
	weft_stream_send_drop(&f->send);
	weft_stream_drop(f->s);
}
WEFT_FUTURE(sender, struct sender, sender_drop);

/* Reads everything from s with the chosen reader; res = items. */
struct reader {
	WEFT_ASYNC;
	weft_stream *s;
	int kind;                 /* 0 lines, 1 frames */
	int codec;                /* 0 raw, 1 futures only, 2 try + futures */
	weft_bytes *b;
	weft_bufreader r;
	weft_codec_lines_next ln;
	weft_codec_frames_next fn;
	weft_stream_recv recv;
	uint64_t items;
	size_t need, hdr_have;    /* manual frames: body bytes / header */
	unsigned char hdr[4];
	char buf[BLOCK];
};

static const weft_codec_lines lines_c = { .max_len = 1024 };
static const weft_codec_frames frames_c = { .width = 4 };

static void count_manual_frames(struct reader *f, const unsigned char *p,
				size_t n)
{
	while (n) {
		if (f->need) {
			size_t k = n < f->need ? n : f->need;

			f->need -= k;
			p += k;
			n -= k;
			if (!f->need)
				f->items++;
			continue;
		}
		f->hdr[f->hdr_have++] = *p++;
		n--;
		if (f->hdr_have == 4) {
			f->need = (size_t)f->hdr[0] << 24 |
				  (size_t)f->hdr[1] << 16 |
				  (size_t)f->hdr[2] << 8 | f->hdr[3];
			f->hdr_have = 0;
			if (!f->need)
				f->items++;
		}
	}
}

static weft_poll reader_poll(struct reader *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (f->codec) {
		if (weft_bytes_from_stream(&f->b, f->s))
			WEFT_RETURN(-ENOMEM);
		f->s = NULL;          /* the byte stream's now */
		if (weft_bufreader_init(&f->r, f->b, 0))
			WEFT_RETURN(-ENOMEM);
		for (;;) {
			const void *d;
			intptr_t n = -EAGAIN;

			if (f->codec == 2) {
				if (f->kind == 0)
					while ((n = weft_codec_lines_try_next(
							&f->r, &lines_c, &d)) >= 0)
						f->items++;
				else
					while ((n = weft_codec_frames_try_next(
							&f->r, &frames_c, &d)) >= 0)
						f->items++;
				if (n != -EAGAIN)
					break;
			}
			if (f->kind == 0) {
				WEFT_AWAIT_INIT(weft_codec_lines_next, &f->ln,
						&f->r, &lines_c);
				if (f->ln.res < 0)
					break;
			} else {
				WEFT_AWAIT_INIT(weft_codec_frames_next, &f->fn,
						&f->r, &frames_c);
				if (f->fn.res < 0)
					break;
			}
			f->items++;
		}
		WEFT_RETURN((intptr_t)f->items);
	}
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->recv, f->s, f->buf,
				sizeof(f->buf));
		if (f->recv.res <= 0)
			break;
		if (f->kind == 0) {
			const char *p = f->buf, *end = f->buf + f->recv.res;

			while ((p = memchr(p, '\n', (size_t)(end - p)))) {
				f->items++;
				p++;
			}
		} else {
			count_manual_frames(f, (const unsigned char *)f->buf,
					    (size_t)f->recv.res);
		}
	}
	WEFT_RETURN((intptr_t)f->items);
	WEFT_END();
}

static void reader_drop(struct reader *f)
{
	weft_stream_recv_drop(&f->recv);
	weft_bufreader_destroy(&f->r);
	weft_bytes_drop(f->b);
	weft_stream_drop(f->s);
}
WEFT_FUTURE(reader, struct reader, reader_drop);

/* Connects a loopback pair. */
struct pair {
	WEFT_ASYNC;
	weft_listener *l;
	struct sockaddr_in addr;
	weft_tcp_connect conn;
	weft_listener_accept acc;
};

static weft_poll pair_poll(struct pair *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->conn,
			(struct sockaddr *)&f->addr, sizeof(f->addr),
			5 * WEFT_SEC);
	if (f->conn.res < 0)
		WEFT_RETURN(f->conn.res);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	WEFT_RETURN(f->acc.res);
	WEFT_END();
}
WEFT_FUTURE(pair, struct pair, WEFT_NO_DROP);

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run's figures: wall seconds, process and reader-thread CPU ns. */
struct timing {
	double wall, cpu, rcpu;
};

static struct timing run_once(weft_rt *rt, weft_listener *l,
			      const struct sockaddr_in *addr, int kind,
			      int codec, uint64_t blocks)
{
	struct timing tm;
	uint64_t c0, c1, r0, r1;
	struct pair p = { .l = l, .addr = *addr };
	weft_join *sj;
	weft_join_wait w = { 0 };
	uint64_t t0, t1;

	if (WEFT_BLOCK_ON(rt, pair, &p) || p.res < 0) {
		fprintf(stderr, "weft-bench-bufio: connect: %d\n", (int)p.res);
		exit(1);
	}
	struct reader *r = calloc(1, sizeof(*r));

	if (!r)
		exit(1);
	r->s = p.acc.stream;
	r->kind = kind;
	r->codec = codec;
	c0 = cpu_ns(false);
	r0 = cpu_ns(true);
	t0 = now_ns();
	if (WEFT_SPAWN(rt, sender, &sj, { .s = p.conn.stream, .kind = kind,
					  .blocks = blocks }))
		exit(1);
	if (WEFT_BLOCK_ON(rt, reader, r))
		exit(1);
	t1 = now_ns();
	r1 = cpu_ns(true);
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, sj);
	c1 = cpu_ns(false);     /* the sender's last send is in it too */
	weft_join_drop(sj);
	if (r->res != (intptr_t)(blocks * (BLOCK / ITEM)) || w.res < 0) {
		fprintf(stderr, "weft-bench-bufio: %s %d: %ld items, want %lu\n",
			kind ? "frames" : "lines", codec,
			(long)r->res, (unsigned long)(blocks * (BLOCK / ITEM)));
		exit(1);
	}
	reader_drop(r);
	free(r);
	tm.wall = (double)(t1 - t0) / 1e9;
	tm.cpu = (double)(c1 - c0);
	tm.rcpu = (double)(r1 - r0);
	return tm;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_d);
	return v[n / 2];
}

/* --mem: an in-memory stream over `mem_len` bytes of block[kind] copies,
 * lending MEM_CHUNK bytes a poll_fill (the pool buffer's size) and copying
 * up to MEM_CHUNK a poll_read; always ready. */
#define MEM_CHUNK 4096

struct mem_stream {
	weft_bytes base;
	const char *mem;
	size_t len, off;
};

static weft_poll mem_read(weft_bytes *b, weft_cx *cx, void *buf, size_t len,
			  intptr_t *res)
{
	struct mem_stream *m = (struct mem_stream *)b;
	size_t n = m->len - m->off;

	(void)cx;
	if (n > len)
		n = len;
	memcpy(buf, m->mem + m->off, n);
	m->off += n;
	*res = (intptr_t)n;
	return WEFT_READY;
}

static weft_poll mem_fill(weft_bytes *b, weft_cx *cx, const void **data,
			  intptr_t *res)
{
	struct mem_stream *m = (struct mem_stream *)b;
	size_t n = MEM_CHUNK - m->off % MEM_CHUNK;

	(void)cx;
	if (n > m->len - m->off)
		n = m->len - m->off;
	*data = m->mem + m->off;
	*res = (intptr_t)n;
	return WEFT_READY;
}

static void mem_consume(weft_bytes *b, size_t n)
{
	((struct mem_stream *)b)->off += n;
}

static void mem_release(weft_bytes *b)
{
	(void)b;
}

static const weft_bytes_vtable mem_vt = {
	.poll_read = mem_read, .poll_fill = mem_fill,
	.consume = mem_consume, .release = mem_release, .name = "mem",
};

static weft_waker mem_clone(const void *d);
static void mem_wake(void *d)
{
	(void)d;
}
static void mem_wake_by_ref(const void *d)
{
	(void)d;
}
static const weft_waker_vtable mem_wvt = { mem_clone, mem_wake,
					   mem_wake_by_ref, mem_wake };
static weft_waker mem_clone(const void *d)
{
	return (weft_waker){ &mem_wvt, (void *)d };
}

/* One reader over the in-memory stream, polled by hand (never PENDING):
 * the items it counted. */
static uint64_t mem_run(struct reader *f, struct mem_stream *m)
{
	weft_waker w = { &mem_wvt, NULL };
	weft_cx cx;
	const void *d;
	intptr_t n;

	weft_cx_init(&cx, &w);
	if (!f->codec) {
		while (mem_read(&m->base, &cx, f->buf, sizeof(f->buf), &n),
		       n > 0) {
			const char *p = f->buf, *end = f->buf + n;

			if (f->kind)
				count_manual_frames(f, (const unsigned char *)p,
						    (size_t)n);
			else
				for (; (p = memchr(p, '\n', (size_t)(end - p)));
				     p++)
					f->items++;
		}
		return f->items;
	}
	if (weft_bufreader_init(&f->r, &m->base, 0))
		exit(1);
	for (;;) {
		cx.budget = WEFT_COOP_BUDGET;
		if (f->codec == 2 && f->kind == 0)
			while (weft_codec_lines_try_next(&f->r, &lines_c, &d) >= 0)
				f->items++;
		else if (f->codec == 2)
			while (weft_codec_frames_try_next(&f->r, &frames_c,
							  &d) >= 0)
				f->items++;
		if (f->kind == 0) {
			weft_codec_lines_next_init(&f->ln, &f->r, &lines_c);
			while (weft_codec_lines_next_poll(&f->ln, &cx) ==
			       WEFT_PENDING)
				;
			n = f->ln.res;
		} else {
			weft_codec_frames_next_init(&f->fn, &f->r, &frames_c);
			while (weft_codec_frames_next_poll(&f->fn, &cx) ==
			       WEFT_PENDING)
				;
			n = f->fn.res;
		}
		if (n < 0)
			break;
		f->items++;
	}
	weft_bufreader_destroy(&f->r);
	return f->items;
}

static int mem_main(int kind, int codec, uint64_t mb)
{
	struct mem_stream m = { .base.vt = &mem_vt, .len = mb * 1024 * 1024 };
	struct reader *f = calloc(1, sizeof(*f));
	char *mem = malloc(m.len);
	uint64_t t0, t1, items;

	if (!f || !mem)
		return 1;
	for (size_t o = 0; o < m.len; o += BLOCK)
		memcpy(mem + o, block[kind], BLOCK);
	m.mem = mem;
	f->kind = kind;
	f->codec = codec;
	t0 = now_ns();
	items = mem_run(f, &m);
	t1 = now_ns();
	if (items != m.len / ITEM) {
		fprintf(stderr, "weft-bench-bufio: mem %d:%d: %lu items\n", kind,
			codec, (unsigned long)items);
		return 1;
	}
	printf("{\"peer\":\"weft\",\"workload\":\"%s_mem\",\"n\":%lu,"
	       "\"reader\":\"%s\",\"metric\":\"ns_per_item\","
	       "\"value\":%.2f}\n", kind ? "bufio_frames" : "bufio_lines",
	       (unsigned long)mb,
	       codec == 2 ? "codec_try" : codec ? "codec_future"
			  : kind ? "manual" : "memchr",
	       (double)(t1 - t0) / (double)items);
	free(mem);
	free(f);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t mb = 64;
	unsigned reps = 3;
	int only_kind = -1, only_reader = 0, mem_kind = -1, mem_reader = 0;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	socklen_t alen = sizeof(ss);
	weft_listener *l;
	weft_rt *rt;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mb"))
			mb = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--reps"))
			reps = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--only") &&
			 sscanf(argv[i + 1], "%d:%d", &only_kind,
				&only_reader) != 2)
			only_kind = -1;
		else if (!strcmp(argv[i], "--mem") &&
			 sscanf(argv[i + 1], "%d:%d", &mem_kind,
				&mem_reader) != 2)
			mem_kind = -1;
	}
	if (!mb || !reps || reps > 99 || only_reader < 0 || only_reader > 2 ||
	    only_kind > 1 || mem_reader < 0 || mem_reader > 2 || mem_kind > 1) {
		fprintf(stderr, "usage: weft-bench-bufio [--mb N] [--reps R] "
				"[--only K:R | --mem K:R]\n");
		return 2;
	}
	make_blocks();
	if (mem_kind >= 0)
		return mem_main(mem_kind, mem_reader, mb);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (weft_rt_create(&rt, NULL) ||
	    weft_tcp_listen(&l, (struct sockaddr *)&addr, sizeof(addr), NULL) ||
	    weft_listener_local_addr(l, &ss, &alen))
		return 1;
	memcpy(&addr, &ss, sizeof(addr));
	if (only_kind >= 0) {
		run_once(rt, l, &addr, only_kind, only_reader,
			 mb * 1024 * 1024 / BLOCK);
		weft_listener_drop(l);
		weft_rt_destroy(rt);
		return 0;
	}
	for (int kind = 0; kind < 2; kind++) {
		static const char *const names[2][3] = {
			{ "memchr", "codec_future", "codec_try" },
			{ "manual", "codec_future", "codec_try" },
		};
		static const char *const metrics[4] = {
			"mb_per_s", "items_per_s", "cpu_us_per_mb",
			"reader_cpu_us_per_mb",
		};
		uint64_t blocks = mb * 1024 * 1024 / BLOCK;
		double wall[3][100], cpu[3][100], rcpu[3][100], v[3][4];

		for (int codec = 0; codec < 3; codec++)   /* warm */
			run_once(rt, l, &addr, kind, codec, blocks);
		for (unsigned i = 0; i < reps; i++)
			for (int codec = 0; codec < 3; codec++) {
				struct timing tm = run_once(rt, l, &addr, kind,
							    codec, blocks);

				wall[codec][i] = tm.wall;
				cpu[codec][i] = tm.cpu;
				rcpu[codec][i] = tm.rcpu;
			}
		for (int codec = 0; codec < 3; codec++) {
			double med = median(wall[codec], reps);

			v[codec][0] = (double)mb / med;
			v[codec][1] = (double)blocks * (BLOCK / ITEM) / med;
			v[codec][2] = median(cpu[codec], reps) / 1e3 / (double)mb;
			v[codec][3] = median(rcpu[codec], reps) / 1e3 /
				      (double)mb;
		}
		/* the figures (codec 2..0), then each library reader's ratio
		 * to the hand loop (codec 2..1) */
		for (int ratio = 0; ratio < 2; ratio++)
			for (int codec = 2; codec >= ratio; codec--)
				for (int m = 0; m < 4; m++)
					printf("{\"peer\":\"weft\",\"workload\":"
					       "\"%s\",\"n\":%lu,\"reader\":"
					       "\"%s\",\"metric\":\"%s%s\","
					       "\"value\":%.*f}\n",
					       kind ? "bufio_frames"
						    : "bufio_lines",
					       (unsigned long)mb,
					       names[kind][codec], metrics[m],
					       ratio ? "_ratio" : "",
					       ratio ? 3 : 1,
					       ratio ? v[codec][m] / v[0][m]
						     : v[codec][m]);
		fflush(stdout);
	}
	weft_listener_drop(l);
	weft_rt_destroy(rt);
	return 0;
}
