/**
 * `revocable`: resources that can disappear under their users, handled the way the Linux kernel
 * does. The guides in docs/ explain the concepts; docs/driver-model.md maps the kernel's names to ours.
 *
 * @module revocable
 */
export { Access, Revocable, RevocableHandle } from './revocable.js';
export type { RevocableOptions, RevocableState, RevokeOptions } from './revocable.js';
export type { ProxyOptions } from './internal/proxy.js';
export { DrainTimeoutError, GroupNotFoundError, RevokeDeadlockError, RevokedError, ScopeDisposedError, UseAfterReleaseError } from './errors.js';
export type { Holder } from './errors.js';
export { creationSite, disableDebug, enableDebug, isDebugEnabled } from './debug.js';
export type { AccessFrame, AsyncContextLike, DebugOptions } from './debug.js';
export { ResourceScope } from './scope.js';
export type { AddOptions, EntryState, ResourceScopeOptions, ScopeEntry, ScopeItem, ScopeState } from './scope.js';
export { SuppressedError } from './suppressed-error.js';
export type { SuppressedErrorConstructor } from './suppressed-error.js';
export { AsyncDisposableStack } from './async-disposable-stack.js';
export { DisposableStack } from './disposable-stack.js';
export { Kref } from './kref.js';
export type { KrefOptions } from './kref.js';
export { Ref, RefCounted } from './ref-counted.js';
export type { RefCountedOptions } from './ref-counted.js';
