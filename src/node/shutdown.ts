/**
 * The shutdown root: one {@link ResourceScope} for a whole program. On the first `SIGINT` or
 * `SIGTERM` it releases everything it holds, newest first, each managed resource draining as it
 * goes, then exits; a second signal exits at once.
 *
 * Invariants:
 * 1. One root per process is armed at a time: a second `shutdownScope()` while one listens throws
 *    (two roots would each exit the process under the other's releases).
 * 2. The first signal (or `shutdown()`) starts the release once; what is released, and in which
 *    order, is the scope's: newest first, one at a time, every release run even when one fails.
 * 3. The exit code is 0 when every release succeeded within `timeout`, 1 when one failed or the
 *    timeout passed (each failure is logged, and a timeout says how long it waited), and
 *    `128 + n` for a second signal number `n` during the release (130 for `SIGINT`, 143 for
 *    `SIGTERM`), which exits without waiting.
 * 4. `exit` is called exactly once, after which the root listens to no signal; with the default
 *    `exit` (`process.exit`) nothing runs after it.
 *
 * @module
 */
import { constants } from 'node:os';
import { ResourceScope } from '../scope.js';
import { checkDuration, checkOptionalFunction, checkOptionalString, checkOptions, expected, show } from '../internal/validate.js';

/** Options of {@link shutdownScope}. */
export interface ShutdownOptions {
  /** A name for the log lines. Default: `'shutdown'`. */
  name?: string;
  /**
   * The bound of the whole release, in milliseconds: when it passes, the root logs it and exits
   * with code 1 without waiting further. Default: 30 000. `Infinity` waits as long as it takes.
   */
  timeout?: number;
  /** The signals that start the shutdown. Default: `['SIGINT', 'SIGTERM']`. */
  signals?: readonly NodeJS.Signals[];
  /** Ends the process with a code. Default: `process.exit`. Tests inject their own. */
  exit?: (code: number) => void;
  /** Where the root says what it does, a line at a time. Default: standard error. */
  log?: (line: string) => void;
}

/** Where the root is: listening for a signal, releasing, or done (with the code it exited with). */
export type ShutdownPhase = 'armed' | 'releasing' | 'done';

type Phase =
  | { readonly kind: 'armed' }
  | { readonly kind: 'releasing'; readonly done: Promise<number> }
  | { readonly kind: 'done'; readonly code: number; readonly done: Promise<number> };

/** The armed root of this process, if any: signals belong to the whole process. */
const thisProcess: { armed: ShutdownScope | null } = { armed: null };

/**
 * A {@link ResourceScope} that is the root of a program: what it holds is released, newest first,
 * on the first `SIGINT`/`SIGTERM` (or `shutdown()`), then the process exits. Create it with
 * {@link shutdownScope}.
 *
 * @example
 * ```ts
 * const root = shutdownScope({ timeout: 10_000 });
 * const db = root.use(new ManagedResource(await connect(), {}, (c) => c.end()));
 * const api = root.use(manageServer(http.createServer(app), { timeout: 5_000 }));
 * api.server.listen(8080);
 * // SIGTERM: api drains and closes, then db ends, then exit(0)
 * ```
 */
export class ShutdownScope extends ResourceScope {
  readonly #label: string;
  readonly #timeout: number;
  readonly #exit: (code: number) => void;
  readonly #log: (line: string) => void;
  /** One listener per signal: `process.emit(signal)` passes no name, a real signal does. */
  readonly #listeners: [NodeJS.Signals, () => void][];
  #phase: Phase = { kind: 'armed' };
  #listening = false;

