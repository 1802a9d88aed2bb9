/* test/reactor/wring.c - worker-owned rings (reactor/wring.c): every
 * worker of the multi-thread flavour owns a ring and socket receives its
 * tasks arm go there; a completion reaped by the worker that owns the
 * ring wakes a task that is waiting from another worker; a stream dropped
 * on a thread that is not a worker cancels its receive on the owning ring
 * (the worker is woken to submit it: the descriptor closes); the
 * current-thread flavour has no worker ring. The peers are plain blocking
 * sockets driven by the test thread; waits are bounded hang guards. */
#include <sys/socket.h>
#include <time.h>

#include "helpers.h"
#include "reactor/reactor.h"
#include "runtime/internal.h"

/* Waits (bounded, 10 s) until cond(arg) holds. */
static bool eventually(bool (*cond)(void *), void *arg)
{
	struct timespec d = { 0, 1000000 };

	for (int i = 0; i < 10000; i++) {
		if (cond(arg))
			return true;
		nanosleep(&d, NULL);
	}
	return cond(arg);
}

static void pair(weft_stream **s, int *peer)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*s = weft_stream_from_fd(sv[0]);
	cr_assert_not_null(*s);
	*peer = sv[1];
}

/* What the two tasks below share. */
struct shared {
	weft_rt *rt;
	weft_stream *s;
	weft_stream_recv rx;     /* armed by the first, awaited by the second */
	char buf[16];
	_Atomic int stage;       /* 1: armed, 2: the second one waits */
	_Atomic int arm_worker, wait_worker;
};

static bool stage_at_least(struct shared *sh, int n)
{
	struct timespec d = { 0, 100000 };

	for (int i = 0; i < 100000; i++) {
		if (atomic_load(&sh->stage) >= n)
			return true;
		nanosleep(&d, NULL);
	}
	return false;
}

/* Polls the receive once on its worker (the multishot is armed on that
 * worker's ring), then keeps the worker busy until the other task waits
 * on the receive: that one must be on the other worker. */
struct arm_task {
	WEFT_ASYNC;
	struct shared *sh;
};

static weft_poll arm_task_poll(struct arm_task *f, weft_cx *cx)
{
	struct shared *sh = f->sh;

	atomic_store(&sh->arm_worker, weft__rt_worker_index(sh->rt));
	int zero = 0;

	cr_assert_eq(weft_stream_recv_poll(&sh->rx, cx), WEFT_PENDING);
	atomic_compare_exchange_strong(&sh->stage, &zero, 1);
	cr_assert(stage_at_least(sh, 2), "the waiting task never ran");
	f->res = 0;
	return WEFT_READY;
}

WEFT_FUTURE(arm_task, struct arm_task, WEFT_NO_DROP);

/* Waits on the receive armed by arm_task (its waker replaces that
 * task's), from the other worker. */
struct wait_task {
	WEFT_ASYNC;
	struct shared *sh;
	bool waiting;
};

static weft_poll wait_task_poll(struct wait_task *f, weft_cx *cx)
{
	struct shared *sh = f->sh;

	if (!f->waiting) {
		cr_assert(stage_at_least(sh, 1), "the receive was not armed");
		atomic_store(&sh->wait_worker, weft__rt_worker_index(sh->rt));
		f->waiting = true;
		if (weft_stream_recv_poll(&sh->rx, cx) == WEFT_PENDING) {
			atomic_store(&sh->stage, 2);
			return WEFT_PENDING;
		}
		atomic_store(&sh->stage, 2);
	} else if (weft_stream_recv_poll(&sh->rx, cx) == WEFT_PENDING) {
		return WEFT_PENDING;
	}
	f->res = sh->rx.res;
	return WEFT_READY;
}

WEFT_FUTURE(wait_task, struct wait_task, WEFT_NO_DROP);

struct armed_on {
	weft_stream *s;
	int worker;
};

static bool armed_on(void *arg)
{
	struct armed_on *a = arg;

	return weft__stream_test_ring(a->s) == a->worker;
}

/* The arm happens at the worker's next flush after the poll: wait. */
static bool wait_armed_on(weft_stream *s, int worker)
{
	struct armed_on a = { s, worker };

	return eventually(armed_on, &a);
}

static bool two_live(void *rt)
{
	return weft__wring_test_live(rt) == 2;
}

