/* test/reactor/dns.c - name resolution on the blocking pool (localhost,
 * a name that does not exist, numeric hosts, services, bad arguments, a
 * resolve dropped before it finishes) and connecting to several addresses
 * with Happy Eyeballs (IPv6 first, a refused address skipped at once, the
 * next attempt after the delay when one hangs, the per-attempt timeout,
 * dropping in flight) and by name. */
#include <netdb.h>
#include <poll.h>

#include "helpers.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_LSAN 1
#endif
#endif
#ifdef TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static bool is_loopback(const weft_addr *a)
{
	if (a->addr.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->addr)->sin_addr.s_addr ==
		       htonl(INADDR_LOOPBACK);
	if (a->addr.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
			&((const struct sockaddr_in6 *)&a->addr)->sin6_addr);
	return false;
}

static unsigned short port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static intptr_t resolve(weft_rt *rt, const char *host, const char *service,
			const struct addrinfo *hints, weft_addr_list **out)
{
	weft_dns_resolve r = { 0 };

	weft_dns_resolve_init(&r, host, service, hints);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_dns_resolve, &r), 0);
	*out = r.list;
	if (r.res <= 0)
		cr_assert_null(r.list);
	return r.res;
}

/* ---------------------------------------------------------- resolve */

Test(dns, localhost_resolves_to_loopback_with_the_port)
{
	weft_rt *rt = test_rt(2);
	weft_addr_list *l;
	intptr_t n = resolve(rt, "localhost", "8080", NULL, &l);
	bool v4 = false;

	cr_assert_gt(n, 0, "resolve: %ld", (long)n);
	cr_assert_eq((size_t)n, l->count);
	for (size_t i = 0; i < l->count; i++) {
		cr_assert(is_loopback(&l->addrs[i]), "address %zu", i);
		cr_assert_eq(port_of(&l->addrs[i].addr), 8080);
		v4 |= l->addrs[i].addr.ss_family == AF_INET;
		for (size_t j = 0; j < i; j++) /* distinct */
			cr_assert(l->addrs[i].len != l->addrs[j].len ||
				  memcmp(&l->addrs[i].addr, &l->addrs[j].addr,
					 l->addrs[i].len));
	}
	cr_assert(v4, "no 127.0.0.1 for localhost");
	weft_addr_list_destroy(l);
	weft_rt_destroy(rt);
}

Test(dns, localhost_by_family)
{
	weft_rt *rt = test_rt(1);
	struct addrinfo h = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	weft_addr_list *l;
	intptr_t n = resolve(rt, "localhost", NULL, &h, &l);

	cr_assert_gt(n, 0);
	for (size_t i = 0; i < l->count; i++)
		cr_assert_eq(l->addrs[i].addr.ss_family, AF_INET);
	weft_addr_list_destroy(l);
	h.ai_family = AF_INET6;
	n = resolve(rt, "localhost", NULL, &h, &l);
	if (n > 0) { /* ::1 is in /etc/hosts on this host */
		for (size_t i = 0; i < l->count; i++) {
			cr_assert_eq(l->addrs[i].addr.ss_family, AF_INET6);
			cr_assert(is_loopback(&l->addrs[i]));
		}
		weft_addr_list_destroy(l);
	} else {
		cr_assert_eq(n, -ENOENT, "v6 localhost: %ld", (long)n);
	}
	weft_rt_destroy(rt);
}

Test(dns, a_name_that_does_not_exist)
{
	weft_rt *rt = test_rt(1);
	weft_addr_list *l;
	intptr_t n = resolve(rt, "does-not-exist.invalid", "80", NULL, &l);

	/* -EAGAIN where no name server can be reached at all */
	cr_assert(n == -ENOENT || n == -EAGAIN, "resolve: %ld", (long)n);
	weft_rt_destroy(rt);
}

