/* test/reactor/signal.c - signal streams (weft/signal.h): a signal sent
 * to the process (kill(getpid())) is received with its siginfo, one sent
 * before the receive waits too, a receive dropped in flight loses nothing;
 * ctrl_c completes on SIGINT; bad sets are refused; weft's workers and
 * blocking-pool threads block the streamed signals even when the thread
 * that created the runtime does not; other handlers are left alone. */
#include <pthread.h>

#include "helpers.h"

static sigset_t one(int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	return s;
}

/* Receives one signal of s, with a hang guard. */
struct recv_one {
	WEFT_ASYNC;
	weft_signal *s;
	weft_signal_recv r;
	weft_timeout t;
};

static weft_poll recv_one_poll(struct recv_one *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_signal_recv_init(&f->r, f->s);
	weft_timeout_init(&f->t, WEFT_BRANCH(weft_signal_recv, &f->r),
			  10000 * WEFT_MS);
	WEFT_AWAIT_ON(weft_timeout, &f->t);
	WEFT_RETURN(f->t.res);
	WEFT_END();
}

static void recv_one_drop(struct recv_one *f)
{
	weft_timeout_drop(&f->t);
}

WEFT_FUTURE(recv_one, struct recv_one, recv_one_drop);

Test(signal, kill_of_the_process_is_received_with_its_siginfo)
{
	sigset_t set = one(SIGUSR1);
	weft_signal *s = NULL;
	struct recv_one *f = calloc(1, sizeof(*f));
	weft_join *j;
	weft_rt *rt;

	cr_assert_eq(weft_signal_block(&set), 0);
	rt = test_rt(2);
	cr_assert_eq(weft_signal_create(&s, &set), 0);
	cr_assert_geq(weft_signal_fd(s), 0);
	f->s = s;
	cr_assert_eq(weft_spawn(rt, &recv_one_future, f, &j), 0);
	cr_assert_eq(kill(getpid(), SIGUSR1), 0);
	cr_assert_eq(test_join(rt, j), SIGUSR1);
	free(f);
	weft_signal_destroy(s);
	weft_rt_destroy(rt);
}

/* Receives twice in one task, checking the siginfo. */
struct recv_info {
	WEFT_ASYNC;
	weft_signal *s;
	weft_signal_recv r;
};

static weft_poll recv_info_poll(struct recv_info *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_signal_recv, &f->r, f->s);
	cr_assert_eq(f->r.res, SIGUSR2);
	cr_assert_eq(f->r.info.ssi_signo, (uint32_t)SIGUSR2);
	cr_assert_eq(f->r.info.ssi_pid, (uint32_t)getpid());
	cr_assert_eq(f->r.info.ssi_code, SI_USER);
	WEFT_RETURN(f->r.res);
	WEFT_END();
}

static void recv_info_drop(struct recv_info *f)
{
	weft_signal_recv_drop(&f->r);
}

WEFT_FUTURE(recv_info, struct recv_info, recv_info_drop);

Test(signal, pending_signal_and_dropped_receive_lose_nothing)
{
	sigset_t set = one(SIGUSR2);
	weft_signal *s = NULL;
	weft_signal_recv r = { 0 };
	struct recv_info f = { 0 };
	weft_rt *rt;

	cr_assert_eq(weft_signal_block(&set), 0);
	rt = test_rt(1);
	cr_assert_eq(weft_signal_create(&s, &set), 0);
	/* a receive waiting, then dropped */
	weft_signal_recv_init(&r, s);
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_signal_recv, &r), WEFT_PENDING);
	weft_signal_recv_drop(&r);
	/* sent while nobody waits: pending in the kernel */
	cr_assert_eq(kill(getpid(), SIGUSR2), 0);
	f.s = s;
	cr_assert_eq(WEFT_BLOCK_ON(rt, recv_info, &f), 0);
	cr_assert_eq(f.res, SIGUSR2);
	weft_signal_destroy(s);
	weft_rt_destroy(rt);
}

struct ctrl_c {
	WEFT_ASYNC;
	weft_signal_ctrl_c c;
	weft_timeout t;
};

