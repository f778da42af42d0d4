import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { DrainTimeoutError, RefCounted, ResourceScope, Revocable, creationSite, disableDebug, enableDebug, isDebugEnabled } from '../src/index.js';
import { asyncLocalContext, calledByEngine, enableDebug as enableNodeDebug } from '../src/node/debug.js';
import { setManagedInterval } from '../src/node/index.js';
import { RevokeDeadlockError } from '../src/index.js';
import type { AccessFrame } from '../src/debug.js';
import { deferred } from './support/deferred.js';
import { DevFs, type DeviceError } from '../src/device/index.js';
import { reentrancyTracker } from '../src/internal/reentrancy.js';
import './support/leaks.js';

afterEach(() => disableDebug());

const timedOut = async (promise: Promise<unknown>): Promise<DrainTimeoutError> => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DrainTimeoutError, `expected a DrainTimeoutError, got ${String(error)}`);
  return error;
};

describe('debug mode: holders of a drain that times out', () => {
  it('lists each access still held, with the stack where it was taken', async (t) => {
    enableDebug({ warn: () => {} });
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const provider = new Revocable({ n: 1 }, { name: 'ttyUSB0' });
    const handle = provider.handle();
    const stuckToken = handle.access(); // line of the first holder
    const gate = deferred();
    const stuckCall = handle.with(() => gate.promise); // the second holder
    // The revoke is awaited outside both accesses: a timer callback stands for "another task".
    const revoking = Promise.resolve().then(() => provider.revoke({ timeout: 50 }));
    await Promise.resolve();
    t.mock.timers.tick(50);
    const error = await timedOut(revoking);
    assert.equal(error.pending, 2);
    assert.equal(error.holders.length, 2);
    assert.deepEqual(error.holders.map((h) => h.kind).sort(), ['access', 'access (with)']);
    for (const holder of error.holders) assert.match(holder.stack, /debug\.test\.ts:\d+/, 'the stack points at the test, not the library');
    assert.doesNotMatch(error.holders[0]?.stack ?? '', /src\/revocable\.ts/);
    assert.match(error.message, /2 users still hold it:\n {2}- access/);
    stuckToken.release();
    gate.resolve();
    await stuckCall;
    await provider.revoke();
  });

  it('lists the file operations in flight when a device node\'s revoke times out', async (t) => {
    enableDebug({ warn: () => {} });
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const devfs = new DevFs();
    const gate = deferred();
    const node = devfs.create('/dev/stuck', { read: () => gate.promise.then(() => 'late') });
    const file = await devfs.open('/dev/stuck');
    const reading = file.read(); // the holder
    const revoking = Promise.resolve().then(() => node.revoke({ timeout: 50 }));
    await Promise.resolve();
    t.mock.timers.tick(50);
    const error = await timedOut(revoking);
    assert.equal(error.pending, 1);
    assert.deepEqual(error.holders.map((h) => h.kind), ['file operation']);
    assert.match(error.holders[0]?.stack ?? '', /debug\.test\.ts:\d+/);
    assert.match(error.message, /Device node "\/dev\/stuck" did not drain within 50 ms/);
    gate.resolve();
    assert.equal(await reading, 'late');
    await node.remove();
  });

  it('lists nothing held once the holders are released (no false report)', async () => {
    enableDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    const access = provider.access();
    await provider.with(async () => {});
    access.release();
    assert.equal(await provider.revoke({ timeout: 10 }), true);
  });

  it('names no holders with debug mode off: only the count', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    assert.equal(isDebugEnabled(), false);
    const provider = new Revocable({ n: 1 });
    const access = provider.access();
    const revoking = provider.revoke({ timeout: 5 });
    t.mock.timers.tick(5);
    const error = await timedOut(revoking);
    assert.equal(error.pending, 1);
    assert.deepEqual(error.holders, []);
    access.release();
    await provider.revoke();
  });

  it('records where objects were created', async () => {
    enableDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    const handle = provider.handle();
    assert.match(creationSite(provider) ?? '', /debug\.test\.ts/);
    assert.match(creationSite(handle) ?? '', /debug\.test\.ts/);
    await provider.revoke();
  });

  it('records where scopes, scope entries and refs were created', async () => {
    enableDebug({ warn: () => {} });
    const scope = new ResourceScope();
    const entry = scope.add({ fd: 3 }, () => {});
    const ref = RefCounted.create({ chip: 0 }, () => {});
    for (const object of [scope, entry, ref]) assert.match(creationSite(object) ?? '', /debug\.test\.ts/);
    ref.dispose();
    await scope.disposeAsync();
  });

  it('is switched on by REVOCABLE_DEBUG=1', () => {
    const script = "import { isDebugEnabled } from './src/index.ts'; console.log(isDebugEnabled());";
    const run = (env: Record<string, string>): string =>
      spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout.trim();
    assert.equal(run({ REVOCABLE_DEBUG: '1' }), 'true');
    assert.equal(run({ REVOCABLE_DEBUG: '' }), 'false');
  });

  it('puts the production methods back when switched off', () => {
    const original = Revocable.prototype.tryWith;
    enableDebug({ warn: () => {} });
    assert.notEqual(Revocable.prototype.tryWith, original);
    disableDebug();
    assert.equal(Revocable.prototype.tryWith, original);
  });

  it('rejects bad options', () => {
    assert.throws(() => enableDebug({ asyncContext: {} as never }), /asyncContext/);
    assert.throws(() => enableDebug({ warn: 5 as never }), /warn/);
    assert.equal(isDebugEnabled(), false, 'a bad call leaves debug mode off');
  });
});