Test(dns, numeric_host_service_errors_and_bad_arguments)
{
	weft_rt *rt = test_rt(1);
	struct addrinfo h = { .ai_flags = AI_NUMERICHOST,
			      .ai_socktype = SOCK_STREAM };
	char longname[WEFT_DNS_HOST_MAX + 2];
	weft_addr_list *l;
	intptr_t n;

	n = resolve(rt, "127.0.0.1", "4242", &h, &l);
	cr_assert_eq(n, 1);
	cr_assert_eq(l->addrs[0].len, sizeof(struct sockaddr_in));
	cr_assert_eq(port_of(&l->addrs[0].addr), 4242);
	weft_addr_list_destroy(l);
	cr_assert_eq(resolve(rt, "localhost", "1", &h, &l), -ENOENT);
	cr_assert_eq(resolve(rt, "127.0.0.1", "no-such-service-weft", NULL, &l),
		     -ESRCH);
	cr_assert_eq(resolve(rt, NULL, NULL, NULL, &l), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(resolve(rt, longname, "1", NULL, &l), -ENAMETOOLONG);
	weft_rt_destroy(rt);
}

/* Many resolves dropped right after their first poll: some not started
 * (aborted), some running on a pool thread (their result freed there).
 * In ASan builds LeakSanitizer checks at the end that no list or job is
 * left. */
Test(dns, dropped_resolves_neither_leak_nor_block)
{
	weft_rt *rt = test_rt(2);
	static weft_dns_resolve r[64];
	weft_addr_list *l;

	for (int i = 0; i < 64; i++) {
		weft_dns_resolve_init(&r[i], "localhost", "80", NULL);
		TEST_POLL_ONCE(rt, weft_dns_resolve, &r[i]);
		weft_dns_resolve_drop(&r[i]);
		weft_dns_resolve_drop(&r[i]); /* idempotent */
	}
	/* the pool still works, and a resolve after them completes */
	cr_assert_gt(resolve(rt, "localhost", "80", NULL, &l), 0);
	weft_addr_list_destroy(l);
	weft_rt_destroy(rt);
#ifdef TEST_LSAN
	/* the pool threads are gone: every job and list must be freed */
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks (above)");
#endif
}

/* ------------------------------------------------------ Happy Eyeballs */

static weft_addr addr_of(int family, unsigned short port)
{
	weft_addr a;

	a.len = test_loopback(&a.addr, family, port);
	return a;
}

/* A loopback port where a connect is refused: bound, not listening (the
 * socket keeps the port from being reused meanwhile). */
static int closed_port(int family, unsigned short *port)
{
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, family, 0);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = port_of(&ss);
	return fd;
}

static bool have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	socklen_t len = test_loopback(&ss, AF_INET6, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A listener whose accept queue is full (never accepted): a further
 * connect to it hangs (its SYNs are dropped). fds[8] are the fillers. */
static weft_listener *hanging_listener(weft_addr *a, int fds[8])
{
	weft_listen_opts o = { .backlog = 1 };
	struct sockaddr_storage any;
	socklen_t anylen = test_loopback(&any, AF_INET, 0);
	weft_listener *l;

	cr_assert_eq(weft_tcp_listen(&l, (struct sockaddr *)&any, anylen, &o), 0);
	weft_listener_local_addr(l, &a->addr, &a->len);
	for (int i = 0; i < 8; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fds[i], (struct sockaddr *)&a->addr, a->len);
	}
	usleep(20000);
	return l;
}

/* Runs a connect_addrs with a generous hang guard: -ETIME if the guard
 * fired first. */
struct guarded {
	WEFT_ASYNC;
	weft_tcp_connect_addrs *c;
	weft_sleep guard;
	bool started;
};

static weft_poll guarded_poll(struct guarded *f, weft_cx *cx)
{
	if (!f->started) {
		weft_sleep_init(&f->guard, 30 * WEFT_SEC);
		f->started = true;
	}
	if (weft_tcp_connect_addrs_poll(f->c, cx) == WEFT_READY) {
		weft_sleep_drop(&f->guard);
		f->res = 0;
		return WEFT_READY;
	}
	if (weft_sleep_poll(&f->guard, cx) == WEFT_READY) {
		weft_tcp_connect_addrs_drop(f->c);
		f->res = -ETIME;
		return WEFT_READY;
	}
	return WEFT_PENDING;
}

