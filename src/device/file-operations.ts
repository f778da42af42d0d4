/**
 * The driver side of a device node: the operations a driver implements (the kernel's
 * `file_operations`) and the `file` each of them receives.
 *
 * Invariants:
 * 1. No operation is called on a file after its `release`; `release` is called once per file whose
 *    `open` succeeded (or that had no `open`), by `close()` or by a revoke, whichever comes first.
 * 2. `release` runs while the driver's data is still valid: a revoke by unbind releases every open
 *    file before `driver.remove` and before the device's managed resources are released.
 * 3. The `file` a driver receives is the same object in every call for one open.
 * 4. A node reads its operations object once, when it is created: what it calls later is what was
 *    checked then, whatever the object's getters answer afterwards.
 *
 * @module
 */
import { expected, isObjectArgument, show } from '../internal/validate.js';
import type { Device } from './device.js';

/** What `poll` reports: whether a read or write would proceed now, and error or hang-up conditions. */
export interface PollResult {
  /** A `read` would proceed now. */
  readable: boolean;
  /** A `write` would proceed now. */
  writable: boolean;
  /** An error condition (as after a revoke). */
  error: boolean;
  /** The device hung up (as after a revoke, or `file.hangup()`). */
  hangup: boolean;
}

/**
 * The operations of a device node, driver side. Every one is optional; each may be sync or async.
 * Each receives the driver-side {@link DeviceFile} first; the rest are what the user passed to the
 * matching {@link OpenFile} method. `this` is the operations object.
 *
 * - `open(file)`: set up per-open state in `file.private`; throwing fails the open (no `release`).
 * - `read(file, ...args)`, `write(file, ...args)`, `ioctl(file, command, argument)`: the I/O.
 * - `poll(file)`: a (partial) {@link PollResult}; missing fields are `false`.
 * - `mmap(file, ...args)`: an `ArrayBuffer` the user may view; it is detached when the file is
 *   released, so no view reads memory the driver has let go.
 * - `release(file)`: per-open cleanup, once; driver data is still valid here.
 *
 * Pass `file.signal` to anything that may wait (a port read, a `fetch`): it is aborted when the node
 * is revoked (the kick) or the file is closed, so the operation ends and the revoke can proceed.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DevFs, type FileOperations } from 'revocable/device';
 *
 * const log: string[] = [];
 * const operations: FileOperations<{ reads: number }> = {
 *   open: (file) => { file.private = { reads: 0 }; },
 *   read: (file) => { if (file.private) file.private.reads++; return 'data'; },
 *   release: (file) => { log.push(`closed after ${file.private?.reads} reads`); },
 * };
 * const devfs = new DevFs();
 * devfs.create('/dev/sensor0', operations);
 * const file = await devfs.open('/dev/sensor0');
 * assert.equal(await file.read(), 'data');
 * await file.close();
 * assert.deepEqual(log, ['closed after 1 reads']);
 * ```
 */
export interface FileOperations<Private = unknown> {
  /** Sets up per-open state in `file.private`; throwing fails the open (no `release` then). */
  open?(file: DeviceFile<Private>): unknown;
  /** Reads: what it returns (or resolves with) is what the user's `read(...args)` gets. */
  read?(file: DeviceFile<Private>, ...args: unknown[]): unknown;
  /** Writes: what it returns (or resolves with) is what the user's `write(...args)` gets. */
  write?(file: DeviceFile<Private>, ...args: unknown[]): unknown;
  /** A device-specific command. */
  ioctl?(file: DeviceFile<Private>, command: unknown, argument: unknown): unknown;
  /** Whether a read or write would proceed now; missing fields are `false`. */
  poll?(file: DeviceFile<Private>): Partial<PollResult> | null | undefined | PromiseLike<Partial<PollResult> | null | undefined>;
  /** Memory the user may view; detached when the file is released. */
  mmap?(file: DeviceFile<Private>, ...args: unknown[]): ArrayBuffer | PromiseLike<ArrayBuffer>;
  /** Per-open cleanup, once per file; the driver's data is still valid here. */
  release?(file: DeviceFile<Private>): unknown;
}

export const OPERATION_NAMES = ['open', 'read', 'write', 'ioctl', 'poll', 'mmap', 'release'] as const;

type Operation = (this: unknown, file: DeviceFile<unknown>, ...args: unknown[]) => unknown;

/** @internal The operations a node calls: read once from the driver's object (invariant 4). */
export interface NodeOperations {
  /** The driver's object: `this` of every call. */
  readonly self: object;
  readonly open: Operation | undefined;
  readonly read: Operation | undefined;
  readonly write: Operation | undefined;
  readonly ioctl: Operation | undefined;
  readonly poll: Operation | undefined;
  readonly mmap: Operation | undefined;
  readonly release: Operation | undefined;
}

/** Reads and checks each operation of `operations` once (invariant 4); a TypeError names a bad one. */
export function readOperations(operations: unknown): NodeOperations {
  if (!isObjectArgument(operations)) {
    throw expected('an object of file operations', 'operations', operations);
  }
  const read = (name: (typeof OPERATION_NAMES)[number]): Operation | undefined => {
    const fn = (operations as Record<string, unknown>)[name];
    if (fn !== undefined && typeof fn !== 'function') throw new TypeError(`Expected \`operations.${name}\` to be a function or undefined, got ${show(fn)}`);
    return fn as Operation | undefined;
  };
  return { self: operations, open: read('open'), read: read('read'), write: read('write'), ioctl: read('ioctl'), poll: read('poll'), mmap: read('mmap'), release: read('release') };
}

/**
 * The driver-side view of one open file (the kernel's `struct file`), passed to every
 * {@link FileOperations} call for that open.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DevFs } from 'revocable/device';
 *
 * const devfs = new DevFs();
 * devfs.create('/dev/sensor0', {
 *   async read(file) {
 *     // A read that waits for data, and gives up when the node is revoked or the file closed.
 *     await new Promise((resolve) => file.signal.addEventListener('abort', resolve));
 *     return file.signal.aborted ? null : 'data';
 *   },
 * });
 * const file = await devfs.open('/dev/sensor0');
 * const reading = file.read();
 * await devfs.revoke('/dev/sensor0'); // kicks the read through file.signal, and waits for it
 * assert.equal(await reading, null);
 * ```
 */
export interface DeviceFile<Private = unknown> {
  /** The node's path, e.g. `'/dev/sensor0'`. */
  readonly path: string;
  /** The device whose driver created the node, or `null` for a node made directly on a `DevFs`. */
  readonly device: Device | null;
  /**
   * Aborted when the node is revoked (reason: a `RevokedError`, code `ENODEV`) or this file is
   * closed by its user (code `EBADF`). An operation that rejects with this reason is reported to
   * the user as the revoked result (end of file for `read`, `EIO` for `write`, ...).
   */
  readonly signal: AbortSignal;
  /** A per-open slot for the driver (`file->private_data`). */
  private: Private | undefined;
  /**
   * The buffers this file mapped through `mmap`. From the release on, they are the buffers the
   * memory was moved to when the user's were detached: only the driver holds them.
   */
  readonly mappings: readonly ArrayBuffer[];
  /**
   * Revokes every file open on this node now, without waiting: the way to revoke from inside a
   * file operation ("do it asynchronously", as the revoke(2) proposal says). New operations fail at
   * once; the revoke completes after the operations in flight, this one included, have returned.
   * A failing `release` is reported through `reportError` (or as an uncaught error).
   */
  hangup(): void;
}
