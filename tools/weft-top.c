/* tools/weft-top.c - a live view of a running weft program, like top(1).
 *
 *   weft-top [-d SECONDS] [-b] [-n FRAMES] SOCKET
 *
 * Attaches to the control socket a program opened with
 * weft_obs_opts.control_path (weft/rt.h) and, every second (-d), asks it
 * for a snapshot (runtime/control.c gives the protocol) and draws: each
 * worker's load (its busy time over the interval), polls per second and
 * queue depth; the runtime's task counts, injector depth and blocking
 * pool; the tasks with the most poll time in the interval (with task
 * tracking), what each waits on; the recent long polls. 'q' quits. When
 * the program exits (the socket closes), it says so and exits 0.
 *
 * -b: batch mode (no terminal control; each frame is printed after the
 * last, for logs and scripts); -n FRAMES: stop after that many.
 *
 * A tool, not an example: it uses nothing of libweft (the protocol is
 * text over a Unix socket), so it runs against any weft program of the
 * same protocol version, and it is installed (bindir).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256
#define MAX_TASKS 64
#define MAX_LP 16

struct wk {
	unsigned long long busy_ns, polls, queue, parks, steals, long_polls;
};

struct task {
	unsigned long long addr, poll_ns, polls, age_ns, dpoll;
	int worker;
	char state[16], name[64], site[160], waits[64];
};

struct lp {
	unsigned long long at, elapsed, task;
	unsigned worker;
	char name[64], sym[64], site[160];
};

struct snap {
	long pid;
	unsigned long long now, long_poll_ns;
	unsigned nworkers;
	int tracking;
	struct wk w[MAX_WORKERS];
	unsigned long long live, spawned, injector, bthreads, bidle, bqueue,
		long_polls;
	struct task t[MAX_TASKS];
	unsigned ntasks;
	struct lp lp[MAX_LP];
	unsigned nlp;
};

static struct termios saved_tio;
static bool raw_on;

static void raw_off(void)
{
	if (raw_on) {
		tcsetattr(0, TCSAFLUSH, &saved_tio);
		/* the cursor back, the screen left as it is */
		fputs("\033[?25h", stdout);
		fflush(stdout);
		raw_on = false;
	}
}

static void raw_enter(void)
{
	struct termios t;

	if (!isatty(0) || tcgetattr(0, &saved_tio) < 0)
		return;
	t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	tcsetattr(0, TCSAFLUSH, &t);
	raw_on = true;
	fputs("\033[?25l", stdout);
	atexit(raw_off);
}

/* Reads the socket up to the "end" line into buf; 1 done, 0 closed, -1
 * error. */
static int read_answer(int fd, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	for (;;) {
		ssize_t r;

		buf[*len] = '\0';
		if (*len >= 4 && (strcmp(buf + *len - 4, "end\n") == 0) &&
		    (*len == 4 || buf[*len - 5] == '\n'))
			return 1;
		if (*len + 1 >= cap)
			return -1;
		r = read(fd, buf + *len, cap - 1 - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		*len += (size_t)r;
	}
}

static void parse(char *text, struct snap *s)
{
	char *save = NULL;

	memset(s, 0, sizeof(*s));
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		unsigned i;
		struct wk w;

		if (sscanf(l, "pid %ld now %llu workers %u tracking %d "
			      "long_poll_ns %llu",
			   &s->pid, &s->now, &s->nworkers, &s->tracking,
			   &s->long_poll_ns) == 5)
			continue;
		if (sscanf(l, "worker %u busy_ns %llu polls %llu queue %llu "
			      "parks %llu steals %llu long_polls %llu",
			   &i, &w.busy_ns, &w.polls, &w.queue, &w.parks,
			   &w.steals, &w.long_polls) == 7) {
			if (i < MAX_WORKERS)
				s->w[i] = w;
			continue;
		}
		if (sscanf(l, "runtime live %llu spawned %llu injector %llu "
			      "blocking %llu idle %llu queue %llu long_polls "
			      "%llu",
			   &s->live, &s->spawned, &s->injector, &s->bthreads,
			   &s->bidle, &s->bqueue, &s->long_polls) == 7)
			continue;
		if (strncmp(l, "task ", 5) == 0 && s->ntasks < MAX_TASKS) {
			struct task *t = &s->t[s->ntasks];
			int off = 0;

			if (sscanf(l, "task %llx %15s %llu %llu %llu %d %63s "
				      "%159s%n",
				   &t->addr, t->state, &t->poll_ns, &t->polls,
				   &t->age_ns, &t->worker, t->name, t->site,
				   &off) == 8) {
				const char *rest = l + off;

				if (strncmp(rest, " waits ", 7) == 0)
					rest += 7;
				snprintf(t->waits, sizeof(t->waits), "%s",
					 rest);
				s->ntasks++;
			}
			continue;
		}
		if (strncmp(l, "longpoll ", 9) == 0 && s->nlp < MAX_LP) {
			struct lp *p = &s->lp[s->nlp];

			if (sscanf(l, "longpoll %llu %llu %u %llx %63s %63s "
				      "%159s",
				   &p->at, &p->elapsed, &p->worker, &p->task,
				   p->name, p->sym, p->site) == 7)
				s->nlp++;
		}
	}
	if (s->nworkers > MAX_WORKERS)
		s->nworkers = MAX_WORKERS;
}

