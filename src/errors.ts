/**
 * The errors of `revocable`. Each failure a caller may want to catch has its own class and a
 * Node-style `code`, so `catch (e) { if (e.code === 'ENODEV') ... }` works across packages and
 * realms where `instanceof` does not.
 *
 * @module
 */

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
 * try { await handle.with((port) => port.write(buf)); }
 * catch (error) { if (error instanceof RevokedError) console.log(error.code); } // => 'ENODEV'
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
  readonly code = 'ERR_DRAIN_TIMEOUT' as const;
  /** The name of the provider whose drain timed out, if it has one. */
  readonly resourceName: string | undefined;
  /** How many accesses were still held when the timeout passed. */
  readonly pending: number;
  /** Where each of them was taken; empty unless debug mode recorded them. */
  readonly holders: readonly Holder[];

  constructor(what: string, timeout: number, pending: number, holders: readonly Holder[], resourceName?: string) {
    const list = holders.length === 0 ? '' : `:\n${holders.map((h) => `  - ${h.kind} taken at\n${indent(h.stack, 6)}`).join('\n')}`;
    super(`${what} did not drain within ${timeout} ms: ${pending} ${pending === 1 ? 'user' : 'users'} still ${pending === 1 ? 'holds' : 'hold'} it${list}`);
    this.name = 'DrainTimeoutError';
    this.resourceName = resourceName;
    this.pending = pending;
    this.holders = holders;
  }
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text.split('\n').map((line) => pad + line.trim()).join('\n');
}
