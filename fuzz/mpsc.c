/* fuzz/mpsc.c - libFuzzer harness: scripts of operations on one
 * weft_mpsc channel, checked against a model.
 *
 * Input: [cap][end] then 2-byte ops [op][arg]. cap % 9: 0 unbounded, else
 * bounded at that many. Up to 4 sender handles (clones), 4 send futures,
 * 2 reserve futures, permits, the receiver's recv / recv_many / try_recv,
 * close and receiver drop, all polled by hand (fzsync.h). Every value is
 * a fresh id; the model knows for each whether it was delivered (a send
 * returned 0, a send future completed or was dropped with res 0),
 * refused (res < 0), or not known yet (a send future still out). Checked:
 *  - results: -EPIPE exactly when closed, -EAGAIN only when bounded and
 *    full or senders wait; with no future out, a bounded try_send
 *    succeeds exactly when buffered values + permits < cap, and
 *    weft_mpsc_len is the model's count; recv is PENDING / -EAGAIN only
 *    with nothing delivered unreceived, -EPIPE only closed and drained;
 *  - order: a value known delivered before another's send began is
 *    received first; send futures that waited are delivered in the order
 *    they began waiting (FIFO);
 *  - nothing lost or duplicated: at the end (every future dropped, every
 *    handle dropped; the receiver drained first or dropped with values
 *    left, as `end` says) each delivered value was received or released
 *    (the element destructor) exactly once, each refused one neither;
 *  - no lost wake-up (fzsync.h), no waker clone left (live == 0). */
#include "fzsync.h"
#include "weft/mpsc.h"

#define NV 512

enum { OFFERED, DELIVERED, REFUSED };

struct val {
	uint8_t state;
	uint8_t received, released;
	uint32_t t_start, t_deliv, t_pend, rseq;
};

struct sendf {
	weft_mpsc_send f;
	bool active;
	uint64_t v;
	fz_task k;
};

struct resf {
	weft_mpsc_reserve f;
	bool active;
	fz_task k;
};

static struct st {
	struct val v[NV];
	uint32_t nv, now, rseq;
	size_t cap;
	weft_mpsc_tx *tx[4];
	weft_mpsc_rx *rx;
	bool closed;
	struct sendf s[4];
	struct resf r[2];
	unsigned permits;
	fz_task rk;
} S;

static void release(void *elem)
{
	uint64_t id;

	memcpy(&id, elem, 8);
	FUZZ_CHECK(id < S.nv);
	FUZZ_CHECK(S.v[id].state != REFUSED);
	FUZZ_CHECK(!S.v[id].received && !S.v[id].released);
	S.v[id].released = 1;
}

static uint64_t new_val(void)
{
	uint64_t id = S.nv++;

	S.v[id] = (struct val){ .state = OFFERED, .t_start = S.now };
	return id;
}

static void delivered(uint64_t id)
{
	FUZZ_CHECK(S.v[id].state == OFFERED);
	S.v[id].state = DELIVERED;
	S.v[id].t_deliv = S.now;
}

static void refused(uint64_t id)
{
	FUZZ_CHECK(S.v[id].state == OFFERED);
	/* a refused value was never in the channel */
	FUZZ_CHECK(!S.v[id].received && !S.v[id].released);
	S.v[id].state = REFUSED;
}

/* values known delivered and still in the channel */
FZ_MODEL static unsigned buffered(void)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < S.nv; i++)
		n += S.v[i].state == DELIVERED && !S.v[i].received &&
		     !S.v[i].released;
	return n;
}

static bool futures_out(void)
{
	for (int i = 0; i < 4; i++)
		if (S.s[i].active)
			return true;
	return S.r[0].active || S.r[1].active;
}

static bool senders(void)
{
	for (int i = 0; i < 4; i++)
		if (S.tx[i])
			return true;
	return false;
}

FZ_MODEL static void got(uint64_t id)
{
	FUZZ_CHECK(id < S.nv);
	FUZZ_CHECK(S.v[id].state != REFUSED);
	FUZZ_CHECK(!S.v[id].received && !S.v[id].released);
	S.v[id].received = 1;
	S.v[id].rseq = ++S.rseq;
	/* anything known delivered before this one began comes first */
	for (uint32_t i = 0; i < S.nv; i++)
		if (S.v[i].state == DELIVERED && !S.v[i].received &&
		    !S.v[i].released)
			FUZZ_CHECK(S.v[i].t_deliv >= S.v[id].t_start);
}

static void check_empty_result(intptr_t r)
{
	/* nothing to receive: -EPIPE when closed (or no sender), else wait */
	FUZZ_CHECK(buffered() == 0);
	if (r == -EPIPE)
		FUZZ_CHECK(S.closed || !senders());
	else
		FUZZ_CHECK(!S.closed && senders());
}

