/* test/model/deque.pml - Promela model of runtime/deque.c (the growable
 * Chase-Lev run queue with a FIFO owner take), checked by test/model/check.sh.
 *
 * Processes: one owner (pushes tasks 1..N at bottom, takes one at a time
 * from top, at any point between its pushes), NT thieves (each steals half
 * from top STEALS times). After everyone is done the owner drains what is
 * left. Checked, over every interleaving and every weak read allowed below:
 *   - every claimed slot holds the task pushed at that index (no garbage,
 *     no stale task read from a reused or uncopied slot gets claimed),
 *   - no task is claimed twice,
 *   - at the end every task 1..N was claimed exactly once (none lost).
 *
 * Correspondence (runtime/deque.c):
 *   push()      weft__deque_push: load bottom, buf (own, relaxed), load top
 *               (acquire); full (b - t > mask) -> deque_grow; store slot
 *               (relaxed); store bottom b+1 (release, pair 1).
 *   grow()      deque_grow: new buffer of twice the capacity, copy [t, b)
 *               (relaxed), nb->prev = old (old buffers stay readable:
 *               modelled by never reusing buffer 0's memory), store buf
 *               (release, pair 2).
 *   take()      deque_take: load top (acquire), load bottom (acquire),
 *               t >= b -> empty, n = b - t, half: n - n/2, load buf
 *               (acquire), read n slots (relaxed), CAS top t -> t+n
 *               (acq_rel), retry on failure. The owner's weft__deque_pop
 *               is take(want = 1), weft__deque_steal_into is take(half).
 *   The thief's push of the stolen tasks into its own deque is another
 *   deque instance; the model counts a task as taken at the CAS.
 *
 * Memory model. Promela interleaves atomically (sequential consistency);
 * the C code uses acquire/release, which allows stale reads. The model
 * gives the thieves those stale reads explicitly:
 *   - bottom, buf and the slots have one writer (the owner). Each owner
 *     store gets a stamp (ostep). A thief keeps `front`, the latest owner
 *     stamp that happens-before it (raised by acquire loads: reading bottom
 *     value v raises it to the stamp of the store of v, reading buf version
 *     k to the stamp of its publication). A load may return any value
 *     written no earlier than the last hb-visible write (and, for bottom
 *     and buf, no older than what the thread read before: coherence).
 *     A slot with no hb-visible write may return its initial garbage (0).
 *   - top is written only by CAS, and an RMW always reads the latest value.
 *     A stale (older) load of top makes the later CAS fail, since top only
 *     grows, so loading the latest top loses no outcome of the real code.
 *   - the owner's loads of its own bottom/buf/slots read its own latest
 *     writes (coherence); its acquire load of top may be stale (any value
 *     since its own last read or CAS): it then grows when it need not.
 * Not modelled: synchronisation a thief gets from acquiring another
 * taker's CAS on top (ignoring it only allows more stale reads, so it can
 * only add behaviours), and load-buffering (a read returning a value
 * written later in the CAS order), which pair 3's acquire/release forbids;
 * the model therefore does not check pair 3 itself.
 *
 * Variants (spin -DBROKEN=n):
 *   1: the take loads bottom relaxed (pair 1 broken): a thief can read a
 *      slot before the owner's store to it is visible.
 *   2: the take loads buf before top and bottom (swapped order): a thief
 *      can read an index from a buffer that predates it.
 */
#ifndef N
#define N 3          /* tasks pushed by the owner, ids 1..N at index 0..N-1 */
#endif
#ifndef NT
#define NT 2         /* thieves */
#endif
#ifndef STEALS
#define STEALS 1     /* steal calls per thief */
#endif
#ifndef BROKEN
#define BROKEN 0
#endif

#define CAP0 2       /* initial capacity (weft__deque_init), then CAP1 */
#define CAP1 4
#define NSLOT 6      /* buffer 0: slots 0..1, buffer 1: slots 2..5 */
#define H 3          /* writes kept per slot */

/* buffer k (0 or 1) has capacity 2 << k, mask 2k + 1, slots from 2k */
#define MASK(k) (2 * (k) + 1)
#define SLOT(k, i) (2 * (k) + ((i) & MASK(k)))

byte top, bottom, curbuf;       /* latest values */
byte ostep;                     /* owner store counter (stamps) */
byte bstamp[N + 1];             /* stamp of the store bottom = v */
byte bufstamp[2];               /* stamp of the publication of buffer k */
byte sval[NSLOT * H];           /* slot write histories: value, stamp */
byte sstamp[NSLOT * H];
byte slen[NSLOT];
byte taken[N + 1];
byte thieves_done;

/* Owner store to slot s (relaxed): appended to its history. */
inline slot_store(ss, vv) {
	sl = ss;
	assert(slen[sl] < H);
	ostep++;
	sval[sl * H + slen[sl]] = vv;
	sstamp[sl * H + slen[sl]] = ostep;
	slen[sl]++
}

/* Claims task v at index idx (called inside the successful CAS). */
inline claim(cv, idx) {
	assert(cv == idx + 1);          /* the task pushed at that index */
	assert(taken[cv] == 0);         /* not taken before */
	taken[cv] = 1
}

