/**
 * What untyped and hostile callers can hand the core: values whose `then` throws, tokens made by
 * hand, options whose getters change their answer, values whose every trap throws. None of them
 * may leak a gate, wedge a provider, or turn a TypeError into another error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Access, DrainTimeoutError, Kref, RefCounted, Ref, Revocable, RevocableHandle, RevokedError } from '../src/index.js';
import { show } from '../src/internal/validate.js';
import './support/leaks.js';

/** A value whose `then` getter throws: a revoked `Proxy`. */
const revokedProxy = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

/** A `Proxy` whose every trap records that it ran (and answers as the empty object would). */
const spy = (): { value: object; traps: string[] } => {
  const traps: string[] = [];
  const handler = new Proxy(
    {},
    {
      get: (_h, trap: string) => (...args: unknown[]) => {
        traps.push(trap);
        return (Reflect as unknown as Record<string, (...a: unknown[]) => unknown>)[trap]?.(...args);
      },
    },
  );
  return { value: new Proxy({}, handler as ProxyHandler<object>), traps };
};

/** An options object whose `key` answers `first` once, then `later`; counts the reads. */
const shifty = <T>(key: string, first: T, later: T): { options: Record<string, T>; reads: () => number } => {
  let reads = 0;
  const options = {} as Record<string, T>;
  Object.defineProperty(options, key, {
    enumerable: true,
    get: () => (reads++ === 0 ? first : later),
  });
  return { options, reads: () => reads };
};

const untyped = (value: unknown): never => value as never;

describe('a returned value whose then getter throws (a revoked Proxy)', () => {
  it('ends the access of with() and rethrows the getter\'s error: the count is back to 0 and a revoke completes', async () => {
    const provider = new Revocable({ n: 1 });
    assert.throws(() => provider.with(() => revokedProxy()), TypeError);
    assert.equal(provider.accesses, 0);
    assert.throws(() => provider.handle().with(() => revokedProxy()), TypeError);
    assert.throws(() => provider.tryWith(() => revokedProxy()), TypeError);
    assert.equal(provider.accesses, 0);
    assert.equal(await provider.revoke({ timeout: 1_000 }), true);
  });

  it('ends the access of a proxied method that returns it', async () => {
    const provider = new Revocable({ make: () => revokedProxy() });
    const resource = provider.handle().proxy();
    assert.throws(() => resource.make(), TypeError);
    assert.equal(provider.accesses, 0);
    assert.equal(await provider.revoke({ timeout: 1_000 }), true);
  });

  it('returned by release: revoke() does not throw synchronously, rejects with the error, and the provider is revoked', async () => {
    const provider = new Revocable({}, { release: () => revokedProxy() });
    let revoking!: Promise<boolean>;
    assert.doesNotThrow(() => (revoking = provider.revoke()));
    await assert.rejects(revoking, TypeError);
    assert.equal(provider.state, 'revoked');
    await assert.rejects(provider.revoke(), TypeError, 'a later revoke reports the same failure');
  });
});

describe('internal constructors', () => {
  it('refuse to make an Access by hand, which would release a count it never took', async () => {
    const provider = new Revocable({ n: 1 }, { release: () => {} });
    const live = provider.access();
    const Forge = Access as unknown as new (...args: unknown[]) => Access<unknown>;
    assert.throws(() => new Forge(provider, {}), { name: 'TypeError', message: /Access is not constructed directly/ });
    assert.throws(() => new Forge(Symbol('revocable internal'), provider, {}), TypeError);
    const revoking = provider.revoke({ timeout: 20 });
    await assert.rejects(revoking, DrainTimeoutError, 'the live reader still holds it');
    live.release();
    assert.equal(await provider.revoke(), false);
  });

  it('refuse to make a RevocableHandle or a Ref by hand', async () => {
    const provider = new Revocable({ n: 1 });
    assert.throws(() => new (RevocableHandle as unknown as new (...args: unknown[]) => unknown)(provider), { name: 'TypeError', message: /RevocableHandle is not constructed directly/ });
    assert.throws(() => new (Ref as unknown as new (...args: unknown[]) => unknown)(undefined, {}), TypeError);
    await provider.revoke();
  });
});

