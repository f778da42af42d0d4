/**
 * `ResourceScope`: the kernel's devres (managed resources of a device, released newest-first when
 * the device goes away) as a superset of the standard `AsyncDisposableStack`.
 *
 * Everything a user of `AsyncDisposableStack` knows works unchanged (`use`, `adopt`, `defer`,
 * `move`, `disposeAsync`, `disposed`, `await using`), as the standard's conformance suite checks
 * it, apart from the name and `[Symbol.toStringTag]`. On top come devres's operations: entries that
 * can be removed, released early or looked up by key, groups (markers in the one list) for rolling
 * back a failed initialisation, and a `signal` that stops every callback bound to the scope at once.
 *
 * Invariants:
 * 1. Releases run newest-first, one at a time (see `internal/scope-drain.ts`): a release whose
 *    result is an object is awaited before the next starts; one that returns `undefined` or another
 *    primitive costs no microtask turn. A throwing release does not stop the others; failures are
 *    chained as `new SuppressedError(newer, older)`. An empty scope's `disposeAsync()` returns a
 *    settled promise; one that had `use(null)` and awaited nothing settles a turn later (the
 *    standard's timing for both).
 * 2. State goes `open` → `disposing` → `disposed` (or `open` → `disposed` by `move()`), never back.
 *    `disposed` is true from the first synchronous step of `disposeAsync()`, as the standard says.
 *    In that same step, before any release runs, `signal` is aborted.
 * 3. Every resource is released exactly once (by `release`, a group release or the disposal) or
 *    handed back to the caller by `remove`; none is both, none is lost. A value given to `add()` on
 *    a scope that is not open is released at once ("add or reset"): nothing leaks.
 * 4. `disposeAsync()` resolves after every release of the scope has finished, including those of
 *    `release()` and `releaseGroup()` calls still in flight when it started.
 * 5. A call with bad arguments throws `TypeError` and changes nothing. The standard's methods
 *    (`use`, `adopt`, `defer`, `move`) on a scope that is not open throw a plain `ReferenceError`
 *    (with `code` `'ERR_SCOPE_DISPOSED'`), as the standard does; devres's (`add`, `getOrAdd`,
 *    `openGroup`, `closeGroup`, `group`) throw `ScopeDisposedError`, a `ReferenceError` subclass
 *    that carries `released` for add-or-reset.
 * 6. Every scope reports its creation (constructor, `move()`) and its release (the start of its
 *    disposal, or `move()`) to the diagnostics hooks; every addition goes through `#adding()`,
 *    where per-entry tracking would hook in.
 * 7. `move()` hands the signal on with the resources: what was bound to the old scope's signal
 *    stops when the new owner's disposal begins; the old scope's `signal` reads aborted.
 *
 * @module
 */
import { GroupNotFoundError, RevokedError, ScopeDisposedError, describeName } from './errors.js';
import { hooks } from './internal/hooks.js';
import { allowManyListeners } from './internal/runtime.js';
import { checkFunction, checkOptionalFunction, checkOptionalString, checkOptions, expected } from './internal/validate.js';
import { ADOPT, DEFER, EntryList, single, singleEntry, type Batch, type Group, type ScopeItem } from './internal/scope-list.js';
import { Drain, drain, settled, startDrain } from './internal/scope-drain.js';
import { RELEASED, REMOVED, entryIndex, isEntry, type ScopeEntry } from './internal/scope-entry.js';
import { adoptPrototype, asyncDisposeMethod, notAnInstance } from './internal/scope-checks.js';
import { SuppressedError } from './internal/suppressed-error.js';
import { asyncDispose } from './internal/symbols.js';
import { type AddOptions, type ResourceScopeOptions, type ScopeState } from './internal/scope-types.js';

export type { AddOptions, ResourceScopeOptions, ScopeState } from './internal/scope-types.js';
export type { EntryState, ScopeEntry } from './internal/scope-entry.js';
export type { ScopeItem } from './internal/scope-list.js';

