/* Pushing future a into a set with an initialiser naming a field of b's
 * frame.
 * expect: has no member named|no member named|unknown field|does not refer to any field */
#include "frames.h"
#include "weft/futset.h"

void *wrong(weft_futset *set);

void *wrong(weft_futset *set)
{
	return WEFT_FUTSET_PUSH_INIT(set, a, { .y = 1 });
}
