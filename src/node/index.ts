/**
 * `revocable/node`: the managed, revocable forms of the Node resources programs hold. Tearing one
 * down blocks new use, kicks and drains what is in flight, then closes it; nothing written before
 * the revoke is lost.
 *
 * Each managed form is a `Revocable` (so `tryWith`, `with`, `handle()`, `proxy()` and
 * `revoke({ timeout })` work as in the core) and an `AsyncDisposable` (so it goes into any scope).
 *
 * @module revocable/node
 */
export { ManagedResource } from './managed.js';
export type { ManagedOptions } from './managed.js';
export { ManagedFile, manageFile, openFile } from './file.js';
export type { ManagedFileOptions, OpenFileOptions } from './file.js';
export type { FileReadStreamOptions, FileWriteStreamOptions } from './internal/file-streams.js';
export { ManagedServer, manageServer } from './server.js';
export type { CutRequest, ManagedServerOptions, RequestSignalOptions, ServerDrainReport } from './server.js';
export { ClientDisconnectedError } from './request-signal.js';
export type { RequestSignalSource } from './request-signal.js';
export { ManagedSocket, manageSocket } from './socket.js';
export type { ManagedSocketOptions } from './socket.js';
export { ManagedChildProcess, manageChildProcess } from './child-process.js';
export type { ManagedChildProcessOptions, ProcessExit } from './child-process.js';
export { ManagedWorker, manageWorker } from './worker.js';
export type { ManagedWorkerOptions, WorkerExit } from './worker.js';
export { ManagedTimer, setManagedInterval, setManagedTimeout } from './timers.js';
export type { ManagedTimerOptions } from './timers.js';
export { ManagedListener, addManagedListener } from './listeners.js';
export type { ManagedListenerOptions } from './listeners.js';
export { ManagedAbortController } from './abort-controller.js';
export type { ManagedAbortControllerOptions } from './abort-controller.js';
export { ParallelScope } from './parallel-scope.js';
export { ShutdownScope, shutdownScope } from './shutdown.js';
export type { ShutdownOptions, ShutdownPhase } from './shutdown.js';
export { asyncLocalContext, enableDebug } from './debug.js';
