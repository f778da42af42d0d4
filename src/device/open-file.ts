/**
 * The open files of device nodes, user side: every operation runs between start-using and
 * stop-using on its node's {@link Generation} (the revoke(2) gate), and gets the revoke(2)
 * proposal's per-method result once the node was revoked. An {@link OpenFile} is the proposal's
 * `struct revoke` plus the `struct file`'s methods.
 *
 * Invariants:
 * 1. An operation reaches the driver only while the file is open and its generation live; it is
 *    counted on the generation (and on the file) until it returns or its promise settles.
 * 2. Every file whose `open` succeeded is released exactly once, by `close()` or by the revoke,
 *    whichever marks it closing first (the proposal's `revoke->closing`); the other waits for that
 *    release. No operation reaches the driver for a file after its release began.
 * 3. The synchronous read path allocates nothing but the promise the API returns (and the rest
 *    array of the arguments).
 * 4. Mapped buffers are detached before `release`, so no view reads memory the driver let go.
 *
 * @module
 */
import { isThenable, settle as afterRelease } from '../internal/promise.js';
import { allowManyListeners } from '../internal/runtime.js';
import { hooks } from '../internal/hooks.js';
import type { Device } from './device.js';
import { DeviceError } from '../errors.js';
import type { DeviceFile, PollResult } from './file-operations.js';
import { BIAS, fileDoors, type Generation } from './generation.js';
import { reentrancyTracker } from './reentrancy.js';

type FileState =
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

// Module-private doors into OpenFile's private state, for the driver-side file.
let signalOf: (file: OpenFile) => AbortSignal;
let nodeOf: (file: OpenFile) => Generation['node'];
let mappingsOf: (file: OpenFile) => readonly ArrayBuffer[];

/** The driver-side file: a thin face on the open file's state. */
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

