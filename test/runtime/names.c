/* test/runtime/names.c - task names (weft_spawn_named,
 * weft_joinset_spawn_named): read back through the join and abort
 * handles, shown in weft_rt_dump (the info's task_name and the dump
 * line's "task_name" field) and in long-poll reports; unnamed tasks have
 * none; a named JoinSet member's dump id is the id next reports. */
#include <stdio.h>
#include <string.h>

#include "test/runtime/harness.h"
#include "weft/group.h"
#include "weft/metrics.h"

struct napper {
	WEFT_ASYNC;
	gate *g;
};

static weft_poll napper_poll(struct napper *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT(gate_poll(f->g, cx));
	WEFT_RETURN(3);
	WEFT_END();
}

WEFT_FUTURE(napper, struct napper, WEFT_NO_DROP);

static weft_rt *rt_obs(weft_obs_opts *o)
{
	weft_rt_builder b;
	weft_rt *rt;

	weft_rt_builder_init(&b);
	b.workers = 2;
	b.no_pin = true;
	b.io.enable = false;
	cr_assert_eq(weft_rt_create_with(&rt, &b, o), 0, "%s",
		     weft_rt_create_error());
	return rt;
}

Test(names, read_back_through_join_and_abort_handles)
{
	weft_rt *rt = rt_multi(2);
	static const char name[] = "conn-42";
	weft_abort_handle *a;
	weft_join *j, *u;
	gate g, g2;   /* one each: a gate keeps one waker */

	gate_init(&g);
	gate_init(&g2);
	cr_assert_eq(WEFT_SPAWN_NAMED(rt, name, napper, &j, { .g = &g }), 0);
	cr_assert_eq(WEFT_SPAWN(rt, napper, &u, { .g = &g2 }), 0);
	a = weft_join_abort_handle(j);
	cr_assert_eq(weft_join_name(j), name);
	cr_assert_eq(weft_abort_handle_name(a), name);
	cr_assert_neq(weft_join_id(j), 0);
	cr_assert_eq(weft_abort_handle_id(a), weft_join_id(j));
	cr_assert_null(weft_join_name(u));
	cr_assert_null(weft_join_name(NULL));
	cr_assert_null(weft_abort_handle_name(NULL));
	cr_assert_eq(weft_spawn_named(NULL, name, &napper_future, NULL, NULL),
		     -EINVAL);
	cr_assert_eq(weft_spawn_named(rt, name, NULL, NULL, NULL), -EINVAL);
	gate_open(&g);
	gate_open(&g2);
	cr_assert_eq(join_on(rt, j), 3);
	/* still named after it finished: the handle keeps it */
	cr_assert_eq(weft_join_name(j), name);
	cr_assert_eq(join_on(rt, u), 3);
	weft_abort_handle_drop(a);
	weft_join_drop(j);
	weft_join_drop(u);
	/* NULL name: as weft_spawn */
	cr_assert_eq(weft_spawn_named(rt, NULL, &napper_future,
				      &(struct napper){ .g = &g }, &j), 0);
	cr_assert_null(weft_join_name(j));
	cr_assert_eq(join_on(rt, j), 3);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	gate_destroy(&g);
	gate_destroy(&g2);
	rt_leak_check();
}

struct seen {
	const char *want;
	int named, total;
	uint64_t id;
};

static void on_info(void *arg, const weft_task_info *in)
{
	struct seen *s = arg;

	s->total++;
	if (in->task_name && !strcmp(in->task_name, s->want)) {
		s->named++;
		s->id = in->id;
	}
}

/* One dump into s (reset first): how many tasks carried s->want. */
static int dump_named(weft_rt *rt, struct seen *s)
{
	s->named = s->total = 0;
	s->id = 0;
	cr_assert_geq(weft_rt_dump(rt, on_info, s), 0);
	return s->named;
}

