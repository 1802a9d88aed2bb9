/* test/stream/futset.c - the dynamic future set (weft/futset.h): members'
 * results in completion order, only woken members polled again, an empty
 * set, a bounded set, push from inside a member's poll, drop functions
 * run exactly once (at retire or at destroy, members mid-wait included),
 * a push from a drop function while the set is destroyed, wakers that
 * outlive the set, a next future as a select branch, the parent woken
 * once per wait (and the task now waiting, when that changes), a wake
 * while the set is polled not lost, and members woken from other threads
 * inside a runtime, also racing the owner over many rounds (TSan), and
 * wakes made by the owning task itself: the waiting owner woken, the owner
 * and another thread waking one member, owner wakes inside the set's
 * poll, destroy with owner-woken members listed, a set handed on mid-poll
 * (TSan).
 */
#include "test/runtime/harness.h"
#include "weft/futset.h"

/* A trigger a member waits on; fired by the test (any thread). */
struct trig {
	pthread_mutex_t m;
	bool fired;
	weft_waker w;
};

static void trig_init(struct trig *t)
{
	pthread_mutex_init(&t->m, NULL);
	t->fired = false;
	t->w = WEFT_WAKER_NONE;
}

static void trig_fire(struct trig *t)
{
	weft_waker w;

	pthread_mutex_lock(&t->m);
	t->fired = true;
	w = t->w;
	t->w = WEFT_WAKER_NONE;
	pthread_mutex_unlock(&t->m);
	weft_waker_wake(&w);
}

static void trig_destroy(struct trig *t)
{
	weft_waker_drop(&t->w);
	pthread_mutex_destroy(&t->m);
}

/* A member: READY with res = id once its trigger fired. */
struct mem {
	WEFT_ASYNC;
	struct trig *t;
	int id;
	int *polls;   /* per-member poll counters, indexed by id */
	int *drops;
	weft_futset *push_into; /* when set: pushes into it from drop */
	void **pushed;
	struct trig *fire_on_poll; /* when set: fired at each poll (a wake
				    * that lands while the set is polled) */
};

static weft_poll mem_poll(struct mem *f, weft_cx *cx)
{
	bool fired;

	f->polls[f->id]++;
	if (f->fire_on_poll)
		trig_fire(f->fire_on_poll);
	pthread_mutex_lock(&f->t->m);
	fired = f->t->fired;
	if (!fired)
		weft_waker_register(&f->t->w, cx);
	pthread_mutex_unlock(&f->t->m);
	if (!fired)
		return WEFT_PENDING;
	f->res = f->id;
	return WEFT_READY;
}

static const weft_future_type mem_future;

static void mem_drop(struct mem *f)
{
	f->drops[f->id]++;
	/* a dropped waiter takes its waker back */
	pthread_mutex_lock(&f->t->m);
	weft_waker_drop(&f->t->w);
	pthread_mutex_unlock(&f->t->m);
	if (f->push_into)
		*f->pushed = weft_futset_push(f->push_into, &mem_future);
}

/* mem_drop refers to mem_future: declared after. */
WEFT_FUTURE(mem, struct mem, mem_drop);

enum { N = 64 };

struct fix {
	struct trig t[N];
	int polls[N];
	int drops[N];
	weft_futset set;
	tcx k;
	weft_cx *cx;
};

static void fix_init(struct fix *x, size_t cap)
{
	memset(x, 0, sizeof(*x));
	for (int i = 0; i < N; i++)
		trig_init(&x->t[i]);
	cr_assert_eq(WEFT_FUTSET_INIT(&x->set, mem, cap), 0);
	x->cx = tcx_init(&x->k);
}

static struct mem *fix_push(struct fix *x, int id)
{
	struct mem *m = WEFT_FUTSET_PUSH_INIT(&x->set, mem,
		{ .t = &x->t[id], .id = id, .polls = x->polls,
		  .drops = x->drops });

	cr_assert_not_null(m);
	cr_assert_eq(m->id, id, "the frame is the initialiser's copy");
	cr_assert_eq(m->res, 0);
	return m;
}

static void fix_fini(struct fix *x)
{
	weft_futset_destroy(&x->set);
	for (int i = 0; i < N; i++)
		trig_destroy(&x->t[i]);
	cr_assert_eq(atomic_load(&x->k.t.live), 0, "the parent waker released");
}

Test(futset, completion_order_and_only_woken_polled)
{
	struct fix x;
	weft_futset_next nx;

	fix_init(&x, 0);
	for (int i = 0; i < N; i++)
		fix_push(&x, i);
	cr_assert_eq(weft_futset_len(&x.set), N);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	for (int i = 0; i < N; i++)
		cr_assert_eq(x.polls[i], 1, "each new member polled once");
	/* nothing woken: nothing polled */
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	for (int i = 0; i < N; i++)
		cr_assert_eq(x.polls[i], 1);

	int order[] = { 17, 3, 63, 0, 40 };
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		int id = order[k];
		int wakes;

		/* the task waits on the set (a wake after READY, with no
		 * PENDING since, need not wake it: it has not waited) */
		weft_futset_next_init(&nx, &x.set);
		cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
		wakes = atomic_load(&x.k.t.wakes);
		trig_fire(&x.t[id]);
		cr_assert_eq(atomic_load(&x.k.t.wakes), wakes + 1,
			     "a member's wake wakes the waiting parent");
		weft_futset_next_init(&nx, &x.set);
		cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
		cr_assert_eq(nx.res, id);
		cr_assert_eq(((struct mem *)nx.frame)->id, id);
		for (int i = 0; i < N; i++)
			cr_assert_eq(x.polls[i], i == id ? 2 : 1,
				     "member %d polled %d times", i, x.polls[i]);
		x.polls[id] = 1;
	}
	cr_assert_eq(weft_futset_len(&x.set), N - 5);
	fix_fini(&x);
	for (int i = 0; i < N; i++)
		cr_assert_eq(x.drops[i], 1, "member %d dropped %d times", i,
			     x.drops[i]);
}

