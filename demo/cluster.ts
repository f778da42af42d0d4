/**
 * `npm run storm:cluster`: a revocation storm across processes, on a real engine.
 *
 * It starts its own redis-server (or etcd, with `--engine etcd`) on a free loopback port, and N
 * holder processes. Round after round, every holder attaches to a fresh tenant and serves its
 * consumers' writes to a token-checking store; then this process revokes the tenant, across the
 * process boundaries: each holder is kicked, drains and detaches. Half-way through, one holder is
 * SIGKILLed while inside; the revoke of that round cuts it off by its lease. At the end: a
 * verification (0 stale writes, each release once, every holder drained or cut off) and an HTML
 * report with the holders' timeline. Exit code 1 if any invariant broke.
 *
 * Options: --engine redis|etcd, --holders N, --duration SECONDS, --seed N, --report PATH.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { revokeRemote } from 'revocable/remote';
import { spawnPool, type PoolChild } from '../test/fixtures/remote/children.js';
import { connect } from '../test/fixtures/remote/connect.js';
import { FencedStore } from '../test/fixtures/remote/fenced-store.js';
import { binaryOf, installHint, startServer, type EngineName } from './cluster-servers.js';
import { progress } from './progress.js';
import { Random, quantile } from './random.js';
import { renderClusterReport, type DeviceTimeline } from './report.js';

export interface ClusterOptions {
  engine: EngineName;
  holders: number;
  /** Seconds. */
  duration: number;
  seed: number;
  report: string | null;
  out: NodeJS.WriteStream;
}

export interface ClusterResult {
  ok: boolean;
  rounds: number;
  writes: { accepted: number; refused: number; stale: number };
  releases: number;
  killed: string | null;
  cutOff: string[];
  violations: string[];
  revokeMs: number[];
  reportPath: string | null;
  summary: [string, string][];
}

