/* reactor/wring.c - worker-owned rings (struct weft__wring in reactor.h).
 *
 * Why: with one ring whose single issuer is the reactor thread, every
 * socket completion needs that thread scheduled (the kernel runs socket
 * completions as task work of the issuing thread under DEFER_TASKRUN),
 * then a hand-off through the injector to a worker and often a futex wake
 * (docs/architecture.md, "Worker-owned rings"). Here each worker of the
 * multi-thread flavour is the single issuer of a ring of its own for the
 * socket operations its tasks submit:
 *
 *   - arm: a worker's record (weft__wring_eligible) is staged on its own
 *     ring's stage during the tick and armed, submitted and reaped in one
 *     io_uring_enter at the flush points the runtime already has (run
 *     queue dry, every fair interval, before parking);
 *   - complete: the worker runs the task work and reaps the CQEs itself,
 *     waking the tasks straight onto its own deque (other workers may
 *     steal them: a task whose op is armed here may run anywhere);
 *   - park: a worker with nothing to run waits in its ring
 *     (weft__wring_park): a completion, a cancel pushed by another thread,
 *     or an unpark (the eventfd the ring keeps a read armed on) ends the
 *     wait;
 *   - cancel: a drop on another thread pushes the record on this ring's
 *     stack and wakes the worker (eventfd); only the worker submits on its
 *     ring;
 *   - a record's ring is chosen at each arm (the ring of the worker that
 *     asks for it) and kept until its final CQE; a receive queue re-arms
 *     only once it is empty, so its chunks always come from one pool (each
 *     ring has its own provided-buffer pool: a buffer group belongs to a
 *     ring).
 * Timers, files, readiness, processes, and whatever threads that are not
 * workers submit stay on the reactor's ring. Without DEFER_TASKRUN (old
 * kernel, or forced off) no worker ring is made and everything uses the
 * reactor's, as before.
 *
 * Shutdown: a worker leaving its loop cancels everything armed on its
 * ring and waits for every final CQE before closing it (weft__wring_stop);
 * records pushed on its stack after that are no longer armed and go to
 * the reactor at its stop (weft__wring_leftovers).
 *
 * Atomics:
 *   stack CAS (seq_cst) / sleeping load+exchange (seq_cst) in
 *   weft__wring_push_cancel  <->  sleeping store (seq_cst) / stack load
 *   (seq_cst) in weft__wring_park: the reactor's Dekker pair
 *   (reactor.c): either the pusher sees the worker asleep and writes the
 *   eventfd, or the worker sees the record and does not wait. The pushed
 *   records' contents: release CAS -> acquire exchange in ring_pass.
 *   live: release store once the ring exists, acquire load in
 *   weft__wring_unpark (an unpark before it falls back to the futex, and
 *   the worker parks on the futex then too: it has no ring yet).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "reactor/fd.h"
#include "reactor/reactor.h"

/* A reap of at least this many CQEs may mean the kernel cut the task
 * work of that enter short (it runs at most 20 items per enter; one item
 * posts at least one CQE for the receives and sends that dominate). */
#define WRING_TW_BATCH 16u

#define OP_OF_LINK(l) \
	((struct weft__op *)((char *)(l) - offsetof(struct weft__op, wl)))

bool weft__wring_eligible(const struct weft__op *op)
{
	if (op->kind == WEFT__OP_ACCEPT || op->kind == WEFT__OP_RECVQ)
		return true;
	if (op->kind != WEFT__OP_IO)
		return false;
	switch (op->sqe.opcode) {
	case IORING_OP_SEND:
	case IORING_OP_SENDMSG:
	case IORING_OP_RECV:
	case IORING_OP_RECVMSG:
	case IORING_OP_CONNECT:
		return true;
	default:
		return false;
	}
}

struct weft__wring *weft__wring_self(struct weft__reactor *r)
{
	int w = weft__rt_worker_index(r->rt);

	if (w < 0 || (unsigned)w >= r->nworkers || !r->wr[w].live_local)
		return NULL;
	return &r->wr[w];
}

void weft__wring_stage(struct weft__wring *wr, struct weft__op *op)
{
	struct weft__stage *s = &wr->stage;

	op->next = NULL;
	if (s->tail)
		s->tail->next = op;
	else
		s->head = op;
	s->tail = op;
}

