/* test/reactor/helpers.h - small helpers shared by the reactor tests:
 * runtime creation, joining a task, loopback addresses, descriptor
 * counts, and a macro for the debug-build misuse tests. */
#ifndef WEFT_TEST_REACTOR_HELPERS_H
#define WEFT_TEST_REACTOR_HELPERS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>

#include "weft.h"

static inline weft_rt *test_rt(unsigned workers)
{
	weft_rt_builder b;
	weft_rt *rt = NULL;
	int ret;

	weft_rt_builder_init(&b);
	b.workers = workers;
	b.current_thread = workers == 0;
	b.no_pin = true;
	b.io.entries = 256;
	ret = weft_rt_create(&rt, &b);
	cr_assert_eq(ret, 0, "weft_rt_create: %d (%s)", ret,
		     weft_rt_create_error());
	return rt;
}

/* Waits for the task of j from the test thread and releases the handle:
 * the task's output, or -ECANCELED. */
static inline intptr_t test_join(weft_rt *rt, weft_join *j)
{
	weft_join_wait w = { 0 };

	weft_join_wait_init(&w, j);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_join_wait, &w), 0);
	weft_join_drop(j);
	return w.res;
}

/* Polls the future fut (of weft_future_type *type) once from a task of
 * rt and returns what that poll returned: leaves an operation in flight
 * for the misuse and drop tests. TEST_POLL_ONCE(rt, weft_xxx, &fut). */
struct test_poll_once {
	WEFT_ASYNC;
	const weft_future_type *type;
	void *fut;
};

static weft_poll test_poll_once_poll(struct test_poll_once *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(f->type->poll(f->fut, cx));
	WEFT_END();
}

WEFT_FUTURE(test_poll_once, struct test_poll_once, WEFT_NO_DROP);

static inline weft_poll test_poll_once(weft_rt *rt,
				       const weft_future_type *type, void *fut)
{
	struct test_poll_once f = { .type = type, .fut = fut };

	cr_assert_eq(WEFT_BLOCK_ON(rt, test_poll_once, &f), 0);
	return (weft_poll)f.res;
}

#define TEST_POLL_ONCE(rt, name, fut)                                       \
	test_poll_once((rt), &name##_future, (name *)(fut))

static inline socklen_t test_loopback(struct sockaddr_storage *ss, int family,
				      unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		return sizeof(*a);
	}
}

/* Listens on the loopback address of family, port 0; *addr gets the real
 * address to connect to. */
static inline weft_listener *test_listen(int family,
					 struct sockaddr_storage *addr,
					 socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t n = test_loopback(&ss, family, 0);
	weft_listener *l = NULL;
	int ret = weft_tcp_listen(&l, (struct sockaddr *)&ss, n, NULL);

	cr_assert_eq(ret, 0, "listen: %d", ret);
	cr_assert_eq(weft_listener_local_addr(l, addr, len), 0);
	return l;
}

static inline int test_fd_count(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* The debug-build checks (weft built without NDEBUG, as the tests are)
 * abort with a message: a test of one expects SIGABRT. Under NDEBUG the
 * test is compiled as a skip. */
#ifndef NDEBUG
#define TEST_MISUSE(suite, name) Test(suite, name, .signal = SIGABRT)
#else
#define TEST_MISUSE(suite, name)                                            \
	static void suite##_##name##_misuse_(void);                          \
	Test(suite, name)                                                    \
	{                                                                    \
		cr_skip_test("debug checks are compiled out (NDEBUG)");      \
		suite##_##name##_misuse_();                                  \
	}                                                                    \
	static void suite##_##name##_misuse_(void)
#endif

#endif
