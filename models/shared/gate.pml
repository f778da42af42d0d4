/*
 * The protocol of revocable/shared (src/shared/internal/protocol.ts and the read side of
 * src/shared/shared-revocable.ts), for spin.
 *
 * Every shared access of the real code is one SeqCst Atomics operation, so an interleaving of
 * the steps below is exactly an execution of it. Threads: two readers attached from the start
 * (slots 0 and 1), the first with two overlapping accesses; a thread that attaches late (slot 2) and
 * takes one access; two racing revokers; the owner, which notices the revoke through a waiter on
 * the state word, drains every used slot and releases. Atomics.waitAsync is a sleep flag: a
 * waiter sleeps only if the word still holds the value it read, and wakes only on a notify of
 * that word, so a lost wake-up leaves it asleep forever: an invalid end state.
 *
 * Properties: no access is inside the resource after its release (assertions in the readers and
 * at the release); no invalid end state (no deadlock, no lost wake-up: every thread finishes, every
 * revoker sees the end); at most one revoker wins (exactly one, checked at the release).
 *
 * Mutants (each must fail; see check.sh): -DLATE_UNBIASED a late attach starts unbiased;
 * -DNO_NOTIFY the last exit does not notify; -DSPLIT_CHECK the gate check and the increment are
 * two steps; -DSWAP_OUTSIDE the state swap is taken outside the registration lock.
 */

#define BIAS      (-1000)
#define LIVE      0
#define REVOKING  1
#define REVOKED   2
#define NSLOTS    3
#define NSLEEPERS 3           /* the owner (0) and the two revokers (1, 2) can sleep */
#define ADDR_STATE NSLOTS     /* addresses: slot i's count is i, then the state and done words */
#define ADDR_DONE  (NSLOTS + 1)

int  count[NSLOTS];
bit  used[NSLOTS];
byte high = 2;                /* slots 0 and 1 are claimed before anything runs */
byte state = LIVE;
bit  lck = 0;
bit  done = 0;
byte winners = 0;
bit  released = 0;
byte inside = 0;              /* accesses granted and not yet ended */
byte sleeping[NSLEEPERS];     /* address + 1 while asleep on it, 0 while awake */

inline lock()   { atomic { lck == 0 -> lck = 1 } }
inline unlock() { lck = 0 }

/* Atomics.notify(address): wakes every sleeper on it. */
inline notify(address) {
  d_step {
    w = 0;
    do
    :: w < NSLEEPERS -> if :: sleeping[w] == address + 1 -> sleeping[w] = 0 :: else -> skip fi; w++
    :: else -> break
    od
  }
}

/* exit and the undo of a refused enter: one Atomics.sub; the one that drains the slot notifies. */
inline exit_slot(s) {
  atomic { old = count[s]; count[s] = old - 1 };
#ifndef NO_NOTIFY
  if :: old == BIAS + 1 -> notify(s) :: else -> skip fi
#endif
}

/* enter: one Atomics.add whose old value carries the gate; refused, it is undone at once. */
inline enter(s, ok) {
#ifdef SPLIT_CHECK
  if :: count[s] >= 0 -> ok = 1 :: else -> ok = 0 fi;
  if :: ok == 1 -> count[s] = count[s] + 1 :: else -> skip fi;
#else
  atomic {
    old = count[s]; count[s] = old + 1;    /* the one Atomics.add; `inside` is bookkeeping */
    if :: old >= 0 -> ok = 1; assert(!released); inside++ :: else -> ok = 0 fi
  };
  if :: ok == 0 -> exit_slot(s) :: else -> skip fi
#endif
#ifdef SPLIT_CHECK
  if :: ok == 1 -> atomic { assert(!released); inside++ } :: else -> skip fi
#endif
}

inline leave(s) {
  atomic { assert(!released); inside--; old = count[s]; count[s] = old - 1 };
#ifndef NO_NOTIFY
  if :: old == BIAS + 1 -> notify(s) :: else -> skip fi
#endif
}

/* revoke's bias step: BIAS added to every used slot (detaching slots are not modelled). */
inline bias_all() {
  i = 0;
  do
  :: i < high -> if :: used[i] -> count[i] = count[i] + BIAS :: else -> skip fi; i++
  :: else -> break
  od
}

/* A reader with `n` (1 or 2) overlapping accesses in its own slot. */
proctype Reader(byte s; byte n) {
  int old; byte w; bit a; bit b;
  enter(s, a);
  if :: n == 2 -> enter(s, b) :: else -> skip fi;
  if :: a -> leave(s) :: else -> skip fi;
  if :: b -> leave(s) :: else -> skip fi
}

proctype Late() {
  int old; byte w; bit ok; bit gone = 0;
  lock();
  if
  :: state == REVOKED -> gone = 1      /* attach refused: RevokedError */
  :: else ->
#ifdef LATE_UNBIASED
     count[2] = 0;
#else
     if :: state == LIVE -> count[2] = 0 :: else -> count[2] = BIAS fi;
#endif
     used[2] = 1;
     high = 3
  fi;
  unlock();
  if
  :: !gone -> enter(2, ok); if :: ok -> leave(2) :: else -> skip fi
  :: else -> skip
  fi
}

proctype Revoker(byte me) {
  byte i; byte w; bit won = 0;
#ifdef SWAP_OUTSIDE
  atomic { if :: state == LIVE -> state = REVOKING; won = 1; winners++ :: else -> skip fi };
  lock();
  if :: won -> bias_all() :: else -> skip fi;
  unlock();
#else
  lock();
  if
  :: state == LIVE -> atomic { state = REVOKING; won = 1; winners++ }; bias_all()
  :: else -> skip
  fi;
  unlock();
#endif
  if :: won -> notify(ADDR_STATE) :: else -> skip fi;   /* the kick */
  /* wait for the end the owner publishes */
  do
  :: atomic { if :: done == 0 -> sleeping[me] = ADDR_DONE + 1 :: else -> skip fi };
     (sleeping[me] == 0);
     if :: done -> break :: else -> skip fi
  od;
  assert(winners <= 1)
}

proctype Owner() {
  byte i; byte w; int v;
  /* the waiter armed on the state word from creation */
  do
  :: atomic { if :: state == LIVE -> sleeping[0] = ADDR_STATE + 1 :: else -> skip fi };
     (sleeping[0] == 0);
     if :: state != LIVE -> break :: else -> skip fi
  od;
  atomic { lck == 0 };                 /* lock(); unlock(): the drain starts after the bias step */
  i = 0;
  do
  :: i < high ->
     if
     :: used[i] ->
        v = count[i];
        if
        :: v == BIAS -> i++
        :: else ->
           atomic { if :: count[i] == v -> sleeping[0] = i + 1 :: else -> skip fi };
           (sleeping[0] == 0)
        fi
     :: else -> i++
     fi
  :: else -> break
  od;
  atomic { assert(inside == 0 && !released && winners == 1); released = 1 };
  atomic { state = REVOKED; done = 1 };
  notify(ADDR_DONE)
}

init {
  atomic {
    used[0] = 1; used[1] = 1;
    run Owner();
    run Reader(0, 2); run Reader(1, 1); run Late();
    run Revoker(1); run Revoker(2)
  }
}
