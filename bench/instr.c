/* bench/instr.c - instruction counts of the scheduler's hot paths, for
 * valgrind --tool=callgrind (counts are repeatable, unlike times here).
 *
 *   weft-instr spawn N   one task spawns N empty tasks, then joins a last
 *                        one (FIFO: all N ran): N x (spawn + run + free)
 *   weft-instr wake N    one task yields N times: N x (wake of a running
 *                        task + re-queue + poll)
 *   weft-instr pingpong N  two tasks wake each other N times through
 *                        stored wakers: N x (wake of an idle task + poll)
 *   weft-instr joinset N   one task spawns N tasks returning a value into
 *                        a weft_joinset and collects them all with
 *                        weft_joinset_next: N x (spawn + run + collect)
 *   weft-instr spawnjoin N the same with join handles, each awaited with
 *                        weft_join_wait and dropped (joinset's baseline)
 *   weft-instr foreach N  N items of a filled mpsc channel consumed by
 *                        weft_iter_for_each_concurrent (limit 64, a
 *                        future per item that adds it up): N x (item)
 *   weft-instr recvloop N the same items by a weft_mpsc_recv loop (the
 *                        hand-written baseline of foreach)
 *   weft-instr futset N  a task owns a future set (weft/futset.h) of 100
 *                        waiting members and wakes one at a time, in
 *                        turn, N times; each time it awaits next (only
 *                        that member is polled: it completes), pushes a
 *                        replacement and polls the set once so that it
 *                        registers (bench/stream_wl.c's futset_wake):
 *                        N x (wake + next + push + registering poll)
 *
 * Current-thread flavour, so the counts do not depend on thread timing.
 * bench/instr.sh runs each at two sizes and prints the difference per
 * operation, which cancels start-up and shutdown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

struct nop {
	WEFT_ASYNC;
};

static weft_poll nop_poll(struct nop *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_END();
}

WEFT_FUTURE(nop, struct nop, WEFT_NO_DROP);

struct spawner {
	WEFT_ASYNC;
	weft_rt *rt;
	long n, i;
	weft_join *last;
	weft_join_wait wait;
};

static weft_poll spawner_poll(struct spawner *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->n; f->i++)
		if (WEFT_SPAWN(f->rt, nop, NULL, { 0 }))
			abort();
	if (WEFT_SPAWN(f->rt, nop, &f->last, { 0 }))
		abort();
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->last);
	weft_join_drop(f->last);
	WEFT_END();
}

WEFT_FUTURE(spawner, struct spawner, WEFT_NO_DROP);

struct yielder {
	WEFT_ASYNC;
	long n, i;
};

static weft_poll yielder_poll(struct yielder *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->n; f->i++)
		WEFT_YIELD();
	WEFT_END();
}

WEFT_FUTURE(yielder, struct yielder, WEFT_NO_DROP);

/* Two tasks, each waits for its turn; the mover wakes the other through
 * the waker it stored. */
struct court {
	long turn;             /* whose turn: 0 or 1 */
	weft_waker waiting[2];
};

struct player {
	WEFT_ASYNC;
	struct court *c;
	int me;
	long n, i;
};

static weft_poll my_turn(struct player *f, weft_cx *cx)
{
	if (f->c->turn == f->me)
		return WEFT_READY;
	weft_waker_register(&f->c->waiting[f->me], cx);
	return WEFT_PENDING;
}

static weft_poll player_poll(struct player *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->n; f->i++) {
		WEFT_AWAIT(my_turn(f, cx));
		f->c->turn = !f->me;
		weft_waker_wake_by_ref(&f->c->waiting[!f->me]);
	}
	weft_waker_drop(&f->c->waiting[f->me]);
	WEFT_END();
}

WEFT_FUTURE(player, struct player, WEFT_NO_DROP);

struct pair {
	WEFT_ASYNC;
	weft_rt *rt;
	struct court c;
	long n;
	weft_join *a, *b;
	weft_join_wait wait;
};

static weft_poll pair_poll(struct pair *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_SPAWN(f->rt, player, &f->a,
		       { .c = &f->c, .me = 0, .n = f->n }) ||
	    WEFT_SPAWN(f->rt, player, &f->b,
		       { .c = &f->c, .me = 1, .n = f->n }))
		abort();
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->a);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->b);
	weft_join_drop(f->a);
	weft_join_drop(f->b);
	WEFT_END();
}

