/* test/runtime/metrics.c - observability (weft/metrics.h and the builder's
 * obs options): the counters after known work, the versioned struct, the
 * Prometheus text (every line parses, every sample has its TYPE line),
 * the long-poll detector (a task blocking its worker is reported once,
 * named, with its spawn site; the detector during shutdown), the task
 * dump (a known task found; dumps racing spawns and frees at full rate)
 * and the hooks (spawn / terminate and poll begin / end pair up, parks
 * and unparks seen).
 */
#include <ctype.h>
#include <dirent.h>
#include <regex.h>
#include <stdio.h>

#include "test/runtime/harness.h"
#include "weft/metrics.h"

static weft_rt *rt_obs(unsigned workers, const weft_obs_opts *obs)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.no_pin = true;
	b.io.enable = false;
	cr_assert_eq(weft_rt_create_with(&rt, &b, obs), 0,
		     "weft_rt_create_with: %s", weft_rt_create_error());
	return rt;
}

/* -------------------------------------------------------------- metrics */

struct yielder {
	WEFT_ASYNC;
	int i, n;
};

static weft_poll yielder_poll(struct yielder *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->n; f->i++)
		WEFT_YIELD();
	WEFT_RETURN(7);
	WEFT_END();
}

WEFT_FUTURE(yielder, struct yielder, WEFT_NO_DROP);

static uint64_t sum_polls(const weft_metrics *m)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < m->nworkers && i < m->workers_cap; i++)
		s += m->workers[i].polls;
	return s;
}

Test(metrics, counts_polls_spawns_and_live_tasks, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_obs(2, NULL);
	weft_worker_metrics ws[2];
	weft_metrics m;
	weft_join *j[20];
	uint64_t runs = 0;

	for (int i = 0; i < 20; i++)
		cr_assert_eq(WEFT_SPAWN(rt, yielder, &j[i], { .n = 4 }), 0);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(join_on(rt, j[i]), 7);
		weft_join_drop(j[i]);
	}
	weft_metrics_init(&m, ws, 2);
	/* the frees of tasks whose join handle was dropped last are handed
	 * back to their worker, which frees them at its next maintenance */
	cr_assert(WAIT_UNTIL(weft_rt_metrics(rt, &m) == 0 &&
			     m.tasks_live == 0));
	cr_assert_eq(m.nworkers, 2);
	cr_assert_eq(m.tasks_spawned, 20);
	/* 5 polls per task (4 yields + the last); join_on's block_on future
	 * is no task */
	cr_assert_geq(sum_polls(&m), 100);
	for (unsigned i = 0; i < 2; i++)
		runs += ws[i].runs + ws[i].lifo_runs;
	cr_assert_geq(runs, 100);
	cr_assert_eq(m.reactor.passes, 0); /* io disabled */
	weft_rt_destroy(rt);
}

Test(metrics, versioned_struct_and_errors)
{
	weft_rt *rt = rt_obs(1, NULL);
	weft_metrics m;

	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(m.size, sizeof(m));
	cr_assert_eq(weft_rt_metrics(NULL, &m), -EINVAL);
	cr_assert_eq(weft_rt_metrics(rt, NULL), -EINVAL);
	m.size = 8;
	cr_assert_eq(weft_rt_metrics(rt, &m), -EINVAL);
	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	cr_assert_eq(m.nworkers, 1);
	cr_assert_eq(m.size, sizeof(m));
	weft_rt_destroy(rt);
}

/* Busy time grows while a worker runs and parks are counted. */
Test(metrics, parks_and_busy_time, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_obs(1, NULL);
	weft_worker_metrics ws[1];
	weft_metrics m;
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, yielder, &j, { .n = 1 }), 0);
	cr_assert_eq(join_on(rt, j), 7);
	weft_join_drop(j);
	weft_metrics_init(&m, ws, 1);
	cr_assert(WAIT_UNTIL(weft_rt_metrics(rt, &m) == 0 &&
			     ws[0].parks > 0));
	cr_assert_gt(ws[0].busy_ns, 0);
	weft_rt_destroy(rt);
}

/* ----------------------------------------------------------- Prometheus */

