/* reactor/wheel.c - the hierarchical timer wheel (see wheel.h).
 *
 * Owned by the reactor thread; no locking, no atomics.
 *
 * Invariant: an entry with deadline `when` lives at the level of the highest
 * 6-bit group in which `when` and `elapsed` differ, in the slot given by
 * that group of `when` (deadlines a turn of the top level minus one top
 * slot or more ahead are placed as if due at the start of the next
 * top-level slot, and re-inserted from there). Since when > elapsed, its slot is at or
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
/* what one top-level slot spans */
#define TOP_SLOT_SPAN ((uint64_t)1 << (LEVEL_BITS * (WEFT__WHEEL_LEVELS - 1)))

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
	if (when - w->elapsed >= MAX_SPAN - TOP_SLOT_SPAN) {
		/* too far for a top-level slot that cannot be mistaken for
		 * the current one (a deadline almost a turn ahead would land
		 * in elapsed's own top slot, one turn later, and look due at
		 * once: advance then re-inserted it there forever, issue 16's
		 * wheel fuzzer): park it at the start of the next top-level
		 * slot; it is re-inserted from there, nearer its deadline */
		when = (w->elapsed | (TOP_SLOT_SPAN - 1)) + 1;
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
		struct weft__wheel_link *e;

		w->elapsed = t;
		/* one entry at a time, off the slot's head: fire may remove
		 * any other entry, this slot's included (a detached chain
		 * would hold removed entries: the wheel fuzzer fired one).
		 * Nothing is re-inserted into this slot: an entry due later
		 * than t lands on a lower level (or, parked, in a later top
		 * slot), and so does anything fire inserts. Only entries due
		 * at the slot start fire here; the rest cascade, so entries
		 * fire in deadline order even when the wheel is advanced
		 * late. */
		while ((e = w->slots[level][slot])) {
			weft__wheel_remove(w, e);
			if (!weft__wheel_insert(w, e))
				fire(e, arg);
		}
	}
	if (now > w->elapsed)
		w->elapsed = now;
}
