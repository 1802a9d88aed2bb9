/* examples/redis/store.c - the sharded key space (store.h). */
#include "store.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t store_hash(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	while (len--)
		h = (h ^ (unsigned char)*k++) * 1099511628211ull;
	return h ^ (h >> 29);
}

int store_init(struct store *st)
{
	for (size_t i = 0; i < STORE_SHARDS; i++) {
		struct shard *s = &st->sh[i];

		s->nb = 64;
		s->n = s->cursor = 0;
		s->b = calloc(s->nb, sizeof(*s->b));
		if (!s->b)
			return -ENOMEM;
		pthread_mutex_init(&s->mu, NULL);
	}
	return 0;
}

static void free_entry(struct entry *e)
{
	free(e->val);
	free(e);
}

void store_flush(struct store *st)
{
	for (size_t i = 0; i < STORE_SHARDS; i++) {
		struct shard *s = &st->sh[i];

		pthread_mutex_lock(&s->mu);
		for (size_t j = 0; j < s->nb; j++) {
			struct entry *e = s->b[j], *n;

			for (; e; e = n) {
				n = e->next;
				free_entry(e);
			}
			s->b[j] = NULL;
		}
		s->n = 0;
		pthread_mutex_unlock(&s->mu);
	}
}

void store_destroy(struct store *st)
{
	store_flush(st);
	for (size_t i = 0; i < STORE_SHARDS; i++) {
		free(st->sh[i].b);
		pthread_mutex_destroy(&st->sh[i].mu);
	}
}

static struct entry **slot(struct shard *s, uint64_t h, const char *k,
			   size_t klen)
{
	struct entry **pp = &s->b[(h / STORE_SHARDS) & (s->nb - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen &&
		    memcmp((*pp)->key, k, klen) == 0)
			break;
	return pp;
}

static void unlink_entry(struct shard *s, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	s->n--;
	free_entry(e);
}

struct entry *shard_find(struct shard *s, uint64_t h, const char *k,
			 size_t klen, int64_t now)
{
	struct entry **pp = slot(s, h, k, klen);

	if (!*pp)
		return NULL;
	if ((*pp)->expire_ms && (*pp)->expire_ms <= now) {
		unlink_entry(s, pp);
		return NULL;
	}
	return *pp;
}

static void grow(struct shard *s)
{
	size_t nb = s->nb * 2;
	struct entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return;                 /* stays at the old size: still works */
	for (size_t j = 0; j < s->nb; j++) {
		struct entry *e = s->b[j], *n;

		for (; e; e = n) {
			struct entry **d = &b[(e->hash / STORE_SHARDS) &
					      (nb - 1)];

			n = e->next;
			e->next = *d;
			*d = e;
		}
	}
	free(s->b);
	s->b = b;
	s->nb = nb;
	s->cursor = 0;
}

int shard_set(struct shard *s, uint64_t h, const char *k, size_t klen,
	      const char *v, size_t vlen, int64_t expire_ms)
{
	struct entry **pp = slot(s, h, k, klen), *e;
	char *val = malloc(vlen ? vlen : 1);

	if (!val)
		return -ENOMEM;
	memcpy(val, v, vlen);
	if ((e = *pp)) {
		free(e->val);
	} else {
		e = malloc(sizeof(*e) + klen);
		if (!e) {
			free(val);
			return -ENOMEM;
		}
		e->hash = h;
		e->klen = klen;
		memcpy(e->key, k, klen);
		e->next = NULL;
		*pp = e;
		s->n++;
	}
	e->val = val;
	e->vlen = vlen;
	e->expire_ms = expire_ms;
	if (s->n > s->nb)
		grow(s);
	return 0;
}

int shard_del(struct shard *s, uint64_t h, const char *k, size_t klen,
	      int64_t now)
{
	struct entry **pp = slot(s, h, k, klen);
	int live;

	if (!*pp)
		return 0;
	live = !(*pp)->expire_ms || (*pp)->expire_ms > now;
	unlink_entry(s, pp);
	return live;
}

size_t store_sweep(struct store *st, size_t budget)
{
	int64_t now = store_now_ms();
	size_t gone = 0;

	for (size_t i = 0; i < STORE_SHARDS; i++) {
		struct shard *s = &st->sh[i];

		pthread_mutex_lock(&s->mu);
		for (size_t k = 0; k < budget && k < s->nb; k++) {
			struct entry **pp = &s->b[s->cursor];

			while (*pp) {
				if ((*pp)->expire_ms &&
				    (*pp)->expire_ms <= now) {
					unlink_entry(s, pp);
					gone++;
				} else {
					pp = &(*pp)->next;
				}
			}
			s->cursor = (s->cursor + 1) & (s->nb - 1);
		}
		pthread_mutex_unlock(&s->mu);
	}
	return gone;
}

size_t store_size(struct store *st)
{
	size_t n = 0;

	for (size_t i = 0; i < STORE_SHARDS; i++) {
		pthread_mutex_lock(&st->sh[i].mu);
		n += st->sh[i].n;
		pthread_mutex_unlock(&st->sh[i].mu);
	}
	return n;
}
