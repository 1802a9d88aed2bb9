/* reactor/probe.c - kernel feature probing at start-up.
 *
 * Runs on the reactor thread (the ring's single issuer must be the thread
 * that created it). Tries the best ring set-up first and falls back:
 *   SINGLE_ISSUER|DEFER_TASKRUN (6.1) -> COOP_TASKRUN (5.19) -> plain.
 * Then checks with io_uring_get_probe_ring that every opcode weft uses is
 * there (a missing one fails start-up with an error naming it), and notes
 * optional features: multishot accept (5.19, also switched off at run time
 * if the kernel rejects it), EXT_ARG waits, and the file system opcodes
 * (STATX, MKDIRAT, UNLINKAT, RENAMEAT: fs.c runs a missing one on the
 * blocking pool).
 *
 * weft__reactor_test_disable() forces features off for tests; read once
 * per start, so set it before weft_rt_create.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reactor/reactor.h"

static atomic_uint test_disabled;

void weft__reactor_test_disable(unsigned feats)
{
	/* relaxed: tests set it before creating a runtime (thread creation
	 * orders it before the reactor's read) */
	atomic_store_explicit(&test_disabled, feats, memory_order_relaxed);
}

unsigned weft__reactor_test_disabled(void)
{
	/* relaxed: see weft__reactor_test_disable */
	return atomic_load_explicit(&test_disabled, memory_order_relaxed);
}

static const struct {
	int op;
	const char *name;
} required[] = {
	{ IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL" },
	{ IORING_OP_READ, "IORING_OP_READ" },
	{ IORING_OP_WRITE, "IORING_OP_WRITE" },
	{ IORING_OP_SEND, "IORING_OP_SEND" },
	{ IORING_OP_RECV, "IORING_OP_RECV" },
	{ IORING_OP_SENDMSG, "IORING_OP_SENDMSG" },
	{ IORING_OP_RECVMSG, "IORING_OP_RECVMSG" },
	{ IORING_OP_ACCEPT, "IORING_OP_ACCEPT" },
	{ IORING_OP_CONNECT, "IORING_OP_CONNECT" },
	{ IORING_OP_OPENAT, "IORING_OP_OPENAT" },
	{ IORING_OP_FSYNC, "IORING_OP_FSYNC" },
};

/* The file system operations the ring can serve (fs.c sends the others
 * to the blocking pool). */
static void probe_fs_ops(struct weft__reactor *r, struct io_uring_probe *p,
			 unsigned off)
{
	static const struct {
		int op;
		unsigned feat;
	} fs[] = {
		{ IORING_OP_STATX, WEFT__FEAT_FS_STATX },
		{ IORING_OP_MKDIRAT, WEFT__FEAT_FS_MKDIRAT },
		{ IORING_OP_UNLINKAT, WEFT__FEAT_FS_UNLINKAT },
		{ IORING_OP_RENAMEAT, WEFT__FEAT_FS_RENAMEAT },
	};

	r->fs_ops = 0;
	for (unsigned i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if (io_uring_opcode_supported(p, fs[i].op) &&
		    !(off & fs[i].feat))
			r->fs_ops |= fs[i].feat;
}

static int ring_init(struct weft__reactor *r, unsigned off)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		if (i == 0 && (off & WEFT__FEAT_DEFER_TASKRUN))
			continue;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = r->entries * 4;
		ret = io_uring_queue_init_params(r->entries, &r->ring, &p);
		if (ret == 0) {
			if (i == 0)
				r->features |= WEFT__FEAT_DEFER_TASKRUN;
			if (p.features & IORING_FEAT_EXT_ARG)
				r->features |= WEFT__FEAT_EXT_ARG;
			return 0;
		}
		if (ret != -EINVAL)
			break; /* not a flag problem: ENOMEM, EPERM, ENOSYS */
	}
	return ret;
}

unsigned weft__reactor_off(void)
{
	unsigned off = weft__reactor_test_disabled();
	const char *env = getenv("WEFT_IO_DISABLE");

	/* WEFT_IO_DISABLE=<mask of WEFT__FEAT_*>: the same hook, for
	 * measuring the fallbacks from the benchmark programs */
	if (env)
		off |= (unsigned)strtoul(env, NULL, 0);
	return off;
}

int weft__probe_ring(struct weft__reactor *r)
{
	unsigned off = r->off;
	struct io_uring_probe *probe;
	int ret;

	if (off & WEFT__FEAT_RING) {
		snprintf(r->init_msg, sizeof(r->init_msg),
			 "io_uring_setup: disabled by the test hook");
		return -ENOSYS;
	}
	ret = ring_init(r, off);
	if (ret < 0) {
		snprintf(r->init_msg, sizeof(r->init_msg),
			 "io_uring_setup(%u entries): %s%s", r->entries,
			 strerror(-ret),
			 ret == -EPERM ? " (kernel.io_uring_disabled?)" :
			 ret == -ENOMEM ? " (RLIMIT_MEMLOCK too low?)" :
			 ret == -ENOSYS ? " (kernel without io_uring)" : "");
		return ret;
	}
	probe = io_uring_get_probe_ring(&r->ring);
	if (!probe) {
		snprintf(r->init_msg, sizeof(r->init_msg),
			 "io_uring: IORING_REGISTER_PROBE unsupported "
			 "(kernel older than 5.6)");
		ret = -EOPNOTSUPP;
		goto out_exit;
	}
	for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!io_uring_opcode_supported(probe, required[i].op)) {
			snprintf(r->init_msg, sizeof(r->init_msg),
				 "io_uring: kernel lacks %s", required[i].name);
			ret = -EOPNOTSUPP;
			io_uring_free_probe(probe);
			goto out_exit;
		}
	}
	probe_fs_ops(r, probe, off);
	/* multishot accept came with IORING_OP_SOCKET (5.19) */
	if (io_uring_opcode_supported(probe, IORING_OP_SOCKET) &&
	    !(off & WEFT__FEAT_MULTISHOT_ACCEPT))
		r->features |= WEFT__FEAT_MULTISHOT_ACCEPT;
	/* multishot POLL_ADD (5.13) has no opcode of its own to probe: it is
	 * assumed, and an -EINVAL on the first one turns it off (watch.c) */
	if (!(off & WEFT__FEAT_POLL_MULTI))
		r->features |= WEFT__FEAT_POLL_MULTI;
	io_uring_free_probe(probe);
	/* multishot recv (6.0) into a provided buffer ring (5.19); an older
	 * kernel refuses the registration, or the first multishot (recvq.c) */
	if (!(off & WEFT__FEAT_RECV_MULTI) &&
	    weft__pool_init(&r->pool, &r->ring) == 0)
		r->features |= WEFT__FEAT_RECV_MULTI;
	if (!(off & WEFT__FEAT_POOL_SHARE))
		r->features |= WEFT__FEAT_POOL_SHARE;
	r->pool_share = !(off & WEFT__FEAT_POOL_SHARE);
	atomic_store_explicit(&r->recv_multi,
			      (r->features & WEFT__FEAT_RECV_MULTI) != 0,
			      memory_order_relaxed);
	return 0;
out_exit:
	io_uring_queue_exit(&r->ring);
	return ret;
}
