/**
 * Streams over a FileHandle that never close it. Node's own fs streams close their descriptor
 * whenever they are destroyed, whatever `autoClose` says, and a FileHandle stream keeps a reference
 * that makes `FileHandle.close()` wait until the stream is destroyed: neither can run inside an
 * access of a managed file, which alone decides when the descriptor closes.
 *
 * Invariants:
 * 1. No operation of the stream is in flight once it has emitted `close`: `_destroy` waits for the
 *    read or write under way, so the access held until `close` covers every system call.
 * 2. With `start`, the stream reads or writes at explicit positions from there; without it, at the
 *    descriptor's current position (appending for a file opened with `'a'`).
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { checkOptions, checkOptionalString, expected } from '../../internal/validate.js';

/** Options of `ManagedFile.createReadStream`, as `fs.createReadStream` takes them. */
export interface FileReadStreamOptions {
  /** Decode the chunks as strings in this encoding. */
  encoding?: BufferEncoding;
  /** The byte position to start at. */
  start?: number;
  /** Inclusive, as in `fs.createReadStream`. */
  end?: number;
  /** The chunk size, in bytes. */
  highWaterMark?: number;
}

/** Options of `ManagedFile.createWriteStream`, as `fs.createWriteStream` takes them. */
export interface FileWriteStreamOptions {
  /** The byte position to start writing at. */
  start?: number;
  /** The buffer size, in bytes, above which `write()` returns `false`. */
  highWaterMark?: number;
}

/** Options read once each and checked, before any access is taken: a bad call leaks nothing. */
export function readStreamOptions(options: FileReadStreamOptions | undefined): FileReadStreamOptions {
  checkOptions(options);
  const encoding = options?.encoding;
  const start = options?.start;
  const end = options?.end;
  const highWaterMark = options?.highWaterMark;
  checkOptionalString(encoding, 'options.encoding');
  if (encoding !== undefined && !Buffer.isEncoding(encoding)) throw expected('a Buffer encoding such as `utf8`', 'options.encoding', encoding);
  checkPosition(start, 'options.start');
  checkPosition(end, 'options.end');
  if (end !== undefined && end < (start ?? 0)) throw new RangeError(`Expected \`options.end\` to be >= \`options.start\`, got ${end} < ${start ?? 0}`);
  checkHighWaterMark(highWaterMark);
  return defined({ encoding, start, end, highWaterMark });
}

/** As {@link readStreamOptions}, for write streams. */
export function writeStreamOptions(options: FileWriteStreamOptions | undefined): FileWriteStreamOptions {
  checkOptions(options);
  const start = options?.start;
  const highWaterMark = options?.highWaterMark;
  checkPosition(start, 'options.start');
  checkHighWaterMark(highWaterMark);
  return defined({ start, highWaterMark });
}

function checkPosition(value: unknown, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw expected('a number or undefined', name, value);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Expected \`${name}\` to be an integer >= 0, got ${value}`);
}

function checkHighWaterMark(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw expected('a number or undefined', 'options.highWaterMark', value);
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`Expected \`options.highWaterMark\` to be an integer > 0, got ${value}`);
}

function defined<T extends object>(bag: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(bag).filter(([, value]) => value !== undefined)) as T;
}

/** Tracks the one operation a stream has in flight, so that `_destroy` can wait for it. */
class Pending {
  #current: Promise<unknown> | null = null;

  run<T>(operation: Promise<T>): Promise<T> {
    this.#current = operation;
    const clear = (): void => {
      if (this.#current === operation) this.#current = null;
    };
    operation.then(clear, clear);
    return operation;
  }

  whenIdle(callback: () => void): void {
    if (this.#current === null) callback();
    else this.#current.then(callback, callback);
  }
}

/** A read stream; `options` come from {@link readStreamOptions}. */
export function fileReadStream(handle: FileHandle, options: FileReadStreamOptions = {}): Readable {
  const pending = new Pending();
  let position: number | null = options.start ?? null;
  let remaining = options.end === undefined ? Infinity : options.end - (options.start ?? 0) + 1;
  const readableOptions: ConstructorParameters<typeof Readable>[0] = {
    read(size) {
      const length = Math.min(size, remaining);
      if (length <= 0) {
        this.push(null);
        return;
      }
      pending.run(handle.read(Buffer.allocUnsafe(length), 0, length, position)).then(
        ({ bytesRead, buffer }) => {
          if (bytesRead === 0) {
            this.push(null);
            return;
          }
          if (position !== null) position += bytesRead;
          remaining -= bytesRead;
          this.push(buffer.subarray(0, bytesRead));
        },
        (error: Error) => this.destroy(error),
      );
    },
    destroy(error, callback) {
      pending.whenIdle(() => callback(error));
    },
  };
  if (options.highWaterMark !== undefined) readableOptions.highWaterMark = options.highWaterMark;
  if (options.encoding !== undefined) readableOptions.encoding = options.encoding;
  return new Readable(readableOptions);
}

/** A write stream; `options` come from {@link writeStreamOptions}. */
export function fileWriteStream(handle: FileHandle, options: FileWriteStreamOptions = {}): Writable {
  const pending = new Pending();
  let position: number | null = options.start ?? null;
  const writeAll = async (chunk: Buffer): Promise<void> => {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, position);
      offset += bytesWritten;
      if (position !== null) position += bytesWritten;
    }
  };
  const writableOptions: ConstructorParameters<typeof Writable>[0] = {
    write(chunk: Buffer, _encoding, callback) {
      pending.run(writeAll(chunk)).then(() => callback(), callback);
    },
    destroy(error, callback) {
      pending.whenIdle(() => callback(error));
    },
  };
  if (options.highWaterMark !== undefined) writableOptions.highWaterMark = options.highWaterMark;
  return new Writable(writableOptions);
}
