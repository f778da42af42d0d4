import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Revocable } from '../src/index.js';
import { LeakError, LeakTracker, installLeakCheck } from '../src/testing/index.js';

// These tests drive their own trackers; the suite-wide check would see the leaks they make on
// purpose, so this file does not install it.
const tracked = async (body: () => void | Promise<void>): Promise<LeakTracker> => {
  const tracker = new LeakTracker().start();
  try {
    await body();
  } finally {
    tracker.stop();
  }
  return tracker;
};

describe('LeakTracker', () => {
  it('reports a provider not revoked, a handle not closed and an access not released, with where each was created', async () => {
    let provider!: Revocable<object>;
    const tracker = await tracked(() => {
      provider = new Revocable({}, { name: 'ttyUSB0' });
      provider.handle();
      provider.access();
    });
    const leaks = tracker.leaks();
    assert.deepEqual(leaks.map((l) => l.kind), ['revocable', 'handle', 'access']);
    assert.ok(leaks.every((l) => l.name === 'ttyUSB0'));
    assert.ok(leaks.every((l) => /leak-tracker\.test\.ts:\d+/.test(l.createdAt)));
    const error = (() => {
      try {
        tracker.check();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof LeakError);
    assert.equal(error.code, 'ERR_LEAKED');
    assert.match(error.message, /^3 objects were created and not released:\n {2}- revocable "ttyUSB0" created at\n {6}at /);
    assert.deepEqual(tracker.leaks(), [], 'check forgets what it reported');
  });

  it('reports a stuck access even after its provider started revoking', async () => {
    const tracker = new LeakTracker().start();
    try {
      const provider = new Revocable({});
      const access = provider.access();
      const revoking = provider.revoke();
      assert.deepEqual(tracker.leaks().map((l) => l.kind), ['access']);
      access.release();
      await revoking;
      assert.deepEqual(tracker.leaks(), []);
    } finally {
      tracker.stop();
    }
  });

  it('reports nothing when everything was released (no false report)', async () => {
    const tracker = await tracked(async () => {
      const provider = new Revocable({});
      const handle = provider.handle();
      handle.access().release();
      await handle.with(async () => {});
      const closed = provider.handle();
      closed.close();
      await provider.revoke(); // the open handle above is inert now: not a leak
    });
    assert.deepEqual(tracker.leaks(), []);
    tracker.check();
  });

  it('only sees what was created while it ran', async () => {
    const before = new Revocable({});
    const tracker = await tracked(() => {});
    before.handle();
    assert.deepEqual(tracker.leaks(), []);
    await before.revoke();
  });

  it('fails each test that leaks when installed in a suite, and resets between tests', async () => {
    const registered: { beforeEach?: () => void; afterEach?: () => void } = {};
    const tracker = installLeakCheck({ beforeEach: (fn) => (registered.beforeEach = fn), afterEach: (fn) => (registered.afterEach = fn) });
    try {
      registered.beforeEach?.();
      const leaked = new Revocable({});
      assert.throws(() => registered.afterEach?.(), LeakError);
      registered.beforeEach?.();
      await leaked.revoke();
      assert.doesNotThrow(() => registered.afterEach?.());
    } finally {
      tracker.stop();
    }
  });

  it('rejects hooks that are not a test framework\'s', () => {
    assert.throws(() => installLeakCheck({} as never), /Expected `hooks.beforeEach` to be a function, got `undefined` \(undefined\)/);
    assert.throws(() => installLeakCheck(7 as never), /Expected `hooks` to be the test framework's \{ beforeEach, afterEach \}/);
    assert.throws(() => installLeakCheck(null as never), TypeError);
  });
});
