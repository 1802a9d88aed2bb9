/* test/abi/cxx.cc - weft used from C++17: the umbrella header compiles
 * (g++ and clang++, -std=c++17 -Wall -Wextra -Wpedantic -Werror) and a
 * program written against it spawns tasks, joins them, selects, joins
 * all (also through the one-line WEFT_AWAIT_SELECT and WEFT_AWAIT_JOIN_ALL,
 * with a WEFT_BRANCH_KEEP branch), try-joins (WEFT_AWAIT_TRY_JOIN),
 * collects a JoinSet (WEFT_JOINSET_SPAWN), times out, sleeps, sends and receives
 * on a channel, uses the blocking pool and blocks on a future
 * (WEFT_BLOCK_ON and WEFT_BLOCK_ON_INIT), with the results checked.
 *
 * Built by meson with the project's C++ compiler when there is one, and by
 * test/abi/pedantic.sh with each of g++ and clang++ that is installed.
 *
 * Writing async bodies in C++ (what differs from C):
 *
 * - Frames are aggregates. WEFT_ASYNC expands to two members
 *   (`void *weft_resume_; intptr_t res`), WEFT_ASYNC_VOID to one
 *   (`const void *weft_resume_`), so a positional C++17 initialiser starts
 *   with them: `square_frame{ nullptr, 0, 7 }` sets x = 7. C++17 has no
 *   designated initialisers (`{ .x = 7 }` is C++20; g++ accepts it in
 *   C++17 only as an extension, which -Wpedantic rejects), and an
 *   initialiser that names only some members warns under -Wextra
 *   (-Wmissing-field-initializers). The natural C++17 way is therefore a
 *   value-initialised frame filled field by field,
 *       square_frame fr{};  fr.x = 7;  WEFT_SPAWN_FRAME(rt, square, &j, &fr);
 *   and WEFT_SPAWN(rt, name, &j, {}) (all zero) or WEFT_SPAWN with a full
 *   positional list (both shown below). The same goes for
 *   WEFT_AWAIT_FRAME: a full positional list, or assign `name_frame{}`,
 *   set the fields and WEFT_AWAIT_ON.
 * - C++ forbids jumping over the initialisation of a local, and every
 *   await is a target of the computed goto in WEFT_BEGIN: a poll body must
 *   not declare a local with an initialiser after WEFT_BEGIN whose scope
 *   holds an await (clang++: "cannot jump from this indirect goto
 *   statement to one of its possible targets"; g++ accepts a scalar one,
 *   whose value is then lost at the await, as in C). Keep such values in
 *   the frame (they have to be there to live across an await anyway), or
 *   declare plain locals before WEFT_BEGIN. A local in a block that closes
 *   before the next await is fine (the `square_frame fr{}` below), and so
 *   are temporaries (`f->child = square_frame{}`) and WEFT_SPAWN, whose
 *   frame lives in a lambda.
 * - A frame's non-static members must stay trivially copyable (spawn
 *   copies the frame bytes, the runtime never runs constructors or
 *   destructors): pointers to C++ objects are fine, members with
 *   constructors are not.
 * - WEFT_FUTURE may be used in a namespace (an anonymous one here): its
 *   functions and name_future are static. WEFT_FUTURE_EXTERN and
 *   WEFT_FUTURE_DEFINE must be in the same named (or the global)
 *   namespace: name_future has external linkage.
 */
#include <weft.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			std::fprintf(stderr, "%s:%d: check failed: %s\n",   \
				     __FILE__, __LINE__, #cond);            \
			std::abort();                                       \
		}                                                           \
	} while (0)

/* A future declared the way weft declares its own: the frame type is the
 * future's name, WEFT_FUTURE_EXTERN (a header's part) and
 * WEFT_FUTURE_DEFINE (one source file's). Counts down n yields. Both at
 * global (or one named) namespace scope: countdown_future has external
 * linkage, and a declaration in an anonymous namespace would not be the
 * one WEFT_FUTURE_DEFINE defines. */
