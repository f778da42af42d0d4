/**
 * The steps of the shared gate that touch more than one word: claiming a slot, the revoke's first
 * step, closing and freeing a slot, reclaiming an exited thread's slots, and looking for a slot not
 * yet drained. Each runs on the memory of `layout.ts` alone, so every thread's object (and every
 * explored schedule) runs exactly this code. The Promela model in `models/shared/` is this file's
 * protocol, step for step.
 *
 * Invariants (with those of `layout.ts`):
 * 1. {@link claim}, {@link begin}, {@link close}, {@link free} and {@link reclaim} run under the
 *    registration lock. {@link begin} changes the state and biases every used slot in one hold of
 *    it: a slot claimed before the hold is biased by it, one claimed after it starts biased, and no
 *    slot is biased twice (a slot claimed between a state change made outside the lock and the
 *    biasing would be, and its drain would never end).
 * 2. A slot whose thread is detaching was biased by that thread: {@link begin} leaves it alone.
 * 3. Whatever frees or resets a slot notifies its count, so a drain waiting on it wakes.
 *
 * @module
 */
import { atomics as A } from './atomics.js';
import { lockOver, unlock } from './lock.js';
import {
  BIAS, DETACHING, DONE, HEADER_FLAGS, HIGH_WATER, LIVE, MAX_THREADS, OWNER, OWNER_GONE, REVOKED, REVOKER, REVOKING,
  SLOT_COUNT, SLOT_FLAGS, SLOT_GENERATION, SLOT_THREAD, STARTED_HIGH, STARTED_LOW, STATE, USED, slotBase,
} from './layout.js';

/** {@link claim} found every slot taken. */
export const FULL = -1;
/** {@link claim} found the resource revoked and released: nothing to attach to. */
export const GONE = -2;
/** {@link claim} found a slot of the same thread in use. */
export const TAKEN = -3;

/**
 * Claims a slot for thread `threadId` (under the lock): a free one, or a new one past the high-water
 * mark. Its count starts at `0` while live and at `BIAS` once a revoke has begun (never granted).
 * Returns the slot's index, or {@link FULL}, {@link GONE}, {@link TAKEN}.
 */
export function claim(words: Int32Array, threadId: number): number {
  const state = A.load(words, STATE);
  if (state === REVOKED) return GONE;
  const high = A.load(words, HIGH_WATER);
  let index = -1;
  for (let i = 0; i < high; i++) {
    const base = slotBase(i);
    if ((A.load(words, base + SLOT_FLAGS) & USED) !== 0) {
      if (A.load(words, base + SLOT_THREAD) === threadId) return TAKEN;
    } else if (index === -1) {
      index = i;
    }
  }
  if (index === -1) {
    if (high === A.load(words, MAX_THREADS)) return FULL;
    index = high;
  }
  const base = slotBase(index);
  A.store(words, base + SLOT_THREAD, threadId);
  A.add(words, base + SLOT_GENERATION, 1);
  A.store(words, base + SLOT_COUNT, state === LIVE ? 0 : BIAS);
  A.store(words, base + SLOT_FLAGS, USED);
  // Last: a drain that reads the new mark finds the slot complete.
  if (index === high) A.store(words, HIGH_WATER, high + 1);
  return index;
}

/**
 * The revoke's first step (under the lock): live → revoking, then `BIAS` added to every used slot
 * that is not detaching. Returns whether this call made the change.
 */
export function begin(words: Int32Array, threadId: number, now: number): boolean {
  if (A.compareExchange(words, STATE, LIVE, REVOKING) !== LIVE) return false;
  A.store(words, REVOKER, threadId);
  A.store(words, STARTED_LOW, now % 0x1_0000_0000 | 0);
  A.store(words, STARTED_HIGH, Math.floor(now / 0x1_0000_0000));
  const high = A.load(words, HIGH_WATER);
  for (let i = 0; i < high; i++) {
    const base = slotBase(i);
    if ((A.load(words, base + SLOT_FLAGS) & (USED | DETACHING)) === USED) A.add(words, base + SLOT_COUNT, BIAS);
  }
  return true;
}

/** Closes slot `index` for its own thread's detach (under the lock), unless a revoke already did. */
export function close(words: Int32Array, index: number): void {
  const base = slotBase(index);
  if (A.load(words, base + SLOT_COUNT) >= 0) A.add(words, base + SLOT_COUNT, BIAS);
  A.store(words, base + SLOT_FLAGS, USED | DETACHING);
}

/** Frees slot `index` (under the lock) for reuse; it reads as drained while a revoke is on. */
export function free(words: Int32Array, index: number): void {
  const base = slotBase(index);
  A.store(words, base + SLOT_THREAD, -1);
  A.store(words, base + SLOT_COUNT, A.load(words, STATE) === LIVE ? 0 : BIAS);
  A.store(words, base + SLOT_FLAGS, 0);
  A.notify(words, base + SLOT_COUNT);
}

/**
 * Counts every slot of thread `dead` (which has exited) as drained and frees it. Takes the lock,
 * over from `dead` if it died holding it; then finishes what it may have left half done: a claim
 * (its slot is freed), or a revoke's biasing (completed, and the kick sent). If `dead` was the
 * owner, marks the owner gone so that a drain ends without a release. Returns the slots freed.
 */
export function reclaim(words: Int32Array, dead: number, me: number, name: string | undefined): number {
  const tookOver = lockOver(words, me, dead, name);
  let count = 0;
  try {
    const state = A.load(words, STATE);
    const high = A.load(words, HIGH_WATER);
    for (let i = 0; i < high; i++) {
      const base = slotBase(i);
      if (A.load(words, base + SLOT_THREAD) !== dead) continue;
      A.store(words, base + SLOT_THREAD, -1);
      A.store(words, base + SLOT_COUNT, state === LIVE ? 0 : BIAS);
      A.store(words, base + SLOT_FLAGS, 0);
      A.notify(words, base + SLOT_COUNT);
      count++;
    }
    if (tookOver && state !== LIVE) {
      for (let i = 0; i < high; i++) {
        const base = slotBase(i);
        if ((A.load(words, base + SLOT_FLAGS) & USED) !== 0 && A.load(words, base + SLOT_COUNT) >= 0) {
          A.add(words, base + SLOT_COUNT, BIAS);
          A.notify(words, base + SLOT_COUNT);
        }
      }
      A.notify(words, STATE);
    }
    if (A.load(words, OWNER) === dead) {
      A.store(words, HEADER_FLAGS, A.load(words, HEADER_FLAGS) | OWNER_GONE);
      A.notify(words, STATE);
      A.notify(words, DONE);
    }
  } finally {
    unlock(words);
  }
  return count;
}

/** The first used slot not yet drained (`-1`: all are), for a drain to wait on. */
export function undrained(words: Int32Array): number {
  const high = A.load(words, HIGH_WATER);
  for (let i = 0; i < high; i++) {
    const base = slotBase(i);
    if ((A.load(words, base + SLOT_FLAGS) & USED) !== 0 && A.load(words, base + SLOT_COUNT) !== BIAS) return i;
  }
  return -1;
}

/** Accesses in flight in every thread. */
export function inFlight(words: Int32Array): number {
  const high = A.load(words, HIGH_WATER);
  let sum = 0;
  for (let i = 0; i < high; i++) {
    const base = slotBase(i);
    if ((A.load(words, base + SLOT_FLAGS) & USED) === 0) continue;
    const count = A.load(words, base + SLOT_COUNT);
    sum += count < 0 ? count - BIAS : count;
  }
  return sum;
}
