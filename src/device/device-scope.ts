/**
 * `device.managed`: the device's `ResourceScope` for one binding (the kernel's devres list), plus
 * helpers that tie resources *and their callbacks* to the binding.
 *
 * The devres documentation releases managed resources after `remove()`, which is exactly why an
 * interrupt handler registered with `devm_request_irq` can still fire after `remove()` has killed
 * the tasklet it schedules (the first bug of the article "When does the use of the devres API
 * harm?"). Here every callback registered through these helpers runs through one gate per binding,
 * revoked in the first step of unbind: from then on none is called, and those running are waited
 * for, before `remove()` and before any resource is released.
 *
 * Invariants:
 * 1. Every call of a callback registered through a helper (`interval`, `timeout`, `listener`) runs
 *    inside an access of the binding's callback gate; none starts after unbind began; unbind
 *    continues only after every one in flight has returned (or its promise settled). Each gets the
 *    gate's kick signal as its last argument, after the event's own arguments.
 * 2. Each helper but `node` adds one entry to the scope, released newest-first with the rest at
 *    step 4 (or earlier with `managed.release(entry)`, the kernel's `devm_free_irq` pattern). A
 *    node belongs to the binding's node list alone: step 2 removes it, or `node.remove()` earlier.
 * 3. A helper called on a scope that is no longer open releases what it made and throws, as
 *    `add()` does: nothing leaks.
 *
 * @module
 */
import { DeviceError } from '../errors.js';
import { noop } from '../internal/promise.js';
import { callGated, type Reentrant } from '../internal/reentrancy.js';
import { allowManyListeners } from '../internal/runtime.js';
import { checkDelay, checkFunction, expected, show } from '../internal/validate.js';
import { Revocable, gate, type RevocableOptions } from '../revocable.js';
import { ResourceScope, type ScopeEntry } from '../scope.js';
import { createNode, type DevFs, type DeviceNode } from './devfs.js';
import type { Device } from './device.js';
import type { FileOperations } from './file-operations.js';

/** @internal What the helpers need from the binding that owns the scope. */
export interface BindingLink extends Reentrant {
  readonly device: Device;
  /** The callback gate (invariant 1), revoked at the first step of unbind; its signal is the kick. */
  readonly callbacks: Revocable<object>;
  readonly devfs: DevFs | null;
  /** Nodes made through `node()` and not removed yet: the one list that owns them (invariant 2). */
  readonly nodes: Set<DeviceNode>;
  /** Whether a node may still be made: false from the first step of unbind on (step 2 is their end). */
  readonly acceptsNodes: boolean;
}

/** Proves that a constructor call came from the binding. */
export const SCOPE_INTERNAL: unique symbol = Symbol('revocable/device scope');

/** Something to listen on: an `EventTarget`, or a Node-style emitter (`on`/`off`, `addListener`/`removeListener`). */
export type ListenerTarget =
  | Pick<EventTarget, 'addEventListener' | 'removeEventListener'>
  // Emitters type their listeners in many ways (Node's are generic over an event map): accept any.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  | {
      /** Adds a listener. */
      on(type: any, listener: (...args: any[]) => any): unknown;
      /** Removes it. */
      off(type: any, listener: (...args: any[]) => any): unknown;
    }
  | {
      /** Adds a listener. */
      addListener(type: any, listener: (...args: any[]) => any): unknown;
      /** Removes it. */
      removeListener(type: any, listener: (...args: any[]) => any): unknown;
    };
/* eslint-enable @typescript-eslint/no-explicit-any */

type Timer = ReturnType<typeof setTimeout>;

/**
 * The managed resources of one binding of a device: a `ResourceScope` (everything of the standard
 * `AsyncDisposableStack` and of devres: `add`, `remove`, `release`, `find`, groups) plus helpers
 * whose callbacks stop when unbind begins. Reach it as `device.managed` during probe, while bound,
 * and in `remove()`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Bus, Device } from 'revocable/device';
 *
 * const port = new EventTarget();
 * const log: string[] = [];
 * const bus = new Bus({ name: 'usb' });
 * await bus.register({ name: 'tty', match: () => true, probe(device) {
 *   device.managed.adopt(port, () => log.push('port closed'));
 *   device.managed.listener(port, 'data', () => log.push('data')); // never called once unbind began
 *   device.managed.interval(() => port.dispatchEvent(new Event('data')), 60_000);
 * } });
 * const tty = new Device({ name: 'ttyUSB0' });
 * await bus.add(tty);
 * port.dispatchEvent(new Event('data'));
 * await bus.remove(tty); // newest first: the interval, the listener, then the port
 * port.dispatchEvent(new Event('data'));
 * assert.deepEqual(log, ['data', 'port closed']);
 * ```
 */
