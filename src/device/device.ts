/**
 * A device: a piece of hardware (or anything that comes and goes) that a bus binds to a driver.
 * The device owns its life: one tagged union, changed only by the checked transitions of
 * {@link deviceLife}, each of which refuses an illegal move.
 *
 * Invariants:
 * 1. `state` goes `unbound` → `probing` → (`bound` → `unbinding` →) `unbound`, any number of
 *    times, and ends at `removed`; `removed` is final. A device is on one bus from `bus.add` until
 *    it is removed.
 * 2. `managed` and `driver` belong to the current binding: they exist from the start of a probe to
 *    the end of its unbind (or of its failure), and each probe gets a fresh binding.
 * 3. Bus operations on one device (probe, unbind, removal) run one at a time, in call order.
 * 4. A removal, once started, is the device's own (`removal` in its life, the one source of truth):
 *    the device takes no new binding, and ends `removed` when the removal's task has run.
 * 5. The `Device` object is reference counted: the device holds its own reference from `bus.add`
 *    (or the first `ref()`) until its removal; `ref()` takes more. `release` runs once, when the
 *    last is dropped. A device never added and never referenced holds nothing.
 *
 * @module
 */
import { DeviceError } from '../errors.js';
import { noop } from '../internal/promise.js';
import { checkOptionalFunction, checkOptions, checkString, expected, isObjectArgument } from '../internal/validate.js';
import { RefCounted, type Ref } from '../ref-counted.js';
import type { Binding } from './binding.js';
import type { Bus } from './bus.js';
import type { DeviceScope } from './device-scope.js';
import type { Driver } from './driver.js';

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
 * import assert from 'node:assert/strict';
 * import { Bus, Device, DeviceEvent } from 'revocable/device';
 *
 * const errors: string[] = [];
 * const bus = new Bus({ name: 'usb' });
 * bus.addEventListener('probe-error', (event) => {
 *   const { device, error } = event as DeviceEvent;
 *   errors.push(`${device.name}: ${String(error)}`);
 * });
 * await bus.register({ name: 'flaky', match: () => true, probe() { throw new Error('no response'); } });
 * await bus.add(new Device({ name: 'sensor0' }));
 * assert.deepEqual(errors, ['sensor0: Error: no response']);
 * ```
 */
export class DeviceEvent extends Event {
  /** The device the event is about. */
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

/** The device's life (invariant 1); `removal` is set once a removal has started (invariant 4). */
type Life =
  | { readonly state: 'unbound'; readonly bus: Bus | null; readonly removal: Promise<void> | null }
  | { readonly state: 'probing' | 'bound' | 'unbinding'; readonly bus: Bus; readonly binding: Binding; readonly removal: Promise<void> | null }
  | { readonly state: 'removed'; readonly removal: Promise<void> };

const OFF_BUS: Life = { state: 'unbound', bus: null, removal: null };

/**
 * @internal The transitions of a device's life, for its bus. Each refuses a move that its current
 * state does not allow, with an `Error` naming both: that is a bug of the library, never of a user.
 */
export const deviceLife = {} as {
  /** The current binding (probing, bound or unbinding), or `null`. */
  binding(device: Device): Binding | null;
  /** The removal started, or `null`. */
  removal(device: Device): Promise<void> | null;
  /** Runs `task` after every task queued before it on this device (invariant 3). */
  enqueue<R>(device: Device, task: () => Promise<R>): Promise<R>;
  /** `bus.add`: off any bus → unbound on `bus`; takes the device's own reference; joins its parent. */
  plug(device: Device, bus: Bus): void;
  /** unbound → probing, with a fresh binding. */
  probe(device: Device, binding: Binding): void;
  /** probing → bound: the probe succeeded. */
  bound(device: Device): void;
  /** bound → unbinding. */
  unbinding(device: Device): void;
  /** probing or unbinding → unbound: driver data cleared; `probeError` is what a failed probe threw. */
  unbound(device: Device, probeError?: unknown): void;
  /** A match that threw: recorded as the probe error; the device stays unbound. */
  probeFailed(device: Device, error: unknown): void;
  /** `bus.remove`: the removal starts (any state on a bus, once). */
  removing(device: Device, removal: Promise<void>): void;
  /** unbound with its removal started → removed: leaves its bus and parent, drops its own reference. */
  removed(device: Device): void;
};

/**
 * A device. Create it, then hot-plug it with `bus.add(device)`: the bus matches it to a driver and
 * probes. `bus.remove(device)` unplugs it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Bus, Device } from 'revocable/device';
 *
 * const bus = new Bus({ name: 'usb' });
 * await bus.register({ name: 'sensor', match: (device) => device.properties.kind === 'sensor', probe() {} });
 * const sensor = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
 * await bus.add(sensor);
 * assert.equal(sensor.state, 'bound');
 * assert.equal(sensor.driver?.name, 'sensor');
 * await bus.remove(sensor);
 * assert.equal(sensor.state, 'removed');
 * ```
 */
export class Device extends EventTarget {
  /** The device's name, unique on its bus. */
  readonly name: string;
  /** What drivers match on (frozen). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** The device this one hangs off, or `null`. */
  readonly parent: Device | null;
  #life: Life = OFF_BUS;
  #data: unknown = undefined;
  #probeError: unknown = undefined;
  /** The device's own reference (invariant 5). */
  #own: OwnReference = NOT_YET;
  readonly #release: ((device: Device) => void) | undefined;
  /** The tail of the queue of bus operations on this device. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Children added to a bus and not removed yet. */
  readonly #children = new Set<Device>();

