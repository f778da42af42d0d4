/**
 * A namespace of device nodes, and revoke(2) by path.
 *
 * `devfs.create(path, operations)` (or, for a driver, `device.managed.node(path, operations)`) makes
 * a {@link DeviceNode}; `devfs.open(path)` opens an {@link OpenFile} on it; `devfs.revoke(path)`
 * revokes every file open on it now, and the node stays for later opens, as BSD's revoke(2) does
 * for a terminal. Removing a node (unbind does) revokes it and takes its path away. The gate and
 * the files themselves are `revoke.ts`'s.
 *
 * Invariants:
 * 1. A node has exactly one generation that is not revoked. A revoke installs a fresh generation
 *    after the old one has finished, so an open during a revoke fails `ENODEV` and an open after it
 *    gets a fresh file.
 * 2. A removed node is not in the namespace: opens fail `ENOENT`; its last generation is revoked.
 * 3. A revoke awaited from inside an operation of the same node would wait for itself: a revoke
 *    called while an operation of that node is in its synchronous part rejects `EDEADLK` and
 *    revokes nothing; `file.hangup()` is the way to revoke from inside.
 * 4. Every argument is checked before any lookup: a bad call fails the same way on any path.
 *
 * @module
 */
import { DeviceError } from '../errors.js';
import { noop } from '../internal/promise.js';
import { isInside } from '../internal/reentrancy.js';
import { checkDuration, checkOptions, checkString, expected, isObjectArgument } from '../internal/validate.js';
import type { Device } from './device.js';
import { readOperations, type FileOperations, type NodeOperations } from './file-operations.js';
import { Generation, openFile, type NodeCore, type OpenFile } from './revoke.js';

/** Options of a revoke: `timeout` bounds the drain of operations in flight. */
export interface NodeRevokeOptions {
  /**
   * Milliseconds to wait for operations in flight. When it passes with some still running, the
   * promise rejects with `DrainTimeoutError`; the revoke goes on and completes when they end.
   * Default: `Infinity`.
   */
  timeout?: number;
}

/** Options of {@link DevFs.create}. */
export interface CreateNodeOptions {
  /** The device the node belongs to; given to the driver as `file.device`. */
  device?: Device | undefined;
}

/** `'live'`, `'revoking'` (its open files are being revoked; opens fail `ENODEV`) or `'removed'`. */
export type DeviceNodeState = 'live' | 'revoking' | 'removed';

/** Proves that a constructor call came from this module. */
const INTERNAL: unique symbol = Symbol('revocable/device internal');

/** A revoke's `timeout` option, read once and checked (invariant 4). */
function revokeTimeout(options: NodeRevokeOptions | undefined): number {
  checkOptions(options);
  return checkDuration(options?.timeout, 'options.timeout', Infinity);
}

// Module-private doors: DevFs opens files on its nodes (nothing else may), and revokes by path
// with the options it has read already.
let openOn: (node: DeviceNode) => Promise<OpenFile>;
let revokeNode: (node: DeviceNode, timeout: number) => Promise<number>;

/**
 * A device node: a path in a {@link DevFs} with the driver's file operations behind it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DevFs } from 'revocable/device';
 *
 * const devfs = new DevFs();
 * const node = devfs.create('/dev/null', { read: () => null, write: (_file, data) => (data as Uint8Array).length });
 * const file = await devfs.open('/dev/null');
 * assert.equal(await node.revoke(), 1);  // every file open on it now is revoked; the node stays
 * assert.equal(await file.read(), null); // end of file, without reaching the driver
 * assert.equal(devfs.has('/dev/null'), true);
 * await node.remove();                   // and its path is free again
 * assert.equal(devfs.has('/dev/null'), false);
 * ```
 */
export class DeviceNode {
  readonly #core: NodeCore;
  #generation: Generation;
  #removed: Promise<number> | undefined;
  readonly #unlink: () => void;

  /** @internal Use `devfs.create()` or `device.managed.node()`. */
  constructor(token: typeof INTERNAL, path: string, operations: NodeOperations, device: Device | null, unlink: () => void) {
    if (token !== INTERNAL) throw new TypeError('DeviceNode is not constructed directly: use devfs.create(path, operations)');
    this.#unlink = unlink;
    this.#core = {
      path,
      device,
      operations,
      depth: 0,
      renew: (old) => {
        if (this.#removed === undefined && this.#generation === old) this.#generation = new Generation(this.#core);
      },
      hangup: () => {
        this.#generation.revoke(Infinity).catch(reportAsync);
      },
    };
    this.#generation = new Generation(this.#core);
  }

  /** The path in its `DevFs`. */
  get path(): string {
    return this.#core.path;
  }

  /** The device the node belongs to, or `null`. */
  get device(): Device | null {
    return this.#core.device;
  }