Test(futset, empty_set_and_bad_arguments)
{
	weft_futset set;
	weft_futset_next nx;
	tcx k;
	weft_cx *cx = tcx_init(&k);

	cr_assert_eq(WEFT_FUTSET_INIT(&set, mem, 0), 0);
	weft_futset_next_init(&nx, &set);
	cr_assert_eq(weft_futset_next_poll(&nx, cx), WEFT_READY);
	cr_assert_eq(nx.res, WEFT_FUTSET_EMPTY);
	cr_assert_null(nx.frame);
	weft_futset_destroy(&set);
	weft_futset_destroy(&set); /* harmless twice */
	cr_assert_eq(weft_futset_init(&set, NULL, 0), -EINVAL);
	cr_assert_null(weft_futset_push(&set, &mem_future));
	weft_futset_destroy(&set);
	cr_assert_eq(weft_futset_init(NULL, &mem_future, 0), -EINVAL);
	weft_futset_next_init(&nx, NULL);
	cr_assert_eq(weft_futset_next_poll(&nx, cx), WEFT_READY);
	cr_assert_eq(nx.res, -EINVAL);
}

Test(futset, bounded_set_refuses_past_cap_and_reuses_slots)
{
	struct fix x;
	weft_futset_next nx;

	fix_init(&x, 4);
	for (int i = 0; i < 4; i++)
		fix_push(&x, i);
	cr_assert_null(WEFT_FUTSET_PUSH(&x.set, mem), "full at cap");
	trig_fire(&x.t[2]);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
	cr_assert_eq(nx.res, 2);
	/* the slot comes back at the next call on the set */
	fix_push(&x, 5);
	cr_assert_eq(x.drops[2], 1, "retired at the next call");
	cr_assert_null(WEFT_FUTSET_PUSH(&x.set, mem));
	trig_fire(&x.t[5]);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
	cr_assert_eq(nx.res, 5);
	fix_fini(&x);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(x.drops[i], i == 4 ? 0 : 1);
}

Test(futset, many_members_grow_and_complete)
{
	enum { M = 5000 };
	struct fix x;
	weft_futset_next nx;

	fix_init(&x, 0);
	/* M members share N triggers: each fire completes M/N of them */
	int *polls = calloc(M, sizeof(int)), *drops = calloc(M, sizeof(int));
	for (int i = 0; i < M; i++) {
		struct mem *m = WEFT_FUTSET_PUSH(&x.set, mem);

		cr_assert_not_null(m);
		*m = (struct mem){ .t = &x.t[0], .id = i, .polls = polls,
				   .drops = drops };
	}
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	/* only the last poller's waker is kept by the trigger: fire it and
	 * wake every member by hand through the trigger's registered one */
	pthread_mutex_lock(&x.t[0].m);
	x.t[0].fired = true;
	pthread_mutex_unlock(&x.t[0].m);
	/* polls happen only for woken members: none is woken, so pending */
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	trig_fire(&x.t[0]); /* wakes the one member registered last */
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
	cr_assert_eq(nx.res, M - 1, "the one member woken");
	for (int i = 0; i < M; i++)
		cr_assert_eq(polls[i], i == M - 1 ? 2 : 1,
			     "member %d polled %d times", i, polls[i]);
	cr_assert_eq(weft_futset_len(&x.set), M - 1);
	weft_futset_destroy(&x.set);
	for (int i = 0; i < M; i++)
		cr_assert_eq(drops[i], 1);
	for (int i = 0; i < N; i++)
		trig_destroy(&x.t[i]);
	free(polls);
	free(drops);
}

/* A member that pushes a sibling from inside its poll, once. */
struct spawner {
	WEFT_ASYNC;
	weft_futset *set;
	int depth;
};
static weft_poll spawner_poll(struct spawner *f, weft_cx *cx);
WEFT_FUTURE(spawner, struct spawner, WEFT_NO_DROP);
static weft_poll spawner_poll(struct spawner *f, weft_cx *cx)
{
	(void)cx;
	if (f->depth < 10) {
		struct spawner *c = WEFT_FUTSET_PUSH(f->set, spawner);

		cr_assert_not_null(c);
		c->set = f->set;
		c->depth = f->depth + 1;
	}
	f->res = f->depth;
	return WEFT_READY;
}

