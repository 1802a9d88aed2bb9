/* WEFT_RETURN in a frame declared with WEFT_ASYNC_VOID (it has no res).
 * expect: no member named .res */
#include "frames.h"

struct v {
	WEFT_ASYNC_VOID;
};

static weft_poll v_poll(struct v *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_RETURN(1);
	WEFT_END();
}
WEFT_FUTURE(v, struct v, WEFT_NO_DROP);
