/* runtime/group.c - task ids, abort handles, the JoinSet and the
 * TaskTracker (weft/group.h).
 *
 * Completion notification. A JoinSet member and a tracked task are spawned
 * with a join handle, and the group installs in the task's join waker slot
 * a weft__jw_ext (internal.h, tag WEFT__JW_EXT) instead of a waker: when
 * the task completes (task_complete, or shutdown's cancel path), the task
 * side calls ext->notify(ext, task) exactly once, after COMPLETE is set
 * and the output written. For a JoinSet the ext is the set itself,
 * installed at spawn (weft__spawn_ext), and notify pushes the member's
 * record (the TAIL of its task's allocation) on the set's ready stack
 * (one CAS) and wakes the set's one waiter if it waits; for a tracker the
 * ext is the tracker itself, which counts the task out and drops its join
 * handle. No allocation besides the task's, no polling of members.
 *
 * Taking the slot back (destroy) races with completion: weft__join_take_ext
 * clears JOIN_WAKER unless the task is COMPLETE; when it fails the notify
 * is under way (or done), so the record is left for notify to free (the
 * set is marked closing and freed by whoever removes its last record).
 * (The tracker decides under its mutex; the JoinSet: weft_joinset_destroy.)
 *
 * Task ids (docs/architecture.md, "Task ids"): the header has no room (56
 * bytes), so an id is made on demand from the runtime's counter and kept
 * in a per-runtime table keyed by the task's address, marked by the state
 * bit HAS_ID; freeing the task removes the entry. A JoinSet keeps its
 * members' ids in their records and touches the table only for a member
 * spawned with a name.
 *
 * Task names (weft_spawn_named) live in the same entry: a name makes the
 * entry (and the id) at spawn, just after the task is scheduled. Names
 * are strings of static storage, never copied, so a pointer to one read
 * under id_lock stays good after the lock (and after the task).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/task.h"
#include "weft/group.h"

/* ------------------------------------------------------------- task ids */

struct weft__id_node {
	struct weft__id_node *next;
	const struct weft__task *t;
	uint64_t id;
	const char *name;               /* weft_spawn_named's, or NULL */
};

uint64_t weft__rt_new_id(weft_rt *rt)
{
	/* relaxed: only uniqueness matters */
	return atomic_fetch_add_explicit(&rt->next_id, 1,
					 memory_order_relaxed);
}

static size_t id_hash(const struct weft__task *t, size_t nb)
{
	uint64_t x = (uint64_t)(uintptr_t)t;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (size_t)(x & (nb - 1));
}

