/**
 * `ResourceScope`, and the package's standard-exact `AsyncDisposableStack` and `DisposableStack`,
 * against what JavaScript has for the same job: the runtime's own stacks (Node 24), the es-shims
 * polyfill of them, Effect's `Scope` and RxJS's `Subscription`. Each round registers 100,000 no-op releases on a fresh owner, then disposes it
 * and waits for the disposal; the table gives the time per entry (the median round) and the heap
 * each entry keeps alive until the disposal.
 *
 * The polyfill grows quadratically (each `defer` re-validates every record already on the stack:
 * 36.7 s for 100,000 on the issue author's machine), so it runs at 30,000 entries and is compared
 * per entry: that flatters it, and the ratio is a lower bound.
 */
import { Effect, Exit, Scope } from 'effect';
import { Subscription } from 'rxjs';
import { AsyncDisposableStack as OurAsyncStack, DisposableStack as OurSyncStack, ResourceScope } from '../src/index.js';
import { collect, consume, median, printTable, ratio, speedup, type Row } from './harness.js';

const N = 100_000;
/** The polyfill's count: see the module comment. */
const POLYFILL_N = 30_000;
const ROUNDS = 15;
const noop = (): void => {};

type Stack = AsyncDisposableStack;
type StackConstructor = new () => Stack;
type SyncStack = DisposableStack;
type SyncStackConstructor = new () => SyncStack;

/**
 * Nanoseconds per entry of `round(count)`: the median of `rounds` rounds after `warmups` warm-ups
 * (one for the quadratic polyfill, whose rounds take seconds). The
 * heap is collected once before the series, not before each round: a collection shrinks the young
 * generation, and every implementation would then pay for growing it again inside the round.
 */
async function perEntry(round: (count: number) => unknown, count: number, rounds = ROUNDS, warmups = 2): Promise<number> {
  collect();
  for (let w = 0; w < warmups; w++) await round(count);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    await round(count);
    times.push(Number(process.hrtime.bigint() - start) / count);
  }
  return median(times);
}

/** A stack-like's round: `count` no-op `defer`s, then `disposeAsync()`, awaited. */
const stackRound = (Ctor: StackConstructor) => async (count: number): Promise<void> => {
  const stack = new Ctor();
  for (let i = 0; i < count; i++) stack.defer(noop);
  await stack.disposeAsync();
};

/** A sync stack's round: `count` no-op `defer`s, then `dispose()`. */
const syncRound = (Ctor: SyncStackConstructor) => (count: number): void => {
  const stack = new Ctor();
  for (let i = 0; i < count; i++) stack.defer(noop);
  stack.dispose();
};

const syncFilled = (Ctor: SyncStackConstructor) => (count: number): SyncStack => {
  const stack = new Ctor();
  for (let i = 0; i < count; i++) stack.defer(noop);
  return stack;
};

const stackFilled = (Ctor: StackConstructor) => (count: number): Stack => {
  const stack = new Ctor();
  for (let i = 0; i < count; i++) stack.defer(noop);
  return stack;
};

/** Effect: `Scope.make`, `Scope.addFinalizer` per entry, `Scope.close`, run with `Effect.runPromise`. */
const effectRound = (count: number): Promise<void> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make();
      for (let i = 0; i < count; i++) yield* Scope.addFinalizer(scope, Effect.void);
      yield* Scope.close(scope, Exit.void);
    }),
  );

const effectFilled = (count: number): unknown =>
  Effect.runSync(
    Effect.gen(function* () {
      const scope = Scope.makeUnsafe();
      for (let i = 0; i < count; i++) yield* Scope.addFinalizer(scope, Effect.void);
      return scope;
    }),
  );

/** RxJS: `add` per entry, then `unsubscribe()` (synchronous; it runs teardowns oldest-first). */
const rxRound = (count: number): void => {
  const subscription = new Subscription();
  for (let i = 0; i < count; i++) subscription.add(noop);
  subscription.unsubscribe();
};

const rxFilled = (count: number): Subscription => {
  const subscription = new Subscription();
  for (let i = 0; i < count; i++) subscription.add(noop);
  return subscription;
};

/** Pre-made disposables for the `use` rows: the round measures `use`, not making objects. */
const disposables = Array.from({ length: N }, () => ({ [Symbol.dispose]: noop }));

