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
  readonly value: T;
  readonly signal: AbortSignal;
  readonly released: boolean;
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
  readonly closed: boolean;
  readonly revoked: boolean;
  tryAccess(): AccessLike<T> | null;
  access(): AccessLike<T>;
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined;
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R;
  proxy(options?: ProxyOptions): T;
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
  readonly name: string | undefined;
  readonly state: RevocableState;
  readonly revoked: boolean;
  readonly accesses: number;
  handle(): RevocableHandleLike<T>;
  tryAccess(): AccessLike<T> | null;
  access(): AccessLike<T>;
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined;
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R;
  revoke(options?: RevokeOptions): Promise<boolean>;
}
