/**
 * revoke(2), as the revoke(2) proposal outlines it, built on the core's gate: the open files of a
 * device node and the per-method results they give once the node is revoked.
 *
 * A {@link Generation} is the proposal's `struct revokable`: the files opened on one node since its
 * creation or its last revoke. It is one {@link Revocable}: its accesses are the file operations
 * (opens included), its kick is the signal every operation's `file.signal` follows, and its
 * `release` releases every file still open, once each. An {@link OpenFile} is the proposal's
 * `struct revoke` plus the `struct file`'s methods, user side; the driver side of the same open is
 * a {@link DeviceFile}, which the user never reaches.
 *
 * Invariants:
 * 1. An operation reaches the driver only while its file is open and its generation live; it is an
 *    access of the generation (and counted on the file) until it returns or its promise settles.
 * 2. Every file whose `open` succeeded is released exactly once, by `close()` or by the revoke,
 *    whichever marks it closing first (the proposal's `revoke->closing`); the other waits for that
 *    release. No operation reaches the driver for a file after its release began.
 * 3. A revoke releases its files only after the drain, and its node gets a fresh generation only
 *    after every release has finished.
 * 4. Mapped buffers are detached before `release`, so no view reads memory the driver let go.
 * 5. The synchronous read path allocates nothing but the promise the API returns (and the rest
 *    array of the arguments).
 *
 * @module
 */
import { DeviceError, RevokedError } from '../errors.js';
import { hooks } from '../internal/hooks.js';
import { chainErrors, isThenable, noop, outcome, settle, type Failure } from '../internal/promise.js';
import { callGated, type Reentrant } from '../internal/reentrancy.js';
import { allowManyListeners } from '../internal/runtime.js';
import { gate, type Revocable } from '../revocable.js';
import type { Device } from './device.js';
import type { DeviceFile, NodeOperations, PollResult } from './file-operations.js';

/** Proves that a constructor call came from this module. */
const INTERNAL: unique symbol = Symbol('revocable/device internal');

/** @internal What a generation needs from the node it belongs to. */
export interface NodeCore extends Reentrant {
  readonly path: string;
  readonly device: Device | null;
  readonly operations: NodeOperations;
  /** The revoke of `old` has finished: later opens get a fresh generation (unless removed). */
  renew(old: Generation): void;
  /** Starts a revoke of the current generation without waiting (the driver's `file.hangup()`). */
  hangup(): void;
}

/**
 * @internal One generation of a device node: its open files and the gate on their operations.
 * A node gets a fresh generation when the revoke of the previous one has finished.
 */
export class Generation {
  readonly core: NodeCore;
  /** The gate (invariant 1). Its resource is this generation; its release releases the files. */
  readonly gate: Revocable<Generation>;
  /** Files opening or open; a file leaves when its release has finished (or its open failed). */
  readonly files = new Set<OpenFile>();
  /** How many files the revoke released (set when its release has run). */
  released = 0;
  /** The state a file takes while the revoke releases it asynchronously: one per revoke. */
  closingByRevoke: FileState | undefined;

  constructor(core: NodeCore) {
    this.core = core;
    this.gate = gate.make<Generation>(this, { name: core.path, release: releaseAll }, 'node generation', 'Device node');
  }

  /** Operations in flight now. */
  get inFlight(): number {
    return this.gate.accesses;
  }

  /**
   * Starts the revoke (idempotent) and resolves with the number of files it released (0 for a
   * call that joined a revoke already running), once every release has finished. With a finite
   * `timeout`, rejects with `DrainTimeoutError` if operations are still in flight when it passes;
   * the revoke goes on.
   */
  revoke(timeout: number): Promise<number> {
    return this.gate.revoke(timeout === Infinity ? undefined : { timeout }).then((first) => (first ? this.released : 0));
  }
}

