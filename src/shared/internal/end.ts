/**
 * The end of a shared revoke: the owner's drain of every thread's slot, and the outcome, published
 * once by the owner after its `release` (or, if the owner thread exited, by whichever thread sees
 * the drain complete) and read by every revoker.
 *
 * Invariants:
 * 1. {@link publish} takes `DONE` from `PENDING` by a compare-and-swap, so one outcome is published
 *    however many threads try; the failure text is written before the outcome becomes visible.
 * 2. {@link awaitEnd} settles only on a published outcome: `RELEASED` resolves, `FAILED` rejects with
 *    the error rebuilt from the trailer.
 *
 * @module
 */
import { describeName } from '../../errors.js';
import { atomics as A } from './atomics.js';
import { readFailure, writeFailure } from './failure.js';
import { BIAS, DONE, FAILED, HEADER_FLAGS, OWNER, OWNER_GONE, PENDING, PUBLISHING, RELEASED, REVOKED, SLOT_COUNT, STATE, slotBase } from './layout.js';
import { undrained } from './protocol.js';
import { waitChange } from './wait.js';

/**
 * The owner's drain: waits until every used slot reads `BIAS`, then calls `done`. This thread's
 * own slot is waited for through `own.wait` (its last exit resumes the drain synchronously, as in
 * the core); every other slot through `waitAsync`.
 */
export function drainAll(words: Int32Array, own: { readonly slot: number; readonly gate: Int32Array; wait(resume: () => void): void }, done: () => void): void {
  const step = (): void => {
    for (;;) {
      const index = undrained(words);
      if (index === -1) return done();
      if (index === own.slot) {
        // Nothing of this thread runs between the check and the wait: no exit can slip between.
        if (A.load(own.gate, 0) === BIAS) continue;
        return own.wait(step);
      }
      const at = slotBase(index) + SLOT_COUNT;
      const value = A.load(words, at);
      if (value === BIAS) continue;
      void waitChange(words, at, value, true).then(step);
      return;
    }
  };
  step();
}

/** Publishes the end once (invariant 1). Returns whether this call did. */
export function publish(words: Int32Array, failure: { error: unknown } | undefined): boolean {
  if (A.compareExchange(words, DONE, PENDING, PUBLISHING) !== PENDING) return false;
  if (failure !== undefined) writeFailure(words, failure.error);
  A.store(words, STATE, REVOKED);
  A.store(words, DONE, failure === undefined ? RELEASED : FAILED);
  A.notify(words, DONE);
  A.notify(words, STATE);
  return true;
}

/** The published outcome now: `undefined` while pending, else how it ended. */
export function outcome(words: Int32Array): { ok: true } | { ok: false; error: Error } | undefined {
  const done = A.load(words, DONE);
  if (done === RELEASED) return { ok: true };
  if (done === FAILED) return { ok: false, error: readFailure(words) };
  return undefined;
}

/**
 * Settles with the published outcome. If the owner thread was reclaimed (it exited), nobody will
 * release: this thread waits for the drain itself and publishes a failure saying so.
 */
export function awaitEnd(words: Int32Array, name: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      for (;;) {
        const end = outcome(words);
        if (end !== undefined) return end.ok ? resolve() : reject(end.error);
        const done = A.load(words, DONE);
        if (done === PENDING && (A.load(words, HEADER_FLAGS) & OWNER_GONE) !== 0) {
          const index = undrained(words);
          if (index === -1) {
            publish(words, { error: ownerGone(name, A.load(words, OWNER)) });
            continue;
          }
          const at = slotBase(index) + SLOT_COUNT;
          const value = A.load(words, at);
          if (value === BIAS) continue;
          void waitChange(words, at, value, true).then(check);
          return;
        }
        if (done !== PENDING && done !== PUBLISHING) continue;
        void waitChange(words, DONE, done, true).then(check);
        return;
      }
    };
    check();
  });
}

function ownerGone(name: string | undefined, owner: number): Error {
  const error = new Error(`${describeName('SharedRevocable', name)}: its owner, thread ${owner}, exited before the drain ended; release did not run`);
  (error as Error & { code: string }).code = 'ERR_OWNER_GONE';
  return error;
}
