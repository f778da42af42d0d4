/**
 * Counted references as tokens, like Rust's `Arc`: each {@link Ref} is one reference, dropped once
 * however often `dispose()` is called, so get/put can never be unbalanced. The value is released
 * when the last token is dropped.
 *
 * Invariants:
 * 1. The shared count equals the number of `Ref` tokens not yet dropped; it is a {@link Kref}.
 * 2. `release(value)` runs exactly once, synchronously, inside the `dispose()` that drops the last
 *    token; after it the library holds no reference to the value.
 * 3. A dropped token stays dropped: `dispose()` again is a no-op; `value` and `clone()` throw
 *    {@link UseAfterReleaseError}. Cloning a live token always succeeds (the count is >= 1 while
 *    any token is live).
 * 4. If `release` throws, the value still counts as released and the error propagates from the
 *    `dispose()` that dropped the last token (the kernel's `kref_put` semantics).
 *
 * @module
 */
import { UseAfterReleaseError, describeName } from './errors.js';
import { hooks } from './internal/hooks.js';
import { Kref } from './kref.js';
import { checkFunction, checkOptionalString, checkOptions } from './internal/validate.js';

/** Options of {@link RefCounted.create}. */
export interface RefCountedOptions {
  /** A name for error messages: `Ref "gpio0"`. */
  name?: string;
}

// Module-private doors into the shared block for Ref, which must not be public API.
let valueOf: <T>(shared: RefCounted<T>) => T;
let krefOf: (shared: RefCounted<unknown>) => Kref;
/** Proves a constructor call came from this module. */
const INTERNAL: unique symbol = Symbol('RefCounted internal');

/**
 * A value shared by counted references. Make one with {@link RefCounted.create}, which returns the
 * first {@link Ref}; take more with `ref.clone()`; `release(value)` runs when the last is dropped.
 *
 * **When to use**: a value with several owners and no single one that outlives the rest (a device
 * object that stays usable after unplug while anyone still refers to it). For a value with one
 * owner, use a `ResourceScope` instead.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { RefCounted } from 'revocable';
 *
 * const log: string[] = [];
 * const first = RefCounted.create({ id: 7 }, (v) => log.push(`release ${v.id}`));
 * const second = first.clone();
 * first.dispose();
 * assert.deepEqual(log, []);
 * assert.equal(second.value.id, 7);
 * second.dispose();
 * assert.deepEqual(log, ['release 7']);
 * ```
 */
export class RefCounted<T> {
  readonly #kref: Kref;
  /** The value while the count is above zero; `undefined` from the release on. */
  #value: T | undefined;

  static {
    valueOf = <T>(shared: RefCounted<T>): T => shared.#value as T;
    krefOf = (shared) => shared.#kref;
  }

  /**
   * Shares `value` and returns its first reference. `release(value)` runs when the last reference
   * is dropped.
   */
  static create<T>(value: T, release: (value: T) => void, options?: RefCountedOptions): Ref<T> {
    checkFunction(release, 'release');
    checkOptions(options);
    const name = options?.name;
    checkOptionalString(name, 'options.name');
    return new Ref(INTERNAL, new RefCounted(INTERNAL, value, release, name));
  }

  /** @internal Use {@link RefCounted.create}. */
  constructor(token: typeof INTERNAL, value: T, release: (value: T) => void, name: string | undefined) {
    if (token !== INTERNAL) throw new TypeError('RefCounted is not constructed directly: use RefCounted.create(value, release)');
    this.#value = value;
    this.#kref = new Kref(
      () => {
        const released = this.#value as T;
        this.#value = undefined;
        release(released);
      },
      name === undefined ? undefined : { name },
    );
  }

  /** The number of live references; 0 once released. */
  get count(): number {
    return this.#kref.count;
  }

  /** The name given at creation, if any. */
  get name(): string | undefined {
    return this.#kref.name;
  }
}

/**
 * One counted reference to a shared value. Drop it with `dispose()` (or `using`); take another
 * with `clone()`. Dropping is idempotent per token.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { RefCounted } from 'revocable';
 *
 * const ref = RefCounted.create(new Map<string, number>(), (m) => m.clear());
 * {
 *   using extra = ref.clone();   // a second owner, for this block
 *   extra.value.set('a', 1);
 * }                              // extra dropped here; the map lives on
 * assert.equal(ref.value.get('a'), 1);
 * const map = ref.value;
 * ref.dispose();                 // last reference: the map is cleared
 * assert.equal(map.size, 0);
 * ```
 */
export class Ref<T> implements Disposable {
  readonly #shared: RefCounted<T>;
  /** True until `dispose()`; never true again after (each token puts the count once). */
  #held = true;

  /** @internal Use {@link RefCounted.create} and {@link Ref.clone}. */
  constructor(token: typeof INTERNAL, shared: RefCounted<T>) {
    if (token !== INTERNAL) throw new TypeError('Ref is not constructed directly: use RefCounted.create(value, release) or ref.clone()');
    this.#shared = shared;
    hooks?.created('ref', this, shared);
  }

  /** The shared value. Reading it through a dropped reference throws {@link UseAfterReleaseError}. */
  get value(): T {
    if (!this.#held) throw this.#dropped('its value may be gone');
    return valueOf(this.#shared);
  }

  /** Whether this reference was dropped. */
  get dropped(): boolean {
    return !this.#held;
  }

  /** The number of live references to the shared value (this one included while held). */
  get count(): number {
    return this.#shared.count;
  }

  /**
   * Takes another reference to the same value, to hand to another owner. Cloning a dropped
   * reference throws {@link UseAfterReleaseError}: it no longer keeps the value alive.
   */
  clone(): Ref<T> {
    if (!this.#held) throw this.#dropped('clone() needs a live reference');
    krefOf(this.#shared as RefCounted<unknown>).get();
    return new Ref(INTERNAL, this.#shared);
  }

  /**
   * Drops this reference; the last one runs `release(value)`. Idempotent.
   *
   * @throws what `release` throws, from the call that dropped the last reference (the value counts
   *   as released all the same).
   */
  dispose(): void {
    if (!this.#held) return;
    this.#held = false;
    hooks?.released('ref', this);
    krefOf(this.#shared as RefCounted<unknown>).put();
  }

  /** Same as {@link Ref.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #dropped(what: string): UseAfterReleaseError {
    return new UseAfterReleaseError(`${describeName('Ref', this.#shared.name)} was dropped: ${what}`);
  }
}
