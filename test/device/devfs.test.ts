/**
 * revoke(2) on device nodes: the gate around every file operation, the per-operation results after
 * a revoke, release exactly once whoever gets there first, revoke by path, mapped memory, and a
 * revoke from inside an operation of the same node.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { DevFs, DeviceError, type DeviceFile, type FileOperations } from '../../src/device/index.js';
import { DrainTimeoutError } from '../../src/index.js';
import { setReentrancyTracker } from '../../src/internal/reentrancy.js';
import { deferred, flushMicrotasks, state } from '../support/deferred.js';
import '../support/leaks.js';

const code = (expected: string) => (error: unknown): boolean => error instanceof DeviceError && error.code === expected;

/** A driver whose read waits on `gate` (or the kick) and whose every call is logged. */
function slowDriver(): { operations: FileOperations<{ id: number }>; log: string[]; gate: ReturnType<typeof deferred<string>> } {
  const log: string[] = [];
  const gate = deferred<string>();
  let next = 0;
  const operations: FileOperations<{ id: number }> = {
    open(file) {
      file.private = { id: next++ };
      log.push(`open ${file.private.id}`);
    },
    read(file) {
      log.push(`read ${file.private?.id}`);
      return new Promise((resolve, reject) => {
        file.signal.addEventListener('abort', () => reject(file.signal.reason), { once: true });
        gate.promise.then(resolve, reject);
      });
    },
    write: (file, data) => {
      log.push(`write ${file.private?.id}`);
      return (data as string).length;
    },
    ioctl: (_file, command, argument) => ({ command, argument }),
    poll: () => ({ readable: true }),
    release(file) {
      log.push(`release ${file.private?.id}`);
    },
  };
  return { operations, log, gate };
}

describe('DevFs: opening and operating', () => {
  it('runs each operation of the driver with the per-open file and returns what it returns', async () => {
    const devfs = new DevFs();
    const { operations, log } = slowDriver();
    devfs.create('/dev/a', operations);
    const file = await devfs.open('/dev/a');
    assert.equal(await file.write('hello'), 5);
    assert.deepEqual(await file.ioctl('GET', 7), { command: 'GET', argument: 7 });
    assert.deepEqual(await file.poll(), { readable: true, writable: false, error: false, hangup: false });
    assert.equal(file.state, 'open');
    await file.close();
    assert.deepEqual(log, ['open 0', 'write 0', 'release 0']);
    assert.equal(file.state, 'closed');
  });

  it('rejects ENOENT for a missing path and EEXIST for a path taken', async () => {
    const devfs = new DevFs();
    await assert.rejects(devfs.open('/dev/none'), code('ENOENT'));
    devfs.create('/dev/a', {});
    assert.throws(() => devfs.create('/dev/a', {}), code('EEXIST'));
    assert.deepEqual(devfs.paths(), ['/dev/a']);
  });

  it('gives defined results for operations the driver lacks: EINVAL, ENOTTY, ENODEV, and a ready poll', async () => {
    const devfs = new DevFs();
    devfs.create('/dev/empty', {});
    const file = await devfs.open('/dev/empty');
    await assert.rejects(file.read(1), code('EINVAL'));
    await assert.rejects(file.write('x'), code('EINVAL'));
    await assert.rejects(file.ioctl(1), code('ENOTTY'));
    await assert.rejects(file.mmap(), code('ENODEV'));
    assert.deepEqual(await file.poll(), { readable: true, writable: true, error: false, hangup: false });
    await file.close();
  });

  it('fails an open when the driver open throws, and never releases that file', async () => {
    const devfs = new DevFs();
    const release = mock.fn();
    devfs.create('/dev/a', { open: async () => Promise.reject(new Error('busy')), release });
    await assert.rejects(devfs.open('/dev/a'), /busy/);
    assert.equal(devfs.get('/dev/a')?.openFiles, 0);
    assert.equal(await devfs.revoke('/dev/a'), 0);
    assert.equal(release.mock.callCount(), 0);
  });

  it('rejects EBADF for operations after close, and close is idempotent', async () => {
    const devfs = new DevFs();
    const releasing = deferred();
    const release = mock.fn(() => releasing.promise);
    devfs.create('/dev/a', { read: () => 'data', release });
    const file = await devfs.open('/dev/a');
    const first = file.close();
    assert.equal(file.close(), first, 'a second close returns the same promise while closing');
    releasing.resolve();
    await first;
    await file.close();
    await assert.rejects(file.read(), code('EBADF'));
    assert.equal(release.mock.callCount(), 1);
  });

  it('close waits for the file operations in flight, kicks them, and releases after', async () => {
    const devfs = new DevFs();
    const { operations, log } = slowDriver();
    devfs.create('/dev/a', operations);
    const file = await devfs.open('/dev/a');
    const reading = file.read();
    const closing = file.close();
    await assert.rejects(reading, code('EBADF'));
    await closing;
    assert.deepEqual(log, ['open 0', 'read 0', 'release 0']);
  });

  it('validates its arguments and changes nothing on a bad call', async () => {
    const devfs = new DevFs();
    assert.throws(() => devfs.create('', {}), /Expected `path` to be a non-empty string, got `""` \(string\)/);
    assert.throws(() => devfs.create('/dev/a', null as never), /Expected `operations` to be an object of file operations/);
    assert.throws(() => devfs.create('/dev/a', { read: 5 } as never), /Expected `operations.read` to be a function or undefined, got `5` \(number\)/);
    assert.throws(() => devfs.create('/dev/a', {}, { device: 3 } as never), TypeError);
    assert.deepEqual(devfs.paths(), []);
    assert.throws(() => devfs.open(42 as never), TypeError);
    devfs.create('/dev/a', {});
    assert.throws(() => devfs.revoke('/dev/a', { timeout: -1 }), RangeError);
    assert.throws(() => devfs.revoke('/dev/a', 'soon' as never), TypeError);
    assert.equal(devfs.get('/dev/a')?.state, 'live');
  });
});