/* Doubles the table (or makes the first one); rt->id_lock held. */
static bool id_grow(weft_rt *rt)
{
	size_t nb = rt->id_nbuckets ? rt->id_nbuckets * 2 : 64;
	struct weft__id_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return false;
	for (size_t i = 0; i < rt->id_nbuckets; i++) {
		struct weft__id_node *n = rt->id_buckets[i], *next;

		for (; n; n = next) {
			size_t h = id_hash(n->t, nb);

			next = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(rt->id_buckets);
	rt->id_buckets = b;
	rt->id_nbuckets = nb;
	return true;
}

/* The entry of the task at address t, or NULL; id_lock held. Only
 * compares addresses: t need not be alive. */
static struct weft__id_node *id_find_locked(weft_rt *rt, const void *t)
{
	struct weft__id_node *n;

	if (!rt->id_nbuckets)
		return NULL;
	for (n = rt->id_buckets[id_hash(t, rt->id_nbuckets)]; n; n = n->next)
		if (n->t == t)
			return n;
	return NULL;
}

/* t's entry, made (with id, or a fresh id when id is 0) if it has none,
 * from *pre when given (taken: *pre set to NULL; then the table only has
 * to exist, a failed growth is no failure); NULL when out of memory.
 * id_lock held; the caller holds a reference on t. */
static struct weft__id_node *id_get_locked(weft_rt *rt, struct weft__task *t,
					   uint64_t id,
					   struct weft__id_node **pre)
{
	struct weft__id_node *n;

	/* relaxed: HAS_ID is set and read under id_lock */
	if (atomic_load_explicit(&t->state, memory_order_relaxed) &
	    WEFT__HAS_ID)
		return id_find_locked(rt, t);
	if (rt->id_count + 1 > rt->id_nbuckets * 2 && !id_grow(rt) &&
	    (!pre || !rt->id_nbuckets))
		return NULL;
	if (pre) {
		n = *pre;
		*pre = NULL;
	} else {
		n = malloc(sizeof(*n));
	}
	if (!n)
		return NULL;
	n->t = t;
	n->id = id ? id : weft__rt_new_id(rt);
	n->name = NULL;
	n->next = rt->id_buckets[id_hash(t, rt->id_nbuckets)];
	rt->id_buckets[id_hash(t, rt->id_nbuckets)] = n;
	rt->id_count++;
	/* relaxed: the caller's reference orders this before the free that
	 * reads it (ref_dec's acq_rel, pair 3 of task.c) */
	atomic_fetch_or_explicit(&t->state, WEFT__HAS_ID,
				 memory_order_relaxed);
	return n;
}

static uint64_t task_id(struct weft__task *t)
{
	weft_rt *rt = weft__task_rt(t);
	struct weft__id_node *n;
	uint64_t id;

	pthread_mutex_lock(&rt->id_lock);
	n = id_get_locked(rt, t, 0, NULL);
	id = n ? n->id : 0;
	pthread_mutex_unlock(&rt->id_lock);
	return id;
}

/* An entry for a name, made before the spawn so that naming cannot fail
 * after it (weft_spawn's "nothing taken" on -ENOMEM): the node, and a
 * table to put it in. NULL when out of memory. */
static struct weft__id_node *name_node_new(weft_rt *rt)
{
	struct weft__id_node *n = malloc(sizeof(*n));
	bool ok;

	if (!n)
		return NULL;
	pthread_mutex_lock(&rt->id_lock);
	ok = rt->id_nbuckets || id_grow(rt);
	pthread_mutex_unlock(&rt->id_lock);
	if (!ok) {
		free(n);
		return NULL;
	}
	return n;
}

/* Gives t (referenced by the caller) its name, and its id if it has
 * none (id 0: a fresh one), in the entry pre (name_node_new; freed if t
 * has an entry already). Cannot fail. */
static void task_name_set(struct weft__task *t, const char *name,
			  uint64_t id, struct weft__id_node *pre)
{
	weft_rt *rt = weft__task_rt(t);
	struct weft__id_node *n;

	pthread_mutex_lock(&rt->id_lock);
	n = id_get_locked(rt, t, id, &pre);
	n->name = name;
	pthread_mutex_unlock(&rt->id_lock);
	free(pre);
}

static const char *task_name(const struct weft__task *t)
{
	weft_rt *rt = weft__task_rt(t);
	const char *name = NULL;
	struct weft__id_node *n;

	pthread_mutex_lock(&rt->id_lock);
	/* relaxed: as id_get_locked */
	if (atomic_load_explicit(&((struct weft__task *)(uintptr_t)t)->state,
				 memory_order_relaxed) & WEFT__HAS_ID) {
		n = id_find_locked(rt, t);
		name = n ? n->name : NULL;
	}
	pthread_mutex_unlock(&rt->id_lock);
	return name;
}

const char *weft__task_name_at(weft_rt *rt, uintptr_t task)
{
	struct weft__id_node *n;
	const char *name;

	pthread_mutex_lock(&rt->id_lock);
	n = id_find_locked(rt, (const void *)task);
	name = n ? n->name : NULL;
	pthread_mutex_unlock(&rt->id_lock);
	return name;
}

/* t's id if it has one, else 0 (never makes one): weft_rt_dump, which
 * holds t's owner lock (order: owner lock, then id_lock). */
uint64_t weft__task_id_peek(struct weft__task *t)
{
	weft_rt *rt = weft__task_rt(t);
	struct weft__id_node *n = NULL;
	uint64_t id;

	pthread_mutex_lock(&rt->id_lock);
	/* relaxed: HAS_ID is set and read under id_lock */
	if (atomic_load_explicit(&t->state, memory_order_relaxed) &
	    WEFT__HAS_ID)
		n = id_find_locked(rt, t);
	id = n ? n->id : 0;
	pthread_mutex_unlock(&rt->id_lock);
	return id;
}

const char *weft__task_name_peek(struct weft__task *t)
{
	return task_name(t);
}

void weft__task_id_forget(weft_rt *rt, struct weft__task *t)
{
	struct weft__id_node **p, *n = NULL;

	pthread_mutex_lock(&rt->id_lock);
	for (p = &rt->id_buckets[id_hash(t, rt->id_nbuckets)]; *p;
	     p = &(*p)->next)
		if ((*p)->t == t) {
			n = *p;
			*p = n->next;
			rt->id_count--;
			break;
		}
	pthread_mutex_unlock(&rt->id_lock);
	free(n);
}

void weft__ids_destroy(weft_rt *rt)
{
	for (size_t i = 0; i < rt->id_nbuckets; i++) {
		struct weft__id_node *n = rt->id_buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(rt->id_buckets);
	rt->id_buckets = NULL;
	rt->id_nbuckets = 0;
	pthread_mutex_destroy(&rt->id_lock);
}

uint64_t weft_join_id(const weft_join *j)
{
	return j ? task_id(weft__join_task(j)) : 0;
}

const char *weft_join_name(const weft_join *j)
{
	return j ? task_name(weft__join_task(j)) : NULL;
}

int weft_spawn_named(weft_rt *rt, const char *name,
		     const weft_future_type *type, const void *init,
		     weft_join **join)
{
	struct weft__id_node *pre = NULL;
	weft_join *j;
	int rc;

	if (join)
		*join = NULL;
	if (!rt || !type)
		return -EINVAL;
	if (name && !(pre = name_node_new(rt)))
		return -ENOMEM;
	rc = weft_spawn(rt, type, init, &j);
	if (rc < 0) {
		free(pre);
		return rc;
	}
	if (name)
		task_name_set(weft__join_task(j), name, 0, pre);
	if (join)
		*join = j;
	else
		weft_join_drop(j);
	return 0;
}

/* --------------------------------------------------------- abort handle */

/* An abort handle is the task pointer holding one reference. */
static struct weft__task *abort_task(const weft_abort_handle *a)
{
	return (struct weft__task *)(uintptr_t)a;
}

weft_abort_handle *weft_join_abort_handle(const weft_join *j)
{
	struct weft__task *t = weft__join_task(j);

	if (!t)
		return NULL;
	weft__task_ref_inc(t);
	return (weft_abort_handle *)t;
}

weft_abort_handle *weft_abort_handle_clone(const weft_abort_handle *a)
{
	if (!a)
		return NULL;
	weft__task_ref_inc(abort_task(a));
	return (weft_abort_handle *)(uintptr_t)a;
}

void weft_abort_handle_abort(weft_abort_handle *a)
{
	/* weft_join_abort reads only the state word: any reference will do */
	weft_join_abort((weft_join *)a);
}

bool weft_abort_handle_is_finished(const weft_abort_handle *a)
{
	return weft_join_is_finished((const weft_join *)a);
}

uint64_t weft_abort_handle_id(const weft_abort_handle *a)
{
	return a ? task_id(abort_task(a)) : 0;
}

const char *weft_abort_handle_name(const weft_abort_handle *a)
{
	return a ? task_name(abort_task(a)) : NULL;
}

void weft_abort_handle_drop(weft_abort_handle *a)
{
	if (a)
		weft__task_ref_dec(abort_task(a));
}

/* -------------------------------------------------------------- JoinSet */

/* A member's record is the TAIL of its task's allocation (weft__spawn_ext:
 * no allocation of its own, and the completing worker writes a line of
 * the task it just ran); every member's join waker slot holds the set's
 * ext, installed before the task is queued. The owner (whoever calls
 * spawn, next, abort_all, len, destroy: one at a time) keeps every
 * uncollected member in a doubly linked list and a FIFO of members it has
 * taken from the ready stack, without a lock.
 *
 * The ready stack and the waiter are one atomic word, `word`: the top
 * member's address (members are 8-aligned) and three flags:
 *   WAITING  a next is waiting: s->waker is registered (set by the owner
 *            only, with a CAS from 0: empty stack)
 *   WAKING   a notifier that cleared WAITING is moving the waker out (it
 *            clears WAKING when done; the owner does not touch the waker
 *            meanwhile, and destroy waits for it: a few instructions)
 *   CLOSED   destroy has begun: a late notifier releases its member itself
 * A notify is one CAS (push, and WAITING -> WAKING when it takes the
 * waker); with no next waiting it touches nothing of the set after it.
 * The owner takes the whole stack with one fetch_and (no ABA: nobody
 * else pops). Freeing after destroy: see weft_joinset_destroy. */
#define JS_WAITING ((uintptr_t)1)
#define JS_WAKING ((uintptr_t)2)
#define JS_CLOSED ((uintptr_t)4)
#define JS_FLAGS ((uintptr_t)7)
#define JS_IDS 64                       /* ids taken from rt at a time */

struct member {
	struct weft__task *t;           /* the set's join handle (owner) */
	uint64_t id;                    /* owner */
	struct member *prev, *next;     /* owner: the list of members */
	struct member *rnext;           /* the stack, then the owner's FIFO */
};

_Static_assert(sizeof(struct member) == WEFT__TAIL_BYTES,
	       "a member is its task's TAIL record");

struct weft_joinset {
	struct weft__jw_ext ext;        /* first: every member's slot */
	weft_rt *rt;
	struct member *all;             /* owner: uncollected members */
	size_t len;                     /* owner: their number */
	struct member *fifo, *fifo_tail; /* owner: notified, taken */
	uint64_t id_next, id_end;       /* owner: ids in hand */
	/* the waiting next's: the owner's, except while WAKING */
	weft_waker waker;
	/* shared with the notifiers, one line */
	_Atomic uintptr_t word WEFT__ALIGNED;
	_Atomic int64_t late;           /* see weft_joinset_destroy */
};

/* Test hook (test/runtime/group.c): while not 0, a member's notify adds 1
 * to it and waits until destroy has closed the word, and destroy waits for
 * such a late notifier to count itself out of `late` before it counts the
 * pending in: the order in which nothing but the word orders destroy
 * before the member's free. */
atomic_int weft__joinset_test_late;

static struct member *member_of(struct weft__task *t)
{
	return weft__task_tail(t);
}

static void all_unlink(weft_joinset *s, struct member *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		s->all = m->next;
	if (m->next)
		m->next->prev = m->prev;
	s->len--;
}

/* Moves what the notifiers pushed to the FIFO, in push order; clears
 * WAITING (the waker is the owner's again unless WAKING). */
static void take_stack(weft_joinset *s)
{
	/* acquire: the pushers' writes of rnext (and their tasks' outputs,
	 * which they wrote before notifying) */
	uintptr_t w = atomic_fetch_and_explicit(&s->word, JS_WAKING,
						memory_order_acquire);
	struct member *m = (struct member *)(w & ~JS_FLAGS), *rev = NULL;
	struct member *first;

	if (!m)
		return;
	first = m;   /* the newest: it ends up last, the new tail */
	while (m) {
		struct member *n = m->rnext;

		m->rnext = rev;
		rev = m;
		m = n;
	}
	/* rev: oldest first, ending at first (rnext NULL) */
	if (s->fifo_tail)
		s->fifo_tail->rnext = rev;
	else
		s->fifo = rev;
	s->fifo_tail = first;
}

/* Spins while a notifier moves the waker out (WAKING): a few
 * instructions, unless its thread was preempted there. */
static void wait_waking(weft_joinset *s)
{
	unsigned k = 0;

	/* acquire: the notifier's reads of the waker before our writes */
	while (atomic_load_explicit(&s->word, memory_order_acquire) &
	       JS_WAKING) {
		if (++k < 64)
			weft__cpu_relax();
		else
			sched_yield();
	}
}

static void set_free(weft_joinset *s)
{
	weft_waker_drop(&s->waker);
	free(s);
}

/* Drops the set's join handle of a member (its record goes with the
 * task's memory). */
static void member_release(struct member *m)
{
	weft_join_drop((weft_join *)m->t);
}

/* The task side: t, a member of the set e, has completed (runs once). */
static void member_notify(struct weft__jw_ext *e, struct weft__task *t)
{
	weft_joinset *s = (weft_joinset *)e;
	struct member *m = member_of(t);
	uintptr_t old, nw;
	weft_waker w;

	if (atomic_load_explicit(&weft__joinset_test_late,
				 memory_order_relaxed)) {
		/* relaxed, all of the hook: it must order nothing itself */
		atomic_fetch_add_explicit(&weft__joinset_test_late, 1,
					  memory_order_relaxed);
		while (!(atomic_load_explicit(&s->word, memory_order_relaxed) &
			 JS_CLOSED))
			weft__cpu_relax();
	}
	old = atomic_load_explicit(&s->word, memory_order_relaxed);
	do {
		if (old & JS_CLOSED) {
			/* acquire: pairs with destroy's CAS that closed the
			 * word: its reads of our record and task (the abort,
			 * the take) happen before the drop below frees them
			 * (late may order nothing: we can come first) */
			(void)atomic_load_explicit(&s->word,
						   memory_order_acquire);
			/* destroy counted us in `late`; the task side still
			 * holds its reference, so t lives through the drop */
			weft_join_drop((weft_join *)t);
			/* acq_rel: our last use of the set before its free */
			if (atomic_fetch_sub_explicit(&s->late, 1,
						      memory_order_acq_rel) ==
			    1)
				set_free(s);
			return;
		}
		m->rnext = (struct member *)(old & ~JS_FLAGS);
		nw = (uintptr_t)m | (old & JS_WAKING) |
		     ((old & JS_WAITING) ? JS_WAKING : 0);
		/* release: rnext and the output; acquire: the waker the
		 * owner registered before setting WAITING */
	} while (!atomic_compare_exchange_weak_explicit(
		&s->word, &old, nw, memory_order_acq_rel,
		memory_order_relaxed));
	if (!(old & JS_WAITING))
		return;
	w = s->waker;
	s->waker = WEFT_WAKER_NONE;
	/* release: our use of the waker before the owner's next */
	atomic_fetch_and_explicit(&s->word, ~JS_WAKING, memory_order_release);
	weft_waker_wake(&w);
}

int weft_joinset_create(weft_joinset **out, weft_rt *rt)
{
	weft_joinset *s;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!rt)
		rt = weft_rt_current();
	if (!rt)
		return -EINVAL;
	s = aligned_alloc(WEFT__CACHELINE,
			  (sizeof(*s) + WEFT__CACHELINE - 1) &
				  ~(size_t)(WEFT__CACHELINE - 1));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->ext.notify = member_notify;
	s->rt = rt;
	s->waker = WEFT_WAKER_NONE;
	atomic_init(&s->word, 0);
	atomic_init(&s->late, 0);
	*out = s;
	return 0;
}

static int joinset_spawn(weft_joinset *s, const char *name,
			 const weft_future_type *type, const void *init);

int weft_joinset_spawn(weft_joinset *s, const weft_future_type *type,
		       const void *init)
{
	return joinset_spawn(s, NULL, type, init);
}

int weft_joinset_spawn_named(weft_joinset *s, const char *name,
			     const weft_future_type *type, const void *init)
{
	return joinset_spawn(s, name, type, init);
}

static int joinset_spawn(weft_joinset *s, const char *name,
			 const weft_future_type *type, const void *init)
{
	struct weft__id_node *pre = NULL;
	struct weft__task *t;
	struct member *m;
	weft_join *j;
	int rc;

	if (!s || !type)
		return -EINVAL;
	if (name && !(pre = name_node_new(s->rt)))
		return -ENOMEM;
	rc = weft__spawn_ext(s->rt, type, init, &s->ext, &j);
	if (rc < 0) {
		free(pre);
		return rc;
	}
	/* the task may be running (and notifying) already: it writes only
	 * m->rnext, we write the other fields */
	t = weft__join_task(j);
	m = member_of(t);
	m->t = t;
	if (s->id_next == s->id_end) {
		/* relaxed: only uniqueness matters (as weft__rt_new_id) */
		s->id_next = atomic_fetch_add_explicit(&s->rt->next_id, JS_IDS,
						       memory_order_relaxed);
		s->id_end = s->id_next + JS_IDS;
	}
	m->id = s->id_next++;
	if (name)
		task_name_set(t, name, m->id, pre);
	m->prev = NULL;
	m->next = s->all;
	if (s->all)
		s->all->prev = m;
	s->all = m;
	s->len++;
	return 0;
}

void weft_joinset_abort_all(weft_joinset *s)
{
	if (!s)
		return;
	for (struct member *m = s->all; m; m = m->next)
		weft_join_abort((weft_join *)m->t);
}

size_t weft_joinset_len(const weft_joinset *s)
{
	return s ? s->len : 0;
}

/* Freeing. Each member's record lives as long as the set's join handle of
 * it. destroy releases the members it took from the stack, and those
 * whose slot it takes back (no notify will come); the rest have been
 * notified, or are being: `pending` counts them. Closing the word (CLOSED)
 * hands destroy the members pushed so far (pending goes down by each);
 * a notifier that comes after finds CLOSED, releases its own member and
 * subtracts 1 from `late`, to which destroy adds what is still pending:
 * whoever brings `late` to 0 frees the set (acq_rel on both sides). */
void weft_joinset_destroy(weft_joinset *s)
{
	struct member *m, *next;
	int64_t pending = 0;
	uintptr_t old;

	if (!s)
		return;
	/* members already taken by the owner: ours */
	for (m = s->fifo; m; m = next) {
		next = m->rnext;
		all_unlink(s, m);
		member_release(m);
	}
	s->fifo = s->fifo_tail = NULL;
	for (m = s->all; m; m = next) {
		next = m->next;
		weft_join_abort((weft_join *)m->t);
		if (weft__join_take_ext(m->t))
			member_release(m);   /* no notify will come */
		else
			pending++;           /* notified or being notified */
	}
	s->all = NULL;
	old = atomic_load_explicit(&s->word, memory_order_relaxed);
	/* acquire: the pushers' rnext; release: our uses of the set before
	 * a late notifier's free */
	while (!atomic_compare_exchange_weak_explicit(
		&s->word, &old, JS_CLOSED | (old & JS_WAKING),
		memory_order_acq_rel, memory_order_relaxed))
		;
	for (m = (struct member *)(old & ~JS_FLAGS); m; m = next) {
		next = m->rnext;
		member_release(m);
		pending--;
	}
	if (pending > 0 && atomic_load_explicit(&weft__joinset_test_late,
						memory_order_relaxed))
		/* the test hook: a late notifier goes first */
		while (atomic_load_explicit(&s->late, memory_order_relaxed) >=
		       0)
			weft__cpu_relax();
	wait_waking(s);
	if (pending == 0 ||
	    atomic_fetch_add_explicit(&s->late, pending,
				      memory_order_acq_rel) + pending == 0)
		set_free(s);
}

void weft_joinset_next_init(weft_joinset_next *n, weft_joinset *set)
{
	n->set = set;
	n->id = 0;
	n->res = 0;
}

weft_poll weft_joinset_next_poll(weft_joinset_next *n, weft_cx *cx)
{
	weft_joinset *s = n->set;
	struct member *m;
	uintptr_t empty = 0;
	uint64_t st;
	intptr_t v;

	n->id = 0;
	if (!s) {
		n->res = -EINVAL;
		return WEFT_READY;
	}
	if (!s->fifo)
		take_stack(s);
	if (!s->fifo) {
		if (!s->len) {
			n->res = -ENOENT;
			return WEFT_READY;
		}
		wait_waking(s);
		weft_waker_register(&s->waker, cx);
		/* release: the waker, for the notifier that clears WAITING;
		 * fails if a member was pushed meanwhile */
		if (atomic_compare_exchange_strong_explicit(
			    &s->word, &empty, JS_WAITING,
			    memory_order_release, memory_order_relaxed))
			return WEFT_PENDING;
		/* found one after all: the waker stays registered, unused */
		take_stack(s);
	}
	if (!weft_coop_proceed(cx))
		return WEFT_PENDING;     /* budget used: a yield is arranged */
	m = s->fifo;
	s->fifo = m->rnext;
	if (!s->fifo)
		s->fifo_tail = NULL;
	all_unlink(s, m);
	/* acquire: pair 1 of task.c (the output), also ordered by the
	 * stack's take */
	st = atomic_load_explicit(&m->t->state, memory_order_acquire);
	if (st & WEFT__CANCELLED)
		v = -ECANCELED;
	else
		memcpy(&v, weft__task_frame(m->t), sizeof(v));
	n->res = v;
	n->id = m->id;
	member_release(m);
	return WEFT_READY;
}

void weft_joinset_next_drop(weft_joinset_next *n)
{
	(void)n;
}

WEFT_FUTURE_DEFINE(weft_joinset_next, weft_joinset_next_drop);

/* ---------------------------------------------------------- TaskTracker */

struct weft_tracker {
	struct weft__jw_ext ext;        /* first: every tracked task's slot */
	weft_rt *rt;
	pthread_mutex_t mu;
	size_t live;                    /* tracked tasks not yet ended */
	bool closed;
	bool destroyed;                 /* the handle is gone: free at live 0 */
	weft__wlink waiters;            /* sentinel of weft_tracker_wait's */
};

/* Wakes and unlinks every waiter; mu held. */
static void tracker_wake_all(weft_tracker *tr)
{
	weft__wlink *l = tr->waiters.next;

	while (l != &tr->waiters) {
		weft_tracker_wait *w = (weft_tracker_wait *)(void *)(
			(char *)l - offsetof(weft_tracker_wait, link));

		l = l->next;
		w->queued = false;
		/* by value: the waiter's clone goes with the wake */
		weft_waker_wake(&w->waker);
	}
	tr->waiters.next = tr->waiters.prev = &tr->waiters;
}

static void tracker_notify(struct weft__jw_ext *e, struct weft__task *t)
{
	weft_tracker *tr = (weft_tracker *)e;
	bool free_now;

	pthread_mutex_lock(&tr->mu);
	tr->live--;
	if (tr->live == 0 && tr->closed)
		tracker_wake_all(tr);
	free_now = tr->live == 0 && tr->destroyed;
	pthread_mutex_unlock(&tr->mu);
	/* COMPLETE: the handle's reference goes; the task side still holds
	 * its own, so the task is not freed under us */
	weft_join_drop((weft_join *)t);
	if (free_now) {
		pthread_mutex_destroy(&tr->mu);
		free(tr);
	}
}

int weft_tracker_create(weft_tracker **out, weft_rt *rt)
{
	weft_tracker *tr;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!rt)
		rt = weft_rt_current();
	if (!rt)
		return -EINVAL;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->ext.notify = tracker_notify;
	tr->rt = rt;
	pthread_mutex_init(&tr->mu, NULL);
	tr->waiters.next = tr->waiters.prev = &tr->waiters;
	*out = tr;
	return 0;
}

void weft_tracker_destroy(weft_tracker *tr)
{
	bool free_now;

	if (!tr)
		return;
	pthread_mutex_lock(&tr->mu);
	WEFT_DEBUG_CHECK(tr->waiters.next == &tr->waiters,
			 "weft_tracker_destroy",
			 "a weft_tracker_wait is still waiting: drop it first");
	tr->destroyed = true;
	free_now = tr->live == 0;
	pthread_mutex_unlock(&tr->mu);
	if (free_now) {
		pthread_mutex_destroy(&tr->mu);
		free(tr);
	}
}

int weft_tracker_spawn(weft_tracker *tr, const weft_future_type *type,
		       const void *init, weft_abort_handle **abort)
{
	weft_join *j;
	bool installed;
	int rc;

	if (abort)
		*abort = NULL;
	if (!tr || !type)
		return -EINVAL;
	rc = weft_spawn(tr->rt, type, init, &j);
	if (rc < 0)
		return rc;
	if (abort)
		*abort = weft_join_abort_handle(j);
	pthread_mutex_lock(&tr->mu);
	tr->live++;
	pthread_mutex_unlock(&tr->mu);
	/* after counting it in: the notify may come at once */
	installed = weft__join_set_ext(weft__join_task(j), &tr->ext);
	if (!installed) {
		/* ended already: count it out ourselves */
		pthread_mutex_lock(&tr->mu);
		tr->live--;
		if (tr->live == 0 && tr->closed)
			tracker_wake_all(tr);
		pthread_mutex_unlock(&tr->mu);
		weft_join_drop(j);
	}
	return 0;
}

bool weft_tracker_close(weft_tracker *tr)
{
	bool was;

	if (!tr)
		return false;
	pthread_mutex_lock(&tr->mu);
	was = tr->closed;
	tr->closed = true;
	if (!was && tr->live == 0)
		tracker_wake_all(tr);
	pthread_mutex_unlock(&tr->mu);
	return !was;
}

bool weft_tracker_reopen(weft_tracker *tr)
{
	bool was;

	if (!tr)
		return false;
	pthread_mutex_lock(&tr->mu);
	was = tr->closed;
	tr->closed = false;
	pthread_mutex_unlock(&tr->mu);
	return was;
}

bool weft_tracker_is_closed(const weft_tracker *ctr)
{
	weft_tracker *tr = (weft_tracker *)(uintptr_t)ctr;
	bool c;

	if (!tr)
		return false;
	pthread_mutex_lock(&tr->mu);
	c = tr->closed;
	pthread_mutex_unlock(&tr->mu);
	return c;
}

size_t weft_tracker_len(const weft_tracker *ctr)
{
	weft_tracker *tr = (weft_tracker *)(uintptr_t)ctr;
	size_t n;

	if (!tr)
		return 0;
	pthread_mutex_lock(&tr->mu);
	n = tr->live;
	pthread_mutex_unlock(&tr->mu);
	return n;
}

void weft_tracker_wait_init(weft_tracker_wait *w, weft_tracker *tr)
{
	WEFT_DEBUG_CHECK(!w->queued, "weft_tracker_wait_init",
			 "the wait is still queued: drop it before "
			 "initialising it again");
	w->tr = tr;
	w->link.prev = w->link.next = NULL;
	w->waker = WEFT_WAKER_NONE;
	w->queued = false;
	w->res = 0;
}

weft_poll weft_tracker_wait_poll(weft_tracker_wait *w, weft_cx *cx)
{
	weft_tracker *tr = w->tr;
	weft_poll p = WEFT_READY;

	if (!tr) {
		w->res = -EINVAL;
		return WEFT_READY;
	}
	pthread_mutex_lock(&tr->mu);
	if (tr->closed && tr->live == 0) {
		if (w->queued) {
			w->link.prev->next = w->link.next;
			w->link.next->prev = w->link.prev;
			w->queued = false;
			weft_waker_drop(&w->waker);
		}
		w->res = 0;
	} else {
		weft_waker_register(&w->waker, cx);
		if (!w->queued) {
			w->link.prev = tr->waiters.prev;
			w->link.next = &tr->waiters;
			tr->waiters.prev->next = &w->link;
			tr->waiters.prev = &w->link;
			w->queued = true;
		}
		p = WEFT_PENDING;
	}
	pthread_mutex_unlock(&tr->mu);
	return p;
}

void weft_tracker_wait_drop(weft_tracker_wait *w)
{
	weft_tracker *tr = w->tr;

	if (!tr)
		return;
	pthread_mutex_lock(&tr->mu);
	if (w->queued) {
		w->link.prev->next = w->link.next;
		w->link.next->prev = w->link.prev;
		w->queued = false;
	}
	weft_waker_drop(&w->waker);
	pthread_mutex_unlock(&tr->mu);
}

WEFT_FUTURE_DEFINE(weft_tracker_wait, weft_tracker_wait_drop);
