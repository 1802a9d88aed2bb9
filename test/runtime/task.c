/* test/runtime/task.c - task state transitions seen through public
 * behaviour: join output, detach, join twice, wakers from foreign threads
 * racing with completion, waking queued / finished / running tasks.
 * A few checks read the state word (runtime/internal.h) to show that a
 * no-op wake queued nothing and took no reference; others read the join
 * waker slot (task pointer or boxed waker, counted by the allocator hook)
 * and where a frame sits in its task for its alignment.
 */
#include "test/runtime/harness.h"
#include "runtime/internal.h"

static uint64_t task_state(weft_join *j)
{
	return atomic_load(&weft__join_task(j)->state);
}

static uint64_t task_refs(weft_join *j)
{
	return task_state(j) >> WEFT__REF_SHIFT;
}

/* ------------------------------------------------------- value tasks */

/* Yields `yields` times, then returns v. */
struct value_task {
	WEFT_ASYNC;
	probe *p;
	intptr_t v;
	int yields;
	int i;
};

static weft_poll value_poll(struct value_task *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->yields; f->i++)
		WEFT_YIELD();
	WEFT_RETURN(f->v);
	WEFT_END();
}

static void value_drop(struct value_task *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(value, struct value_task, value_drop);

static void join_many(weft_rt *rt, int n)
{
	probe *p = calloc((size_t)n, sizeof(*p));
	weft_join **j = calloc((size_t)n, sizeof(*j));

	for (int i = 0; i < n; i++)
		cr_assert_eq(WEFT_SPAWN(rt, value, &j[i],
					{ .p = &p[i], .v = 3 * i,
					  .yields = i % 5 }),
			     0);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(join_on(rt, j[i]), 3 * i);
		cr_assert(weft_join_is_finished(j[i]));
		cr_assert_eq(atomic_load(&p[i].polls), i % 5 + 1);
		cr_assert_eq(atomic_load(&p[i].drops), 1);
		weft_join_drop(j[i]);
	}
	free(j);
	free(p);
}

Test(task, join_returns_output_multi_thread, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);

	join_many(rt, 500);
	weft_rt_destroy(rt);
}

Test(task, join_returns_output_current_thread, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();

	join_many(rt, 500);
	weft_rt_destroy(rt);
}

struct parent {
	WEFT_ASYNC;
	probe *p;
	weft_join *j;
	weft_join_wait w;
	weft_rt *seen_rt;
};

/* Spawns a child from inside a task (the worker's spawn path) and awaits
 * its output. */
static weft_poll parent_poll(struct parent *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->seen_rt = weft_rt_current();
	if (WEFT_SPAWN(weft_rt_current(), value, &f->j,
		       { .p = f->p, .v = 21, .yields = 3 }))
		WEFT_RETURN(-1);
	WEFT_AWAIT_INIT(weft_join_wait, &f->w, f->j);
	weft_join_drop(f->j);
	WEFT_RETURN(f->w.res < 0 ? -2 : 2 * f->w.res);
	WEFT_END();
}
WEFT_FUTURE(parent, struct parent, WEFT_NO_DROP);

static void parent_case(weft_rt *rt)
{
	probe p = { 0 };
	weft_join *j;
	struct parent init = { .p = &p };

	cr_assert_eq(weft_spawn(rt, &parent_future, &init, &j), 0);
	cr_assert_eq(join_on(rt, j), 42);
	cr_assert_eq(atomic_load(&p.polls), 4);
	cr_assert_eq(atomic_load(&p.drops), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

Test(task, task_spawns_and_joins_child_multi_thread, .timeout = RT_TIMEOUT)
{
	parent_case(rt_multi(2));
}

Test(task, task_spawns_and_joins_child_current_thread, .timeout = RT_TIMEOUT)
{
	parent_case(rt_current());
}

/* ------------------------------------------------------------ detach */

struct gated {
	WEFT_ASYNC;
	probe *p;
	gate *g;
	atomic_int *done;
};

static weft_poll gated_poll(struct gated *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT(gate_poll(f->g, cx));
	atomic_store(f->done, 1);
	WEFT_RETURN(1);
	WEFT_END();
}

static void gated_drop(struct gated *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(gated, struct gated, gated_drop);

static bool gate_has_waiter(gate *g)
{
	bool set;

	pthread_mutex_lock(&g->m);
	set = weft_waker_is_set(&g->w);
	pthread_mutex_unlock(&g->m);
	return set;
}

Test(task, dropping_handle_before_completion_detaches, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	gate g;

	gate_init(&g);
	cr_assert_eq(WEFT_SPAWN(rt, gated, &j,
				{ .p = &p, .g = &g, .done = &done }),
		     0);
	cr_assert(WAIT_UNTIL(gate_has_waiter(&g)));
	cr_assert_not(weft_join_is_finished(j));
	weft_join_drop(j);  /* detach: the parked task must still finish */
	gate_open(&g);
	cr_assert(WAIT_UNTIL(atomic_load(&p.drops) == 1));
	cr_assert_eq(atomic_load(&done), 1);
	cr_assert_eq(atomic_load(&p.polls), 2);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.drops), 1);
	gate_destroy(&g);
}

Test(task, dropping_handle_after_completion_frees_task, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, value, &j, { .p = &p, .v = 9 }), 0);
	cr_assert(WAIT_UNTIL(weft_join_is_finished(j)));
	cr_assert_eq(atomic_load(&p.drops), 1);
	/* the handle is the last reference: dropping it frees the task
	 * (LeakSanitizer in the ASan build) */
	cr_assert_eq(task_refs(j), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&p.polls), 1);
	cr_assert_eq(atomic_load(&p.drops), 1);
}

