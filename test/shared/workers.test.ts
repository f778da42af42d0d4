/**
 * SharedRevocable with real worker threads: a stress of four workers making random async accesses
 * while a random thread revokes at a random moment, round after round; workers terminated in the
 * middle of an access, with and without a reclaim; the owner being a worker; and a process kept
 * alive by an awaited revoke.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { DrainTimeoutError } from '../../src/index.js';
import { manageWorker } from '../../src/node/index.js';
import { SharedRevocable, type SharedRevocableRef } from '../../src/shared/index.js';
import { tsWorker } from '../fixtures/shared/worker.js';
import { runs } from '../support/model.js';
import '../support/leaks.js';

const fixture = (name: string): URL => new URL(`../fixtures/shared/${name}`, import.meta.url);
const message = async (worker: Worker, type: string): Promise<Record<string, unknown>> => {
  for (;;) {
    const [received] = (await once(worker, 'message')) as [Record<string, unknown>];
    if (received['type'] === type) return received;
  }
};
async function holder(): Promise<{ worker: Worker; threadId: number }> {
  const worker = tsWorker(fixture('holder-thread.ts'));
  const { threadId } = await message(worker, 'ready');
  return { worker, threadId: threadId as number };
}
async function attachHolder(ref: SharedRevocableRef): Promise<{ worker: Worker; threadId: number }> {
  const started = await holder();
  started.worker.postMessage({ type: 'attach', ref });
  await message(started.worker, 'attached');
  return started;
}

describe('a worker whose access waits only for the kick', () => {
  it('stays alive inside its access until the revoke kicks it, then exits: the revoke drains it', async () => {
    const shared = SharedRevocable.create({ thread: 'owner' }, { name: 'kick-only' });
    const worker = tsWorker(fixture('kick-only.ts'), { ref: shared.ref });
    const exited = once(worker, 'exit');
    const { active } = await message(worker, 'inside');
    assert.ok((active as string[]).includes('Timeout'), `the access keeps the worker alive (active: ${String(active)})`);
    assert.equal(await shared.revoke({ timeout: 10_000 }), true);
    const [code] = (await exited) as [number];
    assert.equal(code, 0);
  });
});

describe('four workers under a revoke from a random thread at a random moment', () => {
  const workers: Worker[] = [];
  before(async () => {
    for (let i = 0; i < 4; i++) workers.push(tsWorker(fixture('stress-thread.ts')));
    await Promise.all(workers.map((worker) => message(worker, 'ready')));
  });
  after(() => Promise.all(workers.map((worker) => worker.terminate())));

  // Rounds: a tenth of the model tests' run count, at least 10.
  const rounds = Math.max(10, Math.round(runs / 10));
  it(`never lets an access see the resource released, releases once and lets one revoke win, in ${rounds} rounds`, async (t) => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let accesses = 0;
    let kicked = 0;
    for (let round = 0; round < rounds; round++) {
      const alive = new Int32Array(new SharedArrayBuffer(4));
      Atomics.store(alive, 0, 1);
      let releases = 0;
      const shared = SharedRevocable.create({ round }, {
        name: `round ${round}`,
        release: () => {
          releases++;
          Atomics.store(alive, 0, 0);
        },
      });
      const revoker = Math.floor(random() * 5); // 0: this thread; 1-4: a worker
      const revokeAfter = 5 + random() * 40;
      const attached = workers.map((worker) => message(worker, 'attached'));
      workers.forEach((worker, i) => worker.postMessage({ ref: shared.ref, alive: alive.buffer, revokeAfter: revoker === i + 1 ? revokeAfter : null, seed: round * 10 + i }));
      await Promise.all(attached); // the revoke comes while every worker is at work
      const done = workers.map((worker) => message(worker, 'done'));
      const ours = revoker === 0 ? new Promise<boolean>((resolve) => setTimeout(() => resolve(shared.revoke()), revokeAfter)) : Promise.resolve(false);
      const reports = await Promise.all(done);
      const trues = reports.reduce((sum, report) => sum + (report['trues'] as number), 0) + ((await ours) ? 1 : 0) + ((await shared.revoke()) ? 1 : 0);
      assert.deepEqual(reports.flatMap((report) => report['violations'] as string[]), [], `round ${round}`);
      assert.equal(releases, 1, `round ${round}: release once`);
      assert.equal(trues, 1, `round ${round}: one revoke resolved true`);
      assert.equal(shared.state, 'revoked');
      accesses += reports.reduce((sum, report) => sum + (report['accesses'] as number), 0);
      kicked += reports.reduce((sum, report) => sum + (report['kicked'] as number), 0);
    }
    t.diagnostic(`${accesses} accesses in ${rounds} rounds, ${kicked} of them kicked`);
    assert.ok(kicked > 0, 'some accesses were in flight at the revoke and saw the kick');
  });
});

describe('a worker that dies inside an access', () => {
  it('bounds the wait by the timeout when nobody reclaims it, and lets the revoke finish once reclaimed', async () => {
    const release = { calls: 0 };
    const shared = SharedRevocable.create({}, { name: 'db', release: () => void release.calls++ });
    const { worker, threadId } = await attachHolder(shared.ref);
    worker.postMessage({ type: 'busy' });
    await message(worker, 'inside');
    await worker.terminate();
    const error = await shared.revoke({ timeout: 200 }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DrainTimeoutError, 'the dead worker\'s access is still counted');
    assert.equal(error.pending, 1);
    assert.equal(release.calls, 0);
    assert.equal(shared.reclaim(threadId), 1);
    assert.equal(await shared.revoke(), false, 'the winner timed out; this one waits for the same end');
    assert.equal(release.calls, 1);
  });

  it('never blocks the revoke when manageWorker reclaims it on exit', async () => {
    const shared = SharedRevocable.create({}, { name: 'db' });
    const { worker } = await attachHolder(shared.ref);
    const managed = manageWorker(worker);
    worker.postMessage({ type: 'hold' });
    await message(worker, 'inside');
    const revoked = shared.revoke();
    await managed.revoke(); // terminates the worker in the middle of its access
    assert.equal(await revoked, true);
  });

  it('reclaims a worker that crashes on its own, for resources attached in the managing thread', async () => {
    const owner = await holder();
    owner.worker.postMessage({ type: 'create' });
    const { ref } = await message(owner.worker, 'created');
    const joined = SharedRevocable.attach(ref as SharedRevocableRef, {});
    const dying = await attachHolder(ref as SharedRevocableRef);
    const managed = manageWorker(dying.worker);
    dying.worker.postMessage({ type: 'busy' });
    await message(dying.worker, 'inside');
    const released = message(owner.worker, 'released');
    const revoked = joined.revoke();
    await dying.worker.terminate(); // a crash, as far as the revoke can tell
    await managed.exited;
    assert.equal(await revoked, true);
    assert.equal((await released)['thread'], owner.threadId, 'released in the owner, a worker');
    await managed.revoke();
    await owner.worker.terminate();
  });
});

describe('the owner thread', () => {
  it('runs release for a revoke made in another thread, and the revoke resolves after it', async () => {
    const events: string[] = [];
    const shared = SharedRevocable.create({}, { release: () => void events.push('released') });
    const { worker } = await attachHolder(shared.ref);
    worker.postMessage({ type: 'revoke' });
    const { revoked } = await message(worker, 'revoked');
    events.push(`worker's revoke resolved ${String(revoked)}`);
    assert.deepEqual(events, ['released', "worker's revoke resolved true"]);
    assert.equal(shared.state, 'revoked');
    await worker.terminate();
  });

  it('tells revokers elsewhere when it exited before it could release', async () => {
    const owner = await holder();
    owner.worker.postMessage({ type: 'create' });
    const { ref } = await message(owner.worker, 'created');
    const joined = SharedRevocable.attach(ref as SharedRevocableRef, {});
    const held = joined.access();
    const revoked = joined.revoke();
    await owner.worker.terminate();
    joined.reclaim(owner.threadId);
    held.release();
    await assert.rejects(revoked, (e: unknown) => (e as { code?: string }).code === 'ERR_OWNER_GONE' && /release did not run/.test((e as Error).message));
  });
});

describe('an awaited revoke', () => {
  const run = (mode?: string): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, ['--import', 'tsx', fileURLToPathString(fixture('keep-alive.ts')), ...(mode ? [mode] : [])], { encoding: 'utf8', timeout: 60_000 });

  it('keeps the process alive until it settles, where a pending Atomics.waitAsync alone does not', () => {
    const awaited = run();
    assert.equal(awaited.status, 0, awaited.stderr);
    assert.match(awaited.stdout, /released\nrevoke resolved true/);
    const bare = run('bare');
    assert.equal(bare.status, 13, `a bare waitAsync leaves the top-level await unsettled: ${bare.stderr}`);
    assert.doesNotMatch(bare.stdout, /waitAsync resolved/);
  });
});

function fileURLToPathString(url: URL): string {
  return decodeURIComponent(url.pathname);
}
