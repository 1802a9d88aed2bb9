/* fuzz/broadcast.c - libFuzzer harness: scripts of operations on one
 * weft_broadcast channel, checked against an exact model.
 *
 * Input: [cap] then 2-byte ops [op][arg] on up to 3 sender handles and 3
 * receivers (each with a recv future): send, tx clone/drop, subscribe,
 * rx drop, try_recv, recv polls, recv drop. The model keeps every value
 * sent (its id is its position), each receiver's position, and for each
 * value whether the element destructor released it. Checked:
 *  - send returns the number of live receivers, or -EPIPE with none (and
 *    stores nothing);
 *  - a receiver gets every value from its subscription on, in order,
 *    unless it fell more than cap behind: then -EOVERFLOW with exactly
 *    the number lost, and it continues at the oldest value held;
 *    -EAGAIN/PENDING when nothing is new and a sender is left, -EPIPE
 *    when none is and all was received;
 *  - release runs exactly once per stored value: when its slot is
 *    overwritten, or when the last receiver goes (for those still held),
 *    never for a refused send; all are released at the end;
 *  - no lost wake-up, no waker clone left. */
#include "fzsync.h"
#include "weft/broadcast.h"

#define NV 4096

static struct st {
	size_t cap;
	uint64_t total;        /* values stored */
	uint8_t released[NV];  /* per value: times released */
	weft_broadcast *tx[3];
	unsigned ntx;
	struct rx {
		weft_broadcast_rx rx;
		bool alive;
		uint64_t next;
		weft_broadcast_recv f;
		bool f_active;
		uint64_t out;
		fz_task k;
	} r[3];
} S;

static void release(void *elem)
{
	uint64_t id;

	memcpy(&id, elem, 8);
	FUZZ_CHECK(id < S.total);
	FUZZ_CHECK(!S.released[id]);
	S.released[id] = 1;
}

static unsigned live_rx(void)
{
	return S.r[0].alive + S.r[1].alive + S.r[2].alive;
}

/* the oldest value a receiver can still get */
static uint64_t oldest(void)
{
	return S.total > S.cap ? S.total - S.cap : 0;
}

static void check_recv(struct rx *r, intptr_t res, uint64_t missed,
		       uint64_t val)
{
	if (r->next < oldest()) {
		FUZZ_CHECK(res == -EOVERFLOW);
		FUZZ_CHECK(missed == oldest() - r->next);
		r->next = oldest();
	} else if (r->next < S.total) {
		FUZZ_CHECK(res == 0);
		FUZZ_CHECK(val == r->next);
		r->next++;
	} else {
		FUZZ_CHECK(res == (S.ntx ? -EAGAIN : -EPIPE));
	}
}

/* every value stored released exactly once */
FZ_MODEL static void check_all_released(void)
{
	for (uint64_t i = 0; i < S.total; i++)
		FUZZ_CHECK(S.released[i] == 1);
}

