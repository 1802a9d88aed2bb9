/* runtime/control.c - the control socket (weft_obs_opts.control_path)
 * that tools/weft-top attaches to, and the dump on a signal
 * (weft_obs_opts.dump_signal).
 *
 * One thread of its own ("weft-ctl") serves both, in a poll(2) loop over
 * an eventfd (stop), the listening socket, the signalfd and the clients:
 * never a worker, so a client that reads slowly delays only other
 * clients, and a runtime whose workers are all blocked still answers (the
 * view is most useful then). It reads the runtime as any thread may:
 * weft_rt_metrics, weft_rt_dump (which holds one owner lock for one list
 * copy) and the long-poll ring of the watcher (watch.c, under its lock).
 *
 * Protocol (text, one request a line): "snapshot" is answered with
 *   weft-snapshot 1
 *   pid P now NS workers N tracking 0|1 long_poll_ns NS
 *   worker I busy_ns B polls P queue Q parks K steals S long_polls L
 *   runtime live L spawned S injector I blocking T idle I queue Q
 *           long_polls L                                  (one line)
 *   task ADDR STATE POLL_NS POLLS AGE_NS WORKER NAME SITE WAIT...
 *   longpoll AT_NS ELAPSED_NS WORKER TASK NAME SYMBOL SITE
 *   end
 * (tasks: the TOP_TASKS with the most poll time; long polls: the last
 * ones, newest first; strings have their spaces made '_'); anything else
 * gets "error unknown request". Clients write a request and read up to
 * "end"; a request line longer than the input buffer closes the client.
 * Each client socket has a 1 s send timeout, so a client that stops
 * reading is closed rather than holding the thread.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "weft/metrics.h"
#include "runtime/internal.h"
#include "runtime/sigmask.h"

#define MAX_CLIENTS 8
#define TOP_TASKS 64
#define IN_MAX 128

struct client {
	int fd;                /* -1: free */
	size_t len;
	char in[IN_MAX];
};

struct weft__control {
	weft_rt *rt;
	pthread_t thread;
	bool started;
	int efd;               /* eventfd: stop */
	int lfd;               /* listening socket, or -1 */
	int sfd;               /* signalfd of dump_signal, or -1 */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client clients[MAX_CLIENTS];
};

