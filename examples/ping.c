/* examples/ping.c - the ping handler of the seeds: a task counts the pings
 * on a channel until the channel closes. main sends ten and drops its
 * sender, the last one: the handler's receive then returns -EPIPE, but
 * only after every ping still queued was received (closing never loses a
 * value). The handler's result (its res) is the count.
 */
#include <stdio.h>
#include <weft.h>

struct ping_handler { WEFT_ASYNC; weft_mpsc_rx *input; weft_mpsc_recv recv; };

static weft_poll ping_handler_poll(struct ping_handler *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		WEFT_AWAIT_INIT(weft_mpsc_recv, &f->recv, f->input, NULL);
		if (f->recv.res < 0)           /* -EPIPE: closed and drained */
			break;
		printf("Received %ld pings so far.\n", (long)++f->res);
	}
	printf("ping_handler complete\n");
	WEFT_END();
}

static void ping_handler_drop(struct ping_handler *f)  /* done, or cancelled */
{
	weft_mpsc_rx_drop(f->input);
}
WEFT_FUTURE(ping_handler, struct ping_handler, ping_handler_drop);

/* main is plain C: it runs each future to completion with block_on (as
 * tokio's Runtime::block_on) while the workers run the handler. */
int main(void)
{
	weft_mpsc_tx *sender;
	weft_mpsc_rx *receiver;
	weft_mpsc_send s = { 0 };      /* a send, re-initialised after READY */
	weft_join_wait wait = { 0 };
	weft_join *task;
	weft_rt *rt;
	char ping = 0;                 /* the value sent: one byte */

	if (weft_rt_create(&rt, NULL) ||
	    weft_mpsc_create(&sender, &receiver, 1, 32, NULL) ||
	    WEFT_SPAWN(rt, ping_handler, &task, { .input = receiver }))
		return 1;              /* (an example: no clean-up) */
	for (int i = 0; i < 10; i++) {
		if (WEFT_BLOCK_ON_INIT(rt, weft_mpsc_send, &s, sender, &ping) ||
		    s.res < 0)
			return 1;
		printf("Sent %d pings so far.\n", i + 1);
	}
	weft_mpsc_tx_drop(sender);     /* the last sender: the channel closes */
	WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &wait, task);
	weft_join_drop(task);
	weft_rt_destroy(rt);
	return wait.res == 10 ? 0 : 1; /* the handler's count */
}
