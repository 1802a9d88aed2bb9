/* test/reactor/probe.c - kernel feature probing: with multishot accept
 * forced off (the test hook), accept falls back to single-shot (seen: no
 * accept is left armed after a connection, where a multishot one is) and
 * still serves every connection; with DEFER_TASKRUN forced off, the ring
 * falls back to another set-up (seen in its set-up flags); a ring that
 * cannot be created fails
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
	int armed_after;   /* the accept record's state after the last one */
	weft_listener_accept acc;
};

static weft_poll accept_n_poll(struct accept_n *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	for (f->i = 0; f->i < f->n; f->i++) {
		WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
		cr_assert_eq(f->acc.res, 0);
		weft_stream_drop(f->acc.stream);
	}
	/* nothing re-arms the accept between its READY and here: a
	 * multishot one is still in the kernel, a single-shot one ended
	 * with the connection it delivered */
	f->armed_after = weft__listener_test_armed(f->l);
	WEFT_END();
}

WEFT_FUTURE(accept_n, struct accept_n, WEFT_NO_DROP);

/* Accepts 20 connections on a runtime started with `off` forced off;
 * returns whether the accept was still armed after the last one, and
 * the ring's set-up flags in *ring_flags. */
static int accept_many_with(unsigned off, unsigned *ring_flags)
{
	weft_rt *rt;
	struct sockaddr_storage a;
	socklen_t len;
	weft_listener *l;
	int c[20];
	struct accept_n f = { .n = 20 };

	weft__reactor_test_disable(off);
	rt = test_rt(2);
	weft__reactor_test_disable(0);
	*ring_flags = weft__reactor_test_ring_flags(rt);
	l = test_listen(AF_INET, &a, &len);
	f.l = l;
	for (int i = 0; i < 20; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(c[i], (struct sockaddr *)&a, len), 0);
	}
	cr_assert_eq(WEFT_BLOCK_ON(rt, accept_n, &f), 0);
	for (int i = 0; i < 20; i++)
		close(c[i]);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
	return f.armed_after;
}

/* Whether this kernel has multishot accept (weft's own probe: it came
 * with IORING_OP_SOCKET, 5.19). */
static bool kernel_has_multishot_accept(void)
{
	struct io_uring_probe *p = io_uring_get_probe();
	bool yes = p && io_uring_opcode_supported(p, IORING_OP_SOCKET);

	if (p)
		io_uring_free_probe(p);
	return yes;
}

Test(probe, single_shot_accept_fallback)
{
	unsigned flags;

	/* every connection served, each by its own single-shot accept: none
	 * is left in the kernel after the last one */
	cr_assert_eq(accept_many_with(WEFT__FEAT_MULTISHOT_ACCEPT, &flags), 0,
		     "the accept stayed armed: multishot was not off");
}

Test(probe, multishot_accept_stays_armed)
{
	unsigned flags;

	/* the control for the test above: with multishot, the same check
	 * sees the accept still armed */
	if (!kernel_has_multishot_accept())
		cr_skip_test("this kernel has no multishot accept");
	cr_assert_eq(accept_many_with(0, &flags), 1,
		     "multishot accept not armed after a connection");
}

Test(probe, ring_without_defer_taskrun)
{
	unsigned dflt, off;

	accept_many_with(0, &dflt);
	accept_many_with(WEFT__FEAT_DEFER_TASKRUN, &off);
	/* the forced-off ring was set up another way, and served every
	 * connection */
	cr_assert_eq(off & IORING_SETUP_DEFER_TASKRUN, 0, "flags %#x", off);
	if (!(dflt & IORING_SETUP_DEFER_TASKRUN))
		cr_skip_test("this kernel has no DEFER_TASKRUN: both rings "
			     "are the fallback (flags %#x)", dflt);
	cr_assert_neq(off, dflt, "the fallback ring has the default flags");
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

Test(probe, io_disabled_runtime_gives_enodev)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	weft_sleep s = { 0 };

	weft_rt_builder_init(&b);
	b.workers = 1;
	b.enable_io = false;
	cr_assert_eq(weft_rt_create(&rt, &b), 0);
	weft_sleep_init(&s, 50 * WEFT_MS);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_sleep, &s), 0);
	cr_assert_eq(s.res, -ENODEV);
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
