/* bench/ceiling/epoll_echo.c - the epoll ceiling: two pinned threads, each
 * with its own epoll instance and SO_REUSEPORT listener; edge-triggered;
 * read until EAGAIN, write each chunk straight back (tcp_echo_server) or
 * answer its complete request heads in one write (http_server). No runtime, no tasks,
 * no allocation: what tokio's design costs at the least. */
#include "common.h"

#include <sys/epoll.h>

static void *serve(void *arg)
{
	const struct ceil_thread *th = arg;
	struct ceil_http *http = th->mode == CEIL_HTTP ? ceil_http_new() : NULL;
	struct epoll_event ev = { .events = EPOLLIN }, evs[1024];
	unsigned char buf[4096];
	int ep = epoll_create1(EPOLL_CLOEXEC), ls;

	ceil_pin(th->id);
	if (ep < 0)
		ceil_die("epoll_create1", errno);
	ls = ceil_listen(th->port, SOCK_NONBLOCK);
	ev.data.fd = ls;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev))
		ceil_die("epoll_ctl", errno);
	for (;;) {
		int n = epoll_wait(ep, evs, 1024, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, c;

			if (fd == ls) {
				while ((c = accept4(ls, NULL, NULL,
						    SOCK_NONBLOCK)) >= 0) {
					struct epoll_event e = {
						.events = EPOLLIN | EPOLLET,
						.data.fd = c };

					if (c >= CEIL_MAX_FD ||
					    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e)) {
						close(c);
						continue;
					}
					ceil_nodelay(c);
					if (http)
						http->matched[c] = 0;
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r > 0 && (http ? ceil_http_respond(http, fd,
						ceil_http_feed(http, fd, buf,
							       (size_t)r)) :
					      ceil_send_all(fd, buf, (size_t)r)))
					continue;
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && errno == EAGAIN)
					break;
				close(fd); /* EOF, error, or send failed */
				break;
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	return ceil_main(argc, argv, serve);
}
