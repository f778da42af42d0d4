/**
 * The conformance suite, faults: holders in real child processes on real servers, killed,
 * stopped, partitioned and disconnected, against every engine from this one source. The engines
 * run side by side; within one, a test at a time, so that a test measuring a bound does not share
 * the machine with a burst of child processes starting up. Each test has its own resource, and
 * its own server when it disturbs one.
 *
 * Time bounds here are the ones the contract states (a killed holder is cut off within a fixed
 * bound of its lease expiry); each is measured against the expiry estimated from the holder's own
 * renewals, whose reply time is an upper bound on when the engine last extended the lease. Orders
 * are never decided by a sleep: every wait is for a message or a condition.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { RevokedError } from '../../src/index.js';
import { RemoteHolder, revokeRemote } from '../../src/remote/index.js';
import { runRevoke } from '../../src/remote/revoke.js';
import { defaultRuntime } from '../../src/remote/internal/runtime.js';
import { spawnHolder, spawnRevoker, type HolderChild } from '../fixtures/remote/children.js';
import { wallNow } from '../fixtures/remote/connect.js';
import { FencedStore } from '../fixtures/remote/fenced-store.js';
import { TcpProxy } from '../fixtures/remote/proxy.js';
import '../support/leaks.js';
import { atEnd, connection, engines, ownServer, sharedServer, uniqueName, type Engine } from './support/engines.js';

/**
 * Slack on top of a contract's latency bound, for timers that fire late on a loaded 2-core machine
 * shared with other work (seen: 118 ms against Redis's 100 ms bound at a load average of 20). The
 * bound itself is measured without load by `npm run bench -- remote` (4 ms past a 1 s lease on
 * Redis), and each run prints the lateness it saw as a diagnostic.
 */
const LOAD_SLACK_MS = 250;

