/* test/runtime/version.c - weft_version() and the WEFT_VERSION_* macros
 * agree with each other and with meson.build's project version (passed to
 * the tests as WEFT_TEST_PROJECT_VERSION), so a release bump that misses
 * include/weft/version.h fails here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "weft.h"

#ifndef WEFT_TEST_PROJECT_VERSION
#error "test/meson.build passes WEFT_TEST_PROJECT_VERSION"
#endif

Test(version, library_reports_the_project_version)
{
	const char *v = weft_version();

	cr_assert_not_null(v);
	cr_assert_str_eq(v, WEFT_TEST_PROJECT_VERSION);
}

Test(version, macros_spell_the_project_version)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d.%d.%d", WEFT_VERSION_MAJOR,
		 WEFT_VERSION_MINOR, WEFT_VERSION_PATCH);
	cr_assert_str_eq(buf, WEFT_TEST_PROJECT_VERSION);
	cr_assert_str_eq(WEFT_VERSION_STRING, WEFT_TEST_PROJECT_VERSION);
	cr_assert_eq(WEFT_VERSION_NUMBER, WEFT_VERSION_MAJOR * 10000 +
		     WEFT_VERSION_MINOR * 100 + WEFT_VERSION_PATCH);
}

Test(version, same_major_as_the_library)
{
	int major = -1;

	cr_assert_eq(sscanf(weft_version(), "%d.", &major), 1);
	cr_assert_eq(major, WEFT_VERSION_MAJOR);
}

#if WEFT_VERSION_NUMBER < 10000
#error "WEFT_VERSION_NUMBER usable in #if, and at least 1.0.0"
#endif