const scopeRounds = {
  defer: async (count: number): Promise<void> => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.defer(noop);
    await scope.disposeAsync();
  },
  adopt: async (count: number): Promise<void> => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.adopt(i, noop);
    await scope.disposeAsync();
  },
  add: async (count: number): Promise<void> => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.add(i, noop);
    await scope.disposeAsync();
  },
  use: async (count: number): Promise<void> => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.use(disposables[i]);
    await scope.disposeAsync();
  },
};

const scopeFilled = {
  defer: (count: number): ResourceScope => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.defer(noop);
    return scope;
  },
  adopt: (count: number): ResourceScope => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.adopt(i, noop);
    return scope;
  },
  add: (count: number): ResourceScope => {
    const scope = new ResourceScope();
    for (let i = 0; i < count; i++) scope.add(i, noop);
    return scope;
  },
};

const heapNote = (bytes: number): string => `target <= 64: ${bytes <= 64 ? 'met' : 'NOT met'} (the kernel's devres: 24)`;

/**
 * As the harness's `heapBytesPer`, counting `ArrayBuffer` memory too: a scope keeps each entry's
 * kind byte in a `Uint8Array`, whose storage lies outside the JavaScript heap.
 */
function bytesPer(make: (count: number) => unknown, count: number): number {
  const used = (): number => {
    const memory = process.memoryUsage();
    return memory.heapUsed + memory.arrayBuffers;
  };
  collect();
  const before = used();
  const kept = make(count);
  collect();
  const after = used();
  consume(kept);
  return (after - before) / count;
}

