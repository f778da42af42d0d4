/**
 * Waiting on a word of shared memory without blocking the thread: `Atomics.waitAsync` where the
 * runtime has it, a backing-off poll where it does not. And the one thing `waitAsync` does not do:
 * keep a Node process alive while someone awaits the outcome.
 *
 * Invariants:
 * 1. {@link waitChange} resolves once the word may differ from `value`: after a notify on it, or at
 *    once when it already differs. Callers re-read the word and wait again if need be, so a spurious
 *    wake-up is harmless and a notify sent before the wait began is not lost.
 * 2. While a wait made with `keepAlive` is pending, one ref'd interval timer exists in this thread
 *    (a pending `waitAsync` alone lets an idle Node process exit); it is cleared when the last one
 *    settles.
 *
 * @module
 */
import { atomics } from './atomics.js';

const resolved: Promise<void> = Promise.resolve();
const ignore = (): void => {};

let holders = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** Keeps the event loop alive until the returned function is called (once). */
export function keepAlive(): () => void {
  if (holders++ === 0) timer = setInterval(ignore, 1_000_000_000);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--holders === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** Resolves when `words[index]` may no longer be `value` (see invariant 1). */
export function waitChange(words: Int32Array, index: number, value: number, alive: boolean): Promise<void> {
  let pending: Promise<unknown>;
  if (atomics.waitAsync !== undefined) {
    const result = atomics.waitAsync(words, index, value);
    if (!result.async) return resolved;
    pending = result.value;
  } else {
    if (atomics.load(words, index) !== value) return resolved;
    pending = poll(words, index, value);
  }
  if (!alive) return pending.then(ignore);
  const release = keepAlive();
  return pending.then(release);
}

function poll(words: Int32Array, index: number, value: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (delay: number): void => {
      setTimeout(() => {
        if (atomics.load(words, index) !== value) resolve();
        else check(Math.min(delay * 2, 50));
      }, delay);
    };
    check(1);
  });
}
