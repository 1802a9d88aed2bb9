/* test/reactor/bufio_tcp.c - buffered reading and the codecs over a real
 * loopback TCP byte stream (weft_bytes_from_stream on both ends): lines
 * and length-delimited frames, encoded on one side and sent in odd-sized
 * writes (1 byte to 64 KiB + 1), decoded on the other side through a
 * small bufreader (so records span the kernel's chunks and the reader's
 * buffer refills mid-record), each record checked; then records written
 * through a bufwriter and the codecs' write futures. Each case runs with
 * the multishot receive queue and with the single-shot fallback
 * (weft__bytes_test_no_recvq). */
#include <sys/socket.h>

#include "helpers.h"
#include "reactor/bytes_stream.h"

#define RECORDS 3000
#define LINE_MAX 300
#define FRAME_MAX 1000

static const weft_codec_lines lines_c = { .max_len = LINE_MAX,
					  .strip_cr = true };
static const weft_codec_frames frames_c = { .width = 4,
					    .max_frame = FRAME_MAX + 4 };

/* Record i: its length and its bytes (no '\n'; '\r' never last). */
static size_t rec_len(int i, bool frames)
{
	return frames ? (size_t)(i * 53 % (FRAME_MAX + 1))
		      : (size_t)(i * 37 % (LINE_MAX + 1));
}

static void rec_fill(int i, bool frames, unsigned char *out)
{
	size_t n = rec_len(i, frames);

	for (size_t j = 0; j < n; j++)
		out[j] = frames ? (unsigned char)(i + j)
				: (unsigned char)('a' + (i + j) % 26);
}

struct pair {
	weft_bytes *c, *s;
};

struct conn {
	WEFT_ASYNC;
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l;
	weft_tcp_connect tc;
	weft_listener_accept acc;
};

static weft_poll conn_poll(struct conn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->tc, (struct sockaddr *)&f->a,
			f->len, 5 * WEFT_SEC);
	if (f->tc.res < 0)
		WEFT_RETURN(f->tc.res);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	WEFT_RETURN(f->acc.res);
	WEFT_END();
}

WEFT_FUTURE(conn, struct conn, WEFT_NO_DROP);

static struct pair tcp_bytes_pair(weft_rt *rt)
{
	struct conn f = { 0 };
	struct pair p;

	f.l = test_listen(AF_INET, &f.a, &f.len);
	cr_assert_eq(WEFT_BLOCK_ON(rt, conn, &f), 0);
	cr_assert_eq(f.res, 0, "connect/accept: %ld", (long)f.res);
	weft_listener_drop(f.l);
	cr_assert_eq(weft_bytes_from_stream(&p.c, f.tc.stream), 0);
	cr_assert_eq(weft_bytes_from_stream(&p.s, f.acc.stream), 0);
	cr_assert_str_eq(p.s->vt->name, "tcp");
	return p;
}

/* ------------------------------------------------------------ sender */

static const size_t odd[] = { 1, 7, 13, 64, 509, 4093, 3, 65537, 2, 1021 };

/* Writes buf (len bytes) in odd-sized writes, then shuts down. */
struct raw_sender {
	WEFT_ASYNC;
	weft_bytes *b;
	const unsigned char *buf;
	size_t len, off, n;
	unsigned k;
	weft_bytes_write w;
	weft_bytes_flush sd;
};

static weft_poll raw_sender_poll(struct raw_sender *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	while (f->off < f->len) {
		f->n = odd[f->k++ % (sizeof(odd) / sizeof(odd[0]))];
		if (f->n > f->len - f->off)
			f->n = f->len - f->off;
		weft_bytes_write_all_init(&f->w, f->b, f->buf + f->off, f->n);
		WEFT_AWAIT_ON(weft_bytes_write, &f->w);
		if (f->w.res < 0)
			WEFT_RETURN(f->w.res);
		f->off += f->n;
	}
	weft_bytes_shutdown_init(&f->sd, f->b);
	WEFT_AWAIT_ON(weft_bytes_flush, &f->sd);
	WEFT_RETURN(f->sd.res);
	WEFT_END();
}

WEFT_FUTURE(raw_sender, struct raw_sender, WEFT_NO_DROP);

/* Writes the records through a bufwriter of 1000 bytes and the codec's
 * write future, flushing every 7 records, then shuts down. */
struct codec_sender {
	WEFT_ASYNC;
	weft_bytes *b;
	bool frames;
	int i;
	weft_bufwriter w;
	weft_codec_lines_write lw;
	weft_codec_frames_write fw;
	weft_bufwriter_flush fl;
	unsigned char rec[FRAME_MAX];
};

static weft_poll codec_sender_poll(struct codec_sender *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_bufwriter_init(&f->w, f->b, 1000))
		WEFT_RETURN(-ENOMEM);
	for (f->i = 0; f->i < RECORDS; f->i++) {
		rec_fill(f->i, f->frames, f->rec);
		if (f->frames) {
			WEFT_AWAIT_INIT(weft_codec_frames_write, &f->fw,
					&f->w, &frames_c, f->rec,
					rec_len(f->i, true));
			if (f->fw.res < 0)
				WEFT_RETURN(f->fw.res);
		} else {
			WEFT_AWAIT_INIT(weft_codec_lines_write, &f->lw, &f->w,
					&lines_c, f->rec,
					rec_len(f->i, false));
			if (f->lw.res < 0)
				WEFT_RETURN(f->lw.res);
		}
		if (f->i % 7 == 6) {
			WEFT_AWAIT_INIT(weft_bufwriter_flush, &f->fl, &f->w);
			if (f->fl.res < 0)
				WEFT_RETURN(f->fl.res);
		}
	}
	weft_bufwriter_shutdown_init(&f->fl, &f->w);
	WEFT_AWAIT_ON(weft_bufwriter_flush, &f->fl);
	WEFT_RETURN(f->fl.res);
	WEFT_END();
}

