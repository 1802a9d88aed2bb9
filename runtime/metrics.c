/* runtime/metrics.c - weft_rt_metrics, the Prometheus text, the task dump.
 *
 * Metrics: each worker's counters are in its own lines of struct
 * weft__worker (internal.h, struct weft__wstats), written by that worker
 * with a relaxed load and store (no RMW), read here with relaxed loads.
 * The reactor's part comes through the driver's metrics operation
 * (runtime/driver.h), read under rt->lock so that it cannot race with
 * the driver's stop at shutdown (only readers and shutdown take the lock
 * for it).
 *
 * Dump: live tasks are in the owner lists (owner.c). With task tracking
 * every link and unlink holds the owner's lock (a flag, uncontended but
 * for a dump), so the dump copies one owner's list under its lock into a
 * buffer sized beforehand, and calls the user's function with no lock
 * held. A task in a list cannot be freed while the lock is held (the free
 * unlinks first, under the lock), so reading its header and tracking
 * record then is safe; its state word is read atomically.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/metrics.h"
#include "runtime/task.h"

/* the first published layout (1.1.0) ends after reactor.pool_fallbacks:
 * every version has it; what follows is filled when m->size holds it */
#define METRICS_V1_SIZE                                                     \
	(offsetof(struct weft_metrics, reactor.pool_fallbacks) +              \
	 sizeof(uint64_t))
/* whether a caller's struct of `size` bytes holds field f */
#define METRICS_HAS(size, f)                                                \
	((size) >= offsetof(struct weft_metrics, f) +                        \
			   sizeof(((struct weft_metrics *)0)->f))

void weft_metrics_init(weft_metrics *m, weft_worker_metrics *workers,
		       unsigned workers_cap)
{
	if (!m)
		return;
	memset(m, 0, sizeof(*m));
	m->size = sizeof(*m);
	m->workers = workers;
	m->workers_cap = workers ? workers_cap : 0;
}

static void worker_metrics(struct weft__worker *w, weft_worker_metrics *o,
			   uint64_t now)
{
	struct weft__wstats *st = &w->stats;
	uint64_t since = weft__stat_get(&st->active_since);

	o->polls = weft__stat_get(&st->poll_seq);
	o->lifo_runs = weft__stat_get(&st->lifo_runs);
	/* every poll is of a task taken from a queue or the LIFO slot */
	o->runs = o->polls > o->lifo_runs ? o->polls - o->lifo_runs : 0;
	o->steal_attempts = weft__stat_get(&st->steal_attempts);
	o->steals = weft__stat_get(&st->steals);
	o->tasks_stolen = weft__stat_get(&st->stolen);
	o->injector_pulls = weft__stat_get(&st->injector_pulls);
	o->budget_yields = weft__stat_get(&st->budget_yields);
	o->parks = weft__stat_get(&st->parks);
	o->unparks = weft__stat_get(&st->unparks);
	o->spawned = weft__stat_get(&st->spawned);
	o->long_polls = weft__stat_get(&st->long_polls);
	o->busy_ns = weft__stat_get(&st->busy_ns);
	/* the running stretch (its start may be newer than busy_ns read
	 * above: then at worst one stretch is counted twice for this read) */
	if (since && now > since)
		o->busy_ns += now - since;
	o->queue_depth = weft__deque_len(&w->dq);
}