/* weft__deque_push (owner). */
inline push() {
	atomic {
		/* acquire load of top: any value since the owner's last
		 * look (otop), up to the latest */
		ot = otop;
		do
		:: ot < top -> ot++
		:: break
		od;
		otop = ot;
		if
		:: bottom - ot > MASK(curbuf) ->
			/* deque_grow: copy [ot, bottom) into buffer 1 */
			assert(curbuf == 0);
			i = ot;
			do
			:: i < bottom ->
				s = SLOT(0, i);
				slot_store(SLOT(1, i), sval[s * H + slen[s] - 1]);
				i++
			:: else -> break
			od;
			ostep++;
			bufstamp[1] = ostep;
			curbuf = 1          /* release store of buf */
		:: else -> skip
		fi;
		slot_store(SLOT(curbuf, bottom), bottom + 1)
	}
	atomic {
		/* release store of bottom */
		ostep++;
		bstamp[bottom + 1] = ostep;
		bottom++
	}
}

/* deque_take. Thieves (own == 0) read with the weak rules above; the owner
 * (own == 1) reads its own latest writes. want: 1 (pop) or N (half). */
inline take(own, half) {
	do
	:: atomic {
		t = top;                        /* acquire (see header) */
#if BROKEN == 2
		/* broken: buf loaded first */
		if
		:: own -> k = curbuf
		:: else ->
			k = bfl;
			do
			:: k < curbuf && bufstamp[k + 1] <= front -> k++
			:: else -> break
			od;
			do
			:: k < curbuf -> k++
			:: break
			od;
			bfl = k;
			if
			:: bufstamp[k] > front -> front = bufstamp[k]
			:: else -> skip
			fi
		fi;
#endif
		if
		:: own -> b = bottom
		:: else ->
			/* bottom: any value from the last one read */
			b = bfloor;
			do
			:: b < bottom -> b++
			:: break
			od;
			bfloor = b;
#if BROKEN != 1
			/* acquire */
			if
			:: bstamp[b] > front -> front = bstamp[b]
			:: else -> skip
			fi
#endif
		fi
	   }
	   if
	   :: t >= b -> n = 0; break
	   :: else
	   fi;
	   atomic {
		n = b - t;
		if
		:: half -> n = n - n / 2
		:: else -> n = 1
		fi;
#if BROKEN != 2
		/* acquire load of buf: at least the buffer hb-visible
		 * through front, at least the one read before */
		if
		:: own -> k = curbuf
		:: else ->
			k = bfl;
			do
			:: k < curbuf && bufstamp[k + 1] <= front -> k++
			:: else -> break
			od;
			do
			:: k < curbuf -> k++
			:: break
			od;
			bfl = k;
			if
			:: bufstamp[k] > front -> front = bufstamp[k]
			:: else -> skip
			fi
		fi;
#endif
		/* relaxed slot reads */
		i = 0;
		do
		:: i < n ->
			s = SLOT(k, t + i);
			if
			:: own -> j = slen[s]       /* own latest write */
			:: else ->
				/* from the last hb-visible write (j = 0:
				 * none, the initial garbage) */
				j = 0;
				do
				:: j < slen[s] && sstamp[s * H + j] <= front -> j++
				:: else -> break
				od;
				do
				:: j < slen[s] -> j++
				:: break
				od
			fi;
			if
			:: j == 0 -> got[i] = 0
			:: else -> got[i] = sval[s * H + j - 1]
			fi;
			i++
		:: else -> break
		od
	   }
	   atomic {
		/* CAS top t -> t + n (acq_rel) */
		if
		:: top == t ->
			top = t + n;
			i = 0;
			do
			:: i < n -> claim(got[i], t + i); i++
			:: else -> break
			od;
			break
		:: else -> skip         /* someone else took them: retry */
		fi
	   }
	od
}

proctype owner() {
	byte pushed, ot, otop, t, b, k, n, i, j, s, sl;
	byte got[N];
	byte front, bfloor, bfl;        /* unused by the owner */

	do
	:: pushed < N -> push(); pushed++
	:: take(1, 0);
	   if
	   :: n > 0 -> otop = t + n   /* the owner's own CAS */
	   :: else
	   fi
	:: pushed == N -> break
	od;
	/* drain what the thieves left */
	thieves_done == NT;
	do
	:: take(1, 0);
	   if
	   :: n == 0 -> break
	   :: else
	   fi
	od;
	i = 1;
	do
	:: i <= N -> assert(taken[i] == 1); i++
	:: else -> break
	od
}

proctype thief() {
	byte t, b, k, n, i, j, s, c;
	byte got[N];
	byte front, bfloor, bfl;        /* hb frontier on the owner; coherence */

	c = 0;
	do
	:: c < STEALS -> take(0, 1); c++
	:: else -> break
	od;
	thieves_done++
}

init {
	atomic {
		byte i;
		i = 0;
		do
		:: i < NT -> run thief(); i++
		:: else -> break
		od;
		run owner()
	}
}
