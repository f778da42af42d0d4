/**
 * The shutdown root: one {@link ResourceScope} for a whole program. On the first `SIGINT` or
 * `SIGTERM` (or an uncaught exception, or an unhandled rejection) it stops saying it is ready,
 * waits the optional `delay` for load balancers to notice, releases everything it holds, then
 * exits; a second signal exits at once.
 *
 * Invariants:
 * 1. One root per process is armed at a time: a second `shutdownScope()` while one listens throws
 *    (two roots would each exit the process under the other's releases).
 * 2. The shutdown starts once. What the root holds itself is released newest first, one at a time,
 *    every release run even when one fails; then each layer, in the order the `layers` option
 *    lists them, whatever was created when, each layer releasing its contents side by side (a
 *    {@link ParallelScope}).
 * 3. `ready` is true while armed and false from the first step of the shutdown, before the delay.
 * 4. The exit code is 0 when every release succeeded within `timeout` and no server had to cut a
 *    request at its deadline; 1 when a release failed, the timeout passed, a request was cut
 *    (unless `failOnCut: false`), or an uncaught exception or unhandled rejection started (or came
 *    during) the shutdown; `128 + n` for a second signal number `n` (130 for `SIGINT`, 143 for
 *    `SIGTERM`), which exits without waiting. The last log line says why.
 * 5. `exit` is called exactly once, after which the root listens to no signal or error; with the
 *    default `exit` (`process.exit`) nothing runs after it. No timer of the root outlives it.
 *
 * @module
 */
import { constants } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ResourceScope } from '../scope.js';
import { deferred } from '../internal/promise.js';
import { checkDelay, checkDuration, checkOptionalFunction, checkOptionalString, checkOptions, expected, show } from '../internal/validate.js';
import { ParallelScope } from './parallel-scope.js';
import { draining, watchCuts } from './internal/drain-watch.js';
import type { CutRequest } from './internal/http-connections.js';
import { checkOptionalBoolean } from './internal/util.js';

/** Options of {@link shutdownScope}. */
export interface ShutdownOptions {
  /** A name for the log lines. Default: `'shutdown'`. */
  name?: string;
  /**
   * The bound of the whole shutdown, from the signal to the exit (the `delay` included), in
   * milliseconds: when it passes, the root logs it and exits with code 1 without waiting further.
   * Default: 30 000. `Infinity` waits as long as it takes.
   */
  timeout?: number;
  /**
   * Milliseconds between the start of the shutdown (`ready` turns false, `readiness` answers 503)
   * and the first release, for load balancers to stop sending traffic. Default: 0.
   */
  delay?: number;
  /**
   * Named layers, released in this order after what the root holds itself; each releases its
   * contents side by side. Get one with `root.layer(name)`. Default: none.
   */
  layers?: readonly string[];
  /** The signals that start the shutdown. Default: `['SIGINT', 'SIGTERM']`. */
  signals?: readonly NodeJS.Signals[];
  /** `uncaughtException` and `unhandledRejection` start the shutdown (exit code 1). Default: `true`. */
  uncaught?: boolean;
  /** Exit 1 when a server had to cut requests at its deadline. Default: `true`; `false` keeps 0. */
  failOnCut?: boolean;
  /** Ends the process with a code. Default: `process.exit`. Tests inject their own. */
  exit?: (code: number) => void;
  /** Where the root says what it does, a line at a time. Default: standard error. */
  log?: (line: string) => void;
}

/** Where the root is: armed, waiting its `delay`, releasing, or done (with the code it exited with). */
export type ShutdownPhase = 'armed' | 'delaying' | 'releasing' | 'done';

type Phase =
  | { readonly kind: 'armed' }
  | { readonly kind: 'delaying' | 'releasing'; readonly done: Promise<number> }
  | { readonly kind: 'done'; readonly code: number; readonly done: Promise<number> };

/** The armed root of this process, if any: signals belong to the whole process. */
const thisProcess: { armed: ShutdownScope | null } = { armed: null };