int weft_rt_metrics(weft_rt *rt, weft_metrics *m)
{
	uint64_t now, spawned, live, longp = 0;
	size_t size;
	weft_worker_metrics *ws;
	unsigned cap;

	if (!rt || !m || m->size < METRICS_V1_SIZE)
		return -EINVAL;
	size = m->size < sizeof(*m) ? m->size : sizeof(*m);
	ws = m->workers;
	cap = ws ? m->workers_cap : 0;
	memset(m, 0, size); /* an older caller's struct is smaller */
	m->size = size;
	m->workers = ws;
	m->workers_cap = cap;
	m->nworkers = rt->nworkers;
	now = weft__rt_now_ns();
	spawned = atomic_load_explicit(&rt->foreign_spawned,
				       memory_order_relaxed);
	/* foreign spawns in no list yet (adopted ones are in one) */
	live = spawned - atomic_load_explicit(&rt->foreign_adopted,
					      memory_order_relaxed);
	if (live > spawned)
		live = 0;
	live += weft__owner_live(&rt->foreign);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		weft_worker_metrics tmp, *o = i < cap ? &ws[i] : &tmp;

		worker_metrics(&rt->workers[i], o, now);
		spawned += o->spawned;
		longp += o->long_polls;
		live += weft__owner_live(&rt->workers[i].owner);
	}
	m->tasks_spawned = spawned;
	m->tasks_live = live;
	m->injector_depth = atomic_load_explicit(&rt->inj.len,
						 memory_order_relaxed);
	m->long_polls = longp;
	weft__blocking_stats(rt, &m->blocking_threads, &m->blocking_idle,
			     &m->blocking_queue);
	{
		weft_reactor_metrics rm;
		/* as much of it as the caller's struct holds */
		size_t room = size - offsetof(struct weft_metrics, reactor);

		memset(&rm, 0, sizeof(rm));
		pthread_mutex_lock(&rt->lock);
		if (rt->head.driver && !rt->driver_gone &&
		    rt->driver_ops->metrics)
			rt->driver_ops->metrics(rt->head.driver, &rm);
		pthread_mutex_unlock(&rt->lock);
		memcpy(&m->reactor, &rm, room < sizeof(rm) ? room : sizeof(rm));
	}
	return 0;
}

/* ---------------------------------------------------------- Prometheus */

