/**
 * The promise helpers every part of the library shares: a deferred, the no-op callbacks, the
 * thenable check, the run of a release that may be sync or async, and the chaining of failures the
 * way the explicit-resource-management standard chains them.
 *
 * Invariants:
 * 1. {@link isThenable} reads `then` once. Reading it runs the value's code (a getter, a `Proxy`
 *    trap) and may throw: call it only where a throw is handled as the failure of the call that
 *    produced the value (a revoked `Proxy` returned by a reader is that reader throwing).
 * 2. {@link settle} reports exactly once, whatever `run` does: returns, throws, returns a thenable
 *    whose `then` throws, or returns one that settles.
 * 3. {@link chainErrors} gives `new SuppressedError(newer, older)`, newest outermost, as
 *    `DisposeResources` does.
 *
 * @module
 */
import { SuppressedError } from './suppressed-error.js';

/** A promise with its settling functions outside. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A promise of an outcome and the one function that settles it: resolved, or rejected with `failure.error`. */
export function outcome(): { readonly promise: Promise<void>; readonly settle: (failure?: Failure) => void } {
  const { promise, resolve, reject } = deferred();
  return { promise, settle: (failure) => (failure === undefined ? resolve() : reject(failure.error)) };
}

/** The callback that does nothing: one function for every place that needs one. */
export const noop = (): void => {};

/** Whether `value` is a thenable (invariant 1: may throw, runs the value's `then` getter). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The outcome of a release: `undefined` when it succeeded, `{ error }` when it threw or rejected. */
export type Failure = { error: unknown } | undefined;

/**
 * Runs a release that may be synchronous or return a promise, then reports how it ended
 * (invariant 2): at once when it returned a plain value (no microtask turn), or when its promise
 * settled.
 */
export function settle(run: () => unknown, finish: (failure?: Failure) => void): void {
  let adopted: Promise<unknown>;
  try {
    const result = run();
    if (!isThenable(result)) {
      finish();
      return;
    }
    adopted = Promise.resolve(result);
  } catch (error) {
    finish({ error });
    return;
  }
  adopted.then(
    () => finish(),
    (error: unknown) => finish({ error }),
  );
}

/** The failures `errors` (oldest first) as one: each later one with the earlier ones suppressed. */
export function chainErrors(errors: readonly unknown[], message: string): unknown {
  let error = errors[0];
  for (let i = 1; i < errors.length; i++) error = new SuppressedError(errors[i], error, message);
  return error;
}
