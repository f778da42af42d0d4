/**
 * `SharedRevocable`: one revocable resource used from many worker threads. A revoke from any thread
 * closes the gate for every thread at once, kicks every thread's accesses, waits for all of them
 * (across their `await`s), and the owner thread then runs `release` once.
 *
 * Each thread has its own object (the owner's from {@link SharedRevocable.create}, the others' from
 * {@link SharedRevocable.attach}) with the core's consumer API, over one shared buffer in which each
 * thread counts its accesses in a slot of its own (see `internal/layout.ts`).
 *
 * Invariants (with those of `internal/layout.ts` and `internal/protocol.ts`):
 * 1. The gate is this thread's slot count: an access is granted when the one `Atomics.add` that
 *    takes it returns a count `>= 0`; otherwise the add is undone at once. Undoing and releasing are
 *    the same `Atomics.sub`, and the one that brings a closed count to `BIAS` notifies it.
 * 2. A revoke closes every used slot in its first synchronous step (`begin`, under the lock), so
 *    from its return no thread is granted an access; this thread's accesses are kicked in that step,
 *    other threads' when their kick waiter wakes.
 * 3. `release` runs in the owner thread only, once, after every used slot reads `BIAS`; the owner
 *    watches the state word from creation, so it notices a revoke made elsewhere while idle, and
 *    its drain begins after one hold of the lock, so it never waits on a slot not yet biased.
 * 4. The read side allocates nothing for a synchronous `tryWith`, as in the core.
 *
 * @module
 */
import { RevokedError, DrainTimeoutError, describeName } from '../errors.js';
import type { ProxyGate } from '../internal/proxy.js';
import { hooks } from '../internal/hooks.js';
import { allowManyListeners } from '../internal/runtime.js';
import { settle } from '../internal/promise.js';
import { checkDuration, checkFunction, checkOptionalFunction, checkOptionalString, checkOptions, checkResource, expected } from '../internal/validate.js';
import type { RevocableState, RevokeOptions } from '../revocable.js';
import { atomics as A } from './internal/atomics.js';
import { boundDrain } from '../internal/drain.js';
import { awaitEnd, drainAll, outcome, publish } from './internal/end.js';
import { BIAS, LIVE, LINE_WORDS, REVOKING, STATE, slotBase } from './internal/layout.js';
import { lock, unlock } from './internal/lock.js';
import { createMemory, joinMemory } from './internal/open.js';
import { begin, close, free, inFlight, reclaim as reclaimSlots, undrained } from './internal/protocol.js';
import { checkMaxThreads, checkRef, checkThreadId, sharedArrayBuffer, type SharedRevocableRef } from './internal/ref.js';
import { register, unregister } from './internal/registry.js';
import { currentThreadId } from './internal/thread.js';
import { keepAlive, waitChange } from './internal/wait.js';
import { INTERNAL, SharedAccess, SharedRevocableHandle } from './shared-handle.js';
import type { RevocableLike } from './types.js';

/** Options of {@link SharedRevocable.create}. */
export interface SharedRevocableOptions<T> {
  /** A name for messages in every thread: `'tenant 42'`. */
  name?: string;
  /** How many threads may be attached at once, the owner included. Default 64; at most 4096. */
  maxThreads?: number;
  /**
   * Tears the resource down in the owner thread, once every thread's accesses have ended. May be
   * async; the revoking thread's `revoke()` resolves after it (and rejects with what it threw).
   */
  release?: (resource: T) => void | PromiseLike<void>;
  /** This thread's id, where the runtime has none (Node's is `worker_threads.threadId`). */
  threadId?: number;
}

/** Options of {@link SharedRevocable.attach}. */
export interface AttachOptions {
  /** This thread's id, where the runtime has none (Node's is `worker_threads.threadId`). */
  threadId?: number;
}

