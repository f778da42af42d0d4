/**
 * Binding a managed timer, listener or abort controller to a `ResourceScope` (the `scope` option):
 * the resource is added to the scope, released (revoked) with it, and follows the scope's
 * `signal`, so that its callback is not called again from the first synchronous step of the
 * scope's disposal, even while older entries are still waiting for their turn to be released.
 *
 * Invariants:
 * 1. Every option is read exactly once, into locals, and all are checked before anything is
 *    created: a bad call, or a scope that is no longer open, leaves nothing behind.
 * 2. A bound resource's parent signal is the scope's (or, with a `signal` too, a signal aborted by
 *    either): the scope's disposal starts its revoke at once; the scope's release of its entry then
 *    waits for that revoke (the callbacks in flight, then the removal).
 * 3. A bound resource revoked on its own leaves the scope (a long-lived scope does not fill up
 *    with revoked timers); one moved to another scope by `move()` stays with that one.
 *
 * @module
 */
import { ScopeDisposedError, describeName } from '../../errors.js';
import { ResourceScope, type ScopeEntry } from '../../scope.js';
import { expected } from '../../internal/validate.js';
import { managedOptions, readManagedOptions, type ManagedOptions } from '../managed.js';
import { anySignal } from './util.js';

/** The option that binds a managed resource to a scope. */
export interface ScopeBindingOptions {
  /**
   * Adds the resource to this scope: released (revoked) with it, and not called again from the
   * first synchronous step of the scope's disposal (it follows `scope.signal`). Must be open.
   */
  scope?: ResourceScope;
}

/** The shared options, read once (invariant 1). */
export interface ReadOptions {
  /** A fresh object for `ManagedResource`, with the parent signal the binding implies. */
  readonly managed: ManagedOptions;
  readonly scope: ResourceScope | undefined;
}

/**
 * Reads and checks `name`, `timeout`, `signal` and `scope` of `options`, each once: the shared ones
 * through `readManagedOptions`, then the scope. `what` names the resource in the error for a scope
 * that is not open.
 */
export function readBoundOptions(options: (ManagedOptions & ScopeBindingOptions) | undefined, what: string): ReadOptions {
  const settings = readManagedOptions(options);
  const scope = options?.scope;
  const managed = managedOptions(settings);
  if (scope !== undefined) {
    if (!(scope instanceof ResourceScope)) throw expected('a ResourceScope or undefined', 'options.scope', scope);
    if (scope.disposed) {
      throw new ScopeDisposedError(`${describeName('ResourceScope', scope.name)} is ${scope.state}: cannot bind ${what} to it`, scope.name, Promise.resolve());
    }
    managed.signal = settings.signal === undefined ? scope.signal : anySignal([settings.signal, scope.signal]);
  }
  return { managed, scope };
}

/** What a binding needs of a managed resource. */
interface Bindable {
  readonly name: string | undefined;
  revoke(): Promise<boolean>;
}

const revoke = (resource: Bindable): Promise<boolean> => resource.revoke();

/**
 * Adds `resource` to `scope` (invariant 2) and returns what takes it out again (invariant 3).
 * Should the scope have been disposed meanwhile (by code the constructor ran), `add()` revokes the
 * resource and throws: nothing leaks.
 */
export function bindToScope(resource: Bindable, scope: ResourceScope): () => void {
  const name = resource.name;
  const entry: ScopeEntry = scope.add(resource, revoke, name === undefined ? undefined : { name });
  return () => {
    if (entry.state !== 'active') return;
    try {
      scope.remove(entry);
    } catch {
      // Moved to another scope by move(): that scope owns it now and revokes it (again, harmlessly).
    }
  };
}
