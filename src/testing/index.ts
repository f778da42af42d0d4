/**
 * `revocable/testing`: helpers for the tests of code that uses `revocable`.
 *
 * @module revocable/testing
 */
export { LeakError, LeakTracker, installLeakCheck } from './leak-tracker.js';
export type { Leak, TestHooks } from './leak-tracker.js';
