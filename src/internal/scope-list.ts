/**
 * The list under a `ResourceScope`: the devres list of one device, kept flat so that an entry
 * costs one or two array slots and a byte, and releasing runs as a tight loop.
 *
 * Slots live in chunks of {@link CHUNK}: the first grows as an ordinary array (a small scope costs
 * little), the others are allocated whole. Growing a list never copies the slots it has, which is
 * most of what a long flat array costs to fill; `kinds` is one byte array that doubles.
 *
 * A record is one slot (`defer`: the function; `add`: the entry, which holds value and release; a
 * group marker: the group) or two (`adopt`, `use`: the value, then the method), `kinds[i]` saying
 * which (see the kind constants; the second slot of a pair is a {@link TAIL}). Group markers live
 * in the same list as resources, as in the kernel, so a group is a range of the list, not a set.
 *
 * Invariants:
 * 1. Slot `i` is `chunks[i >>> SHIFT][i & MASK]`; `length <= kinds.length`; `kinds[i] === HOLE`
 *    and the slot is empty for every `i >= length`; no chunk lies wholly at or past `length`,
 *    except the first, which always exists.
 * 2. The last slot (`length - 1`) is never a hole: trailing holes are trimmed at once.
 * 3. `holes` counts the holes below `length`, `markers` the group markers, `entries` the slots of
 *    kind `ENTRY`/`KEYED`, `count` the resources (records that are not markers).
 * 4. An active entry at slot `i` has index `i` and slot `i` holds it; compaction moves both.
 *    An entry out of the list has index {@link REMOVED} or {@link RELEASED}.
 * 5. A group's `open` (and `close`, once closed) is the slot of its marker; both are -1 once the
 *    group left the list.
 * 6. A {@link Batch} (what a release runs over) has this same layout; `scope-drain.ts` runs one.
 * 7. `needsAwait` is set by a `use(null)` or `use(undefined)` of an asynchronous stack: the
 *    standard's one turn at the end of a disposal that awaited nothing else.
 *
 * @module
 */
import { DescribedEntry, RELEASED, ScopeEntry, entryIndex, setEntryIndex, unlinkEntry, type Fn, type REMOVED } from './scope-entry.js';

/** An unlinked slot. Zero, so fresh and trimmed `kinds` storage reads as holes. */
export const HOLE = 0;
/** `defer(fn)`, one slot: `fn()`, result awaited. */
export const DEFER = 1;
/** `add(value, release)`, one slot, the {@link ScopeEntry}: `release(value)`, result awaited. */
export const ENTRY = 2;
/** As {@link ENTRY}, for an entry with a `key` (the only slots `find` looks at). */
export const KEYED = 3;
/** A group's opening marker, one slot: the {@link Group}. */
export const OPEN = 4;
/** A group's closing marker, one slot: the {@link Group}. */
export const CLOSE = 5;
/** `adopt(value, fn)`, two slots: `fn(value)`, result awaited. */
export const ADOPT = 6;
/** `use(resource)` with `Symbol.asyncDispose`, two slots: `method.call(resource)`, result awaited. */
export const USE = 7;
/** `use(resource)` falling back to `Symbol.dispose`, two slots: `method.call(resource)`, result ignored. */
export const USE_SYNC = 8;
/** The second slot of a two-slot record: its method. */
export const TAIL = 9;


/** One record of a scope, as diagnostics show it. */
export interface ScopeItem {
  /** How it was added (`add`, `adopt`, `use`, `defer`), or a group's opening or closing marker. */
  readonly type: 'add' | 'adopt' | 'use' | 'defer' | 'group-open' | 'group-close';
  /** Its name: `add`'s `name`, else the value's or function's own. */
  readonly name: string | undefined;
  /** For `add` entries with a key. */
  readonly key?: unknown;
  /** For group markers: the group's id. */
  readonly group?: unknown;
}

function nameOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  let name: unknown;
  try {
    name = (value as { name?: unknown }).name;
  } catch {
    return undefined; // a revoked proxy, a throwing getter: no name
  }
  if (typeof name === 'string' && name !== '') return name;
  const constructor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof value === 'object' && typeof constructor?.name === 'string' && constructor.name !== 'Object' ? constructor.name : undefined;
}

/** A devres group: an opening marker and, once closed, a closing marker in the list. */
export class Group {
  /** Slot of the opening marker; -1 once the group left the list. */
  open = -1;
  /** Slot of the closing marker; -1 while the group is open (and once it left the list). */
  close = -1;
  constructor(readonly id: unknown) {}
}

/** Records in list order (oldest first), in the list's layout: what {@link drain} runs. */
export interface Batch {
  readonly chunks: readonly unknown[][];
  readonly kinds: ArrayLike<number>;
  readonly length: number;
  /** Resources in the batch. */
  readonly count: number;
  /** Invariant 7. */
  readonly needsAwait: boolean;
}

/** Slots per chunk, as a shift and a mask. */
export const SHIFT = 10;
const CHUNK = 1 << SHIFT;
export const MASK = CHUNK - 1;

/** A batch of one release: `fn(value)`. */
export function single(fn: unknown, value: unknown): Batch {
  const batch = new EntryList();
  batch.pushPair(ADOPT, value, fn);
  return batch;
}

/** A batch of one entry's release, the entry already taken out of its list. */
export function singleEntry(entry: ScopeEntry): Batch {
  const batch = new EntryList();
  batch.push(ENTRY, entry);
  return batch;
}

