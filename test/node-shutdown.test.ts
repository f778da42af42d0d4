import assert from 'node:assert/strict';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import { ResourceScope } from '../src/index.js';
import { manageServer, shutdownScope, type ShutdownOptions, type ShutdownScope } from '../src/node/index.js';
import { deferred, flushMicrotasks, state } from './support/deferred.js';
import { listen, request } from './fixtures/node/http.js';
import { startApp, type AppProcess } from './fixtures/node/app-process.js';
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

  it('releases its layers after what it holds itself, in the listed order, however late they were filled', async (t) => {
    const { root: scope, lines } = root(t, { name: 'app', layers: ['tenants', 'storage'] });
    const order: string[] = [];
    scope.layer('storage').defer(() => void order.push('database'));
    scope.use({ [Symbol.asyncDispose]: async () => void order.push('server') });
    // Opened after the server, on a first request: newer, and still released after it.
    scope.layer('tenants').adopt('tenant a', async (name) => void order.push(name));
    scope.layer('tenants').adopt('tenant b', async (name) => void order.push(name));
    assert.equal(await scope.shutdown(), 0);
    assert.deepEqual(order, ['server', 'tenant b', 'tenant a', 'database']);
    assert.equal(lines[0], 'app: shutdown requested: releasing 1 resource, newest first, then tenants (2), storage (1), each side by side');
  });

  it('releases the contents of a layer side by side', async (t) => {
    const { root: scope } = root(t, { layers: ['workers'] });
    const started: number[] = [];
    const gates = [deferred(), deferred(), deferred()];
    for (const [i, gate] of gates.entries()) {
      scope.layer('workers').defer(() => {
        started.push(i);
        return gate.promise;
      });
    }
    const done = scope.shutdown();
    await flushMicrotasks();
    assert.deepEqual(started, [2, 1, 0], 'all three started, none finished');
    for (const gate of gates) gate.resolve();
    assert.equal(await done, 0);
  });

  it('says how many requests a server cut at its deadline, lists them, and exits 1', async (t) => {
    const { root: scope, exits, lines } = root(t, { name: 'app' });
    const { port, never } = await stuckServer(t, scope);
    const response = request(port, '/stuck').catch((error: Error) => error);
    await never.entered;
    assert.equal(await scope.shutdown(), 1);

    assert.ok((await response) instanceof Error);
    assert.deepEqual(exits, [1]);
    assert.match(lines.find((line) => line.includes(' cut ')) ?? '', /^app: cut GET \/stuck from 127\.0\.0\.1:\d+ \(api, response truncated\)$/);
    assert.match(lines.at(-1) ?? '', /^app: released in \d+ ms; 1 request cut at a server's deadline \(code 1\)$/);
  });

  it('keeps exit code 0 for cut requests with failOnCut: false, and still says so', async (t) => {
    const { root: scope, lines } = root(t, { name: 'app', failOnCut: false });
    const { port, never } = await stuckServer(t, scope);
    const response = request(port, '/stuck').catch((error: Error) => error);
    await never.entered;
    assert.equal(await scope.shutdown(), 0);
    await response;
    assert.match(lines.at(-1) ?? '', /1 request cut at a server's deadline \(code 0\)$/);
  });

  it('says how many requests were still in flight when its own timeout passed', async (t) => {
    const { root: scope, lines } = root(t, { name: 'app', timeout: 50 });
    const { port, never, api } = await stuckServer(t, scope, Infinity);
    const response = request(port, '/stuck').catch((error: Error) => error);
    await never.entered;
    assert.equal(await scope.shutdown(), 1);
    assert.match(lines.at(-1) ?? '', /^app: not released within 50 ms: exiting anyway with 1 request in flight \(code 1\)$/);
    never.resolve();
    await response;
    await api.revoke({ timeout: 0 });
  });

  it('answers readiness with 200 while armed and 503 from the start of the shutdown, through the delay', async (t) => {
    const { root: scope, lines } = root(t, { name: 'app', delay: 1_000 });
    const probe = http.createServer(scope.readiness);
    t.after(() => new Promise((resolve) => probe.close(resolve)));
    const port = await listen(probe);
    assert.equal(scope.ready, true);
    assert.deepEqual(await status(port), [200, 'ready\n']);
    const released: string[] = [];
    scope.defer(() => void released.push('database'));
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const done = scope.shutdown();
    assert.equal(scope.ready, false, 'from the first step');
    assert.equal(scope.phase, 'delaying');
    assert.deepEqual(await status(port), [503, 'shutting down\n']);
    assert.deepEqual(released, [], 'nothing is released during the delay');
    assert.equal(lines[0], 'app: shutdown requested: not ready; releasing in 1000 ms');
    t.mock.timers.tick(1_000);
    assert.equal(await done, 0);
    assert.deepEqual(released, ['database']);
    assert.equal(lines[1], 'app: releasing 1 resource, newest first');
  });

  it('waits the delay before the first release', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { root: scope } = root(t, { delay: 5_000 });
    const released: string[] = [];
    scope.defer(() => void released.push('database'));
    const done = scope.shutdown();
    t.mock.timers.tick(4_999);
    await flushMicrotasks();
    assert.deepEqual(released, []);
    t.mock.timers.tick(1);
    assert.equal(await done, 0);
    assert.deepEqual(released, ['database']);
  });

  it('exits at once on a second signal during the delay, leaving no timer behind', async (t) => {
    const { root: scope, exits } = root(t, { signals: ['SIGHUP'], delay: 60_000 });
    const released: string[] = [];
    scope.defer(() => void released.push('database'));
    process.emit('SIGHUP');
    assert.equal(scope.phase, 'delaying');
    process.emit('SIGHUP');
    assert.deepEqual(exits, [129]);
    assert.equal(await scope.shutdown(), 129, 'the delay ended with the exit: its timer is gone');
    assert.deepEqual(released, [], 'nothing was released: the process would be gone');
    await scope.disposeAsync();
  });

  it('starts the shutdown on an uncaught exception or unhandled rejection, and exits 1', async (t) => {
    const listeners = (event: string): ((error: unknown) => void)[] => (process as NodeJS.EventEmitter).listeners(event) as ((error: unknown) => void)[];
    for (const event of ['uncaughtException', 'unhandledRejection']) {
      const before = listeners(event);
      const { root: scope, exits, lines } = root(t, { name: 'app' });
      const ours = listeners(event).filter((l) => !before.includes(l));
      assert.equal(ours.length, 1);
      const released: string[] = [];
      scope.defer(() => void released.push('database'));
      ours[0]?.(new Error('handler crashed'));
      assert.equal(scope.phase, 'releasing');
      assert.equal(await scope.shutdown(), 1);
      assert.deepEqual(released, ['database']);
      assert.deepEqual(exits, [1]);
      assert.match(lines[0] ?? '', new RegExp(`^app: ${event}: Error: handler crashed`));
      assert.match(lines.at(-1) ?? '', /released in \d+ ms after an uncaught error \(code 1\)$/);
      assert.equal(listeners(event).filter((l) => !before.includes(l)).length, 0, 'not listened to once done');
    }
  });

  it('still exits when its log throws', async (t) => {
    const exits: number[] = [];
    const scope = shutdownScope({ exit: (code) => exits.push(code), log: () => { throw new Error('stderr closed'); } });
    t.after(() => scope.uninstall());
    scope.defer(() => {});
    assert.equal(await scope.shutdown(), 0);
    assert.deepEqual(exits, [0]);
  });

  it('leaves uncaught errors alone with uncaught: false', async (t) => {
    const before = process.listenerCount('uncaughtException');
    const { root: scope } = root(t, { uncaught: false });
    assert.equal(process.listenerCount('uncaughtException'), before);
    assert.equal(await scope.shutdown(), 0);
  });

  it('refuses bad options and listens to nothing then', async () => {
    const before = process.listenerCount('SIGINT');
    assert.throws(() => shutdownScope({ signals: ['SIGNOPE' as NodeJS.Signals] }), /Expected `options.signals` to be an array of signal names/);
    assert.throws(() => shutdownScope({ timeout: -1 }), RangeError);
    assert.throws(() => shutdownScope({ timeout: 2 ** 31 }), /Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity/);
    assert.throws(() => shutdownScope({ delay: 2 ** 31 }), /Expected `options.delay` to be a finite number of milliseconds from 0 to 2147483647/);
    assert.throws(() => shutdownScope({ delay: Infinity }), RangeError);
    assert.throws(() => shutdownScope({ layers: ['a', 'a'] }), /Expected `options.layers` to be an array of distinct non-empty strings/);
    assert.throws(() => shutdownScope({ layers: 'a' as never }), TypeError);
    assert.throws(() => shutdownScope({ failOnCut: 1 as never }), TypeError);
    assert.throws(() => shutdownScope({ uncaught: 'no' as never }), TypeError);
    assert.throws(() => shutdownScope({ exit: 0 as never }), /Expected `options.exit` to be a function/);
    assert.equal(process.listenerCount('SIGINT'), before);
    const reads: string[] = [];
    const options = new Proxy({ exit: () => {}, log: () => {}, layers: ['a'] } as ShutdownOptions, {
      get: (target, key) => (reads.push(String(key)), target[key as keyof ShutdownOptions]),
    });
    const scope = shutdownScope(options);
    assert.deepEqual(reads.sort(), ['delay', 'exit', 'failOnCut', 'layers', 'log', 'name', 'signals', 'timeout', 'uncaught'], 'each option read once');
    assert.throws(() => scope.layer('b'), /Expected `name` to be one of the layers given to shutdownScope\(\) \("a"\), got `"b"` \(string\)/);
    assert.throws(() => scope.layer(1 as never), TypeError);
    scope.uninstall();
    await scope.disposeAsync();
  });
});

