/**
 * A process's hold on a resource that other processes may revoke: {@link RemoteHolder}. The holder
 * attaches once per resource with a lease on the engine and renews it every lease/3; every access
 * goes through a local core `Revocable` gate, so the read path has no network in it.
 *
 * Invariants:
 * 1. The state is one of `live`, `revoking` (the local gate is closed and draining: a remote revoke
 *    or `detach()`), `lost` (self-fenced, or cut off by the engine) and `detached`; `lost` and
 *    `detached` are final, and no reply that arrives later revives the holder.
 * 2. The local gate closes (new accesses refused, accesses in flight kicked) as soon as the holder
 *    learns of a revoke: from a watch event, or at the latest from its next renewal's reply, which
 *    carries the state.
 * 3. Self-fencing: the local gate closes no later than `lastSuccessfulRenewSent + lease * (1 -
 *    margin)` on this process's monotonic clock. The engine extends the lease from the moment it
 *    receives the renewal, which is later, so the holder stops before the engine can cut it off.
 * 4. The holder tells the engine it has detached only after its local accesses have all ended; a
 *    lost holder never does (its accesses may still run: the fence refuses their writes).
 * 5. At most one renewal is in flight: a hung connection cannot pile them up, and the deadline does
 *    not wait for it.
 *
 * @module
 */
import { RevokedError } from '../errors.js';
import { Revocable, type RevocableHandle } from '../revocable.js';
import { checkFunction, checkOptions, checkResource } from '../internal/validate.js';
import type { HolderRef, RemoteBackend, RemoteEvent } from './backend.js';
import { HolderLostError } from './errors.js';
import { checkBackend, checkLease, checkMargin, checkName, checkOptionalId } from './internal/checks.js';
import { defaultRuntime, type RemoteRuntime, type Timer } from './internal/runtime.js';

/** The lease when none is given: 10 s, renewed every 3.3 s. */
export const DEFAULT_LEASE_MS = 10_000;

/** Options of {@link RemoteHolder.attach}. */
export interface RemoteHolderOptions {
  /**
   * How long the engine keeps this holder without a renewal, in milliseconds; renewed every
   * third of it. A crashed holder delays a revoke by at most this much. Default 10,000; at least
   * the backend's minimum (etcd: 2,000).
   */
  leaseMs?: number;
  /** The id listed in a revoke's `cutOff`; unique per attachment. Default: a random UUID. */
  holderId?: string;
  /**
   * The fraction of the lease given up to stop early: the holder self-fences at `lease * (1 -
   * margin)` after its last successful renewal was sent. Covers clock-rate drift and a late timer.
   * Default 0.1.
   */
  margin?: number;
  /** Called once if the holder is lost (self-fenced or cut off), with the reason. */
  onLost?: (error: HolderLostError) => void;
}

/** Where a holder is: see invariant 1 of the module. */
export type RemoteHolderState = 'live' | 'revoking' | 'lost' | 'detached';

type Lifecycle =
  | { readonly kind: 'live' }
  | { readonly kind: 'revoking'; readonly why: 'revoke' | 'detach' }
  | { readonly kind: 'lost'; readonly error: HolderLostError }
  | { readonly kind: 'detached' };

interface Settings {
  readonly backend: RemoteBackend;
  readonly name: string;
  readonly leaseMs: number;
  readonly margin: number;
  readonly onLost: ((error: HolderLostError) => void) | undefined;
  readonly runtime: RemoteRuntime;
}

const INTERNAL = Symbol('RemoteHolder');
// Module-private doors into a holder, for attachHolder: not public API.
let startHolder: (holder: RemoteHolder<unknown>, unwatch: () => void | Promise<void>, eventSeen: boolean) => void;
let deliver: (holder: RemoteHolder<unknown>, event: RemoteEvent) => void;

/**
 * One process's hold on a remotely revocable resource.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { createClient } from 'redis';
 * import { RemoteHolder, redisBackend } from 'revocable/remote';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379' }); // not connected: as while Redis is down
 * const backend = redisBackend({ command: (args) => client.sendCommand(args) });
 * const pool = { query: async (sql: string) => `rows of ${sql}` }; // this process's own view of the tenant
 * // Up, the holder is 'live' and serves holder.handle().with((pool, signal) => ...) until a revoke drains it.
 * await assert.rejects(RemoteHolder.attach(backend, 'tenant:42', pool, { leaseMs: 10_000 }), /The client is closed/);
 * ```
 */
