/* WEFT_FUTURE(c, struct c, drop) whose drop function takes another
 * frame type.
 * expect: the drop function of c must take */
#include "frames.h"

struct c {
	WEFT_ASYNC;
};

static weft_poll c_poll(struct c *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_END();
}

static void c_drop(struct a *f)
{
	(void)f;
}
WEFT_FUTURE(c, struct c, c_drop);
