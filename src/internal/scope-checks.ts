/**
 * The checks the standard's constructors and methods make, shared by `ResourceScope`,
 * `AsyncDisposableStack`, `DisposableStack` and `SuppressedError`: the prototype a constructor
 * gives its instance, the receiver check, and the error for use after disposal.
 *
 * Invariants:
 * 1. {@link adoptPrototype} leaves an instance made from an object `new.target.prototype` as it is
 *    and gives one made from a primitive `prototype` the class's own prototype, as the standard's
 *    `GetPrototypeFromConstructor` does (a class in JavaScript would get `Object.prototype`).
 * 2. The errors are the standard's own classes, made in the realm this module was evaluated in:
 *    `assert.throws(ReferenceError, ...)` of a conformance suite compares constructors.
 * 3. No message runs code of the caller's (see `validate.ts`).
 *
 * @module
 */
import { expected, show } from './validate.js';
import { USE, USE_SYNC } from './scope-list.js';
import { asyncDispose, dispose } from './symbols.js';

/**
 * The prototype an instance made with `new.target` must have. The engine has already made
 * `instance` from `newTarget.prototype`, or from `Object.prototype` when that was not an object;
 * only that second case is ambiguous (`Reflect.construct(C, [], Object)` gives `Object.prototype`
 * rightly), so only then is `newTarget.prototype` read again. Sets and returns the prototype.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { AsyncDisposableStack } from 'revocable';
 *
 * function Target() {}
 * Target.prototype = 1; // not an object: the instance gets the class's own prototype, as the standard says
 * const stack: unknown = Reflect.construct(AsyncDisposableStack, [], Target);
 * assert.equal(Object.getPrototypeOf(stack), AsyncDisposableStack.prototype);
 * ```
 */
export function adoptPrototype(instance: object, newTarget: object, own: object): object {
  const made = Object.getPrototypeOf(instance) as object;
  if (made !== Object.prototype) return made;
  const proto = (newTarget as { prototype?: unknown }).prototype;
  if (proto !== null && (typeof proto === 'object' || typeof proto === 'function')) return made;
  Object.setPrototypeOf(instance, own);
  return own;
}

/** The TypeError for a method called on something that is not an instance: the standard's RequireInternalSlot. */
export function notAnInstance(kind: string, method: string, receiver: unknown): TypeError {
  return new TypeError(`${kind}.prototype.${method} called on ${show(receiver)}, which is not a ${kind}`);
}

/** The standard's error for a stack used after disposal: a plain `ReferenceError`. */
export function disposedError(what: string, method: string): ReferenceError {
  return new ReferenceError(`${what} is disposed: cannot ${method}()`);
}

/**
 * What `use(value)` of an async stack registers for a value that is not `null` or `undefined`: its
 * `[Symbol.asyncDispose]`, or else its `[Symbol.dispose]` (the standard's `GetDisposeMethod`), each
 * read once. Throws the TypeError of the standard's checks.
 */
export function asyncDisposeMethod(value: unknown): { kind: typeof USE | typeof USE_SYNC; method: (this: unknown) => unknown } {
  const wanted = 'an object with [Symbol.asyncDispose] or [Symbol.dispose], null or undefined';
  if (typeof value !== 'object' && typeof value !== 'function') throw expected(wanted, 'value', value);
  let kind: typeof USE | typeof USE_SYNC = USE;
  let method: unknown = (value as Partial<AsyncDisposable>)[asyncDispose];
  if (method === undefined || method === null) {
    kind = USE_SYNC;
    method = (value as Partial<Disposable>)[dispose];
    if (method === undefined || method === null) throw expected(wanted, 'value', value);
  }
  if (typeof method !== 'function') throw expected('a function', kind === USE ? 'value[Symbol.asyncDispose]' : 'value[Symbol.dispose]', method);
  return { kind, method: method as (this: unknown) => unknown };
}
