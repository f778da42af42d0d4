/**
 * `DisposableStack`, the explicit-resource-management standard's synchronous stack, exactly as the
 * standard says, on the flat list that makes `ResourceScope` fast.
 *
 * Runtimes that ship the standard (Node 24) have it built in; this one is for the others.
 * `revocable/polyfill` installs it as the global where the runtime has none.
 *
 * Invariants (the standard's, as test262 checks them):
 * 1. `length` 0, `name` and `[Symbol.toStringTag]` `'DisposableStack'`; `[Symbol.dispose]` is
 *    `dispose` itself; a `new.target` whose `prototype` is not an object gives
 *    `DisposableStack.prototype`; `move()` returns a plain `DisposableStack`, also for a subclass.
 * 2. Every method checks its receiver first (`TypeError`), then the state: `use`, `adopt`, `defer`
 *    and `move` on a disposed stack throw a plain `ReferenceError`, before any argument is looked at.
 * 3. State goes `pending` → `disposed`, never back; `disposed` is true from the first step of
 *    `dispose()` (a release that calls `dispose()` again gets `undefined` and releases nothing).
 * 4. `dispose()` runs every release synchronously, newest first, ignoring what each returns; it
 *    throws the failures chained `new SuppressedError(newer, older)` after the last one.
 * 5. `use(null)` and `use(undefined)` add nothing.
 *
 * @module
 */
import { expected } from './internal/validate.js';
import { ADOPT, DEFER, EntryList, USE_SYNC } from './internal/scope-list.js';
import { drainSync } from './internal/scope-drain.js';
import { adoptPrototype, disposedError, notAnInstance } from './internal/scope-checks.js';
import { dispose } from './internal/symbols.js';

type Lifecycle = { readonly kind: 'pending' } | { readonly kind: 'disposed' };

const PENDING: Lifecycle = { kind: 'pending' };
const DISPOSED: Lifecycle = { kind: 'disposed' };
/** The list of every stack that has none: never pushed to (pushes allocate a list first). */
const EMPTY = new EntryList();
const NAME = 'DisposableStack';

/** Whether a value is a DisposableStack (has its private state): set in the class's static block. */
let isStack: (value: unknown) => value is DisposableStack;

/**
 * The standard's `DisposableStack`: resources released newest first, synchronously, when it is
 * disposed (`using stack = new DisposableStack()`, or `stack.dispose()`).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DisposableStack } from 'revocable';
 *
 * const log: string[] = [];
 * const stack = new DisposableStack();
 * stack.defer(() => log.push('a'));
 * stack.adopt('b', (v) => log.push(v));
 * stack.dispose();
 * assert.deepEqual(log, ['b', 'a']);
 * ```
 */
export class DisposableStack implements Disposable {
  /** The resources while pending; {@link EMPTY} until the first addition and once disposed. */
  #list: EntryList = EMPTY;
  #state: Lifecycle = PENDING;

  constructor() {
    if (new.target !== DisposableStack) adoptPrototype(this, new.target, DisposableStack.prototype);
  }

  /** Whether `dispose()` or `move()` was called. */
  get disposed(): boolean {
    return own(this, 'disposed').#state === DISPOSED;
  }