Test(wring, every_worker_owns_a_ring_and_receives_are_armed_there)
{
	weft_rt *rt = test_rt(2);
	weft_rt *ct = test_rt(0);
	weft_stream *s;
	int peer;
	struct shared *sh = calloc(1, sizeof(*sh));
	weft_join *j = NULL;

	if (!(weft__reactor_test_ring_flags(rt) & IORING_SETUP_DEFER_TASKRUN))
		cr_skip_test("no DEFER_TASKRUN: no worker rings");
	/* each worker enables its ring when it starts: wait for both */
	cr_assert(eventually(two_live, rt), "a ring per worker (%d)",
		  weft__wring_test_live(rt));
	cr_assert_eq(weft__wring_test_live(ct), 0,
		     "none in the current-thread flavour");
	pair(&s, &peer);
	sh->rt = rt;
	sh->s = s;
	atomic_store(&sh->arm_worker, -1);
	weft_stream_recv_init(&sh->rx, s, sh->buf, sizeof(sh->buf));
	/* a task arms it; nothing waits for it (stage 2 already) */
	atomic_store(&sh->stage, 2);
	cr_assert_eq(WEFT_SPAWN(rt, arm_task, &j, { .sh = sh }), 0);
	cr_assert_eq(test_join(rt, j), 0);
	cr_assert_geq(atomic_load(&sh->arm_worker), 0);
	cr_assert(wait_armed_on(s, atomic_load(&sh->arm_worker)),
		  "armed on the ring of the worker that polled it (%d, not %d)",
		  weft__stream_test_ring(s), atomic_load(&sh->arm_worker));
	weft_stream_recv_drop(&sh->rx);
	weft_stream_drop(s);
	close(peer);
	free(sh);
	weft_rt_destroy(ct);
	weft_rt_destroy(rt);
}

/* The receive's multishot is armed on worker A's ring by a task on A;
 * a task on worker B then waits on it. The data's CQE is reaped by A (the
 * only issuer of its ring), which must wake the task that waits from B. */
Test(wring, a_completion_on_one_ring_wakes_a_task_of_another_worker,
     .timeout = 30)
{
	weft_rt *rt = test_rt(2);
	struct shared *sh = calloc(1, sizeof(*sh));
	weft_join *ja = NULL, *jb = NULL;
	int peer;

	if (!(weft__reactor_test_ring_flags(rt) & IORING_SETUP_DEFER_TASKRUN))
		cr_skip_test("no DEFER_TASKRUN: no worker rings");
	pair(&sh->s, &peer);
	sh->rt = rt;
	atomic_store(&sh->arm_worker, -1);
	atomic_store(&sh->wait_worker, -1);
	weft_stream_recv_init(&sh->rx, sh->s, sh->buf, sizeof(sh->buf));
	cr_assert_eq(WEFT_SPAWN(rt, arm_task, &ja, { .sh = sh }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, wait_task, &jb, { .sh = sh }), 0);
	cr_assert(stage_at_least(sh, 2));
	cr_assert_eq(test_join(rt, ja), 0);
	cr_assert_neq(atomic_load(&sh->arm_worker),
		      atomic_load(&sh->wait_worker),
		      "the two tasks ran on different workers");
	cr_assert(wait_armed_on(sh->s, atomic_load(&sh->arm_worker)),
		  "the receive is armed on the first worker's ring");
	cr_assert_eq(write(peer, "ping", 4), 4);
	cr_assert_eq(test_join(rt, jb), 4, "the waiting task got the data");
	cr_assert_eq(memcmp(sh->buf, "ping", 4), 0);
	weft_stream_recv_drop(&sh->rx);
	weft_stream_drop(sh->s);
	close(peer);
	free(sh);
	weft_rt_destroy(rt);
}

struct fds_back {
	int before;
};

static bool fds_back(void *arg)
{
	return test_fd_count() <= ((struct fds_back *)arg)->before;
}

struct parked {
	weft_rt *rt;
	int worker;
};

static bool worker_parked(void *arg)
{
	struct parked *p = arg;
	weft_metrics m;
	weft_worker_metrics wm[2];
	bool ok;

	weft_metrics_init(&m, wm, 2);
	cr_assert_eq(weft_rt_metrics(p->rt, &m), 0);
	ok = wm[p->worker].parks > wm[p->worker].unparks;
	return ok;
}

/* A receive armed on worker A's ring; the stream is dropped on the test
 * thread while A sleeps in its ring: the cancel goes to A (pushed, A
 * woken), which submits it; once the multishot's final CQE is in, the
 * record lets go of the descriptor. Submitting the cancel anywhere else
 * finds nothing to cancel, and a worker left asleep never submits it:
 * either way the descriptor stays open. */
Test(wring, a_stream_dropped_off_the_workers_cancels_on_the_owning_ring,
     .timeout = 30)
{
	weft_rt *rt = test_rt(2);
	struct shared *sh = calloc(1, sizeof(*sh));
	weft_join *j = NULL;
	struct fds_back fb;
	struct parked pk = { rt, 0 };
	int peer;

	if (!(weft__reactor_test_ring_flags(rt) & IORING_SETUP_DEFER_TASKRUN))
		cr_skip_test("no DEFER_TASKRUN: no worker rings");
	pair(&sh->s, &peer);
	fb.before = test_fd_count() - 1; /* once the stream's fd is closed */
	sh->rt = rt;
	weft_stream_recv_init(&sh->rx, sh->s, sh->buf, sizeof(sh->buf));
	atomic_store(&sh->stage, 2);
	cr_assert_eq(WEFT_SPAWN(rt, arm_task, &j, { .sh = sh }), 0);
	cr_assert_eq(test_join(rt, j), 0);
	pk.worker = atomic_load(&sh->arm_worker);
	cr_assert(wait_armed_on(sh->s, pk.worker));
	/* hand the waker back first: the receive is not polled again */
	weft_stream_recv_drop(&sh->rx);
	cr_assert(eventually(worker_parked, &pk), "worker %d never parked",
		  pk.worker);
	weft_stream_drop(sh->s);
	cr_assert(eventually(fds_back, &fb), "the stream's fd stayed open");
	close(peer);
	free(sh);
	weft_rt_destroy(rt);
}

