/**
 * A namespace of device nodes, and revoke(2) by path.
 *
 * `devfs.create(path, operations)` (or, for a driver, `device.managed.node(path, operations)`) makes
 * a {@link DeviceNode}; `devfs.open(path)` opens an {@link OpenFile} on it; `devfs.revoke(path)`
 * revokes every file open on it now, and the node stays for later opens, as BSD's revoke(2) does
 * for a terminal. Removing a node (unbind does) revokes it and takes its path away.
 *
 * Invariants:
 * 1. A node has exactly one generation that is not revoked. A revoke installs a fresh generation
 *    after the old one has finished, so an open during a revoke fails `ENODEV` and an open after it
 *    gets a fresh file.
 * 2. A removed node is not in the namespace: opens fail `ENOENT`; its last generation is revoked.
 * 3. A revoke awaited from inside an operation of the same node would wait for itself: a revoke
 *    called while an operation of that node is in its synchronous part rejects `EDEADLK` and
 *    revokes nothing; `file.hangup()` is the way to revoke from inside.
 *
 * @module
 */
import { checkDuration, checkOptions, checkString, expected, show } from '../internal/validate.js';
import type { Device } from './device.js';
import { DeviceError } from '../errors.js';
import { OPERATION_NAMES, type FileOperations } from './file-operations.js';
import { BIAS, Generation, type NodeCore } from './generation.js';
import { OpenFile } from './open-file.js';
import { isInside, reentrancyTracker } from './reentrancy.js';

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

// Module-private door: DevFs makes nodes, nothing else does.
let makeNode: (path: string, operations: FileOperations<unknown>, device: Device | null, unlink: () => void) => DeviceNode;

/**
 * A device node: a path in a {@link DevFs} with the driver's file operations behind it.
 *
 * @example
 * ```ts
 * const node = devfs.create('/dev/null', { read: () => null, write: (_f, data) => data.length });
 * await node.revoke();   // every file open on it now is revoked; the node stays
 * await node.remove();   // revoked, and its path is free again
 * ```
 */
export class DeviceNode {
  readonly #core: NodeCore;
  #generation: Generation;
  #removed: Promise<number> | undefined;
  readonly #unlink: () => void;

