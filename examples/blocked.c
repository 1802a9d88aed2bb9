/* examples/blocked.c - the long-poll detector catching the seeds'
 * "blocking the executor" example. Ten tasks sleep 10, 20, ... 100 ms on
 * a current-thread runtime with usleep (a blocking call in a poll), as
 * the seed's sleep_ms does with std::thread::sleep: the only thread is
 * stuck in each poll in turn. The detector (on by default at 10 ms; task
 * tracking on, so reports name the spawn site) reports each poll that
 * runs past the threshold, naming the future and where it was spawned.
 * Then the same with weft_sleep, where no poll blocks.
 * What it checks are facts, not times: every task finished, and every
 * report named sleep_ms and this file (how many polls are caught depends
 * on the machine; the 100 ms ones always are, unless the watcher thread
 * gets no CPU for that long, so at least one report is asked for).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

static bool blocking;
static atomic_int reports, misnamed;

struct sleep_ms {
	WEFT_ASYNC;
	unsigned ms;
	weft_sleep sleep;
};

static weft_poll sleep_ms_poll(struct sleep_ms *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (blocking)
		usleep(f->ms * 1000);              /* blocks the executor */
	else
		WEFT_AWAIT_INIT(weft_sleep, &f->sleep, f->ms * WEFT_MS);
	WEFT_RETURN(f->ms);
	WEFT_END();
}

static void sleep_ms_drop(struct sleep_ms *f)
{
	if (!blocking)
		weft_sleep_drop(&f->sleep);
}

WEFT_FUTURE(sleep_ms, struct sleep_ms, sleep_ms_drop);

/* On the detector's thread, once per long poll. */
static void on_long_poll(void *arg, const weft_long_poll *r)
{
	(void)arg;
	printf("long poll: %s (spawned at %s:%u) has run %llu ms on worker "
	       "%u\n", r->name ? r->name : "?", r->file ? r->file : "?",
	       r->line, (unsigned long long)(r->elapsed_ns / 1000000u),
	       r->worker);
	fflush(stdout);
	atomic_fetch_add(&reports, 1);
	if (!r->name || strcmp(r->name, "sleep_ms") != 0 || !r->file ||
	    !strstr(r->file, "blocked.c"))
		atomic_fetch_add(&misnamed, 1);
}

static int run(weft_rt *rt)
{
	weft_join *j[10];
	int bad = 0;

	for (unsigned i = 0; i < 10; i++)
		if (WEFT_SPAWN(rt, sleep_ms, &j[i], { .ms = 10 * (i + 1) }))
			return 1;
	for (unsigned i = 0; i < 10; i++) {
		weft_join_wait w;

		bad |= WEFT_BLOCK_ON_INIT(rt, weft_join_wait, &w, j[i]) != 0 ||
		       w.res != (intptr_t)(10 * (i + 1));
		weft_join_drop(j[i]);
	}
	return bad;
}

int main(void)
{
	weft_rt_builder b;
	weft_obs_opts obs;
	weft_rt *rt;
	int bad, caught;

	weft_rt_builder_init(&b);
	b.current_thread = true;
	weft_obs_opts_init(&obs);           /* the detector at 10 ms */
	obs.track_tasks = true;             /* spawn sites in the reports */
	obs.on_long_poll = on_long_poll;    /* default: a line on stderr */
	if (weft_rt_create_with(&rt, &b, &obs))
		return 1;
	blocking = true;
	bad = run(rt);
	caught = atomic_load(&reports);
	printf("blocking sleep: %d long polls caught, %d misnamed\n", caught,
	       atomic_load(&misnamed));
	blocking = false;
	bad |= run(rt);
	printf("async sleep: %d long polls caught\n",
	       atomic_load(&reports) - caught);
	weft_rt_destroy(rt);
	return bad || caught < 1 || atomic_load(&misnamed) != 0;
}
