/* examples/redis/cmd.c - the commands (cmd.h), with redis's replies and
 * error messages (checked against redis-server 7 by test/redis/redis.py).
 */
#include "cmd.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void out_raw(struct out *o, const void *p, size_t n)
{
	if (o->nomem)
		return;
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : 16384;
		char *q;

		while (cap - o->len < n)
			cap *= 2;
		if (!(q = realloc(o->p, cap))) {
			o->nomem = true;
			return;
		}
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_raw(o, s, strlen(s));
}

void out_error(struct out *o, const char *msg)
{
	out_raw(o, "-", 1);
	out_str(o, msg);
	out_raw(o, "\r\n", 2);
}

void out_free(struct out *o)
{
	free(o->p);
	o->p = NULL;
	o->len = o->cap = 0;
}

static void out_int(struct out *o, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), ":%lld\r\n", v);

	out_raw(o, b, (size_t)n);
}

static void out_head(struct out *o, char c, long long n)
{
	char b[32];
	int len = snprintf(b, sizeof(b), "%c%lld\r\n", c, n);

	out_raw(o, b, (size_t)len);
}

static void out_bulk(struct out *o, const char *p, size_t n)
{
	out_head(o, '$', (long long)n);
	out_raw(o, p, n);
	out_raw(o, "\r\n", 2);
}

static void out_nil(struct out *o)
{
	out_raw(o, "$-1\r\n", 5);
}

#define OK(o) out_raw(o, "+OK\r\n", 5)
static const char E_INT[] = "ERR value is not an integer or out of range";
static const char E_SYNTAX[] = "ERR syntax error";
static const char E_NOMEM[] = "OOM command not allowed when used memory > "
			      "'maxmemory'.";

static bool is(const struct resp_arg *a, const char *name)
{
	return a->len == strlen(name) && strncasecmp(a->p, name, a->len) == 0;
}

/* A whole-argument integer (redis's string2ll). */
static bool arg_ll(const struct resp_arg *a, long long *v)
{
	char b[24], *end;

	if (a->len == 0 || a->len >= sizeof(b))
		return false;
	memcpy(b, a->p, a->len);
	b[a->len] = '\0';
	if (!(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) ||
	    (b[0] == '0' && a->len > 1) ||
	    (b[0] == '-' && (a->len == 1 || b[1] == '0')))
		return false;
	errno = 0;
	*v = strtoll(b, &end, 10);
	return errno == 0 && *end == '\0';
}

struct ctx {
	struct store *st;
	const struct resp_arg *av;
	size_t ac;
	struct out *o;
	int64_t now;
};

#define KEY(c, i) (c)->av[i].p, (c)->av[i].len

static struct entry *lookup(struct ctx *c, size_t i, struct shard **sh)
{
	uint64_t h = store_hash(KEY(c, i));

	*sh = store_shard(c->st, h);
	pthread_mutex_lock(&(*sh)->mu);
	return shard_find(*sh, h, KEY(c, i), c->now);
}

static void do_ping(struct ctx *c)
{
	if (c->ac > 2)
		out_error(c->o, "ERR wrong number of arguments for 'ping' "
			  "command");
	else if (c->ac == 1)
		out_raw(c->o, "+PONG\r\n", 7);
	else
		out_bulk(c->o, c->av[1].p, c->av[1].len);
}

static void do_echo(struct ctx *c)
{
	out_bulk(c->o, c->av[1].p, c->av[1].len);
}

static void do_get(struct ctx *c)
{
	struct shard *sh;
	struct entry *e = lookup(c, 1, &sh);

	if (e)
		out_bulk(c->o, e->val, e->vlen);
	else
		out_nil(c->o);
	pthread_mutex_unlock(&sh->mu);
}

static void do_set(struct ctx *c)
{
	bool nx = false, xx = false, get = false, keepttl = false;
	int64_t expire = 0;
	struct shard *sh;
	struct entry *e;
	uint64_t h;

	for (size_t i = 3; i < c->ac; i++) {
		const struct resp_arg *a = &c->av[i];
		bool ex = is(a, "EX"), px = is(a, "PX");
		long long v;

		if ((ex || px) && i + 1 < c->ac && !expire && !keepttl) {
			if (!arg_ll(&c->av[++i], &v)) {
				out_error(c->o, E_INT);
				return;
			}
			if (v <= 0 || (ex && v > LLONG_MAX / 1000) ||
			    (ex ? v * 1000 : v) > LLONG_MAX - c->now) {
				out_error(c->o, "ERR invalid expire time in "
					  "'set' command");
				return;
			}
			expire = c->now + (ex ? v * 1000 : v);
		} else if (is(a, "NX") && !xx) {
			nx = true;
		} else if (is(a, "XX") && !nx) {
			xx = true;
		} else if (is(a, "GET")) {
			get = true;
		} else if (is(a, "KEEPTTL") && !expire) {
			keepttl = true;
		} else {
			out_error(c->o, E_SYNTAX);
			return;
		}
	}
	h = store_hash(KEY(c, 1));
	sh = store_shard(c->st, h);
	pthread_mutex_lock(&sh->mu);
	e = shard_find(sh, h, KEY(c, 1), c->now);
	if (get) {
		if (e)
			out_bulk(c->o, e->val, e->vlen);
		else
			out_nil(c->o);
	}
	if ((nx && e) || (xx && !e)) {
		if (!get)
			out_nil(c->o);
	} else {
		if (keepttl && e)
			expire = e->expire_ms;
		if (shard_set(sh, h, KEY(c, 1), c->av[2].p, c->av[2].len,
			      expire)) {
			if (!get)
				out_error(c->o, E_NOMEM);
		} else if (!get) {
			OK(c->o);
		}
	}
	pthread_mutex_unlock(&sh->mu);
}

