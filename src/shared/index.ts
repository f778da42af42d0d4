/**
 * `revocable/shared`: one revocable resource used from many worker threads, over
 * `SharedArrayBuffer` and `Atomics`. A revoke from any thread closes the gate for every thread,
 * kicks and drains every thread's accesses, then the owner thread releases.
 *
 * Needs `SharedArrayBuffer` (a web page must be cross-origin isolated). No Node-only API; under
 * Node, the `node` export of this entry names threads by `worker_threads.threadId`.
 *
 * @module revocable/shared
 */
export { SharedRevocable } from './shared-revocable.js';
export type { AttachOptions, SharedRevocableOptions } from './shared-revocable.js';
export { SharedAccess, SharedRevocableHandle } from './shared-handle.js';
export type { SharedRevocableRef } from './internal/ref.js';
export type { AccessLike, RevocableHandleLike, RevocableLike } from './types.js';
export { AlreadyAttachedError, LockTimeoutError } from './errors.js';
export { DrainTimeoutError, RevokedError } from '../errors.js';
export type { RevocableState, RevokeOptions } from '../revocable.js';
