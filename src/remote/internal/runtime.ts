/**
 * The clock and timers the protocol runs on, injectable so that a model test can drive the real
 * holder and revoker code through simulated time, pauses and message loss.
 *
 * Invariants:
 * 1. `now()` is monotonic (milliseconds); wall-clock jumps never move a deadline.
 * 2. A timer fires once, no earlier than its delay; `clear` after it fired is harmless.
 */

export interface Timer {
  clear(): void;
}

export interface RemoteRuntime {
  /** A monotonic clock in milliseconds: `performance.now()` by default. */
  now(): number;
  /** Runs `fn` after `ms` (at most 2^31 - 1: callers check). */
  timer(fn: () => void, ms: number): Timer;
  /** A fresh id for a holder or a revoker that was given none. */
  randomId(): string;
  /**
   * The longest a revoker waits without polling the engine, in milliseconds: how soon it notices
   * a detach whose notification was lost. Notifications make it faster; this makes it certain.
   */
  readonly pollMs: number;
}

export const defaultRuntime: RemoteRuntime = {
  now: () => performance.now(),
  timer(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, Math.ceil(ms)));
    return { clear: () => clearTimeout(handle) };
  },
  randomId: () => globalThis.crypto.randomUUID(),
  pollMs: 1000,
};

/**
 * A counter of events with a waiter: `wait(seen, ms)` resolves at once if an event came after the
 * count `seen` was read, so an event between a poll and the wait is never lost (the lost wake-up).
 */
export class Wakeup {
  #count = 0;
  #waiters: (() => void)[] = [];
  readonly #runtime: RemoteRuntime;

  constructor(runtime: RemoteRuntime) {
    this.#runtime = runtime;
  }

  get count(): number {
    return this.#count;
  }

  signal(): void {
    this.#count++;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves on the next event after `seen`, or after `ms` (Infinity: only on an event). */
  wait(seen: number, ms: number): Promise<void> {
    if (this.#count !== seen) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: Timer | undefined;
      const done = (): void => {
        timer?.clear();
        const index = this.#waiters.indexOf(done);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve();
      };
      this.#waiters.push(done);
      if (ms !== Infinity) timer = this.#runtime.timer(done, Math.max(0, ms));
    });
  }
}

/** Resolves after `ms` on the runtime's clock. */
export function sleep(runtime: RemoteRuntime, ms: number): Promise<void> {
  return new Promise<void>((resolve) => void runtime.timer(resolve, Math.max(0, ms)));
}
