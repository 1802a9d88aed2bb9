/* test/runtime/compile_fail/frames.h - two futures of different frame
 * types, shared by the files here. Each fail_*.c misuses them in one way
 * that must not compile; ok.c uses them correctly and must compile. */
#include "weft/combinators.h"
#include "weft/core.h"
#include "weft/rt.h"

struct a {
	WEFT_ASYNC;
	int x;
};

static weft_poll a_poll(struct a *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(f->x);
	WEFT_END();
}
WEFT_FUTURE(a, struct a, WEFT_NO_DROP);

struct b {
	WEFT_ASYNC;
	long y;
};

static weft_poll b_poll(struct b *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();
	WEFT_END();
}
WEFT_FUTURE(b, struct b, WEFT_NO_DROP);
