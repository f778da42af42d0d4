/**
 * The errors of `revocable`, all in one place: the core's, the scope's, debug mode's and the driver
 * model's. Each failure a caller may want to catch has its own class and a Node-style `code`, so
 * `catch (e) { if (e.code === 'ENODEV') ... }` works across packages and realms where `instanceof`
 * does not.
 *
 * Invariants:
 * 1. One class per failure: the same failure (a use after release, say) is the same class wherever
 *    it is detected.
 * 2. Bad arguments from untyped callers are `TypeError`/`RangeError`, never one of these.
 * 3. This module imports nothing of the library but `internal/`: every other module may use it.
 *
 * @module
 */
import { show } from './internal/validate.js';

/** Names a resource in messages: `Revocable "ttyUSB0"`, or `Revocable` when it has no name. */
export function describeName(kind: string, name: string | undefined): string {
  return name === undefined ? kind : `${kind} "${name}"`;
}

/**
 * The resource is gone: its provider was revoked (the device was unplugged), or the handle used to
 * reach it was closed. Thrown by `access()`, `with()`, `handle()` and proxy operations; given as the
 * `reason` of every in-flight access's `signal` when the revoke starts.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable, RevokedError } from 'revocable';
 *
 * const provider = new Revocable({ write: (data: string) => data.length }, { name: 'ttyUSB0' });
 * const handle = provider.handle();
 * await provider.revoke(); // unplugged
 * assert.throws(
 *   () => handle.with((port) => port.write('hello')),
 *   (error) => error instanceof RevokedError && error.code === 'ENODEV' && error.message === 'Revocable "ttyUSB0" was revoked',
 * );
 * ```
 */
export class RevokedError extends Error {
  /** Always `'ENODEV'`: no such device, as the kernel reports for a removed one. */
  readonly code = 'ENODEV' as const;
  /** The name of the provider whose resource is gone, if it has one. */
  readonly resourceName: string | undefined;

  constructor(message: string, options?: { resourceName?: string | undefined; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RevokedError';
    this.resourceName = options?.resourceName;
  }
}

/** Where a holder of an access (or handle, file, ...) was taken, when debug mode recorded it. */
export interface Holder {
  /** What is held: `'access'`, `'open file'`, ... */
  readonly kind: string;
  /** The stack at the point it was taken (debug mode only). */
  readonly stack: string;
}

/**
 * A revoke's drain did not finish within its `timeout`: some users still hold the resource.
 *
 * Nothing was released (nothing is torn down under a live user). The provider stays revoking: no new
 * access succeeds, the drain goes on, and the release runs when the last holder lets go; a later
 * `revoke()` waits for that again.
 */
export class DrainTimeoutError extends Error {
  /** Always `'ERR_DRAIN_TIMEOUT'`. */
  readonly code = 'ERR_DRAIN_TIMEOUT' as const;
  /** The name of the provider whose drain timed out, if it has one. */
  readonly resourceName: string | undefined;
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;
  /** How many accesses were still held when the timeout passed. */
  readonly pending: number;
  /** Where each of them was taken; empty unless debug mode recorded them. */
  readonly holders: readonly Holder[];

  constructor(what: string, timeout: number, pending: number, holders: readonly Holder[], resourceName?: string) {
    const list = holders.length === 0 ? '' : `:\n${holders.map((h) => `  - ${h.kind} taken at\n${indent(h.stack, 6)}`).join('\n')}`;
    super(`${what} did not drain within ${timeout} ms: ${pending} ${pending === 1 ? 'user' : 'users'} still ${pending === 1 ? 'holds' : 'hold'} it${list}`);
    this.name = 'DrainTimeoutError';
    this.resourceName = resourceName;
    this.timeout = timeout;
    this.pending = pending;
    this.holders = holders;
  }
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text.split('\n').map((line) => pad + line.trim()).join('\n');
}

/**
 * Something was used after its release: a reference taken on a count already at zero, a count
 * put below zero, a dropped {@link Ref} cloned or read, a released scope entry read. These are
 * bugs in the caller (the kernel reports them as "use-after-free"); the error names the object.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Kref, UseAfterReleaseError } from 'revocable';
 *
 * const kref = new Kref(() => {});
 * kref.put(); // the last reference: released
 * assert.throws(() => kref.get(), (error) => error instanceof UseAfterReleaseError && error.code === 'ERR_USE_AFTER_RELEASE');
 * ```
 */
export class UseAfterReleaseError extends ReferenceError {
  /** Always `'ERR_USE_AFTER_RELEASE'`. */
  readonly code = 'ERR_USE_AFTER_RELEASE' as const;