static void wring_wake(struct weft__wring *wr)
{
	uint64_t one = 1;

	/* seq_cst: the pusher half of the Dekker pair (file comment) */
	if (!atomic_load_explicit(&wr->sleeping, memory_order_seq_cst) ||
	    !atomic_exchange_explicit(&wr->sleeping, false,
				      memory_order_seq_cst))
		return;
	if (write(wr->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: saturated, the worker wakes anyway */
	}
}

void weft__wring_push_cancel(struct weft__reactor *r, struct weft__wring *wr,
			     struct weft__op *op)
{
	struct weft__op *old;

	if (weft__wring_self(r) == wr) {
		weft__wring_stage(wr, op);
		return;
	}
	/* relaxed: a guess for the CAS */
	old = atomic_load_explicit(&wr->stack, memory_order_relaxed);
	do {
		op->next = old;
		/* seq_cst: releases op to ring_pass's acquire exchange; first
		 * half of the Dekker pair with weft__wring_park */
	} while (!atomic_compare_exchange_weak_explicit(
		&wr->stack, &old, op, memory_order_seq_cst,
		memory_order_relaxed));
	wring_wake(wr);
}

/* ------------------------------------------------------ worker thread */

/* At start, on the creating thread (after the probe): worker w's ring,
 * disabled until its worker enables it (which makes that worker the
 * ring's single issuer), its pool and its eventfd; none on failure (its
 * tasks use the reactor's ring). Made here rather than on the worker so
 * that every descriptor exists once weft_rt_create returns. */
void weft__wring_create(struct weft__reactor *r, unsigned w)
{
	struct weft__wring *wr = &r->wr[w];
	struct io_uring_params p;

	if (!(r->features & WEFT__FEAT_DEFER_TASKRUN))
		return;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_CQSIZE |
		  IORING_SETUP_R_DISABLED;
	p.cq_entries = r->entries * 4;
	if (io_uring_queue_init_params(r->entries, &wr->ring, &p) < 0)
		return;
	if (r->pool.br && weft__pool_init(&wr->pool, &wr->ring) < 0)
		goto out_ring;
	wr->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wr->efd < 0)
		goto out_pool;
	weft__link_list_init(&wr->armed_io);
	wr->q = (struct weft__uq){ .ring = &wr->ring, .inflight = &wr->inflight,
				   .armed = &wr->armed_io,
				   .pool = r->pool.br ? &wr->pool : NULL,
				   .stats = &wr->stats, .worker = (int)w };
	wr->created = true;
	return;
out_pool:
	weft__pool_free(&wr->pool);
out_ring:
	io_uring_queue_exit(&wr->ring);
}