WEFT_FUTURE(pair, struct pair, WEFT_NO_DROP);

struct ret {
	WEFT_ASYNC;
	intptr_t v;
};

static weft_poll ret_poll(struct ret *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(f->v);
	WEFT_END();
}

WEFT_FUTURE(ret, struct ret, WEFT_NO_DROP);

struct group {
	WEFT_ASYNC;
	weft_rt *rt;
	bool joinset;
	long n, i;
	intptr_t sum;
	weft_joinset *set;
	weft_join **j;
	weft_joinset_next next;
	weft_join_wait wait;
};

static weft_poll group_poll(struct group *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (f->joinset) {
		if (weft_joinset_create(&f->set, f->rt))
			abort();
		for (f->i = 0; f->i < f->n; f->i++)
			if (WEFT_JOINSET_SPAWN(f->set, ret, { .v = 1 }))
				abort();
		for (;;) {
			WEFT_AWAIT_INIT(weft_joinset_next, &f->next, f->set);
			if (!f->next.id)
				break;
			f->sum += f->next.res;
		}
		weft_joinset_destroy(f->set);
	} else {
		f->j = malloc(sizeof(*f->j) * (size_t)f->n);
		if (!f->j)
			abort();
		for (f->i = 0; f->i < f->n; f->i++)
			if (WEFT_SPAWN(f->rt, ret, &f->j[f->i], { .v = 1 }))
				abort();
		for (f->i = 0; f->i < f->n; f->i++) {
			WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j[f->i]);
			weft_join_drop(f->j[f->i]);
			f->sum += f->wait.res;
		}
		free(f->j);
	}
	if (f->sum != f->n)
		abort();
	WEFT_END();
}

WEFT_FUTURE(group, struct group, WEFT_NO_DROP);

struct add {
	WEFT_ASYNC_VOID;
	int64_t *sum;
	int64_t v;
};

static weft_poll add_poll(struct add *f, weft_cx *cx)
{
	(void)cx;
	*f->sum += f->v;
	return WEFT_READY;
}

WEFT_FUTURE(add, struct add, WEFT_NO_DROP);

static void add_start(void *ctx, void *frame, const void *item)
{
	struct add *f = frame;

	f->sum = ctx;
	memcpy(&f->v, item, sizeof(f->v));
}

struct consume {
	WEFT_ASYNC;
	bool conc;
	long n, i;
	int64_t sum, item;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_iter_mpsc src;
	weft_iter_for_each_concurrent fe;
	weft_mpsc_recv recv;
};

static weft_poll consume_poll(struct consume *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_mpsc_create(&f->tx, &f->rx, sizeof(int64_t),
			     WEFT_MPSC_UNBOUNDED, NULL))
		abort();
	for (f->i = 0; f->i < f->n; f->i++) {
		int64_t v = 1;

		if (weft_mpsc_try_send(f->tx, &v))
			abort();
	}
	weft_mpsc_tx_drop(f->tx);
	if (f->conc) {
		weft_iter_mpsc_init(&f->src, f->rx, sizeof(int64_t));
		WEFT_ITER_FOR_EACH_CONCURRENT_INIT(&f->fe, &f->src.it, 64, add,
						   add_start, &f->sum);
		WEFT_AWAIT_ON(weft_iter_for_each_concurrent, &f->fe);
	} else {
		for (;;) {
			WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->rx,
					&f->item);
			if (f->recv.res)
				break;
			f->sum += f->item;
		}
	}
	weft_mpsc_rx_drop(f->rx);
	if (f->sum != f->n)
		abort();
	WEFT_END();
}

WEFT_FUTURE(consume, struct consume, WEFT_NO_DROP);

enum { FS_MEMBERS = 100 };

struct fs_member {
	WEFT_ASYNC;
	weft_waker *slot;
	uint32_t id;
	bool waited;
};

static weft_poll fs_member_poll(struct fs_member *f, weft_cx *cx)
{
	if (f->waited) {
		f->res = f->id;
		return WEFT_READY;
	}
	f->waited = true;
	*f->slot = weft_waker_clone(&cx->waker);
	return WEFT_PENDING;
}

