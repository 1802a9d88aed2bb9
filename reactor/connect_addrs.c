/* reactor/connect_addrs.c - connecting to one of several addresses (Happy
 * Eyeballs, RFC 8305 in its simple form) and connect by name on top of it
 * (weft/net.h): weft_tcp_connect_addrs and weft_tcp_connect_name.
 *
 * weft_tcp_connect_addrs is a composition of weft_tcp_connect futures in
 * its own frame, with no record or thread of its own:
 *   - _init copies the addresses in attempt order: IPv6 and then IPv4,
 *     interleaved (v6, v4, v6, ...), each family in the caller's order,
 *     at most WEFT_CONNECT_ATTEMPTS_MAX;
 *   - each poll polls every attempt in flight; the first to connect wins
 *     (the others are dropped: weft_tcp_connect_drop cancels the connect
 *     and the socket is closed when its record is freed); a failed one
 *     is recorded (its error is the result if it is the last) and lets the
 *     next attempt start at once;
 *   - otherwise the next attempt starts when none is in flight, or when
 *     the delay timer (attempt_delay after the last start) fires.
 * So at most WEFT_CONNECT_ATTEMPTS_MAX sockets and one timer exist per
 * future, and dropping it drops them all. No atomics here.
 *
 * weft_tcp_connect_name is weft_dns_resolve followed by the above; the
 * resolved list is copied into the connect at its _init and destroyed at
 * once.
 */
#include <errno.h>
#include <string.h>

#include "weft/net.h"

/* ------------------------------------------------------ connect_addrs */

static void connect_addrs_check_idle(const weft_tcp_connect_addrs *c)
{
	WEFT_DEBUG_CHECK(!c->active && !c->delay.op,
			 "weft_tcp_connect_addrs_init",
			 "attempts are still in flight (their sockets would "
			 "leak); call weft_tcp_connect_addrs_drop first");
	(void)c;
}

/* Appends the addresses of one family (v6 or not) from position *pos of
 * addrs[0..n) to c, one at a time: returns false when that family has no
 * more. */
static bool take_next_of(weft_tcp_connect_addrs *c, const weft_addr *addrs,
			 size_t n, size_t *pos, bool v6)
{
	for (; *pos < n; (*pos)++) {
		const weft_addr *a = &addrs[*pos];

		if ((a->addr.ss_family == AF_INET6) != v6 ||
		    a->len > sizeof(a->addr))
			continue;
		c->addrs[c->n++] = *a;
		(*pos)++;
		return true;
	}
	return false;
}

void weft_tcp_connect_addrs_init(weft_tcp_connect_addrs *c,
				 const weft_addr *addrs, size_t n,
				 weft_duration per_attempt_timeout)
{
	size_t p6 = 0, p4 = 0;
	bool more6 = true, more4 = true;

	connect_addrs_check_idle(c);
	memset(c, 0, sizeof(*c));
	c->timeout = per_attempt_timeout;
	c->attempt_delay = WEFT_CONNECT_ATTEMPT_DELAY;
	c->last_err = -EINVAL; /* n == 0: nothing to try */
	if (!addrs)
		return;
	while ((more6 || more4) && c->n < WEFT_CONNECT_ATTEMPTS_MAX) {
		if (more6)
			more6 = take_next_of(c, addrs, n, &p6, true);
		if (more4 && c->n < WEFT_CONNECT_ATTEMPTS_MAX)
			more4 = take_next_of(c, addrs, n, &p4, false);
	}
}

/* Starts attempt c->next and re-arms the delay timer for the one after. */
static void start_attempt(weft_tcp_connect_addrs *c)
{
	unsigned i = c->next++;

	weft_tcp_connect_init(&c->attempt[i],
			      (const struct sockaddr *)&c->addrs[i].addr,
			      c->addrs[i].len, c->timeout);
	c->in_flight[i] = true;
	c->active++;
	weft_sleep_drop(&c->delay);
	weft_sleep_init(&c->delay, c->attempt_delay ? c->attempt_delay
						    : WEFT_CONNECT_ATTEMPT_DELAY);
}

/* Cancels every attempt in flight but `keep` (their sockets are closed
 * when their records go) and the timer. */
