/**
 * Which thread this is. Under Node it is `worker_threads.threadId`: set by the `node` export of
 * `revocable/shared`, or found through `process.getBuiltinModule` where the runtime has it; in any
 * other runtime the caller names the thread (`attach(ref, resource, { threadId })`).
 *
 * @module
 */

let source: (() => number) | undefined;
let detected: number | null | undefined;

/** Sets where the thread id comes from (the `node` entry of `revocable/shared` does). */
export function setThreadIdSource(read: () => number): void {
  source = read;
}

/** This thread's id, or `undefined` where the runtime has no notion of one. */
export function currentThreadId(): number | undefined {
  if (source !== undefined) return source();
  if (detected === undefined) {
    type Host = { process?: { getBuiltinModule?: (id: string) => { threadId?: unknown } | undefined } };
    const id = (globalThis as Host).process?.getBuiltinModule?.('node:worker_threads')?.threadId;
    detected = typeof id === 'number' ? id : null;
  }
  return detected ?? undefined;
}