static const struct task *find(const struct snap *s, unsigned long long a)
{
	for (unsigned i = 0; i < s->ntasks; i++)
		if (s->t[i].addr == a)
			return &s->t[i];
	return NULL;
}

static int by_delta(const void *a, const void *b)
{
	const struct task *x = a, *y = b;

	if (x->dpoll != y->dpoll)
		return x->dpoll < y->dpoll ? 1 : -1;
	if (x->poll_ns != y->poll_ns)
		return x->poll_ns < y->poll_ns ? 1 : -1;
	return 0;
}

static void secs(char *out, size_t len, unsigned long long ns)
{
	if (ns >= 1000000000ull * 3600)
		snprintf(out, len, "%.1fh", (double)ns / 3.6e12);
	else if (ns >= 1000000000ull)
		snprintf(out, len, "%.2fs", (double)ns / 1e9);
	else
		snprintf(out, len, "%.1fms", (double)ns / 1e6);
}

/* file:line without the directories (the column is narrow) */
static const char *base(const char *site)
{
	const char *slash = strrchr(site, '/');

	return slash ? slash + 1 : site;
}

static void draw(const char *path, struct snap *cur, const struct snap *prev,
		 double every, bool batch, unsigned rows)
{
	double dt = prev ? (double)(cur->now - prev->now) : 0;
	unsigned used = 0, room;
	char a[32], b[32];

	if (!batch)
		fputs("\033[H\033[2J", stdout);
	printf("weft-top - %s (pid %ld)  workers %u  every %.1fs  q: quit\n",
	       path, cur->pid, cur->nworkers, every);
	printf("tasks %llu live, %llu spawned   injector %llu   blocking "
	       "%llu threads (%llu idle, %llu queued)   long polls %llu\n\n",
	       cur->live, cur->spawned, cur->injector, cur->bthreads,
	       cur->bidle, cur->bqueue, cur->long_polls);
	printf("WORKER   LOAD  POLLS/S  QUEUE  PARKS/S  STEALS/S  LONG\n");
	used += 4;
	for (unsigned i = 0; i < cur->nworkers; i++) {
		const struct wk *w = &cur->w[i];
		const struct wk *p = prev ? &prev->w[i] : NULL;
		double load = p && dt > 0 && w->busy_ns >= p->busy_ns
				      ? 100.0 * (double)(w->busy_ns - p->busy_ns) / dt
				      : 0;
		double rate = dt > 0 ? 1e9 / dt : 0;

		if (load > 100)
			load = 100;
		printf("%6u %5.1f%% %8.0f %6llu %8.0f %9.0f %5llu\n", i, load,
		       p ? (double)(w->polls - p->polls) * rate : 0, w->queue,
		       p ? (double)(w->parks - p->parks) * rate : 0,
		       p ? (double)(w->steals - p->steals) * rate : 0,
		       w->long_polls);
		used++;
	}
	printf("\n");
	used++;
	if (!cur->tracking) {
		printf("(no task list: the program runs without task tracking, "
		       "weft_obs_opts.track_tasks)\n\n");
		used += 2;
	} else {
		for (unsigned i = 0; i < cur->ntasks; i++) {
			const struct task *o = prev ? find(prev, cur->t[i].addr)
						    : NULL;

			cur->t[i].dpoll = o && cur->t[i].poll_ns >= o->poll_ns
						  ? cur->t[i].poll_ns - o->poll_ns
						  : 0;
		}
		qsort(cur->t, cur->ntasks, sizeof(cur->t[0]), by_delta);
		printf("TASK             STATE       CPU%%  POLL TIME   POLLS  "
		       "W  NAME             SPAWNED AT            WAITS ON\n");
		used++;
		room = rows > used + 6 + (cur->nlp < 4 ? cur->nlp : 4)
			       ? rows - used - 6 - (cur->nlp < 4 ? cur->nlp : 4)
			       : 3;
		for (unsigned i = 0; i < cur->ntasks && (batch || i < room);
		     i++) {
			const struct task *t = &cur->t[i];

			secs(a, sizeof(a), t->poll_ns);
			printf("%-16llx %-10s %5.1f %10s %7llu %2d  %-16.16s "
			       "%-21.21s %s\n",
			       t->addr, t->state,
			       dt > 0 ? 100.0 * (double)t->dpoll / dt : 0.0, a,
			       t->polls, t->worker, t->name, base(t->site),
			       t->waits);
		}
		printf("\n");
	}
	printf("LONG POLLS (threshold %.0f ms, newest first)\n",
	       (double)cur->long_poll_ns / 1e6);
	if (!cur->nlp)
		printf("  none\n");
	for (unsigned i = 0; i < cur->nlp && (batch || i < 4); i++) {
		const struct lp *p = &cur->lp[i];

		secs(a, sizeof(a),
		     cur->now > p->at ? cur->now - p->at : 0);
		secs(b, sizeof(b), p->elapsed);
		printf("  %s ago  task %llx %s (%s) at %s: ran %s on worker "
		       "%u\n",
		       a, p->task, p->name, p->sym, base(p->site), b,
		       p->worker);
	}
	fflush(stdout);
}