  constructor(message: string) {
    super(message);
    this.name = 'UseAfterReleaseError';
  }
}

/**
 * A revoke was awaited from inside an access to the same provider: the access waits for the revoke,
 * the revoke for the access. The revoke itself goes on and completes once the access ends.
 */
export class RevokeDeadlockError extends Error {
  /** Always `'ERR_REVOKE_DEADLOCK'`. */
  readonly code = 'ERR_REVOKE_DEADLOCK' as const;
  /** Where the access that the awaiting code is inside was taken. */
  readonly accessStack: string;
  /** Where the revoke was called. */
  readonly revokeStack: string;

  constructor(what: string, accessStack: string, revokeStack: string) {
    super(
      `${what}: a revoke was awaited from inside an access to the same provider, and would wait for itself forever. ` +
        `Start the revoke without awaiting it there (it completes when the access ends).\n` +
        `  the access was taken at:\n${indent(accessStack, 6)}\n  the revoke was called at:\n${indent(revokeStack, 6)}`,
    );
    this.name = 'RevokeDeadlockError';
    this.accessStack = accessStack;
    this.revokeStack = revokeStack;
  }
}

/**
 * Something was added to a scope that is no longer open (disposing or disposed), through the devres
 * side of `ResourceScope` (`add`, `getOrAdd`, groups, a managed form bound with `{ scope }`): a
 * `ReferenceError` for use after dispose, with a code. For `add()` the value was released instead
 * (the kernel's `devm_add_action_or_reset`): `released` settles when that release has finished and
 * rejects with what it threw; elsewhere nothing was called and `released` is already resolved. The
 * standard's methods (`use`, `adopt`, `defer`, `move`) throw a plain `ReferenceError`, as the
 * standard says, with the same `code`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ResourceScope, ScopeDisposedError } from 'revocable';
 *
 * const port = { open: true, close() { this.open = false; } };
 * const scope = new ResourceScope({ name: 'sensor0' });
 * await scope.disposeAsync();
 * try {
 *   scope.add(port, (p) => p.close());
 * } catch (error) {
 *   assert.ok(error instanceof ScopeDisposedError);
 *   await error.released;
 * }
 * assert.equal(port.open, false); // closed instead of added
 * ```
 */
export class ScopeDisposedError extends ReferenceError {
  /** Always `'ERR_SCOPE_DISPOSED'`. */
  readonly code = 'ERR_SCOPE_DISPOSED' as const;
  /** The name of the scope, if it has one. */
  readonly scopeName: string | undefined;
  /** Settles when the value that could not be added has been released. Never unhandled by itself. */
  readonly released: Promise<void>;

  constructor(message: string, scopeName: string | undefined, released: Promise<void>) {
    super(message);
    this.name = 'ScopeDisposedError';
    this.scopeName = scopeName;
    this.released = released;
  }
}

/**
 * `closeGroup`, `removeGroup` or `releaseGroup` named a group the scope does not have (never
 * opened, already removed or released; with the id omitted: no group is open), or `closeGroup`
 * named one already closed. The kernel warns and carries on; here it is a bug worth stopping for.
 */
export class GroupNotFoundError extends Error {
  /** Always `'ERR_GROUP_NOT_FOUND'`. */
  readonly code = 'ERR_GROUP_NOT_FOUND' as const;
  /** The id asked for; `undefined` for "the newest open group". */
  readonly id: unknown;

