/* WEFT_FUTURE(c, struct c, ...) whose c_poll takes another frame type.
 * expect: c_poll must be */
#include "frames.h"

struct c {
	WEFT_ASYNC;
};

static weft_poll c_poll(struct a *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_END();
}
WEFT_FUTURE(c, struct c, WEFT_NO_DROP);
