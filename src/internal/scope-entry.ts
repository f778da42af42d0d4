/**
 * The entries of a `ResourceScope`: the handles `scope.add()` returns, to give back to
 * `scope.remove()` and `scope.release()`. An entry holds its value and release itself, so that an
 * `add()` is one slot in the scope's list (see `scope-list.ts`).
 *
 * Invariants:
 * 1. An entry's index is its slot while it is in a list, and {@link REMOVED} or {@link RELEASED}
 *    once out; it leaves a list once and never returns to one.
 * 2. Once released, an entry holds neither its value nor its release; once removed, not its
 *    release (the value is the caller's again).
 *
 * @module
 */
import { UseAfterReleaseError } from '../errors.js';

/** Index of an entry taken out with `remove()`: its value is the caller's again. */
export const REMOVED = -1;
/** Index of an entry handed to its release (by `release`, a group release or the disposal). */
export const RELEASED = -2;

export type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** What `entry.state` reports. */
export type EntryState = 'active' | 'removed' | 'released';

// Module-private doors into ScopeEntry, for the list and the scope: not public API.
let indexOf: (entry: ScopeEntry) => number;
let setIndex: (entry: ScopeEntry, index: number) => void;
/** Calls the entry's release with its value, dropping both. */
let runRelease: (entry: ScopeEntry) => unknown;
/** Takes an entry out of its list: `REMOVED` (drops the release) or `RELEASED`. */
let unlinkEntry: (entry: ScopeEntry, state: typeof REMOVED | typeof RELEASED) => void;
let isEntry: (value: unknown) => value is ScopeEntry;
export { indexOf as entryIndex, isEntry, runRelease, setIndex as setEntryIndex, unlinkEntry };

/**
 * A resource added with `scope.add(value, release)`: the handle to give back to `scope.remove()` or
 * `scope.release()`. Entries are created only by a scope.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ResourceScope } from 'revocable';
 *
 * const port = { open: true, close() { this.open = false; } };
 * const scope = new ResourceScope();
 * const entry = scope.add(port, (p) => p.close(), { name: 'port' });
 * assert.equal(entry.state, 'active');
 * await scope.release(entry); // closes the port now
 * assert.equal(entry.state, 'released');
 * assert.equal(port.open, false);
 * ```
 */
export class ScopeEntry<T = unknown> {
  /** The slot in its scope's list while active; {@link REMOVED} or {@link RELEASED} after. */
  #index: number;
  /** The value; dropped once released, so the library keeps nothing alive. */
  #value: T | undefined;
  /** Its release; dropped once released or removed. */
  #release: Fn | undefined;

  static {
    indexOf = (entry) => entry.#index;
    setIndex = (entry, index) => {
      entry.#index = index;
    };
    runRelease = (entry) => {
      const release = entry.#release as Fn;
      const value = entry.#value;
      entry.#release = undefined;
      entry.#value = undefined;
      return release(value);
    };
    unlinkEntry = (entry, state) => {
      entry.#index = state;
      if (state === REMOVED) entry.#release = undefined;
    };
    isEntry = (value): value is ScopeEntry => typeof value === 'object' && value !== null && #index in value;
  }

  /** @internal Entries are made by `scope.add()`. */
  constructor(index: number, value: T, release: Fn) {
    this.#index = index;
    this.#value = value;
    this.#release = release;
  }

  /**
   * The value given to `add()`. Still readable after `remove()` (the caller owns it again); reading
   * it once the entry is released (or queued for release) throws `UseAfterReleaseError`.
   */
  get value(): T {
    if (this.#index === RELEASED) throw new UseAfterReleaseError(`Entry${this.name === undefined ? '' : ` "${this.name}"`} was released: its value may be gone`);
    return this.#value as T;
  }

  /** The `key` given to `add()`, under which `find()` and `getOrAdd()` look it up. */
  get key(): unknown {
    return undefined;
  }

  /** The `name` given to `add()`, for messages and diagnostics. */
  get name(): string | undefined {
    return undefined;
  }

  /**
   * `'active'` while in its scope; `'removed'` after `remove()`; `'released'` from the moment it is
   * handed to its release (by `release()`, a group release or the scope's disposal).
   */
  get state(): EntryState {
    const index = this.#index;
    return index >= 0 ? 'active' : index === REMOVED ? 'removed' : 'released';
  }
}

/** An entry with a key or a name: two more fields, which entries without them do not pay for. */
export class DescribedEntry<T> extends ScopeEntry<T> {
  readonly #key: unknown;
  readonly #name: string | undefined;

  constructor(index: number, value: T, release: Fn, key: unknown, name: string | undefined) {
    super(index, value, release);
    this.#key = key;
    this.#name = name;
  }

  override get key(): unknown {
    return this.#key;
  }

  override get name(): string | undefined {
    return this.#name;
  }
}