export class RemoteHolder<T> implements AsyncDisposable {
  readonly #settings: Settings;
  readonly #ref: HolderRef;
  readonly #gate: Revocable<T>;
  #state: Lifecycle = { kind: 'live' };
  /** Monotonic time the last renewal that succeeded was sent (the attach counts as one). */
  #lastSent: number;
  #deadline: number;
  #epoch: bigint | undefined;
  #renewTimer: Timer | undefined;
  #fenceTimer: Timer | undefined;
  /** One renewal at a time (invariant 5); `#again` asks for another as soon as it returns. */
  #renewing = false;
  #again = false;
  #lastError: unknown;
  #unwatch: (() => void | Promise<void>) | undefined;
  #finished: Promise<void>;
  #finish!: () => void;

  /**
   * Attaches this process as a holder of the resource `name`, with `resource` as its local view
   * (its own pool, client, file). Rejects with `RevokedError` if a revoke has begun, with the
   * engine's error if it cannot be reached.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { Etcd3 } from 'etcd3';
   * import { RemoteHolder, etcdBackend } from 'revocable/remote';
   *
   * const client = new Etcd3({ hosts: 'http://127.0.0.1:2379' });
   * const pool = { query: async (sql: string) => `rows of ${sql}` };
   * // Attached, holder.token is the fencing token to give the resource with every write.
   * await assert.rejects(
   *   RemoteHolder.attach(etcdBackend(client), 'tenant:42', pool, { holderId: 'web-1', leaseMs: 500 }),
   *   RangeError, // checked before anything is sent: etcd keeps no lease shorter than 2000 ms
   * );
   * client.close();
   * ```
   */
  static attach<T>(backend: RemoteBackend, name: string, resource: T, options?: RemoteHolderOptions): Promise<RemoteHolder<T>> {
    return attachHolder(backend, name, resource, options, defaultRuntime);
  }

  /** @internal Use {@link RemoteHolder.attach}. */
  constructor(key: typeof INTERNAL, settings: Settings, ref: HolderRef, gate: Revocable<T>, sentAt: number) {
    if (key !== INTERNAL) throw new TypeError('Use RemoteHolder.attach() to make a holder');
    this.#settings = settings;
    this.#ref = ref;
    this.#gate = gate;
    this.#lastSent = sentAt;
    this.#deadline = sentAt + settings.leaseMs * (1 - settings.margin);
    this.#finished = new Promise<void>((resolve) => (this.#finish = resolve));
  }

  /** The resource's name on the engine. */
  get name(): string {
    return this.#settings.name;
  }

  /** The holder's id: the one listed in a revoke's `cutOff`. */
  get holderId(): string {
    return this.#ref.holderId;
  }

  /** This attachment's fencing token: give it to the resource with every write. */
  get token(): bigint {
    return this.#ref.token;
  }

  /** The lease, in milliseconds, renewed every third of it. */
  get leaseMs(): number {
    return this.#settings.leaseMs;
  }

  /** `'live'`, `'revoking'`, `'lost'` or `'detached'`: see the module's invariant 1. */
  get state(): RemoteHolderState {
    return this.#state.kind;
  }

  /** The epoch of the revoke that is draining this holder, once it has learned of one. */
  get epoch(): bigint | undefined {
    return this.#epoch;
  }

