import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, describe, it, mock, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { RevokedError } from '../src/index.js';
import { ParallelScope, manageChildProcess, manageWorker, type ManagedWorkerOptions } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/node/${name}`, import.meta.url));

/** Spawns a fixture, resolves once it has said `ready`; it is SIGKILLed after the test if alive. */
async function child(t: TestContext, name: string): Promise<{ child: ChildProcess; output: () => string; closed: Promise<unknown> }> {
  const proc = spawn(process.execPath, [fixture(name)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let text = '';
  const closed = once(proc.stdout!, 'close');
  proc.stdout?.setEncoding('utf8');
  const ready = new Promise<void>((resolve) =>
    proc.stdout?.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('ready\n')) resolve();
    }),
  );
  await ready;
  return { child: proc, output: () => text, closed };
}

describe('ManagedChildProcess', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('sends SIGTERM and resolves once a child that traps it has cleaned up and exited', async (t) => {
    const { child: proc, output, closed } = await child(t, 'trap-sigterm.mjs');
    const managed = manageChildProcess(proc, { grace: 10_000 });
    assert.equal(await managed.revoke(), true);
    assert.notEqual(proc.exitCode, null, 'the process has exited when revoke resolves');
    assert.deepEqual(managed.exit, { code: 0, signal: null, forced: false });
    await closed;
    assert.equal(output(), 'ready\ncleaning up\nbye\n');
  });

  it('sends SIGKILL after the grace period to a child that ignores SIGTERM', async (t) => {
    const { child: proc, output, closed } = await child(t, 'ignore-sigterm.mjs');
    const kill = mock.method(proc, 'kill');
    const managed = manageChildProcess(proc, { grace: 100 });
    await managed.revoke();
    assert.deepEqual(kill.mock.calls.map((c) => c.arguments[0]), ['SIGTERM', 'SIGKILL']);
    assert.deepEqual(managed.exit, { code: null, signal: 'SIGKILL', forced: true });
    await closed;
    assert.equal(output(), 'ready\nignored SIGTERM\n');
  });

  it('uses the kill signal it is given', async (t) => {
    const { child: proc } = await child(t, 'ignore-sigterm.mjs');
    const managed = manageChildProcess(proc, { killSignal: 'SIGINT', grace: 10_000 });
    await managed.revoke();
    assert.deepEqual(managed.exit, { code: null, signal: 'SIGINT', forced: false });
  });

  it('resolves at once, sending nothing, for a process that has already exited', async () => {
    const proc = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    await once(proc, 'exit');
    const kill = mock.method(proc, 'kill');
    const managed = manageChildProcess(proc);
    await managed.revoke();
    assert.equal(kill.mock.callCount(), 0);
    assert.deepEqual(managed.exit, { code: 3, signal: null, forced: false });
  });

  it('resolves at once for a spawn that failed', async () => {
    const proc = spawn('/nonexistent/revocable-test-binary');
    const failed = once(proc, 'error');
    const managed = manageChildProcess(proc);
    assert.equal(managed.pid, undefined);
    await managed.revoke();
    const [error] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ENOENT');
    assert.equal(managed.exit?.forced, false);
  });

  it('drains the accesses in flight before signalling the process', async (t) => {
    const { child: proc } = await child(t, 'trap-sigterm.mjs');
    const kill = mock.method(proc, 'kill');
    const managed = manageChildProcess(proc);
    const access = managed.access();
    const revoked = managed.revoke();
    assert.ok(access.signal.aborted, 'the access is kicked');
    assert.equal(await state(revoked), 'pending');
    assert.equal(kill.mock.callCount(), 0, 'no signal while an access is held');
    access.release();
    await revoked;
    assert.equal(kill.mock.callCount(), 1);
  });

  it('is revoked by its own exit: a job in flight rejects at once, and the next one too', async (t) => {
    const { child: proc } = await child(t, 'trap-sigterm.mjs');
    const managed = manageChildProcess(proc, { name: 'indexer' });
    const kill = mock.method(proc, 'kill');
    const job = managed.with(() => new Promise<never>(() => {})); // waits for an answer that never comes
    process.kill(proc.pid as number, 'SIGTERM'); // it exits by itself, not through the revoke
    await assert.rejects(job, (error: RevokedError) => error instanceof RevokedError && /ManagedChildProcess "indexer" exited with code 0/.test(error.message));
    assert.notEqual(managed.state, 'live');
    assert.throws(() => managed.with(() => 1), RevokedError);
    assert.equal(managed.tryWith(() => 1), undefined);
    assert.equal(await managed.revoke({ timeout: 10 }), false, 'revoked by the exit already');
    assert.equal(kill.mock.callCount(), 0, 'no signal to a process that has exited');
    assert.deepEqual(managed.exit, { code: 0, signal: null, forced: false });
  });

  it('kills a process whose job ignores the kick once the grace has passed, and the job rejects', async (t) => {
    const { child: proc } = await child(t, 'ignore-sigterm.mjs');
    const managed = manageChildProcess(proc, { grace: 100 });
    const job = managed.with(() => new Promise<never>(() => {}));
    const revoked = managed.revoke();
    await assert.rejects(job, RevokedError);
    assert.equal(await revoked, true);
    assert.deepEqual(managed.exit, { code: null, signal: 'SIGKILL', forced: true });
  });

  it('brings the kill forward for a revoke with a shorter timeout', async (t) => {
    const { child: proc } = await child(t, 'ignore-sigterm.mjs');
    const managed = manageChildProcess(proc, { grace: 60_000 });
    await managed.revoke({ timeout: 0 });
    assert.deepEqual(managed.exit, { code: null, signal: 'SIGKILL', forced: true });
  });

  it('refuses bad arguments', async () => {
    assert.throws(() => manageChildProcess({} as ChildProcess), /Expected `child` to be a ChildProcess/);
    const proc = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    assert.throws(() => manageChildProcess(proc, { grace: -1 }), RangeError);
    assert.throws(() => manageChildProcess(proc, { grace: 2 ** 31 }), /Expected `options.grace` to be a number of milliseconds from 0 to 2147483647/);
    assert.throws(() => manageChildProcess(proc, { timeout: 2 ** 31 }), /Expected `options.timeout`/);
    assert.throws(() => manageChildProcess(proc, { killSignal: 'SIGNOPE' as NodeJS.Signals }), /Expected `options.killSignal` to be a signal name/);
    await once(proc, 'exit');
  });
});

/** A fixture worker, ready for messages; terminated after the test if still running. */
async function worker(t: TestContext): Promise<{ worker: Worker; next: () => Promise<unknown> }> {
  const w = new Worker(fixture('worker-task.mjs'));
  t.after(() => w.terminate());
  const messages: unknown[] = [];
  const waiting: ((m: unknown) => void)[] = [];
  w.on('message', (m: unknown) => {
    const wait = waiting.shift();
    if (wait) wait(m);
    else messages.push(m);
  });
  const next = (): Promise<unknown> => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((resolve) => waiting.push(resolve)));
  assert.equal(await next(), 'ready');
  return { worker: w, next };
}

describe('ManagedWorker', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('terminates a worker blocked mid-task and resolves once its thread has exited', async (t) => {
    const { worker: w, next } = await worker(t);
    w.postMessage('busy');
    assert.equal(await next(), 'started');
    const managed = manageWorker(w);
    await managed.revoke();
    assert.equal(w.threadId, -1);
    assert.deepEqual(managed.exit, { code: 1, forced: true });
  });

  it('asks a worker to stop and lets it finish its task within the grace period', async (t) => {
    const { worker: w, next } = await worker(t);
    w.postMessage('work');
    assert.equal(await next(), 'started');
    const terminate = mock.method(w, 'terminate');
    const managed = manageWorker(w, { stop: (target) => target.postMessage('stop'), grace: 10_000 });
    const finished = next();
    await managed.revoke();
    assert.equal(await finished, 'finished');
    assert.equal(terminate.mock.callCount(), 0);
    assert.deepEqual(managed.exit, { code: 0, forced: false });
  });

  it('terminates a worker that does not stop within the grace period', async (t) => {
    const { worker: w, next } = await worker(t);
    w.postMessage('busy'); // blocked: it never reads 'stop'
    assert.equal(await next(), 'started');
    const managed = manageWorker(w, { stop: (target) => target.postMessage('stop'), grace: 50 });
    await managed.revoke();
    assert.deepEqual(managed.exit, { code: 1, forced: true });
  });

  it('resolves at once for a worker that has already exited', async (t) => {
    const { worker: w } = await worker(t);
    await w.terminate();
    const managed = manageWorker(w);
    await managed.revoke();
    assert.equal(managed.exit?.forced, false);
  });

  it('is revoked by an uncaught error in the worker: the job in flight rejects at once with the error as cause', async (t) => {
    const { worker: w } = await worker(t);
    const managed = manageWorker(w, { name: 'hasher' });
    const warned = deferred<Error>();
    const onWarning = (warning: Error): void => warned.resolve(warning);
    process.once('warning', onWarning);
    t.after(() => void process.removeListener('warning', onWarning));
    const job = managed.with(async (target) => {
      target.postMessage('crash');
      return new Promise<never>(() => {}); // ignores its signal: only the exit ends it
    });
    await assert.rejects(job, (error: RevokedError) => {
      assert.ok(error instanceof RevokedError);
      assert.equal(error.code, 'ENODEV');
      assert.match(error.message, /ManagedWorker "hasher" exited with code 1 after an uncaught error/);
      assert.match(String((error.cause as Error).message), /worker crashed/);
      return true;
    });
    assert.match((await warned.promise).message, /worker crashed/, 'the crash is not silent');
    assert.throws(() => managed.with(() => 1), /exited with code 1/);
    assert.equal(await managed.revoke({ timeout: 10 }), false, 'the exit revoked it; no DrainTimeoutError');
    assert.equal(managed.exit?.code, 1);
    assert.equal(managed.exit?.forced, false);
    assert.match(String((managed.exit?.error as Error).message), /worker crashed/);
  });

  it('is revoked by process.exit(1) in the worker: the next job rejects at once', async (t) => {
    const { worker: w } = await worker(t);
    const managed = manageWorker(w);
    const echo = (text: string): Promise<unknown> =>
      managed.with(async (target, signal) => {
        target.postMessage({ echo: text });
        const [reply] = (await once(target, 'message', { signal })) as [unknown];
        return reply;
      });
    assert.deepEqual(await echo('one'), { echo: 'one' });
    w.postMessage('exit');
    await managed.exited;
    assert.equal(managed.revoked, true, 'revoked by the exit');
    await assert.rejects(async () => echo('two'), RevokedError);
    assert.deepEqual(managed.exit, { code: 1, forced: false });
  });

  it('terminates a worker whose job ignores the kick once the grace has passed: forced, and the job rejects', async (t) => {
    const { worker: w } = await worker(t);
    const managed = manageWorker(w, { grace: 100 });
    const kicked = deferred<boolean>();
    const job = managed.with((target, signal) => {
      target.postMessage('hang');
      signal.addEventListener('abort', () => kicked.resolve(true));
      return new Promise<never>(() => {});
    });
    const revoked = managed.revoke();
    assert.equal(await kicked.promise, true, 'the job was kicked first');
    await assert.rejects(job, RevokedError);
    assert.equal(await revoked, true);
    assert.equal(w.threadId, -1);
    assert.deepEqual(managed.exit, { code: 1, forced: true });
  });

  it('terminates at once for revoke({ timeout: 0 }), whatever the grace', async (t) => {
    const { worker: w, next } = await worker(t);
    w.postMessage('busy');
    assert.equal(await next(), 'started');
    const managed = manageWorker(w, { stop: (target) => target.postMessage('stop'), grace: 60_000 });
    await managed.revoke({ timeout: 0 });
    assert.deepEqual(managed.exit, { code: 1, forced: true });
  });

  for (const [what, stop] of [
    ['throws', (): never => { throw new Error('stop failed'); }],
    ['returns a promise that rejects', (): Promise<never> => Promise.reject(new Error('stop failed'))],
    ['returns a revoked Proxy', (): unknown => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; }],
  ] as const) {
    it(`terminates at once, with a warning, when stop ${what}`, async (t) => {
      const { worker: w } = await worker(t);
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => void warnings.push(warning.message);
      process.on('warning', onWarning);
      t.after(() => void process.removeListener('warning', onWarning));
      const managed = manageWorker(w, { stop, grace: 60_000 });
      await managed.revoke();
      assert.deepEqual(managed.exit, { code: 1, forced: true });
      while (warnings.length === 0) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.length, 1);
    });
  }

  it('releases the access of a job that returns a revoked Proxy, and throws what reading it threw', async (t) => {
    const { worker: w } = await worker(t);
    const managed = manageWorker(w);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    assert.throws(() => managed.with(() => proxy), TypeError);
    assert.equal(managed.accesses, 0, 'no access leaked');
    await managed.revoke();
  });

  it('stops N workers side by side in a ParallelScope: every stop is asked before any grace has passed', async (t) => {
    const N = 4;
    const GRACE = 1_000;
    const workers = await Promise.all(Array.from({ length: N }, () => worker(t)));
    for (const { worker: w } of workers) w.postMessage('busy'); // deaf to 'stop': each needs its grace
    await Promise.all(workers.map(({ next }) => next()));
    const events: string[] = [];
    const pool = new ParallelScope({ name: 'workers' });
    for (const [i, { worker: w }] of workers.entries()) {
      w.once('exit', () => events.push(`exit ${i}`));
      pool.use(manageWorker(w, { grace: GRACE, stop: (target) => (events.push(`stop ${i}`), target.postMessage('stop')) }));
    }
    const start = performance.now();
    await pool.disposeAsync();
    const elapsed = performance.now() - start;
    const firstExit = events.findIndex((e) => e.startsWith('exit'));
    assert.equal(events.slice(0, firstExit).filter((e) => e.startsWith('stop')).length, N, `all asked before the first exit: ${events.join(', ')}`);
    assert.equal(events.filter((e) => e.startsWith('exit')).length, N);
    // One after another would take at least N graces; side by side takes about one. The bound
    // leaves N - 1 graces of slack for a slow machine.
    t.diagnostic(`${N} workers with a ${GRACE} ms grace stopped in ${Math.round(elapsed)} ms`);
    assert.ok(elapsed < N * GRACE, `took ${elapsed} ms`);
  });

  it('refuses bad arguments, before anything is changed', async (t) => {
    assert.throws(() => manageWorker({} as Worker), /Expected `worker` to be a worker_threads Worker/);
    const { worker: w } = await worker(t);
    assert.throws(() => manageWorker(w, { grace: 2 ** 31 }), /Expected `options.grace` to be a number of milliseconds from 0 to 2147483647/);
    assert.throws(() => manageWorker(w, { stop: 'stop' as never }), /Expected `options.stop` to be a function/);
    assert.equal(w.listenerCount('exit'), 0, 'nothing was attached to the worker');
    const reads: string[] = [];
    const options = new Proxy({ grace: 10 }, { get: (target, key: string) => (reads.push(key), target[key as 'grace']) });
    const managed = manageWorker(w, options as ManagedWorkerOptions);
    assert.deepEqual(reads.sort(), ['grace', 'name', 'signal', 'stop', 'timeout'], 'each option read once');
    assert.throws(() => void managed.revoke({ timeout: 2 ** 31 }), RangeError);
    assert.equal(managed.state, 'live');
    await managed.revoke();
  });
});
