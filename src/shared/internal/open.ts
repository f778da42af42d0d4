/**
 * Making the shared memory of a new resource, and claiming a slot in an existing one: the parts of
 * `create` and `attach` that come after the caller's input was checked.
 *
 * Invariants:
 * 1. Nothing is changed unless a slot was claimed: every refusal (revoked and released, full, this
 *    thread attached already) leaves the memory as it was.
 *
 * @module
 */
import { describeName, RevokedError } from '../../errors.js';
import { AlreadyAttachedError } from '../errors.js';
import { atomics as A } from './atomics.js';
import { bufferBytes, MAGIC, MAGIC_WORD, MAX_THREADS, OWNER, REVOKER, VERSION, VERSION_WORD } from './layout.js';
import { lock, unlock } from './lock.js';
import { claim, FULL, GONE, TAKEN } from './protocol.js';
import { REF_TYPE, sharedArrayBuffer, type SharedRevocableRef } from './ref.js';

/** A thread's place in a shared resource. */
export interface Place {
  readonly words: Int32Array;
  readonly slot: number;
  readonly ref: SharedRevocableRef;
}

/** The memory of a new resource, with its owner's slot claimed. */
export function createMemory(maxThreads: number, owner: number, name: string | undefined): Place {
  const Shared = sharedArrayBuffer();
  const buffer = new Shared(bufferBytes(maxThreads));
  const words = new Int32Array(buffer);
  A.store(words, MAGIC_WORD, MAGIC);
  A.store(words, VERSION_WORD, VERSION);
  A.store(words, MAX_THREADS, maxThreads);
  A.store(words, OWNER, owner);
  A.store(words, REVOKER, -1);
  const slot = claim(words, owner); // nobody else has the buffer yet: no lock needed
  return { words, slot, ref: Object.freeze({ type: REF_TYPE, version: VERSION, buffer, name }) };
}

/**
 * Claims a slot for `threadId` in the resource of `buffer`: throws `RevokedError` once it was
 * revoked and released, `RangeError` when every slot is taken, `AlreadyAttachedError` when this
 * thread has one.
 */
export function joinMemory(buffer: SharedArrayBuffer, threadId: number, name: string | undefined): Place {
  const words = new Int32Array(buffer);
  lock(words, threadId, name);
  let slot: number;
  try {
    slot = claim(words, threadId);
  } finally {
    unlock(words);
  }
  const what = describeName('SharedRevocable', name);
  if (slot === GONE) throw new RevokedError(`${what} was revoked`, { resourceName: name });
  if (slot === FULL) throw new RangeError(`${what} has room for ${A.load(words, MAX_THREADS)} threads (\`maxThreads\`), and all are attached`);
  if (slot === TAKEN) throw new AlreadyAttachedError(name, threadId);
  return { words, slot, ref: Object.freeze({ type: REF_TYPE, version: VERSION, buffer, name }) };
}
