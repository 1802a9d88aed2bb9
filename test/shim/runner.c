/* test/shim/runner.c - runs the tests registered through the shim
 * criterion.h (TSan builds): each in a forked child, with its timeout;
 * exits 1 if any failed. Arguments Criterion would take are ignored,
 * except a plain word, which selects tests whose name contains it. */
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

#define SHIM_MAX 1024
#define SHIM_DEFAULT_TIMEOUT 600
#define SHIM_SKIP_CODE 77

static const struct shim_test *tests[SHIM_MAX];
static int ntests;

void shim_register(const struct shim_test *t)
{
	if (ntests == SHIM_MAX) {
		fprintf(stderr, "shim: too many tests\n");
		exit(2);
	}
	tests[ntests++] = t;
}

void shim_fail(const char *file, int line, const char *cond, const char *fmt,
	       ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, cond);
	if (fmt && *fmt) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

void shim_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("skipped: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(SHIM_SKIP_CODE);
}

static int run_one(const struct shim_test *t)
{
	const struct shim_opts *o = t->opts;
	int status;
	pid_t pid;

	if (o->disabled)
		return 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		alarm(o->timeout > 0 ? (unsigned)o->timeout + 1
				     : SHIM_DEFAULT_TIMEOUT);
		if (o->init)
			o->init();
		t->fn();
		if (o->fini)
			o->fini();
		exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	if (WIFSIGNALED(status)) {
		if (o->signal && WTERMSIG(status) == o->signal)
			return 0;
		fprintf(stderr, "[FAIL] %s::%s: signal %d\n", t->suite, t->name,
			WTERMSIG(status));
		return 1;
	}
	if (WEXITSTATUS(status) == SHIM_SKIP_CODE ||
	    WEXITSTATUS(status) == o->exit_code)
		return 0;
	fprintf(stderr, "[FAIL] %s::%s: exit %d\n", t->suite, t->name,
		WEXITSTATUS(status));
	return 1;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int failed = 0, ran = 0;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			only = argv[i];
	for (int i = 0; i < ntests; i++) {
		if (only && !strstr(tests[i]->name, only))
			continue;
		ran++;
		failed += run_one(tests[i]);
	}
	fprintf(stderr, "shim: %d tests, %d failed\n", ran, failed);
	return failed ? 1 : 0;
}
