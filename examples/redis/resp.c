/* examples/redis/resp.c - the RESP2 request parser (see resp.h). */
#include "resp.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Appends an argument; the vector never grows past max (a multibulk's
 * count, checked against max_args; an inline line's words, bounded by its
 * 64 KiB) -> 0 or -1 (no memory). */
static int push(struct resp_cmd *c, const char *p, size_t len, size_t max)
{
	if (c->argc == c->cap) {
		size_t n = c->cap ? c->cap * 2 : 16;
		struct resp_arg *v;

		if (n > max)
			n = max;
		if (n <= c->argc)
			return -1;
		v = realloc(c->argv, n * sizeof(*v));
		if (!v)
			return -1;
		c->argv = v;
		c->cap = n;
	}
	c->argv[c->argc].p = p;
	c->argv[c->argc].len = len;
	c->argc++;
	return 0;
}

/* A decimal integer filling [p, e): optional '-', digits, no overflow. */
static int parse_ll(const char *p, const char *e, long long *out)
{
	unsigned long long v = 0;
	int neg = 0;

	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == e || e - p > 19)
		return -1;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > (unsigned long long)LLONG_MAX)
		return -1;
	*out = neg ? -(long long)v : (long long)v;
	return 0;
}

static long inline_req(struct resp_cmd *c, const char *buf, size_t len,
		       const char **err)
{
	const char *nl = memchr(buf, '\n', len), *p, *e;

	/* the same bound whether or not the newline has come */
	if ((nl ? (size_t)(nl - buf) : len) > RESP_MAX_INLINE) {
		*err = "ERR Protocol error: too big inline request";
		return RESP_ERROR;
	}
	if (!nl) {
		if (len > RESP_MAX_INLINE) {
			*err = "ERR Protocol error: too big inline request";
			return RESP_ERROR;
		}
		return RESP_INCOMPLETE;
	}
	e = nl;
	if (e > buf && e[-1] == '\r')
		e--;
	for (p = buf; p < e;) {
		const char *w;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p == e)
			break;
		for (w = p; p < e && *p != ' ' && *p != '\t'; p++)
			;
		if (push(c, w, (size_t)(p - w), RESP_MAX_INLINE))
			return RESP_NOMEM;
	}
	return (long)(nl + 1 - buf);
}

/* The number on a "<c>N\r\n" header line at buf[pos]: 1 with *v and *pos
 * past the line, 0 incomplete, -1 too long. */
static int header(const char *buf, size_t len, size_t *pos, long long *v,
		  int *bad)
{
	const char *s = buf + *pos + 1, *cr;
	size_t avail = len - *pos - 1;

	cr = memchr(s, '\r', avail);
	if (cr && (size_t)(cr - s) > RESP_MAX_INLINE)
		return -1;
	if (!cr) {
		if (avail > RESP_MAX_INLINE)
			return -1;
		return 0;
	}
	if ((size_t)(cr - s) + 2 > avail)
		return 0;              /* the '\n' has not come */
	*bad = cr[1] != '\n' || parse_ll(s, cr, v) != 0;
	*pos = (size_t)(cr + 2 - buf);
	return 1;
}

long resp_parse(struct resp_cmd *c, const char *buf, size_t len,
		size_t *need, const char **err)
{
	size_t max_bulk = c->max_bulk ? c->max_bulk : RESP_DEFAULT_MAX_BULK;
	size_t max_args = c->max_args ? c->max_args : RESP_DEFAULT_MAX_ARGS;
	size_t pos = 0;
	long long n, i;
	int r, bad;

	c->argc = 0;
	if (need)
		*need = 0;
	if (len == 0)
		return RESP_INCOMPLETE;
	if (buf[0] != '*')
		return inline_req(c, buf, len, err);
	r = header(buf, len, &pos, &n, &bad);
	if (r < 0) {
		*err = "ERR Protocol error: too big mbulk count string";
		return RESP_ERROR;
	}
	if (r == 0)
		return RESP_INCOMPLETE;
	if (bad || n > (long long)max_args || n > INT_MAX) {
		*err = "ERR Protocol error: invalid multibulk length";
		return RESP_ERROR;
	}
	for (i = 0; i < n; i++) {
		long long bl;

		if (pos == len)
			return RESP_INCOMPLETE;
		if (buf[pos] != '$') {
			static const char fmt[] =
				"ERR Protocol error: expected '$', got ' '";
			static _Thread_local char msg[sizeof(fmt)];

			memcpy(msg, fmt, sizeof(fmt));
			msg[sizeof(fmt) - 3] = buf[pos];
			*err = msg;
			return RESP_ERROR;
		}
		r = header(buf, len, &pos, &bl, &bad);
		if (r < 0) {
			*err = "ERR Protocol error: too big bulk count string";
			return RESP_ERROR;
		}
		if (r == 0)
			return RESP_INCOMPLETE;
		if (bad || bl < 0 || (unsigned long long)bl > max_bulk) {
			*err = "ERR Protocol error: invalid bulk length";
			return RESP_ERROR;
		}
		if (len - pos < (size_t)bl + 2) {
			if (need)
				*need = pos + (size_t)bl + 2;
			return RESP_INCOMPLETE;
		}
		if (buf[pos + (size_t)bl] != '\r' ||
		    buf[pos + (size_t)bl + 1] != '\n') {
			*err = "ERR Protocol error: invalid bulk format";
			return RESP_ERROR;
		}
		if (push(c, buf + pos, (size_t)bl, (size_t)n))
			return RESP_NOMEM;
		pos += (size_t)bl + 2;
	}
	return (long)pos;
}

void resp_cmd_free(struct resp_cmd *c)
{
	free(c->argv);
	c->argv = NULL;
	c->argc = c->cap = 0;
}