void weft__wring_start(struct weft__reactor *r, unsigned w)
{
	struct weft__wring *wr;

	if (!r || w >= r->nworkers || !r->wr[w].created)
		return;
	wr = &r->wr[w];
	/* IORING_REGISTER_ENABLE_RINGS (liburing's wrapper is not in every
	 * version): the calling task becomes the single issuer */
	if (syscall(__NR_io_uring_register, wr->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return;  /* its tasks use the reactor's ring */
	wr->live_local = true;
	/* release: unparkers that see it find the eventfd */
	atomic_store_explicit(&wr->live, true, memory_order_release);
}

/* Returns how many CQEs it reaped. */
static unsigned reap(struct weft__reactor *r, struct weft__wring *wr)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t kinds[WEFT_CQE_KINDS] = { 0 };
	struct weft__wake_batch b;

	/* the batch's flush on a worker queues onto its own deque, waking
	 * another worker only when more than one task is queued there */
	weft__wake_batch_init(&b, r->rt);

	io_uring_for_each_cqe(&wr->ring, head, cqe) {
		uint64_t ud = cqe->user_data;

		n++;
		if (ud == WEFT__UD_CANCEL) {
			wr->inflight--;
			kinds[WEFT_CQE_CANCEL]++;
		} else if (ud == WEFT__UD_EVENTFD) {
			wr->inflight--;
			wr->efd_armed = false;
			kinds[WEFT_CQE_WAKE]++;
		} else if (ud == 0 || ud == LIBURING_UDATA_TIMEOUT) {
			kinds[WEFT_CQE_OTHER]++;
		} else {
			struct weft__op *op = (struct weft__op *)(uintptr_t)ud;
			struct io_uring_cqe copy;

			kinds[op->kind == WEFT__OP_ACCEPT  ? WEFT_CQE_ACCEPT
			      : op->kind == WEFT__OP_RECVQ ? WEFT_CQE_RECVQ
							   : WEFT_CQE_IO]++;
			weft__op_complete(
				r, op, weft__reactor_hooked_cqe(op, cqe, &copy),
				&b);
		}
	}
	io_uring_cq_advance(&wr->ring, n);
	weft__wake_batch_flush(&b);
	if (n)
		for (unsigned k = 0; k < WEFT_CQE_KINDS; k++)
			if (kinds[k])
				weft__rstat_add(&wr->stats.cqes[k], kinds[k]);
	return n;
}

/* Arms what was staged or pushed, submits, runs the task work, reaps. */
static void ring_pass(struct weft__reactor *r, struct weft__wring *wr)
{
	struct weft__op *op = wr->stage.head, *fifo = NULL;
	unsigned tail;

	wr->stage.head = wr->stage.tail = NULL;
	while (op) {
		struct weft__op *n = op->next;

		weft__op_attend(r, &wr->q, op, NULL);  /* arms: no wakes */
		op = n;
	}
	/* relaxed: a hint; the exchange is what synchronises */
	if (atomic_load_explicit(&wr->stack, memory_order_relaxed)) {
		/* acquire: pairs with weft__wring_push_cancel's CAS */
		op = atomic_exchange_explicit(&wr->stack, NULL,
					      memory_order_acquire);
		while (op) {  /* LIFO: reverse */
			struct weft__op *n = op->next;

			op->next = fifo;
			fifo = op;
			op = n;
		}
		while (fifo) {
			struct weft__op *n = fifo->next;

			weft__op_attend(r, &wr->q, fifo, NULL);
			fifo = n;
		}
	}
	/* one io_uring_enter for the tick's submissions and the task work
	 * the kernel queued for us (TASKRUN_FLAG tells), none when neither */
	if (io_uring_sq_ready(&wr->ring) || wr->tw_more ||
	    (IO_URING_READ_ONCE(*wr->ring.sq.kflags) & IORING_SQ_TASKRUN)) {
		tail = wr->ring.sq.sqe_tail;
		io_uring_submit_and_get_events(&wr->ring);
		weft__rstat_add(&wr->stats.sqes,
				(unsigned)(tail - wr->stats.sq_tail));
		wr->stats.sq_tail = tail;
	}
	/* a pass that reaped a kernel batch's worth may have left task work
	 * on the kernel's retry list (struct weft__wring, tw_more): enter
	 * again at the next pass, and before parking */
	wr->tw_more = io_uring_cq_ready(&wr->ring) &&
		      reap(r, wr) >= WRING_TW_BATCH;
}

void weft__wring_flush(struct weft__reactor *r, unsigned w)
{
	/* only worker w itself (block_on may flush slot 0 from elsewhere) */
	if (r && w < r->nworkers && weft__wring_self(r) == &r->wr[w])
		ring_pass(r, &r->wr[w]);
}

static void arm_eventfd(struct weft__wring *wr)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&wr->ring);

	if (!sqe) {
		io_uring_submit(&wr->ring);
		sqe = io_uring_get_sqe(&wr->ring);
		if (!sqe)
			return;
	}
	io_uring_prep_read(sqe, wr->efd, &wr->efd_buf, sizeof(wr->efd_buf),
			   0);
	sqe->user_data = WEFT__UD_EVENTFD;
	wr->efd_armed = true;
	wr->inflight++;
}

bool weft__wring_park(struct weft__reactor *r, unsigned w)
{
	struct weft__wring *wr;
	struct io_uring_cqe *cqe;

	if (!r || w >= r->nworkers || !r->wr[w].live_local)
		return false;
	wr = &r->wr[w];
	if (wr->tw_more) {
		/* run what the last enter left on the kernel's retry list
		 * before sleeping on it (struct weft__wring, tw_more) */
		wr->tw_more = false;
		io_uring_get_events(&wr->ring);
		if (io_uring_cq_ready(&wr->ring))
			return true;
	}
	if (!wr->efd_armed)
		arm_eventfd(wr);
	/* seq_cst: the waiter half of the Dekker pair (file comment) */
	atomic_store_explicit(&wr->sleeping, true, memory_order_seq_cst);
	if (atomic_load_explicit(&wr->stack, memory_order_seq_cst) ||
	    io_uring_cq_ready(&wr->ring)) {
		/* relaxed: our own flag; a stale true costs a pusher one
		 * eventfd write */
		atomic_store_explicit(&wr->sleeping, false,
				      memory_order_relaxed);
		io_uring_submit(&wr->ring);
		return true;
	}
	/* an unpark before this point left the eventfd readable: the read
	 * completes at once */
	io_uring_submit_and_wait_timeout(&wr->ring, &cqe, 1, NULL, NULL);
	/* relaxed: as above */
	atomic_store_explicit(&wr->sleeping, false, memory_order_relaxed);
	return true;
}

