import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import {
  GroupNotFoundError,
  ResourceScope,
  ScopeDisposedError,
  SuppressedError,
  UseAfterReleaseError,
  type ScopeEntry,
} from '../src/index.js';
import { SuppressedErrorPolyfill } from '../src/internal/suppressed-error.js';
import { deferred, flushMicrotasks, state } from './support/deferred.js';
import './support/leaks.js';

/** A scope whose releases write their label to `log`. */
function logged(): { scope: ResourceScope; log: string[]; push: (label: string) => () => void } {
  const log: string[] = [];
  return { scope: new ResourceScope(), log, push: (label) => () => void log.push(label) };
}

/** What devres's methods (add, getOrAdd, groups) throw on a scope that is not open. */
const isDisposedError = (error: unknown): boolean =>
  error instanceof ScopeDisposedError && error instanceof ReferenceError && error.code === 'ERR_SCOPE_DISPOSED';

/** What the standard's methods (use, adopt, defer, move) throw there: the standard's own ReferenceError, with the code. */
const isPlainReferenceError = (error: unknown): boolean =>
  error instanceof ReferenceError && error.constructor === ReferenceError && (error as { code?: unknown }).code === 'ERR_SCOPE_DISPOSED';

describe('ResourceScope as an AsyncDisposableStack', () => {
  it('releases newest-first across use, adopt, defer and add', async () => {
    const { scope, log, push } = logged();
    scope.defer(push('defer'));
    scope.adopt('adopt', (v) => void log.push(v));
    scope.use({ [Symbol.asyncDispose]: async () => void log.push('use async') });
    scope.use({ [Symbol.dispose]: push('use sync') });
    scope.add('add', (v) => void log.push(v));
    assert.equal(await scope.disposeAsync(), undefined);
    assert.deepEqual(log, ['add', 'use sync', 'use async', 'adopt', 'defer']);
  });

  it('returns what the standard returns: use and adopt their value, defer undefined', () => {
    const scope = new ResourceScope();
    const resource = { [Symbol.dispose]() {} };
    assert.equal(scope.use(resource), resource);
    assert.equal(scope.adopt(42, () => {}), 42);
    assert.equal(scope.defer(() => {}), undefined);
    assert.equal(scope.use(null), null);
    assert.equal(scope.use(undefined), undefined);
    return scope.disposeAsync();
  });

  it('calls each release as the standard does: this = the resource for use, the value as argument for adopt, nothing for defer', async () => {
    const scope = new ResourceScope();
    const calls: { self: unknown; args: unknown[] }[] = [];
    function record(this: unknown, ...args: unknown[]): void {
      calls.push({ self: this, args });
    }
    const resource = { [Symbol.asyncDispose]: record } as unknown as AsyncDisposable;
    scope.defer(record);
    scope.adopt('v', record);
    scope.use(resource);
    scope.add('w', record);
    await scope.disposeAsync();
    assert.deepEqual(calls, [
      { self: undefined, args: ['w'] },
      { self: resource, args: [] },
      { self: undefined, args: ['v'] },
      { self: undefined, args: [] },
    ]);
  });

  it('prefers Symbol.asyncDispose, falls back to Symbol.dispose when it is undefined or null, and reads the method once, at use()', async () => {
    const { scope, log } = logged();
    let reads = 0;
    scope.use({
      get [Symbol.asyncDispose]() {
        reads++;
        return () => void log.push('async');
      },
      [Symbol.dispose]: () => void log.push('never'),
    });
    scope.use({ [Symbol.asyncDispose]: null, [Symbol.dispose]: () => void log.push('sync fallback') } as unknown as Disposable);
    assert.equal(reads, 1);
    await scope.disposeAsync();
    assert.equal(reads, 1);
    assert.deepEqual(log, ['sync fallback', 'async']);
  });

  it('does not await what a Symbol.dispose method returns, as the standard does not', async () => {
    const { scope, log } = logged();
    const never = deferred();
    scope.defer(() => void log.push('older'));
    scope.use({ [Symbol.dispose]: () => never.promise } as unknown as Disposable);
    await scope.disposeAsync();
    assert.deepEqual(log, ['older']);
  });

  it('rejects what is not disposable with a TypeError and changes nothing', async () => {
    const scope = new ResourceScope();
    for (const bad of [1, 'x', true, Symbol('s'), 10n, {}, { [Symbol.asyncDispose]: 1 }, { [Symbol.dispose]: 'no' }, () => {}]) {
      assert.throws(() => scope.use(bad as never), TypeError);
    }
    assert.throws(() => scope.adopt(1, 'nope' as never), /Expected `onDisposeAsync` to be a function, got `"nope"` \(string\)/);
    assert.throws(() => scope.defer(null as never), TypeError);
    assert.equal(scope.size, 0);
    assert.equal(scope.disposed, false);
    await scope.disposeAsync();
  });

  it('accepts a function object that has a dispose method', async () => {
    const { scope, log } = logged();
    const fn = Object.assign(() => {}, { [Symbol.dispose]: () => void log.push('fn') });
    scope.use(fn);
    await scope.disposeAsync();
    assert.deepEqual(log, ['fn']);
  });

  it('is disposed from the first synchronous step of disposeAsync, and use, adopt, defer and move then throw a plain ReferenceError', async () => {
    const scope = new ResourceScope();
    const release = deferred();
    scope.defer(() => release.promise);
    const done = scope.disposeAsync();
    assert.equal(scope.disposed, true);
    assert.equal(scope.state, 'disposing');
    const onDispose = mock.fn();
    assert.throws(() => scope.use({ [Symbol.dispose]: onDispose }), isPlainReferenceError);
    assert.throws(() => scope.adopt(1, onDispose), isPlainReferenceError);
    assert.throws(() => scope.defer(onDispose), isPlainReferenceError);
    assert.throws(() => scope.move(), isPlainReferenceError);
    assert.equal(onDispose.mock.callCount(), 0, 'the standard methods call nothing when they refuse');
    release.resolve();
    await done;
    assert.equal(scope.state, 'disposed');
    assert.throws(() => scope.use(null), isPlainReferenceError);
  });

  it('checks for dispose before checking the callback, as the standard orders the steps', async () => {
    const scope = new ResourceScope();
    await scope.disposeAsync();
    assert.throws(() => scope.adopt(1, 'nope' as never), ReferenceError);
    assert.throws(() => scope.defer(5 as never), ReferenceError);
    assert.throws(() => scope.use(5 as never), ReferenceError);
  });

  it('resolves a second disposeAsync at once with undefined, also while the first is still running', async () => {
    const scope = new ResourceScope();
    const release = deferred();
    scope.defer(() => release.promise);
    const first = scope.disposeAsync();
    const second = scope.disposeAsync();
    assert.equal(await second, undefined);
    assert.equal(await state(first), 'pending');
    release.resolve();
    assert.equal(await first, undefined);
    assert.equal(await scope.disposeAsync(), undefined);
  });

  it('runs async releases one after another: the next starts only once the previous settled', async () => {
    const scope = new ResourceScope();
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    gates.forEach((gate, i) => scope.defer(() => (started.push(i), gate.promise)));
    const done = scope.disposeAsync();
    await flushMicrotasks();
    assert.deepEqual(started, [2]);
    gates[2]!.resolve();
    await flushMicrotasks();
    assert.deepEqual(started, [2, 1]);
    gates[1]!.reject(new Error('one failed'));
    await flushMicrotasks();
    assert.deepEqual(started, [2, 1, 0], 'a rejection does not stop the rest');
    gates[0]!.resolve();
    await assert.rejects(done, /one failed/);
  });

  it('runs synchronous releases without a microtask turn: all have run when disposeAsync returns', () => {
    const { scope, log, push } = logged();
    for (let i = 0; i < 5; i++) scope.defer(push(`r${i}`));
    const done = scope.disposeAsync();
    assert.deepEqual(log, ['r4', 'r3', 'r2', 'r1', 'r0']);
    return done;
  });

  it('awaits a thenable that is not a promise', async () => {
    const { scope, log } = logged();
    scope.defer(() => void log.push('older'));
    scope.defer(() => ({ then: (resolve: () => void) => setTimeout(() => (log.push('thenable'), resolve()), 1) }) as unknown as PromiseLike<void>);
    await scope.disposeAsync();
    assert.deepEqual(log, ['thenable', 'older']);
  });

  it('rejects with the only error as is, and chains several as the standard does: new SuppressedError(later, earlier)', async () => {
    const one = new ResourceScope();
    const e = new Error('only');
    one.defer(() => {
      throw e;
    });
    one.defer(() => {});
    await assert.rejects(one.disposeAsync(), (error) => error === e);

    const scope = new ResourceScope();
    const [a, b, c] = [new Error('a'), new Error('b'), new Error('c')];
    scope.defer(() => {
      throw a;
    });
    scope.adopt(b, async (x) => {
      throw x;
    });
    scope.defer(() => {});
    scope.use({
      [Symbol.dispose]() {
        throw c;
      },
    });
    const error = await scope.disposeAsync().then(
      () => assert.fail('should reject'),
      (thrown: unknown) => thrown,
    );
    // Released c, then b, then a: each later failure wraps the chain so far.
    assert.ok(error instanceof SuppressedError);
    assert.equal(error.error, a);
    assert.ok(error.suppressed instanceof SuppressedError);
    assert.equal(error.suppressed.error, b);
    assert.equal(error.suppressed.suppressed, c);
    assert.equal(error.message, 'An error was suppressed during disposal');
  });

  it('is usable with await using, and [Symbol.asyncDispose] is disposeAsync itself', async () => {
    assert.equal(ResourceScope.prototype[Symbol.asyncDispose], ResourceScope.prototype.disposeAsync);
    const log: string[] = [];
    {
      await using scope = new ResourceScope();
      scope.defer(() => void log.push('released'));
      log.push('body');
    }
    assert.deepEqual(log, ['body', 'released']);
  });

  it('tags itself ResourceScope and answers the standard getters and method lengths', () => {
    const scope = new ResourceScope();
    assert.equal(Object.prototype.toString.call(scope), '[object ResourceScope]');
    assert.equal(ResourceScope.prototype.use.length, 1);
    assert.equal(ResourceScope.prototype.adopt.length, 2);
    assert.equal(ResourceScope.prototype.defer.length, 1);
    assert.equal(ResourceScope.prototype.move.length, 0);
    assert.equal(ResourceScope.prototype.disposeAsync.length, 0);
    assert.equal(scope.disposed, false);
    return scope.disposeAsync();
  });

  it('rejects disposeAsync on a value that is not a scope with a TypeError, without throwing', async () => {
    const disposeAsync = ResourceScope.prototype.disposeAsync;
    await assert.rejects(disposeAsync.call({} as ResourceScope), TypeError);
    await assert.rejects(disposeAsync.call(undefined as unknown as ResourceScope), TypeError);
  });

  it('move() hands every resource to a new open ResourceScope and leaves this one disposed, releasing nothing', async () => {
    const { scope, log, push } = logged();
    scope.defer(push('a'));
    const entry = scope.add('b', (v) => void log.push(v), { key: 'k' });
    scope.openGroup('g');
    const moved = scope.move();
    assert.ok(moved instanceof ResourceScope);
    assert.notEqual(moved, scope);
    assert.equal(scope.disposed, true);
    assert.equal(moved.disposed, false);
    assert.equal(moved.size, 2);
    assert.equal(scope.size, 0);
    await scope.disposeAsync();
    assert.deepEqual(log, []);
    assert.throws(() => scope.remove(entry), /belongs to another scope/);
    assert.equal(moved.find('k'), 'b');
    assert.equal(await moved.releaseGroup('g'), 0, 'groups move along');
    await moved.disposeAsync();
    assert.deepEqual(log, ['b', 'a']);
  });

  it('can be subclassed: the methods accept a subclass, and move() of one returns a plain ResourceScope', async () => {
    class Managed extends ResourceScope {
      interval(fn: () => void): void {
        this.defer(fn);
      }
    }
    const log: string[] = [];
    const managed = new Managed({ name: 'dev' });
    managed.interval(() => void log.push('cleared'));
    const entry = managed.add(1, () => void log.push('entry'));
    assert.equal(managed.remove(entry), true);
    const moved = managed.move();
    assert.equal(Object.getPrototypeOf(moved), ResourceScope.prototype);
    assert.equal(moved.name, 'dev');
    await managed.disposeAsync();
    await moved.disposeAsync();
    assert.deepEqual(log, ['cleared']);
  });
});

