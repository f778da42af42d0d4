/**
 * A managed child process: revoked by its own exit, stopped by the revoke with `SIGTERM`, and
 * killed with `SIGKILL` when the grace is over.
 *
 * Invariants:
 * 1. The process's exit (or a spawn that failed) revokes the managed process: no job starts after
 *    it, and every job in flight (`with(fn)` where `fn` returned a promise) rejects at once with a
 *    `RevokedError` (`code: 'ENODEV'`) saying how it ended.
 * 2. The revoke kicks the jobs (their signal aborts), waits for them, then sends `killSignal`
 *    (default `SIGTERM`) once and waits for `exit`. `grace` ms after the revoke started (default
 *    5000; sooner for a revoke with a shorter `timeout`), a process still running gets `SIGKILL`.
 *    The revoke resolves once the process has exited, never while it runs.
 * 3. A process that has already exited (or never started) gets no signal: its pid may have been
 *    reused.
 * 4. `exit` records how it ended: `{ code, signal, forced }`, `forced` when `SIGKILL` was needed.
 *
 * Only the process itself is signalled, not its own children: spawn it `detached` and kill the
 * group yourself if it has any that must go too.
 *
 * @module
 */
import { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { checkDuration, expected } from '../internal/validate.js';
import { managedOptions, readManagedOptions, type ManagedOptions } from './managed.js';
import { Stoppable } from './internal/stoppable.js';
import { checkInstance } from './internal/util.js';

/** Options of {@link manageChildProcess}. */
export interface ManagedChildProcessOptions extends ManagedOptions {
  /** Milliseconds from the revoke to `SIGKILL` for a process still running. Default: 5000. */
  grace?: number;
  /** The polite signal. Default: `'SIGTERM'`. */
  killSignal?: NodeJS.Signals;
}

/** How a managed process ended. */
export interface ProcessExit {
  /** The exit code, or `null` when a signal ended it (or it never started). */
  readonly code: number | null;
  /** The signal that ended it, or `null`. */
  readonly signal: NodeJS.Signals | null;
  /** Whether the release had to send `SIGKILL`. */
  readonly forced: boolean;
}

/**
 * A child process that is terminated, gracefully then forcibly, when revoked, and revoked when it
 * exits. Create it with {@link manageChildProcess}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { spawn } from 'node:child_process';
 * import { once } from 'node:events';
 * import { manageChildProcess } from 'revocable/node';
 *
 * const script = "process.on('SIGTERM', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000);";
 * const child = spawn(process.execPath, ['-e', script]);
 * await once(child.stdout, 'data'); // it handles SIGTERM from now on
 * const indexer = manageChildProcess(child, { grace: 2_000 });
 * await indexer.revoke();
 * assert.deepEqual(indexer.exit, { code: 0, signal: null, forced: false }); // it exited on SIGTERM
 * ```
 */
export class ManagedChildProcess extends Stoppable<ChildProcess> {
  readonly #pid: number | undefined;
  readonly #killSignal: NodeJS.Signals;
  #exit: ProcessExit | undefined;

  constructor(child: ChildProcess, options?: ManagedChildProcessOptions) {
    checkInstance(child, ChildProcess, 'a ChildProcess', 'child');
    const settings = readManagedOptions(options);
    const graceOption = options?.grace;
    const killOption = options?.killSignal;
    const grace = checkDuration(graceOption, 'options.grace', 5_000);
    const killSignal = killOption ?? 'SIGTERM';
    if (typeof killSignal !== 'string' || !Object.hasOwn(constants.signals, killSignal)) throw expected('a signal name such as `SIGTERM`', 'options.killSignal', killSignal);
    const pid = child.pid;
    super('ManagedChildProcess', child, managedOptions(settings, settings.name ?? `pid ${pid ?? '?'}`), grace);
    this.#pid = pid;
    this.#killSignal = killSignal;
    // A spawn that failed has no pid from the start, emits 'error' and never 'exit'.
    if (hasExited(child)) this.#onExit(child, true);
    else child.once('exit', () => this.#onExit(child, false));
  }

  /** The process id, or `undefined` if the spawn failed. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** How it ended, once it has exited; `undefined` before. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** The process's `exit` (or the failed spawn): the one place that reacts to its end. Runs once. */
  #onExit(child: ChildProcess, beforeManaged: boolean): void {
    const { exitCode: code, signalCode: signal } = child;
    this.#exit = { code, signal, forced: this.forced };
    const how = child.pid === undefined ? 'never started (the spawn failed)' : signal === null ? `exited with code ${String(code)}` : `was ended by ${signal}`;
    this.exitHappened(how, undefined, beforeManaged);
  }

  protected override get politeStop(): (child: ChildProcess) => unknown {
    const signal = this.#killSignal;
    return (child) => child.kill(signal);
  }

  protected override force(child: ChildProcess): void {
    child.kill('SIGKILL');
  }
}

/** Exited, or never started (no pid: the spawn failed). */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

/**
 * Manages a spawned child process: see {@link ManagedChildProcess}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { spawn } from 'node:child_process';
 * import { once } from 'node:events';
 * import { manageChildProcess } from 'revocable/node';
 *
 * const script = "process.on('SIGINT', () => {}); console.log('ready'); setInterval(() => {}, 1000);"; // ignores SIGINT
 * const child = spawn(process.execPath, ['-e', script]);
 * await once(child.stdout, 'data');
 * const encoder = manageChildProcess(child, { grace: 300, killSignal: 'SIGINT' });
 * await encoder.revoke(); // SIGINT, then SIGKILL 300 ms after the revoke; resolves once it has exited
 * assert.deepEqual(encoder.exit, { code: null, signal: 'SIGKILL', forced: true });
 * ```
 */
export function manageChildProcess(child: ChildProcess, options?: ManagedChildProcessOptions): ManagedChildProcess {
  return new ManagedChildProcess(child, options);
}
