import assert from 'node:assert/strict';
import { getEventListeners, once } from 'node:events';
import net from 'node:net';
import { after, describe, it, mock } from 'node:test';
import { DrainTimeoutError, Revocable, RevokedError } from '../src/index.js';
import { ManagedAbortController, ManagedResource, manageSocket } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';
import { listen } from './fixtures/node/http.js';

describe('ManagedResource', () => {
  it('is a Revocable whose release closes the resource after the drain', async () => {
    const close = mock.fn();
    const managed = new ManagedResource({ open: true }, { name: 'thing' }, close);
    assert.ok(managed instanceof Revocable);
    const access = managed.access();
    const revoked = managed.revoke();
    assert.equal(close.mock.callCount(), 0);
    access.release();
    await revoked;
    assert.equal(close.mock.callCount(), 1);
    assert.equal(managed.name, 'thing');
  });

  it('aborts its signal with a RevokedError from the first step of the revoke, and keeps it readable after', async () => {
    const managed = new ManagedResource({}, undefined, () => {});
    const signal = managed.signal;
    assert.equal(signal.aborted, false);
    const revoked = managed.revoke();
    assert.ok(signal.aborted);
    assert.ok(signal.reason instanceof RevokedError);
    await revoked;
    assert.equal(managed.signal, signal);
  });

  it('bounds revoke() and await using with the timeout given at creation', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const managed = new ManagedResource({}, { timeout: 100 }, () => {});
    assert.equal(managed.timeout, 100);
    const access = managed.access();
    const disposed = managed[Symbol.asyncDispose]();
    t.mock.timers.tick(100);
    await assert.rejects(disposed, DrainTimeoutError);
    const longer = managed.revoke({ timeout: 1_000 });
    t.mock.timers.tick(500);
    assert.equal(await state(longer), 'pending', 'an explicit timeout wins');
    access.release();
    assert.equal(await longer, false);
  });

  it('revokes when its parent signal aborts, and lets go of the parent at the first revoke', async () => {
    const parent = new AbortController();
    const managed = new ManagedResource({}, { signal: parent.signal }, () => {});
    assert.equal(getEventListeners(parent.signal, 'abort').length, 1);
    await managed.revoke();
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0, 'a revoked resource is not kept by its parent');

    const other = new ManagedResource({}, { signal: parent.signal }, () => {});
    parent.abort();
    assert.equal(other.state, 'revoked');
  });

  it('revokes in a microtask when the parent signal has already aborted', async () => {
    const release = mock.fn();
    const managed = new ManagedResource({}, { signal: AbortSignal.abort() }, release);
    assert.equal(managed.state, 'live', 'the subclass constructor may still be running');
    await Promise.resolve();
    assert.equal(managed.state, 'revoked');
    assert.equal(release.mock.callCount(), 1);
  });

  it('reports a failure of a revoke started by the parent as a process warning', async () => {
    const parent = new AbortController();
    const managed = new ManagedResource({}, { signal: parent.signal }, () => {
      throw new Error('close failed');
    });
    const warned = deferred<Error>();
    const onWarning = (warning: Error): void => {
      if (warning.message === 'close failed') warned.resolve(warning);
    };
    process.on('warning', onWarning);
    parent.abort();
    await warned.promise;
    process.off('warning', onWarning);
    await assert.rejects(managed.revoke(), /close failed/, 'a later revoke sees it too');
  });

  it('calls releaseResource when no release is given: the hook for subclasses', async () => {
    const closed: string[] = [];
    class Port extends ManagedResource<{ id: string }> {
      protected override releaseResource(port: { id: string }): void {
        closed.push(port.id);
      }
    }
    await new Port({ id: 'ttyUSB0' }).revoke();
    assert.deepEqual(closed, ['ttyUSB0']);
  });

  it('refuses bad options with the message shape of the library', async () => {
    assert.throws(() => new ManagedResource({}, { timeout: -1 }), /Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1` \(number\)/);
    assert.throws(() => new ManagedResource({}, { signal: 'no' as never }), /Expected `options.signal` to be an AbortSignal or undefined, got `"no"` \(string\)/);
    assert.throws(() => new ManagedResource({}, { name: 1 as never }), TypeError);
    assert.throws(() => new ManagedResource({}, null as never), TypeError);
    assert.throws(() => new ManagedResource({}, {}, 'close' as never), /Expected `release` to be a function/);
    const managed = new ManagedResource({}, undefined, () => {});
    assert.throws(() => void managed.revoke(null as never), TypeError);
    assert.equal(managed.state, 'live', 'a bad call changes nothing');
    await managed.revoke();
  });
});

describe('ManagedAbortController', () => {
  it('aborts its controller at the kick, so operations using its signal stop and the drain ends', async () => {
    const controller = new ManagedAbortController({ name: 'requests' });
    const signal = controller.signal;
    // An operation that holds an access and ends only when the controller's signal aborts.
    const operation = controller.with(
      (_c, _kick) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
    );
    await controller.revoke();
    await operation;
    assert.ok(signal.aborted);
    assert.ok(signal.reason instanceof RevokedError);
  });

  it('can be aborted by hand before the revoke, keeping its own reason', async () => {
    const controller = new ManagedAbortController();
    const reason = new Error('user cancelled');
    controller.abort(reason);
    await controller.revoke();
    assert.equal(controller.signal.reason, reason);
  });

  it('follows a parent signal', async () => {
    const parent = new AbortController();
    const controller = new ManagedAbortController({ signal: parent.signal });
    parent.abort();
    assert.ok(controller.signal.aborted);
    await controller.revoke();
  });
});

describe('ManagedSocket', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('flushes what was written before the revoke, ends, and resolves once closed', async (t) => {
    const received = deferred<string>();
    const server = net.createServer((socket) => {
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => received.resolve(text));
    });
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const port = await listen(server);
    const socket = manageSocket(net.connect(port, '127.0.0.1'));
    const big = 'z'.repeat(1 << 20);
    socket.with((s) => s.write(big));
    await socket.revoke();
    assert.equal(await received.promise, big);
    assert.equal(socket.forced, false);
    assert.equal(socket.tryWith((s) => s), undefined);
  });

  it('destroys a socket whose peer never closes its side, after the grace period', async (t) => {
    const peers: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      peers.push(socket);
      socket.resume(); // reads, but never ends its side
    });
    t.after(() => {
      for (const peer of peers) peer.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const port = await listen(server);
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const socket = manageSocket(client, { grace: 50 });
    await socket.revoke();
    assert.equal(socket.forced, true);
    assert.equal(client.destroyed, true);
  });

  it('releases at once a socket already destroyed', async () => {
    const client = new net.Socket();
    client.destroy();
    const socket = manageSocket(client);
    await socket.revoke();
    assert.equal(socket.forced, false);
  });

  it('refuses what is not a socket', () => {
    assert.throws(() => manageSocket({} as net.Socket), /Expected `socket` to be a net.Socket/);
    assert.throws(() => manageSocket(new net.Socket(), { grace: -1 }), RangeError);
    assert.throws(() => manageSocket(new net.Socket(), { grace: 2 ** 31 }), /Expected `options.grace` to be a number of milliseconds from 0 to 2147483647, or Infinity/);
  });
});
