import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import * as core from '../src/index.js';
import { DrainTimeoutError, RevokedError, UseAfterReleaseError } from '../src/index.js';
import { deferred, flushMicrotasks, state } from './support/deferred.js';
import './support/leaks.js';

// The classes under test: the core's, unless another suite put others with the same consumer API in
// `globalThis.revocableSubject` before importing this file (test/shared/ runs these tests so).
type Subject = Pick<typeof core, 'Access' | 'Revocable' | 'RevocableHandle'>;
const { Access, Revocable, RevocableHandle }: Subject = (globalThis as { revocableSubject?: Subject }).revocableSubject ?? core;

interface Port {
  id: number;
  open: boolean;
}
const port = (id = 1): Port => ({ id, open: true });

describe('the kernel test cases, in our terms', () => {
  it('basic: a consumer accesses the resource through its handle', async () => {
    const resource = port();
    const provider = new Revocable(resource);
    const handle = provider.handle();
    const access = handle.tryAccess();
    assert.ok(access);
    assert.equal(access.value, resource);
    access.release();
    await provider.revoke();
  });

  it('revocation: after the revoke, tryAccess returns null', async () => {
    const provider = new Revocable(port());
    const handle = provider.handle();
    assert.equal(await provider.revoke(), true);
    assert.equal(handle.tryAccess(), null);
    assert.equal(provider.tryAccess(), null);
  });

  it('try-access forms: tryWith skips and with throws once revoked', async () => {
    const provider = new Revocable(port(7));
    const handle = provider.handle();
    assert.equal(handle.tryWith((p) => p.id), 7);
    assert.equal(handle.with((p) => p.id), 7);
    await provider.revoke();
    const fn = mock.fn((p: Port) => p.id);
    assert.equal(handle.tryWith(fn), undefined);
    assert.throws(() => handle.with(fn), (error: unknown) => error instanceof RevokedError && error.code === 'ENODEV');
    assert.equal(fn.mock.callCount(), 0, 'fn is never called once revoked');
  });

  it('concurrent access: a reader that entered before the revoke keeps the resource until it releases', async () => {
    const resource = port();
    const release = mock.fn((p: Port) => {
      p.open = false;
    });
    const provider = new Revocable(resource, { release });
    const early = provider.handle().tryAccess();
    assert.ok(early);

    const revoked = provider.revoke();
    assert.equal(provider.tryAccess(), null, 'a reader after the revoke gets null');
    assert.equal(await state(revoked), 'pending', 'revoke waits for the earlier reader');
    assert.equal(early.value.open, true, 'the earlier reader still has a valid resource');
    assert.equal(release.mock.callCount(), 0);

    early.release();
    assert.equal(await revoked, true);
    assert.equal(release.mock.callCount(), 1);
    assert.equal(resource.open, false);
  });

  it('use after free: a handle taken before the revoke and used after it cannot reach the resource', async () => {
    const provider = new Revocable(port(), { release: (p) => void (p.open = false) });
    const handle = provider.handle();
    await provider.revoke();
    assert.equal(handle.tryAccess(), null);
    assert.equal(handle.tryWith((p) => p.open), undefined);
    assert.throws(() => handle.access(), RevokedError);
    assert.throws(() => handle.proxy(), RevokedError);
  });
});

describe('the bugs of the kernel series cannot happen here', () => {
  it('a second revoke does not release twice, and waits for the first', async () => {
    const gate = deferred();
    const release = mock.fn(() => gate.promise);
    const provider = new Revocable(port(), { release });
    const first = provider.revoke();
    const second = provider.revoke();
    assert.equal(await state(second), 'pending', 'the later call waits for the first to finish');
    gate.resolve();
    assert.deepEqual(await Promise.all([first, second, provider.revoke()]), [true, false, false]);
    assert.equal(release.mock.callCount(), 1);
  });

  it('two concurrent accesses through one handle do not interfere', async () => {
    const release = mock.fn();
    const provider = new Revocable(port(), { release });
    const handle = provider.handle();
    const a = handle.tryAccess();
    const b = handle.tryAccess();
    assert.ok(a && b);
    assert.notEqual(a, b, 'each access is its own token');
    const revoked = provider.revoke();
    a.release();
    a.release(); // idempotent: must not release b's share
    assert.equal(await state(revoked), 'pending');
    assert.equal(provider.accesses, 1);
    assert.equal(b.value.open, true);
    b.release();
    await revoked;
    assert.equal(release.mock.callCount(), 1);
  });

  it('a handle taken after the revoke fails', async () => {
    const provider = new Revocable(port());
    const revoking = provider.revoke();
    assert.throws(() => provider.handle(), (e: unknown) => e instanceof RevokedError && /revoked/.test(e.message));
    await revoking;
    assert.throws(() => provider.handle(), RevokedError);
  });
});