/** Where this thread's object is: attached, letting go of its slot, or without one. */
type View = { readonly kind: 'attached' } | { readonly kind: 'detaching'; readonly done: Promise<void> } | { readonly kind: 'detached' };

const ATTACHED: View = { kind: 'attached' };
const DETACHED: View = { kind: 'detached' };
/** The gate of a detached object: a count that stays closed, in memory of this thread alone. */
const CLOSED = new Int32Array([BIAS]);

// Module-private doors for SharedAccess, SharedRevocableHandle and the proxy (not public API).
export let exitAccess: (owner: SharedRevocable<unknown>) => void;
export let signalOf: (owner: SharedRevocable<unknown>) => AbortSignal;
export let gateOf: <T>(live: () => SharedRevocable<T>, owner: SharedRevocable<T>) => ProxyGate;

/**
 * One resource, revoked across worker threads. Create it in the owner thread, post its `ref` to
 * the workers, attach there; any thread may revoke, and the revoke waits for every thread.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import { setTimeout } from 'node:timers/promises';
 * import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
 * import { SharedRevocable } from 'revocable/shared';
 *
 * if (isMainThread) {
 *   const pool = { ended: false, end() { this.ended = true; } };
 *   const shared = SharedRevocable.create(pool, { name: 'tenant 42', release: (p) => p.end() });
 *   const worker = new Worker(new URL(import.meta.url), { workerData: shared.ref });
 *   await once(worker, 'message');             // the worker has a query in flight
 *   assert.equal(await shared.revoke(), true); // once every thread's accesses ended and p.end() ran
 *   assert.equal(pool.ended, true);
 * } else {
 *   const joined = SharedRevocable.attach(workerData, { query: (sql: string, signal: AbortSignal) => setTimeout(60_000, sql, { signal }) });
 *   const query = joined.with((pool, signal) => pool.query('select 1', signal)); // the worker's own pool, slow
 *   parentPort?.postMessage('querying');
 *   await assert.rejects(query, { name: 'AbortError' }); // kicked by the revoke in the main thread
 * }
 * ```
 */
export class SharedRevocable<T> implements RevocableLike<T> {
  /** This thread's slot (its count at index 0), or {@link CLOSED} once detached. */
  #gate: Int32Array;
  readonly #words: Int32Array;
  /** Index of this thread's slot; `-1` once detached. */
  #slot: number;
  readonly #threadId: number;
  readonly #owner: boolean;
  /** This thread's view of the resource; dropped when this thread can no longer reach it. */
  #resource: T | undefined;
  /** Owner only: the release, until it is called. */
  #release: ((resource: T) => void | PromiseLike<void>) | undefined;
  readonly #name: string | undefined;
  readonly #ref: SharedRevocableRef;
  #view: View = ATTACHED;
  /** Shared by this thread's accesses; made on the first `signal` read. */
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  /** A waiter is armed on the state word. */
  #watching = false;
  /** This thread has seen the revoke (its kick is sent). */
  #noticed = false;
  /** The end of the revoke as this thread learns it; made when this thread first needs it. */
  #end: Promise<void> | undefined;
  /** Owner only: settles {@link #end}. */
  #settleEnd: ((failure?: { error: unknown }) => void) | undefined;
  /** Called by the exit that brings this thread's slot to `BIAS` (a drain or detach waits for it). */
  #onDrained: (() => void) | undefined;

  /** @internal Use {@link SharedRevocable.create} or {@link SharedRevocable.attach}. */
  constructor(token: symbol, words: Int32Array, slot: number, threadId: number, resource: T, release: ((resource: T) => void | PromiseLike<void>) | undefined, ref: SharedRevocableRef, owner: boolean) {
    if (token !== INTERNAL) throw new TypeError('SharedRevocable is not constructible: use SharedRevocable.create() or SharedRevocable.attach()');
    this.#words = words;
    this.#slot = slot;
    this.#gate = new Int32Array(words.buffer, slotBase(slot) * 4, LINE_WORDS);
    this.#threadId = threadId;
    this.#owner = owner;
    this.#resource = resource;
    this.#release = release;
    this.#ref = ref;
    this.#name = ref.name;
    hooks?.created('revocable', this, undefined);
    register(this);
    if (owner) this.#watch();
  }