typedef struct countdown {
	unsigned n;
	intptr_t res;
} countdown;
WEFT_FUTURE_EXTERN(countdown);

static void countdown_init(countdown *c, unsigned n)
{
	c->n = n;
	c->res = -EINPROGRESS;
}

static weft_poll countdown_poll(countdown *c, weft_cx *cx)
{
	if (c->n > 0) {
		c->n--;
		weft_cx_yield(cx);
		return WEFT_PENDING;
	}
	c->res = 0;
	return WEFT_READY;
}

static void countdown_drop(countdown *c)
{
	(void)c;
}

WEFT_FUTURE_DEFINE(countdown, countdown_drop);

namespace {

/* Yields once, then returns x * x. */
struct square {
	WEFT_ASYNC;
	intptr_t x;
};

weft_poll square_poll(square *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	WEFT_RETURN(f->x * f->x);
	WEFT_END();
}
WEFT_FUTURE(square, square, WEFT_NO_DROP);

/* Sleeps a minute (never in this test: it is always cancelled) and counts
 * its drops. */
struct nap {
	WEFT_ASYNC;
	weft_sleep sleep;
	std::atomic<int> *drops;
};

weft_poll nap_poll(nap *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->sleep, 60 * WEFT_SEC);
	WEFT_RETURN(f->sleep.res);
	WEFT_END();
}

void nap_drop(nap *f)
{
	weft_sleep_drop(&f->sleep);
	f->drops->fetch_add(1);
}
WEFT_FUTURE(nap, nap, nap_drop);

/* A frame without a result: sets *flag. */
struct mark {
	WEFT_ASYNC_VOID;
	int *flag;
};

weft_poll mark_poll(mark *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	*f->flag = 1;
	WEFT_END();
}
WEFT_FUTURE(mark, mark, WEFT_NO_DROP);

/* An await inside a switch (the resume points are not switch labels). */
struct pick {
	WEFT_ASYNC;
	int which;
	square sq;
	countdown cd;
};

weft_poll pick_poll(pick *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	switch (f->which) {
	case 0:
		WEFT_AWAIT_FRAME(square, &f->sq, { nullptr, 0, 11 });
		WEFT_RETURN(f->sq.res);
	case 1:
		WEFT_AWAIT_INIT(countdown, &f->cd, 3);
		WEFT_RETURN(100 + f->cd.res);
	default:
		break;
	}
	WEFT_RETURN(-EINVAL);
	WEFT_END();
}
WEFT_FUTURE(pick, pick, WEFT_NO_DROP);

/* Sends kPerProducer ints, base + 0 .. base + kPerProducer - 1, on a
 * bounded channel (waiting for room), then completes; its drop releases
 * its sender handle (the last one closes the channel). */
constexpr int kProducers = 3;
constexpr int kPerProducer = 5;

struct producer {
	WEFT_ASYNC;
	weft_mpsc_tx *tx;
	int base;
	int i;
	int value;
	weft_mpsc_send send;
};

weft_poll producer_poll(producer *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < kPerProducer; f->i++) {
		f->value = f->base + f->i;
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx, &f->value);
		CHECK(f->send.res == 0);
	}
	WEFT_END();
}

void producer_drop(producer *f)
{
	weft_mpsc_send_drop(&f->send);
	if (f->tx)
		weft_mpsc_tx_drop(f->tx);
}
WEFT_FUTURE(producer, producer, producer_drop);

std::atomic<int> released{0};
std::atomic<int> kept_drops{0}; /* the nap kept across two selects */

void release_int(void *elem)
{
	CHECK(*static_cast<int *>(elem) >= 1000);
	released.fetch_add(1);
}

intptr_t blocking_double(void *arg)
{
	return 2 * *static_cast<intptr_t *>(arg);
}

void blocking_release(void *arg)
{
	delete static_cast<intptr_t *>(arg);
}

constexpr int kTasks = 8;

