/* weft/net.h - placeholder until the module lands. */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include "core.h"

#endif /* WEFT_NET_H */
