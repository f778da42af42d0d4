/**
 * `SuppressedError`, the standard's error for chained disposal failures: the runtime's own where
 * it has one, else a conforming implementation (see `internal/suppressed-error.ts` for the
 * invariants). Importing it never installs anything globally; `revocable/polyfill` does.
 *
 * @module
 */
export { SuppressedError } from './internal/suppressed-error.js';
export type { SuppressedErrorConstructor } from './internal/suppressed-error.js';