static void drop_attempts(weft_tcp_connect_addrs *c, unsigned keep)
{
	for (unsigned i = 0; i < c->next; i++) {
		if (!c->in_flight[i] || i == keep)
			continue;
		weft_tcp_connect_drop(&c->attempt[i]);
		c->in_flight[i] = false;
		c->active--;
	}
	weft_sleep_drop(&c->delay);
}

/* Polls every attempt in flight: the index of the winner, or -1 (*failed
 * set when one failed this time). */
static int poll_attempts(weft_tcp_connect_addrs *c, weft_cx *cx, bool *failed)
{
	for (unsigned i = 0; i < c->next; i++) {
		weft_tcp_connect *a = &c->attempt[i];

		if (!c->in_flight[i] ||
		    weft_tcp_connect_poll(a, cx) == WEFT_PENDING)
			continue;
		c->in_flight[i] = false;
		c->active--;
		if (a->res == 0)
			return (int)i;
		c->last_err = a->res;
		*failed = true;
	}
	return -1;
}

weft_poll weft_tcp_connect_addrs_poll(weft_tcp_connect_addrs *c, weft_cx *cx)
{
	for (;;) {
		bool failed = false, start = false;
		int win = poll_attempts(c, cx, &failed);

		if (win >= 0) {
			drop_attempts(c, (unsigned)win);
			c->stream = c->attempt[win].stream;
			c->winner = (unsigned)win;
			c->res = 0;
			return WEFT_READY;
		}
		if (c->next < c->n)
			start = c->active == 0 || failed ||
				weft_sleep_poll(&c->delay, cx) == WEFT_READY;
		if (!start)
			break;
		start_attempt(c); /* polled at the top of the loop */
	}
	if (c->active)
		return WEFT_PENDING;
	weft_sleep_drop(&c->delay);
	c->res = c->last_err;
	return WEFT_READY;
}

void weft_tcp_connect_addrs_drop(weft_tcp_connect_addrs *c)
{
	drop_attempts(c, WEFT_CONNECT_ATTEMPTS_MAX);
}

WEFT_FUTURE_DEFINE(weft_tcp_connect_addrs, weft_tcp_connect_addrs_drop);

/* ------------------------------------------------------- connect_name */

void weft_tcp_connect_name_init(weft_tcp_connect_name *c, const char *host,
				const char *service,
				weft_duration per_attempt_timeout)
{
	WEFT_DEBUG_CHECK(!c->resolve.job && !c->connect.active &&
				 !c->connect.delay.op,
			 "weft_tcp_connect_name_init",
			 "the connect is still in flight (its sockets or "
			 "lookup would leak); call weft_tcp_connect_name_drop "
			 "first");
	memset(c, 0, sizeof(*c));
	weft_dns_resolve_init(&c->resolve, host, service, NULL);
	c->connect.timeout = per_attempt_timeout;
}

weft_poll weft_tcp_connect_name_poll(weft_tcp_connect_name *c, weft_cx *cx)
{
	if (!c->connecting) {
		weft_duration t = c->connect.timeout;
		weft_addr_list *l;

		if (weft_dns_resolve_poll(&c->resolve, cx) == WEFT_PENDING)
			return WEFT_PENDING;
		if (c->resolve.res < 0) {
			c->res = c->resolve.res;
			return WEFT_READY;
		}
		l = c->resolve.list;
		c->resolve.list = NULL;
		c->connect.timeout = 0;
		weft_tcp_connect_addrs_init(&c->connect, l->addrs, l->count, t);
		weft_addr_list_destroy(l);
		c->connecting = true;
	}
	if (weft_tcp_connect_addrs_poll(&c->connect, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	c->res = c->connect.res;
	c->stream = c->connect.stream;
	c->connecting = false;
	return WEFT_READY;
}

void weft_tcp_connect_name_drop(weft_tcp_connect_name *c)
{
	weft_dns_resolve_drop(&c->resolve);
	weft_tcp_connect_addrs_drop(&c->connect);
}

WEFT_FUTURE_DEFINE(weft_tcp_connect_name, weft_tcp_connect_name_drop);
