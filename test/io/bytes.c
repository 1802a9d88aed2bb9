/* test/io/bytes.c - the byte-stream futures of weft/bytes.h over a
 * scripted stream: read returns what one poll_read gives, read_exact
 * gathers across chunks and reports a short stream as -EPIPE with what
 * arrived, write/write_all/writev against a stream that takes few bytes a
 * call, flush and shutdown reach the vtable, drop releases. */
#include "../sync/harness.h"
#include "script.h"

/* Polls f until READY (each PENDING of the script wakes at once). */
#define RUN(name, f, k)                                                     \
	do {                                                                \
		int guard_ = 0;                                             \
		while (name##_poll((f), tt_cx(k)) == WEFT_PENDING)          \
			cr_assert_lt(++guard_, 100000, "no progress");      \
	} while (0)

Test(bytes, read_gives_one_chunk)
{
	script s;
	tt k;
	char buf[16];
	weft_bytes_read r = { 0 };

	tt_init(&k);
	script_init(&s, 0);
	script_add(&s, "hello", 5);
	script_add(&s, " world", 6);
	weft_bytes_read_init(&r, &s.base, buf, sizeof(buf));
	cr_assert_eq(weft_bytes_read_poll(&r, tt_cx(&k)), WEFT_PENDING);
	cr_assert_eq(tt_wakes(&k), 1, "PENDING registered a wake-up");
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, 5);
	cr_assert_arr_eq(buf, "hello", 5);
	weft_bytes_read_init(&r, &s.base, buf, 3);
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, 3, "at most len");
	weft_bytes_read_init(&r, &s.base, buf, sizeof(buf));
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, 3);
	cr_assert_arr_eq(buf, "rld", 3, "nothing lost between reads");
	weft_bytes_read_init(&r, &s.base, buf, sizeof(buf));
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, 0, "end of stream");
	weft_bytes_read_init(&r, NULL, buf, sizeof(buf));
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, -EINVAL);
}

Test(bytes, read_exact_gathers_and_reports_short_streams)
{
	static const char msg[] = "0123456789abcdefghij";
	script s;
	tt k;
	char buf[32];
	weft_bytes_read r = { 0 };

	tt_init(&k);
	script_init(&s, 0);
	script_split(&s, msg, 20, 3);
	weft_bytes_read_exact_init(&r, &s.base, buf, 16);
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, 16);
	cr_assert_arr_eq(buf, msg, 16);
	weft_bytes_read_exact_init(&r, &s.base, buf, 8);
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, -EPIPE, "the stream ended 4 bytes in");
	cr_assert_eq(r.done, 4);
	cr_assert_arr_eq(buf, msg + 16, 4, "what arrived is in buf");

	script_init(&s, 0);
	script_add(&s, "ab", 2);
	s.end_err = -ECONNRESET;
	weft_bytes_read_exact_init(&r, &s.base, buf, 4);
	RUN(weft_bytes_read, &r, &k);
	cr_assert_eq(r.res, -ECONNRESET, "an error is passed on as it is");
	cr_assert_eq(r.done, 2);
}

Test(bytes, writes_loop_until_all_is_taken)
{
	static const char a[] = "the quick ", b[] = "brown fox ", c[] = "jumps";
	struct iovec iov[3] = {
		{ (void *)a, 10 }, { (void *)b, 10 }, { (void *)c, 5 },
	};
	script s;
	tt k;
	weft_bytes_write w = { 0 };

	tt_init(&k);
	script_init(&s, 3);
	weft_bytes_write_init(&w, &s.base, a, 10);
	RUN(weft_bytes_write, &w, &k);
	cr_assert_eq(w.res, 3, "write: what one call took");
	weft_bytes_write_all_init(&w, &s.base, a + 3, 7);
	RUN(weft_bytes_write, &w, &k);
	cr_assert_eq(w.res, 7);
	weft_bytes_writev_init(&w, &s.base, iov + 1, 2, true);
	RUN(weft_bytes_write, &w, &k);
	cr_assert_eq(w.res, 15);
	cr_assert_eq(s.sunk, 25);
	cr_assert_arr_eq(s.sink, "the quick brown fox jumps", 25);

	weft_bytes_writev_init(&w, &s.base, iov, 3, false);
	RUN(weft_bytes_write, &w, &k);
	cr_assert_eq(w.res, 3, "writev some: one call");
	weft_bytes_writev_init(&w, &s.base, iov, -1, true);
	RUN(weft_bytes_write, &w, &k);
	cr_assert_eq(w.res, -EINVAL);
	weft_bytes_write_all_init(&w, &s.base, a, 0);
	RUN(weft_bytes_write, &w, &k);
	cr_assert_eq(w.res, 0, "nothing to write");
}

Test(bytes, flush_shutdown_and_drop_reach_the_stream)
{
	script s;
	tt k;
	weft_bytes_flush f = { 0 };

	tt_init(&k);
	script_init(&s, 0);
	weft_bytes_flush_init(&f, &s.base);
	RUN(weft_bytes_flush, &f, &k);
	cr_assert_eq(f.res, 0);
	weft_bytes_shutdown_init(&f, &s.base);
	RUN(weft_bytes_flush, &f, &k);
	cr_assert_eq(s.flushes, 1);
	cr_assert_eq(s.shutdowns, 1);
	cr_assert_eq(weft_bytes_fd(&s.base), -1, "no fd function: -1");
	weft_bytes_drop(&s.base);
	weft_bytes_drop(NULL);
	cr_assert_eq(s.released, 1);
	cr_assert_eq(tt_live(&k), 0);
}
