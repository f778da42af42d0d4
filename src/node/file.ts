/**
 * A managed `fs.promises` FileHandle: every operation runs inside an access of the file's
 * {@link Revocable}, so revoking (or closing) the file drains what is in flight before the
 * descriptor is closed, and nothing fails with `EBADF` half-way.
 *
 * Invariants:
 * 1. From the first synchronous step of `revoke()` (or `close()`) every new operation rejects with
 *    `RevokedError` (`code: 'ENODEV'`); none reaches the descriptor.
 * 2. Operations in flight finish before the descriptor is closed. Reads are kicked: `readFile`
 *    gets the file's signal and read streams are destroyed, so they stop early; single `read`/`readv` calls are one system
 *    call each and simply finish. Writes are never kicked: a write that was accepted (its call
 *    returned a promise) is in the file when `revoke()` resolves, and so is everything written to a
 *    write stream before the revoke (the kick ends the stream, which flushes it).
 * 3. With `sync: true`, the file is `fsync`ed after the drain and before the close: what was
 *    written survives a crash of the machine, not only of the process.
 * 4. The FileHandle is closed exactly once, after the drain; with `timeout`, a drain that does not
 *    finish in time rejects with `DrainTimeoutError` and the file stays open until it does (nothing
 *    is closed under a live operation).
 *
 * @module
 */
import { open, type FileHandle, type FileReadResult } from 'node:fs/promises';
import type { BigIntStats, Mode, OpenMode, PathLike, Stats, TimeLike } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { Access } from '../revocable.js';
import { expected } from '../internal/validate.js';
import { ManagedResource, managedOptions, readManagedOptions, type ManagedOptions } from './managed.js';
import { anySignal, checkOptionalBoolean } from './internal/util.js';
import { fileReadStream, fileWriteStream, readStreamOptions, writeStreamOptions, type FileReadStreamOptions, type FileWriteStreamOptions } from './internal/file-streams.js';

/** Options of {@link manageFile} and {@link ManagedFile}. */
export interface ManagedFileOptions extends ManagedOptions {
  /** `fsync` the file after the drain, before closing it. Default: `false`. */
  sync?: boolean;
}

/** Options of {@link openFile}: where and how to open, and the managed options. */
export interface OpenFileOptions extends ManagedFileOptions {
  /** As `fs.promises.open`'s `flags`. Default: `'r'`. */
  flags?: OpenMode;
  /** As `fs.promises.open`'s `mode`. Default: `0o666`. */
  mode?: Mode;
}

/**
 * The options of `FileHandle.readFile`, as `fs/promises` takes them.
 *
 * @inline
 */
type ReadFileOptions = { encoding?: BufferEncoding | null; signal?: AbortSignal; flag?: OpenMode };
/**
 * The options of `FileHandle.writeFile` and `appendFile`, as `fs/promises` takes them.
 *
 * @inline
 */
type WriteFileOptions = { encoding?: BufferEncoding | null; signal?: AbortSignal; mode?: Mode; flag?: OpenMode };

/**
 * A FileHandle whose operations drain before it closes. Get one with {@link openFile} or
 * {@link manageFile}; `close()` (or `revoke()`, or `await using`) waits for what is in flight.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { readFile } from 'node:fs/promises';
 * import { RevokedError } from 'revocable';
 * import { openFile } from 'revocable/node';
 *
 * await using log = await openFile('app.log', { flags: 'a' });
 * const pending = log.write('started\n');           // in flight
 * await log.close();                                // waits for it, then closes the descriptor
 * assert.equal((await pending).bytesWritten, 8);    // on disk
 * assert.equal(await readFile('app.log', 'utf8'), 'started\n');
 * await assert.rejects(log.write('late'), RevokedError); // code 'ENODEV'
 * ```
 */
