/* sync/mpsc.c - bounded and unbounded multi-producer single-consumer
 * channels.
 *
 * Design. The consumer never takes the lock to receive; producers of a
 * bounded channel with room claim a slot with one CAS and no lock.
 *
 *  - Bounded ring: exactly cap slots, each {stamp, value}. A position is a
 *    stamp lap * one_lap + index (one_lap = the power of two above cap), so
 *    the index wraps at cap with no division. Slot i is free for position p
 *    when its stamp is p, holds p's value when it is p + 1, and becomes free
 *    for the next lap (p + one_lap) when the consumer has read it.
 *  - `tail` is the producers' word: next position << 2 | CLOSED | SLOW.
 *    Fast path (SLOW and CLOSED clear): check the slot is free, CAS tail
 *    forward, write the value, publish the stamp. CLOSED in the same word
 *    makes a send either land before a close (and be drained) or fail.
 *  - SLOW is set while anything must be decided under the lock: senders
 *    wait (FIFO, no overtaking) or permits are held (reserved slots count
 *    against cap), and briefly by any lock holder that counts the room
 *    ("freeze"). While SLOW is set only lock holders move tail, so
 *    values + in-flight claims + reserved <= cap is checked exactly.
 *  - Unbounded: a list of blocks of blk_n slots. Producers append under
 *    the lock (growth and -ENOMEM stay simple); the consumer reads without
 *    it, follows `next` at a block's end and keeps one spare block.
 *  - Back-pressure with batched handoff: a consumer that freed slots
 *    while tx_waiting is set hands the room over only once low_water
 *    slots are free (min(cap / 2, 64)), or at once when no value is ready
 *    at the new head (it is about to park or has drained the ring). Then,
 *    under one lock, it gives the room to the waiters oldest first: it
 *    copies a waiting send's value into the ring or counts a slot reserved
 *    for a waiting reserve, and wakes them in one batch outside the lock.
 *    Once nobody waits SLOW clears, so the woken producers find the rest
 *    of the room lock-free. A woken sender never retries. A waiter that
 *    finds room itself (after its fence) runs the same handoff, so FIFO
 *    holds either way. The price: while the receiver still has values to
 *    read, a waiter may wait with fewer than low_water slots free.
 *  - Receiver sleep, no lock: rx_state says who owns rx_waker. IDLE: the
 *    receiver; it registers its waker, stores PARKED (release), runs a
 *    seq_cst fence and re-checks the head slot and tx_done. A producer
 *    that published runs a fence and reads rx_state; if PARKED, one CAS
 *    to WAKING elects it (so a burst wakes the receiver once), it wakes
 *    the waker by reference and stores IDLE (release). The waker stays
 *    registered, so the next park clones nothing. A receiver that finds
 *    WAKING wakes its own task instead of touching the slot.
 *
 * Lifetime: tx_count counts sender handles (clone: relaxed increment, like
 * any reference count taken from a live handle; drop: acq_rel decrement).
 * The handle that takes it to zero sets tx_done under the lock; rx_drop
 * sets rx_gone under the lock; whoever sets the second flag frees. Debug
 * builds abort on a decrement from zero and on an rx_drop that finds
 * rx_gone (both only while the channel still exists).
 *
 * Element destructor (release, optional): rx_drop first closes the
 * channel (CLOSED in tail: no claim can succeed after it), then, still the
 * consumer, takes every published value off the ring and passes it to
 * release, outside the lock. A value whose slot a lock-free sender had
 * claimed before CLOSED but not yet published is left where it is;
 * mp_free() releases whatever lies between head and tail, by which time
 * every sender has returned (tx_done) so every claimed slot is published.
 * Values still in a waiting sender's frame are not the channel's: close
 * wakes those senders with CLOSED and they keep their values.
 *
 * Atomic pairs:
 *  1. slot stamp: the producer's release store of p + 1 (mp_publish) ->
 *     the consumer's acquire load (mp_head_ready): the value is visible.
 *  2. slot stamp: the consumer's release store of p + one_lap (mp_take) ->
 *     the producer's acquire load (mp_send_fast): the old value was read
 *     before it is overwritten.
 *  3. head: the consumer's release store (mp_take) -> the acquire load in
 *     mp_has_room_locked(): every slot before head is free.
 *  4. Dekker, receiver sleep: mp_park_rx() stores rx_state, seq_cst
 *     fence, re-reads the head slot and tx_done; mp_wake_rx() runs after
 *     a publish (and weft_mpsc_tx_drop() after tx_done): seq_cst fence,
 *     reads rx_state. One of the two sees the other.
 *  5. Dekker, waiting senders: mp_wait_locked() stores tx_waiting, seq_cst
 *     fence, reads head (mp_refill); mp_after_take() stores head, seq_cst
 *     fence, reads tx_waiting. Either the waiter sees the room or the
 *     consumer sees the waiter and hands the room over.
 *  6. tx_done: release store under the lock (weft_mpsc_tx_drop) ->
 *     acquire load in mp_finished(): every send of every handle is done.
 *  7. spare block: the consumer's release exchange (mp_recycle) -> the
 *     producer's acquire exchange (mp_push_unbounded): the consumer's reads
 *     of the block precede its reuse. blk->next: release store in
 *     mp_push_unbounded -> acquire load in mp_head_slot (base and the
 *     block's initialisation are visible).
 *  8. waiter state: weft__waiter_wake_locked()'s release store ->
 *     weft__waiter_state()'s acquire in the send/reserve future (wait.h).
 *  9. rx_waker ownership: mp_park_rx()'s release store of PARKED ->
 *     the acquire CAS in mp_wake_rx()/mp_take_rx_waker() (the waker is
 *     written); their release store of IDLE -> the acquire load in
 *     mp_park_rx() and the exchange in weft_mpsc_rx_drop() (the waker
 *     was used or moved out before the receiver rewrites or drops it).
 *  Everything else (the lists, reserved, tail_blk) is ordered by the
 *  lock; rx_closed and head_blk are the consumer's own.
 *
 * Measured (bench/weft-bench, release + LTO, 2 workers on 2 shared
 * cores, medians of 11 alternated runs; peers and method in
 * docs/sync.md): mpsc_throughput P=1 13.7 ns/msg, P=4 28.3 (69.9 with
 * one handoff and wake per message), ping_pong 78.3 ns per round trip
 * (109.7 with the locked park/wake).
 *
 * Stamps live in 62 bits of tail and grow by at most 2 per message: they
 * would wrap after 2^61 messages (73 years at 1 ns each); not handled.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/mpsc.h"
#include "wait.h"
#include "runtime/note.h"

enum { MP_W_SEND = 1, MP_W_RESERVE = 2 };

#define MP_CLOSED 1u /* tail: no more sends (close or rx_drop) */
#define MP_SLOW 2u   /* tail: claims only under the lock */
#define MP_FLAGS 3u

