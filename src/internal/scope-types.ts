/**
 * The errors and option types of `ResourceScope`, apart so that the scope module stays about
 * behaviour. Re-exported by `scope.ts`.
 *
 * @module
 */
import { describeName } from '../errors.js';
import { show } from './validate.js';

/** Options of `new ResourceScope()`. */
export interface ResourceScopeOptions {
  /** A name for messages and diagnostics, e.g. the device's: `'sensor0'`. */
  name?: string;
}

/** Options of `scope.add()`. */
export interface AddOptions {
  /** Makes the entry findable with `find(key)` and `getOrAdd(key, ...)`; compared as `Map` keys are. */
  key?: unknown;
  /** A name for messages and diagnostics. */
  name?: string;
}

/** Where a scope is in its life. `disposed` (the standard's getter) is true for both later states. */
export type ScopeState = 'open' | 'disposing' | 'disposed';

/**
 * Something was added to a scope that is no longer open (disposing or disposed): the standard's
 * `ReferenceError` for use after dispose, with a code. For `add()` the value was released instead
 * (the kernel's `devm_add_action_or_reset`): `released` settles when that release has finished and
 * rejects with what it threw. For the standard's methods nothing was called and `released` is
 * already resolved.
 *
 * @example
 * ```ts
 * await scope.disposeAsync();
 * try { scope.add(port, (p) => p.close()); }
 * catch (error) { await (error as ScopeDisposedError).released; } // the port is closed now
 * ```
 */
export class ScopeDisposedError extends ReferenceError {
  readonly code = 'ERR_SCOPE_DISPOSED' as const;
  /** The name of the scope, if it has one. */
  readonly scopeName: string | undefined;
  /** Settles when the value that could not be added has been released. Never unhandled by itself. */
  readonly released: Promise<void>;

  constructor(message: string, scopeName: string | undefined, released: Promise<void>) {
    super(message);
    this.name = 'ScopeDisposedError';
    this.scopeName = scopeName;
    this.released = released;
  }
}

/**
 * `closeGroup`, `removeGroup` or `releaseGroup` named a group the scope does not have (never
 * opened, already removed or released; with the id omitted: no group is open), or `closeGroup`
 * named one already closed. The kernel warns and carries on; here it is a bug worth stopping for.
 */
export class GroupNotFoundError extends Error {
  readonly code = 'ERR_GROUP_NOT_FOUND' as const;
  /** The id asked for; `undefined` for "the newest open group". */
  readonly id: unknown;

  constructor(scopeName: string | undefined, id: unknown, closed: boolean) {
    const scope = describeName('ResourceScope', scopeName);
    super(
      closed
        ? `${scope} has no open group ${show(id)}: it is already closed`
        : id === undefined
          ? `${scope} has no open group`
          : `${scope} has no group ${show(id)}`,
    );
    this.name = 'GroupNotFoundError';
    this.id = id;
  }
}