Test(names, shown_in_the_dump, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	weft_rt *rt;
	struct seen s = { .want = "ticker" };
	weft_join *j, *u;
	char buf[8192];
	ssize_t got;
	int p[2];
	gate g, g2;

	weft_obs_opts_init(&o);
	o.track_tasks = true;
	o.long_poll_ns = 0;
	rt = rt_obs(&o);
	gate_init(&g);
	gate_init(&g2);
	cr_assert_eq(WEFT_SPAWN_NAMED(rt, "ticker", napper, &j, { .g = &g }),
		     0);
	cr_assert_eq(WEFT_SPAWN(rt, napper, &u, { .g = &g2 }), 0);
	/* both adopted by a worker (a dump may miss a task spawned from
	 * outside until then) and named */
	cr_assert(WAIT_UNTIL(dump_named(rt, &s) == 1 && s.total >= 2));
	cr_assert_eq(s.id, weft_join_id(j));
	cr_assert_eq(pipe(p), 0);
	cr_assert_geq(weft_rt_dump_fd(rt, p[1]), 2);
	close(p[1]);
	got = read(p[0], buf, sizeof(buf) - 1);
	cr_assert_gt(got, 0);
	buf[got] = '\0';
	close(p[0]);
	cr_assert_not_null(strstr(buf, " task_name ticker\n"), "%s", buf);
	/* the unnamed one has no field */
	{
		int lines = 0, named = 0;

		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
			lines++;
			named += strstr(l, "task_name") != NULL;
		}
		cr_assert_eq(named, 1, "%d of %d lines named", named, lines);
	}
	gate_open(&g);
	gate_open(&g2);
	cr_assert_eq(join_on(rt, j), 3);
	cr_assert_eq(join_on(rt, u), 3);
	weft_join_drop(j);
	weft_join_drop(u);
	weft_rt_destroy(rt);
	gate_destroy(&g);
	gate_destroy(&g2);
}

/* A long poll of a named task: the report carries the name. */
struct lp {
	pthread_mutex_t m;
	int n;
	const char *name;     /* a name has static storage: kept as is */
};

static void on_long(void *arg, const weft_long_poll *r)
{
	struct lp *l = arg;

	pthread_mutex_lock(&l->m);
	if (l->n++ == 0)
		l->name = r->task_name ? r->task_name : "(none)";
	pthread_mutex_unlock(&l->m);
}

struct slow {
	WEFT_ASYNC;
	struct lp *l;
};

static int lp_count(struct lp *l)
{
	int n;

	pthread_mutex_lock(&l->m);
	n = l->n;
	pthread_mutex_unlock(&l->m);
	return n;
}

static weft_poll slow_poll(struct slow *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	/* one poll that lasts until the detector has reported it */
	WAIT_UNTIL(lp_count(f->l) > 0);
	WEFT_RETURN(1);
	WEFT_END();
}

WEFT_FUTURE(slow, struct slow, WEFT_NO_DROP);

Test(names, shown_in_long_poll_reports, .timeout = RT_TIMEOUT)
{
	struct lp l = { .m = PTHREAD_MUTEX_INITIALIZER };
	weft_obs_opts o;
	weft_rt *rt;
	weft_join *j;

	weft_obs_opts_init(&o);
	o.long_poll_ns = 2 * 1000 * 1000;
	o.on_long_poll = on_long;
	o.arg = &l;
	rt = rt_obs(&o);
	cr_assert_eq(WEFT_SPAWN_NAMED(rt, "slowpoke", slow, &j, { .l = &l }),
		     0);
	cr_assert_eq(join_on(rt, j), 1);
	weft_join_drop(j);
	weft_rt_destroy(rt);
	cr_assert_str_eq(l.name, "slowpoke");
}

/* A named JoinSet member: the dump shows its name with the id that
 * weft_joinset_next reports for it. */
struct collect {
	WEFT_ASYNC;
	weft_joinset *set;
	weft_joinset_next next;
	uint64_t id;
};

static weft_poll collect_poll(struct collect *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_joinset_next, &f->next, f->set);
	f->id = f->next.id;
	WEFT_RETURN(f->next.res);
	WEFT_END();
}

WEFT_FUTURE(collect, struct collect, WEFT_NO_DROP);

Test(names, a_named_joinset_member, .timeout = RT_TIMEOUT)
{
	weft_obs_opts o;
	weft_rt *rt;
	weft_joinset *set;
	struct seen s = { .want = "member" };
	struct collect c;
	gate g;

	weft_obs_opts_init(&o);
	o.track_tasks = true;
	o.long_poll_ns = 0;
	rt = rt_obs(&o);
	gate_init(&g);
	cr_assert_eq(weft_joinset_create(&set, rt), 0);
	cr_assert_eq(weft_joinset_spawn_named(set, "member", &napper_future,
					      &(struct napper){ .g = &g }), 0);
	cr_assert(WAIT_UNTIL(dump_named(rt, &s) == 1));
	gate_open(&g);
	c = (struct collect){ .set = set };
	cr_assert_eq(WEFT_BLOCK_ON(rt, collect, &c), 0);
	cr_assert_eq(c.res, 3);
	cr_assert_eq(c.id, s.id);
	weft_joinset_destroy(set);
	weft_rt_destroy(rt);
	gate_destroy(&g);
	rt_leak_check();
}