/* --------------------------------------------------------- the answer */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void bput(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		if (b->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		char *np = realloc(b->p, b->cap * 2 + (size_t)n);

		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

/* s with its spaces (and control characters) as '_', into out */
static const char *word(const char *s, char *out, size_t len)
{
	size_t i = 0;

	if (!s || !*s)
		return "?";
	for (; s[i] && i + 1 < len; i++)
		out[i] = (unsigned char)s[i] <= ' ' ? '_' : s[i];
	out[i] = '\0';
	return out;
}

struct top {
	weft_task_info t[TOP_TASKS];
	size_t n;
	size_t live;
};

/* keeps the TOP_TASKS with the most poll time (a sorted insert: the list
 * is short) */
static void keep_top(void *arg, const weft_task_info *in)
{
	struct top *tp = arg;
	size_t i;

	tp->live++;
	if (tp->n == TOP_TASKS && in->poll_ns <= tp->t[TOP_TASKS - 1].poll_ns)
		return;
	i = tp->n < TOP_TASKS ? tp->n++ : TOP_TASKS - 1;
	while (i > 0 && tp->t[i - 1].poll_ns < in->poll_ns) {
		tp->t[i] = tp->t[i - 1];
		i--;
	}
	tp->t[i] = *in;
}

static void snapshot(weft_rt *rt, struct buf *b)
{
	weft_worker_metrics *ws = calloc(rt->nworkers, sizeof(*ws));
	struct top *tp = calloc(1, sizeof(*tp));
	weft_long_poll lp[WEFT__LONG_POLL_RING];
	uint64_t lp_at[WEFT__LONG_POLL_RING];
	weft_metrics m;
	uint64_t now;
	size_t nlp;
	char w1[128], w2[128], w3[256], waits[64];

	if (!ws || !tp) {
		free(ws);
		free(tp);
		bput(b, "error out of memory\n");
		return;
	}
	weft_metrics_init(&m, ws, rt->nworkers);
	weft_rt_metrics(rt, &m);
	if (rt->track)
		weft_rt_dump(rt, keep_top, tp);
	nlp = weft__watch_recent(rt, lp, lp_at, WEFT__LONG_POLL_RING);
	now = weft__rt_now_ns();
	bput(b, "weft-snapshot 1\n");
	bput(b, "pid %ld now %llu workers %u tracking %d long_poll_ns %llu\n",
	     (long)getpid(), (unsigned long long)now, m.nworkers,
	     rt->track ? 1 : 0, (unsigned long long)rt->obs.long_poll_ns);
	for (unsigned i = 0; i < m.nworkers; i++)
		bput(b,
		     "worker %u busy_ns %llu polls %llu queue %llu parks %llu "
		     "steals %llu long_polls %llu\n",
		     i, (unsigned long long)ws[i].busy_ns,
		     (unsigned long long)ws[i].polls,
		     (unsigned long long)ws[i].queue_depth,
		     (unsigned long long)ws[i].parks,
		     (unsigned long long)ws[i].steals,
		     (unsigned long long)ws[i].long_polls);
	bput(b,
	     "runtime live %llu spawned %llu injector %llu blocking %llu "
	     "idle %llu queue %llu long_polls %llu\n",
	     (unsigned long long)m.tasks_live,
	     (unsigned long long)m.tasks_spawned,
	     (unsigned long long)m.injector_depth,
	     (unsigned long long)m.blocking_threads,
	     (unsigned long long)m.blocking_idle,
	     (unsigned long long)m.blocking_queue,
	     (unsigned long long)m.long_polls);
	for (size_t i = 0; i < tp->n; i++) {
		const weft_task_info *in = &tp->t[i];
		char site[300];

		if (in->file)
			snprintf(site, sizeof(site), "%s:%u",
				 word(in->file, w3, sizeof(w3)), in->line);
		else
			snprintf(site, sizeof(site), "?");
		weft__wait_text(in, now, waits, sizeof(waits));
		bput(b, "task %#llx %s %llu %llu %llu %d %s %s%s\n",
		     (unsigned long long)in->task,
		     weft_task_state_name(in->state),
		     (unsigned long long)in->poll_ns,
		     (unsigned long long)in->polls,
		     (unsigned long long)in->age_ns, in->worker,
		     word(in->name, w1, sizeof(w1)), site, waits);
	}
	for (size_t i = 0; i < nlp; i++) {
		char site[300];

		if (lp[i].file)
			snprintf(site, sizeof(site), "%s:%u",
				 word(lp[i].file, w3, sizeof(w3)), lp[i].line);
		else
			snprintf(site, sizeof(site), "?");
		bput(b, "longpoll %llu %llu %u %#llx %s %s %s\n",
		     (unsigned long long)lp_at[i],
		     (unsigned long long)lp[i].elapsed_ns, lp[i].worker,
		     (unsigned long long)lp[i].task,
		     word(lp[i].name, w1, sizeof(w1)),
		     word(lp[i].symbol, w2, sizeof(w2)), site);
	}
	bput(b, "end\n");
	free(ws);
	free(tp);
}

/* ------------------------------------------------------------ clients */

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return false; /* the send timeout included */
		}
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static bool answer(struct weft__control *c, struct client *cl,
		   const char *line)
{
	struct buf b = { malloc(4096), 0, 4096, false };
	bool ok;

	if (!b.p)
		return false;
	if (strcmp(line, "snapshot") == 0)
		snapshot(c->rt, &b);
	else
		bput(&b, "error unknown request\n");
	ok = !b.failed && send_all(cl->fd, b.p, b.len);
	free(b.p);
	return ok;
}

static void client_input(struct weft__control *c, struct client *cl)
{
	ssize_t r = recv(cl->fd, cl->in + cl->len, IN_MAX - cl->len,
			 MSG_DONTWAIT);
	char *nl;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(cl);
		return;
	}
	cl->len += (size_t)r;
	while ((nl = memchr(cl->in, '\n', cl->len))) {
		size_t used = (size_t)(nl - cl->in) + 1;

		*nl = '\0';
		if (nl > cl->in && nl[-1] == '\r')
			nl[-1] = '\0';
		if (!answer(c, cl, cl->in)) {
			client_close(cl);
			return;
		}
		memmove(cl->in, cl->in + used, cl->len - used);
		cl->len -= used;
	}
	if (cl->len == IN_MAX)
		client_close(cl); /* a line longer than any request */
}

static void client_accept(struct weft__control *c)
{
	struct timeval tv = { 1, 0 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* the socket's mode admits its owner only; a process of another
	 * user that could reach it anyway (root excepted) is refused */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
	    cred.uid != geteuid() && cred.uid != 0) {
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd < 0) {
			c->clients[i].fd = fd;
			c->clients[i].len = 0;
			return;
		}
	close(fd); /* full: the client sees EOF */
}

