/* weft/process.h - child processes: spawn a program, await its exit
 * through a pidfd, kill it, and talk to it through pipes.
 *
 * weft_process_spawn starts the program with posix_spawn(3) and opens a
 * pidfd for it (pidfd_open(2), kernel 5.3); the exit is awaited through
 * readiness on the pidfd (weft/fd.h) and collected with waitid(P_PIDFD),
 * so weft installs no SIGCHLD handler and never calls waitpid(-1): the
 * other children of the process, and whoever else handles SIGCHLD, are
 * left alone. (If the process sets SIGCHLD to SIG_IGN, the kernel reaps
 * children itself and the exit status is lost: the wait gives -ECHILD.)
 *
 * No zombie is left: a child is reaped by weft_process_wait, or, when its
 * handle is destroyed before that, by the reactor: weft_process_destroy
 * leaves the child running (it is not killed; kill it first if that is
 * what you want) and hands its pidfd to a reaper, one POLL_ADD on the
 * pidfd owned by the reactor, which reaps the child when it exits and
 * then closes the pidfd. One exception: a child still running when its
 * runtime is destroyed cannot be reaped by that runtime any more; it is
 * reaped if it has exited by then, else it stays the process's child (a
 * zombie from its exit until this process waits for it or exits).
 *
 * Standard streams: each of stdin, stdout and stderr is inherited (the
 * default), /dev/null, or a pipe. The parent's end of a pipe is
 * non-blocking and close-on-exec, owned by the handle (closed by
 * weft_process_destroy) until taken with weft_process_take_stdio; read
 * and write it with weft_fd_read and weft_fd_write, or any readiness
 * loop (weft/fd.h), or take it as a byte stream with
 * weft_process_stdio_bytes (bufio.h and codec.h then work on it). The pipes are the kernel's (64 KiB each by default):
 * a child blocks writing to a full one until the parent reads, and what
 * a child wrote before it exited stays readable after its exit, until end
 * of file. The child starts with an empty signal mask (the blocked
 * signals of weft/signal.h do not leak into it) and only the descriptors
 * 0, 1 and 2 that the options name (every descriptor weft opens is
 * close-on-exec).
 *
 * Errors: weft_process_spawn gives -EINVAL (NULL path or argv, a bad
 * stdio mode), -ENODEV (not called on a thread of a runtime with I/O
 * enabled), -ENOMEM, the errors of posix_spawn(3) with the exec's errno
 * (-ENOENT: no such program; -EACCES: not executable), and those of
 * pipe2(2) and pidfd_open(2) (-EMFILE, -ENFILE, -ENOSYS).
 * weft_process_wait gives -ENODEV, -ENOMEM and -ECANCELED as readiness
 * waits do (weft/fd.h), -EINVAL for a NULL handle, and -ECHILD (the child
 * was reaped by someone else, or SIGCHLD is set to SIG_IGN).
 *
 * Cancellation: dropping a wait at any point loses nothing: the exit
 * status is collected only by the poll that returns it, and a later wait
 * (or the reaper) collects it.
 *
 * Threads: weft_process_kill, weft_process_pid and weft_process_stdio may
 * be called from any thread; one task at a time waits on a process, and
 * weft_process_take_stdio, weft_process_close_stdin and
 * weft_process_destroy are called by one thread at a time, with no wait
 * future on the process in use.
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"
#include "fd.h"

struct weft_bytes;

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct weft_process weft_process;

/* What a child's standard stream is connected to. */
enum weft_stdio {
	WEFT_STDIO_INHERIT = 0,   /* the parent's descriptor (the default) */
	WEFT_STDIO_NULL = 1,      /* /dev/null */
	WEFT_STDIO_PIPE = 2,      /* a pipe; the parent's end is the handle's */
};

/* Options of weft_process_spawn; zero-initialised means: this process's
 * environment, the path used as it is, every stream inherited. */