/** At most this many cut requests are listed one per line in the log. */
const LISTED_CUTS = 10;

/**
 * A {@link ResourceScope} that is the root of a program: see the module. Create it with
 * {@link shutdownScope}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import http from 'node:http';
 * import { ManagedResource, manageServer, shutdownScope } from 'revocable/node';
 *
 * const log: string[] = [];
 * const root = shutdownScope({ layers: ['tenants', 'storage'], delay: 50, exit: (code) => log.push(`exit(${code})`) });
 * root.layer('storage').use(new ManagedResource({ end: () => log.push('storage closed') }, {}, (c) => c.end()));
 * const api = root.use(manageServer(http.createServer((_req, res) => res.end('ok')), { timeout: 10_000 }));
 * await once(api.server.listen(0, '127.0.0.1'), 'listening');
 * root.layer('tenants').use(new ManagedResource({ end: () => log.push('tenant closed') }, {}, (c) => c.end())); // opened later
 * await root.shutdown(); // what SIGTERM does: not ready, 50 ms, api drains, the tenants, storage, then exit
 * assert.equal(api.state, 'revoked');
 * assert.deepEqual(log, ['tenant closed', 'storage closed', 'exit(0)']);
 * ```
 */
export class ShutdownScope extends ResourceScope {
  readonly #label: string;
  readonly #timeout: number;
  readonly #delay: number;
  readonly #failOnCut: boolean;
  readonly #exit: (code: number) => void;
  readonly #log: (line: string) => void;
  /** The layers by name, in release order. */
  readonly #layers: ReadonlyMap<string, ParallelScope>;
  /** The process events we listen to: signals, and the uncaught errors unless opted out. */
  readonly #listeners: [string, (...args: unknown[]) => void][];
  #phase: Phase = { kind: 'armed' };
  #listening = false;
  /** An uncaught exception or unhandled rejection started the shutdown or came during it. */
  #fatal = false;
  /** The delay while it runs: an early exit clears its timer and ends the wait (invariant 5). */
  #delayWait: { readonly timer: ReturnType<typeof setTimeout>; readonly end: () => void } | undefined;

  constructor(options?: ShutdownOptions) {
    checkOptions(options);
    const name = options?.name;
    const timeoutOption = options?.timeout;
    const delayOption = options?.delay;
    const layersOption = options?.layers;
    const signalsOption = options?.signals;
    const uncaught = options?.uncaught;
    const failOnCut = options?.failOnCut;
    const exit = options?.exit;
    const log = options?.log;
    checkOptionalString(name, 'options.name');
    const timeout = checkDuration(timeoutOption, 'options.timeout', 30_000);
    const delay = delayOption === undefined ? 0 : checkDelay(delayOption, 'options.delay');
    const layers = copyArray(layersOption, 'options.layers', 'an array of distinct non-empty strings');
    if (layers.some((layer, i) => typeof layer !== 'string' || layer === '' || layers.indexOf(layer) !== i)) {
      throw expected('an array of distinct non-empty strings', 'options.layers', layersOption);
    }
    const signals = copyArray(signalsOption ?? DEFAULT_SIGNALS, 'options.signals', 'an array of signal names such as `SIGTERM`');
    if (signals.some((s) => typeof s !== 'string' || !Object.hasOwn(constants.signals, s))) {
      throw expected('an array of signal names such as `SIGTERM`', 'options.signals', signalsOption);
    }
    checkOptionalBoolean(uncaught, 'options.uncaught');
    checkOptionalBoolean(failOnCut, 'options.failOnCut');
    checkOptionalFunction(exit, 'options.exit');
    checkOptionalFunction(log, 'options.log');
    const current = thisProcess.armed;
    if (current !== null) {
      throw new Error(`Expected one shutdown scope per process, got a second while ${show(current.#label)} is armed: add to that one, or call its uninstall() first`);
    }
    super(name === undefined ? undefined : { name });
    this.#label = name ?? 'shutdown';
    this.#timeout = timeout;
    this.#delay = delay;
    this.#failOnCut = failOnCut !== false;
    this.#exit = exit ?? exitProcess;
    const say = log ?? logToStderr;
    // A log that throws must not stop the shutdown half-way: the line is lost, the exit still comes.
    this.#log = (line) => {
      try {
        say(line);
      } catch {
        // nothing to report it to
      }
    };
    // Oldest first in the list, so the first listed is released first (newest first), after
    // everything added to the root itself.
    const scopes = (layers as string[]).map((layer) => new ParallelScope({ name: layer }));
    for (const scope of [...scopes].reverse()) this.use(scope);
    this.#layers = new Map(scopes.map((scope) => [scope.name as string, scope]));
    this.#listeners = [...new Set(signals as NodeJS.Signals[])].map((signal) => [signal, () => this.#signal(signal)]);
    if (uncaught !== false) {
      this.#listeners.push(['uncaughtException', (error) => this.#uncaught('uncaughtException', error)]);
      this.#listeners.push(['unhandledRejection', (reason) => this.#uncaught('unhandledRejection', reason)]);
    }
    for (const [event, listener] of this.#listeners) process.on(event, listener);
    this.#listening = true;
    thisProcess.armed = this;
  }

