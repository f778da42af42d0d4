/**
 * A bus: matches drivers to devices, probes, and unbinds in the kernel's order. `add` is hot-plug,
 * `remove` is unplug, `register`/`unregister` bind and unbind a driver's devices.
 *
 * Invariants:
 * 1. Bus operations on one device run one at a time, in call order (a queue per device): an unplug
 *    during a probe waits for the probe and then unbinds.
 * 2. A device is bound to at most one driver; only devices on the bus and `'unbound'` are probed,
 *    only with registered drivers.
 * 3. A failed probe leaves the device `'unbound'`, sets `device.probeError` and dispatches
 *    `'probe-error'`; `add` and `register` never reject for it.
 * 4. A probe that throws `ProbeDeferError` puts the device on the deferred list; every successful
 *    bind on the bus triggers one more retry round of that list. A round that binds nothing
 *    triggers none, so a driver that always defers cannot make the bus spin.
 * 5. `remove` removes a device's children (newest first) before the device itself.
 * 6. Starting an unbind from inside the device's own managed callback, file operation, probe or
 *    `remove()` is legitimate (the hardware vanished: remove the device); it completes after that
 *    call has returned. *Awaiting* it there would wait for itself: a `timeout` bounds the drain.
 *
 * @module
 */
import { DrainTimeoutError } from '../errors.js';
import { checkDuration, checkOptions, checkString, expected } from '../internal/validate.js';
import { isThenable } from '../internal/promise.js';
import { Binding, chain } from './binding.js';
import { DevFs } from './devfs.js';
import { Device, DeviceEvent, deviceInternals as internals, type DeviceEventType } from './device.js';
import { checkDriver, type Driver } from './driver.js';
import { DeviceError } from '../errors.js';

/** Options of `new Bus()`. */
export interface BusOptions {
  /** The bus's name: `'usb'`. */
  name: string;
  /** Where `device.managed.node()` creates device nodes. Without one, drivers cannot make nodes. */
  devfs?: DevFs;
  /**
   * Default `timeout` of `remove` and `unregister`, in milliseconds: how long to wait for managed
   * callbacks and file operations to drain. Default: `Infinity`.
   */
  timeout?: number;
}

/** Options of `bus.remove()` and `bus.unregister()`. */
export interface UnbindOptions {
  /**
   * Milliseconds to wait for managed callbacks and file operations in flight to drain. When it
   * passes with some still running, the promise rejects with `DrainTimeoutError`; the unbind goes
   * on, and completes when they end. Default: the bus's `timeout`.
   */
  timeout?: number;
}

/**
 * A bus of devices and drivers.
 *
 * @example
 * ```ts
 * const devfs = new DevFs();
 * const bus = new Bus({ name: 'usb', devfs });
 * await bus.register(sensorDriver);
 * const sensor = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
 * await bus.add(sensor);      // matched and probed: sensor.state === 'bound'
 * await bus.remove(sensor);   // unbound in order, then removed: sensor.state === 'removed'
 * ```
 */
export class Bus extends EventTarget {
  readonly name: string;
  /** Where drivers' device nodes go, or `null`. */
  readonly devfs: DevFs | null;
  readonly #timeout: number;
  /** Registered drivers, in registration order. A live set: a probe loop sees drivers added meanwhile. */
  readonly #drivers = new Set<Driver>();
  /** Devices on the bus by name; a device leaves at the start of its removal. */
  readonly #devices = new Map<string, Device>();
  /** Devices whose last probe was deferred. */
  readonly #deferred = new Set<Device>();
  /** Devices removed from this bus (their removal may still be running). */
  readonly #departed = new WeakSet<Device>();
  /** Successful binds so far: a retry round runs while this moves. */
  #binds = 0;
  #retrying: Promise<void> | null = null;

