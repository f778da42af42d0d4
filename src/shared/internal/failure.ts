/**
 * How a failed `release` reaches revokers in other threads: the owner writes the error's name,
 * message, code and stack as JSON into the trailer of the shared buffer before it publishes the end,
 * and a revoker there rebuilds an `Error` with the same four. An error object cannot cross threads
 * by itself, and a message channel would lose it for a revoker that arrives late.
 *
 * Invariants:
 * 1. The text is written before `DONE` becomes `FAILED` (a sequentially consistent store), and read
 *    only after `FAILED` was seen, so a reader sees all of it.
 * 2. The text fits the trailer: the stack is cut first, then the message.
 *
 * @module
 */
import { atomics } from './atomics.js';
import { FAILURE_BYTES, FAILURE_LENGTH, failureOffset, MAX_THREADS } from './layout.js';

interface Record {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

function describe(error: unknown): Record {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof error.stack === 'string' ? { stack: error.stack } : {}),
    };
  }
  return { name: 'Error', message: `release threw a non-error: ${String(error)}` };
}

/** Writes `error` into the trailer (invariant 1: before `DONE` is set). */
export function writeFailure(words: Int32Array, error: unknown): void {
  const bytes = new Uint8Array(words.buffer, failureOffset(atomics.load(words, MAX_THREADS)), FAILURE_BYTES);
  const record = describe(error);
  const encoder = new TextEncoder();
  let encoded = encoder.encode(JSON.stringify(record));
  if (encoded.length > FAILURE_BYTES) {
    delete record.stack;
    encoded = encoder.encode(JSON.stringify(record));
  }
  while (encoded.length > FAILURE_BYTES) {
    record.message = `${record.message.slice(0, Math.floor(record.message.length / 2))}…`;
    encoded = encoder.encode(JSON.stringify(record));
  }
  bytes.set(encoded);
  atomics.store(words, FAILURE_LENGTH, encoded.length);
}

/** The error the owner's `release` threw, as far as the trailer tells it. */
export function readFailure(words: Int32Array): Error {
  const length = atomics.load(words, FAILURE_LENGTH);
  const shared = new Uint8Array(words.buffer, failureOffset(atomics.load(words, MAX_THREADS)), length);
  // TextDecoder refuses views of shared memory: copy out first.
  const record = JSON.parse(new TextDecoder().decode(shared.slice())) as Record;
  const error = new Error(record.message);
  error.name = record.name;
  if (record.code !== undefined) (error as Error & { code: string }).code = record.code;
  if (record.stack !== undefined) error.stack = record.stack;
  return error;
}