/* Free slots at which a receiver hands room to waiting senders (capped
 * at half the ring). bench: mpsc_throughput P=4. */
#define MP_HANDOFF_BATCH 64

/* rx_state: who owns rx_waker. IDLE: the receiver (not sleeping);
 * PARKED: the receiver sleeps, any waker may take it; WAKING: the one
 * waker whose CAS won is moving it out. */
enum { MP_RX_IDLE = 0, MP_RX_PARKED = 1, MP_RX_WAKING = 2 };

/* A slot: the stamp, then elem_size bytes (stride rounds to 8). */
typedef struct mp_slot {
	_Atomic uint64_t stamp;
	unsigned char data[];
} mp_slot;

/* An unbounded block of blk_n slots for positions base .. base+blk_n-1. */
typedef struct mp_blk {
	_Atomic(struct mp_blk *) next; /* producer (lock) links; consumer reads */
	uint64_t base;                 /* written before linking */
	unsigned char slots[];
} mp_blk;

typedef struct mp {
	/* producers' hot line */
	_Alignas(64) _Atomic uint64_t tail; /* next position << 2 | flags */

	/* consumer's hot line */
	_Alignas(64) _Atomic uint64_t head; /* consumer writes (release) */
	mp_blk *head_blk;                   /* consumer only (unbounded) */
	bool rx_closed;                     /* consumer: weft_mpsc_close() ran */

	/* read-mostly: set at creation */
	_Alignas(64) unsigned char *buf; /* bounded: cap slots */
	uint32_t elem_size;
	uint32_t stride;   /* bytes per slot */
	uint64_t cap;      /* bounded: values + reserved <= cap */
	uint64_t one_lap;  /* bounded: power of two > cap */
	uint32_t lap_shift;/* log2(one_lap) */
	uint32_t blk_n;    /* unbounded: slots per block */
	uint64_t low_water;/* bounded: free slots that trigger a handoff */
	bool bounded;
	void (*release)(void *elem); /* element destructor, or NULL */

	/* handshake flags: written rarely, read per message */
	_Alignas(64) _Atomic uint32_t rx_state;  /* MP_RX_*: receiver sleep */
	weft_waker rx_waker; /* owned as rx_state says; on rx_state's line,
			      * so a wake moves one line, not two */
	_Atomic uint32_t tx_waiting;             /* senders queued (lock) */
	_Atomic uint32_t tx_done;                /* last sender gone */

	/* the lock and what it guards */
	_Alignas(64) weft__lock lock;
	_Atomic uint32_t tx_count; /* sender handles */
	bool rx_gone;              /* lock: the receiver handle is gone */
	uint64_t reserved;         /* lock: slots promised to permits */
	weft__wlink senders;       /* lock: waiting send/reserve, FIFO */
	mp_blk *tail_blk;          /* lock: the block producers fill */
	_Atomic(mp_blk *) spare;   /* a free block kept for reuse */
} mp;

static inline mp *mp_of_tx(weft_mpsc_tx *tx)
{
	return (mp *)tx;
}

static inline mp *mp_of_rx(weft_mpsc_rx *rx)
{
	return (mp *)rx;
}

static uint64_t pow2_above(uint64_t n)
{
	uint64_t p = 2;

	while (p <= n)
		p <<= 1;
	return p;
}

static mp_blk *mp_blk_new(const mp *m)
{
	/* calloc: stamps 0 never match a position + 1 */
	return calloc(1, sizeof(mp_blk) + (size_t)m->blk_n * m->stride);
}

static int mp_alloc_ring(mp *m)
{
	if (!m->bounded) {
		m->blk_n = 16384 / m->stride;
		m->blk_n = m->blk_n < 4 ? 4 : m->blk_n > 256 ? 256 : m->blk_n;
		m->head_blk = m->tail_blk = mp_blk_new(m);
		return m->head_blk ? 0 : -ENOMEM;
	}
	m->low_water = m->cap / 2 < MP_HANDOFF_BATCH ? m->cap / 2 :
						       MP_HANDOFF_BATCH;
	if (m->low_water == 0)
		m->low_water = 1;
	m->one_lap = pow2_above(m->cap);
	m->lap_shift = (uint32_t)__builtin_ctzll(m->one_lap);
	m->buf = malloc(m->cap * m->stride);
	if (!m->buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < m->cap; i++) {
		mp_slot *s = (mp_slot *)(m->buf + i * m->stride);

		/* relaxed: initialisation, published with the handles */
		atomic_store_explicit(&s->stamp, i, memory_order_relaxed);
	}
	return 0;
}

int weft_mpsc_create(weft_mpsc_tx **tx, weft_mpsc_rx **rx, size_t elem_size,
		     size_t cap, void (*release)(void *elem))
{
	bool bounded = cap != WEFT_MPSC_UNBOUNDED;
	mp *m;

	if (!tx || !rx || elem_size == 0 || elem_size > (1u << 20))
		return -EINVAL;
	if (cap > (1u << 31))
		return -EINVAL;
	m = aligned_alloc(64, (sizeof(*m) + 63) & ~(size_t)63);
	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->elem_size = (uint32_t)elem_size;
	m->stride = (uint32_t)(sizeof(mp_slot) + ((elem_size + 7) & ~7ul));
	m->bounded = bounded;
	m->cap = cap;
	m->release = release;
	if (mp_alloc_ring(m))
		goto out_free;
	weft__lock_init(&m->lock);
	/* relaxed: initialisation, published by returning the handles */
	atomic_store_explicit(&m->tx_count, 1, memory_order_relaxed);
	weft__list_init(&m->senders);
	*tx = (weft_mpsc_tx *)m;
	*rx = (weft_mpsc_rx *)m;
	return 0;
out_free:
	free(m);
	return -ENOMEM;
}

