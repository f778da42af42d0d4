/**
 * The standard-exact `AsyncDisposableStack` and `DisposableStack`, `SuppressedError`, the points
 * of the standard `ResourceScope` shares with them, and `revocable/polyfill`. Each point that
 * test262 checks is checked here too, so that CI, which has no test262 checkout, keeps them.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import vm from 'node:vm';
import { AsyncDisposableStack, DisposableStack, ResourceScope, SuppressedError } from '../src/index.js';
import { SuppressedErrorPolyfill } from '../src/internal/suppressed-error.js';
import { installed } from '../src/polyfill.js';
import { evaluatePackage } from './support/test262.js';
import { deferred, flushMicrotasks } from './support/deferred.js';
import { leakTracker } from './support/leaks.js';

type AnyStack = AsyncDisposableStack | DisposableStack | ResourceScope;
type StackClass = new () => AnyStack;
const Native = globalThis as unknown as { AsyncDisposableStack?: StackClass; DisposableStack?: StackClass };

const asyncClasses: [string, new () => AsyncDisposableStack | ResourceScope][] = [
  ['AsyncDisposableStack', AsyncDisposableStack],
  ['ResourceScope', ResourceScope],
];
const allClasses: [string, StackClass][] = [...asyncClasses, ['DisposableStack', DisposableStack]];

/** The order of `disposeAsync()`'s settlement among two microtask chains started beside it (test262's explicit-await files). */
async function settleOrder(stack: { disposeAsync(): Promise<void> }, depth: 1 | 2): Promise<string[]> {
  const sequence: string[] = [];
  const chain = (label: string): Promise<unknown> =>
    depth === 1 ? Promise.resolve().then(() => sequence.push(label)) : Promise.resolve().then(() => 0).then(() => sequence.push(label));
  await Promise.all([chain('job 1'), stack.disposeAsync().then(() => sequence.push('dispose')), chain('job 2')]);
  return sequence;
}

describe('the standard stacks: constructor and prototype', () => {
  for (const [name, Class] of allClasses) {
    it(`${name} has length 0${name === 'ResourceScope' ? '' : ', its name and its tag'}`, () => {
      assert.equal(Class.length, 0);
      assert.equal(Class.name, name);
      if (name !== 'ResourceScope') {
        assert.equal(Object.prototype.toString.call(new Class()), `[object ${name}]`);
        assert.deepEqual(Object.getOwnPropertyDescriptor(Class.prototype, Symbol.toStringTag), { value: name, writable: false, enumerable: false, configurable: true });
      }
      const method = name === 'DisposableStack' ? 'dispose' : 'disposeAsync';
      const symbol = name === 'DisposableStack' ? Symbol.dispose : Symbol.asyncDispose;
      const descriptor = Object.getOwnPropertyDescriptor(Class.prototype, symbol);
      assert.equal(descriptor?.value, (Class.prototype as unknown as Record<string, unknown>)[method]);
      assert.deepEqual({ ...descriptor, value: undefined }, { value: undefined, writable: true, enumerable: false, configurable: true });
      assert.equal(Object.getPrototypeOf(Class), Function.prototype);
      assert.throws(() => (Class as unknown as () => void)(), TypeError);
      leakTracker.reset(); // the tag check makes a scope it need not dispose
    });

    it(`${name} gives its own prototype to a new.target whose prototype is not an object, and reads a getter once`, () => {
      function Target(): void {}
      for (const value of [undefined, null, true, '', Symbol(), 1]) {
        Target.prototype = value;
        assert.equal(Object.getPrototypeOf(Reflect.construct(Class, [], Target)), Class.prototype, String(value));
      }
      assert.equal(Object.getPrototypeOf(Reflect.construct(Class, [], Object)), Object.prototype);
      const bound = function () {}.bind(null);
      Object.defineProperty(bound, 'prototype', { get: () => Array.prototype });
      assert.equal(Object.getPrototypeOf(Reflect.construct(Class, [], bound)), Array.prototype);
      let calls = 0;
      const abrupt = function () {}.bind(null);
      Object.defineProperty(abrupt, 'prototype', {
        get() {
          calls++;
          throw new EvalError('prototype');
        },
      });
      assert.throws(() => Reflect.construct(Class, [], abrupt), EvalError);
      assert.equal(calls, 1);
      class Sub extends (Class as new () => object) {}
      assert.equal(Object.getPrototypeOf(new Sub()), Sub.prototype);
      leakTracker.reset();
    });

    it(`${name}'s methods refuse a receiver that is not one with a TypeError`, async () => {
      const proto = Class.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
      for (const method of ['use', 'adopt', 'defer', 'move']) {
        for (const receiver of [undefined, 1, {}, new Map()]) assert.throws(() => proto[method]?.call(receiver, null, () => {}), TypeError, method);
      }
      const getter = Object.getOwnPropertyDescriptor(Class.prototype, 'disposed')?.get;
      assert.throws(() => getter?.call({}), TypeError);
      if (name === 'DisposableStack') assert.throws(() => proto['dispose']?.call({}), TypeError);
      else await assert.rejects(proto['disposeAsync']?.call({}) as Promise<void>, TypeError);
    });

    it(`${name}: use, adopt, defer and move on a disposed one throw a plain ReferenceError, before looking at the arguments`, async () => {
      const made = new Class();
      if (made instanceof DisposableStack) made.dispose();
      else await made.disposeAsync();
      // One type for the calls: each refuses before it looks at the arguments.
      const stack = made as ResourceScope;
      const calls: [string, () => unknown][] = [
        ['use', () => stack.use({ [Symbol.dispose]: () => {} })],
        ['use', () => stack.use(null)],
        ['use', () => stack.use(42 as never)],
        ['adopt', () => stack.adopt(1, 'not callable' as never)],
        ['defer', () => stack.defer('not callable' as never)],
        ['move', () => stack.move()],
      ];
      for (const [method, call] of calls) {
        assert.throws(call, (error: unknown) => error instanceof ReferenceError && error.constructor === ReferenceError, method);
      }
    });
  }
});

