/* test/io/copy.c - weft_bytes_copy and weft_bytes_copy_bidirectional over
 * duplex pairs (the read/write loop through poll_fill): 1 MiB copied
 * through a small ring, checked; both directions of a bidirectional copy
 * with the half-close passed on each way (one side ends first, the other
 * direction goes on). */
#include "../reactor/helpers.h"
#include "bytes_tasks.h"

Test(copy, one_way_through_duplex_pairs)
{
	weft_rt *rt = test_rt(2);
	weft_bytes *a1, *b1, *a2, *b2;
	weft_join *jw, *jc, *jr;

	cr_assert_eq(weft_bytes_duplex(&a1, &b1, 4096), 0);
	cr_assert_eq(weft_bytes_duplex(&a2, &b2, 1000), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_reader, &jr, { .b = b2, .seed = 3 }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_copy, &jc, { .from = b1, .to = a2 }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_writer, &jw,
				{ .b = a1, .seed = 3, .len = 1 << 20,
				  .shut = true }), 0);
	cr_assert_eq(test_join(rt, jw), 1 << 20);
	cr_assert_eq(test_join(rt, jc), 1 << 20, "res = bytes copied");
	cr_assert_eq(test_join(rt, jr), 1 << 20, "every byte, in order");
	weft_bytes_drop(a1);
	weft_bytes_drop(b1);
	weft_bytes_drop(a2);
	weft_bytes_drop(b2);
	weft_rt_destroy(rt);
}

/* A client that writes `len` then shuts down, then reads until end of
 * stream; the server reads to end of stream, then writes and shuts down:
 * each half-close must travel through the copy while the other direction
 * is still open. */
struct talker {
	WEFT_ASYNC;
	weft_bytes *b;
	bool server;
	uint64_t seed_out, seed_in, len_out;
	struct bt_writer w;
	struct bt_reader r;
	intptr_t got;
};

static weft_poll talker_poll(struct talker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (f->server) {
		WEFT_AWAIT_FRAME(bt_reader, &f->r, { .b = f->b,
						     .seed = f->seed_in });
		f->got = f->r.res;
		WEFT_AWAIT_FRAME(bt_writer, &f->w,
				 { .b = f->b, .seed = f->seed_out,
				   .len = f->len_out, .shut = true });
	} else {
		WEFT_AWAIT_FRAME(bt_writer, &f->w,
				 { .b = f->b, .seed = f->seed_out,
				   .len = f->len_out, .shut = true });
		WEFT_AWAIT_FRAME(bt_reader, &f->r, { .b = f->b,
						     .seed = f->seed_in,
						     .fill = true });
		f->got = f->r.res;
	}
	if (f->w.res != (intptr_t)f->len_out)
		WEFT_RETURN(-1);
	WEFT_RETURN(f->got);
	WEFT_END();
}

WEFT_FUTURE(talker, struct talker, WEFT_NO_DROP);

Test(copy, bidirectional_half_close_both_ways)
{
	weft_rt *rt = test_rt(2);
	weft_bytes *ca, *cb, *sa, *sb;
	uint64_t ab = 0, ba = 0;
	weft_join *jc, *js, *jb;

	cr_assert_eq(weft_bytes_duplex(&ca, &cb, 2048), 0);
	cr_assert_eq(weft_bytes_duplex(&sa, &sb, 3000), 0);
	cr_assert_eq(WEFT_SPAWN(rt, bt_bidi, &jb,
				{ .a = cb, .b = sa, .ab = &ab, .ba = &ba }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, talker, &js,
				{ .b = sb, .server = true, .seed_out = 2,
				  .seed_in = 1, .len_out = 50000 }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, talker, &jc,
				{ .b = ca, .seed_out = 1, .seed_in = 2,
				  .len_out = 300000 }), 0);
	cr_assert_eq(test_join(rt, jc), 50000, "the server's bytes, then EOF");
	cr_assert_eq(test_join(rt, js), 300000, "the client's bytes, then EOF");
	cr_assert_eq(test_join(rt, jb), 0);
	cr_assert_eq(ab, 300000);
	cr_assert_eq(ba, 50000);
	weft_bytes_drop(ca);
	weft_bytes_drop(cb);
	weft_bytes_drop(sa);
	weft_bytes_drop(sb);
	weft_rt_destroy(rt);
}
