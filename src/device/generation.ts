/**
 * The gate of revoke(2), as the revoke(2) proposal outlines it: a {@link Generation} is its
 * `struct revokable`, the files opened on one device node (since its creation or its last revoke)
 * and the count of operations in flight on them.
 *
 * Invariants:
 * 1. `count` is the number of operations (opens included) in flight on the generation while it is
 *    live, and that number plus `BIAS` from the first synchronous step of its revoke on. An
 *    operation starts only while `count >= 0`; the drain is over exactly when `count === BIAS`.
 * 2. The kick (each file's `signal` aborting) happens in the revoke's first synchronous step.
 * 3. The revoke releases its files only after the drain, each once, and resolves after every
 *    release has finished; then the node's `onRevoked` installs a fresh generation.
 *
 * @module
 */
import { DrainTimeoutError } from '../errors.js';
import { boundDrain } from '../internal/drain.js';
import { SuppressedError } from '../suppressed-error.js';
import type { Device } from './device.js';
import { DeviceError } from '../errors.js';
import type { FileOperations } from './file-operations.js';
import type { OpenFile } from './open-file.js';
import type { Reentrant } from './reentrancy.js';

/**
 * @internal What the generation asks of its files; `open-file.ts` fills these in, so that neither
 * is public API on `OpenFile`.
 */
export const fileDoors = {} as {
  /** Aborts the file's own `signal`, if the driver made one. */
  kick(file: OpenFile, reason: unknown): void;
  /**
   * Releases `file` for the revoke: `undefined` when there is nothing to release, `true` when
   * released synchronously, `{ error }` when `release` threw, a promise of an async release, or
   * `{ wait }` when `close()` is releasing it already (the revoke waits, and does not count it).
   */
  releaseByRevoke(file: OpenFile): undefined | true | Promise<unknown> | { error: unknown } | { wait: Promise<void> };
};

/** Added to the in-use count when a revoke starts; a negative count means "going away". */
export const BIAS = -0x4000_0000;

/** @internal What a generation needs from the node it belongs to. */
export interface NodeCore extends Reentrant {
  readonly path: string;
  readonly device: Device | null;
  // The driver's own types are erased here: the node calls them with what users pass.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly operations: FileOperations<any>;
  /** Starts a revoke of the node's current generation without waiting (the driver's hangup). */
  hangup(): void;
}

type GenerationState =
  | { readonly kind: 'live' }
  | { readonly kind: 'revoking'; readonly done: Promise<number>; readonly settle: (result: { count: number } | { error: unknown }) => void; releasing: boolean }
  | { readonly kind: 'revoked'; readonly done: Promise<number> };

const LIVE: GenerationState = { kind: 'live' };

/**
 * @internal One generation of a device node: its open files and the gate on their operations.
 * A node gets a fresh generation when a revoke of the previous one has finished.
 */
export class Generation {
  /** The gate; see invariant 1. */
  count = 0;
  /** Files opening or open; a file leaves when its release has finished (or its open failed). */
  readonly files = new Set<OpenFile>();
  state: GenerationState = LIVE;
  /** The kick's reason, from the first step of the revoke on. */
  reason: DeviceError | undefined;
  /** How many files made their own `signal`: the kick visits files only when some did. */
  signals = 0;
  /** The state a file takes while the revoke releases it: made by `open-file.ts`, once per revoke. */
  closingByRevoke: object | undefined;
  /** Settles (never rejects) when the revoke has finished; `undefined` while live. */
  finished: Promise<void> | undefined;
  readonly node: NodeCore;
  readonly #onRevoked: (generation: Generation) => void;

  constructor(node: NodeCore, onRevoked: (generation: Generation) => void) {
    this.node = node;
    this.#onRevoked = onRevoked;
  }

  /** Operations in flight now. */
  get inFlight(): number {
    return this.count < 0 ? this.count - BIAS : this.count;
  }

  /**
   * Starts the revoke (idempotent) and returns a promise of the number of files it released,
   * settled once every release has finished. With a finite `timeout`, rejects with
   * {@link DrainTimeoutError} if operations are still in flight when it passes; the revoke goes on.
   */
  revoke(timeout: number): Promise<number> {
    let first = false;
    if (this.state.kind === 'live') {
      first = true;
      this.#begin();
    }
    const state = this.state as Exclude<GenerationState, { kind: 'live' }>;
    const done = first ? state.done : state.done.then(zero);
    if (timeout === Infinity || state.kind === 'revoked' || this.count === BIAS) return done;
    return boundDrain(
      done,
      timeout,
      () => this.count - BIAS,
      (inside) => new DrainTimeoutError(`Device node "${this.node.path}"`, timeout, inside, [], this.node.path),
    );
  }

  #begin(): void {
    let settle!: (result: { count: number } | { error: unknown }) => void;
    const done = new Promise<number>((resolve, reject) => {
      settle = (result) => ('error' in result ? reject(result.error) : resolve(result.count));
    });
    done.catch(ignore);
    this.state = { kind: 'revoking', done, settle, releasing: false };
    this.finished = done.then(nothing, nothing);
    this.reason = new DeviceError('ENODEV', `device node "${this.node.path}" was revoked`, { path: this.node.path });
    this.count += BIAS;
    // The kick: abort listeners run synchronously and may end operations; drained() is idempotent.
    if (this.signals > 0) for (const file of this.files) fileDoors.kick(file, this.reason);
    if (this.count === BIAS) this.drained();
  }

  /** @internal The last operation ended: release every file still open, once. */
  drained(): void {
    const state = this.state;
    if (state.kind !== 'revoking' || state.releasing) return;
    state.releasing = true;
    let released = 0;
    let failure: { error: unknown } | undefined;
    let pending: Promise<unknown>[] | undefined;
    for (const file of this.files) {
      const result = fileDoors.releaseByRevoke(file);
      if (result === undefined) continue;
      if (result === true) {
        released++;
        continue;
      }
      if (result instanceof Promise) {
        released++;
        (pending ??= []).push(result);
        continue;
      }
      if ('wait' in result) {
        (pending ??= []).push(result.wait.then(nothing, nothing));
        continue;
      }
      released++;
      failure = chain(failure, result.error);
    }
    const finish = (): void => {
      this.files.clear();
      this.state = { kind: 'revoked', done: state.done };
      this.#onRevoked(this);
      state.settle(failure === undefined ? { count: released } : failure);
    };
    if (pending === undefined) return finish();
    void Promise.allSettled(pending).then((results) => {
      for (const result of results) if (result.status === 'rejected') failure = chain(failure, result.reason);
      finish();
    });
  }
}

const zero = (): number => 0;
const nothing = (): void => {};
const ignore = (): void => {};

function chain(failure: { error: unknown } | undefined, error: unknown): { error: unknown } {
  return { error: failure === undefined ? error : new SuppressedError(error, failure.error, 'An error was suppressed during revoke') };
}