  /**
   * Creates the shared resource in this thread, its owner (the thread that runs `release`). Throws
   * a `TypeError` where there is no `SharedArrayBuffer` (a page that is not cross-origin isolated).
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { SharedRevocable } from 'revocable/shared';
   *
   * const db = { closed: false, close() { this.closed = true; } };
   * const shared = SharedRevocable.create(db, { name: 'db', release: (d) => d.close() });
   * assert.equal(shared.state, 'live');
   * await shared.revoke();
   * assert.equal(db.closed, true);
   * ```
   */
  static create<T>(resource: T, options?: SharedRevocableOptions<T>): SharedRevocable<T> {
    checkResource(resource, 'resource');
    checkOptions(options);
    const { name, maxThreads: max, release, threadId: id } = options ?? {};
    checkOptionalString(name, 'options.name');
    const maxThreads = checkMaxThreads(max, 'options.maxThreads');
    checkOptionalFunction(release, 'options.release');
    const threadId = id === undefined ? (currentThreadId() ?? 0) : checkThreadId(id, 'options.threadId');
    const { words, slot, ref } = createMemory(maxThreads, threadId, name);
    return new SharedRevocable(INTERNAL, words, slot, threadId, resource, release, ref, true);
  }

  /**
   * Joins a shared resource from another thread, with this thread's own view of it (its own client,
   * a region of a shared buffer, a descriptor). While a revoke is in progress it succeeds with a
   * closed slot (nothing is granted); once the revoke has finished it throws `RevokedError`. A
   * `RangeError` when `maxThreads` threads are attached already.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { once } from 'node:events';
   * import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
   * import { SharedRevocable } from 'revocable/shared';
   *
   * if (isMainThread) {
   *   const shared = SharedRevocable.create({ name: 'cache' }, { name: 'cache' });
   *   const worker = new Worker(new URL(import.meta.url), { workerData: shared.ref });
   *   assert.equal((await once(worker, 'message'))[0], 'v');
   *   await shared.revoke();
   * } else {
   *   const localClient = { get: async (key: string, _options: { signal: AbortSignal }) => (key === 'k' ? 'v' : undefined) };
   *   const joined = SharedRevocable.attach(workerData, localClient); // this thread's own view of the resource
   *   parentPort?.postMessage(await joined.with((client, signal) => client.get('k', { signal }))); // counted in every thread
   * }
   * ```
   */
  static attach<T>(ref: SharedRevocableRef, resource: T, options?: AttachOptions): SharedRevocable<T> {
    sharedArrayBuffer();
    const { buffer, name } = checkRef(ref);
    checkResource(resource, 'resource');
    checkOptions(options);
    const { threadId: id } = options ?? {};
    const threadId = id === undefined ? currentThreadId() : checkThreadId(id, 'options.threadId');
    if (threadId === undefined) throw expected('an integer >= 0 (a thread id): this runtime has no thread ids of its own', 'options.threadId', id);
    const { words, slot, ref: own } = joinMemory(buffer, threadId, name);
    return new SharedRevocable(INTERNAL, words, slot, threadId, resource, undefined, own, false);
  }

  /** What to post to another thread so that it can {@link SharedRevocable.attach}. */
  get ref(): SharedRevocableRef {
    return this.#ref;
  }

  /** The name given at creation, if any. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The id of this object's thread. */
  get threadId(): number {
    return this.#threadId;
  }

