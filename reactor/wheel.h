/* reactor/wheel.h - hierarchical timer wheel (reactor thread only).
 *
 * Six levels of 64 slots; a level-L slot spans 64^L milliseconds, so the
 * wheel covers 64^6 ms less one top slot (2.1 years); later deadlines are parked in
 * the top level and re-inserted when they come round. Every slot is an
 * intrusive doubly linked list; a 64-bit bitmap per level says which slots
 * are occupied, so finding the next expiry is a few count-trailing-zeros.
 * Insert and remove are O(1); an entry cascades down at most five times.
 */
#ifndef WEFT_REACTOR_WHEEL_H
#define WEFT_REACTOR_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT__WHEEL_LEVELS 6
#define WEFT__WHEEL_SLOTS 64

/* Embedded in the timer's record. Also used, outside the wheel, as the
 * link of the reactor's armed-I/O list (a record is never on both). */
struct weft__wheel_link {
	struct weft__wheel_link *prev, *next;
	uint64_t when;      /* deadline, in ms ticks (fire when now >= when) */
	uint16_t level, slot;
};

struct weft__wheel {
	uint64_t elapsed;   /* ms tick the wheel has been advanced to */
	size_t count;       /* entries in the wheel */
	uint64_t occupied[WEFT__WHEEL_LEVELS];
	struct weft__wheel_link *slots[WEFT__WHEEL_LEVELS][WEFT__WHEEL_SLOTS];
};

void weft__wheel_init(struct weft__wheel *w, uint64_t now);
/* Inserts e (e->when set). Returns false, inserting nothing, when e is
 * already due (when <= elapsed): the caller fires it. */
bool weft__wheel_insert(struct weft__wheel *w, struct weft__wheel_link *e);
void weft__wheel_remove(struct weft__wheel *w, struct weft__wheel_link *e);
/* Earliest tick at which weft__wheel_advance has work, or UINT64_MAX. Never
 * later than the earliest deadline (may be earlier: a cascade). */
uint64_t weft__wheel_next(const struct weft__wheel *w);
/* Advances to now and calls fire(e, arg) for every entry with when <= now,
 * after unlinking it. fire may insert or remove other entries. */
void weft__wheel_advance(struct weft__wheel *w, uint64_t now,
			 void (*fire)(struct weft__wheel_link *e, void *arg),
			 void *arg);

/* A plain list head made of the same links (the armed-I/O list). */
static inline void weft__link_list_init(struct weft__wheel_link *h)
{
	h->prev = h->next = h;
}

static inline void weft__link_list_add(struct weft__wheel_link *h,
				       struct weft__wheel_link *e)
{
	e->next = h->next;
	e->prev = h;
	h->next->prev = e;
	h->next = e;
}

static inline void weft__link_list_del(struct weft__wheel_link *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

#endif /* WEFT_REACTOR_WHEEL_H */
