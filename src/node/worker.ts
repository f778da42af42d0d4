/**
 * A managed worker thread: revoked by its own exit, stopped by the revoke within a grace, and
 * terminated when the grace is over.
 *
 * Invariants:
 * 1. The thread's exit, however it comes (an uncaught error, `process.exit()` in the worker, the
 *    stop, `terminate()`), revokes the managed worker: no job starts after it, and every job in
 *    flight (`with(fn)` where `fn` returned a promise) rejects at once with a `RevokedError`
 *    (`code: 'ENODEV'`) whose `cause` is the worker's uncaught error, if there was one.
 * 2. The revoke kicks the jobs (their signal aborts), waits for them, then calls `stop(worker)` (post
 *    your own "finish up" message) and waits for the exit; without `stop`, it calls `terminate()`
 *    once the jobs have settled. `grace` ms after the revoke started (default 5000; sooner for a
 *    revoke with a shorter `timeout`), a worker still running is terminated, whatever its jobs
 *    do. The revoke resolves once the thread has exited, never with `DrainTimeoutError`.
 * 3. `exit` records how it ended: `{ code, forced, error }`, `forced` when `terminate()` ended it.
 * 4. An uncaught error in the worker does not crash this thread: it is `exit.error`, and the cause
 *    of the jobs' rejection (it is also reported as a process warning, so that it is not silent).
 * 5. Every reaction to the thread's end is in one place, `#onExit`.
 6. On the exit, this thread's view of every `SharedRevocable` created or attached here reclaims the
 *    worker's slots (counts them as drained), so a crashed or terminated worker never blocks a
 *    revoke in any thread.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { checkDuration, checkOptionalFunction } from '../internal/validate.js';
import { managedOptions, readManagedOptions, type ManagedOptions } from './managed.js';
import { Stoppable } from './internal/stoppable.js';
import { checkInstance, warn } from './internal/util.js';
import { reclaimThread } from '../shared/internal/registry.js';

/** Options of {@link manageWorker}. */
export interface ManagedWorkerOptions extends ManagedOptions {
  /** Asks the worker to finish (e.g. `(w) => w.postMessage('stop')`) before it is terminated. */
  stop?: (worker: Worker) => unknown;
  /** Milliseconds from the revoke to `terminate()` for a worker still running. Default: 5000. */
  grace?: number;
}

/** How a managed worker ended. */
export interface WorkerExit {
  /** The exit code as Node reports it (`1` for a worker terminated while running; `0` for one terminated before it came online); `null` if it had exited before it was managed. */
  readonly code: number | null;
  /** Whether `terminate()` ended it. */
  readonly forced: boolean;
  /** The worker's uncaught error, if that is what ended it. */
  readonly error?: unknown;
}

/**
 * A worker thread that is stopped when revoked, and revoked when it exits. Create it with
 * {@link manageWorker}. Run jobs through `with((worker, signal) => ...)`: a job rejects at once
 * when the thread exits, and its signal aborts when the revoke starts.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import { Worker } from 'node:worker_threads';
 * import { manageWorker } from 'revocable/node';
 *
 * const source = `const { parentPort } = require('node:worker_threads');
 * parentPort.on('message', (m) => (m === 'stop' ? process.exit(0) : parentPort.postMessage(m.length)));`;
 * const hasher = manageWorker(new Worker(source, { eval: true }), { stop: (w) => w.postMessage('stop'), grace: 1_000 });
 * const length = await hasher.with(async (worker, signal) => {
 *   worker.postMessage('hello');
 *   const [reply] = await once(worker, 'message', { signal });
 *   return reply as number;
 * }); // rejects with RevokedError (ENODEV) at once if the thread crashes meanwhile
 * assert.equal(length, 5);
 * await hasher.revoke();
 * assert.deepEqual(hasher.exit, { code: 0, forced: false }); // the worker exited on 'stop'
 * ```
 */
export class ManagedWorker extends Stoppable<Worker> {
  /** The thread's id, kept: `worker.threadId` is -1 once it has exited. */
  readonly #threadId: number;
  readonly #stop: ((worker: Worker) => unknown) | undefined;
  /** The worker's uncaught error, from its `error` event (which comes before `exit`). */
  #error: unknown;
  #exit: WorkerExit | undefined;

  constructor(worker: Worker, options?: ManagedWorkerOptions) {
    checkInstance(worker, Worker, 'a worker_threads Worker', 'worker');
    const settings = readManagedOptions(options);
    const stop = options?.stop;
    const graceOption = options?.grace;
    checkOptionalFunction(stop, 'options.stop');
    const grace = checkDuration(graceOption, 'options.grace', 5_000);
    const threadId = worker.threadId;
    super('ManagedWorker', worker, managedOptions(settings, settings.name ?? `worker ${threadId}`), grace);
    this.#threadId = threadId;
    this.#stop = stop;
    if (threadId === -1) {
      this.#onExit(null); // exited before it was managed: nothing more will come
      return;
    }
    worker.on('error', (error: unknown) => {
      this.#error ??= error;
    });
    worker.once('exit', (code: number) => this.#onExit(code));
  }

  /** The thread's id (`worker.threadId` as it was while the thread ran). */
  get threadId(): number {
    return this.#threadId;
  }

  /** How it ended, once it has exited; `undefined` before. */
  get exit(): WorkerExit | undefined {
    return this.#exit;
  }

  /**
   * The worker's `exit`, however it came (by itself, the stop, `terminate()`): the one place that
   * reacts to the thread's end. Runs once. `#threadId` names the thread that ended.
   */
  #onExit(code: number | null): void {
    const error = this.#error;
    const forced = this.forced;
    this.#exit = error === undefined ? { code, forced } : { code, forced, error };
    if (error !== undefined && !this.revoked) warn(error);
    // The worker can never end its accesses to a SharedRevocable now: count them as drained.
    if (this.#threadId !== -1) reclaimThread(this.#threadId);
    const how = code === null ? 'had exited before it was managed' : error === undefined ? `exited with code ${code}` : `exited with code ${code} after an uncaught error`;
    this.exitHappened(how, error, code === null);
  }

  protected override get politeStop(): ((worker: Worker) => unknown) | undefined {
    return this.#stop;
  }

  protected override force(worker: Worker): void {
    worker.terminate().catch(warn);
  }
}

/**
 * Manages a worker thread: see {@link ManagedWorker}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import { Worker } from 'node:worker_threads';
 * import { manageWorker } from 'revocable/node';
 *
 * const worker = new Worker('setInterval(() => {}, 1_000);', { eval: true }); // runs until stopped
 * await once(worker, 'online');
 * const resizer = manageWorker(worker);
 * await resizer.revoke(); // terminate(); resolves once the thread has exited
 * assert.deepEqual(resizer.exit, { code: 1, forced: true }); // terminated, as Node reports it
 * ```
 */
export function manageWorker(worker: Worker, options?: ManagedWorkerOptions): ManagedWorker {
  return new ManagedWorker(worker, options);
}
