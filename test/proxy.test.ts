import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { Revocable, RevokedError } from '../src/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';

class Port {
  written: string[] = [];
  #open = true;
  baud = 9600;
  get open(): boolean {
    return this.#open;
  }
  write(data: string): number {
    if (!this.#open) throw new Error('use after close');
    this.written.push(data);
    return data.length;
  }
  async drain(gate: Promise<void>): Promise<number> {
    await gate;
    if (!this.#open) throw new Error('use after close');
    return this.written.length;
  }
  setBaud(baud: number): this {
    this.baud = baud;
    return this;
  }
  fail(): never {
    throw new Error('hardware fault');
  }
  close(): void {
    this.#open = false;
  }
}

const isRevoked = (error: unknown): boolean => error instanceof RevokedError && error.code === 'ENODEV';

describe('handle.proxy()', () => {
  it('forwards method calls, with `this` being the resource so private fields work', async () => {
    await using provider = new Revocable(new Port());
    const port = provider.handle().proxy();
    assert.equal(port.write('abc'), 3);
    assert.equal(port.open, true, 'getters run against the resource');
    assert.deepEqual(port.written, ['abc']);
  });

  it('holds an access while a returned promise is pending, so the revoke drains it', async () => {
    const release = mock.fn((p: Port) => p.close());
    const provider = new Revocable(new Port(), { release });
    const port = provider.handle().proxy();
    const gate = deferred();
    const pending = port.drain(gate.promise);
    assert.equal(provider.accesses, 1);
    const revoked = provider.revoke();
    assert.equal(await state(revoked), 'pending');
    assert.equal(release.mock.callCount(), 0);
    gate.resolve();
    assert.equal(await pending, 0, 'the call finished against an open port');
    assert.equal(await revoked, true);
    assert.equal(release.mock.callCount(), 1);
  });

  it('releases the access when a method throws', async () => {
    await using provider = new Revocable(new Port());
    const port = provider.handle().proxy();
    assert.throws(() => port.fail(), /hardware fault/);
    assert.equal(provider.accesses, 0);
  });

  it('throws RevokedError for every operation after the revoke', async () => {
    const provider = new Revocable(new Port(), { release: (p) => p.close() });
    const port = provider.handle().proxy();
    const write = port.write;
    await provider.revoke();
    assert.throws(() => port.write('x'), isRevoked);
    assert.throws(() => write('x'), isRevoked, 'a method read before the revoke is gated too');
    assert.throws(() => port.baud, isRevoked);
    assert.throws(() => {
      port.baud = 1;
    }, isRevoked);
    assert.throws(() => 'baud' in port, isRevoked);
    assert.throws(() => Object.keys(port), isRevoked);
    assert.throws(() => Object.getPrototypeOf(port), isRevoked);
  });

  it('throws RevokedError once its handle is closed, while other handles still work', async () => {
    await using provider = new Revocable(new Port());
    const handle = provider.handle();
    const port = handle.proxy();
    handle.close();
    assert.throws(() => port.write('x'), (e: unknown) => e instanceof RevokedError && /closed/.test(e.message));
    assert.equal(provider.handle().proxy().write('y'), 1);
  });

  it('returns the proxy, not the bare resource, from a fluent method', async () => {
    const provider = new Revocable(new Port());
    const port = provider.handle().proxy();
    const same = port.setBaud(115200);
    assert.equal(same, port);
    await provider.revoke();
    assert.throws(() => same.setBaud(1), isRevoked, 'the chained object is still gated');
  });

  it('reads, writes, enumerates and checks properties of the resource while live', async () => {
    const resource = new Port();
    await using provider = new Revocable(resource);
    const port = provider.handle().proxy();
    port.baud = 19200;
    assert.equal(resource.baud, 19200);
    assert.ok('write' in port);
    assert.ok(Object.keys(port).includes('baud'));
    assert.ok(port instanceof Port, 'instanceof sees the prototype');
    assert.equal(Object.getOwnPropertyDescriptor(port, 'baud')?.value, 19200);
  });

  it('caches method wrappers so a method read twice is the same function', async () => {
    await using provider = new Revocable(new Port());
    const port = provider.handle().proxy();
    assert.equal(port.write, port.write);
    assert.equal(port.write.name, 'write');
  });

  it('calls a resource that is a function inside an access', async () => {
    const gate = deferred<number>();
    const provider = new Revocable((n: number) => gate.promise.then((m) => n + m));
    const fn = provider.handle().proxy();
    const result = fn(1);
    assert.equal(provider.accesses, 1);
    gate.resolve(2);
    assert.equal(await result, 3);
    await provider.revoke();
    assert.throws(() => fn(1), isRevoked);
  });

  it('refuses a primitive resource with a TypeError', async () => {
    await using provider = new Revocable(42);
    assert.throws(() => provider.handle().proxy(), /Expected the resource to be an object or a function for proxy\(\), got number/);
  });

  it('refuses to proxy a revoked resource', async () => {
    const provider = new Revocable(new Port());
    const handle = provider.handle();
    await provider.revoke();
    assert.throws(() => handle.proxy(), isRevoked);
  });
});