WEFT_FUTURE(guarded, struct guarded, WEFT_NO_DROP);

static void run_guarded(weft_rt *rt, weft_tcp_connect_addrs *c)
{
	struct guarded g = { .c = c };

	cr_assert_eq(WEFT_BLOCK_ON(rt, guarded, &g), 0);
	cr_assert_eq(g.res, 0, "the hang guard fired");
}

/* localhost as ::1 and 127.0.0.1, a listener only on 127.0.0.1: the v6
 * attempt is refused and the v4 one connects, with no delay needed. */
Test(happy_eyeballs, refused_v6_falls_back_to_v4)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage la, peer;
	socklen_t llen, plen;
	weft_listener *l = test_listen(AF_INET, &la, &llen);
	weft_tcp_connect_addrs c = { 0 };
	weft_addr list[2];
	unsigned short p6;
	int hold;

	if (!have_ipv6())
		cr_skip_test("no IPv6 loopback");
	hold = closed_port(AF_INET6, &p6);
	list[0] = addr_of(AF_INET, port_of(&la));
	list[1] = addr_of(AF_INET6, p6);
	weft_tcp_connect_addrs_init(&c, list, 2, 0);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.addrs[0].addr.ss_family, AF_INET6, "IPv6 goes first");
	c.attempt_delay = 60 * WEFT_SEC; /* only the refusal moves it on */
	run_guarded(rt, &c);
	cr_assert_eq(c.res, 0, "connect: %ld", (long)c.res);
	cr_assert_eq(c.winner, 1);
	cr_assert_eq(weft_stream_peer_addr(c.stream, &peer, &plen), 0);
	cr_assert_eq(peer.ss_family, AF_INET);
	cr_assert_eq(port_of(&peer), port_of(&la));
	weft_stream_drop(c.stream);
	close(hold);
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}

/* Both families listening: IPv6 is tried first, and with a long delay
 * the v4 address is never tried at all. */
Test(happy_eyeballs, ipv6_first_and_no_second_attempt_when_it_connects)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage a4, a6;
	socklen_t l4, l6;
	weft_listener *v4, *v6;
	weft_tcp_connect_addrs c = { 0 };
	weft_addr list[2];

	if (!have_ipv6())
		cr_skip_test("no IPv6 loopback");
	v4 = test_listen(AF_INET, &a4, &l4);
	v6 = test_listen(AF_INET6, &a6, &l6);
	list[0] = addr_of(AF_INET, port_of(&a4));
	list[1] = addr_of(AF_INET6, port_of(&a6));
	weft_tcp_connect_addrs_init(&c, list, 2, 0);
	c.attempt_delay = 60 * WEFT_SEC;
	run_guarded(rt, &c);
	cr_assert_eq(c.res, 0);
	cr_assert_eq(c.addrs[c.winner].addr.ss_family, AF_INET6);
	/* nothing reached the v4 listener */
	{
		struct pollfd pfd = { .fd = weft_listener_fd(v4),
				      .events = POLLIN };

		cr_assert_eq(poll(&pfd, 1, 0), 0);
	}
	weft_stream_drop(c.stream);
	weft_listener_drop(v4);
	weft_listener_drop(v6);
	weft_rt_destroy(rt);
}

/* The first address hangs: the second is started after the delay (not
 * after the first gives up: it has no timeout) and wins; the hanging
 * attempt is cancelled and its socket closed. */
Test(happy_eyeballs, next_attempt_after_the_delay_wins_over_a_hanging_one)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage la;
	socklen_t llen;
	weft_listener *ok = test_listen(AF_INET, &la, &llen);
	weft_tcp_connect_addrs c = { 0 };
	weft_addr list[2];
	int fds[8], before;
	weft_listener *hang = hanging_listener(&list[0], fds);

	list[1] = addr_of(AF_INET, port_of(&la));
	before = test_fd_count();
	weft_tcp_connect_addrs_init(&c, list, 2, 0);
	c.attempt_delay = 50 * WEFT_MS;
	run_guarded(rt, &c);
	cr_assert_eq(c.res, 0, "connect: %ld", (long)c.res);
	cr_assert_eq(c.winner, 1);
	weft_stream_drop(c.stream);
	/* the losing attempt's socket goes once its cancel completes */
	for (int i = 0; i < 500 && test_fd_count() > before; i++)
		usleep(10000);
	cr_assert_eq(test_fd_count(), before);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	weft_listener_drop(hang);
	weft_listener_drop(ok);
	weft_rt_destroy(rt);
}

