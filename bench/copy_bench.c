/* bench/copy_bench.c - weft-copy-bench: a one-connection TCP proxy over
 * loopback, weft_bytes_copy_bidirectional with its splice fast path
 * against the read/write copy loop (the copy futures' test hook forces
 * it). Weft only; the lead runs it.
 *
 *   weft-copy-bench [--mib N] [--reps R]
 *
 * Each repetition forks a client process (plain blocking sockets): it
 * listens as the upstream sink, connects to the proxy, sends N MiB,
 * shuts down, and checks the sink counted N MiB and that the proxy passed
 * the half-close back. The parent is the proxy: one runtime, one accepted
 * connection, one upstream connection, one copy_bidirectional. Measured
 * in the parent from accept to the copy's end: MB/s, and the proxy
 * process's CPU time (user + system, getrusage: workers, reactor and the
 * kernel's io-wq threads) per MB. Prints JSON rows like weft-bench:
 *   {"peer":"weft","workload":"copy_proxy","n":N,"mode":"splice"|"loop",
 *    "metric":"mb_per_s"|"cpu_us_per_mb","value":V}
 * (median of R repetitions after one warm-up).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "reactor/bytes_stream.h"

struct proxy_one {
	WEFT_ASYNC;
	weft_listener *l;
	struct sockaddr_in up;
	weft_listener_accept acc;
	weft_tcp_connect con;
	weft_bytes *a, *b;
	weft_bytes_copy_bidirectional copy;
	struct timespec t0;
	struct rusage r0;
};

static weft_poll proxy_one_poll(struct proxy_one *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_AWAIT_INIT(weft_listener_accept, &f->acc, f->l);
	if (f->acc.res < 0)
		WEFT_RETURN(f->acc.res);
	clock_gettime(CLOCK_MONOTONIC, &f->t0);
	getrusage(RUSAGE_SELF, &f->r0);
	WEFT_AWAIT_INIT(weft_tcp_connect, &f->con, (struct sockaddr *)&f->up,
			sizeof(f->up), 5 * WEFT_SEC);
	if (f->con.res < 0)
		WEFT_RETURN(f->con.res);
	if (weft_bytes_from_stream(&f->a, f->acc.stream) ||
	    weft_bytes_from_stream(&f->b, f->con.stream))
		WEFT_RETURN(-ENOMEM);
	WEFT_AWAIT_INIT(weft_bytes_copy_bidirectional, &f->copy, f->a, f->b);
	WEFT_RETURN(f->copy.res);
	WEFT_END();
}

static void proxy_one_drop(struct proxy_one *f)
{
	weft_bytes_copy_bidirectional_drop(&f->copy);
	weft_bytes_drop(f->a);
	weft_bytes_drop(f->b);
}

WEFT_FUTURE(proxy_one, struct proxy_one, proxy_one_drop);

static double secs(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* The client process: returns its exit status. */
static int client(int up_fd, unsigned short proxy_port, size_t total)
{
	static char buf[1 << 16];
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(proxy_port) };
	int c = socket(AF_INET, SOCK_STREAM, 0), s;
	size_t sent = 0, got = 0;
	ssize_t n;
	pid_t sink;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(buf, 'x', sizeof(buf));
	sink = fork();
	if (sink == 0) {
		/* the upstream: reads to EOF, then closes (the half-close
		 * travels back through the proxy) */
		s = accept(up_fd, NULL, NULL);
		while ((n = read(s, buf, sizeof(buf))) > 0)
			got += (size_t)n;
		close(s);
		_exit(got == total ? 0 : 3);
	}
	if (connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 4;
	while (sent < total) {
		size_t k = total - sent < sizeof(buf) ? total - sent
						      : sizeof(buf);

		n = write(c, buf, k);
		if (n <= 0)
			return 5;
		sent += (size_t)n;
	}
	shutdown(c, SHUT_WR);
	if (read(c, buf, sizeof(buf)) != 0)
		return 6;   /* the upstream's close, passed on: EOF */
	close(c);
	waitpid(sink, &s, 0);
	return WIFEXITED(s) ? WEXITSTATUS(s) : 7;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	unsigned mib = 256, reps = 5;
	const char *modes[2] = { "splice", "loop" };

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mib"))
			mib = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = (unsigned)atoi(argv[i + 1]);
	}
	if (!mib || !reps || reps > 100)
		return 2;
	for (int m = 0; m < 2; m++) {
		double mbs[100], cpu[100];

		weft__copy_test_no_splice = m == 1;
		for (unsigned rep = 0; rep <= reps; rep++) {
			struct sockaddr_in up = { .sin_family = AF_INET };
			struct sockaddr_in pa = { .sin_family = AF_INET };
			struct sockaddr_storage ss;
			socklen_t len = sizeof(up);
			struct proxy_one f = { 0 };
			struct timespec t1;
			struct rusage r1;
			weft_listener *l;
			weft_rt *rt;
			int up_fd, st, one = 1;
			pid_t pid;
			double dt, mb = (double)mib * 1048576.0 / 1e6;

			up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			pa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			up_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			setsockopt(up_fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			if (bind(up_fd, (struct sockaddr *)&up, sizeof(up)) ||
			    listen(up_fd, 4) ||
			    getsockname(up_fd, (struct sockaddr *)&up, &len) ||
			    weft_tcp_listen(&l, (struct sockaddr *)&pa,
					    sizeof(pa), NULL) ||
			    weft_listener_local_addr(l, &ss, &len))
				return 1;
			memcpy(&pa, &ss, sizeof(pa));
			pid = fork();
			if (pid == 0)
				_exit(client(up_fd, ntohs(pa.sin_port),
					     (size_t)mib << 20));
			close(up_fd);
			if (weft_rt_create(&rt, NULL))
				return 1;
			f.l = l;
			f.up = up;
			if (WEFT_BLOCK_ON(rt, proxy_one, &f) || f.res < 0) {
				fprintf(stderr, "proxy: %ld\n", (long)f.res);
				return 1;
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			getrusage(RUSAGE_SELF, &r1);
			proxy_one_drop(&f);
			weft_rt_destroy(rt);
			weft_listener_drop(l);
			waitpid(pid, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				fprintf(stderr, "client failed: %d\n", st);
				return 1;
			}
			if (f.copy.a_to_b != (uint64_t)mib << 20)
				return 1;
			dt = (double)(t1.tv_sec - f.t0.tv_sec) +
			     (double)(t1.tv_nsec - f.t0.tv_nsec) / 1e9;
			if (rep == 0)
				continue;   /* warm-up */
			mbs[rep - 1] = mb / dt;
			cpu[rep - 1] = (secs(&r1.ru_utime) + secs(&r1.ru_stime) -
					secs(&f.r0.ru_utime) -
					secs(&f.r0.ru_stime)) * 1e6 / mb;
		}
		qsort(mbs, reps, sizeof(double), cmp);
		qsort(cpu, reps, sizeof(double), cmp);
		printf("{\"peer\":\"weft\",\"workload\":\"copy_proxy\","
		       "\"n\":%u,\"mode\":\"%s\",\"metric\":\"mb_per_s\","
		       "\"value\":%.1f}\n", mib, modes[m], mbs[reps / 2]);
		printf("{\"peer\":\"weft\",\"workload\":\"copy_proxy\","
		       "\"n\":%u,\"mode\":\"%s\",\"metric\":\"cpu_us_per_mb\","
		       "\"value\":%.1f}\n", mib, modes[m], cpu[reps / 2]);
		fflush(stdout);
	}
	return 0;
}
