import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, describe, it, mock, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { manageChildProcess, manageWorker, ManagedChildProcess } from '../src/node/index.js';
import { state } from './support/deferred.js';
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

  it('reports its exit whether revoked or not', async () => {
    const proc = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const managed = new ManagedChildProcess(proc, { name: 'noop' });
    await managed.exited;
    assert.equal(managed.state, 'live');
    await managed.revoke();
    assert.equal(managed.exit?.code, 0);
  });

  it('refuses bad arguments', async () => {
    assert.throws(() => manageChildProcess({} as ChildProcess), /Expected `child` to be a ChildProcess/);
    const proc = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    assert.throws(() => manageChildProcess(proc, { grace: -1 }), RangeError);
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

  it('refuses bad arguments', () => {
    assert.throws(() => manageWorker({} as Worker), /Expected `worker` to be a worker_threads Worker/);
  });
});
