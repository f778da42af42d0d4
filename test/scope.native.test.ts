/**
 * Differential test: random programs run against the runtime's own `AsyncDisposableStack` and
 * against `ResourceScope`, and must observe the same things: which releases run in which order,
 * what each call returns or throws, what disposal rejects with (the whole `SuppressedError` chain),
 * and what releases that re-enter the stack see. Only the number of microtask turns may differ
 * (a release that returns no promise costs `ResourceScope` none), so programs await each disposal
 * before the next step, and nothing is logged from code whose timing depends on turns.
 *
 * Needs a runtime with `AsyncDisposableStack` (Node 24); skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AsyncDisposableStack as PackageAsyncDisposableStack, ResourceScope } from '../src/index.js';
import './support/leaks.js';

import { runs } from './support/model.js';
const Native = (globalThis as { AsyncDisposableStack?: new () => AsyncDisposableStack }).AsyncDisposableStack;
const NativeSuppressedError = (globalThis as { SuppressedError?: SuppressedErrorConstructor }).SuppressedError;

/** What a release does when it runs, besides logging its label. */
type Outcome = 'undefined' | 'value' | 'resolve' | 'reject' | 'throw' | 'thenable' | 'rejectingThenable';
/** Something a release does to the stack it finds current, to see what re-entry observes. */
type Reentry = 'none' | 'use' | 'defer' | 'adopt' | 'move' | 'dispose' | 'disposed';
interface Release {
  outcome: Outcome;
  reentry: Reentry;
}
type Resource =
  | { kind: 'null' | 'undefined' | 'number' | 'string' | 'plain' | 'badAsync' | 'badSync' }
  | { kind: 'async' | 'sync' | 'both' | 'asyncNull' | 'function' | 'syncReturnsThenable'; release: Release };
type Op =
  | { op: 'use'; resource: Resource }
  | { op: 'adopt'; release: Release | 'notCallable' }
  | { op: 'defer'; release: Release | 'notCallable' }
  | { op: 'move'; switchTo: boolean }
  | { op: 'switch'; to: number }
  | { op: 'dispose' }
  | { op: 'disposeAndProbe' }
  | { op: 'disposed' };