  /**
   * `'live'`, `'revoking'` (no new access in any thread; draining or releasing) or `'revoked'`. For
   * an object that detached: `'revoking'` while it drains, `'revoked'` after, as this thread sees it.
   */
  get state(): RevocableState {
    const view = this.#view;
    if (view.kind !== 'attached') return view.kind === 'detaching' ? 'revoking' : 'revoked';
    const state = A.load(this.#words, STATE);
    return state === LIVE ? 'live' : state === REVOKING ? 'revoking' : 'revoked';
  }

  /** Whether this thread's gate is closed: a revoke has begun, or this object detached. */
  get revoked(): boolean {
    return A.load(this.#gate, 0) < 0;
  }

  /** Whether this object let go of its slot (or is letting go) with {@link SharedRevocable.detach}. */
  get detached(): boolean {
    return this.#view.kind !== 'attached';
  }

  /** How many accesses are in flight now, in every thread. */
  get accesses(): number {
    return inFlight(this.#words);
  }

  /** A consumer handle: it can access the resource in this thread, never revoke it. Throws once revoked. */
  handle(): SharedRevocableHandle<T> {
    if (A.load(this.#gate, 0) < 0) throw this.#goneError();
    return new SharedRevocableHandle(INTERNAL, this);
  }

  /** Takes an access, or returns `null` once revoke has started (in any thread). Release it when done. */
  tryAccess(): SharedAccess<T> | null {
    if (A.add(this.#gate, 0, 1) < 0) {
      this.#refused();
      return null;
    }
    return new SharedAccess(INTERNAL, this, this.#resource as T);
  }

  /** Takes an access, or throws `RevokedError` (`code: 'ENODEV'`) once revoke has started. */
  access(): SharedAccess<T> {
    if (A.add(this.#gate, 0, 1) < 0) {
      this.#refused();
      throw this.#goneError();
    }
    return new SharedAccess(INTERNAL, this, this.#resource as T);
  }

  /**
   * Runs `fn(resource, signal)` inside an access and returns its result, or `undefined` once
   * revoked (without calling `fn`). If `fn` returns a promise, the access lasts until it settles.
   */
  tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined {
    if (typeof fn !== 'function') checkFunction(fn, 'fn');
    if (A.add(this.#gate, 0, 1) < 0) {
      this.#refused();
      return undefined;
    }
    return this.#run(fn);
  }

  /** As {@link SharedRevocable.tryWith}, but throws `RevokedError` once revoked. */
  with<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    if (typeof fn !== 'function') checkFunction(fn, 'fn');
    if (A.add(this.#gate, 0, 1) < 0) {
      this.#refused();
      throw this.#goneError();
    }
    return this.#run(fn);
  }

  #run<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    let result: R;
    try {
      result = fn(this.#resource as T, this.#signal ?? this.#makeSignal());
      // Inside the try: a `then` getter that throws must end the access, not leak it.
      if (typeof result === 'object' ? result !== null && typeof (result as { then?: unknown }).then === 'function' : typeof result === 'function' && typeof (result as { then?: unknown }).then === 'function') {
        return this.#hold(result as PromiseLike<unknown>) as R;
      }
    } catch (error) {
      this.#exit();
      throw error;
    }
    this.#exit();
    return result;
  }

  /**
   * Ends the access when `result` settles; its `then` is called by the promise machinery, never
   * here. Meanwhile the thread is kept alive: an access that waits for the kick waits for another
   * thread's revoke, which a pending `waitAsync` does not keep a thread alive for, and a worker
   * that exited inside an access would leave its slot undrained (the revoke would hang).
   */
  #hold(result: PromiseLike<unknown>): Promise<unknown> {
    const done = keepAlive();
    return new Promise((resolve) => resolve(result)).then(
      (value) => {
        done();
        this.#exit();
        return value;
      },
      (error: unknown) => {
        done();
        this.#exit();
        throw error;
      },
    );
  }

  #exit(): void {
    if (A.sub(this.#gate, 0, 1) === BIAS + 1) this.#lastExit();
  }

  /** The exit that drained this thread's slot: wake the drains of every thread, and this one's. */
  #lastExit(): void {
    A.notify(this.#gate, 0);
    const resume = this.#onDrained;
    if (resume !== undefined) {
      this.#onDrained = undefined;
      resume();
    }
  }

  /** An access refused: undo the add, and let go of this thread's view once nothing uses it. */
  #refused(): void {
    this.#exit();
    if (!this.#noticed && this.#view.kind === 'attached') this.#notice();
    if (!this.#owner && A.load(this.#gate, 0) === BIAS) {
      this.#resource = undefined;
      if (outcome(this.#words) !== undefined) unregister(this);
    }
  }

  #makeSignal(): AbortSignal {
    const controller = new AbortController();
    allowManyListeners(controller.signal);
    this.#controller = controller;
    this.#signal = controller.signal;
    if (A.load(this.#gate, 0) < 0 || A.load(this.#words, STATE) !== LIVE) controller.abort(this.#goneError());
    else this.#watch();
    return controller.signal;
  }

  /** Arms one waiter on the state word: the kick from other threads (and the owner's notice). */
  #watch(): void {
    if (this.#watching || this.#noticed) return;
    this.#watching = true;
    void waitChange(this.#words, STATE, LIVE, false).then(() => {
      this.#watching = false;
      if (A.load(this.#words, STATE) === LIVE) this.#watch();
      else this.#notice();
    });
  }

  /**
   * This thread learns of the revoke: kick its accesses; the owner starts the drain and release.
   * `revoke()` starts the drain itself (`start` false), to hear of a lock timeout; elsewhere (a
   * refused access, the watcher) such a timeout is left to the next `revoke()`, which retries it.
   */
  #notice(start = true): void {
    if (this.#noticed) return;
    this.#noticed = true;
    if (this.#view.kind === 'attached') hooks?.released('revocable', this);
    const controller = this.#controller;
    if (controller !== undefined && !controller.signal.aborted) controller.abort(this.#goneError());
    if (!this.#owner || !start) return;
    try {
      this.#startEnd();
    } catch {
      // LockTimeoutError: nothing was started; see above.
    }
  }

  /** The error for a closed gate; this thread has now seen the revoke, so it notices it. */
  #goneError(): RevokedError {
    if (!this.#noticed && this.#view.kind === 'attached' && A.load(this.#gate, 0) < 0) this.#notice();
    if (this.#view.kind !== 'attached') {
      return new RevokedError(`${describeName('SharedRevocable', this.#name)} was detached from thread ${this.#threadId}`, { resourceName: this.#name });
    }
    return revokedError(this.#name);
  }

  /**
   * Revokes the resource in every thread: from this call's first synchronous step no thread is
   * granted an access; every thread's accesses have their `signal` aborted (this thread's at once,
   * the others' within a `waitAsync` wake-up) and are waited for; then the owner runs `release`.
   *
   * Resolves `true` for the call that revoked and `false` for every later one (in any thread), each
   * after the release has finished; rejects with what `release` threw. With `timeout`, rejects with
   * `DrainTimeoutError` if accesses are still held when it passes; the drain goes on.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { once } from 'node:events';
   * import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
   * import { SharedRevocable } from 'revocable/shared';
   *
   * if (isMainThread) {
   *   const released: string[] = [];
   *   const shared = SharedRevocable.create({ id: 42 }, { release: () => void released.push('released') });
   *   const worker = new Worker(new URL(import.meta.url), { workerData: shared.ref });
   *   assert.equal((await once(worker, 'message'))[0], true);
   *   assert.deepEqual(released, ['released']); // the owner thread released
   * } else {
   *   const joined = SharedRevocable.attach(workerData, { id: 42 });
   *   parentPort?.postMessage(await joined.revoke({ timeout: 5_000 })); // true: every thread drained, the owner released
   * }
   * ```
   */
  revoke(options?: RevokeOptions): Promise<boolean> {
    checkOptions(options);
    const { timeout: limit } = options ?? {};
    const timeout = checkDuration(limit, 'options.timeout', Infinity);
    const words = this.#words;
    let end: Promise<boolean>;
    try {
      lock(words, this.#threadId, this.#name);
      let first: boolean;
      try {
        first = begin(words, this.#threadId, Date.now());
      } finally {
        unlock(words);
      }
      if (first) A.notify(words, STATE);
      this.#notice(false);
      // The owner's drain (idempotent; again, if a lock timeout stopped an earlier start of it).
      if (this.#owner) this.#startEnd();
      end = (this.#end ??= awaitEnd(words, this.#name)).then(first ? returnTrue : returnFalse);
    } catch (error) {
      // A lock held by a thread that died in it (LockTimeoutError): the caller hears of it from the
      // promise, as of every other failure; `reclaim` of that thread, then a revoke, goes on.
      return Promise.reject(error);
    }
    if (timeout === Infinity || outcome(words) !== undefined || undrained(words) === -1) return end;
    return boundDrain(end, timeout, () => inFlight(words), (pending) => new DrainTimeoutError(describeName('SharedRevocable', this.#name), timeout, pending, [], this.#name));
  }

  /** Owner: drain every thread's slot, then release and publish the end. */
  #startEnd(): void {
    if (this.#end !== undefined) return;
    // This thread may have learnt of the revoke from a refused access while the revoker is still
    // biasing the other slots under the lock: a slot found unbiased now would be waited on with no
    // exit ever to notify it. One hold of the lock waits for the biasing to be complete. It comes
    // first: if it times out, nothing is started, and the next revoke() starts the drain again.
    lock(this.#words, this.#threadId, this.#name);
    unlock(this.#words);
    const end = new Promise<void>((resolve, reject) => {
      this.#settleEnd = (failure) => (failure === undefined ? resolve() : reject(failure.error));
    });
    end.catch(ignore); // reported to every revoke() caller; none may be waiting any more
    this.#end = end;
    const own = { slot: this.#slot, gate: this.#gate, wait: (resume: () => void) => void (this.#onDrained = resume) };
    drainAll(this.#words, own, () => this.#drained());
  }

  #drained(): void {
    const release = this.#release;
    const resource = this.#resource as T;
    this.#release = undefined;
    this.#resource = undefined;
    const finish = (failure?: { error: unknown }): void => {
      publish(this.#words, failure);
      unregister(this);
      this.#settleEnd?.(failure);
    };
    if (release === undefined) return finish();
    settle(() => release(resource), finish);
  }

  /**
   * Lets go of this thread's slot (not the owner's): no new access through this object, this
   * thread's accesses are kicked and waited for, then the slot is freed for another thread. Later
   * accesses through this object fail as after a revoke. Idempotent.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { once } from 'node:events';
   * import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
   * import { SharedRevocable } from 'revocable/shared';
   *
   * if (isMainThread) {
   *   const shared = SharedRevocable.create({ id: 42 });
   *   const worker = new Worker(new URL(import.meta.url), { workerData: shared.ref });
   *   assert.equal((await once(worker, 'message'))[0], null);
   *   assert.equal(shared.state, 'live'); // the resource lives on
   *   await shared.revoke();
   * } else {
   *   const joined = SharedRevocable.attach(workerData, { id: 42 });
   *   await joined.detach(); // this worker's accesses have ended; its slot is free
   *   parentPort?.postMessage(joined.tryAccess()); // null
   * }
   * ```
   */
  detach(): Promise<void> {
    if (this.#owner) throw new TypeError(`${describeName('SharedRevocable', this.#name)}: its owner thread cannot detach (it runs \`release\`); revoke it instead`);
    const view = this.#view;
    if (view.kind === 'detaching') return view.done;
    if (view.kind === 'detached') return Promise.resolve();
    const words = this.#words;
    const slot = this.#slot;
    try {
      lock(words, this.#threadId, this.#name);
    } catch (error) {
      return Promise.reject(error); // LockTimeoutError: nothing changed; reclaim the holder, detach again
    }
    try {
      close(words, slot);
    } finally {
      unlock(words);
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    if (!this.#noticed) hooks?.released('revocable', this);
    this.#view = { kind: 'detaching', done };
    const controller = this.#controller;
    if (controller !== undefined && !controller.signal.aborted) controller.abort(this.#goneError());
    const finish = (): void => {
      lock(words, this.#threadId, this.#name);
      try {
        free(words, slot);
      } finally {
        unlock(words);
      }
      this.#gate = CLOSED;
      this.#slot = -1;
      this.#resource = undefined;
      this.#view = DETACHED;
      unregister(this);
      resolve();
    };
    if (A.load(this.#gate, 0) === BIAS) finish();
    else this.#onDrained = finish;
    return done;
  }

  /**
   * Counts the slots of thread `threadId`, which has exited, as drained (its accesses can never
   * end), so that a revoke does not wait for it. Call it with the `worker.threadId` the parent saw
   * (read it before `exit`: it is `-1` after); `manageWorker` of `revocable/node` does it on `exit`
   * for every shared resource of the managing thread. Returns how many slots it freed.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { once } from 'node:events';
   * import { Worker, isMainThread, workerData } from 'node:worker_threads';
   * import { SharedRevocable } from 'revocable/shared';
   *
   * if (isMainThread) {
   *   const shared = SharedRevocable.create({ id: 42 });
   *   const worker = new Worker(new URL(import.meta.url), { workerData: shared.ref });
   *   const id = worker.threadId; // read it before 'exit': it is -1 after
   *   await once(worker, 'exit');
   *   assert.equal(shared.reclaim(id), 1); // the worker was attached, with an access it never released
   *   assert.equal(await shared.revoke({ timeout: 1_000 }), true); // does not wait for the dead thread
   * } else {
   *   SharedRevocable.attach(workerData, { id: 42 }).access();
   *   process.exit(0);
   * }
   * ```
   */
  reclaim(threadId: number): number {
    const dead = checkThreadId(threadId, 'threadId');
    if (dead === this.#threadId) throw new RangeError(`Expected \`threadId\` to be another thread's id: thread ${dead} is this object's own (use detach())`);
    return reclaimSlots(this.#words, dead, this.#threadId, this.#name);
  }

  /**
   * `await using`: the owner's object revokes the resource at the end of the scope; an attached
   * one detaches (a worker that leaves does not tear the resource down for the others).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#owner) await this.revoke();
    else await this.detach();
  }

  static {
    exitAccess = (owner) => owner.#exit();
    signalOf = (owner) => owner.#signal ?? owner.#makeSignal();
    gateOf = <T>(live: () => SharedRevocable<T>, owner: SharedRevocable<T>): ProxyGate => ({
      peek: () => live().#peek() as object,
      enter: () => {
        live();
        return owner.#enter() as object | undefined;
      },
      refusal: () => {
        live();
        return owner.#goneError();
      },
      exit: () => owner.#exit(),
    });
  }

  /** The resource, for a synchronous look that needs no access (the proxy's property reads). */
  #peek(): T {
    if (A.load(this.#gate, 0) < 0) throw this.#goneError();
    return this.#resource as T;
  }

  /** Takes an access for the proxy and returns the resource, or `undefined` (nothing taken) once revoked. */
  #enter(): T | undefined {
    if (A.add(this.#gate, 0, 1) < 0) {
      this.#refused();
      return undefined;
    }
    return this.#resource as T;
  }
}

function revokedError(name: string | undefined): RevokedError {
  return new RevokedError(`${describeName('SharedRevocable', name)} was revoked`, { resourceName: name });
}

const returnTrue = (): boolean => true;
const returnFalse = (): boolean => false;
const ignore = (): void => {};
