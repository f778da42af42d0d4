/**
 * The consumer side of a `SharedRevocable` in one thread: handles and accesses, with the public
 * shape of the core's `RevocableHandle` and `Access` (see `types.ts`), so code written against
 * those works against these.
 *
 * Invariants:
 * 1. Every access is its own token; releasing it twice releases its thread's count once.
 * 2. A handle holds nothing but its object: many handles cost the shared resource nothing, and a
 *    revoke never visits them.
 * 3. Neither class can be constructed from outside the library: the constructors take a private
 *    token and throw a `TypeError` without it.
 *
 * @module
 */
import { RevokedError, UseAfterReleaseError } from '../errors.js';
import { hooks } from '../internal/hooks.js';
import { createProxy, type ProxyOptions } from '../internal/proxy.js';
import { checkFunction, checkOptions, expected } from '../internal/validate.js';
import type { SharedRevocable } from './shared-revocable.js';
import { exitAccess, gateOf, signalOf } from './shared-revocable.js';
import type { AccessLike, RevocableHandleLike } from './types.js';

/** The token the library's own constructors pass. */
export const INTERNAL: unique symbol = Symbol('revocable/shared internal');

/**
 * One use of a shared resource in this thread, from `tryAccess()` until `release()`: a revoke in
 * any thread waits for it; `signal` is aborted when the revoke starts.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { SharedRevocable } from 'revocable/shared';
 *
 * const sent: string[] = [];
 * const shared = SharedRevocable.create({ send: async (frame: string, _options: { signal: AbortSignal }) => void sent.push(frame) });
 * {
 *   using access = shared.tryAccess(); // null once revoked, in any thread
 *   if (access) await access.value.send('ping', { signal: access.signal });
 *   assert.equal(shared.accesses, 1);  // counted in every thread's view until the end of the block
 * }
 * assert.equal(shared.accesses, 0);
 * await shared.revoke();
 * ```
 */
export class SharedAccess<T> implements AccessLike<T> {
  /** `null` once released. */
  #owner: SharedRevocable<T> | null;
  #value: T | undefined;

  /** @internal Use `tryAccess()` or `access()`. */
  constructor(token: symbol, owner: SharedRevocable<T>, value: T) {
    if (token !== INTERNAL) throw new TypeError('SharedAccess is not constructible: use tryAccess() or access()');
    this.#owner = owner;
    this.#value = value;
    hooks?.created('access', this, owner);
  }

  /** The resource (this thread's view). Reading it after `release()` throws `UseAfterReleaseError`. */
  get value(): T {
    if (this.#owner === null) throw released();
    return this.#value as T;
  }

  /** Aborted, with a `RevokedError` as reason, when a revoke starts in any thread. */
  get signal(): AbortSignal {
    if (this.#owner === null) throw released();
    return signalOf(this.#owner as SharedRevocable<unknown>);
  }

  /** Whether `release()` was called. */
  get released(): boolean {
    return this.#owner === null;
  }

  /** Ends this access; a revoke waiting for it may proceed. Idempotent. */
  release(): void {
    const owner = this.#owner;
    if (owner === null) return;
    this.#owner = null;
    this.#value = undefined;
    hooks?.released('access', this);
    exitAccess(owner as SharedRevocable<unknown>);
  }

  /** `using access = ...`: releases the access at the end of the scope. */
  [Symbol.dispose](): void {
    this.release();
  }
}

function released(): UseAfterReleaseError {
  return new UseAfterReleaseError('Access was already released: the resource may be gone');
}

/**
 * A consumer's handle on a shared resource in this thread: it can access the resource, never
 * revoke it. Closing it ends only this consumer's use.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { SharedRevocable } from 'revocable/shared';
 *
 * const shared = SharedRevocable.create({ ping: () => 'pong' });
 * {
 *   using handle = shared.handle();
 *   assert.equal(handle.tryWith((client) => client.ping()), 'pong');
 *   await shared.revoke();
 *   assert.equal(handle.tryWith((client) => client.ping()), undefined); // once revoked in any thread
 * }
 * ```
 */
export class SharedRevocableHandle<T> implements RevocableHandleLike<T> {
  /** `null` once closed. The only field: handles are handed out freely. */
  #owner: SharedRevocable<T> | null;

  /** @internal Use `shared.handle()`. */
  constructor(token: symbol, owner: SharedRevocable<T>) {
    if (token !== INTERNAL) throw new TypeError('SharedRevocableHandle is not constructible: use handle()');
    this.#owner = owner;
    hooks?.created('handle', this, owner);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#owner === null;
  }

  /** Whether the resource can no longer be reached through this handle (closed, or revoked). */
  get revoked(): boolean {
    return this.#owner === null || this.#owner.revoked;
  }

  /** An access, or `null` once revoked or closed. */
  tryAccess(): SharedAccess<T> | null {
    const owner = this.#owner;
    return owner === null ? null : owner.tryAccess();
  }

  /** An access, or throws `RevokedError` once revoked or closed. */
  access(): SharedAccess<T> {
    return this.#live().access();
  }

  /** `tryWith` through this handle: `undefined` once revoked or closed. */
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined {
    const owner = this.#owner;
    if (owner === null) {
      checkFunction(fn, 'fn');
      return undefined;
    }
    return owner.tryWith(fn);
  }

  /** `with` through this handle: throws `RevokedError` once revoked or closed. */
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    if (this.#owner === null) checkFunction(fn, 'fn');
    return this.#live().with(fn);
  }

  /**
   * A `Proxy` that stands for this thread's view: each method call runs inside an access (a
   * returned promise holds it until it settles), property reads check that the resource is still
   * there, and everything throws `RevokedError` after a revoke in any thread or once closed.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { RevokedError, SharedRevocable } from 'revocable/shared';
   *
   * const store = new Map([['k', 'v']]);
   * const shared = SharedRevocable.create({ get: async (key: string) => store.get(key) });
   * const client = shared.handle().proxy();
   * assert.equal(await client.get('k'), 'v'); // an access until the promise settles
   * await shared.revoke();
   * assert.throws(() => client.get('k'), RevokedError);
   * ```
   */
  proxy(options?: ProxyOptions): T {
    checkOptions(options);
    const deep = options?.deep;
    if (deep !== undefined && typeof deep !== 'boolean') throw expected('a boolean or undefined', 'options.deep', deep);
    const owner = this.#live();
    const resource = owner.tryWith(identity);
    if (resource === undefined) throw owner.access(); // revoked: throws RevokedError
    if (resource === null || (typeof resource !== 'object' && typeof resource !== 'function')) {
      throw new TypeError(`Expected the resource to be an object or a function for proxy(), got ${typeof resource}`);
    }
    return createProxy(gateOf(() => this.#live(), owner), typeof resource === 'function', deep === true);
  }

  /** Ends this handle: later accesses through it fail. Idempotent; accesses in flight stay valid. */
  close(): void {
    if (this.#owner === null) return;
    this.#owner = null;
    hooks?.released('handle', this);
  }

  /** `using handle = ...`: closes the handle at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): SharedRevocable<T> {
    const owner = this.#owner;
    if (owner === null) throw new RevokedError('Handle was closed');
    return owner;
  }
}

const identity = <T>(value: T): T => value;
