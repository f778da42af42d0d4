/**
 * The errors of `revocable/remote`, beside the core's `RevokedError` (a resource that is not live)
 * and `DrainTimeoutError` (a revoke whose holders did not drain in time), which it reuses.
 *
 * Invariants:
 * 1. Each failure a caller may want to catch has its own class and a Node-style `code`.
 * 2. A message names the resource; an error from the engine is kept as `cause`, never dropped.
 *
 * @module
 */

/**
 * A write (or any use) carried a fencing token issued before the resource's fence: it comes from a
 * holder that was revoked, cut off or paused past its lease, and must be refused. Thrown by
 * {@link checkFence}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { StaleTokenError, checkFence } from 'revocable/remote';
 *
 * assert.throws(
 *   () => checkFence(3n, 7n), // a token issued before the revoke at epoch 7
 *   (error) => error instanceof StaleTokenError && error.code === 'ERR_STALE_TOKEN' && error.token === 3n && error.fence === 7n,
 * );
 * ```
 */
export class StaleTokenError extends Error {
  /** Always `'ERR_STALE_TOKEN'`. */
  readonly code = 'ERR_STALE_TOKEN' as const;
  /** The token that was refused. */
  readonly token: bigint;
  /** The fence it fell below. */
  readonly fence: bigint;

  constructor(token: bigint, fence: bigint, resourceName?: string) {
    const what = resourceName === undefined ? 'the resource' : `"${resourceName}"`;
    super(`Fencing token ${token} is stale: ${what} is fenced at ${fence}, so tokens below it are refused`);
    this.name = 'StaleTokenError';
    this.token = token;
    this.fence = fence;
  }
}

/**
 * The engine (Redis, etcd) did not answer, or answered with an error, until the call's `timeout`
 * passed. `cause` is the last error the engine's client gave. Nothing was decided: a revoke that
 * began stays `'revoking'` on the engine, and a later `revokeRemote` takes it over.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { createClient } from 'redis';
 * import { RemoteUnavailableError, redisBackend, revokeRemote } from 'revocable/remote';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379' }); // not connected: as while Redis is down
 * const backend = redisBackend({ command: (args) => client.sendCommand(args) });
 * const error = await revokeRemote(backend, 'tenant:42', { timeout: 200 }).catch((e: unknown) => e);
 * assert.ok(error instanceof RemoteUnavailableError);
 * assert.equal(error.code, 'ERR_REMOTE_UNAVAILABLE');
 * assert.match(String((error.cause as Error).message), /The client is closed/); // the client's last error
 * ```
 */
export class RemoteUnavailableError extends Error {
  /** Always `'ERR_REMOTE_UNAVAILABLE'`. */
  readonly code = 'ERR_REMOTE_UNAVAILABLE' as const;
  /** The resource's name on the engine. */
  readonly resourceName: string;

  constructor(what: string, resourceName: string, timeout: number, cause: unknown) {
    super(`${what} "${resourceName}": the engine did not answer within ${timeout} ms: ${messageOf(cause)}`, { cause });
    this.name = 'RemoteUnavailableError';
    this.resourceName = resourceName;
  }
}

/**
 * A holder stopped being one: it self-fenced at its deadline because its renewals did not get
 * through (`reason: 'deadline'`), or the engine said its lease had expired and it was cut off
 * (`reason: 'cut-off'`). Given to `onLost`; the holder's handle refuses from then on.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { HolderLostError, type RemoteHolderOptions } from 'revocable/remote';
 *
 * const reasons: string[] = [];
 * const options: RemoteHolderOptions = { leaseMs: 10_000, onLost: (error) => reasons.push(error.reason) };
 * // RemoteHolder.attach(backend, 'tenant:42', pool, options): with Redis unreachable for a lease, the
 * // holder self-fences and calls onLost once, with the error below.
 * options.onLost?.(new HolderLostError('tenant:42', 'web-1', 'deadline'));
 * assert.deepEqual(reasons, ['deadline']);
 * ```
 */
export class HolderLostError extends Error {
  /** Always `'ERR_HOLDER_LOST'`. */
  readonly code = 'ERR_HOLDER_LOST' as const;
  /** `'deadline'`: it self-fenced, its renewals not getting through; `'cut-off'`: the engine had expired its lease. */
  readonly reason: 'deadline' | 'cut-off';
  /** The resource's name on the engine. */
  readonly resourceName: string;

  constructor(resourceName: string, holderId: string, reason: 'deadline' | 'cut-off', cause?: unknown) {
    const why =
      reason === 'deadline'
        ? `no renewal got through before its deadline${cause === undefined ? '' : ` (last error: ${messageOf(cause)})`}`
        : 'the engine cut it off: its lease had expired';
    super(`Holder "${holderId}" of "${resourceName}" is lost: ${why}`, cause === undefined ? undefined : { cause });
    this.name = 'HolderLostError';
    this.reason = reason;
    this.resourceName = resourceName;
  }
}

/**
 * The engine answered something this library did not write: another program changed the keys of a
 * resource, or two versions of the library disagree. Not retried: retrying cannot fix it.
 */
export class RemoteProtocolError extends Error {
  /** Always `'ERR_REMOTE_PROTOCOL'`. */
  readonly code = 'ERR_REMOTE_PROTOCOL' as const;

  constructor(message: string) {
    super(message);
    this.name = 'RemoteProtocolError';
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