Test(metrics, prometheus_text_parses, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_obs(3, NULL);
	weft_worker_metrics ws[3];
	weft_metrics m;
	char buf[32768], small[64], names[128][96];
	regex_t sample, help, type;
	int ntyped = 0, nsamples = 0, nworker = 0;
	intptr_t n;
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, yielder, &j, { .n = 3 }), 0);
	cr_assert_eq(join_on(rt, j), 7);
	weft_join_drop(j);
	weft_metrics_init(&m, ws, 3);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	n = weft_metrics_prometheus(&m, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_lt(n, (intptr_t)sizeof(buf));
	cr_assert_eq((size_t)n, strlen(buf));
	/* cut short: snprintf's contract */
	cr_assert_eq(weft_metrics_prometheus(&m, small, sizeof(small)), n);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(weft_metrics_prometheus(&m, NULL, 0), n);
	cr_assert_eq(weft_metrics_prometheus(NULL, buf, sizeof(buf)), -EINVAL);

	cr_assert_eq(regcomp(&sample,
			     "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
			     "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"\\})? "
			     "[0-9]+(\\.[0-9]+)?$",
			     REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$",
			     REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&type,
			     "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
			     "(counter|gauge)$", REG_EXTENDED), 0);
	cr_assert_eq(buf[n - 1], '\n');
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		regmatch_t g[3];

		if (regexec(&type, line, 3, g, 0) == 0) {
			int len = (int)(g[1].rm_eo - g[1].rm_so);

			cr_assert_lt(ntyped, 128);
			snprintf(names[ntyped++], sizeof(names[0]), "%.*s",
				 len, line + g[1].rm_so);
			/* counters end in _total, gauges do not */
			cr_assert_eq(strstr(line, "_total counter") != NULL,
				     strstr(line, " counter") != NULL, "%s",
				     line);
			continue;
		}
		if (line[0] == '#') {
			cr_assert_eq(regexec(&help, line, 0, NULL, 0), 0, "%s",
				     line);
			continue;
		}
		cr_assert_eq(regexec(&sample, line, 3, g, 0), 0,
			     "bad sample line: %s", line);
		/* its family is the last TYPE line */
		cr_assert_gt(ntyped, 0);
		cr_assert(strncmp(line, names[ntyped - 1],
				  strlen(names[ntyped - 1])) == 0 &&
				  (line[strlen(names[ntyped - 1])] == ' ' ||
				   line[strlen(names[ntyped - 1])] == '{'),
			  "sample %s outside its family %s", line,
			  names[ntyped - 1]);
		if (strncmp(line, "weft_worker_polls_total{worker=", 31) == 0)
			nworker++;
		nsamples++;
	}
	cr_assert_eq(nworker, 3);
	cr_assert_gt(nsamples, ntyped);
	/* no family twice */
	for (int a = 0; a < ntyped; a++)
		for (int b = a + 1; b < ntyped; b++)
			cr_assert(strcmp(names[a], names[b]) != 0, "%s twice",
				  names[a]);
	regfree(&sample);
	regfree(&help);
	regfree(&type);
	weft_rt_destroy(rt);
}