Test(futset, push_from_inside_a_member)
{
	weft_futset set;
	weft_futset_next nx;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	int got = 0;

	cr_assert_eq(WEFT_FUTSET_INIT(&set, spawner, 0), 0);
	WEFT_FUTSET_PUSH(&set, spawner)->set = &set;
	for (int i = 0; i < 100 && got < 11; i++) {
		weft_futset_next_init(&nx, &set);
		if (weft_futset_next_poll(&nx, cx) == WEFT_READY) {
			cr_assert_eq(nx.res, got, "depth %d", (int)nx.res);
			got++;
		}
	}
	cr_assert_eq(got, 11);
	weft_futset_next_init(&nx, &set);
	cr_assert_eq(weft_futset_next_poll(&nx, cx), WEFT_READY);
	cr_assert_eq(nx.res, WEFT_FUTSET_EMPTY);
	weft_futset_destroy(&set);
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

/* A member that pushes a sibling at its first poll and then waits
 * forever (never woken): a chain without end. */
struct breeder {
	WEFT_ASYNC;
	weft_futset *set;
	int *born;
	bool bred;
};
static weft_poll breeder_poll(struct breeder *f, weft_cx *cx);
WEFT_FUTURE(breeder, struct breeder, WEFT_NO_DROP);
static weft_poll breeder_poll(struct breeder *f, weft_cx *cx)
{
	(void)cx;
	if (!f->bred && *f->born < 1000) {
		struct breeder *c = WEFT_FUTSET_PUSH(f->set, breeder);

		cr_assert_not_null(c);
		c->set = f->set;
		c->born = f->born;
		++*f->born;
		f->bred = true;
	}
	return WEFT_PENDING;
}

/* Pushes made from inside a member's poll wait for a later next call (it
 * wakes itself to come back): one call polls a bounded number of
 * members, however members keep pushing members. */
Test(futset, members_pushing_members_do_not_keep_one_call_going)
{
	weft_futset set;
	weft_futset_next nx;
	tcx k;
	weft_cx *cx = tcx_init(&k);
	struct breeder *b;
	int born = 0, before;

	cr_assert_eq(WEFT_FUTSET_INIT(&set, breeder, 0), 0);
	b = WEFT_FUTSET_PUSH(&set, breeder);
	b->set = &set;
	b->born = &born;
	for (int call = 1; call <= 3; call++) {
		before = born;
		weft_futset_next_init(&nx, &set);
		cr_assert_eq(weft_futset_next_poll(&nx, cx), WEFT_PENDING);
		cr_assert_leq(born - before, 2,
			      "call %d polled %d new members", call,
			      born - before);
		cr_assert_gt(born, before, "call %d made no progress", call);
		cr_assert_gt(atomic_load(&k.t.wakes), 0,
			     "pushed members left: the call wakes itself");
	}
	cr_assert_lt(born, 1000);
	weft_futset_destroy(&set);
	cr_assert_eq(atomic_load(&k.t.live), 0);
}

Test(futset, push_while_destroying_is_refused)
{
	struct fix x;
	void *pushed = (void *)1;
	weft_futset_next nx;

	fix_init(&x, 0);
	struct mem *m = fix_push(&x, 0);
	m->push_into = &x.set;
	m->pushed = &pushed;
	fix_push(&x, 1);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	fix_fini(&x);
	cr_assert_null(pushed, "a push from a drop function during destroy");
	cr_assert_eq(x.drops[0], 1);
	cr_assert_eq(x.drops[1], 1);
	rt_leak_check();
}

Test(futset, wakers_outlive_the_set)
{
	struct fix x;
	weft_futset_next nx;
	weft_waker kept;

	fix_init(&x, 0);
	fix_push(&x, 0);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	/* take a clone of member 0's waker, as a foreign registry would */
	pthread_mutex_lock(&x.t[0].m);
	kept = weft_waker_clone(&x.t[0].w);
	pthread_mutex_unlock(&x.t[0].m);
	cr_assert(weft_waker_is_set(&kept));
	fix_fini(&x);
	cr_assert_eq(x.drops[0], 1);
	weft_waker_wake_by_ref(&kept); /* the slot is not live: nothing */
	cr_assert_eq(atomic_load(&x.k.t.wakes), 0);
	weft_waker_wake(&kept);        /* frees the slots (ASan checks) */
	rt_leak_check();
}

/* select over a set and a second branch. */
Test(futset, next_is_a_select_branch)
{
	struct fix x;
	weft_futset_next nx;
	struct trig other;
	struct mem om;
	int opolls[1] = { 0 }, odrops[1] = { 0 };
	weft_branch br[2];
	weft_select sel;

	fix_init(&x, 0);
	trig_init(&other);
	om = (struct mem){ .t = &other, .id = 0, .polls = opolls,
			   .drops = odrops };
	fix_push(&x, 7);
	weft_futset_next_init(&nx, &x.set);
	br[0] = WEFT_BRANCH(weft_futset_next, &nx);
	br[1] = WEFT_BRANCH(mem, &om);
	weft_select_init(&sel, br, 2, WEFT_SELECT_BIASED);
	cr_assert_eq(weft_select_poll(&sel, x.cx), WEFT_PENDING);
	trig_fire(&x.t[7]);
	cr_assert_eq(weft_select_poll(&sel, x.cx), WEFT_READY);
	cr_assert_eq(sel.res, 0, "the set's branch won");
	cr_assert_eq(nx.res, 7);
	cr_assert_eq(odrops[0], 1, "the loser dropped");
	weft_select_drop(&sel);
	/* a set whose next lost a select keeps its members */
	fix_push(&x, 8);
	weft_futset_next_init(&nx, &x.set);
	br[0] = WEFT_BRANCH(weft_futset_next, &nx);
	om = (struct mem){ .t = &other, .id = 0, .polls = opolls,
			   .drops = odrops };
	br[1] = WEFT_BRANCH(mem, &om);
	weft_select_init(&sel, br, 2, WEFT_SELECT_BIASED);
	cr_assert_eq(weft_select_poll(&sel, x.cx), WEFT_PENDING);
	trig_fire(&other);
	cr_assert_eq(weft_select_poll(&sel, x.cx), WEFT_READY);
	cr_assert_eq(sel.res, 1);
	cr_assert_eq(weft_futset_len(&x.set), 1, "member 8 still in the set");
	trig_fire(&x.t[8]);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
	cr_assert_eq(nx.res, 8);
	fix_fini(&x);
	trig_destroy(&other);
}

/* The parent waker: woken once per wait however many members are woken
 * before the owner comes back, and, when the set is polled by another
 * task, that task's waker (the first one released). */
Test(futset, parent_woken_once_per_wait_and_the_waiting_task_is_woken)
{
	struct fix x;
	weft_futset_next nx;
	tcx k2;
	weft_cx *cx2 = tcx_init(&k2);
	int w0;

	fix_init(&x, 0);
	for (int i = 0; i < 5; i++)
		fix_push(&x, i);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	w0 = atomic_load(&x.k.t.wakes);
	trig_fire(&x.t[0]);
	cr_assert_eq(atomic_load(&x.k.t.wakes), w0 + 1, "the first wake");
	trig_fire(&x.t[1]);
	cr_assert_eq(atomic_load(&x.k.t.wakes), w0 + 1,
		     "a second wake before the owner came back wakes nobody");
	for (int i = 0; i < 2; i++) {
		weft_futset_next_init(&nx, &x.set);
		cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
		cr_assert_eq(nx.res, i, "in wake order");
	}
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	trig_fire(&x.t[2]);
	cr_assert_eq(atomic_load(&x.k.t.wakes), w0 + 2, "a new wait, a wake");
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
	cr_assert_eq(nx.res, 2);
	/* another task waits on the set now: it is the one woken */
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, cx2), WEFT_PENDING);
	cr_assert_eq(atomic_load(&x.k.t.live), 0, "the first task released");
	w0 = atomic_load(&x.k.t.wakes);
	trig_fire(&x.t[3]);
	cr_assert_eq(atomic_load(&k2.t.wakes), 1, "the second task woken");
	cr_assert_eq(atomic_load(&x.k.t.wakes), w0, "not the first");
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, cx2), WEFT_READY);
	cr_assert_eq(nx.res, 3);
	fix_fini(&x);
	cr_assert_eq(atomic_load(&k2.t.live), 0, "the parent released");
}

