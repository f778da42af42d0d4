/**
 * SharedRevocable's cross-thread semantics, with threads simulated in one real thread: every object
 * attached with its own `threadId` has a slot of its own in the shared memory, exactly as a worker
 * would, and the wake-ups between them go through `Atomics.waitAsync` as between real threads.
 * Real workers are in workers.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { DrainTimeoutError, RevokedError } from '../../src/index.js';
import { AlreadyAttachedError, LockTimeoutError, SharedAccess, SharedRevocable, SharedRevocableHandle, type SharedRevocableRef } from '../../src/shared/index.js';
import { BIAS, LOCK, REVOKING, SLOT_COUNT, STATE, slotBase } from '../../src/shared/internal/layout.js';
import { deferred, state } from '../support/deferred.js';
import { leakTracker } from '../support/leaks.js';

interface Port {
  thread: string;
  open: boolean;
}
const port = (thread = 'owner'): Port => ({ thread, open: true });
const untyped = (value: unknown): never => value as never;
/** A simulated thread's object: its own slot, its own view. */
const join = (ref: SharedRevocableRef, threadId: number): SharedRevocable<Port> => SharedRevocable.attach(ref, port(`thread ${threadId}`), { threadId });
const aborted = (signal: AbortSignal): Promise<void> => (signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })));
/** A thread that died inside an access leaves it unreleased by design: forget it, not a leak. */
const forgetTheDead = (): void => leakTracker.reset();
const words = (shared: { ref: SharedRevocableRef }): Int32Array => new Int32Array(shared.ref.buffer);

