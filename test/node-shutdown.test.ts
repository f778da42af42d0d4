import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import { ResourceScope } from '../src/index.js';
import { shutdownScope, type ShutdownOptions, type ShutdownScope } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';

/** A root whose exit and log are recorded; uninstalled after the test whatever happened. */
function root(t: TestContext, options: ShutdownOptions = {}): { root: ShutdownScope; exits: number[]; lines: string[] } {
  const exits: number[] = [];
  const lines: string[] = [];
  const scope = shutdownScope({ exit: (code) => exits.push(code), log: (line) => lines.push(line), ...options });
  t.after(async () => {
    scope.uninstall();
    await scope.disposeAsync();
  });
  return { root: scope, exits, lines };
}

describe('shutdownScope, in process', () => {
  it('releases everything newest first, then exits 0 and stops listening for signals', async (t) => {
    const before = process.listenerCount('SIGTERM');
    const { root: scope, exits, lines } = root(t, { name: 'app' });
    assert.ok(scope instanceof ResourceScope);
    assert.equal(process.listenerCount('SIGTERM'), before + 1);
    const order: string[] = [];
    scope.defer(() => void order.push('database'));
    scope.adopt('cache', async (name) => void order.push(name));
    scope.use({ [Symbol.asyncDispose]: async () => void order.push('server') });
    assert.equal(await scope.shutdown(), 0);
    assert.deepEqual(order, ['server', 'cache', 'database']);
    assert.deepEqual(exits, [0]);
    assert.equal(scope.phase, 'done');
    assert.equal(scope.exitCode, 0);
    assert.equal(process.listenerCount('SIGTERM'), before);
    assert.match(lines[0] ?? '', /^app: shutdown requested: releasing 3 resources, newest first$/);
    assert.match(lines.at(-1) ?? '', /^app: released in \d+ ms \(code 0\)$/);
  });

  it('runs every release when one fails, logs the failure and exits 1', async (t) => {
    const { root: scope, exits, lines } = root(t);
    const order: string[] = [];
    scope.defer(() => void order.push('first'));
    scope.defer(() => {
      throw new Error('flush failed');
    });
    scope.defer(() => void order.push('last'));
    assert.equal(await scope.shutdown(), 1);
    assert.deepEqual(order, ['last', 'first']);
    assert.deepEqual(exits, [1]);
    assert.ok(lines.some((line) => line.includes('a release failed: Error: flush failed')));
  });

  it('exits 1 when the release outlasts the timeout', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { root: scope, exits, lines } = root(t, { timeout: 1_000 });
    const stuck = deferred();
    scope.defer(() => stuck.promise);
    const done = scope.shutdown();
    await state(done);
    t.mock.timers.tick(1_000);
    assert.equal(await done, 1);
    assert.deepEqual(exits, [1]);
    assert.match(lines.at(-1) ?? '', /not released within 1000 ms/);
    stuck.resolve();
  });

  it('starts on the first signal and exits at once, with 128 + the signal number, on the second', async (t) => {
    // SIGHUP: no listener of Node's own (SIGUSR2 would also write a diagnostic report on Node 24).
    const { root: scope, exits, lines } = root(t, { signals: ['SIGHUP'] });
    const stuck = deferred();
    scope.defer(() => stuck.promise);
    process.emit('SIGHUP');
    assert.equal(scope.phase, 'releasing');
    assert.deepEqual(exits, []);
    process.emit('SIGHUP');
    assert.deepEqual(exits, [128 + 1]);
    assert.equal(scope.phase, 'done');
    assert.match(lines.at(-1) ?? '', /SIGHUP again: exiting now/);
    stuck.resolve();
    assert.equal(await scope.shutdown(), 129, 'the code stays the one it exited with');
    assert.deepEqual(exits, [129], 'exit is called once');
  });

  it('allows one armed root per process', async (t) => {
    const { root: first } = root(t);
    assert.throws(() => shutdownScope(), /Expected one shutdown scope per process/);
    first.uninstall();
    await first.disposeAsync();
    const second = shutdownScope({ exit: () => {} });
    second.uninstall();
    await second.disposeAsync();
  });

  it('refuses bad options and listens to nothing then', () => {
    const before = process.listenerCount('SIGINT');
    assert.throws(() => shutdownScope({ signals: ['SIGNOPE' as NodeJS.Signals] }), /Expected `options.signals` to be an array of signal names/);
    assert.throws(() => shutdownScope({ timeout: -1 }), RangeError);
    assert.throws(() => shutdownScope({ exit: 0 as never }), /Expected `options.exit` to be a function/);
    assert.equal(process.listenerCount('SIGINT'), before);
  });
});

const app = fileURLToPath(new URL('./fixtures/node/shutdown-app.ts', import.meta.url));

/** Runs the fixture app in `mode`; resolves once it listens. Killed after the test if still alive. */
async function program(t: TestContext, mode: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', app, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /ready (\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`the app exited before it was ready:\n${stderr}`)));
  });
  const waitFor = (text: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (stdout.includes(text)) {
          child.stdout.off('data', check);
          resolve();
        }
      };
      child.stdout.on('data', check);
      check();
    });
  return { child, port, exited, waitFor, stdout: () => stdout, stderr: () => stderr };
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

describe('shutdownScope, with real signals to a real process', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('on SIGTERM drains the request in flight, releases newest first and exits 0', async (t) => {
    const app = await program(t, 'graceful');
    const response = get(app.port, '/slow');
    await app.waitFor('request /slow started');
    app.child.kill('SIGTERM');
    assert.equal(await response, 'done /slow');
    const [code] = await app.exited;
    assert.equal(code, 0);
    const lines = app.stdout().trim().split('\n');
    assert.deepEqual(lines.slice(-2), ['api drained: graceful true', 'database closed']);
    assert.match(app.stderr(), /app: SIGTERM received: releasing 3 resources, newest first\napp: released in \d+ ms \(code 0\)\n/);
  });

  it('does the same on SIGINT', async (t) => {
    const app = await program(t, 'graceful');
    app.child.kill('SIGINT');
    const [code] = await app.exited;
    assert.equal(code, 0);
    assert.match(app.stderr(), /SIGINT received/);
  });

  it('exits at once with 143 on a second SIGTERM while a release hangs', async (t) => {
    const app = await program(t, 'hang');
    app.child.kill('SIGTERM');
    await app.waitFor('release hangs');
    app.child.kill('SIGTERM');
    const [code] = await app.exited;
    assert.equal(code, 143);
    assert.match(app.stderr(), /SIGTERM again: exiting now without waiting \(code 143\)/);
    assert.doesNotMatch(app.stdout(), /database closed/, 'it did not wait for the rest');
  });

  it('exits 1 when a release throws, after running the others', async (t) => {
    const app = await program(t, 'fail');
    app.child.kill('SIGTERM');
    const [code] = await app.exited;
    assert.equal(code, 1);
    assert.match(app.stderr(), /a release failed: Error: cache flush failed/);
    assert.match(app.stdout(), /database closed/);
  });

  it('exits 1 when the release outlasts its timeout', async (t) => {
    const app = await program(t, 'timeout');
    app.child.kill('SIGTERM');
    const [code] = await app.exited;
    assert.equal(code, 1);
    assert.match(app.stderr(), /not released within 200 ms: exiting anyway \(code 1\)/);
  });
});