/* A wake that lands while the set is being polled (member 0's poll wakes
 * member 1, as another thread could at that moment) is not lost: the call
 * polls member 1 or, returning PENDING, has woken the task to come back. */
Test(futset, a_wake_while_the_set_is_polled_is_not_lost)
{
	struct fix x;
	weft_futset_next nx;
	weft_waker w;
	int before;
	weft_poll r;

	fix_init(&x, 0);
	struct mem *a = fix_push(&x, 0);
	fix_push(&x, 1);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	/* wake member 0 without firing it: it waits again at its poll, and
	 * fires member 1 from inside that poll */
	a->fire_on_poll = &x.t[1];
	pthread_mutex_lock(&x.t[0].m);
	w = weft_waker_clone(&x.t[0].w);
	pthread_mutex_unlock(&x.t[0].m);
	weft_waker_wake(&w);
	before = atomic_load(&x.k.t.wakes);
	weft_futset_next_init(&nx, &x.set);
	r = weft_futset_next_poll(&nx, x.cx);
	a->fire_on_poll = NULL;
	cr_assert_eq(x.polls[0], 2);
	if (r == WEFT_PENDING) {
		cr_assert_gt(atomic_load(&x.k.t.wakes), before,
			     "PENDING with member 1 woken and no wake of "
			     "the task: the wake is lost");
		weft_futset_next_init(&nx, &x.set);
		r = weft_futset_next_poll(&nx, x.cx);
	}
	cr_assert_eq(r, WEFT_READY);
	cr_assert_eq(nx.res, 1);
	/* and the set waits properly afterwards */
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_PENDING);
	before = atomic_load(&x.k.t.wakes);
	trig_fire(&x.t[0]);
	cr_assert_eq(atomic_load(&x.k.t.wakes), before + 1);
	weft_futset_next_init(&nx, &x.set);
	cr_assert_eq(weft_futset_next_poll(&nx, x.cx), WEFT_READY);
	cr_assert_eq(nx.res, 0);
	fix_fini(&x);
}

/* ----------------------------------------------- inside a runtime, TSan */

enum { RN = 200 };

struct owner_task {
	WEFT_ASYNC;
	struct trig *t;
	int *polls, *drops;
	weft_futset set;
	weft_futset_next nx;
	int i;
	long sum;
	atomic_int *ready;
};

static weft_poll owner_task_poll(struct owner_task *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_FUTSET_INIT(&f->set, mem, 0))
		WEFT_RETURN(-ENOMEM);
	for (f->i = 0; f->i < RN; f->i++) {
		struct mem *m = WEFT_FUTSET_PUSH(&f->set, mem);

		*m = (struct mem){ .t = &f->t[f->i], .id = f->i,
				   .polls = f->polls, .drops = f->drops };
	}
	atomic_store(f->ready, 1);
	for (;;) {
		weft_futset_next_init(&f->nx, &f->set);
		WEFT_AWAIT_ON(weft_futset_next, &f->nx);
		if (f->nx.res == WEFT_FUTSET_EMPTY)
			break;
		f->sum += f->nx.res;
	}
	weft_futset_destroy(&f->set);
	WEFT_RETURN(f->sum);
	WEFT_END();
}
static void owner_task_drop(struct owner_task *f)
{
	weft_futset_destroy(&f->set);
}
WEFT_FUTURE(owner_task, struct owner_task, owner_task_drop);

