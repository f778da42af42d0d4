/**
 * `AsyncDisposableStack`, the explicit-resource-management standard's asynchronous stack, exactly
 * as the standard says, on the flat list that makes `ResourceScope` fast.
 *
 * Runtimes that ship the standard (Node 24) have it built in; this one is for the others, and for
 * code that wants the same fast stack everywhere. `revocable/polyfill` installs it as the global
 * where the runtime has none.
 *
 * Invariants (the standard's, as test262 checks them):
 * 1. `length` 0, `name` and `[Symbol.toStringTag]` `'AsyncDisposableStack'`; `[Symbol.asyncDispose]`
 *    is `disposeAsync` itself; a `new.target` whose `prototype` is not an object gives
 *    `AsyncDisposableStack.prototype`; `move()` returns a plain `AsyncDisposableStack`, also for a
 *    subclass.
 * 2. Every method checks its receiver first (`TypeError`; `disposeAsync` rejects instead), then the
 *    state: `use`, `adopt`, `defer` and `move` on a disposed stack throw a plain `ReferenceError`,
 *    before any argument is looked at.
 * 3. State goes `pending` → `disposed`, never back; `disposed` is true from the first synchronous
 *    step of `disposeAsync()` (or of `move()`).
 * 4. Releases run newest first, one finishing before the next starts; failures are chained
 *    `new SuppressedError(newer, older)`; a second `disposeAsync()` resolves `undefined` at once.
 * 5. Timing: an empty stack's `disposeAsync()` returns an already-settled promise; a stack that
 *    had `use(null)`/`use(undefined)` and awaited nothing settles one turn later, as the standard's
 *    final `Await(undefined)`. The one difference from the standard: a release that returns
 *    `undefined` or another primitive costs no microtask turn (the standard spends one on it), so
 *    releases that are synchronous run back to back. The order of releases and errors is the
 *    standard's.
 *
 * @module
 */
import { expected } from './internal/validate.js';
import { ADOPT, DEFER, EntryList } from './internal/scope-list.js';
import { Drain, settled, startDrain } from './internal/scope-drain.js';
import { adoptPrototype, asyncDisposeMethod, disposedError, notAnInstance } from './internal/scope-checks.js';
import { asyncDispose } from './internal/symbols.js';

type Lifecycle = { readonly kind: 'pending' } | { readonly kind: 'disposed' };

const PENDING: Lifecycle = { kind: 'pending' };
const DISPOSED: Lifecycle = { kind: 'disposed' };
/** The list of every stack that has none: never pushed to (pushes allocate a list first). */
const EMPTY = new EntryList();
const NAME = 'AsyncDisposableStack';

/** Whether a value is a AsyncDisposableStack (has its private state): set in the class's static block. */
let isStack: (value: unknown) => value is AsyncDisposableStack;

/**
 * The standard's `AsyncDisposableStack`: resources released newest first, asynchronously, when it
 * is disposed. Use it where the standard's class is wanted and the runtime may not have it, or
 * where its speed matters (see docs/performance.md); use `ResourceScope` for the
 * devres operations on top (entries, keys, groups, `signal`).
 *
 * **Gotchas**: a release that returns no promise is not given a microtask turn of its own
 * (invariant 5): code that relies on other microtasks running between two such releases should
 * return a promise from the first.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { AsyncDisposableStack } from 'revocable';
 *
 * const log: string[] = [];
 * const stack = new AsyncDisposableStack();
 * stack.defer(() => log.push('a'));
 * stack.adopt('b', async (v) => log.push(v));
 * await stack.disposeAsync();
 * assert.deepEqual(log, ['b', 'a']);
 * ```
 */
export class AsyncDisposableStack implements AsyncDisposable {
  /** The resources while pending; {@link EMPTY} until the first addition and once disposed. */
  #list: EntryList = EMPTY;
  #state: Lifecycle = PENDING;

  constructor() {
    if (new.target !== AsyncDisposableStack) adoptPrototype(this, new.target, AsyncDisposableStack.prototype);
  }

  /** Whether `disposeAsync()` or `move()` was called. */
  get disposed(): boolean {
    return own(this, 'disposed').#state === DISPOSED;
  }

