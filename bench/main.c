/* bench/main.c - weft-bench: dispatches to one workload of
 * ../shared/peers/README.md. A workload whose code is not built yet (its
 * weak symbol is NULL) is reported as not implemented, exit status 3.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

typedef int (*bench_fn)(int argc, char **argv);

struct workload {
	const char *name;
	bench_fn fn;
	bool hidden;   /* internal helper, not listed in usage */
};

static int list_usage(const struct workload *w, size_t n)
{
	size_t i;

	fprintf(stderr, "usage: weft-bench <workload> [--quick] [--reps N] "
			"[--n N] [--port P] [--max-seconds S]\nworkloads:");
	for (i = 0; i < n; i++)
		if (!w[i].hidden)
			fprintf(stderr, " %s%s", w[i].name,
				w[i].fn ? "" : "(not implemented)");
	fputc('\n', stderr);
	return BENCH_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/* Built at run time: the weak symbols are not constant expressions
	 * for every compiler. README order. */
	const struct workload all[] = {
		{ "spawn_many", bench_spawn_many, false },
		{ "spawn_remote", bench_spawn_remote, false },
		{ "yield_many", bench_yield_many, false },
		{ "ping_pong", bench_ping_pong, false },
		{ "chained_spawn", bench_chained_spawn, false },
		{ "mpsc_throughput", bench_mpsc_throughput, false },
		{ "oneshot", bench_oneshot, false },
		{ "sleep_many", bench_sleep_many, false },
		{ "idle_memory", bench_idle_memory, false },
		{ "idle_memory_child", bench_idle_memory_child, true },
		{ "wake_latency", bench_wake_latency, false },
		{ "wake_probe", bench_wake_probe, true },
		{ "tcp_echo_server", bench_tcp_echo_server, false },
		{ "http_server", bench_http_server, false },
		/* issue 13, not in the peers README */
		{ "joinset", bench_joinset, false },
		{ "spawn_join", bench_spawn_join, false },
		{ "futset_wake", bench_futset_wake, false },
		{ "stream_for_each", bench_stream_for_each, false },
	};
	size_t n = sizeof(all) / sizeof(all[0]), i;

	if (argc < 2)
		return list_usage(all, n);
	if (!strcmp(argv[1], "--list")) {
		/* one implemented workload per line, for scripts and tests */
		for (i = 0; i < n; i++)
			if (all[i].fn && !all[i].hidden)
				printf("%s\n", all[i].name);
		return BENCH_EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(argv[1], all[i].name))
			continue;
		if (!all[i].fn) {
			fprintf(stderr, "weft-bench %s: not implemented\n",
				argv[1]);
			return BENCH_EXIT_NOT_IMPL;
		}
		bench_current_workload = all[i].name;
		return all[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "weft-bench: unknown workload: %s\n", argv[1]);
	return list_usage(all, n);
}