export async function run(): Promise<void> {
  const Native = (globalThis as { AsyncDisposableStack?: StackConstructor }).AsyncDisposableStack;
  const NativeSync = (globalThis as { DisposableStack?: SyncStackConstructor }).DisposableStack;
  // The polyfill's implementation entries: constructors, without installing anything globally.
  const polyfillPath = 'disposablestack/AsyncDisposableStack/implementation';
  const Polyfill = ((await import(polyfillPath)) as { default: StackConstructor }).default;
  const syncPolyfillPath = 'disposablestack/DisposableStack/implementation';
  const SyncPolyfill = ((await import(syncPolyfillPath)) as { default: SyncStackConstructor }).default;
  const OurAsync = OurAsyncStack as unknown as StackConstructor;
  const OurSync = OurSyncStack as unknown as SyncStackConstructor;

  const defer = await perEntry(scopeRounds.defer, N);
  // Right after ResourceScope's defer, so that the ratio between them compares moments alike.
  const ours = await perEntry(stackRound(OurAsync), N);
  const oursSync = await perEntry(syncRound(OurSync), N);
  const adopt = await perEntry(scopeRounds.adopt, N);
  const add = await perEntry(scopeRounds.add, N);
  const use = await perEntry(scopeRounds.use, N);
  const native = Native === undefined ? undefined : await perEntry(stackRound(Native), N);
  const polyfill = await perEntry(stackRound(Polyfill), POLYFILL_N, 1, 1);
  const effect = await perEntry(effectRound, N);
  const rx = await perEntry(rxRound, N);
  const nativeSync = NativeSync === undefined ? undefined : await perEntry(syncRound(NativeSync), N);
  const syncPolyfill = await perEntry(syncRound(SyncPolyfill), POLYFILL_N, 1, 1);

  const total = (ns: number): string => `${((ns * N) / 1e6).toFixed(1)} ms per 100,000`;
  const rows: Row[] = [
    { name: 'ResourceScope defer', value: defer, unit: 'ns', note: total(defer) },
    { name: 'ResourceScope adopt', value: adopt, unit: 'ns', note: `${total(adopt)}; ${ratio(adopt, rx)} of RxJS` },
    { name: 'ResourceScope add (returns an entry)', value: add, unit: 'ns', note: `${total(add)}; ${ratio(add, rx)} of RxJS` },
    { name: 'ResourceScope use (sync disposables)', value: use, unit: 'ns', note: `${total(use)}; ${ratio(use, rx)} of RxJS` },
    ...(native === undefined
      ? []
      : [{ name: 'native AsyncDisposableStack defer', value: native, unit: 'ns', note: `${total(native)}; ResourceScope defer is ${speedup(defer, native, 10)}` }]),
    {
      name: `es-shims polyfill defer (at ${POLYFILL_N.toLocaleString('en')})`,
      value: polyfill,
      unit: 'ns',
      note: `${((polyfill * POLYFILL_N) / 1e6).toFixed(1)} ms per 30,000 (quadratic); ResourceScope defer is ${speedup(defer, polyfill, 100)}`,
    },
    { name: 'Effect Scope.addFinalizer + close', value: effect, unit: 'ns', note: `${total(effect)}; ResourceScope defer is ${speedup(defer, effect, 20)}` },
    { name: 'RxJS Subscription add + unsubscribe (sync)', value: rx, unit: 'ns', note: `${total(rx)}; ResourceScope defer takes ${ratio(defer, rx, 1.5)}` },
  ];
  printTable(`ResourceScope: register ${N.toLocaleString('en')} no-op releases, then dispose (time per entry)`, rows);
  if (native === undefined) console.log(`\n(No native AsyncDisposableStack in Node ${process.version}: run on Node 24 for that row.)`);

  const versus = (mine: number, theirs: number | undefined, what: string, target: number): string =>
    theirs === undefined ? `${what}: n/a here` : `${speedup(mine, theirs, target)} than ${what}`;
  const stacks: Row[] = [
    {
      name: 'AsyncDisposableStack (this package) defer + disposeAsync',
      value: ours,
      unit: 'ns',
      note: `${total(ours)}; ${versus(ours, native, 'the native one', 10)}; ${versus(ours, polyfill, 'es-shims', 100)}; ${ratio(ours, defer, 1.5)} of ResourceScope defer`,
    },
    {
      name: 'DisposableStack (this package) defer + dispose',
      value: oursSync,
      unit: 'ns',
      note: `${total(oursSync)}; ${versus(oursSync, nativeSync, 'the native one', 1)}; ${versus(oursSync, syncPolyfill, 'es-shims', 100)}`,
    },
    ...(nativeSync === undefined ? [] : [{ name: 'native DisposableStack defer + dispose', value: nativeSync, unit: 'ns', note: total(nativeSync) }]),
    {
      name: `es-shims DisposableStack defer + dispose (at ${POLYFILL_N.toLocaleString('en')})`,
      value: syncPolyfill,
      unit: 'ns',
      note: `${((syncPolyfill * POLYFILL_N) / 1e6).toFixed(1)} ms per 30,000`,
    },
  ];
  printTable('The standard stacks of this package, against the native ones and es-shims (time per entry)', stacks);

  const heapCount = N;
  const heap: Row[] = [
    { name: 'ResourceScope defer', value: bytesPer(scopeFilled.defer, heapCount), unit: 'bytes' },
    { name: 'ResourceScope adopt', value: bytesPer(scopeFilled.adopt, heapCount), unit: 'bytes' },
    { name: 'ResourceScope add (with its entry handle)', value: bytesPer(scopeFilled.add, heapCount), unit: 'bytes' },
    ...(Native === undefined ? [] : [{ name: 'native AsyncDisposableStack defer', value: bytesPer(stackFilled(Native), heapCount), unit: 'bytes' }]),
    { name: `es-shims polyfill defer (at ${POLYFILL_N.toLocaleString('en')})`, value: bytesPer(stackFilled(Polyfill), POLYFILL_N), unit: 'bytes' },
    { name: 'Effect Scope.addFinalizer', value: bytesPer(effectFilled, heapCount), unit: 'bytes' },
    { name: 'RxJS Subscription add', value: bytesPer(rxFilled, heapCount), unit: 'bytes' },
  ];
  for (const row of heap.slice(0, 3)) row.note = heapNote(row.value);
  printTable('ResourceScope: memory per registered release (heap and ArrayBuffers)', heap);

  const stackHeap: Row[] = [
    { name: 'AsyncDisposableStack (this package) defer', value: bytesPer(stackFilled(OurAsync), heapCount), unit: 'bytes' },
    { name: 'DisposableStack (this package) defer', value: bytesPer(syncFilled(OurSync), heapCount), unit: 'bytes' },
    ...(NativeSync === undefined ? [] : [{ name: 'native DisposableStack defer', value: bytesPer(syncFilled(NativeSync), heapCount), unit: 'bytes' }]),
    { name: `es-shims DisposableStack defer (at ${POLYFILL_N.toLocaleString('en')})`, value: bytesPer(syncFilled(SyncPolyfill), POLYFILL_N), unit: 'bytes' },
  ];
  printTable('The standard stacks: memory per registered release (heap and ArrayBuffers)', stackHeap);
  consume(disposables);
}
