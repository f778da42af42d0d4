/**
 * The revoker's side: {@link revokeRemote} revokes a resource that holders in many processes (on
 * many machines) hold, on the engine a backend speaks to.
 *
 * Protocol: mark the resource revoking on the engine (the linearization point: no holder attaches
 * after it) → holders learn of it (a watch event for speed, their next renewal for certainty) and
 * drain locally, then detach → the revoker waits until the holder set is empty, holders whose lease
 * expired on the engine's clock being cut off → raise the fence → `release` → revoked.
 *
 * Invariants:
 * 1. The fence is raised after the drain, never before: raising it at the start would refuse the
 *    very accesses the revoke is waiting for.
 * 2. `release` runs only after the holder set is empty, and only in the revoker that holds the
 *    claim; at most one call per epoch resolves `revoked: true`.
 * 3. A revoker that died mid-revoke leaves the resource `revoking` with a claim on its own lease;
 *    a later `revokeRemote` waits for that lease, then takes over (and runs `release` again, which
 *    is why `release` must be idempotent).
 * 4. No wake-up is lost: the event count is read before each poll, and a wait returns at once if an
 *    event came meanwhile. Polling every `pollMs` and at the next lease expiry makes progress
 *    without any event.
 * 5. An engine error is retried until `timeout`, then reported as `RemoteUnavailableError` with the
 *    last error as `cause`; a call that hangs is bounded by the same deadline.
 *
 * @module
 */
import { DrainTimeoutError } from '../errors.js';
import { checkOptionalFunction, checkOptions } from '../internal/validate.js';
import type { RemoteBackend, RevokerRef } from './backend.js';
import { RemoteProtocolError, RemoteUnavailableError } from './errors.js';
import { checkBackend, checkDelay, checkLease, checkName, checkTimeout } from './internal/checks.js';
import { defaultRuntime, sleep, Wakeup, type RemoteRuntime } from './internal/runtime.js';

/** A revoker's claim lasts this long without renewal when none is given: 10 s. */
export const DEFAULT_REVOKER_LEASE_MS = 10_000;

/** What `release` learns: the fence to enforce from now on, and who was cut off. */
export interface RemoteReleaseInfo {
  /** The resource's name on the engine. */
  readonly name: string;
  /** The revoke's epoch. */
  readonly epoch: bigint;
  /** Tokens below this are stale: see `checkFence`. */
  readonly fence: bigint;
  /** The `holderId`s cut off by their lease rather than detached. */
  readonly cutOff: readonly string[];
}

/** Options of {@link revokeRemote}. */
export interface RevokeRemoteOptions {
  /**
   * How long to wait for the holders to drain (and for the engine to answer), in milliseconds, at
   * most 2^31 - 1; `Infinity` (the default) waits as long as it takes. When it passes, nothing is
   * released: the call rejects with `DrainTimeoutError` (holders still attached) or
   * `RemoteUnavailableError` (the engine did not answer), gives up its claim, and the resource
   * stays `revoking` for a later `revokeRemote` to finish.
   */
  timeout?: number;
  /**
   * After the drain, when some holder was cut off rather than detached, wait this much longer
   * before `release`: room for a cut-off holder whose clock ran slow to stop by itself, for a
   * resource that does not check tokens. Default 0.
   */
  graceMs?: number;
  /**
   * This revoker's claim on the engine lasts this long without renewal (renewed every third of it):
   * how long a later `revokeRemote` waits before taking over from a revoker that died. Default
   * 10,000; at least the backend's minimum lease.
   */
  revokerLeaseMs?: number;
  /**
   * Tears the resource down once every holder has drained or been cut off; `info.fence` is the
   * fence to enforce from now on. Must be idempotent: a revoker that takes over from one that died
   * runs it again. When it throws, `revokeRemote` rejects with that error and gives up its claim, so
   * that the next `revokeRemote` runs it again.
   */
  release?: (info: RemoteReleaseInfo) => void | PromiseLike<void>;
}

