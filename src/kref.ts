/**
 * Reference counting the way the kernel's `kref` does it: a count that starts at one, a release
 * function that runs when it drops to zero, and loud failure for the two bugs raw counting invites
 * (taking a reference to something already released, dropping more references than were taken).
 *
 * Most code should not count by hand: {@link RefCounted} hands out one token per reference and
 * cannot be unbalanced. `Kref` is the primitive underneath, for objects that embed their own count.
 *
 * Invariants:
 * 1. `count` starts at 1 and is never negative; once it reaches 0 it stays 0.
 * 2. `release` runs exactly once, inside the `put()` that took the count from 1 to 0, and that call
 *    alone returns `true`.
 * 3. A failing call changes nothing: `get()` at zero and `put()` at zero throw
 *    {@link UseAfterReleaseError}; bad arguments throw `TypeError`.
 * 4. If `release` throws, the count is still 0 (the object is released: nothing may take it back)
 *    and the error propagates from the `put()` that released; no later call runs `release` again.
 *
 * @module
 */
import { UseAfterReleaseError, describeName } from './errors.js';
import { checkFunction, checkOptionalString, checkOptions } from './internal/validate.js';


/** Options of {@link Kref}. */
export interface KrefOptions {
  /** A name for error messages: `Kref "gpio0"`. */
  name?: string;
}

/**
 * A reference count with a release function, as the kernel's `struct kref`.
 *
 * **When to use**: an object that tracks its own users and tears itself down after the last one,
 * where each user's get/put pair is easy to see. Otherwise prefer {@link RefCounted}, whose tokens
 * make an unbalanced put impossible.
 *
 * **Gotchas**: `release` runs synchronously inside `put()`. If it returns a promise, that promise is
 * not awaited (start asynchronous teardown from it and keep track of it yourself, or hand the object
 * to a `ResourceScope`).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Kref } from 'revocable';
 *
 * const log: string[] = [];
 * const kref = new Kref(() => log.push('released'));
 * kref.get();                                // count 2
 * assert.equal(kref.put(), false);           // count 1
 * assert.equal(kref.put(), true);            // this call released
 * assert.deepEqual(log, ['released']);
 * assert.equal(kref.getUnlessZero(), false); // too late to take one
 * ```
 */
export class Kref {
  /** >= 0. Reaches 0 once, in the put that calls `#release`; never changes after. */
  #count = 1;
  /** `null` from the moment the count reached 0, so the closure can be collected. */
  #release: ((kref: Kref) => void) | null;
  readonly #name: string | undefined;

  /** Starts the count at 1: the caller holds the first reference. */
  constructor(release: (kref: Kref) => void, options?: KrefOptions) {
    checkFunction(release, 'release');
    checkOptions(options);
    const name = options?.name;
    checkOptionalString(name, 'options.name');
    this.#release = release;
    this.#name = name;
  }

  /** The number of references held; 0 once released. */
  get count(): number {
    return this.#count;
  }

  /** The name given in the options, if any. */
  get name(): string | undefined {
    return this.#name;
  }

  /**
   * Takes another reference. The caller must already hold one: at zero the object is released,
   * and this throws {@link UseAfterReleaseError} (the kernel's "addition on 0; use-after-free").
   */
  get(): void {
    if (this.#count === 0) throw new UseAfterReleaseError(`${describeName('Kref', this.#name)} was already released: get() on a count of 0`);
    this.#count++;
  }

  /**
   * Takes another reference unless the object is being or has been released. For lookups that
   * find an object without holding a reference to it (a cache, a table).
   *
   * @returns `true` if a reference was taken, `false` if the count was 0.
   */
  getUnlessZero(): boolean {
    if (this.#count === 0) return false;
    this.#count++;
    return true;
  }

  /**
   * Drops a reference; the last one runs `release(kref)`. Putting at zero throws
   * {@link UseAfterReleaseError}.
   *
   * @returns `true` for the call that released, `false` otherwise.
   * @throws what `release` throws; the object counts as released all the same.
   */
  put(): boolean {
    if (this.#count === 0) throw new UseAfterReleaseError(`${describeName('Kref', this.#name)} was already released: put() on a count of 0`);
    if (--this.#count !== 0) return false;
    const release = this.#release as (kref: Kref) => void;
    this.#release = null;
    release(this);
    return true;
  }
}