static void do_del(struct ctx *c)
{
	long long n = 0;

	for (size_t i = 1; i < c->ac; i++) {
		uint64_t h = store_hash(KEY(c, i));
		struct shard *sh = store_shard(c->st, h);

		pthread_mutex_lock(&sh->mu);
		n += shard_del(sh, h, KEY(c, i), c->now);
		pthread_mutex_unlock(&sh->mu);
	}
	out_int(c->o, n);
}

static void do_exists(struct ctx *c)
{
	long long n = 0;

	for (size_t i = 1; i < c->ac; i++) {
		struct shard *sh;

		n += lookup(c, i, &sh) != NULL;
		pthread_mutex_unlock(&sh->mu);
	}
	out_int(c->o, n);
}

static void incr_by(struct ctx *c, long long by)
{
	struct shard *sh;
	struct entry *e = lookup(c, 1, &sh);
	int64_t expire = e ? e->expire_ms : 0;
	long long v = 0;
	char b[24];
	int n;

	if (e) {
		struct resp_arg a = { e->val, e->vlen };

		if (!arg_ll(&a, &v)) {
			out_error(c->o, E_INT);
			goto out;
		}
	}
	if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
		out_error(c->o, "ERR increment or decrement would overflow");
		goto out;
	}
	v += by;
	n = snprintf(b, sizeof(b), "%lld", v);
	if (shard_set(sh, store_hash(KEY(c, 1)), KEY(c, 1), b, (size_t)n,
		      expire))
		out_error(c->o, E_NOMEM);
	else
		out_int(c->o, v);
out:
	pthread_mutex_unlock(&sh->mu);
}

static void do_incr(struct ctx *c) { incr_by(c, 1); }
static void do_decr(struct ctx *c) { incr_by(c, -1); }

static void do_incrby(struct ctx *c, bool neg)
{
	long long by;

	if (!arg_ll(&c->av[2], &by) || (neg && by == LLONG_MIN)) {
		out_error(c->o, neg && arg_ll(&c->av[2], &by) ?
			  "ERR decrement would overflow" : E_INT);
		return;
	}
	incr_by(c, neg ? -by : by);
}

static void do_incrby_(struct ctx *c) { do_incrby(c, false); }
static void do_decrby(struct ctx *c) { do_incrby(c, true); }

static void expire_by(struct ctx *c, long long unit, const char *name)
{
	struct shard *sh;
	struct entry *e;
	long long v;

	if (!arg_ll(&c->av[2], &v)) {
		out_error(c->o, E_INT);
		return;
	}
	if (c->ac > 3) {
		out_error(c->o, "ERR Unsupported option ");
		return;
	}
	if (v > LLONG_MAX / unit || v < LLONG_MIN / unit ||
	    (v > 0 && v * unit > LLONG_MAX - c->now)) {
		char msg[64];

		snprintf(msg, sizeof(msg), "ERR invalid expire time in '%s' "
			 "command", name);
		out_error(c->o, msg);
		return;
	}
	e = lookup(c, 1, &sh);
	if (!e) {
		out_int(c->o, 0);
	} else if (v <= 0) {
		shard_del(sh, e->hash, KEY(c, 1), c->now);
		out_int(c->o, 1);
	} else {
		e->expire_ms = c->now + v * unit;
		out_int(c->o, 1);
	}
	pthread_mutex_unlock(&sh->mu);
}

static void do_expire(struct ctx *c) { expire_by(c, 1000, "expire"); }
static void do_pexpire(struct ctx *c) { expire_by(c, 1, "pexpire"); }

static void ttl_in(struct ctx *c, bool ms)
{
	struct shard *sh;
	struct entry *e = lookup(c, 1, &sh);

	if (!e)
		out_int(c->o, -2);
	else if (!e->expire_ms)
		out_int(c->o, -1);
	else if (ms)
		out_int(c->o, e->expire_ms - c->now);
	else
		out_int(c->o, (e->expire_ms - c->now + 500) / 1000);
	pthread_mutex_unlock(&sh->mu);
}

static void do_ttl(struct ctx *c) { ttl_in(c, false); }
static void do_pttl(struct ctx *c) { ttl_in(c, true); }

static void do_persist(struct ctx *c)
{
	struct shard *sh;
	struct entry *e = lookup(c, 1, &sh);

	out_int(c->o, e && e->expire_ms);
	if (e)
		e->expire_ms = 0;
	pthread_mutex_unlock(&sh->mu);
}