struct firer {
	struct trig *t;
	int from, step;
};

static void *firer_main(void *p)
{
	struct firer *fr = p;

	for (int i = fr->from; i < RN; i += fr->step)
		trig_fire(&fr->t[i]);
	return NULL;
}

Test(futset, members_woken_from_other_threads, .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct trig *t = calloc(RN, sizeof(*t));
	int *polls = calloc(RN, sizeof(int)), *drops = calloc(RN, sizeof(int));
	atomic_int ready = 0;
	pthread_t th[3];
	struct firer fr[3];
	weft_join *j;

	for (int i = 0; i < RN; i++)
		trig_init(&t[i]);
	cr_assert_eq(WEFT_SPAWN(rt, owner_task, &j, { .t = t, .polls = polls,
			 .drops = drops, .ready = &ready }), 0);
	cr_assert(WAIT_UNTIL(atomic_load(&ready)));
	for (int i = 0; i < 3; i++) {
		fr[i] = (struct firer){ t, i, 3 };
		pthread_create(&th[i], NULL, firer_main, &fr[i]);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(join_on(rt, j), (intptr_t)RN * (RN - 1) / 2);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	for (int i = 0; i < RN; i++) {
		cr_assert_eq(drops[i], 1);
		trig_destroy(&t[i]);
	}
	free(t);
	free(polls);
	free(drops);
	rt_leak_check();
}

/* Wakes from other threads racing the owner's polls, many rounds: each of
 * SM members waits SR times in turn (a member that completes is replaced
 * by one waiting for the next fire of its trigger), fired by two threads
 * as soon as it waits. A lost wake leaves the owner waiting for ever (the
 * test's timeout is the hang guard). */
enum { SM = 16, SR = 400 };

struct rtrig {
	pthread_mutex_t m;
	int fired, waiting;   /* rounds fired, round waited for */
	weft_waker w;
};

struct rmem {
	WEFT_ASYNC;
	struct rtrig *t;
	int id, round;
};

static weft_poll rmem_poll(struct rmem *f, weft_cx *cx)
{
	bool ready;

	pthread_mutex_lock(&f->t->m);
	ready = f->t->fired >= f->round;
	if (!ready) {
		weft_waker_register(&f->t->w, cx);
		f->t->waiting = f->round;
	}
	pthread_mutex_unlock(&f->t->m);
	if (!ready)
		return WEFT_PENDING;
	f->res = f->id;
	return WEFT_READY;
}
WEFT_FUTURE(rmem, struct rmem, WEFT_NO_DROP);

struct rowner {
	WEFT_ASYNC;
	struct rtrig *t;
	weft_futset set;
	weft_futset_next nx;
	int rounds[SM];
	long done;
	int i;
};

static weft_poll rowner_poll(struct rowner *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_FUTSET_INIT(&f->set, rmem, 0))
		WEFT_RETURN(-ENOMEM);
	for (f->i = 0; f->i < SM; f->i++) {
		f->rounds[f->i] = 1;
		if (!WEFT_FUTSET_PUSH_INIT(&f->set, rmem,
					   { .t = &f->t[f->i], .id = f->i,
					     .round = 1 }))
			WEFT_RETURN(-ENOMEM);
	}
	for (;;) {
		WEFT_AWAIT_INIT(weft_futset_next, &f->nx, &f->set);
		if (f->nx.res == WEFT_FUTSET_EMPTY)
			break;
		f->done++;
		f->i = (int)f->nx.res;
		if (f->rounds[f->i] < SR &&
		    !WEFT_FUTSET_PUSH_INIT(&f->set, rmem,
					   { .t = &f->t[f->i], .id = f->i,
					     .round = ++f->rounds[f->i] }))
			WEFT_RETURN(-ENOMEM);
	}
	weft_futset_destroy(&f->set);
	WEFT_RETURN(f->done);
	WEFT_END();
}
static void rowner_drop(struct rowner *f)
{
	weft_futset_destroy(&f->set);
}
WEFT_FUTURE(rowner, struct rowner, rowner_drop);

struct rfirer {
	struct rtrig *t;
	int from;
};

static void *rfirer_main(void *p)
{
	struct rfirer *fr = p;
	int left = SM / 2;

	while (left > 0) {
		left = 0;
		for (int i = fr->from; i < SM; i += 2) {
			struct rtrig *t = &fr->t[i];
			weft_waker w = WEFT_WAKER_NONE;

			pthread_mutex_lock(&t->m);
			if (t->waiting > t->fired) {
				t->fired = t->waiting;
				w = t->w;
				t->w = WEFT_WAKER_NONE;
			}
			if (t->fired < SR)
				left++;
			pthread_mutex_unlock(&t->m);
			weft_waker_wake(&w);
		}
		sched_yield();
	}
	return NULL;
}