describe('Revocable', () => {
  it('runs release with the resource after the drain, and revoke resolves after it', async () => {
    const events: string[] = [];
    const gate = deferred();
    const provider = new Revocable(port(), {
      async release() {
        events.push('release starts');
        await gate.promise;
        events.push('release ends');
      },
    });
    const access = provider.access();
    const revoked = provider.revoke().then((first) => events.push(`revoke resolved ${first}`));
    events.push('revoke called');
    access.release();
    await flushMicrotasks();
    events.push('access released');
    gate.resolve();
    await revoked;
    assert.deepEqual(events, ['revoke called', 'release starts', 'access released', 'release ends', 'revoke resolved true']);
  });

  it('walks the states live, revoking, revoked', async () => {
    const provider = new Revocable(port());
    assert.equal(provider.state, 'live');
    assert.equal(provider.revoked, false);
    const access = provider.access();
    const revoked = provider.revoke();
    assert.equal(provider.state, 'revoking');
    assert.equal(provider.revoked, true);
    access.release();
    await revoked;
    assert.equal(provider.state, 'revoked');
  });

  it('aborts the signal of every access in flight when the revoke starts, with a RevokedError', () => {
    const provider = new Revocable(port(), { name: 'ttyUSB0' });
    const a = provider.access();
    const b = provider.access();
    const signals = [a.signal, b.signal];
    let seen: unknown;
    const inside = provider.tryWith(async (_p, signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      seen = signal.reason;
    });
    assert.ok(signals.every((s) => !s.aborted));
    void provider.revoke();
    assert.ok(signals.every((s) => s.aborted), 'the kick reaches every access at the first step');
    assert.ok(a.signal.reason instanceof RevokedError);
    assert.match((a.signal.reason as Error).message, /Revocable "ttyUSB0" was revoked/);
    a.release();
    b.release();
    return inside?.then(() => assert.ok(seen instanceof RevokedError));
  });

  it('gives an access taken before the first signal request an aborted signal after the revoke', () => {
    const provider = new Revocable(port());
    const access = provider.access();
    void provider.revoke();
    assert.equal(access.signal.aborted, true);
    access.release();
  });

  it('keeps an async tryWith access until the promise settles, fulfilled or rejected', async () => {
    const provider = new Revocable(port());
    const work = deferred<number>();
    const failing = deferred<number>();
    const ok = provider.tryWith(() => work.promise);
    const bad = provider.with(() => failing.promise);
    assert.equal(provider.accesses, 2);
    const revoked = provider.revoke();
    work.resolve(5);
    assert.equal(await ok, 5);
    assert.equal(await state(revoked), 'pending');
    failing.reject(new Error('boom'));
    await assert.rejects(bad, /boom/);
    assert.equal(await revoked, true);
  });

  it('releases the access when a synchronous fn throws', async () => {
    const provider = new Revocable(port());
    assert.throws(() => provider.with(() => {
      throw new Error('inside');
    }), /inside/);
    assert.equal(provider.accesses, 0);
    assert.equal(await provider.revoke(), true);
  });

  it('lets an access span any number of awaits', async () => {
    const steps = Array.from({ length: 5 }, () => deferred());
    const provider = new Revocable(port());
    const work = provider.tryWith(async (p) => {
      for (const step of steps) await step.promise;
      return p.open;
    });
    const revoked = provider.revoke();
    for (const step of steps) {
      assert.equal(await state(revoked), 'pending');
      step.resolve();
    }
    assert.equal(await work, true);
    assert.equal(await revoked, true);
  });

  it('completes a revoke started from inside an access once that access ends', async () => {
    const release = mock.fn();
    const provider = new Revocable(port(), { release });
    let revoking!: Promise<boolean>;
    provider.with(() => {
      revoking = provider.revoke(); // started, not awaited: legitimate
      assert.equal(provider.tryAccess(), null);
    });
    assert.equal(await revoking, true);
    assert.equal(release.mock.callCount(), 1);
  });

  it('rejects revoke with what release throws, and stays revoked', async () => {
    const provider = new Revocable(port(), {
      release() {
        throw new Error('close failed');
      },
    });
    await assert.rejects(provider.revoke(), /close failed/);
    assert.equal(provider.state, 'revoked');
    await assert.rejects(provider.revoke(), /close failed/, 'later calls report the same failure');
    assert.equal(provider.tryAccess(), null);
  });

  it('rejects revoke with what an async release rejects with', async () => {
    const provider = new Revocable(port(), { release: () => Promise.reject(new Error('async close failed')) });
    await assert.rejects(provider.revoke(), /async close failed/);
    assert.equal(provider.state, 'revoked');
  });

  it('finishes a revoke with no access in flight in the same turn, without timers', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const release = mock.fn();
      const provider = new Revocable(port(), { release });
      const revoked = provider.revoke({ timeout: 1000 });
      assert.equal(release.mock.callCount(), 1, 'released synchronously');
      assert.equal(provider.state, 'revoked');
      assert.equal(await state(revoked), 'fulfilled', 'no timer needed to resolve');
    } finally {
      mock.timers.reset();
    }
  });

  it('drops its reference to the resource once revoked, so it can be collected', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    assert.ok(gc, 'run with --expose-gc');
    let ref!: WeakRef<object>;
    const provider = (() => {
      const resource = { big: new Array(1000).fill(1) };
      ref = new WeakRef(resource);
      return new Revocable(resource, { release: () => {} });
    })();
    const handle = provider.handle();
    const proxy = handle.proxy();
    assert.equal(proxy.big.length, 1000);
    const access = handle.access();
    void access.signal;
    access.release();
    await provider.revoke();
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    assert.equal(ref.deref(), undefined, 'the resource was collected while provider, handle and proxy live on');
    assert.equal(handle.closed, false);
    assert.equal(provider.state, 'revoked');
  });
});