describe('ResourceScope entries (devres)', () => {
  it('add returns an entry that knows its value, key, name and state', async () => {
    const scope = new ResourceScope();
    const plain = scope.add('v', () => {});
    const described = scope.add({ port: 1 }, () => {}, { key: 'port', name: 'serial port' });
    assert.equal(plain.value, 'v');
    assert.equal(plain.key, undefined);
    assert.equal(plain.name, undefined);
    assert.deepEqual(described.value, { port: 1 });
    assert.equal(described.key, 'port');
    assert.equal(described.name, 'serial port');
    assert.equal(plain.state, 'active');
    assert.equal(scope.size, 2);
    await scope.disposeAsync();
    assert.equal(plain.state, 'released');
    assert.equal(described.state, 'released');
  });

  it('release(entry) releases now and unlinks; a second release or a remove after it does nothing', async () => {
    const { scope, log } = logged();
    const entry = scope.add('now', (v) => void log.push(v));
    scope.defer(() => void log.push('later'));
    assert.equal(await scope.release(entry), true);
    assert.deepEqual(log, ['now']);
    assert.equal(entry.state, 'released');
    assert.equal(await scope.release(entry), false);
    assert.equal(scope.remove(entry), false);
    assert.equal(scope.size, 1);
    await scope.disposeAsync();
    assert.deepEqual(log, ['now', 'later']);
  });

  it('remove(entry) unlinks without releasing; the value stays readable and the disposal skips it', async () => {
    const release = mock.fn();
    const scope = new ResourceScope();
    const entry = scope.add('mine again', release);
    assert.equal(scope.remove(entry), true);
    assert.equal(entry.state, 'removed');
    assert.equal(entry.value, 'mine again');
    assert.equal(scope.remove(entry), false);
    assert.equal(await scope.release(entry), false);
    await scope.disposeAsync();
    assert.equal(release.mock.callCount(), 0);
  });

  it('drops the value of a released entry: reading it throws UseAfterReleaseError', async () => {
    const scope = new ResourceScope();
    const entry = scope.add({ big: true }, () => {}, { name: 'buffer' });
    await scope.release(entry);
    assert.throws(() => entry.value, (error: unknown) => error instanceof UseAfterReleaseError && /Entry "buffer" was released/.test(error.message));
    await scope.disposeAsync();
  });

  it('release(entry) rejects with what the release throws, and the entry counts as released', async () => {
    const scope = new ResourceScope();
    const boom = new Error('close failed');
    const sync = scope.add(1, () => {
      throw boom;
    });
    const async = scope.add(2, async () => {
      throw boom;
    });
    await assert.rejects(scope.release(sync), (e) => e === boom);
    await assert.rejects(scope.release(async), (e) => e === boom);
    assert.equal(sync.state, 'released');
    assert.equal(async.state, 'released');
    assert.equal(scope.size, 0);
    await scope.disposeAsync();
  });

  it('refuses with a TypeError what is not an entry of this scope, and changes nothing', async () => {
    const scope = new ResourceScope({ name: 'mine' });
    const other = new ResourceScope();
    const theirs = other.add(1, () => {});
    scope.add(2, () => {});
    for (const bad of [undefined, null, 1, {}, { value: 1 }]) {
      assert.throws(() => scope.remove(bad as never), /Expected `entry` to be an entry returned by add\(\)/);
      assert.throws(() => scope.release(bad as never), TypeError);
    }
    assert.throws(() => scope.remove(theirs), /ResourceScope "mine"\.remove\(\): the entry belongs to another scope/);
    assert.throws(() => scope.release(theirs), TypeError);
    assert.equal(theirs.state, 'active');
    assert.equal(scope.size, 1);
    assert.equal(other.size, 1);
    await scope.disposeAsync();
    await other.disposeAsync();
  });

  it('treats an entry whose release the disposal has queued as already released: remove and release return false, and it is released once', async () => {
    const release = mock.fn();
    const scope = new ResourceScope();
    const entry = scope.add('x', release);
    const gate = deferred();
    scope.defer(() => gate.promise);
    const done = scope.disposeAsync();
    assert.equal(scope.remove(entry), false);
    assert.equal(await scope.release(entry), false);
    gate.resolve();
    await done;
    assert.equal(release.mock.callCount(), 1);
  });

  it('waits, when disposing, for releases still in flight, and only then releases the rest', async () => {
    const scope = new ResourceScope();
    const log: string[] = [];
    scope.defer(() => void log.push('rest'));
    const gate = deferred();
    const entry = scope.add('slow', async () => {
      log.push('slow started');
      await gate.promise;
      log.push('slow done');
    });
    const releasing = scope.release(entry);
    const disposing = scope.disposeAsync();
    await flushMicrotasks();
    assert.deepEqual(log, ['slow started']);
    assert.equal(await state(disposing), 'pending');
    gate.resolve();
    await disposing;
    assert.deepEqual(log, ['slow started', 'slow done', 'rest']);
    assert.equal(await releasing, true);
  });

  it('releases a value added to a disposed scope before it throws, and reports that release through error.released', async () => {
    const scope = new ResourceScope({ name: 'gone' });
    await scope.disposeAsync();
    const release = mock.fn();
    let caught: unknown;
    try {
      scope.add('late', release);
    } catch (error) {
      caught = error;
    }
    assert.ok(isDisposedError(caught));
    assert.match((caught as Error).message, /ResourceScope "gone" is disposed: add\(\) released the value instead/);
    assert.deepEqual(release.mock.calls.map((c) => c.arguments), [['late']]);
    await (caught as ScopeDisposedError).released;

    const failure = new Error('async close failed');
    const error = (() => {
      try {
        scope.add('late', async () => {
          throw failure;
        });
      } catch (thrown) {
        return thrown as ScopeDisposedError;
      }
      return assert.fail('add should throw');
    })();
    await assert.rejects(error.released, (e) => e === failure);
  });

  it('keeps add-or-reset semantics for a release that adds to the scope being disposed', async () => {
    const scope = new ResourceScope();
    const log: string[] = [];
    scope.defer(() => {
      try {
        scope.add('added during disposal', (v) => void log.push(`released ${v}`));
      } catch (error) {
        log.push(isDisposedError(error) ? 'ScopeDisposedError' : 'other');
      }
      try {
        scope.defer(() => void log.push('never'));
      } catch (error) {
        log.push(error instanceof ReferenceError ? 'ReferenceError' : 'other');
      }
    });
    await scope.disposeAsync();
    assert.deepEqual(log, ['released added during disposal', 'ScopeDisposedError', 'ReferenceError']);
  });

  it('validates add before anything else: a bad call on a disposed scope releases nothing', async () => {
    const scope = new ResourceScope();
    const release = mock.fn();
    assert.throws(() => scope.add(1, 'no' as never), /Expected `release` to be a function/);
    assert.throws(() => scope.add(1, release, 5 as never), /Expected `options` to be an object or undefined/);
    assert.throws(() => scope.add(1, release, { name: 3 } as never), /Expected `options.name` to be a string or undefined/);
    assert.equal(scope.size, 0);
    await scope.disposeAsync();
    assert.throws(() => scope.add(1, release, null as never), TypeError);
    assert.equal(release.mock.callCount(), 0);
  });

  it('find returns the value of the newest entry with the key that match accepts, comparing keys as a Map does', async () => {
    const scope = new ResourceScope();
    scope.add('old', () => {}, { key: 'k' });
    scope.add('unkeyed', () => {});
    const newest = scope.add('new', () => {}, { key: 'k' });
    scope.add('nan', () => {}, { key: NaN });
    assert.equal(scope.find('k'), 'new');
    assert.equal(scope.find('k', (v) => v === 'old'), 'old');
    assert.equal(scope.find('k', () => false), undefined);
    assert.equal(scope.find(NaN), 'nan');
    assert.equal(scope.find('missing'), undefined);
    scope.remove(newest);
    assert.equal(scope.find('k'), 'old');
    assert.throws(() => scope.find(undefined), /Expected `key` to be a key/);
    assert.throws(() => scope.find('k', 1 as never), TypeError);
    await scope.disposeAsync();
    assert.equal(scope.find('k'), undefined);
  });

  it('getOrAdd creates once per key and returns the same value after', async () => {
    const { scope, log } = logged();
    const create = mock.fn(() => ({ table: [] as number[] }));
    const first = scope.getOrAdd('iomap', create, () => void log.push('freed'));
    const second = scope.getOrAdd('iomap', create, () => void log.push('never'));
    assert.equal(first, second);
    assert.equal(create.mock.callCount(), 1);
    assert.equal(scope.size, 1);
    await scope.disposeAsync();
    assert.deepEqual(log, ['freed']);
  });

  it('getOrAdd adds nothing when create throws, and creates nothing on a disposed scope', async () => {
    const scope = new ResourceScope();
    assert.throws(
      () =>
        scope.getOrAdd(
          'k',
          () => {
            throw new Error('no memory');
          },
          () => {},
        ),
      /no memory/,
    );
    assert.equal(scope.size, 0);
    assert.throws(() => scope.getOrAdd(undefined, () => 1, () => {}), TypeError);
    assert.throws(() => scope.getOrAdd('k', 1 as never, () => {}), TypeError);
    await scope.disposeAsync();
    const create = mock.fn(() => 1);
    assert.throws(() => scope.getOrAdd('k', create, () => {}), isDisposedError);
    assert.equal(create.mock.callCount(), 0);
  });

  it('reports its name, state and size', async () => {
    const scope = new ResourceScope({ name: 'sensor0' });
    assert.equal(scope.name, 'sensor0');
    assert.equal(scope.state, 'open');
    scope.defer(() => {});
    scope.use(null);
    scope.openGroup();
    scope.add(1, () => {});
    assert.equal(scope.size, 2, 'null is not held, group markers are not resources');
    await scope.disposeAsync();
    assert.equal(scope.state, 'disposed');
    assert.equal(scope.size, 0);
    assert.throws(() => new ResourceScope({ name: 5 } as never), /Expected `options.name`/);
    assert.throws(() => new ResourceScope('x' as never), /Expected `options`/);
  });

  it('keeps every record when the list shrinks back to around a storage chunk boundary and grows again', async () => {
    for (const keep of [1023, 1024, 1025, 2048, 2049]) {
      const { scope, log } = logged();
      const entries = Array.from({ length: 2100 }, (_, i) => scope.add(i, (v) => void log.push(String(v))));
      for (let i = entries.length - 1; i >= keep; i--) scope.remove(entries[i]!);
      assert.equal(scope.size, keep);
      scope.adopt('pair', (v) => void log.push(v)); // two slots, straddling when keep is odd
      scope.defer(() => void log.push('last'));
      await scope.disposeAsync();
      const expected = ['last', 'pair'];
      for (let i = keep - 1; i >= 0; i--) expected.push(String(i));
      assert.deepEqual(log, expected, `keeping ${keep}`);
    }
  });

  it('stays correct across many removals (the list compacts): order and handles survive', async () => {
    const { scope, log } = logged();
    const entries: ScopeEntry<number>[] = [];
    for (let i = 0; i < 1000; i++) entries.push(scope.add(i, (v) => void log.push(String(v))));
    for (let i = 0; i < 1000; i++) if (i % 10 !== 0) assert.equal(scope.remove(entries[i]!), true);
    assert.equal(scope.size, 100);
    assert.equal(await scope.release(entries[500]!), true);
    assert.equal(scope.remove(entries[990]!), true);
    await scope.disposeAsync();
    const expected = ['500'];
    for (let i = 980; i >= 0; i -= 10) if (i !== 500) expected.push(String(i));
    assert.deepEqual(log, expected);
  });
});

