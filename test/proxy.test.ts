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

/** A database whose statements work only while the database is open. */
class Database {
  open = true;
  readonly log: string[] = [];
  get connection(): this {
    return this;
  }
  self(): this {
    return this;
  }
  async selfLater(): Promise<this> {
    await Promise.resolve();
    return this;
  }
  prepare(sql: string): Statement {
    return new Statement(this, sql);
  }
  async prepareLater(sql: string): Promise<Statement> {
    await Promise.resolve();
    return new Statement(this, sql);
  }
  callback(): () => string {
    return () => (this.open ? 'ran' : 'ran on a closed database');
  }
  rows(): { id: number }[] {
    return [{ id: 1 }, { id: 2 }];
  }
  runs(statement: Statement): string {
    return statement instanceof Statement ? statement.run() : 'not a statement';
  }
  close(): void {
    this.open = false;
  }
}

class Statement {
  readonly db: Database;
  readonly sql: string;
  constructor(db: Database, sql: string) {
    this.db = db;
    this.sql = sql;
  }
  bind(): this {
    return this;
  }
  run(): string {
    if (!this.db.open) throw new Error('statement run on a closed database');
    this.db.log.push(this.sql);
    return 'done';
  }
}

describe('handle.proxy(): the bare resource never comes out', () => {
  it('a getter that returns the resource itself returns the proxy', async () => {
    const provider = new Revocable(new Database(), { release: (db) => db.close() });
    const db = provider.handle().proxy();
    assert.equal(db.connection, db);
    assert.equal(db.connection.connection, db);
    await provider.revoke();
    assert.throws(() => db.connection.self(), isRevoked);
  });

  it('a property descriptor reports the proxy where the value is the resource, and gated accessors', async () => {
    const resource = { name: 'r', me: undefined as unknown };
    resource.me = resource;
    Object.defineProperty(resource, 'whoami', { get() { return this; }, configurable: true });
    const provider = new Revocable(resource);
    const proxy = provider.handle().proxy();
    const me = Object.getOwnPropertyDescriptor(proxy, 'me');
    assert.equal(me?.value, proxy);
    const whoami = Object.getOwnPropertyDescriptor(proxy, 'whoami');
    assert.equal(whoami?.get?.call(undefined), proxy, 'the getter runs on the resource, inside an access, and hands out the proxy');
    await provider.revoke();
    assert.throws(() => whoami?.get?.call(undefined), isRevoked);
  });

  it('a method whose promise resolves to the resource resolves to the proxy', async () => {
    await using provider = new Revocable(new Database());
    const db = provider.handle().proxy();
    assert.equal(await db.selfLater(), db);
  });

  it('without deep, objects the resource hands out are its own (the documented limit)', async () => {
    const provider = new Revocable(new Database(), { release: (db) => db.close() });
    const statement = provider.handle().proxy().prepare('select 1');
    await provider.revoke();
    assert.throws(() => statement.run(), /closed database/);
  });
});

describe('handle.proxy({ deep: true }): a membrane', () => {
  it('a statement prepared by a revoked database throws RevokedError, before reaching the closed database', async () => {
    const provider = new Revocable(new Database(), { release: (db) => db.close() });
    const db = provider.handle().proxy({ deep: true });
    const statement = db.prepare('select 1');
    assert.equal(statement.run(), 'done');
    assert.equal(statement.bind(), statement, 'a fluent method of a wrapped object returns its wrapper');
    assert.equal(statement.db, db, 'the resource reached through a wrapped object is the root proxy');
    await provider.revoke();
    assert.throws(() => statement.run(), isRevoked);
    assert.throws(() => statement.sql, isRevoked);
  });

  it('a statement call in flight is an access: the revoke waits for it', async () => {
    const gate = deferred();
    const resource = { slow: () => ({ wait: () => gate.promise }) };
    const closed: string[] = [];
    const provider = new Revocable(resource, { release: () => void closed.push('closed') });
    const slow = provider.handle().proxy({ deep: true }).slow();
    const pending = slow.wait();
    assert.equal(provider.accesses, 1);
    const revoking = provider.revoke();
    assert.equal(await state(revoking), 'pending');
    gate.resolve();
    await pending;
    assert.equal(await revoking, true);
    assert.deepEqual(closed, ['closed']);
  });

  it('wraps resolved values, returned functions and arrays, and keeps identity per object', async () => {
    const provider = new Revocable(new Database(), { release: (db) => db.close() });
    const db = provider.handle().proxy({ deep: true });
    const later = await db.prepareLater('select 2');
    assert.equal(later.run(), 'done');
    const callback = db.callback();
    assert.equal(callback(), 'ran');
    const rows = db.rows();
    assert.equal(rows[0]?.id, 1);
    assert.equal(rows.length, 2);
    assert.equal(db.connection, db);
    const statement = db.prepare('select 3');
    assert.equal(db.runs(statement), 'done', 'a wrapper passed back in is unwrapped');
    await provider.revoke();
    assert.throws(() => later.run(), isRevoked);
    assert.throws(() => callback(), isRevoked, 'a returned function does not run on a closed database');
    assert.throws(() => rows[0], isRevoked);
  });

  it('refuses a deep option that is not a boolean', async () => {
    await using provider = new Revocable(new Database());
    assert.throws(() => provider.handle().proxy({ deep: 'yes' as never }), { name: 'TypeError', message: /options.deep/ });
  });
});

describe('handle.proxy(): methods read once are served without a trap', () => {
  it('calls the new method after it is replaced through the proxy, and sees properties added later', async () => {
    const resource: { greet(): string; later?: number } = { greet: () => 'first' };
    await using provider = new Revocable(resource);
    const proxy = provider.handle().proxy();
    assert.equal(proxy.greet(), 'first');
    proxy.greet = () => 'second';
    assert.equal(proxy.greet(), 'second', 'a write through the proxy drops the cached method');
    Object.defineProperty(proxy, 'greet', { value: () => 'third', configurable: true, writable: true });
    assert.equal(proxy.greet(), 'third');
    resource.later = 4;
    assert.equal(proxy.later, 4);
  });

  it('after the revoke, a method read before throws when called, and reading it again throws', async () => {
    const provider = new Revocable(new Port());
    const port = provider.handle().proxy();
    assert.equal(port.write('a'), 1); // read once: cached
    await provider.revoke();
    assert.throws(() => port.write('b'), isRevoked);
    assert.throws(() => port.write, isRevoked, 'the refused call dropped the cached method');
  });

  it('reads a getter each time: a getter that returns a function is not cached', async () => {
    let n = 0;
    const resource = {
      get next() {
        const k = ++n;
        return () => k;
      },
    };
    await using provider = new Revocable(resource);
    const proxy = provider.handle().proxy();
    assert.equal(proxy.next(), 1);
    assert.equal(proxy.next(), 2);
  });

  it('a function resource shows its own name and length through the proxy', async () => {
    await using provider = new Revocable(function add(a: number, b: number) {
      return a + b;
    });
    const add = provider.handle().proxy();
    assert.equal(add.name, 'add');
    assert.equal(add.length, 2);
    assert.equal(add(1, 2), 3);
    assert.equal(Object.getOwnPropertyNames(add).includes('prototype'), true, 'the resource\'s own keys, not the stand-in\'s');
  });
});