export class DeviceScope extends ResourceScope {
  readonly #link: BindingLink;

  /** @internal Each binding makes its own: a scope made elsewhere would belong to no binding. */
  constructor(token: typeof SCOPE_INTERNAL, link: BindingLink) {
    if (token !== SCOPE_INTERNAL) throw new TypeError('DeviceScope is not constructed directly: use device.managed during a binding');
    super({ name: link.device.name });
    this.#link = link;
  }

  /**
   * The binding's kick: aborted in the first synchronous step of unbind (before the device nodes
   * are revoked, `remove()` runs or anything is released), which is when this scope begins to go
   * away. The same mechanism as every `ResourceScope`'s `signal`: whatever is bound to it, the
   * helpers below and `revocable/node`'s managed forms given `{ scope: device.managed }`, is not
   * called again from that step.
   */
  override get signal(): AbortSignal {
    return gate.signal(this.#link.callbacks);
  }

  /**
   * The kernel's `devm_revocable_provider_alloc`: a {@link Revocable} for `resource`, revoked (and
   * so drained, then released) when the managed resources are released at unbind. Hand consumers
   * `provider.handle()`: after unbind their accesses fail `ENODEV`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { RevokedError, type RevocableHandle } from 'revocable';
   * import { Bus, Device } from 'revocable/device';
   *
   * class Chip { on = true; shutdown() { this.on = false; } }
   * const consumers: RevocableHandle<Chip>[] = [];
   * const bus = new Bus({ name: 'i2c' });
   * await bus.register({ name: 'chip', match: () => true, probe(device) {
   *   const chip = device.managed.revocable(new Chip(), { release: (c) => c.shutdown() });
   *   consumers.push(chip.handle());
   * } });
   * const device = new Device({ name: 'chip0' });
   * await bus.add(device);
   * assert.equal(consumers[0]?.with((chip) => chip.on), true);
   * await bus.remove(device); // revoked at unbind: drained, then shut down
   * assert.throws(() => consumers[0]?.with((chip) => chip.on), RevokedError);
   * ```
   */
  revocable<T>(resource: T, options?: RevocableOptions<T>): Revocable<T> {
    const provider = new Revocable(resource, options);
    this.add(provider, revokeProvider, { name: options?.name ?? 'revocable' });
    return provider;
  }

  /**
   * `setInterval(fn, ms)` for the binding: `fn(signal)` is not called once unbind begins, and a
   * call in flight (an async one until its promise settles) is waited for. `signal` aborts when
   * unbind begins. Returns the entry: `await managed.release(entry)` stops it early.
   */
  interval(fn: (signal: AbortSignal) => unknown, ms: number): ScopeEntry<Timer> {
    checkFunction(fn, 'fn');
    checkDelay(ms, 'ms');
    const run = this.#gated(fn);
    return this.add(setInterval(run, ms), clearInterval, { name: `interval(${ms} ms)` });
  }

  /**
   * `setTimeout(fn, ms)` for the binding, gated as {@link DeviceScope.interval}. The entry leaves
   * the scope when the timer fires. Returns the entry: `await managed.release(entry)` cancels it.
   */
  timeout(fn: (signal: AbortSignal) => unknown, ms: number): ScopeEntry<Timer> {
    checkFunction(fn, 'fn');
    checkDelay(ms, 'ms');
    const run = this.#gated(fn);
    const timer = setTimeout(() => {
      // Fired: the entry has nothing left to release. (A scope moved away by move() keeps it.)
      if (this.state === 'open') {
        try {
          this.remove(entry);
        } catch {
          // moved to another scope: it clears the fired timer at its disposal, harmlessly
        }
      }
      return run();
    }, ms);
    const entry = this.add(timer, clearTimeout, { name: `timeout(${ms} ms)` });
    return entry;
  }

  /**
   * Listens to `type` events of `target`, an `EventTarget` or a Node-style emitter (duck-typed:
   * `addEventListener`/`removeEventListener`, `on`/`off` or `addListener`/`removeListener`), for the
   * binding: the listener is not called once unbind begins (calls in flight are waited for), and
   * it is removed when the managed resources are released. It gets the event's arguments and, last,
   * the binding's kick signal (as `addManagedListener`'s listeners do). Returns the entry.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { Bus, Device } from 'revocable/device';
   *
   * const port = new EventTarget();
   * const seen: string[] = [];
   * const bus = new Bus({ name: 'usb' });
   * await bus.register({ name: 'tty', match: () => true, probe(device) {
   *   device.managed.listener(port, 'data', (event: Event, signal: AbortSignal) => seen.push(`${event.type}, aborted: ${signal.aborted}`));
   * } });
   * const tty = new Device({ name: 'ttyUSB0' });
   * await bus.add(tty);
   * port.dispatchEvent(new Event('data'));
   * await bus.remove(tty); // the listener is removed
   * port.dispatchEvent(new Event('data'));
   * assert.deepEqual(seen, ['data, aborted: false']);
   * ```
   */
  // Events carry arguments of every shape: any listener is accepted, and gets the signal last.
  listener(target: ListenerTarget, type: string | symbol, fn: (...args: never[]) => unknown): ScopeEntry<ListenerTarget> {
    if (typeof target !== 'object' && typeof target !== 'function') throw expected('an EventTarget or an event emitter', 'target', target);
    if (target === null) throw expected('an EventTarget or an event emitter', 'target', target);
    if (typeof type !== 'string' && typeof type !== 'symbol') throw expected('a string or a symbol', 'type', type);
    checkFunction(fn, 'fn');
    const t = target as Record<string, unknown>;
    let add: string;
    let remove: string;
    if (typeof t.addEventListener === 'function' && typeof t.removeEventListener === 'function') {
      if (typeof type !== 'string') throw expected('a string (an EventTarget has no symbol events)', 'type', type);
      [add, remove] = ['addEventListener', 'removeEventListener'];
    } else if (typeof t.on === 'function' && typeof t.off === 'function') {
      [add, remove] = ['on', 'off'];
    } else if (typeof t.addListener === 'function' && typeof t.removeListener === 'function') {
      [add, remove] = ['addListener', 'removeListener'];
    } else {
      throw new TypeError(`Expected \`target\` to be an EventTarget (addEventListener/removeEventListener) or an event emitter (on/off or addListener/removeListener), got ${show(target)}`);
    }
    const link = this.#link;
    const callbacks = link.callbacks;
    const listener = function (this: unknown, ...args: unknown[]): unknown {
      return callbacks.tryWith((_gate, signal) => {
        const all = [...args, signal];
        return callGated(link, fn, this, all[0], all.slice(1));
      });
    };
    (t[add] as (type: string | symbol, listener: unknown) => void).call(target, type, listener);
    return this.add(target, (value) => void (t[remove] as (type: string | symbol, listener: unknown) => void).call(value, type, listener), {
      name: `listener(${String(type)})`,
    });
  }

  /**
   * An `AbortController` for the binding's own async work (`fetch`, streams, `{ signal }` options):
   * aborted when unbind begins, with the callbacks, so work in flight ends before unbind waits for
   * it. Also aborted if its entry is released earlier.
   */
  abortController(): AbortController {
    const controller = new AbortController();
    allowManyListeners(controller.signal);
    const kick = this.signal;
    const onKick = (): void => controller.abort(kick.reason);
    if (kick.aborted) onKick();
    else kick.addEventListener('abort', onKick, { once: true });
    this.add(controller, (c) => {
      kick.removeEventListener('abort', onKick);
      c.abort(new DeviceError('ENODEV', `device "${this.#link.device.name}" was unbound`));
    }, { name: 'abortController' });
    return controller;
  }

  /**
   * A device node for the binding, in the bus's `DevFs`: `devfs.open(path)` reaches `operations`.
   * At unbind (step 2, before `remove()`), every file open on it is revoked (operations in flight
   * drain; `release` runs once per file, while the driver's data is still valid) and the node is
   * removed (later opens fail `ENOENT`). Throws `EEXIST` if the path is taken.
   */
  node<Private = unknown>(path: string, operations: FileOperations<Private>): DeviceNode {
    const link = this.#link;
    const devfs = link.devfs;
    if (devfs === null) {
      throw new DeviceError('ENOENT', `no DevFs to create "${String(path)}" in: give the bus one (new Bus({ name, devfs }))`);
    }
    if (!link.acceptsNodes) throw new DeviceError('ENODEV', `device "${link.device.name}" is being unbound: no node can be created for it now`);
    const node = createNode(devfs, path, operations, link.device, (removed) => link.nodes.delete(removed));
    link.nodes.add(node);
    return node;
  }

  /** `fn(signal)` through the callback gate. */
  #gated(fn: (signal: AbortSignal) => unknown): () => unknown {
    const link = this.#link;
    const body = (_: object, signal: AbortSignal): unknown => callGated(link, fn, undefined, signal, NO_ARGS);
    return () => link.callbacks.tryWith(body);
  }
}

const NO_ARGS: readonly unknown[] = Object.freeze([]);
const revokeProvider = <T>(provider: Revocable<T>): Promise<void> => provider.revoke().then(noop);
