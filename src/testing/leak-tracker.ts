/**
 * The leak tracker: a test suite installs it in one line, and each test then fails with the list of
 * what it created and did not release — providers not revoked, handles not closed, accesses not
 * released, scopes not disposed, refs not dropped, files not closed — each with where it was made.
 *
 * Invariants:
 * 1. Only what was created while the tracker ran is reported; `reset()` forgets what came before.
 * 2. A handle whose provider was revoked holds nothing and is not a leak; an access is a leak until
 *    released whatever its provider does (an unreleased access is what makes a drain hang).
 * 3. The tracker holds what it tracks strongly only until the next `reset()` or `check()`.
 *
 * @module
 */
import { captureStack, listen, type TrackedKind } from '../internal/hooks.js';
import { checkFunction, expected, isObjectArgument } from '../internal/validate.js';

/** Something created and not released. */
export interface Leak {
  /** What it is: `'revocable'`, `'handle'`, `'access'`, `'scope'`, `'ref'`, `'open file'`, ... */
  readonly kind: TrackedKind;
  /** The object's (or its owner's) name, when it has one. */
  readonly name: string | undefined;
  /** Where it was created. */
  readonly createdAt: string;
  /** The object itself. */
  readonly object: object;
}

/** Thrown by {@link LeakTracker.check} when something leaked; `leaks` lists what. */
export class LeakError extends Error {
  /** Always `'ERR_LEAKED'`. */
  readonly code = 'ERR_LEAKED' as const;
  /** What was created and not released. */
  readonly leaks: readonly Leak[];
  constructor(leaks: readonly Leak[]) {
    const list = leaks.map((leak) => `  - ${leak.kind}${leak.name === undefined ? '' : ` "${leak.name}"`} created at\n${leak.createdAt.split('\n').map((l) => `      ${l}`).join('\n')}`);
    super(`${leaks.length} ${leaks.length === 1 ? 'object was' : 'objects were'} created and not released:\n${list.join('\n')}`);
    this.name = 'LeakError';
    this.leaks = leaks;
  }
}

interface Entry {
  readonly kind: TrackedKind;
  readonly owner: object | undefined;
  readonly createdAt: string;
  released: boolean;
}

const nameOf = (object: object | undefined): string | undefined => {
  const name = (object as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
};

/**
 * Tracks what is created and released while it runs.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable } from 'revocable';
 * import { LeakTracker } from 'revocable/testing';
 *
 * const tracker = new LeakTracker().start();
 * const provider = new Revocable({ port: 'ttyUSB0' }, { name: 'serial' });
 * assert.deepEqual(tracker.leaks().map((leak) => [leak.kind, leak.name]), [['revocable', 'serial']]); // not revoked
 * await provider.revoke();
 * tracker.check(); // passes: nothing is left
 * tracker.stop();
 * ```
 */
export class LeakTracker {
  #entries = new Map<object, Entry>();
  #stop: (() => void) | undefined;

  /** Starts tracking (idempotent); returns this tracker. */
  start(): this {
    if (this.#stop !== undefined) return this;
    this.#stop = listen({
      created: (kind, object, owner) => {
        // Released with their owner (a scope, a device node, an open file): the owner is what can leak.
        if (kind === 'scope entry' || kind === 'node generation' || kind === 'file operation') return;
        this.#entries.set(object, { kind, owner, createdAt: captureStack(), released: false });
      },
      released: (_kind, object) => {
        const entry = this.#entries.get(object);
        if (entry !== undefined) entry.released = true;
      },
    });
    return this;
  }

  /** Stops tracking; what was recorded stays until `reset()`. */
  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  /** Forgets everything recorded so far. */
  reset(): void {
    this.#entries.clear();
  }

  /** What was created while tracking and is not released now. */
  leaks(): Leak[] {
    const leaks: Leak[] = [];
    for (const [object, entry] of this.#entries) {
      if (entry.released) continue;
      if (entry.kind === 'handle' && entry.owner !== undefined && this.#released(entry.owner)) continue;
      leaks.push({ kind: entry.kind, name: nameOf(object) ?? nameOf(entry.owner), createdAt: entry.createdAt, object });
    }
    return leaks;
  }

  /** Throws {@link LeakError} if anything leaked, then forgets everything (pass or fail). */
  check(): void {
    const leaks = this.leaks();
    this.reset();
    if (leaks.length > 0) throw new LeakError(leaks);
  }

  #released(owner: object): boolean {
    const entry = this.#entries.get(owner);
    if (entry !== undefined) return entry.released;
    // An owner created before tracking began: ask it.
    return (owner as { revoked?: unknown }).revoked === true;
  }
}

/** The hooks of a test framework: node:test, Vitest, Jest and Mocha all have these. */
export interface TestHooks {
  /** Registers `fn` to run before each test. */
  beforeEach(fn: () => void): unknown;
  /** Registers `fn` to run after each test. */
  afterEach(fn: () => void): unknown;
}

/**
 * Installs a leak check around every test of a suite: `installLeakCheck({ beforeEach, afterEach })`
 * with the framework's own hooks. A test that leaves anything unreleased fails, naming it and where
 * it was created. Returns the tracker, for tests that look at it themselves.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { afterEach, beforeEach, it } from 'node:test';
 * import { Revocable } from 'revocable';
 * import { installLeakCheck } from 'revocable/testing';
 *
 * installLeakCheck({ beforeEach, afterEach }); // a test that leaves anything unreleased fails
 *
 * it('revokes what it creates', async () => {
 *   const provider = new Revocable({ port: 'ttyUSB0' });
 *   assert.equal(await provider.revoke(), true); // without this line: "1 object was created and not released"
 * });
 * ```
 */
export function installLeakCheck(hooks: TestHooks): LeakTracker {
  if (!isObjectArgument(hooks) && typeof hooks !== 'function') throw expected("the test framework's { beforeEach, afterEach }", 'hooks', hooks);
  // Read once: what is checked is what is called.
  const { beforeEach, afterEach } = hooks;
  checkFunction(beforeEach, 'hooks.beforeEach');
  checkFunction(afterEach, 'hooks.afterEach');
  const tracker = new LeakTracker().start();
  beforeEach.call(hooks, () => tracker.reset());
  afterEach.call(hooks, () => tracker.check());
  return tracker;
}