Test(task, detached_spawn_runs_to_completion, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p[64] = { 0 };

	for (int i = 0; i < 64; i++)
		cr_assert_eq(WEFT_SPAWN(rt, value, NULL,
					{ .p = &p[i], .yields = 2 }),
			     0);
	for (int i = 0; i < 64; i++) {
		cr_assert(WAIT_UNTIL(atomic_load(&p[i].drops) == 1));
		cr_assert_eq(atomic_load(&p[i].polls), 3);
	}
	weft_rt_destroy(rt);
}

/* ------------------------------------------------------- join twice */

Test(task, second_join_after_ready_reports_einval, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	weft_join *j;
	weft_join_wait w;
	tcx k;

	cr_assert_eq(WEFT_SPAWN(rt, value, &j, { .p = &p, .v = 77 }), 0);
	cr_assert_eq(join_on(rt, j), 77);
	weft_join_wait_init(&w, j);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(w.res, -EINVAL,
		     "a second READY must not hand the output again");
	cr_assert_eq(atomic_load(&k.t.live), 0, "no waker kept");
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

Test(task, join_wait_with_null_handle_reports_einval)
{
	weft_join_wait w;
	tcx k;

	weft_join_wait_init(&w, NULL);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k)), WEFT_READY);
	cr_assert_eq(w.res, -EINVAL);
	weft_join_wait_drop(&w);
	cr_assert_not(weft_join_is_finished(NULL));
	weft_join_abort(NULL);
	weft_join_drop(NULL);
}

Test(task, join_waker_replaced_by_a_new_joiner, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	weft_join_wait w;
	tcx a, b;
	gate g;

	gate_init(&g);
	cr_assert_eq(WEFT_SPAWN(rt, gated, &j,
				{ .p = &p, .g = &g, .done = &done }),
		     0);
	cr_assert(WAIT_UNTIL(gate_has_waiter(&g)));
	/* joiner a registers, then joiner b takes over: only b is woken */
	weft_join_wait_init(&w, j);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&a)), WEFT_PENDING);
	cr_assert_eq(atomic_load(&a.t.live), 1);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&b)), WEFT_PENDING);
	cr_assert_eq(atomic_load(&a.t.live), 0, "old join waker dropped");
	cr_assert_eq(atomic_load(&b.t.live), 1);
	gate_open(&g);
	cr_assert(WAIT_UNTIL(atomic_load(&b.t.wakes) == 1));
	cr_assert_eq(atomic_load(&a.t.wakes), 0);
	cr_assert_eq(weft_join_wait_poll(&w, &b.cx), WEFT_READY);
	cr_assert_eq(w.res, 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&b.t.live), 0, "join waker released");
	gate_destroy(&g);
}

/* ------------------------------------------------- join waker slot */

/* The slot is one word: a joining task's pointer tagged WEFT__JW_TASK (no
 * allocation), or a box from the runtime's allocator holding any other
 * waker (runtime/join.c). The allocator hook counts the boxes. */

static uintptr_t join_slot(weft_join *j)
{
	return weft__join_task(j)->join_waker;
}

static bool has_join_waker(weft_join *j)
{
	return task_state(j) & WEFT__JOIN_WAKER;
}

/* Spawns a gated task (allocation 1 of the hook) and waits until it is
 * parked on the gate. */
static weft_join *spawn_gated(weft_rt *rt, probe *p, gate *g,
			      atomic_int *done)
{
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, gated, &j,
				{ .p = p, .g = g, .done = done }),
		     0);
	cr_assert(WAIT_UNTIL(gate_has_waiter(g)));
	return j;
}

/* A task that spawns a gated child and awaits it, publishing the child's
 * handle for the test. */
struct task_joiner {
	WEFT_ASYNC;
	probe *p;
	gate *g;
	atomic_int *done;
	_Atomic(weft_join *) *child;
	weft_join *j;
	weft_join_wait w;
};

static weft_poll task_joiner_poll(struct task_joiner *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_SPAWN(weft_rt_current(), gated, &f->j,
		       { .p = f->p, .g = f->g, .done = f->done }))
		WEFT_RETURN(-1);
	atomic_store(f->child, f->j);
	WEFT_AWAIT_INIT(weft_join_wait, &f->w, f->j);
	weft_join_drop(f->j);
	WEFT_RETURN(f->w.res < 0 ? -2 : 10 * f->w.res);
	WEFT_END();
}
WEFT_FUTURE(task_joiner, struct task_joiner, WEFT_NO_DROP);