/** What {@link revokeRemote} resolves with. */
export interface RevokeRemoteResult {
  /** `true` for the one call that revoked (per epoch); `false` if it was revoked already. */
  readonly revoked: boolean;
  /** The revoke's epoch. */
  readonly epoch: bigint;
  /** The fence now: tokens below it are stale (see `checkFence`). */
  readonly fence: bigint;
  /** Milliseconds from this call's begin (or takeover) to an empty holder set. */
  readonly drainMs: number;
  /** The `holderId`s cut off by their lease rather than detached. */
  readonly cutOff: readonly string[];
}

/**
 * Revokes the resource `name` for every holder in every process: no holder attaches from the
 * engine's commit of the begin on; each live holder closes its local gate, kicks and drains its
 * accesses, then detaches; a holder that crashed or stopped answering is cut off when its lease
 * expires on the engine. Then the fence is raised, `release` runs, and the call resolves.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { createClient } from 'redis';
 * import { RemoteUnavailableError, redisBackend, revokeRemote } from 'revocable/remote';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379' }); // not connected: as while Redis is down
 * const backend = redisBackend({ command: (args) => client.sendCommand(args) });
 * const fences: bigint[] = [];
 * const revoking = revokeRemote(backend, 'tenant:42', { timeout: 200, release: ({ fence }) => void fences.push(fence) });
 * // Up, it resolves { revoked: true, fence, cutOff: [] } once every holder detached and release ran.
 * await assert.rejects(revoking, RemoteUnavailableError); // down: nothing decided, nothing released
 * assert.deepEqual(fences, []);
 * ```
 */
export function revokeRemote(backend: RemoteBackend, name: string, options?: RevokeRemoteOptions): Promise<RevokeRemoteResult> {
  return runRevoke(backend, name, options, defaultRuntime);
}

/** {@link revokeRemote} on a given runtime: the model test passes a simulated one. */
export async function runRevoke(backend: RemoteBackend, name: string, options: RevokeRemoteOptions | undefined, runtime: RemoteRuntime): Promise<RevokeRemoteResult> {
  const engine = checkBackend(backend);
  checkName(name);
  checkOptions(options);
  const timeout = checkTimeout(options?.timeout, 'timeout');
  const graceMs = checkDelay(options?.graceMs, 'graceMs', 0);
  const revokerLeaseMs = checkLease(options?.revokerLeaseMs, 'revokerLeaseMs', DEFAULT_REVOKER_LEASE_MS, engine.minLeaseMs, `the shortest lease ${engine.engine} keeps`);
  const release = options?.release;
  checkOptionalFunction(release, 'release');
  return new Revoker(engine, name, runtime, timeout, graceMs, revokerLeaseMs, release).run();
}

const NO_ANSWER = Symbol('no answer');

class Revoker {
  readonly #engine: RemoteBackend;
  readonly #name: string;
  readonly #runtime: RemoteRuntime;
  readonly #timeout: number;
  readonly #deadline: number;
  readonly #graceMs: number;
  readonly #leaseMs: number;
  readonly #release: RevokeRemoteOptions['release'];
  readonly #id: string;
  readonly #wake: Wakeup;
  /** Holders left at the last poll: what a timeout reports. */
  #pending = 0;
  /** The last failed engine call was only slow: no error, no retry, the deadline came first. */
  #silent = false;

  constructor(
    engine: RemoteBackend,
    name: string,
    runtime: RemoteRuntime,
    timeout: number,
    graceMs: number,
    leaseMs: number,
    release: RevokeRemoteOptions['release'],
  ) {
    this.#engine = engine;
    this.#name = name;
    this.#runtime = runtime;
    this.#timeout = timeout;
    this.#deadline = runtime.now() + timeout;
    this.#graceMs = graceMs;
    this.#leaseMs = leaseMs;
    this.#release = release;
    this.#id = runtime.randomId();
    this.#wake = new Wakeup(runtime);
  }

