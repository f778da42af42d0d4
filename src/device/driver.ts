/**
 * What a driver is: a plain object the bus matches to devices and calls to bind and unbind them.
 *
 * Invariants:
 * 1. `probe(device)` runs with `device.state === 'probing'` and a fresh `device.managed`; what it
 *    acquires through `device.managed` is released, newest-first, if it throws.
 * 2. `remove(device)` runs only for a device whose `probe` succeeded, after every managed callback
 *    has stopped and every device node of the binding was revoked, and before the managed
 *    resources are released: the driver's data is still valid in it.
 *
 * @module
 */
import { checkOptionalFunction, checkString, expected, show } from '../internal/validate.js';
import type { Device } from './device.js';

/**
 * A driver, as a plain object.
 *
 * - `name`: unique on its bus.
 * - `match(device)`: whether this driver handles `device` (synchronous; look at
 *   `device.properties`).
 * - `probe(device)`: binds to the device, acquiring through `device.managed`; may be async. Throw
 *   (or reject) to fail: everything acquired is released and the device stays unbound; throw a
 *   `ProbeDeferError` to be retried after another device binds.
 * - `remove(device)`: optional; quiesces the hardware at unbind. Managed resources are released
 *   after it, so most drivers need none.
 *
 * @example
 * ```ts
 * const driver: Driver = {
 *   name: 'sensor',
 *   match: (device) => device.properties.kind === 'sensor',
 *   async probe(device) {
 *     device.managed.interval(() => poll(device), 100);
 *   },
 * };
 * ```
 */
export interface Driver {
  readonly name: string;
  match(device: Device): boolean;
  probe(device: Device): unknown;
  remove?(device: Device): unknown;
}

/** Throws a `TypeError` naming what is wrong unless `driver` has the shape of a {@link Driver}. */
export function checkDriver(driver: unknown): asserts driver is Driver {
  if (typeof driver !== 'object' || driver === null || Array.isArray(driver)) {
    throw expected('a driver object ({ name, match, probe, remove? })', 'driver', driver);
  }
  const d = driver as Record<string, unknown>;
  checkString(d.name, 'driver.name');
  if (typeof d.match !== 'function') throw new TypeError(`Expected \`driver.match\` to be a function, got ${show(d.match)}`);
  if (typeof d.probe !== 'function') throw new TypeError(`Expected \`driver.probe\` to be a function, got ${show(d.probe)}`);
  checkOptionalFunction(d.remove, 'driver.remove');
}
