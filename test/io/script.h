/* test/io/script.h - a scripted byte stream for the io tests: reads return
 * the script's chunks one at a time (each chunk first answers PENDING once
 * and wakes the caller, so every resume path runs), writes take at most
 * `wmax` bytes a call into a bounded sink, and an error or end of stream
 * can be placed after the last chunk. Single-threaded (driven with the
 * sync harness's test waker). */
#ifndef WEFT_TEST_IO_SCRIPT_H
#define WEFT_TEST_IO_SCRIPT_H

#include <errno.h>
#include <string.h>

#include "weft/bytes.h"

#define SCRIPT_MAX_CHUNKS 4096
#define SCRIPT_SINK 65536

typedef struct script {
	weft_bytes base;
	const char *chunk[SCRIPT_MAX_CHUNKS];
	size_t clen[SCRIPT_MAX_CHUNKS];
	int nchunks, at;
	size_t off;          /* bytes of chunk[at] already read */
	bool armed;          /* the next read answers READY */
	int end_err;         /* 0: end of stream after the chunks; else -errno */
	char sink[SCRIPT_SINK];
	size_t sunk, wmax;
	int flushes, shutdowns, released;
} script;

static weft_poll script_read(weft_bytes *self, weft_cx *cx, void *buf,
			     size_t len, intptr_t *res)
{
	script *s = (script *)self;

	if (!s->armed) {
		s->armed = true;
		weft_waker_wake_by_ref(&cx->waker);
		return WEFT_PENDING;
	}
	if (s->at == s->nchunks) {
		*res = s->end_err;
		return WEFT_READY;
	}
	size_t n = s->clen[s->at] - s->off;

	if (n > len)
		n = len;
	memcpy(buf, s->chunk[s->at] + s->off, n);
	s->off += n;
	if (s->off == s->clen[s->at]) {
		s->at++;
		s->off = 0;
		s->armed = false;
	}
	*res = (intptr_t)n;
	return WEFT_READY;
}

static weft_poll script_write(weft_bytes *self, weft_cx *cx,
			      const struct iovec *iov, int iovcnt,
			      intptr_t *res)
{
	script *s = (script *)self;
	size_t took = 0;

	(void)cx;
	for (int i = 0; i < iovcnt && took < s->wmax; i++) {
		size_t n = iov[i].iov_len;

		if (n > s->wmax - took)
			n = s->wmax - took;
		if (n > SCRIPT_SINK - s->sunk) {
			*res = -ENOSPC;
			return WEFT_READY;
		}
		memcpy(s->sink + s->sunk, iov[i].iov_base, n);
		s->sunk += n;
		took += n;
	}
	*res = (intptr_t)took;
	return WEFT_READY;
}

static weft_poll script_flush(weft_bytes *self, weft_cx *cx, intptr_t *res)
{
	(void)cx;
	((script *)self)->flushes++;
	*res = 0;
	return WEFT_READY;
}

static weft_poll script_shutdown(weft_bytes *self, weft_cx *cx,
				 intptr_t *res)
{
	(void)cx;
	((script *)self)->shutdowns++;
	*res = 0;
	return WEFT_READY;
}

static void script_release(weft_bytes *self)
{
	((script *)self)->released++;
}

static const weft_bytes_vtable script_vt = {
	.poll_read = script_read,
	.poll_write = script_write,
	.poll_flush = script_flush,
	.poll_shutdown = script_shutdown,
	.release = script_release,
	.name = "script",
};

static inline void script_init(script *s, size_t wmax)
{
	memset(s, 0, sizeof(*s));
	s->base.vt = &script_vt;
	s->wmax = wmax ? wmax : SCRIPT_SINK;
}

static inline void script_add(script *s, const char *p, size_t n)
{
	s->chunk[s->nchunks] = p;
	s->clen[s->nchunks++] = n;
}

/* The script is `data` cut at every `step` bytes. */
static inline void script_split(script *s, const char *data, size_t n,
				size_t step)
{
	for (size_t o = 0; o < n; o += step)
		script_add(s, data + o, n - o < step ? n - o : step);
}

#endif
