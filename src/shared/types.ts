/**
 * The consumer API of a revocable resource as interfaces: what the core's `Revocable`,
 * `RevocableHandle` and `Access` and this module's `SharedRevocable`, `SharedRevocableHandle` and
 * `SharedAccess` all are. The core's classes hold `#private` fields, so TypeScript compares them by
 * name, not by shape: a function typed to take a `RevocableHandle<T>` takes only the core's. Type it
 * to take a `RevocableHandleLike<T>` and it takes either, with no cast.
 *
 * @module
 */
import type { ProxyOptions } from '../internal/proxy.js';
import type { RevocableState, RevokeOptions } from '../revocable.js';

/**
 * One use of a resource: `Access` in the core, `SharedAccess` here.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 * import { SharedRevocable, type AccessLike } from 'revocable/shared';
 *
 * interface Port { id: number }
 * function first(access: AccessLike<Port>): number { return access.value.id; } // either kind
 * const local = new Revocable<Port>({ id: 1 });
 * const shared = SharedRevocable.create<Port>({ id: 2 });
 * {
 *   using a = local.access();
 *   using b = shared.access();
 *   assert.deepEqual([first(a), first(b)], [1, 2]);
 * }
 * await Promise.all([local.revoke(), shared.revoke()]);
 * ```
 */
export interface AccessLike<T> extends Disposable {
  /** The resource, valid until `release()`. Throws `UseAfterReleaseError` after it. */
  readonly value: T;
  /** Aborted, with a `RevokedError` as reason, when the revoke starts: wrap up. */
  readonly signal: AbortSignal;
  /** Whether `release()` was called. */
  readonly released: boolean;
  /** Ends the access; idempotent. A revoke waits for it. */
  release(): void;
}

/**
 * A consumer's handle: `RevocableHandle` in the core, `SharedRevocableHandle` here.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 * import { SharedRevocable, type RevocableHandleLike } from 'revocable/shared';
 *
 * interface Client { ping(): string }
 * const ping = (handle: RevocableHandleLike<Client>) => handle.tryWith((c) => c.ping()); // undefined once revoked
 * const local = new Revocable<Client>({ ping: () => 'pong' });
 * const shared = SharedRevocable.create<Client>({ ping: () => 'pong' });
 * const handles = [local.handle(), shared.handle()];
 * assert.deepEqual(handles.map(ping), ['pong', 'pong']);
 * await Promise.all([local.revoke(), shared.revoke()]);
 * assert.deepEqual(handles.map(ping), [undefined, undefined]);
 * ```
 */
export interface RevocableHandleLike<T> extends Disposable {
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** Whether the resource can no longer be reached through this handle (closed, or revoked). */
  readonly revoked: boolean;
  /** An access, or `null` once revoked or closed. */
  tryAccess(): AccessLike<T> | null;
  /** An access, or throws `RevokedError` once revoked or closed. */
  access(): AccessLike<T>;
  /** Runs `fn(resource, signal)` inside an access, or returns `undefined` once revoked or closed. */
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined;
  /** As `tryWith`, but throws `RevokedError` once revoked or closed. */
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R;
  /** A `Proxy` that stands for the resource, each operation inside an access. */
  proxy(options?: ProxyOptions): T;
  /** Ends this handle; accesses in flight stay valid. */
  close(): void;
}

/**
 * A revocable resource, as its users and its revoker see it: `Revocable` in the core,
 * `SharedRevocable` here.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 * import { SharedRevocable, type RevocableLike } from 'revocable/shared';
 *
 * interface Port { id: number }
 * async function unplug(resource: RevocableLike<Port>): Promise<void> {
 *   await resource.revoke({ timeout: 1_000 }); // a Revocable or a SharedRevocable
 * }
 * const resources: RevocableLike<Port>[] = [new Revocable({ id: 1 }), SharedRevocable.create({ id: 2 })];
 * await Promise.all(resources.map(unplug));
 * assert.deepEqual(resources.map((resource) => resource.state), ['revoked', 'revoked']);
 * ```
 */
export interface RevocableLike<T> extends AsyncDisposable {
  /** The name given at creation, if any. */
  readonly name: string | undefined;
  /** `'live'`, `'revoking'` (no new access; draining or releasing) or `'revoked'`. */
  readonly state: RevocableState;
  /** Whether a revoke has started. */
  readonly revoked: boolean;
  /** How many accesses are in flight now. */
  readonly accesses: number;
  /** A consumer handle: it can access the resource, never revoke it. Throws once revoked. */
  handle(): RevocableHandleLike<T>;
  /** An access, or `null` once revoke has started. */
  tryAccess(): AccessLike<T> | null;
  /** An access, or throws `RevokedError` once revoke has started. */
  access(): AccessLike<T>;
  /** Runs `fn(resource, signal)` inside an access, or returns `undefined` once revoked. */
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined;
  /** As `tryWith`, but throws `RevokedError` once revoked. */
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R;
  /** Revokes: no new access, the kick, the drain, then the release; `true` for the call that revoked. */
  revoke(options?: RevokeOptions): Promise<boolean>;
}
