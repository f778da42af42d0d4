/**
 * The conformance suite, semantics: the guarantees of `revocable/remote` with holders in this
 * process, on real servers, run against every engine from this one source. (The fault tests, with
 * holders in child processes, are in faults.test.ts; the protocol model in remote.model.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DrainTimeoutError, RevokedError } from '../../src/index.js';
import type { HolderLostError} from '../../src/remote/index.js';
import { RemoteHolder, RemoteUnavailableError, StaleTokenError, checkFence, revokeRemote, type RemoteBackend, type RemoteReleaseInfo } from '../../src/remote/index.js';
import { deferred } from '../support/deferred.js';
import '../support/leaks.js';
import { atEnd, connection, engines, ownServer, sharedServer, uniqueName } from './support/engines.js';

for (const engine of engines) {
  describe(`revocable/remote on ${engine.name}`, { skip: engine.skip }, () => {
    const lease = engine.leaseMs;
    const revokerLeaseMs = lease;
    let backend: RemoteBackend;
    const ready = (async () => {
      const server = await sharedServer(engine.name);
      backend = (await connection(engine.name, server.url)).backend;
    })();

    it('drains every holder, kicks the accesses in flight, then raises the fence and releases once', async () => {
      await ready;
      const name = uniqueName('tenant');
      const holders = await Promise.all([1, 2, 3].map((i) => RemoteHolder.attach(backend, name, { i }, { leaseMs: 10_000, holderId: `h${i}` })));
      const tokens = holders.map((h) => h.token);
      assert.equal(new Set(tokens).size, 3, 'every attachment has its own token');
      assert.deepEqual(holders.map((h) => h.state), ['live', 'live', 'live']);
      assert.equal(await backend.fence(name), 0n, 'no fence before a revoke');

      let insideWhenReleased = -1;
      let inside = 0;
      const kicked: boolean[] = [];
      const accesses = holders.map((holder) =>
        holder.handle().with(async (_r, signal) => {
          inside++;
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          kicked.push(signal.aborted);
          inside--;
        }),
      );
      const releases: RemoteReleaseInfo[] = [];
      const result = await revokeRemote(backend, name, {
        revokerLeaseMs,
        release: (info) => {
          insideWhenReleased = inside;
          releases.push(info);
        },
      });
      await Promise.all(accesses);
      assert.equal(result.revoked, true);
      assert.deepEqual(kicked, [true, true, true], 'every access in flight was kicked');
      assert.equal(insideWhenReleased, 0, 'release ran after every access had ended');
      assert.equal(releases.length, 1);
      assert.deepEqual(releases[0], { name, epoch: result.epoch, fence: result.fence, cutOff: [] });
      assert.equal(result.fence, result.epoch, 'the fence is the epoch');
      for (const token of tokens) assert.ok(token < result.epoch, 'every token issued before the begin is below its epoch');
      assert.deepEqual(holders.map((h) => h.state), ['detached', 'detached', 'detached']);
      assert.ok(holders.every((h) => h.epoch === result.epoch));
      assert.equal(await backend.fence(name), result.fence);
      assert.throws(() => checkFence(tokens[0] as bigint, result.fence), StaleTokenError);
      assert.throws(() => holders[0]?.handle(), RevokedError, 'a drained holder refuses');
    });

    it('orders attaches racing a begin: each one either attached before it (token below the epoch) or was refused', async () => {
      await ready;
      const name = uniqueName('race');
      const first = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 });
      const attaches = Array.from({ length: 12 }, (_, i) => RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000, holderId: `racer-${i}` }));
      const revoking = revokeRemote(backend, name, { revokerLeaseMs });
      const outcomes = await Promise.allSettled(attaches);
      const result = await revoking;
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof RevokedError, String(outcome.reason));
        else {
          assert.ok(outcome.value.token < result.epoch, 'an attach that won committed before the begin');
          assert.notEqual(outcome.value.state, 'live', 'and the revoke drained it');
        }
      }
      assert.equal(first.state, 'detached');
      assert.deepEqual(result.cutOff, []);
    });

    it('resolves revoked: true for one call only, and later calls report the same epoch', async () => {
      await ready;
      const name = uniqueName('key');
      const holder = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 });
      let releases = 0;
      const release = (): void => void releases++;
      const results = await Promise.all([1, 2, 3].map(() => revokeRemote(backend, name, { revokerLeaseMs, release })));
      assert.equal(results.filter((r) => r.revoked).length, 1);
      assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
      assert.equal(releases, 1, 'the waiting revokers did not release');
      const later = await revokeRemote(backend, name, { revokerLeaseMs, release });
      assert.equal(later.revoked, false);
      assert.equal(later.epoch, results[0]?.epoch);
      assert.equal(releases, 1);
      assert.equal(holder.state, 'detached');
    });

    it('refuses an attach once the begin has committed, even while holders still drain', async () => {
      await ready;
      const name = uniqueName('device');
      const holder = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 });
      const leave = deferred();
      const entered = deferred();
      const access = holder.handle().with(async () => {
        entered.resolve();
        await leave.promise;
      });
      await entered.promise;
      const revoking = revokeRemote(backend, name, { revokerLeaseMs });
      // The holder learns of the revoke from the engine; once it has, the begin has committed.
      while (holder.state === 'live') await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(holder.state, 'revoking');
      await assert.rejects(RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 }), (error: unknown) => error instanceof RevokedError && error.code === 'ENODEV' && error.message.includes(name));
      assert.throws(() => holder.handle(), RevokedError, 'the local gate is closed');
      leave.resolve();
      await access;
      assert.equal((await revoking).revoked, true);
    });

    it('waits for a holder that ignores the kick until it ends its access by itself', async () => {
      await ready;
      const name = uniqueName('pool');
      const holder = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 });
      const leave = deferred();
      let ended = false;
      const access = holder.handle().with(async () => {
        await leave.promise;
        ended = true;
      });
      let released = false;
      const revoking = revokeRemote(backend, name, { revokerLeaseMs, release: () => void (released = ended) });
      while (holder.state === 'live') await new Promise((resolve) => setTimeout(resolve, 5));
      leave.resolve();
      await access;
      const result = await revoking;
      assert.equal(released, true, 'released after the access ended');
      assert.deepEqual(result.cutOff, []);
    });

    it('cuts off a holder that stopped renewing once its lease expires on the engine, and lists it in cutOff', async () => {
      await ready;
      const name = uniqueName('crashed');
      // An attach with nobody behind it: the engine sees a holder that never renews.
      await backend.attach(name, 'ghost', lease);
      const live = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000, holderId: 'alive' });
      const result = await revokeRemote(backend, name, { revokerLeaseMs });
      assert.deepEqual(result.cutOff, ['ghost']);
      assert.equal(live.state, 'detached');
    });

    it('a detached holder leaves the holder set: the revoke does not wait for it', async () => {
      await ready;
      const name = uniqueName('detach');
      const holder = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 });
      await holder.detach();
      await holder.detach();
      assert.equal(holder.state, 'detached');
      assert.throws(() => holder.handle(), RevokedError);
      const result = await revokeRemote(backend, name, { revokerLeaseMs });
      assert.deepEqual(result.cutOff, []);
      assert.ok(result.drainMs < 1000, `the drain had nobody to wait for (${result.drainMs} ms)`);
    });

    it('refuses a holderId that is already attached to the resource', async () => {
      await ready;
      const name = uniqueName('conflict');
      const first = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000, holderId: 'web-1' });
      await assert.rejects(RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000, holderId: 'web-1' }), (error: unknown) => error instanceof RangeError && /`holderId`/.test(error.message));
      await first.detach();
    });

    it('rejects with DrainTimeoutError when holders outlast the timeout, and a later revoke finishes the job at once', async () => {
      await ready;
      const name = uniqueName('slow');
      const holder = await RemoteHolder.attach(backend, name, {}, { leaseMs: 10_000 });
      const leave = deferred();
      const access = holder.handle().with(() => leave.promise);
      let releases = 0;
      await assert.rejects(
        revokeRemote(backend, name, { timeout: 300, revokerLeaseMs: 30_000, release: () => void releases++ }),
        (error: unknown) => error instanceof DrainTimeoutError && error.code === 'ERR_DRAIN_TIMEOUT' && error.pending === 1 && error.message.includes(name),
      );
      assert.equal(releases, 0, 'nothing released on a timeout');
      leave.resolve();
      await access;
      // The timed-out revoker gave up its claim, so this one does not wait out its 30 s lease.
      const started = performance.now();
      const result = await revokeRemote(backend, name, { revokerLeaseMs, release: () => void releases++ });
      assert.equal(result.revoked, true);
      assert.equal(releases, 1);
      assert.ok(performance.now() - started < 10_000, 'no wait for the abandoned claim');
    });

    it('rejects with what release threw, and the next revokeRemote runs release again', async () => {
      await ready;
      const name = uniqueName('failing');
      const failure = new Error('the database is down');
      let calls = 0;
      await assert.rejects(revokeRemote(backend, name, { revokerLeaseMs, release: () => {
        calls++;
        throw failure;
      } }), failure);
      const result = await revokeRemote(backend, name, { revokerLeaseMs, release: () => void calls++ });
      assert.equal(result.revoked, true);
      assert.equal(calls, 2, 'release is retried: it must be idempotent');
    });

    it('when the engine is gone, a holder self-fences at its deadline and revokeRemote rejects at its timeout with the cause', async () => {
      const server = await ownServer(engine.name);
      const own = (await connection(engine.name, server.url)).backend;
      const name = uniqueName('outage');
      const lost = deferred<HolderLostError>();
      const holder = await RemoteHolder.attach(own, name, {}, { leaseMs: lease, onLost: lost.resolve });
      await server.halt('SIGKILL');
      const started = performance.now();
      const error = await lost.promise;
      const after = performance.now() - started;
      assert.equal(holder.state, 'lost');
      assert.equal(error.reason, 'deadline');
      assert.ok(after <= lease, `self-fenced within the lease (${after.toFixed(0)} ms)`);
      assert.throws(() => holder.handle(), RevokedError);
      await assert.rejects(revokeRemote(own, name, { timeout: 500, revokerLeaseMs }), (thrown: unknown) => thrown instanceof RemoteUnavailableError && thrown.code === 'ERR_REMOTE_UNAVAILABLE' && thrown.cause !== undefined);
      await holder.detach();
    });
  });
}

describe('etcd specifics', { skip: engines.find((e) => e.name === 'etcd')?.skip ?? 'no etcd' }, () => {
  const ready = (async () => {
    const server = await sharedServer('etcd');
    const { Etcd3 } = await import('etcd3');
    const client = new Etcd3({ hosts: server.url });
    atEnd(() => client.close());
    const { etcdBackend } = await import('../../src/remote/index.js');
    return { client, backend: etcdBackend(client) };
  })();
  const key = (name: string, rest: string): string => `revocable/${encodeURIComponent(name)}/${rest}`;

  it('the token is the holder key\'s create revision, and the key lives on the holder\'s lease', async () => {
    const { client, backend } = await ready;
    const name = uniqueName('rev');
    const holder = await RemoteHolder.attach(backend, name, {}, { leaseMs: 2000, holderId: 'h' });
    const { kvs } = await client.get(key(name, 'holders/h')).exec();
    assert.equal(kvs[0]?.create_revision, String(holder.token));
    assert.notEqual(kvs[0]?.lease, '0');
    await holder.detach();
    assert.equal((await client.get(key(name, 'holders/h')).exec()).kvs.length, 0);
  });

  it('attach is a transaction that compares the state key: once it exists, attaches are refused', async () => {
    const { client, backend } = await ready;
    const name = uniqueName('txn');
    await client.put(key(name, 'state')).value(JSON.stringify({ state: 'revoking', fence: '0', revoker: 'elsewhere' }));
    await assert.rejects(RemoteHolder.attach(backend, name, {}, { leaseMs: 2000 }), RevokedError);
    assert.equal((await client.getAll().prefix(key(name, 'holders/')).keys()).length, 0, 'no holder key was written');
  });

  it('begin is a transaction that creates the state key, with the epoch its create revision and the revoker key on the revoker\'s lease', async () => {
    const { client, backend } = await ready;
    const name = uniqueName('claim');
    const begun = await backend.begin(name, 'revoker-1', 4000);
    assert.equal(begun.kind, 'begun');
    const state = (await client.get(key(name, 'state')).exec()).kvs[0];
    const claim = (await client.get(key(name, 'revoker')).exec()).kvs[0];
    assert.equal(state?.create_revision, String(begun.kind === 'begun' ? begun.epoch : ''));
    assert.equal(claim?.value.toString(), 'revoker-1');
    assert.equal(claim?.lease, begun.kind === 'begun' ? begun.lease : '', 'the claim is on the revoker\'s lease');
    const second = await backend.begin(name, 'revoker-2', 4000);
    assert.equal(second.kind, 'busy', 'a second revoker waits while the claim lives');
    const result = await revokeRemote(backend, name, { revokerLeaseMs: 2000 });
    assert.equal(result.revoked, true, 'it takes over once the first claim\'s lease is gone');
  });
});