/**
 * An open file on a device node, user side: what `devfs.open(path)` resolves to. Every operation
 * returns a promise and runs through the node's revoke(2) gate: after the node is revoked (the
 * device unplugged, or `devfs.revoke(path)`), operations get defined results instead of reaching
 * the driver: `read` resolves `null` (end of file), `write` rejects `EIO`, `ioctl` and `mmap` reject
 * `ENODEV`, `poll` resolves `{ error: true, hangup: true, readable: false, writable: false }`.
 * `close()` is idempotent and safe at any time, before, during or after a revoke.
 *
 * @example
 * ```ts
 * await using file = await devfs.open('/dev/sensor0');
 * await file.read(64);        // what the driver's read returns
 * await bus.remove(sensor);   // unplug: the driver's release ran for this file, once
 * await file.read(64);        // => null
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
  /** Buffers handed out by `mmap`; `null` until the first. */
  #mappings: ArrayBuffer[] | null = null;
  #settleClose: ((failure?: { error: unknown }) => void) | undefined;

  /** @internal Use `devfs.open(path)`. */
  constructor(generation: Generation) {
    this.#generation = generation;
    this.#file = new DriverFile(this);
    generation.files.add(this);
  }

  /** The node's path. */
  get path(): string {
    return this.#generation.node.path;
  }

  /** The device whose node this is, or `null`. */
  get device(): Device | null {
    return this.#generation.node.device;
  }

  /** `'open'`; `'revoked'` once its node was revoked; `'closed'` once `close()` was called. */
  get state(): OpenFileState {
    const state = this.#state;
    if (state.kind === 'closing' || state.kind === 'closed') return state.by === 'close' ? 'closed' : 'revoked';
    return this.#generation.count < 0 ? 'revoked' : 'open';
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
    let settle!: (failure?: { error: unknown }) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (failure) => (failure === undefined ? resolve() : reject(failure.error));
    });
    this.#state = { kind: 'closing', by: 'close', done };
    this.#settleClose = settle;
    this.#controller?.abort(new DeviceError('EBADF', `"${this.path}" was closed`, { path: this.path }));
    if (this.#ops === 0) this.#releaseForClose();
    return done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #call(op: Op, args: unknown[]): Promise<unknown> {
    const generation = this.#generation;
    if (this.#state !== OPEN || generation.count < 0) return this.#refused(op);
    const operations = generation.node.operations;
    const fn = op === Op.Read ? operations.read : op === Op.Write ? operations.write : op === Op.Ioctl ? operations.ioctl : op === Op.Poll ? operations.poll : operations.mmap;
    if (fn === undefined) return this.#unsupported(op);
    generation.count++;
    this.#ops++;
    const node = generation.node;
    const file = this.#file;
    const tracker = reentrancyTracker();
    let result: unknown;
    node.depth++;
    try {
      if (tracker !== undefined) result = tracker.wrap(node, () => Reflect.apply(fn, operations, [file, ...args]));
      else if (args.length === 0) result = (fn as (file: DeviceFile) => unknown).call(operations, file);
      else if (args.length === 1) result = (fn as (file: DeviceFile, a: unknown) => unknown).call(operations, file, args[0]);
      else if (args.length === 2) result = (fn as (file: DeviceFile, a: unknown, b: unknown) => unknown).call(operations, file, args[0], args[1]);
      else result = Reflect.apply(fn, operations, [file, ...args]);
    } catch (error) {
      node.depth--;
      this.#exit();
      try {
        return Promise.resolve(this.#failed(op, error));
      } catch (refusal) {
        return Promise.reject(refusal);
      }
    }
    node.depth--;
    if (isThenable(result)) {
      // The callbacks return plain values (never promises), so no extra turns are spent adopting them.
      return Promise.resolve(result).then(
        (value) => this.#finish(op, value),
        (error: unknown) => {
          this.#exit();
          return this.#failed(op, error);
        },
      );
    }
    if (op <= Op.Ioctl) {
      this.#exit();
      return Promise.resolve(result);
    }
    try {
      return Promise.resolve(this.#finish(op, result));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** An operation returned `value`: ends the use and returns what the user gets; may throw. */
  #finish(op: Op, value: unknown): unknown {
    if (op <= Op.Ioctl) {
      this.#exit();
      return value;
    }
    if (op === Op.Poll) {
      this.#exit();
      if (value === null || value === undefined) return DEFAULT_POLL;
      const r = value as Partial<PollResult>;
      return { readable: r.readable === true, writable: r.writable === true, error: r.error === true, hangup: r.hangup === true };
    }
    if (Object.prototype.toString.call(value) !== '[object ArrayBuffer]') {
      this.#exit();
      throw new TypeError(`Expected the driver's mmap for "${this.path}" to return an ArrayBuffer (not shared), got ${describeType(value)}`);
    }
    // Recorded before the use ends, so a release that the end of this use starts detaches it too.
    (this.#mappings ??= []).push(value as ArrayBuffer);
    const revoked = this.#generation.count < 0 || this.#state !== OPEN;
    this.#exit();
    return revoked ? this.#revokedResult(op, undefined) : value;
  }

  /** An operation threw `error`: the kick's reason becomes the operation's revoked result. */
  #failed(op: Op, error: unknown): unknown {
    const reason = this.#generation.reason;
    if (reason !== undefined && error === reason) return this.#revokedResult(op, error);
    throw error;
  }

  #exit(): void {
    if (--this.#ops === 0 && this.#settleClose !== undefined && this.#state.kind === 'closing') this.#releaseForClose();
    const generation = this.#generation;
    if (--generation.count === BIAS) generation.drained();
  }

  #refused(op: Op): Promise<unknown> {
    const state = this.#state;
    if ((state.kind === 'closing' || state.kind === 'closed') && state.by === 'close') {
      return Promise.reject(new DeviceError('EBADF', `"${this.path}" was closed`, { path: this.path }));
    }
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

  /** The user closed the file and its last operation ended: release it. */
  #releaseForClose(): void {
    const settle = this.#settleClose as (failure?: { error: unknown }) => void;
    this.#settleClose = undefined;
    const finish = (failure?: { error: unknown }): void => {
      this.#state = CLOSED_BY_CLOSE;
      this.#generation.files.delete(this);
      hooks?.released('open file', this);
      settle(failure);
    };
    afterRelease(() => {
      this.#unmap();
      return this.#callRelease();
    }, finish);
  }

  #callRelease(): unknown {
    const operations = this.#generation.node.operations;
    const release = operations.release;
    return release === undefined ? undefined : release.call(operations, this.#file);
  }

  /** Detaches every mapped buffer, keeping the memory (moved) for the driver's `file.mappings`. */
  #unmap(): void {
    const mappings = this.#mappings;
    if (mappings === null) return;
    for (let i = 0; i < mappings.length; i++) mappings[i] = detach(mappings[i] as ArrayBuffer);
  }

  /** @internal Completes an open: the driver's `open` returned. */
  opened(): void {
    this.#state = OPEN;
    hooks?.created('open file', this, this.#generation.node);
  }

  #revoked(): void {
    this.#state = CLOSED_BY_REVOKE;
    hooks?.released('open file', this);
  }

  /** @internal Fails an open: the driver's `open` threw; no release will run. */
  openFailed(): void {
    this.#state = FAILED_OPEN;
    this.#generation.files.delete(this);
  }

  /** @internal The driver-side file, for `open`. */
  get driverFile(): DeviceFile<unknown> {
    return this.#file;
  }

  static {
    fileDoors.kick = (file, reason) => file.#controller?.abort(reason);
    signalOf = (file) => {
      let controller = file.#controller;
      if (controller === undefined) {
        controller = new AbortController();
        allowManyListeners(controller.signal);
        file.#controller = controller;
        const generation = file.#generation;
        generation.signals++;
        const state = file.#state;
        if ((state.kind === 'closing' || state.kind === 'closed') && state.by === 'close') {
          controller.abort(new DeviceError('EBADF', `"${file.path}" was closed`, { path: file.path }));
        } else if (generation.reason !== undefined) {
          controller.abort(generation.reason);
        }
      }
      return controller.signal;
    };
    mappingsOf = (file) => file.#mappings ?? EMPTY;
    nodeOf = (file) => file.#generation.node;
    fileDoors.releaseByRevoke = (file) => {
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
      } catch (error) {
        hooks?.released('open file', file);
        return { error };
      }
      if (!isThenable(result)) {
        hooks?.released('open file', file);
        return true;
      }
      // An async release: until it settles, close() waits for the whole revoke.
      const generation = file.#generation;
      file.#state = (generation.closingByRevoke ??= { kind: 'closing', by: 'revoke', done: generation.finished as Promise<void> }) as FileState;
      return Promise.resolve(result).finally(() => file.#revoked());
    };
  }
}

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