export class ManagedFile extends ManagedResource<FileHandle> {
  /**
   * @param handle an open `fs.promises` FileHandle; the managed file owns it from now on.
   * @param options `name` (default: the descriptor number), `timeout`, `signal`, `sync`.
   */
  constructor(handle: FileHandle, options?: ManagedFileOptions) {
    checkFileHandle(handle, 'handle');
    const settings = readManagedOptions(options);
    const syncOption = options?.sync;
    checkOptionalBoolean(syncOption, 'options.sync');
    const sync = syncOption === true;
    super(handle, managedOptions(settings, settings.name ?? `fd ${handle.fd}`), async (fh) => {
      try {
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
    });
  }

  /** The file descriptor, or `-1` once the revoke has started. */
  get fd(): number {
    return this.tryWith(fdOf) ?? -1;
  }

  /** `FileHandle.read`, inside an access. One system call: it finishes even when kicked. */
  read<T extends NodeJS.ArrayBufferView>(buffer: T, offset?: number | null, length?: number | null, position?: number | null): Promise<FileReadResult<T>>;
  read<T extends NodeJS.ArrayBufferView>(buffer: T, options?: { offset?: number; length?: number; position?: number | null }): Promise<FileReadResult<T>>;
  read<T extends NodeJS.ArrayBufferView = Buffer>(options?: { buffer?: T; offset?: number; length?: number; position?: number | null }): Promise<FileReadResult<T>>;
  async read(...args: unknown[]): Promise<FileReadResult<NodeJS.ArrayBufferView>> {
    return this.with((fh) => (fh.read as (...a: unknown[]) => Promise<FileReadResult<NodeJS.ArrayBufferView>>)(...args));
  }

  /** `FileHandle.readv`, inside an access. */
  async readv<B extends readonly NodeJS.ArrayBufferView[]>(buffers: B, position?: number): Promise<{
    /** How many bytes were read. */
    bytesRead: number;
    /** The buffers given, filled with them. */
    buffers: B;
  }> {
    return this.with((fh) => fh.readv(buffers, position));
  }

  /**
   * `FileHandle.readFile`, inside an access; kicked by the revoke (rejects with an `AbortError`
   * whose `cause` is the `RevokedError`), and by `options.signal` if given.
   */
  readFile(options?: { encoding?: null; signal?: AbortSignal } | null): Promise<Buffer>;
  readFile(options: { encoding: BufferEncoding; signal?: AbortSignal } | BufferEncoding): Promise<string>;
  async readFile(options?: ReadFileOptions | BufferEncoding | null): Promise<string | Buffer> {
    const given: ReadFileOptions = typeof options === 'string' ? { encoding: options } : (options ?? {});
    return this.with((fh, kick) => {
      const signal = given.signal === undefined ? kick : anySignal([kick, given.signal]);
      return fh.readFile({ ...given, signal });
    });
  }

  /** `FileHandle.write`, inside an access. Never kicked: once called, it is written. */
  write<B extends NodeJS.ArrayBufferView>(buffer: B, offset?: number | null, length?: number | null, position?: number | null): Promise<{
    /** How many bytes were written. */
    bytesWritten: number;
    /** The buffer given. */
    buffer: B;
  }>;
  write(data: string, position?: number | null, encoding?: BufferEncoding | null): Promise<{
    /** How many bytes were written. */
    bytesWritten: number;
    /** The string given. */
    buffer: string;
  }>;
  async write(...args: unknown[]): Promise<{ bytesWritten: number; buffer: unknown }> {
    return this.with((fh) => (fh.write as (...a: unknown[]) => Promise<{ bytesWritten: number; buffer: unknown }>)(...args));
  }

  /** `FileHandle.writev`, inside an access. Never kicked. */
  async writev<B extends readonly NodeJS.ArrayBufferView[]>(buffers: B, position?: number): Promise<{
    /** How many bytes were written. */
    bytesWritten: number;
    /** The buffers given. */
    buffers: B;
  }> {
    return this.with((fh) => fh.writev(buffers, position));
  }

  /** `FileHandle.writeFile`, inside an access. Not kicked (only `options.signal` aborts it). */
  async writeFile(data: string | Uint8Array, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    return this.with((fh) => fh.writeFile(data, options));
  }

  /** `FileHandle.appendFile`, inside an access. Not kicked (only `options.signal` aborts it). */
  async appendFile(data: string | Uint8Array, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    return this.with((fh) => fh.appendFile(data, options));
  }

  /** `FileHandle.stat`, inside an access. */
  stat(options?: { bigint?: false }): Promise<Stats>;
  stat(options: { bigint: true }): Promise<BigIntStats>;
  async stat(options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    return this.with((fh) => fh.stat(options));
  }

  /** `FileHandle.truncate`, inside an access. */
  async truncate(length?: number): Promise<void> {
    return this.with((fh) => fh.truncate(length));
  }

  /** `FileHandle.sync` (fsync), inside an access. */
  async sync(): Promise<void> {
    return this.with((fh) => fh.sync());
  }

  /** `FileHandle.datasync` (fdatasync), inside an access. */
  async datasync(): Promise<void> {
    return this.with((fh) => fh.datasync());
  }

  /** `FileHandle.chmod`, inside an access. */
  async chmod(mode: Mode): Promise<void> {
    return this.with((fh) => fh.chmod(mode));
  }

  /** `FileHandle.chown`, inside an access. */
  async chown(uid: number, gid: number): Promise<void> {
    return this.with((fh) => fh.chown(uid, gid));
  }

  /** `FileHandle.utimes`, inside an access. */
  async utimes(atime: TimeLike, mtime: TimeLike): Promise<void> {
    return this.with((fh) => fh.utimes(atime, mtime));
  }

  /**
   * A readable stream of the file's bytes (from `start` to `end` inclusive, or from the current
   * position to the end of file), holding an access until it closes. The kick destroys it: a
   * consumer sees a premature close. Destroying it never closes the descriptor (unlike
   * `fs.ReadStream`): the managed file does, after the drain.
   *
   * Throws `RevokedError` once the revoke has started.
   */
  createReadStream(options?: FileReadStreamOptions): Readable {
    const checked = readStreamOptions(options);
    const access = this.access();
    const stream = fileReadStream(access.value, checked);
    hold(stream, access, () => stream.destroy());
    return stream;
  }

  /**
   * A writable stream into the file (at `start`, or at the current position: appending for a file
   * opened with `'a'`), holding an access until it closes. The kick ends it: everything written to
   * it before the revoke is flushed to the file. Destroying it never closes the descriptor.
   *
   * Throws `RevokedError` once the revoke has started.
   */
  createWriteStream(options?: FileWriteStreamOptions): Writable {
    const checked = writeStreamOptions(options);
    const access = this.access();
    const stream = fileWriteStream(access.value, checked);
    hold(stream, access, () => {
      if (!stream.writableEnded) stream.end();
    });
    return stream;
  }

  /** Revokes the file: waits for the operations in flight, then closes the descriptor. */
  async close(): Promise<void> {
    await this.revoke();
  }
}

/** Keeps `access` until `stream` closes (after its last operation); `kick` runs at the revoke. */
function hold(stream: Readable | Writable, access: Access<FileHandle>, kick: () => void): void {
  const signal = access.signal;
  signal.addEventListener('abort', kick, { once: true });
  stream.once('close', () => {
    signal.removeEventListener('abort', kick);
    access.release();
  });
}

const fdOf = (fh: FileHandle): number => fh.fd;

/** Node does not export the FileHandle class: recognise one by its shape. */
function checkFileHandle(value: unknown, name: string): asserts value is FileHandle {
  const candidate = value as Partial<FileHandle> | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.fd !== 'number' || typeof candidate.close !== 'function' || typeof candidate.read !== 'function') {
    throw expected('an fs.promises FileHandle', name, value);
  }
}