static void mp_free(mp *m);

/* ------------------------------------------------------------ positions */

static inline void mp_copy(void *dst, const void *src, uint32_t size)
{
	switch (size) { /* constant sizes compile to plain moves */
	case 4:
		memcpy(dst, src, 4);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, size);
	}
}

/* The position after s (bounded: the index wraps at cap). */
static inline uint64_t mp_next(const mp *m, uint64_t s)
{
	if (!m->bounded || (s & (m->one_lap - 1)) + 1 < m->cap)
		return s + 1;
	return (s & ~(m->one_lap - 1)) + m->one_lap;
}

/* Values between two positions. */
static inline uint64_t mp_count(const mp *m, uint64_t t, uint64_t h)
{
	if (!m->bounded)
		return t - h;
	return ((t >> m->lap_shift) - (h >> m->lap_shift)) * m->cap +
	       (t & (m->one_lap - 1)) - (h & (m->one_lap - 1));
}

static inline mp_slot *mp_ring_slot(const mp *m, uint64_t s)
{
	return (mp_slot *)(m->buf + (s & (m->one_lap - 1)) * m->stride);
}

static inline mp_slot *mp_blk_slot(const mp *m, mp_blk *b, uint64_t s)
{
	return (mp_slot *)(b->slots + (s - b->base) * m->stride);
}

/* Writes the value of position s into sl and publishes it. */
static inline void mp_publish(const mp *m, mp_slot *sl, uint64_t s,
			      const void *value)
{
	mp_copy(sl->data, value, m->elem_size);
	/* release: publishes the value; pairs with the acquire in
	 * mp_head_ready() (pair 1) */
	atomic_store_explicit(&sl->stamp, s + 1, memory_order_release);
}

static inline uint64_t mp_tail(mp *m)
{
	/* acquire: orders the head/slot reads that follow after the flags
	 * (CLOSED) we act on; tail itself carries no data */
	return atomic_load_explicit(&m->tail, memory_order_acquire);
}

/* ----------------------------------------------------- receiver wakeups */

/* The last sender's drop (under the lock, since m may be freed right
 * after): if the receiver is parked, moves its waker out and returns it
 * (the caller wakes it); else returns the empty waker. */
static weft_waker mp_take_rx_waker(mp *m)
{
	uint32_t s = MP_RX_PARKED;
	weft_waker w;

	/* acquire: the receiver's rx_waker write, published by its release
	 * store of PARKED in mp_park_rx() (pair 9). The CAS elects the one
	 * waker; a failed CAS owns nothing, so relaxed */
	if (!atomic_compare_exchange_strong_explicit(&m->rx_state, &s,
						     MP_RX_WAKING,
						     memory_order_acquire,
						     memory_order_relaxed))
		return WEFT_WAKER_NONE;
	w = m->rx_waker;
	m->rx_waker = WEFT_WAKER_NONE;
	/* release: the waker moved out before the receiver may write the
	 * slot again; pairs with the acquire loads in mp_park_rx() and
	 * weft_mpsc_rx_drop() (pair 9) */
	atomic_store_explicit(&m->rx_state, MP_RX_IDLE, memory_order_release);
	return w;
}

/* After publishing: wakes the receiver if it sleeps (pair 4). One RMW
 * when it is parked, none when it is not. */
static void mp_wake_rx(mp *m)
{
	uint32_t s = MP_RX_PARKED;

	/* seq_cst: our stamp store before the rx_state load; pairs with
	 * the fence in mp_park_rx(). Release/acquire cannot order a store
	 * before a later load. */
	atomic_thread_fence(memory_order_seq_cst);
	/* relaxed: a hint, decided by the CAS below */
	if (atomic_load_explicit(&m->rx_state, memory_order_relaxed) !=
	    MP_RX_PARKED)
		return;
	/* acquire: as in mp_take_rx_waker() (pair 9) */
	if (!atomic_compare_exchange_strong_explicit(&m->rx_state, &s,
						     MP_RX_WAKING,
						     memory_order_acquire,
						     memory_order_relaxed))
		return;
	/* by reference: the waker stays registered, so the receiver's next
	 * park needs no clone (one task-refcount RMW less per message) */
	weft_waker_wake_by_ref(&m->rx_waker);
	/* release: our use of rx_waker before the receiver may replace it
	 * (pair 9) */
	atomic_store_explicit(&m->rx_state, MP_RX_IDLE, memory_order_release);
}

/* The receiver goes to sleep without the lock: stores its waker, marks
 * itself PARKED, then the caller re-checks the ring (pair 4). */
static void mp_park_rx(mp *m, weft_cx *cx)
{
	/* acquire: a waker's move of rx_waker out (pair 9) */
	uint32_t s = atomic_load_explicit(&m->rx_state, memory_order_acquire);

	/* still PARKED from an earlier poll: take the slot back to refresh
	 * it. acquire on both outcomes: as above */
	if (s == MP_RX_PARKED &&
	    atomic_compare_exchange_strong_explicit(&m->rx_state, &s,
						    MP_RX_IDLE,
						    memory_order_acquire,
						    memory_order_acquire))
		s = MP_RX_IDLE;
	if (s == MP_RX_WAKING) {
		/* a sender is waking the waker we stored before and owns
		 * the slot for a few instructions: make sure this task runs
		 * again instead of waiting for it */
		weft_waker_wake_by_ref(&cx->waker);
		return;
	}
	weft_waker_register(&m->rx_waker, cx);
	/* release: publishes rx_waker to mp_take_rx_waker() (pair 9) */
	atomic_store_explicit(&m->rx_state, MP_RX_PARKED, memory_order_release);
	/* seq_cst: rx_state before the re-read of the head slot and
	 * tx_done; pairs with the fences in mp_wake_rx() and
	 * weft_mpsc_tx_drop() */
	atomic_thread_fence(memory_order_seq_cst);
}