static void send_done(struct sendf *s, intptr_t res)
{
	s->active = false;
	if (res == 0) {
		delivered(s->v);
	} else {
		FUZZ_CHECK(res == -EPIPE || res == -ECANCELED);
		if (res == -EPIPE)
			FUZZ_CHECK(S.closed);
		refused(s->v);
	}
}

static void poll_send(struct sendf *s)
{
	weft_poll p = weft_mpsc_send_poll(&s->f, fz_cx(&s->k));

	fz_polled(&s->k, p);
	if (p == WEFT_READY)
		send_done(s, s->f.res);
	else
		FUZZ_CHECK(S.cap && !S.closed);
	if (p == WEFT_PENDING && !S.v[s->v].t_pend)
		S.v[s->v].t_pend = S.now;
}

static void drop_send(struct sendf *s)
{
	weft_mpsc_send_drop(&s->f);
	fz_forget(&s->k);
	send_done(s, s->f.res);
	FUZZ_CHECK(s->k.live == 0);
}

static void poll_reserve(struct resf *r)
{
	weft_poll p = weft_mpsc_reserve_poll(&r->f, fz_cx(&r->k));

	fz_polled(&r->k, p);
	if (p == WEFT_PENDING) {
		FUZZ_CHECK(S.cap && !S.closed);
		return;
	}
	r->active = false;
	if (r->f.res == 0) {
		S.permits++;
	} else {
		FUZZ_CHECK(r->f.res == -EPIPE);
		FUZZ_CHECK(S.closed);
	}
}

static void recv_result(weft_poll p, intptr_t res, uint64_t id)
{
	fz_polled(&S.rk, p);
	if (p == WEFT_PENDING) {
		check_empty_result(-EAGAIN);
		return;
	}
	if (res == 0)
		got(id);
	else
		check_empty_result(res);
}

static void op(uint8_t o, uint8_t a)
{
	struct sendf *s = &S.s[a % 4];
	struct resf *r = &S.r[a % 2];
	uint64_t id;
	int rc;

	if (S.nv + 8 >= NV)
		return;
	S.now++;
	switch (o % 15) {
	case 0: /* try_send */
		if (!S.tx[a % 4])
			break;
		id = new_val();
		rc = weft_mpsc_try_send(S.tx[a % 4], &id);
		if (!futures_out() && S.cap && !S.closed)
			FUZZ_CHECK((rc == 0) == (buffered() + S.permits <
						 S.cap));
		if (rc == 0) {
			FUZZ_CHECK(!S.closed);
			delivered(id);
		} else {
			FUZZ_CHECK(rc == (S.closed ? -EPIPE : -EAGAIN));
			FUZZ_CHECK(rc == -EPIPE || S.cap);
			refused(id);
		}
		break;
	case 1: /* a send future: begin, or poll again */
		if (!s->active) {
			s->v = new_val();
			s->active = true;
			weft_mpsc_send_init(&s->f, S.tx[0], &s->v);
		}
		poll_send(s);
		break;
	case 2:
		if (s->active)
			drop_send(s);
		break;
	case 3: /* a reserve: begin, or poll again */
		if (!r->active) {
			r->active = true;
			weft_mpsc_reserve_init(&r->f, S.tx[0]);
		}
		poll_reserve(r);
		break;
	case 4:
		if (r->active) {
			weft_mpsc_reserve_drop(&r->f);
			fz_forget(&r->k);
			r->active = false;
			FUZZ_CHECK(r->k.live == 0);
		}
		break;
	case 5:
		if (!S.permits)
			break;
		S.permits--;
		id = new_val();
		rc = weft_mpsc_permit_send(S.tx[0], &id);
		if (rc == 0) {
			FUZZ_CHECK(!S.closed);
			delivered(id);
		} else {
			FUZZ_CHECK(rc == -EPIPE && S.closed);
			refused(id);
		}
		break;
	case 6:
		if (S.permits) {
			S.permits--;
			weft_mpsc_permit_release(S.tx[0]);
		}
		break;
	case 7:
	case 8: { /* recv (a fresh future per poll, as tasks re-poll) */
		weft_mpsc_recv f = { 0 };
		weft_poll p;

		if (!S.rx)
			break;
		id = UINT64_MAX;
		weft_mpsc_recv_init(&f, S.rx, &id);
		p = weft_mpsc_recv_poll(&f, fz_cx(&S.rk));
		recv_result(p, f.res, id);
		break;
	}
	case 9: { /* recv_many */
		weft_mpsc_recv_many f = { 0 };
		uint64_t ids[4];
		weft_poll p;
		size_t max = a % 4 + 1;

		if (!S.rx)
			break;
		weft_mpsc_recv_many_init(&f, S.rx, ids, max);
		p = weft_mpsc_recv_many_poll(&f, fz_cx(&S.rk));
		if (p == WEFT_READY && f.res > 0) {
			fz_polled(&S.rk, p);
			FUZZ_CHECK((size_t)f.res <= max);
			for (intptr_t i = 0; i < f.res; i++)
				got(ids[i]);
		} else {
			recv_result(p, f.res, 0);
		}
		break;
	}
	case 10: /* try_recv */
		if (!S.rx)
			break;
		fz_forget(&S.rk);
		rc = weft_mpsc_try_recv(S.rx, &id);
		if (rc == 0)
			got(id);
		else
			check_empty_result(rc);
		break;
	case 11: /* clone a sender */
		if (!S.tx[a % 4])
			S.tx[a % 4] = weft_mpsc_tx_clone(S.tx[0]);
		break;
	case 12: /* drop a clone (tx[0] stays: the futures use it) */
		if (a % 4 && S.tx[a % 4]) {
			weft_mpsc_tx_drop(S.tx[a % 4]);
			S.tx[a % 4] = NULL;
		}
		break;
	case 13:
		if (S.rx) {
			/* the receiver's own task: it runs, no wake needed */
			fz_forget(&S.rk);
			weft_mpsc_close(S.rx);
			S.closed = true;
		}
		break;
	default:
		if (S.rx && a % 8 == 0) {
			weft_mpsc_rx_drop(S.rx);
			S.rx = NULL;
			S.closed = true;
			FUZZ_CHECK(S.rk.live == 0);
			FUZZ_CHECK(buffered() == 0); /* all released */
		} else if (S.rx && !futures_out()) {
			FUZZ_CHECK(weft_mpsc_len(S.rx) == buffered());
		}
		if (S.tx[0])
			FUZZ_CHECK(weft_mpsc_is_closed(S.tx[0]) == S.closed);
		break;
	}
}

