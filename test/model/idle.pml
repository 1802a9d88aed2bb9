/* test/model/idle.pml - Promela model of the parking protocol of
 * runtime/idle.c and runtime/worker.c, checked by test/model/check.sh.
 *
 * Processes: NW workers (the loop of weft__worker_main: run_once, else
 * park) and one producer, a foreign thread that pushes P tasks, each
 * followed by weft__idle_notify_one (weft__worker_schedule's injector
 * path). All queues (injector and deques) are one abstract location WORK,
 * the number of queued tasks: a push is an RMW on it (injector_push's
 * exchange), a take is a load (injector_is_empty / the deque's loads) and,
 * if that saw work, an RMW that takes one if one is there. Checked over
 * every interleaving and every weak read allowed below:
 *   - no lost wake-up: whenever every process is blocked (the producer is
 *     done and every worker waits in its futex), all P tasks have run and
 *     every worker is counted parked and on `sleepers` (`timeout` below);
 *     a worker stuck anywhere else (the park_cancel wait for its word) is
 *     an invalid end state;
 *   - notify_one wakes at most one worker, and only a parked one (it is
 *     taken off `sleepers` once and its park word is still 1);
 *   - the packed counts in `state` never underflow or exceed NW.
 *
 * Correspondence (C function: model step):
 *   weft__worker_run_once_ex / next_local: take()
 *   search(): weft__idle_try_searching (load state relaxed; 2 * searching
 *     >= NW -> no; RMW state += SEARCH), then steal_work / take_injected:
 *     take(); one look (the C loop's repeated looks until its deadline add
 *     only more chances to find work)
 *   run_once_ex, task found while searching: end_search:
 *     weft__idle_end_searching (RMW state -= SEARCH), last searcher ->
 *     seq_cst fence; work_visible (load WORK); work -> notify_one.
 *     The search loop's uncounted looks past SPIN_PURE_NS (it gives up its
 *     count, end_search, then steals without one) are the take() of a
 *     worker whose try_searching failed.
 *   weft__worker_park: park_word = 1; weft__idle_park_begin (lock; RMW
 *     state -= UNPARK (+ SEARCH if searching); push index on sleepers;
 *     unlock); searching = false; seq_cst fence; work_visible (load WORK);
 *     work -> weft__idle_park_cancel (lock; remove index; found -> RMW
 *     state += UNPARK; unlock), not found -> wait for park_word == 0 and
 *     continue searching; no work -> futex-wait while park_word == 1, then
 *     continue searching; with a worker-owned ring (reactor/wring.c) the
 *     wait is in the ring and may end on a completion with park_word
 *     still 1: the worker then takes the park_cancel path (modelled once
 *     per worker: io_left, with -DRINGWAIT; check.sh's idle-ringwait)
 *   weft__idle_notify_one: seq_cst fence; load state (relaxed);
 *     should_wake (searching == 0 && unparked < NW); lock; load state;
 *     should_wake && nsleepers > 0 -> pop sleepers[--nsleepers]; RMW state
 *     += UNPARK + SEARCH; unlock; weft__worker_unpark (park_word = 0,
 *     release; futex wake)
 *
 * Memory model. Promela interleaves atomically (sequential consistency),
 * under which the protocol would be correct even without its two fences.
 * The model therefore gives WORK and STATE C11 coherence semantics with
 * views (as in the promising / view-based operational models): each keeps
 * its last K writes; each thread has a view (the oldest write it may still
 * read) per location; a relaxed load returns any write from its view on
 * and moves the view there; an RMW reads the newest write; a write moves
 * the writer's view to it. A seq_cst fence joins the thread's view with
 * one global fence view both ways (the fences' total order); the mutex
 * carries the releaser's view to the next acquirer; the park word's
 * release store / acquire load carries the notifier's view to the woken
 * worker. So "store; fence" against "store; fence; load" is the Dekker
 * pair: without a fence, a load may miss the other side's store.
 * Limits: stale reads reach at most K - 1 writes back (older writes are
 * forgotten, raising views); the acquire/release of the RMWs on WORK and
 * STATE carry no views here (treated as relaxed: more behaviours); the
 * park word and the lock-protected sleepers array are sequentially
 * consistent (the park word is only handed over under the lock order and
 * the futex re-checks it in the kernel).
 *
 * Variants (spin -DBROKEN=n):
 *   1: park without the seq_cst fence before re-checking the queues.
 *   2: the producer's notify reads state before it publishes the work.
 *   3: notify_one without its seq_cst fence.
 *   4 (with -DRINGWAIT): a ring wait that ended on a completion goes
 *      back to work without park_cancel.
 */
#ifndef NW
#define NW 2          /* workers */
#endif
#ifndef P
#define P 2           /* tasks the producer pushes */
#endif
#ifndef BROKEN
#define BROKEN 0
#endif

#ifndef K
#define K 3           /* writes kept per location */
#endif
#define WORK 0
#define STATE 1
#define NP (NW + 1)   /* processes with views: workers 0..NW-1, producer NW */

