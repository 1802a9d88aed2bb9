/* test/reactor/pool.c - sharing the provided buffer pool (reactor/pool.c,
 * the rules in reactor/recvq.c): 200 streams whose readers stopped,
 * their peers sending all the socket takes, beside 16 streams that keep
 * reading. The stopped ones must not take the pool from the others: once
 * they are settled they hold at most about half of it, and the readers'
 * receives go through the pool (the single-shot fallback is not taken on
 * every read: it is counted in the reactor metrics) and get every byte in
 * order. The same run with the copies forced off shows what they prevent:
 * the pool runs dry and every receive falls back, but without re-arming a
 * multishot that fails on every read. A chunk lent by a byte stream's
 * fill stays in its pool buffer while the rest is copied out. The peers
 * are plain non-blocking sockets driven by the test thread. */
#include <sys/socket.h>
#include <time.h>

#include "helpers.h"
#include "reactor/reactor.h"

#define STOPPED 200
#define READERS 16
#define ROUNDS 200
#define MSG 64

static unsigned char pat(unsigned stream, size_t i)
{
	return (unsigned char)(i * 131 + (i >> 8) + stream * 7);
}

static intptr_t recv_some(weft_rt *rt, weft_stream *s, void *buf, size_t len)
{
	weft_stream_recv rx = { 0 };

	weft_stream_recv_init(&rx, s, buf, len);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_stream_recv, &rx), 0);
	weft_stream_recv_drop(&rx);
	return rx.res;
}

static void pair(weft_stream **s, int *peer)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*s = weft_stream_from_fd(sv[0]);
	cr_assert_not_null(*s);
	cr_assert_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	*peer = sv[1];
}

/* Writes len bytes to a non-blocking fd; false if it would block. */
static bool write_msg(int fd, const unsigned char *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0 && errno == EAGAIN)
		return false;
	cr_assert_eq(n, (ssize_t)len, "write: %zd (%s)", n, strerror(errno));
	return true;
}

static weft_reactor_metrics reactor_metrics(weft_rt *rt)
{
	weft_metrics m;

	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	return m.reactor;
}

/* Bounded wait (10 s, a hang guard) until the pool holds between lo and
 * hi buffers. */
static bool pool_held(weft_rt *rt, unsigned long lo, unsigned long hi)
{
	struct timespec d = { 0, 1000000 };
	unsigned long n;

	for (int i = 0; i < 10000; i++) {
		n = weft__pool_test_outstanding(rt);
		if (n >= lo && n <= hi)
			return true;
		nanosleep(&d, NULL);
	}
	n = weft__pool_test_outstanding(rt);
	return n >= lo && n <= hi;
}

struct run {
	uint64_t reads, fallbacks, exhausted, spilled;
	unsigned long held;     /* pool buffers held once the stopped
	                         * streams settled */
};

static struct run stopped_beside_readers(bool share)
{
	static weft_stream *stopped[STOPPED], *reader[READERS];
	static int speer[STOPPED], rpeer[READERS];
	unsigned char junk[4096], msg[MSG], buf[MSG];
	weft_reactor_metrics before, after;
	struct run out = { 0 };
	size_t rgot[READERS] = { 0 };
	weft_rt *rt;

	weft__reactor_test_disable(share ? 0 : WEFT__FEAT_POOL_SHARE);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	memset(junk, 0x5a, sizeof(junk));
	/* the stopped ones: one byte read arms the multishot, then their
	 * readers stop and their peers send all the sockets take */
	for (int k = 0; k < STOPPED; k++) {
		pair(&stopped[k], &speer[k]);
		cr_assert(write_msg(speer[k], junk, 1));
		cr_assert_eq(recv_some(rt, stopped[k], buf, 1), 1);
	}
	for (int k = 0; k < READERS; k++)
		pair(&reader[k], &rpeer[k]);
	for (int k = 0; k < STOPPED; k++)
		while (write_msg(speer[k], junk, sizeof(junk)))
			;
	/* settled: the streams that do not read keep at most about half the
	 * pool (what they got before it was half held, plus one task-work
	 * run's worth in flight); without the rules they keep all of it */
	if (share)
		cr_assert(pool_held(rt, 0, WEFT__POOL_BUFS / 2 + 64),
			  "the stopped streams hold %lu of %u buffers",
			  weft__pool_test_outstanding(rt), WEFT__POOL_BUFS);
	else
		cr_assert(pool_held(rt, WEFT__POOL_BUFS, WEFT__POOL_BUFS),
			  "the pool did not run dry: %lu of %u held",
			  weft__pool_test_outstanding(rt), WEFT__POOL_BUFS);
	out.held = weft__pool_test_outstanding(rt);
	before = reactor_metrics(rt);
	/* the readers: ROUNDS messages each, every byte checked */
	for (int r = 0; r < ROUNDS; r++) {
		for (int k = 0; k < READERS; k++) {
			for (size_t i = 0; i < MSG; i++)
				msg[i] = pat((unsigned)k, (size_t)r * MSG + i);
			cr_assert(write_msg(rpeer[k], msg, MSG));
		}
		for (int k = 0; k < READERS; k++) {
			size_t end = (size_t)(r + 1) * MSG;

			while (rgot[k] < end) {
				intptr_t n = recv_some(rt, reader[k], buf,
						       end - rgot[k]);

				cr_assert_gt(n, 0, "reader %d: recv %ld", k,
					     (long)n);
				for (intptr_t i = 0; i < n; i++)
					cr_assert_eq(buf[i],
						     pat((unsigned)k,
							 rgot[k] + (size_t)i),
						     "reader %d byte %zu", k,
						     rgot[k] + (size_t)i);
				rgot[k] += (size_t)n;
				out.reads++;
			}
		}
	}
	after = reactor_metrics(rt);
	out.fallbacks = after.pool_fallbacks - before.pool_fallbacks;
	out.exhausted = after.pool_exhausted - before.pool_exhausted;
	out.spilled = after.pool_spilled;
	for (int k = 0; k < READERS; k++) {
		weft_stream_drop(reader[k]);
		close(rpeer[k]);
	}
	for (int k = 0; k < STOPPED; k++) {
		weft_stream_drop(stopped[k]);
		close(speer[k]);
	}
	cr_assert(pool_held(rt, 0, 0), "%lu buffers not given back",
		  weft__pool_test_outstanding(rt));
	weft_rt_destroy(rt);
	return out;
}

