/* weft/signal.h - Unix signals as a stream (signalfd(2)): receive the
 * next signal of a set with its siginfo, wait for ctrl-c (SIGINT), and the
 * signal mask rule that makes it work.
 *
 * A signal stream reads the signals of its set from a signalfd, so it
 * installs no handler: weft never calls sigaction(2), and the handlers
 * other libraries installed are left as they are. A signal is read from a
 * signalfd only while it is pending, that is while every thread of the
 * process blocks it; a thread that does not block it takes the signal
 * itself (its handler runs, or the default action: SIGTERM and SIGINT
 * terminate the process) and no stream sees it. Hence the rule:
 *
 *   Block the signals you will receive as streams in every thread, before
 *   any thread is created: call weft_signal_block(NULL) (or
 *   pthread_sigmask(SIG_BLOCK, ...)) first thing in main, before
 *   weft_rt_create and before starting threads of your own or of other
 *   libraries (a thread inherits the mask of the thread that creates it).
 *
 * weft's own threads (workers, blocking-pool threads, the reactor) are
 * created with every signal of weft_signal_set_fill's set blocked,
 * whatever the creating thread's mask: they never take one of them, so a
 * stream works however the runtime was created; the caller's threads
 * (main among them, and the thread a current-thread runtime runs on) are
 * the caller's to mask. Signals outside the set (SIGSEGV, SIGPIPE,
 * SIGCHLD, SIGPROF, real-time signals, ...) are not blocked in weft's
 * threads and cannot be streamed.
 *
 * Delivery: signals sent to the process (kill(2), the terminal, a service
 * manager) are received; a signal sent to one thread (raise(3),
 * pthread_kill(3)) is received only by a stream read on that thread.
 * Standard signals do not queue: a signal sent again before the stream
 * read it is received once. Each delivery is read by one stream: two
 * streams watching the same signal share its deliveries (which one reads
 * a given one is unspecified), so give each signal one stream and fan it
 * out (weft_broadcast, weft_watch) when several tasks need it. The kernel
 * holds the pending signals: a stream buffers nothing.
 *
 * Errors: weft_signal_create gives -EINVAL (an empty set or a signal
 * outside weft_signal_set_fill's set), -ENOMEM, and signalfd(2)'s errors
 * (-EMFILE, -ENFILE). Every future here gives -ENODEV (no runtime with
 * I/O enabled polls it), -ENOMEM (no operation record), -ECANCELED (the
 * runtime shut down first) and the errors of read(2) on the signalfd;
 * weft_signal_recv gives -EINVAL for a NULL stream.
 *
 * Cancellation: dropping a receive at any point loses no signal: a signal
 * is taken from the kernel only by the poll that returns it. Call _drop
 * from the enclosing frame's drop function; after READY it is a no-op.
 *
 * Threads: a stream may be used by tasks on any thread; several tasks may
 * wait on one stream at once (each signal completes one of them). Each
 * future is polled by the task that holds it. weft_signal_destroy may be
 * called from any thread once no receive future on the stream is in use.
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "core.h"
#include "fd.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_signal weft_signal;

/* ----------------------------------------------------------------- mask */

/* Fills *set with the signals a stream may receive, which weft's own
 * threads always block: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
 * SIGUSR2, SIGALRM and SIGWINCH. */
void weft_signal_set_fill(sigset_t *set);

/* Blocks the signals of *set (NULL: weft_signal_set_fill's set) in the
 * calling thread (pthread_sigmask(SIG_BLOCK)); threads it creates later
 * inherit the mask. Call it first in main, before creating any thread.
 * Returns 0, or -EINVAL (a signal outside weft_signal_set_fill's set). */
int weft_signal_block(const sigset_t *set);

/* --------------------------------------------------------------- stream */

/* Creates a stream of the signals in *set (each in weft_signal_set_fill's
 * set): a non-blocking, close-on-exec signalfd. Synchronous. Returns 0
 * with *out set, or -errno (*out untouched). Creating a stream does not
 * change any thread's mask (see the rule above). */
int weft_signal_create(weft_signal **out, const sigset_t *set);
/* Releases the stream; signals not yet read stay pending in the kernel
 * (blocked, so they do nothing) for a later stream. No receive future on
 * the stream may be in use. */
void weft_signal_destroy(weft_signal *s);
/* The signalfd (still owned by the stream). */
int weft_signal_fd(const weft_signal *s);

/* Receives the next signal of the stream: READY with res = its number
 * (SIGTERM, ...) and info = what the kernel reported (ssi_pid and ssi_uid
 * of the sender, ssi_code: SI_USER for kill(2), SI_KERNEL, ...), or
 * res < 0. */
typedef struct weft_signal_recv {
	weft_signal *s;
	struct signalfd_siginfo info; /* after READY with res > 0 */
	weft_fd_ready ready;          /* private */
	intptr_t res;
} weft_signal_recv;
WEFT_FUTURE_EXTERN(weft_signal_recv);

void weft_signal_recv_init(weft_signal_recv *f, weft_signal *s);
weft_poll weft_signal_recv_poll(weft_signal_recv *f, weft_cx *cx);
void weft_signal_recv_drop(weft_signal_recv *f);

/* --------------------------------------------------------------- ctrl_c */

/* Waits for ctrl-c: the next SIGINT, through a stream of its own created
 * at the first poll and destroyed at READY or _drop. res = 0 once SIGINT
 * arrived, or a negative errno (those of weft_signal_create, and of a
 * receive). SIGINT must be blocked in the caller's threads (the rule
 * above). Do not wait for ctrl-c and hold another SIGINT stream at once:
 * the two would share the deliveries. */
typedef struct weft_signal_ctrl_c {
	weft_signal *s;               /* private */
	weft_signal_recv recv;        /* private */
	intptr_t res;
} weft_signal_ctrl_c;
WEFT_FUTURE_EXTERN(weft_signal_ctrl_c);

void weft_signal_ctrl_c_init(weft_signal_ctrl_c *f);
weft_poll weft_signal_ctrl_c_poll(weft_signal_ctrl_c *f, weft_cx *cx);
void weft_signal_ctrl_c_drop(weft_signal_ctrl_c *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_SIGNAL_H */
