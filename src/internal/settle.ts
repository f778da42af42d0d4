/**
 * Runs a release that may be synchronous or return a promise, then reports how it ended: at once
 * when it returned a plain value (no microtask turn), or when its promise settled.
 */
import { isThenable } from './validate.js';

/** The outcome of a release: `undefined` when it succeeded, `{ error }` when it threw or rejected. */
export type Failure = { error: unknown } | undefined;

export function settle(run: () => unknown, finish: (failure?: Failure) => void): void {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    finish({ error });
    return;
  }
  if (!isThenable(result)) {
    finish();
    return;
  }
  Promise.resolve(result).then(
    () => finish(),
    (error: unknown) => finish({ error }),
  );
}