/* state packs unparked (low 3 bits) and searching (<< 3) */
#define UNPARK_ONE 1
#define SEARCH_ONE 8
#define UNPARKED(s) ((s) % 8)
#define SEARCHING(s) ((s) / 8)
#define SHOULD_WAKE(s) (SEARCHING(s) == 0 && UNPARKED(s) < NW)

byte hist[2 * K];       /* write histories of WORK and STATE */
byte hlen[2];
byte view[NP * 2];      /* per process and location: oldest readable */
byte fview[2];          /* seq_cst fence view */
byte lview[2];          /* view released with the lock */
byte pwview[NW * 2];    /* view released with a park word store */

bit lock;
byte sleepers[NW];
byte nsleepers;
bit park_word[NW];
bit io_left[NW];        /* the worker's ring wait may still end early */
byte ran;               /* tasks run */
byte producer_done;

#define LATEST(l) hist[(l) * K + hlen[l] - 1]

/* Forgets the oldest write of location l (history full). */
inline forget(l) {
	fi_ = 0;
	do
	:: fi_ < K - 1 -> hist[l * K + fi_] = hist[l * K + fi_ + 1]; fi_++
	:: else -> break
	od;
	hlen[l]--;
	fi_ = 0;
	do
	:: fi_ < NP ->
		if :: view[fi_ * 2 + l] > 0 -> view[fi_ * 2 + l]-- :: else fi;
		fi_++
	:: else -> break
	od;
	fi_ = 0;
	do
	:: fi_ < NW ->
		if :: pwview[fi_ * 2 + l] > 0 -> pwview[fi_ * 2 + l]-- :: else fi;
		fi_++
	:: else -> break
	od;
	if :: fview[l] > 0 -> fview[l]-- :: else fi;
	if :: lview[l] > 0 -> lview[l]-- :: else fi
}

/* Write v to location l by process me (the store of an RMW). */
inline write(l, v) {
	wv_ = v;
	if :: hlen[l] == K -> forget(l) :: else fi;
	hist[l * K + hlen[l]] = wv_;
	hlen[l]++;
	view[me * 2 + l] = hlen[l] - 1
}

/* Relaxed load of location l into out: any write from the view on. */
inline load(l, out) {
	li_ = view[me * 2 + l];
	do
	:: li_ < hlen[l] - 1 -> li_++
	:: break
	od;
	view[me * 2 + l] = li_;
	out = hist[l * K + li_]
}

/* acquire load of the own park word: join the notifier's view */
inline join_pw() {
	if :: view[me * 2 + WORK] < pwview[me * 2 + WORK] -> view[me * 2 + WORK] = pwview[me * 2 + WORK] :: else fi;
	if :: view[me * 2 + STATE] < pwview[me * 2 + STATE] -> view[me * 2 + STATE] = pwview[me * 2 + STATE] :: else fi
}

/* atomic_thread_fence(memory_order_seq_cst) */
inline fence() {
	atomic {
		if :: view[me * 2 + WORK] < fview[WORK] -> view[me * 2 + WORK] = fview[WORK]
		:: else -> fview[WORK] = view[me * 2 + WORK] fi;
		if :: view[me * 2 + STATE] < fview[STATE] -> view[me * 2 + STATE] = fview[STATE]
		:: else -> fview[STATE] = view[me * 2 + STATE] fi
	}
}

inline lock_acquire() {
	atomic {
		lock == 0 -> lock = 1;
		if :: view[me * 2 + WORK] < lview[WORK] -> view[me * 2 + WORK] = lview[WORK] :: else fi;
		if :: view[me * 2 + STATE] < lview[STATE] -> view[me * 2 + STATE] = lview[STATE] :: else fi
	}
}

inline lock_release() {
	atomic {
		lview[WORK] = view[me * 2 + WORK];
		lview[STATE] = view[me * 2 + STATE];
		lock = 0
	}
}

/* RMW on STATE: add a (delta_up unparked, delta_s searching), signed. */
inline state_add(du, ds) {
	atomic {
		s_ = LATEST(STATE);
		assert(UNPARKED(s_) + du >= 0 && UNPARKED(s_) + du <= NW);
		assert(SEARCHING(s_) + ds >= 0 && SEARCHING(s_) + ds <= NW);
		write(STATE, s_ + du * UNPARK_ONE + ds * SEARCH_ONE)
	}
}

/* weft__idle_notify_one */
inline notify_one() {
#if BROKEN != 3
	fence();
#endif
	atomic { load(STATE, s_) };
	if
	:: SHOULD_WAKE(s_) ->
		lock_acquire();
		atomic { load(STATE, s_) };
		if
		:: SHOULD_WAKE(s_) && nsleepers > 0 ->
			nsleepers--;
			idx_ = sleepers[nsleepers];
			state_add(1, 1);
			lock_release();
			/* weft__worker_unpark: release store, futex wake */
			atomic {
				assert(park_word[idx_] == 1);   /* a parked one */
				pwview[idx_ * 2 + WORK] = view[me * 2 + WORK];
				pwview[idx_ * 2 + STATE] = view[me * 2 + STATE];
				park_word[idx_] = 0
			}
		:: else -> lock_release()
		fi
	:: else
	fi
}

