/* reactor/driver.h - the io_uring reactor's entry point as an I/O driver
 * (the operations of runtime/driver.h). Named only by the wiring
 * (wire/rt.c).
 */
#ifndef WEFT_REACTOR_DRIVER_H
#define WEFT_REACTOR_DRIVER_H

#include "runtime/driver.h"

const struct weft__driver_ops *weft__io_driver(void);

#endif /* WEFT_REACTOR_DRIVER_H */