describe('SharedRevocable across threads', () => {
  it('gives each thread its own view of the resource', async () => {
    const owner = SharedRevocable.create(port(), { name: 'tenant 42' });
    const worker = join(owner.ref, 7);
    assert.equal(owner.tryWith((p) => p.thread), 'owner');
    assert.equal(worker.tryWith((p) => p.thread), 'thread 7');
    assert.equal(worker.name, 'tenant 42');
    assert.equal(worker.threadId, 7);
    await worker.detach();
    await owner.revoke();
  });

  it('closes the gate of every thread in the first synchronous step of a revoke made by any of them', async () => {
    const release = mock.fn();
    const owner = SharedRevocable.create(port(), { release });
    const a = join(owner.ref, 1);
    const b = join(owner.ref, 2);
    const revoked = b.revoke();
    assert.equal(a.state, 'revoking');
    assert.equal(a.tryAccess(), null, 'refused at once in another thread');
    assert.throws(() => a.with(() => 1), RevokedError);
    assert.throws(() => a.handle(), RevokedError);
    assert.equal(owner.tryWith(() => 1), undefined);
    assert.equal(await revoked, true);
    assert.equal(release.mock.callCount(), 1, 'released in the owner, although it was idle');
    assert.equal(owner.state, 'revoked');
    assert.equal(a.state, 'revoked');
  });

  it('waits for the accesses of every thread, kicks them, and releases in the owner after the last one', async () => {
    const events: string[] = [];
    const owner = SharedRevocable.create(port(), { release: (p) => void events.push(`release ${p.thread}`) });
    const a = join(owner.ref, 1);
    const b = join(owner.ref, 2);
    const inA = a.access();
    const gate = deferred();
    const inB = b.with(async (p, signal) => {
      await gate.promise;
      events.push(`b done, kicked: ${signal.aborted}, open: ${p.open}`);
    });
    const signalA = inA.signal;
    const revoked = owner.revoke();
    await aborted(signalA);
    assert.ok(signalA.reason instanceof RevokedError, 'the kick reaches the other thread, with a RevokedError');
    assert.equal(owner.accesses, 2);
    inA.release();
    assert.equal(await state(revoked), 'pending', 'thread 2 is still inside');
    gate.resolve();
    await inB;
    assert.equal(await revoked, true);
    assert.deepEqual(events, ['b done, kicked: true, open: true', 'release owner']);
    assert.equal(owner.accesses, 0);
  });

  it('lets exactly one of two racing revokers from different threads resolve true', async () => {
    const release = mock.fn();
    const owner = SharedRevocable.create(port(), { release });
    const a = join(owner.ref, 1);
    const b = join(owner.ref, 2);
    const held = a.access();
    const results = Promise.all([a.revoke(), b.revoke(), owner.revoke()]);
    held.release();
    assert.deepEqual(await results, [true, false, false]);
    assert.deepEqual(await Promise.all([b.revoke(), owner.revoke()]), [false, false], 'later calls wait for the same end');
    assert.equal(release.mock.callCount(), 1);
  });

  it('resolves a revoke made in another thread only after an async release has finished', async () => {
    const gate = deferred();
    const owner = SharedRevocable.create(port(), { release: () => gate.promise });
    const a = join(owner.ref, 1);
    const revoked = a.revoke();
    assert.equal(await state(revoked), 'pending');
    await new Promise((resolve) => setImmediate(resolve)); // the owner has had its wake-up by now
    assert.equal(await state(revoked), 'pending', 'the release is still running');
    gate.resolve();
    assert.equal(await revoked, true);
  });

  it('rejects a revoke in another thread with what release threw: its name, message and code', async () => {
    const owner = SharedRevocable.create(port(), {
      release() {
        throw Object.assign(new TypeError('close failed'), { code: 'EBADF' });
      },
    });
    const a = join(owner.ref, 1);
    const error = await a.revoke().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'TypeError');
    assert.equal(error.message, 'close failed');
    assert.equal((error as { code?: string }).code, 'EBADF');
    await assert.rejects(owner.revoke(), (e: unknown) => e instanceof TypeError && e.message === 'close failed', 'the owner has the error itself');
    await assert.rejects(a.revoke(), /close failed/, 'and so does every later call elsewhere');
  });

  it('attaches with a closed slot while a revoke is in progress, and refuses to attach once it has finished', async () => {
    const owner = SharedRevocable.create(port(), { name: 'db' });
    const held = owner.access();
    const revoked = owner.revoke();
    const late = join(owner.ref, 3);
    assert.equal(late.tryAccess(), null, 'never granted');
    assert.equal(late.state, 'revoking');
    held.release();
    assert.equal(await revoked, true);
    assert.throws(() => join(owner.ref, 4), (e: unknown) => e instanceof RevokedError && e.message === 'SharedRevocable "db" was revoked');
  });

  it('counts the accesses of every thread in `accesses`', async () => {
    const owner = SharedRevocable.create(port());
    const a = join(owner.ref, 1);
    const accesses = [owner.access(), a.access(), a.access()];
    assert.equal(owner.accesses, 3);
    assert.equal(a.accesses, 3);
    for (const access of accesses) access.release();
    assert.equal(owner.accesses, 0);
    await a.detach();
    await owner.revoke();
  });

  it('shares the buffer through structured clone: the ref a worker receives attaches to the same memory', async () => {
    const owner = SharedRevocable.create(port(), { name: 'cloned' });
    const ref = structuredClone(owner.ref);
    assert.notEqual(ref, owner.ref);
    const a = join(ref, 1);
    const held = a.access();
    assert.equal(owner.accesses, 1);
    const revoked = owner.revoke();
    held.release();
    assert.equal(await revoked, true);
    assert.equal(a.tryAccess(), null);
  });

  it('runs proxy method calls as accesses of their thread and refuses them once revoked anywhere', async () => {
    const owner = SharedRevocable.create({ n: 1, bump(): number { return ++this.n; } });
    const a = SharedRevocable.attach(owner.ref, { n: 10, bump(): number { return ++this.n; } }, { threadId: 1 });
    const proxy = a.handle().proxy();
    assert.equal(proxy.bump(), 11);
    assert.equal(proxy.n, 11);
    await owner.revoke();
    assert.throws(() => proxy.bump(), RevokedError);
    assert.throws(() => proxy.n, RevokedError);
  });
});

