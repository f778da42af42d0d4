/**
 * The registration lock of a shared resource: held for the few operations that must see every slot
 * at once (attach claiming a slot, a revoke changing the state and biasing every slot, detach and
 * reclaim freeing one). Never held across an `await`, nor while user code runs.
 *
 * Invariants:
 * 1. The lock word is `0` when free and the holder's thread id plus one when held, so a thread that
 *    exited while holding it can be named, and `reclaim` of that thread can take the lock over.
 * 2. Acquiring is a compare-and-swap, nothing else: a thread spinning on it writes nothing, so an
 *    explored schedule can tell a spinning thread from one that makes progress.
 *
 * @module
 */
import { LockTimeoutError } from '../errors.js';
import { atomics } from './atomics.js';
import { LOCK } from './layout.js';

/** How long a thread spins for the lock before it gives up: sections last microseconds. */
const LIMIT_MS = 2_000;

/** Takes the lock for thread `me`; throws {@link LockTimeoutError} if it stays taken. */
export function lock(words: Int32Array, me: number, name: string | undefined): void {
  const tag = me + 1;
  let since = 0;
  for (let spins = 0; ; spins++) {
    const holder = atomics.compareExchange(words, LOCK, 0, tag);
    if (holder === 0) return;
    // The clock is read rarely: a section under the lock takes microseconds.
    if ((spins & 0x3fff) === 0x3fff) {
      const now = Date.now();
      if (since === 0) since = now;
      else if (now - since > LIMIT_MS) throw new LockTimeoutError(name, holder - 1, LIMIT_MS);
    }
  }
}

/**
 * Takes the lock for `me`, taking it over from `dead` if that thread holds it. Returns whether it
 * was taken over, in which case the dead holder's section may be half done.
 */
export function lockOver(words: Int32Array, me: number, dead: number, name: string | undefined): boolean {
  if (atomics.compareExchange(words, LOCK, dead + 1, me + 1) === dead + 1) return true;
  lock(words, me, name);
  return false;
}

export function unlock(words: Int32Array): void {
  atomics.store(words, LOCK, 0);
}