/** Thrown when the engine's server is not installed: the message says how to install it. */
export class EngineMissingError extends Error {
  constructor(engine: EngineName) {
    super(`storm:cluster needs ${engine === 'redis' ? 'redis-server' : 'etcd'} on this machine: ${installHint(engine)} (or choose --engine ${engine === 'redis' ? 'etcd' : 'redis'})`);
    this.name = 'EngineMissingError';
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function clusterStorm(options: ClusterOptions): Promise<ClusterResult> {
  const { engine, out } = options;
  if (binaryOf(engine) === undefined) throw new EngineMissingError(engine);
  const random = new Random(options.seed);
  const leaseMs = engine === 'etcd' ? 2000 : 1000;
  const log = progress(out);
  log.log(`starting ${engine} and ${options.holders} holder processes (lease ${leaseMs} ms)`);
  const server = await startServer(engine);
  const { backend, close } = await connect(engine, server.url);
  let pool: PoolChild[] = [];
  const violations: string[] = [];
  const timelines = new Map<PoolChild, DeviceTimeline>();
  const revokes: string[] = [];
  const revokeMs: number[] = [];
  const healthy: number[] = [];
  const writes = { accepted: 0, refused: 0, stale: 0 };
  let releases = 0;
  let rounds = 0;
  let killed: string | null = null;
  let killedRevoke = 'none';
  const cutOff: string[] = [];
  // The clock starts once the holders are up: the run's duration is the storm's, not the start-up's.
  let t0 = performance.now();
  let origin: number;
  const now = (): number => performance.now() - t0;
  try {
    pool = await spawnPool(options.holders, { engine, url: server.url, leaseMs, prefix: 'holder' });
    t0 = performance.now();
    origin = performance.timeOrigin + t0;
    pool.forEach((child, i) => timelines.set(child, { name: `holder-${i}`, bound: [], drains: [], ops: [], unplugs: [] }));
    const idOf = (child: PoolChild): string => timelines.get(child)?.name as string;
    let alive = [...pool];
    const killAt = (options.duration * 1000) / 2;
    while (now() < options.duration * 1000 && alive.length > 0) {
      const name = `tenant:${rounds}`;
      const store = await new FencedStore().start();
      try {
        const attachedAt = now();
        await Promise.all(alive.map((child) => child.attach(name, { store: store.url, writeEveryMs: 5 })));
        await pause(random.int(150, 500));
        let victim: PoolChild | undefined;
        if (killed === null && now() >= killAt && alive.length > 1) {
          victim = random.pick(alive);
          await victim.kill();
          killed = idOf(victim);
          timelines.get(victim)?.unplugs.push({ at: now(), how: 'kill' });
          timelines.get(victim)?.bound.push({ from: attachedAt, to: now() });
          alive = alive.filter((child) => child !== victim);
          log.log(`  ${killed} SIGKILLed while inside ${name}`);
        }
        const begun = now();
        let releasedHere = 0;
        const result = await revokeRemote(backend, name, {
          revokerLeaseMs: Math.max(2000, leaseMs),
          release: (info) => {
            releasedHere++;
            store.release(info.fence);
          },
        });
        const took = now() - begun;
        revokeMs.push(took);
        const drained = await Promise.all(alive.map((child) => child.next('drained', (m) => m.name === name)));
        for (const [i, child] of alive.entries()) {
          const message = drained[i];
          const timeline = timelines.get(child) as DeviceTimeline;
          const at = (message?.at ?? origin) - origin;
          timeline.bound.push({ from: attachedAt, to: begun });
          timeline.drains.push({ from: begun, to: Math.max(begun, at) });
          if (message?.state !== 'detached') violations.push(`${idOf(child)} ended ${name} ${message?.state}, not detached`);
        }
        if (!result.revoked) violations.push(`${name}: the revoke did not report revoked: true`);
        if (releasedHere !== 1 || store.releases !== 1) violations.push(`${name}: released ${store.releases} times`);
        const expectedCut = victim === undefined ? [] : [idOf(victim)];
        if (JSON.stringify(result.cutOff) !== JSON.stringify(expectedCut)) violations.push(`${name}: cut off ${JSON.stringify(result.cutOff)}, expected ${JSON.stringify(expectedCut)}`);
        cutOff.push(...result.cutOff);
        // Writes still in flight when the store went away would be uncounted: let them land.
        await pause(20);
        writes.accepted += store.writes.filter((w) => w.accepted).length;
        writes.refused += store.writes.filter((w) => !w.accepted).length;
        writes.stale += store.staleAccepted;
        releases += releasedHere;
        const line = `${alive.length} drained${result.cutOff.length > 0 ? `, cut off ${result.cutOff.join(', ')}` : ''} in ${took.toFixed(1)} ms (epoch ${result.epoch}, fence ${result.fence})`;
        revokes.push(`${name}: ${line}`);
        if (result.cutOff.length > 0) killedRevoke = `${line}, at a ${leaseMs} ms lease`;
        else healthy.push(took);
        log.update([`round ${rounds + 1}: ${name} revoked in ${took.toFixed(1)} ms | writes ${writes.accepted} accepted, ${writes.stale} stale | holders ${alive.length}${killed === null ? '' : ` (${killed} killed)`}`]);
      } finally {
        await store.stop();
      }
      rounds++;
    }
  } finally {
    await Promise.all(pool.map((child) => child.kill()));
    await close();
    await server.stop();
    log.done();
  }
  if (writes.stale > 0) violations.push(`${writes.stale} stale writes accepted after a release`);
  if (killed !== null && !cutOff.includes(killed)) violations.push(`${killed} was killed but never cut off`);
  const ok = violations.length === 0 && rounds > 0;
  const summary: [string, string][] = [
    ['engine', `${engine} on 127.0.0.1:${server.port}`],
    ['holder processes', `${options.holders}${killed === null ? '' : ` (${killed} SIGKILLed mid-run)`}`],
    ['revokes', `${rounds}, each released once: ${releases === rounds ? 'yes' : 'NO'}`],
    ['revoke time p50 / max (healthy)', `${quantile(healthy, 0.5).toFixed(1)} ms / ${Math.max(...healthy, 0).toFixed(1)} ms`],
    ['revoke with the killed holder', killedRevoke],
    ['writes accepted / refused', `${writes.accepted} / ${writes.refused}`],
    ['stale writes accepted', String(writes.stale)],
    ['holders drained or cut off', violations.some((v) => /not detached|cut off/.test(v)) ? 'NO' : 'every one'],
  ];
  const width = Math.max(...summary.map(([k]) => k.length));
  out.write(`\n${summary.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n\n`);
  for (const violation of violations) out.write(`violation: ${violation}\n`);
  out.write(ok ? 'verified: every invariant held\n' : 'NOT verified\n');
  let reportPath: string | null = null;
  if (options.report !== null) {
    reportPath = options.report;
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(
      reportPath,
      renderClusterReport({
        title: `Cluster storm on ${engine}: ${options.holders} holder processes, ${rounds} revokes`,
        summary,
        verdict: { ok, text: ok ? 'verified: every invariant held' : `NOT verified: ${violations.join('; ')}` },
        duration: now(),
        holders: [...timelines.values()],
        revokes,
      }),
    );
    out.write(`report: ${reportPath}\n`);
  }
  return { ok, rounds, writes, releases, killed, cutOff, violations, revokeMs, reportPath, summary };
}

async function main(): Promise<void> {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  const { values } = parseArgs({
    options: {
      engine: { type: 'string', default: 'redis' },
      holders: { type: 'string', default: '4' },
      duration: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
      report: { type: 'string', default: 'report/cluster.html' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('npm run storm:cluster -- [--engine redis|etcd] [--holders 4] [--duration 8] [--seed 1] [--report report/cluster.html]\n');
    return;
  }
  if (values.engine !== 'redis' && values.engine !== 'etcd') throw new RangeError(`--engine must be redis or etcd, got ${values.engine}`);
  const number = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name} must be a number >= ${min}, got ${value}`);
    return n;
  };
  try {
    const result = await clusterStorm({
      engine: values.engine,
      holders: number('holders', values.holders, 2),
      duration: number('duration', values.duration, 0.5),
      seed: number('seed', values.seed, 0),
      report: values.report === '' ? null : values.report,
      out: process.stdout,
    });
    process.exitCode = result.ok ? 0 : 1;
  } catch (error) {
    if (!(error instanceof EngineMissingError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