Test(futset, wakes_racing_the_owner_from_other_threads_are_not_lost,
     .timeout = RT_TIMEOUT)
{
	weft_rt *rt = rt_multi(2);
	struct rtrig *t = calloc(SM, sizeof(*t));
	pthread_t th[2];
	struct rfirer fr[2];
	weft_join *j;

	for (int i = 0; i < SM; i++)
		pthread_mutex_init(&t[i].m, NULL);
	cr_assert_eq(WEFT_SPAWN(rt, rowner, &j, { .t = t }), 0);
	for (int i = 0; i < 2; i++) {
		fr[i] = (struct rfirer){ t, i };
		pthread_create(&th[i], NULL, rfirer_main, &fr[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(join_on(rt, j), (intptr_t)SM * SR);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	for (int i = 0; i < SM; i++) {
		weft_waker_drop(&t[i].w);
		pthread_mutex_destroy(&t[i].m);
	}
	free(t);
	rt_leak_check();
}

/* ------------------------------------------ wakes from the owning task */

/* Wakes made by the task that polls the set, in that same poll, on its
 * worker: the case a shortcut for the owner's own wakes would take (one
 * was tried: docs/benchmarks.md, session 10), and what such a shortcut
 * must keep right. */
enum { ON = 8 };

struct ofix {
	struct trig t[ON];
	int polls[ON];
	int drops[ON];
};

static struct ofix *ofix_new(void)
{
	struct ofix *x = calloc(1, sizeof(*x));

	cr_assert_not_null(x);
	for (int i = 0; i < ON; i++)
		trig_init(&x->t[i]);
	return x;
}

static void ofix_free(struct ofix *x)
{
	for (int i = 0; i < ON; i++)
		trig_destroy(&x->t[i]);
	free(x);
}

/* Runs one task of `type` (frame `init`) on a 2-worker runtime, returns
 * its output, and checks that members 0..n-1 of x were dropped once. */
static intptr_t ofix_run(const weft_future_type *type, const void *init,
			 const struct ofix *x, int n)
{
	weft_rt *rt = rt_multi(2);
	weft_join *j;
	intptr_t res;

	cr_assert_eq(weft_spawn_at(rt, type, init, &j, __FILE__, __LINE__), 0);
	res = join_on(rt, j);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	for (int i = 0; i < n; i++)
		cr_assert_eq(x->drops[i], 1, "member %d dropped once", i);
	return res;
}

static bool opush(weft_futset *set, struct ofix *x, int id,
		  struct trig *fire_on_poll)
{
	return WEFT_FUTSET_PUSH_INIT(set, mem,
		{ .t = &x->t[id], .id = id, .polls = x->polls,
		  .drops = x->drops, .fire_on_poll = fire_on_poll }) != NULL;
}

/* The owner wakes a member of a waiting set and returns PENDING without
 * any waker of its own kept elsewhere: only the set's parent wake can
 * poll it again (a hang, caught by the timeout, when it is missing). */
struct pw_task {
	WEFT_ASYNC;
	struct ofix *x;
	weft_futset set;
	weft_futset_next nx;
	int state;
};

static weft_poll pw_task_poll(struct pw_task *f, weft_cx *cx)
{
	if (f->state == 0) {
		if (WEFT_FUTSET_INIT(&f->set, mem, 0))
			return (f->res = -ENOMEM), WEFT_READY;
		for (int i = 0; i < 4; i++)
			if (!opush(&f->set, f->x, i, NULL))
				return (f->res = -ENOMEM), WEFT_READY;
		weft_futset_next_init(&f->nx, &f->set);
		if (weft_futset_next_poll(&f->nx, cx) != WEFT_PENDING)
			return (f->res = -100), WEFT_READY;
		trig_fire(&f->x->t[2]);
		f->state = 1;
		return WEFT_PENDING;
	}
	if (weft_futset_next_poll(&f->nx, cx) != WEFT_READY)
		return WEFT_PENDING;
	f->res = f->nx.res * 10 + f->x->polls[2];
	weft_futset_destroy(&f->set);
	return WEFT_READY;
}
static void pw_task_drop(struct pw_task *f)
{
	weft_futset_destroy(&f->set);
}
WEFT_FUTURE(pw_task, struct pw_task, pw_task_drop);

Test(futset, an_owner_wake_wakes_the_waiting_owner, .timeout = RT_TIMEOUT)
{
	struct ofix *x = ofix_new();

	cr_assert_eq(ofix_run(&pw_task_future, &(pw_task_frame){ .x = x }, x,
			      4),
		     2 * 10 + 2, "member 2 completes at its second poll");
	ofix_free(x);
	rt_leak_check();
}

/* The owner and a plain thread wake the same member, in both orders: it
 * is listed once and polled once (a member on two lists is polled twice,
 * or breaks the batch). */
struct both_task {
	WEFT_ASYNC;
	struct ofix *x;
	weft_futset set;
	weft_futset_next nx;
};

static void *wake_thread(void *p)
{
	weft_waker_wake(p);
	return NULL;
}

/* Clones member id's waker twice and marks its trigger fired. */
static void two_clones(struct ofix *x, int id, weft_waker *a, weft_waker *b)
{
	pthread_mutex_lock(&x->t[id].m);
	x->t[id].fired = true;
	*a = weft_waker_clone(&x->t[id].w);
	*b = weft_waker_clone(&x->t[id].w);
	pthread_mutex_unlock(&x->t[id].m);
}

static weft_poll both_task_poll(struct both_task *f, weft_cx *cx)
{
	weft_waker a, b;
	pthread_t th;
	intptr_t code = 0;

	if (WEFT_FUTSET_INIT(&f->set, mem, 0))
		return (f->res = -ENOMEM), WEFT_READY;
	for (int i = 0; i < 4; i++)
		if (!opush(&f->set, f->x, i, NULL))
			return (f->res = -ENOMEM), WEFT_READY;
	weft_futset_next_init(&f->nx, &f->set);
	if (weft_futset_next_poll(&f->nx, cx) != WEFT_PENDING)
		code = -1;
	/* the owner first, then the other thread */
	two_clones(f->x, 1, &a, &b);
	weft_waker_wake_by_ref(&a);
	pthread_create(&th, NULL, wake_thread, &b);
	pthread_join(th, NULL);
	if (!code && (weft_futset_next_poll(&f->nx, cx) != WEFT_READY ||
		      f->nx.res != 1))
		code = -2;
	if (!code && weft_futset_next_poll(&f->nx, cx) != WEFT_PENDING)
		code = -3;
	/* a wake of the completed member does nothing */
	weft_waker_wake(&a);
	/* the other thread first, then the owner */
	two_clones(f->x, 3, &a, &b);
	pthread_create(&th, NULL, wake_thread, &b);
	pthread_join(th, NULL);
	weft_waker_wake_by_ref(&a);
	weft_waker_drop(&a);
	if (!code && (weft_futset_next_poll(&f->nx, cx) != WEFT_READY ||
		      f->nx.res != 3))
		code = -4;
	if (!code && weft_futset_next_poll(&f->nx, cx) != WEFT_PENDING)
		code = -5;
	weft_futset_destroy(&f->set);
	f->res = code ? code
		      : f->x->polls[0] * 1000 + f->x->polls[1] * 100 +
				f->x->polls[2] * 10 + f->x->polls[3];
	return WEFT_READY;
}
static void both_task_drop(struct both_task *f)
{
	weft_futset_destroy(&f->set);
}
WEFT_FUTURE(both_task, struct both_task, both_task_drop);

Test(futset, the_owner_and_another_thread_wake_one_member,
     .timeout = RT_TIMEOUT)
{
	struct ofix *x = ofix_new();

	cr_assert_eq(ofix_run(&both_task_future, &(both_task_frame){ .x = x },
			      x, 4),
		     1212, "members 1 and 3 polled twice, 0 and 2 once");
	ofix_free(x);
	rt_leak_check();
}

/* A member whose poll wakes another (owner's wake, inside the set's own
 * poll), and a member that wakes itself once (a yield): each polled again
 * by the same next, no other wake needed. */
struct ymem {
	WEFT_ASYNC;
	int *polls;
};

static weft_poll ymem_poll(struct ymem *f, weft_cx *cx)
{
	if ((*f->polls)++ == 0) {
		weft_waker_wake_by_ref(&cx->waker);
		return WEFT_PENDING;
	}
	f->res = 77;
	return WEFT_READY;
}
WEFT_FUTURE(ymem, struct ymem, WEFT_NO_DROP);

struct inpoll_task {
	WEFT_ASYNC;
	struct ofix *x;
	int *ypolls;
	weft_futset set, yset;
	weft_futset_next nx;
};

static weft_poll inpoll_task_poll(struct inpoll_task *f, weft_cx *cx)
{
	intptr_t code = 0;

	if (WEFT_FUTSET_INIT(&f->set, mem, 0) ||
	    WEFT_FUTSET_INIT(&f->yset, ymem, 0))
		return (f->res = -ENOMEM), WEFT_READY;
	/* 0 waits; 1, polled after it, fires 0's trigger */
	if (!opush(&f->set, f->x, 0, NULL) ||
	    !opush(&f->set, f->x, 1, &f->x->t[0]) ||
	    !WEFT_FUTSET_PUSH_INIT(&f->yset, ymem, { .polls = f->ypolls }))
		return (f->res = -ENOMEM), WEFT_READY;
	weft_futset_next_init(&f->nx, &f->set);
	if (weft_futset_next_poll(&f->nx, cx) != WEFT_READY || f->nx.res != 0)
		code = -1;
	weft_futset_next_init(&f->nx, &f->yset);
	if (!code && (weft_futset_next_poll(&f->nx, cx) != WEFT_READY ||
		      f->nx.res != 77))
		code = -2;
	weft_futset_destroy(&f->set);
	weft_futset_destroy(&f->yset);
	f->res = code ? code : f->x->polls[0] * 10 + *f->ypolls;
	return WEFT_READY;
}
static void inpoll_task_drop(struct inpoll_task *f)
{
	weft_futset_destroy(&f->set);
	weft_futset_destroy(&f->yset);
}
WEFT_FUTURE(inpoll_task, struct inpoll_task, inpoll_task_drop);

Test(futset, owner_wakes_inside_the_sets_poll_are_polled_by_that_next,
     .timeout = RT_TIMEOUT)
{
	struct ofix *x = ofix_new();
	int ypolls = 0;

	cr_assert_eq(ofix_run(&inpoll_task_future,
			      &(inpoll_task_frame){ .x = x, .ypolls = &ypolls },
			      x, 2),
		     2 * 10 + 2, "member 0 and the yielding member polled twice");
	ofix_free(x);
	rt_leak_check();
}

/* The owner wakes members and destroys the set without polling it: each
 * drop runs once, and a waker kept past the set wakes nothing (ASan and
 * LSan: nothing freed twice, nothing left). */
struct odestroy_task {
	WEFT_ASYNC;
	struct ofix *x;
	weft_waker *kept;
	weft_futset set;
	weft_futset_next nx;
};

static weft_poll odestroy_task_poll(struct odestroy_task *f, weft_cx *cx)
{
	if (WEFT_FUTSET_INIT(&f->set, mem, 0))
		return (f->res = -ENOMEM), WEFT_READY;
	for (int i = 0; i < 5; i++)
		if (!opush(&f->set, f->x, i, NULL))
			return (f->res = -ENOMEM), WEFT_READY;
	weft_futset_next_init(&f->nx, &f->set);
	if (weft_futset_next_poll(&f->nx, cx) != WEFT_PENDING)
		return (f->res = -1), WEFT_READY;
	pthread_mutex_lock(&f->x->t[4].m);
	*f->kept = weft_waker_clone(&f->x->t[4].w);
	pthread_mutex_unlock(&f->x->t[4].m);
	for (int i = 0; i < 3; i++)
		trig_fire(&f->x->t[i]);
	weft_futset_destroy(&f->set);
	/* the set is gone: this wake finds no member (the memory lives on
	 * for the waker) */
	weft_waker_wake_by_ref(f->kept);
	f->res = 0;
	return WEFT_READY;
}
static void odestroy_task_drop(struct odestroy_task *f)
{
	weft_futset_destroy(&f->set);
}
WEFT_FUTURE(odestroy_task, struct odestroy_task, odestroy_task_drop);

Test(futset, destroy_with_owner_woken_members_listed, .timeout = RT_TIMEOUT)
{
	struct ofix *x = ofix_new();
	weft_waker kept = WEFT_WAKER_NONE;

	cr_assert_eq(ofix_run(&odestroy_task_future,
			      &(odestroy_task_frame){ .x = x, .kept = &kept },
			      x, 5),
		     0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(x->polls[i], 1, "member %d not polled again", i);
	/* the last reference on the set's memory */
	weft_waker_wake(&kept);
	ofix_free(x);
	rt_leak_check();
}

/* A set handed, in the middle of its owner's poll, to a plain thread that
 * polls it while the old owner goes on waking its members: the new poller
 * gets every member, each polled twice and dropped once (TSan: no race
 * between the old owner's wakes and the new poller). */
enum { HK = 32 };

struct handoff {
	struct ofix x[HK / ON];
	weft_futset set;
	_Atomic(weft_futset *) handed;
	long sum;
	int got, live;
};

struct ho_task {
	WEFT_ASYNC;
	struct handoff *h;
	weft_futset_next nx;
};

static weft_poll ho_task_poll(struct ho_task *f, weft_cx *cx)
{
	struct handoff *h = f->h;

	if (WEFT_FUTSET_INIT(&h->set, mem, 0))
		return (f->res = -ENOMEM), WEFT_READY;
	for (int i = 0; i < HK; i++)
		if (!opush(&h->set, &h->x[i / ON], i % ON, NULL))
			return (f->res = -ENOMEM), WEFT_READY;
	weft_futset_next_init(&f->nx, &h->set);
	if (weft_futset_next_poll(&f->nx, cx) != WEFT_PENDING)
		return (f->res = -1), WEFT_READY;
	atomic_store_explicit(&h->handed, &h->set, memory_order_release);
	for (int i = 0; i < HK; i++)
		trig_fire(&h->x[i / ON].t[i % ON]);
	f->res = 0;
	return WEFT_READY;
}
WEFT_FUTURE(ho_task, struct ho_task, WEFT_NO_DROP);

static void *ho_poller(void *p)
{
	struct handoff *h = p;
	weft_futset *set;
	weft_futset_next nx;
	tcx k;
	weft_cx *cx = tcx_init(&k);

	while (!(set = atomic_load_explicit(&h->handed, memory_order_acquire)))
		sched_yield();
	while (h->got < HK) {
		weft_futset_next_init(&nx, set);
		if (weft_futset_next_poll(&nx, cx) == WEFT_PENDING) {
			sched_yield();
			continue;
		}
		h->sum += nx.res;
		h->got++;
	}
	weft_futset_destroy(set);
	h->live = atomic_load(&k.t.live);
	return NULL;
}

Test(futset, a_set_handed_on_mid_poll_waits_for_the_old_owner,
     .timeout = RT_TIMEOUT)
{
	for (int round = 0; round < STRESS(20, 200); round++) {
		weft_rt *rt = rt_multi(2);
		struct handoff *h = calloc(1, sizeof(*h));
		long want = 0;
		pthread_t th;
		weft_join *j;

		cr_assert_not_null(h);
		for (int c = 0; c < HK / ON; c++)
			for (int i = 0; i < ON; i++) {
				trig_init(&h->x[c].t[i]);
				want += i;
			}
		pthread_create(&th, NULL, ho_poller, h);
		cr_assert_eq(WEFT_SPAWN(rt, ho_task, &j, { .h = h }), 0);
		cr_assert_eq(join_on(rt, j), 0);
		pthread_join(th, NULL);
		cr_assert_eq(h->got, HK);
		cr_assert_eq(h->sum, want, "every member once");
		cr_assert_eq(h->live, 0, "the parent waker released");
		for (int c = 0; c < HK / ON; c++)
			for (int i = 0; i < ON; i++) {
				cr_assert_eq(h->x[c].polls[i], 2);
				cr_assert_eq(h->x[c].drops[i], 1);
				trig_destroy(&h->x[c].t[i]);
			}
		weft_join_drop(j);
		weft_rt_destroy(rt);
		free(h);
	}
	rt_leak_check();
}