Test(task, join_from_a_task_keeps_the_task_pointer_without_allocating,
     .timeout = RT_TIMEOUT)
{
	calloc_hook h = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	_Atomic(weft_join *) child = NULL;
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j, *c;
	intptr_t out = 0;
	gate g;

	gate_init(&g);
	cr_assert_eq(WEFT_SPAWN(rt, task_joiner, &j,
				{ .p = &p, .g = &g, .done = &done,
				  .child = &child }),
		     0);
	cr_assert(WAIT_UNTIL((c = atomic_load(&child)) && has_join_waker(c)));
	/* JOIN_WAKER seen (acquire): the slot is written and stays as it is
	 * until the joiner polls again, which needs the gate */
	cr_assert_eq(join_slot(c),
		     (uintptr_t)weft__join_task(j) | WEFT__JW_TASK);
	cr_assert_eq(atomic_load(&h.calls), 2, "parent and child only");
	gate_open(&g);
	cr_assert(WAIT_UNTIL(weft_join_is_finished(j)));
	out = join_on(rt, j);
	cr_assert_eq(out, 10);
	cr_assert_eq(atomic_load(&h.calls), 2, "no box at any point");
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&h.live), 0);
	cr_assert_eq(atomic_load(&p.drops), 1);
	gate_destroy(&g);
	rt_leak_check();
}

struct open_when_joined {
	weft_join *j;
	gate *g;
	calloc_hook *h;
	long live_seen;
	bool boxed;
};

/* Opens the gate once a joiner's waker is in the slot, noting what the
 * slot and the allocator hold then. */
static void *open_when_joined_thread(void *arg)
{
	struct open_when_joined *o = arg;

	if (WAIT_UNTIL(has_join_waker(o->j))) {
		o->live_seen = atomic_load(&o->h->live);
		o->boxed = join_slot(o->j) &&
			   !(join_slot(o->j) & WEFT__JW_TASK);
	}
	gate_open(o->g);
	return NULL;
}

static void block_on_join_case(bool current)
{
	calloc_hook h = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(current ? 0 : 2, current, &a);
	probe p = { 0 };
	atomic_int done = 0;
	struct open_when_joined o = { .h = &h };
	weft_join *j;
	intptr_t out = 0;
	pthread_t th;
	gate g;

	gate_init(&g);
	cr_assert_eq(WEFT_SPAWN(rt, gated, &j,
				{ .p = &p, .g = &g, .done = &done }),
		     0);
	o.j = j;
	o.g = &g;
	cr_assert_eq(pthread_create(&th, NULL, open_when_joined_thread, &o),
		     0);
	out = join_on(rt, j);
	pthread_join(th, NULL);
	cr_assert_eq(out, 1);
	cr_assert(o.boxed, "block_on's waker is boxed");
	cr_assert_eq(o.live_seen, 2, "the task and the box");
	/* the box stays with the finished task until it is freed */
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&h.live), 0, "box freed with the task");
	cr_assert_eq(atomic_load(&h.live_bytes), 0);
	gate_destroy(&g);
	rt_leak_check();
}

Test(task, join_from_block_on_boxes_the_waker_multi_thread,
     .timeout = RT_TIMEOUT)
{
	block_on_join_case(false);
}

Test(task, join_from_block_on_boxes_the_waker_current_thread,
     .timeout = RT_TIMEOUT)
{
	block_on_join_case(true);
}

Test(task, join_box_allocation_failure_wakes_the_joiner_at_once,
     .timeout = RT_TIMEOUT)
{
	calloc_hook h = { .fail_at = 2 };  /* the task is allocation 1 */
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	weft_join_wait w;
	gate g;
	tcx k;

	gate_init(&g);
	j = spawn_gated(rt, &p, &g, &done);
	weft_join_wait_init(&w, j);
	tcx_init(&k);
	/* no box: nothing kept, the joiner is woken to poll again */
	cr_assert_eq(weft_join_wait_poll(&w, &k.cx), WEFT_PENDING);
	cr_assert_eq(atomic_load(&h.calls), 2);
	cr_assert_eq(atomic_load(&k.t.wakes), 1, "woken at once");
	cr_assert_eq(atomic_load(&k.t.live), 0, "no clone kept");
	cr_assert_not(has_join_waker(j));
	/* the re-poll gets its box and waits for the task */
	cr_assert_eq(weft_join_wait_poll(&w, &k.cx), WEFT_PENDING);
	cr_assert_eq(atomic_load(&k.t.wakes), 1);
	cr_assert_eq(atomic_load(&k.t.live), 1);
	cr_assert(has_join_waker(j));
	gate_open(&g);
	cr_assert(WAIT_UNTIL(atomic_load(&k.t.wakes) == 2));
	cr_assert_eq(weft_join_wait_poll(&w, &k.cx), WEFT_READY);
	cr_assert_eq(w.res, 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&k.t.live), 0);
	cr_assert_eq(atomic_load(&h.live), 0);
	gate_destroy(&g);
	rt_leak_check();
}

