/* runtime/sigmask.c - the signals weft's threads block (weft/signal.h):
 * the set a signal stream may receive, blocking it in the caller's thread,
 * and the bracket every pthread_create of weft's runs inside (workers,
 * blocking-pool threads; the reactor blocks every signal itself). A thread
 * inherits its creator's mask, so a thread created inside the bracket
 * never has one of these signals unblocked, whatever its creator's mask
 * is. The caller's mask is restored after. No shared state.
 */
#include <errno.h>
#include <pthread.h>

#include "weft/signal.h"
#include "runtime/sigmask.h"

static const int streamed[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH,
};

void weft_signal_set_fill(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(streamed) / sizeof(streamed[0]); i++)
		sigaddset(set, streamed[i]);
}

int weft_signal_block(const sigset_t *set)
{
	sigset_t all;

	weft_signal_set_fill(&all);
	if (set) {
		for (int sig = 1; sig < NSIG; sig++)
			if (sigismember(set, sig) == 1 &&
			    sigismember(&all, sig) != 1)
				return -EINVAL;
		all = *set;
	}
	return -pthread_sigmask(SIG_BLOCK, &all, NULL);
}

void weft__sigmask_enter(sigset_t *old)
{
	sigset_t set;

	weft_signal_set_fill(&set);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

void weft__sigmask_leave(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