describe('the standard stacks: disposal', () => {
  for (const [name, Class] of asyncClasses) {
    it(`${name}: an empty disposeAsync() settles at once, as the standard's does`, async () => {
      assert.deepEqual(await settleOrder(new Class(), 1), ['job 1', 'dispose', 'job 2']);
      if (Native.AsyncDisposableStack !== undefined) {
        assert.deepEqual(await settleOrder(new Native.AsyncDisposableStack() as AsyncDisposableStack, 1), ['job 1', 'dispose', 'job 2'], 'the native one agrees');
      }
    });

    for (const empty of [null, undefined]) {
      it(`${name}: use(${String(empty)}) costs the standard's one turn when nothing else is awaited`, async () => {
        const stack = new Class();
        assert.equal(stack.use(empty), empty);
        assert.deepEqual(await settleOrder(stack, 2), ['job 1', 'dispose', 'job 2']);
        const moved = new Class();
        moved.use(empty);
        assert.deepEqual(await settleOrder(moved.move(), 2), ['job 1', 'dispose', 'job 2'], 'the turn moves with the resources');
      });
    }

    it(`${name}: releases newest first, one at a time, awaiting an object a release returns, and chains failures as the standard does`, async () => {
      const stack = new Class();
      const log: string[] = [];
      const gate = deferred();
      stack.defer(() => void log.push('oldest'));
      stack.adopt('adopted', (v) => {
        log.push(v);
        throw new Error('adopt failed');
      });
      const ignored = Promise.reject(new Error('never awaited'));
      ignored.catch(() => {});
      stack.use({ [Symbol.dispose]: () => (log.push('sync dispose'), ignored) });
      stack.defer(() => {
        log.push('waits');
        return gate.promise.then(() => log.push('waited'));
      });
      stack.use({
        [Symbol.asyncDispose]: async () => {
          log.push('newest');
          throw new Error('use failed');
        },
      });
      const done = stack.disposeAsync();
      assert.equal(stack.disposed, true);
      await flushMicrotasks();
      assert.deepEqual(log, ['newest', 'waits'], 'the next waits for the returned promise');
      gate.resolve();
      const error = await done.then(
        () => assert.fail('should reject'),
        (e: unknown) => e as SuppressedError,
      );
      assert.deepEqual(log, ['newest', 'waits', 'waited', 'sync dispose', 'adopted', 'oldest']);
      assert.ok(error instanceof SuppressedError);
      assert.equal((error.error as Error).message, 'adopt failed');
      assert.equal((error.suppressed as Error).message, 'use failed');
      assert.equal(await stack.disposeAsync(), undefined, 'a second call resolves at once');
    });

    it(`${name}: a revoked Proxy returned by a release is that release failing, and the rest still run`, async () => {
      const stack = new Class();
      const log: string[] = [];
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      stack.defer(() => void log.push('older'));
      stack.defer(() => proxy);
      await assert.rejects(stack.disposeAsync(), TypeError);
      assert.deepEqual(log, ['older']);
    });

    it(`${name}: reads the then of what a release returns once, as the standard's await does`, async () => {
      const stack = new Class();
      let reads = 0;
      const result = {
        get then() {
          reads++;
          return (resolve: () => void) => resolve();
        },
      };
      stack.defer(() => result);
      await stack.disposeAsync();
      assert.equal(reads, 1);
    });

    it(`${name}: move() returns a plain one holding everything, also from a subclass, and leaves this one disposed`, async () => {
      class Sub extends (Class as new () => AsyncDisposableStack) {}
      const sub = new Sub();
      const release = mock.fn();
      sub.defer(release);
      const moved = sub.move();
      assert.equal(Object.getPrototypeOf(moved), Class.prototype);
      assert.equal(sub.disposed, true);
      await sub.disposeAsync();
      assert.equal(release.mock.callCount(), 0);
      await moved.disposeAsync();
      assert.equal(release.mock.callCount(), 1);
    });
  }

  it('DisposableStack releases synchronously, newest first, ignoring results, and throws the chain after the last', () => {
    const stack = new DisposableStack();
    const log: unknown[] = [];
    stack.adopt('a', (v) => void log.push(v));
    stack.defer(() => {
      log.push('b');
      throw new Error('b');
    });
    const resource = {
      [Symbol.dispose]() {
        log.push(this === resource);
        stack.dispose(); // re-entry: already disposed, releases nothing
        throw new Error('c');
      },
    };
    stack.use(resource);
    assert.equal(stack.use(null), null, 'adds nothing');
    assert.equal(stack.use(undefined), undefined, 'adds nothing');
    assert.throws(
      () => stack.dispose(),
      (error: unknown) => error instanceof SuppressedError && (error.error as Error).message === 'b' && (error.suppressed as Error).message === 'c',
    );
    assert.deepEqual(log, [true, 'b', 'a']);
    assert.equal(stack.dispose(), undefined);
  });

  it('DisposableStack.use calls the method with the resource as this, read once', () => {
    const stack = new DisposableStack();
    let reads = 0;
    const seen: unknown[] = [];
    const resource = {
      get [Symbol.dispose]() {
        reads++;
        return function (this: unknown) {
          seen.push(this);
        };
      },
    };
    assert.equal(stack.use(resource), resource);
    stack.dispose();
    assert.deepEqual([reads, seen], [1, [resource]]);
  });
});