Test(task, join_repolled_with_another_waker_frees_the_old_box,
     .timeout = RT_TIMEOUT)
{
	calloc_hook h = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	weft_join_wait w;
	uintptr_t first;
	gate g;
	tcx k1, k2;

	gate_init(&g);
	j = spawn_gated(rt, &p, &g, &done);
	weft_join_wait_init(&w, j);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k1)), WEFT_PENDING);
	first = join_slot(j);
	cr_assert_eq(atomic_load(&h.live), 2, "the task and one box");
	/* the same waker again: kept as it is, no allocation */
	cr_assert_eq(weft_join_wait_poll(&w, &k1.cx), WEFT_PENDING);
	cr_assert_eq(atomic_load(&h.calls), 2);
	cr_assert_eq(join_slot(j), first);
	/* another waker: the old clone dropped, its box freed */
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k2)), WEFT_PENDING);
	cr_assert_eq(atomic_load(&k1.t.live), 0);
	cr_assert_eq(atomic_load(&k2.t.live), 1);
	cr_assert_eq(atomic_load(&h.calls), 3);
	cr_assert_eq(atomic_load(&h.live), 2, "old box freed");
	gate_open(&g);
	cr_assert(WAIT_UNTIL(atomic_load(&k2.t.wakes) == 1));
	cr_assert_eq(atomic_load(&k1.t.wakes), 0);
	cr_assert_eq(weft_join_wait_poll(&w, &k2.cx), WEFT_READY);
	cr_assert_eq(w.res, 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&k2.t.live), 0);
	cr_assert_eq(atomic_load(&h.live), 0);
	gate_destroy(&g);
	rt_leak_check();
}

Test(task, dropping_a_handle_with_a_boxed_waker_frees_the_box,
     .timeout = RT_TIMEOUT)
{
	calloc_hook h = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	weft_join_wait w;
	gate g;
	tcx k;

	gate_init(&g);
	j = spawn_gated(rt, &p, &g, &done);
	weft_join_wait_init(&w, j);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k)), WEFT_PENDING);
	cr_assert_eq(atomic_load(&h.live), 2);
	weft_join_drop(j);  /* detaches; the waker goes with the handle */
	cr_assert_eq(atomic_load(&k.t.live), 0);
	cr_assert_eq(atomic_load(&h.live), 1, "box freed, task still live");
	gate_open(&g);
	cr_assert(WAIT_UNTIL(atomic_load(&p.drops) == 1));
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&k.t.wakes), 0, "a dropped joiner is not woken");
	cr_assert_eq(atomic_load(&h.live), 0);
	cr_assert_eq(atomic_load(&h.live_bytes), 0);
	gate_destroy(&g);
	rt_leak_check();
}

Test(task, shutdown_wakes_a_boxed_joiner_and_frees_the_box,
     .timeout = RT_TIMEOUT)
{
	calloc_hook h = { 0 };
	weft_allocator a = { hook_alloc, hook_free, &h };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	weft_join_wait w;
	gate g;
	tcx k;

	gate_init(&g);
	j = spawn_gated(rt, &p, &g, &done);
	weft_join_wait_init(&w, j);
	cr_assert_eq(weft_join_wait_poll(&w, tcx_init(&k)), WEFT_PENDING);
	weft_rt_shutdown(rt);
	cr_assert_eq(atomic_load(&k.t.wakes), 1);
	cr_assert_eq(weft_join_wait_poll(&w, &k.cx), WEFT_READY);
	cr_assert_eq(w.res, -ECANCELED);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	/* the gate holds the cancelled task's last reference: the box (and
	 * the clone in it) goes with the task */
	cr_assert_eq(atomic_load(&k.t.live), 1);
	gate_destroy(&g);
	cr_assert_eq(atomic_load(&k.t.live), 0);
	cr_assert_eq(atomic_load(&h.live), 0);
	rt_leak_check();
}

/* ---------------------------------------------------- frame placement */

/* A frame aligned to at most 8 starts right after the 56-byte header, 56
 * bytes into the allocation; any other has 8 bytes of padding in front of
 * the header and starts 64 bytes in, 16-aligned (runtime/internal.h).
 * Each poll notes where its frame is. */

struct placed {
	atomic_uintptr_t frame;
	atomic_int misaligned;
};

struct narrow {                   /* 16 + 8 + 32: 56, idle_memory's size */
	WEFT_ASYNC;
	struct placed *r;
	char body[32];
};

struct wide {                     /* 16-aligned members, 48 bytes */
	WEFT_ASYNC;
	long double x;
	_Alignas(16) unsigned char v[8];
	struct placed *r;
};

_Static_assert(sizeof(struct narrow) == 56 && _Alignof(struct narrow) == 8,
	       "an idle_memory-sized, 8-aligned frame");
_Static_assert(_Alignof(struct wide) == 16 && sizeof(struct wide) == 48,
	       "a 16-aligned frame");

static weft_poll narrow_poll(struct narrow *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	atomic_store(&f->r->frame, (uintptr_t)f);
	if ((uintptr_t)f % _Alignof(struct narrow))
		atomic_store(&f->r->misaligned, 1);
	memset(f->body, 1, sizeof(f->body));
	WEFT_RETURN(7);
	WEFT_END();
}
WEFT_FUTURE(narrow, struct narrow, WEFT_NO_DROP);

static weft_poll wide_poll(struct wide *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	atomic_store(&f->r->frame, (uintptr_t)f);
	if ((uintptr_t)f % 16 || (uintptr_t)&f->x % 16 ||
	    (uintptr_t)f->v % 16)
		atomic_store(&f->r->misaligned, 1);
	f->x = 1.5L;
	memset(f->v, 1, sizeof(f->v));
	WEFT_RETURN(9);
	WEFT_END();
}
WEFT_FUTURE(wide, struct wide, WEFT_NO_DROP);