/** A managed server in `scope` whose one request never finishes; its deadline is `timeout`. */
async function stuckServer(t: TestContext, scope: ShutdownScope, timeout = 0) {
  const never = deferred();
  const entered = deferred();
  t.after(() => never.resolve());
  const api = scope.use(
    manageServer(
      http.createServer((_req, res) => {
        res.writeHead(200, { 'content-length': 10 });
        res.write('12345');
        entered.resolve();
        void never.promise.then(() => res.end('67890'));
      }),
      { name: 'api', timeout },
    ),
  );
  t.after(() => api.revoke({ timeout: 0 }));
  const port = await listen(api.server);
  return { port, api, never: { entered: entered.promise, resolve: () => never.resolve() } };
}

function status(port: number): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/ready', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve([res.statusCode ?? 0, body]));
      })
      .on('error', reject);
  });
}

const app = fileURLToPath(new URL('./fixtures/node/shutdown-app.ts', import.meta.url));

/** Runs the fixture app in `mode`; resolves once it listens. Killed after the test if still alive. */
const program = (t: TestContext, mode: string): Promise<AppProcess> => startApp(t, [app, mode]);

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
        res.on('error', reject);
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

  for (const [mode, event] of [['crash', 'uncaughtException'], ['reject', 'unhandledRejection']] as const) {
    it(`on an ${event} drains, releases everything and exits 1`, async (t) => {
      const app = await program(t, mode);
      const slow = get(app.port, '/slow');
      await app.waitFor('request /slow started');
      void get(app.port, '/crash').catch(() => {});
      assert.equal(await slow, 'done /slow', 'the request in flight is still answered');
      const [code] = await app.exited;
      assert.equal(code, 1);
      assert.match(app.stderr(), new RegExp(`app: ${event}: Error: handler (crashed|rejected)`));
      // The request that crashed its handler is never answered: the server's deadline cuts it.
      const cut = mode === 'crash' ? "; 1 request cut at a server's deadline" : '';
      assert.match(app.stderr(), new RegExp(`app: released in \\d+ ms${cut} after an uncaught error \\(code 1\\)`));
      assert.deepEqual(app.stdout().trim().split('\n').slice(-2), [`api drained: graceful ${String(mode !== 'crash')}`, 'database closed']);
    });
  }

  it('says how many requests were cut at the deadline, and exits 1', async (t) => {
    const app = await program(t, 'cut');
    void get(app.port, '/stuck').catch(() => {});
    await app.waitFor('request /stuck started');
    app.child.kill('SIGTERM');
    const [code] = await app.exited;
    assert.equal(code, 1);
    assert.match(app.stderr(), /app: cut GET \/stuck from 127\.0\.0\.1:\d+ \(api, response truncated\)/);
    assert.match(app.stderr(), /app: released in \d+ ms; 1 request cut at a server's deadline \(code 1\)/);
  });

  it('keeps exit code 0 for cut requests with failOnCut: false', async (t) => {
    const app = await program(t, 'cut-ok');
    void get(app.port, '/stuck').catch(() => {});
    await app.waitFor('request /stuck started');
    app.child.kill('SIGTERM');
    const [code] = await app.exited;
    assert.equal(code, 0);
    assert.match(app.stderr(), /1 request cut at a server's deadline \(code 0\)/);
  });

  it('exits 1 when the release outlasts its timeout', async (t) => {
    const app = await program(t, 'timeout');
    app.child.kill('SIGTERM');
    const [code] = await app.exited;
    assert.equal(code, 1);
    assert.match(app.stderr(), /not released within 200 ms: exiting anyway \(code 1\)/);
  });
});
