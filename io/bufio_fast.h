/* io/bufio_fast.h - the buffered reader's per-item fast path (internal:
 * io/bufio.c and io/codec.c).
 *
 * A reader's state is in weft_bufreader (bufio.h; io/bufio.c describes
 * it). The functions here are the part of every read that runs once per
 * item when the item is already held: applying what the last result used
 * (settle), finding the held contiguous bytes, and recording a result
 * (give). They are static inline so that the codecs' decoders, in their
 * own file, run them without a call per step: as calls they were a third
 * of the reading thread's samples for 64-byte lines, and a held line now
 * costs what a memchr loop does (weft-bench-bufio --mem, callgrind;
 * docs/benchmarks.md, "Session 7: line reader and frame decoder").
 *
 * Threads: the reader's (one task at a time).
 */
#ifndef WEFT_IO_BUFIO_FAST_H
#define WEFT_IO_BUFIO_FAST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weft/bufio.h"

#define WEFT__INLINE static inline __attribute__((always_inline))

/* n bytes at the front of the reader's own buffer are used up. */
WEFT__INLINE void weft__bufreader_drop_own(weft_bufreader *r, size_t n)
{
	r->start += n;
	if (r->scanned > n)
		r->scanned -= n;
	else
		r->scanned = 0;
	if (r->start == r->end)
		r->start = r->end = r->scanned = 0;
}

/* Drops what the last result used (its pointer is no longer valid): from
 * the stream's chunk (counted, given back when all of it is used) or from
 * the own buffer. */
WEFT__INLINE void weft__bufreader_settle(weft_bufreader *r)
{
	size_t n = r->used;

	if (!n)
		return;
	r->used = 0;
	if (r->in_stream)
		r->chunk_used += n;
	else
		weft__bufreader_drop_own(r, n);
}

/* Whether a skip (weft_bufreader_skip, or an over-long line's rest) is
 * pending: then only the slow path may read. */
WEFT__INLINE bool weft__bufreader_skipping(const weft_bufreader *r)
{
	return r->skip || r->skip_delim >= 0;
}

/* The held contiguous bytes (after settle): the own buffer when it holds
 * any, else the rest of the stream's chunk (*in_stream); 0 when neither
 * holds a byte. */
WEFT__INLINE size_t weft__bufreader_held(const weft_bufreader *r,
					 const char **p, bool *in_stream)
{
	if (r->end != r->start) {
		*p = r->buf + r->start;
		*in_stream = false;
		return r->end - r->start;
	}
	*in_stream = true;
	if (!r->chunk) {
		*p = NULL;
		return 0;
	}
	*p = r->chunk + r->chunk_used;
	return r->chunk_len - r->chunk_used;
}

/* Records a result of n bytes at p (used up at the next call). */
WEFT__INLINE void weft__bufreader_give(weft_bufreader *r, const char *p,
				       bool in_stream, size_t n,
				       const void **data)
{
	*data = p;
	r->used = n;
	r->in_stream = in_stream;
	if (!in_stream)
		r->scanned = 0;
}

/* The reader's limit for a line of at most max bytes (0: the capacity). */
WEFT__INLINE size_t weft__bufreader_limit(const weft_bufreader *r,
					  size_t max)
{
	return max == 0 || max > r->cap ? r->cap : max;
}

/* weft_bufreader_try_until's work for a valid reader and delimiter:
 * the held line through delim (count, *data set), or -EAGAIN. The own
 * buffer's search resumes where the last one stopped (`scanned`). */
WEFT__INLINE intptr_t weft__bufreader_until(weft_bufreader *r, int delim,
					    size_t max, const void **data)
{
	size_t limit, n, from = 0;
	const char *base, *p;
	bool in_stream;

	weft__bufreader_settle(r);
	if (weft__bufreader_skipping(r))
		return -EAGAIN;
	limit = weft__bufreader_limit(r, max);
	n = weft__bufreader_held(r, &base, &in_stream);
	if (n > limit)
		n = limit;
	if (!in_stream) {
		if (r->scan_for != delim) {
			r->scanned = 0;
			r->scan_for = delim;
		}
		from = r->scanned;
		if (from >= n)
			return -EAGAIN;
	}
	p = n ? memchr(base + from, delim, n - from) : NULL;
	if (!p) {
		if (!in_stream)
			r->scanned = n;
		return -EAGAIN;
	}
	n = (size_t)(p - base) + 1;
	weft__bufreader_give(r, base, in_stream, n, data);
	return (intptr_t)n;
}

/* weft_bufreader_try_exact / _try_peek's work for a valid reader and
 * n >= 1: n held contiguous bytes (used up when `use`), or -EAGAIN. */
WEFT__INLINE intptr_t weft__bufreader_span(weft_bufreader *r, size_t n,
					   bool use, const void **data)
{
	const char *base;
	bool in_stream;

	weft__bufreader_settle(r);
	if (r->skip)
		return -EAGAIN;
	r->skip_delim = -1;   /* the caller takes the rest of a long line */
	if (weft__bufreader_held(r, &base, &in_stream) < n)
		return -EAGAIN;
	*data = base;
	if (use)
		weft__bufreader_give(r, base, in_stream, n, data);
	return (intptr_t)n;
}

#endif /* WEFT_IO_BUFIO_FAST_H */