  /**
   * Takes ownership of a disposable: its `[Symbol.dispose]()` runs at disposal. `null` and
   * `undefined` are accepted and ignored.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { DisposableStack } from 'revocable';
   *
   * let locked = false;
   * const mutex = { lock: () => { locked = true; return { [Symbol.dispose]: () => { locked = false; } }; } };
   * const stack = new DisposableStack();
   * stack.use(mutex.lock()); // lock[Symbol.dispose]() runs at disposal
   * assert.equal(locked, true);
   * stack.dispose();
   * assert.equal(locked, false);
   * ```
   */
  use<T extends Disposable | null | undefined>(value: T): T {
    const stack = own(this, 'use');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'use');
    if (value === null || value === undefined) return value;
    if (typeof value !== 'object' && typeof value !== 'function') throw expected('an object with [Symbol.dispose], null or undefined', 'value', value);
    const method: unknown = (value as Partial<Disposable>)[dispose];
    if (method === undefined || method === null) throw expected('an object with [Symbol.dispose], null or undefined', 'value', value);
    if (typeof method !== 'function') throw expected('a function', 'value[Symbol.dispose]', method);
    stack.#adding().pushPair(USE_SYNC, value, method);
    return value;
  }

  /**
   * Takes ownership of a value that is not disposable itself: `onDispose(value)` runs at
   * disposal. Returns `value`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
   * import { DisposableStack } from 'revocable';
   *
   * writeFileSync('data.txt', 'hello');
   * const stack = new DisposableStack();
   * const fd = stack.adopt(openSync('data.txt', 'r'), (fd) => closeSync(fd));
   * assert.equal(fstatSync(fd).size, 5);
   * stack.dispose();
   * assert.throws(() => fstatSync(fd), { code: 'EBADF' }); // closed
   * ```
   */
  adopt<T>(value: T, onDispose: (value: T) => unknown): T {
    const stack = own(this, 'adopt');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'adopt');
    if (typeof onDispose !== 'function') throw expected('a function', 'onDispose', onDispose);
    stack.#adding().pushPair(ADOPT, value, onDispose);
    return value;
  }

  /**
   * Runs `onDispose()` at disposal.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { DisposableStack } from 'revocable';
   *
   * const log: string[] = [];
   * const stack = new DisposableStack();
   * stack.defer(() => log.push('done')); // runs at disposal
   * assert.deepEqual(log, []);
   * stack.dispose();
   * assert.deepEqual(log, ['done']);
   * ```
   */
  defer(onDispose: () => unknown): void {
    const stack = own(this, 'defer');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'defer');
    if (typeof onDispose !== 'function') throw expected('a function', 'onDispose', onDispose);
    stack.#adding().push(DEFER, onDispose);
  }

  /**
   * Moves every resource into a new `DisposableStack` (a plain one, also for a subclass) and leaves
   * this one disposed without releasing anything.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
   * import { DisposableStack } from 'revocable';
   *
   * let fd = -1;
   * function openData(): DisposableStack {
   *   using setup = new DisposableStack();
   *   fd = setup.adopt(openSync('data.txt', 'r'), closeSync);
   *   // ...more steps that may throw: setup's disposal would close the file
   *   return setup.move(); // the caller owns the file now
   * }
   * writeFileSync('data.txt', 'hello');
   * const file = openData();
   * assert.equal(fstatSync(fd).size, 5); // still open
   * file.dispose();
   * ```
   */
  move(): DisposableStack {
    const stack = own(this, 'move');
    if (stack.#state !== PENDING) throw disposedError(NAME, 'move');
    const next = new DisposableStack();
    next.#list = stack.#list;
    stack.#list = EMPTY;
    stack.#state = DISPOSED;
    return next;
  }

  /**
   * Releases everything, newest first, and throws the failures chained as `SuppressedError`s
   * after the last release. A second call does nothing.
   */
  dispose(): void {
    const stack = own(this, 'dispose');
    if (stack.#state !== PENDING) return;
    stack.#state = DISPOSED;
    const list = stack.#list;
    stack.#list = EMPTY;
    if (list.length === 0) return;
    const outcome = drainSync(list);
    if (outcome.failed) throw outcome.error;
  }

  /** `dispose` itself, under the standard's name: what `using` calls. */
  declare [Symbol.dispose]: () => void;
  /** `'DisposableStack'`. */
  declare readonly [Symbol.toStringTag]: string;

  /** The list to add to, made on first use. */
  #adding(): EntryList {
    if (this.#list === EMPTY) this.#list = new EntryList();
    return this.#list;
  }

  static {
    isStack = (value): value is DisposableStack => typeof value === 'object' && value !== null && #state in value;
  }
}

/** The receiver as a stack, or the standard's TypeError (invariant 2). */
function own(receiver: unknown, method: string): DisposableStack {
  if (!isStack(receiver)) throw notAnInstance(NAME, method, receiver);
  return receiver;
}

// As in the standard: its name whatever a bundler or minifier renames the class to, one function
// under both names, and a data property for the tag.
Object.defineProperty(DisposableStack, 'name', { value: NAME });
Object.defineProperty(DisposableStack.prototype, dispose, {
  value: DisposableStack.prototype.dispose,
  writable: true,
  enumerable: false,
  configurable: true,
});
Object.defineProperty(DisposableStack.prototype, Symbol.toStringTag, {
  value: NAME,
  writable: false,
  enumerable: false,
  configurable: true,
});
