/* test/reactor/probe.c - kernel feature probing: with multishot accept
 * forced off (the test hook), accept falls back to single-shot (one
 * single-shot arm per connection at least, counted by the reactor) and
 * still serves every connection; with DEFER_TASKRUN forced off, the ring
 * falls back to another set-up (its setup flags have neither
 * DEFER_TASKRUN nor SINGLE_ISSUER) and still serves them; a ring that cannot be created fails
 * weft_rt_create with the reason; the reactor thread runs SCHED_BATCH
 * unless the builder or the hook says otherwise. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>

#include "helpers.h"
#include "reactor/reactor.h"

struct accept_n {
	WEFT_ASYNC;
	weft_listener *l;
	int n, i;
	weft_accept acc;
};

static weft_poll accept_n_poll(struct accept_n *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	for (f->i = 0; f->i < f->n; f->i++) {
		weft_accept_init(&f->acc, f->l);
		WEFT_AWAIT(f, weft_accept_poll(&f->acc, cx));
		cr_assert_eq(f->acc.err, 0);
		weft_stream_close(f->acc.stream);
	}
	WEFT_END(f);
}

/* Serves 20 connections on a runtime created with the features in off
 * forced off; returns the ring's setup flags and, in *single, how many
 * accepts the reactor armed single-shot. */
static unsigned accept_many_with(unsigned off, unsigned long *single)
{
	unsigned flags;
	weft_rt *rt;
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l;
	int c[20];
	struct accept_n f = { .n = 20 };

	weft__reactor_test_disable(off);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	l = test_listen(AF_INET, &a, &len);
	f.l = l;
	for (int i = 0; i < 20; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(c[i], (struct sockaddr *)&a, len), 0);
	}
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, accept_n_poll, &f), 0);
	flags = weft__reactor_test_ring_flags(rt);
	*single = weft__reactor_test_single_accepts(rt);
	for (int i = 0; i < 20; i++)
		close(c[i]);
	weft_listener_close(l);
	weft_rt_destroy(rt);
	return flags;
}

Test(probe, single_shot_accept_fallback)
{
	unsigned long single;

	accept_many_with(WEFT__FEAT_MULTISHOT_ACCEPT, &single);
	/* a single-shot accept gives one connection: 20 arms at least (a
	 * multishot one would have served them all) */
	cr_assert_geq(single, 20, "%lu single-shot accepts armed", single);
}

Test(probe, ring_without_defer_taskrun)
{
	unsigned long single;
	unsigned flags = accept_many_with(WEFT__FEAT_DEFER_TASKRUN, &single);

	/* CQSIZE: weft sets it on every ring; flags come from a ring */
	cr_assert(flags & IORING_SETUP_CQSIZE, "flags %#x", flags);
	cr_assert_eq(flags & (IORING_SETUP_DEFER_TASKRUN |
			      IORING_SETUP_SINGLE_ISSUER), 0u,
		     "ring set up with flags %#x", flags);
}

Test(probe, ring_creation_failure_is_reported)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	int ret;

	weft_rt_builder_init(&b);
	b.workers = 1;
	weft__reactor_test_disable(WEFT__FEAT_RING);
	ret = weft_rt_create(&rt, &b);
	weft__reactor_test_disable(0);
	cr_assert_lt(ret, 0);
	cr_assert_null(rt);
	cr_assert(strstr(weft_rt_create_error(), "io_uring"),
		  "reason: '%s'", weft_rt_create_error());
}

struct one_sleep {
	WEFT_ASYNC;
	weft_sleep s;
};

static weft_poll one_sleep_poll(struct one_sleep *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	weft_sleep_init(&f->s, 50 * WEFT_MS);
	WEFT_AWAIT(f, weft_sleep_poll(&f->s, cx));
	WEFT_END(f);
}

Test(probe, io_disabled_runtime_gives_enodev)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	struct one_sleep f = { 0 };

	weft_rt_builder_init(&b);
	b.workers = 1;
	b.enable_io = false;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, NULL, one_sleep_poll, &f), 0);
	cr_assert_eq(f.s.err, -ENODEV);
	weft_rt_destroy(rt);
}

/* The policy of the thread named "weft-reactor" in this process (one
 * runtime at a time here), read from the kernel, not from the reactor. */
static int reactor_thread_policy(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int policy = -1;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, "weft-reactor", 12))
			policy = sched_getscheduler((pid_t)atoi(e->d_name));
		fclose(f);
	}
	closedir(d);
	return policy;
}

static weft_rt *rt_with(bool normal_sched)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;

	weft_rt_builder_init(&b);
	b.workers = 1;
	b.no_pin = true;
	b.io_entries = 64;
	b.io_normal_sched = normal_sched;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	return rt;
}

Test(probe, reactor_thread_runs_sched_batch_unless_asked_not_to)
{
	struct sched_param sp = { .sched_priority = 0 };
	weft_rt *rt;

	/* a sandbox may refuse the policy change; the reactor then stays
	 * SCHED_OTHER by design, which this test cannot tell from a bug */
	if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp))
		cr_skip_test("this sandbox refuses SCHED_BATCH");
	cr_assert_eq(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), 0);
	rt = rt_with(false);

	cr_assert_eq(weft__reactor_test_policy(rt), SCHED_BATCH);
	cr_assert_eq(reactor_thread_policy(), SCHED_BATCH);
	weft_rt_destroy(rt);

	rt = rt_with(true);
	cr_assert_eq(weft__reactor_test_policy(rt), SCHED_OTHER);
	cr_assert_eq(reactor_thread_policy(), SCHED_OTHER);
	weft_rt_destroy(rt);

	weft__reactor_test_disable(WEFT__FEAT_BATCH_SCHED);
	rt = rt_with(false);
	weft__reactor_test_disable(0);
	cr_assert_eq(reactor_thread_policy(), SCHED_OTHER);
	weft_rt_destroy(rt);
}
