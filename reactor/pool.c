/* reactor/pool.c - the provided buffer pool of multishot receives (a pool
 * object, struct weft__bufpool in reactor.h: buffer group 0 of one ring,
 * WEFT__POOL_BUFS x WEFT__POOL_BUF_SIZE): set up on the thread that owns
 * the ring at start (probe.c), freed after the ring. The kernel takes
 * buffers from the ring's head; receive queues (recvq.c) give them back at
 * the tail, from any thread.
 *
 * Fairness (the policy is recvq.c's; this file answers its questions): the
 * pool is "scarce" once more than half of its buffers are held by streams
 * (filled by the kernel, not given back). While it is scarce a stream
 * whose reader is not waiting does not keep pool buffers (recvq.c copies
 * them out and stops its multishot), and a stream whose multishot ended
 * with ENOBUFS receives single-shot until the pool has room again (at
 * most three quarters held: the streams that do not read hold at most
 * about half, so a starved stream that reads gets back to its multishot
 * even while they stay).
 *
 * Atomics: `lock` (acquire test-and-set / release clear) makes one
 * producer at a time on the ring's tail; the ring advance itself is a
 * release store the kernel reads with acquire. `filled` (written by the
 * ring's thread only) and `returned` are relaxed counters: their
 * difference is a sample, good enough for a policy where either answer is
 * correct (only the fairness changes) and exact once everything is quiet
 * (the tests).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "reactor/reactor.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_pause() __builtin_ia32_pause()
#else
#define cpu_pause() ((void)0)
#endif

int weft__pool_init(struct weft__bufpool *p, struct io_uring *ring)
{
	struct io_uring_buf_reg reg;
	size_t ring_bytes = WEFT__POOL_BUFS * sizeof(struct io_uring_buf);
	int ret;

	p->count = WEFT__POOL_BUFS;
	p->size = WEFT__POOL_BUF_SIZE;
	p->mask = (uint32_t)io_uring_buf_ring_mask(p->count);
	atomic_store_explicit(&p->scarce_at, p->count / 2,
			      memory_order_relaxed);
	atomic_flag_clear_explicit(&p->lock, memory_order_relaxed);
	/* the ring must be page-aligned: mmap gives that */
	p->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->br == MAP_FAILED) {
		p->br = NULL;
		return -errno;
	}
	p->mem = mmap(NULL, (size_t)p->count * p->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		ret = -errno;
		goto out_ring;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)p->br;
	reg.ring_entries = p->count;
	reg.bgid = WEFT__POOL_BGID;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret)
		goto out_mem;
	io_uring_buf_ring_init(p->br);
	for (uint32_t i = 0; i < p->count; i++)
		io_uring_buf_ring_add(p->br, p->mem + (size_t)i * p->size,
				      p->size, (unsigned short)i, (int)p->mask,
				      (int)i);
	io_uring_buf_ring_advance(p->br, (int)p->count);
	return 0;
out_mem:
	munmap(p->mem, (size_t)p->count * p->size);
	p->mem = NULL;
out_ring:
	munmap(p->br, ring_bytes);
	p->br = NULL;
	return ret;
}

/* After the ring is gone (the kernel no longer reads the pool). */
void weft__pool_free(struct weft__bufpool *p)
{
	if (!p->br)
		return;
	munmap(p->mem, (size_t)p->count * p->size);
	munmap(p->br, p->count * sizeof(struct io_uring_buf));
	p->br = NULL;
}

void weft__pool_put(struct weft__bufpool *p, const uint16_t *bids, unsigned n)
{
	if (!n)
		return;
	/* acquire/release: one producer at a time on the ring's tail; the
	 * advance itself is a release store the kernel reads with acquire */
	while (atomic_flag_test_and_set_explicit(&p->lock,
						 memory_order_acquire))
		cpu_pause();
	for (unsigned i = 0; i < n; i++)
		io_uring_buf_ring_add(p->br, p->mem + (size_t)bids[i] * p->size,
				      p->size, bids[i], (int)p->mask, (int)i);
	io_uring_buf_ring_advance(p->br, (int)n);
	/* relaxed: a counter (see the file comment) */
	atomic_fetch_add_explicit(&p->returned, n, memory_order_relaxed);
	atomic_flag_clear_explicit(&p->lock, memory_order_release);
}

void weft__pool_note_filled(struct weft__bufpool *p)
{
	/* relaxed: a counter written by the ring's thread only */
	atomic_store_explicit(
		&p->filled,
		atomic_load_explicit(&p->filled, memory_order_relaxed) + 1,
		memory_order_relaxed);
}

unsigned long weft__pool_in_use(struct weft__bufpool *p)
{
	unsigned long f, r;

	if (!p->br)
		return 0;
	/* relaxed: counters (see the file comment); returned is read first
	 * so that a put between the loads cannot make the difference
	 * negative (filled only grows) */
	r = atomic_load_explicit(&p->returned, memory_order_relaxed);
	f = atomic_load_explicit(&p->filled, memory_order_relaxed);
	return f > r ? f - r : 0;
}

bool weft__pool_scarce(struct weft__bufpool *p)
{
	/* relaxed: a setting (a test hook changes it) */
	return weft__pool_in_use(p) >
	       atomic_load_explicit(&p->scarce_at, memory_order_relaxed);
}

bool weft__pool_has_room(struct weft__bufpool *p)
{
	return weft__pool_in_use(p) * 4 <= (unsigned long)p->count * 3;
}

void weft__pool_test_scarce_at(weft_rt *rt, unsigned at)
{
	struct weft__reactor *r = weft__rt_driver(rt);

	if (!r)
		return;
	/* every ring's pool (the worker rings' ones are set up when the
	 * runtime is created, before any receive) */
	for (unsigned w = 0; w <= r->nworkers; w++) {
		struct weft__bufpool *p = w ? &r->wr[w - 1].pool : &r->pool;

		if (p->br)
			atomic_store_explicit(&p->scarce_at, at,
					      memory_order_relaxed);
	}
}

unsigned long weft__pool_test_outstanding(weft_rt *rt)
{
	struct weft__reactor *r = weft__rt_driver(rt);
	unsigned long n = 0;

	if (!r)
		return 0;
	for (unsigned w = 0; w <= r->nworkers; w++)
		n += weft__pool_in_use(w ? &r->wr[w - 1].pool : &r->pool);
	return n;
}