static void rx_drop(struct rx *r)
{
	if (r->f_active)
		weft_broadcast_recv_drop(&r->f);
	r->f_active = false;
	fz_forget(&r->k);
	weft_broadcast_rx_drop(&r->rx);
	r->alive = false;
	FUZZ_CHECK(r->k.live == 0);
	if (!live_rx())
		check_all_released();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_rd rd = { data, size };

	memset(&S, 0, sizeof(S));
	S.cap = fz_byte(&rd) % 8 + 1;
	for (int i = 0; i < 3; i++)
		fz_task_init(&S.r[i].k);
	FUZZ_CHECK(weft_broadcast_create(&S.tx[0], &S.r[0].rx, 8, S.cap,
					 release) == 0);
	S.ntx = 1;
	S.r[0].alive = true;
	while (rd.n >= 2 && S.total + 1 < NV) {
		uint8_t op = fz_byte(&rd), a = fz_byte(&rd);
		struct rx *r = &S.r[a % 3];
		weft_broadcast *any = S.tx[0] ? S.tx[0] : S.tx[1] ? S.tx[1]
								  : S.tx[2];
		uint64_t missed, v;
		weft_poll p;
		int rc;

		switch (op % 10) {
		case 0:
		case 1: /* send */
			if (!S.tx[a % 3])
				break;
			v = S.total;
			rc = weft_broadcast_send(S.tx[a % 3], &v);
			if (!live_rx()) {
				FUZZ_CHECK(rc == -EPIPE);
				break;
			}
			FUZZ_CHECK(rc == (int)live_rx());
			/* the overwritten value (not already released: the
			 * last receiver's drop releases what is held) */
			if (S.total >= S.cap)
				FUZZ_CHECK(S.released[S.total - S.cap] == 1);
			S.total++;
			break;
		case 2: /* clone a sender */
			if (any && !S.tx[a % 3]) {
				S.tx[a % 3] = weft_broadcast_tx_clone(any);
				S.ntx++;
			}
			break;
		case 3: /* drop a sender (the last one closes) */
			if (S.tx[a % 3] && (S.ntx > 1 || a & 0x80)) {
				weft_broadcast_tx_drop(S.tx[a % 3]);
				S.tx[a % 3] = NULL;
				S.ntx--;
			}
			break;
		case 4: /* subscribe */
			if (any && !r->alive) {
				weft_broadcast_subscribe(any, &r->rx);
				r->alive = true;
				r->next = S.total;
			}
			break;
		case 5: /* drop a receiver (not the last while no sender: the
			 * channel would be freed under the others' structs,
			 * which is fine, but nothing could follow) */
			if (r->alive)
				rx_drop(r);
			break;
		case 6: /* try_recv */
			if (!r->alive)
				break;
			fz_forget(&r->k);
			missed = 0;
			v = UINT64_MAX;
			rc = weft_broadcast_try_recv(&r->rx, &v, &missed);
			check_recv(r, rc, missed, v);
			break;
		case 7:
		case 8: /* recv future: begin or poll again */
			if (!r->alive)
				break;
			if (!r->f_active) {
				weft_broadcast_recv_init(&r->f, &r->rx, &r->out);
				r->f_active = true;
			}
			r->out = UINT64_MAX;
			p = weft_broadcast_recv_poll(&r->f, fz_cx(&r->k));
			fz_polled(&r->k, p);
			if (p == WEFT_PENDING) {
				FUZZ_CHECK(r->next >= S.total && S.ntx);
				break;
			}
			r->f_active = false;
			check_recv(r, r->f.res, r->f.missed, r->out);
			break;
		default:
			if (r->f_active) {
				weft_broadcast_recv_drop(&r->f);
				r->f_active = false;
				fz_forget(&r->k);
				FUZZ_CHECK(r->k.live == 0);
			}
			break;
		}
		if (!live_rx() && !S.ntx)
			return 0; /* the channel is gone */
	}
	/* the end: senders first (receivers then drain to -EPIPE), or
	 * receivers first */
	for (int i = 0; i < 3; i++)
		if (S.tx[i])
			weft_broadcast_tx_drop(S.tx[i]);
	S.ntx = 0;
	for (int i = 0; i < 3; i++) {
		struct rx *r = &S.r[i];
		uint64_t v, missed;
		int rc;

		if (!r->alive)
			continue;
		if (r->f_active) {
			/* woken by the close, or ready already */
			weft_poll p = weft_broadcast_recv_poll(&r->f,
							       fz_cx(&r->k));

			fz_polled(&r->k, p);
			FUZZ_CHECK(p == WEFT_READY);
			r->f_active = false;
			check_recv(r, r->f.res, r->f.missed, r->out);
		}
		do {
			missed = 0;
			rc = weft_broadcast_try_recv(&r->rx, &v, &missed);
			check_recv(r, rc, missed, v);
		} while (rc != -EPIPE);
		rx_drop(r);
	}
	check_all_released();
	return 0;
}