describe('ResourceScope groups (devres groups)', () => {
  it('releaseGroup releases the group newest-first, returns the count, and leaves the rest', async () => {
    const { scope, log, push } = logged();
    scope.defer(push('before'));
    const id = scope.openGroup();
    assert.equal(typeof id, 'symbol');
    scope.defer(push('g1'));
    scope.add('g2', (v) => void log.push(v));
    assert.equal(await scope.releaseGroup(id), 2);
    assert.deepEqual(log, ['g2', 'g1']);
    assert.equal(scope.size, 1);
    await scope.disposeAsync();
    assert.deepEqual(log, ['g2', 'g1', 'before']);
  });

  it('an open group extends to the end; a closed one ends at its close', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('open');
    scope.defer(push('in open'));
    scope.openGroup('closed');
    scope.defer(push('in both'));
    scope.closeGroup('closed');
    scope.defer(push('after close'));
    assert.equal(await scope.releaseGroup('closed'), 1);
    assert.deepEqual(log, ['in both']);
    assert.equal(await scope.releaseGroup('open'), 2);
    assert.deepEqual(log, ['in both', 'after close', 'in open']);
    await scope.disposeAsync();
  });

  it('releases properly nested groups with their parent', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('outer');
    scope.defer(push('o1'));
    scope.openGroup('inner');
    scope.defer(push('i1'));
    scope.closeGroup('inner');
    scope.openGroup('inner-open');
    scope.defer(push('i2'));
    assert.equal(await scope.releaseGroup('outer'), 3);
    assert.deepEqual(log, ['i2', 'i1', 'o1']);
    await assert.rejects(scope.releaseGroup('inner'), GroupNotFoundError);
    await assert.rejects(scope.releaseGroup('inner-open'), GroupNotFoundError);
    await scope.disposeAsync();
  });

  it('keeps the markers of a group only partly inside the released range, as the kernel does', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('A');
    scope.defer(push('a'));
    scope.openGroup('B');
    scope.defer(push('ab'));
    scope.closeGroup('A'); // A closes while B, opened inside it, is still open
    scope.defer(push('b'));
    scope.closeGroup('B');
    scope.defer(push('outside'));
    // A spans [A<, a, B<, ab, A>]: B's opening marker is inside but its close is not, so B survives.
    assert.equal(await scope.releaseGroup('A'), 2);
    assert.deepEqual(log, ['ab', 'a']);
    assert.equal(await scope.releaseGroup('B'), 1);
    assert.deepEqual(log, ['ab', 'a', 'b']);
    await scope.disposeAsync();
    assert.deepEqual(log, ['ab', 'a', 'b', 'outside']);
  });

  it('counts a group closed right after the released range as outside it', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('A');
    scope.openGroup('B');
    scope.defer(push('ab'));
    scope.closeGroup('A');
    scope.closeGroup('B'); // B's closing marker is the slot just past A's range
    assert.equal(await scope.releaseGroup('A'), 1);
    assert.doesNotThrow(() => scope.removeGroup('B'), 'B keeps its markers');
    await scope.disposeAsync();
    assert.deepEqual(log, ['ab']);
  });

  it('takes an open group whose opening marker lies inside a released closed group along with it', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('A');
    scope.openGroup('B');
    scope.defer(push('ab'));
    scope.closeGroup('A'); // B is still open: it extends to the end, yet its opening marker is inside A
    scope.defer(push('b only'));
    assert.equal(await scope.releaseGroup('A'), 1);
    assert.throws(() => scope.closeGroup('B'), GroupNotFoundError, 'B went with A, as in the kernel');
    await scope.disposeAsync();
    assert.deepEqual(log, ['ab', 'b only']);
  });

  it('omitted id means the newest open group, skipping closed ones', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('first');
    scope.defer(push('f'));
    scope.openGroup('second');
    scope.defer(push('s'));
    scope.closeGroup(); // closes 'second'
    assert.equal(await scope.releaseGroup(), 2, 'releases "first", which contains the closed "second"');
    assert.deepEqual(log, ['s', 'f']);
    await assert.rejects(scope.releaseGroup(), (e: unknown) => e instanceof GroupNotFoundError && e.code === 'ERR_GROUP_NOT_FOUND' && /has no open group$/.test(e.message));
    await scope.disposeAsync();
  });

  it('removeGroup drops the markers and keeps the resources', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('g');
    scope.defer(push('kept'));
    scope.removeGroup('g');
    assert.equal(scope.size, 1);
    await assert.rejects(scope.releaseGroup('g'), GroupNotFoundError);
    await scope.disposeAsync();
    assert.deepEqual(log, ['kept']);
  });

  it('finds the newest group when ids repeat', async () => {
    const { scope, log, push } = logged();
    scope.openGroup('dup');
    scope.defer(push('older'));
    scope.closeGroup('dup');
    scope.openGroup('dup');
    scope.defer(push('newer'));
    assert.equal(await scope.releaseGroup('dup'), 1);
    assert.deepEqual(log, ['newer']);
    assert.equal(await scope.releaseGroup('dup'), 1);
    assert.deepEqual(log, ['newer', 'older']);
    await scope.disposeAsync();
  });

  it('throws GroupNotFoundError for an unknown group and for closing a closed one, changing nothing', async () => {
    const scope = new ResourceScope({ name: 's' });
    assert.throws(() => scope.closeGroup('nope'), (e: unknown) => e instanceof GroupNotFoundError && e.id === 'nope' && /ResourceScope "s" has no group `"nope"`/.test(e.message));
    assert.throws(() => scope.closeGroup(), GroupNotFoundError);
    assert.throws(() => scope.removeGroup('nope'), GroupNotFoundError);
    await assert.rejects(scope.releaseGroup('nope'), GroupNotFoundError);
    scope.openGroup('g');
    scope.closeGroup('g');
    assert.throws(() => scope.closeGroup('g'), /it is already closed/);
    assert.throws(() => scope.openGroup(null), /Expected `id` to be a group id/);
    assert.throws(() => scope.releaseGroup(null), TypeError);
    assert.equal(await scope.releaseGroup('g'), 0);
    await scope.disposeAsync();
  });

  it('after disposal, releaseGroup resolves 0 and removeGroup does nothing (the disposal took the groups); openGroup and closeGroup throw', async () => {
    const scope = new ResourceScope();
    scope.openGroup('g');
    await scope.disposeAsync();
    assert.equal(await scope.releaseGroup('g'), 0);
    assert.equal(await scope.releaseGroup(), 0);
    scope.removeGroup('g');
    assert.throws(() => scope.openGroup(), isDisposedError);
    assert.throws(() => scope.closeGroup('g'), isDisposedError);
  });

  it('runs every release of a group even when some throw, and rejects with the chain after the last', async () => {
    const scope = new ResourceScope();
    const log: string[] = [];
    const [a, b] = [new Error('a'), new Error('b')];
    scope.openGroup('g');
    scope.defer(() => {
      log.push('a');
      throw a;
    });
    scope.defer(() => void log.push('middle'));
    scope.defer(async () => {
      log.push('b');
      throw b;
    });
    const error = await scope.releaseGroup('g').then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.deepEqual(log, ['b', 'middle', 'a']);
    assert.ok(error instanceof SuppressedError);
    assert.equal(error.error, a);
    assert.equal(error.suppressed, b);
    await scope.disposeAsync();
  });

  it('group(fn) keeps what fn added when it succeeds, and drops the group', async () => {
    const { scope, log, push } = logged();
    const result = await scope.group(async (s) => {
      assert.equal(s, scope);
      s.defer(push('kept'));
      await Promise.resolve();
      return 'probed';
    });
    assert.equal(result, 'probed');
    assert.equal(scope.size, 1);
    await assert.rejects(scope.releaseGroup(), GroupNotFoundError, 'no group is left open');
    await scope.disposeAsync();
    assert.deepEqual(log, ['kept']);
  });

  it('group(fn) rolls back what fn added, newest first, when it throws, and rethrows its error', async () => {
    const { scope, log, push } = logged();
    scope.defer(push('before'));
    const failure = new Error('probe failed');
    await assert.rejects(
      scope.group(async () => {
        scope.defer(push('first'));
        scope.add('second', (v) => void log.push(v));
        await Promise.resolve();
        throw failure;
      }),
      (e) => e === failure,
    );
    assert.deepEqual(log, ['second', 'first']);
    assert.equal(scope.size, 1);
    await assert.rejects(
      scope.group(() => {
        throw failure;
      }),
      (e) => e === failure,
      'a synchronous throw rolls back too',
    );
    await scope.disposeAsync();
    assert.deepEqual(log, ['second', 'first', 'before']);
  });

  it('group(fn) chains a failing rollback: new SuppressedError(rollbackError, fnError)', async () => {
    const scope = new ResourceScope();
    const [failure, rollback] = [new Error('probe failed'), new Error('close failed')];
    const error = await scope
      .group(() => {
        scope.defer(() => {
          throw rollback;
        });
        throw failure;
      })
      .then(
        () => assert.fail('should reject'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof SuppressedError);
    assert.equal(error.error, rollback);
    assert.equal(error.suppressed, failure);
    await scope.disposeAsync();
  });

  it('group(fn) nests: an inner failure rolls back only the inner group', async () => {
    const { scope, log, push } = logged();
    await scope.group(async () => {
      scope.defer(push('outer'));
      await assert.rejects(
        scope.group(() => {
          scope.defer(push('inner'));
          throw new Error('inner failed');
        }),
        /inner failed/,
      );
      assert.deepEqual(log, ['inner']);
    });
    assert.equal(scope.size, 1);
    await scope.disposeAsync();
    assert.deepEqual(log, ['inner', 'outer']);
  });

  it('group(fn) on a scope disposed meanwhile releases nothing twice', async () => {
    const release = mock.fn();
    const scope = new ResourceScope();
    const gate = deferred();
    const grouped = scope.group(async () => {
      scope.add('x', release);
      await gate.promise;
      throw new Error('failed after unplug');
    });
    await scope.disposeAsync();
    gate.resolve();
    await assert.rejects(grouped, /failed after unplug/);
    assert.equal(release.mock.callCount(), 1);
  });

  it('group(fn) on a scope moved meanwhile leaves the resources to the new owner and takes its group markers out', async () => {
    for (const fails of [true, false]) {
      const { scope, log, push } = logged();
      const gate = deferred();
      let moved: ResourceScope | undefined;
      const grouped = scope.group(async () => {
        scope.defer(push('added in group'));
        moved = scope.move();
        await gate.promise;
        if (fails) throw new Error('failed after move');
      });
      gate.resolve();
      if (fails) await assert.rejects(grouped, /failed after move/);
      else await grouped;
      assert.deepEqual(log, [], 'nothing released by the group');
      assert.throws(() => moved!.closeGroup(), GroupNotFoundError, 'no stale open group in the new scope');
      await moved!.disposeAsync();
      assert.deepEqual(log, ['added in group']);
    }
  });

  it('group(fn) refuses a non-function and a disposed scope', async () => {
    const scope = new ResourceScope();
    assert.throws(() => scope.group('x' as never), TypeError);
    await scope.disposeAsync();
    assert.throws(() => scope.group(() => {}), isDisposedError);
  });
});

