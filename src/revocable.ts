/**
 * Revocable resources: the provider/consumer model of the kernel's `revocable`, with SRCU's
 * guarantee that a revoke waits for every reader already inside, including one suspended at an
 * `await`.
 *
 * A {@link Revocable} (the provider) owns a resource. Consumers get {@link RevocableHandle}s and
 * take an {@link Access} for each use. {@link Revocable.revoke} blocks new accesses, aborts the
 * `signal` of the ones in flight (the kick), waits for them to be released (the drain), then runs
 * `release(resource)` once.
 *
 * Invariants:
 * 1. `#count` is the gate, as in the revoke(2) proposal: the number of accesses in flight while
 *    live; the same number plus `BIAS` (a large negative constant) from the first synchronous step of
 *    `revoke()` on. An access is granted only while `#count >= 0`, so none is granted once revoke
 *    has started, and the drain is over exactly when `#count === BIAS`.
 * 2. `#count < 0` if and only if `#state.kind !== 'live'`.
 * 3. `release(resource)` runs once, after the last access ends; then the provider holds no
 *    reference to the resource.
 * 4. Every access is its own token; releasing one twice decrements the count once.
 * 5. The read side allocates nothing for a synchronous `tryWith`: a state check and a counter.
 *
 * @module
 */
import { DrainTimeoutError, RevokedError, UseAfterReleaseError, describeName } from './errors.js';
import { checkDuration, checkFunction, checkOptionalFunction, checkOptionalString, checkOptions, checkResource, expected } from './internal/validate.js';
import { createProxy, type ProxyGate, type ProxyOptions } from './internal/proxy.js';
import { allowManyListeners } from './internal/runtime.js';
import { hooks, type TrackedKind } from './internal/hooks.js';
import { noop, outcome, settle } from './internal/promise.js';
import { boundDrain } from './internal/drain.js';

/** Added to the in-use count when a revoke starts; any count below zero means "going away". */
const BIAS = -0x4000_0000;

/** Options of {@link Revocable}. */
export interface RevocableOptions<T> {
  /** A name for messages and diagnostics, e.g. the device's: `'ttyUSB0'`. */
  name?: string;
  /**
   * Tears the resource down once it is revoked and drained (close the port, free the buffer). May
   * be async; `revoke()` resolves after it has finished and rejects with what it throws.
   */
  release?: (resource: T) => unknown;
}

/** Options of {@link Revocable.revoke}. */
export interface RevokeOptions {
  /**
   * How long to wait for in-flight accesses, in milliseconds. When it passes with accesses still
   * held, `revoke()` rejects with {@link DrainTimeoutError} and nothing is released. Default:
   * `Infinity` (wait as long as it takes).
   */
  timeout?: number;
}

/** Where a provider is in its life: `'live'`, `'revoking'` (draining or releasing), `'revoked'`. */
export type RevocableState = 'live' | 'revoking' | 'revoked';

type Lifecycle =
  | { readonly kind: 'live' }
  | {
      readonly kind: 'revoking';
      /** Settles when the drain is over and `release` has finished. */
      readonly done: Promise<void>;
      readonly settle: (error?: { error: unknown }) => void;
      /** True once the drain is over and `release` has been called. */
      releasing: boolean;
    }
  | { readonly kind: 'revoked'; readonly done: Promise<void> };

/** Proves that a constructor call came from this module: `Access` and `RevocableHandle` are made here only. */
const INTERNAL: unique symbol = Symbol('revocable internal');

// Module-private doors into Revocable's private state, for Access and RevocableHandle.
let exitAccess: (provider: Revocable<unknown>) => void;
let signalOf: (provider: Revocable<unknown>) => AbortSignal;

/**
 * @internal The library's own door into a provider's gate: an access without an `Access` token,
 * for the gated objects built on a `Revocable` (the proxy, device nodes, managed callbacks). Not
 * exported from the package: a caller could unbalance the count with it.
 *
 * Invariants: every `enter` that returned `true` is matched by exactly one `exit`; `resource` is
 * read only between them (or while live).
 */