describe('revoke({ timeout })', () => {
  it('rejects with DrainTimeoutError naming the holders, releases nothing, and a later revoke waits again', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const release = mock.fn();
    const provider = new Revocable(port(), { name: 'ttyUSB0', release });
    const a = provider.access();
    const b = provider.access();
    const first = provider.revoke({ timeout: 100 });
    t.mock.timers.tick(100);
    const error = await first.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DrainTimeoutError);
    assert.equal(error.code, 'ERR_DRAIN_TIMEOUT');
    assert.equal(error.pending, 2);
    assert.equal(error.resourceName, 'ttyUSB0');
    assert.match(error.message, /Revocable "ttyUSB0" did not drain within 100 ms: 2 users still hold it/);
    assert.equal(release.mock.callCount(), 0, 'nothing torn down under a live user');
    assert.equal(provider.state, 'revoking');
    assert.equal(provider.tryAccess(), null);

    const again = provider.revoke();
    a.release();
    assert.equal(await state(again), 'pending');
    b.release();
    assert.equal(await again, false, 'the later call did not start the revoke');
    assert.equal(release.mock.callCount(), 1);
  });

  it('does not time out once drained, even while an async release is still running', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const gate = deferred();
    const provider = new Revocable(port(), { release: () => gate.promise });
    const access = provider.access();
    const revoked = provider.revoke({ timeout: 50 });
    access.release();
    t.mock.timers.tick(100);
    assert.equal(await state(revoked), 'pending');
    gate.resolve();
    assert.equal(await revoked, true);
  });

  it('bounds a revoke awaited from inside its own access instead of hanging', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const provider = new Revocable(port());
    const outcome = provider.with(async () => {
      const waiting = provider.revoke({ timeout: 10 });
      t.mock.timers.tick(10);
      return waiting.then(() => 'resolved', (e: unknown) => e);
    });
    const error = await outcome;
    assert.ok(error instanceof DrainTimeoutError, 'the self-deadlock is reported, not silent');
    assert.equal(error.pending, 1);
    assert.equal(provider.state, 'revoked', 'the revoke completes once the access ended');
  });

  it('accepts Infinity as "no limit" and 0 as "only if already drained"', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const provider = new Revocable(port());
    const access = provider.access();
    const unbounded = provider.revoke({ timeout: Infinity });
    const immediate = provider.revoke({ timeout: 0 });
    t.mock.timers.tick(0);
    await assert.rejects(immediate, DrainTimeoutError);
    assert.equal(await state(unbounded), 'pending');
    access.release();
    assert.equal(await unbounded, true);
  });
});