/* A type not made by WEFT_FUTURE, with align 0: taken as 16 (the runtime
 * keeps this rule for hand-built types). It polls narrow's frames through
 * narrow's typed trampoline. */
static const weft_future_type legacy_type = {
	.poll = narrow__poll_,
	.size = sizeof(struct narrow),
	.res_off = offsetof(struct narrow, res),
	.name = "legacy",
};

/* The counting hook, noting the size of the latest allocation. */
struct sized_hook {
	calloc_hook h;
	atomic_size_t last;
};

static void *sized_alloc(size_t size, void *ctx)
{
	struct sized_hook *s = ctx;

	atomic_store(&s->last, size);
	return hook_alloc(size, &s->h);
}

static void sized_free(void *p, size_t size, void *ctx)
{
	hook_free(p, size, &((struct sized_hook *)ctx)->h);
}

/* Spawns tasks of *type one at a time and checks each: the frame `off`
 * bytes into an allocation of `bytes`, aligned to `align`, the header
 * right before it; and every byte freed with the size it was allocated
 * with (live_bytes back to 0). */
static void placement_case(const weft_future_type *type, size_t r_off,
			   size_t off, size_t bytes, size_t align,
			   intptr_t want)
{
	struct sized_hook sh = { 0 };
	weft_allocator a = { sized_alloc, sized_free, &sh };
	weft_rt *rt = rt_with_alloc(2, false, &a);
	calloc_hook *h = &sh.h;

	for (int i = 0; i < 64; i++) {
		struct placed r, *rp = &r;
		/* a zeroed frame (resume NULL) with its struct placed * at
		 * r_off */
		_Alignas(16) unsigned char init[128] = { 0 };
		uintptr_t t, frame;
		weft_join *j;
		intptr_t out = 0;

		atomic_init(&r.frame, 0);
		atomic_init(&r.misaligned, 0);
		memcpy(init + r_off, &rp, sizeof(rp));
		cr_assert_eq(weft_spawn(rt, type, init, &j), 0);
		cr_assert_eq(atomic_load(&sh.last), bytes);
		t = (uintptr_t)weft__join_task(j);
		/* finished before the join: no waker box */
		cr_assert(WAIT_UNTIL(weft_join_is_finished(j)));
		out = join_on(rt, j);
		cr_assert_eq(out, want);
		frame = atomic_load(&r.frame);
		cr_assert_eq(atomic_load(&r.misaligned), 0);
		cr_assert_eq(frame % align, 0, "frame %#lx", (unsigned long)frame);
		cr_assert_eq(frame, t + sizeof(struct weft__task));
		/* the allocation (malloc's, so 16-aligned) starts off before */
		cr_assert_eq((frame - off) % 16, 0);
		weft_join_drop(j);
	}
	weft_rt_destroy(rt);
	cr_assert_eq(atomic_load(&h->calls), 64, "no waker boxes");
	cr_assert_eq(atomic_load(&h->live), 0);
	cr_assert_eq(atomic_load(&h->live_bytes), 0);
	rt_leak_check();
}

Test(task, eight_aligned_frame_follows_the_header_in_112_bytes,
     .timeout = RT_TIMEOUT)
{
	placement_case(&narrow_future, offsetof(struct narrow, r), 56, 112, 8,
		       7);
}

Test(task, sixteen_aligned_frame_starts_64_bytes_in, .timeout = RT_TIMEOUT)
{
	placement_case(&wide_future, offsetof(struct wide, r), 64, 112, 16, 9);
}

Test(task, type_without_align_gets_a_16_aligned_frame, .timeout = RT_TIMEOUT)
{
	placement_case(&legacy_type, offsetof(struct narrow, r), 64, 128, 16,
		       7);
}

