/* reactor/reactor.c - the reactor thread: hand-off from the workers,
 * submission, completion, timers, wake-ups, shutdown.
 *
 * One thread owns the ring (it is the ring's single issuer, so the ring can
 * use DEFER_TASKRUN: completions are processed only when this thread waits,
 * and no worker is interrupted by task work); it runs SCHED_BATCH
 * (set_policy). The loop:
 *
 *   1. drain `stack` (records needing attention): arm, cancel or free them;
 *   2. advance the timer wheel to now and fire what is due;
 *   3. reap every CQE: store results, take wakers;
 *   4. flush the wake batch (one injector lock, at most one unpark);
 *   5. announce `sleeping`, re-check `stack`, then submit and wait in one
 *      io_uring_enter, with the earliest timer tick as the wait's timeout.
 *
 * Submissions reach the ring like this: a worker stages records on its own
 * list during a scheduler tick (no atomics); flush() moves the whole list
 * onto `stack` with one CAS and writes the eventfd only if the reactor is
 * asleep. Threads that are not workers push and wake directly. One
 * io_uring_enter then submits everything the reactor drained. See
 * docs/architecture.md ("Reactor") for the measurements behind this.
 *
 * Pairs:
 *   push_chain (seq_cst CAS of stack) / wake (seq_cst load+exchange of
 *   sleeping)  <->  reactor_wait (seq_cst store of sleeping, seq_cst load of
 *   stack): a Dekker pair; either the pusher sees sleeping and writes the
 *   eventfd, or the reactor sees the pushed records and does not block.
 *   Release half: the pushed records' contents -> the reactor's drain
 *   (acquire exchange of stack).
 *   stopping: seq_cst store in weft__reactor_stop, then an eventfd write;
 *   the reactor reads it (relaxed) after that write woke it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "reactor/fd.h"
#include "reactor/reactor.h"

#define OP_OF_LINK(l) \
	((struct weft__op *)((char *)(l) - offsetof(struct weft__op, wl)))

uint64_t weft__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct weft__reactor *weft__reactor_of(const weft_cx *cx)
{
	weft_rt *rt = cx && cx->rt ? (weft_rt *)cx->rt : weft_rt_current();

	return rt ? weft__rt_driver(rt) : NULL;
}

/* ------------------------------------------------------------- hand-off */

static void push_chain(struct weft__reactor *r, struct weft__op *first,
		       struct weft__op *last)
{
	/* relaxed: only a guess for the CAS below */
	struct weft__op *old = atomic_load_explicit(&r->stack,
						    memory_order_relaxed);

	do {
		last->next = old;
		/* seq_cst: releases the records (template, next) to drain()'s
		 * acquire exchange, and is the first half of the Dekker pair
		 * with reactor_wait() (see file comment) */
	} while (!atomic_compare_exchange_weak_explicit(
		&r->stack, &old, first, memory_order_seq_cst,
		memory_order_relaxed));
}

static void wake(struct weft__reactor *r);

void weft__reactor_kick(struct weft__reactor *r)
{
	wake(r);
}

static void wake(struct weft__reactor *r)
{
	uint64_t one = 1;

	/* seq_cst: second half of the Dekker pair with reactor_wait(); the
	 * exchange makes one pusher, not all of them, write the eventfd */
	if (!atomic_load_explicit(&r->sleeping, memory_order_seq_cst) ||
	    !atomic_exchange_explicit(&r->sleeping, false,
				      memory_order_seq_cst))
		return;
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reactor is awake */
	}
}

void weft__reactor_push_foreign(struct weft__reactor *r, struct weft__op *op)
{
	op->next = NULL;
	push_chain(r, op, op);
	wake(r);
}

/* To the reactor's ring: staged by a worker, else pushed. */
static void push_reactor(struct weft__reactor *r, struct weft__op *op)
{
	int w = weft__rt_worker_index(r->rt);

	op->next = NULL;
	if (w >= 0 && (unsigned)w < r->nworkers) {
		struct weft__stage *s = &r->stage[w];

		if (s->tail)
			s->tail->next = op;
		else
			s->head = op;
		s->tail = op;
		return;
	}
	push_chain(r, op, op);
	wake(r);
}

