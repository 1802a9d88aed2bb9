/* test/shim/criterion/criterion.h - the subset of Criterion's API that
 * weft's tests use, for ThreadSanitizer builds only.
 *
 * Criterion cannot start under -fsanitize=thread: its BoxFort arena is
 * mapped at a fixed place that collides with TSan's shadow memory
 * ("Could not initialize inheritable arena"). TSan builds therefore compile
 * the very same test files against this header and test/shim/runner.c,
 * which runs each test in a forked child (as Criterion does), with the
 * test's .timeout, and fails on the first failed assertion.
 */
#ifndef WEFT_TEST_SHIM_CRITERION_H
#define WEFT_TEST_SHIM_CRITERION_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shim_opts {
	int unused_;
	double timeout;           /* seconds; 0 = the runner's default */
	void (*init)(void);
	void (*fini)(void);
	bool disabled;
	int exit_code;
	int signal;
	const char *description;
};

struct shim_test {
	const char *suite, *name;
	void (*fn)(void);
	const struct shim_opts *opts;
};

void shim_register(const struct shim_test *t);
void shim_fail(const char *file, int line, const char *cond,
	       const char *fmt, ...) __attribute__((noreturn));
void shim_skip(const char *fmt, ...) __attribute__((noreturn));

#define Test(suite, name, ...)                                               \
	static void suite##_##name##_fn(void);                               \
	static const struct shim_opts suite##_##name##_opts = { 0,           \
								 __VA_ARGS__ }; \
	__attribute__((constructor)) static void suite##_##name##_reg(void)  \
	{                                                                    \
		static const struct shim_test t = {                          \
			#suite, #name, suite##_##name##_fn,                  \
			&suite##_##name##_opts };                            \
		shim_register(&t);                                           \
	}                                                                    \
	static void suite##_##name##_fn(void)

#define SHIM_CHECK(cond, text, ...)                                          \
	do {                                                                 \
		if (!(cond))                                                 \
			shim_fail(__FILE__, __LINE__, text, "" __VA_ARGS__); \
	} while (0)

#define cr_assert(c, ...) SHIM_CHECK((c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) SHIM_CHECK(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) SHIM_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) SHIM_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) SHIM_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(a, ...) SHIM_CHECK((a) == NULL, #a " == NULL", __VA_ARGS__)
#define cr_assert_not_null(a, ...) SHIM_CHECK((a) != NULL, #a " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                          \
	SHIM_CHECK(strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, size, ...)                                    \
	SHIM_CHECK(memcmp((a), (b), (size)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_fail(...) shim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_expect cr_assert
#define cr_expect_eq cr_assert_eq
#define cr_expect_neq cr_assert_neq
#define cr_skip_test(...) shim_skip("" __VA_ARGS__)
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

#endif