describe('detach()', () => {
  it('kicks and drains this thread\'s accesses, then frees its slot for another thread', async () => {
    const owner = SharedRevocable.create(port(), { maxThreads: 2 });
    const a = join(owner.ref, 1);
    const held = a.access();
    const signal = held.signal;
    const detached = a.detach();
    assert.equal(signal.aborted, true, 'kicked in the first step');
    assert.equal(a.tryAccess(), null, 'no new access through it');
    assert.equal(a.state, 'revoking');
    assert.equal(a.detach(), detached, 'idempotent');
    assert.throws(() => join(owner.ref, 2), RangeError, 'its slot is not free while it drains');
    assert.equal(await state(detached), 'pending');
    held.release();
    await detached;
    assert.equal(a.state, 'revoked');
    assert.equal(a.detached, true);
    assert.throws(() => a.access(), (e: unknown) => e instanceof RevokedError && /detached from thread 1/.test(e.message));
    const b = join(owner.ref, 2);
    assert.equal(b.tryWith((p) => p.thread), 'thread 2', 'the freed slot is reused');
    assert.equal(owner.state, 'live', 'the resource lives on');
    await b.detach();
    await owner.revoke();
  });

  it('does not keep a revoke waiting once the thread has detached', async () => {
    const release = mock.fn();
    const owner = SharedRevocable.create(port(), { release });
    const a = join(owner.ref, 1);
    const held = a.access();
    const detached = a.detach();
    const revoked = owner.revoke();
    held.release();
    await detached;
    assert.equal(await revoked, true);
    assert.equal(release.mock.callCount(), 1);
  });

  it('refuses to detach the owner, which runs release', async () => {
    const owner = SharedRevocable.create(port(), { name: 'db' });
    assert.throws(() => owner.detach(), { name: 'TypeError', message: 'SharedRevocable "db": its owner thread cannot detach (it runs `release`); revoke it instead' });
    await owner.revoke();
  });

  it('detaches an attached object at the end of `await using`, and revokes the owner\'s', async () => {
    const release = mock.fn();
    {
      await using owner = SharedRevocable.create(port(), { release });
      {
        await using a = join(owner.ref, 1);
        assert.equal(a.tryWith((p) => p.thread), 'thread 1');
      }
      assert.equal(owner.state, 'live');
    }
    assert.equal(release.mock.callCount(), 1);
  });
});