/* The re-check found work: cancels the sleep and keeps the waker for the
 * next park. If a sender already took it, it will wake us once
 * (harmless). */
static void mp_unpark_rx(mp *m)
{
	uint32_t s = MP_RX_PARKED;

	/* relaxed: on success the slot was ours all along (we wrote it);
	 * on failure a sender owns the wake */
	atomic_compare_exchange_strong_explicit(&m->rx_state, &s, MP_RX_IDLE,
						memory_order_relaxed,
						memory_order_relaxed);
}

/* -------------------------------------------------------- bounded, lock */

/* Lock held: no lock-free claim may move tail until mp_settle_locked(). */
static inline void mp_freeze_locked(mp *m)
{
	/* relaxed: the lock orders everything we read next; the RMW makes
	 * any racing fast-path CAS fail (it expects SLOW clear) */
	atomic_fetch_or_explicit(&m->tail, MP_SLOW, memory_order_relaxed);
}

/* Lock held: publishes whether senders wait and reopens the fast path
 * when nothing needs the lock any more. */
static void mp_settle_locked(mp *m)
{
	bool waiting = !weft__list_empty(&m->senders);

	if (!m->bounded)
		return;
	/* relaxed: the waiter's own fence (mp_wait_locked) orders the 1;
	 * a stale 1 only costs the consumer a lock round trip */
	atomic_store_explicit(&m->tx_waiting, waiting, memory_order_relaxed);
	if (!waiting && m->reserved == 0)
		/* relaxed: as in mp_freeze_locked() */
		atomic_fetch_and_explicit(&m->tail, ~(uint64_t)MP_SLOW,
					  memory_order_relaxed);
}

/* Lock held, frozen: is there room for one more value or permit? */
static bool mp_has_room_locked(mp *m)
{
	/* relaxed: only lock holders move tail while frozen */
	uint64_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);
	/* acquire: every slot before head is free (pair 3) */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_acquire);

	return mp_count(m, t >> 2, h) + m->reserved < m->cap;
}

/* Lock held, frozen, room checked: appends a value. */
static void mp_claim_locked(mp *m, const void *value)
{
	/* relaxed: only lock holders move tail while frozen */
	uint64_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);
	uint64_t s = t >> 2;

	/* relaxed: the value is published by the stamp (pair 1) */
	atomic_store_explicit(&m->tail, mp_next(m, s) << 2 | (t & MP_FLAGS),
			      memory_order_relaxed);
	mp_publish(m, mp_ring_slot(m, s), s, value);
}

/* Lock held, frozen: hands free room to waiting senders, oldest first,
 * until the room, the waiters or the batch run out. A waiter equal to
 * self is completed without a wake (its owner is polling). */
static void mp_refill(mp *m, weft__wake_batch *b, weft__waiter *self)
{
	while (!weft__list_empty(&m->senders) && !weft__batch_full(b) &&
	       mp_has_room_locked(m)) {
		weft__waiter *w = weft__list_pop_front(&m->senders);

		if (w->arg == MP_W_SEND)
			mp_claim_locked(m, ((weft_mpsc_send *)w)->value);
		else
			m->reserved++;
		if (w == self) {
			weft_waker_drop(&w->waker);
			/* release: as in weft__waiter_wake_locked() */
			atomic_store_explicit(&w->state, WEFT__W_WOKEN,
					      memory_order_release);
		} else {
			weft__waiter_wake_locked(w, WEFT__W_WOKEN, b);
		}
	}
}

/* Unlocks, then wakes what the batch holds. */
static void mp_unlock_wake(mp *m, weft__wake_batch *b)
{
	weft__lock_release(&m->lock);
	weft__batch_wake(b);
}

/* Lock held, frozen: queues w, then runs the handoff in case room
 * appeared (pair 5). */
static void mp_wait_locked(mp *m, weft__waiter *w, const weft_cx *cx,
			   weft__wake_batch *b)
{
	weft__waiter_enqueue_locked(&m->senders, w, cx);
	/* relaxed: ordered before the head read by the fence */
	atomic_store_explicit(&m->tx_waiting, 1, memory_order_relaxed);
	/* seq_cst: tx_waiting before the head read in mp_refill(); pairs
	 * with the fence in mp_after_take() */
	atomic_thread_fence(memory_order_seq_cst);
	mp_refill(m, b, w);
}

/* Lock-free send: 1 sent, 0 take the lock (full, waiters, permits),
 * -EPIPE closed. */
static int mp_send_fast(mp *m, const void *value)
{
	/* relaxed: a guess, checked by the CAS */
	uint64_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);

	for (;;) {
		if (t & MP_FLAGS)
			return t & MP_CLOSED ? -EPIPE : 0;
		uint64_t s = t >> 2;
		mp_slot *sl = mp_ring_slot(m, s);
		/* acquire: the consumer read the slot's old value before
		 * freeing it (pair 2) */
		int64_t d = (int64_t)(atomic_load_explicit(
				&sl->stamp, memory_order_acquire) - s);

		if (d == 0) {
			/* relaxed: the CAS only elects the slot's writer;
			 * the value is published by the stamp (pair 1) */
			if (atomic_compare_exchange_weak_explicit(
				    &m->tail, &t, mp_next(m, s) << 2,
				    memory_order_relaxed, memory_order_relaxed)) {
				mp_publish(m, sl, s, value);
				return 1;
			}
		} else if (d < 0) {
			return 0; /* the previous lap is still there: full */
		} else {
			/* relaxed: someone took s; look again */
			t = atomic_load_explicit(&m->tail, memory_order_relaxed);
		}
	}
}

/* ------------------------------------------------------ unbounded, lock */

