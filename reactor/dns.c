/* reactor/dns.c - name resolution (weft/net.h): the weft_dns_resolve
 * future, getaddrinfo(3) on the runtime's blocking pool, and the address
 * list it returns.
 *
 * The lookup and the waiting future share one heap job (struct
 * weft__dns_job) with two references: the pool's (released by the pool's
 * release function, after the lookup returned or instead of it when the
 * task was aborted first) and the future's (released when it completes or
 * is dropped). The lookup writes its result list into the job; the future
 * takes it (sets the job's pointer to NULL) when the join reports READY.
 * Whichever reference goes last frees the job, and with it a list nobody
 * took: so a dropped resolve never waits for a lookup in progress (the
 * pool thread finishes it and frees the result) and never leaks it.
 *
 * Pairs: job->refs is decremented acq_rel (job_put): the last put sees the
 * other side's writes to job->list before freeing it. The list written by
 * the lookup is seen by the future through the join: the task's
 * completion (release) -> weft_join_wait's READY (acquire), runtime/.
 */
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/net.h"
#include "weft/rt.h"

struct weft__dns_job {
	atomic_uint refs;          /* the pool's and the future's */
	char host[WEFT_DNS_HOST_MAX + 1];
	char service[WEFT_DNS_SERVICE_MAX + 1];
	bool has_host, has_service;
	struct addrinfo hints;
	weft_addr_list *list;      /* the lookup's result until taken */
};

static void job_put(struct weft__dns_job *job)
{
	/* acq_rel: releases this side's use of the job; the last put
	 * acquires the other's (its write of job->list) before freeing */
	if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) != 1)
		return;
	weft_addr_list_destroy(job->list);
	free(job);
}

static void job_release(void *arg)
{
	job_put(arg);
}

void weft_addr_list_destroy(weft_addr_list *l)
{
	free(l);
}

/* getaddrinfo's errors as negative errnos (the table in weft/net.h). */
static int map_eai(int e, int sys_errno)
{
	switch (e) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return -ENOENT;
	case EAI_SERVICE:
		return -ESRCH;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_FAIL:
		return -EIO;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_FAMILY:
		return -EAFNOSUPPORT;
	case EAI_SOCKTYPE:
		return -ESOCKTNOSUPPORT;
	case EAI_BADFLAGS:
		return -EINVAL;
	case EAI_SYSTEM:
		return sys_errno > 0 ? -sys_errno : -EIO;
	default:
		return -EIO;
	}
}

static bool is_listed(const weft_addr *a, size_t n, const struct addrinfo *ai)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].len == ai->ai_addrlen &&
		    memcmp(&a[i].addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return true;
	return false;
}

/* The first WEFT_DNS_MAX_ADDRS distinct IPv4/IPv6 addresses of res, in
 * one allocation; NULL (with *err) when there are none or no memory. */
static weft_addr_list *list_of(const struct addrinfo *res, int *err)
{
	weft_addr_list *l = malloc(sizeof(*l) +
				   WEFT_DNS_MAX_ADDRS * sizeof(weft_addr));
	size_t n = 0;

	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	l->addrs = (weft_addr *)(void *)(l + 1);
	for (; res && n < WEFT_DNS_MAX_ADDRS; res = res->ai_next) {
		if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
		    res->ai_addrlen > sizeof(l->addrs[0].addr) ||
		    is_listed(l->addrs, n, res))
			continue;
		memset(&l->addrs[n].addr, 0, sizeof(l->addrs[n].addr));
		memcpy(&l->addrs[n].addr, res->ai_addr, res->ai_addrlen);
		l->addrs[n].len = res->ai_addrlen;
		n++;
	}
	if (!n) {
		free(l);
		*err = -ENOENT;
		return NULL;
	}
	l->count = n;
	return l;
}

/* On a pool thread: the lookup. Returns the count or -errno. */
static intptr_t job_run(void *arg)
{
	struct weft__dns_job *job = arg;
	struct addrinfo *res = NULL;
	int e, err = 0;

	errno = 0;
	e = getaddrinfo(job->has_host ? job->host : NULL,
			job->has_service ? job->service : NULL, &job->hints,
			&res);
	if (e)
		return map_eai(e, errno);
	job->list = list_of(res, &err);
	freeaddrinfo(res);
	return job->list ? (intptr_t)job->list->count : err;
}

/* Copies s into dst (cap bytes with the NUL); false when too long. */
static bool copy_name(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		return false;
	memcpy(dst, s, n + 1);
	return true;
}

void weft_dns_resolve_init(weft_dns_resolve *r, const char *host,
			   const char *service, const struct addrinfo *hints)
{
	WEFT_DEBUG_CHECK(!r->job && !r->join, "weft_dns_resolve_init",
			 "the resolve is still in flight (its job would "
			 "leak); call weft_dns_resolve_drop first");
	memset(r, 0, sizeof(*r));
	r->family = hints ? hints->ai_family : AF_UNSPEC;
	r->socktype = hints ? hints->ai_socktype : SOCK_STREAM;
	r->protocol = hints ? hints->ai_protocol : 0;
	r->flags = hints ? hints->ai_flags : 0;
	if (!host && !service) {
		r->res = -EINVAL; /* reported at the first poll */
		return;
	}
	r->has_host = host != NULL;
	r->has_service = service != NULL;
	if ((host && !copy_name(r->host, sizeof(r->host), host)) ||
	    (service && !copy_name(r->service, sizeof(r->service), service)))
		r->res = -ENAMETOOLONG;
}

static int resolve_start(weft_dns_resolve *r, weft_cx *cx)
{
	weft_rt *rt = cx->rt ? (weft_rt *)cx->rt : weft_rt_current();
	struct weft__dns_job *job;
	int ret;

	if (!rt)
		return -ENODEV;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	atomic_init(&job->refs, 2);
	memcpy(job->host, r->host, sizeof(job->host));
	memcpy(job->service, r->service, sizeof(job->service));
	job->has_host = r->has_host;
	job->has_service = r->has_service;
	job->hints.ai_flags = r->flags;
	job->hints.ai_family = r->family;
	job->hints.ai_socktype = r->socktype;
	job->hints.ai_protocol = r->protocol;
	ret = weft_spawn_blocking(rt, job_run, job, job_release, &r->join);
	if (ret) {
		free(job); /* not taken: release did not run */
		r->join = NULL;
		return ret;
	}
	r->job = job;
	weft_join_wait_init(&r->wait, r->join);
	return 0;
}

weft_poll weft_dns_resolve_poll(weft_dns_resolve *r, weft_cx *cx)
{
	if (!r->job) {
		if (r->res < 0)
			return WEFT_READY;
		r->res = resolve_start(r, cx);
		if (r->res < 0)
			return WEFT_READY;
	}
	if (weft_join_wait_poll(&r->wait, cx) == WEFT_PENDING)
		return WEFT_PENDING;
	r->res = r->wait.res;
	if (r->res > 0) {
		r->list = r->job->list;
		r->job->list = NULL;
	}
	weft_join_drop(r->join);
	r->join = NULL;
	job_put(r->job);
	r->job = NULL;
	return WEFT_READY;
}

void weft_dns_resolve_drop(weft_dns_resolve *r)
{
	if (!r->job)
		return;
	/* a lookup not started is not run; a running one finishes on its
	 * pool thread, and the last job_put frees its result */
	weft_join_abort(r->join);
	weft_join_wait_drop(&r->wait);
	weft_join_drop(r->join);
	r->join = NULL;
	job_put(r->job);
	r->job = NULL;
}

WEFT_FUTURE_DEFINE(weft_dns_resolve, weft_dns_resolve_drop);