  constructor(options?: ShutdownOptions) {
    checkOptions(options);
    checkOptionalString(options?.name, 'options.name');
    const timeout = checkDuration(options?.timeout, 'options.timeout', 30_000);
    const signals = options?.signals ?? DEFAULT_SIGNALS;
    if (!Array.isArray(signals) || signals.some((s) => typeof s !== 'string' || !(s in constants.signals))) {
      throw expected('an array of signal names such as `SIGTERM`', 'options.signals', signals);
    }
    checkOptionalFunction(options?.exit, 'options.exit');
    checkOptionalFunction(options?.log, 'options.log');
    const current = thisProcess.armed;
    if (current !== null) {
      throw new Error(`Expected one shutdown scope per process, got a second while ${show(current.#label)} is armed: add to that one, or call its uninstall() first`);
    }
    super(options?.name === undefined ? undefined : { name: options.name });
    this.#label = options?.name ?? 'shutdown';
    this.#timeout = timeout;
    this.#exit = options?.exit ?? exitProcess;
    this.#log = options?.log ?? logToStderr;
    this.#listeners = [...new Set(signals)].map((signal) => [signal, () => this.#signal(signal)]);
    for (const [signal, listener] of this.#listeners) process.on(signal, listener);
    this.#listening = true;
    thisProcess.armed = this;
  }

  /** `'armed'` (waiting for a signal), `'releasing'` or `'done'`. */
  get phase(): ShutdownPhase {
    return this.#phase.kind;
  }

  /** The code the root exited with, once done. */
  get exitCode(): number | undefined {
    return this.#phase.kind === 'done' ? this.#phase.code : undefined;
  }

  /**
   * Shuts down now, as the first signal would: releases everything newest first within `timeout`,
   * then calls `exit` with the code. Resolves with that code (when `exit` returns at all). A second
   * call returns the first one's promise.
   */
  shutdown(reason = 'shutdown requested'): Promise<number> {
    if (typeof reason !== 'string') throw expected('a string', 'reason', reason);
    if (this.#phase.kind !== 'armed') return this.#phase.done;
    const done = this.#run(reason);
    this.#phase = { kind: 'releasing', done };
    return done;
  }

  /** Stops listening for signals, releasing nothing; the root is an ordinary scope after it. */
  uninstall(): void {
    if (!this.#listening) return;
    this.#listening = false;
    for (const [signal, listener] of this.#listeners) process.removeListener(signal, listener);
    if (thisProcess.armed === this) thisProcess.armed = null;
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#phase.kind === 'armed') {
      void this.shutdown(`${signal} received`);
      return;
    }
    if (this.#phase.kind === 'releasing') {
      const code = 128 + (constants.signals[signal] ?? 0);
      this.#log(`${this.#label}: ${signal} again: exiting now without waiting (code ${code})`);
      this.#finish(code);
    }
  }

  async #run(reason: string): Promise<number> {
    const start = performance.now();
    this.#log(`${this.#label}: ${reason}: releasing ${this.size} ${this.size === 1 ? 'resource' : 'resources'}, newest first`);
    const outcome = await settle(this.disposeAsync(), this.#timeout);
    const elapsed = Math.round(performance.now() - start);
    let code = 0;
    if (outcome.kind === 'timeout') {
      code = 1;
      this.#log(`${this.#label}: not released within ${this.#timeout} ms: exiting anyway (code 1)`);
    } else if (outcome.kind === 'failed') {
      code = 1;
      const errors = flatten(outcome.error);
      for (const error of errors) this.#log(`${this.#label}: a release failed: ${describeError(error)}`);
      this.#log(`${this.#label}: released in ${elapsed} ms with ${errors.length} ${errors.length === 1 ? 'failure' : 'failures'} (code 1)`);
    } else {
      this.#log(`${this.#label}: released in ${elapsed} ms (code 0)`);
    }
    // A second signal may have exited already (with an injected exit, we get here after it).
    if (this.#phase.kind === 'done') return this.#phase.code;
    this.#finish(code);
    return code;
  }

  #finish(code: number): void {
    if (this.#phase.kind === 'done') return;
    const done = this.#phase.kind === 'releasing' ? this.#phase.done : Promise.resolve(code);
    this.#phase = { kind: 'done', code, done };
    this.uninstall();
    this.#exit(code);
  }
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

const exitProcess = (code: number): void => process.exit(code);
const logToStderr = (line: string): void => void process.stderr.write(`${line}\n`);

type Outcome = { readonly kind: 'done' } | { readonly kind: 'failed'; readonly error: unknown } | { readonly kind: 'timeout' };

function settle(promise: Promise<void>, ms: number): Promise<Outcome> {
  const outcome = promise.then(
    (): Outcome => ({ kind: 'done' }),
    (error: unknown): Outcome => ({ kind: 'failed', error }),
  );
  if (ms === Infinity) return outcome;
  return new Promise<Outcome>((resolve) => {
    const timer = setTimeout(resolve, ms, { kind: 'timeout' } satisfies Outcome);
    void outcome.then((result) => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

/** The failures of a disposal in the order they happened: a `SuppressedError` chain unrolled. */
function flatten(error: unknown): unknown[] {
  if (error instanceof Error && error.name === 'SuppressedError' && 'error' in error && 'suppressed' in error) {
    return [...flatten(error.suppressed), ...flatten(error.error)];
  }
  return [error];
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

/**
 * Creates the shutdown root of a program: see {@link ShutdownScope}. Put every long-lived resource
 * in it (`use` for managed resources, `adopt`/`defer` for the rest); on `SIGINT`/`SIGTERM` they are
 * released newest first, then the process exits.
 *
 * @example
 * ```ts
 * const root = shutdownScope({ timeout: 10_000 });
 * root.use(manageServer(server, { timeout: 5_000 }));
 * root.use(manageChildProcess(spawn('./indexer'), { grace: 2_000 }));
 * ```
 */
export function shutdownScope(options?: ShutdownOptions): ShutdownScope {
  return new ShutdownScope(options);
}