Test(happy_eyeballs, per_attempt_timeout_and_refusals_give_the_last_error)
{
	weft_rt *rt = test_rt(1);
	weft_tcp_connect_addrs c = { 0 };
	weft_addr list[2];
	unsigned short p1, p2;
	int fds[8], h1 = closed_port(AF_INET, &p1), h2 = closed_port(AF_INET, &p2);
	weft_listener *hang = hanging_listener(&list[0], fds);

	weft_tcp_connect_addrs_init(&c, list, 1, 100 * WEFT_MS);
	run_guarded(rt, &c);
	cr_assert_eq(c.res, -ETIMEDOUT);
	list[0] = addr_of(AF_INET, p1);
	list[1] = addr_of(AF_INET, p2);
	weft_tcp_connect_addrs_init(&c, list, 2, 0);
	run_guarded(rt, &c);
	cr_assert_eq(c.res, -ECONNREFUSED);
	cr_assert_null(c.stream);
	weft_tcp_connect_addrs_init(&c, list, 0, 0);
	run_guarded(rt, &c);
	cr_assert_eq(c.res, -EINVAL);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	close(h1);
	close(h2);
	weft_listener_drop(hang);
	weft_rt_destroy(rt);
}

Test(happy_eyeballs, dropped_in_flight_closes_every_socket)
{
	weft_rt *rt = test_rt(1);
	weft_tcp_connect_addrs c = { 0 };
	weft_addr list[3];
	int fds[8], before;
	weft_listener *hang = hanging_listener(&list[0], fds);

	list[1] = list[0];
	list[2] = list[0];
	before = test_fd_count();
	weft_tcp_connect_addrs_init(&c, list, 3, 0);
	c.attempt_delay = 1 * WEFT_MS;
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_tcp_connect_addrs, &c),
		     WEFT_PENDING);
	usleep(20000); /* let the delay pass: a second attempt starts */
	cr_assert_eq(TEST_POLL_ONCE(rt, weft_tcp_connect_addrs, &c),
		     WEFT_PENDING);
	cr_assert_geq(c.active, 2);
	weft_tcp_connect_addrs_drop(&c);
	cr_assert_eq(c.active, 0);
	for (int i = 0; i < 500 && test_fd_count() > before; i++)
		usleep(10000);
	cr_assert_eq(test_fd_count(), before);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	weft_listener_drop(hang);
	weft_rt_destroy(rt);
}

/* ----------------------------------------------------- connect by name */

Test(connect_name, localhost_connects_to_a_v4_listener)
{
	weft_rt *rt = test_rt(2);
	struct sockaddr_storage la;
	socklen_t llen;
	weft_listener *l = test_listen(AF_INET, &la, &llen);
	weft_tcp_connect_name c = { 0 };
	char port[8];

	snprintf(port, sizeof(port), "%u", port_of(&la));
	weft_tcp_connect_name_init(&c, "localhost", port, 10 * WEFT_SEC);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect_name, &c), 0);
	cr_assert_eq(c.res, 0, "connect: %ld", (long)c.res);
	weft_stream_drop(c.stream);
	weft_tcp_connect_name_init(&c, "does-not-exist.invalid", port, 0);
	cr_assert_eq(WEFT_BLOCK_ON(rt, weft_tcp_connect_name, &c), 0);
	cr_assert(c.res == -ENOENT || c.res == -EAGAIN, "%ld", (long)c.res);
	weft_tcp_connect_name_init(&c, "localhost", port, 0);
	TEST_POLL_ONCE(rt, weft_tcp_connect_name, &c);
	weft_tcp_connect_name_drop(&c); /* mid-resolve: nothing leaks */
	weft_listener_drop(l);
	weft_rt_destroy(rt);
}