type Lifecycle = { readonly kind: 'open' } | { readonly kind: 'disposing' } | { readonly kind: 'disposed' };

const OPEN_STATE: Lifecycle = { kind: 'open' };
const DISPOSING_STATE: Lifecycle = { kind: 'disposing' };
const DISPOSED_STATE: Lifecycle = { kind: 'disposed' };
const NAME = 'ResourceScope';
/** The list of every scope that has none: never pushed to (pushes allocate a list first). */
const EMPTY = new EntryList();

/** Whether a value is a ResourceScope (has its private state): set in the class's static block. */
let isScope: (value: unknown) => value is ResourceScope;

/**
 * A scope that owns resources and releases them newest-first when disposed: the standard
 * `AsyncDisposableStack` plus the kernel's devres operations.
 *
 * **When to use**: anything that acquires several resources and must give all of them back
 * whatever happens: a device binding, a request, a test. Pass it around as the owner.
 *
 * **Details**: differences from the standard's stack are additions, except the name and
 * `[Symbol.toStringTag]` (`'ResourceScope'`), `instanceof AsyncDisposableStack` (false), and the
 * microtask turn the standard spends on a release that returns no object (none here; the order of
 * releases and errors is the standard's). Subclasses are welcome;
 * `move()` of a subclass returns a plain `ResourceScope`, as the standard's `move()` returns a plain
 * stack, and a subclass that overrides `disposeAsync` should assign it to `[Symbol.asyncDispose]`
 * too (the two are one function, as in the standard).
 *
 * **Gotchas**: groups are ranges of one list, not sets: concurrent `group()` calls on one scope
 * interleave, and rolling one back releases what the other added after it opened. Give concurrent
 * initialisations scopes of their own.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ResourceScope } from 'revocable';
 *
 * const log: string[] = [];
 * const scope = new ResourceScope({ name: 'sensor0' });
 * scope.defer(() => log.push('a'));
 * const b = scope.add('b', (v) => log.push(v));
 * scope.adopt('c', async (v) => log.push(v));
 * await scope.release(b); // this one, now
 * assert.deepEqual(log, ['b']);
 * await scope.disposeAsync();
 * assert.deepEqual(log, ['b', 'c', 'a']); // the rest, newest first
 * ```
 */
export class ResourceScope implements AsyncDisposable {
  /** The resources and group markers while open; {@link EMPTY} until the first addition and once not open. */
  #list: EntryList = EMPTY;
  #state: Lifecycle = OPEN_STATE;
  readonly #name: string | undefined;
  /** Batches of `release()`/`releaseGroup()` still running; the disposal waits for them. */
  #inflight = 0;
  #idle: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;
  /** Behind `signal`, made when it is first read; moves with the list (invariant 7). */
  #controller: AbortController | undefined = undefined;

  constructor(options?: ResourceScopeOptions) {
    if (new.target !== ResourceScope) adoptPrototype(this, new.target, ResourceScope.prototype);
    checkOptions(options);
    const name = options?.name;
    checkOptionalString(name, 'options.name');
    this.#name = name;
    hooks?.created('scope', this, undefined);
  }

  /** The name given in the options, for messages and diagnostics. */
  get name(): string | undefined {
    return this.#name;
  }

  /** `'open'`, `'disposing'` (releasing everything) or `'disposed'`. */
  get state(): ScopeState {
    return this.#state.kind;
  }

  /** Whether `disposeAsync()` or `move()` was called: true from the start of the disposal, as the standard says. */
  get disposed(): boolean {
    return own(this, 'disposed').#state.kind !== 'open';
  }