  /**
   * Takes ownership of a disposable: its `[Symbol.asyncDispose]()` (or, without one,
   * `[Symbol.dispose]()`, whose result is not awaited) runs at disposal. `null` and `undefined`
   * are accepted: they release nothing (the disposal then takes at least one turn).
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { open, writeFile } from 'node:fs/promises';
   * import { AsyncDisposableStack } from 'revocable';
   *
   * await writeFile('data.txt', 'hello');
   * const stack = new AsyncDisposableStack();
   * const file = stack.use(await open('data.txt')); // file[Symbol.asyncDispose]() runs at disposal
   * assert.equal(await file.readFile('utf8'), 'hello');
   * await stack.disposeAsync();
   * assert.equal(file.fd, -1); // closed
   * ```
   */
  use<T extends AsyncDisposable | Disposable | null | undefined>(value: T): T {
    const stack = own(this, 'use');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'use');
    if (value === null || value === undefined) {
      stack.#adding().needsAwait = true;
      return value;
    }
    const { kind, method } = asyncDisposeMethod(value);
    stack.#adding().pushPair(kind, value, method);
    return value;
  }

  /**
   * Takes ownership of a value that is not disposable itself: `onDisposeAsync(value)` runs at
   * disposal. Returns `value`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { AsyncDisposableStack } from 'revocable';
   *
   * const stack = new AsyncDisposableStack();
   * const port = stack.adopt({ open: true }, async (p) => { p.open = false; });
   * assert.equal(port.open, true);
   * await stack.disposeAsync();
   * assert.equal(port.open, false);
   * ```
   */
  adopt<T>(value: T, onDisposeAsync: (value: T) => unknown): T {
    const stack = own(this, 'adopt');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'adopt');
    if (typeof onDisposeAsync !== 'function') throw expected('a function', 'onDisposeAsync', onDisposeAsync);
    stack.#adding().pushPair(ADOPT, value, onDisposeAsync);
    return value;
  }

  /**
   * Runs `onDisposeAsync()` at disposal.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { AsyncDisposableStack } from 'revocable';
   *
   * let polls = 0;
   * const stack = new AsyncDisposableStack();
   * const timer = setInterval(() => polls++, 1000);
   * stack.defer(() => clearInterval(timer));
   * await stack.disposeAsync(); // the interval is cleared: the process can exit
   * assert.equal(polls, 0);
   * ```
   */
  defer(onDisposeAsync: () => unknown): void {
    const stack = own(this, 'defer');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'defer');
    if (typeof onDisposeAsync !== 'function') throw expected('a function', 'onDisposeAsync', onDisposeAsync);
    stack.#adding().push(DEFER, onDisposeAsync);
  }

  /**
   * Moves every resource into a new `AsyncDisposableStack` (a plain one, also for a subclass) and
   * leaves this one disposed without releasing anything.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { AsyncDisposableStack } from 'revocable';
   *
   * const closed: string[] = [];
   * async function openPort(): Promise<AsyncDisposableStack> {
   *   await using setup = new AsyncDisposableStack();
   *   setup.adopt('ttyUSB0', async (p) => void closed.push(p));
   *   // ...more steps that may throw: setup's disposal would close the port
   *   return setup.move(); // the caller owns the port now; setup's disposal does nothing
   * }
   * const port = await openPort();
   * assert.deepEqual(closed, []);
   * await port.disposeAsync();
   * assert.deepEqual(closed, ['ttyUSB0']);
   * ```
   */
  move(): AsyncDisposableStack {
    const stack = own(this, 'move');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'move');
    const next = new AsyncDisposableStack();
    next.#list = stack.#list;
    stack.#list = EMPTY;
    stack.#state = DISPOSED;
    return next;
  }

  /**
   * Releases everything, newest first; resolves `undefined` when the last release has finished,
   * or rejects with the failures chained as `SuppressedError`s. A second call resolves at once.
   */
  disposeAsync(): Promise<void> {
    if (!isStack(this)) return Promise.reject(notAnInstance(NAME, 'disposeAsync', this));
    if (this.#state !== PENDING) return Promise.resolve();
    this.#state = DISPOSED;
    const list = this.#list;
    this.#list = EMPTY;
    const outcome = startDrain(list);
    return outcome instanceof Drain ? settled(outcome, list.needsAwait) : outcome;
  }

  /** `disposeAsync` itself, under the standard's name: what `await using` calls. */
  declare [Symbol.asyncDispose]: () => Promise<void>;
  /** `'AsyncDisposableStack'`. */
  declare readonly [Symbol.toStringTag]: string;

  /** The list to add to, made on first use. */
  #adding(): EntryList {
    if (this.#list === EMPTY) this.#list = new EntryList();
    return this.#list;
  }

  static {
    isStack = (value): value is AsyncDisposableStack => typeof value === 'object' && value !== null && #state in value;
  }
}

/** The receiver as a stack, or the standard's TypeError (invariant 2). */
function own(receiver: unknown, method: string): AsyncDisposableStack {
  if (!isStack(receiver)) throw notAnInstance(NAME, method, receiver);
  return receiver;
}

// As in the standard: its name whatever a bundler or minifier renames the class to, one function
// under both names, and a data property for the tag.
Object.defineProperty(AsyncDisposableStack, 'name', { value: NAME });
Object.defineProperty(AsyncDisposableStack.prototype, asyncDispose, {
  value: AsyncDisposableStack.prototype.disposeAsync,
  writable: true,
  enumerable: false,
  configurable: true,
});
Object.defineProperty(AsyncDisposableStack.prototype, Symbol.toStringTag, {
  value: NAME,
  writable: false,
  enumerable: false,
  configurable: true,
});
