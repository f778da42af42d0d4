/**
 * The errors of the driver model. Each carries a Node-style `code`, so callers can branch on
 * `error.code` across packages and realms, the way they do for `fs` and `net` errors.
 *
 * Invariants:
 * 1. Every failure of a file operation, a device node or a bus operation that is not a bad argument
 *    is a {@link DeviceError} with one of the codes of {@link DeviceErrorCode}.
 * 2. Bad arguments from untyped callers are `TypeError`/`RangeError`, never a `DeviceError`.
 * 3. {@link ProbeDeferError} is thrown by drivers, never by the library: it asks for a retry.
 *
 * @module
 */

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
 * try { await devfs.open('/dev/missing'); }
 * catch (error) { if (error instanceof DeviceError) console.log(error.code); } // => 'ENOENT'
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
 * async probe(device) {
 *   const clock = clocks.get(device.properties.clock);
 *   if (clock === undefined) throw new ProbeDeferError('clock not bound yet');
 * }
 * ```
 */
export class ProbeDeferError extends Error {
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
