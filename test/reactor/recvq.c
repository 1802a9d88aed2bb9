/* test/reactor/recvq.c - stream receives through the multishot recv and
 * its provided buffer pool (reactor/stream.c): reads smaller than a
 * buffer, end of stream that stays, a receive dropped while waiting loses
 * nothing, a slow reader holds a bounded number of buffers, an exhausted
 * pool falls back to single-shot receives without losing or reordering a
 * byte, dropping a stream with unread data gives its buffers back, and the
 * same behaviour with multishot forced off (the test hook). The peers are
 * plain blocking sockets driven by the test thread. */
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "helpers.h"
#include "reactor/reactor.h"

static unsigned char pat(unsigned stream, size_t i)
{
	return (unsigned char)(i * 131 + (i >> 8) + stream * 7);
}

/* One receive, polled to completion. */
static intptr_t recv_some(weft_rt *rt, weft_stream *s, void *buf, size_t len)
{
	weft_stream_recv rx = { 0 };

	weft_stream_recv_init(&rx, s, buf, len);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_stream_recv, &rx), 0);
	weft_stream_recv_drop(&rx);
	return rx.res;
}

/* Writes all of buf to a blocking fd. */
static void write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		cr_assert_gt(n, 0, "write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

/* Waits (bounded, 10 s) until cond(arg) holds. */
static bool eventually(bool (*cond)(void *), void *arg)
{
	struct timespec d = { 0, 1000000 };

	for (int i = 0; i < 10000; i++) {
		if (cond(arg))
			return true;
		nanosleep(&d, NULL);
	}
	return cond(arg);
}

struct queued_at_least {
	weft_stream *s;
	unsigned n;
};

static bool queued_at_least(void *arg)
{
	struct queued_at_least *q = arg;

	return weft__stream_test_queued(q->s) >= q->n;
}

static bool pool_all_back(void *arg)
{
	return weft__pool_test_outstanding(arg) == 0;
}

static weft_rt *rt_with(bool multishot)
{
	weft_rt *rt;

	weft__reactor_test_disable(multishot ? 0 : WEFT__FEAT_RECV_MULTI);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	return rt;
}

static void pair(weft_stream **s, int *peer)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*s = weft_stream_from_fd(sv[0]);
	cr_assert_not_null(*s);
	*peer = sv[1];
}

/* ------------------------------------------------------------- tests */

static void small_reads(bool multishot)
{
	weft_rt *rt = rt_with(multishot);
	enum { N = 10000 };
	unsigned char *data = malloc(N), buf[7];
	weft_stream *s;
	size_t got = 0;
	int peer;

	pair(&s, &peer);
	for (size_t i = 0; i < N; i++)
		data[i] = pat(0, i);
	write_all(peer, data, N);
	close(peer);
	for (;;) {
		intptr_t n = recv_some(rt, s, buf, sizeof(buf));

		cr_assert_geq(n, 0, "recv: %ld", (long)n);
		if (n == 0)
			break;
		cr_assert_leq(n, (intptr_t)sizeof(buf));
		for (intptr_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], pat(0, got + (size_t)i), "byte %zu",
				     got + (size_t)i);
		got += (size_t)n;
	}
	cr_assert_eq(got, N);
	/* end of stream stays */
	cr_assert_eq(recv_some(rt, s, buf, sizeof(buf)), 0);
	weft_stream_drop(s);
	weft_rt_destroy(rt);
	free(data);
}

Test(recvq, small_reads_then_eof_multishot) { small_reads(true); }
Test(recvq, small_reads_then_eof_single_shot) { small_reads(false); }

static void dropped_receive_loses_nothing(bool multishot)
{
	weft_rt *rt = rt_with(multishot);
	weft_stream_recv rx = { 0 };
	weft_stream *s;
	char buf[64];
	int peer;

	pair(&s, &peer);
	/* dropped while waiting, before anything arrived */
	weft_stream_recv_init(&rx, s, buf, sizeof(buf));
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_stream_recv, &rx), WEFT_PENDING);
	weft_stream_recv_drop(&rx);
	write_all(peer, (const unsigned char *)"first", 5);
	cr_assert_eq(recv_some(rt, s, buf, sizeof(buf)), 5);
	cr_assert_eq(memcmp(buf, "first", 5), 0);

	/* dropped after the data arrived, before it was polled again */
	weft_stream_recv_init(&rx, s, buf, sizeof(buf));
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_stream_recv, &rx), WEFT_PENDING);
	write_all(peer, (const unsigned char *)"second", 6);
	if (multishot) {
		struct queued_at_least q = { s, 1 };

		cr_assert(eventually(queued_at_least, &q));
	} else {
		struct pollfd p = { .fd = peer, .events = POLLOUT };

		/* single-shot: the record may already hold the bytes, and
		 * dropping it then loses them (net.h); only the drop's
		 * safety is checked here */
		cr_assert_eq(poll(&p, 1, 0), 1);
	}
	weft_stream_recv_drop(&rx);
	if (multishot) {
		cr_assert_eq(recv_some(rt, s, buf, sizeof(buf)), 6);
		cr_assert_eq(memcmp(buf, "second", 6), 0);
	}
	close(peer);
	weft_stream_drop(s);
	weft_rt_destroy(rt);
}

