/* bench/ceiling/common.h - shared bits of the two ceiling echo servers:
 * command line, the per-thread SO_REUSEPORT listener, a send that never
 * loses bytes, the http_server mode. See README.md in this directory. */
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
#include <time.h>
#include <unistd.h>

#define CEIL_THREADS 2

static void ceil_die(const char *what, int err)
{
	fprintf(stderr, "ceiling: %s: %s\n", what, strerror(err));
	exit(1);
}

/* What the server does with the bytes it receives. */
enum ceil_mode { CEIL_ECHO, CEIL_HTTP };

/* <prog> tcp_echo_server|http_server --port P [--max-seconds N]: the
 * peers' command line (../shared/peers/README.md, "Adding a peer").
 * Returns the port; *mode gets the workload. */
static int ceil_args(int argc, char **argv, enum ceil_mode *mode)
{
	int port = -1;

	if (argc > 1 && !strcmp(argv[1], "--list")) {
		puts("tcp_echo_server\nhttp_server");
		exit(0);
	}
	if (argc >= 2 && !strcmp(argv[1], "tcp_echo_server")) {
		*mode = CEIL_ECHO;
	} else if (argc >= 2 && !strcmp(argv[1], "http_server")) {
		*mode = CEIL_HTTP;
	} else {
		fprintf(stderr, "usage: %s tcp_echo_server|http_server "
			"--port P [--max-seconds N]\n", argv[0]);
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

	if (getenv("CEIL_NOPIN"))
		return;
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

/* ---- http_server: the least a keep-alive plaintext server can do. Per
 * connection one byte of state (how much of "\r\n\r\n" the last chunk
 * ended with); every complete request head gets the 115-byte response of
 * the peers' README, all of a chunk's responses in one send. No request
 * line check, no Connection: close, no 400: wrk needs none of them. */

#define CEIL_MAX_FD 65536
#define CEIL_RESP_LEN 115

struct ceil_http {
	unsigned char matched[CEIL_MAX_FD];
	time_t date_at;
	char resp[160];
	unsigned char out[64 * CEIL_RESP_LEN];
};

static struct ceil_http *ceil_http_new(void)
{
	struct ceil_http *h = calloc(1, sizeof(*h));

	if (!h)
		ceil_die("calloc", ENOMEM);
	return h;
}

/* Counts the request heads completed by p[0..n) on connection fd. */
static unsigned ceil_http_feed(struct ceil_http *h, int fd,
			       const unsigned char *p, size_t n)
{
	static const char end[] = "\r\n\r\n";
	unsigned m = h->matched[fd], heads = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == (unsigned char)end[m])
			m++;
		else
			m = p[i] == '\r';
		if (m == 4) {
			heads++;
			m = 0;
		}
	}
	h->matched[fd] = (unsigned char)m;
	return heads;
}

/* Sends `heads` responses; false when the connection is gone. */
static bool ceil_http_respond(struct ceil_http *h, int fd, unsigned heads)
{
	time_t now = time(NULL);

	if (now != h->date_at) {
		struct tm tm;
		char date[32];

		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (snprintf(h->resp, sizeof(h->resp),
			     "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
			     "Content-Type: text/plain\r\nDate: %s\r\n\r\n"
			     "Hello, World!", date) != CEIL_RESP_LEN)
			ceil_die("response length", EINVAL);
		h->date_at = now;
	}
	while (heads) {
		unsigned k = heads < 64 ? heads : 64;

		for (unsigned i = 0; i < k; i++)
			memcpy(h->out + i * CEIL_RESP_LEN, h->resp,
			       CEIL_RESP_LEN);
		if (!ceil_send_all(fd, h->out, (size_t)k * CEIL_RESP_LEN))
			return false;
		heads -= k;
	}
	return true;
}

/* What a thread serves: its index, the port, the workload. */
struct ceil_thread {
	long id;
	int port;
	enum ceil_mode mode;
};

static void ceil_run_threads(void *(*fn)(void *), int port,
			     enum ceil_mode mode)
{
	pthread_t t[CEIL_THREADS];
	struct ceil_thread a[CEIL_THREADS];

	for (long i = 0; i < CEIL_THREADS; i++) {
		a[i] = (struct ceil_thread){ i, port, mode };
		if (pthread_create(&t[i], NULL, fn, &a[i]))
			ceil_die("pthread_create", EAGAIN);
	}
	for (int i = 0; i < CEIL_THREADS; i++)
		pthread_join(t[i], NULL);
}

/* The whole main() of a ceiling server: parse, serve until killed. */
static int ceil_main(int argc, char **argv, void *(*serve)(void *))
{
	enum ceil_mode mode;
	int port = ceil_args(argc, argv, &mode);

	ceil_run_threads(serve, port, mode);
	return 0;
}

#endif
