/* weft.h - the umbrella header: include this one.
 *
 * weft is a multi-threaded, work-stealing async task runtime for C11 on
 * Linux, on io_uring: futures, wakers, spawn, join, select, channels,
 * cancellation. See docs/guide.md for writing async code in C.
 */
#ifndef WEFT_H
#define WEFT_H

#include "weft/core.h"
#include "weft/rt.h"
#include "weft/combinators.h"
#include "weft/group.h"
#include "weft/futset.h"
#include "weft/sync.h"
#include "weft/time.h"
#include "weft/io.h"
#include "weft/fs.h"
#include "weft/net.h"
#include "weft/fd.h"
#include "weft/signal.h"
#include "weft/process.h"
#include "weft/bytes.h"
#include "weft/bufio.h"
#include "weft/codec.h"
#include "weft/iter.h"
#include "weft/metrics.h"
#include "weft/tls.h"
#include "weft/version.h"

#endif /* WEFT_H */