  /** `'armed'` (waiting for a signal), `'delaying'`, `'releasing'` or `'done'`. */
  get phase(): ShutdownPhase {
    return this.#phase.kind;
  }

  /** The code the root exited with, once done. */
  get exitCode(): number | undefined {
    return this.#phase.kind === 'done' ? this.#phase.code : undefined;
  }

  /** True until the shutdown starts: what a readiness probe should say. */
  get ready(): boolean {
    return this.#phase.kind === 'armed';
  }

  /**
   * A readiness check to serve (`/ready`, or its own port): `200 ready` while armed, `503 shutting
   * down` from the first step of the shutdown, so that load balancers stop sending traffic
   * during the `delay`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { once } from 'node:events';
   * import http from 'node:http';
   * import { manageServer, shutdownScope } from 'revocable/node';
   *
   * const root = shutdownScope({ delay: 1_000, exit: () => {} });
   * const server = http.createServer((req, res) => (req.url === '/ready' ? root.readiness(req, res) : res.end('app')));
   * root.use(manageServer(server));
   * await once(server.listen(0, '127.0.0.1'), 'listening');
   * const ready = `http://127.0.0.1:${(server.address() as { port: number }).port}/ready`;
   * assert.equal((await fetch(ready)).status, 200);
   * const stopping = root.shutdown(); // what SIGTERM does
   * assert.equal((await fetch(ready)).status, 503); // during the delay: load balancers stop sending traffic
   * await stopping;
   * ```
   */
  readonly readiness = (_req: IncomingMessage, res: ServerResponse): void => {
    const ready = this.ready;
    res.statusCode = ready ? 200 : 503;
    res.setHeader('content-type', 'text/plain');
    res.setHeader('cache-control', 'no-store');
    res.end(ready ? 'ready\n' : 'shutting down\n');
  };

