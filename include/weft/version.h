/* weft/version.h - the version of weft: compile-time macros for the
 * headers a program is built with, and weft_version() for the library it
 * runs with.
 *
 * weft follows semantic versioning: MAJOR changes when the API or ABI
 * breaks (it is also the soname: libweft.so.1 for 1.x.y, and the version
 * node WEFT_1.0 of its symbols), MINOR when API is added, PATCH for fixes.
 * The release is meson.build's project version; test runtime/version
 * checks that these macros and weft_version() agree with it.
 *
 * Threads: weft_version may be called from any thread, at any time
 * (before any runtime exists too).
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* The version of the headers in use, as numbers and as "MAJOR.MINOR.PATCH". */
#define WEFT_VERSION_MAJOR 1
#define WEFT_VERSION_MINOR 2
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING "1.2.0"
/* One number that orders versions: MAJOR * 10000 + MINOR * 100 + PATCH
 * (10000 for 1.0.0), for `#if WEFT_VERSION_NUMBER >= 10100`. */
#define WEFT_VERSION_NUMBER                                                 \
	(WEFT_VERSION_MAJOR * 10000 + WEFT_VERSION_MINOR * 100 +            \
	 WEFT_VERSION_PATCH)

/* The version of the library the program runs with, "MAJOR.MINOR.PATCH"
 * (static storage, never NULL). It can be newer than WEFT_VERSION_STRING
 * (a program built against 1.0 headers running with a 1.2 library);
 * its MAJOR is always the headers' (the soname). */
const char *weft_version(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_VERSION_H */