Test(task, weft_spawn_macro_records_the_frame_alignment)
{
	/* the static type WEFT_FUTURE makes carries _Alignof(frame) */
	weft_rt *rt = rt_current();
	const weft_future_type *type;
	weft_join *j;

	cr_assert_eq(WEFT_SPAWN(rt, wide, &j, { .r = NULL }), 0);
	type = weft__join_task(j)->type;
	cr_assert_eq(type, &wide_future);
	cr_assert_eq(type->size, sizeof(struct wide));
	cr_assert_eq(type->res_off, offsetof(struct wide, res));
	cr_assert_eq(type->align, _Alignof(struct wide));
	/* current-thread: it has not run; cancel it unpolled */
	weft_join_abort(j);
	cr_assert_eq(join_on(rt, j), -ECANCELED);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

/* ---------------------------------- wakers from foreign threads racing */

struct racer_rec {
	weft_waker w;       /* the clone handed to the thread */
	pthread_t th;
	atomic_int polls;
	atomic_int drops;
	int ready_at;       /* poll number that returns READY */
};

static void *racer_thread(void *arg)
{
	struct racer_rec *r = arg;

	for (int k = 0; k < 200; k++) {
		weft_waker c;

		weft_waker_wake_by_ref(&r->w);
		c = weft_waker_clone(&r->w);
		weft_waker_wake(&c);
		if (k % 16 == 0)
			sched_yield();
	}
	weft_waker_drop(&r->w);  /* may be the task's last reference */
	return NULL;
}

struct racer {
	WEFT_ASYNC;
	struct racer_rec *r;
};

static weft_poll racer_poll(struct racer *f, weft_cx *cx)
{
	int n = atomic_fetch_add(&f->r->polls, 1) + 1;

	if (n == 1) {
		f->r->w = weft_waker_clone(&cx->waker);
		cr_assert_eq(pthread_create(&f->r->th, NULL, racer_thread,
					    f->r), 0);
	}
	if (n >= f->r->ready_at)
		return WEFT_READY;
	return WEFT_PENDING;  /* the thread's wakes will come */
}

static void racer_drop(struct racer *f)
{
	atomic_fetch_add(&f->r->drops, 1);
}
WEFT_FUTURE(racer, struct racer, racer_drop);

static void race_wakers(int ready_at, bool keep_handle)
{
	weft_rt *rt = rt_multi(2);
	enum { ROUNDS = 20, PER = 10 };
	struct racer_rec *recs = calloc(ROUNDS * PER, sizeof(*recs));

	for (int r = 0; r < ROUNDS; r++) {
		weft_join *j[PER] = { 0 };

		for (int i = 0; i < PER; i++) {
			struct racer_rec *rec = &recs[r * PER + i];
			weft_join **jp = keep_handle ? &j[i] : NULL;

			rec->ready_at = ready_at;
			cr_assert_eq(WEFT_SPAWN(rt, racer, jp, { .r = rec }), 0);
		}
		for (int i = 0; i < PER; i++) {
			struct racer_rec *rec = &recs[r * PER + i];

			if (keep_handle) {
				cr_assert_eq(join_on(rt, j[i]), 0);
				weft_join_drop(j[i]);
			}
			cr_assert(WAIT_UNTIL(atomic_load(&rec->drops) == 1));
			pthread_join(rec->th, NULL);
		}
	}
	weft_rt_destroy(rt);
	for (int i = 0; i < ROUNDS * PER; i++) {
		cr_assert_eq(atomic_load(&recs[i].polls), ready_at,
			     "task %d polled %d times", i,
			     atomic_load(&recs[i].polls));
		cr_assert_eq(atomic_load(&recs[i].drops), 1);
	}
	free(recs);
}

Test(task, foreign_wakes_racing_first_poll_completion, .timeout = RT_TIMEOUT)
{
	race_wakers(1, true);
}

Test(task, foreign_wakes_racing_second_poll_completion, .timeout = RT_TIMEOUT)
{
	race_wakers(2, true);
}

Test(task, foreign_wakes_racing_completion_of_detached_task,
     .timeout = RT_TIMEOUT)
{
	race_wakers(2, false);
}

/* ---------------------------- waking queued, finished, running tasks */

struct sleeper {
	WEFT_ASYNC;
	probe *p;
	weft_waker *slot;
};

/* First poll: hands a waker clone to *slot and parks. Second: READY 5. */
static weft_poll sleeper_poll(struct sleeper *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	*f->slot = weft_waker_clone(&cx->waker);
	PARK();
	WEFT_RETURN(5);
	WEFT_END();
}

static void sleeper_drop(struct sleeper *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(sleeper, struct sleeper, sleeper_drop);

struct noop_obs {
	uint64_t refs_queued, notified_queued;
	uint64_t refs_done, notified_done;
	int polls_after_join;
	intptr_t res;
};

struct waker_noop_orch {
	WEFT_ASYNC;
	weft_rt *rt;
	probe *p;
	weft_waker slot;
	weft_join *j;
	weft_join_wait w;
	struct noop_obs *obs;
	int i;
};

static weft_poll waker_noop_poll(struct waker_noop_orch *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_SPAWN(f->rt, sleeper, &f->j,
		       { .p = f->p, .slot = &f->slot }) != 0)
		WEFT_RETURN(-1);
	while (!weft_waker_is_set(&f->slot))
		WEFT_YIELD();
	/* the sleeper is parked: the first wake queues it, the rest of these
	 * find it NOTIFIED and must do nothing (no ref, no second queueing) */
	for (f->i = 0; f->i < 100; f->i++) {
		weft_waker c = weft_waker_clone(&f->slot);

		weft_waker_wake_by_ref(&f->slot);
		weft_waker_wake(&c);
	}
	f->obs->refs_queued = task_refs(f->j);
	f->obs->notified_queued = task_state(f->j) & WEFT__NOTIFIED;
	WEFT_AWAIT_INIT(weft_join_wait, &f->w, f->j);
	f->obs->res = f->w.res;
	/* finished: wakes are no-ops */
	for (f->i = 0; f->i < 100; f->i++) {
		weft_waker c = weft_waker_clone(&f->slot);

		weft_waker_wake_by_ref(&f->slot);
		weft_waker_wake(&c);
	}
	f->obs->refs_done = task_refs(f->j);
	f->obs->notified_done = task_state(f->j) & WEFT__NOTIFIED;
	/* give a wrongly re-queued task the chance to be polled again */
	for (f->i = 0; f->i < 10; f->i++)
		WEFT_YIELD();
	f->obs->polls_after_join = atomic_load(&f->p->polls);
	weft_waker_drop(&f->slot);
	weft_join_drop(f->j);
	WEFT_RETURN(0);
	WEFT_END();
}
WEFT_FUTURE(waker_noop, struct waker_noop_orch, WEFT_NO_DROP);

Test(task, waking_queued_or_finished_task_is_noop, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_current();
	probe p = { 0 };
	struct noop_obs obs = { 0 };
	weft_join *orch;
	intptr_t out = -1;

	cr_assert_eq(WEFT_SPAWN(rt, waker_noop, &orch,
				{ .rt = rt, .p = &p, .obs = &obs }),
		     0);
	out = join_on(rt, orch);
	cr_assert_eq(out, 0);
	/* queued: handle + slot waker + queue reference, nothing more */
	cr_assert_eq(obs.refs_queued, 3);
	cr_assert_neq(obs.notified_queued, 0);
	cr_assert_eq(obs.res, 5);
	/* finished: handle + slot waker */
	cr_assert_eq(obs.refs_done, 2);
	cr_assert_eq(obs.notified_done, 0);
	cr_assert_eq(obs.polls_after_join, 2);
	cr_assert_eq(atomic_load(&p.polls), 2);
	cr_assert_eq(atomic_load(&p.drops), 1);
	weft_join_drop(orch);
	weft_rt_destroy(rt);
}

/* Wakes itself (by ref and by value) many times during its first poll,
 * then returns PENDING: it must be polled exactly once more. */
struct self_waker {
	WEFT_ASYNC;
	probe *p;
};

static weft_poll self_waker_poll(struct self_waker *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	for (int k = 0; k < 50; k++) {
		weft_waker c = weft_waker_clone(&cx->waker);

		weft_waker_wake_by_ref(&cx->waker);
		weft_waker_wake(&c);
	}
	PARK();
	WEFT_RETURN(11);
	WEFT_END();
}

static void self_waker_drop(struct self_waker *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(self_waker, struct self_waker, self_waker_drop);

static void self_wake_case(weft_rt *rt)
{
	probe p[32] = { 0 };
	weft_join *j[32];

	for (int i = 0; i < 32; i++)
		cr_assert_eq(WEFT_SPAWN(rt, self_waker, &j[i], { .p = &p[i] }),
			     0);
	for (int i = 0; i < 32; i++) {
		intptr_t out = 0;

		out = join_on(rt, j[i]);
		cr_assert_eq(out, 11);
		weft_join_drop(j[i]);
	}
	weft_rt_destroy(rt);
	for (int i = 0; i < 32; i++) {
		cr_assert_eq(atomic_load(&p[i].polls), 2);
		cr_assert_eq(atomic_load(&p[i].drops), 1);
	}
}

Test(task, self_wake_while_running_repolls_once_multi_thread,
     .timeout = RT_TIMEOUT)
{
	self_wake_case(rt_multi(2));
}

Test(task, self_wake_while_running_repolls_once_current_thread,
     .timeout = RT_TIMEOUT)
{
	self_wake_case(rt_current());
}

/* A foreign thread wakes the task many times while the task sits in its
 * first poll (it waits for the thread inside the poll). */
struct busy_rec {
	weft_waker w;
	atomic_int running;
	atomic_int thread_done;
	atomic_int polls;
	atomic_int drops;
	atomic_int guard_tripped;
};

static void *busy_waker_thread(void *arg)
{
	struct busy_rec *r = arg;

	while (!atomic_load(&r->running))
		sched_yield();
	for (int k = 0; k < 100; k++) {
		weft_waker c = weft_waker_clone(&r->w);

		weft_waker_wake_by_ref(&r->w);
		weft_waker_wake(&c);
	}
	weft_waker_drop(&r->w);
	atomic_store(&r->thread_done, 1);
	return NULL;
}

struct busy {
	WEFT_ASYNC;
	struct busy_rec *r;
};

static weft_poll busy_poll(struct busy *f, weft_cx *cx)
{
	atomic_fetch_add(&f->r->polls, 1);
	WEFT_BEGIN(f, cx);
	f->r->w = weft_waker_clone(&cx->waker);
	atomic_store(&f->r->running, 1);
	if (!WAIT_UNTIL(atomic_load(&f->r->thread_done)))
		atomic_store(&f->r->guard_tripped, 1);
	PARK();
	WEFT_RETURN(3);
	WEFT_END();
}

static void busy_drop(struct busy *f)
{
	atomic_fetch_add(&f->r->drops, 1);
}
WEFT_FUTURE(busy, struct busy, busy_drop);

Test(task, foreign_wake_while_running_repolls_once, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);

	for (int round = 0; round < 50; round++) {
		struct busy_rec r = { 0 };
		weft_join *j;
		pthread_t th;
		intptr_t out = 0;

		cr_assert_eq(pthread_create(&th, NULL, busy_waker_thread, &r),
			     0);
		cr_assert_eq(WEFT_SPAWN(rt, busy, &j, { .r = &r }), 0);
		out = join_on(rt, j);
		pthread_join(th, NULL);
		cr_assert_eq(out, 3);
		cr_assert_eq(atomic_load(&r.guard_tripped), 0);
		cr_assert_eq(atomic_load(&r.polls), 2);
		cr_assert_eq(atomic_load(&r.drops), 1);
		weft_join_drop(j);
	}
	weft_rt_destroy(rt);
}

/* ------------------------------------------- where results land */

/* A child that yields, then returns v. */
struct child {
	WEFT_ASYNC;
	intptr_t v;
};

static weft_poll child_poll(struct child *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	WEFT_RETURN(f->v);
	WEFT_END();
}
WEFT_FUTURE(child, struct child, WEFT_NO_DROP);

struct results_seen {
	intptr_t a, b;          /* the children's res */
	intptr_t parent_res;    /* the parent's res after both awaits */
};

/* Awaits two children, one through WEFT_AWAIT_FRAME and one through a
 * plain WEFT_AWAIT of its poll, and ends without WEFT_RETURN: its own res
 * (its task's output) is what it was before, whatever the children
 * returned. */
struct result_parent {
	WEFT_ASYNC;
	struct results_seen *seen;
	struct child a, b;
};

static weft_poll result_parent_poll(struct result_parent *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_FRAME(child, &f->a, { .v = 5 });
	f->b = (struct child){ .v = 6 };
	WEFT_AWAIT(child_poll(&f->b, cx));
	f->seen->a = f->a.res;
	f->seen->b = f->b.res;
	f->seen->parent_res = f->res;
	WEFT_END();
}
WEFT_FUTURE(result_parent, struct result_parent, WEFT_NO_DROP);

static void child_result_case(weft_rt *rt)
{
	struct results_seen seen = { -1, -1, -1 };
	struct result_parent bo = { .seen = &seen, .res = 77 };
	weft_join *j;

	/* a task: its output is its own res, 0 as spawned */
	cr_assert_eq(WEFT_SPAWN(rt, result_parent, &j, { .seen = &seen }), 0);
	cr_assert_eq(join_on(rt, j), 0, "a child's result reached the task");
	weft_join_drop(j);
	cr_assert_eq(seen.a, 5);
	cr_assert_eq(seen.b, 6);
	cr_assert_eq(seen.parent_res, 0);
	/* block_on: the caller's frame keeps the res it had */
	seen = (struct results_seen){ -1, -1, -1 };
	cr_assert_eq(WEFT_BLOCK_ON(rt, result_parent, &bo), 0);
	cr_assert_eq(bo.res, 77);
	cr_assert_eq(seen.parent_res, 77);
	cr_assert_eq(bo.a.res, 5);
	cr_assert_eq(bo.b.res, 6);
	weft_rt_destroy(rt);
}

Test(task, a_childs_result_lands_in_the_child_multi_thread,
     .timeout = RT_TIMEOUT)
{
	child_result_case(rt_multi(2));
}

Test(task, a_childs_result_lands_in_the_child_current_thread,
     .timeout = RT_TIMEOUT)
{
	child_result_case(rt_current());
}

/* A frame without res (WEFT_ASYNC_VOID): the join reads 0, not the word
 * after the resume pointer. */
struct quiet {
	WEFT_ASYNC_VOID;
	intptr_t not_res;       /* where res would be in a WEFT_ASYNC frame */
	probe *p;
};

static weft_poll quiet_poll(struct quiet *f, weft_cx *cx)
{
	atomic_fetch_add(&f->p->polls, 1);
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	f->not_res = 99;
	WEFT_END();
}

static void quiet_drop(struct quiet *f)
{
	atomic_fetch_add(&f->p->drops, 1);
}
WEFT_FUTURE(quiet, struct quiet, quiet_drop);

Test(task, a_void_task_joins_with_res_0, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	probe p = { 0 };
	weft_join *j;

	cr_assert_eq(quiet_future.res_off, WEFT_NO_RES);
	cr_assert_eq(WEFT_SPAWN(rt, quiet, &j, { .not_res = 42, .p = &p }), 0);
	cr_assert_eq(join_on(rt, j), 0);
	cr_assert_eq(atomic_load(&p.polls), 2);
	cr_assert_eq(atomic_load(&p.drops), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
}

/* ------------------------------------------------ debug-build checks */

#ifndef NDEBUG
/* A second drop of a handle while its task lives aborts (library built
 * without NDEBUG, as these tests are). */
Test(task, dropping_a_handle_twice_aborts_while_the_task_runs,
     .signal = SIGABRT, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(1);
	probe p = { 0 };
	atomic_int done = 0;
	weft_join *j;
	gate g;

	gate_init(&g);
	j = spawn_gated(rt, &p, &g, &done);
	weft_join_drop(j);
	weft_join_drop(j);      /* the gated task still holds a reference */
	cr_assert_fail("second weft_join_drop returned");
}

Test(task, dropping_a_handle_twice_aborts_after_completion,
     .signal = SIGABRT, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(1);
	probe p = { 0 };
	weft_waker slot = WEFT_WAKER_NONE;
	weft_join *j;

	/* the sleeper's waker, held here, keeps the finished task alive */
	cr_assert_eq(WEFT_SPAWN(rt, sleeper, &j, { .p = &p, .slot = &slot }),
		     0);
	cr_assert(WAIT_UNTIL(atomic_load(&p.polls) == 1 &&
			     !(task_state(j) & WEFT__RUNNING)));
	weft_waker_wake_by_ref(&slot);
	cr_assert_eq(join_on(rt, j), 5);
	weft_join_drop(j);
	weft_join_drop(j);
	cr_assert_fail("second weft_join_drop returned");
}
#endif