  /** Milliseconds left before this holder self-fences, if no renewal gets through meanwhile. */
  get msToDeadline(): number {
    return Math.max(0, this.#deadline - this.#settings.runtime.now());
  }

  /** Why the holder was lost, once it is. */
  get lostError(): HolderLostError | undefined {
    return this.#state.kind === 'lost' ? this.#state.error : undefined;
  }

  /** A consumer handle on the local gate: the core's `with`, `tryWith`, `tryAccess`, `proxy()`. */
  handle(): RevocableHandle<T> {
    return this.#gate.handle();
  }

  /**
   * Ends this holder: closes the local gate, waits for the local accesses, then leaves the engine's
   * holder set. Idempotent; resolves at once when lost or already detached.
   */
  async detach(): Promise<void> {
    if (this.#state.kind === 'live') this.#closeLocally('detach');
    await this.#finished;
  }

  /** `await using holder = ...`: detaches at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.detach();
  }

  static {
    // Starts the timers; a state event that came during the attach is replayed by `eventSeen`.
    startHolder = (holder, unwatch, eventSeen) => {
      holder.#unwatch = unwatch;
      holder.#armFence();
      if (eventSeen) holder.#renewNow();
      else holder.#scheduleRenew(holder.#period());
    };
    // Only a state change matters to a holder: renew now, and learn the state from the reply.
    deliver = (holder, event) => {
      if (event === 'state') holder.#renewNow();
    };
  }

  #period(): number {
    return this.#settings.leaseMs / 3;
  }

  #scheduleRenew(ms: number): void {
    this.#renewTimer?.clear();
    this.#renewTimer = this.#settings.runtime.timer(() => this.#renew(), ms);
  }

  #renewNow(): void {
    if (this.#renewing) this.#again = true;
    else this.#renew();
  }

  #renew(): void {
    const kind = this.#state.kind;
    if (kind === 'lost' || kind === 'detached' || this.#renewing) return;
    const { backend, name, leaseMs, runtime } = this.#settings;
    this.#renewing = true;
    this.#again = false;
    const sentAt = runtime.now();
    let reply: ReturnType<RemoteBackend['renew']>;
    try {
      reply = backend.renew(name, this.#ref, leaseMs);
    } catch (error) {
      reply = Promise.reject(error);
    }
    reply.then(
      (answer) => {
        this.#renewing = false;
        if (this.#done()) return;
        if (answer.kind === 'lost') return this.#lose('cut-off');
        this.#lastError = undefined;
        this.#extend(sentAt);
        if (answer.state !== 'live') this.#learnRevoke(answer.epoch);
        if (this.#again) this.#renew();
        else this.#scheduleRenew(Math.max(0, sentAt + this.#period() - runtime.now()));
      },
      (error: unknown) => {
        this.#renewing = false;
        if (this.#done()) return;
        this.#lastError = error;
        // Try again sooner than the period: the deadline keeps running meanwhile.
        this.#scheduleRenew(this.#again ? 0 : Math.max(10, this.#period() / 3));
      },
    );
  }

  #done(): boolean {
    return this.#state.kind === 'lost' || this.#state.kind === 'detached';
  }

  #extend(sentAt: number): void {
    if (sentAt <= this.#lastSent) return;
    this.#lastSent = sentAt;
    this.#deadline = sentAt + this.#settings.leaseMs * (1 - this.#settings.margin);
    this.#armFence();
  }

  #armFence(): void {
    this.#fenceTimer?.clear();
    const { runtime } = this.#settings;
    this.#fenceTimer = runtime.timer(() => {
      if (this.#done()) return;
      if (runtime.now() >= this.#deadline) this.#lose('deadline');
      else this.#armFence();
    }, Math.max(0, this.#deadline - runtime.now()));
  }

  #learnRevoke(epoch: bigint): void {
    this.#epoch = epoch;
    if (this.#state.kind === 'live') this.#closeLocally('revoke');
  }

  /** Closes the local gate and, once its accesses have ended, leaves the engine's holder set. */
  #closeLocally(why: 'revoke' | 'detach'): void {
    this.#state = { kind: 'revoking', why };
    this.#gate.revoke().then(
      () => this.#leave(),
      // The gate has no release of its own, so its revoke cannot fail; if it did, the holder must
      // not claim it drained: stay in the set and let the lease decide.
      (error: unknown) => this.#lose('deadline', error),
    );
  }

