/* examples/actor.c - the actor pattern of the seeds: a worker task owns a
 * queue of work items and answers each on the item's own oneshot channel;
 * the requester sends one item at a time and awaits its answer.
 *
 * The worker selects between its queue and a report timer. The timer is
 * created once, before the loop, and reset each time it fires; its branch
 * is a kept one (WEFT_BRANCH_KEEP, tokio's `&mut sleep`): a select that
 * the queue wins leaves it registered, so the next select waits for the
 * same deadline on the same timer record, and the worker's drop function
 * releases it. (The classic mistake is a fresh 100 ms sleep inside the
 * loop: while work keeps arriving it never fires.) The select is biased,
 * timer first, so a report that is due is printed before the next item.
 *
 * The queue's element destructor answers for the items it still holds
 * when the worker goes away: it drops their reply channels, so their
 * requesters get -EPIPE instead of waiting forever.
 *
 * Run: build/examples/actor   (20 results and at least one report line)
 */
#include <stdio.h>
#include <weft.h>

#define REQUESTS 20

struct work {
	uint32_t input;
	weft_oneshot *respond_on;  /* the requester's reply channel */
};

static void work_release(void *elem)       /* an item never served */
{
	weft_oneshot_tx_drop(((struct work *)elem)->respond_on);
}

/* ---------------------------------------------------------------- worker */

struct worker {
	WEFT_ASYNC;                /* res: iterations */
	weft_mpsc_rx *queue;
	struct work item;
	weft_sleep report;         /* branch 0: made once, kept, reset */
	weft_mpsc_recv recv;       /* branch 1: the next work item */
	weft_sleep pretend;        /* the "work" itself */
	weft_branch br[2];
	weft_select sel;
};

static weft_poll worker_poll(struct worker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_sleep_init(&f->report, 100 * WEFT_MS);
	for (;;) {
		weft_mpsc_recv_init(&f->recv, f->queue, &f->item);
		WEFT_AWAIT_SELECT(&f->sel, f->br, WEFT_SELECT_BIASED,
				  WEFT_BRANCH_KEEP(weft_sleep, &f->report),
				  WEFT_BRANCH(weft_mpsc_recv, &f->recv));
		if (f->sel.res == 0) {
			printf("worker: %ld iterations so far\n", (long)f->res);
			weft_sleep_reset(&f->report, weft_now() + 100 * WEFT_MS);
			continue;
		}
		if (f->recv.res < 0)       /* -EPIPE: no sender left, drained */
			break;
		WEFT_AWAIT_INIT(weft_sleep, &f->pretend, 10 * WEFT_MS);
		if (weft_oneshot_send(f->item.respond_on,
				      &(uint32_t){ f->item.input * 1000 }) < 0)
			printf("worker: requester %u is gone\n", f->item.input);
		f->res++;
	}
	WEFT_END();
}

static void worker_drop(struct worker *f)  /* done, or cancelled */
{
	weft_sleep_drop(&f->report);       /* kept: no select drops it */
	weft_sleep_drop(&f->pretend);
	weft_mpsc_rx_drop(f->queue);       /* runs work_release per item */
}
WEFT_FUTURE(worker, struct worker, worker_drop);

/* ------------------------------------------------------------- do_work */

/* Sends one item and awaits its answer: res = the answer, or -errno. */
struct do_work {
	WEFT_ASYNC;
	weft_mpsc_tx *queue;
	struct work item;
	uint32_t answer;
	weft_mpsc_send send;
	weft_oneshot_recv reply;
};

static weft_poll do_work_poll(struct do_work *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (weft_oneshot_create(&f->item.respond_on, sizeof(uint32_t)))
		WEFT_RETURN(-1);
	WEFT_AWAIT_INIT(weft_mpsc_send, &f->send, f->queue, &f->item);
	if (f->send.res < 0)           /* not taken: the sender is still ours */
		weft_oneshot_tx_drop(f->item.respond_on);  /* recv: -EPIPE */
	WEFT_AWAIT_INIT(weft_oneshot_recv, &f->reply, f->item.respond_on,
			&f->answer);
	weft_oneshot_rx_drop(f->item.respond_on);
	WEFT_RETURN(f->reply.res < 0 ? f->reply.res : f->answer);
	WEFT_END();
}
/* Run to its end by main, never dropped half-way. */
WEFT_FUTURE(do_work, struct do_work, WEFT_NO_DROP);

/* ----------------------------------------------------------------- main */

/* main is plain C: block_on runs each request (as tokio's block_on of an
 * async main would) while the workers run the worker task. */
int main(void)
{
	weft_join_wait wait = { 0 };
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_join *worker;
	weft_rt *rt;

	if (weft_rt_create(&rt, NULL) ||
	    weft_mpsc_create(&tx, &rx, sizeof(struct work), 10, work_release) ||
	    WEFT_SPAWN(rt, worker, &worker, { .queue = rx }))
		return 1;                 /* (an example: no clean-up) */
	for (uint32_t i = 0; i < REQUESTS; i++) {
		struct do_work req = { .queue = tx, .item.input = i };

		if (WEFT_BLOCK_ON(rt, do_work, &req) || req.res < 0)
			return 1;         /* "failed waiting for response" */
		printf("work result for iteration %u: %ld\n", i,
		       (long)req.res);
	}
	weft_mpsc_tx_drop(tx);            /* the worker's recv gets -EPIPE */
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &wait, worker);
	weft_join_drop(worker);
	weft_rt_destroy(rt);
	printf("worker handled %ld items\n", (long)wait.res);
	return wait.res == REQUESTS ? 0 : 1;
}