  constructor(options: BusOptions) {
    super();
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw expected('an object of options ({ name, devfs?, timeout? })', 'options', options);
    }
    checkString(options.name, 'options.name');
    if (options.devfs !== undefined && !(options.devfs instanceof DevFs)) throw expected('a DevFs or undefined', 'options.devfs', options.devfs);
    this.#timeout = checkDuration(options.timeout, 'options.timeout', Infinity);
    this.name = options.name;
    this.devfs = options.devfs ?? null;
  }

  /** The devices on the bus, in the order they were added. */
  get devices(): Device[] {
    return [...this.#devices.values()];
  }

  /** The registered drivers, in registration order. */
  get drivers(): Driver[] {
    return [...this.#drivers];
  }

  /** The devices waiting for a deferred probe to be retried. */
  get deferred(): Device[] {
    return [...this.#deferred];
  }

  /**
   * Registers `driver` and probes it on every unbound device it matches. Resolves when those
   * probes have finished (failures are reported, not thrown). Rejects `EBUSY` if it is registered
   * already, `EEXIST` if another driver has its name.
   */
  register(driver: Driver): Promise<void> {
    checkDriver(driver);
    if (this.#drivers.has(driver)) return Promise.reject(new DeviceError('EBUSY', `driver "${driver.name}" is already registered on bus "${this.name}"`));
    for (const other of this.#drivers) {
      if (other.name === driver.name) return Promise.reject(new DeviceError('EEXIST', `a driver named "${driver.name}" is already registered on bus "${this.name}"`));
    }
    this.#drivers.add(driver);
    const only = [driver];
    return Promise.all([...this.#devices.values()].map((device) => internals.enqueue(device, () => this.#attach(device, only)))).then(nothing);
  }

  /**
   * Unregisters `driver`: no device binds to it any more, and every device bound to it is unbound
   * (in the order of the module's unbind sequence) and stays on the bus, unbound. Resolves when
   * those unbinds have finished; rejects with their failures (chained), after finishing them all.
   * Rejects `ENOENT` if the driver is not registered.
   */
  unregister(driver: Driver, options?: UnbindOptions): Promise<void> {
    if (typeof driver !== 'object' || driver === null) throw expected('a driver object', 'driver', driver);
    checkOptions(options);
    const timeout = checkDuration(options?.timeout, 'options.timeout', this.#timeout);
    if (!this.#drivers.has(driver)) return Promise.reject(new DeviceError('ENOENT', `driver "${String(driver.name)}" is not registered on bus "${this.name}"`));
    const affected = [...this.#devices.values()].filter((device) => internals.binding(device)?.driver === driver);
    this.#drivers.delete(driver);
    const unbinds = [...this.#devices.values()].map((device) =>
      internals.enqueue(device, async () => {
        const binding = internals.binding(device);
        if (binding === null || binding.driver !== driver || device.state !== 'bound') return [];
        return this.#unbind(device, binding);
      }),
    );
    const done = Promise.all(unbinds).then((results) => {
      const errors = results.flat();
      if (errors.length > 0) throw chain(errors[0], errors.slice(1), 'An error was suppressed while unbinding');
    });
    return bounded(done, `Unregister of driver "${driver.name}"`, () => affected, timeout);
  }

  /**
   * Hot-plug: adds `device` to the bus and probes it with the first registered driver that
   * matches and binds. Resolves when the probe has finished, whatever its outcome (a failure is
   * in `device.probeError` and a `'probe-error'` event). Rejects `EBUSY` if the device is on a bus
   * already, `EEXIST` if the bus has a device of that name, `ENODEV` if the device (or its parent)
   * was removed.
   */
  add(device: Device): Promise<void> {
    if (!(device instanceof Device)) throw expected('a Device', 'device', device);
    if (device.state === 'removed' || internals.removal(device) !== undefined) {
      return Promise.reject(new DeviceError('ENODEV', `device "${device.name}" was removed: create a new Device for the same hardware`));
    }
    if (device.bus !== null) return Promise.reject(new DeviceError('EBUSY', `device "${device.name}" is already on bus "${device.bus.name}"`));
    if (this.#devices.has(device.name)) return Promise.reject(new DeviceError('EEXIST', `bus "${this.name}" already has a device named "${device.name}"`));
    const parent = device.parent;
    if (parent !== null && (parent.state === 'removed' || internals.removal(parent) !== undefined)) {
      return Promise.reject(new DeviceError('ENODEV', `the parent "${parent.name}" of device "${device.name}" was removed`));
    }
    this.#devices.set(device.name, device);
    internals.setBus(device, this);
    internals.takeOwnReference(device);
    if (parent !== null) internals.children(parent).add(device);
    return internals.enqueue(device, () => this.#attach(device, this.#drivers));
  }

  /**
   * Unplug: removes `device` (its children first), unbinding it if bound (the module's unbind
   * sequence), then leaves it `'removed'` and drops the device's own reference. Resolves when
   * done; rejects with the unbind's failures (chained) after finishing it. Idempotent: a second
   * call returns the first's promise. Rejects `ENODEV` if the device is not on this bus.
   *
   * A driver may call it from inside the device's own callbacks (the hardware is gone): the unbind
   * then completes after that callback has returned, so the callback must not await it.
   */
  remove(device: Device, options?: UnbindOptions): Promise<void> {
    if (!(device instanceof Device)) throw expected('a Device', 'device', device);
    checkOptions(options);
    const timeout = checkDuration(options?.timeout, 'options.timeout', this.#timeout);
    const existing = internals.removal(device);
    if (existing !== undefined && this.#departed.has(device)) return bounded(existing, `Removal of device "${device.name}"`, () => family(device), timeout);
    if (this.#devices.get(device.name) !== device) return Promise.reject(new DeviceError('ENODEV', `device "${device.name}" is not on bus "${this.name}"`));
    this.#devices.delete(device.name);
    this.#deferred.delete(device);
    this.#departed.add(device);
    const children = [...internals.children(device)].reverse().map((child) => child.bus?.remove(child) ?? internals.removal(child) ?? Promise.resolve());
    const removal = internals.enqueue(device, async () => {
      const errors: unknown[] = [];
      for (const result of await Promise.allSettled(children)) if (result.status === 'rejected') errors.push(result.reason);
      const binding = internals.binding(device);
      if (binding !== null) errors.push(...(await this.#unbind(device, binding)));
      internals.setState(device, 'removed');
      internals.setBus(device, null);
      if (device.parent !== null) internals.children(device.parent).delete(device);
      this.#emit('removed', device, binding?.driver ?? null);
      try {
        internals.dropOwnReference(device);
      } catch (error) {
        errors.push(error);
      }
      if (errors.length > 0) throw chain(errors[0], errors.slice(1), 'An error was suppressed while removing');
    });
    internals.setRemoval(device, removal);
    return bounded(removal, `Removal of device "${device.name}"`, () => family(device), timeout);
  }

  /**
   * Resolves once every deferred-probe retry triggered so far has run (the kernel's
   * `wait_for_device_probe`). `add` and `register` do not wait for retries they trigger.
   */
  async settled(): Promise<void> {
    while (this.#retrying !== null) await this.#retrying;
  }

  /** Probes `device` with the first of `candidates` that matches and binds. Never rejects. */
  async #attach(device: Device, candidates: Iterable<Driver>): Promise<void> {
    for (const driver of candidates) {
      if (this.#devices.get(device.name) !== device || device.state !== 'unbound') return;
      if (!this.#drivers.has(driver)) continue;
      let matched: unknown;
      try {
        matched = driver.match(device);
        if (isThenable(matched)) throw new TypeError(`driver "${driver.name}": match() must be synchronous, it returned a promise`);
      } catch (error) {
        internals.setProbeError(device, error);
        this.#emit('probe-error', device, driver, error);
        continue;
      }
      if (!matched) continue;
      const binding = new Binding(device, driver, this.devfs);
      internals.setBinding(device, binding);
      internals.setState(device, 'probing');
      const outcome = await binding.probe();
      if (outcome.kind === 'bound') {
        internals.setProbeError(device, undefined);
        internals.setState(device, 'bound');
        this.#deferred.delete(device);
        this.#emit('bound', device, driver);
        this.#bound();
        return;
      }
      internals.setBinding(device, null);
      internals.setState(device, 'unbound');
      internals.setProbeError(device, outcome.error);
      if (outcome.kind === 'deferred') {
        if (this.#devices.get(device.name) === device) this.#deferred.add(device);
        this.#emit('probe-deferred', device, driver, outcome.error);
        return;
      }
      this.#emit('probe-error', device, driver, outcome.error);
    }
  }

  /** Runs the unbind sequence of a bound device; resolves with its failures. */
  async #unbind(device: Device, binding: Binding): Promise<unknown[]> {
    internals.setState(device, 'unbinding');
    const errors = await binding.unbind();
    internals.setBinding(device, null);
    internals.setState(device, 'unbound');
    this.#emit('unbound', device, binding.driver);
    return errors;
  }

  /** A device bound: retry the deferred probes (invariant 4). */
  #bound(): void {
    this.#binds++;
    this.#retrying ??= this.#retryDeferred();
  }

  async #retryDeferred(): Promise<void> {
    let seen = -1;
    try {
      for (;;) {
        // Let the bind that triggered this round finish its own task first.
        await Promise.resolve();
        if (seen === this.#binds || this.#deferred.size === 0) return;
        seen = this.#binds;
        const devices = [...this.#deferred];
        await Promise.all(devices.map((device) => internals.enqueue(device, () => this.#attach(device, this.#drivers))));
      }
    } finally {
      this.#retrying = null;
    }
  }

  #emit(type: DeviceEventType, device: Device, driver: Driver | null, error?: unknown): void {
    device.dispatchEvent(new DeviceEvent(type, device, driver, error));
    this.dispatchEvent(new DeviceEvent(type, device, driver, error));
  }
}

const nothing = (): void => {};

/** `device` and its descendants on buses. */
function family(device: Device): Device[] {
  const all = [device];
  for (let i = 0; i < all.length; i++) for (const child of internals.children(all[i] as Device)) all.push(child);
  return all;
}

/**
 * `done`, or a `DrainTimeoutError` if, when `timeout` passes, one of the devices' unbinds is still
 * draining callbacks or file operations. Once past the drains it waits in full.
 */
function bounded(done: Promise<void>, what: string, devices: () => Device[], timeout: number): Promise<void> {
  if (timeout === Infinity) return done;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      let pending = 0;
      let draining = false;
      for (const device of devices()) {
        const binding = internals.binding(device);
        if (binding !== null && binding.draining) {
          draining = true;
          pending += binding.pending;
        }
      }
      if (draining) reject(new DrainTimeoutError(what, timeout, pending, []));
    }, timeout);
    done.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