  #leave(): void {
    if (this.#done()) return;
    const { backend, name, runtime } = this.#settings;
    let reply: Promise<void>;
    try {
      reply = backend.detach(name, this.#ref);
    } catch (error) {
      reply = Promise.reject(error);
    }
    reply.then(
      () => {
        if (this.#done()) return;
        this.#state = { kind: 'detached' };
        this.#stop();
      },
      (error: unknown) => {
        if (this.#done()) return;
        // Renewals go on meanwhile, so the deadline still fences this holder if the engine stays away.
        this.#lastError = error;
        runtime.timer(() => this.#leave(), Math.max(10, this.#period() / 3));
      },
    );
  }

  #lose(reason: 'deadline' | 'cut-off', cause: unknown = this.#lastError): void {
    if (this.#done()) return;
    const error = new HolderLostError(this.#settings.name, this.#ref.holderId, reason, reason === 'deadline' ? cause : undefined);
    this.#state = { kind: 'lost', error };
    // Kick and refuse locally; the accesses still running cannot be waited for here, and a write
    // they make is refused by the fence once the revoke raises it.
    this.#gate.revoke().catch(ignore);
    this.#stop();
    const onLost = this.#settings.onLost;
    if (onLost !== undefined) {
      try {
        onLost(error);
      } catch (thrown) {
        // Not swallowed: an onLost that throws is a bug, reported as an uncaught exception.
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
  }

  #stop(): void {
    this.#renewTimer?.clear();
    this.#fenceTimer?.clear();
    const unwatch = this.#unwatch;
    this.#unwatch = undefined;
    if (unwatch === undefined) return this.#finish();
    // detach() resolves once the watch has ended too, so that closing the client right after it
    // leaves nothing of this holder on the connection; but no longer than a renewal period, since
    // ending a watch on a connection that is gone may never answer.
    let ended: Promise<unknown>;
    try {
      ended = Promise.resolve(unwatch()).catch(ignore);
    } catch {
      // Ending a watch on a connection that is gone can only fail because it is gone.
      ended = Promise.resolve();
    }
    const bound = this.#settings.runtime.timer(this.#finish, this.#period());
    void ended.then(() => {
      bound.clear();
      this.#finish();
    });
  }
}

const ignore = (): void => {};

/** {@link RemoteHolder.attach} on a given runtime: the model test passes a simulated one. */
export async function attachHolder<T>(
  backend: RemoteBackend,
  name: string,
  resource: T,
  options: RemoteHolderOptions | undefined,
  runtime: RemoteRuntime,
): Promise<RemoteHolder<T>> {
  const engine = checkBackend(backend);
  checkName(name);
  checkResource(resource, 'resource');
  checkOptions(options);
  const leaseMs = checkLease(options?.leaseMs, 'leaseMs', DEFAULT_LEASE_MS, engine.minLeaseMs, `the shortest lease ${engine.engine} keeps`);
  const holderId = checkOptionalId(options?.holderId, 'holderId') ?? runtime.randomId();
  const margin = checkMargin(options?.margin, 'margin', 0.1);
  const onLost = options?.onLost;
  if (onLost !== undefined) checkFunction(onLost, 'onLost');

  // The watch first: a begin that commits while the attach is in flight must not go unseen.
  const early: { holder?: RemoteHolder<unknown>; eventSeen: boolean } = { eventSeen: false };
  let unwatch: () => void | Promise<void>;
  try {
    unwatch = await engine.watch(name, (event) => {
      if (early.holder !== undefined) deliver(early.holder, event);
      else if (event === 'state') early.eventSeen = true;
    }, 'state');
  } catch {
    // The watch is a hint for speed (a subscriber connection that is gone): without it the holder
    // learns of a revoke from its next renewal. An engine that is down fails the attach below.
    unwatch = ignore;
  }
  const sentAt = runtime.now();
  let reply: Awaited<ReturnType<RemoteBackend['attach']>>;
  try {
    reply = await engine.attach(name, holderId, leaseMs);
  } catch (error) {
    await Promise.resolve(unwatch()).catch(ignore);
    throw error;
  }
  if (reply.kind !== 'attached') {
    await Promise.resolve(unwatch()).catch(ignore);
    if (reply.kind === 'conflict') throw new RangeError(`Expected \`holderId\` to be unused, got "${holderId}": it already holds "${name}"`);
    throw new RevokedError(`Resource "${name}" is ${reply.state}: no holder attaches once a revoke has begun`, { resourceName: name });
  }
  const gate = new Revocable(resource, { name });
  const holder = new RemoteHolder(INTERNAL, { backend: engine, name, leaseMs, margin, onLost, runtime }, { holderId, token: reply.token, lease: reply.lease }, gate, sentAt);
  early.holder = holder as RemoteHolder<unknown>;
  startHolder(early.holder, unwatch, early.eventSeen);
  return holder;
}