/* next_local / steal_work / take_injected: a load, then an RMW. */
inline take(got) {
	atomic {
		load(WORK, w_);
		if
		:: w_ > 0 && LATEST(WORK) > 0 ->
			write(WORK, LATEST(WORK) - 1); got = 1
		:: else -> got = 0
		fi
	}
}

proctype producer() {
	byte me = NW;
	byte s_, w_, wv_, li_, fi_, idx_, n;

	n = 0;
	do
	:: n < P ->
#if BROKEN == 2
		notify_one();
		atomic { write(WORK, LATEST(WORK) + 1) };
#else
		atomic { write(WORK, LATEST(WORK) + 1) };
		notify_one();
#endif
		n++
	:: else -> break
	od;
	producer_done = 1
}

proctype worker(byte me) {
	byte s_, w_, wv_, li_, fi_, idx_, i;
	bit searching, got, found;

loop:
	/* weft__worker_run_once_ex: next_local */
	take(got);
	if
	:: got -> goto run_it
	:: else
	fi;
	/* search(): weft__idle_try_searching, steal_work */
	if
	:: !searching ->
		atomic { load(STATE, s_) };
		if
		:: 2 * SEARCHING(s_) < NW -> state_add(0, 1); searching = 1
		:: else
		fi
	:: else
	fi;
	take(got);
	if
	:: got ->
		if
		:: searching ->
			/* weft__idle_end_searching; last searcher notifies */
			searching = 0;
			atomic {
				s_ = LATEST(STATE);
				state_add(0, -1)
			};
			if
			:: SEARCHING(s_) == 1 ->
				/* end_search: only if work is still queued */
				fence();
				atomic { load(WORK, w_) };
				if
				:: w_ > 0 -> notify_one()
				:: else
				fi
			:: else
			fi
		:: else
		fi;
		goto run_it
	:: else
	fi;
	/* weft__worker_park */
	park_word[me] = 1;
	lock_acquire();
	if
	:: searching -> state_add(-1, -1)
	:: else -> state_add(-1, 0)
	fi;
	sleepers[nsleepers] = me;
	nsleepers++;
	lock_release();
	searching = 0;
#if BROKEN != 1
	fence();
#endif
	atomic { load(WORK, w_) };                  /* work_visible */
	if
	:: w_ > 0 ->
park_cancel:
		/* weft__idle_park_cancel */
		lock_acquire();
		found = 0;
		i = 0;
		do
		:: i < nsleepers ->
			if
			:: sleepers[i] == me ->
				nsleepers--;
				sleepers[i] = sleepers[nsleepers];
				found = 1;
				break
			:: else -> i++
			fi
		:: else -> break
		od;
		if
		:: found -> state_add(1, 0)
		:: else
		fi;
		lock_release();
		if
		:: found -> goto loop
		:: else
		fi;
		/* popped by a notifier: wait for its store */
		atomic {
			park_word[me] == 0;
			join_pw()
		};
		searching = 1;
		goto loop
	:: else
	fi;
	/* futex-wait (or the driver's wait: the worker's ring) while
	 * park_word == 1 */
end_wait:
	if
	:: atomic {
		park_word[me] == 0;
		join_pw()
	   };
	   searching = 1;
	   goto loop
	:: atomic { io_left[me] == 1 -> io_left[me] = 0 };
	   /* park_sleep: the ring wait ended on a completion for this
	    * worker (once per worker, so that a run can still block): park
	    * word 0 -> woken; else leave the park ourselves as a re-check
	    * that found work does (park_cancel) */
	   if
	   :: atomic { park_word[me] == 0 -> join_pw() };
	      searching = 1;
	      goto loop
	   :: else ->
#if BROKEN == 4
		/* broken: back to work still counted parked, on sleepers */
		goto loop
#else
		goto park_cancel
#endif
	   fi
	fi;
run_it:
	ran++;
	goto loop
}

/* Everything blocked: no task may be left queued, every worker parked. */
proctype checker() {
	timeout ->
	assert(ran == P);
	assert(producer_done == 1);
	assert(LATEST(WORK) == 0);
	assert(UNPARKED(LATEST(STATE)) == 0 && SEARCHING(LATEST(STATE)) == 0);
	assert(nsleepers == NW)
}

init {
	atomic {
		byte i;
		hist[WORK * K] = 0;
		hist[STATE * K] = NW * UNPARK_ONE;
		hlen[WORK] = 1;
		hlen[STATE] = 1;
		i = 0;
		do
		:: i < NW ->
#ifdef RINGWAIT
			io_left[i] = 1;
#endif
			run worker(i); i++
		:: else -> break
		od;
		run producer();
		run checker()
	}
}