  constructor(options: DeviceOptions) {
    super();
    if (!isObjectArgument(options)) throw expected('an object of options ({ name, properties?, parent?, release? })', 'options', options);
    // Each option is read once: what is checked is what is kept.
    const { name, properties, parent, release } = options;
    checkString(name, 'options.name');
    checkOptions(properties, 'options.properties');
    if (parent !== undefined && !(parent instanceof Device)) throw expected('a Device or undefined', 'options.parent', parent);
    checkOptionalFunction(release, 'options.release');
    this.name = name;
    this.properties = Object.freeze({ ...properties });
    this.parent = parent ?? null;
    this.#release = release;
  }

  /** `'unbound'`, `'probing'`, `'bound'`, `'unbinding'` or `'removed'`. */
  get state(): DeviceState {
    return this.#life.state;
  }

  /** The driver bound (or binding, or unbinding), or `null`. */
  get driver(): Driver | null {
    const life = this.#life;
    return 'binding' in life ? life.binding.driver : null;
  }

  /** The bus the device is on, or `null` (before `bus.add`, after `bus.remove`). */
  get bus(): Bus | null {
    const life = this.#life;
    return 'bus' in life ? life.bus : null;
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

  /** Sets the driver data, for the current binding. */
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
    const life = this.#life;
    if (!('binding' in life)) throw new DeviceError('ENODEV', `device "${this.name}" has no driver bound: managed resources belong to a binding`);
    return life.binding.scope;
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
   * import assert from 'node:assert/strict';
   * import { Bus, Device } from 'revocable/device';
   *
   * const released: string[] = [];
   * const bus = new Bus({ name: 'usb' });
   * const device = new Device({ name: 'sensor0', release: (d) => void released.push(d.name) });
   * await bus.add(device);
   * {
   *   using ref = device.ref();
   *   await bus.remove(device);
   *   assert.equal(ref.value.state, 'removed'); // still usable while the reference is held
   *   assert.deepEqual(released, []);
   * }
   * assert.deepEqual(released, ['sensor0']); // the last reference was dropped
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

  /** Moves to `next` if the current state is one of `from`; otherwise the move is a bug. */
  #move(from: readonly DeviceState[], next: Life, what: string): void {
    const life = this.#life;
    if (!from.includes(life.state)) throw new Error(`Device "${this.name}": ${what} is not allowed while ${life.state}`);
    this.#life = next;
  }

  /** The current life, which must be on a bus; a removal keeps its mark across the moves. */
  #onBus(what: string): Exclude<Life, { state: 'removed' }> & { bus: Bus } {
    const life = this.#life;
    if (life.state === 'removed' || life.bus === null) throw new Error(`Device "${this.name}": ${what} needs a device on a bus`);
    return life as Exclude<Life, { state: 'removed' }> & { bus: Bus };
  }

  static {
    deviceLife.binding = (device) => {
      const life = device.#life;
      return 'binding' in life ? life.binding : null;
    };
    deviceLife.removal = (device) => device.#life.removal;
    deviceLife.enqueue = <R>(device: Device, task: () => Promise<R>): Promise<R> => {
      const run = device.#queue.then(task);
      device.#queue = run.then(noop, noop);
      return run;
    };
    deviceLife.plug = (device, bus) => {
      if (device.#life !== OFF_BUS) throw new Error(`Device "${device.name}": plug is not allowed while ${device.#life.state} on a bus`);
      device.#life = { state: 'unbound', bus, removal: null };
      device.#ownReference();
      if (device.parent !== null) device.parent.#children.add(device);
    };
    deviceLife.probe = (device, binding) => {
      const { bus, removal } = device.#onBus('probe');
      if (removal !== null) throw new Error(`Device "${device.name}": probe is not allowed once its removal started`);
      device.#move(['unbound'], { state: 'probing', bus, binding, removal }, 'probe');
    };
    deviceLife.bound = (device) => {
      const life = device.#onBus('bound');
      if (!('binding' in life)) throw new Error(`Device "${device.name}": bound is not allowed while ${life.state}`);
      device.#probeError = undefined;
      device.#move(['probing'], { ...life, state: 'bound' }, 'bound');
    };
    deviceLife.unbinding = (device) => {
      const life = device.#onBus('unbinding');
      if (!('binding' in life)) throw new Error(`Device "${device.name}": unbinding is not allowed while ${life.state}`);
      device.#move(['bound'], { ...life, state: 'unbinding' }, 'unbinding');
    };
    deviceLife.unbound = (device, probeError) => {
      const { bus, removal } = device.#onBus('unbound');
      device.#move(['probing', 'unbinding'], { state: 'unbound', bus, removal }, 'unbound');
      device.#data = undefined;
      if (probeError !== undefined) device.#probeError = probeError;
    };
    deviceLife.probeFailed = (device, error) => {
      device.#onBus('probeFailed');
      if (device.#life.state !== 'unbound') throw new Error(`Device "${device.name}": probeFailed is not allowed while ${device.#life.state}`);
      device.#probeError = error;
    };
    deviceLife.removing = (device, removal) => {
      const life = device.#onBus('removing');
      if (life.removal !== null) throw new Error(`Device "${device.name}": its removal started already`);
      device.#life = { ...life, removal };
    };
    deviceLife.removed = (device) => {
      const { removal } = device.#onBus('removed');
      if (removal === null) throw new Error(`Device "${device.name}": removed is not allowed before its removal started`);
      device.#move(['unbound'], { state: 'removed', removal }, 'removed');
      if (device.parent !== null) device.parent.#children.delete(device);
      const own = device.#own;
      device.#own = DROPPED;
      if (own.kind === 'held') own.ref.dispose();
    };
  }
}

type OwnReference = { readonly kind: 'not yet' } | { readonly kind: 'held'; readonly ref: Ref<Device> } | { readonly kind: 'dropped' };
const NOT_YET: OwnReference = { kind: 'not yet' };
const DROPPED: OwnReference = { kind: 'dropped' };
