/* examples/actor.c - the actor pattern: a worker task owns a queue of work
 * items and answers each on its own oneshot channel; a requester sends
 * work and awaits the answers one by one.
 *
 * The worker selects between its queue and a report timer. The timer is a
 * future that lives in the worker's frame across loop iterations: it is
 * passed to select without a drop function (borrowed, not consumed), so
 * losing a round does not cancel it, and it is re-armed each time it fires.
 * That is the answer to the classic mistake of creating a fresh 100 ms
 * sleep inside the loop, which never fires while work keeps arriving.
 *
 * Run: build/examples/actor   (prints 10 results and the report lines)
 */
#include <errno.h>
#include <stdio.h>
#include <weft.h>

#define REQUESTS 10

struct work {
	uint32_t input;
	weft_oneshot *respond_on;  /* the requester's reply channel */
};

/* ---------------------------------------------------------------- worker */

struct worker {
	WEFT_ASYNC;
	weft_mpsc_rx *queue;
	unsigned iterations;
	struct work item;
	weft_mpsc_recv recv;       /* branch 0: the next work item */
	weft_sleep report;         /* branch 1: the report timer (persistent) */
	weft_sleep pretend;        /* the "work" itself */
	weft_branch br[2];
	weft_select sel;
};

static weft_poll worker_poll(struct worker *f, weft_cx *cx)
{
	uint32_t answer;

	WEFT_BEGIN(f);
	weft_sleep_init(&f->report, 100 * WEFT_MS);
	for (;;) {
		weft_mpsc_recv_init(&f->recv, f->queue, &f->item);
		/* no drop functions: a receive that loses holds nothing (the
		 * item stays in the queue), and the timer is kept */
		f->br[0] = WEFT_BRANCH(weft_mpsc_recv_fut_poll, NULL, &f->recv);
		f->br[1] = WEFT_BRANCH(weft_sleep_poll, NULL, &f->report);
		weft_select_init(&f->sel, f->br, 2, 0);
		WEFT_AWAIT(f, weft_select_poll(&f->sel, cx));

		if (f->sel.winner == 1) {
			printf("worker: %u iterations so far\n", f->iterations);
			weft_sleep_reset(&f->report,
					 weft_now() + 100 * WEFT_MS);
			continue;
		}
		if (f->recv.err == -EPIPE)  /* every requester is gone */
			break;
		weft_sleep_init(&f->pretend, 10 * WEFT_MS); /* pretend to work */
		WEFT_AWAIT(f, weft_sleep_poll(&f->pretend, cx));
		weft_sleep_drop(&f->pretend);
		answer = f->item.input * 1000;
		if (weft_oneshot_send(f->item.respond_on, &answer) < 0)
			printf("worker: requester %u went away\n",
			       f->item.input);
		f->iterations++;
	}
	WEFT_RETURN(f, cx, f->iterations);
	WEFT_END(f);
}

static void worker_drop(struct worker *f)
{
	weft_sleep_drop(&f->report);
	weft_sleep_drop(&f->pretend);
	weft_mpsc_rx_drop(f->queue);
}

/* ------------------------------------------------------------- requester */

struct requester {
	WEFT_ASYNC;
	weft_rt *rt;
	weft_mpsc_tx *queue;
	uint32_t i;
	struct work item;
	uint32_t answer;
	weft_mpsc_send send;
	weft_oneshot_recv reply;
	weft_join_fut worker;
};

static weft_poll requester_poll(struct requester *f, weft_cx *cx)
{
	weft_mpsc_rx *rx;

	WEFT_BEGIN(f);
	if (weft_mpsc_channel(sizeof(struct work), 10, &f->queue, &rx) < 0)
		WEFT_RETURN(f, cx, -1);
	if (WEFT_SPAWN(f->rt, &f->worker.j, worker_poll, worker_drop,
		       struct worker, { .queue = rx }) < 0) {
		weft_mpsc_rx_drop(rx);
		weft_mpsc_tx_drop(f->queue);
		WEFT_RETURN(f, cx, -1);
	}
	for (f->i = 0; f->i < REQUESTS; f->i++) {
		f->item.input = f->i;
		if (weft_oneshot_create(&f->item.respond_on, sizeof(uint32_t)))
			break;
		weft_mpsc_send_init(&f->send, f->queue, &f->item);
		WEFT_AWAIT(f, weft_mpsc_send_poll(&f->send, cx));
		if (f->send.err) {
			weft_oneshot_tx_drop(f->item.respond_on);
			weft_oneshot_rx_drop(f->item.respond_on);
			break;
		}
		weft_oneshot_recv_init(&f->reply, f->item.respond_on,
				       &f->answer);
		WEFT_AWAIT(f, weft_oneshot_recv_fut_poll(&f->reply, cx));
		weft_oneshot_rx_drop(f->item.respond_on);
		if (f->reply.err == 0)
			printf("work result for iteration %u: %u\n", f->i,
			       f->answer);
	}
	weft_mpsc_tx_drop(f->queue);  /* the worker's recv now ends: -EPIPE */
	WEFT_AWAIT(f, weft_join_fut_poll(&f->worker, cx));
	weft_join_drop(f->worker.j);
	WEFT_RETURN(f, cx, f->worker.err ? -1 : f->worker.out);
	WEFT_END(f);
}

int main(void)
{
	weft_rt *rt;
	intptr_t done = -1;
	int err = weft_rt_create(&rt, NULL);

	if (err < 0) {
		fprintf(stderr, "weft_rt_create: %s\n", weft_rt_create_error());
		return 1;
	}
	struct requester r = { .rt = rt };
	WEFT_BLOCK_ON(rt, &done, requester_poll, &r);
	weft_rt_destroy(rt);
	printf("worker handled %ld items\n", (long)done);
	return done == REQUESTS ? 0 : 1;
}
