import assert from 'node:assert/strict';
import { after, describe, it, mock } from 'node:test';
import { RevokedError } from '../src/index.js';
import { setManagedInterval, setManagedTimeout } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';

describe('managed timers', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('runs an interval until the revoke, then never again and clears it', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const callback = mock.fn((signal: AbortSignal) => assert.equal(signal.aborted, false));
    const timer = setManagedInterval(callback, 100);
    t.mock.timers.tick(300);
    assert.equal(callback.mock.callCount(), 3);
    assert.equal(await timer.revoke(), true);
    t.mock.timers.tick(1_000);
    assert.equal(callback.mock.callCount(), 3);
    assert.equal(timer.hasRef(), false);
  });

  it('kicks an async callback in flight and waits for it before clearing the timer', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const running = deferred();
    const signals: AbortSignal[] = [];
    const callback = mock.fn(async (signal: AbortSignal) => {
      signals.push(signal);
      await running.promise;
    });
    const timer = setManagedInterval(callback, 100);
    t.mock.timers.tick(100);
    const revoked = timer.revoke();
    assert.ok(signals[0]?.aborted);
    assert.ok(signals[0]?.reason instanceof RevokedError);
    assert.equal(await state(revoked), 'pending');
    t.mock.timers.tick(100); // due during the drain: not called
    assert.equal(callback.mock.callCount(), 1);
    running.resolve();
    assert.equal(await revoked, true);
  });

  it('never fires a timeout revoked before it is due', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const callback = mock.fn();
    const timer = setManagedTimeout(callback, 50);
    await timer.revoke();
    t.mock.timers.tick(100);
    assert.equal(callback.mock.callCount(), 0);
  });

  it('fires a timeout once, and refresh() runs it again', async () => {
    let fired = deferred();
    const callback = mock.fn(() => fired.resolve());
    const timer = setManagedTimeout(callback, 1);
    await fired.promise;
    assert.equal(callback.mock.callCount(), 1);
    fired = deferred();
    timer.refresh();
    await fired.promise;
    assert.equal(callback.mock.callCount(), 2);
    await timer.revoke();
    assert.equal(timer.refresh(), timer, 'a no-op once revoked');
    assert.equal(timer.hasRef(), false);
  });

  it('refs and unrefs the timer, and says whether it is ref-ed', async () => {
    const timer = setManagedInterval(() => {}, 60_000, { unref: true });
    assert.equal(timer.hasRef(), false);
    assert.equal(timer.ref().hasRef(), true);
    assert.equal(timer.unref().hasRef(), false);
    await timer.revoke();
    assert.equal(timer.ref().hasRef(), false);
  });

  it('revokes when its parent signal aborts', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const controller = new AbortController();
    const callback = mock.fn();
    const timer = setManagedInterval(callback, 10, { signal: controller.signal, name: 'poll' });
    controller.abort();
    assert.equal(await timer.revoke(), false);
    t.mock.timers.tick(100);
    assert.equal(callback.mock.callCount(), 0);
    assert.equal(timer.name, 'poll');
  });

  it('refuses bad arguments without creating a timer', () => {
    assert.throws(() => setManagedTimeout('x' as never, 1), /Expected `callback` to be a function/);
    assert.throws(() => setManagedInterval(() => {}, -1), RangeError);
    assert.throws(() => setManagedInterval(() => {}, Number.NaN), RangeError);
    assert.throws(() => setManagedInterval(() => {}, '5' as never), TypeError);
    assert.throws(() => setManagedTimeout(() => {}, 1, { unref: 1 as never }), /Expected `options.unref` to be a boolean/);
    assert.throws(() => setManagedTimeout(() => {}, 1, { timeout: -1 }), RangeError);
  });
});
