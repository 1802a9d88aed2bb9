/* test/sync/notify.c - weft_notify: stored permit, FIFO notify_one,
 * notify_waiters epochs, every cancellation point, wake-exactly-once, and
 * a two-thread ping-pong that hangs if a wakeup is ever lost. */
#include "harness.h"
#include "weft/notify.h"

/* The idle_memory budget: a parked frame is WEFT_ASYNC_VOID and one wait
 * (the task reaches its shared state from w.n), 56 bytes: with the 56-byte
 * task header, jemalloc's 112-byte class. */
struct parked_frame {
	WEFT_ASYNC_VOID;
	weft_notify_wait wait;
};
_Static_assert(sizeof(weft_notify_wait) == 48, "notify wait is not 48 B");
_Static_assert(sizeof(struct parked_frame) <= 56, "parked frame > 56 B");

Test(notify, notify_one_before_wait_stores_exactly_one_permit)
{
	weft_notify n;
	weft_notify_wait a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_one(&n);
	weft_notify_one(&n); /* permits do not add up */
	weft_notify_wait_init(&a, &n);
	cr_assert_eq(weft_notify_wait_poll(&a, tt_cx(&k)), WEFT_READY);
	weft_notify_wait_init(&b, &n);
	cr_assert_eq(weft_notify_wait_poll(&b, tt_cx(&k)), WEFT_PENDING);
	weft_notify_wait_drop(&b);
	cr_assert_eq(tt_live(&k), 0);
	cr_assert_eq(tt_wakes(&k), 0);
}

Test(notify, notify_one_wakes_oldest_waiter_once)
{
	weft_notify n;
	weft_notify_wait f[3] = { 0 };
	tt k[3];

	weft_notify_init(&n);
	for (int i = 0; i < 3; i++) {
		tt_init(&k[i]);
		weft_notify_wait_init(&f[i], &n);
		cr_assert_eq(weft_notify_wait_poll(&f[i], tt_cx(&k[i])),
			     WEFT_PENDING);
	}
	for (int i = 0; i < 3; i++) {
		weft_notify_one(&n);
		for (int j = 0; j < 3; j++)
			cr_assert_eq(tt_wakes(&k[j]), j <= i ? 1 : 0);
		cr_assert_eq(weft_notify_wait_poll(&f[i], tt_cx(&k[i])),
			     WEFT_READY);
	}
	/* nobody waits: the next notify is stored, not lost */
	weft_notify_one(&n);
	weft_notify_wait_init(&f[0], &n);
	cr_assert_eq(weft_notify_wait_poll(&f[0], tt_cx(&k[0])), WEFT_READY);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tt_live(&k[i]), 0);
}

Test(notify, repoll_with_other_waker_keeps_one_registration)
{
	weft_notify n;
	weft_notify_wait f = { 0 };
	tt a, b;

	tt_init(&a);
	tt_init(&b);
	weft_notify_init(&n);
	weft_notify_wait_init(&f, &n);
	cr_assert_eq(weft_notify_wait_poll(&f, tt_cx(&a)), WEFT_PENDING);
	cr_assert_eq(weft_notify_wait_poll(&f, tt_cx(&a)), WEFT_PENDING);
	cr_assert_eq(tt_live(&a), 1);
	cr_assert_eq(weft_notify_wait_poll(&f, tt_cx(&b)), WEFT_PENDING);
	cr_assert_eq(tt_live(&a), 0);
	cr_assert_eq(tt_live(&b), 1);
	weft_notify_one(&n);
	cr_assert_eq(tt_wakes(&a), 0);
	cr_assert_eq(tt_wakes(&b), 1);
	cr_assert_eq(weft_notify_wait_poll(&f, tt_cx(&b)), WEFT_READY);
	cr_assert_eq(tt_live(&b), 0);
}