const release: fc.Arbitrary<Release> = fc.record({
  outcome: fc.constantFrom<Outcome>('undefined', 'value', 'resolve', 'reject', 'throw', 'thenable', 'rejectingThenable'),
  reentry: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Reentry>('none') },
    { weight: 1, arbitrary: fc.constantFrom<Reentry>('use', 'defer', 'adopt', 'move', 'dispose', 'disposed') },
  ),
});
const resource: fc.Arbitrary<Resource> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('null', 'undefined', 'number', 'string', 'plain', 'badAsync', 'badSync') as fc.Arbitrary<'null'> }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('async', 'sync', 'both', 'asyncNull', 'function', 'syncReturnsThenable') as fc.Arbitrary<'async'>, release }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('use' as const), resource }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('adopt' as const), release: fc.oneof({ weight: 6, arbitrary: release }, { weight: 1, arbitrary: fc.constant('notCallable' as const) }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('defer' as const), release: fc.oneof({ weight: 6, arbitrary: release }, { weight: 1, arbitrary: fc.constant('notCallable' as const) }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('move' as const), switchTo: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('switch' as const), to: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dispose' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('disposeAndProbe' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('disposed' as const) }) },
);

/** An error rendered so that two implementations' errors compare equal when they mean the same. */
function shape(error: unknown): unknown {
  if (NativeSuppressedError !== undefined && error instanceof NativeSuppressedError) {
    return { suppressedError: true, message: error.message, error: shape(error.error), suppressed: shape(error.suppressed) };
  }
  if (error instanceof TypeError) return 'TypeError';
  if (error instanceof ReferenceError) return 'ReferenceError';
  if (error instanceof Error) return `Error(${error.message})`;
  return { thrown: error };
}

/** Runs `ops` against stacks made by `make`, returning everything observed. */
async function run(make: () => AsyncDisposableStack, ops: Op[]): Promise<unknown[]> {
  const log: unknown[] = [];
  const stacks: AsyncDisposableStack[] = [make()];
  let current = 0;
  let counter = 0;

  const record = (what: string, call: () => unknown, expectValue?: unknown): void => {
    try {
      const result = call();
      log.push([what, 'returned', result === expectValue ? 'the value' : result === undefined ? 'undefined' : typeof result]);
    } catch (error) {
      log.push([what, 'threw', shape(error)]);
    }
  };

  /**
   * A release function: logs its label, re-enters if asked, then ends as its outcome says. `sync`
   * marks a `Symbol.dispose` method, whose result the standard ignores: it must not log later (the
   * time would depend on turns), nor start a disposal nobody awaits, nor leave a rejection unhandled.
   */
  const makeRelease = (given: Release, label: string, sync = false) => {
    const spec: Release = sync && given.reentry === 'dispose' ? { ...given, reentry: 'disposed' } : given;
    return function (this: unknown, ...args: unknown[]): unknown {
      log.push(['release', label, args.length, args[0] === undefined ? 'no arg' : 'arg', this === undefined ? 'no this' : typeof this]);
      let reentered: unknown;
      if (spec.reentry !== 'none') {
        const target = stacks[current]!;
        const probe = `${label} re-enters ${spec.reentry}`;
        switch (spec.reentry) {
          case 'use':
            record(probe, () => target.use({ [Symbol.dispose]: () => void log.push(['release', `${label}/used`]) }));
            break;
          case 'defer':
            record(probe, () => target.defer(() => void log.push(['release', `${label}/deferred`])));
            break;
          case 'adopt':
            record(probe, () => target.adopt(1, () => void log.push(['release', `${label}/adopted`])));
            break;
          case 'move':
            record(probe, () => {
              const moved = target.move();
              stacks.push(moved);
              return moved;
            });
            break;
          case 'dispose':
            // Returned below so that it is awaited: no interleaving that depends on turns.
            reentered = target.disposeAsync();
            break;
          case 'disposed':
            log.push([probe, target.disposed]);
            break;
        }
      }
      const failure = new Error(label);
      if (sync && (spec.outcome === 'resolve' || spec.outcome === 'reject')) {
        const ignored = spec.outcome === 'resolve' ? Promise.resolve() : Promise.reject(failure);
        ignored.catch(() => {});
        return ignored;
      }
      switch (spec.outcome) {
        case 'undefined':
          return reentered;
        case 'value':
          return reentered ?? 42;
        case 'resolve':
          return Promise.resolve(reentered).then(() => void log.push(['settled', label]));
        case 'reject':
          return Promise.resolve(reentered).then(() => {
            log.push(['settled', label]);
            throw failure;
          });
        case 'throw':
          if (reentered !== undefined) (reentered as Promise<void>).catch(() => {});
          throw failure;
        case 'thenable':
          return { then: (resolve: () => void) => void Promise.resolve(reentered).then(() => (log.push(['thenable', label]), resolve())) };
        case 'rejectingThenable':
          return { then: (_: unknown, reject: (e: unknown) => void) => void Promise.resolve(reentered).then(() => (log.push(['thenable', label]), reject(failure))) };
      }
    };
  };

  const makeResource = (spec: Resource, label: string): unknown => {
    switch (spec.kind) {
      case 'null':
        return null;
      case 'undefined':
        return undefined;
      case 'number':
        return 7;
      case 'string':
        return 'str';
      case 'plain':
        return {};
      case 'badAsync':
        return { [Symbol.asyncDispose]: 1 };
      case 'badSync':
        return { [Symbol.dispose]: {} };
      case 'async':
        return { [Symbol.asyncDispose]: makeRelease(spec.release, label) };
      case 'sync':
        return { [Symbol.dispose]: makeRelease(spec.release, label, true) };
      case 'both':
        return { [Symbol.asyncDispose]: makeRelease(spec.release, label), [Symbol.dispose]: () => void log.push(['wrong method', label]) };
      case 'asyncNull':
        return { [Symbol.asyncDispose]: null, [Symbol.dispose]: makeRelease(spec.release, label, true) };
      case 'function':
        return Object.assign(() => {}, { [Symbol.dispose]: makeRelease(spec.release, label, true) });
      case 'syncReturnsThenable': {
        const inner = makeRelease(spec.release, label, true);
        return {
          [Symbol.dispose]() {
            inner.call(this);
            // The standard never awaits what a dispose method returns: `then` must not be called.
            return { then: () => void log.push(['awaited a sync dispose result', label]) };
          },
        };
      }
    }
  };

  const dispose = async (stack: AsyncDisposableStack): Promise<void> => {
    try {
      log.push(['dispose resolved', await stack.disposeAsync()]);
    } catch (error) {
      log.push(['dispose rejected', shape(error)]);
    }
  };

  for (const step of ops) {
    const stack = stacks[current]!;
    const label = `r${counter++}`;
    switch (step.op) {
      case 'use': {
        const value = makeResource(step.resource, label);
        record(`use ${step.resource.kind}`, () => stack.use(value as Disposable), value);
        break;
      }
      case 'adopt': {
        const value = { label };
        const fn = step.release === 'notCallable' ? 'nope' : makeRelease(step.release, label);
        record('adopt', () => stack.adopt(value, fn as () => void), value);
        break;
      }
      case 'defer': {
        const fn = step.release === 'notCallable' ? {} : makeRelease(step.release, label);
        record('defer', () => stack.defer(fn as () => void));
        break;
      }
      case 'move':
        record('move', () => {
          const moved = stack.move();
          log.push(['moved to a new stack', moved !== stack, moved.disposed]);
          stacks.push(moved);
          if (step.switchTo) current = stacks.length - 1;
          return moved;
        });
        break;
      case 'switch':
        current = step.to % stacks.length;
        break;
      case 'dispose':
        await dispose(stack);
        break;
      case 'disposeAndProbe': {
        // What the caller sees synchronously after starting a disposal, before any turn passes.
        // Logged after the disposal: how many releases ran before the probe is a matter of turns.
        const first = stack.disposeAsync();
        const probes: unknown[] = [['disposed during disposal', stack.disposed]];
        for (const [what, call] of [
          ['use during disposal', () => stack.use(null)],
          ['defer during disposal', () => stack.defer(() => {})],
          ['move during disposal', () => stack.move()],
        ] as const) {
          try {
            probes.push([what, 'returned', call()]);
          } catch (error) {
            probes.push([what, 'threw', shape(error)]);
          }
        }
        const second = stack.disposeAsync();
        const [a, b] = await Promise.allSettled([first, second]);
        log.push(...probes, ['first', a.status === 'fulfilled' ? a.value : shape(a.reason)], ['second', b.status === 'fulfilled' ? b.value : shape(b.reason)]);
        break;
      }
      case 'disposed':
        log.push(['disposed', stack.disposed]);
        break;
    }
  }
  for (const stack of stacks) await dispose(stack);
  log.push(['all disposed', stacks.map((s) => s.disposed)]);
  return log;
}

describe('ResourceScope and the package’s AsyncDisposableStack against the native one', { skip: Native === undefined ? 'the runtime has no native AsyncDisposableStack (Node 24 has one)' : false }, () => {
  it('observes the same releases, order, return values, errors and re-entry results for random programs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const expected = await run(() => new Native!(), ops);
        const actual = await run(() => new ResourceScope(), ops);
        assert.deepEqual(actual, expected);
      }),
      { numRuns: runs },
    );
  });

  it('the package’s AsyncDisposableStack observes the same as the native one for random programs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const expected = await run(() => new Native!(), ops);
        const actual = await run(() => new PackageAsyncDisposableStack() as unknown as AsyncDisposableStack, ops);
        assert.deepEqual(actual, expected);
      }),
      { numRuns: runs },
    );
  });

  it('agrees on the shape of the prototype: same methods, same lengths, one function for disposeAsync and Symbol.asyncDispose', () => {
    const native = Native!.prototype;
    const ours = ResourceScope.prototype;
    for (const name of ['use', 'adopt', 'defer', 'move', 'disposeAsync'] as const) {
      assert.equal(typeof ours[name], 'function', name);
      assert.equal(ours[name].length, native[name].length, `${name}.length`);
    }
    assert.equal(ours[Symbol.asyncDispose], ours.disposeAsync);
    assert.equal(native[Symbol.asyncDispose], native.disposeAsync);
    assert.equal(typeof Object.getOwnPropertyDescriptor(ours, 'disposed')?.get, 'function');
    const tag = Object.getOwnPropertyDescriptor(ours, Symbol.toStringTag);
    const nativeTag = Object.getOwnPropertyDescriptor(native, Symbol.toStringTag);
    assert.deepEqual({ ...tag, value: undefined }, { ...nativeTag, value: undefined }, 'same attributes; the value is our own name');
  });
});
