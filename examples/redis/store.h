/* examples/redis/store.h - the sharded in-memory key space of the redis
 * example: STORE_SHARDS hash tables, each under its own mutex, a key's
 * shard chosen by its hash; values are byte strings with an optional
 * deadline (CLOCK_MONOTONIC milliseconds, 0 = none). Expiry is lazy (an
 * expired key is removed when a command touches it) plus a sweeper that
 * calls store_sweep a few times a second (see redis.c).
 */
#ifndef EXAMPLES_REDIS_STORE_H
#define EXAMPLES_REDIS_STORE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SHARDS 64

struct entry {
	struct entry *next;
	uint64_t hash;
	int64_t expire_ms;      /* 0: never */
	char *val;
	size_t klen, vlen;
	char key[];
};

struct shard {
	pthread_mutex_t mu;
	struct entry **b;
	size_t nb, n;           /* buckets (a power of two), entries */
	size_t cursor;          /* the sweeper's next bucket */
};

struct store {
	struct shard sh[STORE_SHARDS];
};

int store_init(struct store *st);
void store_destroy(struct store *st);
int64_t store_now_ms(void);
uint64_t store_hash(const char *k, size_t len);
static inline struct shard *store_shard(struct store *st, uint64_t h)
{
	return &st->sh[h % STORE_SHARDS];
}
/* Under the shard's lock: the live entry (an expired one is removed and
 * NULL returned), or NULL. */
struct entry *shard_find(struct shard *s, uint64_t h, const char *k,
			 size_t klen, int64_t now);
/* Under the lock: sets k to a copy of v (expire as given) -> 0 or -ENOMEM. */
int shard_set(struct shard *s, uint64_t h, const char *k, size_t klen,
	      const char *v, size_t vlen, int64_t expire_ms);
/* Under the lock: removes k -> 1 if it was live, 0 if not. */
int shard_del(struct shard *s, uint64_t h, const char *k, size_t klen,
	      int64_t now);
/* Looks at up to `budget` buckets of each shard and removes expired keys:
 * returns how many. */
size_t store_sweep(struct store *st, size_t budget);
size_t store_size(struct store *st);
void store_flush(struct store *st);
#endif