  /**
   * A layer, by the name given in the `layers` option: a {@link ParallelScope} released in the
   * listed order, after what the root holds itself, however late it is filled (a tenant opened on
   * its first request goes in a layer made at startup, and is released after the server).
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ManagedResource, shutdownScope } from 'revocable/node';
   *
   * const log: string[] = [];
   * const root = shutdownScope({ layers: ['tenants'], exit: () => {} });
   * root.use(new ManagedResource({ name: 'server' }, {}, () => log.push('server drained')));
   * // on a tenant's first request, long after:
   * root.layer('tenants').use(new ManagedResource({ id: 42 }, {}, (t) => log.push(`tenant ${t.id} closed`)));
   * assert.throws(() => root.layer('nope'), RangeError); // not one of the layers
   * await root.shutdown();
   * assert.deepEqual(log, ['server drained', 'tenant 42 closed']); // the tenant after the server
   * ```
   */
  layer(name: string): ParallelScope {
    if (typeof name !== 'string') throw expected('a string', 'name', name);
    const layer = this.#layers.get(name);
    if (layer === undefined) {
      const known = [...this.#layers.keys()].map((n) => JSON.stringify(n)).join(', ');
      throw new RangeError(`Expected \`name\` to be one of the layers given to shutdownScope() (${known === '' ? 'none' : known}), got ${show(name)}`);
    }
    return layer;
  }

  /**
   * Shuts down now, as the first signal would: not ready, the `delay`, every release within
   * `timeout`, then `exit` with the code. Resolves with that code (when `exit` returns at all). A
   * second call returns the first one's promise.
   */
  shutdown(reason = 'shutdown requested'): Promise<number> {
    if (typeof reason !== 'string') throw expected('a string', 'reason', reason);
    if (this.#phase.kind !== 'armed') return this.#phase.done;
    // The phase first: `ready` is false, and a second call waits, from the first step (invariant 3).
    const run = deferred<number>();
    this.#phase = { kind: this.#delay > 0 ? 'delaying' : 'releasing', done: run.promise };
    this.#run(reason).then(run.resolve, run.reject);
    return run.promise;
  }

  /** Stops listening for signals and errors, releasing nothing; the root is an ordinary scope after it. */
  uninstall(): void {
    if (!this.#listening) return;
    this.#listening = false;
    for (const [event, listener] of this.#listeners) process.removeListener(event, listener);
    if (thisProcess.armed === this) thisProcess.armed = null;
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#phase.kind === 'armed') {
      void this.shutdown(`${signal} received`);
      return;
    }
    if (this.#phase.kind !== 'done') {
      const code = 128 + (constants.signals[signal] ?? 0);
      this.#log(`${this.#label}: ${signal} again: exiting now without waiting (code ${code})`);
      this.#finish(code);
    }
  }

  #uncaught(event: string, error: unknown): void {
    this.#fatal = true;
    this.#log(`${this.#label}: ${event}: ${describeError(error)}`);
    if (this.#phase.kind === 'armed') void this.shutdown(event);
  }

  async #run(reason: string): Promise<number> {
    const start = performance.now();
    const cuts: { server: string | undefined; request: CutRequest }[] = [];
    const stopWatching = watchCuts((server, cut) => {
      for (const request of cut) cuts.push({ server, request });
    });
    const outcome = await settle(this.#delayThenRelease(reason), this.#timeout);
    stopWatching();
    const elapsed = Math.round(performance.now() - start);
    const cut = cuts.length === 0 ? '' : `; ${cuts.length} ${cuts.length === 1 ? 'request' : 'requests'} cut at a server's deadline`;
    for (const { server, request } of cuts.slice(0, LISTED_CUTS)) this.#log(`${this.#label}: cut ${describeCut(server, request)}`);
    if (cuts.length > LISTED_CUTS) this.#log(`${this.#label}: ... and ${cuts.length - LISTED_CUTS} more cut`);
    let code = this.#fatal || (cuts.length > 0 && this.#failOnCut) ? 1 : 0;
    if (outcome.kind === 'timeout') {
      code = 1;
      let open = 0;
      for (const server of draining) open += server.inFlight;
      const inFlight = open === 0 ? '' : ` with ${open} ${open === 1 ? 'request' : 'requests'} in flight`;
      this.#log(`${this.#label}: not released within ${this.#timeout} ms: exiting anyway${inFlight}${cut} (code 1)`);
    } else if (outcome.kind === 'failed') {
      code = 1;
      const errors = flatten(outcome.error);
      for (const error of errors) this.#log(`${this.#label}: a release failed: ${describeError(error)}`);
      this.#log(`${this.#label}: released in ${elapsed} ms with ${errors.length} ${errors.length === 1 ? 'failure' : 'failures'}${cut} (code 1)`);
    } else {
      const fatal = this.#fatal ? ' after an uncaught error' : '';
      this.#log(`${this.#label}: released in ${elapsed} ms${cut}${fatal} (code ${code})`);
    }
    // A second signal may have exited already (with an injected exit, we get here after it).
    if (this.#phase.kind === 'done') return this.#phase.code;
    this.#finish(code);
    return code;
  }

  async #delayThenRelease(reason: string): Promise<void> {
    if (this.#delay > 0) {
      this.#log(`${this.#label}: ${reason}: not ready; releasing in ${this.#delay} ms`);
      await new Promise<void>((resolve) => (this.#delayWait = { timer: setTimeout(resolve, this.#delay), end: resolve }));
      this.#delayWait = undefined;
      if (this.#phase.kind === 'done') return;
      this.#phase = { kind: 'releasing', done: (this.#phase as { done: Promise<number> }).done };
    }
    const layers = [...this.#layers.values()];
    const own = this.size - layers.length;
    let what = `${own} ${own === 1 ? 'resource' : 'resources'}, newest first`;
    if (layers.length > 0) what += `, then ${layers.map((layer) => `${layer.name ?? ''} (${layer.size})`).join(', ')}, each side by side`;
    this.#log(this.#delay > 0 ? `${this.#label}: releasing ${what}` : `${this.#label}: ${reason}: releasing ${what}`);
    await this.disposeAsync();
  }

  #finish(code: number): void {
    if (this.#phase.kind === 'done') return;
    const wait = this.#delayWait;
    if (wait !== undefined) {
      clearTimeout(wait.timer);
      wait.end();
    }
    const done = this.#phase.kind === 'armed' ? Promise.resolve(code) : this.#phase.done;
    this.#phase = { kind: 'done', code, done };
    this.uninstall();
    this.#exit(code);
  }
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

const exitProcess = (code: number): void => process.exit(code);
const logToStderr = (line: string): void => void process.stderr.write(`${line}\n`);

/** A copy of an array option, made once (its elements are then read from the copy only). */
function copyArray(value: unknown, name: string, what: string): unknown[] {
  if (value === undefined) return [];
  let copy: unknown[] | undefined;
  try {
    if (Array.isArray(value)) copy = Array.prototype.slice.call(value) as unknown[];
  } catch {
    copy = undefined;
  }
  if (copy === undefined) throw expected(what, name, value);
  return copy;
}

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

function describeCut(server: string | undefined, cut: CutRequest): string {
  const what = cut.upgraded ? `upgraded ${cut.method ?? '?'} ${cut.url ?? '?'}` : `${cut.method ?? '?'} ${cut.url ?? '?'}`;
  const from = cut.remoteAddress === undefined ? '' : ` from ${cut.remoteAddress}:${cut.remotePort ?? '?'}`;
  const details = [server, cut.upgraded ? undefined : cut.headersSent ? 'response truncated' : 'no response sent'].filter((d) => d !== undefined);
  return `${what}${from}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

/**
 * Creates the shutdown root of a program: see {@link ShutdownScope}. Put every long-lived resource
 * in it (`use` for managed resources, `adopt`/`defer` for the rest), or in one of its `layers`; on
 * `SIGINT`/`SIGTERM` they are released, then the process exits.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { spawn } from 'node:child_process';
 * import { once } from 'node:events';
 * import http from 'node:http';
 * import { manageChildProcess, manageServer, shutdownScope } from 'revocable/node';
 *
 * const root = shutdownScope({ timeout: 10_000, layers: ['workers'], exit: () => {} });
 * const server = http.createServer((_req, res) => res.end('ok'));
 * root.use(manageServer(server, { timeout: 5_000 }));
 * await once(server.listen(0, '127.0.0.1'), 'listening');
 * const indexer = manageChildProcess(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']), { grace: 2_000 });
 * root.layer('workers').use(indexer);
 * assert.equal(await root.shutdown(), 0); // as on SIGTERM: the server drains, then the indexer stops
 * assert.equal(indexer.exit?.signal, 'SIGTERM');
 * ```
 */
export function shutdownScope(options?: ShutdownOptions): ShutdownScope {
  return new ShutdownScope(options);
}
