/**
 * `ParallelScope`: a {@link ResourceScope} whose disposal releases what it holds side by side, for
 * resources that do not depend on one another (the servers of a program, its tenants, its
 * workers). Stopping N workers with a grace each then takes about one grace, not N.
 *
 * Invariants:
 * 1. The disposal starts every release in one synchronous sweep, newest first, without waiting
 *    for any; it resolves once all have finished, or rejects with their failures chained as
 *    `SuppressedError`s in the order the releases started (as `ResourceScope` chains them).
 * 2. Everything else is `ResourceScope`'s: `release(entry)` and `releaseGroup()` run one at a time;
 *    `move()` hands the resources to a plain, sequential `ResourceScope`; adding to a scope that
 *    is not open releases the value at once.
 * 3. `state` is `'disposing'` until the last release has finished.
 * 4. A release that throws, rejects, or returns a thenable whose `then` throws is a failure of that
 *    release alone: the others run, and the disposal still settles.
 *
 * @module
 */
import { ResourceScope, type AddOptions, type ScopeEntry, type ScopeState } from '../scope.js';
import { chainErrors, settle, type Failure } from '../internal/promise.js';
import { expected } from '../internal/validate.js';
import { SUPPRESSED_DURING_DISPOSAL } from '../internal/suppressed-error.js';


/**
 * A scope whose disposal releases everything side by side: see the module. Use it where order does
 * not matter; nest a `ResourceScope` in it for what must go in order.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ParallelScope } from 'revocable/node';
 *
 * const log: string[] = [];
 * const pool = new ParallelScope({ name: 'workers' });
 * for (const name of ['a', 'b', 'c']) {
 *   pool.adopt(name, async (worker) => {
 *     log.push(`stopping ${worker}`);
 *     await new Promise((resolve) => setTimeout(resolve, 100)); // a grace of its own
 *     log.push(`stopped ${worker}`);
 *   });
 * }
 * await pool.disposeAsync(); // side by side: about 100 ms, not 300
 * assert.deepEqual(log.slice(0, 3), ['stopping c', 'stopping b', 'stopping a']); // all started at once
 * ```
 */
export class ParallelScope extends ResourceScope {
  /** While the disposal sweeps: the releases it has started, in order. */
  #started: Promise<Failure>[] | null = null;
  /** From the disposal's start until its last release has finished. */
  #settling = false;

  override get state(): ScopeState {
    const state = super.state;
    return state === 'disposed' && this.#settling ? 'disposing' : state;
  }

  override use<T extends AsyncDisposable | Disposable | null | undefined>(value: T): T {
    if (this.disposed || value === null || value === undefined) return super.use(value);
    if (typeof value !== 'object' && typeof value !== 'function') return super.use(value);
    // Each method read once, as the standard's `use` reads it.
    const asyncMethod: unknown = (value as Partial<AsyncDisposable>)[Symbol.asyncDispose];
    const syncMethod: unknown = asyncMethod === undefined || asyncMethod === null ? (value as Partial<Disposable>)[Symbol.dispose] : undefined;
    const method = asyncMethod ?? syncMethod;
    if (method === undefined || method === null) throw expected('an object with [Symbol.asyncDispose] or [Symbol.dispose], null or undefined', 'value', value);
    if (typeof method !== 'function') throw expected('a function', asyncMethod === method ? 'value[Symbol.asyncDispose]' : 'value[Symbol.dispose]', method);
    const dispose = asyncMethod === method ? (v: T) => (method as () => unknown).call(v) : (v: T) => void (method as () => unknown).call(v);
    super.adopt(value, this.#sideBySide(dispose));
    return value;
  }

  override adopt<T>(value: T, onDisposeAsync: (value: T) => unknown): T {
    return super.adopt(value, typeof onDisposeAsync === 'function' ? this.#sideBySide(onDisposeAsync) : onDisposeAsync);
  }

  override defer(onDisposeAsync: () => unknown): void {
    if (typeof onDisposeAsync !== 'function') return super.defer(onDisposeAsync);
    const release = this.#sideBySide<undefined>(() => onDisposeAsync());
    super.defer(() => release(undefined));
  }

  override add<T>(value: T, release: (value: T) => unknown, options?: AddOptions): ScopeEntry<T> {
    return super.add(value, typeof release === 'function' ? this.#sideBySide(release) : release, options);
  }

  /** Releases everything side by side (invariant 1). A second call resolves at once. */
  override disposeAsync(): Promise<void> {
    if (typeof this !== 'object' || this === null || !(#started in this) || this.disposed) return super.disposeAsync();
    const started: Promise<Failure>[] = [];
    this.#started = started;
    this.#settling = true;
    const swept = super.disposeAsync();
    return this.#settle(swept, started);
  }

  async #settle(swept: Promise<void>, started: Promise<Failure>[]): Promise<void> {
    try {
      await swept; // the releases run through #sideBySide and never throw into the sweep
    } finally {
      this.#started = null;
    }
    const outcomes = await Promise.all(started);
    this.#settling = false;
    const errors = outcomes.filter((outcome) => outcome !== undefined).map((outcome) => outcome.error);
    if (errors.length > 0) throw chainErrors(errors, SUPPRESSED_DURING_DISPOSAL);
  }

  /**
   * The release as the scope stores it: during the disposal's sweep, it is started and its
   * outcome kept, and the sweep goes on at once; otherwise (`release(entry)`, a group) it runs as
   * given.
   */
  #sideBySide<T>(release: (value: T) => unknown): (value: T) => unknown {
    return (value: T) => {
      const started = this.#started;
      if (started === null) return release(value);
      started.push(run(() => release(value)));
      return undefined;
    };
  }
}

/** Runs a release that may be sync or async; its outcome, never a rejection (invariant 4). */
const run = (release: () => unknown): Promise<Failure> => new Promise<Failure>((resolve) => settle(release, resolve));

// As ResourceScope: one function under both names.
Object.defineProperty(ParallelScope.prototype, Symbol.asyncDispose, {
  value: ParallelScope.prototype.disposeAsync,
  writable: true,
  enumerable: false,
  configurable: true,
});
