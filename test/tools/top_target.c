/* test/tools/top_target.c - a weft program for weft-top to attach to
 * (test/tools/top.sh): a runtime of 2 workers with task tracking, the
 * long-poll detector at 20 ms, the control socket at argv[1] and a dump on
 * SIGUSR1; its tasks: `spinner` (busy: polls and yields, burning ~200 us
 * a poll), `ticker` (sleeps 100 ms at a time), `waiter` (waits on an
 * empty mpsc channel), `blocker` (blocks its worker for 60 ms every
 * 300 ms: the long polls). Runs until SIGTERM or SIGINT, then shuts the
 * runtime down and exits 0. Prints "ready" on stdout once the socket is
 * there.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "weft/metrics.h"
#include "weft/mpsc.h"
#include "weft/rt.h"
#include "weft/time.h"

static void burn(long ns)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) <
	       ns);
}

struct spinner {
	WEFT_ASYNC;
};

static weft_poll spinner_poll(struct spinner *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		burn(200 * 1000);
		WEFT_YIELD();
	}
	WEFT_END();
}

WEFT_FUTURE(spinner, struct spinner, WEFT_NO_DROP);

struct ticker {
	WEFT_ASYNC;
	weft_sleep s;
};

static weft_poll ticker_poll(struct ticker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		weft_sleep_init(&f->s, 100 * WEFT_MS);
		WEFT_AWAIT_ON(weft_sleep, &f->s);
	}
	WEFT_END();
}

static void ticker_drop(struct ticker *f)
{
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(ticker, struct ticker, ticker_drop);

struct waiter {
	WEFT_ASYNC;
	weft_mpsc_rx *rx;
	weft_mpsc_recv r;
	int v;
};

static weft_poll waiter_poll(struct waiter *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_mpsc_recv_init(&f->r, f->rx, &f->v);
	WEFT_AWAIT_ON(weft_mpsc_recv, &f->r);
	WEFT_RETURN(0);
	WEFT_END();
}

static void waiter_drop(struct waiter *f)
{
	weft_mpsc_recv_drop(&f->r);
}

WEFT_FUTURE(waiter, struct waiter, waiter_drop);

struct blocker {
	WEFT_ASYNC;
	weft_sleep s;
};

static weft_poll blocker_poll(struct blocker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (;;) {
		weft_sleep_init(&f->s, 300 * WEFT_MS);
		WEFT_AWAIT_ON(weft_sleep, &f->s);
		usleep(60 * 1000); /* blocks the worker: a long poll */
	}
	WEFT_END();
}

static void blocker_drop(struct blocker *f)
{
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(blocker, struct blocker, blocker_drop);

int main(int argc, char **argv)
{
	weft_rt_builder b;
	weft_obs_opts o;
	weft_mpsc_tx *tx;
	weft_mpsc_rx *rx;
	weft_rt *rt;
	sigset_t set;
	int sig, err;

	if (argc != 2) {
		fprintf(stderr, "usage: top_target SOCKET\n");
		return 2;
	}
	/* SIGTERM / SIGINT are waited for below: blocked before any thread */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	weft_rt_builder_init(&b);
	b.workers = 2;
	b.no_pin = true;
	weft_obs_opts_init(&o);
	o.track_tasks = true;
	o.long_poll_ns = 20 * WEFT_MS;
	o.on_long_poll = NULL;
	o.control_path = argv[1];
	o.dump_signal = SIGUSR1;
	err = weft_rt_create_with(&rt, &b, &o);
	if (err) {
		fprintf(stderr, "top_target: %s\n", weft_rt_create_error());
		return 1;
	}
	if (weft_mpsc_create(&tx, &rx, sizeof(int), 4, NULL))
		return 1;
	if (WEFT_SPAWN(rt, spinner, NULL, {}) || WEFT_SPAWN(rt, ticker, NULL, {}) ||
	    WEFT_SPAWN(rt, waiter, NULL, { .rx = rx }) ||
	    WEFT_SPAWN(rt, blocker, NULL, {}))
		return 1;
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	weft_rt_destroy(rt);
	weft_mpsc_tx_drop(tx);
	weft_mpsc_rx_drop(rx);
	return 0;
}
