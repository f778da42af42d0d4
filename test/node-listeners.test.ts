import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, it, mock } from 'node:test';
import { RevokedError } from '../src/index.js';
import { addManagedListener } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';

describe('managed listeners on an EventEmitter', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('calls the listener with the event arguments and the kick signal, with the emitter as this', async () => {
    const emitter = new EventEmitter();
    const calls: unknown[][] = [];
    const listener = addManagedListener(emitter, 'data', function (this: unknown, ...args: unknown[]) {
      calls.push([this, ...args]);
    });
    emitter.emit('data', 1, 'two');
    const [self, one, two, signal] = calls[0] ?? [];
    assert.equal(self, emitter);
    assert.deepEqual([one, two], [1, 'two']);
    assert.ok(signal instanceof AbortSignal);
    await listener.revoke();
  });

  it('is never called once the revoke has started, and is removed when it resolves', async () => {
    const emitter = new EventEmitter();
    const fn = mock.fn();
    const listener = addManagedListener(emitter, 'tick', fn);
    emitter.emit('tick');
    const revoked = listener.revoke();
    emitter.emit('tick');
    assert.equal(fn.mock.callCount(), 1);
    await revoked;
    assert.equal(emitter.listenerCount('tick'), 0);
  });

  it('drains an async call in flight: the revoke kicks it and waits for it to settle', async () => {
    const emitter = new EventEmitter();
    const work = deferred();
    let seen: AbortSignal | undefined;
    const listener = addManagedListener(emitter, 'job', async (signal: AbortSignal) => {
      seen = signal;
      await work.promise;
    });
    emitter.emit('job');
    const revoked = listener.revoke();
    assert.ok(seen?.aborted);
    assert.ok(seen?.reason instanceof RevokedError);
    assert.equal(await state(revoked), 'pending', 'no handler runs after revoke resolves');
    assert.equal(emitter.listenerCount('job'), 1, 'removed only after the drain');
    work.resolve();
    await revoked;
    assert.equal(emitter.listenerCount('job'), 0);
  });

  it('listens once with once: true', async () => {
    const emitter = new EventEmitter();
    const fn = mock.fn();
    const listener = addManagedListener(emitter, 'x', fn, { once: true });
    emitter.emit('x');
    emitter.emit('x');
    assert.equal(fn.mock.callCount(), 1);
    await listener.revoke();
  });

  it('accepts symbol event names, and lets a synchronous throw reach the emitter', async () => {
    const emitter = new EventEmitter();
    const type = Symbol('boom');
    const listener = addManagedListener(emitter, type, () => {
      throw new Error('boom');
    });
    assert.throws(() => emitter.emit(type), /boom/);
    assert.equal(listener.accesses, 0, 'the access ended with the throw');
    await listener.revoke();
  });
});

describe('managed listeners on an EventTarget', () => {
  it('calls the listener with the event and the signal, then stops and removes it', async () => {
    const target = new EventTarget();
    const events: Event[] = [];
    const listener = addManagedListener(target, 'ping', (event: Event, signal: AbortSignal) => {
      assert.equal(signal.aborted, false);
      events.push(event);
    });
    target.dispatchEvent(new Event('ping'));
    await listener.revoke();
    target.dispatchEvent(new Event('ping'));
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'ping');
  });

  it('removes a capture listener with its capture flag', async () => {
    const target = new EventTarget();
    const fn = mock.fn();
    const listener = addManagedListener(target, 'ping', fn, { capture: true, passive: true });
    target.dispatchEvent(new Event('ping'));
    await listener.revoke();
    // Removed with the right flag: a fresh listener shows the target is otherwise untouched.
    target.dispatchEvent(new Event('ping'));
    assert.equal(fn.mock.callCount(), 1);
  });

  it('refuses what it cannot listen on, and bad options', () => {
    assert.throws(() => addManagedListener({} as EventTarget, 'x', () => {}), /Expected `target` to be an EventEmitter or an EventTarget/);
    assert.throws(() => addManagedListener(new EventTarget(), Symbol('x'), () => {}), /Expected `type` to be a string/);
    assert.throws(() => addManagedListener(new EventEmitter(), 'x', 'fn' as never), /Expected `listener` to be a function/);
    assert.throws(() => addManagedListener(new EventEmitter(), 'x', () => {}, { once: 'yes' as never }), TypeError);
    const emitter = new EventEmitter();
    assert.throws(() => addManagedListener(emitter, 'x', () => {}, { timeout: -1 }), RangeError);
    assert.equal(emitter.listenerCount('x'), 0, 'a refused call adds nothing');
  });
});