export const gate = {} as {
  /** Takes an access: `true`, or `false` (nothing taken) once revoke has started. */
  enter<T>(provider: Revocable<T>): boolean;
  /** Ends an access taken by `enter`. */
  exit<T>(provider: Revocable<T>): void;
  /** The resource, while an access is held. */
  resource<T>(provider: Revocable<T>): T;
  /** The kick: aborted with a `RevokedError` from the revoke's first synchronous step. */
  signal<T>(provider: Revocable<T>): AbortSignal;
  /** The `RevokedError` a refused access gets. */
  revokedError<T>(provider: Revocable<T>): RevokedError;
  /** The provider behind a handle; throws `RevokedError` once the handle is closed. */
  live<T>(handle: RevocableHandle<T>): Revocable<T>;
  /**
   * Settles once a revoke that has started is over: the drain done and `release` finished
   * (rejecting with what it threw). Unlike `revoke()`'s promise it has no timeout and no debug
   * diagnosis, so it never settles while an access is still held.
   */
  done<T>(provider: Revocable<T>): Promise<void>;
  /**
   * A provider that diagnostics track as `kind` rather than as a `'revocable'`, and that messages
   * call `label` rather than `Revocable` (`Device node "/dev/ttyUSB0" was revoked`).
   */
  make<T>(resource: T, options: RevocableOptions<T>, kind: TrackedKind, label: string): Revocable<T>;
  /** How messages name the provider: `Revocable "ttyUSB0"`, `Device node "/dev/ttyUSB0"`. */
  describe<T>(provider: Revocable<T>): string;
};

/** What the next provider made reports itself as to diagnostics; see `gate.make`. */
let creating: TrackedKind = 'revocable';
/** What messages call the providers made by `gate.make`; any other is a `Revocable`. */
const labels = new WeakMap<object, string>();

/**
 * One use of a revocable resource, from `tryAccess()` until `release()`. While it is held, a revoke
 * waits for it and the resource stays valid; `signal` is aborted when the revoke starts, so work in
 * flight can stop early.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 *
 * const sent: string[] = [];
 * const provider = new Revocable({ send: async (data: string, _options: { signal: AbortSignal }) => void sent.push(data) });
 * {
 *   using access = provider.tryAccess(); // null once revoked
 *   if (access) await access.value.send('ping', { signal: access.signal });
 *   assert.equal(provider.accesses, 1);  // held until the end of the block
 * }
 * assert.equal(provider.accesses, 0);
 * assert.deepEqual(sent, ['ping']);
 * ```
 */
export class Access<T> implements Disposable {
  /** `null` once released: each token releases its provider's count once. */
  #provider: Revocable<T> | null;
  #value: T | undefined;

  /** @internal Use `provider.tryAccess()` or `handle.tryAccess()`: an access made elsewhere would count nothing. */
  constructor(token: typeof INTERNAL, provider: Revocable<T>, value: T) {
    if (token !== INTERNAL) throw new TypeError('Access is not constructed directly: use provider.tryAccess() or handle.tryAccess()');
    this.#provider = provider;
    this.#value = value;
    hooks?.created('access', this, provider);
  }

