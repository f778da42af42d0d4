import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourceScope, ScopeDisposedError } from '../src/index.js';
import { ParallelScope } from '../src/node/index.js';
import { deferred, flushMicrotasks, state } from './support/deferred.js';
import './support/leaks.js';

describe('ParallelScope', () => {
  it('starts every release, newest first, before any has finished, and resolves when the last has', async () => {
    const scope = new ParallelScope({ name: 'workers' });
    assert.ok(scope instanceof ResourceScope);
    const started: string[] = [];
    const gates = new Map<string, { resolve: () => void }>();
    const slow = (name: string) => () => {
      started.push(name);
      const gate = deferred<void>();
      gates.set(name, gate);
      return gate.promise;
    };
    scope.defer(slow('a'));
    scope.adopt('b', (name) => slow(name)());
    scope.add('c', (name) => slow(name)());
    scope.use({ [Symbol.asyncDispose]: slow('d') });
    const disposed = scope.disposeAsync();
    assert.deepEqual(started, ['d', 'c', 'b', 'a'], 'all started in one sweep, none awaited');
    assert.equal(scope.disposed, true);
    assert.equal(scope.state, 'disposing');
    gates.get('a')?.resolve();
    gates.get('d')?.resolve();
    gates.get('b')?.resolve();
    assert.equal(await state(disposed), 'pending');
    assert.equal(scope.state, 'disposing', 'until the last release has finished');
    gates.get('c')?.resolve();
    await disposed;
    assert.equal(scope.state, 'disposed');
    await scope.disposeAsync(); // a second call resolves at once
  });

  it('runs every release when some fail, and chains the failures in the order the releases started', async () => {
    const scope = new ParallelScope();
    const ran: string[] = [];
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    scope.defer(() => void ran.push('oldest'));
    scope.defer(() => {
      throw new Error('sync failure');
    });
    scope.defer(() => proxy); // a thenable check that throws: the failure of this release alone
    scope.defer(async () => {
      ran.push('newest');
      throw new Error('async failure');
    });
    const error = await scope.disposeAsync().then(
      () => assert.fail('should reject'),
      (e: unknown) => e as { error: unknown; suppressed: { error: unknown; suppressed: unknown } },
    );
    assert.deepEqual(ran, ['newest', 'oldest']);
    assert.equal((error.error as Error).message, 'sync failure');
    assert.ok(error.suppressed.error instanceof TypeError, 'the revoked proxy, started second');
    assert.equal((error.suppressed.suppressed as Error).message, 'async failure');
  });

  it('keeps release(entry) and releaseGroup() as ResourceScope has them: awaited, one at a time', async () => {
    const scope = new ParallelScope();
    const gate = deferred();
    const entry = scope.add('x', () => gate.promise);
    const released = scope.release(entry);
    assert.equal(await state(released), 'pending', 'release(entry) waits for its release');
    gate.resolve();
    assert.equal(await released, true);
    const order: string[] = [];
    scope.openGroup('g');
    const first = deferred();
    scope.defer(() => void order.push('older'));
    scope.defer(async () => {
      await first.promise;
      order.push('newer');
    });
    const group = scope.releaseGroup('g');
    await flushMicrotasks();
    assert.deepEqual(order, [], 'the older waits for the newer');
    first.resolve();
    assert.equal(await group, 2);
    assert.deepEqual(order, ['newer', 'older']);
    await scope.disposeAsync();
  });

  it('takes disposables as use() does, and refuses what is not one', async () => {
    const scope = new ParallelScope();
    const log: string[] = [];
    assert.equal(scope.use(null), null);
    assert.equal(scope.use(undefined), undefined);
    const sync = { [Symbol.dispose]: () => void log.push('sync') };
    assert.equal(scope.use(sync), sync);
    let reads = 0;
    const once = {
      get [Symbol.asyncDispose]() {
        reads++;
        return async () => void log.push('async');
      },
    };
    scope.use(once);
    assert.equal(reads, 1, 'the dispose method is read once');
    assert.throws(() => scope.use({} as Disposable), /Expected `value` to be an object with \[Symbol.asyncDispose\] or \[Symbol.dispose\]/);
    assert.throws(() => scope.use({ [Symbol.asyncDispose]: 1 } as never), /Expected `value\[Symbol.asyncDispose\]` to be a function/);
    assert.throws(() => scope.defer(1 as never), TypeError);
    assert.throws(() => scope.adopt(1, 1 as never), TypeError);
    await scope.disposeAsync();
    assert.deepEqual(log.sort(), ['async', 'sync']);
    assert.equal(reads, 1);
  });

  it('releases at once what is added once it is disposed, and throws ScopeDisposedError', async () => {
    const scope = new ParallelScope();
    await scope.disposeAsync();
    const released: string[] = [];
    const error = (() => {
      try {
        scope.add('late', (v) => void released.push(v));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ScopeDisposedError);
    await error.released;
    assert.deepEqual(released, ['late']);
    assert.throws(() => scope.use(null), (e: unknown) => e instanceof ReferenceError && !(e instanceof ScopeDisposedError) && (e as { code?: string }).code === 'ERR_SCOPE_DISPOSED', 'use() throws the standard\'s plain ReferenceError');
  });
});
