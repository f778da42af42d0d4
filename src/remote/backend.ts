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
  /** The holder's id, unique per attachment. */
  readonly holderId: string;
  /** Its fencing token, issued at the attach. */
  readonly token: bigint;
  /** The engine's handle on the holder's lease (etcd: the lease id; Redis: the holder id). */
  readonly lease: string;
}

/** A revoker's claim on a revoke in progress. */
export interface RevokerRef {
  /** The revoker's id, unique per `revokeRemote` call. */
  readonly revokerId: string;
  /** The engine's handle on the revoker's lease. */
  readonly lease: string;
}

/** What {@link RemoteBackend.attach} answers. */
export type AttachReply =
  /** The holder is attached. */
  | {
      /** The holder is attached. */
      readonly kind: 'attached';
      /** Its fencing token: above every token issued before. */
      readonly token: bigint;
      /** The engine's handle on its lease. */
      readonly lease: string;
    }
  /** The resource is not live: nothing attaches once a revoke has begun. */
  | {
      /** Refused: the resource is not live. */
      readonly kind: 'refused';
      /** Where the resource is. */
      readonly state: Exclude<RemoteResourceState, 'live'>;
    }
  /** The `holderId` already holds the resource. */
  | {
      /** Refused: the `holderId` already holds it. */
      readonly kind: 'conflict';
    };

/** What {@link RemoteBackend.renew} answers. */
export type RenewReply =
  /** The lease is extended. */
  | {
      /** The lease is extended. */
      readonly kind: 'renewed';
      /** Where the resource is: a holder that reads `'revoking'` drains and detaches. */
      readonly state: RemoteResourceState;
      /** The resource's current epoch. */
      readonly epoch: bigint;
    }
  /** The engine no longer has the holder: its lease expired and it was cut off. */
  | {
      /** The holder was cut off. */
      readonly kind: 'lost';
    };

/** What {@link RemoteBackend.begin} answers. */
export type BeginReply =
  /** This revoker holds the revoke (it began it, took it over, or asked again). */
  | {
      /** This revoker holds the revoke. */
      readonly kind: 'begun';
      /** The revoke's epoch: the fence it raises, above every token issued before it. */
      readonly epoch: bigint;
      /** The engine's handle on this revoker's lease. */
      readonly lease: string;
      /** Whether it took the revoke over from a revoker whose lease had expired. */
      readonly tookOver: boolean;
    }
  /** Another revoker holds it; its lease lasts at most `retryInMs` more. */
  | {
      /** Another revoker holds it. */
      readonly kind: 'busy';
      /** The revoke's epoch. */
      readonly epoch: bigint;
      /** Milliseconds until the other revoker's lease expires, at most. */
      readonly retryInMs: number;
    }
  /** The resource is revoked already. */
  | {
      /** The resource is revoked already. */
      readonly kind: 'revoked';
      /** The epoch it was revoked at. */
      readonly epoch: bigint;
      /** Its fence. */
      readonly fence: bigint;
    };

/** What {@link RemoteBackend.poll} answers. */
export interface PollReply {
  /** Holders still attached (their leases not yet expired on the engine's clock). */
  readonly holders: number;
  /** Milliseconds until the earliest of their leases expires, when the engine can tell. */
  readonly nextExpiryMs: number | null;
}

/** What {@link RemoteBackend.raiseFence} answers. */
export type FenceReply =
  /** The fence is raised. */
  | {
      /** The fence is raised. */
      readonly kind: 'fenced';
      /** The fence now: tokens below it are stale. */
      readonly fence: bigint;
      /** The `holderId`s cut off by their lease rather than detached. */
      readonly cutOff: readonly string[];
    }
  /** Another revoker has taken the revoke over: this one must stop. */
  | {
      /** This revoker no longer holds the revoke. */
      readonly kind: 'not-revoker';
    };

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
  /** Attaches `holderId` with a lease of `leaseMs`, if the resource is live. */
  attach(name: string, holderId: string, leaseMs: number): Promise<AttachReply>;
  /** Extends the holder's lease by `leaseMs` (engine time), and tells where the resource is. */
  renew(name: string, holder: HolderRef, leaseMs: number): Promise<RenewReply>;
  /** Removes the holder, once its accesses have ended. */
  detach(name: string, holder: HolderRef): Promise<void>;
  /** Begins the revoke (no attach succeeds from its commit on), or joins or takes over one. */
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
