/**
 * The option types of `ResourceScope`, apart so that the scope module stays about behaviour.
 * Re-exported by `scope.ts`.
 *
 * @module
 */

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