WEFT_FUTURE(fs_member, struct fs_member, WEFT_NO_DROP);

struct fs_driver {
	WEFT_ASYNC;
	long n, i;
	uint32_t id;
	weft_futset set;
	weft_futset_next nx;
	weft_waker w[FS_MEMBERS];
};

static void fs_push(struct fs_driver *f, uint32_t id)
{
	struct fs_member *m = WEFT_FUTSET_PUSH(&f->set, fs_member);

	if (!m)
		abort();
	m->slot = &f->w[id];
	m->id = id;
}

static weft_poll fs_driver_poll(struct fs_driver *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_FUTSET_INIT(&f->set, fs_member, 0))
		abort();
	for (f->id = 0; f->id < FS_MEMBERS; f->id++)
		fs_push(f, f->id);
	weft_futset_next_init(&f->nx, &f->set);
	if (weft_futset_next_poll(&f->nx, weft_cx_) != WEFT_PENDING)
		abort();
	for (f->i = 0; f->i < f->n; f->i++) {
		f->id = (uint32_t)(f->i % FS_MEMBERS);
		weft_waker_wake(&f->w[f->id]);
		WEFT_AWAIT_INIT(weft_futset_next, &f->nx, &f->set);
		if (f->nx.res != (intptr_t)f->id)
			abort();
		fs_push(f, f->id);
		weft_futset_next_init(&f->nx, &f->set);
		if (weft_futset_next_poll(&f->nx, weft_cx_) != WEFT_PENDING)
			abort();
	}
	for (f->id = 0; f->id < FS_MEMBERS; f->id++)
		weft_waker_drop(&f->w[f->id]);
	weft_futset_destroy(&f->set);
	WEFT_END();
}

WEFT_FUTURE(fs_driver, struct fs_driver, WEFT_NO_DROP);

int main(int argc, char **argv)
{
	weft_rt_builder b;
	weft_rt *rt;
	long n;

	if (argc != 3) {
		fprintf(stderr, "usage: weft-instr spawn|wake|pingpong|joinset|spawnjoin|"
				"foreach|recvloop|futset N\n");
		return 2;
	}
	n = atol(argv[2]);
	weft_rt_builder_init(&b);
	b.current_thread = true;
	b.io.enable = false;
	if (weft_rt_create(&rt, &b))
		return 1;
	if (!strcmp(argv[1], "spawn")) {
		struct spawner s = { .rt = rt, .n = n };

		WEFT_BLOCK_ON(rt, spawner, &s);
	} else if (!strcmp(argv[1], "wake")) {
		weft_join_wait w = { 0 };
		weft_join *j;

		if (WEFT_SPAWN(rt, yielder, &j, { .n = n }))
			return 1;
		weft_join_wait_init(&w, j);
		WEFT_BLOCK_ON(rt, weft_join_wait, &w);
		weft_join_drop(j);
	} else if (!strcmp(argv[1], "pingpong")) {
		struct pair p = { .rt = rt, .n = n };

		WEFT_BLOCK_ON(rt, pair, &p);
	} else if (!strcmp(argv[1], "joinset") ||
		   !strcmp(argv[1], "spawnjoin")) {
		struct group g = { .rt = rt, .n = n,
				   .joinset = !strcmp(argv[1], "joinset") };

		WEFT_BLOCK_ON(rt, group, &g);
	} else if (!strcmp(argv[1], "foreach") ||
		   !strcmp(argv[1], "recvloop")) {
		struct consume c = { .n = n,
				     .conc = !strcmp(argv[1], "foreach") };

		WEFT_BLOCK_ON(rt, consume, &c);
	} else if (!strcmp(argv[1], "futset")) {
		weft_join_wait w = { 0 };
		weft_join *j;

		if (WEFT_SPAWN(rt, fs_driver, &j, { .n = n }))
			return 1;
		weft_join_wait_init(&w, j);
		WEFT_BLOCK_ON(rt, weft_join_wait, &w);
		weft_join_drop(j);
	} else {
		return 2;
	}
	weft_rt_destroy(rt);
	return 0;
}