/* An echo task over a socketpair whose peer is the test thread. */
struct echo {
	WEFT_ASYNC;
	weft_rt *rt;
	_Atomic int *worker;     /* the worker of the last poll */
	weft_stream *s;
	weft_stream_recv rx;
	weft_stream_send tx;
	char buf[64];
};

static weft_poll echo_poll(struct echo *f, weft_cx *cx)
{
	atomic_store(f->worker, weft__rt_worker_index(f->rt));
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_stream_recv, &f->rx, f->s, f->buf,
				sizeof(f->buf));
		if (f->rx.res <= 0)
			break;
		weft_stream_send_all_init(&f->tx, f->s, f->buf,
					  (size_t)f->rx.res);
		WEFT_AWAIT_ON(weft_stream_send, &f->tx);
		if (f->tx.res < 0)
			break;
	}
	f->res = 0;
	WEFT_END();
}

static void echo_drop(struct echo *f)
{
	weft_stream_recv_drop(&f->rx);
	weft_stream_send_drop(&f->tx);
	weft_stream_drop(f->s);
}

WEFT_FUTURE(echo, struct echo, echo_drop);

static uint64_t unparks_total(weft_rt *rt)
{
	weft_metrics m;
	weft_worker_metrics wm[2];

	weft_metrics_init(&m, wm, 2);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	return wm[0].unparks + wm[1].unparks;
}

static void round_trip(int peer)
{
	char b[8] = "12345678", r[8];
	size_t got = 0;

	cr_assert_eq(write(peer, b, sizeof(b)), (ssize_t)sizeof(b));
	while (got < sizeof(r)) {
		ssize_t n = read(peer, r + got, sizeof(r) - got);

		cr_assert_gt(n, 0);
		got += (size_t)n;
	}
	cr_assert_eq(memcmp(b, r, sizeof(r)), 0);
}

/* One connection, one message in flight: the worker that reaps a
 * completion runs the task it wakes itself, so the other worker is not
 * woken for it (weft__worker_push_batch wakes another only when more than
 * one task waits). Each round trip may cost the serving worker one wake
 * from its ring; waking the other worker too doubled that (and the CPU
 * per message at one connection). A bound on the two workers' wake-ups,
 * not on time: spins that catch a message only make it smaller. Then the
 * spin credits: searches that end with the worker's own completions, or
 * nothing, make a worker with its own ring park without spinning. */
Test(wring, one_connections_completions_wake_no_other_worker, .timeout = 60)
{
	enum { N = 400 };
	weft_rt *rt = test_rt(2);
	weft_join *j = NULL;
	weft_stream *s;
	uint64_t before, woken;
	_Atomic int worker = -1;
	int peer, w;

	if (!(weft__reactor_test_ring_flags(rt) & IORING_SETUP_DEFER_TASKRUN))
		cr_skip_test("no DEFER_TASKRUN: no worker rings");
	cr_assert(eventually(two_live, rt));
	pair(&s, &peer);
	cr_assert_eq(WEFT_SPAWN(rt, echo, &j,
				{ .rt = rt, .worker = &worker, .s = s }), 0);
	for (int i = 0; i < 20; i++)  /* armed, and the spins settled */
		round_trip(peer);
	before = unparks_total(rt);
	for (int i = 0; i < N; i++) {
		/* longer than any spin: both workers park between messages
		 * (a pause for the bound to bite, not a condition of it) */
		struct timespec gap = { 0, 200000 };

		nanosleep(&gap, NULL);
		round_trip(peer);
	}
	woken = unparks_total(rt) - before;
	cr_assert_leq(woken, N + N / 4,
		      "%llu wake-ups of the workers for %d round trips",
		      (unsigned long long)woken, N);
	/* and its spins did not pay (every message came long after the
	 * spin, from its ring): the worker that serves the connection stops
	 * spinning (its spin credits of worker.c at or near 0; a steal or a
	 * message caught by a preempted spin in its last searches adds at
	 * most 4 / 2; the other worker, never woken, does not search) */
	w = atomic_load(&worker);
	cr_assert(w == 0 || w == 1);
	cr_assert_leq(rt->workers[w].spin_credit, 4,
		      "worker %d still spins (credit %u)", w,
		      rt->workers[w].spin_credit);
	cr_assert_leq(rt->workers[w].pure_credit, 2,
		      "worker %d still spins first (credit %u)", w,
		      rt->workers[w].pure_credit);
	shutdown(peer, SHUT_WR);
	cr_assert_eq(test_join(rt, j), 0);
	close(peer);
	weft_rt_destroy(rt);
}
