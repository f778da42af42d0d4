import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, describe, it, mock } from 'node:test';
import { DrainTimeoutError, RevokedError } from '../src/index.js';
import { ManagedFile, manageFile, openFile } from '../src/node/index.js';
import { state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';

const dir = mkdtempSync(join(tmpdir(), 'revocable-file-'));
let n = 0;
const path = (): string => join(dir, `f${n++}`);
const isRevoked = (error: unknown): boolean => error instanceof RevokedError && error.code === 'ENODEV';

describe('ManagedFile', () => {
  const leaks = leakCheck();
  after(async () => {
    await leaks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every write accepted before the revoke: they are in the file when revoke resolves', async () => {
    const file = await openFile(path(), { flags: 'w' });
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\n`);
    let offset = 0;
    const writes = lines.map((line) => {
      const at = offset;
      offset += line.length;
      return file.write(line, at);
    });
    const name = file.name as string;
    assert.equal(await file.revoke(), true);
    assert.equal(readFileSync(name, 'utf8'), lines.join(''));
    for (const write of writes) assert.ok((await write).bytesWritten > 0);
  });

  it('closes the descriptor once, after the operations in flight have finished', async () => {
    const handle = await open(path(), 'w+');
    const order: string[] = [];
    const realWrite = handle.writeFile.bind(handle);
    mock.method(handle, 'writeFile', async (data: string) => {
      await realWrite(data);
      order.push('write done');
    });
    const realClose = handle.close.bind(handle);
    const close = mock.method(handle, 'close', async () => {
      order.push('close');
      return realClose();
    });
    const file = manageFile(handle);
    const write = file.writeFile('abc');
    const revoked = file.revoke();
    await Promise.all([write, revoked]);
    assert.deepEqual(order, ['write done', 'close']);
    await file.revoke();
    assert.equal(close.mock.callCount(), 1);
  });

  it('rejects every operation from the first step of the revoke with RevokedError (ENODEV)', async () => {
    const file = await openFile(path(), { flags: 'w+' });
    const revoked = file.revoke();
    await assert.rejects(file.write('late'), isRevoked);
    await assert.rejects(file.read(Buffer.alloc(4), 0, 4, 0), isRevoked);
    await assert.rejects(file.readFile(), isRevoked);
    await assert.rejects(file.stat(), isRevoked);
    await assert.rejects(file.sync(), isRevoked);
    assert.throws(() => file.createReadStream(), isRevoked);
    assert.equal(file.fd, -1);
    await revoked;
    await assert.rejects(file.appendFile('x'), isRevoked);
  });

  it('kicks a readFile in flight: it rejects with an AbortError whose cause is the revoke', async () => {
    const name = path();
    writeFileSync(name, Buffer.alloc(1 << 20, 1));
    const file = await openFile(name);
    const reading = file.readFile();
    const revoked = file.revoke();
    await assert.rejects(reading, (error: Error) => error.name === 'AbortError' && isRevoked(error.cause));
    assert.equal(await revoked, true);
  });

  it('lets a readFile finish when it is not revoked, and honours its own signal', async () => {
    const name = path();
    writeFileSync(name, 'hello');
    const file = await openFile(name);
    assert.equal(await file.readFile('utf8'), 'hello');
    const controller = new AbortController();
    controller.abort(new Error('mine'));
    await assert.rejects(file.readFile({ signal: controller.signal }), (error: Error) => error.name === 'AbortError');
    await file.close();
  });

  it('waits for a drain that outlasts the timeout without closing the file, then closes once it ends', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const handle = await open(path(), 'w');
    const close = mock.method(handle, 'close');
    const file = manageFile(handle, { timeout: 50 });
    const access = file.access();
    const revoked = file.revoke();
    t.mock.timers.tick(50);
    await assert.rejects(revoked, (error: unknown) => error instanceof DrainTimeoutError && error.pending === 1);
    assert.equal(close.mock.callCount(), 0, 'nothing is closed under a live user');
    assert.equal(file.state, 'revoking');
    const again = file.revoke({ timeout: Infinity });
    access.release();
    assert.equal(await again, false);
    assert.equal(close.mock.callCount(), 1);
  });

  it('fsyncs before closing with sync: true', async () => {
    const handle = await open(path(), 'w');
    const order: string[] = [];
    mock.method(handle, 'sync', async () => void order.push('sync'));
    const realClose = handle.close.bind(handle);
    mock.method(handle, 'close', async () => {
      order.push('close');
      return realClose();
    });
    const file = manageFile(handle, { sync: true });
    await file.write('data');
    await file.close();
    assert.deepEqual(order, ['sync', 'close']);
  });

  it('ends a write stream at the kick: what was written to it before the revoke is in the file', async () => {
    const name = path();
    const file = await openFile(name, { flags: 'w' });
    const stream = file.createWriteStream();
    for (let i = 0; i < 100; i++) stream.write(`chunk ${i}\n`);
    assert.equal(file.accesses, 1, 'the stream holds an access');
    await file.revoke();
    assert.equal(stream.writableFinished, true);
    assert.equal(readFileSync(name, 'utf8'), Array.from({ length: 100 }, (_, i) => `chunk ${i}\n`).join(''));
  });

  it('destroys a read stream at the kick and closes the file once it is gone', async () => {
    const name = path();
    writeFileSync(name, Buffer.alloc(1 << 20, 2));
    const file = await openFile(name);
    const stream = file.createReadStream({ highWaterMark: 1024 });
    const closed = once(stream, 'close');
    await once(stream, 'readable');
    const handle = file.tryWith((fh) => fh) as FileHandle;
    await file.revoke();
    await closed;
    await assert.rejects(handle.stat(), { code: 'EBADF' }, 'the file closed after the stream');
    assert.equal(stream.destroyed, true);
    assert.equal(file.accesses, 0);
  });

  it('streams a byte range, and writes at a position, without closing the descriptor', async () => {
    const name = path();
    writeFileSync(name, 'abcdefg');
    const file = await openFile(name, { flags: 'r+' });
    const chunks: Buffer[] = [];
    for await (const chunk of file.createReadStream({ start: 2, end: 4 })) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'cde');
    const out = file.createWriteStream({ start: 5 });
    out.end('XY');
    await once(out, 'close');
    assert.equal(await file.readFile('utf8'), 'abcdeXY');
    assert.equal(file.accesses, 0);
    await file.close();
  });

  it('releases a read stream read to its end without a revoke', async () => {
    const name = path();
    writeFileSync(name, 'abc');
    const file = await openFile(name);
    const chunks: Buffer[] = [];
    for await (const chunk of file.createReadStream()) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'abc');
    assert.equal(file.accesses, 0);
    assert.ok(file.fd >= 0, 'the stream did not close the descriptor');
    await file.close();
  });

  it('is a Revocable: with(), handle() and await using behave as the core', async () => {
    const name = path();
    {
      await using file = await openFile(name, { flags: 'w' });
      const handle = file.handle();
      await handle.with((fh) => fh.write('via handle'));
      assert.equal(await file.stat().then((s) => s.size), 10);
      assert.equal(file.name, name);
    }
    assert.equal(readFileSync(name, 'utf8'), 'via handle');
  });

  it('rejects bad arguments before opening anything', async () => {
    const name = path();
    await assert.rejects(openFile(name, { flags: 'w', timeout: -1 }), RangeError);
    await assert.rejects(openFile(name, { flags: 'w', sync: 'yes' as unknown as boolean }), TypeError);
    await assert.rejects(openFile(name, { flags: 'w', signal: {} as AbortSignal }), TypeError);
    assert.equal(existsSync(name), false);
    assert.throws(() => manageFile({} as never), /Expected `handle` to be an fs.promises FileHandle, got `\[object\]` \(object\)/);
    assert.throws(() => new ManagedFile(null as never), TypeError);
  });

  it('checks stream options, each read once, before it takes an access', async () => {
    const name = path();
    writeFileSync(name, 'abc');
    const file = await openFile(name, { flags: 'r+' });
    assert.throws(() => file.createReadStream({ start: -1 }), /Expected `options.start` to be an integer >= 0, got -1/);
    assert.throws(() => file.createReadStream({ start: 3, end: 1 }), /Expected `options.end` to be >= `options.start`/);
    assert.throws(() => file.createReadStream({ encoding: 'klingon' as BufferEncoding }), /Expected `options.encoding` to be a Buffer encoding/);
    assert.throws(() => file.createWriteStream({ highWaterMark: 0 }), RangeError);
    assert.throws(() => file.createWriteStream(null as never), TypeError);
    assert.equal(file.accesses, 0, 'no access taken by a bad call');
    const reads: string[] = [];
    const options = new Proxy({ start: 1 }, { get: (target, key: string) => (reads.push(key), target[key as 'start']) });
    const chunks: Buffer[] = [];
    for await (const chunk of file.createReadStream(options)) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'bc');
    assert.deepEqual(reads.sort(), ['encoding', 'end', 'highWaterMark', 'start']);
    const reads2: string[] = [];
    const openOptions = new Proxy({ flags: 'r' } as Parameters<typeof openFile>[1] & object, { get: (target, key: string) => (reads2.push(key), target[key as 'flags']) });
    const again = await openFile(name, openOptions);
    assert.deepEqual(reads2.sort(), ['flags', 'mode', 'name', 'signal', 'sync', 'timeout'], 'openFile reads each option once');
    await Promise.all([file.close(), again.close()]);
  });

  it('revokes when the parent signal aborts', async () => {
    const handle = await open(path(), 'w');
    const close = mock.method(handle, 'close');
    const controller = new AbortController();
    const file = manageFile(handle, { signal: controller.signal });
    controller.abort();
    assert.equal(file.state, 'revoking');
    assert.equal(await file.revoke(), false);
    assert.equal(close.mock.callCount(), 1);
    assert.equal(await state(file.write('x')), 'rejected');
  });
});