/* Lock held, not closed: appends a value. Returns 0 or -ENOMEM. */
static int mp_push_unbounded(mp *m, const void *value)
{
	/* relaxed: only lock holders move an unbounded tail */
	uint64_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);
	uint64_t s = t >> 2;
	mp_blk *b = m->tail_blk;

	if (s - b->base == m->blk_n) {
		/* acquire: the consumer is done with the block (pair 7) */
		mp_blk *nb = atomic_exchange_explicit(&m->spare, NULL,
						      memory_order_acquire);

		if (!nb && !(nb = mp_blk_new(m)))
			return -ENOMEM;
		nb->base = s;
		/* relaxed: published with the link below */
		atomic_store_explicit(&nb->next, NULL, memory_order_relaxed);
		/* release: base and the block before the link (pair 7) */
		atomic_store_explicit(&b->next, nb, memory_order_release);
		m->tail_blk = b = nb;
	}
	/* relaxed: the value is published by the stamp (pair 1) */
	atomic_store_explicit(&m->tail, (s + 1) << 2 | (t & MP_FLAGS),
			      memory_order_relaxed);
	mp_publish(m, mp_blk_slot(m, b, s), s, value);
	return 0;
}

/* Consumer: a fully read block goes to the spare slot (or is freed). */
static void mp_recycle(mp *m, mp_blk *b)
{
	/* release: our reads of b before a producer reuses it (pair 7) */
	free(atomic_exchange_explicit(&m->spare, b, memory_order_release));
}

/* ---------------------------------------------------------------- sender */

weft_mpsc_tx *weft_mpsc_tx_clone(weft_mpsc_tx *tx)
{
	/* relaxed: the caller's handle keeps the count above zero, as with
	 * any reference count; nothing is published */
	atomic_fetch_add_explicit(&mp_of_tx(tx)->tx_count, 1,
				  memory_order_relaxed);
	return tx;
}

void weft_mpsc_tx_drop(weft_mpsc_tx *tx)
{
	mp *m = mp_of_tx(tx);
	weft_waker w = WEFT_WAKER_NONE;
	uint32_t count;
	bool free_it;

	if (!m)
		return;
	/* acq_rel: the last dropper must see every other handle's accesses
	 * (acquire) and others' must precede it (release) */
	count = atomic_fetch_sub_explicit(&m->tx_count, 1, memory_order_acq_rel);
	WEFT_DEBUG_CHECK(count != 0, "weft_mpsc_tx_drop",
		"every sender handle was already dropped: drop each handle "
		"(the one from weft_mpsc_create and each clone) once");
	if (count != 1)
		return;
	weft__lock_acquire(&m->lock);
	/* release: every send before it; pairs with mp_finished() (6) */
	atomic_store_explicit(&m->tx_done, 1, memory_order_release);
	/* seq_cst: tx_done before the rx_state read; pairs with the fence
	 * in mp_park_rx() (pair 4). Under the lock so that rx_drop cannot
	 * free m while we touch it. */
	atomic_thread_fence(memory_order_seq_cst);
	w = mp_take_rx_waker(m);
	free_it = m->rx_gone;
	weft__lock_release(&m->lock);
	if (free_it)
		mp_free(m);
	else
		weft_waker_wake(&w);
}

bool weft_mpsc_is_closed(weft_mpsc_tx *tx)
{
	return mp_tail(mp_of_tx(tx)) & MP_CLOSED;
}

/* Any send under the lock: 0, -EAGAIN (bounded: full or senders
 * waiting), -EPIPE, -ENOMEM. */
static int mp_send_locked(mp *m, const void *value)
{
	/* relaxed: CLOSED is set under the lock we hold */
	if (atomic_load_explicit(&m->tail, memory_order_relaxed) & MP_CLOSED)
		return -EPIPE;
	if (!m->bounded)
		return mp_push_unbounded(m, value);
	if (!weft__list_empty(&m->senders) || !mp_has_room_locked(m))
		return -EAGAIN;
	mp_claim_locked(m, value);
	return 0;
}

int weft_mpsc_try_send(weft_mpsc_tx *tx, const void *value)
{
	mp *m = mp_of_tx(tx);
	int err;

	if (!m || !value)
		return -EINVAL;
	err = m->bounded ? mp_send_fast(m, value) : 0;
	if (err == 0) {
		weft__lock_acquire(&m->lock);
		if (m->bounded)
			mp_freeze_locked(m);
		err = mp_send_locked(m, value);
		mp_settle_locked(m);
		weft__lock_release(&m->lock);
	}
	if (err >= 0)
		mp_wake_rx(m);
	return err > 0 ? 0 : err;
}

void weft_mpsc_send_init(weft_mpsc_send *s, weft_mpsc_tx *tx,
			 const void *value)
{
	WEFT__WAITER_CHECK_INIT(&s->w, "weft_mpsc_send_init",
		"the send is still registered (waiting for room, or its value "
		"was delivered and it was not yet polled): call "
		"weft_mpsc_send_drop before initialising it again");
	weft__waiter_init(&s->w, MP_W_SEND);
	s->tx = tx;
	s->value = value;
	s->res = 0;
}

/* Lock held, frozen, bounded, open: grants at once or queues w. */
static bool mp_grant_or_wait_locked(mp *m, weft__waiter *w, const void *value,
				    const weft_cx *cx, weft__wake_batch *b)
{
	if (weft__list_empty(&m->senders) && mp_has_room_locked(m)) {
		if (value)
			mp_claim_locked(m, value);
		else
			m->reserved++;
		return true;
	}
	mp_wait_locked(m, w, cx, b);
	return weft__waiter_state(w) != WEFT__W_QUEUED;
}

/* Common first poll of send and reserve (value NULL): completes at once
 * (returns true, *res set) or queues w. */
static bool mp_first_poll(mp *m, weft__waiter *w, const void *value,
			  const weft_cx *cx, intptr_t *res)
{
	weft__wake_batch b;
	bool done = true;
	int err;

	if (value && m->bounded && (err = mp_send_fast(m, value)) != 0) {
		*res = err > 0 ? 0 : err;
		if (err > 0)
			mp_wake_rx(m);
		return true;
	}
	*res = 0;
	weft__batch_init(&b);
	weft__lock_acquire(&m->lock);
	if (m->bounded)
		mp_freeze_locked(m);
	/* relaxed: CLOSED is set under the lock we hold */
	if (atomic_load_explicit(&m->tail, memory_order_relaxed) & MP_CLOSED)
		*res = -EPIPE;
	else if (!m->bounded)
		*res = value ? mp_push_unbounded(m, value) : 0;
	else
		done = mp_grant_or_wait_locked(m, w, value, cx, &b);
	mp_settle_locked(m);
	mp_unlock_wake(m, &b);
	mp_wake_rx(m);
	return done;
}