Test(recvq, dropped_receive_loses_nothing) { dropped_receive_loses_nothing(true); }
Test(recvq, dropped_receive_single_shot) { dropped_receive_loses_nothing(false); }

Test(recvq, slow_reader_holds_a_bounded_number_of_buffers)
{
	weft_rt *rt = rt_with(true);
	enum { N = 2 * 1024 * 1024 };
	unsigned char *data = malloc(N), *buf = malloc(65536);
	struct queued_at_least q;
	weft_stream *s;
	size_t sent = 0, got = 0;
	int peer, fl;

	pair(&s, &peer);
	q.s = s;
	q.n = WEFT__RECVQ_HIGH;
	for (size_t i = 0; i < N; i++)
		data[i] = pat(1, i);
	/* one byte read arms the multishot, then nobody reads */
	write_all(peer, data, 1);
	cr_assert_eq(recv_some(rt, s, buf, 1), 1);
	got = sent = 1;
	fl = fcntl(peer, F_GETFL);
	cr_assert_eq(fcntl(peer, F_SETFL, fl | O_NONBLOCK), 0);
	while (sent < N) {
		ssize_t n = write(peer, data + sent, N - sent);

		if (n < 0) {
			cr_assert_eq(errno, EAGAIN);
			break;
		}
		sent += (size_t)n;
	}
	/* the socket filled up before 2 MiB: weft stopped taking data */
	cr_assert_lt(sent, N, "weft buffered all %zu bytes", sent);
	cr_assert(eventually(queued_at_least, &q));
	/* the mark, plus what the kernel delivered in the same task-work
	 * run before the cancel went in (its multishot retries up to 32
	 * times per run), far below the 512 that 2 MiB would take */
	cr_assert_leq(weft__stream_test_queued(s), WEFT__RECVQ_HIGH + 64,
		      "%u buffers queued", weft__stream_test_queued(s));
	/* one receive into a buffer larger than everything queued: it takes
	 * as many chunks as one call may give back (never overruns) */
	{
		size_t big_len = 4 * 1024 * 1024;
		unsigned char *big = malloc(big_len);
		intptr_t n = recv_some(rt, s, big, big_len);

		cr_assert_gt(n, 0, "recv: %ld", (long)n);
		cr_assert_eq(memcmp(big, data + got, (size_t)n), 0);
		got += (size_t)n;
		free(big);
	}
	/* now read it all, while the peer writes the rest when it can */
	while (got < N) {
		intptr_t n;

		if (sent < N) {
			ssize_t w = write(peer, data + sent, N - sent);

			cr_assert(w > 0 || errno == EAGAIN);
			if (w > 0)
				sent += (size_t)w;
		}
		n = recv_some(rt, s, buf, 65536);
		cr_assert_gt(n, 0, "recv: %ld", (long)n);
		cr_assert_eq(memcmp(buf, data + got, (size_t)n), 0,
			     "bytes %zu..", got);
		got += (size_t)n;
	}
	close(peer);
	cr_assert_eq(recv_some(rt, s, buf, 1), 0);
	weft_stream_drop(s);
	cr_assert(eventually(pool_all_back, rt), "%lu buffers not given back",
		  weft__pool_test_outstanding(rt));
	weft_rt_destroy(rt);
	free(data);
	free(buf);
}

#define STREAMS 80
#define PER (64 * 1024)

static bool pool_dry(void *arg)
{
	return weft__pool_test_outstanding(arg) == WEFT__POOL_BUFS;
}

/* Writes what the socket takes (non-blocking) from data[*sent..PER). */
static void write_some(int fd, const unsigned char *data, size_t *sent)
{
	while (*sent < PER) {
		ssize_t n = write(fd, data + *sent, PER - *sent);

		if (n < 0) {
			cr_assert_eq(errno, EAGAIN);
			return;
		}
		*sent += (size_t)n;
	}
}

/* share: the pool's sharing rules (reactor/recvq.c) on; off, streams that
 * do not read keep their buffers and the pool runs dry. */