describe('DevFs: revoke(2)', () => {
  it('after a revoke: read resolves null, write rejects EIO, ioctl and mmap reject ENODEV, poll reports hang-up', async () => {
    const devfs = new DevFs();
    const { operations, log } = slowDriver();
    devfs.create('/dev/a', operations);
    const file = await devfs.open('/dev/a');
    assert.equal(await devfs.revoke('/dev/a'), 1);
    assert.equal(file.state, 'revoked');
    assert.equal(await file.read(), null);
    await assert.rejects(file.write('x'), code('EIO'));
    await assert.rejects(file.ioctl('GET'), code('ENODEV'));
    await assert.rejects(file.mmap(), code('ENODEV'));
    assert.deepEqual(await file.poll(), { error: true, hangup: true, readable: false, writable: false });
    await file.close();
    assert.deepEqual(log, ['open 0', 'release 0'], 'nothing after release reached the driver');
  });

  it('kicks operations in flight, waits for them, then releases each open file once', async () => {
    const devfs = new DevFs();
    const { operations, log } = slowDriver();
    devfs.create('/dev/a', operations);
    const a = await devfs.open('/dev/a');
    const b = await devfs.open('/dev/a');
    const reading = a.read();
    const revoking = devfs.revoke('/dev/a');
    assert.equal(await reading, null, 'the kicked read ends as end-of-file');
    assert.equal(await revoking, 2);
    assert.deepEqual(log, ['open 0', 'open 1', 'read 0', 'release 0', 'release 1']);
    await Promise.all([a.close(), b.close()]);
    assert.equal(log.length, 5);
  });

  it('waits for an operation that ignores the kick, and releases only after it returned', async () => {
    const devfs = new DevFs();
    const gate = deferred<string>();
    const log: string[] = [];
    devfs.create('/dev/a', {
      read: async () => {
        const value = await gate.promise;
        log.push('read returned');
        return value;
      },
      release: () => void log.push('release'),
    });
    const file = await devfs.open('/dev/a');
    const reading = file.read();
    const revoking = devfs.revoke('/dev/a');
    assert.equal(await state(revoking), 'pending');
    assert.deepEqual(log, []);
    gate.resolve('late data');
    assert.equal(await reading, 'late data', 'an operation that finishes normally keeps its result');
    await revoking;
    assert.deepEqual(log, ['read returned', 'release']);
  });

  it('leaves the node in place: later opens get fresh files; an open during the revoke rejects ENODEV', async () => {
    const devfs = new DevFs();
    const { operations, gate } = slowDriver();
    const node = devfs.create('/dev/tty', operations);
    const old = await devfs.open('/dev/tty');
    const reading = old.read();
    const revoking = devfs.revoke('/dev/tty');
    assert.equal(node.state, 'revoking');
    await assert.rejects(devfs.open('/dev/tty'), code('ENODEV'));
    await reading;
    await revoking;
    assert.equal(node.state, 'live');
    const fresh = await devfs.open('/dev/tty');
    gate.resolve('new data');
    assert.equal(await fresh.read(), 'new data');
    assert.equal(await old.read(), null);
    await fresh.close();
  });

  it('releases once when close races the revoke, whichever comes first, and close waits for that release', async () => {
    for (const order of ['close first', 'revoke first'] as const) {
      const devfs = new DevFs();
      const releasing = deferred();
      const release = mock.fn(() => releasing.promise);
      devfs.create('/dev/a', { release });
      const file = await devfs.open('/dev/a');
      const [first, second] = order === 'close first' ? [file.close(), devfs.revoke('/dev/a')] : [devfs.revoke('/dev/a'), file.close()];
      assert.equal(await state(first), 'pending');
      assert.equal(await state(second), 'pending', 'the other waits for the release in progress');
      releasing.resolve();
      await Promise.all([first, second]);
      assert.equal(release.mock.callCount(), 1, order);
      await file.close();
      assert.equal(release.mock.callCount(), 1);
    }
  });

  it('a second revoke joins the first and resolves 0; removing the node makes later opens ENOENT', async () => {
    const devfs = new DevFs();
    const node = devfs.create('/dev/a', {});
    const file = await devfs.open('/dev/a');
    const [first, second] = await Promise.all([devfs.revoke('/dev/a'), node.revoke()]);
    assert.deepEqual([first, second], [1, 0]);
    assert.equal(file.state, 'revoked');
    await file.close();
    await devfs.open('/dev/a').then((f) => f.close());
    assert.equal(await node.remove(), 0);
    assert.equal(node.state, 'removed');
    assert.equal(devfs.has('/dev/a'), false);
    await assert.rejects(devfs.open('/dev/a'), code('ENOENT'));
    await assert.rejects(devfs.revoke('/dev/a'), code('ENOENT'));
    devfs.create('/dev/a', {});
  });

  it('releases a file whose open succeeded while the revoke was waiting for it, and rejects that open ENODEV', async () => {
    const devfs = new DevFs();
    const opening = deferred();
    const release = mock.fn();
    devfs.create('/dev/a', { open: () => opening.promise, release });
    const open = devfs.open('/dev/a');
    const revoking = devfs.revoke('/dev/a');
    assert.equal(await state(revoking), 'pending', 'the revoke waits for the open in flight');
    opening.resolve();
    await assert.rejects(open, code('ENODEV'));
    assert.equal(await revoking, 1);
    assert.equal(release.mock.callCount(), 1);
  });

  it('rejects with what release threw, after releasing every other file, and the node is usable again', async () => {
    const devfs = new DevFs();
    let n = 0;
    const released: number[] = [];
    devfs.create('/dev/a', {
      open: (file) => void (file.private = n++),
      release: (file: DeviceFile) => {
        released.push(file.private as number);
        if (file.private === 0) throw new Error('release 0 failed');
      },
    });
    await devfs.open('/dev/a');
    await devfs.open('/dev/a');
    await assert.rejects(devfs.revoke('/dev/a'), /release 0 failed/);
    assert.deepEqual(released, [0, 1]);
    await (await devfs.open('/dev/a')).close();
  });

  it('bounds the drain with a timeout: rejects DrainTimeoutError, releases nothing, and completes later', async () => {
    const devfs = new DevFs();
    const gate = deferred<string>();
    const release = mock.fn();
    devfs.create('/dev/a', { read: () => gate.promise, release });
    const file = await devfs.open('/dev/a');
    const reading = file.read();
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const revoking = devfs.revoke('/dev/a', { timeout: 50 });
      mock.timers.tick(50);
      await assert.rejects(revoking, (error: unknown) => error instanceof DrainTimeoutError && error.pending === 1);
    } finally {
      mock.timers.reset();
    }
    assert.equal(release.mock.callCount(), 0, 'nothing is released under a live operation');
    const again = devfs.revoke('/dev/a');
    gate.resolve('x');
    await reading;
    assert.equal(await again, 0);
    assert.equal(release.mock.callCount(), 1);
  });
});

