/* fuzz/oneshot.c - libFuzzer harness: scripts of operations on one
 * weft_oneshot (heap, embedded inline, or embedded with a caller buffer),
 * checked against an exact model.
 *
 * Input: [kind] then 2-byte ops [op][arg]: send (once; later sends are
 * skipped: a second one is misuse), tx_drop, try_recv, recv future polls
 * (one future, or a fresh one per poll), recv drop, close, is_closed,
 * rx_drop; the end drops whatever end is left. Checked: every result is
 * the one the model gives (send 0 unless closed or the receiver is gone,
 * then -EPIPE; try_recv 0 once with the sent value, -EAGAIN while nothing
 * is sent and the channel is open, -EPIPE otherwise; the recv future the
 * same with PENDING for -EAGAIN); no lost wake-up, no waker clone left;
 * LeakSanitizer (in the libFuzzer build) finds the heap one freed. */
#include "fzsync.h"
#include "weft/oneshot.h"

static struct st {
	weft_oneshot *o;
	weft_oneshot emb;
	uint64_t buf[2];
	bool tx_done, rx_done, sent, closed, received;
	uint64_t val; /* what was sent */
	size_t elem;
	weft_oneshot_recv f;
	bool f_active;
	fz_task rk;
} S;

/* what a receive must give now: 0, -EAGAIN (PENDING) or -EPIPE */
static intptr_t model_recv(void)
{
	if (S.sent && !S.received)
		return 0;
	if (S.received || S.tx_done || S.closed)
		return -EPIPE;
	return -EAGAIN;
}

static void got(intptr_t res, const uint64_t *out)
{
	FUZZ_CHECK(res == model_recv());
	if (res == 0) {
		FUZZ_CHECK(!memcmp(out, &S.val, S.elem));
		S.received = true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_rd rd = { data, size };
	uint8_t kind = fz_byte(&rd);
	uint64_t out[2];

	memset(&S, 0, sizeof(S));
	fz_task_init(&S.rk);
	S.elem = kind & 4 ? 16 : (size_t)(kind >> 3) % 8 + 1;
	switch (kind % 3) {
	case 0:
		FUZZ_CHECK(weft_oneshot_create(&S.o, S.elem) == 0);
		break;
	case 1:
		if (S.elem > 8)
			S.elem = 8;
		FUZZ_CHECK(weft_oneshot_init(&S.emb, S.elem, NULL) == 0);
		S.o = &S.emb;
		break;
	default:
		FUZZ_CHECK(weft_oneshot_init(&S.emb, S.elem, S.buf) == 0);
		S.o = &S.emb;
		break;
	}
	while (rd.n >= 2) {
		uint8_t op = fz_byte(&rd), a = fz_byte(&rd);
		weft_poll p;
		int rc;

		switch (op % 9) {
		case 0: /* send */
			if (S.tx_done)
				break;
			S.val = (uint64_t)a * 0x0101010101010101ull;
			uint64_t v[2] = { S.val, ~S.val };

			if (S.elem > 8)
				memcpy(&S.val, v, 8); /* the first 8 bytes */
			rc = weft_oneshot_send(S.o, v);
			S.tx_done = true;
			if (S.closed || S.rx_done) {
				FUZZ_CHECK(rc == -EPIPE);
			} else {
				FUZZ_CHECK(rc == 0);
				S.sent = true;
			}
			if (S.elem > 8)
				S.elem = 8; /* compare the first 8 bytes */
			break;
		case 1:
			if (!S.tx_done) {
				weft_oneshot_tx_drop(S.o);
				S.tx_done = true;
			}
			break;
		case 2:
			if (S.rx_done)
				break;
			fz_forget(&S.rk);
			memset(out, 0, sizeof(out));
			rc = weft_oneshot_try_recv(S.o, a & 1 ? out : NULL);
			if (!(a & 1) && rc == 0) {
				FUZZ_CHECK(model_recv() == 0);
				S.received = true;
			} else {
				got(rc, out);
			}
			break;
		case 3:
		case 4: /* the recv future: the same one, or a fresh one */
			if (S.rx_done)
				break;
			if (!S.f_active || a & 1) {
				weft_oneshot_recv_init(&S.f, S.o, out);
				S.f_active = true;
			}
			memset(out, 0, sizeof(out));
			p = weft_oneshot_recv_poll(&S.f, fz_cx(&S.rk));
			fz_polled(&S.rk, p);
			if (p == WEFT_PENDING) {
				FUZZ_CHECK(model_recv() == -EAGAIN);
			} else {
				got(S.f.res, out);
				S.f_active = false;
			}
			break;
		case 5:
			if (S.f_active) {
				weft_oneshot_recv_drop(&S.f);
				S.f_active = false;
				fz_forget(&S.rk);
			}
			break;
		case 6:
			if (!S.rx_done) {
				fz_forget(&S.rk);
				weft_oneshot_close(S.o);
				S.closed = true;
			}
			break;
		case 7:
			if (!S.tx_done)
				FUZZ_CHECK(weft_oneshot_is_closed(S.o) ==
					   (S.closed || S.rx_done));
			break;
		default:
			if (!S.rx_done && a % 4 == 0) {
				if (S.f_active)
					weft_oneshot_recv_drop(&S.f);
				S.f_active = false;
				fz_forget(&S.rk);
				weft_oneshot_rx_drop(S.o);
				S.rx_done = true;
				FUZZ_CHECK(S.rk.live == 0);
			}
			break;
		}
	}
	if (S.f_active)
		weft_oneshot_recv_drop(&S.f);
	if (!S.rx_done)
		weft_oneshot_rx_drop(S.o);
	if (!S.tx_done)
		weft_oneshot_tx_drop(S.o);
	FUZZ_CHECK(S.rk.live == 0);
	return 0;
}
