/* bench/sync_wl.c - the workloads that need weft's channels: ping_pong
 * (4), mpsc_throughput (6), oneshot (7) and idle_memory (9) of
 * ../shared/peers/README.md. Built only once the sync module's headers
 * exist; until then the weak symbols stay NULL and weft-bench reports the
 * workloads as not implemented. */
#include "bench.h"
