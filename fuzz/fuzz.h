/* fuzz/fuzz.h - what the codec fuzz harnesses share: a waker that does
 * nothing, the scripted stream of test/io/script.h cut into chunks whose
 * sizes come from a seed, and a poll loop. A harness calls FUZZ_CHECK for
 * each property: a false one aborts (the fuzzer saves the input). */
#ifndef WEFT_FUZZ_H
#define WEFT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../test/io/script.h"
#include "check.h"


static weft_waker fz_clone(const void *d);
static void fz_nop(void *d)
{
	(void)d;
}
static void fz_nop_ref(const void *d)
{
	(void)d;
}
static const weft_waker_vtable fz_vt = { fz_clone, fz_nop, fz_nop_ref,
					 fz_nop };
static weft_waker fz_clone(const void *d)
{
	return (weft_waker){ &fz_vt, (void *)d };
}

typedef struct fz_ctx {
	weft_waker w;
	weft_cx cx;
} fz_ctx;

static inline void fz_ctx_init(fz_ctx *c)
{
	c->w = (weft_waker){ &fz_vt, NULL };
	weft_cx_init(&c->cx, &c->w);
}

/* Cuts in[0, n) into chunks of 1..max_chunk bytes drawn from seed (at
 * most SCRIPT_MAX_CHUNKS: the last one takes the rest). fill: the stream
 * has poll_fill. */
static inline void fz_script(script *s, bool fill, const uint8_t *in,
			     size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t max_chunk = (seed >> 8) % 24 + 1;

	/* script_init's state, without clearing the chunk tables and the
	 * sink (128 KiB: four memsets of it were a large part of an
	 * execution): chunk entries past nchunks and sink bytes past sunk
	 * are never read before they are written. Every other field is
	 * zeroed, then set as script_init sets it. */
	memset(s, 0, offsetof(script, chunk));
	memset(&s->nchunks, 0, offsetof(script, sink) -
				       offsetof(script, nchunks));
	memset(&s->sunk, 0, sizeof(*s) - offsetof(script, sunk));
	s->base.vt = fill ? &script_fill_vt : &script_vt;
	s->wmax = SCRIPT_SINK;
	for (size_t o = 0; o < n;) {
		size_t k;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		k = x % max_chunk + 1;
		if (k > n - o || s->nchunks == SCRIPT_MAX_CHUNKS - 1)
			k = n - o;
		script_add(s, (const char *)in + o, k);
		o += k;
	}
}

/* Polls until READY; every PENDING of the script wakes at once, so a
 * bounded number of polls must do. */
#define FZ_RUN(name, f, c)                                                  \
	do {                                                                \
		long guard_ = 0;                                            \
		while (name##_poll((f), &(c)->cx) == WEFT_PENDING)          \
			FUZZ_CHECK(++guard_ < 1000000);                     \
	} while (0)

#endif
