/* bench/ceiling/common.h - shared bits of the two ceiling echo servers:
 * command line, the per-thread SO_REUSEPORT listener, a send that never
 * loses bytes. See README.md in this directory. */
#ifndef WEFT_CEILING_COMMON_H
#define WEFT_CEILING_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CEIL_THREADS 2

static void ceil_die(const char *what, int err)
{
	fprintf(stderr, "ceiling: %s: %s\n", what, strerror(err));
	exit(1);
}

/* <prog> tcp_echo_server --port P [--max-seconds N]: the peers' command
 * line (../shared/peers/README.md, "Adding a peer"). Returns the port. */
static int ceil_args(int argc, char **argv)
{
	int port = -1;

	if (argc > 1 && !strcmp(argv[1], "--list")) {
		puts("tcp_echo_server");
		exit(0);
	}
	if (argc < 2 || strcmp(argv[1], "tcp_echo_server")) {
		fprintf(stderr, "usage: %s tcp_echo_server --port P "
			"[--max-seconds N]\n", argv[0]);
		exit(2);
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--max-seconds"))
			alarm((unsigned)atoi(argv[i + 1])); /* SIGALRM ends it */
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "ceiling: --port P is required\n");
		exit(2);
	}
	return port;
}

/* Pins the calling thread to CPU id (as weft pins its workers). */
static void ceil_pin(long id)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	CPU_SET((int)(id % (n > 0 ? n : 1)), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* One listener per thread on 127.0.0.1:port (SO_REUSEPORT: the kernel
 * spreads connections over the threads). */
static int ceil_listen(int port, int flags)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((unsigned short)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | flags, 0);

	if (fd < 0)
		ceil_die("socket", errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024))
		ceil_die("listen", errno);
	return fd;
}

static void ceil_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Sends all of buf: one non-blocking send (the only call the workload
 * ever needs), then waits for room for whatever is left. Returns false
 * when the connection is gone. */
static bool ceil_send_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, -1);
		} else {
			return false;
		}
	}
	return true;
}

static void ceil_run_threads(void *(*fn)(void *), int port)
{
	pthread_t t[CEIL_THREADS];

	for (long i = 0; i < CEIL_THREADS; i++)
		if (pthread_create(&t[i], NULL, fn, (void *)(((long)port << 8) | i)))
			ceil_die("pthread_create", EAGAIN);
	for (int i = 0; i < CEIL_THREADS; i++)
		pthread_join(t[i], NULL);
}

#endif
