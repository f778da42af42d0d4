/**
 * `revocable/polyfill`: installs the explicit-resource-management standard's globals where the
 * runtime lacks them: `Symbol.dispose`, `Symbol.asyncDispose`, `SuppressedError`,
 * `DisposableStack` and `AsyncDisposableStack`, the last three being this package's standard-exact
 * implementations. Import it once, first, for its effect: `import 'revocable/polyfill';`.
 *
 * Invariants:
 * 1. Nothing the runtime has is replaced: each global is installed only where it is missing (not
 *    a symbol, not a function), so on Node 24 importing this module changes nothing.
 * 2. Each is installed as the standard's own are: the constructors as writable, non-enumerable,
 *    configurable properties of `globalThis`; the symbols as non-writable, non-enumerable,
 *    non-configurable properties of `Symbol`.
 * 3. The symbols installed are the values the library already keys its methods with
 *    (`internal/symbols.ts`: Node 20's registered `Symbol.for('nodejs.asyncDispose')` and
 *    `Symbol.for('nodejs.dispose')`), so objects made before this module ran are disposable by
 *    `using` after it.
 * 4. The installed `SuppressedError` is the one the library's stacks and scopes chain errors with,
 *    so `instanceof SuppressedError` holds for what they reject with.
 * 5. Importing it twice (two copies of the package) installs once: the second finds the first's.
 *
 * @module revocable/polyfill
 */
import { AsyncDisposableStack } from './async-disposable-stack.js';
import { DisposableStack } from './disposable-stack.js';
import { SuppressedError } from './internal/suppressed-error.js';
import { asyncDispose, dispose } from './internal/symbols.js';

/**
 * The names this import installed, in order: empty where the runtime has them all (Node 24).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { installed } from 'revocable/polyfill';
 *
 * const major = Number(process.versions.node.split('.')[0]);
 * assert.deepEqual(installed, major < 24 ? ['SuppressedError', 'DisposableStack', 'AsyncDisposableStack'] : []);
 * assert.equal(typeof AsyncDisposableStack, 'function'); // a global now, either way
 * ```
 */
export const installed: readonly string[] = install();

function install(): string[] {
  const done: string[] = [];
  const symbols = Symbol as unknown as Record<string, unknown>;
  for (const [name, value] of [
    ['dispose', dispose],
    ['asyncDispose', asyncDispose],
  ] as const) {
    if (typeof symbols[name] === 'symbol') continue;
    Object.defineProperty(Symbol, name, { value, writable: false, enumerable: false, configurable: false });
    done.push(`Symbol.${name}`);
  }
  const global = globalThis as unknown as Record<string, unknown>;
  for (const [name, value] of [
    ['SuppressedError', SuppressedError],
    ['DisposableStack', DisposableStack],
    ['AsyncDisposableStack', AsyncDisposableStack],
  ] as const) {
    if (typeof global[name] === 'function') continue;
    Object.defineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });
    done.push(name);
  }
  return done;
}