static unsigned term_rows(void)
{
	struct winsize ws;

	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 24;
}

static void usage(void)
{
	fprintf(stderr, "usage: weft-top [-d SECONDS] [-b] [-n FRAMES] "
			"SOCKET\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static struct snap snaps[2];
	static char buf[1 << 20];
	double every = 1.0;
	bool batch = false, have_prev = false;
	long frames = -1;
	const char *path;
	int opt, fd, cur = 0;

	while ((opt = getopt(argc, argv, "d:bn:h")) != -1) {
		switch (opt) {
		case 'd':
			every = atof(optarg);
			if (every < 0.05)
				every = 0.05;
			break;
		case 'b':
			batch = true;
			break;
		case 'n':
			frames = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	path = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "weft-top: %s: path too long\n", path);
		return 1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr,
			"weft-top: cannot attach to %s: %s (is the program "
			"running with weft_obs_opts.control_path set?)\n",
			path, strerror(errno));
		return 1;
	}
	if (!batch)
		raw_enter();
	for (;;) {
		size_t len;
		int r;
		/* the socket too: the program exiting ends the wait */
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = 0, .events = POLLIN } };
		int64_t wait_ms = (int64_t)(every * 1000);
		struct timespec t0, t1;

		if (send(fd, "snapshot\n", 9, MSG_NOSIGNAL) != 9)
			r = 0;
		else
			r = read_answer(fd, buf, sizeof(buf), &len);
		if (r <= 0) {
			raw_off();
			if (!batch)
				fputs("\033[H\033[2J", stdout);
			if (r == 0 || errno == ECONNRESET || errno == EPIPE)
				printf("weft-top: the program exited (%s "
				       "closed)\n", path);
			else
				printf("weft-top: %s: %s\n", path,
				       strerror(errno));
			fflush(stdout);
			return r == 0 || errno == ECONNRESET ||
					       errno == EPIPE
				       ? 0
				       : 1;
		}
		if (strncmp(buf, "weft-snapshot 1\n", 16) != 0) {
			raw_off();
			fprintf(stderr, "weft-top: %s: not a weft control "
					"socket of protocol 1\n", path);
			return 1;
		}
		parse(buf, &snaps[cur]);
		draw(path, &snaps[cur], have_prev ? &snaps[cur ^ 1] : NULL,
		     every, batch, term_rows());
		have_prev = true;
		cur ^= 1;
		if (frames > 0 && --frames == 0)
			break;
		if (batch)
			printf("\n");
		/* wait for the interval, or a key */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (wait_ms > 0) {
			int n = poll(p, raw_on ? 2 : 1, (int)wait_ms);

			if (n > 0 && p[0].revents)
				break; /* EOF (nothing else comes unasked) */
			if (n > 0 && (p[1].revents & POLLIN)) {
				char c;

				if (read(0, &c, 1) == 1 && (c == 'q' ||
							   c == 'Q')) {
					raw_off();
					printf("\n");
					return 0;
				}
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			wait_ms = (int64_t)(every * 1000) -
				  ((int64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
				   (t1.tv_nsec - t0.tv_nsec) / 1000000);
		}
	}
	return 0;
}
