/**
 * A device: a piece of hardware (or anything that comes and goes) that a bus binds to a driver.
 *
 * Invariants:
 * 1. `state` goes `unbound` → `probing` → (`bound` → `unbinding` →) `unbound`, any number of
 *    times, and ends at `removed`; `removed` is final.
 * 2. `managed` and `driver` belong to the current binding: they exist from the start of a probe to
 *    the end of its unbind (or of its failure), and each probe gets a fresh `managed`.
 * 3. Bus operations on one device (probe, unbind, removal) run one at a time, in call order.
 * 4. The `Device` object is reference counted: the device holds its own reference from the first
 *    `bus.add` (or `ref()`) until its removal; `ref()` takes more. `release` runs once, when the
 *    last is dropped. A device never added and never referenced holds nothing.
 *
 * @module
 */
import { RefCounted, type Ref } from '../ref-counted.js';
import { checkOptionalFunction, checkOptions, checkString, expected } from '../internal/validate.js';
import type { Binding } from './binding.js';
import type { Bus } from './bus.js';
import type { Driver } from './driver.js';
import { DeviceError } from '../errors.js';
import type { DeviceScope } from './managed.js';

/** Where a device is in its life; see invariant 1. */
export type DeviceState = 'unbound' | 'probing' | 'bound' | 'unbinding' | 'removed';

/** Options of `new Device()`. */
export interface DeviceOptions {
  /** The device's name, unique on its bus: `'sensor0'`. */
  name: string;
  /** What drivers match on: `{ kind: 'sensor', vendor: 0x1234 }`. Copied and frozen. */
  properties?: Record<string, unknown>;
  /** The device this one hangs off (a port of a hub): removed before its parent. */
  parent?: Device;
  /** Runs once when the last reference to the device is dropped (after its removal). */
  release?: (device: Device) => void;
}

/** The events of devices and buses. */
export type DeviceEventType = 'bound' | 'unbound' | 'removed' | 'probe-error' | 'probe-deferred';

/**
 * An event of a device (dispatched on the device and on its bus): `'bound'` after a probe succeeded,
 * `'unbound'` after an unbind finished, `'removed'` after the device left its bus, `'probe-error'`
 * after a probe failed (the error is in `error`), `'probe-deferred'` after a probe asked to be
 * retried.
 *
 * @example
 * ```ts
 * bus.addEventListener('probe-error', (event) => {
 *   const { device, error } = event as DeviceEvent;
 *   console.error(`${device.name}: ${String(error)}`);
 * });
 * ```
 */
export class DeviceEvent extends Event {
  readonly device: Device;
  /** The driver of the binding the event is about, or `null` (for `'removed'` of an unbound device). */
  readonly driver: Driver | null;
  /** For `'probe-error'` and `'probe-deferred'`: what the probe threw. */
  readonly error: unknown;

  constructor(type: DeviceEventType, device: Device, driver: Driver | null, error?: unknown) {
    super(type);
    this.device = device;
    this.driver = driver;
    this.error = error;
  }
}

/** @internal The bus's doors into a device's private state. */
export interface DeviceInternals {
  setState(device: Device, state: DeviceState): void;
  binding(device: Device): Binding | null;
  setBinding(device: Device, binding: Binding | null): void;
  setBus(device: Device, bus: Bus | null): void;
  setProbeError(device: Device, error: unknown): void;
  /** Runs `task` after every task queued before it on this device (invariant 3). Never rejects unless `task` does. */
  enqueue<R>(device: Device, task: () => Promise<R>): Promise<R>;
  children(device: Device): Set<Device>;
  /** The removal in progress or done, if any. */
  removal(device: Device): Promise<void> | undefined;
  setRemoval(device: Device, removal: Promise<void>): void;
  /** Makes sure the device holds its own reference: it is in the system now. */
  takeOwnReference(device: Device): void;
  /** Drops the device's own reference: the device is gone from the system. */
  dropOwnReference(device: Device): void;
}

export let deviceInternals: DeviceInternals;

/**
 * A device. Create it, then hot-plug it with `bus.add(device)`: the bus matches it to a driver and
 * probes. `bus.remove(device)` unplugs it.
 *
 * @example
 * ```ts
 * const sensor = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
 * await bus.add(sensor);
 * sensor.state;        // => 'bound'
 * sensor.driver?.name; // => 'sensor'
 * await bus.remove(sensor);
 * sensor.state;        // => 'removed'
 * ```
 */