  constructor(scopeName: string | undefined, id: unknown, closed: boolean) {
    const scope = describeName('ResourceScope', scopeName);
    super(
      closed
        ? `${scope} has no open group ${show(id)}: it is already closed`
        : id === undefined
          ? `${scope} has no open group`
          : `${scope} has no group ${show(id)}`,
    );
    this.name = 'GroupNotFoundError';
    this.id = id;
  }
}

// The driver model's errors.

/**
 * The codes a {@link DeviceError} carries, with the meaning Node and the kernel give them:
 *
 * - `ENODEV`: the device (or its driver) is gone, or the node is being revoked.
 * - `EIO`: a write to a file whose device was revoked.
 * - `ENOENT`: no device node at that path (never created, or removed by unbind).
 * - `EBUSY`: the object is already in use elsewhere (a device already on a bus, a driver already
 *   registered).
 * - `EEXIST`: the name or path is already taken.
 * - `EBADF`: the file was closed by its user.
 * - `EINVAL`: the driver does not implement that operation (`read`, `write`).
 * - `ENOTTY`: the driver does not implement `ioctl`.
 * - `EDEADLK`: the call would wait for itself (a revoke of a node from inside one of its operations).
 */
export type DeviceErrorCode = 'ENODEV' | 'EIO' | 'ENOENT' | 'EBUSY' | 'EEXIST' | 'EBADF' | 'EINVAL' | 'ENOTTY' | 'EDEADLK';

/**
 * A failure of the driver model, with a Node-style `code`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DevFs, DeviceError } from 'revocable/device';
 *
 * const devfs = new DevFs();
 * const error = await devfs.open('/dev/missing').catch((e: unknown) => e);
 * assert.ok(error instanceof DeviceError);
 * assert.equal(error.code, 'ENOENT');
 * assert.equal(error.path, '/dev/missing');
 * ```
 */
export class DeviceError extends Error {
  /** What went wrong, as Node and the kernel name it; see {@link DeviceErrorCode}. */
  readonly code: DeviceErrorCode;
  /** The device node's path, when the failure concerns one. */
  readonly path: string | undefined;

  constructor(code: DeviceErrorCode, message: string, options?: { path?: string | undefined; cause?: unknown }) {
    super(`${code}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeviceError';
    this.code = code;
    this.path = options?.path;
  }
}

/**
 * Thrown by a driver's `probe` when something it needs is not there yet (another device not bound,
 * a supplier not ready): the kernel's `-EPROBE_DEFER`. The device stays unbound, goes on the bus's
 * deferred list, and its probe is retried after another device binds on that bus.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Bus, Device, ProbeDeferError } from 'revocable/device';
 *
 * const clocks = new Map<unknown, object>(); // filled by the clock driver's probe
 * const bus = new Bus({ name: 'soc' });
 * await bus.register({
 *   name: 'uart',
 *   match: (device) => device.properties.kind === 'uart',
 *   probe(device) {
 *     if (!clocks.has(device.properties.clock)) throw new ProbeDeferError('clock not bound yet');
 *   },
 * });
 * const uart = new Device({ name: 'uart0', properties: { kind: 'uart', clock: 'clk0' } });
 * await bus.add(uart);
 * assert.equal(uart.state, 'unbound');
 * assert.deepEqual(bus.deferred, [uart]); // retried once another device binds on the bus
 * ```
 */
export class ProbeDeferError extends Error {
  /** Always `'EPROBE_DEFER'`, the kernel's name. */
  readonly code = 'EPROBE_DEFER' as const;

  constructor(message = 'probe deferred', options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbeDeferError';
  }
}

/** Whether `error` asks for a deferred probe: a {@link ProbeDeferError}, from any realm or copy. */
export function isProbeDefer(error: unknown): boolean {
  return error instanceof ProbeDeferError || (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EPROBE_DEFER');
}