struct out {
	char *buf;
	size_t len, pos;      /* pos: the whole text's length so far */
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t room = o->pos < o->len ? o->len - o->pos : 0;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

static void family(struct out *o, const char *name, const char *type,
		   const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define WORKER_FAMILY(o, m, name, type, help, expr)                        \
	do {                                                               \
		family(o, name, type, help);                               \
		for (unsigned i_ = 0; i_ < nw; i_++) {                     \
			const weft_worker_metrics *w_ = &(m)->workers[i_]; \
			put(o, "%s{worker=\"%u\"} %llu\n", name, i_,       \
			    (unsigned long long)(expr));                   \
		}                                                          \
	} while (0)

static void one(struct out *o, const char *name, const char *type,
		const char *help, uint64_t v)
{
	family(o, name, type, help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void prometheus(const weft_metrics *m, struct out *o)
{
	static const char *const kinds[WEFT_CQE_KINDS] = {
		"io", "accept", "recvq", "cancel", "wake", "other"
	};
	unsigned nw = m->workers ? (m->nworkers < m->workers_cap
					    ? m->nworkers : m->workers_cap)
				 : 0;

	WORKER_FAMILY(o, m, "weft_worker_polls_total", "counter",
		      "Task polls.", w_->polls);
	WORKER_FAMILY(o, m, "weft_worker_runs_total", "counter",
		      "Tasks taken from a queue and run.", w_->runs);
	WORKER_FAMILY(o, m, "weft_worker_lifo_runs_total", "counter",
		      "Tasks run from the LIFO slot.", w_->lifo_runs);
	WORKER_FAMILY(o, m, "weft_worker_steal_attempts_total", "counter",
		      "Looks into another worker's queue.",
		      w_->steal_attempts);
	WORKER_FAMILY(o, m, "weft_worker_steals_total", "counter",
		      "Looks into another worker's queue that took tasks.",
		      w_->steals);
	WORKER_FAMILY(o, m, "weft_worker_tasks_stolen_total", "counter",
		      "Tasks taken from other workers' queues.",
		      w_->tasks_stolen);
	WORKER_FAMILY(o, m, "weft_worker_injector_pulls_total", "counter",
		      "Batches taken from the injector.", w_->injector_pulls);
	WORKER_FAMILY(o, m, "weft_worker_budget_yields_total", "counter",
		      "Polls ended by a budget-forced yield.",
		      w_->budget_yields);
	WORKER_FAMILY(o, m, "weft_worker_parks_total", "counter",
		      "Times the worker went to sleep.", w_->parks);
	WORKER_FAMILY(o, m, "weft_worker_unparks_total", "counter",
		      "Times the worker woke up.", w_->unparks);
	WORKER_FAMILY(o, m, "weft_worker_spawned_total", "counter",
		      "Tasks spawned from the worker.", w_->spawned);
	WORKER_FAMILY(o, m, "weft_worker_long_polls_total", "counter",
		      "Polls longer than the long-poll threshold.",
		      w_->long_polls);
	family(o, "weft_worker_busy_seconds_total", "counter",
	       "Time the worker was not parked.");
	for (unsigned i = 0; i < nw; i++)
		put(o, "weft_worker_busy_seconds_total{worker=\"%u\"} %.9f\n",
		    i, (double)m->workers[i].busy_ns / 1e9);
	WORKER_FAMILY(o, m, "weft_worker_queue_depth", "gauge",
		      "Tasks in the worker's queue.", w_->queue_depth);
	one(o, "weft_workers", "gauge", "Worker slots.", m->nworkers);
	one(o, "weft_tasks_live", "gauge", "Tasks spawned, not yet freed.",
	    m->tasks_live);
	one(o, "weft_tasks_spawned_total", "counter", "Tasks spawned.",
	    m->tasks_spawned);
	one(o, "weft_injector_depth", "gauge",
	    "Tasks waiting in the injector.", m->injector_depth);
	one(o, "weft_long_polls_total", "counter",
	    "Polls longer than the long-poll threshold.", m->long_polls);
	one(o, "weft_blocking_threads", "gauge", "Blocking-pool threads.",
	    m->blocking_threads);
	one(o, "weft_blocking_idle_threads", "gauge",
	    "Blocking-pool threads waiting for a job.", m->blocking_idle);
	one(o, "weft_blocking_queue_depth", "gauge",
	    "Blocking jobs queued, not started.", m->blocking_queue);
	one(o, "weft_reactor_passes_total", "counter",
	    "Reactor loop passes.", m->reactor.passes);
	one(o, "weft_reactor_sqes_total", "counter",
	    "Submission queue entries submitted.", m->reactor.sqes);
	family(o, "weft_reactor_cqes_total", "counter",
	       "Completions reaped, by kind.");
	for (unsigned k = 0; k < WEFT_CQE_KINDS; k++)
		put(o, "weft_reactor_cqes_total{kind=\"%s\"} %llu\n", kinds[k],
		    (unsigned long long)m->reactor.cqes[k]);
	one(o, "weft_reactor_timers_fired_total", "counter",
	    "Timer entries expired.", m->reactor.timers_fired);
	one(o, "weft_reactor_timers", "gauge", "Timer entries armed.",
	    m->reactor.timers_live);
	one(o, "weft_reactor_cancellations_total", "counter",
	    "Cancellation requests submitted.", m->reactor.cancellations);
	one(o, "weft_reactor_pool_buffers", "gauge",
	    "Provided buffers in the pool.", m->reactor.pool_buffers);
	one(o, "weft_reactor_pool_buffers_in_use", "gauge",
	    "Provided buffers held by streams.", m->reactor.pool_in_use);
	one(o, "weft_reactor_pool_fallbacks_total", "counter",
	    "Receives that fell back to a plain read (pool dry).",
	    m->reactor.pool_fallbacks);
	if (METRICS_HAS(m->size, reactor.pool_spilled)) {
		one(o, "weft_reactor_pool_exhausted_total", "counter",
		    "Multishot receives ended by an empty pool (ENOBUFS).",
		    m->reactor.pool_exhausted);
		one(o, "weft_reactor_pool_spilled_total", "counter",
		    "Received chunks copied out of a scarce pool.",
		    m->reactor.pool_spilled);
	}
}

intptr_t weft_metrics_prometheus(const weft_metrics *m, char *buf,
				 size_t len)
{
	struct out o = { buf, len, 0 };

	if (!m || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	prometheus(m, &o);
	if (len && o.pos >= len)
		buf[len - 1] = '\0';
	return (intptr_t)o.pos;
}

static intptr_t write_all(int fd, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(fd, p + done, n - done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)r;
	}
	return (intptr_t)done;
}

intptr_t weft_metrics_prometheus_fd(const weft_metrics *m, int fd)
{
	size_t len = 16384;

	if (!m)
		return -EINVAL;
	for (;;) {
		char *buf = malloc(len);
		intptr_t n, r;

		if (!buf)
			return -ENOMEM;
		n = weft_metrics_prometheus(m, buf, len);
		if (n >= 0 && (size_t)n >= len) {
			free(buf);
			len = (size_t)n + 1;
			continue;
		}
		r = n < 0 ? n : write_all(fd, buf, (size_t)n);
		free(buf);
		return r;
	}
}

/* ----------------------------------------------------------- task dump */

const char *weft_task_state_name(weft_task_state s)
{
	switch (s) {
	case WEFT_TASK_IDLE:
		return "idle";
	case WEFT_TASK_NOTIFIED:
		return "notified";
	case WEFT_TASK_RUNNING:
		return "running";
	case WEFT_TASK_COMPLETING:
		return "completing";
	}
	return "?";
}

const char *weft_wait_kind_name(weft_wait_kind k)
{
	switch (k) {
	case WEFT_WAIT_TIMER:
		return "timer";
	case WEFT_WAIT_FD:
		return "fd";
	case WEFT_WAIT_CHANNEL:
		return "channel";
	case WEFT_WAIT_UNKNOWN:
		break;
	}
	return "?";
}

/* " waits ..." for a dump line (empty when unknown) into buf. */
void weft__wait_text(const weft_task_info *in, uint64_t now, char *buf,
		     size_t len)
{
	buf[0] = '\0';
	switch (in->wait_kind) {
	case WEFT_WAIT_TIMER:
		if (in->wait > now)
			snprintf(buf, len, " waits timer in %.3fs",
				 (double)(in->wait - now) / 1e9);
		else
			snprintf(buf, len, " waits timer due");
		break;
	case WEFT_WAIT_FD:
		snprintf(buf, len, " waits fd %llu",
			 (unsigned long long)in->wait);
		break;
	case WEFT_WAIT_CHANNEL:
		snprintf(buf, len, " waits channel %#llx",
			 (unsigned long long)in->wait);
		break;
	case WEFT_WAIT_UNKNOWN:
		break;
	}
}

static const char *symbol_of(const weft_future_type *type)
{
	Dl_info di;
	void *fn;

	memcpy(&fn, &type->poll, sizeof(fn));
	if (dladdr(fn, &di) && di.dli_sname && di.dli_saddr == fn)
		return di.dli_sname;
	return NULL;
}

static void fill(weft_task_info *in, struct weft__task *t, int worker,
		 uint64_t now)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	struct weft__track *k = weft__task_track(t);
	uint64_t note;

	memset(in, 0, sizeof(*in));
	in->task = (uintptr_t)t;
	in->state = s & WEFT__COMPLETE ? WEFT_TASK_COMPLETING
		    : s & WEFT__RUNNING ? WEFT_TASK_RUNNING
		    : s & WEFT__NOTIFIED ? WEFT_TASK_NOTIFIED
					 : WEFT_TASK_IDLE;
	in->name = t->type->name;
	in->file = k->file;
	in->line = k->line;
	in->worker = worker;
	in->age_ns = now > k->spawn_ns ? now - k->spawn_ns : 0;
	in->polls = weft__stat_get(&k->polls);
	in->type = t->type;
	in->id = s & WEFT__HAS_ID ? weft__task_id_peek(t) : 0;
	in->task_name = s & WEFT__HAS_ID ? weft__task_name_peek(t) : NULL;
	in->poll_ns = weft__stat_get(&k->poll_ns);
	note = weft__stat_get(&k->note);
	in->wait_kind = (weft_wait_kind)(note >> WEFT__NOTE_SHIFT);
	in->wait = note & WEFT__NOTE_MASK;
}

/* Copies o's whole list under its lock if it holds at most cap tasks and
 * returns how many; else copies nothing and returns SIZE_MAX with *need
 * set to the count (the caller grows its buffer and tries again). A copy
 * cut at cap would drop the oldest tasks: spawns link at the head, so the
 * tasks at the tail are the long-lived ones (the odd dumps of issue 14:
 * more than the slack of tasks spawned between sizing the buffer and
 * taking the lock, which ASan's slow realloc made likely). */
static size_t copy_owner(struct weft__owner *o, weft_task_info *out,
			 size_t cap, uint64_t now, size_t *need)
{
	size_t n = 0, live;

	weft__owner_lock(o);
	/* every change of `live` is made under this lock (tracking is on) */
	live = weft__owner_live(o);
	if (live > cap) {
		weft__owner_unlock(o);
		*need = live;
		return SIZE_MAX;
	}
	/* n < cap: a guard; the list holds `live` tasks */
	for (struct weft__task *t = o->head; t && n < cap; t = t->owned_next)
		fill(&out[n++], t, o->index, now);
	weft__owner_unlock(o);
	return n;
}

static size_t owner_live(struct weft__owner *o)
{
	size_t n;

	weft__owner_lock(o);
	n = weft__owner_live(o);
	weft__owner_unlock(o);
	return n;
}

intptr_t weft_rt_dump(weft_rt *rt,
		      void (*fn)(void *arg, const weft_task_info *info),
		      void *arg)
{
	intptr_t total = 0;
	weft_task_info *buf = NULL;
	size_t cap = 0;

	if (!rt || !fn)
		return -EINVAL;
	if (!rt->track)
		return -ENOTSUP;
	for (unsigned i = 0; i <= rt->nworkers; i++) {
		struct weft__owner *o = i < rt->nworkers
						? &rt->workers[i].owner
						: &rt->foreign;
		/* room for what it holds now and some more spawned meanwhile;
		 * a list that outgrew it is copied again into a larger one */
		size_t want = owner_live(o) + 64, n;

		for (;;) {
			uint64_t now = weft__rt_now_ns();

			if (want > cap) {
				weft_task_info *nb =
					realloc(buf, want * sizeof(*buf));

				if (!nb) {
					free(buf);
					return -ENOMEM;
				}
				buf = nb;
				cap = want;
			}
			n = copy_owner(o, buf, cap, now, &want);
			if (n != SIZE_MAX)
				break;
			want += want / 2 + 64;
		}
		for (size_t k = 0; k < n; k++) {
			/* dladdr takes the loader's lock: not under ours */
			buf[k].symbol = symbol_of(buf[k].type);
			fn(arg, &buf[k]);
		}
		total += (intptr_t)n;
	}
	free(buf);
	return total;
}

struct dump_fd {
	int fd;
	int err;
};

static void dump_line(void *arg, const weft_task_info *in)
{
	struct dump_fd *d = arg;
	char line[640], waits[64];
	int n;

	if (d->err)
		return;
	weft__wait_text(in, weft__rt_now_ns(), waits, sizeof(waits));
	n = snprintf(line, sizeof(line),
		     "task %#lx id %llu %s name %s sym %s at %s:%u worker %d "
		     "age %.3fs polls %llu busy %.3fs%s%s%s\n",
		     (unsigned long)in->task, (unsigned long long)in->id,
		     weft_task_state_name(in->state),
		     in->name ? in->name : "?", in->symbol ? in->symbol : "?",
		     in->file ? in->file : "?", in->line, in->worker,
		     (double)in->age_ns / 1e9, (unsigned long long)in->polls,
		     (double)in->poll_ns / 1e9, waits,
		     in->task_name ? " task_name " : "",
		     in->task_name ? in->task_name : "");
	if (n > 0) {
		intptr_t r = write_all(d->fd, line,
				       (size_t)n < sizeof(line)
					       ? (size_t)n
					       : sizeof(line) - 1);

		if (r < 0)
			d->err = (int)r;
	}
}

intptr_t weft_rt_dump_fd(weft_rt *rt, int fd)
{
	struct dump_fd d = { fd, 0 };
	intptr_t n = weft_rt_dump(rt, dump_line, &d);

	return n < 0 ? n : d.err ? d.err : n;
}
