/* A branch naming future a with a frame of type struct b.
 * expect: compatible with any */
#include "frames.h"

weft_branch wrong(struct b *fb);

weft_branch wrong(struct b *fb)
{
	return WEFT_BRANCH(a, fb);
}
