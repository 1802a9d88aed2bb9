/* block_on of future a with a frame of type struct b.
 * expect: compatible with any */
#include "frames.h"

int wrong(weft_rt *rt, struct b *fb);

int wrong(weft_rt *rt, struct b *fb)
{
	return WEFT_BLOCK_ON(rt, a, fb);
}
