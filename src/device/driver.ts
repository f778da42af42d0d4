/**
 * What a driver is: a plain object the bus matches to devices and calls to bind and unbind them.
 *
 * Invariants:
 * 1. `probe(device)` runs with `device.state === 'probing'` and a fresh `device.managed`; what it
 *    acquires through `device.managed` is released, newest-first, if it throws.
 * 2. `remove(device)` runs only for a device whose `probe` succeeded, after every managed callback
 *    has stopped and every device node of the binding was revoked, and before the managed
 *    resources are released: the driver's data is still valid in it.
 * 3. A driver's methods are read once, at `bus.register`; each is called with the driver as `this`.
 *
 * @module
 */
import { checkOptionalFunction, checkString, expected, isObjectArgument, show } from '../internal/validate.js';
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
 * import assert from 'node:assert/strict';
 * import { Bus, Device, type Driver } from 'revocable/device';
 *
 * const driver: Driver = {
 *   name: 'sensor',
 *   match: (device) => device.properties.kind === 'sensor',
 *   async probe(device) {
 *     device.managed.interval(() => device.dispatchEvent(new Event('poll')), 100); // stops at unbind
 *   },
 * };
 * const bus = new Bus({ name: 'usb' });
 * await bus.register(driver);
 * const sensor = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
 * await bus.add(sensor);
 * assert.equal(sensor.driver, driver);
 * await bus.remove(sensor); // the interval is cleared: the process can exit
 * ```
 */
export interface Driver {
  /** Unique on its bus. */
  readonly name: string;
  /** Whether this driver handles `device` (synchronous; look at `device.properties`). */
  match(device: Device): boolean;
  /** Binds to the device, acquiring through `device.managed`; throw (or reject) to fail. */
  probe(device: Device): unknown;
  /** Quiesces the hardware at unbind, before the managed resources are released. */
  remove?(device: Device): unknown;
}

type Method = (this: Driver, device: Device) => unknown;

/** @internal A driver's methods, read once when it is registered: what the bus calls later is what was checked. */
export interface DriverMethods {
  readonly driver: Driver;
  readonly name: string;
  readonly match: Method;
  readonly probe: Method;
  readonly remove: Method | undefined;
}

/** Reads and checks `driver` once; a `TypeError` names what is wrong unless it has the shape of a {@link Driver}. */
export function readDriver(driver: unknown): DriverMethods {
  if (!isObjectArgument(driver)) throw expected('a driver object ({ name, match, probe, remove? })', 'driver', driver);
  const { name, match, probe, remove } = driver as Record<string, unknown>;
  checkString(name, 'driver.name');
  if (typeof match !== 'function') throw new TypeError(`Expected \`driver.match\` to be a function, got ${show(match)}`);
  if (typeof probe !== 'function') throw new TypeError(`Expected \`driver.probe\` to be a function, got ${show(probe)}`);
  checkOptionalFunction(remove, 'driver.remove');
  return { driver: driver as Driver, name, match: match as Method, probe: probe as Method, remove: remove as Method | undefined };
}