/** The generation's release: every file still open, once each (invariants 2 and 3). */
function releaseAll(generation: Generation): unknown {
  let released = 0;
  let errors: unknown[] | undefined;
  let pending: Promise<unknown>[] | undefined;
  for (const file of generation.files) {
    const result = releaseByRevoke(file);
    if (result === undefined) continue;
    if (result === true) released++;
    else if (result instanceof Promise) {
      released++;
      (pending ??= []).push(result);
    } else if ('wait' in result) (pending ??= []).push(result.wait.then(noop, noop));
    else {
      released++;
      (errors ??= []).push(result.error);
    }
  }
  const finish = (): void => {
    generation.files.clear();
    generation.released = released;
    generation.core.renew(generation);
    if (errors !== undefined) throw chainErrors(errors, 'An error was suppressed during revoke');
  };
  if (pending === undefined) return finish();
  return Promise.allSettled(pending).then((results) => {
    for (const result of results) if (result.status === 'rejected') (errors ??= []).push(result.reason);
    finish();
  });
}

export type FileState =
  | { readonly kind: 'opening' }
  | { readonly kind: 'open' }
  | { readonly kind: 'closing'; readonly by: 'close' | 'revoke'; readonly done: Promise<void> }
  | { readonly kind: 'closed'; readonly by: 'close' | 'revoke' | 'failed-open' };

const OPENING: FileState = { kind: 'opening' };
const OPEN: FileState = { kind: 'open' };
const CLOSED_BY_CLOSE: FileState = { kind: 'closed', by: 'close' };
const CLOSED_BY_REVOKE: FileState = { kind: 'closed', by: 'revoke' };
const FAILED_OPEN: FileState = { kind: 'closed', by: 'failed-open' };

/** What the user sees of a file: usable, revoked (its node was), or closed by the user. */
export type OpenFileState = 'open' | 'revoked' | 'closed';

type Op = 0 | 1 | 2 | 3 | 4;
const Op = { Read: 0, Write: 1, Ioctl: 2, Poll: 3, Mmap: 4 } as const;
const OP_NAMES = ['read', 'write', 'ioctl', 'poll', 'mmap'] as const;

const HANGUP: PollResult = Object.freeze({ readable: false, writable: false, error: true, hangup: true });
const DEFAULT_POLL: PollResult = Object.freeze({ readable: true, writable: true, error: false, hangup: false });

// Module-private doors into OpenFile's private state, for the driver-side file, the open and the
// revoke, which live in this module.
let signalOf: (file: OpenFile) => AbortSignal;
let mappingsOf: (file: OpenFile) => readonly ArrayBuffer[];
let driverFileOf: (file: OpenFile) => DeviceFile<unknown>;
let opened: (file: OpenFile) => void;
let openFailed: (file: OpenFile) => void;
/**
 * Releases `file` for the revoke: `undefined` when there is nothing to release, `true` when
 * released synchronously, `{ error }` when `release` threw, a promise of an async release, or
 * `{ wait }` when `close()` is releasing it already (the revoke waits, and does not count it).
 */
let releaseByRevoke: (file: OpenFile) => undefined | true | Promise<unknown> | { error: unknown } | { wait: Promise<void> };

/** The driver-side file: a thin face on the open file's state, reachable only by the driver. */
class DriverFile implements DeviceFile<unknown> {
  readonly #file: OpenFile;
  private: unknown = undefined;