static void do_mget(struct ctx *c)
{
	out_head(c->o, '*', (long long)c->ac - 1);
	for (size_t i = 1; i < c->ac; i++) {
		struct shard *sh;
		struct entry *e = lookup(c, i, &sh);

		if (e)
			out_bulk(c->o, e->val, e->vlen);
		else
			out_nil(c->o);
		pthread_mutex_unlock(&sh->mu);
	}
}

static void do_mset(struct ctx *c)
{
	if (c->ac % 2 == 0) {
		out_error(c->o, "ERR wrong number of arguments for 'mset' "
			  "command");
		return;
	}
	/* each key on its own: no global lock, so MSET is not atomic
	 * across shards (redis's is) */
	for (size_t i = 1; i < c->ac; i += 2) {
		uint64_t h = store_hash(KEY(c, i));
		struct shard *sh = store_shard(c->st, h);
		int err;

		pthread_mutex_lock(&sh->mu);
		err = shard_set(sh, h, KEY(c, i), c->av[i + 1].p,
				c->av[i + 1].len, 0);
		pthread_mutex_unlock(&sh->mu);
		if (err) {
			out_error(c->o, E_NOMEM);
			return;
		}
	}
	OK(c->o);
}

static void do_dbsize(struct ctx *c)
{
	out_int(c->o, (long long)store_size(c->st));
}

static void do_flushall(struct ctx *c)
{
	store_flush(c->st);
	OK(c->o);
}

/* redis-benchmark asks CONFIG GET save / appendonly at start; redis-cli
 * asks nothing in one-shot mode (COMMAND DOCS only interactively). */
static void do_config(struct ctx *c)
{
	if (!is(&c->av[1], "GET") || c->ac != 3) {
		out_error(c->o, is(&c->av[1], "GET") ?
			  "ERR wrong number of arguments for 'config|get' "
			  "command" : "ERR unknown subcommand");
		return;
	}
	if (is(&c->av[2], "save")) {
		out_raw(c->o, "*2\r\n", 4);
		out_bulk(c->o, "save", 4);
		out_bulk(c->o, "", 0);
	} else if (is(&c->av[2], "appendonly")) {
		out_raw(c->o, "*2\r\n", 4);
		out_bulk(c->o, "appendonly", 10);
		out_bulk(c->o, "no", 2);
	} else {
		out_raw(c->o, "*0\r\n", 4);
	}
}

static void do_command(struct ctx *c)
{
	out_raw(c->o, "*0\r\n", 4);   /* no command table: clients cope */
}

static void do_quit(struct ctx *c)
{
	OK(c->o);
}

struct command {
	const char *name;
	int arity;          /* redis's: n exact, -n at least n */
	void (*fn)(struct ctx *c);
};

static const struct command commands[] = {
	{ "get", 2, do_get },         { "set", -3, do_set },
	{ "ping", -1, do_ping },      { "echo", 2, do_echo },
	{ "del", -2, do_del },        { "exists", -2, do_exists },
	{ "incr", 2, do_incr },       { "decr", 2, do_decr },
	{ "incrby", 3, do_incrby_ },  { "decrby", 3, do_decrby },
	{ "expire", -3, do_expire },  { "pexpire", -3, do_pexpire },
	{ "ttl", 2, do_ttl },         { "pttl", 2, do_pttl },
	{ "persist", 2, do_persist }, { "mget", -2, do_mget },
	{ "mset", -3, do_mset },      { "dbsize", 1, do_dbsize },
	{ "flushall", -1, do_flushall }, { "config", -2, do_config },
	{ "command", -1, do_command }, { "quit", -1, do_quit },
};

static void unknown(struct ctx *c)
{
	char msg[1024];
	int n;

	n = snprintf(msg, sizeof(msg), "ERR unknown command '%.*s', with "
		     "args beginning with: ",
		     (int)(c->av[0].len > 128 ? 128 : c->av[0].len),
		     c->av[0].p);
	for (size_t i = 1; i < c->ac && n < (int)sizeof(msg) - 140; i++)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "'%.*s' ",
			      (int)(c->av[i].len > 128 ? 128 : c->av[i].len),
			      c->av[i].p);
	/* a reply line cannot hold CR or LF */
	for (char *p = msg; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	out_error(c->o, msg);
}

bool cmd_exec(struct store *st, const struct resp_cmd *rc, struct out *o)
{
	struct ctx c = { st, rc->argv, rc->argc, o, store_now_ms() };

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *k = &commands[i];

		if (!is(&c.av[0], k->name))
			continue;
		if ((k->arity > 0 && c.ac != (size_t)k->arity) ||
		    (k->arity < 0 && c.ac < (size_t)-k->arity)) {
			char msg[80];

			snprintf(msg, sizeof(msg), "ERR wrong number of "
				 "arguments for '%s' command", k->name);
			out_error(o, msg);
			return true;
		}
		k->fn(&c);
		return k->fn != do_quit;
	}
	unknown(&c);
	return true;
}