static void dump_on_signal(struct weft__control *c)
{
	struct signalfd_siginfo si;
	char line[96];
	intptr_t n;
	int len;

	while (read(c->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!c->rt->track) {
			len = snprintf(line, sizeof(line),
				       "weft: task dump (signal %d): task "
				       "tracking is off (track_tasks)\n",
				       (int)si.ssi_signo);
			if (len > 0 && write(2, line, (size_t)len) < 0)
				return;
			continue;
		}
		len = snprintf(line, sizeof(line),
			       "weft: task dump (signal %d) of pid %ld:\n",
			       (int)si.ssi_signo, (long)getpid());
		if (len > 0 && write(2, line, (size_t)len) < 0)
			return;
		n = weft_rt_dump_fd(c->rt, 2);
		len = snprintf(line, sizeof(line),
			       "weft: end of task dump (%ld tasks)\n", (long)n);
		if (len > 0 && write(2, line, (size_t)len) < 0)
			return;
	}
}

static void *control_main(void *arg)
{
	struct weft__control *c = arg;
	struct pollfd p[3 + MAX_CLIENTS];

	pthread_setname_np(pthread_self(), "weft-ctl");
	for (;;) {
		int n = 0, who[MAX_CLIENTS];

		p[n++] = (struct pollfd){ .fd = c->efd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = c->sfd, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (c->clients[i].fd >= 0) {
				who[n - 3] = i;
				p[n++] = (struct pollfd){
					.fd = c->clients[i].fd,
					.events = POLLIN
				};
			}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN)
			client_accept(c);
		if (p[2].revents & POLLIN)
			dump_on_signal(c);
		for (int k = 3; k < n; k++)
			if (p[k].revents)
				client_input(c, &c->clients[who[k - 3]]);
	}
	return NULL;
}

/* -------------------------------------------------- creation and stop */

static int listen_at(struct weft__control *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		weft__rt_create_errorf("control socket path too long "
					  "(at most %zu bytes): %s",
					  sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		weft__rt_create_errorf("control socket path exists "
					  "(remove it first): %s", path);
		return -EEXIST;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* the node bind creates takes the socket's mode (less the umask):
	 * 0600 from the start, no window with a wider one */
	if (fchmod(fd, 0600) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		weft__rt_create_errorf("cannot create the control socket "
					  "%s: %s", path, strerror(err));
		return err == EADDRINUSE ? -EEXIST : -err;
	}
	if (listen(fd, MAX_CLIENTS) < 0) {
		err = errno;
		unlink(path);
		close(fd);
		weft__rt_create_errorf("cannot listen on the control "
					  "socket %s: %s", path, strerror(err));
		return -err;
	}
	strcpy(c->path, path);
	c->lfd = fd;
	return 0;
}

static void control_free(struct weft__control *c)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
	if (c->lfd >= 0) {
		unlink(c->path);
		close(c->lfd);
	}
	if (c->sfd >= 0)
		close(c->sfd);
	if (c->efd >= 0)
		close(c->efd);
	free(c);
}

int weft__control_start(weft_rt *rt)
{
	struct weft__control *c;
	sigset_t old;
	int ret = 0;

	if (!rt->obs.control_path && !rt->obs.dump_signal)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rt = rt;
	c->lfd = c->sfd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0)
		ret = -errno;
	if (!ret && rt->obs.control_path)
		ret = listen_at(c, rt->obs.control_path);
	if (!ret && rt->obs.dump_signal) {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, rt->obs.dump_signal);
		/* blocked in the creating thread (weft_obs_opts says so), and
		 * so in the threads created after (they inherit its mask) */
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		c->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		if (c->sfd < 0)
			ret = -errno;
	}
	if (ret) {
		control_free(c);
		return ret;
	}
	weft__sigmask_enter(&old);
	if (pthread_create(&c->thread, NULL, control_main, c))
		ret = -EAGAIN;
	weft__sigmask_leave(&old);
	if (ret) {
		control_free(c);
		return ret;
	}
	c->started = true;
	rt->control = c;
	return 0;
}

void weft__control_stop(weft_rt *rt)
{
	struct weft__control *c = rt->control;
	uint64_t one = 1;

	if (!c)
		return;
	if (write(c->efd, &one, sizeof(one)) < 0)
		abort(); /* an eventfd write of 1 cannot fail here */
	pthread_join(c->thread, NULL);
	rt->control = NULL;
	control_free(c);
}