/** Map's key equality (SameValueZero): `NaN` finds `NaN`, `0` finds `-0`. */
export function sameKey(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/** Holes tolerated before a compaction is considered (amortised either way: a compaction follows at least `length / 2` unlinks). */
const COMPACT_MIN_HOLES = 8;

export class EntryList implements Batch {
  chunks: unknown[][] = [[]];
  kinds = new Uint8Array(16);
  length = 0;
  holes = 0;
  markers = 0;
  entries = 0;
  count = 0;
  needsAwait = false;

  /** What slot `index` holds. */
  item(index: number): unknown {
    return (this.chunks[index >>> SHIFT] as unknown[])[index & MASK];
  }

  #set(index: number, item: unknown): void {
    (this.chunks[index >>> SHIFT] as unknown[])[index & MASK] = item;
  }

  /** Stores `item` in the slot just past the end, making room as needed. */
  #append(index: number, item: unknown): void {
    let chunk = this.chunks[index >>> SHIFT];
    if (chunk === undefined) {
      chunk = new Array<unknown>(CHUNK);
      this.chunks.push(chunk);
    }
    chunk[index & MASK] = item;
  }

  /** Appends a one-slot record and returns its slot. */
  push(kind: number, item: unknown): number {
    const index = this.length;
    if (index === this.kinds.length) this.#grow();
    this.kinds[index] = kind;
    this.#append(index, item);
    this.length = index + 1;
    if (kind < OPEN) this.count++;
    return index;
  }

  /** Appends a two-slot record (`ADOPT`, `USE`, `USE_SYNC`). */
  pushPair(kind: number, value: unknown, method: unknown): void {
    const index = this.length;
    if (index + 2 > this.kinds.length) this.#grow();
    this.kinds[index] = kind;
    this.kinds[index + 1] = TAIL;
    this.#append(index, value);
    this.#append(index + 1, method);
    this.length = index + 2;
    this.count++;
  }

  /** Appends an `add()` entry. */
  pushEntry<T>(value: T, release: Fn, key: unknown, name: string | undefined): ScopeEntry<T> {
    const index = this.length;
    const entry = key === undefined && name === undefined ? new ScopeEntry(index, value, release) : new DescribedEntry(index, value, release, key, name);
    this.push(key === undefined ? ENTRY : KEYED, entry);
    this.entries++;
    return entry;
  }

  /**
   * What the list holds, newest first (the order of release), for diagnostics. Names come from
   * `add`'s `name`, else from the value's or function's own `name`.
   */
  contents(): ScopeItem[] {
    const items: ScopeItem[] = [];
    for (let i = this.length - 1; i >= 0; i--) {
      const kind = this.kinds[i];
      if (kind === HOLE) continue;
      if (kind === TAIL) {
        const value = this.item(i - 1);
        const type = this.kinds[i - 1] === ADOPT ? 'adopt' : 'use';
        items.push({ type, name: nameOf(value) ?? (type === 'adopt' ? nameOf(this.item(i)) : undefined) });
        i--;
      } else if (kind === DEFER) {
        items.push({ type: 'defer', name: nameOf(this.item(i)) });
      } else if (kind === ENTRY || kind === KEYED) {
        const entry = this.item(i) as ScopeEntry;
        items.push({ type: 'add', name: entry.name ?? nameOf(entry.value), ...(kind === KEYED ? { key: entry.key } : {}) });
      } else if (kind === OPEN || kind === CLOSE) {
        items.push({ type: kind === OPEN ? 'group-open' : 'group-close', name: nameOf((this.item(i) as Group).id), group: (this.item(i) as Group).id });
      }
    }
    return items;
  }

  /** Whether `entry` is active in this list. */
  has(entry: ScopeEntry): boolean {
    const index = entryIndex(entry);
    return index >= 0 && index < this.length && this.item(index) === entry;
  }

  /** Takes an active entry (see {@link has}) out: removed (the caller's again) or for release. */
  takeEntry(entry: ScopeEntry, state: typeof REMOVED | typeof RELEASED): void {
    const index = entryIndex(entry);
    unlinkEntry(entry, state);
    this.#unlink(index);
    this.#settle();
  }

  /**
   * Hands the whole list to the disposal: every entry reads `'released'` from now on, as in the
   * kernel, where `devres_release_all` unlinks everything before it releases anything.
   */
  takeAll(): Batch {
    if (this.entries > 0) {
      const { kinds } = this;
      for (let i = 0; i < this.length; i++) {
        const kind = kinds[i];
        if (kind === ENTRY || kind === KEYED) unlinkEntry(this.item(i) as ScopeEntry, RELEASED);
      }
    }
    return this;
  }

  /** The newest keyed entry with `key` whose value `match` accepts. */
  find(key: unknown, match: ((value: unknown) => unknown) | undefined): ScopeEntry | undefined {
    for (let i = this.length - 1; i >= 0; i--) {
      if (this.kinds[i] !== KEYED) continue;
      const entry = this.item(i) as ScopeEntry;
      if (!sameKey(entry.key, key)) continue;
      // `match` is user code: it may change the list, so re-check the entry after it.
      if (match === undefined || (match(entry.value) && this.has(entry))) return entry;
    }
    return undefined;
  }

  /** Opens a group at the end of the list. */
  openGroup(id: unknown): Group {
    const group = new Group(id);
    group.open = this.push(OPEN, group);
    this.markers++;
    return group;
  }

  /**
   * The kernel's `find_group`: the newest group with `id` (open or closed), or with `id`
   * undefined the newest group that is still open.
   */
  findGroup(id: unknown): Group | undefined {
    if (this.markers === 0) return undefined;
    for (let i = this.length - 1; i >= 0; i--) {
      if (this.kinds[i] !== OPEN) continue;
      const group = this.item(i) as Group;
      if (id === undefined ? group.close < 0 : sameKey(group.id, id)) return group;
    }
    return undefined;
  }

  /** Whether `group` is in this list. */
  hasGroup(group: Group): boolean {
    return group.open >= 0 && group.open < this.length && this.item(group.open) === group;
  }

  /** Appends `group`'s closing marker: from now on the group ends there. */
  closeGroup(group: Group): void {
    group.close = this.push(CLOSE, group);
    this.markers++;
  }

  /** Takes `group`'s markers out; its resources stay where they are. */
  removeGroup(group: Group): void {
    this.#unlinkGroup(group);
    this.#settle();
  }

  /**
   * The kernel's `remove_nodes` for `group`: takes out every resource from its opening marker to
   * its closing marker (to the end of the list while it is open), and the markers of every group
   * wholly inside that range: a closed group with both markers in it, or an open group whose
   * opening marker is in it. A group only partly inside keeps its markers (it loses the resources
   * in the range). Returns the resources, oldest first.
   */
  takeGroup(group: Group): Batch {
    const first = group.open;
    const end = group.close < 0 ? this.length : group.close + 1;
    const batch = new EntryList();
    const contained: Group[] = [];
    const { kinds } = this;
    for (let i = first; i < end; i++) {
      const kind = kinds[i] as number;
      if (kind === HOLE || kind === CLOSE) continue;
      const item = this.item(i);
      if (kind === OPEN) {
        const inner = item as Group;
        if (inner.close < 0 || inner.close < end) contained.push(inner);
        continue;
      }
      if (kind >= ADOPT) {
        // A pair: its method goes along.
        batch.pushPair(kind, item, this.item(i + 1));
        this.#unlink(i);
        this.#unlink(++i);
        continue;
      }
      if (kind === ENTRY || kind === KEYED) unlinkEntry(item as ScopeEntry, RELEASED);
      batch.push(kind, item);
      this.#unlink(i);
    }
    for (const inner of contained) this.#unlinkGroup(inner);
    this.#settle();
    return batch;
  }

  #grow(): void {
    const kinds = new Uint8Array(this.kinds.length * 2);
    kinds.set(this.kinds);
    this.kinds = kinds;
  }

  #unlinkGroup(group: Group): void {
    this.#unlink(group.open);
    if (group.close >= 0) this.#unlink(group.close);
    group.open = -1;
    group.close = -1;
  }

  /** Turns one slot into a hole (a pair's head and tail are unlinked one by one). */
  #unlink(index: number): void {
    const kind = this.kinds[index] as number;
    if (kind === OPEN || kind === CLOSE) this.markers--;
    else if (kind !== TAIL) {
      this.count--;
      if (kind === ENTRY || kind === KEYED) this.entries--;
    }
    this.kinds[index] = HOLE;
    this.#set(index, undefined);
    this.holes++;
  }

  /** Restores invariant 2 and compacts when more than half the slots are holes. */
  #settle(): void {
    let length = this.length;
    if (length > 0 && this.kinds[length - 1] === HOLE) {
      while (length > 0 && this.kinds[length - 1] === HOLE) length--;
      this.holes -= this.length - length;
      this.length = length;
      this.#dropChunks();
    }
    if (this.holes >= COMPACT_MIN_HOLES && this.holes * 2 >= this.length) this.#compact();
  }

  /** Squeezes the holes out, moving entry indices and group markers with their slots. */
  #compact(): void {
    const { kinds } = this;
    let to = 0;
    for (let from = 0; from < this.length; from++) {
      const kind = kinds[from] as number;
      if (kind === HOLE) continue;
      if (to !== from) {
        const item = this.item(from);
        kinds[to] = kind;
        this.#set(to, item);
        this.#set(from, undefined);
        if (kind === ENTRY || kind === KEYED) setEntryIndex(item as ScopeEntry, to);
        else if (kind === OPEN) (item as Group).open = to;
        else if (kind === CLOSE) (item as Group).close = to;
      }
      to++;
    }
    kinds.fill(HOLE, to, this.length);
    this.length = to;
    this.holes = 0;
    this.#dropChunks();
  }

  /** Restores the chunk part of invariant 1 after `length` went down (the slots are empty already). */
  #dropChunks(): void {
    const { chunks } = this;
    while (chunks.length > 1 && (chunks.length - 1) << SHIFT >= this.length) chunks.pop();
    if (chunks.length === 1) (chunks[0] as unknown[]).length = Math.min((chunks[0] as unknown[]).length, this.length);
  }
}
