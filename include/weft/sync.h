/* weft/sync.h - placeholder until the module lands. */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "core.h"

#endif /* WEFT_SYNC_H */