  /** The resource. Reading it after `release()` is a bug and throws {@link UseAfterReleaseError}. */
  get value(): T {
    if (this.#provider === null) throw released();
    return this.#value as T;
  }

  /** Aborted, with a {@link RevokedError} as reason, when the provider starts to revoke. */
  get signal(): AbortSignal {
    if (this.#provider === null) throw released();
    return signalOf(this.#provider as Revocable<unknown>);
  }

  /** Whether `release()` was called. */
  get released(): boolean {
    return this.#provider === null;
  }

  /** Ends this access; a revoke waiting for it may proceed. Idempotent. */
  release(): void {
    const provider = this.#provider;
    if (provider === null) return;
    this.#provider = null;
    this.#value = undefined;
    hooks?.released('access', this);
    exitAccess(provider as Revocable<unknown>);
  }

  /** `using access = ...`: releases the access at the end of the scope. */
  [Symbol.dispose](): void {
    this.release();
  }
}

function released(): UseAfterReleaseError {
  return new UseAfterReleaseError('Access was already released: the resource may be gone');
}

/**
 * A provider of a resource that can be revoked: the owner side. Give consumers a
 * {@link RevocableHandle} (`provider.handle()`), which cannot revoke.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 *
 * const port = { open: true, write: async (data: string) => data.length, close() { this.open = false; } };
 * const provider = new Revocable(port, { name: 'ttyUSB0', release: (p) => p.close() });
 * const handle = provider.handle();
 * assert.equal(await handle.with((p) => p.write('hello')), 5);
 * assert.equal(await provider.revoke(), true); // drained, then port.close() ran
 * assert.equal(port.open, false);
 * ```
 */
export class Revocable<T> implements AsyncDisposable {
  /** The gate; see invariant 1 of the module. */
  #count = 0;
  /** The resource while live or revoking; `undefined` from the moment `release` is called. */
  #resource: T | undefined;
  #release: ((resource: T) => unknown) | undefined;
  #state: Lifecycle = LIVE;
  /** Shared by every access: a revoke aborts them all at once. Made on first use. */
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  readonly #name: string | undefined;

  static {
    exitAccess = (provider) => provider.#exit();
    signalOf = (provider) => provider.#signal ?? provider.#makeSignal();
    gate.enter = <T>(provider: Revocable<T>) => {
      if (provider.#count < 0) return false;
      provider.#count++;
      return true;
    };
    gate.exit = <T>(provider: Revocable<T>) => provider.#exit();
    gate.resource = <T>(provider: Revocable<T>) => provider.#resource as T;
    gate.signal = <T>(provider: Revocable<T>) => provider.#signal ?? provider.#makeSignal();
    gate.revokedError = <T>(provider: Revocable<T>) => provider.#revokedError();
    gate.done = <T>(provider: Revocable<T>) => {
      const state = provider.#state;
      if (state.kind === 'live') throw new Error('gate.done: the provider is not revoking');
      return state.done;
    };
    gate.describe = <T>(provider: Revocable<T>) => describeName(labels.get(provider) ?? 'Revocable', provider.#name);
    gate.make = <T>(resource: T, options: RevocableOptions<T>, kind: TrackedKind, label: string) => {
      creating = kind;
      try {
        const provider = new Revocable(resource, options);
        labels.set(provider, label);
        return provider;
      } finally {
        creating = 'revocable';
      }
    };
  }

  /**
   * @param resource the resource to guard: any value but `null` or `undefined`.
   * @param options `name` for messages, `release` to tear the resource down after the drain.
   */
  constructor(resource: T, options?: RevocableOptions<T>) {
    checkResource(resource, 'resource');
    checkOptions(options);
    // Each option is read once: a getter must not pass the check and then hand over something else.
    const name = options?.name;
    const release = options?.release;
    checkOptionalString(name, 'options.name');
    checkOptionalFunction(release, 'options.release');
    this.#resource = resource;
    this.#release = release;
    this.#name = name;
    hooks?.created(creating, this, undefined);
  }

  /** The name given in the options, if any. */
  get name(): string | undefined {
    return this.#name;
  }

  /** `'live'`, `'revoking'` (no new access; draining or releasing) or `'revoked'`. */
  get state(): RevocableState {
    return this.#state.kind;
  }

  /** Whether a revoke has started: true while revoking and after. */
  get revoked(): boolean {
    return this.#count < 0;
  }

  /** How many accesses are in flight now. */
  get accesses(): number {
    return this.#count < 0 ? this.#count - BIAS : this.#count;
  }

  /** A consumer handle: it can access the resource but cannot revoke it. Throws once revoked. */
  handle(): RevocableHandle<T> {
    if (this.#count < 0) throw this.#revokedError();
    return new RevocableHandle(INTERNAL, this);
  }

  /** Takes an access, or returns `null` once revoke has started. Release it when done. */
  tryAccess(): Access<T> | null {
    if (this.#count < 0) return null;
    this.#count++;
    return new Access(INTERNAL, this, this.#resource as T);
  }

  /** Takes an access, or throws {@link RevokedError} (`code: 'ENODEV'`) once revoke has started. */
  access(): Access<T> {
    if (this.#count < 0) throw this.#revokedError();
    this.#count++;
    return new Access(INTERNAL, this, this.#resource as T);
  }

  /**
   * Runs `fn(resource, signal)` inside an access and returns its result, or `undefined` once
   * revoked (without calling `fn`). If `fn` returns a promise, the access lasts until it settles.
   */
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined {
    if (typeof fn !== 'function') checkFunction(fn, 'fn');
    if (this.#count < 0) return undefined;
    return this.#run(fn);
  }

  /** As {@link tryWith}, but throws {@link RevokedError} once revoked. */
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    if (typeof fn !== 'function') checkFunction(fn, 'fn');
    if (this.#count < 0) throw this.#revokedError();
    return this.#run(fn);
  }

  #run<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    this.#count++;
    let result: R;
    try {
      result = fn(this.#resource as T, this.#signal ?? this.#makeSignal());
      // The thenable check is part of the call: reading `then` runs the result's code (a getter, a
      // revoked Proxy's trap) and may throw, which must end the access like any throw of `fn`.
      // isThenable, written out: V8 13 (Node 24) optimises the read side measurably better so.
      if (typeof result === 'object' ? result !== null && typeof (result as { then?: unknown }).then === 'function' : typeof result === 'function' && typeof (result as { then?: unknown }).then === 'function') {
        return this.#holdUntilSettled(result as PromiseLike<unknown>) as R;
      }
    } catch (error) {
      this.#exit();
      throw error;
    }
    this.#exit();
    return result;
  }

  /** Ends the access when `result` settles. Throws only before it has arranged that (then the caller ends it). */
  #holdUntilSettled(result: PromiseLike<unknown>): Promise<unknown> {
    return Promise.resolve(result).then(
      (value) => {
        this.#exit();
        return value;
      },
      (error: unknown) => {
        this.#exit();
        throw error;
      },
    );
  }

  #exit(): void {
    if (--this.#count === BIAS) this.#drained();
  }

  #makeSignal(): AbortSignal {
    const controller = new AbortController();
    allowManyListeners(controller.signal);
    if (this.#count < 0) controller.abort(this.#revokedError());
    this.#controller = controller;
    this.#signal = controller.signal;
    return controller.signal;
  }

  #revokedError(): RevokedError {
    return new RevokedError(`${gate.describe(this)} was revoked`, { resourceName: this.#name });
  }

  /**
   * Revokes the resource: from this call's first synchronous step no access succeeds; every access
   * in flight has its `signal` aborted; once the last one is released, `release(resource)` runs.
   *
   * Resolves `true` for the call that revoked and `false` for every later call, each after the
   * release has finished; rejects with what `release` threw (the provider is revoked all the same).
   *
   * With `timeout`, rejects with {@link DrainTimeoutError} if accesses are still held when it
   * passes; nothing is released then, the drain goes on, and a later `revoke()` waits again.
   *
   * Starting a revoke from inside an access is fine: it completes when that access ends. Awaiting
   * it there never completes (the access waits for the revoke, the revoke for the access): pass a
   * `timeout`, or let debug mode report it.
   */
  revoke(options?: RevokeOptions): Promise<boolean> {
    checkOptions(options);
    const timeout = checkDuration(options?.timeout, 'options.timeout', Infinity);
    let first = false;
    if (this.#state.kind === 'live') {
      first = true;
      this.#begin();
    }
    const state = this.#state as Exclude<Lifecycle, { kind: 'live' }>;
    if (timeout === Infinity || state.kind === 'revoked' || this.#count === BIAS) {
      return state.done.then(first ? returnTrue : returnFalse);
    }
    return boundDrain(
      state.done.then(first ? returnTrue : returnFalse),
      timeout,
      () => this.#count - BIAS,
      (inside) => new DrainTimeoutError(gate.describe(this), timeout, inside, [], this.#name),
    );
  }

  /** `await using provider = new Revocable(...)` revokes at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.revoke();
  }

  #begin(): void {
    const { promise: done, settle } = outcome();
    // A release failure is reported to every revoke() caller; none may be waiting any more (all
    // timed out), and that must not become an unhandled rejection.
    done.catch(noop);
    this.#state = { kind: 'revoking', done, settle, releasing: false };
    this.#count += BIAS;
    hooks?.released('revocable', this);
    // The kick. Abort listeners run synchronously and may release accesses; #drained is idempotent.
    this.#controller?.abort(this.#revokedError());
    if (this.#count === BIAS) this.#drained();
  }

  #drained(): void {
    const state = this.#state;
    if (state.kind !== 'revoking' || state.releasing) return;
    state.releasing = true;
    const resource = this.#resource as T;
    const release = this.#release;
    this.#resource = undefined;
    this.#release = undefined;
    const finish = (failure?: { error: unknown }): void => {
      this.#state = { kind: 'revoked', done: state.done };
      state.settle(failure);
    };
    if (release === undefined) return finish();
    settle(() => release(resource), finish);
  }
}

const LIVE: Lifecycle = { kind: 'live' };
const closedError = (): RevokedError => new RevokedError('Handle was closed');
const returnTrue = (): boolean => true;
const returnFalse = (): boolean => false;

/**
 * A consumer's handle on a revocable resource: it can access the resource, never revoke it. Closing
 * a handle ends only this consumer's use; accesses already taken through it stay valid until
 * released. Many handles cost the provider nothing: a revoke does not visit them.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 *
 * const provider = new Revocable({ bytesWritten: 42 });
 * {
 *   using handle = provider.handle(); // closed at the end of the block
 *   assert.equal(handle.tryWith((port) => port.bytesWritten), 42);
 *   await provider.revoke();
 *   assert.equal(handle.tryWith((port) => port.bytesWritten), undefined); // undefined once revoked
 * }
 * ```
 */
export class RevocableHandle<T> implements Disposable {
  /** `null` once closed. The only field: a handle must stay small (they are handed out freely). */
  #provider: Revocable<T> | null;

  /** @internal Use `provider.handle()`. */
  constructor(token: typeof INTERNAL, provider: Revocable<T>) {
    if (token !== INTERNAL) throw new TypeError('RevocableHandle is not constructed directly: use provider.handle()');
    this.#provider = provider;
    hooks?.created('handle', this, provider);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#provider === null;
  }

  /** Whether the resource can no longer be reached through this handle (closed, or revoked). */
  get revoked(): boolean {
    return this.#provider === null || this.#provider.revoked;
  }

  /** An access, or `null` once revoked or closed. */
  tryAccess(): Access<T> | null {
    const provider = this.#provider;
    return provider === null ? null : provider.tryAccess();
  }

  /** An access, or throws {@link RevokedError} once revoked or closed. */
  access(): Access<T> {
    return this.#live().access();
  }

  /** {@link Revocable.tryWith} through this handle: `undefined` once revoked or closed. */
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined {
    const provider = this.#provider;
    if (provider === null) {
      checkFunction(fn, 'fn');
      return undefined;
    }
    return provider.tryWith(fn);
  }

  /** {@link Revocable.with} through this handle: throws {@link RevokedError} once revoked or closed. */
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    const provider = this.#provider;
    if (provider === null) checkFunction(fn, 'fn');
    return this.#live().with(fn);
  }

  /**
   * A `Proxy` that stands for the resource: each operation runs inside an access (a method's
   * returned promise holds it until it settles), and every operation throws {@link RevokedError}
   * after the revoke, or after this handle is closed. `Proxy.revocable`, but in-flight calls drain
   * instead of being cut off. The bare resource never comes out: a method or getter that returns
   * the resource itself (`return this`) returns the proxy.
   *
   * With `{ deep: true }` the proxy is a membrane: every object and function the resource hands
   * out (a prepared statement, a cursor, a callback) is wrapped under the same gate, so it too
   * throws `RevokedError` once the resource is revoked. Each call through a wrapper costs about what
   * a call through the proxy does; see the benchmarks.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { Revocable, RevokedError } from 'revocable';
   *
   * const provider = new Revocable({ write: async (data: string) => data.length });
   * const port = provider.handle().proxy();
   * assert.equal(await port.write('hi'), 2); // counted as an access until the promise settles
   * await provider.revoke();
   * assert.throws(() => port.write('hi'), RevokedError);
   *
   * const db = new Revocable({ prepare: (sql: string) => ({ run: () => `ran ${sql}` }) });
   * const statement = db.handle().proxy({ deep: true }).prepare('select 1');
   * assert.equal(statement.run(), 'ran select 1');
   * await db.revoke();
   * assert.throws(() => statement.run(), RevokedError); // the statement is gated too
   * ```
   */
  proxy(options?: ProxyOptions): T {
    checkOptions(options);
    const deep = options?.deep;
    if (deep !== undefined && typeof deep !== 'boolean') throw expected('a boolean or undefined', 'options.deep', deep);
    const provider = this.#live();
    if (provider.revoked) throw gate.revokedError(provider);
    const resource = gate.resource(provider);
    if (typeof resource !== 'object' && typeof resource !== 'function') {
      throw new TypeError(`Expected the resource to be an object or a function for proxy(), got ${typeof resource}`);
    }
    const proxyGate: ProxyGate = {
      peek: () => {
        if (this.#provider === null) throw closedError();
        if (provider.revoked) throw gate.revokedError(provider);
        return gate.resource(provider) as object;
      },
      enter: () => (this.#provider !== null && gate.enter(provider) ? (gate.resource(provider) as object) : undefined),
      refusal: () => (this.#provider === null ? closedError() : gate.revokedError(provider)),
      exit: () => gate.exit(provider),
    };
    return createProxy(proxyGate, typeof resource === 'function', deep === true);
  }

  /** Ends this handle: later accesses through it fail. Idempotent; accesses in flight stay valid. */
  close(): void {
    if (this.#provider === null) return;
    this.#provider = null;
    hooks?.released('handle', this);
  }

  /** `using handle = ...`: closes the handle at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): Revocable<T> {
    const provider = this.#provider;
    if (provider === null) throw closedError();
    return provider;
  }

  static {
    gate.live = (handle) => handle.#live();
  }
}