const until = async (condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** The URL of a server's port, for a client that connects through a proxy. */
const urlOf = (engine: Engine, port: number): string => (engine.name === 'redis' ? `redis://127.0.0.1:${port}` : `http://127.0.0.1:${port}`);

/** When the engine's lease of `holder` ends at the latest: its last renewal's reply plus the lease. */
const expiryOf = (holder: HolderChild, leaseMs: number): { earliest: number; latest: number } => {
  const renewal = holder.lastRenewal();
  const attached = holder.all('attached')[0]?.at ?? 0;
  return { earliest: (renewal?.sentAt ?? attached) + leaseMs, latest: Math.max(renewal?.repliedAt ?? 0, attached) + leaseMs };
};

describe('revocable/remote under faults', { concurrency: true }, () => {
  for (const engine of engines) {
    // One test at a time per engine, the engines side by side: the tests that measure a bound do
    // not share the machine with a burst of child processes starting up.
    // The timeout turns a hang (a bug) into a failure that names the test, instead of a stuck run.
    describe(`on ${engine.name}`, { skip: engine.skip, concurrency: 1, timeout: 300_000 }, () => {
      const lease = engine.leaseMs;
      const revokerLeaseMs = lease;
      const children: HolderChild[] = [];
      atEnd(() => Promise.all(children.map((child) => child.kill())));
      const spawn = async (url: string, name: string, holderId: string, extra: { leaseMs?: number; subscriberReconnects?: boolean } = {}): Promise<HolderChild> => {
        const child = await spawnHolder({ engine: engine.name, url, name, holderId, leaseMs: extra.leaseMs ?? lease, ...(extra.subscriberReconnects === false ? { subscriberReconnects: false } : {}) });
        children.push(child);
        return child;
      };
      const shared = (async () => {
        const server = await sharedServer(engine.name);
        return { server, backend: (await connection(engine.name, server.url)).backend };
      })();

      it(`a holder SIGKILLed while inside is cut off within ${engine.expiryBoundMs} ms of its lease expiry and listed in cutOff`, async (t) => {
        const { server, backend } = await shared;
        const name = uniqueName('killed');
        const [good, doomed] = await Promise.all([spawn(server.url, name, 'good'), spawn(server.url, name, 'doomed')]);
        good.send({ type: 'enter', honourKick: true });
        doomed.send({ type: 'enter', honourKick: false });
        await Promise.all([good.next('entered'), doomed.next('entered'), doomed.next('renewed')]);
        await doomed.kill();
        const expiry = expiryOf(doomed, lease);
        const result = await revokeRemote(backend, name, { revokerLeaseMs });
        const resolvedAt = wallNow();
        assert.deepEqual(result.cutOff, ['doomed']);
        assert.equal(result.revoked, true);
        await good.next('state', (m) => m.state === 'detached');
        assert.ok(resolvedAt >= expiry.earliest - 20, `not before the lease could have expired (${(resolvedAt - expiry.earliest).toFixed(0)} ms)`);
        const late = resolvedAt - expiry.latest;
        t.diagnostic(`resolved ${late.toFixed(0)} ms after the lease expiry (the contract's bound: ${engine.expiryBoundMs} ms)`);
        assert.ok(late <= engine.expiryBoundMs + LOAD_SLACK_MS, `resolved ${late.toFixed(0)} ms after the lease expiry (bound ${engine.expiryBoundMs} ms + ${LOAD_SLACK_MS} ms slack)`);
        await good.kill();
      });

      it('a holder SIGSTOPped then SIGCONTed: its late writes are refused, none is accepted after release, and it is lost', async () => {
        const { server, backend } = await shared;
        const store = await new FencedStore().start();
        try {
          const name = uniqueName('stopped');
          const holder = await spawn(server.url, name, 'sleeper');
          holder.send({ type: 'enter', honourKick: false, writeEveryMs: 20, store: store.url });
          await until(() => store.writes.filter((w) => w.accepted).length >= 3, 'writes before the pause');
          holder.signal('SIGSTOP');
          const result = await revokeRemote(backend, name, { revokerLeaseMs, release: (info) => store.release(info.fence) });
          assert.deepEqual(result.cutOff, ['sleeper']);
          assert.equal(store.fence, result.fence);
          holder.signal('SIGCONT');
          const lost = await holder.next('state', (m) => m.state === 'lost');
          assert.ok(lost.reason === 'deadline' || lost.reason === 'cut-off');
          await until(() => store.writes.some((w) => w.afterRelease && !w.accepted), 'a late write');
          assert.equal(store.staleAccepted, 0, 'no stale write accepted after the release');
          assert.ok(store.writes.filter((w) => !w.accepted).every((w) => w.token < store.fence));
          assert.equal(store.releases, 1);
          await holder.kill();
        } finally {
          await store.stop();
        }
      });

      it('with the subscriber connections dropped, the revoke still completes through renewals and polling', async () => {
        const server = await ownServer(engine.name);
        const proxy = await new TcpProxy(server.port).start();
        try {
          const own = (await connection(engine.name, server.url, { subscriberReconnects: false })).backend;
          const name = uniqueName('deaf');
          const holders = await Promise.all(['a', 'b'].map((id) => spawn(urlOf(engine, proxy.port), name, id, { subscriberReconnects: false })));
          for (const holder of holders) holder.send({ type: 'enter', honourKick: true });
          await Promise.all(holders.map((h) => h.next('entered')));
          // The revoker's subscriber too: in subscriber mode before the kill, so that the kill takes it.
          const unwatch = await own.watch(name, () => {});
          if (engine.name === 'redis') {
            // Every subscriber connection on this server, the holders' and the revoker's; none reconnects.
            const client = await createClient({ url: server.url }).connect();
            const killed = Number(await client.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
            client.destroy();
            assert.equal(killed, 3, 'the two holders\' subscribers and the revoker\'s were killed');
          } else {
            // The holders' one connection, their watch stream with it, dropped under them.
            proxy.reset();
          }
          const result = await revokeRemote(own, name, { revokerLeaseMs });
          await unwatch();
          assert.equal(result.revoked, true);
          assert.deepEqual(result.cutOff, [], 'both holders learned of the revoke and detached: none was cut off');
          await Promise.all(holders.map((h) => h.next('state', (m) => m.state === 'detached')));
          for (const holder of holders) await holder.kill();
        } finally {
          await proxy.stop();
        }
      });

      it('a revoker SIGKILLed mid-drain: a second revokeRemote takes over and completes the revoke', async () => {
        const { server, backend } = await shared;
        const name = uniqueName('orphaned');
        const holder = await spawn(server.url, name, 'h');
        holder.send({ type: 'enter', honourKick: false });
        await holder.next('entered');
        const revoker = spawnRevoker({ engine: engine.name, url: server.url, name, revokerLeaseMs });
        const begun = await revoker.next('begun');
        await holder.next('state', (m) => m.state === 'revoking');
        await revoker.kill();
        holder.send({ type: 'leave' });
        await holder.next('state', (m) => m.state === 'detached');
        let releases = 0;
        const result = await revokeRemote(backend, name, { revokerLeaseMs, release: () => void releases++ });
        assert.equal(result.revoked, true);
        assert.equal(String(result.epoch), begun.epoch, 'the same revoke, taken over');
        assert.equal(releases, 1);
        assert.equal(revoker.all('released').length, 0, 'the killed revoker never released');
        await holder.kill();
      });

      it(
        engine.name === 'redis'
          ? 'redis-server restarted with appendonly yes, mid-revoke and after: the revoke completes and the revocation survives'
          : 'etcd restarted mid-revoke: the watch resumes from its revision, no event is lost, and the revocation survives',
        async () => {
          const server = await ownServer(engine.name, { appendonly: true });
          const own = (await connection(engine.name, server.url)).backend;
          const name = uniqueName('durable');
          const holder = await spawn(server.url, name, 'h', { leaseMs: engine.name === 'etcd' ? 10_000 : 4000 });
          holder.send({ type: 'enter', honourKick: false });
          await holder.next('entered');
          // With a watch that resumes, the revoker gets no help from polling: its poll and its claim's
          // renewal are minutes apart, so only the resumed watch can report the detach in time.
          const runtime = engine.watchResumes ? { ...defaultRuntime, pollMs: 600_000 } : defaultRuntime;
          const revoking = runRevoke(own, name, { revokerLeaseMs: engine.watchResumes ? 600_000 : revokerLeaseMs }, runtime);
          await holder.next('state', (m) => m.state === 'revoking');
          await server.restart();
          holder.send({ type: 'leave' });
          const left = wallNow();
          const result = await revoking;
          assert.equal(result.revoked, true);
          assert.deepEqual(result.cutOff, []);
          if (engine.watchResumes) assert.ok(wallNow() - left < 60_000, 'woken by the resumed watch, not by a poll');
          await server.restart();
          await assert.rejects(RemoteHolder.attach(own, name, {}, { leaseMs: lease }), RevokedError);
          assert.equal(await own.fence(name), result.fence, 'the fence survived the restart');
          const again = await revokeRemote(own, name, { revokerLeaseMs });
          assert.deepEqual([again.revoked, again.epoch], [false, result.epoch]);
          await holder.kill();
        },
      );

      it('behind a proxy that blackholes, the holder self-fences before the engine cuts it off', async () => {
        const { server, backend } = await shared;
        const proxy = await new TcpProxy(server.port).start();
        try {
          const name = uniqueName('partitioned');
          const holder = await spawn(urlOf(engine, proxy.port), name, 'island');
          holder.send({ type: 'enter', honourKick: false });
          await Promise.all([holder.next('entered'), holder.next('renewed')]);
          proxy.blackhole();
          const revoking = revokeRemote(backend, name, { revokerLeaseMs });
          const lost = await holder.next('state', (m) => m.state === 'lost');
          const result = await revoking;
          const resolvedAt = wallNow();
          assert.equal(lost.reason, 'deadline');
          assert.deepEqual(result.cutOff, ['island']);
          const { earliest } = expiryOf(holder, lease);
          assert.ok(lost.at < earliest, `self-fenced ${(earliest - lost.at).toFixed(0)} ms before the engine could cut it off`);
          assert.ok(lost.at < resolvedAt);
          await holder.kill();
        } finally {
          await proxy.stop();
        }
      });
    });
  }
});
