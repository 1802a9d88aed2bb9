/* weft/io.h - placeholder until the module lands. */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include "core.h"

#endif /* WEFT_IO_H */