describe('DevFs: a revoke from inside an operation of the same node', () => {
  it('rejects EDEADLK at once, revoking nothing, when called in the synchronous part of an operation', async () => {
    const devfs = new DevFs();
    let inner: Promise<number> | undefined;
    devfs.create('/dev/a', {
      write: () => {
        inner = devfs.revoke('/dev/a');
        inner.catch(() => {});
        return 1;
      },
    });
    const file = await devfs.open('/dev/a');
    await file.write('x');
    await assert.rejects(inner as Promise<number>, code('EDEADLK'));
    assert.equal(file.state, 'open', 'nothing was revoked');
    await file.close();
  });

  it('file.hangup() revokes without waiting: the revoke completes once the operation returned', async () => {
    const devfs = new DevFs();
    const log: string[] = [];
    devfs.create('/dev/a', {
      async ioctl(file) {
        file.hangup();
        log.push(`signal aborted: ${file.signal.aborted}`);
        await flushMicrotasks();
        log.push('ioctl returns');
        return 'done';
      },
      release: () => void log.push('release'),
    });
    const file = await devfs.open('/dev/a');
    const other = await devfs.open('/dev/a');
    assert.equal(await file.ioctl('HANGUP'), 'done');
    await flushMicrotasks();
    assert.deepEqual(log, ['signal aborted: true', 'ioctl returns', 'release', 'release']);
    assert.equal(other.state, 'revoked');
    assert.equal(await other.read(), null);
  });

  it('asks an installed tracker, the hook for async-context detection, about code after an await', async () => {
    const devfs = new DevFs();
    const node = devfs.create('/dev/a', {
      async read() {
        await flushMicrotasks();
        // After an await the synchronous depth is 0: only a tracker can tell we are inside.
        return devfs.revoke('/dev/a').then(
          () => 'revoked',
          (error: unknown) => (error as DeviceError).code,
        );
      },
    });
    let current: object | undefined;
    setReentrancyTracker({
      wrap: (target, call) => {
        current = target;
        return call();
      },
      isInside: (target) => current === target,
    });
    try {
      const file = await devfs.open('/dev/a');
      assert.equal(await file.read(), 'EDEADLK');
      await file.close();
    } finally {
      setReentrancyTracker(undefined);
    }
    assert.equal(node.state, 'live');
  });
});