  async run(): Promise<RevokeRemoteResult> {
    // The watch first: a detach that commits right after the begin must wake this revoker. It is a
    // hint for speed: without it (a subscriber connection that is gone) polling still finishes.
    const unwatch = await this.#watch();
    try {
      return await this.#revoke();
    } finally {
      try {
        await Promise.resolve(unwatch()).catch(ignore);
      } catch {
        // Ending a watch on a connection that is gone can only fail because it is gone.
      }
    }
  }

  async #revoke(): Promise<RevokeRemoteResult> {
    const engine = this.#engine;
    const name = this.#name;
    const runtime = this.#runtime;
    for (;;) {
      const seen = this.#wake.count;
      const begun = await this.#call(() => engine.begin(name, this.#id, this.#leaseMs));
      if (begun.kind === 'revoked') return { revoked: false, epoch: begun.epoch, fence: begun.fence, drainMs: 0, cutOff: [] };
      if (begun.kind === 'busy') {
        // Another revoker holds the claim: wait for it to finish, or for its lease to run out.
        this.#pending = (await this.#call(() => engine.poll(name))).holders;
        this.#checkDeadline();
        await this.#wake.wait(seen, Math.min(begun.retryInMs + 1, runtime.pollMs, this.#left()));
        this.#checkDeadline();
        continue;
      }
      const revoker: RevokerRef = { revokerId: this.#id, lease: begun.lease };
      const epoch = begun.epoch;
      const drainStart = runtime.now();
      if (!(await this.#drain(revoker))) continue;
      const drainMs = runtime.now() - drainStart;
      const fenced = await this.#call(() => engine.raiseFence(name, revoker, epoch));
      if (fenced.kind === 'not-revoker') continue;
      if (fenced.cutOff.length > 0 && this.#graceMs > 0) {
        await sleep(this.#runtime, this.#graceMs);
        if (!(await this.#call(() => engine.renewRevoker(name, revoker, this.#leaseMs)))) continue;
      }
      const info: RemoteReleaseInfo = { name, epoch, fence: fenced.fence, cutOff: fenced.cutOff };
      await this.#runRelease(revoker, info);
      const won = await this.#call(() => engine.finish(name, revoker, epoch));
      return { revoked: won, epoch, fence: fenced.fence, drainMs, cutOff: fenced.cutOff };
    }
  }

  async #watch(): Promise<() => void | Promise<void>> {
    let pending: Promise<() => void | Promise<void>> | undefined;
    try {
      const answer = await this.#boundedBy(Math.min(this.#runtime.pollMs, Math.max(0, this.#left())), () => (pending = this.#engine.watch(this.#name, () => this.#wake.signal())));
      if (answer !== NO_ANSWER) return answer;
    } catch {
      // No watch: see above. The engine's own failure, if it lasts, surfaces from the next call.
    }
    // Too slow to wait for: the watch may still come, and must then be ended, not left running.
    pending?.then((unwatch) => Promise.resolve(unwatch()).catch(ignore), ignore);
    return ignore;
  }

  /** Waits for an empty holder set; `false` if another revoker took the claim meanwhile. */
  async #drain(revoker: RevokerRef): Promise<boolean> {
    const engine = this.#engine;
    const runtime = this.#runtime;
    const period = this.#leaseMs / 3;
    let renewAt = runtime.now() + period;
    for (;;) {
      const seen = this.#wake.count;
      if (runtime.now() >= renewAt) {
        const sentAt = runtime.now();
        if (!(await this.#drainCall(revoker, () => engine.renewRevoker(this.#name, revoker, this.#leaseMs)))) return false;
        renewAt = sentAt + period;
      }
      const poll = await this.#drainCall(revoker, () => engine.poll(this.#name));
      this.#pending = poll.holders;
      if (poll.holders === 0) return true;
      if (this.#left() <= 0) {
        await this.#abandon(revoker);
        this.#checkDeadline();
      }
      const expiry = poll.nextExpiryMs === null ? Infinity : poll.nextExpiryMs + 1;
      await this.#wake.wait(seen, Math.max(0, Math.min(expiry, runtime.pollMs, renewAt - runtime.now(), this.#left())));
      // Past the deadline with holders left at the last poll: a drain timeout, not an engine one.
      if (this.#left() <= 0) {
        await this.#abandon(revoker);
        this.#checkDeadline();
      }
    }
  }

  /**
   * An engine call of the drain. When the deadline passes while it is in flight, on an engine that
   * answered until then, the holders the last poll saw are still attached as far as anyone knows:
   * that is a drain timeout (`DrainTimeoutError`), not an engine gone (`RemoteUnavailableError`,
   * which stays the answer when the engine's calls failed).
   */
  async #drainCall<R>(revoker: RevokerRef, operation: () => Promise<R>): Promise<R> {
    try {
      return await this.#call(operation);
    } catch (error) {
      if (!(error instanceof RemoteUnavailableError) || !this.#silent || this.#pending === 0) throw error;
      await this.#abandon(revoker);
      this.#checkDeadline();
      throw error;
    }
  }

  async #runRelease(revoker: RevokerRef, info: RemoteReleaseInfo): Promise<void> {
    const release = this.#release;
    if (release === undefined) return;
    // Keep the claim while a long release runs, so nobody takes over and releases alongside.
    let keeping = true;
    const keep = (): void => {
      if (!keeping) return;
      this.#engine.renewRevoker(this.#name, revoker, this.#leaseMs).then(ignore, ignore);
      timer = this.#runtime.timer(keep, this.#leaseMs / 3);
    };
    let timer = this.#runtime.timer(keep, this.#leaseMs / 3);
    try {
      await release(info);
    } catch (error) {
      await this.#abandon(revoker);
      throw error;
    } finally {
      keeping = false;
      timer.clear();
    }
  }

  /** Gives up the claim, so that the next revoker need not wait out this one's lease. */
  async #abandon(revoker: RevokerRef): Promise<void> {
    const given = Promise.resolve()
      .then(() => this.#engine.abandon(this.#name, revoker))
      .catch(ignore);
    await Promise.race([given, sleep(this.#runtime, Math.min(1000, this.#leaseMs))]);
  }

  #left(): number {
    return this.#deadline - this.#runtime.now();
  }

  #checkDeadline(): void {
    if (this.#left() > 0) return;
    const what = `revokeRemote "${this.#name}"`;
    throw new DrainTimeoutError(what, this.#timeout, this.#pending, [], this.#name);
  }

  /** One engine call, retried on errors until the deadline (invariant 5). */
  async #call<R>(operation: () => Promise<R>): Promise<R> {
    let attempt = 0;
    for (;;) {
      let error: unknown;
      try {
        const answer = await this.#bounded(operation);
        if (answer !== NO_ANSWER) return answer;
        error = new Error(`no answer from ${this.#engine.engine}`);
        this.#silent = attempt === 0;
      } catch (thrown) {
        if (thrown instanceof RemoteProtocolError) throw thrown;
        error = thrown;
        this.#silent = false;
      }
      const left = this.#left();
      if (left <= 0) throw new RemoteUnavailableError('revokeRemote', this.#name, this.#timeout, error);
      await sleep(this.#runtime, Math.min(left, 25 * 2 ** Math.min(attempt++, 5)));
    }
  }

  /** The operation's answer, or NO_ANSWER once the deadline passes without one. */
  #bounded<R>(operation: () => Promise<R>): Promise<R | typeof NO_ANSWER> {
    return this.#boundedBy(this.#left(), operation);
  }

  #boundedBy<R>(ms: number, operation: () => Promise<R>): Promise<R | typeof NO_ANSWER> {
    const answer = Promise.resolve().then(operation);
    if (ms === Infinity) return answer;
    let timer: { clear(): void } | undefined;
    const late = new Promise<typeof NO_ANSWER>((resolve) => {
      timer = this.#runtime.timer(() => resolve(NO_ANSWER), Math.max(0, ms));
    });
    answer.catch(ignore);
    return Promise.race([answer, late]).finally(() => timer?.clear());
  }
}

const ignore = (): void => {};