  /** @internal Use `devfs.create()` or `device.managed.node()`. */
  constructor(core: NodeCore, unlink: () => void) {
    this.#core = core;
    this.#unlink = unlink;
    this.#generation = new Generation(core, this.#renew);
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
    return this.#generation.count < 0 ? 'revoking' : 'live';
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
    checkOptions(options);
    const timeout = checkDuration(options?.timeout, 'options.timeout', Infinity);
    if (isInside(this.#core)) return Promise.reject(this.#deadlock('revoke'));
    return this.#generation.revoke(timeout);
  }

  /**
   * Removes the node: its path leaves the namespace at once (opens fail `ENOENT`) and every open
   * file is revoked as by {@link DeviceNode.revoke}. Idempotent. Resolves with the number of files
   * released by the removal. Rejects `EDEADLK` from inside an operation of this node.
   */
  remove(options?: NodeRevokeOptions): Promise<number> {
    checkOptions(options);
    const timeout = checkDuration(options?.timeout, 'options.timeout', Infinity);
    if (this.#removed !== undefined) return this.#generation.revoke(timeout).then(zero);
    if (isInside(this.#core)) return Promise.reject(this.#deadlock('remove'));
    this.#removed = this.#generation.revoke(Infinity);
    this.#unlink();
    return timeout === Infinity ? this.#removed : this.#generation.revoke(timeout).then(() => this.#removed as Promise<number>);
  }

  /** @internal Opens a file on the current generation. */
  open(): Promise<OpenFile> {
    const generation = this.#generation;
    if (this.#removed !== undefined) return Promise.reject(new DeviceError('ENOENT', `no device node "${this.path}"`, { path: this.path }));
    if (generation.count < 0) return Promise.reject(new DeviceError('ENODEV', `device node "${this.path}" is being revoked`, { path: this.path }));
    const file = new OpenFile(generation);
    const operations = this.#core.operations;
    const open = operations.open;
    if (open === undefined) {
      file.opened();
      return Promise.resolve(file);
    }
    // The open is an operation: a revoke that starts meanwhile waits for it, then releases the file.
    generation.count++;
    const core = this.#core;
    const tracker = reentrancyTracker();
    let result: unknown;
    core.depth++;
    try {
      result = tracker === undefined ? open.call(operations, file.driverFile) : tracker.wrap(core, () => open.call(operations, file.driverFile));
    } catch (error) {
      core.depth--;
      file.openFailed();
      this.#exit(generation);
      return Promise.reject(error);
    }
    core.depth--;
    const finish = (): Promise<OpenFile> => {
      file.opened();
      const revoked = generation.count < 0;
      this.#exit(generation);
      // Opened but revoked meanwhile: the revoke releases it; the user never gets it.
      if (revoked) return Promise.reject(new DeviceError('ENODEV', `device node "${this.path}" was revoked during open`, { path: this.path }));
      return Promise.resolve(file);
    };
    if (!isPromiseLike(result)) return finish();
    return Promise.resolve(result).then(finish, (error: unknown) => {
      file.openFailed();
      this.#exit(generation);
      throw error;
    });
  }

  #exit(generation: Generation): void {
    if (--generation.count === BIAS) generation.drained();
  }

  /** A revoke of the current generation finished: later opens get a fresh one (unless removed). */
  readonly #renew = (old: Generation): void => {
    if (this.#removed === undefined && this.#generation === old) this.#generation = new Generation(this.#core, this.#renew);
  };

  #deadlock(what: string): DeviceError {
    return new DeviceError(
      'EDEADLK',
      `${what} of device node "${this.path}" called from inside one of its file operations would wait for that operation forever; call file.hangup() there to revoke without waiting`,
      { path: this.path },
    );
  }

  static {
    makeNode = (path, operations, device, unlink) => {
      const core: NodeCore = {
        path,
        device,
        operations,
        depth: 0,
        hangup: () => {
          node.#generation.revoke(Infinity).catch(reportAsync);
        },
      };
      const node = new DeviceNode(core, unlink);
      return node;
    };
  }
}

const zero = (): number => 0;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

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
 * A namespace of device nodes (`/dev`): create nodes, open files on them, revoke by path.
 *
 * @example
 * ```ts
 * const devfs = new DevFs();
 * devfs.create('/dev/zero', { read: (_file, length) => new Uint8Array(length as number) });
 * const file = await devfs.open('/dev/zero');
 * (await file.read(4)) as Uint8Array;  // => Uint8Array(4) [0, 0, 0, 0]
 * await devfs.revoke('/dev/zero');     // => 1: that file was released
 * await file.read(4);                  // => null
 * ```
 */
export class DevFs {
  readonly #nodes = new Map<string, DeviceNode>();

  /**
   * Creates a node at `path` with the driver's `operations`. Throws `EEXIST` if the path is taken.
   * Drivers use `device.managed.node(path, operations)`, which removes the node at unbind.
   */
  create<Private = unknown>(path: string, operations: FileOperations<Private>, options?: CreateNodeOptions): DeviceNode {
    checkString(path, 'path');
    checkOperations(operations);
    checkOptions(options);
    const device = options?.device;
    if (device !== undefined && (typeof device !== 'object' || device === null)) throw expected('a Device or undefined', 'options.device', device);
    if (this.#nodes.has(path)) throw new DeviceError('EEXIST', `device node "${path}" already exists`, { path });
    const node = makeNode(path, operations as FileOperations<unknown>, device ?? null, () => {
      if (this.#nodes.get(path) === node) this.#nodes.delete(path);
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
    return node.open();
  }

  /**
   * revoke(2) by path: see {@link DeviceNode.revoke}. Rejects `ENOENT` if there is no node there,
   * `EDEADLK` from inside one of the node's operations.
   */
  revoke(path: string, options?: NodeRevokeOptions): Promise<number> {
    checkString(path, 'path');
    checkOptions(options);
    const node = this.#nodes.get(path);
    if (node === undefined) return Promise.reject(new DeviceError('ENOENT', `no device node "${path}"`, { path }));
    return node.revoke(options);
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
}

function checkOperations(operations: unknown): void {
  if (typeof operations !== 'object' || operations === null || Array.isArray(operations)) {
    throw expected('an object of file operations', 'operations', operations);
  }
  for (const name of OPERATION_NAMES) {
    const fn = (operations as Record<string, unknown>)[name];
    if (fn !== undefined && typeof fn !== 'function') {
      throw new TypeError(`Expected \`operations.${name}\` to be a function or undefined, got ${show(fn)}`);
    }
  }
}
