/* fuzz/resp.c - libFuzzer harness for the RESP2 request parser of
 * examples/redis (resp.c), with the commands run on what it parses.
 * Input: [bounds][seed] then bytes. Properties:
 * 1. resp_parse on the bytes takes requests one after another: each
 *    result is within the buffer (the arguments inside the bytes it took,
 *    argc within max_args, each bulk within max_bulk); on any prefix of
 *    a request's bytes (the cut chosen by the seed) it says INCOMPLETE,
 *    or else gives the same request, or the same error;
 * 2. each request, encoded again as a multibulk, parses back to the same
 *    arguments taking every byte;
 * 3. running each request (cmd.c, on a store) does not crash, leak or
 *    read out of bounds, and replies at least one byte. */
#include <string.h>

#include "fuzz.h"
#include "../examples/redis/cmd.h"
#include "../examples/redis/resp.h"
#include "../examples/redis/store.h"

static size_t encode(const struct resp_cmd *c, char *out)
{
	size_t n = (size_t)sprintf(out, "*%zu\r\n", c->argc);

	for (size_t i = 0; i < c->argc; i++) {
		n += (size_t)sprintf(out + n, "$%zu\r\n", c->argv[i].len);
		memcpy(out + n, c->argv[i].p, c->argv[i].len);
		n += c->argv[i].len;
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	return n;
}

static bool same(const struct resp_cmd *a, const struct resp_cmd *b)
{
	if (a->argc != b->argc)
		return false;
	for (size_t i = 0; i < a->argc; i++)
		if (a->argv[i].len != b->argv[i].len ||
		    memcmp(a->argv[i].p, b->argv[i].p, a->argv[i].len))
			return false;
	return true;
}

/* Does any shard hold an entry? */
FZ_MODEL static bool store_used(const struct store *st)
{
	for (size_t i = 0; i < STORE_SHARDS; i++)
		if (st->sh[i].n)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store st;
	static bool st_ready;
	struct resp_cmd c = { 0 }, p = { 0 }, e = { 0 };
	struct out o = { 0 };
	const char *buf, *err, *err2;
	size_t len, pos = 0;
	uint32_t seed;

	if (size < 2)
		return 0;
	if (!st_ready) {
		FUZZ_CHECK(store_init(&st) == 0);
		st_ready = true;
	}
	c.max_bulk = p.max_bulk = e.max_bulk = (data[0] & 0xf) ?
		(size_t)1 << (data[0] & 0xf) : 0;
	c.max_args = p.max_args = e.max_args = (data[0] >> 4) ?
		(size_t)(data[0] >> 4) * 3 : 0;
	seed = data[1];
	buf = (const char *)data + 2;
	len = size - 2;
	for (;;) {
		long n = resp_parse(&c, buf + pos, len - pos, NULL, &err);
		size_t cut;
		long m;

		if (n == RESP_INCOMPLETE)
			break;
		FUZZ_CHECK(n != RESP_NOMEM);
		cut = (len - pos) ? (seed * 2654435761u) % (len - pos) : 0;
		seed = seed * 1103515245u + 12345u;
		m = resp_parse(&p, buf + pos, cut, NULL, &err2);
		if (n == RESP_ERROR) {
			FUZZ_CHECK(err && strncmp(err, "ERR Protocol error: ",
						  20) == 0);
			FUZZ_CHECK(m == RESP_INCOMPLETE ||
				   (m == RESP_ERROR && !strcmp(err, err2)));
			break;
		}
		FUZZ_CHECK(n > 0 && (size_t)n <= len - pos);
		FUZZ_CHECK(buf[pos] != '*' ||
			   c.argc <= (c.max_args ? c.max_args :
				      RESP_DEFAULT_MAX_ARGS));
		for (size_t i = 0; i < c.argc; i++) {
			FUZZ_CHECK(c.argv[i].p >= buf + pos);
			FUZZ_CHECK(c.argv[i].p + c.argv[i].len <=
				   buf + pos + n);
			FUZZ_CHECK(!c.max_bulk || c.argv[i].len <= c.max_bulk ||
				   buf[pos] != '*');
		}
		FUZZ_CHECK(m == RESP_INCOMPLETE || (m == n && same(&c, &p)));
		if (c.argc) {
			size_t need = 32;
			char *enc;
			long r;

			for (size_t i = 0; i < c.argc; i++)
				need += c.argv[i].len + 32;
			enc = malloc(need);
			FUZZ_CHECK(enc);
			e.max_bulk = e.max_args = 0;
			r = resp_parse(&e, enc, encode(&c, enc), NULL, &err2);
			FUZZ_CHECK(r > 0 && (size_t)r == encode(&c, enc) &&
				   same(&c, &e));
			o.len = 0;
			cmd_exec(&st, &c, &o);
			FUZZ_CHECK(!o.nomem && o.len > 0);
			free(enc);
		}
		pos += (size_t)n;
	}
	/* empty the store for the next input; store_flush walks all 4 096
	 * buckets and 64 mutexes, most of an execution when nothing was
	 * stored, so only when something was */
	if (store_used(&st))
		store_flush(&st);
	resp_cmd_free(&c);
	resp_cmd_free(&p);
	resp_cmd_free(&e);
	out_free(&o);
	return 0;
}
