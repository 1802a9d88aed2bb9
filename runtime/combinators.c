/* runtime/combinators.c - join_all and select over child futures held
 * inline in the caller's frame.
 *
 * Both poll their branches with the caller's context, redirecting the
 * output slot to each branch's `out`, so a child's WEFT_RETURN lands in
 * its branch. A branch that returned READY is marked done and never polled
 * again (fused). select drops (runs the drop function of) every losing
 * branch before it returns READY; it starts each poll at a random branch
 * unless WEFT_SELECT_BIASED is set, so no branch is favoured. Single
 * threaded: a combinator is polled by one task at a time.
 */
#include <errno.h>

#include "weft/combinators.h"

static weft_poll poll_branch(weft_branch *b, weft_cx *cx)
{
	intptr_t *saved = cx->out;
	weft_poll p;

	cx->out = &b->out;
	p = b->poll(b->frame, cx);
	cx->out = saved;
	if (p == WEFT_READY)
		b->done = true;
	return p;
}

static void drop_branch(weft_branch *b)
{
	if (b->dropped)
		return;
	b->dropped = true;
	if (b->drop)
		b->drop(b->frame);
}

int weft_join_all_init(weft_join_all *j, weft_branch *branches, size_t n)
{
	if (!j || (!branches && n))
		return -EINVAL;
	j->branches = branches;
	j->n = n;
	j->remaining = 0;
	for (size_t i = 0; i < n; i++) {
		if (!branches[i].poll)
			return -EINVAL;
		if (!branches[i].done)
			j->remaining++;
	}
	return 0;
}

weft_poll weft_join_all_poll(weft_join_all *j, weft_cx *cx)
{
	for (size_t i = 0; i < j->n && j->remaining; i++) {
		weft_branch *b = &j->branches[i];

		if (b->done)
			continue;
		if (poll_branch(b, cx) == WEFT_READY)
			j->remaining--;
	}
	return j->remaining ? WEFT_PENDING : WEFT_READY;
}

void weft_join_all_drop(weft_join_all *j)
{
	for (size_t i = 0; i < j->n; i++)
		drop_branch(&j->branches[i]);
}

static _Thread_local uint32_t select_seed;

int weft_select_init(weft_select *s, weft_branch *branches, size_t n,
		     unsigned flags)
{
	if (!s || !branches || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!branches[i].poll)
			return -EINVAL;
	s->branches = branches;
	s->n = n;
	s->flags = flags;
	/* a per-thread sequence mixed with the address: a select re-created
	 * at the same address (a loop, a reused frame) must not start at the
	 * same branch every time */
	select_seed += 0x9e3779b9u;
	s->rng = ((uint32_t)(uintptr_t)s ^ select_seed) * 0x85ebca6bu;
	s->rng ^= s->rng >> 13;
	if (!s->rng)
		s->rng = 1;
	s->winner = -1;
	return 0;
}

static uint32_t select_rng(weft_select *s)
{
	uint32_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return x;
}

weft_poll weft_select_poll(weft_select *s, weft_cx *cx)
{
	size_t start = 0;

	if (s->winner >= 0)
		return WEFT_READY;
	if (!(s->flags & WEFT_SELECT_BIASED))
		start = select_rng(s) % s->n;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (start + k) % s->n;
		weft_branch *b = &s->branches[i];

		if (b->done)
			continue;
		if (poll_branch(b, cx) == WEFT_READY) {
			s->winner = (int)i;
			for (size_t l = 0; l < s->n; l++)
				if (l != i)
					drop_branch(&s->branches[l]);
			return WEFT_READY;
		}
	}
	return WEFT_PENDING;
}

void weft_select_drop(weft_select *s)
{
	for (size_t i = 0; i < s->n; i++)
		drop_branch(&s->branches[i]);
}
