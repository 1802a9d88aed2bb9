/* fuzz/lines.c - libFuzzer harness for the lines codec (weft/codec.h).
 * Input: [max_len][flags][seed] then bytes. Two properties:
 * 1. the bytes as a stream, cut by the seed, decode as a plain model of
 *    the codec says (each "\n"-ended piece a line or one -EMSGSIZE, a
 *    last piece without "\n" too), within the bounds, then -ENODATA;
 * 2. the bytes split at "\n" into lines, encoded, cut by the seed and
 *    decoded give the same lines, then -ENODATA. */
#include <string.h>

#include "fuzz.h"
#include "weft/codec.h"

/* What the codec must return for the piece in[o, o + l) (l counts the
 * "\n" when nl): its length, or -EMSGSIZE. */
FZ_MODEL static intptr_t model_line(const weft_codec_lines *c, size_t cap,
			   const uint8_t *p, size_t l, bool nl)
{
	size_t limit = cap;
	size_t n = l;

	if (c->max_len && c->max_len + 1 + c->strip_cr < cap)
		limit = c->max_len + 1 + c->strip_cr;
	if (nl ? l > limit : l >= limit)
		return -EMSGSIZE;
	if (nl) {
		n--;
		if (c->strip_cr && n && p[n - 1] == '\r')
			n--;
	}
	if (c->max_len && n > c->max_len)
		return -EMSGSIZE;
	return (intptr_t)n;
}

static void decode_anything(const weft_codec_lines *c, size_t cap,
			    bool fill, const uint8_t *in, size_t n,
			    uint32_t seed)
{
	static script s; /* 128 KiB: not on the stack */
	fz_ctx k;
	weft_bufreader r;
	weft_codec_lines_next f;
	size_t o = 0;

	fz_ctx_init(&k);
	fz_script(&s, fill, in, n, seed);
	FUZZ_CHECK(weft_bufreader_init(&r, &s.base, cap) == 0);
	for (;;) {
		const uint8_t *p = o < n ? memchr(in + o, '\n', n - o) : NULL;
		size_t l = p ? (size_t)(p - in) - o + 1 : n - o;
		intptr_t want = l ? model_line(c, cap, in + o, l, p != NULL)
				  : -ENODATA;

		weft_codec_lines_next_init(&f, &r, c);
		FZ_RUN(weft_codec_lines_next, &f, &k);
		FUZZ_CHECK(f.res == want);
		if (f.res == -ENODATA)
			break;
		if (f.res >= 0) {
			FUZZ_CHECK((size_t)f.res <= cap);
			FUZZ_CHECK(!f.res || !memcmp(f.data, in + o,
						     (size_t)f.res));
		}
		o += l;
	}
	weft_bufreader_destroy(&r);
}

/* body = in, with '\r' made 'r' when strip_cr would eat it. */
FZ_MODEL static void model_body(uint8_t *body, const uint8_t *in, size_t n,
				bool strip_cr)
{
	memcpy(body, in, n);
	for (size_t i = 0; strip_cr && i < n; i++)
		if (body[i] == '\r')
			body[i] = 'r';
}

static void roundtrip(const weft_codec_lines *c, size_t cap, bool fill,
		      const uint8_t *in, size_t n, uint32_t seed)
{
	/* lines: [start, len) pairs into `body` (in, '\r' made 'r' when
	 * strip_cr would eat it) */
	static uint8_t body[8192], enc[16384];
	static size_t start[8192], len[8192];
	size_t nl = 0, e = 0;
	static script s; /* 128 KiB: not on the stack */
	fz_ctx k;
	weft_bufreader r;
	weft_codec_lines_next f;

	if (n > sizeof(body))
		n = sizeof(body);
	model_body(body, in, n, c->strip_cr);
	for (size_t o = 0; o <= n;) {
		const uint8_t *p = memchr(body + o, '\n', n - o);
		size_t l = p ? (size_t)(p - body) - o : n - o;
		intptr_t m = weft_codec_lines_encode(c, body + o, l, enc + e,
						     sizeof(enc) - e);

		/* too long for the codec or for the reader: left out */
		FUZZ_CHECK(m == -EMSGSIZE || m == (intptr_t)l + 1);
		if (m > 0 && l + 1 <= cap) {
			e += (size_t)m;
			start[nl] = o;
			len[nl++] = l;
		}
		o += l + 1;
	}
	fz_ctx_init(&k);
	fz_script(&s, fill, enc, e, seed);
	FUZZ_CHECK(weft_bufreader_init(&r, &s.base, cap) == 0);
	for (size_t i = 0; i <= nl; i++) {
		weft_codec_lines_next_init(&f, &r, c);
		FZ_RUN(weft_codec_lines_next, &f, &k);
		if (i == nl) {
			FUZZ_CHECK(f.res == -ENODATA);
			break;
		}
		FUZZ_CHECK(f.res == (intptr_t)len[i]);
		FUZZ_CHECK(!len[i] || !memcmp(f.data, body + start[i], len[i]));
	}
	weft_bufreader_destroy(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	weft_codec_lines c;
	size_t cap;
	uint32_t seed;

	if (size < 3)
		return 0;
	c.max_len = data[0] % 64;
	c.strip_cr = data[1] & 1;
	cap = 2 + (data[1] >> 1);
	seed = data[2] | (uint32_t)data[0] << 16;
	data += 3;
	size -= 3;
	if (size > 8192)
		return 0;
	for (int fill = 0; fill < 2; fill++) {
		decode_anything(&c, cap, fill, data, size, seed);
		roundtrip(&c, cap, fill, data, size, seed);
	}
	return 0;
}