  /** `'live'`, `'revoking'` or `'removed'`. */
  get state(): DeviceNodeState {
    if (this.#removed !== undefined) return 'removed';
    return this.#generation.gate.revoked ? 'revoking' : 'live';
  }

  /** How many files are open (or opening) on the node now. */
  get openFiles(): number {
    return this.#generation.files.size;
  }

  /** How many file operations are in flight on the node now. */
  get operationsInFlight(): number {
    return this.#generation.inFlight;
  }

  /**
   * revoke(2): every file open on the node now is revoked. New operations on them get their
   * revoked results at once; operations in flight are kicked (their `file.signal` aborts) and
   * waited for; then each file's `release` runs once. Resolves with the number of files this call
   * released (0 for a call that joined a revoke already running). Later opens get fresh files.
   *
   * Rejects `EDEADLK` (revoking nothing) when called from inside an operation of this node: use
   * `file.hangup()` there.
   */
  revoke(options?: NodeRevokeOptions): Promise<number> {
    return this.#revoke(revokeTimeout(options));
  }

  #revoke(timeout: number): Promise<number> {
    if (isInside(this.#core)) return Promise.reject(this.#deadlock('revoke'));
    return this.#generation.revoke(timeout);
  }

  /**
   * Removes the node: its path leaves the namespace at once (opens fail `ENOENT`) and every open
   * file is revoked as by {@link DeviceNode.revoke}. Idempotent. Resolves with the number of files
   * released by the removal. Rejects `EDEADLK` from inside an operation of this node.
   */
  remove(options?: NodeRevokeOptions): Promise<number> {
    const timeout = revokeTimeout(options);
    if (this.#removed !== undefined) return this.#generation.revoke(timeout).then(zero);
    if (isInside(this.#core)) return Promise.reject(this.#deadlock('remove'));
    const generation = this.#generation;
    this.#removed = generation.revoke(Infinity);
    this.#unlink();
    return timeout === Infinity ? this.#removed : generation.revoke(timeout).then(() => this.#removed as Promise<number>);
  }

  #deadlock(what: string): DeviceError {
    return new DeviceError(
      'EDEADLK',
      `${what} of device node "${this.path}" called from inside one of its file operations would wait for that operation forever; call file.hangup() there to revoke without waiting`,
      { path: this.path },
    );
  }

  static {
    revokeNode = (node, timeout) => node.#revoke(timeout);
    openOn = (node) => {
      const path = node.path;
      if (node.#removed !== undefined) return Promise.reject(new DeviceError('ENOENT', `no device node "${path}"`, { path }));
      const generation = node.#generation;
      if (generation.gate.revoked) return Promise.reject(new DeviceError('ENODEV', `device node "${path}" is being revoked`, { path }));
      return openFile(generation);
    };
  }
}

const zero = (): number => 0;

/** An error nobody can be handed: report it as the runtime reports uncaught errors. */
function reportAsync(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') report(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}

/**
 * @internal Makes a node in `devfs` whose removal also calls `removed` (a binding's node list).
 * Checks its arguments as `devfs.create` does.
 */
export let createNode: (devfs: DevFs, path: unknown, operations: unknown, device: Device | null, removed: (node: DeviceNode) => void) => DeviceNode;

/**
 * A namespace of device nodes (`/dev`): create nodes, open files on them, revoke by path.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DevFs } from 'revocable/device';
 *
 * const devfs = new DevFs();
 * devfs.create('/dev/zero', { read: (_file, length) => new Uint8Array(length as number) });
 * const file = await devfs.open('/dev/zero');
 * assert.deepEqual(await file.read(4), new Uint8Array(4)); // [0, 0, 0, 0]
 * assert.equal(await devfs.revoke('/dev/zero'), 1);        // that file was released
 * assert.equal(await file.read(4), null);                  // end of file from now on
 * ```
 */
export class DevFs {
  readonly #nodes = new Map<string, DeviceNode>();

  /**
   * Creates a node at `path` with the driver's `operations`, read once, now. Throws `EEXIST` if the
   * path is taken. Drivers use `device.managed.node(path, operations)`, which removes the node at
   * unbind.
   */
  create<Private = unknown>(path: string, operations: FileOperations<Private>, options?: CreateNodeOptions): DeviceNode {
    checkOptions(options);
    const device = options?.device;
    if (device !== undefined && !isObjectArgument(device)) throw expected('a Device or undefined', 'options.device', device);
    return this.#create(path, operations, device ?? null, noop);
  }

  #create(path: unknown, operations: unknown, device: Device | null, removed: (node: DeviceNode) => void): DeviceNode {
    checkString(path, 'path');
    const checked = readOperations(operations);
    if (this.#nodes.has(path)) throw new DeviceError('EEXIST', `device node "${path}" already exists`, { path });
    const node: DeviceNode = new DeviceNode(INTERNAL, path, checked, device, () => {
      if (this.#nodes.get(path) === node) this.#nodes.delete(path);
      removed(node);
    });
    this.#nodes.set(path, node);
    return node;
  }

  /**
   * Opens the node at `path`, running the driver's `open`. Rejects `ENOENT` if there is none,
   * `ENODEV` while it is being revoked, and with what the driver's `open` threw.
   */
  open(path: string): Promise<OpenFile> {
    checkString(path, 'path');
    const node = this.#nodes.get(path);
    if (node === undefined) return Promise.reject(new DeviceError('ENOENT', `no device node "${path}"`, { path }));
    return openOn(node);
  }

  /**
   * revoke(2) by path: see {@link DeviceNode.revoke}. Rejects `ENOENT` if there is no node there,
   * `EDEADLK` from inside one of the node's operations.
   */
  revoke(path: string, options?: NodeRevokeOptions): Promise<number> {
    checkString(path, 'path');
    const timeout = revokeTimeout(options);
    const node = this.#nodes.get(path);
    if (node === undefined) return Promise.reject(new DeviceError('ENOENT', `no device node "${path}"`, { path }));
    return revokeNode(node, timeout);
  }

  /** Whether a node exists at `path`. */
  has(path: string): boolean {
    checkString(path, 'path');
    return this.#nodes.has(path);
  }

  /** The node at `path`, or `undefined`. */
  get(path: string): DeviceNode | undefined {
    checkString(path, 'path');
    return this.#nodes.get(path);
  }

  /** The paths of every node, in creation order. */
  paths(): string[] {
    return [...this.#nodes.keys()];
  }

  static {
    createNode = (devfs, path, operations, device, removed) => devfs.#create(path, operations, device, removed);
  }
}