describe('DevFs: mapped memory', () => {
  it('detaches a mapped buffer when the node is revoked: every view over it reads length 0', async () => {
    const devfs = new DevFs();
    const seen: number[] = [];
    devfs.create('/dev/fb', {
      mmap: () => new Uint8Array([1, 2, 3, 4]).buffer,
      release: (file) => void seen.push(new Uint8Array(file.mappings[0] as ArrayBuffer)[3] as number),
    });
    const file = await devfs.open('/dev/fb');
    const memory = await file.mmap();
    const view = new Uint8Array(memory);
    assert.equal(view[3], 4);
    await devfs.revoke('/dev/fb');
    assert.equal(memory.byteLength, 0);
    assert.equal(view.length, 0);
    assert.equal(view[3], undefined);
    assert.deepEqual(seen, [4], 'the driver still has the memory in release, moved out of the user’s reach');
  });

  it('detaches at close too, and rejects a driver mmap that returns no ArrayBuffer', async () => {
    const devfs = new DevFs();
    const shared = typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(4) : 'no';
    devfs.create('/dev/fb', { mmap: (_file, kind) => (kind === 'bad' ? shared : new ArrayBuffer(8)) as ArrayBuffer });
    const file = await devfs.open('/dev/fb');
    const memory = await file.mmap();
    await assert.rejects(file.mmap('bad'), /Expected the driver's mmap for "\/dev\/fb" to return an ArrayBuffer/);
    await file.close();
    assert.equal(memory.byteLength, 0);
  });
});
