/**
 * Fencing, for the resource side: the one check that makes a holder that was paused (a GC pause,
 * `SIGSTOP`, a partition) harmless after its lease expired and the revoke went on without it.
 *
 * Invariants:
 * 1. Tokens and epochs come from one counter per resource, so every token issued before a revoke
 *    began is smaller than that revoke's epoch, and the fence is that epoch.
 * 2. A token below the fence is refused; a token at or above it is accepted. The fence only grows.
 *
 * @module
 */
import { expected } from '../internal/validate.js';
import { StaleTokenError } from './errors.js';

/**
 * Refuses a stale fencing token: throws {@link StaleTokenError} when `token < fence`. Call it where
 * the resource accepts a write (inside the same transaction, ideally), with the fence the resource
 * learned from `release(info)` (`info.fence`), from `revokeRemote`'s result, or from
 * `backend.fence(name)`.
 *
 * @param token the writer's `holder.token`.
 * @param fence the resource's current fence; `0n` before any revoke.
 * @param resourceName named in the error's message.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { StaleTokenError, checkFence } from 'revocable/remote';
 *
 * checkFence(5n, 0n); // nothing: no revoke yet, the write goes ahead
 * assert.throws(() => checkFence(5n, 9n), StaleTokenError); // the holder was revoked at epoch 9
 * checkFence(9n, 9n); // a token issued at or after the fence is current
 * ```
 */
export function checkFence(token: bigint, fence: bigint, resourceName?: string): void {
  if (typeof token !== 'bigint') throw expected('a bigint (a holder\'s token)', 'token', token);
  if (typeof fence !== 'bigint') throw expected('a bigint (the resource\'s fence)', 'fence', fence);
  if (token < fence) throw new StaleTokenError(token, fence, resourceName);
}
