/**
 * A managed worker thread: terminated when released; optionally asked to stop first.
 *
 * Invariants:
 * 1. The release runs after the drain (tasks sent through accesses are kicked through their signal
 *    and waited for). With `stop`, it calls `stop(worker)` (post your own "finish up" message) and
 *    waits up to `grace` ms for the worker to exit; then, or at once without `stop`, it calls
 *    `worker.terminate()`. The revoke resolves when the thread has exited.
 * 2. A worker that has already exited releases at once.
 * 3. `exit` records how it ended: `{ code, forced }`, `forced` when `terminate()` was needed.
 * 4. On the worker's `exit`, its slots in every `SharedRevocable` created or attached in this thread
 *    are reclaimed (counted as drained), so a crashed or terminated worker never blocks a revoke.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { checkDuration, checkOptionalFunction, checkOptions } from '../internal/validate.js';
import { ManagedResource, type ManagedOptions } from './managed.js';
import { checkInstance, settlesWithin } from './internal/util.js';
import { reclaimThread } from '../shared/internal/registry.js';

/** Options of {@link manageWorker}. */
export interface ManagedWorkerOptions extends ManagedOptions {
  /** Asks the worker to finish (e.g. `(w) => w.postMessage('stop')`) before it is terminated. */
  stop?: (worker: Worker) => void;
  /** With `stop`: milliseconds to wait for the worker to exit before `terminate()`. Default: 5000. */
  grace?: number;
}

/** How a managed worker ended. */
export interface WorkerExit {
  /** The exit code (`1` for a terminated worker, as Node reports it). */
  readonly code: number;
  /** Whether the release had to call `terminate()`. */
  readonly forced: boolean;
}

/**
 * A worker thread that is stopped when revoked. Create it with {@link manageWorker}.
 *
 * @example
 * ```ts
 * const pool = manageWorker(new Worker('./hash.js'), { stop: (w) => w.postMessage('stop'), grace: 1_000 });
 * await pool.revoke();
 * pool.exit; // => { code: 0, forced: false } when the worker exits on 'stop'
 * ```
 */
export class ManagedWorker extends ManagedResource<Worker> {
  #exit: WorkerExit | undefined;
  #code: number | undefined;
  readonly #exited: Promise<void>;

  readonly #stop: ((worker: Worker) => void) | undefined;
  readonly #grace: number;

  constructor(worker: Worker, options?: ManagedWorkerOptions) {
    checkInstance(worker, Worker, 'a worker_threads Worker', 'worker');
    checkOptions(options);
    checkOptionalFunction(options?.stop, 'options.stop');
    const grace = checkDuration(options?.grace, 'options.grace', 5_000);
    super(worker, options?.name === undefined ? { ...options, name: `worker ${worker.threadId}` } : options);
    this.#stop = options?.stop;
    this.#grace = grace;
    // A worker that exits can never end its accesses to a SharedRevocable: count them as drained
    // in every one this thread holds. Its threadId is -1 by then, so it is read now.
    const threadId = worker.threadId;
    if (threadId !== -1) worker.once('exit', () => reclaimThread(threadId));
    // threadId is -1 once the thread has exited.
    this.#exited =
      worker.threadId === -1
        ? Promise.resolve()
        : new Promise<void>((resolve) =>
            worker.once('exit', (code: number) => {
              this.#code = code;
              resolve();
            }),
          );
  }

  protected override async releaseResource(worker: Worker): Promise<void> {
    let forced = false;
    if (this.#code === undefined && worker.threadId !== -1) {
      let graceful = false;
      if (this.#stop !== undefined) {
        this.#stop(worker);
        graceful = await settlesWithin(this.#exited, this.#grace);
      }
      if (!graceful && this.#code === undefined) {
        forced = true;
        await worker.terminate();
      }
    }
    await this.#exited;
    this.#exit = { code: this.#code ?? 1, forced };
  }

  /** How it ended, once the revoke has resolved; `undefined` before. */
  get exit(): WorkerExit | undefined {
    return this.#exit;
  }

  /** Resolves when the thread exits, whether by the revoke or by itself. */
  get exited(): Promise<void> {
    return this.#exited;
  }
}

/**
 * Manages a worker thread: see {@link ManagedWorker}.
 *
 * @example
 * ```ts
 * const resizer = manageWorker(new Worker('./resize.js'));
 * await resizer.revoke(); // terminate(); resolves once the thread has exited
 * ```
 */
export function manageWorker(worker: Worker, options?: ManagedWorkerOptions): ManagedWorker {
  return new ManagedWorker(worker, options);
}
