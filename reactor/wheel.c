/* reactor/wheel.c - the hierarchical timer wheel (see wheel.h).
 *
 * Owned by the reactor thread; no locking, no atomics.
 *
 * Invariant: an entry with deadline `when` lives at the level of the highest
 * 6-bit group in which `when` and `elapsed` differ, in the slot given by
 * that group of `when` (deadlines beyond the top level's reach are clamped
 * to its last tick for placement). Since when > elapsed, its slot is at or
 * after the slot `elapsed` is in, so the first occupied slot at or after
 * the current one, on the lowest non-empty level, is the next expiry. When
 * that slot's start time has passed, the whole slot is taken and elapsed
 * set to its start: entries due at that tick fire, the others are
 * re-inserted and land on a lower level (the cascade). Firing is therefore
 * in deadline order.
 */
#include "reactor/wheel.h"

#define LEVEL_BITS 6u
#define MAX_SPAN ((uint64_t)1 << (LEVEL_BITS * WEFT__WHEEL_LEVELS))

void weft__wheel_init(struct weft__wheel *w, uint64_t now)
{
	*w = (struct weft__wheel){ .elapsed = now };
}

static unsigned level_of(uint64_t elapsed, uint64_t when)
{
	uint64_t diff = (elapsed ^ when) | (WEFT__WHEEL_SLOTS - 1);

	if (diff >= MAX_SPAN)
		diff = MAX_SPAN - 1;
	return (63u - (unsigned)__builtin_clzll(diff)) / LEVEL_BITS;
}

bool weft__wheel_insert(struct weft__wheel *w, struct weft__wheel_link *e)
{
	uint64_t when = e->when;
	unsigned level, slot;

	if (when <= w->elapsed)
		return false;
	if (when - w->elapsed >= MAX_SPAN) {
		/* park it at the last tick of the top level's current turn
		 * (a slot not behind the current one); it is re-inserted from
		 * there, nearer its deadline */
		when = w->elapsed | (MAX_SPAN - 1);
		if (when == w->elapsed)
			when++;
	}
	level = level_of(w->elapsed, when);
	slot = (unsigned)(when >> (level * LEVEL_BITS)) & (WEFT__WHEEL_SLOTS - 1);
	e->level = (uint16_t)level;
	e->slot = (uint16_t)slot;
	e->prev = NULL;
	e->next = w->slots[level][slot];
	if (e->next)
		e->next->prev = e;
	w->slots[level][slot] = e;
	w->occupied[level] |= (uint64_t)1 << slot;
	w->count++;
	return true;
}

void weft__wheel_remove(struct weft__wheel *w, struct weft__wheel_link *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		w->slots[e->level][e->slot] = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (!w->slots[e->level][e->slot])
		w->occupied[e->level] &= ~((uint64_t)1 << e->slot);
	e->prev = e->next = NULL;
	w->count--;
}

/* First occupied slot at or after elapsed's slot on `level`, as the tick
 * its span starts at; UINT64_MAX if none. */
static uint64_t level_next(const struct weft__wheel *w, unsigned level,
			   unsigned *slot_out)
{
	unsigned shift = level * LEVEL_BITS;
	unsigned cur = (unsigned)(w->elapsed >> shift) & (WEFT__WHEEL_SLOTS - 1);
	uint64_t occ = w->occupied[level] & (~(uint64_t)0 << cur);
	uint64_t level_start;
	unsigned slot;

	level_start = w->elapsed & ~(((uint64_t)1 << (shift + LEVEL_BITS)) - 1);
	if (!occ && level + 1 == WEFT__WHEEL_LEVELS && w->occupied[level]) {
		/* only the top level wraps: an entry parked there may sit in
		 * the next turn (when - elapsed < MAX_SPAN still holds) */
		occ = w->occupied[level];
		level_start += MAX_SPAN;
	}
	if (!occ)
		return UINT64_MAX;
	slot = (unsigned)__builtin_ctzll(occ);
	*slot_out = slot;
	return level_start + ((uint64_t)slot << shift);
}

static uint64_t next_slot(const struct weft__wheel *w, unsigned *level,
			  unsigned *slot)
{
	for (unsigned l = 0; l < WEFT__WHEEL_LEVELS; l++) {
		uint64_t t = level_next(w, l, slot);

		if (t != UINT64_MAX) {
			*level = l;
			/* the slot holding elapsed itself started before it */
			return t < w->elapsed ? w->elapsed : t;
		}
	}
	return UINT64_MAX;
}

uint64_t weft__wheel_next(const struct weft__wheel *w)
{
	unsigned level = 0, slot = 0;

	if (!w->count)
		return UINT64_MAX;
	return next_slot(w, &level, &slot);
}

void weft__wheel_advance(struct weft__wheel *w, uint64_t now,
			 void (*fire)(struct weft__wheel_link *e, void *arg),
			 void *arg)
{
	unsigned level = 0, slot = 0;
	uint64_t t;

	while (w->count && (t = next_slot(w, &level, &slot)) <= now) {
		struct weft__wheel_link *e = w->slots[level][slot];

		w->slots[level][slot] = NULL;
		w->occupied[level] &= ~((uint64_t)1 << slot);
		w->elapsed = t;
		while (e) {
			struct weft__wheel_link *n = e->next;

			w->count--;
			e->prev = e->next = NULL;
			/* only entries due at the slot start fire here; the
			 * rest cascade, so entries fire in deadline order even
			 * when the wheel is advanced late */
			if (!weft__wheel_insert(w, e))
				fire(e, arg);
			e = n;
		}
	}
	if (now > w->elapsed)
		w->elapsed = now;
}