  constructor(file: OpenFile) {
    this.#file = file;
  }
  get path(): string {
    return this.#file.path;
  }
  get device(): Device | null {
    return this.#file.device;
  }
  get signal(): AbortSignal {
    return signalOf(this.#file);
  }
  get mappings(): readonly ArrayBuffer[] {
    return mappingsOf(this.#file);
  }
  hangup(): void {
    nodeOf(this.#file).hangup();
  }
}

let nodeOf: (file: OpenFile) => NodeCore;

/**
 * An open file on a device node, user side: what `devfs.open(path)` resolves to. Every operation
 * returns a promise and runs through the node's revoke(2) gate: after the node is revoked (the
 * device unplugged, or `devfs.revoke(path)`), operations get defined results instead of reaching
 * the driver: `read` resolves `null` (end of file), `write` rejects `EIO`, `ioctl` and `mmap` reject
 * `ENODEV`, `poll` resolves `{ error: true, hangup: true, readable: false, writable: false }`.
 * `close()` is idempotent and safe at any time, before, during or after a revoke. Nothing of the
 * driver's side (its per-open data, its file, its release) is reachable from here.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Bus, DevFs, Device } from 'revocable/device';
 *
 * const released: string[] = [];
 * const devfs = new DevFs();
 * const bus = new Bus({ name: 'usb', devfs });
 * await bus.register({ name: 'sensor', match: () => true, probe(device) {
 *   device.managed.node(`/dev/${device.name}`, { read: () => 'reading', release: (file) => void released.push(file.path) });
 * } });
 * const sensor = new Device({ name: 'sensor0' });
 * await bus.add(sensor);
 * await using file = await devfs.open('/dev/sensor0');
 * assert.equal(await file.read(64), 'reading'); // what the driver's read returns
 * await bus.remove(sensor);                     // unplug: the driver's release ran for this file, once
 * assert.deepEqual(released, ['/dev/sensor0']);
 * assert.equal(await file.read(64), null);      // end of file
 * ```
 */
export class OpenFile implements AsyncDisposable {
  readonly #generation: Generation;
  readonly #file: DriverFile;
  #state: FileState = OPENING;
  /** Operations of this file in flight; `close()` waits for them before it releases. */
  #ops = 0;
  /** This file's own kick, made when the driver first reads `file.signal`. */
  #controller: AbortController | undefined;
  /** Our listener on the generation's kick, while the file's own kick follows it. */
  #onKick: (() => void) | undefined;
  /** Buffers handed out by `mmap`; `null` until the first. */
  #mappings: ArrayBuffer[] | null = null;
  #settleClose: ((failure?: Failure) => void) | undefined;

  /** @internal Use `devfs.open(path)`: a file made elsewhere would reach no driver. */
  constructor(token: typeof INTERNAL, generation: Generation) {
    if (token !== INTERNAL) throw new TypeError('OpenFile is not constructed directly: use devfs.open(path)');
    this.#generation = generation;
    this.#file = new DriverFile(this);
    generation.files.add(this);
  }

  /** The node's path. */
  get path(): string {
    return this.#generation.core.path;
  }

  /** The device whose node this is, or `null`. */
  get device(): Device | null {
    return this.#generation.core.device;
  }

  /** `'open'`; `'revoked'` once its node was revoked; `'closed'` once `close()` was called. */
  get state(): OpenFileState {
    const state = this.#state;
    if (state.kind === 'closing' || state.kind === 'closed') return state.by === 'close' ? 'closed' : 'revoked';
    return this.#generation.gate.revoked ? 'revoked' : 'open';
  }

  /** Reads: resolves what the driver's `read` returns, or `null` (end of file) once revoked. */
  read(...args: unknown[]): Promise<unknown> {
    return this.#call(Op.Read, args);
  }

  /** Writes: resolves what the driver's `write` returns; rejects `EIO` once revoked. */
  write(...args: unknown[]): Promise<unknown> {
    return this.#call(Op.Write, args);
  }

  /** A device-specific command; rejects `ENODEV` once revoked, `ENOTTY` if the driver has none. */
  ioctl(command: unknown, argument?: unknown): Promise<unknown> {
    return this.#call(Op.Ioctl, [command, argument]);
  }

  /** What a read or write would do now; once revoked, an error and hang-up condition. */
  poll(): Promise<PollResult> {
    return this.#call(Op.Poll, []) as Promise<PollResult>;
  }

  /**
   * Maps memory of the device: resolves the `ArrayBuffer` the driver's `mmap` hands out. When the
   * file is released (closed or revoked) the buffer is detached: every view over it then has
   * length 0, rather than showing memory the driver no longer backs. Rejects `ENODEV` once revoked.
   */
  mmap(...args: unknown[]): Promise<ArrayBuffer> {
    return this.#call(Op.Mmap, args) as Promise<ArrayBuffer>;
  }

  /**
   * Closes the file: waits for its operations in flight (their `file.signal` is aborted), then
   * runs the driver's `release` once. Idempotent; after a revoke it resolves at once (the revoke
   * released the file); during a revoke it waits for that release. Rejects with what `release`
   * threw (the file is closed all the same).
   */
  close(): Promise<void> {
    const state = this.#state;
    if (state.kind === 'closed') return RESOLVED;
    if (state.kind === 'closing') return state.done;
    if (state.kind === 'opening') return Promise.reject(new DeviceError('EBADF', `"${this.path}" is not open yet`, { path: this.path }));
    const { promise: done, settle: settleClose } = outcome();
    this.#state = { kind: 'closing', by: 'close', done };
    this.#settleClose = settleClose;
    this.#unfollowKick();
    this.#controller?.abort(this.#closedError());
    if (this.#ops === 0) this.#releaseForClose();
    return done;
  }

  /** `await using file = ...`: closes the file at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #call(op: Op, args: unknown[]): Promise<unknown> {
    const generation = this.#generation;
    const provider = generation.gate;
    if (this.#state !== OPEN || provider.revoked) return this.#refused(op);
    const operations = generation.core.operations;
    const fn = op === Op.Read ? operations.read : op === Op.Write ? operations.write : op === Op.Ioctl ? operations.ioctl : op === Op.Poll ? operations.poll : operations.mmap;
    if (fn === undefined) return this.#unsupported(op);
    gate.enter(provider);
    this.#ops++;
    // Debug mode lists the operations in flight when a drain times out; production pays one check.
    const tracked = hooks === undefined ? undefined : track(provider);
    let result: unknown;
    try {
      result = callGated(generation.core, fn, operations.self, this.#file, args);
      // The thenable check is part of the call: a `then` getter that throws is the operation failing.
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          (value) => this.#finish(op, value, tracked),
          (error: unknown) => {
            this.#exit(tracked);
            return this.#failed(op, error);
          },
        );
      }
    } catch (error) {
      this.#exit(tracked);
      try {
        return Promise.resolve(this.#failed(op, error));
      } catch (refusal) {
        return Promise.reject(refusal);
      }
    }
    if (op <= Op.Ioctl) {
      this.#exit(tracked);
      return Promise.resolve(result);
    }
    try {
      return Promise.resolve(this.#finish(op, result, tracked));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** An operation returned `value`: ends the use and returns what the user gets; may throw. */
  #finish(op: Op, value: unknown, tracked: object | undefined): unknown {
    if (op <= Op.Ioctl) {
      this.#exit(tracked);
      return value;
    }
    if (op === Op.Poll) {
      this.#exit(tracked);
      if (value === null || value === undefined) return DEFAULT_POLL;
      const r = value as Partial<PollResult>;
      return { readable: r.readable === true, writable: r.writable === true, error: r.error === true, hangup: r.hangup === true };
    }
    if (Object.prototype.toString.call(value) !== '[object ArrayBuffer]') {
      this.#exit(tracked);
      throw new TypeError(`Expected the driver's mmap for "${this.path}" to return an ArrayBuffer (not shared), got ${describeType(value)}`);
    }
    // Recorded before the use ends, so a release that the end of this use starts detaches it too.
    (this.#mappings ??= []).push(value as ArrayBuffer);
    const revoked = this.#generation.gate.revoked || this.#state !== OPEN;
    this.#exit(tracked);
    return revoked ? this.#revokedResult(op, undefined) : value;
  }

  /** An operation threw `error`: the kick's reason becomes the operation's revoked result. */
  #failed(op: Op, error: unknown): unknown {
    const provider = this.#generation.gate;
    if (provider.revoked && error instanceof RevokedError && error === gate.signal(provider).reason) return this.#revokedResult(op, error);
    throw error;
  }

  #exit(tracked: object | undefined): void {
    if (--this.#ops === 0 && this.#settleClose !== undefined && this.#state.kind === 'closing') this.#releaseForClose();
    if (tracked !== undefined) hooks?.released('file operation', tracked);
    gate.exit(this.#generation.gate);
  }

  #refused(op: Op): Promise<unknown> {
    const state = this.#state;
    if ((state.kind === 'closing' || state.kind === 'closed') && state.by === 'close') return Promise.reject(this.#closedError());
    if (op === Op.Read) return RESOLVED_NULL;
    if (op === Op.Poll) return RESOLVED_HANGUP;
    try {
      return Promise.resolve(this.#revokedResult(op, undefined));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The revoke(2) proposal's per-method results once the file is revoked: a value, or a throw. */
  #revokedResult(op: Op, cause: unknown): unknown {
    const path = this.path;
    switch (op) {
      case Op.Read:
        return null;
      case Op.Poll:
        return HANGUP;
      case Op.Write:
        throw new DeviceError('EIO', `write to revoked "${path}"`, { path, cause });
      default:
        throw new DeviceError('ENODEV', `${OP_NAMES[op]} on revoked "${path}"`, { path, cause });
    }
  }

  #unsupported(op: Op): Promise<unknown> {
    const path = this.path;
    if (op === Op.Poll) return Promise.resolve(DEFAULT_POLL);
    const code = op === Op.Ioctl ? 'ENOTTY' : op === Op.Mmap ? 'ENODEV' : 'EINVAL';
    return Promise.reject(new DeviceError(code, `"${path}" does not support ${OP_NAMES[op]}`, { path }));
  }

  #closedError(): DeviceError {
    return new DeviceError('EBADF', `"${this.path}" was closed`, { path: this.path });
  }

  /** The user closed the file and its last operation ended: release it. */
  #releaseForClose(): void {
    const settleClose = this.#settleClose as (failure?: Failure) => void;
    this.#settleClose = undefined;
    settle(
      () => {
        this.#unmap();
        return this.#callRelease();
      },
      (failure) => {
        this.#state = CLOSED_BY_CLOSE;
        this.#generation.files.delete(this);
        hooks?.released('open file', this);
        settleClose(failure);
      },
    );
  }

  #callRelease(): unknown {
    const operations = this.#generation.core.operations;
    const release = operations.release;
    return release === undefined ? undefined : release.call(operations.self, this.#file);
  }

  /** Detaches every mapped buffer, keeping the memory (moved) for the driver's `file.mappings`. */
  #unmap(): void {
    const mappings = this.#mappings;
    if (mappings === null) return;
    for (let i = 0; i < mappings.length; i++) mappings[i] = detach(mappings[i] as ArrayBuffer);
  }

  #unfollowKick(): void {
    const onKick = this.#onKick;
    if (onKick === undefined) return;
    this.#onKick = undefined;
    gate.signal(this.#generation.gate).removeEventListener('abort', onKick);
  }

  static {
    driverFileOf = (file) => file.#file;
    nodeOf = (file) => file.#generation.core;
    mappingsOf = (file) => file.#mappings ?? EMPTY;
    opened = (file) => {
      file.#state = OPEN;
      hooks?.created('open file', file, file.#generation.core);
    };
    openFailed = (file) => {
      file.#state = FAILED_OPEN;
      file.#generation.files.delete(file);
    };
    signalOf = (file) => {
      let controller = file.#controller;
      if (controller !== undefined) return controller.signal;
      controller = new AbortController();
      allowManyListeners(controller.signal);
      file.#controller = controller;
      const state = file.#state;
      const kick = gate.signal(file.#generation.gate);
      if ((state.kind === 'closing' || state.kind === 'closed') && state.by === 'close') controller.abort(file.#closedError());
      else if (kick.aborted) controller.abort(kick.reason);
      else {
        const follow = controller;
        const onKick = (): void => {
          file.#onKick = undefined;
          follow.abort(kick.reason);
        };
        file.#onKick = onKick;
        kick.addEventListener('abort', onKick, { once: true });
      }
      return controller.signal;
    };
    releaseByRevoke = (file) => {
      const state = file.#state;
      if (state.kind === 'closing') return state.by === 'close' ? { wait: state.done } : undefined;
      if (state.kind !== 'open') return undefined;
      // Closed from here on: a close() or an operation from inside a synchronous release sees a
      // revoked file. (This state is a constant: storing it in 100,000 files costs no write barrier.)
      file.#state = CLOSED_BY_REVOKE;
      let result: unknown;
      try {
        file.#unmap();
        result = file.#callRelease();
        if (!isThenable(result)) {
          hooks?.released('open file', file);
          return true;
        }
        // An async release: until it settles, close() waits for the whole revoke.
        const generation = file.#generation;
        const closing = (generation.closingByRevoke ??= { kind: 'closing', by: 'revoke', done: gate.done(generation.gate).then(noop, noop) });
        const released = Promise.resolve(result).finally(() => {
          file.#state = CLOSED_BY_REVOKE;
          hooks?.released('open file', file);
        });
        file.#state = closing;
        return released;
      } catch (error) {
        file.#state = CLOSED_BY_REVOKE;
        hooks?.released('open file', file);
        return { error };
      }
    };
  }
}

/** A record of one file operation in flight, for debug mode's list of holders. */
function track(provider: Revocable<Generation>): object {
  const record = {};
  hooks?.created('file operation', record, provider);
  return record;
}

/**
 * @internal Opens a file on `generation`, running the driver's `open` as an operation: a revoke
 * that starts meanwhile waits for it, then releases the file, and the open rejects `ENODEV`.
 * The caller has checked that the generation is live.
 */
export function openFile(generation: Generation): Promise<OpenFile> {
  const file = new OpenFile(INTERNAL, generation);
  const core = generation.core;
  const open = core.operations.open;
  if (open === undefined) {
    opened(file);
    return Promise.resolve(file);
  }
  const provider = generation.gate;
  gate.enter(provider);
  const fail = (error: unknown): never => {
    openFailed(file);
    gate.exit(provider);
    throw error;
  };
  const finish = (): OpenFile => {
    opened(file);
    const revoked = provider.revoked;
    gate.exit(provider);
    // Opened but revoked meanwhile: the revoke releases it; the user never gets it.
    if (revoked) throw new DeviceError('ENODEV', `device node "${core.path}" was revoked during open`, { path: core.path });
    return file;
  };
  try {
    const result = callGated(core, open, core.operations.self, driverFileOf(file), NO_ARGS);
    if (isThenable(result)) return Promise.resolve(result).then(finish, fail);
  } catch (error) {
    openFailed(file);
    gate.exit(provider);
    return Promise.reject(error);
  }
  try {
    return Promise.resolve(finish());
  } catch (error) {
    return Promise.reject(error);
  }
}

const NO_ARGS: readonly unknown[] = Object.freeze([]);
const EMPTY: readonly ArrayBuffer[] = Object.freeze([]);
const RESOLVED: Promise<void> = Promise.resolve();
const RESOLVED_NULL: Promise<null> = Promise.resolve(null);
const RESOLVED_HANGUP: Promise<PollResult> = Promise.resolve(HANGUP);

function describeType(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? Object.prototype.toString.call(value) : typeof value;
}

/**
 * Detaches `buffer` and returns the buffer its memory moved to. `ArrayBuffer.prototype.transfer`
 * where the runtime has it, else a `structuredClone` that transfers it.
 */
export function detach(buffer: ArrayBuffer): ArrayBuffer {
  const transfer = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer) => ArrayBuffer }).transfer;
  if (typeof transfer === 'function') return transfer.call(buffer);
  return structuredClone(buffer, { transfer: [buffer] });
}
