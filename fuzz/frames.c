/* fuzz/frames.c - libFuzzer harness for the length-delimited frame codec
 * (weft/codec.h). Input: [shape][offset][adjust][max][seed] then bytes.
 * Two properties:
 * 1. the bytes as a stream, cut by the seed, decode without crashing:
 *    each frame within max_frame and the capacity, over-long ones
 *    skipped, ending in -ENODATA, -EPIPE or -EBADMSG;
 * 2. the bytes read as frames ([length byte][that many bytes]...),
 *    encoded, cut by the seed and decoded give the same frames, then
 *    -ENODATA. */
#include <string.h>

#include "fuzz.h"
#include "weft/codec.h"

static void decode_anything(const weft_codec_frames *c, size_t cap,
			    bool fill, const uint8_t *in, size_t n,
			    uint32_t seed)
{
	size_t head = c->offset + c->width;
	size_t max = c->max_frame && c->max_frame < cap ? c->max_frame : cap;
	static script s; /* 128 KiB: not on the stack */
	fz_ctx k;
	weft_bufreader r;
	weft_codec_frames_next f;

	fz_ctx_init(&k);
	fz_script(&s, fill, in, n, seed);
	FUZZ_CHECK(weft_bufreader_init(&r, &s.base, cap) == 0);
	for (size_t i = 0;; i++) {
		FUZZ_CHECK(i <= n + 1);
		weft_codec_frames_next_init(&f, &r, c);
		FZ_RUN(weft_codec_frames_next, &f, &k);
		if (f.res == -ENODATA || f.res == -EPIPE ||
		    f.res == -EBADMSG)
			break;
		if (f.res == -EMSGSIZE)
			continue;
		FUZZ_CHECK(f.res >= 0);
		FUZZ_CHECK((size_t)f.res + (c->keep_header ? 0 : head) <= max);
	}
	weft_bufreader_destroy(&r);
}

static void roundtrip(const weft_codec_frames *c, size_t cap, bool fill,
		      const uint8_t *in, size_t n, uint32_t seed)
{
	static uint8_t enc[65536], frame[300];
	static size_t start[4096], len[4096];
	size_t head = c->offset + c->width, nf = 0, e = 0;
	static script s; /* 128 KiB: not on the stack */
	fz_ctx k;
	weft_bufreader r;
	weft_codec_frames_next f;

	for (size_t o = 0; o < n && nf < 4096;) {
		size_t l = in[o++];
		intptr_t m;

		if (l > n - o)
			l = n - o;
		memset(frame, 'o', c->offset);
		memcpy(frame + c->offset, in + o, l);
		m = weft_codec_frames_encode(c, frame, c->offset + l, enc + e,
					     sizeof(enc) - e);
		FUZZ_CHECK(m == -EMSGSIZE || m == -EINVAL || m == -ENOBUFS ||
			   m == (intptr_t)(head + l));
		if (m > 0 && head + l <= cap) {
			e += (size_t)m;
			start[nf] = o;
			len[nf++] = l;
		}
		o += l;
	}
	fz_ctx_init(&k);
	fz_script(&s, fill, enc, e, seed);
	FUZZ_CHECK(weft_bufreader_init(&r, &s.base, cap) == 0);
	for (size_t i = 0; i <= nf; i++) {
		const uint8_t *d;

		weft_codec_frames_next_init(&f, &r, c);
		FZ_RUN(weft_codec_frames_next, &f, &k);
		if (i == nf) {
			FUZZ_CHECK(f.res == -ENODATA);
			break;
		}
		FUZZ_CHECK(f.res == (intptr_t)(len[i] +
					       (c->keep_header ? head : 0)));
		d = f.data;
		if (c->keep_header)
			d += head;
		FUZZ_CHECK(!len[i] || !memcmp(d, in + start[i], len[i]));
	}
	weft_bufreader_destroy(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned widths[] = { 1, 2, 4, 8 };
	weft_codec_frames c;
	size_t cap;
	uint32_t seed;

	if (size < 5)
		return 0;
	memset(&c, 0, sizeof(c));
	c.width = widths[data[0] & 3];
	c.little_endian = data[0] >> 2 & 1;
	c.keep_header = data[0] >> 3 & 1;
	cap = 16 + (data[0] >> 4) * 24;
	c.offset = data[1] % 5;
	c.adjust = (int8_t)data[2] % 12;
	c.max_frame = data[3] < 128 ? 0 : data[3] - 100;
	seed = data[4] | (uint32_t)data[1] << 16;
	data += 5;
	size -= 5;
	if (size > 16384)
		return 0;
	for (int fill = 0; fill < 2; fill++) {
		decode_anything(&c, cap, fill, data, size, seed);
		roundtrip(&c, cap, fill, data, size, seed);
	}
	return 0;
}