bool weft__wring_unpark(struct weft__reactor *r, unsigned w)
{
	uint64_t one = 1;

	/* acquire: pairs with the release store in weft__wring_start */
	if (!r || w >= r->nworkers ||
	    !atomic_load_explicit(&r->wr[w].live, memory_order_acquire))
		return false;
	if (write(r->wr[w].efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: saturated, the worker wakes anyway */
	}
	return true;
}

void weft__wring_stop(struct weft__reactor *r, unsigned w)
{
	struct weft__wring *wr;
	struct weft__wheel_link *l, *n;
	struct io_uring_cqe *cqe;

	if (!r || w >= r->nworkers || !r->wr[w].live_local)
		return;
	wr = &r->wr[w];
	wr->q.closing = true;
	/* arm nothing more (attend refuses while closing), submit what the
	 * stage holds (cancels), then cancel everything armed */
	ring_pass(r, wr);
	for (l = wr->armed_io.next; l != &wr->armed_io; l = n) {
		n = l->next;
		weft__op_cancel_for_stop(r, OP_OF_LINK(l));
	}
	if (wr->efd_armed) {
		struct io_uring_sqe *sqe;

		while (!(sqe = io_uring_get_sqe(&wr->ring)))
			io_uring_submit(&wr->ring);
		io_uring_prep_cancel64(sqe, WEFT__UD_EVENTFD, 0);
		sqe->user_data = WEFT__UD_CANCEL;
		wr->inflight++;
	}
	for (;;) {
		ring_pass(r, wr);
		if (!wr->inflight)
			break;
		io_uring_submit_and_wait_timeout(&wr->ring, &cqe, 1, NULL,
						 NULL);
	}
	/* release: pairs with the acquire load in weft__wring_unpark (an
	 * unpark from now on takes the futex path; the eventfd stays open
	 * until the reactor is freed) */
	atomic_store_explicit(&wr->live, false, memory_order_release);
	wr->live_local = false;
	wr->created = false;
	io_uring_queue_exit(&wr->ring);
}

/* ------------------------------------------------------------ the rest */

void weft__wring_leftovers(struct weft__reactor *r)
{
	for (unsigned w = 0; w < r->nworkers; w++) {
		/* acquire: pairs with weft__wring_push_cancel's CAS */
		struct weft__op *op = atomic_exchange_explicit(
			&r->wr[w].stack, NULL, memory_order_acquire);

		while (op) {
			struct weft__op *n = op->next;

			weft__reactor_push_foreign(r, op);
			op = n;
		}
	}
}

void weft__wring_free(struct weft__reactor *r)
{
	if (!r->wr)
		return;
	for (unsigned w = 0; w < r->nworkers; w++) {
		if (r->wr[w].created)  /* never started, or not stopped */
			io_uring_queue_exit(&r->wr[w].ring);
		weft__pool_free(&r->wr[w].pool);
		if (r->wr[w].efd >= 0)
			close(r->wr[w].efd);
	}
	free(r->wr);
	r->wr = NULL;
}

unsigned weft__wring_test_live(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;
	unsigned n = 0;

	if (!r)
		return 0;
	for (unsigned w = 0; w < r->nworkers; w++)
		/* acquire: as in weft__wring_unpark */
		n += atomic_load_explicit(&r->wr[w].live,
					  memory_order_acquire);
	return n;
}

int weft__stream_test_ring(struct weft_stream *s)
{
	/* acquire: pairs with the CAS that installed the record */
	struct weft__op *op = atomic_load_explicit(
		&((struct weft__fd *)(void *)s)->rx, memory_order_acquire);
	int w = -2;

	if (!op)
		return -2;
	weft__op_lock(op);
	if ((op->flags & WEFT__OPF_ARMED) && op->q)
		w = op->q->worker;
	weft__op_unlock(op);
	return w;
}
