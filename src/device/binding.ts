/**
 * One binding of a device to a driver: from the start of its probe to the end of its unbind. It
 * owns the managed scope, the gate of the managed callbacks and the device nodes the driver made,
 * and runs the unbind sequence in the order that makes the two bugs of the article "When does the
 * use of the devres API harm?" impossible.
 *
 * Invariants:
 * 1. Unbind runs, in this order, each step after the previous one has finished: (1) the callback
 *    gate is revoked (no managed callback starts; those running are waited for; its kick aborts);
 *    (2) every device node of the binding is revoked and removed (operations in flight drain, then
 *    `release` runs once per open file); (3) `driver.remove(device)`; (4) the managed scope is
 *    released, newest-first.
 * 2. A failed probe is torn down in the same order, without `driver.remove`: its devres group is
 *    released after the callbacks stopped and the nodes were revoked.
 * 3. A failure in one step does not skip the later ones: every step runs, failures are collected.
 * 4. The binding's node list is the one owner of its nodes: a node leaves it when it is removed,
 *    by step 2 or earlier by `node.remove()`.
 *
 * @module
 */
import { isProbeDefer } from '../errors.js';
import { chainErrors, isThenable } from '../internal/promise.js';
import { callGated } from '../internal/reentrancy.js';
import { gate, type Revocable } from '../revocable.js';
import type { DevFs, DeviceNode } from './devfs.js';
import type { Device } from './device.js';
import { DeviceScope, SCOPE_INTERNAL, type BindingLink } from './device-scope.js';
import type { DriverMethods } from './driver.js';

/**
 * Where a binding is: probing, bound, or in a step of its unbind (`'callbacks'`, `'nodes'`,
 * `'remove'`, `'release'`), or done.
 */
export type BindingPhase = 'probing' | 'bound' | 'callbacks' | 'nodes' | 'remove' | 'release' | 'done';

/** How a probe ended. */
export type ProbeOutcome = { readonly kind: 'bound' } | { readonly kind: 'deferred' | 'failed'; readonly error: unknown };

const BOUND: ProbeOutcome = { kind: 'bound' };

/** @internal */
export class Binding implements BindingLink {
  /**
   * Probe, remove and managed callbacks of this binding on the stack now (their synchronous part);
   * with the tracker's `wrap`, the hook for telling that code awaiting an unbind of this device is
   * one of the calls the unbind waits for.
   */
  depth = 0;
  readonly device: Device;
  readonly methods: DriverMethods;
  readonly devfs: DevFs | null;
  readonly callbacks: Revocable<object>;
  readonly nodes = new Set<DeviceNode>();
  readonly scope: DeviceScope;
  phase: BindingPhase = 'probing';

  constructor(device: Device, methods: DriverMethods, devfs: DevFs | null) {
    this.device = device;
    this.methods = methods;
    this.devfs = devfs;
    this.callbacks = gate.make<object>(this, { name: device.name }, 'revocable', 'Binding of device');
    this.scope = new DeviceScope(SCOPE_INTERNAL, this);
  }

  /** The driver object. */
  get driver(): DriverMethods['driver'] {
    return this.methods.driver;
  }

  get acceptsNodes(): boolean {
    return this.phase === 'probing' || this.phase === 'bound';
  }

  /** Whether the unbind is waiting for callbacks or file operations to end (what a timeout bounds). */
  get draining(): boolean {
    if (this.phase === 'callbacks') return true;
    if (this.phase !== 'nodes') return false;
    for (const node of this.nodes) if (node.operationsInFlight > 0) return true;
    return false;
  }

  /** Callbacks and file operations in flight. */
  get pending(): number {
    let pending = this.callbacks.accesses;
    for (const node of this.nodes) pending += node.operationsInFlight;
    return pending;
  }

  /** Runs `driver.probe(device)` in a devres group; tears a failure down (invariant 2). */
  async probe(): Promise<ProbeOutcome> {
    const scope = this.scope;
    const group = scope.openGroup();
    let failure: { error: unknown } | undefined;
    try {
      await this.#call(this.methods.probe);
    } catch (error) {
      failure = { error };
    }
    if (failure === undefined) {
      // The driver may have released or disposed things itself; the group is only a marker.
      if (scope.state === 'open') {
        try {
          scope.removeGroup(group);
        } catch {
          // already gone (released by the driver): nothing to keep track of
        }
      }
      this.phase = 'bound';
      return BOUND;
    }
    const errors = [failure.error, ...(await this.#quiesce())];
    this.phase = 'release';
    if (scope.state === 'open') {
      try {
        await scope.releaseGroup(group);
      } catch (error) {
        errors.push(error);
      }
    }
    try {
      await scope.disposeAsync();
    } catch (error) {
      errors.push(error);
    }
    this.phase = 'done';
    const error = chainErrors(errors, 'An error was suppressed while rolling back a failed probe');
    return { kind: isProbeDefer(failure.error) ? 'deferred' : 'failed', error };
  }

  /** The unbind sequence (invariant 1). Resolves with the failures of its steps, oldest first. */
  async unbind(): Promise<unknown[]> {
    const errors = await this.#quiesce();
    this.phase = 'remove';
    const remove = this.methods.remove;
    if (remove !== undefined) {
      try {
        await this.#call(remove);
      } catch (error) {
        errors.push(error);
      }
    }
    this.phase = 'release';
    try {
      await this.scope.disposeAsync();
    } catch (error) {
      errors.push(error);
    }
    this.phase = 'done';
    return errors;
  }

  /** Steps 1 and 2: stop the callbacks, revoke the nodes. */
  async #quiesce(): Promise<unknown[]> {
    this.phase = 'callbacks';
    const errors: unknown[] = [];
    // The gate shuts in the revoke's first step, with the kick. The drain is waited for through
    // the gate's own end, which no timeout and no diagnosis settles early: the next step must
    // never start while a callback still runs.
    this.callbacks.revoke().catch((error: unknown) => void errors.push(error));
    await gate.done(this.callbacks);
    this.phase = 'nodes';
    const results = await Promise.allSettled([...this.nodes].map((node) => node.remove()));
    for (const result of results) if (result.status === 'rejected') errors.push(result.reason);
    return errors;
  }

  /** Calls a driver method as a gated call of this binding; a thenable result is awaited. */
  #call(method: DriverMethods['probe']): Promise<unknown> | undefined {
    const result = callGated(this, method, this.methods.driver, this.device, NO_ARGS);
    return isThenable(result) ? Promise.resolve(result) : undefined;
  }
}

const NO_ARGS: readonly unknown[] = Object.freeze([]);