struct top {
	WEFT_ASYNC;
	weft_rt *rt;
	std::atomic<int> *drops;
	weft_join *j[kTasks];
	weft_join *napj;
	weft_join *bj;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_mpsc_recv recv;
	int value;
	int got;
	intptr_t total;
	int i;
	intptr_t sum;
	int flag;
	int detached;
	weft_join_wait wait;
	square child;
	square sq[2];
	mark m;
	nap n;
	pick p;
	countdown cd;
	weft_branch br[3];
	weft_select sel;
	weft_join_all all;
	weft_timeout tmo;
	weft_joinset *set;
	weft_joinset_next next;
	weft_try_join tj;
};

weft_poll top_poll(top *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);

	/* Spawn: a frame built field by field, a positional initialiser, and
	 * an all-zero one; then join them all. */
	for (f->i = 0; f->i < kTasks; f->i++) {
		if (f->i % 3 == 0) {
			square_frame fr{};
			fr.x = f->i;
			CHECK(WEFT_SPAWN_FRAME(f->rt, square, &f->j[f->i], &fr) == 0);
		} else if (f->i % 3 == 1) {
			CHECK(WEFT_SPAWN(f->rt, square, &f->j[f->i],
					 { nullptr, 0, f->i }) == 0);
		} else {
			CHECK(WEFT_SPAWN(f->rt, square, &f->j[f->i], {}) == 0);
		}
	}
	f->sum = 0;
	for (f->i = 0; f->i < kTasks; f->i++) {
		WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j[f->i]);
		weft_join_drop(f->j[f->i]);
		CHECK(f->wait.res >= 0);
		f->sum += f->wait.res;
	}
	/* 0, 1, 3, 4, 6, 7 squared; 2 and 5 spawned with x = 0. */
	CHECK(f->sum == 0 + 1 + 9 + 16 + 36 + 49);

	/* A detached spawn (no handle) of a void frame, with a positional
	 * initialiser (WEFT_ASYNC_VOID is one member). It writes a field of
	 * its own that nothing reads (it may be cancelled by the shutdown
	 * before it runs). */
	CHECK(WEFT_SPAWN(f->rt, mark, nullptr, { nullptr, &f->detached }) == 0);

	/* Abort: the task is cancelled, its drop runs, the join says so. */
	{
		nap_frame fr{};
		fr.drops = f->drops;
		CHECK(WEFT_SPAWN_FRAME(f->rt, nap, &f->napj, &fr) == 0);
	}
	weft_join_abort(f->napj);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->napj);
	weft_join_drop(f->napj);
	CHECK(f->wait.res == -ECANCELED);

	/* The await forms: plain WEFT_AWAIT on a poll call, WEFT_AWAIT_ON,
	 * WEFT_AWAIT_FRAME (full positional initialiser). */
	f->child = square_frame{};
	f->child.x = 3;
	WEFT_AWAIT(square_poll(&f->child, cx));
	CHECK(f->child.res == 9);
	f->child = square_frame{};
	f->child.x = 4;
	WEFT_AWAIT_ON(square, &f->child);
	CHECK(f->child.res == 16);
	WEFT_AWAIT_FRAME(square, &f->child, { nullptr, 0, 5 });
	CHECK(f->child.res == 25);
	WEFT_AWAIT_INIT(countdown, &f->cd, 2);
	CHECK(f->cd.res == 0);
	CHECK(f->res == 0); /* a child's result never lands in the parent */

	/* Switch bodies. */
	f->p = pick_frame{};
	WEFT_AWAIT_ON(pick, &f->p);
	CHECK(f->p.res == 121);
	f->p = pick_frame{};
	f->p.which = 1;
	WEFT_AWAIT_ON(pick, &f->p);
	CHECK(f->p.res == 100);

	/* select: the square wins (index 1), the nap is cancelled (dropped). */
	f->n = nap_frame{};
	f->n.drops = f->drops;
	f->child = square_frame{};
	f->child.x = 6;
	f->br[0] = WEFT_BRANCH(nap, &f->n);
	f->br[1] = WEFT_BRANCH(square, &f->child);
	WEFT_AWAIT_INIT(weft_select, &f->sel, f->br, 2, WEFT_SELECT_BIASED);
	CHECK(f->sel.res == 1);
	CHECK(f->child.res == 36);

	/* join_all over two squares and a void frame. */
	f->flag = 0;
	f->sq[0] = square_frame{};
	f->sq[0].x = 7;
	f->sq[1] = square_frame{};
	f->sq[1].x = 8;
	f->m = mark_frame{};
	f->m.flag = &f->flag;
	f->br[0] = WEFT_BRANCH(square, &f->sq[0]);
	f->br[1] = WEFT_BRANCH(mark, &f->m);
	f->br[2] = WEFT_BRANCH(square, &f->sq[1]);
	WEFT_AWAIT_INIT(weft_join_all, &f->all, f->br, 3);
	CHECK(f->all.res == 0);
	CHECK(f->sq[0].res == 49 && f->sq[1].res == 64 && f->flag == 1);

	/* timeout: a nap under a 1 ms limit times out and is cancelled. */
	f->n = nap_frame{};
	f->n.drops = f->drops;
	WEFT_AWAIT_INIT(weft_timeout, &f->tmo, WEFT_BRANCH(nap, &f->n),
			WEFT_MS);
	CHECK(f->tmo.res == -ETIMEDOUT && f->tmo.timed_out);

	/* The one-line select: the square wins; the kept nap is not dropped
	 * and goes on in the next select (the countdown wins), until its
	 * owner drops it. */
	f->n = nap_frame{};
	f->n.drops = &kept_drops;
	f->child = square_frame{};
	f->child.x = 8;
	WEFT_AWAIT_SELECT(&f->sel, f->br, WEFT_SELECT_BIASED,
			  WEFT_BRANCH_KEEP(nap, &f->n),
			  WEFT_BRANCH(square, &f->child));
	CHECK(f->sel.res == 1 && f->sel.n == 2 && f->child.res == 64);
	CHECK(kept_drops.load() == 0);
	countdown_init(&f->cd, 2);
	WEFT_AWAIT_SELECT(&f->sel, f->br, 0, WEFT_BRANCH_KEEP(nap, &f->n),
			  WEFT_BRANCH(countdown, &f->cd));
	CHECK(f->sel.res == 1 && f->cd.res == 0);
	CHECK(kept_drops.load() == 0);
	nap_drop(&f->n);
	CHECK(kept_drops.load() == 1);

	/* The one-line join_all. */
	f->sq[1] = square_frame{};
	f->sq[1].x = 9;
	countdown_init(&f->cd, 3);
	WEFT_AWAIT_JOIN_ALL(&f->all, f->br, WEFT_BRANCH(square, &f->sq[1]),
			    WEFT_BRANCH(countdown, &f->cd));
	CHECK(f->all.res == 0 && f->all.n == 2 && f->sq[1].res == 81 &&
	      f->cd.res == 0);

	/* A JoinSet: positional and all-zero spawns, collected until empty;
	 * then the one-line try_join (both branches succeed). */
	CHECK(weft_joinset_create(&f->set, nullptr) == 0);
	CHECK(WEFT_JOINSET_SPAWN(f->set, square, { nullptr, 0, 5 }) == 0);
	CHECK(WEFT_JOINSET_SPAWN(f->set, square, {}) == 0);
	CHECK(weft_joinset_len(f->set) == 2);
	f->sum = 0;
	for (;;) {
		WEFT_AWAIT_INIT(weft_joinset_next, &f->next, f->set);
		if (f->next.id == 0)
			break;
		f->sum += f->next.res;
	}
	CHECK(f->next.res == -ENOENT && f->sum == 25);
	weft_joinset_destroy(f->set);
	f->sq[1] = square_frame{};
	f->sq[1].x = 4;
	countdown_init(&f->cd, 2);
	WEFT_AWAIT_TRY_JOIN(&f->tj, f->br, WEFT_BRANCH(square, &f->sq[1]),
			    WEFT_BRANCH(countdown, &f->cd));
	CHECK(f->tj.res == 0 && f->tj.failed == -1 && f->sq[1].res == 16);
	f->sum = 0 + 1 + 9 + 16 + 36 + 49;

	/* A sleep awaited directly. */
	WEFT_AWAIT_INIT(weft_sleep, &f->n.sleep, WEFT_MS);
	CHECK(f->n.sleep.res == 0);

	/* A bounded mpsc channel: three detached producers, one receiver
	 * until the channel closes (the last sender handle dropped). */
	CHECK(weft_mpsc_create(&f->tx, &f->rx, sizeof(int), 2, nullptr) == 0);
	for (f->i = 0; f->i < kProducers; f->i++) {
		producer_frame fr{};
		fr.tx = weft_mpsc_tx_clone(f->tx);
		fr.base = 100 * f->i;
		CHECK(WEFT_SPAWN_FRAME(f->rt, producer, nullptr, &fr) == 0);
	}
	weft_mpsc_tx_drop(f->tx);
	f->got = 0;
	f->total = 0;
	for (;;) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx, &f->value);
		if (f->recv.res < 0)
			break;
		f->got++;
		f->total += f->value;
	}
	CHECK(f->recv.res == -EPIPE);
	CHECK(f->got == kProducers * kPerProducer);
	/* sum of 100 * p + i over p < 3, i < 5 */
	CHECK(f->total == 5 * (0 + 100 + 200) + 3 * (0 + 1 + 2 + 3 + 4));
	weft_mpsc_rx_drop(f->rx);

	/* The element destructor runs for each value still buffered when
	 * the channel is freed. */
	released.store(0);
	CHECK(weft_mpsc_create(&f->tx, &f->rx, sizeof(int),
			       WEFT_MPSC_UNBOUNDED, release_int) == 0);
	for (f->i = 0; f->i < 3; f->i++) {
		f->value = 1000 + f->i;
		CHECK(weft_mpsc_try_send(f->tx, &f->value) == 0);
	}
	weft_mpsc_rx_drop(f->rx);
	weft_mpsc_tx_drop(f->tx);
	CHECK(released.load() == 3);

	/* The blocking pool owns its argument. */
	CHECK(weft_spawn_blocking(f->rt, blocking_double, new intptr_t(21),
				  blocking_release, &f->bj) == 0);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->bj);
	weft_join_drop(f->bj);
	CHECK(f->wait.res == 42);

	WEFT_YIELD();
	WEFT_RETURN(f->sum);
	WEFT_END();
}
WEFT_FUTURE(top, top, WEFT_NO_DROP);

