/**
 * The errors of `revocable/shared` beyond the core's (`RevokedError` and `DrainTimeoutError` are
 * the core's own, with the same meaning).
 *
 * @module
 */
import { describeName } from '../errors.js';

/**
 * A thread attached to a shared resource it already holds a slot of (its owner included): each
 * thread has one object per resource. Use the one it has, or `detach()` it first.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { AlreadyAttachedError, SharedRevocable } from 'revocable/shared';
 *
 * const shared = SharedRevocable.create({ id: 42 }, { name: 'tenant 42' });
 * assert.throws(
 *   () => SharedRevocable.attach(shared.ref, { id: 42 }), // this thread has its object already: the owner's
 *   (error) => error instanceof AlreadyAttachedError && error.code === 'ERR_ALREADY_ATTACHED',
 * );
 * await shared.revoke();
 * ```
 */
export class AlreadyAttachedError extends Error {
  /** Always `'ERR_ALREADY_ATTACHED'`. */
  readonly code = 'ERR_ALREADY_ATTACHED' as const;
  /** The thread that tried to attach twice. */
  readonly threadId: number;

  constructor(name: string | undefined, threadId: number) {
    super(`${describeName('SharedRevocable', name)} is already attached in thread ${threadId}`);
    this.name = 'AlreadyAttachedError';
    this.threadId = threadId;
  }
}

/**
 * The registration lock of a shared resource stayed taken for longer than any operation under it
 * lasts (microseconds): its holder was most likely terminated half-way through one. A `reclaim` of
 * that thread, from a thread that outlives it (`manageWorker` does it on the worker's `exit`), frees
 * the lock and finishes what the holder left half done.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { LockTimeoutError, SharedRevocable } from 'revocable/shared';
 *
 * const shared = SharedRevocable.create({ id: 42 }, { name: 'tenant 42' });
 * async function revoke(): Promise<boolean> {
 *   try {
 *     return await shared.revoke(); // attach, revoke, detach and reclaim take the lock
 *   } catch (error) {
 *     if (!(error instanceof LockTimeoutError)) throw error;
 *     shared.reclaim(error.holder); // its holder exited half-way: take the lock over, finish its work
 *     return shared.revoke();
 *   }
 * }
 * assert.equal(await revoke(), true);
 * ```
 */
export class LockTimeoutError extends Error {
  /** Always `'ERR_LOCK_TIMEOUT'`. */
  readonly code = 'ERR_LOCK_TIMEOUT' as const;
  /** The thread id of the holder. */
  readonly holder: number;

  constructor(name: string | undefined, holder: number, limit: number) {
    super(`${describeName('SharedRevocable', name)}: thread ${holder} has held the registration lock for over ${limit} ms; if it exited, reclaim(${holder}) frees it`);
    this.name = 'LockTimeoutError';
    this.holder = holder;
  }
}