void weft__reactor_push(struct weft__reactor *r, struct weft__op *op)
{
	/* an arm request: on the calling worker's own ring when it has one
	 * and op is a socket operation, else the reactor's */
	struct weft__wring *wr = weft__wring_eligible(op)
					 ? weft__wring_self(r) : NULL;

	if (wr)
		weft__wring_stage(wr, op);
	else
		push_reactor(r, op);
}

void weft__reactor_push_cancel(struct weft__reactor *r, struct weft__op *op,
			       struct weft__uq *q)
{
	if (!q || q->worker < 0) {
		push_reactor(r, op);
		return;
	}
	weft__wring_push_cancel(r, &r->wr[q->worker], op);
}

void weft__reactor_flush(struct weft__reactor *r, unsigned worker)
{
	struct weft__stage *s;

	if (!r || worker >= r->nworkers)
		return;
	s = &r->stage[worker];
	if (!s->head)
		return;
	push_chain(r, s->head, s->tail);
	s->head = s->tail = NULL;
	wake(r);
}

/* ------------------------------------------------------- reactor thread */

static void drain(struct weft__reactor *r, struct weft__wake_batch *b)
{
	/* acquire: pairs with push_chain's CAS; the records' contents are
	 * visible from here on */
	struct weft__op *op = atomic_exchange_explicit(&r->stack, NULL,
						       memory_order_acquire);
	struct weft__op *fifo = NULL;

	while (op) {  /* the stack is LIFO: reverse it */
		struct weft__op *n = op->next;

		op->next = fifo;
		fifo = op;
		op = n;
	}
	while (fifo) {
		struct weft__op *n = fifo->next;

		weft__op_attend(r, &r->mq, fifo, b);
		fifo = n;
	}
}

struct fire_ctx {
	struct weft__reactor *r;
	struct weft__wake_batch *b;
};

static void fire(struct weft__wheel_link *l, void *arg)
{
	struct fire_ctx *c = arg;

	weft__rstat_add(&c->r->stats.timers_fired, 1);
	weft__op_fire_timer(c->r, OP_OF_LINK(l), c->b);
}

static void arm_eventfd(struct weft__reactor *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe)
		return; /* retried next loop */
	io_uring_prep_read(sqe, r->efd, &r->efd_buf, sizeof(r->efd_buf), 0);
	sqe->user_data = WEFT__UD_EVENTFD;
	r->efd_armed = true;
	r->inflight++;
}

void (*weft__reactor_test_cqe)(const struct weft__op *op,
			       struct io_uring_cqe *cqe);

static void reap(struct weft__reactor *r, struct weft__wake_batch *b)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t kinds[WEFT_CQE_KINDS] = { 0 };
	struct io_uring_cqe copy;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		uint64_t ud = cqe->user_data;

		n++;
		if (ud == WEFT__UD_CANCEL) {
			r->inflight--;
			kinds[WEFT_CQE_CANCEL]++;
		} else if (ud == WEFT__UD_EVENTFD) {
			r->inflight--;
			r->efd_armed = false;
			kinds[WEFT_CQE_WAKE]++;
		} else if (ud == LIBURING_UDATA_TIMEOUT || ud == 0) {
			/* liburing's own wait timeout */
			kinds[WEFT_CQE_OTHER]++;
		} else {
			struct weft__op *op = (struct weft__op *)(uintptr_t)ud;

			kinds[op->kind == WEFT__OP_ACCEPT  ? WEFT_CQE_ACCEPT
			      : op->kind == WEFT__OP_RECVQ ? WEFT_CQE_RECVQ
							   : WEFT_CQE_IO]++;
			weft__op_complete(
				r, op, weft__reactor_hooked_cqe(op, cqe, &copy), b);
		}
	}
	io_uring_cq_advance(&r->ring, n);
	if (n)
		for (unsigned k = 0; k < WEFT_CQE_KINDS; k++)
			if (kinds[k])
				weft__rstat_add(&r->stats.cqes[k], kinds[k]);
}

