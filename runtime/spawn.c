/* runtime/spawn.c - weft_spawn: allocating a task, initialising its frame
 * and state word (task.c, "spawn"), and queueing it, from a worker of the
 * runtime (linked into the worker's owner list, LIFO slot) or from any
 * other thread (unlinked, through the injector, racing with shutdown).
 */
#include <errno.h>
#include <string.h>

#include "runtime/task.h"

/* Tracking and the spawn hook, off the common path. */
static __attribute__((noinline)) void spawn_obs(weft_rt *rt,
						struct weft__task *t,
						char *mem, size_t bytes,
						const char *file,
						unsigned line)
{
	if (rt->track) {
		struct weft__track *k = (struct weft__track *)(void *)(mem +
								       bytes);

		k->file = file;
		k->line = line;
		k->pad_ = 0;
		k->spawn_ns = weft__rt_now_ns();
		atomic_init(&k->polls, 0);
		atomic_init(&k->poll_ns, 0);
		atomic_init(&k->note, 0);
	}
	if (rt->obs.on_task_spawn)
		rt->obs.on_task_spawn(rt->obs.arg, (uintptr_t)t,
					  t->type);
}

/* obs: tracking or the spawn hook is on (a constant in each copy: the
 * common one tests rt->obs_spawn once and takes no other branch for it) */
static int spawn_observed(weft_rt *rt, const weft_future_type *type,
			  const void *init, weft_join **join,
			  const char *file, unsigned line,
			  struct weft__jw_ext *ext);

static inline __attribute__((always_inline)) int
spawn(weft_rt *rt, const weft_future_type *type, const void *init,
      weft_join **join, const char *file, unsigned line, bool obs,
      struct weft__jw_ext *ext)
{
	struct weft__worker *w;
	struct weft__task *t;
	size_t lead, bytes;
	char *mem;

	if (join)
		*join = NULL;
	if (!rt || !type || !type->poll)
		return -EINVAL;
	/* relaxed: a hint; the foreign path re-checks it (seq_cst) below, and
	 * the worker path cannot race with shutdown (workers stop first) */
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
		return -ESHUTDOWN;
	if (!obs && __builtin_expect(rt->obs_spawn, 0))
		return spawn_observed(rt, type, init, join, file, line, ext);
	lead = weft__task_lead(type);
	bytes = weft__task_bytes(type, lead);
	/* ext (a constant NULL in weft_spawn's copy): the TAIL record too */
	mem = weft__alloc(rt, bytes + (obs ? rt->track_bytes : 0) +
				      (ext ? WEFT__TAIL_BYTES : 0));
	if (!mem)
		return -ENOMEM;
	t = (struct weft__task *)(mem + lead);
	/* one reference for the run queue, one for the join handle; with
	 * ext, the slot is the task side's from the start (JOIN_WAKER; the
	 * queueing below publishes it, as pair 2's release would) */
	atomic_init(&t->state,
		    WEFT__NOTIFIED + WEFT__REF_ONE +
			    (join ? WEFT__REF_ONE + WEFT__JOIN_INTEREST : 0) +
			    (ext ? WEFT__JOIN_WAKER + WEFT__TAIL : 0));
	t->type = type;
	t->next = NULL;
	t->join_waker = ext ? (uintptr_t)ext | WEFT__JW_EXT : 0;
	if (init)
		memcpy(weft__task_frame(t), init, type->size);
	else
		memset(weft__task_frame(t), 0, type->size);
	if (obs)
		spawn_obs(rt, t, mem, bytes, file, line);

	w = weft__worker_current();
	if (w && w->rt == rt) {
		weft__stat_add(&w->stats.spawned, 1);
		if (obs)
			weft__owner_link(&w->owner, t);
		else
			weft__owner_link_unlocked(&w->owner, t);
		if (join)
			*join = (weft_join *)t;
		/* from inside a poll the child takes the LIFO slot (it runs
		 * right after the parent's poll, on this worker, while its
		 * frame is hot; the previous occupant goes to the deque where
		 * others can steal it), as tokio does: a spawn chain stays on
		 * one core instead of bouncing (bench chained_spawn) */
		weft__worker_schedule(t, false);
		return 0;
	}
	/* A foreign spawn takes no lock: the task goes to the injector
	 * unlinked and the worker that first runs it adopts it. Shutdown
	 * waits for foreign_inflight to reach 0 after setting `shutdown`
	 * (seq_cst on both sides: either we see the flag or shutdown sees
	 * us and waits for our push), then finds the task in the injector. */
	atomic_init(&t->owner, &rt->foreign);
	t->owned_prev = t->owned_next = NULL;
	atomic_fetch_add_explicit(&rt->foreign_inflight, 1,
				  memory_order_seq_cst);
	if (atomic_load_explicit(&rt->shutdown, memory_order_seq_cst)) {
		atomic_fetch_sub_explicit(&rt->foreign_inflight, 1,
					  memory_order_release);
		weft__free(rt, mem, bytes + (obs ? rt->track_bytes : 0) +
					    (ext ? WEFT__TAIL_BYTES : 0));
		return -ESHUTDOWN;
	}
	atomic_fetch_add_explicit(&rt->foreign_spawned, 1,
				  memory_order_relaxed);
	if (join)
		*join = (weft_join *)t;
	weft__worker_schedule(t, true);
	/* release: our push before shutdown's acquire load of the count */
	atomic_fetch_sub_explicit(&rt->foreign_inflight, 1,
				  memory_order_release);
	return 0;
}

static __attribute__((noinline)) int
spawn_observed(weft_rt *rt, const weft_future_type *type, const void *init,
	       weft_join **join, const char *file, unsigned line,
	       struct weft__jw_ext *ext)
{
	return spawn(rt, type, init, join, file, line, true, ext);
}

int weft_spawn_at(weft_rt *rt, const weft_future_type *type,
		  const void *init, weft_join **join, const char *file,
		  unsigned line)
{
	return spawn(rt, type, init, join, file, line, false, NULL);
}

int weft_spawn(weft_rt *rt, const weft_future_type *type, const void *init,
	       weft_join **join)
{
	return weft_spawn_at(rt, type, init, join, NULL, 0);
}

int weft__spawn_ext(weft_rt *rt, const weft_future_type *type,
		    const void *init, struct weft__jw_ext *ext,
		    weft_join **join)
{
	return spawn(rt, type, init, join, NULL, 0, false, ext);
}
