/**
 * The `ref` of a shared resource (what a thread posts to another so that it can attach) and the
 * checks of what untyped callers pass for it, for thread ids and for `maxThreads`.
 *
 * Invariants:
 * 1. A ref is a plain object holding the `SharedArrayBuffer` itself, so `postMessage` (structured
 *    clone) hands the receiving thread the same memory, not a copy.
 * 2. {@link checkRef} reads each property of what it is given once, and accepts it only if the
 *    buffer is a real `SharedArrayBuffer` laid out by this library, of the size its header says.
 *
 * @module
 */
import { expected, show } from '../../internal/validate.js';
import { atomics } from './atomics.js';
import { bufferBytes, MAGIC, MAGIC_WORD, MAX_MAX_THREADS, MAX_THREADS, VERSION, VERSION_WORD } from './layout.js';

/** What `shared.ref` is: post it to a worker, which passes it to `SharedRevocable.attach`. */
export interface SharedRevocableRef {
  /** Always `'revocable/shared'`: what `attach` recognises a ref by. */
  readonly type: 'revocable/shared';
  /** The layout of the shared memory: a thread of another version refuses it. */
  readonly version: 1;
  /** The shared memory of the gate. */
  readonly buffer: SharedArrayBuffer;
  /** The resource's name, for messages in every thread. */
  readonly name: string | undefined;
}

export const REF_TYPE = 'revocable/shared';

/** The global `SharedArrayBuffer`, or a TypeError explaining why there is none. */
export function sharedArrayBuffer(): typeof SharedArrayBuffer {
  const constructor = (globalThis as { SharedArrayBuffer?: typeof SharedArrayBuffer }).SharedArrayBuffer;
  if (typeof constructor !== 'function') {
    throw new TypeError(
      'SharedRevocable needs SharedArrayBuffer, which this context does not have: a web page must be cross-origin isolated ' +
        '(served with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`)',
    );
  }
  return constructor;
}

/** `byteLength` of a real `SharedArrayBuffer` (the getter checks the internal slot), else `-1`. */
function sharedBytes(value: unknown): number {
  const getter = Object.getOwnPropertyDescriptor(sharedArrayBuffer().prototype, 'byteLength')?.get;
  try {
    return getter === undefined ? -1 : (getter.call(value) as number);
  } catch {
    return -1;
  }
}

/** Checks `value` is a ref made by `SharedRevocable.create`; returns its buffer and name. */
export function checkRef(value: unknown): { buffer: SharedArrayBuffer; name: string | undefined } {
  const what = 'the `ref` of a SharedRevocable (`shared.ref`)';
  if (value === null || typeof value !== 'object') throw expected(what, 'ref', value);
  const { type, version, buffer, name } = value as Partial<Record<keyof SharedRevocableRef, unknown>>;
  if (type !== REF_TYPE || version !== VERSION) throw expected(what, 'ref', value);
  const bytes = sharedBytes(buffer);
  if (bytes < bufferBytes(1)) throw expected(`${what}: its \`buffer\` is not the shared memory of one`, 'ref', value);
  const header = new Int32Array(buffer as SharedArrayBuffer, 0, 16);
  const max = atomics.load(header, MAX_THREADS);
  if (atomics.load(header, MAGIC_WORD) !== MAGIC || atomics.load(header, VERSION_WORD) !== VERSION || bytes !== bufferBytes(max)) {
    throw expected(`${what}: its \`buffer\` is not the shared memory of one`, 'ref', value);
  }
  if (name !== undefined && typeof name !== 'string') throw expected(`${what}: its \`name\` is not a string`, 'ref', value);
  return { buffer: buffer as SharedArrayBuffer, name };
}

/** A thread id: an integer in [0, 2^31 - 2] (the lock word stores it plus one). */
export function checkThreadId(value: unknown, name: string): number {
  if (typeof value !== 'number') throw expected('an integer >= 0 (a thread id)', name, value);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fff_fffe) {
    throw new RangeError(`Expected \`${name}\` to be an integer >= 0 (a thread id), got ${show(value)}`);
  }
  return value;
}

/** `maxThreads`: an integer in [1, 4096]; 64 when omitted. */
export function checkMaxThreads(value: unknown, name: string): number {
  if (value === undefined) return 64;
  if (typeof value !== 'number') throw expected(`an integer from 1 to ${MAX_MAX_THREADS}`, name, value);
  if (!Number.isInteger(value) || value < 1 || value > MAX_MAX_THREADS) {
    throw new RangeError(`Expected \`${name}\` to be an integer from 1 to ${MAX_MAX_THREADS}, got ${show(value)}`);
  }
  return value;
}