static void codec_sender_drop(struct codec_sender *f)
{
	weft_bufwriter_destroy(&f->w);
}

WEFT_FUTURE(codec_sender, struct codec_sender, codec_sender_drop);

/* ------------------------------------------------------------ receiver */

/* Decodes records until end of stream; res = records that matched, or
 * -(1000 + i) for the first one that did not. */
struct receiver {
	WEFT_ASYNC;
	weft_bytes *b;
	bool frames;
	int i;
	weft_bufreader r;
	weft_codec_lines_next ln;
	weft_codec_frames_next fn;
	unsigned char want[FRAME_MAX];
};

static weft_poll receiver_poll(struct receiver *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	/* just over the longest record: most records span refills */
	if (weft_bufreader_init(&f->r, f->b, f->frames ? FRAME_MAX + 4 + 3
						     : LINE_MAX + 2))
		WEFT_RETURN(-ENOMEM);
	for (f->i = 0;; f->i++) {
		const void *data;
		intptr_t res;

		if (f->frames) {
			WEFT_AWAIT_INIT(weft_codec_frames_next, &f->fn, &f->r,
					&frames_c);
			data = f->fn.data;
			res = f->fn.res;
		} else {
			WEFT_AWAIT_INIT(weft_codec_lines_next, &f->ln, &f->r,
					&lines_c);
			data = f->ln.data;
			res = f->ln.res;
		}
		if (res == -ENODATA && f->i == RECORDS)
			break;          /* a clean end, after the last one */
		if (f->i >= RECORDS || res < 0 ||
		    (size_t)res != rec_len(f->i, f->frames))
			WEFT_RETURN(-(1000 + f->i));
		rec_fill(f->i, f->frames, f->want);
		if (res && memcmp(data, f->want, (size_t)res))
			WEFT_RETURN(-(1000 + f->i));
	}
	WEFT_RETURN(f->i);
	WEFT_END();
}

static void receiver_drop(struct receiver *f)
{
	weft_bufreader_destroy(&f->r);
}

WEFT_FUTURE(receiver, struct receiver, receiver_drop);

/* ------------------------------------------------------------- cases */

static unsigned char *encode_all(bool frames, size_t *len)
{
	size_t cap = (size_t)RECORDS * (FRAME_MAX + 4), n = 0;
	unsigned char *buf = malloc(cap), rec[FRAME_MAX];

	cr_assert(buf);
	for (int i = 0; i < RECORDS; i++) {
		intptr_t k;

		rec_fill(i, frames, rec);
		k = frames ? weft_codec_frames_encode(&frames_c, rec,
						      rec_len(i, true),
						      buf + n, cap - n)
			   : weft_codec_lines_encode(&lines_c, rec,
						     rec_len(i, false),
						     buf + n, cap - n);
		cr_assert_gt(k, 0, "encode %d: %ld", i, (long)k);
		n += (size_t)k;
	}
	*len = n;
	return buf;
}

static void run_case(bool frames, bool through_codec, bool fallback)
{
	weft_rt *rt;
	struct pair p;
	weft_join *sj;
	size_t len = 0;
	unsigned char *buf = NULL;
	struct receiver *rx = calloc(1, sizeof(*rx));
	int ret;

	cr_assert(rx);
	weft__bytes_test_no_recvq = fallback;
	rt = test_rt(2);
	p = tcp_bytes_pair(rt);
	if (through_codec) {
		ret = WEFT_SPAWN(rt, codec_sender, &sj,
				 { .b = p.c, .frames = frames });
	} else {
		buf = encode_all(frames, &len);
		ret = WEFT_SPAWN(rt, raw_sender, &sj,
				 { .b = p.c, .buf = buf, .len = len });
	}
	cr_assert_eq(ret, 0);
	rx->b = p.s;
	rx->frames = frames;
	cr_assert_eq(WEFT_BLOCK_ON(rt, receiver, rx), 0);
	cr_assert_eq(rx->res, RECORDS, "receiver: %ld (-(1000 + record))",
		     (long)rx->res);
	cr_assert_eq(test_join(rt, sj), 0, "sender");
	receiver_drop(rx);
	free(rx);
	free(buf);
	weft_bytes_drop(p.c);
	weft_bytes_drop(p.s);
	weft_rt_destroy(rt);
}

Test(bufio_tcp, lines_odd_writes) { run_case(false, false, false); }
Test(bufio_tcp, lines_odd_writes_fallback) { run_case(false, false, true); }
Test(bufio_tcp, frames_odd_writes) { run_case(true, false, false); }
Test(bufio_tcp, frames_odd_writes_fallback) { run_case(true, false, true); }
Test(bufio_tcp, lines_bufwriter) { run_case(false, true, false); }
Test(bufio_tcp, lines_bufwriter_fallback) { run_case(false, true, true); }
Test(bufio_tcp, frames_bufwriter) { run_case(true, true, false); }
Test(bufio_tcp, frames_bufwriter_fallback) { run_case(true, true, true); }