Test(pool, stopped_readers_do_not_starve_the_others, .timeout = 120)
{
	struct run r = stopped_beside_readers(true);

	cr_log_info("shared: %lu reads, %lu fallbacks, %lu ENOBUFS ends, "
		    "%lu chunks copied out, %lu buffers held by the stopped",
		    (unsigned long)r.reads, (unsigned long)r.fallbacks,
		    (unsigned long)r.exhausted, (unsigned long)r.spilled,
		    r.held);
	cr_assert_geq(r.reads, (uint64_t)READERS * ROUNDS);
	/* the readers go through the pool: at most a few receives fall
	 * back (none expected once the stopped streams settled) */
	cr_assert_leq(r.fallbacks * 10, r.reads,
		      "%lu of %lu receives fell back to single-shot",
		      (unsigned long)r.fallbacks, (unsigned long)r.reads);
	/* the stopped streams' chunks were copied out of the pool */
	cr_assert_gt(r.spilled, 0);
}

/* The copies forced off: the same run, for contrast (and to show that the
 * test above would see the starvation): the stopped streams hold the whole
 * pool, and the readers still get every byte, single-shot. Each reader's
 * multishot ends with ENOBUFS once; from then on it is starved and
 * receives single-shot without re-arming into the same failure. */
Test(pool, without_copies_the_pool_runs_dry, .timeout = 120)
{
	struct run r = stopped_beside_readers(false);

	cr_log_info("unshared: %lu reads, %lu fallbacks, %lu ENOBUFS ends, "
		    "%lu buffers held by the stopped",
		    (unsigned long)r.reads, (unsigned long)r.fallbacks,
		    (unsigned long)r.exhausted, r.held);
	cr_assert_eq(r.spilled, 0);
	cr_assert_eq(r.held, WEFT__POOL_BUFS);
	cr_assert_geq(r.fallbacks, r.reads / 2,
		      "%lu of %lu receives fell back",
		      (unsigned long)r.fallbacks, (unsigned long)r.reads);
	/* not one failed multishot per read: at most one per stream (a
	 * stopped stream's last one may end only now) */
	cr_assert_leq(r.exhausted, READERS + STOPPED,
		      "%lu multishots ended with ENOBUFS in %lu reads",
		      (unsigned long)r.exhausted, (unsigned long)r.reads);
}

/* ------------------------------------------------ a lent chunk stays */

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

static bool queued_at_least(weft_stream *s, unsigned n)
{
	struct timespec d = { 0, 1000000 };

	for (int i = 0; i < 10000; i++) {
		if (weft__stream_test_queued(s) >= n)
			return true;
		nanosleep(&d, NULL);
	}
	return weft__stream_test_queued(s) >= n;
}

Test(pool, a_lent_chunk_stays_in_the_pool_until_consumed)
{
	weft_rt *rt = test_rt(1);
	unsigned char data[300], buf[300];
	struct fill_once f = { 0 };
	weft_bytes_read rd = { 0 };
	weft_stream *s;
	weft_bytes *b = NULL;
	int peer;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pat(3, i);
	pair(&s, &peer);
	cr_assert_eq(weft_bytes_from_stream(&b, s), 0);
	/* the fill lends the first chunk: a pool buffer */
	cr_assert(write_msg(peer, data, 100));
	f.b = b;
	cr_assert_eq(WEFT_BLOCK_ON(rt, fill_once, &f), 0);
	cr_assert_eq(f.res, 100);
	cr_assert_eq(memcmp(f.data, data, 100), 0);
	/* now the pool is scarce and the reader is not waiting: what
	 * arrives is copied out with the chunks queued before it, but for
	 * the lent one, which the caller is reading from */
	weft__pool_test_scarce_at(rt, 0);
	cr_assert(write_msg(peer, data + 100, 200));
	cr_assert(queued_at_least(s, 2));
	cr_assert_eq(weft__stream_test_pooled(s), 1, "%u chunks in the pool",
		     weft__stream_test_pooled(s));
	cr_assert_gt(reactor_metrics(rt).pool_spilled, 0);
	cr_assert_eq(memcmp(f.data, data, 100), 0, "the lent bytes changed");
	b->vt->consume(b, 100);
	weft_bytes_read_init(&rd, b, buf, sizeof(buf));
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_bytes_read, &rd), 0);
	cr_assert_eq(rd.res, 200);
	cr_assert_eq(memcmp(buf, data + 100, 200), 0);
	weft_bytes_drop(b);
	close(peer);
	cr_assert(pool_held(rt, 0, 0), "%lu buffers not given back",
		  weft__pool_test_outstanding(rt));
	weft_rt_destroy(rt);
}
