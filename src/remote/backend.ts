/**
 * The contract between the engine-neutral protocol (holders, revokers) and an engine (Redis,
 * etcd). A backend turns each step of the protocol into one atomic operation on the engine: a Lua
 * script on Redis, a transaction or a lease call on etcd.
 *
 * Invariants every backend keeps (the conformance suite checks them on each):
 * 1. Lease expiry is judged by the engine's clock, never by the caller's.
 * 2. `attach` succeeds only while the resource is live; after a `begin` has committed, none does.
 * 3. Tokens and epochs only grow, and every token issued before a `begin` is below its epoch.
 * 4. `begin` is idempotent for the same revoker id; a second revoker gets `'busy'` while the first
 *    one's lease lasts, and takes over once it has expired.
 * 5. `raiseFence` and `finish` act only for the current revoker; `finish` returns `true` once per
 *    epoch.
 * 6. Every operation either happens whole or not at all: an error leaves the engine as it was, or
 *    as the operation left it (a retry of the same call is safe).
 *
 * @module
 */

/** Where a resource is on the engine. */
export type RemoteResourceState = 'live' | 'revoking' | 'revoked';

/** What a watch reports: the resource's state changed, its holder set did, or a revoker's claim did. */
export type RemoteEvent = 'state' | 'holders' | 'revoker';

/** One attachment, as the engine knows it. */
export interface HolderRef {
  readonly holderId: string;
  readonly token: bigint;
  /** The engine's handle on the holder's lease (etcd: the lease id; Redis: the holder id). */
  readonly lease: string;
}

/** A revoker's claim on a revoke in progress. */
export interface RevokerRef {
  readonly revokerId: string;
  readonly lease: string;
}

export type AttachReply =
  | { readonly kind: 'attached'; readonly token: bigint; readonly lease: string }
  | { readonly kind: 'refused'; readonly state: Exclude<RemoteResourceState, 'live'> }
  | { readonly kind: 'conflict' };

export type RenewReply =
  | { readonly kind: 'renewed'; readonly state: RemoteResourceState; readonly epoch: bigint }
  | { readonly kind: 'lost' };

export type BeginReply =
  /** This revoker holds the revoke (it began it, took it over, or asked again). */
  | { readonly kind: 'begun'; readonly epoch: bigint; readonly lease: string; readonly tookOver: boolean }
  /** Another revoker holds it; its lease lasts at most `retryInMs` more. */
  | { readonly kind: 'busy'; readonly epoch: bigint; readonly retryInMs: number }
  | { readonly kind: 'revoked'; readonly epoch: bigint; readonly fence: bigint };

export interface PollReply {
  /** Holders still attached (their leases not yet expired on the engine's clock). */
  readonly holders: number;
  /** Milliseconds until the earliest of their leases expires, when the engine can tell. */
  readonly nextExpiryMs: number | null;
}

export type FenceReply =
  | { readonly kind: 'fenced'; readonly fence: bigint; readonly cutOff: readonly string[] }
  | { readonly kind: 'not-revoker' };

/**
 * A backend: made by `redisBackend()` or `etcdBackend()`. Its methods are the protocol's steps; an
 * application calls none of them except {@link RemoteBackend.fence}.
 */
export interface RemoteBackend {
  /** `'redis'`, `'etcd'`, ...: for messages and benchmarks. */
  readonly engine: string;
  /** The shortest lease the engine can keep (etcd: 2000 ms). */
  readonly minLeaseMs: number;
  /**
   * Calls `onEvent` when the resource's state or holder set changes; resolves, once the watch is in
   * place, with a function that ends it. A hint for speed: correctness never depends on it.
   * `only: 'state'` (a holder's watch) asks for state changes alone.
   */
  watch(name: string, onEvent: (event: RemoteEvent) => void, only?: 'state'): Promise<() => void | Promise<void>>;
  attach(name: string, holderId: string, leaseMs: number): Promise<AttachReply>;
  renew(name: string, holder: HolderRef, leaseMs: number): Promise<RenewReply>;
  detach(name: string, holder: HolderRef): Promise<void>;
  begin(name: string, revokerId: string, leaseMs: number): Promise<BeginReply>;
  /** Extends the revoker's lease; `false` when another revoker has taken over. */
  renewRevoker(name: string, revoker: RevokerRef, leaseMs: number): Promise<boolean>;
  /** Cuts off holders whose lease expired (engine time) and counts the rest. */
  poll(name: string): Promise<PollReply>;
  /** Raises the fence to the epoch, after the drain; returns who was cut off. */
  raiseFence(name: string, revoker: RevokerRef, epoch: bigint): Promise<FenceReply>;
  /** Marks the resource revoked; `true` for the one call that did. */
  finish(name: string, revoker: RevokerRef, epoch: bigint): Promise<boolean>;
  /** Gives up the revoker's claim, so that the next revoker takes over at once. */
  abandon(name: string, revoker: RevokerRef): Promise<void>;
  /**
   * The resource's current fence on the engine: `0n` before any revoke, its epoch once the drain
   * is over. For a resource that checks tokens against the engine itself.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { createClient } from 'redis';
   * import { redisBackend } from 'revocable/remote';
   *
   * const client = createClient({ url: 'redis://127.0.0.1:6379' }); // not connected: as while Redis is down
   * const backend = redisBackend({ command: (args) => client.sendCommand(args) });
   * // Up, it answers 0n before any revoke and the epoch once one has drained:
   * // checkFence(holder.token, await backend.fence('tenant:42')) then throws StaleTokenError.
   * await assert.rejects(backend.fence('tenant:42'), /The client is closed/); // down: the client's own error
   * ```
   */
  fence(name: string): Promise<bigint>;
}
