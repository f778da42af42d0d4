/**
 * A bus: matches drivers to devices, probes, and unbinds in the kernel's order. `add` is hot-plug,
 * `remove` is unplug, `register`/`unregister` bind and unbind a driver's devices. The bus keeps
 * matching, deferral and events; each device keeps its own life (`device.ts`) and each binding
 * its unbind sequence (`binding.ts`).
 *
 * Invariants:
 * 1. Bus operations on one device run one at a time, in call order (a queue per device): an unplug
 *    during a probe waits for the probe and then unbinds.
 * 2. A device is bound to at most one driver; only devices on the bus and `'unbound'` are probed,
 *    only with registered drivers, and none whose removal has started.
 * 3. A failed probe leaves the device `'unbound'`, sets `device.probeError` and dispatches
 *    `'probe-error'`; `add` and `register` never reject for it.
 * 4. A probe that throws `ProbeDeferError` puts the device on the deferred list; every successful
 *    bind on the bus triggers one more retry round of that list. A round that binds nothing
 *    triggers none, so a driver that always defers cannot make the bus spin.
 * 5. `remove` removes a device's children (newest first) before the device itself.
 * 6. Starting an unbind from inside the device's own managed callback, file operation, probe or
 *    `remove()` is legitimate (the hardware vanished: remove the device); it completes after that
 *    call has returned. *Awaiting* it there would wait for itself: a `timeout` bounds the drain.
 * 7. Every argument is checked before any lookup or change, and each option is read once.
 *
 * @module
 */
