/* reactor/bytes_stream.h - private: what the copy futures (io/copy.c) and
 * the tests need to know about the kernel byte streams of
 * reactor/bytes_stream.c, and the splice op (reactor/splice.c). */
#ifndef WEFT_REACTOR_BYTES_STREAM_H
#define WEFT_REACTOR_BYTES_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>

#include "weft/bytes.h"

struct weft__fd;

/* The counted descriptor under b when b is one of weft's kernel streams
 * (weft_bytes_from_stream / _from_fd), else NULL. With fresh: whether its
 * read side holds nothing and has no receive queue (nothing received yet
 * that a splice would overtake). */
struct weft__fd *weft__bytes_kfd(weft_bytes *b, bool *fresh);

/* weft_splice on descriptors weft already counts (copy's pipes and
 * streams): takes a reference on each for the operation. */
void weft__splice_init_fds(weft_splice *f, struct weft__fd *in,
			   int64_t off_in, struct weft__fd *out,
			   int64_t off_out, size_t len);

/* Test hooks (set before the runtime starts): kernel streams never use
 * the receive queue (single-shot reads only); never try the direct
 * send/write first (every write goes through the ring); the copy futures
 * never splice (the read/write loop). */
extern bool weft__bytes_test_no_recvq;
extern bool weft__bytes_test_no_direct;
extern bool weft__copy_test_no_splice;
/* Bytes the copy futures moved by splice (a statistic for the tests). */
extern atomic_ulong weft__copy_test_spliced;

#endif
