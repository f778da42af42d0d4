/**
 * `Symbol.dispose` and `Symbol.asyncDispose` as the stacks key their methods with them.
 *
 * Invariants:
 * 1. Where the runtime has the symbol, this is it.
 * 2. Where it has none (an old browser, a `node:vm` context on Node 20, whose `Symbol` is not the
 *    main realm's), it is `Symbol.for('nodejs.dispose')` / `Symbol.for('nodejs.asyncDispose')`: the
 *    values Node 20 itself gives its main realm. A registered symbol is the same in every realm,
 *    so objects made in one realm of the process stay disposable in another; `revocable/polyfill`
 *    installs these very values, so objects made before it ran agree with `using` after.
 * 3. Importing this module never touches the global object.
 *
 * @module
 */

const symbols = Symbol as { dispose?: symbol; asyncDispose?: symbol };

/** The runtime's `Symbol.dispose`, or the registered symbol Node 20 uses for it. */
export const dispose: typeof Symbol.dispose = (typeof symbols.dispose === 'symbol' ? symbols.dispose : Symbol.for('nodejs.dispose')) as typeof Symbol.dispose;

/** The runtime's `Symbol.asyncDispose`, or the registered symbol Node 20 uses for it. */
export const asyncDispose: typeof Symbol.asyncDispose = (typeof symbols.asyncDispose === 'symbol' ? symbols.asyncDispose : Symbol.for('nodejs.asyncDispose')) as typeof Symbol.asyncDispose;
