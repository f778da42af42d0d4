/**
 * A managed child process: released by `SIGTERM`, then `SIGKILL` if it has not exited after a
 * grace period; the revoke resolves when the process has exited.
 *
 * Invariants:
 * 1. The release sends `killSignal` (default `SIGTERM`) once, waits up to `grace` ms for `exit`,
 *    then sends `SIGKILL` and waits for `exit`: it never resolves while the process runs.
 * 2. A process that has already exited (or never started: `spawn` failed) releases at once, and
 *    no signal is sent to a pid that may have been reused.
 * 3. `exit` records how it ended: `{ code, signal, forced }`, `forced` when `SIGKILL` was needed.
 *
 * Only the process itself is signalled, not its own children: spawn it `detached` and kill the
 * group yourself if it has any that must go too.
 *
 * @module
 */
import { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { checkDuration, checkOptions, expected } from '../internal/validate.js';
import { ManagedResource, type ManagedOptions } from './managed.js';
import { checkInstance, settlesWithin } from './internal/util.js';

/** Options of {@link manageChildProcess}. */
export interface ManagedChildProcessOptions extends ManagedOptions {
  /** Milliseconds between `killSignal` and `SIGKILL`. Default: 5000. */
  grace?: number;
  /** The polite signal. Default: `'SIGTERM'`. */
  killSignal?: NodeJS.Signals;
}

/** How a managed process ended. */
export interface ProcessExit {
  /** The exit code, or `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or `null`. */
  readonly signal: NodeJS.Signals | null;
  /** Whether the release had to send `SIGKILL`. */
  readonly forced: boolean;
}

/**
 * A child process that is terminated, gracefully then forcibly, when revoked. Create it with
 * {@link manageChildProcess}.
 *
 * @example
 * ```ts
 * const worker = manageChildProcess(spawn('node', ['worker.js']), { grace: 2_000 });
 * await worker.revoke();
 * worker.exit; // => { code: 0, signal: null, forced: false } for a worker that exits on SIGTERM
 * ```
 */
export class ManagedChildProcess extends ManagedResource<ChildProcess> {
  #exit: ProcessExit | undefined;
  /** Resolves on the process's `exit` (or at once if it never started). */
  readonly #exited: Promise<void>;

  readonly #grace: number;
  readonly #killSignal: NodeJS.Signals;

  constructor(child: ChildProcess, options?: ManagedChildProcessOptions) {
    checkInstance(child, ChildProcess, 'a ChildProcess', 'child');
    checkOptions(options);
    const grace = checkDuration(options?.grace, 'options.grace', 5_000);
    const killSignal = options?.killSignal ?? 'SIGTERM';
    if (typeof killSignal !== 'string' || !(killSignal in constants.signals)) throw expected('a signal name such as `SIGTERM`', 'options.killSignal', killSignal);
    super(child, options?.name === undefined ? { ...options, name: `pid ${child.pid ?? '?'}` } : options);
    this.#grace = grace;
    this.#killSignal = killSignal;
    // A spawn that failed has no pid from the start, emits 'error' and never 'exit'.
    this.#exited = hasExited(child) ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }

  protected override async releaseResource(child: ChildProcess): Promise<void> {
    let forced = false;
    if (!hasExited(child)) {
      child.kill(this.#killSignal);
      if (!(await settlesWithin(this.#exited, this.#grace)) && !hasExited(child)) {
        forced = true;
        child.kill('SIGKILL');
      }
    }
    await this.#exited;
    this.#exit = { code: child.exitCode, signal: child.signalCode, forced };
  }

  /** The process id, or `undefined` if the spawn failed. */
  get pid(): number | undefined {
    return this.tryWith(pidOf);
  }

  /** How it ended, once the revoke has resolved; `undefined` before. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** Resolves when the process exits, whether by the revoke or by itself. */
  get exited(): Promise<void> {
    return this.#exited;
  }
}

const pidOf = (c: ChildProcess): number | undefined => c.pid;

/** Exited, or never started (no pid: the spawn failed). */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

/**
 * Manages a spawned child process: see {@link ManagedChildProcess}.
 *
 * @example
 * ```ts
 * const ffmpeg = manageChildProcess(spawn('ffmpeg', args), { grace: 3_000, killSignal: 'SIGINT' });
 * await ffmpeg.revoke(); // SIGINT, then SIGKILL after 3 s; resolves once it has exited
 * ```
 */
export function manageChildProcess(child: ChildProcess, options?: ManagedChildProcessOptions): ManagedChildProcess {
  return new ManagedChildProcess(child, options);
}