import { DeviceError, DrainTimeoutError } from '../errors.js';
import { boundDrain } from '../internal/drain.js';
import { chainErrors, isThenable, noop } from '../internal/promise.js';
import { checkDuration, checkOptions, checkString, expected, isObjectArgument } from '../internal/validate.js';
import { Binding } from './binding.js';
import { DevFs } from './devfs.js';
import { Device, DeviceEvent, deviceLife as life, type DeviceEventType } from './device.js';
import { readDriver, type Driver, type DriverMethods } from './driver.js';

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
 * import assert from 'node:assert/strict';
 * import { Bus, Device, type Driver } from 'revocable/device';
 *
 * const bus = new Bus({ name: 'usb' });
 * const sensor = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
 * await bus.add(sensor);      // hot-plugged, with no driver for it yet
 * assert.equal(sensor.state, 'unbound');
 * const driver: Driver = { name: 'sensor', match: (device) => device.properties.kind === 'sensor', probe() {} };
 * await bus.register(driver); // matched and probed
 * assert.equal(sensor.state, 'bound');
 * await bus.remove(sensor);   // unbound in order, then removed
 * assert.equal(sensor.state, 'removed');
 * ```
 */
export class Bus extends EventTarget {
  /** The bus's name: `'usb'`. */
  readonly name: string;
  /** Where drivers' device nodes go, or `null`. */
  readonly devfs: DevFs | null;
  readonly #timeout: number;
  /** Registered drivers, read once at registration, by driver object. A live map: a probe loop sees drivers added meanwhile. */
  readonly #drivers = new Map<Driver, DriverMethods>();
  /** Devices on the bus by name; a device leaves at the start of its removal. */
  readonly #devices = new Map<string, Device>();
  /** Devices whose last probe was deferred. */
  readonly #deferred = new Set<Device>();
  /** Devices whose removal from this bus started (it may still be running). */
  readonly #departed = new WeakSet<Device>();
  /** Successful binds so far: a retry round runs while this moves. */
  #binds = 0;
  #retrying: Promise<void> | null = null;

  constructor(options: BusOptions) {
    super();
    if (!isObjectArgument(options)) throw expected('an object of options ({ name, devfs?, timeout? })', 'options', options);
    const { name, devfs, timeout } = options;
    checkString(name, 'options.name');
    if (devfs !== undefined && !(devfs instanceof DevFs)) throw expected('a DevFs or undefined', 'options.devfs', devfs);
    this.#timeout = checkDuration(timeout, 'options.timeout', Infinity);
    this.name = name;
    this.devfs = devfs ?? null;
  }

  /** The devices on the bus, in the order they were added. */
  get devices(): Device[] {
    return [...this.#devices.values()];
  }

  /** The registered drivers, in registration order. */
  get drivers(): Driver[] {
    return [...this.#drivers.keys()];
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
    const methods = readDriver(driver);
    if (this.#drivers.has(driver)) return Promise.reject(new DeviceError('EBUSY', `driver "${methods.name}" is already registered on bus "${this.name}"`));
    for (const other of this.#drivers.values()) {
      if (other.name === methods.name) return Promise.reject(new DeviceError('EEXIST', `a driver named "${methods.name}" is already registered on bus "${this.name}"`));
    }
    this.#drivers.set(driver, methods);
    const only = [methods];
    return Promise.all([...this.#devices.values()].map((device) => life.enqueue(device, () => this.#attach(device, only)))).then(noop);
  }

  /**
   * Unregisters `driver`: no device binds to it any more, and every device bound to it is unbound
   * (in the order of the module's unbind sequence) and stays on the bus, unbound. Resolves when
   * those unbinds have finished; rejects with their failures (chained), after finishing them all.
   * Rejects `ENOENT` if the driver is not registered.
   */
  unregister(driver: Driver, options?: UnbindOptions): Promise<void> {
    if (!isObjectArgument(driver)) throw expected('a driver object', 'driver', driver);
    const timeout = this.#unbindTimeout(options);
    const methods = this.#drivers.get(driver);
    if (methods === undefined) return Promise.reject(new DeviceError('ENOENT', `driver "${String((driver as { name?: unknown }).name)}" is not registered on bus "${this.name}"`));
    const affected = [...this.#devices.values()].filter((device) => life.binding(device)?.driver === driver);
    this.#drivers.delete(driver);
    const unbinds = [...this.#devices.values()].map((device) =>
      life.enqueue(device, async () => {
        const binding = life.binding(device);
        if (binding === null || binding.driver !== driver || device.state !== 'bound') return [];
        return this.#unbind(device, binding);
      }),
    );
    const done = Promise.all(unbinds).then((results) => {
      const errors = results.flat();
      if (errors.length > 0) throw chainErrors(errors, 'An error was suppressed while unbinding');
    });
    return bounded(done, `Unregister of driver "${methods.name}"`, () => affected, timeout);
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
    if (gone(device)) return Promise.reject(new DeviceError('ENODEV', `device "${device.name}" was removed: create a new Device for the same hardware`));
    if (device.bus !== null) return Promise.reject(new DeviceError('EBUSY', `device "${device.name}" is already on bus "${device.bus.name}"`));
    if (this.#devices.has(device.name)) return Promise.reject(new DeviceError('EEXIST', `bus "${this.name}" already has a device named "${device.name}"`));
    const parent = device.parent;
    if (parent !== null && gone(parent)) return Promise.reject(new DeviceError('ENODEV', `the parent "${parent.name}" of device "${device.name}" was removed`));
    this.#devices.set(device.name, device);
    life.plug(device, this);
    return life.enqueue(device, () => this.#attach(device, this.#drivers.values()));
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
    const timeout = this.#unbindTimeout(options);
    const started = life.removal(device);
    if (started !== null && this.#departed.has(device)) return bounded(started, `Removal of device "${device.name}"`, () => family(device), timeout);
    if (this.#devices.get(device.name) !== device) return Promise.reject(new DeviceError('ENODEV', `device "${device.name}" is not on bus "${this.name}"`));
    this.#devices.delete(device.name);
    this.#deferred.delete(device);
    this.#departed.add(device);
    const children = device.children.reverse().map((child) => child.bus?.remove(child) ?? life.removal(child) ?? Promise.resolve());
    const removal = life.enqueue(device, async () => {
      const errors: unknown[] = [];
      for (const result of await Promise.allSettled(children)) if (result.status === 'rejected') errors.push(result.reason);
      const binding = life.binding(device);
      if (binding !== null) errors.push(...(await this.#unbind(device, binding)));
      try {
        life.removed(device);
      } catch (error) {
        errors.push(error); // the device's release threw: it is removed all the same
      }
      this.#emit('removed', device, binding?.driver ?? null);
      if (errors.length > 0) throw chainErrors(errors, 'An error was suppressed while removing');
    });
    life.removing(device, removal);
    return bounded(removal, `Removal of device "${device.name}"`, () => family(device), timeout);
  }

  /**
   * Resolves once every deferred-probe retry triggered so far has run (the kernel's
   * `wait_for_device_probe`). `add` and `register` do not wait for retries they trigger.
   */
  async settled(): Promise<void> {
    while (this.#retrying !== null) await this.#retrying;
  }

  #unbindTimeout(options: UnbindOptions | undefined): number {
    checkOptions(options);
    return checkDuration(options?.timeout, 'options.timeout', this.#timeout);
  }

  /** Probes `device` with the first of `candidates` that matches and binds. Never rejects. */
  async #attach(device: Device, candidates: Iterable<DriverMethods>): Promise<void> {
    for (const methods of candidates) {
      if (this.#devices.get(device.name) !== device || device.state !== 'unbound' || life.removal(device) !== null) return;
      if (this.#drivers.get(methods.driver) !== methods) continue;
      let matched: unknown;
      try {
        matched = methods.match.call(methods.driver, device);
        if (isThenable(matched)) throw new TypeError(`driver "${methods.name}": match() must be synchronous, it returned a promise`);
      } catch (error) {
        life.probeFailed(device, error);
        this.#emit('probe-error', device, methods.driver, error);
        continue;
      }
      if (!matched) continue;
      const binding = new Binding(device, methods, this.devfs);
      life.probe(device, binding);
      const outcome = await binding.probe();
      if (outcome.kind === 'bound') {
        life.bound(device);
        this.#deferred.delete(device);
        this.#emit('bound', device, methods.driver);
        this.#bound();
        return;
      }
      life.unbound(device, outcome.error);
      if (outcome.kind === 'deferred') {
        if (this.#devices.get(device.name) === device) this.#deferred.add(device);
        this.#emit('probe-deferred', device, methods.driver, outcome.error);
        return;
      }
      this.#emit('probe-error', device, methods.driver, outcome.error);
    }
  }

  /** Runs the unbind sequence of a bound device; resolves with its failures. */
  async #unbind(device: Device, binding: Binding): Promise<unknown[]> {
    life.unbinding(device);
    const errors = await binding.unbind();
    life.unbound(device);
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
        await Promise.all(devices.map((device) => life.enqueue(device, () => this.#attach(device, this.#drivers.values()))));
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

/** Whether `device` was removed, or its removal has started. */
const gone = (device: Device): boolean => device.state === 'removed' || life.removal(device) !== null;

/** `device` and its descendants on buses. */
function family(device: Device): Device[] {
  const all = [device];
  for (let i = 0; i < all.length; i++) all.push(...(all[i] as Device).children);
  return all;
}

/**
 * `done`, or a `DrainTimeoutError` if, when `timeout` passes, one of the devices' unbinds is still
 * draining callbacks or file operations. Once past the drains it waits in full.
 */
function bounded(done: Promise<void>, what: string, devices: () => Device[], timeout: number): Promise<void> {
  if (timeout === Infinity) return done;
  const draining = (): number => {
    let pending = 0;
    let any = false;
    for (const device of devices()) {
      const binding = life.binding(device);
      if (binding !== null && binding.draining) {
        any = true;
        pending += binding.pending;
      }
    }
    return any ? Math.max(pending, 1) : 0;
  };
  return boundDrain(done, timeout, draining, (pending) => new DrainTimeoutError(what, timeout, pending, []));
}