static void many_unread_streams(bool share)
{
	weft_rt *rt;
	weft_metrics m;
	weft_stream *s[STREAMS];
	int peer[STREAMS];
	size_t sent[STREAMS];
	unsigned char *data = malloc((size_t)STREAMS * PER), *buf = malloc(PER);

	weft__reactor_test_disable(share ? 0 : WEFT__FEAT_POOL_SHARE);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	for (int k = 0; k < STREAMS; k++)
		for (size_t i = 0; i < PER; i++)
			data[(size_t)k * PER + i] = pat((unsigned)k, i);
	/* 80 streams with 64 KiB unread each would need 1280 buffers: the
	 * pool has 512. Without the sharing rules it runs dry, multishots end
	 * with ENOBUFS and the readers fall back to single-shot receives;
	 * with them, what arrives once half the pool is held is copied out
	 * and the multishots stop, so it never runs dry */
	for (int k = 0; k < STREAMS; k++) {
		pair(&s[k], &peer[k]);
		cr_assert_eq(fcntl(peer[k], F_SETFL, O_NONBLOCK), 0);
		write_all(peer[k], data + (size_t)k * PER, 1);
		cr_assert_eq(recv_some(rt, s[k], buf, 1), 1);
		cr_assert_eq(buf[0], pat((unsigned)k, 0));
		sent[k] = 1;
	}
	for (int k = 0; k < STREAMS; k++)
		write_some(peer[k], data + (size_t)k * PER, &sent[k]);
	if (!share) {
		cr_assert(eventually(pool_dry, rt),
			  "pool never ran dry: %lu out",
			  weft__pool_test_outstanding(rt));
	} else {
		weft_metrics_init(&m, NULL, 0);
		for (int i = 0; i < 10000; i++) {
			cr_assert_eq(weft_rt_metrics(rt, &m), 0);
			if (m.reactor.pool_spilled)
				break;
			usleep(1000);
		}
		cr_assert_gt(m.reactor.pool_spilled, 0, "nothing copied out");
		/* about half held (what arrived before it was scarce) and
		 * what is in flight: far from dry */
		cr_assert_lt(weft__pool_test_outstanding(rt), WEFT__POOL_BUFS,
			     "the pool ran dry");
	}
	for (int k = 0; k < STREAMS; k++) {
		const unsigned char *d = data + (size_t)k * PER;
		size_t got = 1;

		while (got < PER) {
			intptr_t n;

			write_some(peer[k], d, &sent[k]);
			if (sent[k] == PER && peer[k] >= 0) {
				close(peer[k]);
				peer[k] = -1;
			}
			n = recv_some(rt, s[k], buf, PER);
			cr_assert_gt(n, 0, "stream %d: recv %ld", k, (long)n);
			cr_assert_eq(memcmp(buf, d + got, (size_t)n), 0,
				     "stream %d bytes %zu..", k, got);
			got += (size_t)n;
		}
		cr_assert_eq(recv_some(rt, s[k], buf, 1), 0);
	}
	for (int k = 0; k < STREAMS; k++)
		weft_stream_drop(s[k]);
	cr_assert(eventually(pool_all_back, rt), "%lu buffers not given back",
		  weft__pool_test_outstanding(rt));
	weft_rt_destroy(rt);
	free(data);
	free(buf);
}

Test(recvq, exhausted_pool_falls_back_without_losing_a_byte)
{
	many_unread_streams(false);
}

Test(recvq, scarce_pool_copies_out_without_losing_a_byte)
{
	many_unread_streams(true);
}

Test(recvq, unread_buffers_come_back_on_drop)
{
	weft_rt *rt = rt_with(true);
	unsigned char data[16384], buf[1];
	weft_stream *s[8];
	int peer[8];

	memset(data, 0x5a, sizeof(data));
	for (int k = 0; k < 8; k++) {
		struct queued_at_least q;

		pair(&s[k], &peer[k]);
		write_all(peer[k], data, 1);
		cr_assert_eq(recv_some(rt, s[k], buf, 1), 1);
		write_all(peer[k], data, sizeof(data));
		q.s = s[k];
		q.n = 2;
		cr_assert(eventually(queued_at_least, &q));
	}
	cr_assert_gt(weft__pool_test_outstanding(rt), 0);
	for (int k = 0; k < 8; k++) {
		weft_stream_drop(s[k]);
		close(peer[k]);
	}
	cr_assert(eventually(pool_all_back, rt), "%lu buffers not given back",
		  weft__pool_test_outstanding(rt));
	weft_rt_destroy(rt);
}

/* Dropping the handle while a receive waits: the receive ends with
 * -EBADF on its next poll and dropping it is safe. */
Test(recvq, drop_under_a_waiting_receive)
{
	weft_rt *rt = rt_with(true);
	weft_stream_recv rx = { 0 };
	weft_stream *s;
	char buf[8];
	int peer, before = test_fd_count();

	pair(&s, &peer);
	weft_stream_recv_init(&rx, s, buf, sizeof(buf));
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_stream_recv, &rx), WEFT_PENDING);
	weft_stream_drop(s);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_stream_recv, &rx), WEFT_READY);
	cr_assert_eq(rx.res, -EBADF);
	weft_stream_recv_drop(&rx);
	close(peer);
	/* the last reference went with the receive: the fd is closed once
	 * the cancelled multishot has completed */
	for (int i = 0; i < 200 && test_fd_count() > before; i++)
		usleep(5000);
	cr_assert_eq(test_fd_count(), before, "the stream's fd stayed open");
	weft_rt_destroy(rt);
}