describe('SuppressedError', () => {
  it('is the runtime’s own where it has one', () => {
    const native = (globalThis as { SuppressedError?: unknown }).SuppressedError;
    if (native !== undefined) assert.equal(SuppressedError, native);
    else assert.equal(SuppressedError, SuppressedErrorPolyfill);
  });

  for (const [label, Ctor] of [
    ['the exported one', SuppressedError],
    ['the polyfill', SuppressedErrorPolyfill],
  ] as const) {
    it(`${label} follows the standard: own non-enumerable error and suppressed, message only when given, callable without new`, () => {
      const [inner, outer] = [new Error('inner'), new Error('outer')];
      const e = new Ctor(outer, inner, 'both');
      assert.ok(e instanceof Ctor);
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'SuppressedError');
      assert.equal(e.message, 'both');
      assert.equal(e.error, outer);
      assert.equal(e.suppressed, inner);
      for (const key of ['error', 'suppressed', 'message']) {
        assert.deepEqual(
          { ...Object.getOwnPropertyDescriptor(e, key), value: undefined },
          { value: undefined, writable: true, enumerable: false, configurable: true },
          key,
        );
      }
      assert.equal(Object.hasOwn(new Ctor(1, 2), 'message'), false);
      assert.equal(new Ctor(1, 2).message, '');
      assert.equal(Object.hasOwn(new Ctor(1, 2, undefined), 'cause'), false);
      const called = (Ctor as unknown as (error: unknown, suppressed: unknown) => SuppressedError)(1, 2);
      assert.ok(called instanceof Ctor);
      assert.equal(called.error, 1);
      assert.equal(Ctor.length, 3);
      assert.equal(Ctor.name, 'SuppressedError');
      assert.equal(Object.getPrototypeOf(Ctor), Error);
      assert.equal(Object.getPrototypeOf(Ctor.prototype), Error.prototype);
      assert.equal(Object.getOwnPropertyDescriptor(Ctor, 'prototype')?.writable, false);
      assert.equal(typeof e.stack, 'string');
      assert.equal(new Ctor(1, 2, 42 as never).message, '42', 'message goes through ToString');
    });

    it(`${label} can be subclassed`, () => {
      class Mine extends (Ctor as SuppressedErrorConstructor) {}
      const e = new Mine(1, 2);
      assert.ok(e instanceof Mine);
      assert.ok(e instanceof Ctor);
      assert.equal(e.suppressed, 2);
    });
  }
});

describe('scope.contents() (diagnostics)', () => {
  it('lists what the scope holds newest first, with names and group markers', async () => {
    const scope = new ResourceScope();
    scope.add({}, () => {}, { name: 'port', key: 'port' });
    scope.openGroup('probe');
    scope.adopt({ name: 'socket' }, () => {});
    scope.defer(function flush() {});
    scope.closeGroup('probe');
    scope.use({ name: 'timer', [Symbol.dispose]() {} });
    assert.deepEqual(
      scope.contents().map((item) => [item.type, item.name]),
      [
        ['use', 'timer'],
        ['group-close', 'probe'],
        ['defer', 'flush'],
        ['adopt', 'socket'],
        ['group-open', 'probe'],
        ['add', 'port'],
      ],
    );
    assert.equal(scope.contents().at(-1)?.key, 'port');
    await scope.disposeAsync();
    assert.deepEqual(scope.contents(), [], 'nothing once disposed');
  });
});
