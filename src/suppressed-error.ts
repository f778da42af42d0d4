/**
 * `SuppressedError`, the error the explicit-resource-management standard uses to chain failures:
 * `error` is the one thrown last, `suppressed` the one it displaced. Runtimes that ship the
 * standard (Node 24, current browsers) have it built in; older ones (Node 20) do not.
 *
 * Invariants:
 * 1. Where the runtime has a global `SuppressedError`, this module exports that very constructor,
 *    so `instanceof` agrees with errors thrown by `await using` and the native
 *    `AsyncDisposableStack`.
 * 2. Elsewhere it exports a constructor that follows the standard's steps: callable with or without
 *    `new`; `message` is an own property only when given; `error` and `suppressed` are own,
 *    non-enumerable, writable properties; no `cause`; `length` 3; the prototype chain is
 *    `SuppressedError.prototype` → `Error.prototype`, whose `name` is `'SuppressedError'` and
 *    `message` is `''`.
 * 3. Importing this module never touches the global object.
 *
 * @module
 */

/**
 * Creates a `SuppressedError` as the standard does: `new SuppressedError(error, suppressed, message?)`.
 * Callable without `new`; subclassable.
 */
function SuppressedErrorShim(this: unknown, error: unknown, suppressed: unknown, message?: string): SuppressedError {
  const target = (new.target ?? SuppressedErrorShim) as unknown as NewableFunction;
  // Reflect.construct gives the object [[ErrorData]] (a stack trace, `Error.isError`) and the
  // prototype of `target`, so subclasses work; Error's own ToString(message) runs only when given.
  const result = Reflect.construct(Error, message === undefined ? [] : [message], target) as SuppressedError;
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
 * implementation. Disposal (of a `ResourceScope`, of `await using`) chains failures with it,
 * newest outermost: `new SuppressedError(newError, previousError)`.
 *
 * @example
 * ```ts
 * const e = new SuppressedError(new Error('b'), new Error('a'), 'two failures');
 * [e.error.message, e.suppressed.message, e.message]; // => ['b', 'a', 'two failures']
 * ```
 */
export const SuppressedError: SuppressedErrorConstructor =
  typeof native === 'function' ? native : (SuppressedErrorShim as unknown as SuppressedErrorConstructor);

/** @internal The conforming implementation, exported for its tests (the runtime's wins where it has one). */
export const SuppressedErrorPolyfill = SuppressedErrorShim as unknown as SuppressedErrorConstructor;

/** An error chaining two others: `error` was thrown while `suppressed` was already pending. */
export type SuppressedError = globalThis.SuppressedError;

/** The message the runtimes give a `SuppressedError` they create while disposing. */
export const SUPPRESSED_DURING_DISPOSAL = 'An error was suppressed during disposal';
