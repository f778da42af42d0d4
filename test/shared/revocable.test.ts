/**
 * The core's semantic tests of `Revocable` (test/revocable.test.ts), run unchanged against a
 * one-thread `SharedRevocable`: the same test bodies, with `new Revocable(resource, options)`
 * making a `SharedRevocable.create(resource, options)` and the `instanceof` checks asking for the
 * shared classes. A program written against `Revocable` works against a `SharedRevocable` by
 * changing how it is made: this is that claim, checked.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SharedAccess, SharedRevocable, SharedRevocableHandle } from '../../src/shared/index.js';

/** `new SharedAsRevocable(resource, options)` is `SharedRevocable.create(resource, options)`. */
class SharedAsRevocable {
  constructor(resource: unknown, options?: object) {
    return SharedRevocable.create(resource, options);
  }
}

let made = 0;
(globalThis as { revocableSubject?: unknown }).revocableSubject = {
  Access: SharedAccess,
  RevocableHandle: SharedRevocableHandle,
  get Revocable() {
    made++;
    return SharedAsRevocable;
  },
};
await import('../revocable.test.js');

it('ran the core tests with SharedRevocable as the class under test', () => {
  assert.equal(made, 1, 'test/revocable.test.ts took its Revocable from the subject');
});