void run(bool current_thread)
{
	weft_rt_builder b;
	weft_rt *rt = nullptr;
	std::atomic<int> drops{0};
	countdown cd{};
	weft_join_wait w{};
	weft_join *j = nullptr;

	kept_drops.store(0);
	weft_rt_builder_init(&b);
	b.current_thread = current_thread;
	b.workers = 2;
	b.no_pin = true;
	CHECK(weft_rt_create(&rt, &b) == 0);

	top t{};
	t.rt = rt;
	t.drops = &drops;
	CHECK(WEFT_BLOCK_ON(rt, top, &t) == 0);
	CHECK(t.res == 0 + 1 + 9 + 16 + 36 + 49);
	/* init + block_on in one expression: a future of this file, and a
	 * join of a task spawned from here */
	CHECK(WEFT_BLOCK_ON_INIT(rt, countdown, &cd, 3) == 0 && cd.res == 0);
	CHECK(WEFT_SPAWN(rt, square, &j, { nullptr, 0, 13 }) == 0);
	CHECK(WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j) == 0 &&
	      w.res == 169);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	/* The aborted task, the select's loser and the timed-out child. */
	CHECK(drops.load() == 3);
}

} // namespace

int main()
{
	run(false);
	run(true);
	std::printf("cxx: ok\n");
	return 0;
}
