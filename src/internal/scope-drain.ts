/**
 * The disposal loop of every scope and stack: runs the releases of a {@link Batch} newest first,
 * one at a time, and chains their failures as the standard's `DisposeResources` does.
 *
 * Invariants:
 * 1. Releases run newest first; each starts after the previous one has finished: a release whose
 *    result is an object or a function is awaited (as the standard awaits it: `then` is read once,
 *    by the await, inside the protection, so a revoked `Proxy` returned by a release is that
 *    release failing); one that returns `undefined` or another primitive costs no microtask turn
 *    (the standard spends one there: the only difference from it, and what makes the loop fast).
 * 2. A `Symbol.dispose` method's result is never awaited, as the standard wraps it.
 * 3. Every release runs even when some throw or reject; the failures are chained newest outermost,
 *    `new SuppressedError(newer, older)`, and reported once, after the last release.
 * 4. The loop is synchronous until the first release that must be awaited: a batch of synchronous
 *    releases is drained before {@link startDrain} returns, so a disposal can settle with the
 *    standard's timing (see {@link settled}).
 * 5. Nothing here throws: every outcome is a {@link Drain}'s `failed`/`error` or a promise's.
 *
 * @module
 */
import { SUPPRESSED_DURING_DISPOSAL, SuppressedError } from './suppressed-error.js';
import { ADOPT, CLOSE, DEFER, HOLE, MASK, OPEN, SHIFT, TAIL, USE, type Batch } from './scope-list.js';
import { runRelease, type Fn, type ScopeEntry } from './scope-entry.js';

/** One disposal in progress: where it is and what has failed so far. */
export class Drain {
  /** The next slot to release (newest first); -1 once every release has run. */
  index: number;
  failed = false;
  error: unknown = undefined;

  constructor(readonly batch: Batch) {
    this.index = batch.length - 1;
  }

  /** Records a failure, chained over the earlier ones (invariant 3). */
  fail(thrown: unknown): void {
    this.error = this.failed ? new SuppressedError(thrown, this.error, SUPPRESSED_DURING_DISPOSAL) : thrown;
    this.failed = true;
  }
}

const noop = (): void => {};
/** Settled at load, in this module's realm: what the standard's `Await(undefined)` waits behind. */
const RESOLVED = Promise.resolve();

/**
 * Runs releases from `drain.index` down until one returns what must be awaited, and returns that
 * (with `drain.index` past it); `undefined` once every release has run.
 */
function runUntilAwait(drain: Drain): object | undefined {
  const { chunks, kinds } = drain.batch;
  for (let i = drain.index; i >= 0; i--) {
    const kind = kinds[i];
    if (kind === HOLE || kind === OPEN || kind === CLOSE) continue;
    let result: unknown;
    try {
      if (kind === DEFER) {
        // Called through a local: `chunk[i]()` would hand the chunk to the callback as `this`.
        const fn = (chunks[i >>> SHIFT] as unknown[])[i & MASK] as Fn;
        result = fn();
      } else if (kind === TAIL) {
        const method = (chunks[i >>> SHIFT] as unknown[])[i & MASK] as Fn;
        i--;
        const value = (chunks[i >>> SHIFT] as unknown[])[i & MASK];
        const head = kinds[i];
        if (head === ADOPT) result = method(value);
        else if (head === USE) result = method.call(value);
        else {
          // USE_SYNC (invariant 2).
          method.call(value);
          continue;
        }
      } else {
        result = runRelease((chunks[i >>> SHIFT] as unknown[])[i & MASK] as ScopeEntry);
      }
    } catch (thrown) {
      drain.fail(thrown);
      continue;
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
      drain.index = i - 1;
      return result;
    }
  }
  drain.index = -1;
  return undefined;
}

async function finishDrain(drain: Drain, pending: object, end: (() => void) | undefined): Promise<void> {
  let next: object | undefined = pending;
  while (next !== undefined) {
    try {
      // Any object, as the standard awaits it: the await reads `then` (once) and adopts a thenable.
      // eslint-disable-next-line @typescript-eslint/await-thenable
      await next;
    } catch (thrown) {
      drain.fail(thrown);
    }
    next = runUntilAwait(drain);
  }
  end?.();
  if (drain.failed) throw drain.error;
}

/**
 * Starts draining `batch` (invariant 4): the finished {@link Drain} when no release had to be
 * awaited, else a promise that settles once the last release has run, `end()` having run first
 * (it rejects with the chained failures).
 */
export function startDrain(batch: Batch, end?: () => void): Drain | Promise<void> {
  const drain = new Drain(batch);
  const pending = runUntilAwait(drain);
  return pending === undefined ? drain : finishDrain(drain, pending, end);
}

/**
 * What `disposeAsync()` returns for a drain that finished synchronously, with the standard's
 * timing: a new promise already settled, or, when `needsAwait` (a `use(null)` and nothing else
 * awaited), one settled a turn later, as the standard's final `Await(undefined)` does.
 */
export function settled(drain: Drain, needsAwait: boolean): Promise<void> {
  if (!needsAwait) return drain.failed ? Promise.reject(drain.error) : Promise.resolve();
  return drain.failed
    ? RESOLVED.then(() => {
        throw drain.error;
      })
    : RESOLVED.then(noop);
}

/** Drains `batch` as one promise: resolves once every release has run, rejects with the chained failures. */
export function drain(batch: Batch): Promise<void> {
  const outcome = startDrain(batch);
  return outcome instanceof Drain ? settled(outcome, false) : outcome;
}

/**
 * A `DisposableStack`'s disposal: every release runs synchronously, newest first, and what it
 * returns is ignored (the standard's sync-dispose hint). Returns the finished drain.
 */
export function drainSync(batch: Batch): Drain {
  const drain = new Drain(batch);
  const { chunks, kinds } = batch;
  for (let i = batch.length - 1; i >= 0; i--) {
    const kind = kinds[i];
    if (kind === HOLE) continue;
    try {
      if (kind === DEFER) {
        const fn = (chunks[i >>> SHIFT] as unknown[])[i & MASK] as Fn;
        fn();
      } else {
        // A pair: ADOPT calls `fn(value)`, USE_SYNC calls `method.call(value)`.
        const method = (chunks[i >>> SHIFT] as unknown[])[i & MASK] as Fn;
        i--;
        const value = (chunks[i >>> SHIFT] as unknown[])[i & MASK];
        if (kinds[i] === ADOPT) method(value);
        else method.call(value);
      }
    } catch (thrown) {
      drain.fail(thrown);
    }
  }
  drain.index = -1;
  return drain;
}
