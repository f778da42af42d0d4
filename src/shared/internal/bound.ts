/**
 * The bound on a shared drain: waits for `done`, but rejects when `timeout` passes with accesses
 * still held in some thread. Once nothing is held, the release is waited for in full.
 *
 * Invariants:
 * 1. A finite timeout above what `setTimeout` can hold (2^31 - 1 ms; beyond it the timer fires
 *    after 1 ms) is honoured by chaining timers, never fired early.
 * 2. No timer is left behind once `done` settles.
 *
 * @module
 */

const LONGEST = 0x7fff_ffff;

export function bounded<T>(done: Promise<T>, timeout: number, inside: () => number, timedOut: (inside: number) => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (left: number): void => {
      timer = setTimeout(() => {
        if (left > LONGEST) return arm(left - LONGEST);
        const count = inside();
        if (count > 0) reject(timedOut(count));
      }, Math.min(left, LONGEST));
    };
    arm(timeout);
    done.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
