/* runtime/futset_internal.h - what the stream combinators (runtime/iter*.c)
 * use of the future set beyond its public API. */
#ifndef WEFT_RUNTIME_FUTSET_INTERNAL_H
#define WEFT_RUNTIME_FUTSET_INTERNAL_H

#include <stdint.h>

#include "weft/futset.h"

/* weft_futset_next_poll without a next future: READY with *res and *frame
 * as the next future's fields. */
weft_poll weft__futset_poll(weft_futset *set, weft_cx *cx, void **frame,
			    intptr_t *res);

/* The slot index of a member's frame: below cap for a set with cap > 0,
 * stable while the member is in the set. */
uint32_t weft__futset_index(const weft_futset *set, const void *frame);

#endif