/**
 * Opens a file and manages it: `fs.promises.open(path, flags, mode)` wrapped in a
 * {@link ManagedFile}. The name defaults to the path.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { readFile } from 'node:fs/promises';
 * import { openFile } from 'revocable/node';
 *
 * const file = await openFile('data.bin', { flags: 'w', sync: true });
 * await file.write(Buffer.from('hello'));
 * await file.close(); // drained, fsynced, closed
 * assert.equal(await readFile('data.bin', 'utf8'), 'hello');
 * assert.equal(file.state, 'revoked');
 * ```
 */
export async function openFile(path: PathLike, options?: OpenFileOptions): Promise<ManagedFile> {
  // Read and check every option, once, before the descriptor exists: a bad call must not leak one.
  const settings = readManagedOptions(options);
  const sync = options?.sync;
  const flags = options?.flags;
  const mode = options?.mode;
  checkOptionalBoolean(sync, 'options.sync');
  const handle = await open(path, flags, mode);
  const managed: ManagedFileOptions = managedOptions(settings, settings.name ?? String(path));
  if (sync !== undefined) managed.sync = sync;
  return new ManagedFile(handle, managed);
}

/**
 * Manages a FileHandle you opened: the same as `new ManagedFile(handle, options)`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { open, readFile } from 'node:fs/promises';
 * import { manageFile } from 'revocable/node';
 *
 * const file = manageFile(await open('app.log', 'a'), { name: 'app.log' });
 * await file.appendFile('line\n');
 * await file.close();
 * assert.equal(await readFile('app.log', 'utf8'), 'line\n');
 * ```
 */
export function manageFile(handle: FileHandle, options?: ManagedFileOptions): ManagedFile {
  return new ManagedFile(handle, options);
}
