/* The control: every macro the fail_*.c files misuse, used correctly. It
 * must compile (with -Werror), or the failures prove nothing. */
#include "frames.h"
#include "weft/futset.h"

struct quiet {
	WEFT_ASYNC_VOID;
	int n;
};

static weft_poll quiet_poll(struct quiet *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	f->n++;
	WEFT_END();
}

static void quiet_drop(struct quiet *f)
{
	f->n = 0;
}
WEFT_FUTURE(quiet, struct quiet, quiet_drop);

int use(weft_rt *rt);

int use(weft_rt *rt)
{
	struct a fa = { .x = 1 };
	struct b fb = { .y = 2 };
	struct quiet q = { 0 };
	weft_branch br[3];
	weft_join *j;
	int ret = 0;

	br[0] = WEFT_BRANCH(a, &fa);
	br[1] = WEFT_BRANCH(b, &fb);
	br[2] = WEFT_BRANCH(quiet, &q);
	(void)br;
	ret |= WEFT_SPAWN(rt, a, &j, { .x = 3 });
	ret |= WEFT_SPAWN_FRAME(rt, b, NULL, &fb);
	ret |= WEFT_BLOCK_ON(rt, a, &fa);
	ret |= WEFT_BLOCK_ON(rt, quiet, &q);
	{
		weft_futset set;
		struct a *pa;

		ret |= WEFT_FUTSET_INIT(&set, a, 0);
		pa = WEFT_FUTSET_PUSH_INIT(&set, a, { .x = 4 });
		ret |= pa ? pa->x : 0;
		pa = WEFT_FUTSET_PUSH(&set, a);
		(void)pa;
		weft_futset_destroy(&set);
	}
	return ret;
}