describe('Access and RevocableHandle', () => {
  it('makes release idempotent and the value unreachable after it', async () => {
    const provider = new Revocable(port());
    const access = provider.access();
    assert.equal(access.released, false);
    access.release();
    access.release();
    assert.equal(access.released, true);
    assert.equal(provider.accesses, 0);
    assert.throws(() => access.value, (e: unknown) => e instanceof UseAfterReleaseError && e instanceof ReferenceError && e.code === 'ERR_USE_AFTER_RELEASE');
    assert.throws(() => access.signal, ReferenceError);
    await provider.revoke();
  });

  it('releases an access and closes a handle through Symbol.dispose', async () => {
    const provider = new Revocable(port());
    const handle = provider.handle();
    const access = handle.access();
    access[Symbol.dispose]();
    assert.equal(provider.accesses, 0);
    handle[Symbol.dispose]();
    assert.equal(handle.closed, true);
    await provider.revoke();
  });

  it('works with `using` and `await using`', async () => {
    const release = mock.fn();
    {
      await using provider = new Revocable(port(), { release });
      using handle = provider.handle();
      using access = handle.tryAccess();
      assert.equal(access?.value.open, true);
      assert.equal(provider.accesses, 1);
    }
    assert.equal(release.mock.callCount(), 1, 'the provider was revoked at the end of the block');
  });

  it('closes a handle without touching accesses already taken through it', async () => {
    const provider = new Revocable(port());
    const handle = provider.handle();
    const access = handle.access();
    handle.close();
    handle.close();
    assert.equal(handle.closed, true);
    assert.equal(handle.revoked, true);
    assert.equal(handle.tryAccess(), null);
    assert.equal(handle.tryWith(() => 1), undefined);
    assert.throws(() => handle.access(), (e: unknown) => e instanceof RevokedError && /closed/.test(e.message));
    assert.throws(() => handle.with(() => 1), RevokedError);
    assert.equal(access.value.open, true, 'the access outlives the handle');
    assert.equal(provider.handle().tryWith((p) => p.id), 1, 'other handles are unaffected');
    const revoked = provider.revoke();
    access.release();
    assert.equal(await revoked, true);
  });

  it('does not track handles: a revoke with many handles alive finishes the same way', async () => {
    const provider = new Revocable(port());
    const handles = Array.from({ length: 10_000 }, () => provider.handle());
    assert.equal(await provider.revoke(), true);
    assert.ok(handles.every((h) => h.tryAccess() === null && h.revoked && !h.closed));
  });

  it('exposes the classes for instanceof checks', async () => {
    const provider = new Revocable(port());
    const handle = provider.handle();
    assert.ok(handle instanceof RevocableHandle);
    const access = handle.access();
    assert.ok(access instanceof Access);
    access.release();
    await provider.revoke();
  });
});

describe('bad input from untyped callers', () => {
  const untyped = (value: unknown): never => value as never;

  it('rejects a missing resource with a TypeError that says what was expected', () => {
    for (const value of [null, undefined]) {
      assert.throws(() => new Revocable(untyped(value)), {
        name: 'TypeError',
        message: `Expected \`resource\` to be a resource (any value but null or undefined), got \`${String(value)}\` (${value === null ? 'null' : 'undefined'})`,
      });
    }
  });

  it('rejects wrong option types', () => {
    assert.throws(() => new Revocable(port(), untyped(5)), /Expected `options` to be an object or undefined, got `5` \(number\)/);
    assert.throws(() => new Revocable(port(), untyped(null)), /Expected `options` to be an object/);
    assert.throws(() => new Revocable(port(), untyped({ name: 5 })), /Expected `options.name` to be a string or undefined, got `5` \(number\)/);
    assert.throws(() => new Revocable(port(), untyped({ release: 'close' })), /Expected `options.release` to be a function or undefined, got `"close"` \(string\)/);
  });

  it('rejects negative, NaN and non-number timeouts with no state change', async () => {
    const release = mock.fn();
    const provider = new Revocable(port(), { release });
    const access = provider.access();
    assert.throws(() => provider.revoke({ timeout: -1 }), { name: 'RangeError', message: 'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1` (number)' });
    assert.throws(() => provider.revoke({ timeout: NaN }), RangeError);
    assert.throws(() => provider.revoke({ timeout: untyped('10') }), { name: 'TypeError', message: 'Expected `options.timeout` to be a number of milliseconds, got `"10"` (string)' });
    assert.throws(() => provider.revoke(untyped('soon')), TypeError);
    assert.equal(provider.state, 'live', 'a bad call revokes nothing');
    assert.equal(access.signal.aborted, false);
    access.release();
    assert.equal(await provider.revoke(), true);
  });

  it('rejects non-function callbacks without taking an access', async () => {
    const provider = new Revocable(port());
    const handle = provider.handle();
    for (const call of [
      () => provider.tryWith(untyped(1)),
      () => provider.with(untyped('x')),
      () => handle.tryWith(untyped({})),
      () => handle.with(untyped(null)),
    ]) {
      assert.throws(call, /Expected `fn` to be a function, got/);
    }
    assert.equal(provider.accesses, 0);
    handle.close();
    assert.throws(() => handle.tryWith(untyped(1)), TypeError, 'validated even on a closed handle');
    await provider.revoke();
    assert.throws(() => provider.tryWith(untyped(1)), TypeError, 'validated even once revoked');
  });
});