typedef struct weft_process_opts {
	char *const *envp;        /* the child's environment; NULL: environ */
	bool search_path;         /* a path without '/' is looked up in PATH
	                           * (posix_spawnp) */
	int stdio[3];             /* enum weft_stdio for stdin, stdout and
	                           * stderr */
} weft_process_opts;

/* Starts path with the argument vector argv (NULL-terminated; argv[0] is
 * the program's name for itself) and opts (NULL: the defaults).
 * Synchronous; call it from a task or another thread of a runtime with
 * I/O enabled (the reaper needs its reactor). Returns 0 with *out set (the
 * caller's handle, to release with weft_process_destroy), or -errno with
 * nothing started and nothing left open (*out untouched). */
int weft_process_spawn(weft_process **out, const char *path,
		       char *const argv[], const weft_process_opts *opts);

/* The child's process id. It stays the child's until it is reaped; use
 * weft_process_kill rather than kill(2) on it. */
pid_t weft_process_pid(const weft_process *p);

/* The parent's end of the child's stream `which` (0 stdin, 1 stdout, 2
 * stderr), still owned by the handle: a non-blocking fd, or -1 when that
 * stream is not a pipe or was taken or closed. */
int weft_process_stdio(const weft_process *p, int which);

/* Takes the parent's end of stream `which` from the handle: the fd is the
 * caller's from now on (to close), and the handle forgets it. -1 as for
 * weft_process_stdio. */
int weft_process_take_stdio(weft_process *p, int which);

/* Takes the parent's end of stream `which` (0 stdin, 1 stdout, 2 stderr)
 * from the handle as a byte stream (weft/bytes.h: weft_bytes_from_fd,
 * name "pipe"), for a weft_bufreader on the child's output or a
 * weft_bufwriter on its input. The stream owns the pipe end from now on:
 * weft_bytes_drop closes it, and shutting down the stdin stream
 * (weft_bytes_shutdown_init, weft_bufwriter_shutdown_init) closes it after
 * flushing, so the child reads end of file. Returns 0 with *out set,
 * -EINVAL (NULL p or out, which not 0, 1 or 2), -EBADF (that stream is not
 * a pipe, or was taken or closed), or -ENOMEM; on error the pipe end stays
 * the handle's. Called as weft_process_take_stdio is (one thread, no wait
 * in use); the stream is then used as bytes.h says (one reader, one
 * writer, from tasks of a runtime with I/O enabled). */
int weft_process_stdio_bytes(weft_process *p, int which,
			     struct weft_bytes **out);

/* Closes the parent's end of the child's stdin pipe (if the handle still
 * holds it): "no more sending", the child reads end of file. */
void weft_process_close_stdin(weft_process *p);

/* Sends signo to the child through its pidfd (pidfd_send_signal(2): never
 * to a process that reused the pid). Returns 0, or -ESRCH (the child was
 * already reaped), -EINVAL (a bad signal number), -EPERM. */
int weft_process_kill(weft_process *p, int signo);

/* Releases the handle and closes the pipe ends it holds. A child not yet
 * reaped keeps running and is reaped when it exits (see above). No wait
 * future on p may be in use. */
void weft_process_destroy(weft_process *p);

/* Waits for the child to exit and reaps it. READY with res = its wait
 * status (waitpid(2)'s encoding: WIFEXITED(res), WEXITSTATUS(res),
 * WIFSIGNALED(res), WTERMSIG(res) apply; res >= 0), code = its exit code
 * (0-255) or -1 when a signal killed it, and signo = that signal or 0; or
 * res < 0. Once a wait returned the status, later waits on the same
 * handle return it again at once. */
typedef struct weft_process_wait {
	weft_process *p;
	int code;                 /* after READY with res >= 0 */
	int signo;                /* after READY with res >= 0 */
	weft_fd_ready ready;      /* private */
	intptr_t res;
} weft_process_wait;
WEFT_FUTURE_EXTERN(weft_process_wait);

void weft_process_wait_init(weft_process_wait *f, weft_process *p);
weft_poll weft_process_wait_poll(weft_process_wait *f, weft_cx *cx);
void weft_process_wait_drop(weft_process_wait *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_PROCESS_H */