Test(notify, notify_waiters_wakes_queued_and_initialised_but_stores_nothing)
{
	weft_notify n;
	weft_notify_wait queued = { 0 }, unpolled = { 0 }, later = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_wait_init(&queued, &n);
	cr_assert_eq(weft_notify_wait_poll(&queued, tt_cx(&k)), WEFT_PENDING);
	weft_notify_wait_init(&unpolled, &n);
	weft_notify_waiters(&n);
	cr_assert_eq(tt_wakes(&k), 1);
	weft_notify_wait_init(&later, &n);
	cr_assert_eq(weft_notify_wait_poll(&queued, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_notify_wait_poll(&unpolled, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_notify_wait_poll(&later, tt_cx(&k)), WEFT_PENDING);
	weft_notify_wait_drop(&later);
	cr_assert_eq(tt_live(&k), 0);
}

Test(notify, drop_while_waiting_unlinks_and_releases_waker)
{
	weft_notify n;
	weft_notify_wait a = { 0 }, b = { 0 };
	tt ka, kb;

	tt_init(&ka);
	tt_init(&kb);
	weft_notify_init(&n);
	weft_notify_wait_init(&a, &n);
	weft_notify_wait_init(&b, &n);
	cr_assert_eq(weft_notify_wait_poll(&a, tt_cx(&ka)), WEFT_PENDING);
	cr_assert_eq(weft_notify_wait_poll(&b, tt_cx(&kb)), WEFT_PENDING);
	weft_notify_wait_drop(&a);
	cr_assert_eq(tt_live(&ka), 0);
	weft_notify_one(&n); /* goes to b, a is gone */
	cr_assert_eq(tt_wakes(&ka), 0);
	cr_assert_eq(tt_wakes(&kb), 1);
	weft_notify_wait_drop(&b); /* dropped right after being woken */
	/* b never consumed it: the notification became the stored permit */
	weft_notify_wait_init(&a, &n);
	cr_assert_eq(weft_notify_wait_poll(&a, tt_cx(&ka)), WEFT_READY);
	cr_assert_eq(tt_live(&kb), 0);
}

Test(notify, drop_after_notify_one_passes_it_to_next_waiter)
{
	weft_notify n;
	weft_notify_wait a = { 0 }, b = { 0 };
	tt ka, kb;

	tt_init(&ka);
	tt_init(&kb);
	weft_notify_init(&n);
	weft_notify_wait_init(&a, &n);
	weft_notify_wait_init(&b, &n);
	cr_assert_eq(weft_notify_wait_poll(&a, tt_cx(&ka)), WEFT_PENDING);
	cr_assert_eq(weft_notify_wait_poll(&b, tt_cx(&kb)), WEFT_PENDING);
	weft_notify_one(&n);
	cr_assert_eq(tt_wakes(&ka), 1);
	weft_notify_wait_drop(&a);
	cr_assert_eq(tt_wakes(&kb), 1);
	cr_assert_eq(weft_notify_wait_poll(&b, tt_cx(&kb)), WEFT_READY);
	/* and nothing extra was stored */
	weft_notify_wait_init(&a, &n);
	cr_assert_eq(weft_notify_wait_poll(&a, tt_cx(&ka)), WEFT_PENDING);
	weft_notify_wait_drop(&a);
	cr_assert_eq(tt_live(&ka) + tt_live(&kb), 0);
}

Test(notify, drop_after_ready_and_before_poll_change_nothing)
{
	weft_notify n;
	weft_notify_wait a = { 0 }, b = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_wait_init(&a, &n);
	weft_notify_wait_drop(&a); /* never polled */
	weft_notify_one(&n);
	weft_notify_wait_init(&b, &n);
	cr_assert_eq(weft_notify_wait_poll(&b, tt_cx(&k)), WEFT_READY);
	weft_notify_wait_drop(&b); /* after READY: permit stays consumed */
	weft_notify_wait_init(&a, &n);
	cr_assert_eq(weft_notify_wait_poll(&a, tt_cx(&k)), WEFT_PENDING);
	weft_notify_wait_drop(&a);
	cr_assert_eq(tt_live(&k), 0);
}

Test(notify, exhausted_budget_yields_and_keeps_the_permit)
{
	weft_notify n;
	weft_notify_wait f = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_one(&n);
	weft_notify_wait_init(&f, &n);
	weft_cx *cx = tt_cx(&k);

	cx->budget = 0;
	cr_assert_eq(weft_notify_wait_poll(&f, cx), WEFT_PENDING);
	cr_assert_eq(tt_wakes(&k), 1, "a yield wakes by ref");
	cr_assert(cx->flags & WEFT__CX_YIELD);
	cr_assert_eq(weft_notify_wait_poll(&f, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(tt_live(&k), 0);
}

Test(notify, wait_is_a_future_type_and_keeps_its_notify_after_ready)
{
	weft_notify n;
	weft_notify_wait w = { 0 };
	const weft_future_type *ty = &weft_notify_wait_future;
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	cr_assert_eq(ty->size, 48);
	cr_assert_eq(ty->res_off, offsetof(weft_notify_wait, res));
	weft_notify_wait_init(&w, &n);
	cr_assert_eq(ty->poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_notify_one(&n);
	cr_assert_eq(ty->poll(&w, tt_cx(&k)), WEFT_READY);
	cr_assert_eq(weft_future_res(ty, &w), 0);
	cr_assert_eq(w.n, &n, "the notify pointer survives READY");
	ty->drop(&w);
	cr_assert_eq(tt_live(&k), 0);
}

/* A wait re-initialised while queued would corrupt the list (the old
 * weft_notified made notify_waiters loop forever): debug builds abort. */
MISUSE_TEST(notify, init_of_a_queued_wait_aborts)
{
	weft_notify n;
	weft_notify_wait w = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_wait_init(&w, &n);
	cr_assert_eq(weft_notify_wait_poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_notify_wait_init(&w, &n);
}

/* Chosen by notify_one, not yet polled: re-initialising would lose the
 * notification (a drop passes it on). */
MISUSE_TEST(notify, init_of_a_notified_unpolled_wait_aborts)
{
	weft_notify n;
	weft_notify_wait w = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_wait_init(&w, &n);
	cr_assert_eq(weft_notify_wait_poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_notify_one(&n);
	weft_notify_wait_init(&w, &n);
}

Test(notify, init_after_ready_or_drop_is_fine)
{
	weft_notify n;
	weft_notify_wait w = { 0 };
	tt k;

	tt_init(&k);
	weft_notify_init(&n);
	weft_notify_one(&n);
	weft_notify_wait_init(&w, &n);
	cr_assert_eq(weft_notify_wait_poll(&w, tt_cx(&k)), WEFT_READY);
	weft_notify_wait_init(&w, &n); /* after READY */
	cr_assert_eq(weft_notify_wait_poll(&w, tt_cx(&k)), WEFT_PENDING);
	weft_notify_wait_drop(&w);
	weft_notify_wait_init(&w, &n); /* after drop */
	weft_notify_wait_init(&w, &n); /* never polled */
	weft_notify_wait_drop(&w);
	cr_assert_eq(tt_live(&k), 0);
}

/* --------------------------------------------------------- threads */

/* Waits on n from a plain thread: poll, and while PENDING spin until the
 * test waker fires. Randomly drops a second, extra waiter meanwhile. */
static void wait_on(weft_notify *n, tt *k, unsigned *rng)
{
	weft_notify_wait f = { 0 };
	int seen = tt_wakes(k);

	weft_notify_wait_init(&f, n);
	while (weft_notify_wait_poll(&f, tt_cx(k)) == WEFT_PENDING) {
		*rng = *rng * 1103515245u + 12345u;
		if ((*rng >> 16) % 4 == 0) {
			weft_notify_wait extra = { 0 };
			weft_poll r;

			weft_notify_wait_init(&extra, n);
			r = weft_notify_wait_poll(&extra, tt_cx(k));
			weft_notify_wait_drop(&extra);
			if (r == WEFT_READY) {
				/* the extra wait took the notification */
				weft_notify_wait_drop(&f);
				return;
			}
		}
		seen = tt_wait_wake(k, seen);
	}
}

struct pp {
	weft_notify ping, pong;
	int rounds;
	tt kpong; /* owned here: a waker may still be running when the
		     thread returns */
};

static void *pong_thread(void *arg)
{
	struct pp *p = arg;
	unsigned rng = 7;

	for (int i = 0; i < p->rounds; i++) {
		wait_on(&p->ping, &p->kpong, &rng);
		weft_notify_one(&p->pong);
	}
	return NULL;
}

Test(notify, thread_ping_pong_loses_no_notification, .timeout = 120)
{
	struct pp p;
	pthread_t th;
	tt k;
	unsigned rng = 3;

	tt_init(&k);
	tt_init(&p.kpong);
	weft_notify_init(&p.ping);
	weft_notify_init(&p.pong);
	p.rounds = STRESS(20000, 1000000);
	pthread_create(&th, NULL, pong_thread, &p);
	for (int i = 0; i < p.rounds; i++) {
		weft_notify_one(&p.ping);
		wait_on(&p.pong, &k, &rng);
	}
	pthread_join(th, NULL);
	cr_assert_eq(tt_live(&p.kpong), 0);
	cr_assert_eq(tt_live(&k), 0);
}

struct gate {
	weft_notify n;
	atomic_int started;
	atomic_int opened;
	atomic_int finished;
};

static void *gate_thread(void *arg)
{
	struct gate *g = arg;
	enum { PER = 50 };
	weft_notify_wait f[PER] = { 0 };
	tt k;

	tt_init(&k);
	for (int i = 0; i < PER; i++) {
		weft_notify_wait_init(&f[i], &g->n);
		if (i % 2)
			cr_assert_eq(weft_notify_wait_poll(&f[i], tt_cx(&k)),
				     WEFT_PENDING);
	}
	atomic_fetch_add(&g->started, 1);
	while (!atomic_load(&g->opened))
		sched_yield();
	for (int i = 0; i < PER; i++) {
		int seen = tt_wakes(&k);

		while (weft_notify_wait_poll(&f[i], tt_cx(&k)) ==
		       WEFT_PENDING)
			seen = tt_wait_wake(&k, seen);
	}
	/* each queued waiter was woken once, the unpolled ones never */
	if (tt_wakes(&k) == PER / 2 && tt_live(&k) == 0)
		atomic_fetch_add(&g->finished, 1);
	return NULL;
}

Test(notify, notify_waiters_opens_gate_for_every_thread_once, .timeout = 60)
{
	struct gate g;
	pthread_t th[4];

	weft_notify_init(&g.n);
	atomic_init(&g.started, 0);
	atomic_init(&g.opened, 0);
	atomic_init(&g.finished, 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, gate_thread, &g);
	while (atomic_load(&g.started) < 4)
		sched_yield();
	weft_notify_waiters(&g.n);
	atomic_store(&g.opened, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&g.finished), 4);
}
