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
 * SharedRevocable.attach(ref, view);
 * SharedRevocable.attach(ref, view); // throws AlreadyAttachedError, code 'ERR_ALREADY_ATTACHED'
 * ```
 */
export class AlreadyAttachedError extends Error {
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
 * try { shared.handle(); } catch (error) { if (error instanceof LockTimeoutError) shared.reclaim(error.holder); }
 * ```
 */
export class LockTimeoutError extends Error {
  readonly code = 'ERR_LOCK_TIMEOUT' as const;
  /** The thread id of the holder. */
  readonly holder: number;

  constructor(name: string | undefined, holder: number, limit: number) {
    super(`${describeName('SharedRevocable', name)}: thread ${holder} has held the registration lock for over ${limit} ms; if it exited, reclaim(${holder}) frees it`);
    this.name = 'LockTimeoutError';
    this.holder = holder;
  }
}
