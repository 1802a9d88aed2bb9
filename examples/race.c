/* examples/race.c - the first-animal race of the seeds: select over two
 * receivers. A cat and a dog task each sleep, then send their name (a
 * heap string) on their own channel; the race takes whichever arrives
 * first (a select's res is the winner's index; the winner's own result is
 * in the winner). The losing receive is dropped by the select without
 * taking its value (a receive takes a value only when it completes), so
 * the loser's name stays queued, and the channel's element destructor
 * frees it when the receiver is dropped: every name is freed exactly
 * once, by whoever owns it at the end.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L  /* strdup */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static int released;                   /* names freed by a channel */

static void free_name(void *elem)      /* the channels' element destructor */
{
	printf("the channel frees the loser's name: %s\n", *(char **)elem);
	free(*(char **)elem);
	released++;
}

/* Sleeps ms, then sends a copy of name: the channel owns it once sent. */
struct send_later {
	WEFT_ASYNC;
	weft_mpsc_tx *tx;
	const char *name;
	unsigned ms;
	char *copy;
	weft_sleep sleep;
	weft_mpsc_send send;
};

static weft_poll send_later_poll(struct send_later *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->sleep, f->ms * WEFT_MS);
	if ((f->copy = strdup(f->name)))
		WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->tx, &f->copy);
	WEFT_END();
}

static void send_later_drop(struct send_later *f)  /* done, or cancelled */
{
	weft_sleep_drop(&f->sleep);
	weft_mpsc_send_drop(&f->send);     /* res: 0 if the channel took it */
	if (f->copy && f->send.res < 0)
		free(f->copy);                 /* not sent: still ours */
	weft_mpsc_tx_drop(f->tx);
}
WEFT_FUTURE(send_later, struct send_later, send_later_drop);

/* res: 0 the cat won, 1 the dog; the winner's recv.res is 0 when it got a
 * name, -EPIPE when its sender gave up. */
struct race {
	WEFT_ASYNC;
	weft_mpsc_rx *rx[2];
	char *name[2];
	weft_mpsc_recv recv[2];
	weft_branch br[2];
	weft_select sel;
};

static weft_poll race_poll(struct race *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_mpsc_recv_init(&f->recv[0], f->rx[0], &f->name[0]);
	weft_mpsc_recv_init(&f->recv[1], f->rx[1], &f->name[1]);
	WEFT_AWAIT_SELECT(&f->sel, f->br, 0,
			  WEFT_BRANCH(weft_mpsc_recv, &f->recv[0]),
			  WEFT_BRANCH(weft_mpsc_recv, &f->recv[1]));
	WEFT_RETURN(f->sel.res);
	WEFT_END();
}
WEFT_FUTURE(race, struct race, WEFT_NO_DROP);

int main(void)
{
	static const char *const kind[2] = { "Cat", "Dog" };
	weft_join_wait wait = { 0 };
	struct race r = { 0 };
	weft_mpsc_tx *tx[2];
	weft_join *j[2];
	weft_rt *rt;

	if (weft_rt_create(&rt, NULL) ||
	    weft_mpsc_create(&tx[0], &r.rx[0], sizeof(char *), 32, free_name) ||
	    weft_mpsc_create(&tx[1], &r.rx[1], sizeof(char *), 32, free_name) ||
	    WEFT_SPAWN(rt, send_later, &j[0],
		       { .tx = tx[0], .name = "Felix", .ms = 200 }) ||
	    WEFT_SPAWN(rt, send_later, &j[1],
		       { .tx = tx[1], .name = "Rex", .ms = 20 }))
		return 1;                      /* (an example: no clean-up) */
	if (WEFT_BLOCK_ON(rt, race, &r) || r.recv[r.res].res < 0)
		return 1;                      /* "Failed to receive winner" */
	printf("Winner is %s { name: \"%s\" }\n", kind[r.res], r.name[r.res]);
	free(r.name[r.res]);                   /* received: ours now */
	for (int i = 0; i < 2; i++) {          /* let the loser send too */
		WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &wait, j[i]);
		weft_join_drop(j[i]);
		weft_mpsc_rx_drop(r.rx[i]);    /* frees what it still holds */
	}
	weft_rt_destroy(rt);
	return released == 1 ? 0 : 1;          /* the loser's name, once */
}