  /**
   * Aborted in the first synchronous step of the disposal, before any release runs, with a
   * `RevokedError` as reason: bind callbacks to it (`revocable/node`'s managed timers, listeners
   * and abort controllers take it as their `signal`, or the scope itself as `scope`) and none of
   * them is called once the disposal has begun, however long the releases take. Read on a scope
   * that is no longer open, it is aborted already. `move()` hands it on to the new scope.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   * import { setManagedInterval } from 'revocable/node';
   *
   * let ticks = 0;
   * const scope = new ResourceScope({ name: 'plugin' });
   * setManagedInterval(() => ticks++, 1_000, { scope }); // stops when the unload begins
   * const pending = scope.disposeAsync();
   * assert.equal(scope.signal.aborted, true); // while the releases are still running
   * assert.equal(scope.state, 'disposing');
   * await pending;
   * assert.equal(ticks, 0);
   * ```
   */
  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller === undefined) {
      controller = new AbortController();
      // One scope signal is shared by every callback bound to the scope: many listeners are normal.
      allowManyListeners(controller.signal);
      if (this.#state.kind !== 'open') controller.abort(this.#abortReason());
      this.#controller = controller;
    }
    return controller.signal;
  }

  /**
   * What the scope holds, newest first: the order it will release them in. For diagnostics
   * (`describe()` of `revocable/device` shows it); empty once not open.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * const scope = new ResourceScope();
   * scope.add({ close() {} }, (port) => port.close(), { name: 'port' });
   * scope.defer(function flush() {});
   * assert.deepEqual(scope.contents().map((item) => item.name), ['flush', 'port']); // newest first
   * await scope.disposeAsync();
   * ```
   */
  contents(): ScopeItem[] {
    return this.#list.contents();
  }

  /** The number of resources held (group markers not counted); 0 once not open. */
  get size(): number {
    return this.#list.count;
  }

  /**
   * Takes ownership of a disposable: its `[Symbol.asyncDispose]()` (or, without one,
   * `[Symbol.dispose]()`) runs at disposal. `null` and `undefined` are accepted and ignored.
   *
   * @throws `ScopeDisposedError` (a `ReferenceError`) if the scope is not open; `TypeError` for a
   *   value that is not disposable.
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { open, writeFile } from 'node:fs/promises';
   * import { ResourceScope } from 'revocable';
   *
   * await writeFile('data.txt', 'hello');
   * const scope = new ResourceScope();
   * const file = scope.use(await open('data.txt')); // file[Symbol.asyncDispose]() runs at disposal
   * assert.equal(await file.readFile('utf8'), 'hello');
   * await scope.disposeAsync();
   * assert.equal(file.fd, -1); // closed
   * ```
   */
  use<T extends AsyncDisposable | Disposable | null | undefined>(value: T): T {
    own(this, 'use').#checkOpen('use');
    if (value === null || value === undefined) {
      // The standard records it: a disposal that awaits nothing else still takes a turn.
      this.#adding().needsAwait = true;
      return value;
    }
    const { kind, method } = asyncDisposeMethod(value);
    this.#adding().pushPair(kind, value, method);
    return value;
  }

  /**
   * Takes ownership of a value that is not disposable itself: `onDisposeAsync(value)` runs at
   * disposal. Returns `value`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * const scope = new ResourceScope();
   * const port = scope.adopt({ open: true }, (p) => { p.open = false; });
   * assert.equal(port.open, true);
   * await scope.disposeAsync();
   * assert.equal(port.open, false);
   * ```
   */
  adopt<T>(value: T, onDisposeAsync: (value: T) => unknown): T {
    own(this, 'adopt').#checkOpen('adopt');
    checkFunction(onDisposeAsync, 'onDisposeAsync');
    this.#adding().pushPair(ADOPT, value, onDisposeAsync);
    return value;
  }

  /**
   * Runs `onDisposeAsync()` at disposal.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * let polls = 0;
   * const scope = new ResourceScope();
   * const timer = setInterval(() => polls++, 1000);
   * scope.defer(() => clearInterval(timer));
   * await scope.disposeAsync(); // the interval is cleared: the process can exit
   * assert.equal(polls, 0);
   * ```
   */
  defer(onDisposeAsync: () => unknown): void {
    own(this, 'defer').#checkOpen('defer');
    checkFunction(onDisposeAsync, 'onDisposeAsync');
    this.#adding().push(DEFER, onDisposeAsync);
  }

  /**
   * Moves every resource and group into a new open `ResourceScope` (a plain one, also for a
   * subclass) and leaves this one disposed without releasing anything: the way to hand ownership
   * on once an initialisation has succeeded.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * const closed: string[] = [];
   * async function openPort(): Promise<ResourceScope> {
   *   await using setup = new ResourceScope();
   *   setup.adopt('ttyUSB0', (p) => void closed.push(p));
   *   // ...more steps that may throw: setup's disposal would close the port
   *   return setup.move(); // the caller owns the port now; setup's disposal does nothing
   * }
   * const port = await openPort();
   * assert.deepEqual(closed, []);
   * await port.disposeAsync();
   * assert.deepEqual(closed, ['ttyUSB0']);
   * ```
   */
  move(): ResourceScope {
    own(this, 'move').#checkOpen('move');
    const next = new ResourceScope(this.#name === undefined ? undefined : { name: this.#name });
    next.#list = this.#list;
    next.#controller = this.#controller;
    this.#list = EMPTY;
    this.#controller = undefined;
    this.#state = DISPOSED_STATE;
    hooks?.released('scope', this);
    return next;
  }

  /**
   * Releases everything, newest first; resolves when the last release has finished, or rejects
   * with the failures chained as `SuppressedError`s. A second call resolves at once (the standard's
   * behaviour, also while the first is still running).
   */
  disposeAsync(): Promise<void> {
    if (!isScope(this)) return Promise.reject(notAnInstance(NAME, 'disposeAsync', this));
    if (this.#state.kind !== 'open') return Promise.resolve();
    return this.#dispose();
  }

  /** `disposeAsync` itself, under the standard's name: what `await using` calls. */
  declare [Symbol.asyncDispose]: () => Promise<void>;
  /** `'ResourceScope'`. */
  declare readonly [Symbol.toStringTag]: string;

  /**
   * The kernel's `devm_add_action`: takes ownership of `value`, released by `release(value)` at
   * disposal. Returns the entry, the handle for `remove()`/`release()`; `key` makes it findable
   * with `find()`.
   *
   * On a scope that is not open, releases `value` at once and throws `ScopeDisposedError` (the
   * kernel's `devm_add_action_or_reset`): the error's `released` settles when that release is done.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * const socket = { ended: false, end() { this.ended = true; } };
   * const scope = new ResourceScope();
   * const entry = scope.add(socket, (s) => s.end(), { key: 'socket', name: 'control socket' });
   * assert.equal(scope.find('socket'), socket);
   * assert.equal(await scope.release(entry), true); // released now, and out of the scope
   * assert.equal(socket.ended, true);
   * ```
   */
  add<T>(value: T, release: (value: T) => unknown, options?: AddOptions): ScopeEntry<T> {
    checkFunction(release, 'release');
    checkOptions(options);
    const key = options?.key;
    const name = options?.name;
    checkOptionalString(name, 'options.name');
    if (own(this, 'add').#state.kind !== 'open') {
      throw this.#disposedError('add', releaseDetached(release as (value: unknown) => unknown, value));
    }
    const entry = this.#adding().pushEntry(value, release as (value: unknown) => unknown, key, name);
    hooks?.created('scope entry', entry, this);
    return entry;
  }

  /**
   * The kernel's `devres_remove`: takes an entry out without releasing it; its value is the
   * caller's again.
   *
   * @returns `true` if removed; `false` if the entry was already removed or released (also when its
   *   release is underway: a disposal in progress, a group release).
   * @throws `TypeError` for anything that is not an entry of this scope.
   */
  remove(entry: ScopeEntry): boolean {
    if (!this.#locate(entry, 'remove')) return false;
    this.#list.takeEntry(entry, REMOVED);
    return true;
  }

  /**
   * The kernel's `devres_release`: takes an entry out and runs its release now.
   *
   * @returns a promise of `true` once released; of `false` if the entry was already removed or
   *   released. It rejects with what the release throws.
   * @throws `TypeError` (synchronously) for anything that is not an entry of this scope.
   */
  release(entry: ScopeEntry): Promise<boolean> {
    if (!this.#locate(entry, 'release')) return Promise.resolve(false);
    this.#list.takeEntry(entry, RELEASED);
    return this.#run(singleEntry(entry)).then(() => true);
  }

  /**
   * The kernel's `devres_find`: the value of the newest entry added with `key` (compared as `Map`
   * keys are) that `match(value)` accepts, or `undefined`.
   */
  find<T = unknown>(key: unknown, match?: (value: T) => unknown): T | undefined {
    checkKey(key);
    checkOptionalFunction(match, 'match');
    return this.#list.find(key, match as ((value: unknown) => unknown) | undefined)?.value as T | undefined;
  }

  /**
   * The kernel's `devres_get`, a single instance per key: the value of the newest entry with `key`,
   * or else `create()`'s, added under `key` with `release`. `create` runs synchronously, so nothing
   * can add the same key in between; it must not add under `key` itself.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * const scope = new ResourceScope();
   * const table = scope.getOrAdd('iomap', () => new Map(), (m) => m.clear());
   * assert.equal(scope.getOrAdd('iomap', () => new Map(), (m) => m.clear()), table); // one per key
   * assert.equal(scope.size, 1);
   * await scope.disposeAsync();
   * ```
   */
  getOrAdd<T>(key: unknown, create: () => T, release: (value: T) => unknown): T {
    checkKey(key);
    checkFunction(create, 'create');
    checkFunction(release, 'release');
    this.#checkOpen('getOrAdd');
    const found = this.#list.find(key, undefined);
    if (found !== undefined) return found.value as T;
    const value = create();
    this.add(value, release, { key });
    return value;
  }

  /**
   * The kernel's `devres_open_group`: opens a group at the end of the list. Resources added from
   * now on belong to it until it is closed (an open group extends to the end of the list).
   *
   * @returns the group's id, a fresh symbol.
   */
  openGroup(): symbol;
  /**
   * The kernel's `devres_open_group`: opens a group with the id `id` at the end of the list, as
   * `openGroup()` does.
   *
   * @param id the group's id. Ids need not be unique: lookups find the newest.
   * @returns `id`.
   */
  openGroup<I>(id: I): I;
  openGroup(id?: unknown): unknown {
    checkGroupId(id);
    this.#checkOpen('openGroup');
    const groupId = id === undefined ? Symbol(describeName('group of ResourceScope', this.#name)) : id;
    this.#adding().openGroup(groupId);
    return groupId;
  }

  /**
   * The kernel's `devres_close_group`: ends group `id` (omitted: the newest open group) here;
   * resources added later are outside it.
   *
   * @throws `GroupNotFoundError` if there is no such group or it is already closed;
   *   `ScopeDisposedError` if the scope is not open.
   */
  closeGroup(id?: unknown): void {
    checkGroupId(id);
    this.#checkOpen('closeGroup');
    const group = this.#list.findGroup(id);
    if (group === undefined || group.close >= 0) throw new GroupNotFoundError(this.#name, id, group !== undefined);
    this.#list.closeGroup(group);
  }

  /**
   * The kernel's `devres_remove_group`: removes group `id`'s markers (omitted: the newest open
   * group), keeping its resources: the success path of an initialisation. A no-op on a scope that
   * is not open (its disposal took the group along).
   *
   * @throws `GroupNotFoundError` on an open scope without such a group.
   */
  removeGroup(id?: unknown): void {
    checkGroupId(id);
    if (this.#state.kind !== 'open') return;
    const group = this.#list.findGroup(id);
    if (group === undefined) throw new GroupNotFoundError(this.#name, id, false);
    this.#list.removeGroup(group);
  }

  /**
   * The kernel's `devres_release_group`: releases every resource from group `id`'s opening marker
   * to its closing marker (to the end while it is open), newest first, with the groups properly
   * nested in it; a group only partly inside keeps its markers. Omitted `id`: the newest open group.
   *
   * @returns a promise of the number of resources released (group markers not counted); of 0 on a
   *   scope that is not open (its disposal released the group). It rejects with `GroupNotFoundError`
   *   on an open scope without such a group, and with what the releases throw, chained as in
   *   `disposeAsync()`, after all have run.
   * @throws `TypeError` (synchronously) for an id of `null`.
   */
  releaseGroup(id?: unknown): Promise<number> {
    checkGroupId(id);
    if (this.#state.kind !== 'open') return Promise.resolve(0);
    const group = this.#list.findGroup(id);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(this.#name, id, false));
    return this.#releaseGroup(group);
  }

  /**
   * Runs `fn(scope)` inside a new group: if it throws (or rejects), releases what it added, newest
   * first, and rethrows (a failing release is chained: `new SuppressedError(releaseError, error)`);
   * if it succeeds, keeps what it added and drops the group. The rollback of a failed `probe()`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { ResourceScope } from 'revocable';
   *
   * const closed: string[] = [];
   * const scope = new ResourceScope();
   * const handshake = async (): Promise<void> => { throw new Error('no answer'); };
   * await assert.rejects(scope.group(async () => {
   *   scope.adopt('ttyUSB0', (port) => void closed.push(port));
   *   await handshake(); // throws: the port is closed, the scope is as before
   * }), /no answer/);
   * assert.deepEqual(closed, ['ttyUSB0']);
   * assert.equal(scope.size, 0);
   * ```
   */
  group<R>(fn: (scope: this) => R | PromiseLike<R>): Promise<R> {
    checkFunction(fn, 'fn');
    this.#checkOpen('group');
    const list = this.#adding();
    return this.#group(list, list.openGroup(Symbol(describeName('group() of ResourceScope', this.#name))), fn);
  }

  async #group<R>(list: EntryList, group: Group, fn: (scope: this) => R | PromiseLike<R>): Promise<R> {
    let result: R;
    try {
      result = await fn(this);
    } catch (error) {
      // Only while the list is still ours: a disposal released the group already, and after a
      // move() its resources belong to the new scope, which releases them when it goes.
      if (this.#list === list && list.hasGroup(group)) {
        try {
          await this.#releaseGroup(group);
        } catch (releaseError) {
          throw new SuppressedError(releaseError, error, 'An error was suppressed while rolling back a group');
        }
      } else if (list.hasGroup(group)) {
        list.removeGroup(group);
      }
      throw error;
    }
    // Also after a move(): a stale open group would capture "the newest open group" of the new scope.
    if (list.hasGroup(group)) list.removeGroup(group);
    return result;
  }

  async #releaseGroup(group: Group): Promise<number> {
    const batch = this.#list.takeGroup(group);
    await this.#run(batch);
    return batch.count;
  }

  /** Runs a batch taken out of the list, counted so that the disposal can wait for it. */
  async #run(batch: Batch): Promise<void> {
    this.#inflight++;
    try {
      await drain(batch);
    } finally {
      if (--this.#inflight === 0 && this.#idle !== null) {
        this.#idle.resolve();
        this.#idle = null;
      }
    }
  }

  #dispose(): Promise<void> {
    const batch = this.#list.takeAll();
    this.#list = EMPTY;
    this.#state = DISPOSING_STATE;
    hooks?.released('scope', this);
    // Invariant 2: every callback bound to the signal stops here, before the first release.
    this.#controller?.abort(this.#abortReason());
    if (this.#inflight > 0) return this.#disposeAfterInflight(batch);
    const outcome = startDrain(batch, () => {
      this.#state = DISPOSED_STATE;
    });
    if (!(outcome instanceof Drain)) return outcome;
    this.#state = DISPOSED_STATE;
    return settled(outcome, batch.needsAwait);
  }

  /** The disposal when `release()`/`releaseGroup()` calls are still running: waits for them first. */
  async #disposeAfterInflight(batch: Batch): Promise<void> {
    try {
      if (this.#idle === null) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.#idle = { promise, resolve };
      }
      await this.#idle.promise;
      await drain(batch);
    } finally {
      this.#state = DISPOSED_STATE;
    }
  }

  #abortReason(): RevokedError {
    const what = this.#state.kind === 'disposing' ? 'is being disposed' : 'is disposed';
    return new RevokedError(`${describeName(NAME, this.#name)} ${what}`, this.#name === undefined ? undefined : { resourceName: this.#name });
  }

  /** The list to add to, made on first use. Every addition goes through here: the hook point for per-entry tracking. */
  #adding(): EntryList {
    if (this.#list === EMPTY) this.#list = new EntryList();
    return this.#list;
  }

  /** True if `entry` is active here; false if it was removed or released (or is being released); throws if it is not ours. */
  #locate(entry: ScopeEntry, method: string): boolean {
    if (!isEntry(entry)) throw expected('an entry returned by add()', 'entry', entry);
    if (this.#list.has(entry)) return true;
    if (entryIndex(entry) < 0) return false;
    throw new TypeError(`${describeName('ResourceScope', this.#name)}.${method}(): the entry belongs to another scope (added there, or moved there by move())`);
  }

  #checkOpen(method: string): void {
    if (this.#state.kind === 'open') return;
    if (method === 'use' || method === 'adopt' || method === 'defer' || method === 'move') {
      // The standard's methods throw the standard's error (invariant 5).
      const error = new ReferenceError(`${describeName(NAME, this.#name)} is ${this.#state.kind}: cannot ${method}()`);
      (error as ReferenceError & { code?: string }).code = 'ERR_SCOPE_DISPOSED';
      throw error;
    }
    throw this.#disposedError(method, Promise.resolve());
  }

  static {
    isScope = (value): value is ResourceScope => typeof value === 'object' && value !== null && #state in value;
  }

  #disposedError(method: string, released: Promise<void>): ScopeDisposedError {
    const what = method === 'add' ? 'add() released the value instead' : `cannot ${method}()`;
    return new ScopeDisposedError(`${describeName('ResourceScope', this.#name)} is ${this.#state.kind}: ${what}`, this.#name, released);
  }
}

/** The receiver as a scope, or the standard's TypeError for a method called on something else. */
function own(receiver: unknown, method: string): ResourceScope {
  if (!isScope(receiver)) throw notAnInstance(NAME, method, receiver);
  return receiver;
}

// As in the standard: no parameter counted (the options are optional), one function under both
// names, and a data property for the tag.
Object.defineProperty(ResourceScope, 'length', { value: 0 });
// Its name whatever a bundler or minifier renames the class to.
Object.defineProperty(ResourceScope, 'name', { value: NAME });
Object.defineProperty(ResourceScope.prototype, asyncDispose, {
  value: ResourceScope.prototype.disposeAsync,
  writable: true,
  enumerable: false,
  configurable: true,
});
Object.defineProperty(ResourceScope.prototype, Symbol.toStringTag, {
  value: 'ResourceScope',
  writable: false,
  enumerable: false,
  configurable: true,
});

function checkKey(key: unknown): void {
  if (key === undefined) throw expected('a key (any value but undefined)', 'key', key);
}

function checkGroupId(id: unknown): void {
  if (id === null) throw expected('a group id (any value but null) or omitted', 'id', id);
}

/** Releases a value that could not be added; the promise is pre-handled, and carries the error. */
function releaseDetached(release: (value: unknown) => unknown, value: unknown): Promise<void> {
  const done = drain(single(release, value));
  done.catch(() => {});
  return done;
}