/* At the end: every value's fate, and FIFO among waiting senders. */
FZ_MODEL static void check_values(void)
{
	for (uint32_t i = 0; i < S.nv; i++) {
		struct val *v = &S.v[i];

		FUZZ_CHECK(v->state != OFFERED);
		if (v->state == DELIVERED)
			FUZZ_CHECK(v->received + v->released == 1);
		else
			FUZZ_CHECK(!v->received && !v->released);
		/* waiting senders are served in the order they waited */
		for (uint32_t j = 0; j < S.nv; j++)
			if (v->received && S.v[j].received && v->t_pend &&
			    S.v[j].t_pend && v->t_pend < S.v[j].t_pend)
				FUZZ_CHECK(v->rseq < S.v[j].rseq);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_rd rd = { data, size };
	uint8_t end;

	memset(&S, 0, sizeof(S));
	S.cap = fz_byte(&rd) % 9;
	end = fz_byte(&rd);
	fz_task_init(&S.rk);
	for (int i = 0; i < 4; i++)
		fz_task_init(&S.s[i].k);
	for (int i = 0; i < 2; i++)
		fz_task_init(&S.r[i].k);
	FUZZ_CHECK(weft_mpsc_create(&S.tx[0], &S.rx, 8, S.cap, release) == 0);
	while (rd.n >= 2) {
		uint8_t o = fz_byte(&rd);

		op(o, fz_byte(&rd));
	}
	/* the end: every future dropped, permits given back */
	S.now++;
	for (int i = 0; i < 4; i++)
		if (S.s[i].active)
			drop_send(&S.s[i]);
	for (int i = 0; i < 2; i++)
		if (S.r[i].active) {
			weft_mpsc_reserve_drop(&S.r[i].f);
			S.r[i].active = false;
		}
	for (; S.permits; S.permits--)
		weft_mpsc_permit_release(S.tx[0]);
	if (S.rx && !S.closed && !(end & 1))
		FUZZ_CHECK(weft_mpsc_len(S.rx) == buffered());
	if (end & 2) {
		/* senders first: the receiver drains, then -EPIPE */
		for (int i = 0; i < 4; i++)
			if (S.tx[i])
				weft_mpsc_tx_drop(S.tx[i]);
		memset(S.tx, 0, sizeof(S.tx));
		if (S.rx && !(end & 1)) {
			uint64_t id;
			int rc;

			while ((rc = weft_mpsc_try_recv(S.rx, &id)) == 0)
				got(id);
			FUZZ_CHECK(rc == -EPIPE);
			FUZZ_CHECK(buffered() == 0);
		}
		if (S.rx)
			weft_mpsc_rx_drop(S.rx);
	} else {
		if (S.rx)
			weft_mpsc_rx_drop(S.rx);
		for (int i = 0; i < 4; i++)
			if (S.tx[i])
				weft_mpsc_tx_drop(S.tx[i]);
	}
	check_values();
	FUZZ_CHECK(S.rk.live == 0);
	for (int i = 0; i < 4; i++)
		FUZZ_CHECK(S.s[i].k.live == 0);
	for (int i = 0; i < 2; i++)
		FUZZ_CHECK(S.r[i].k.live == 0);
	return 0;
}