describe('error messages for hostile values', () => {
  it('never throw and never run a trap or getter of the value', async () => {
    const { value, traps } = spy();
    const revoked = revokedProxy();
    const getterName = Object.defineProperty(function named() {}, 'name', {
      get: () => {
        throw new Error('name getter ran');
      },
    });
    const provider = new Revocable({ n: 1 });
    for (const hostile of [value, revoked, getterName]) {
      assert.doesNotThrow(() => show(hostile));
      assert.throws(() => new Revocable({}, untyped({ name: hostile })), TypeError);
      assert.throws(() => new Revocable(null, untyped({ name: hostile })), TypeError);
    }
    for (const hostile of [value, revoked]) {
      assert.throws(() => new Revocable({}, untyped({ release: hostile })), TypeError);
      assert.throws(() => provider.tryWith(untyped(hostile)), TypeError);
      assert.throws(() => new Kref(untyped(hostile)), TypeError);
    }
    await provider.revoke();
    assert.deepEqual(traps, [], 'no trap of the hostile value ran');
    assert.equal(show(revoked), '`revoked Proxy` (object)');
    assert.equal(show(value), '`[object]` (object)');
    assert.equal(show([1, 2]), '`array` (array)');
  });

  it('an options bag that is a revoked Proxy is refused with a TypeError naming it', async () => {
    assert.throws(() => new Revocable({}, untyped(revokedProxy())), { name: 'TypeError', message: 'Expected `options` to be an object or undefined, got `revoked Proxy` (object)' });
    const provider = new Revocable({ n: 1 });
    assert.throws(() => provider.revoke(untyped(revokedProxy())), TypeError);
    await provider.revoke();
  });
});

describe('options bags', () => {
  it('are read once: a getter cannot pass the check and then hand over something else', async () => {
    const name = shifty('name', 'ok', untyped(42));
    const provider = new Revocable({}, untyped(name.options));
    assert.equal(name.reads(), 1);
    assert.equal(provider.name, 'ok');
    await provider.revoke();

    const release = shifty('release', () => {}, untyped('not a function'));
    const released = new Revocable({}, untyped(release.options));
    assert.equal(release.reads(), 1);
    assert.equal(await released.revoke(), true);

    const timeout = shifty('timeout', 10, -1);
    await new Revocable({}).revoke(untyped(timeout.options));
    assert.equal(timeout.reads(), 1);

    const deep = shifty('deep', true, untyped('yes'));
    const proxied = new Revocable({});
    const handle = proxied.handle();
    handle.proxy(untyped(deep.options));
    assert.equal(deep.reads(), 1);
    handle.close();
    await proxied.revoke();

    const krefName = shifty('name', 'k', untyped(1));
    assert.equal(new Kref(() => {}, untyped(krefName.options)).name, 'k');
    assert.equal(krefName.reads(), 1);

    const refName = shifty('name', 'r', untyped(1));
    RefCounted.create({}, () => {}, untyped(refName.options)).dispose();
    assert.equal(refName.reads(), 1);
  });
});

describe('timeouts a timer cannot honour', () => {
  it('are refused with a RangeError naming the parameter, before anything changes', async () => {
    const provider = new Revocable({ n: 1 });
    const access = provider.access();
    assert.throws(() => provider.revoke({ timeout: 2 ** 31 }), { name: 'RangeError', message: /`options.timeout`.*2147483647/ });
    assert.equal(provider.state, 'live');
    access.release();
    assert.equal(await provider.revoke({ timeout: 2 ** 31 - 1 }), true, 'the largest honoured timeout is accepted');
    assert.equal(await new Revocable({}).revoke({ timeout: Infinity }), true);
  });
});

describe('a closed handle and a revoked provider', () => {
  it('fail every operation with RevokedError, whatever the arguments', async () => {
    const provider = new Revocable({ n: 1 });
    const handle = provider.handle();
    handle.close();
    assert.throws(() => handle.access(), RevokedError);
    assert.throws(() => handle.proxy(), RevokedError);
    assert.throws(() => handle.with(untyped(1)), TypeError, 'a bad argument is reported before the closed handle');
    await provider.revoke();
    assert.throws(() => provider.handle(), RevokedError);
  });
});
