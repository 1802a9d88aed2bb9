/* test/runtime/dump_growth.c - a task dump whose list grows between
 * sizing its buffer and copying it (issue 14's odd dumps, made certain):
 * the linker redirects libweft's realloc here (test/runtime/meson.build),
 * and the dump's buffer allocation, once armed, first lets a task spawn
 * 300 more tasks on the same worker (far past the dump's slack). The
 * oldest task of that list, the spawner itself, must still be in the
 * dump, once, and so must every task of the list.
 */
#include <stdio.h>

#include "test/runtime/harness.h"
#include "weft/metrics.h"

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

#define BURST 300

static gate burst_gate, never_gate;
static atomic_int burst_done;
static _Atomic(pthread_t *) armed; /* the dumping thread, once armed */

void *__wrap_realloc(void *p, size_t n)
{
	pthread_t *who = atomic_load(&armed);

	if (who && pthread_equal(*who, pthread_self())) {
		atomic_store(&armed, NULL);
		/* the dump sized its buffer (and released the list's lock):
		 * the list grows by BURST before the copy */
		gate_open(&burst_gate);
		while (atomic_load(&burst_done) < BURST)
			usleep(1000);
	}
	return __real_realloc(p, n);
}

/* pending for ever: it keeps a clone of its own waker (so it is not
 * dropped as unwakeable), released when shutdown cancels it */
struct parked {
	WEFT_ASYNC_VOID;
	weft_waker self;
};

static weft_poll parked_poll(struct parked *f, weft_cx *cx)
{
	weft_waker_register(&f->self, cx);
	return WEFT_PENDING;
}

static void parked_drop(struct parked *f)
{
	weft_waker_drop(&f->self);
}

WEFT_FUTURE(parked, struct parked, parked_drop);

struct spawner {
	WEFT_ASYNC_VOID;
	int i;
};

static weft_poll spawner_poll(struct spawner *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT(gate_poll(&burst_gate, cx));
	for (f->i = 0; f->i < BURST; f->i++) {
		cr_assert_eq(WEFT_SPAWN(weft_rt_current(), parked, NULL, { 0 }),
			     0);
		atomic_fetch_add(&burst_done, 1);
	}
	/* stays: pending for ever from here */
	WEFT_AWAIT(gate_poll(&never_gate, cx));
	WEFT_END();
}

WEFT_FUTURE(spawner, struct spawner, WEFT_NO_DROP);

struct seen {
	long spawner, parked, n;
};

static void count(void *arg, const weft_task_info *in)
{
	struct seen *s = arg;

	s->n++;
	if (strcmp(in->name, "spawner") == 0)
		s->spawner++;
	else if (strcmp(in->name, "parked") == 0)
		s->parked++;
}

static bool spawner_adopted(weft_rt *rt)
{
	struct seen s = { 0, 0, 0 };

	return weft_rt_dump(rt, count, &s) == 1 && s.spawner == 1;
}

Test(dump_growth, a_list_that_grows_during_the_dump_is_copied_whole,
     .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	weft_rt_builder b;
	weft_rt *rt;
	struct seen s = { 0, 0, 0 };
	pthread_t self = pthread_self();
	intptr_t n;

	gate_init(&burst_gate);
	gate_init(&never_gate);
	weft_rt_builder_init(&b);
	b.workers = 1;
	b.no_pin = true;
	b.io.enable = false;
	weft_obs_opts_init(&o);
	o.track_tasks = true;
	cr_assert_eq(weft_rt_create_with(&rt, &b, &o), 0);
	cr_assert_eq(WEFT_SPAWN(rt, spawner, NULL, { 0 }), 0);
	/* run once: adopted into worker 0's list, waiting at the gate */
	cr_assert(WAIT_UNTIL(spawner_adopted(rt)));
	atomic_store(&armed, &self);
	n = weft_rt_dump(rt, count, &s);
	cr_assert_eq(atomic_load(&burst_done), BURST, "the burst ran");
	cr_assert_eq(s.spawner, 1, "the oldest task, seen %ld times",
		     s.spawner);
	cr_assert_eq(s.parked, BURST);
	cr_assert_eq(n, 1 + BURST);
	weft_rt_destroy(rt);
	gate_destroy(&burst_gate);
	gate_destroy(&never_gate);
}