/* Shutdown, first pass: cancel every armed I/O record and the eventfd
 * read; empty the wheel (owners that are still alive see -ECANCELED). */
static void begin_stop(struct weft__reactor *r, struct weft__wake_batch *b)
{
	struct weft__wheel_link *l, *n;
	struct io_uring_sqe *sqe;

	for (l = r->armed_io.next; l != &r->armed_io; l = n) {
		n = l->next;
		weft__op_cancel_for_stop(r, OP_OF_LINK(l));
	}
	if (r->efd_armed) {
		while (!(sqe = io_uring_get_sqe(&r->ring)))
			io_uring_submit(&r->ring);
		io_uring_prep_cancel64(sqe, WEFT__UD_EVENTFD, 0);
		sqe->user_data = WEFT__UD_CANCEL;
		r->inflight++;
	}
	for (unsigned lv = 0; lv < WEFT__WHEEL_LEVELS; lv++) {
		for (unsigned s = 0; s < WEFT__WHEEL_SLOTS; s++) {
			while ((l = r->wheel.slots[lv][s])) {
				weft__wheel_remove(&r->wheel, l);
				weft__op_abandon(r, OP_OF_LINK(l), b);
			}
		}
	}
}

static void reactor_wait(struct weft__reactor *r, bool stopping)
{
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;
	uint64_t next = weft__wheel_next(&r->wheel);

	if (next != UINT64_MAX && !stopping) {
		uint64_t at = next * 1000000u;

		if (weft__clock_due(r, at)) {
			io_uring_submit(&r->ring);
			return;
		}
		tsp = weft__clock_timeout(r, at, &ts);
	}
	/* seq_cst: Dekker pair with push_chain()/wake() (and the paused
	 * clock's weft_time_advance): announce the sleep, then look at the
	 * stack (and the clock) once more */
	atomic_store_explicit(&r->sleeping, true, memory_order_seq_cst);
	if (atomic_load_explicit(&r->stack, memory_order_seq_cst) ||
	    io_uring_cq_ready(&r->ring) || weft__clock_moved(r)) {
		/* relaxed: the reactor's own flag; a stale true only costs a
		 * pusher a spurious eventfd write */
		atomic_store_explicit(&r->sleeping, false,
				      memory_order_relaxed);
		io_uring_submit(&r->ring);
		return;
	}
	io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, tsp, NULL);
	/* relaxed: as above */
	atomic_store_explicit(&r->sleeping, false, memory_order_relaxed);
}

/* Metrics of one pass: SQEs taken since the last (every SQE taken is
 * submitted: by reactor_wait at the latest), the wheel's size. */
static void count_pass(struct weft__reactor *r)
{
	unsigned tail = r->ring.sq.sqe_tail;

	weft__rstat_add(&r->stats.passes, 1);
	weft__rstat_add(&r->stats.sqes, (unsigned)(tail - r->stats.sq_tail));
	r->stats.sq_tail = tail;
	atomic_store_explicit(&r->stats.timers_live, r->wheel.count,
			      memory_order_relaxed);
}

static void reactor_loop(struct weft__reactor *r)
{
	bool stop_begun = false;

	for (;;) {
		struct weft__wake_batch b;
		struct fire_ctx fc = { r, &b };
		/* relaxed: see the file comment (stopping) */
		bool stopping = atomic_load_explicit(&r->stopping,
						     memory_order_relaxed);

		uint64_t now = weft__reactor_now(r);

		weft__wake_batch_init(&b, r->rt);
		drain(r, &b);
		if (!stopping)
			weft__wheel_advance(&r->wheel, now / 1000000u, fire,
					    &fc);
		reap(r, &b);
		if (stopping && !stop_begun) {
			begin_stop(r, &b);
			stop_begun = true;
		}
		weft__wake_batch_flush(&b);
		/* release: the wakes of timers due by `now` are out before
		 * weft_time_advance, which acquires it, returns */
		atomic_store_explicit(&r->clock_seen, now,
				      memory_order_release);
		if (stopping && r->inflight == 0 &&
		    !atomic_load_explicit(&r->stack, memory_order_acquire))
			break;
		if (!stopping && !r->efd_armed)
			arm_eventfd(r);
		reactor_wait(r, stopping);
		count_pass(r);
	}
}

