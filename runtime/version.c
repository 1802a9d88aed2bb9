/* runtime/version.c - weft_version(): the release this library was built
 * as, meson.build's project version (passed as WEFT_BUILD_VERSION). */
#include "weft/version.h"

#ifndef WEFT_BUILD_VERSION
#error "WEFT_BUILD_VERSION is set by meson.build"
#endif

const char *weft_version(void)
{
	return WEFT_BUILD_VERSION;
}