/* Re-polled while queued: refreshes the waker. Returns true if still
 * waiting. */
static bool mp_still_queued(mp *m, weft__waiter *w, const weft_cx *cx)
{
	bool queued;

	weft__lock_acquire(&m->lock);
	queued = weft__waiter_state(w) == WEFT__W_QUEUED;
	if (queued)
		weft_waker_register(&w->waker, cx);
	weft__lock_release(&m->lock);
	return queued;
}

/* The state machine shared by send and reserve. */
static weft_poll mp_wait_poll(mp *m, weft__waiter *w, const void *value,
			      weft_cx *cx, intptr_t *res)
{
	switch (weft__waiter_state(w)) {
	case WEFT__W_IDLE:
		if (!weft_coop_proceed(cx))
			return WEFT_PENDING;
		if (!mp_first_poll(m, w, value, cx, res))
			return WEFT_PENDING;
		break;
	case WEFT__W_QUEUED:
		if (mp_still_queued(m, w, cx))
			return WEFT_PENDING;
		return mp_wait_poll(m, w, value, cx, res);
	case WEFT__W_WOKEN:
		*res = 0;
		break;
	case WEFT__W_CLOSED:
		*res = -EPIPE;
		break;
	default: /* DONE: fused */
		return WEFT_READY;
	}
	weft__waiter_set_state(w, WEFT__W_DONE);
	return WEFT_READY;
}

/* The dump's wait note (runtime/note.h): one store when PENDING. */
static inline weft_poll mp_noted(mp *m, weft_cx *cx, weft_poll p)
{
	if (p == WEFT_PENDING)
		weft__cx_note(cx, WEFT_WAIT_CHANNEL, (uint64_t)(uintptr_t)m);
	return p;
}

weft_poll weft_mpsc_send_poll(weft_mpsc_send *s, weft_cx *cx)
{
	mp *m = mp_of_tx(s->tx);

	return mp_noted(m, cx, mp_wait_poll(m, &s->w, s->value, cx, &s->res));
}

/* Unlinks a queued waiter. Returns its state as of the lock: QUEUED if
 * we removed it, else the state the channel gave it. */
static uint32_t mp_cancel(mp *m, weft__waiter *w)
{
	uint32_t st = weft__waiter_state(w);

	if (st != WEFT__W_QUEUED)
		return st;
	weft__lock_acquire(&m->lock);
	st = weft__waiter_state(w);
	if (st == WEFT__W_QUEUED) {
		weft__list_unlink(&w->link);
		mp_settle_locked(m);
	}
	weft__lock_release(&m->lock);
	if (st == WEFT__W_QUEUED)
		weft_waker_drop(&w->waker);
	return st;
}

void weft_mpsc_send_drop(weft_mpsc_send *s)
{
	uint32_t st = mp_cancel(mp_of_tx(s->tx), &s->w);

	/* res says whether the value was delivered: WOKEN, the receiver
	 * copied it in; DONE, res is READY's (or an earlier drop's) */
	if (st == WEFT__W_WOKEN)
		s->res = 0;
	else if (st == WEFT__W_CLOSED)
		s->res = -EPIPE;
	else if (st != WEFT__W_DONE)
		s->res = -ECANCELED; /* IDLE, or unlinked while QUEUED */
	weft__waiter_set_state(&s->w, WEFT__W_DONE);
}

void weft_mpsc_reserve_init(weft_mpsc_reserve *r, weft_mpsc_tx *tx)
{
	WEFT__WAITER_CHECK_INIT(&r->w, "weft_mpsc_reserve_init",
		"the reserve is still registered (waiting for a slot, or "
		"granted one and not yet polled): call weft_mpsc_reserve_drop "
		"before initialising it again");
	weft__waiter_init(&r->w, MP_W_RESERVE);
	r->tx = tx;
	r->res = 0;
}

weft_poll weft_mpsc_reserve_poll(weft_mpsc_reserve *r, weft_cx *cx)
{
	mp *m = mp_of_tx(r->tx);

	return mp_noted(m, cx, mp_wait_poll(m, &r->w, NULL, cx, &r->res));
}

void weft_mpsc_reserve_drop(weft_mpsc_reserve *r)
{
	uint32_t st = mp_cancel(mp_of_tx(r->tx), &r->w);

	weft__waiter_set_state(&r->w, WEFT__W_DONE);
	if (st == WEFT__W_WOKEN)
		weft_mpsc_permit_release(r->tx); /* granted, never taken */
}

int weft_mpsc_permit_send(weft_mpsc_tx *tx, const void *value)
{
	mp *m = mp_of_tx(tx);
	int err;

	if (!m || !value)
		return -EINVAL;
	weft__lock_acquire(&m->lock);
	/* relaxed: CLOSED is set under the lock we hold */
	if (atomic_load_explicit(&m->tail, memory_order_relaxed) & MP_CLOSED) {
		err = -EPIPE;
		if (m->bounded)
			m->reserved--;
	} else if (!m->bounded) {
		err = mp_push_unbounded(m, value);
	} else {
		/* the permit's room becomes the value's: no refill */
		mp_freeze_locked(m);
		m->reserved--;
		mp_claim_locked(m, value);
		err = 0;
	}
	mp_settle_locked(m);
	weft__lock_release(&m->lock);
	if (!err)
		mp_wake_rx(m);
	return err;
}

void weft_mpsc_permit_release(weft_mpsc_tx *tx)
{
	mp *m = mp_of_tx(tx);
	weft__wake_batch b;

	if (!m->bounded)
		return; /* unbounded permits hold nothing */
	weft__batch_init(&b);
	weft__lock_acquire(&m->lock);
	mp_freeze_locked(m);
	m->reserved--;
	mp_refill(m, &b, NULL);
	mp_settle_locked(m);
	mp_unlock_wake(m, &b);
	mp_wake_rx(m);
}

/* -------------------------------------------------------------- receiver */

/* Consumer: the slot of the oldest position, or NULL (unbounded: the
 * next block is not linked yet). */
