/**
 * The `Atomics` the shared gate uses. Production code uses the global `Atomics` itself; a test can
 * put an `Atomics`-shaped object in its place (one that stops before every operation until a
 * scheduler lets it go), so that the real gate, not a copy of it, is explored under chosen
 * interleavings of threads.
 *
 * Invariants:
 * 1. {@link atomics} is the global `Atomics` unless {@link useAtomics} replaced it in this thread;
 *    the gate reads it through the live binding, so a replacement reaches every object at once.
 * 2. Every operation the gate makes on shared memory goes through {@link atomics}: nothing bypasses
 *    the injected object, or an explored schedule would not be the one that ran.
 *
 * @module
 */

/** The operations of `Atomics` the gate uses, on `Int32Array`s. */
export interface AtomicsLike {
  add(array: Int32Array, index: number, value: number): number;
  sub(array: Int32Array, index: number, value: number): number;
  load(array: Int32Array, index: number): number;
  store(array: Int32Array, index: number, value: number): number;
  compareExchange(array: Int32Array, index: number, expected: number, replacement: number): number;
  notify(array: Int32Array, index: number, count?: number): number;
  /** Missing in runtimes without `Atomics.waitAsync`: waits then poll. */
  waitAsync?: (array: Int32Array, index: number, value: number, timeout?: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}

/** The `Atomics` in force in this thread. Read it as a live binding. */
export let atomics: AtomicsLike = Atomics as unknown as AtomicsLike;

/**
 * Replaces the `Atomics` of this thread's gates (`undefined` puts the global one back). For tests
 * that explore interleavings; not public API.
 */
export function useAtomics(replacement: AtomicsLike | undefined): void {
  atomics = replacement ?? (Atomics as unknown as AtomicsLike);
}
