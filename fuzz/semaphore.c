/* fuzz/semaphore.c - libFuzzer harness: scripts of operations on one
 * weft_semaphore, checked against a model.
 *
 * Input: [permits] then 2-byte ops [op][arg]: try_acquire, release of held
 * permits, add_permits, close, and up to 4 acquire futures (begin, poll,
 * drop). The model counts the permits that exist (initial + added) and
 * those the script holds. Checked:
 *  - permits conserved: with no future out, available == total - held
 *    (and at the end, everything dropped and released, == total);
 *    available + held <= total always;
 *  - try_acquire: -EINVAL for 0, -EPIPE once closed, with no future out
 *    0 exactly when enough are free, -EAGAIN otherwise;
 *  - FIFO, no barging: when an acquire completes, every acquire that was
 *    waiting before it has been granted in full (polling it gives READY
 *    with res 0), unless the semaphore was closed;
 *  - after close, waiting acquires complete with -EPIPE (one already
 *    granted may still complete with 0);
 *  - no lost wake-up, no waker clone left. */
#include "fzsync.h"
#include "weft/semaphore.h"

static struct st {
	weft_semaphore s;
	uint64_t total, held;
	bool closed;
	struct acq {
		weft_semaphore_acquire f;
		bool active, waiting;
		uint32_t t_pend;
		fz_task k;
	} a[4];
	uint32_t now;
} S;

static bool futures_out(void)
{
	for (int i = 0; i < 4; i++)
		if (S.a[i].active)
			return true;
	return false;
}

static void conserved(void)
{
	uint64_t av = weft_semaphore_available(&S.s);

	FUZZ_CHECK(av + S.held <= S.total);
	if (!futures_out())
		FUZZ_CHECK(av == S.total - S.held);
}

static void poll_acq(struct acq *q);

/* q completed with 0: the ones waiting before it were granted in full */
static void fifo(struct acq *q)
{
	for (int i = 0; i < 4; i++) {
		struct acq *o = &S.a[i];

		if (o == q || !o->active || !o->waiting ||
		    (q->waiting && o->t_pend > q->t_pend))
			continue;
		poll_acq(o);
		FUZZ_CHECK(!o->active);
		FUZZ_CHECK(o->f.res == 0 || S.closed);
	}
}

static void poll_acq(struct acq *q)
{
	weft_poll p = weft_semaphore_acquire_poll(&q->f, fz_cx(&q->k));

	fz_polled(&q->k, p);
	if (p == WEFT_PENDING) {
		FUZZ_CHECK(!S.closed);
		if (!q->waiting) {
			q->waiting = true;
			q->t_pend = ++S.now;
		}
		return;
	}
	q->active = false;
	if (q->f.res == 0) {
		FUZZ_CHECK(q->f.n);
		S.held += q->f.n;
		if (!S.closed)
			fifo(q);
	} else if (q->f.res == -EINVAL) {
		FUZZ_CHECK(q->f.n == 0);
	} else {
		FUZZ_CHECK(q->f.res == -EPIPE && S.closed);
	}
	q->waiting = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_rd rd = { data, size };

	memset(&S, 0, sizeof(S));
	S.total = fz_byte(&rd) % 17;
	FUZZ_CHECK(weft_semaphore_init(&S.s, S.total) == 0);
	for (int i = 0; i < 4; i++)
		fz_task_init(&S.a[i].k);
	while (rd.n >= 2) {
		uint8_t op = fz_byte(&rd), a = fz_byte(&rd);
		struct acq *q = &S.a[a % 4];
		uint64_t n = (a >> 2) % 9; /* 0: -EINVAL */
		int rc;

		switch (op % 7) {
		case 0: /* try_acquire */
			rc = weft_semaphore_try_acquire(&S.s, n);
			if (!n) {
				FUZZ_CHECK(rc == -EINVAL);
			} else if (S.closed) {
				FUZZ_CHECK(rc == -EPIPE);
			} else if (!futures_out()) {
				FUZZ_CHECK(rc == (S.total - S.held >= n ? 0
								 : -EAGAIN));
			} else {
				FUZZ_CHECK(rc == 0 || rc == -EAGAIN);
			}
			if (rc == 0)
				S.held += n;
			break;
		case 1: /* release some held permits */
			if (n > S.held)
				n = S.held;
			if (n) {
				FUZZ_CHECK(weft_semaphore_release(&S.s, n) == 0);
				S.held -= n;
			}
			break;
		case 2: /* add new permits */
			if (n) {
				FUZZ_CHECK(weft_semaphore_add_permits(&S.s, n) ==
					   0);
				S.total += n;
			}
			break;
		case 3:
			if (a % 8 == 0) {
				weft_semaphore_close(&S.s);
				S.closed = true;
			}
			FUZZ_CHECK(weft_semaphore_is_closed(&S.s) == S.closed);
			break;
		case 4:
		case 5: /* an acquire: begin or poll again */
			if (!q->active) {
				weft_semaphore_acquire_init(&q->f, &S.s,
							    (uint32_t)n);
				q->active = true;
				q->waiting = false;
			}
			poll_acq(q);
			break;
		default:
			if (q->active) {
				weft_semaphore_acquire_drop(&q->f);
				fz_forget(&q->k);
				q->active = q->waiting = false;
				FUZZ_CHECK(q->k.live == 0);
			}
			break;
		}
		conserved();
	}
	for (int i = 0; i < 4; i++)
		if (S.a[i].active) {
			weft_semaphore_acquire_drop(&S.a[i].f);
			S.a[i].active = false;
		}
	if (S.held)
		FUZZ_CHECK(weft_semaphore_release(&S.s, S.held) == 0);
	S.held = 0;
	FUZZ_CHECK(weft_semaphore_available(&S.s) == S.total);
	for (int i = 0; i < 4; i++)
		FUZZ_CHECK(S.a[i].k.live == 0);
	weft_semaphore_destroy(&S.s);
	return 0;
}