static inline mp_slot *mp_head_slot(mp *m, uint64_t h)
{
	mp_blk *b = m->head_blk, *nb;

	if (m->bounded)
		return mp_ring_slot(m, h);
	if (h - b->base < m->blk_n)
		return mp_blk_slot(m, b, h);
	/* acquire: the block's base and slots (pair 7) */
	nb = atomic_load_explicit(&b->next, memory_order_acquire);
	if (!nb)
		return NULL;
	m->head_blk = nb;
	mp_recycle(m, b);
	return mp_blk_slot(m, nb, h);
}

/* Consumer: the oldest value's slot if it is published, else NULL. */
static inline mp_slot *mp_head_ready(mp *m, uint64_t h)
{
	mp_slot *sl = mp_head_slot(m, h);

	/* acquire: the producer's value (pair 1) */
	if (sl && atomic_load_explicit(&sl->stamp, memory_order_acquire) == h + 1)
		return sl;
	return NULL;
}

/* The last handle is gone: releases the values left between head and
 * tail (claimed by a sender while the receiver was being dropped; every
 * one is published now, see the file comment). */
static void mp_release_rest(mp *m)
{
	/* relaxed: the lock and the acq_rel handle counts ordered every
	 * access before the last handle's drop */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&m->tail, memory_order_relaxed) >> 2;

	while (h != t) {
		m->release(mp_head_slot(m, h)->data);
		h = mp_next(m, h);
	}
}

static void mp_free(mp *m)
{
	mp_blk *b, *n;

	if (m->release)
		mp_release_rest(m);
	b = m->head_blk;
	while (b) {
		/* relaxed: the last handle is gone; the lock ordered all */
		n = atomic_load_explicit(&b->next, memory_order_relaxed);
		free(b);
		b = n;
	}
	/* relaxed: as above */
	free(atomic_load_explicit(&m->spare, memory_order_relaxed));
	weft_waker_drop(&m->rx_waker); /* left by a rx_drop racing a wake */
	free(m->buf);
	free(m);
}

/* Consumer: copies the value out, frees its slot, returns the next head.
 * The head store is left to the caller (once per batch). */
static inline uint64_t mp_take(mp *m, mp_slot *sl, uint64_t h, void *out)
{
	if (out)
		mp_copy(out, sl->data, m->elem_size);
	if (m->bounded)
		/* release: our read of the value before a producer reuses
		 * the slot; pairs with mp_send_fast() (pair 2) */
		atomic_store_explicit(&sl->stamp, h + m->one_lap,
				      memory_order_release);
	return mp_next(m, h);
}

/* Consumer, senders waiting, values taken up to h: is it time to hand
 * the room over? Hysteresis: not one slot per receive (a lock, a handoff
 * and a wake per message with a full ring) but once low_water slots are
 * free, so each woken sender finds room for many lock-free sends. A ring
 * with no value ready at h hands over at once, so a sender never waits
 * on a receiver that is about to park (or has stopped receiving) while
 * there is room. */
static bool mp_handoff_due(mp *m, uint64_t h)
{
	/* relaxed: senders wait, so SLOW is set and tail moves only under
	 * the lock; a stale value only moves the handoff by one receive,
	 * and mp_refill() counts the room exactly under the lock */
	uint64_t t = atomic_load_explicit(&m->tail, memory_order_relaxed);

	return m->cap - mp_count(m, t >> 2, h) >= m->low_water ||
	       !mp_head_ready(m, h);
}

/* Consumer, after taking values up to h: publishes head and, when due,
 * hands the freed room to waiting senders (pair 5). */
static void mp_after_take(mp *m, uint64_t h)
{
	weft__wake_batch b;

	/* release: the freed slots before head (pair 3) */
	atomic_store_explicit(&m->head, h, memory_order_release);
	if (!m->bounded)
		return;
	/* seq_cst: head before the tx_waiting load; pairs with the fence in
	 * mp_wait_locked() */
	atomic_thread_fence(memory_order_seq_cst);
	/* relaxed: ordered by the fence; the lock orders the rest */
	if (!atomic_load_explicit(&m->tx_waiting, memory_order_relaxed))
		return;
	if (!mp_handoff_due(m, h))
		return;
	weft__batch_init(&b);
	for (;;) {
		weft__lock_acquire(&m->lock);
		mp_freeze_locked(m);
		mp_refill(m, &b, NULL);
		mp_settle_locked(m);
		bool more = weft__batch_full(&b);

		mp_unlock_wake(m, &b);
		if (!more)
			return;
	}
}

/* Consumer, ring empty at head h: is the channel over (closed or every
 * sender gone, and nothing claimed is left)? */
static bool mp_finished(mp *m, uint64_t h)
{
	/* acquire: every send of the dropped handles (pair 6). Only the
	 * receiver closes, so rx_closed needs no load of the tail line
	 * while the channel is open */
	if (!m->rx_closed &&
	    !atomic_load_explicit(&m->tx_done, memory_order_acquire))
		return false;
	return mp_tail(m) >> 2 == h;
}

/* Receives up to max values (max >= 1). Returns how many (0: empty). */
static size_t mp_recv_some(mp *m, unsigned char *buf, size_t max)
{
	/* relaxed: only we write head */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_relaxed);
	size_t k = 0;
	mp_slot *sl;

	while (k < max && (sl = mp_head_ready(m, h)) != NULL) {
		h = mp_take(m, sl, h, buf ? buf + k * m->elem_size : NULL);
		k++;
	}
	if (k)
		mp_after_take(m, h);
	return k;
}

/* Consumer: true when a value is ready or the channel is over. */
static bool mp_rx_has_news(mp *m)
{
	/* relaxed: only we write head */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_relaxed);

	return mp_head_ready(m, h) || mp_finished(m, h);
}

/* The receive state machine shared by recv and recv_many: READY with
 * *res = the number of values taken (>= 1; with count false, 0 instead)
 * or -EPIPE. count is a constant at each call, so weft_mpsc_recv's copy
 * stores 0 straight into its res. */