describe('reclaim(threadId)', () => {
  it('counts the slot of a thread that died inside an access as drained, so the revoke completes', async () => {
    const owner = SharedRevocable.create(port());
    const dead = join(owner.ref, 9);
    dead.access(); // never released: the thread died inside
    const revoked = owner.revoke();
    assert.equal(await state(revoked), 'pending');
    assert.equal(owner.reclaim(9), 1);
    assert.equal(await revoked, true);
    assert.equal(owner.reclaim(9), 0, 'nothing left to reclaim');
    forgetTheDead();
  });

  it('leaves the wait to the timeout when nobody reclaims the dead thread', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const owner = SharedRevocable.create(port(), { name: 'db' });
    const dead = join(owner.ref, 9);
    dead.access();
    const revoked = owner.revoke({ timeout: 100 });
    t.mock.timers.tick(100);
    const error = await revoked.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DrainTimeoutError);
    assert.equal(error.pending, 1);
    assert.match(error.message, /SharedRevocable "db" did not drain within 100 ms: 1 user still holds it/);
    owner.reclaim(9);
    assert.equal(await owner.revoke(), false);
    forgetTheDead();
  });

  it('frees a slot for reuse while live', async () => {
    const owner = SharedRevocable.create(port(), { maxThreads: 2 });
    const dead = join(owner.ref, 9);
    dead.access();
    assert.equal(owner.accesses, 1);
    owner.reclaim(9);
    assert.equal(owner.accesses, 0);
    const b = join(owner.ref, 10);
    await b.detach();
    await owner.revoke();
    forgetTheDead();
  });

  it('takes over the lock from a thread that died holding it, and finishes the biasing it left half done', async () => {
    const owner = SharedRevocable.create(port());
    const a = join(owner.ref, 1);
    const b = join(owner.ref, 2);
    const signal = a.tryWith((_p, s) => s) as AbortSignal;
    // Thread 3 began a revoke and died under the lock, after biasing thread 1's slot only.
    const memory = words(owner);
    Atomics.store(memory, LOCK, 3 + 1);
    Atomics.store(memory, STATE, REVOKING);
    Atomics.add(memory, slotBase(1) + SLOT_COUNT, BIAS);
    const granted = b.tryAccess();
    assert.notEqual(granted, null, 'thread 2 is still granted: the revoke is not complete');
    granted?.release();
    assert.equal(owner.reclaim(3), 0, 'thread 3 held no slot');
    assert.equal(b.tryAccess(), null, 'the biasing is complete');
    await aborted(signal);
    assert.ok(signal.reason instanceof RevokedError, 'the kick it never sent is sent');
    assert.equal(await owner.revoke(), false);
  });

  it('delivers a lock held by a dead thread through the promise of revoke() and detach(), and goes on after reclaim', async (t) => {
    const owner = SharedRevocable.create(port(), { name: 'tenant 9' });
    const worker = join(owner.ref, 1);
    // Thread 3 died holding the registration lock; the clock jumps so that the spin gives up at once.
    Atomics.store(words(owner), LOCK, 3 + 1);
    let clock = Date.now();
    t.mock.method(Date, 'now', () => (clock += 1_000));
    let revoking: Promise<boolean> | undefined;
    assert.doesNotThrow(() => (revoking = owner.revoke()), 'no synchronous throw');
    await assert.rejects(revoking as Promise<boolean>, (e: unknown) => e instanceof LockTimeoutError && e.holder === 3);
    await assert.rejects(worker.detach(), LockTimeoutError);
    assert.equal(owner.state, 'live', 'nothing changed');
    assert.equal(worker.tryWith((p) => p.open), true);
    t.mock.restoreAll();
    assert.equal(owner.reclaim(3), 0);
    await worker.detach();
    assert.equal(await owner.revoke(), true);
  });

  it('rejects bad thread ids and its own', async () => {
    const owner = SharedRevocable.create(port());
    assert.throws(() => owner.reclaim(untyped('1')), { name: 'TypeError', message: 'Expected `threadId` to be an integer >= 0 (a thread id), got `"1"` (string)' });
    assert.throws(() => owner.reclaim(-1), RangeError);
    assert.throws(() => owner.reclaim(1.5), RangeError);
    assert.throws(() => owner.reclaim(owner.threadId), /this object's own/);
    await owner.revoke();
  });
});

