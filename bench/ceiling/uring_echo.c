/* bench/ceiling/uring_echo.c - the io_uring ceiling: two pinned threads,
 * each the single issuer of its own ring (DEFER_TASKRUN), its own
 * SO_REUSEPORT listener with a multishot accept, a multishot receive per
 * connection into a provided buffer ring, and a direct non-blocking send
 * back (the chunk for tcp_echo_server, the responses to its complete
 * request heads for http_server). No runtime, no tasks, no reactor thread, no allocation: what any
 * io_uring design costs at the least on this workload. */
#include "common.h"

#include <liburing.h>
#include <sys/mman.h>

#define NBUF 256u
#define BUF_SIZE 4096u
#define UD_ACCEPT 1u
#define UD_RECV 2u

static void arm_recv(struct io_uring *ring, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	sqe->user_data = ((uint64_t)fd << 8) | UD_RECV;
}

static void arm_accept(struct io_uring *ring, int ls)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	io_uring_prep_multishot_accept(sqe, ls, NULL, NULL, SOCK_CLOEXEC);
	sqe->user_data = ((uint64_t)ls << 8) | UD_ACCEPT;
}

static void *serve(void *arg)
{
	const struct ceil_thread *th = arg;
	struct ceil_http *http = th->mode == CEIL_HTTP ? ceil_http_new() : NULL;
	int ls, ret;
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN };
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	struct io_uring_buf_reg reg = { .ring_entries = NBUF, .bgid = 0 };
	unsigned char *mem;

	ceil_pin(th->id);
	if ((ret = io_uring_queue_init_params(4096, &ring, &p)))
		ceil_die("io_uring_queue_init", -ret);
	br = mmap(NULL, NBUF * sizeof(struct io_uring_buf),
		  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mem = mmap(NULL, (size_t)NBUF * BUF_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED || mem == MAP_FAILED)
		ceil_die("mmap", errno);
	io_uring_buf_ring_init(br);
	reg.ring_addr = (unsigned long)br;
	if ((ret = io_uring_register_buf_ring(&ring, &reg, 0)))
		ceil_die("io_uring_register_buf_ring", -ret);
	for (unsigned i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(br, mem + i * BUF_SIZE, BUF_SIZE,
				      (unsigned short)i, NBUF - 1, (int)i);
	io_uring_buf_ring_advance(br, NBUF);
	ls = ceil_listen(th->port, SOCK_CLOEXEC);
	arm_accept(&ring, ls);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			ceil_die("io_uring_submit_and_wait", -ret);
		io_uring_for_each_cqe(&ring, head, cqe) {
			int fd = (int)(cqe->user_data >> 8);
			bool more = cqe->flags & IORING_CQE_F_MORE;

			n++;
			if ((cqe->user_data & 0xff) == UD_ACCEPT) {
				if (cqe->res >= CEIL_MAX_FD) {
					close(cqe->res);
				} else if (cqe->res >= 0) {
					ceil_nodelay(cqe->res);
					if (http)
						http->matched[cqe->res] = 0;
					arm_recv(&ring, cqe->res);
				}
				if (!more)
					arm_accept(&ring, ls);
				continue;
			}
			if (cqe->res > 0) {
				unsigned bid = cqe->flags >>
					       IORING_CQE_BUFFER_SHIFT;
				unsigned char *data = mem + bid * BUF_SIZE;
				bool ok = http ? ceil_http_respond(http, fd,
						ceil_http_feed(http, fd, data,
							       (size_t)cqe->res)) :
					  ceil_send_all(fd, data,
							(size_t)cqe->res);

				io_uring_buf_ring_add(br, mem + bid * BUF_SIZE,
						      BUF_SIZE,
						      (unsigned short)bid,
						      NBUF - 1, 0);
				io_uring_buf_ring_advance(br, 1);
				if (!ok) {
					shutdown(fd, SHUT_RDWR);
					continue; /* the final CQE closes it */
				}
			} else if (cqe->res != -ENOBUFS) {
				if (!more)
					close(fd); /* EOF or error: done */
				continue;
			}
			if (!more)
				arm_recv(&ring, fd); /* pool was dry */
		}
		io_uring_cq_advance(&ring, n);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	return ceil_main(argc, argv, serve);
}
