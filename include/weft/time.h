/* weft/time.h - placeholder until the module lands. */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include "core.h"

#endif /* WEFT_TIME_H */
