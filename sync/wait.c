/* sync/wait.c - the slow paths of the sync module's lock and the batched
 * wake-all used by notify_waiters, cancel, close, watch and broadcast.
 *
 * The lock is Drepper's three-state futex mutex ("Futexes Are Tricky",
 * mutex2): 0 free, 1 held, 2 held and maybe sleepers. Pairs:
 * weft__lock_release()'s release exchange -> the acquire CAS/exchange of the
 * next weft__lock_acquire()/weft__lock_slow(). A short spin comes first,
 * since every critical section in sync/ is a handful of stores.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wait.h"

#define WEFT__SPINS 64

static void weft__futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL,
		NULL, 0);
}

static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void weft__lock_slow(weft__lock *l)
{
	uint32_t c;

	for (int i = 0; i < WEFT__SPINS; i++) {
		c = 0;
		/* acquire: as in weft__lock_acquire() */
		if (atomic_compare_exchange_weak_explicit(&l->word, &c, 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		if (c == 2)
			break;
		weft__cpu_relax();
	}
	/* acquire: taking the lock with exchange(2) pairs with the release
	 * exchange in weft__lock_release(); 2 keeps the "sleepers" mark so
	 * our own release wakes the next sleeper */
	while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
		weft__futex_wait(&l->word, 2);
}

void weft__unlock_wake(weft__lock *l)
{
	syscall(SYS_futex, (uint32_t *)&l->word, FUTEX_WAKE_PRIVATE, 1, NULL,
		NULL, 0);
}

void weft__wake_all_unlock(weft__lock *l, weft__wlink *h, uint32_t state)
{
	weft__wlink local;
	weft__wake_batch b;
	weft__waiter *w;

	weft__list_init(&local);
	weft__list_move_all(&local, h);
	weft__batch_init(&b);
	for (;;) {
		while (!weft__batch_full(&b) &&
		       (w = weft__list_pop_front(&local)) != NULL)
			weft__waiter_wake_locked(w, state, &b);
		/* `local` lives on our stack: a waiter dropped meanwhile
		 * unlinks itself from it under the lock, so we only return
		 * once it is empty, checked under the lock. */
		bool more = !weft__list_empty(&local);

		weft__lock_release(l);
		weft__batch_wake(&b);
		if (!more)
			return;
		weft__lock_acquire(l);
	}
}