Test(metrics, prometheus_to_fd, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_obs(1, NULL);
	weft_metrics m;
	char buf[32768];
	int p[2];
	intptr_t n;
	ssize_t got = 0, r;

	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	cr_assert_eq(pipe(p), 0);
	n = weft_metrics_prometheus_fd(&m, p[1]);
	close(p[1]);
	cr_assert_gt(n, 0);
	while ((r = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += r;
	close(p[0]);
	cr_assert_eq(got, n);
	buf[got] = '\0';
	cr_assert_not_null(strstr(buf, "# TYPE weft_tasks_live gauge\n"));
	cr_assert_eq(weft_metrics_prometheus_fd(&m, -1), -EBADF);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------ long-poll detector */

struct blocker {
	WEFT_ASYNC;
	unsigned ms;
};

static weft_poll blocker_poll(struct blocker *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	usleep(f->ms * 1000u); /* blocks its worker: the fault detected */
	WEFT_RETURN(1);
	WEFT_END();
}

WEFT_FUTURE(blocker, struct blocker, WEFT_NO_DROP);

struct lp_log {
	pthread_mutex_t m;
	int n;
	weft_long_poll last;
	uintptr_t blocker_task;
};

static void on_long_poll(void *arg, const weft_long_poll *r)
{
	struct lp_log *l = arg;

	pthread_mutex_lock(&l->m);
	if (r->name && strcmp(r->name, "blocker") == 0) {
		l->n++;
		l->last = *r;
	}
	pthread_mutex_unlock(&l->m);
}

static int lp_count(struct lp_log *l)
{
	int n;

	pthread_mutex_lock(&l->m);
	n = l->n;
	pthread_mutex_unlock(&l->m);
	return n;
}

Test(metrics, long_poll_reported_named_with_spawn_site, .timeout = RT_TIMEOUT)
{
	struct lp_log l = { .m = PTHREAD_MUTEX_INITIALIZER };
	weft_obs_opts o = { .size = sizeof(weft_obs_opts), .long_poll_ns = 10 * 1000 * 1000,
			    .on_long_poll = on_long_poll, .arg = &l,
			    .track_tasks = true };
	weft_rt *rt = rt_obs(2, &o);
	weft_metrics m;
	weft_join *j;
	int line;

	/* 200 ms against a 10 ms threshold: reported, however late */
	line = __LINE__ + 1;
	cr_assert_eq(WEFT_SPAWN(rt, blocker, &j, { .ms = 200 }), 0);
	cr_assert_eq(join_on(rt, j), 1);
	weft_join_drop(j);
	cr_assert(WAIT_UNTIL(lp_count(&l) >= 1));
	/* the poll ended: once per occurrence, no second report */
	weft_rt_shutdown(rt);
	cr_assert_eq(lp_count(&l), 1);
	cr_assert_str_eq(l.last.name, "blocker");
	cr_assert_not_null(l.last.file);
	cr_assert_str_eq(l.last.file, __FILE__);
	cr_assert_eq(l.last.line, (unsigned)line);
	cr_assert_geq(l.last.elapsed_ns, 10 * 1000 * 1000);
	cr_assert_lt(l.last.worker, 2);
	cr_assert_neq(l.last.task, 0);
	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	cr_assert_eq(m.long_polls, 1);
	weft_rt_destroy(rt);
}

Test(metrics, long_poll_off_and_short_polls_not_reported,
     .timeout = RT_TIMEOUT)
{
	struct lp_log l = { .m = PTHREAD_MUTEX_INITIALIZER };
	weft_obs_opts o = { .size = sizeof(weft_obs_opts), .long_poll_ns = 0, .on_long_poll = on_long_poll,
			    .arg = &l };
	weft_rt *rt = rt_obs(1, &o);
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, blocker, &j, { .ms = 100 }), 0);
	cr_assert_eq(join_on(rt, j), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(lp_count(&l), 0);
}

/* The voluntary context switches of rt's thread called name (its
 * wake-ups after sleeping), from /proc; -1 if there is none. */
static long thread_wakeups(const char *name)
{
	char path[300], comm[32], line[128];
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long n = -1;

	cr_assert_not_null(d);
	while (n < 0 && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
			 e->d_name);
		f = fopen(path, "r");
		cr_assert_not_null(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
				break;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* An idle runtime's watcher backs off: at the default threshold (10 ms)
 * it looked 400 times a second whatever the runtime did (each wake-up
 * ~30 us of CPU on a small VM); idle, it now wakes at most ~12 times a
 * second after the first few. A bound on wake-ups in a second of idling,
 * not on time: a slower machine only wakes it less. */
Test(metrics, long_poll_watcher_backs_off_while_idle, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	weft_rt *rt;
	long a, b;

	weft_obs_opts_init(&o);
	rt = rt_obs(2, &o);
	usleep(300 * 1000); /* past the back-off's ramp */
	a = thread_wakeups("weft-watch");
	cr_assert_geq(a, 0, "no watcher thread");
	usleep(1000 * 1000);
	b = thread_wakeups("weft-watch");
	weft_rt_destroy(rt);
	cr_assert_leq(b - a, 40, "the idle watcher woke %ld times in 1 s",
		      b - a);
}

/* Shutdown while a poll blocks past the threshold: the shutdown waits for
 * the poll (it joins the worker); a report may come during it, none
 * after, and nothing crashes or leaks. */
Test(metrics, long_poll_during_shutdown, .timeout = RT_TIMEOUT)
{
	struct lp_log l = { .m = PTHREAD_MUTEX_INITIALIZER };
	weft_obs_opts o = { .size = sizeof(weft_obs_opts), .long_poll_ns = 5 * 1000 * 1000,
			    .on_long_poll = on_long_poll, .arg = &l };
	weft_rt *rt = rt_obs(1, &o);
	int n;

	cr_assert_eq(WEFT_SPAWN(rt, blocker, NULL, { .ms = 150 }), 0);
	/* shut down while it blocks (the spawn may not have run yet: then it
	 * is cancelled and never blocks) */
	usleep(20 * 1000);
	weft_rt_shutdown(rt);
	n = lp_count(&l);
	cr_assert_leq(n, 1);
	usleep(20 * 1000);
	cr_assert_eq(lp_count(&l), n);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------------ task dump */

struct parked {
	WEFT_ASYNC;
	gate *g;
};

static weft_poll parked_poll(struct parked *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT(gate_poll(f->g, weft_cx_));
	WEFT_RETURN(3);
	WEFT_END();
}

WEFT_FUTURE(parked, struct parked, WEFT_NO_DROP);

struct dump_seen {
	int total, parked;
	weft_task_info info;
};

static void on_task(void *arg, const weft_task_info *in)
{
	struct dump_seen *d = arg;

	d->total++;
	if (in->name && strcmp(in->name, "parked") == 0) {
		d->parked++;
		d->info = *in;
	}
}

Test(metrics, dump_finds_a_waiting_task, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o = { .size = sizeof(weft_obs_opts), .track_tasks = true };
	weft_rt *rt = rt_obs(2, &o);
	struct dump_seen d = { 0 };
	gate g;
	weft_join *j;
	int line, p[2];
	char buf[4096];
	ssize_t got;

	gate_init(&g);
	line = __LINE__ + 1;
	cr_assert_eq(WEFT_SPAWN(rt, parked, &j, { .g = &g }), 0);
	cr_assert(WAIT_UNTIL(weft_join_is_finished(j) ||
			     (d = (struct dump_seen){ 0 },
			      weft_rt_dump(rt, on_task, &d) >= 1 &&
				      d.parked == 1 &&
				      d.info.state == WEFT_TASK_IDLE)));
	cr_assert_eq(d.parked, 1);
	cr_assert_eq(d.info.state, WEFT_TASK_IDLE);
	cr_assert_eq(d.info.task, (uintptr_t)j);
	cr_assert_str_eq(d.info.file, __FILE__);
	cr_assert_eq(d.info.line, (unsigned)line);
	cr_assert_geq(d.info.polls, 1);
	cr_assert_eq(d.info.id, 0);
	cr_assert_str_eq(weft_task_state_name(d.info.state), "idle");
	/* the fd form: one line naming it */
	cr_assert_eq(pipe(p), 0);
	cr_assert_geq(weft_rt_dump_fd(rt, p[1]), 1);
	close(p[1]);
	got = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	cr_assert_gt(got, 0);
	buf[got] = '\0';
	cr_assert_not_null(strstr(buf, " idle name parked "), "%s", buf);
	gate_open(&g);
	cr_assert_eq(join_on(rt, j), 3);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	gate_destroy(&g);
}

Test(metrics, dump_needs_tracking)
{
	weft_rt *rt = rt_obs(1, NULL);
	struct dump_seen d = { 0 };

	cr_assert_eq(weft_rt_dump(rt, on_task, &d), -ENOTSUP);
	cr_assert_eq(weft_rt_dump(rt, NULL, &d), -EINVAL);
	cr_assert_eq(weft_rt_dump(NULL, on_task, &d), -EINVAL);
	weft_rt_destroy(rt);
}

/* A spawner task that spawns short tasks at full rate (each spawns
 * nothing, yields once, ends) until told to stop. */
struct churn {
	WEFT_ASYNC;
	atomic_bool *stop;
	atomic_int *started;
	long spawned;
};

static weft_poll churn_poll(struct churn *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	atomic_fetch_add(f->started, 1);
	while (!atomic_load(f->stop)) {
		for (int i = 0; i < 64; i++)
			if (WEFT_SPAWN(weft_rt_current(), yielder, NULL,
				       { .n = 1 }) == 0)
				f->spawned++;
		WEFT_YIELD();
	}
	WEFT_RETURN(f->spawned);
	WEFT_END();
}

WEFT_FUTURE(churn, struct churn, WEFT_NO_DROP);

struct churn_seen {
	long n, churn, adopted;
};

static void count_task(void *arg, const weft_task_info *in)
{
	struct churn_seen *c = arg;

	/* every field readable: the record was copied while the task lived */
	cr_assert_not_null(in->name);
	cr_assert_not_null(in->file);
	cr_assert_leq(in->state, WEFT_TASK_COMPLETING);
	c->n++;
	if (strcmp(in->name, "churn") == 0) {
		c->churn++;
		c->adopted += in->worker >= 0;
	}
}

/* Both churn tasks are on a worker's list (adopted from the foreign list
 * by the worker that first ran them, which happens around that first
 * poll: a dump racing the move may miss a task or see it twice, as the
 * header allows for tasks that move). */
static bool churn_adopted(weft_rt *rt)
{
	struct churn_seen c = { 0, 0, 0 };

	return weft_rt_dump(rt, count_task, &c) >= 0 && c.adopted == 2 &&
	       c.churn == 2;
}

struct foreign_arg {
	weft_rt *rt;
	atomic_bool *stop;
};

static void *foreign_spawner(void *arg)
{
	struct foreign_arg *a = arg;

	/* in batches it waits for: a producer that never waits would pile
	 * tasks up in the injector faster than two workers drain it */
	while (!atomic_load(a->stop)) {
		weft_join *j[64];
		int n = 0;

		for (int i = 0; i < 64; i++)
			if (WEFT_SPAWN(a->rt, yielder, &j[n], { .n = 1 }) == 0)
				n++;
		for (int i = 0; i < n; i++) {
			cr_assert_eq(join_on(a->rt, j[i]), 7);
			weft_join_drop(j[i]);
		}
	}
	return NULL;
}

Test(metrics, dump_while_tasks_spawn_and_free_at_full_rate,
     .timeout = RT_TIMEOUT)
{
	weft_obs_opts o = { .size = sizeof(weft_obs_opts), .track_tasks = true };
	weft_rt *rt = rt_obs(2, &o);
	atomic_bool stop = false;
	atomic_int started = 0;
	struct foreign_arg fa = { rt, &stop };
	weft_join *j[2];
	pthread_t th;
	long dumped = 0;
	int dumps = STRESS(200, 5000);

	for (int i = 0; i < 2; i++)
		cr_assert_eq(WEFT_SPAWN(rt, churn, &j[i],
					{ .stop = &stop, .started = &started }),
			     0);
	/* spawned from outside, they are in a worker's list once run */
	cr_assert(WAIT_UNTIL(atomic_load(&started) == 2));
	cr_assert(WAIT_UNTIL(churn_adopted(rt)));
	cr_assert_eq(pthread_create(&th, NULL, foreign_spawner, &fa), 0);
	/* at least `dumps` dumps, and until the churn has spawned (and so
	 * freed) many tasks meanwhile */
	for (int i = 0;; i++) {
		struct churn_seen c = { 0, 0, 0 };
		intptr_t r = weft_rt_dump(rt, count_task, &c);
		weft_metrics m;

		cr_assert_geq(r, 0);
		cr_assert_eq(r, c.n);
		/* the two churn tasks live through every dump, each seen once
		 * (a dump that cut a list it had sized too small dropped the
		 * oldest tasks: CI's ASan build saw it, issue 14) */
		cr_assert_eq(c.churn, 2, "dump %d saw %ld churn tasks", i,
			     c.churn);
		dumped += c.n;
		weft_metrics_init(&m, NULL, 0);
		cr_assert_eq(weft_rt_metrics(rt, &m), 0);
		if (i >= dumps && m.tasks_spawned >= STRESS(20000, 1000000))
			break;
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_geq(join_on(rt, j[i]), 0);
		weft_join_drop(j[i]);
	}
	/* the churn tasks themselves are live through every dump */
	cr_assert_geq(dumped, dumps);
	weft_rt_destroy(rt);
}

/* ---------------------------------------------------------------- hooks */

struct hook_counts {
	atomic_long spawn, term, begin, end, park, unpark;
};

static void h_spawn(void *arg, uintptr_t t, const weft_future_type *ty)
{
	(void)t;
	(void)ty;
	atomic_fetch_add(&((struct hook_counts *)arg)->spawn, 1);
}
static void h_term(void *arg, uintptr_t t, const weft_future_type *ty)
{
	(void)t;
	(void)ty;
	atomic_fetch_add(&((struct hook_counts *)arg)->term, 1);
}
static void h_begin(void *arg, uintptr_t t, const weft_future_type *ty)
{
	(void)t;
	cr_assert_not_null(ty);
	atomic_fetch_add(&((struct hook_counts *)arg)->begin, 1);
}
static void h_end(void *arg, uintptr_t t, const weft_future_type *ty)
{
	(void)t;
	(void)ty;
	atomic_fetch_add(&((struct hook_counts *)arg)->end, 1);
}
static void h_park(void *arg, unsigned w)
{
	cr_assert_lt(w, 2);
	atomic_fetch_add(&((struct hook_counts *)arg)->park, 1);
}
static void h_unpark(void *arg, unsigned w)
{
	cr_assert_lt(w, 2);
	atomic_fetch_add(&((struct hook_counts *)arg)->unpark, 1);
}

Test(metrics, hooks_pair_up, .timeout = RT_TIMEOUT)
{
	struct hook_counts c = { 0 };
	weft_obs_opts o = { .size = sizeof(weft_obs_opts), .on_task_spawn = h_spawn,
			    .on_task_terminate = h_term,
			    .on_poll_begin = h_begin,
			    .on_poll_end = h_end,
			    .on_park = h_park,
			    .on_unpark = h_unpark,
			    .arg = &c };
	weft_rt *rt = rt_obs(2, &o);
	weft_join *j[10];
	gate g;

	gate_init(&g);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(WEFT_SPAWN(rt, yielder, &j[i], { .n = 2 }), 0);
	/* one that never finishes: terminated by the shutdown's cancel */
	cr_assert_eq(WEFT_SPAWN(rt, parked, NULL, { .g = &g }), 0);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(join_on(rt, j[i]), 7);
		weft_join_drop(j[i]);
	}
	cr_assert(WAIT_UNTIL(atomic_load(&c.park) > 0));
	weft_rt_destroy(rt);
	gate_destroy(&g);
	cr_assert_eq(atomic_load(&c.spawn), 11);
	cr_assert_eq(atomic_load(&c.term), 11);
	cr_assert_geq(atomic_load(&c.begin), 31);
	cr_assert_eq(atomic_load(&c.begin), atomic_load(&c.end));
	cr_assert_eq(atomic_load(&c.park), atomic_load(&c.unpark));
}

/* ------------------------------------------------------------- reactor */

#include "weft/time.h"

struct napper {
	WEFT_ASYNC;
	weft_sleep s;
};

static weft_poll napper_poll(struct napper *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_sleep, &f->s, 2 * WEFT_MS);
	WEFT_RETURN(f->s.res);
	WEFT_END();
}

static void napper_drop(struct napper *f)
{
	weft_sleep_drop(&f->s);
}

WEFT_FUTURE(napper, struct napper, napper_drop);

Test(metrics, reactor_counts_timers_and_passes, .timeout = RT_TIMEOUT)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	weft_metrics m;
	weft_join *j;

	weft_obs_opts o;

	weft_obs_opts_init(&o);
	cr_assert_eq(o.long_poll_ns, 10 * 1000 * 1000); /* the default */
	cr_assert_eq(o.size, sizeof(o));
	o.size = 0;
	cr_assert_eq(weft_rt_create_with(&rt, NULL, &o), -EINVAL,
		     "an unset size is refused");
	weft_rt_builder_init(&b);
	b.workers = 1;
	b.no_pin = true;
	cr_assert_eq(weft_rt_create(&rt, &b), 0, "weft_rt_create: %s",
		     weft_rt_create_error());
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(WEFT_SPAWN(rt, napper, &j, { 0 }), 0);
		cr_assert_eq(join_on(rt, j), 0);
		weft_join_drop(j);
	}
	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	cr_assert_geq(m.reactor.timers_fired, 3);
	cr_assert_gt(m.reactor.passes, 0);
	cr_assert_gt(m.reactor.sqes, 0); /* the wake-up eventfd read at least */
	/* as of the reactor's last pass (a gauge it samples) */
	cr_assert_leq(m.reactor.timers_live, 3);
	weft_rt_shutdown(rt);
	/* after shutdown the reactor is gone: its part reads 0, no crash */
	weft_metrics_init(&m, NULL, 0);
	cr_assert_eq(weft_rt_metrics(rt, &m), 0);
	cr_assert_eq(m.reactor.passes, 0);
	weft_rt_destroy(rt);
}