export class Device extends EventTarget {
  /** The device's name, unique on its bus. */
  readonly name: string;
  /** What drivers match on (frozen). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** The device this one hangs off, or `null`. */
  readonly parent: Device | null;
  #state: DeviceState = 'unbound';
  #binding: Binding | null = null;
  #bus: Bus | null = null;
  #data: unknown = undefined;
  #probeError: unknown = undefined;
  /** The device's own reference (invariant 4). */
  #own: OwnReference = NOT_YET;
  readonly #release: ((device: Device) => void) | undefined;
  /** The tail of the queue of bus operations on this device. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Children added to a bus and not removed yet. */
  readonly #children = new Set<Device>();
  #removal: Promise<void> | undefined;

  constructor(options: DeviceOptions) {
    super();
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw expected('an object of options ({ name, properties?, parent?, release? })', 'options', options);
    }
    checkString(options.name, 'options.name');
    checkOptions(options.properties, 'options.properties');
    if (options.parent !== undefined && !(options.parent instanceof Device)) throw expected('a Device or undefined', 'options.parent', options.parent);
    checkOptionalFunction(options.release, 'options.release');
    this.name = options.name;
    this.properties = Object.freeze({ ...options.properties });
    this.parent = options.parent ?? null;
    this.#release = options.release;
  }

  /** `'unbound'`, `'probing'`, `'bound'`, `'unbinding'` or `'removed'`. */
  get state(): DeviceState {
    return this.#state;
  }

  /** The driver bound (or binding, or unbinding), or `null`. */
  get driver(): Driver | null {
    return this.#binding?.driver ?? null;
  }

  /** The bus the device is on, or `null` (before `bus.add`, after `bus.remove`). */
  get bus(): Bus | null {
    return this.#bus;
  }

  /** The devices added with this one as their parent and not removed yet. */
  get children(): Device[] {
    return [...this.#children];
  }

  /**
   * Driver data (`dev_get_drvdata`): whatever the driver keeps for the binding. Cleared when the
   * binding ends.
   */
  get data(): unknown {
    return this.#data;
  }

  set data(value: unknown) {
    this.#data = value;
  }

  /** What the last failed probe threw (`undefined` after a probe succeeds). */
  get probeError(): unknown {
    return this.#probeError;
  }

  /**
   * The managed resources of the current binding (the kernel's devres list, plus helpers whose
   * callbacks stop at unbind). Throws `ENODEV` when the device is not bound (nor probing or
   * unbinding): managed resources belong to a binding.
   */
  get managed(): DeviceScope {
    const binding = this.#binding;
    if (binding === null) throw new DeviceError('ENODEV', `device "${this.name}" has no driver bound: managed resources belong to a binding`);
    return binding.scope;
  }

  /**
   * Takes a counted reference to this device (`get_device`): the object stays usable (name,
   * state, events) after unplug while the reference is held; what was reached through its driver
   * fails `ENODEV` then. Drop it with `ref.dispose()` or `using`.
   *
   * Throws `ENODEV` once the device was removed: take more references by `clone()`-ing one you hold.
   *
   * @example
   * ```ts
   * using ref = device.ref();
   * await bus.remove(device);
   * ref.value.state; // => 'removed'
   * ```
   */
  ref(): Ref<Device> {
    if (this.#own.kind === 'dropped') throw new DeviceError('ENODEV', `device "${this.name}" was removed: clone a reference you hold instead`);
    return this.#ownReference().clone();
  }

  #ownReference(): Ref<Device> {
    const own = this.#own;
    if (own.kind === 'held') return own.ref;
    const release = this.#release;
    const ref = RefCounted.create<Device>(this, (device) => release?.(device), { name: this.name });
    this.#own = { kind: 'held', ref };
    return ref;
  }

  static {
    deviceInternals = {
      setState: (device, state) => {
        device.#state = state;
      },
      binding: (device) => device.#binding,
      setBinding: (device, binding) => {
        device.#binding = binding;
        if (binding === null) device.#data = undefined;
      },
      setBus: (device, bus) => {
        device.#bus = bus;
      },
      setProbeError: (device, error) => {
        device.#probeError = error;
      },
      enqueue: <R>(device: Device, task: () => Promise<R>): Promise<R> => {
        const run = device.#queue.then(task);
        device.#queue = run.then(ignore, ignore);
        return run;
      },
      children: (device) => device.#children,
      removal: (device) => device.#removal,
      setRemoval: (device, removal) => {
        device.#removal = removal;
      },
      takeOwnReference: (device) => {
        device.#ownReference();
      },
      dropOwnReference: (device) => {
        const own = device.#own;
        device.#own = DROPPED;
        if (own.kind === 'held') own.ref.dispose();
      },
    };
  }
}

const ignore = (): void => {};

type OwnReference = { readonly kind: 'not yet' } | { readonly kind: 'held'; readonly ref: Ref<Device> } | { readonly kind: 'dropped' };
const NOT_YET: OwnReference = { kind: 'not yet' };
const DROPPED: OwnReference = { kind: 'dropped' };