describe('debug mode with async context: a revoke awaited inside its own access', () => {
  // Awaits `work` itself (an `await`, not a `.then` call), in the caller's async context.
  const rejectsAtOnce = async (work: Promise<unknown>): Promise<RevokeDeadlockError> => {
    let error: unknown;
    try {
      await work;
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof RevokeDeadlockError, `expected RevokeDeadlockError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_REVOKE_DEADLOCK');
    return error;
  };

  it('is reported at once, with both stacks, when awaited inside with()', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 }, { name: 'sensor' });
    const error = await rejectsAtOnce(
      provider.with(async () => {
        await provider.revoke(); // no timeout: without debug mode this never returns
      }),
    );
    assert.match(error.message, /Revocable "sensor": a revoke was awaited from inside an access/);
    assert.match(error.accessStack, /debug\.test\.ts/);
    assert.match(error.revokeStack, /debug\.test\.ts/);
    assert.equal(provider.state, 'revoked', 'the revoke itself completed once the access ended');
  });

  it('is reported when awaited while holding an access token taken in the same task', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    const access = provider.access();
    await rejectsAtOnce(provider.revoke());
    access.release();
    assert.equal(await provider.revoke(), false);
  });

  it('is reported when the revoke is returned from the async function holding the access', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    await rejectsAtOnce(provider.with(() => Promise.all([provider.revoke()])));
    await provider.revoke();
  });

  it('does not report a revoke started inside an access and handled without awaiting it', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    let revoking!: Promise<boolean>;
    let caught: unknown = 'no error';
    await provider.with(async () => {
      revoking = provider.revoke();
      revoking.catch((e: unknown) => (caught = e));
      await Promise.resolve();
    });
    assert.equal(await revoking, true);
    assert.equal(caught, 'no error');
  });

  it('does not report a revoke awaited by another task while an access is held', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    const gate = deferred();
    const holder = provider.with(() => gate.promise);
    const waiter = (async () => provider.revoke())();
    gate.resolve();
    await holder;
    assert.equal(await waiter, true);
  });

  it('does not report inside an access to another provider', async () => {
    enableNodeDebug({ warn: () => {} });
    const outer = new Revocable({ n: 1 });
    const inner = new Revocable({ n: 2 });
    await outer.with(async () => {
      assert.equal(await inner.revoke(), true);
    });
    await outer.revoke();
  });

  it('is reported when what derives from the revoke through then() is awaited', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    await rejectsAtOnce(provider.with(async () => provider.revoke().then((first) => first)));
    await provider.revoke();
  });

  it('accepts any async context with run, enter and current, and a test for engine-called then', async () => {
    enableDebug({ asyncContext: asyncLocalContext<AccessFrame>(), isAwaited: calledByEngine, warn: () => {} });
    const provider = new Revocable({ n: 1 });
    await rejectsAtOnce(provider.with(async () => provider.revoke()));
    await provider.revoke();
  });

  it('reports nothing without a test for engine-called then: the timeout alone bounds the wait', async () => {
    enableDebug({ asyncContext: asyncLocalContext<AccessFrame>(), warn: () => {} });
    const provider = new Revocable({ n: 1 });
    const error = await provider.with(async () => provider.revoke({ timeout: 5 })).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DrainTimeoutError, `expected the timeout, got ${String(error)}`);
    assert.equal(await provider.revoke(), false);
  });

  it('delivers the report to the handlers of revoke().then(ok, fail) returned from inside the access, never by a throw', async () => {
    enableNodeDebug({ warn: () => {} });
    const provider = new Revocable({ n: 1 });
    const seen: unknown[] = [];
    let thrown: unknown = 'nothing thrown';
    const result = provider.with(() => {
      try {
        return provider.revoke().then(
          (first) => seen.push(first),
          (error: unknown) => seen.push(error),
        );
      } catch (error) {
        thrown = error;
        return undefined;
      }
    });
    await result;
    assert.equal(thrown, 'nothing thrown');
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof RevokeDeadlockError, `fail was called with ${String(seen[0])}`);
    assert.equal(provider.state, 'revoked', 'the revoke went on and completed once the access ended');
  });

  it('lets a managed interval start a revoke of itself with then(ok, fail): the process does not crash', async () => {
    enableNodeDebug({ warn: () => {} });
    const outcome = deferred<unknown>();
    const timer = setManagedInterval(() => timer.revoke().then(outcome.resolve, outcome.reject), 1);
    assert.ok((await outcome.promise.then((v) => v, (e: unknown) => e)) instanceof RevokeDeadlockError);
    assert.equal(await timer.revoke(), false);
  });
});

describe('debug mode with async context: a device node revoked from inside its own operation', () => {
  it('refuses it with EDEADLK after an await inside the operation, where the synchronous check cannot see it', async () => {
    enableNodeDebug({ warn: () => {} });
    const devfs = new DevFs();
    const node = devfs.create('/dev/a', {
      async read() {
        await Promise.resolve();
        // Awaiting this without debug mode would wait for this very read forever.
        return devfs.revoke('/dev/a').then(
          () => 'revoked',
          (error: unknown) => (error as DeviceError).code,
        );
      },
    });
    const file = await devfs.open('/dev/a');
    assert.equal(await file.read(), 'EDEADLK');
    assert.equal(node.state, 'live', 'nothing was revoked');
    await file.close();
    await node.remove();
  });

  it('lets another task revoke the node while an operation is in flight (no false report)', async () => {
    enableNodeDebug({ warn: () => {} });
    const devfs = new DevFs();
    const gate = deferred<string>();
    const node = devfs.create('/dev/a', { read: () => gate.promise });
    const file = await devfs.open('/dev/a');
    const reading = file.read();
    const revoking = (async () => devfs.revoke('/dev/a'))();
    gate.resolve('data');
    assert.equal(await reading, 'data');
    assert.equal(await revoking, 1);
    await file.close();
    await node.remove();
  });

  it('takes the device gates\' tracker away when switched off', async () => {
    enableNodeDebug({ warn: () => {} });
    assert.notEqual(reentrancyTracker(), undefined);
    disableDebug();
    assert.equal(reentrancyTracker(), undefined);
  });
});