static weft_poll ctrl_c_poll(struct ctrl_c *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	weft_signal_ctrl_c_init(&f->c);
	weft_timeout_init(&f->t, WEFT_BRANCH(weft_signal_ctrl_c, &f->c),
			  10000 * WEFT_MS);
	WEFT_AWAIT_ON(weft_timeout, &f->t);
	WEFT_RETURN(f->t.res);
	WEFT_END();
}

static void ctrl_c_drop(struct ctrl_c *f)
{
	weft_timeout_drop(&f->t);
}

WEFT_FUTURE(ctrl_c, struct ctrl_c, ctrl_c_drop);

/* Sends SIGINT once the ctrl_c future is waiting: a sleep in the same
 * select would need timing, so the test thread retries until the task
 * is done (a SIGINT sent before the stream exists stays pending and is
 * read by it anyway: the mask blocks it). */
Test(signal, ctrl_c_completes_on_sigint)
{
	sigset_t set = one(SIGINT);
	struct ctrl_c *f = calloc(1, sizeof(*f));
	weft_join *j;
	weft_rt *rt;

	cr_assert_eq(weft_signal_block(&set), 0);
	rt = test_rt(2);
	cr_assert_eq(weft_spawn(rt, &ctrl_c_future, f, &j), 0);
	cr_assert_eq(kill(getpid(), SIGINT), 0);
	cr_assert_eq(test_join(rt, j), 0);
	free(f);
	weft_rt_destroy(rt);
}

Test(signal, sets_outside_the_streamed_signals_are_refused)
{
	sigset_t set;
	weft_signal *s = NULL;

	sigemptyset(&set);
	cr_assert_eq(weft_signal_create(&s, &set), -EINVAL);
	set = one(SIGSEGV);
	cr_assert_eq(weft_signal_create(&s, &set), -EINVAL);
	set = one(SIGCHLD);
	cr_assert_eq(weft_signal_create(&s, &set), -EINVAL);
	cr_assert_eq(weft_signal_block(&set), -EINVAL);
	cr_assert_null(s);
}

/* Runs on a worker: is SIGTERM blocked here? */
struct mask_probe {
	WEFT_ASYNC;
};

static bool term_blocked(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, SIGTERM) == 1 &&
	       sigismember(&cur, SIGINT) == 1 &&
	       sigismember(&cur, SIGUSR1) == 1;
}

static weft_poll mask_probe_poll(struct mask_probe *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(term_blocked());
	WEFT_END();
}

WEFT_FUTURE(mask_probe, struct mask_probe, WEFT_NO_DROP);

static intptr_t blocking_probe(void *arg)
{
	(void)arg;
	return term_blocked();
}

Test(signal, runtime_threads_block_the_streamed_signals)
{
	sigset_t none;
	weft_join *j;
	weft_rt *rt;

	/* the creating thread blocks nothing */
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	rt = test_rt(2);
	cr_assert_eq(WEFT_SPAWN(rt, mask_probe, &j, { 0 }), 0);
	cr_assert_eq(test_join(rt, j), 1, "a worker takes SIGTERM");
	cr_assert_eq(weft_spawn_blocking(rt, blocking_probe, NULL, NULL, &j),
		     0);
	cr_assert_eq(test_join(rt, j), 1, "a pool thread takes SIGTERM");
	/* and the creator's mask is as it was */
	cr_assert_not(term_blocked());
	weft_rt_destroy(rt);
}

static void on_usr2(int sig)
{
	(void)sig;
}

Test(signal, handlers_of_others_are_left_alone)
{
	struct sigaction sa = { .sa_handler = on_usr2 }, now;
	sigset_t set = one(SIGUSR1);
	weft_signal *s = NULL;
	weft_rt *rt;

	sigaction(SIGUSR2, &sa, NULL);
	rt = test_rt(1);
	cr_assert_eq(weft_signal_create(&s, &set), 0);
	sigaction(SIGUSR2, NULL, &now);
	cr_assert_eq(now.sa_handler, on_usr2);
	sigaction(SIGUSR1, NULL, &now);
	cr_assert_eq(now.sa_handler, SIG_DFL);
	weft_signal_destroy(s);
	weft_rt_destroy(rt);
}
