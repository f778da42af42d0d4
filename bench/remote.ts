/**
 * `revocable/remote` on Redis and etcd, side by side in one table, each on a real server on
 * loopback that this suite starts: an access through a holder against the core's local `tryWith`
 * (no network on the read path), a revoke across 1, 4, 16 and 64 holder processes that honour the
 * kick, a revoke with a killed holder against its lease, and what a holder costs the engine.
 */
import { Revocable } from '../src/index.js';
import { RemoteHolder, revokeRemote, type RemoteBackend } from '../src/remote/index.js';
import { binaryOf, installHint, startServer, type EngineName } from '../demo/cluster-servers.js';
import { spawnPool } from '../test/fixtures/remote/children.js';
import { connect } from '../test/fixtures/remote/connect.js';
import { consume, median, ratio, timeNs } from './harness.js';

const READS = 2_000_000;
const SIZES = [1, 4, 16, 64] as const;
const ROUNDS: Record<number, number> = { 1: 15, 4: 15, 16: 9, 64: 5 };

interface Figures {
  access: number;
  local: number;
  revoke: Map<number, number[]>;
  killed: { drain: number; lease: number };
  renewal: { perSecond: number; commands: number; roundTripMs: number };
}

/** A backend that counts the engine calls a holder makes. */
function counted(backend: RemoteBackend, count: { calls: number }): RemoteBackend {
  return new Proxy(backend, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        count.calls += key === 'renew' && target.engine === 'etcd' ? 2 : 1; // etcd: a keepalive and a state read
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function measure(engine: EngineName): Promise<Figures> {
  const server = await startServer(engine);
  const { backend, close } = await connect(engine, server.url);
  const lease = engine === 'etcd' ? 2000 : 1000;
  try {
    // The read path: a holder's handle against a core provider's, the same method.
    const resource = { reads: 0, read(): number { return ++this.reads; } };
    const holder = await RemoteHolder.attach(backend, 'bench:read', resource, { leaseMs: 10_000 });
    const holderHandle = holder.handle();
    const local = new Revocable(resource).handle();
    const read = (r: typeof resource): number => r.read();
    let sum = 0;
    const localNs = timeNs(() => { for (let i = 0; i < READS; i++) sum += local.tryWith(read) as number; }, READS);
    const accessNs = timeNs(() => { for (let i = 0; i < READS; i++) sum += holderHandle.tryWith(read) as number; }, READS);
    consume(sum);
    await holder.detach();

    // Renewals at the default lease (10 s, every 3.3 s): calls over one lease, and their round trip.
    const count = { calls: 0 };
    const renewing = await RemoteHolder.attach(counted(backend, count), 'bench:renew', {});
    count.calls = 0;
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const perLease = count.calls;
    await renewing.detach();
    const trips: number[] = [];
    const probe = await backend.attach('bench:trip', 'probe', 10_000);
    if (probe.kind !== 'attached') throw new Error('attach refused');
    for (let i = 0; i < 100; i++) {
      const start = performance.now();
      await backend.renew('bench:trip', { holderId: 'probe', token: probe.token, lease: probe.lease }, 10_000);
      trips.push(performance.now() - start);
    }

    // A killed holder: attached, then never heard from again (what SIGKILL leaves on the engine).
    const killed: number[] = [];
    for (let round = 0; round < 3; round++) {
      const name = `bench:killed:${round}`;
      await backend.attach(name, 'killed', lease);
      const start = performance.now();
      await revokeRemote(backend, name, { revokerLeaseMs: Math.max(2000, lease) });
      killed.push(performance.now() - start);
    }

    // Revokes across holder processes that honour the kick.
    // The pool grows with the size measured, so that the small sizes do not share the machine with
    // 60 idle processes, and each size starts after its processes have settled from their start-up.
    const revoke = new Map<number, number[]>();
    const pool: Awaited<ReturnType<typeof spawnPool>> = [];
    try {
      for (const size of SIZES) {
        if (pool.length < size) {
          pool.push(...(await spawnPool(size - pool.length, { engine, url: server.url, prefix: `holder-${pool.length}` })));
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
        const times: number[] = [];
        for (let round = -1; round < (ROUNDS[size] as number); round++) {
          const name = `bench:revoke:${size}:${round}`;
          const holders = pool.slice(0, size);
          await Promise.all(holders.map((child) => child.attach(name)));
          const start = performance.now();
          const result = await revokeRemote(backend, name, { revokerLeaseMs: 10_000 });
          if (round >= 0) times.push(performance.now() - start); // round -1 warms up

          if (result.cutOff.length > 0) throw new Error(`holders cut off in a healthy revoke: ${result.cutOff.join(', ')}`);
          await Promise.all(holders.map((child) => child.next('drained', (m) => m.name === name)));
        }
        revoke.set(size, times);
      }
    } finally {
      await Promise.all(pool.map((child) => child.kill()));
    }
    return {
      access: accessNs,
      local: localNs,
      revoke,
      killed: { drain: median(killed), lease },
      renewal: { perSecond: perLease / 10, commands: perLease, roundTripMs: median(trips) },
    };
  } finally {
    await close();
    await server.stop();
  }
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
};

export async function run(): Promise<void> {
  const engines = (['redis', 'etcd'] as const).filter((engine) => {
    if (binaryOf(engine) !== undefined) return true;
    console.log(`\n(remote: no ${engine} server here, so no ${engine} column: ${installHint(engine)})`);
    return false;
  });
  const figures = new Map<EngineName, Figures>();
  for (const engine of engines) figures.set(engine, await measure(engine));
  const cell = (engine: EngineName, f: (x: Figures) => string): string => {
    const x = figures.get(engine);
    return x === undefined ? 'n/a' : f(x);
  };
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  const rows: [string, (x: Figures) => string][] = [
    ['access through a holder (`holder.handle().tryWith`)', (x) => `${x.access.toFixed(1)} ns, ${ratio(x.access, x.local, 1.2)} of local`],
    ['the core\'s local `tryWith`, same read', (x) => `${x.local.toFixed(1)} ns`],
    ...SIZES.map((size): [string, (x: Figures) => string] => [
      `revoke, ${size} holder process${size === 1 ? '' : 'es'} honouring the kick: p50 / max`,
      (x) => {
        const times = x.revoke.get(size) ?? [];
        const p50 = quantile(times, 0.5);
        const base = quantile(x.revoke.get(1) ?? [], 0.5);
        const target = size === 4 && x === figures.get('redis') ? ` (target <= 10 ms: ${p50 <= 10 ? 'met' : 'NOT met'})` : size > 1 ? ` (${(p50 / base).toFixed(1)}x of 1)` : '';
        return `${ms(p50)} / ${ms(Math.max(...times))}${target}`;
      },
    ]),
    ['revoke with one killed holder, from the begin', (x) => {
      const bound = x.killed.lease + (figures.get('etcd') === x ? 600 : 100);
      return `${ms(x.killed.drain)} at a ${x.killed.lease} ms lease (target <= ${bound} ms: ${x.killed.drain <= bound ? 'met' : 'NOT met'})`;
    }],
    ['renewal load per holder, default lease (10 s)', (x) => `${x.renewal.perSecond.toFixed(2)} calls/s (${x.renewal.commands} in 10 s), ${(x.renewal.roundTripMs * 1000).toFixed(0)} µs a renewal`],
  ];
  console.log(`\n### Remote: revocation across processes (${engines.join(', ')} on loopback)\n`);
  console.log(`| case | ${engines.map((e) => (e === 'redis' ? 'Redis' : 'etcd')).join(' | ')} |`);
  console.log(`| --- | ${engines.map(() => '---').join(' | ')} |`);
  for (const [name, f] of rows) console.log(`| ${name} | ${engines.map((e) => cell(e, f)).join(' | ')} |`);
}