/* SCHED_BATCH: the scheduler does not let this thread preempt a running
 * one when it wakes; it runs at the next scheduling point of that CPU (a
 * syscall, a yield, a tick) or at once on an idle CPU. Fewer, larger
 * reactor passes on a busy machine, no added delay on an idle one
 * (docs/architecture.md, "Reactor thread scheduling"). Unprivileged; if
 * refused (seccomp), the thread stays SCHED_OTHER. */
static void set_policy(struct weft__reactor *r)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (r->batch_sched)
		pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	r->policy = sched_getscheduler(0);
}

int weft__reactor_test_policy(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;

	return r ? r->policy : -1;
}

unsigned weft__reactor_test_ring_flags(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;

	/* written by the reactor thread before its sem_post(&r->ready) */
	return r ? r->ring.flags : 0;
}

unsigned long weft__reactor_test_single_accepts(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;

	/* relaxed: a count, read after the accepts it counts completed */
	return r ? atomic_load_explicit(&r->single_accepts,
					memory_order_relaxed) : 0;
}

unsigned long weft__reactor_test_probe_dead(weft_rt *rt)
{
	struct weft__reactor *r = rt ? weft__rt_driver(rt) : NULL;
	unsigned long n = 0;

	/* relaxed: counts, read after the receives they count ended */
	for (unsigned w = 0; r && w <= r->nworkers; w++)
		n += atomic_load_explicit(w ? &r->wr[w - 1].stats.probe_dead
					    : &r->stats.probe_dead,
					  memory_order_relaxed);
	return n;
}

static void *reactor_main(void *arg)
{
	struct weft__reactor *r = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "weft-reactor");
	set_policy(r);
	r->init_err = weft__probe_ring(r);
	sem_post(&r->ready);
	if (r->init_err)
		return NULL;
	reactor_loop(r);
	io_uring_queue_exit(&r->ring);
	return NULL;
}

void weft__reactor_free(struct weft__reactor *r)
{
	weft__wring_free(r);
	weft__pool_free(&r->pool);
	free(r->stage);
	free(r);
}