static inline weft_poll mp_recv(mp *m, weft_cx *cx, void *buf, size_t max,
				bool count, intptr_t *res)
{
	/* relaxed: only we write head */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_relaxed);

	if (mp_head_ready(m, h)) {
		if (!weft_coop_proceed(cx))
			return WEFT_PENDING;
		size_t n = mp_recv_some(m, buf, max);

		*res = count ? (intptr_t)n : 0;
		return WEFT_READY;
	}
	if (mp_finished(m, h)) {
		*res = -EPIPE;
		return WEFT_READY;
	}
	mp_park_rx(m, cx);
	if (!mp_rx_has_news(m)) {
		/* the dump's wait note (runtime/note.h): one store */
		weft__cx_note(cx, WEFT_WAIT_CHANNEL, (uint64_t)(uintptr_t)m);
		return WEFT_PENDING;
	}
	mp_unpark_rx(m);
	return mp_recv(m, cx, buf, max, count, res);
}

void weft_mpsc_recv_init(weft_mpsc_recv *r, weft_mpsc_rx *rx, void *out)
{
	/* res is set at READY; two stores on the receive hot path */
	r->rx = rx;
	r->out = out;
}

weft_poll weft_mpsc_recv_poll(weft_mpsc_recv *r, weft_cx *cx)
{
	return mp_recv(mp_of_rx(r->rx), cx, r->out, 1, false, &r->res);
}

void weft_mpsc_recv_drop(weft_mpsc_recv *r)
{
	(void)r; /* a receive takes a value only at READY */
}

void weft_mpsc_recv_many_init(weft_mpsc_recv_many *r, weft_mpsc_rx *rx,
			      void *buf, size_t max)
{
	r->rx = rx;
	r->buf = buf;
	r->max = max;
	r->res = 0;
}

weft_poll weft_mpsc_recv_many_poll(weft_mpsc_recv_many *r, weft_cx *cx)
{
	if (!r->max) {
		r->res = -EINVAL;
		return WEFT_READY;
	}
	return mp_recv(mp_of_rx(r->rx), cx, r->buf, r->max, true, &r->res);
}

void weft_mpsc_recv_many_drop(weft_mpsc_recv_many *r)
{
	(void)r;
}

int weft_mpsc_try_recv(weft_mpsc_rx *rx, void *out)
{
	mp *m = mp_of_rx(rx);
	uint64_t h;

	if (!m)
		return -EINVAL;
	if (mp_recv_some(m, out, 1))
		return 0;
	/* relaxed: only we write head */
	h = atomic_load_explicit(&m->head, memory_order_relaxed);
	return mp_finished(m, h) ? -EPIPE : -EAGAIN;
}

/* Lock held: sets CLOSED and fails every waiting sender; unlocks. */
static void mp_close_unlock(mp *m)
{
	/* release: with the lock, orders the close before the waiters'
	 * CLOSED states; the fast path sees it in its CAS */
	atomic_fetch_or_explicit(&m->tail, MP_CLOSED, memory_order_release);
	/* relaxed: under the lock; the list is emptied below */
	atomic_store_explicit(&m->tx_waiting, 0, memory_order_relaxed);
	weft__wake_all_unlock(&m->lock, &m->senders, WEFT__W_CLOSED);
}

void weft_mpsc_close(weft_mpsc_rx *rx)
{
	mp *m = mp_of_rx(rx);

	m->rx_closed = true;
	weft__lock_acquire(&m->lock);
	mp_close_unlock(m);
}

/* Consumer, closed: passes every published value to release, oldest
 * first, and frees its slot. Stops at a slot a sender claimed before the
 * close but has not published yet (mp_free() releases the rest). */
static void mp_discard(mp *m)
{
	/* relaxed: only we write head */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_relaxed);
	mp_slot *sl;

	while ((sl = mp_head_ready(m, h)) != NULL) {
		m->release(sl->data);
		h = mp_take(m, sl, h, NULL);
	}
	/* release: as in mp_after_take() (pair 3); nobody waits any more */
	atomic_store_explicit(&m->head, h, memory_order_release);
}

void weft_mpsc_rx_drop(weft_mpsc_rx *rx)
{
	mp *m = mp_of_rx(rx);
	weft_waker w = WEFT_WAKER_NONE;
	bool free_it;

	if (!m)
		return;
	weft__lock_acquire(&m->lock);
	WEFT_DEBUG_CHECK(!m->rx_gone, "weft_mpsc_rx_drop",
		"the receiver was already dropped: drop it exactly once");
	/* close first, while rx_gone is still clear, so that no sender can
	 * free m while the close wakes the waiting senders in batches: no
	 * claim succeeds after it, and waiting senders keep their values */
	m->rx_closed = true;
	mp_close_unlock(m);
	/* still the consumer: the buffered values go to release */
	if (m->release)
		mp_discard(m);
	weft__lock_acquire(&m->lock);
	m->rx_gone = true;
	/* acquire: a waker's last use of rx_waker (pair 9). A WAKING
	 * sender is still waking through the slot: it is left for mp_free()
	 * (that sender holds a handle, so it is done by then); otherwise
	 * the slot is ours */
	if (atomic_exchange_explicit(&m->rx_state, MP_RX_IDLE,
				     memory_order_acquire) != MP_RX_WAKING) {
		w = m->rx_waker;
		m->rx_waker = WEFT_WAKER_NONE;
	}
	/* acquire: with the lock, every sender's last access; otherwise
	 * senders still hold handles and the last one frees m */
	free_it = atomic_load_explicit(&m->tx_done, memory_order_acquire);
	weft__lock_release(&m->lock);
	if (free_it)
		mp_free(m);
	weft_waker_drop(&w);
}

size_t weft_mpsc_len(weft_mpsc_rx *rx)
{
	mp *m = mp_of_rx(rx);
	/* relaxed: only we write head */
	uint64_t h = atomic_load_explicit(&m->head, memory_order_relaxed);

	return (size_t)mp_count(m, mp_tail(m) >> 2, h);
}

WEFT_FUTURE_DEFINE(weft_mpsc_send, weft_mpsc_send_drop);
WEFT_FUTURE_DEFINE(weft_mpsc_reserve, weft_mpsc_reserve_drop);
WEFT_FUTURE_DEFINE(weft_mpsc_recv, weft_mpsc_recv_drop);
WEFT_FUTURE_DEFINE(weft_mpsc_recv_many, weft_mpsc_recv_many_drop);