describe('SuppressedError', () => {
  for (const [label, Ctor] of [
    ['the exported one', SuppressedError],
    ['the polyfill', SuppressedErrorPolyfill],
  ] as const) {
    it(`${label} falls back to SuppressedError.prototype for a new.target whose prototype is not an object`, () => {
      for (const value of [undefined, null, 42, false, true, Symbol(), 'string', Ctor.prototype]) {
        const newTarget = new Proxy(function () {}, {
          get: (target, key) => (key === 'prototype' ? value : Reflect.get(target, key)),
        });
        assert.equal(Object.getPrototypeOf(Reflect.construct(Ctor, [], newTarget)), Ctor.prototype);
      }
      const custom = { x: 42 };
      const newTarget = new Proxy(function () {}, { get: (target, key) => (key === 'prototype' ? custom : Reflect.get(target, key)) });
      assert.equal(Object.getPrototypeOf(Reflect.construct(Ctor, [], newTarget)), custom);
    });

    it(`${label} converts the message first, then defines error and suppressed after it`, () => {
      const e = new Ctor({}, {}, { toString: () => 'text' } as never);
      const keys = Object.getOwnPropertyNames(e);
      assert.equal(e.message, 'text');
      assert.equal(keys.indexOf('error'), keys.indexOf('message') + 1);
      assert.equal(keys.indexOf('suppressed'), keys.indexOf('error') + 1);
    });
  }
});

