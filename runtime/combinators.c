/* runtime/combinators.c - join_all and select over child futures held
 * inline in the caller's frame.
 *
 * Both poll their branches with the caller's context through the
 * branch's future type (a typed trampoline); a child's WEFT_RETURN lands in
 * the child's own res. A branch that returned READY is marked done and never polled
 * again (fused). select drops (runs the drop function of) every losing
 * branch before it returns READY; it starts each poll at a random branch
 * unless WEFT_SELECT_BIASED is set, so no branch is favoured. Single
 * threaded: a combinator is polled by one task at a time.
 */
#include <errno.h>

#include "weft/combinators.h"

static weft_poll poll_branch(weft_branch *b, weft_cx *cx)
{
	weft_poll p = b->type->poll(b->fut, cx);

	if (p == WEFT_READY)
		b->done = true;
	return p;
}

static void drop_branch(weft_branch *b)
{
	if (b->dropped || b->keep)
		return;
	b->dropped = true;
	if (b->type->drop)
		b->type->drop(b->fut);
}

/* A branch array the combinator cannot use: NULL, or a branch without a
 * type (not made by WEFT_BRANCH). */
static bool branches_bad(const weft_branch *branches, size_t n)
{
	if (!branches)
		return n > 0;
	for (size_t i = 0; i < n; i++)
		if (!branches[i].type || !branches[i].type->poll ||
		    !branches[i].fut)
			return true;
	return false;
}

void weft_join_all_init(weft_join_all *j, weft_branch *branches, size_t n)
{
	j->branches = branches;
	j->n = n;
	j->remaining = 0;
	j->res = 0;
	if (branches_bad(branches, n)) {
		j->n = 0;
		j->res = -EINVAL;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!branches[i].done)
			j->remaining++;
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

void weft_try_join_init(weft_try_join *j, weft_branch *branches, size_t n)
{
	j->branches = branches;
	j->n = n;
	j->remaining = 0;
	j->failed = -1;
	j->res = 0;
	if (branches_bad(branches, n)) {
		j->n = 0;
		j->res = -EINVAL;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!branches[i].done)
			j->remaining++;
}

weft_poll weft_try_join_poll(weft_try_join *j, weft_cx *cx)
{
	if (j->failed >= 0)
		return WEFT_READY;
	for (size_t i = 0; i < j->n && j->remaining; i++) {
		weft_branch *b = &j->branches[i];
		intptr_t r;

		if (b->done)
			continue;
		if (poll_branch(b, cx) != WEFT_READY)
			continue;
		j->remaining--;
		r = weft_future_res(b->type, b->fut);
		if (r < 0) {
			j->failed = (intptr_t)i;
			j->res = r;
			/* the failing child is the caller's, like select's
			 * winner: mark it so the drop below skips it */
			b->dropped = true;
			for (size_t l = 0; l < j->n; l++)
				drop_branch(&j->branches[l]);
			b->dropped = false;
			return WEFT_READY;
		}
	}
	return j->remaining ? WEFT_PENDING : WEFT_READY;
}

void weft_try_join_drop(weft_try_join *j)
{
	for (size_t i = 0; i < j->n; i++)
		drop_branch(&j->branches[i]);
}

static _Thread_local uint32_t select_seed;

void weft_select_init(weft_select *s, weft_branch *branches, size_t n,
		      unsigned flags)
{
	s->res = -1;
	if (n == 0 || branches_bad(branches, n)) {
		s->branches = NULL;
		s->n = 0;
		s->res = -EINVAL;
		return;
	}
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

	/* res: -1 while running; an index or -EINVAL once READY */
	if (s->res != -1)
		return WEFT_READY;
	if (!(s->flags & WEFT_SELECT_BIASED))
		start = select_rng(s) % s->n;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (start + k) % s->n;
		weft_branch *b = &s->branches[i];

		if (b->done)
			continue;
		if (poll_branch(b, cx) == WEFT_READY) {
			s->res = (intptr_t)i;
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

WEFT_FUTURE_DEFINE(weft_join_all, weft_join_all_drop);
WEFT_FUTURE_DEFINE(weft_select, weft_select_drop);
WEFT_FUTURE_DEFINE(weft_try_join, weft_try_join_drop);
