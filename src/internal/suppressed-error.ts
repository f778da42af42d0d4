/**
 * `SuppressedError`, the error the explicit-resource-management standard uses to chain failures:
 * `error` is the one thrown last, `suppressed` the one it displaced. Runtimes that ship the
 * standard (Node 24, current browsers) have it built in; older ones (Node 20) do not.
 *
 * Invariants:
 * 1. Where the runtime has a global `SuppressedError` when this module is evaluated, this module
 *    exports that very constructor, so `instanceof` agrees with errors thrown by `await using` and
 *    the native `AsyncDisposableStack`.
 * 2. Elsewhere it exports a constructor that follows the standard's steps: callable with or without
 *    `new`; `message` is an own property only when given (converted with ToString before `error`
 *    and `suppressed` are defined); `error` and `suppressed` are own, non-enumerable, writable
 *    properties; no `cause`; `length` 3; the prototype chain is `SuppressedError.prototype` →
 *    `Error.prototype`, whose `name` is `'SuppressedError'` and `message` is `''`; a `new.target`
 *    whose `prototype` is not an object gives `SuppressedError.prototype` (the standard's
 *    "fallback"), not `Object.prototype`.
 * 3. Importing this module never touches the global object; `revocable/polyfill` installs it.
 * 4. The types here stand on their own: the published declarations compile without the
 *    `ESNext.Disposable` lib.
 *
 * @module
 */
import { adoptPrototype } from './scope-checks.js';

/** An error chaining two others: `error` was thrown while `suppressed` was already pending. */
export interface SuppressedError extends Error {
  // `any`, as the standard library declares them: anything can be thrown.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  /** The newer error: the one thrown last. */
  error: any;
  /** The error that was already pending when `error` was thrown. */
  suppressed: any;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** The `SuppressedError` constructor: `new SuppressedError(error, suppressed, message?)`, or without `new`. */
export interface SuppressedErrorConstructor {
  new (error: unknown, suppressed: unknown, message?: string): SuppressedError;
  (error: unknown, suppressed: unknown, message?: string): SuppressedError;
  /** `SuppressedError.prototype`. */
  readonly prototype: SuppressedError;
}

/**
 * Creates a `SuppressedError` as the standard does. Callable without `new`; subclassable.
 */
function SuppressedErrorShim(this: unknown, error: unknown, suppressed: unknown, message?: string): SuppressedError {
  const own = SuppressedErrorShim.prototype as object;
  // Called with `new`, the engine has made `this` from `new.target.prototype` (or from
  // `Object.prototype` when that is not an object): its prototype is the one to give the error.
  const proto = new.target === undefined || new.target === SuppressedErrorShim ? own : adoptPrototype(this as object, new.target, own);
  // Reflect.construct gives the object [[ErrorData]] (a stack trace, `Error.isError`); Error's own
  // ToString(message) runs only when a message is given, before `error` and `suppressed` exist.
  const result = Reflect.construct(Error, message === undefined ? [] : [message], SuppressedErrorShim) as SuppressedError;
  if (proto !== own) Object.setPrototypeOf(result, proto);
  Object.defineProperty(result, 'error', { value: error, writable: true, enumerable: false, configurable: true });
  Object.defineProperty(result, 'suppressed', { value: suppressed, writable: true, enumerable: false, configurable: true });
  return result;
}

Object.setPrototypeOf(SuppressedErrorShim, Error);
Object.defineProperty(SuppressedErrorShim, 'name', { value: 'SuppressedError' });
Object.defineProperty(SuppressedErrorShim, 'prototype', {
  value: Object.create(Error.prototype, {
    constructor: { value: SuppressedErrorShim, writable: true, enumerable: false, configurable: true },
    name: { value: 'SuppressedError', writable: true, enumerable: false, configurable: true },
    message: { value: '', writable: true, enumerable: false, configurable: true },
  }) as SuppressedError,
  writable: false,
  enumerable: false,
  configurable: false,
});

const native = (globalThis as { SuppressedError?: SuppressedErrorConstructor }).SuppressedError;

/**
 * The standard `SuppressedError`: the runtime's own where it has one, else a conforming
 * implementation. Disposal (of a `ResourceScope`, of the stacks, of `await using`) chains failures
 * with it, newest outermost: `new SuppressedError(newError, previousError)`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { SuppressedError } from 'revocable';
 *
 * const e = new SuppressedError(new Error('b'), new Error('a'), 'two failures');
 * assert.deepEqual([e.error.message, e.suppressed.message, e.message], ['b', 'a', 'two failures']);
 * assert.ok(e instanceof Error);
 * ```
 */
export const SuppressedError: SuppressedErrorConstructor =
  typeof native === 'function' ? native : (SuppressedErrorShim as unknown as SuppressedErrorConstructor);

/** The conforming implementation, for `revocable/polyfill` and the tests (the runtime's wins where it has one). */
export const SuppressedErrorPolyfill = SuppressedErrorShim as unknown as SuppressedErrorConstructor;

/** The message the runtimes give a `SuppressedError` they create while disposing. */
export const SUPPRESSED_DURING_DISPOSAL = 'An error was suppressed during disposal';