int weft__reactor_start(weft_rt *rt, unsigned entries, unsigned nworkers,
			bool batch_sched, struct weft__reactor **out)
{
	struct weft__reactor *r;
	int ret;

	if (nworkers == 0)
		nworkers = 1;
	r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->rt = rt;
	r->nworkers = nworkers;
	r->entries = entries ? entries : 4096;
	r->off = weft__reactor_off();
	r->batch_sched = batch_sched && !(r->off & WEFT__FEAT_BATCH_SCHED);
	r->stage = aligned_alloc(64, nworkers * sizeof(*r->stage));
	if (!r->stage) {
		ret = -ENOMEM;
		goto out_free;
	}
	memset(r->stage, 0, nworkers * sizeof(*r->stage));
	r->wr = aligned_alloc(64, nworkers * sizeof(*r->wr));
	if (!r->wr) {
		ret = -ENOMEM;
		free(r->stage);
		goto out_free;
	}
	memset(r->wr, 0, nworkers * sizeof(*r->wr));
	for (unsigned w = 0; w < nworkers; w++) {
		r->wr[w].efd = -1;
		atomic_init(&r->wr[w].stack, NULL);
		atomic_init(&r->wr[w].sleeping, false);
		atomic_init(&r->wr[w].live, false);
	}
	r->mq = (struct weft__uq){ .ring = &r->ring, .inflight = &r->inflight,
				   .armed = &r->armed_io, .pool = &r->pool,
				   .stats = &r->stats, .worker = -1 };
	atomic_init(&r->stack, NULL);
	atomic_init(&r->sleeping, false);
	atomic_init(&r->stopping, false);
	atomic_init(&r->stopped, false);
	atomic_init(&r->recv_multi, false);
	atomic_init(&r->single_accepts, 0);
	atomic_init(&r->clock_mode, WEFT__CLOCK_REAL);
	atomic_init(&r->clock_ns, 0);
	atomic_init(&r->clock_seen, 0);
	atomic_init(&r->live, 1); /* the driver's own count, dropped by stop */
	weft__link_list_init(&r->armed_io);
	weft__wheel_init(&r->wheel, weft__now_ns() / 1000000u);
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		ret = -errno;
		snprintf(r->init_msg, sizeof(r->init_msg), "eventfd: %s",
			 strerror(errno));
		goto out_stage;
	}
	sem_init(&r->ready, 0, 0);
	ret = -pthread_create(&r->thread, NULL, reactor_main, r);
	if (ret) {
		snprintf(r->init_msg, sizeof(r->init_msg),
			 "cannot start the reactor thread: %s", strerror(-ret));
		goto out_sem;
	}
	while (sem_wait(&r->ready) && errno == EINTR)
		;
	if (r->init_err) {
		ret = r->init_err;
		pthread_join(r->thread, NULL);
		goto out_sem;
	}
	/* worker rings: only for worker threads (not the current-thread
	 * flavour's block_on thread); features are the probe's, ordered by
	 * the semaphore */
	if (weft__rt_head(rt)->host->worker_threads &&
	    weft__rt_head(rt)->host->worker_threads(rt))
		for (unsigned w = 0; w < nworkers; w++)
			weft__wring_create(r, w);
	*out = r;
	return 0;
out_sem:
	sem_destroy(&r->ready);
	close(r->efd);
out_stage:
	weft__rt_set_create_error(rt, r->init_msg);
	free(r->wr);
	free(r->stage);
out_free:
	free(r);
	return ret;
}

void weft__reactor_stop(struct weft__reactor *r)
{
	uint64_t one = 1;

	if (!r)
		return;
	/* the workers are joined: hand over what they staged and never
	 * flushed (records of cancelled tasks among them) */
	for (unsigned w = 0; w < r->nworkers; w++)
		weft__reactor_flush(r, w);
	/* ... and what other threads pushed on the worker rings after they
	 * closed (cancels of records no longer armed) */
	weft__wring_leftovers(r);
	/* seq_cst: read by the reactor after the eventfd write below woke it
	 * (the write is a syscall: a full barrier in practice) */
	atomic_store_explicit(&r->stopping, true, memory_order_seq_cst);
	if (write(r->efd, &one, sizeof(one)) < 0) {
		/* saturated counter: the reactor is awake anyway */
	}
	pthread_join(r->thread, NULL);
	close(r->efd);
	sem_destroy(&r->ready);
	/* release: records freed later (by owners) see a stopped reactor */
	atomic_store_explicit(&r->stopped, true, memory_order_release);
	/* acq_rel: pairs with weft__op_free; see op.c */
	if (atomic_fetch_sub_explicit(&r->live, 1, memory_order_acq_rel) == 1)
		weft__reactor_free(r);
}

/* Debugging aid (call it from gdb on a hung process): prints the armed
 * I/O records. Reads reactor-thread state without locks: only for a
 * stopped process. */
void weft__reactor_debug_dump(struct weft__reactor *r);
void weft__reactor_debug_dump(struct weft__reactor *r)
{
	struct weft__wheel_link *l;

	fprintf(stderr, "reactor %p: inflight %u, timers %zu, live %ld\n",
		(void *)r, r->inflight, r->wheel.count,
		atomic_load_explicit(&r->live, memory_order_relaxed));
	for (l = r->armed_io.next; l != &r->armed_io; l = l->next) {
		struct weft__op *op = OP_OF_LINK(l);

		fprintf(stderr, "  op %p kind %u opcode %u fd %d flags %#x "
			"waker %p\n", (void *)op, op->kind, op->sqe.opcode,
			op->sqe.fd, op->flags, op->waker.data);
	}
}
