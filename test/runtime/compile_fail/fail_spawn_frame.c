/* Spawning future a from a frame of type struct b.
 * expect: compatible with any */
#include "frames.h"

int wrong(weft_rt *rt, struct b *fb);

int wrong(weft_rt *rt, struct b *fb)
{
	return WEFT_SPAWN_FRAME(rt, a, NULL, fb);
}
