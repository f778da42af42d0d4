/**
 * `scope.signal`, and the managed timers, listeners and abort controllers of `revocable/node`
 * bound to a scope: none is called from the first synchronous step of the scope's disposal, even
 * while the scope is still releasing newer entries one by one (an unload is atomic for callbacks).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, it, mock } from 'node:test';
import { ResourceScope, RevokedError, ScopeDisposedError } from '../src/index.js';
import { ManagedAbortController, addManagedListener, setManagedInterval, setManagedTimeout } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';

describe('scope.signal', () => {
  it('is aborted in the first synchronous step of the disposal, before any release runs, with a RevokedError naming the scope', async () => {
    const scope = new ResourceScope({ name: 'plugin' });
    const { signal } = scope;
    const seen: boolean[] = [];
    scope.defer(() => void seen.push(signal.aborted));
    assert.equal(signal.aborted, false);
    const done = scope.disposeAsync();
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof RevokedError);
    assert.equal((signal.reason as RevokedError).resourceName, 'plugin');
    assert.match((signal.reason as Error).message, /ResourceScope "plugin" is being disposed/);
    await done;
    assert.deepEqual(seen, [true]);
  });

  it('is aborted before an abort listener could see a release, and a listener that adds gets the standard error', async () => {
    const scope = new ResourceScope();
    const log: string[] = [];
    scope.defer(() => void log.push('release'));
    scope.signal.addEventListener('abort', () => {
      log.push('abort');
      assert.throws(() => scope.defer(() => {}), ReferenceError);
    });
    await scope.disposeAsync();
    assert.deepEqual(log, ['abort', 'release']);
  });

  it('reads as aborted on a scope that is no longer open, and is one signal per scope', async () => {
    const scope = new ResourceScope();
    await scope.disposeAsync();
    assert.equal(scope.signal.aborted, true);
    assert.equal(scope.signal, scope.signal);
    assert.match((scope.signal.reason as Error).message, /is disposed/);
  });

  it('moves with the resources: what was bound before move() stops when the new owner is disposed', async () => {
    const setup = new ResourceScope({ name: 'setup' });
    const before = setup.signal;
    const owner = setup.move();
    assert.equal(before.aborted, false, 'the move releases nothing');
    assert.equal(owner.signal, before);
    assert.equal(setup.signal.aborted, true, 'the moved-from scope reads aborted');
    await owner.disposeAsync();
    assert.equal(before.aborted, true);
  });

  it('takes many listeners without a leak warning: every bound callback listens on it', async () => {
    const scope = new ResourceScope();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 20; i++) scope.signal.addEventListener('abort', () => {});
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings.map((w) => w.name), []);
    await scope.disposeAsync();
  });
});

describe('managed forms bound to a scope', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('today’s pattern lets an older listener fire while a newer entry is released: the case bound forms fix', async () => {
    const host = new EventEmitter();
    const scope = new ResourceScope({ name: 'plugin' });
    const calls: string[] = [];
    scope.use(addManagedListener(host, 'event', () => void calls.push('listener')));
    scope.defer(() => void host.emit('event')); // newer: its release emits
    await scope.disposeAsync();
    assert.deepEqual(calls, ['listener'], 'the unbound listener was still called during the unload');
  });

  it('no bound listener, interval or timeout is called once the disposal began, however long the newer releases take', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    const host = new EventEmitter();
    const scope = new ResourceScope({ name: 'plugin' });
    const calls: string[] = [];
    addManagedListener(host, 'event', () => void calls.push('listener'), { scope });
    setManagedInterval(() => void calls.push('tick'), 10, { scope });
    setManagedTimeout(() => void calls.push('timeout'), 30, { scope });
    const controller = new ManagedAbortController({ scope });
    const closing = deferred();
    scope.defer(async () => {
      // A newer entry whose release emits, lets time pass and waits: everything older is still in the scope.
      host.emit('event');
      t.mock.timers.tick(100);
      await closing.promise;
      host.emit('event');
    });
    host.emit('event');
    t.mock.timers.tick(10);
    assert.deepEqual(calls, ['listener', 'tick']);
    const done = scope.disposeAsync();
    assert.equal(controller.signal.aborted, true, 'aborted in the first step');
    assert.ok(controller.signal.reason instanceof RevokedError);
    host.emit('event');
    t.mock.timers.tick(100);
    closing.resolve();
    await done;
    assert.deepEqual(calls, ['listener', 'tick'], 'nothing after the disposal began');
    assert.equal(host.listenerCount('event'), 0, 'removed by the disposal');
  });

  it('the disposal waits for a bound callback in flight, whose signal it aborts', async () => {
    const host = new EventEmitter();
    const scope = new ResourceScope();
    const running = deferred();
    const signals: AbortSignal[] = [];
    addManagedListener(
      host,
      'job',
      async (signal: AbortSignal) => {
        signals.push(signal);
        await running.promise;
      },
      { scope },
    );
    host.emit('job');
    const done = scope.disposeAsync();
    assert.equal(signals[0]?.aborted, true);
    assert.equal(await state(done), 'pending');
    running.resolve();
    await done;
    assert.equal(host.listenerCount('job'), 0);
  });

  it('the signal option alone also stops a callback at the first step, without the scope waiting for it', async () => {
    const host = new EventEmitter();
    const scope = new ResourceScope();
    const fn = mock.fn();
    const listener = addManagedListener(host, 'event', fn, { signal: scope.signal });
    scope.defer(() => void host.emit('event'));
    await scope.disposeAsync();
    assert.equal(fn.mock.callCount(), 0);
    await listener.revoke();
  });

  it('a bound resource revoked on its own leaves the scope', async () => {
    const scope = new ResourceScope();
    const timer = setManagedTimeout(() => {}, 60_000, { scope, name: 'poll' });
    assert.deepEqual(scope.contents().map((item) => item.name), ['poll']);
    await timer.revoke();
    assert.equal(scope.size, 0);
    await scope.disposeAsync();
  });

  it('a bound resource moved with its scope follows the new owner', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const setup = new ResourceScope();
    const tick = mock.fn();
    const timer = setManagedInterval(tick, 10, { scope: setup });
    const owner = setup.move();
    t.mock.timers.tick(10);
    assert.equal(tick.mock.callCount(), 1, 'still running after the move');
    await owner.disposeAsync();
    t.mock.timers.tick(100);
    assert.equal(tick.mock.callCount(), 1);
    assert.equal(timer.state, 'revoked');
  });

  it('with both signal and scope, either one stops it', async () => {
    const parent = new AbortController();
    const scope = new ResourceScope();
    const controller = new ManagedAbortController({ scope, signal: parent.signal });
    parent.abort();
    await controller.revoke();
    assert.equal(controller.signal.aborted, true);
    assert.equal(scope.size, 0, 'revoked by its signal, it left the scope');
    await scope.disposeAsync();
  });

  it('refuses a scope that is not open, and a bad one, creating nothing', async () => {
    const host = new EventEmitter();
    const scope = new ResourceScope({ name: 'gone' });
    await scope.disposeAsync();
    assert.throws(() => addManagedListener(host, 'event', () => {}, { scope }), ScopeDisposedError);
    assert.throws(() => setManagedInterval(() => {}, 10, { scope }), /ResourceScope "gone" is disposed: cannot bind a managed interval/);
    assert.throws(() => new ManagedAbortController({ scope }), ScopeDisposedError);
    assert.throws(() => addManagedListener(host, 'event', () => {}, { scope: {} as never }), /Expected `options.scope` to be a ResourceScope or undefined/);
    assert.throws(() => setManagedTimeout(() => {}, 10, { scope: 'x' as never }), TypeError);
    assert.equal(host.listenerCount('event'), 0);
  });

  it('reads each option once: a getter cannot pass the check and hand over something else', async () => {
    const scope = new ResourceScope();
    const reads = new Map<string, number>();
    const options = {};
    for (const [key, value] of Object.entries({ scope, name: 'n', timeout: 5, once: false, unref: true })) {
      Object.defineProperty(options, key, {
        enumerable: true,
        get() {
          const n = (reads.get(key) ?? 0) + 1;
          reads.set(key, n);
          return n === 1 ? value : 'changed';
        },
      });
    }
    const listener = addManagedListener(new EventEmitter(), 'event', () => {}, options);
    assert.deepEqual([listener.name, listener.timeout], ['n', 5]);
    for (const [key, n] of reads) if (key !== 'unref') assert.equal(n, 1, key);
    reads.clear();
    const timer = setManagedTimeout(() => {}, 60_000, options);
    assert.equal(timer.hasRef(), false, 'unref read once, as true');
    for (const [key, n] of reads) if (key !== 'once') assert.equal(n, 1, key);
    await scope.disposeAsync();
  });
});