describe('bad input, and nothing half-made', () => {
  it('refuses to create without SharedArrayBuffer, saying the page must be cross-origin isolated', () => {
    const saved = globalThis.SharedArrayBuffer;
    Reflect.deleteProperty(globalThis, 'SharedArrayBuffer');
    try {
      assert.throws(() => SharedRevocable.create(port()), (e: unknown) => e instanceof TypeError && /SharedArrayBuffer/.test(e.message) && /cross-origin isolated/.test(e.message));
    } finally {
      globalThis.SharedArrayBuffer = saved;
    }
  });

  it('validates every option of create before making anything', () => {
    assert.throws(() => SharedRevocable.create(untyped(null)), /Expected `resource` to be a resource/);
    assert.throws(() => SharedRevocable.create(port(), untyped(1)), /Expected `options` to be an object or undefined, got `1` \(number\)/);
    assert.throws(() => SharedRevocable.create(port(), untyped({ name: 3 })), /Expected `options.name` to be a string or undefined/);
    assert.throws(() => SharedRevocable.create(port(), untyped({ release: 'close' })), /Expected `options.release` to be a function or undefined/);
    assert.throws(() => SharedRevocable.create(port(), untyped({ maxThreads: '4' })), { name: 'TypeError', message: 'Expected `options.maxThreads` to be an integer from 1 to 4096, got `"4"` (string)' });
    for (const maxThreads of [0, 1.5, 4097, NaN, Infinity]) assert.throws(() => SharedRevocable.create(port(), { maxThreads }), RangeError);
    assert.throws(() => SharedRevocable.create(port(), untyped({ threadId: -2 })), RangeError);
  });

  it('reads each option once', async () => {
    let reads = 0;
    const options = {
      get maxThreads(): number {
        reads++;
        return reads === 1 ? 2 : 0;
      },
    };
    const owner = SharedRevocable.create(port(), options);
    assert.equal(reads, 1);
    await owner.revoke();
  });

  it('refuses anything that is not a ref with a TypeError', async () => {
    const owner = SharedRevocable.create(port());
    const { buffer } = owner.ref;
    for (const value of [undefined, null, 5, 'ref', {}, { type: 'revocable/shared', version: 1 }, { type: 'revocable/shared', version: 1, buffer: new ArrayBuffer(4160 + 1024) }, { type: 'revocable/shared', version: 1, buffer: new SharedArrayBuffer(8192) }, { ...owner.ref, version: 2 }, { type: 'revocable/shared', version: 1, buffer: { byteLength: buffer.byteLength } }, { ...owner.ref, name: 5 }]) {
      assert.throws(() => SharedRevocable.attach(untyped(value), port(), { threadId: 1 }), (e: unknown) => e instanceof TypeError && /Expected `ref` to be the `ref` of a SharedRevocable/.test(e.message));
    }
    assert.throws(() => SharedRevocable.attach(owner.ref, untyped(undefined), { threadId: 1 }), /Expected `resource`/);
    assert.throws(() => SharedRevocable.attach(owner.ref, port(), untyped([])), /Expected `options` to be an object/);
    assert.throws(() => SharedRevocable.attach(owner.ref, port(), untyped({ threadId: 'one' })), TypeError);
    assert.equal(owner.accesses, 0);
    await owner.revoke();
  });

  it('refuses more threads than maxThreads with a RangeError, leaving every slot as it was', async () => {
    const owner = SharedRevocable.create(port(), { name: 'small', maxThreads: 2 });
    const a = join(owner.ref, 1);
    assert.throws(() => join(owner.ref, 2), { name: 'RangeError', message: 'SharedRevocable "small" has room for 2 threads (`maxThreads`), and all are attached' });
    await a.detach();
    const b = join(owner.ref, 2);
    assert.equal(b.tryWith((p) => p.thread), 'thread 2');
    await b.detach();
    await owner.revoke();
  });

  it('refuses to attach a thread twice', async () => {
    const owner = SharedRevocable.create(port(), { name: 'db' });
    assert.throws(() => join(owner.ref, owner.threadId), (e: unknown) => e instanceof AlreadyAttachedError && e.code === 'ERR_ALREADY_ATTACHED');
    const a = join(owner.ref, 1);
    assert.throws(() => join(owner.ref, 1), AlreadyAttachedError);
    await a.detach();
    await owner.revoke();
  });

  it('cannot be constructed directly', async () => {
    const owner = SharedRevocable.create(port());
    const Shared = SharedRevocable as unknown as new (...args: unknown[]) => unknown;
    const Access = SharedAccess as unknown as new (...args: unknown[]) => unknown;
    const Handle = SharedRevocableHandle as unknown as new (...args: unknown[]) => unknown;
    assert.throws(() => new Shared(Symbol('x')), { name: 'TypeError', message: /not constructible/ });
    assert.throws(() => new Access(Symbol('x'), owner, port()), TypeError);
    assert.throws(() => new Handle(undefined, owner), TypeError);
    await owner.revoke();
  });

  it('refuses a timeout longer than a timer can hold, as the core does, instead of firing after 1 ms', async () => {
    const owner = SharedRevocable.create(port());
    const held = owner.access();
    assert.throws(() => owner.revoke({ timeout: 2 ** 31 }), { name: 'RangeError', message: /`options.timeout`.*2147483647/ });
    assert.equal(owner.state, 'live', 'a refused revoke changes nothing');
    held.release();
    assert.equal(await owner.revoke({ timeout: 2 ** 31 - 1 }), true);
  });
});