describe('revocable/polyfill', () => {
  it('installs in this realm exactly what the runtime lacks', () => {
    const native = typeof (globalThis as { SuppressedError?: unknown }).SuppressedError === 'function' && installed.length === 0;
    if (native) {
      assert.deepEqual(installed, []);
      assert.notEqual(globalThis.AsyncDisposableStack, AsyncDisposableStack, 'the runtime’s own is kept');
    } else {
      assert.deepEqual(installed, ['SuppressedError', 'DisposableStack', 'AsyncDisposableStack']);
      assert.equal(globalThis.AsyncDisposableStack, AsyncDisposableStack);
      assert.equal(globalThis.DisposableStack, DisposableStack);
      assert.equal(globalThis.SuppressedError, SuppressedError);
    }
  });

  it('installs them in a realm without them, with the standard’s attributes, and its stacks chain with that SuppressedError', async () => {
    const context = vm.createContext();
    const global = vm.runInContext('globalThis', context) as Record<string, unknown>;
    for (const name of ['AsyncDisposableStack', 'DisposableStack', 'SuppressedError']) delete global[name];
    const lacksSymbols = vm.runInContext('typeof Symbol.dispose', context) !== 'symbol'; // Node 20's contexts
    const exported = evaluatePackage(context);
    assert.deepEqual(
      [...(exported['installed'] as string[])],
      [...(lacksSymbols ? ['Symbol.dispose', 'Symbol.asyncDispose'] : []), 'SuppressedError', 'DisposableStack', 'AsyncDisposableStack'],
    );
    for (const name of ['AsyncDisposableStack', 'DisposableStack', 'SuppressedError']) {
      assert.deepEqual({ ...Object.getOwnPropertyDescriptor(global, name), value: undefined }, { value: undefined, writable: true, enumerable: false, configurable: true }, name);
    }
    const symbol = vm.runInContext('Object.getOwnPropertyDescriptor(Symbol, "asyncDispose")', context) as PropertyDescriptor;
    assert.equal(symbol.value, Symbol.asyncDispose, 'the same symbol as this realm’s: registered, or well-known');
    assert.deepEqual([symbol.writable, symbol.enumerable, symbol.configurable], [false, false, false]);
    const rejected = await (vm.runInContext(
      `(async () => {
        const stack = new AsyncDisposableStack();
        stack.defer(() => { throw 1; });
        stack.defer(() => { throw 2; });
        try { await stack.disposeAsync(); } catch (e) { return [e instanceof SuppressedError, e.constructor === SuppressedError, e.error, e.suppressed]; }
      })()`,
      context,
    ) as Promise<unknown[]>);
    assert.deepEqual([...rejected], [true, true, 1, 2]);
  });

  it('replaces nothing a realm has', () => {
    const context = vm.createContext();
    const marker = vm.runInContext('globalThis.AsyncDisposableStack = function Mine() {}; globalThis.SuppressedError = function Theirs() {}; AsyncDisposableStack', context) as unknown;
    const exported = evaluatePackage(context);
    assert.equal(vm.runInContext('AsyncDisposableStack', context), marker);
    assert.ok(!(exported['installed'] as string[]).includes('AsyncDisposableStack'));
    assert.ok(!(exported['installed'] as string[]).includes('SuppressedError'));
  });
});
